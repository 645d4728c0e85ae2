//! Handwritten digits with weights trained in Python: the path from a trained model to Rust.
//!
//! `examples/data/train_digits.py` trained `64 -> 32 relu -> 10 softmax` with scikit-learn on
//! rows 0..1500 of the 8x8 digits (`examples/data/digits.csv`) and saved the weights as
//! PyTorch would (`0.weight`, `0.bias`, `2.weight`, `2.bias`). This loads them, classifies the
//! 297 test rows, and prints the accuracy and the confusion matrix.
//!
//! Run with `cargo run --example digits`.

use std::error::Error;
use std::path::Path;

nn::network! {
    /// Classifies 8x8 handwritten digits (pixels scaled to 0..1).
    pub struct Digits = 64 -> 32 relu -> 10 softmax;
}

/// Rows 1500.. of the data set are the test set, as in the training script.
const TRAIN: usize = 1500;

fn main() -> Result<(), Box<dyn Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    // `Box<Digits>`: built on the heap, every tensor checked against the declaration.
    let net = Digits::from_safetensors_file(data.join("digits.safetensors"))?;
    println!("{}\n", Digits::summary());

    // `digits.csv`: a header, then 64 pixels and the label on each line.
    let text = std::fs::read_to_string(data.join("digits.csv"))?;
    let mut pixels: Vec<[f32; 64]> = Vec::new();
    let mut labels: Vec<usize> = Vec::new();
    for line in text.lines().skip(1 + TRAIN) {
        let values: Vec<&str> = line.split(',').collect();
        let mut row = [0.0; 64];
        for (slot, value) in row.iter_mut().zip(&values) {
            *slot = value.parse()?;
        }
        pixels.push(row);
        labels.push(values[64].parse()?);
    }

    // The whole test set in one call.
    let mut probabilities = vec![[0.0; 10]; pixels.len()];
    net.forward_batch(&pixels, &mut probabilities)?;

    let mut confusion = [[0usize; 10]; 10];
    for (p, &label) in probabilities.iter().zip(&labels) {
        let predicted = (0..10).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
        confusion[label][predicted] += 1;
    }
    let correct: usize = (0..10).map(|k| confusion[k][k]).sum();
    println!(
        "test accuracy: {:.2}% ({correct} of {} rows {TRAIN}..{})\n",
        100.0 * correct as f64 / labels.len() as f64,
        labels.len(),
        TRAIN + labels.len()
    );

    println!("confusion matrix (rows: true digit, columns: predicted)");
    print!("     ");
    for k in 0..10 {
        print!("{k:>4}");
    }
    println!();
    for (label, row) in confusion.iter().enumerate() {
        print!("{label:>4} ");
        for count in row {
            print!("{count:>4}");
        }
        println!();
    }
    Ok(())
}
