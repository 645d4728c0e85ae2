//! LeNet-5, the classic convolutional network for 28x28 digits, declared in one line:
//! convolutions, max pooling and `flatten` compiled to straight-line Rust whose every shape is
//! checked at compile time. The weights are random here (train it in PyTorch and load its
//! `state_dict` with `LeNet::from_safetensors_file`: `nn.Sequential` numbering, pools and
//! `Flatten` counted), so its outputs are not predictions; the example prints the summary,
//! one forward pass and the time a forward pass takes.
//!
//! ```sh
//! cargo run --release --example lenet
//! ```

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

nn::network! {
    /// LeNet-5 (with padding, as for MNIST's 28x28 digits).
    pub struct LeNet = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2)
        -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax;
}

/// Samples of the batch timed through `forward_batch`.
const BATCH: usize = 64;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), nn::Error> {
    println!("{}\n", LeNet::summary());
    let net = LeNet::random(42);

    // A "digit": a bright vertical bar on a dark background, as `[channels, height, width]`.
    let mut image = [[[0.0_f32; 28]; 28]; 1];
    for row in &mut image[0][4..24] {
        row[12..16].fill(1.0);
    }
    let scores: [f32; 10] = net.forward(&image);
    let best = (0..10).max_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    println!("scores: {scores:.3?}");
    println!("most likely (random weights, so meaningless): {best:?}\n");

    if cfg!(debug_assertions) {
        println!("(a debug build: run with --release for meaningful times)");
    }
    let one = best_time(|| {
        black_box(net.forward(black_box(&image)));
    });
    println!("forward, 1 sample:        {:8.1} us", one * 1e6);
    let images = vec![image; BATCH];
    let mut outputs = vec![[0.0; 10]; BATCH];
    let mut result = Ok(());
    let batch = best_time(|| {
        result = net.forward_batch(black_box(&images), &mut outputs);
    });
    result?;
    println!(
        "forward_batch, {BATCH} samples: {:8.1} us ({:.1} us a sample)",
        batch * 1e6,
        batch * 1e6 / BATCH as f64
    );
    Ok(())
}

/// The best time of `f` in seconds, over 10 rounds of at least 20 ms.
fn best_time(mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let start = Instant::now();
        let mut runs = 0_u32;
        while start.elapsed().as_millis() < 20 {
            f();
            runs += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() / f64::from(runs));
    }
    best
}
