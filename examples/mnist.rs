//! The network from the README: 784 inputs, a hidden layer of 128 ReLU neurons, 10 softmax
//! outputs. Prints its summary, a prediction, and the time per forward pass.

use std::hint::black_box;
use std::time::Instant;

nn::network! {
    /// Classifies 28x28 handwritten digits.
    pub struct Mnist = 784 -> 128 relu as hidden -> 10 softmax as output;
}

fn main() {
    println!("{}", Mnist::summary());

    // Random weights: the prediction is meaningless until trained weights are loaded, but the
    // shapes, the arithmetic and the timing are real.
    let net: Box<Mnist> = Mnist::random(42);
    // A synthetic "image": a soft diagonal stroke.
    let pixels: [f32; Mnist::INPUTS] = std::array::from_fn(|i| {
        let (row, col) = (i / 28, i % 28);
        if row.abs_diff(col) < 3 { 1.0 } else { 0.0 }
    });
    let probabilities: [f32; 10] = net.forward(&pixels);
    let (digit, p) = probabilities
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("ten outputs");
    println!(
        "prediction: {digit} (p = {p:.3}), probabilities sum to {:.6}",
        probabilities.iter().sum::<f32>()
    );

    let runs = 20_000;
    let start = Instant::now();
    for _ in 0..runs {
        black_box(net.forward(black_box(&pixels)));
    }
    let elapsed = start.elapsed();
    println!(
        "forward pass: {:.2} us per sample ({runs} runs)",
        elapsed.as_secs_f64() * 1e6 / f64::from(runs)
    );
}
