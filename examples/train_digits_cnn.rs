//! Trains a small convolutional network on the 8x8 digits bundled in
//! `examples/data/digits.csv` (rows 0..1500 to train, 1500..1797 to test), each image read as
//! `[1, 8, 8]`, in pure Rust, and prints the test accuracy; the dense network of
//! `train_digits` is the baseline it should beat.
//!
//! ```sh
//! cargo run --release --example train_digits_cnn [seed]
//! ```
//!
//! The weights (`train_digits_cnn.safetensors`) go to Cargo's target directory, as
//! `train_digits`'s do, and are reloaded to check that every test prediction is identical.
//!
//! The recipe is `train_digits`'s (slightly rotated, scaled and shifted copies of each image,
//! soft labels, Adam with a cosine schedule), with fewer copies: the convolutions see every
//! position of a stroke already. Accuracy by seed is in `docs/training.md`.

use nn::train::{Adam, CrossEntropy, Epoch, Schedule, Trainer, evaluate};
use std::error::Error;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

nn::network! {
    /// Reads an 8x8 image of a digit, pixels in [0, 1], and gives the probability of each digit.
    pub struct DigitsCnn = [1, 8, 8] -> conv2d(8, 3, padding = 1) relu -> maxpool2d(2)
        -> conv2d(16, 3, padding = 1) relu -> flatten -> 64 relu -> 10 softmax as output;
}

/// One image as the network reads it: one channel of 8 rows of 8 pixels.
type Image = [[[f32; 8]; 8]; 1];

/// Rows used for training; the rest are the test set.
const TRAIN_ROWS: usize = 1500;
/// Distorted copies of each training image added to the training set.
const COPIES: usize = 4;
/// Weight of the uniform distribution mixed into the one-hot targets.
const LABEL_SMOOTHING: f32 = 0.1;
const EPOCHS: usize = 20;
/// Seeds the weights, the distortions and the shuffling, unless one is given as the argument.
const SEED: u64 = 1;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let seed = match std::env::args().nth(1) {
        Some(text) => text
            .parse::<u64>()
            .map_err(|e| format!("the seed `{text}`: {e}"))?,
        None => SEED,
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits.csv");
    let (images, labels) = load(&data)?;
    let (train_images, test_images) = images.split_at(TRAIN_ROWS);
    let (train_labels, test_labels) = labels.split_at(TRAIN_ROWS);
    println!("{}", DigitsCnn::summary());

    // The training set: each image, then `COPIES` distorted versions of all of them.
    let mut rng = SplitMix64(2024 + seed);
    let mut flat = train_images.to_vec();
    let mut label_of = train_labels.to_vec();
    for _ in 0..COPIES {
        for (image, &label) in train_images.iter().zip(train_labels) {
            flat.push(distort(image, &mut rng));
            label_of.push(label);
        }
    }
    let inputs: Vec<Image> = flat.iter().map(shaped).collect();
    let test_inputs: Vec<Image> = test_images.iter().map(shaped).collect();
    let targets: Vec<[f32; 10]> = label_of
        .iter()
        .map(|&label| one_hot(label, LABEL_SMOOTHING))
        .collect();
    let test_targets: Vec<[f32; 10]> = test_labels.iter().map(|&l| one_hot(l, 0.0)).collect();
    println!(
        "{} training samples ({TRAIN_ROWS} images and {COPIES} distorted copies of each), {} test images, seed {seed}",
        inputs.len(),
        test_inputs.len()
    );

    let mut net = DigitsCnn::random(seed);
    let mut trainer = Trainer::new(CrossEntropy, Adam::new(3e-3).weight_decay(1e-4))
        .epochs(EPOCHS)
        .batch_size(32)
        .seed(seed)
        .schedule(Schedule::Cosine);
    let start = Instant::now();
    let history = trainer.fit_with_validation(
        &mut *net,
        (&inputs, &targets),
        (&test_inputs, &test_targets),
        |epoch: &Epoch| {
            let test = epoch.validation.unwrap_or(epoch.train);
            println!(
                "epoch {:>2}/{}  loss {:.4}  train accuracy {:.1}%  test accuracy {:.1}%",
                epoch.epoch,
                epoch.epochs,
                epoch.train.loss,
                100.0 * epoch.train.accuracy,
                100.0 * test.accuracy
            );
            ControlFlow::Continue(())
        },
    )?;
    let elapsed = start.elapsed();

    let test = evaluate(&*net, &CrossEntropy, &test_inputs, &test_targets)?;
    let samples = history.epochs.len() * inputs.len();
    println!(
        "trained {} epochs in {:.2} s ({:.0} samples/s); test accuracy {:.2}% ({} of {}), test loss {:.4}",
        history.epochs.len(),
        elapsed.as_secs_f64(),
        samples as f64 / elapsed.as_secs_f64(),
        100.0 * test.accuracy,
        (test.accuracy * test.samples as f64).round(),
        test.samples,
        test.loss
    );

    // Save the trained weights in PyTorch's layout, load them back, and check that the reloaded
    // network predicts exactly what the trained one does, on every test image.
    let weights = target_dir()?.join("train_digits_cnn.safetensors");
    net.save_safetensors(&weights)?;
    let reloaded = DigitsCnn::from_safetensors_file(&weights)?;
    let bits = |output: [f32; 10]| output.map(f32::to_bits);
    let identical = test_inputs
        .iter()
        .all(|image| bits(net.forward(image)) == bits(reloaded.forward(image)));
    if !identical {
        return Err("the reloaded network predicts differently from the trained one".into());
    }
    println!(
        "weights: {} (reloaded: the same predictions on all {} test images)",
        shown(&weights).display(),
        test_inputs.len()
    );
    Ok(())
}

/// A row of 64 pixels as the network's `[1, 8, 8]` image.
fn shaped(pixels: &[f32; 64]) -> Image {
    [std::array::from_fn(|row| {
        std::array::from_fn(|col| pixels[row * 8 + col])
    })]
}

/// Cargo's target directory, where a build's outputs go, created if missing: three levels above
/// this executable, `<target>/<profile>/examples/train_digits` (`<target>/<triple>` after
/// `--target <triple>`), whatever chose it (environment, configuration, command line). Outside
/// such a layout, `$CARGO_TARGET_DIR` when it is set, else `target/` in the checkout.
fn target_dir() -> Result<PathBuf, String> {
    let built_in = std::env::current_exe().ok().and_then(|exe| {
        let examples = exe.parent()?;
        let target = examples.parent()?.parent()?;
        (examples.file_name()? == "examples").then(|| target.to_path_buf())
    });
    let dir = built_in.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
            PathBuf::from,
        )
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// `path` relative to the current directory when it is inside it.
fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| Some(path.strip_prefix(dir).ok()?.to_path_buf()))
        .unwrap_or_else(|| path.to_path_buf())
}

/// Images and their labels.
type Data = (Vec<[f32; 64]>, Vec<usize>);

/// Reads `px0..px63,label` rows.
fn load(path: &Path) -> Result<Data, Box<dyn Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let path = path.display();
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        let values = line
            .split(',')
            .map(str::parse::<f32>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{path}:{}: {e}", number + 1))?;
        let [pixels @ .., label] = values.as_slice() else {
            return Err(format!("{path}:{}: empty row", number + 1).into());
        };
        let image: [f32; 64] = pixels.try_into().map_err(|_| {
            format!(
                "{path}:{}: expected 64 pixels, found {}",
                number + 1,
                pixels.len()
            )
        })?;
        images.push(image);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // labels are 0..9
        labels.push(*label as usize);
    }
    Ok((images, labels))
}

fn one_hot(label: usize, smoothing: f32) -> [f32; 10] {
    std::array::from_fn(|i| {
        let hot = if i == label { 1.0 } else { 0.0 };
        hot * (1.0 - smoothing) + smoothing / 10.0
    })
}

/// SplitMix64: reproducible distortions without a dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    /// Uniform in `[-bound, bound)`.
    fn uniform(&mut self, bound: f64) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * bound
    }
}

/// The image rotated by up to 8 degrees, scaled by up to 8% and shifted by up to half a pixel,
/// resampled bilinearly.
fn distort(image: &[f32; 64], rng: &mut SplitMix64) -> [f32; 64] {
    let angle = rng.uniform(8.0).to_radians();
    let scale = 1.0 + rng.uniform(0.08);
    let (dx, dy) = (rng.uniform(0.5), rng.uniform(0.5));
    let (cos, sin) = (angle.cos() / scale, angle.sin() / scale);
    // Casts: `row` and `col` are whole numbers in 0..8 here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let pixel = |row: f64, col: f64| {
        if (0.0..8.0).contains(&row) && (0.0..8.0).contains(&col) {
            f64::from(image[row as usize * 8 + col as usize])
        } else {
            0.0
        }
    };
    std::array::from_fn(|i| {
        // Where output pixel `i` comes from, relative to the image's centre.
        let (u, v) = ((i % 8) as f64 - 3.5 - dx, (i / 8) as f64 - 3.5 - dy);
        let (x, y) = (cos * u + sin * v + 3.5, -sin * u + cos * v + 3.5);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let value = pixel(y0, x0) * (1.0 - fx) * (1.0 - fy)
            + pixel(y0, x0 + 1.0) * fx * (1.0 - fy)
            + pixel(y0 + 1.0, x0) * (1.0 - fx) * fy
            + pixel(y0 + 1.0, x0 + 1.0) * fx * fy;
        #[allow(clippy::cast_possible_truncation)] // pixels are in [0, 1]
        let value = value as f32;
        value
    })
}
