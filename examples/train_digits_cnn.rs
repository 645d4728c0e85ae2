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
//! soft labels, Adam with a cosine schedule), with fewer copies and epochs: each sample costs
//! more. Accuracy by seed and run time are in `BENCHMARKS.md` ("Training a CNN on the digits").

use nn::train::{Adam, CrossEntropy, Epoch, Schedule, Trainer, evaluate};
mod digits_support;

use digits_support::{SplitMix64, distort, load, one_hot, shown, target_dir};
use std::error::Error;
use std::ops::ControlFlow;
use std::path::Path;
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
const COPIES: usize = 9;
/// Weight of the uniform distribution mixed into the one-hot targets.
const LABEL_SMOOTHING: f32 = 0.1;
const EPOCHS: usize = 15;
/// Seeds the weights, the distortions and the shuffling, unless one is given as the argument.
const SEED: u64 = 0;

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
