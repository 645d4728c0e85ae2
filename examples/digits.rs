//! A network declared in one line runs weights that scikit-learn trained, on real data.
//!
//! `examples/data/train_digits.py` trained scikit-learn's `MLPClassifier` (64 inputs, 32 ReLU
//! neurons, 10 softmax outputs) on rows 0..1500 of the 8x8 handwritten digits in
//! `examples/data/digits.csv`, and saved its weights (`digits.safetensors`) and its own
//! predictions for the other 297 rows (`digits_predictions.csv`). This loads the weights,
//! classifies those 297 test digits, compares every prediction with scikit-learn's, and times
//! the forward pass; then makes the network's int8 twin, calibrated on the training rows, and
//! does the same with it.
//!
//! ```sh
//! cargo run --release --example digits
//! ```

use nn::quant::Calibration;
use std::error::Error;
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

nn::network! {
    /// Classifies 8x8 handwritten digits (pixels scaled to 0..1).
    pub struct Digits = 64 -> 32 relu -> 10 softmax with quantize = int8;
}

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
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    // Built on the heap; every tensor's name and shape is checked against the declaration.
    let net = Digits::from_safetensors_file(data.join("digits.safetensors"))?;
    println!("{}\n", Digits::summary());

    // The test set: the rows of `digits.csv` that scikit-learn made predictions for.
    let digits = read_csv(&data.join("digits.csv"), Digit::parse)?;
    let sklearn = read_csv(&data.join("digits_predictions.csv"), Prediction::parse)?;
    let mut test = Vec::new();
    for prediction in &sklearn {
        let row = prediction.row;
        test.push(
            digits
                .get(row)
                .ok_or(format!("digits.csv has no row {row}"))?,
        );
    }
    let pixels: Vec<[f32; 64]> = test.iter().map(|digit| digit.pixels).collect();

    // All the test digits in one call.
    let mut probabilities = vec![[0.0; 10]; pixels.len()];
    net.forward_batch(&pixels, &mut probabilities)?;

    let (mut correct, mut agree, mut largest_difference) = (0, 0, 0.0_f64);
    for ((ours, digit), theirs) in probabilities.iter().zip(&test).zip(&sklearn) {
        let class = most_likely(ours);
        correct += usize::from(class == digit.label);
        agree += usize::from(class == theirs.class);
        for (p, q) in ours.iter().zip(theirs.probabilities) {
            largest_difference = largest_difference.max((f64::from(*p) - q).abs());
        }
    }
    let n = test.len();
    let first = sklearn.first().map_or(0, |p| p.row);
    println!(
        "{n} test digits (rows {first}..{}), one forward_batch call:",
        first + n
    );
    let percent = 100.0 * correct as f64 / n as f64;
    println!("  accuracy: {percent:.2}% ({correct} of {n} correct)");
    println!("  the same class as scikit-learn for {agree} of {n} digits");
    println!("  probabilities within {largest_difference:.1e} of scikit-learn's predict_proba");

    // Time per sample, over passes through the whole test set.
    let mut out = vec![[0.0; 10]; n];
    let batch = time_per_sample(n, || {
        net.forward_batch(black_box(&pixels), black_box(&mut out))
    });
    let single = time_per_sample(n, || {
        for x in &pixels {
            black_box(net.forward(black_box(x)));
        }
    });
    println!("time per sample (one thread; the best of 10 rounds of 50 ms of passes over them):");
    println!("  forward_batch, {n} at a time: {batch:6.1} ns");
    println!("  forward, one at a time:      {single:6.1} ns");
    if cfg!(debug_assertions) {
        println!("  (a debug build: run with --release for meaningful times)");
    }

    // The int8 twin, its activations' ranges calibrated on the rows scikit-learn trained on.
    let training: Vec<[f32; 64]> = digits.iter().take(first).map(|d| d.pixels).collect();
    let int8 = DigitsInt8::calibrate(&net, &training, Calibration::MinMax)?;
    let mut int8_probabilities = vec![[0.0; 10]; n];
    int8.forward_batch(&pixels, &mut int8_probabilities)?;
    let (mut int8_correct, mut same) = (0, 0);
    for ((q, f), digit) in int8_probabilities.iter().zip(&probabilities).zip(&test) {
        int8_correct += usize::from(most_likely(q) == digit.label);
        same += usize::from(most_likely(q) == most_likely(f));
    }
    let int8_batch = time_per_sample(n, || {
        int8.forward_batch(black_box(&pixels), black_box(&mut out))
    });
    let int8_single = time_per_sample(n, || {
        for x in &pixels {
            black_box(int8.forward(black_box(x)));
        }
    });
    let percent = 100.0 * int8_correct as f64 / n as f64;
    println!("\nits int8 twin (DigitsInt8, calibrated on the {first} training rows):");
    println!("  accuracy: {percent:.2}% ({int8_correct} of {n} correct)");
    println!("  the f32 network's class for {same} of {n} digits");
    println!("  forward_batch, {n} at a time: {int8_batch:6.1} ns");
    println!("  forward, one at a time:      {int8_single:6.1} ns");
    Ok(())
}

/// The digit with the largest probability.
fn most_likely(probabilities: &[f32; 10]) -> usize {
    (0..10)
        .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]))
        .unwrap_or(0)
}

/// Nanoseconds per sample of `pass`, which runs `samples` samples: after one pass to warm up,
/// the best of 10 rounds of passes lasting at least 50 ms each (the round least disturbed by
/// other programs).
fn time_per_sample<R>(samples: usize, mut pass: impl FnMut() -> R) -> f64 {
    black_box(pass());
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let (start, mut passes) = (Instant::now(), 0);
        while start.elapsed() < Duration::from_millis(50) {
            black_box(pass());
            passes += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() / (passes * samples) as f64);
    }
    best * 1e9
}

/// A line of `digits.csv`: 64 pixels, then the digit they show.
struct Digit {
    pixels: [f32; 64],
    label: usize,
}

impl Digit {
    fn parse(fields: &[&str]) -> Result<Self, Box<dyn Error>> {
        let (label, pixels) = fields.split_last().ok_or("an empty line")?;
        Ok(Self {
            pixels: numbers(pixels)?,
            label: label.parse()?,
        })
    }
}

/// A line of `digits_predictions.csv`: a row of `digits.csv`, the class scikit-learn predicted
/// for it, and its 10 probabilities.
struct Prediction {
    row: usize,
    class: usize,
    probabilities: [f64; 10],
}

impl Prediction {
    fn parse(fields: &[&str]) -> Result<Self, Box<dyn Error>> {
        let [row, class, probabilities @ ..] = fields else {
            return Err("fewer than 2 fields".into());
        };
        Ok(Self {
            row: row.parse()?,
            class: class.parse()?,
            probabilities: numbers(probabilities)?,
        })
    }
}

/// Exactly `N` numbers.
fn numbers<T: std::str::FromStr, const N: usize>(fields: &[&str]) -> Result<[T; N], Box<dyn Error>>
where
    T::Err: Error + 'static,
{
    let values: Vec<T> = fields.iter().map(|f| f.parse()).collect::<Result<_, _>>()?;
    let found = values.len();
    values
        .try_into()
        .map_err(|_| format!("{found} numbers, expected {N}").into())
}

/// The lines of a CSV file after its header, split at commas and parsed by `parse`; an error
/// names the file and the line.
fn read_csv<T>(
    path: &Path,
    parse: impl Fn(&[&str]) -> Result<T, Box<dyn Error>>,
) -> Result<Vec<T>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines = text.lines().enumerate().skip(1);
    lines
        .map(|(i, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            parse(&fields).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}
