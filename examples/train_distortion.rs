//! Learns a guitar distortion pedal from audio, in pure Rust: `1 -> lstm(12) -> 1` trained by
//! truncated backpropagation through time on a plucked-string signal and the same signal through
//! a soft-clipping distortion with a tone filter, then scored on notes it never heard.
//!
//! ```sh
//! cargo run --release --example train_distortion
//! ```
//!
//! The signals, at 8 kHz, are made by formula (seeded, no files):
//!
//! - input: notes of 0.25 s, each a plucked string `a * sum_{h=1..5} sin(2 pi h f t) / h *
//!   exp(-6 t)`, pitch `f` from 82 to 330 Hz and amplitude `a` from 0.2 to 0.9, drawn per note;
//! - target: the input through a one-pole low-pass (the pedal's tone control, `u[n] = 0.6 u[n-1]
//!   + 0.4 x[n]`), then the soft clip `tanh(4 u)`, then halved.
//!
//! The filter gives the pedal memory, which the LSTM's state must learn. Training: 3 s of notes
//! in windows of 200 samples, the state carried from window to window (reset at each epoch),
//! Adam; the test signal is 1 s of other notes. The error is reported as the error-to-signal
//! ratio (ESR, `sum (y - target)^2 / sum target^2`, the usual measure of amplifier models). The
//! loss curve (`train_distortion.svg`) and the weights (`train_distortion.safetensors`) go to
//! Cargo's target directory. The example fails unless the test ESR ends below 2%.

// Shared with the digits-training examples: where outputs go, and the seeded generator.
#[allow(dead_code)]
mod digits_support;

use digits_support::{SplitMix64, shown, target_dir};
use nn::train::{Adam, Mse, Optimizer};
use plotters::prelude::*;
use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

nn::network! {
    /// A distortion pedal: one sample in, one out, with state.
    pub struct Pedal = 1 -> lstm(12) -> 1;
}

/// Samples per second.
const RATE: u32 = 8000;
/// Samples per note: a quarter of a second.
const NOTE: u32 = RATE / 4;
/// Samples per training window.
const WINDOW: usize = 200;
/// Passes over the training signal.
const EPOCHS: usize = 25;
/// The test ESR the example must reach.
const GOAL: f64 = 0.02;

/// `seconds` of plucked notes from `seed`: the input and the pedal's output.
fn signal(seed: u64, seconds: u32) -> (Vec<[f32; 1]>, Vec<[f32; 1]>) {
    let mut rng = SplitMix64(seed);
    let samples = seconds * RATE;
    let mut input = Vec::new();
    let (mut pitch, mut amplitude) = (0.0, 0.0);
    for n in 0..samples {
        if n % NOTE == 0 {
            pitch = 82.0 + 248.0 * (rng.uniform(1.0) + 1.0) / 2.0;
            amplitude = 0.2 + 0.7 * (rng.uniform(1.0) + 1.0) / 2.0;
        }
        let t = f64::from(n % NOTE) / f64::from(RATE);
        let string: f64 = (1..=5)
            .map(|h| (std::f64::consts::TAU * f64::from(h) * pitch * t).sin() / f64::from(h))
            .sum();
        input.push(amplitude * string * (-6.0 * t).exp());
    }
    let mut tone = 0.0;
    // The signals are `f32`, as audio buffers hold them.
    #[allow(clippy::cast_possible_truncation)]
    let target = input
        .iter()
        .map(|&x| {
            tone = 0.6 * tone + 0.4 * x;
            [(0.5 * (4.0 * tone).tanh()) as f32]
        })
        .collect();
    #[allow(clippy::cast_possible_truncation)]
    let input = input.into_iter().map(|x| [x as f32]).collect();
    (input, target)
}

/// The ESR of the pedal run over `inputs` from a fresh state.
fn esr(net: &Pedal, inputs: &[[f32; 1]], targets: &[[f32; 1]]) -> Result<f64, nn::Error> {
    let mut outputs = vec![[0.0f32; 1]; inputs.len()];
    let mut state = PedalState::ZERO;
    net.forward_sequence(&mut state, inputs, &mut outputs)?;
    let (error, energy) = outputs
        .iter()
        .zip(targets)
        .fold((0.0, 0.0), |(e, s), (y, t)| {
            let (y, t) = (f64::from(y[0]), f64::from(t[0]));
            (e + (y - t) * (y - t), s + t * t)
        });
    Ok(error / energy)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Box<dyn Error>> {
    let (train_in, train_out) = signal(1, 3);
    let (test_in, test_out) = signal(2, 1);
    println!("{}", Pedal::summary());
    println!(
        "{} training samples in windows of {WINDOW}, {} test samples, {EPOCHS} epochs",
        train_in.len(),
        test_in.len()
    );
    let mut net = Pedal::random(7);
    let mut gradients = PedalGradients::zeroed();
    let mut adam = Adam::new(0.01);
    let mut curve = Vec::with_capacity(EPOCHS);
    let start = std::time::Instant::now();
    for epoch in 1..=EPOCHS {
        let mut state = PedalState::ZERO;
        let mut loss = 0.0;
        for (inputs, targets) in train_in.chunks(WINDOW).zip(train_out.chunks(WINDOW)) {
            gradients.zero();
            let scale = 1.0 / inputs.len() as f32;
            loss += f64::from(net.accumulate_sequence(
                &mut state,
                inputs,
                targets,
                &Mse,
                scale,
                &mut gradients,
            )?);
            adam.step(&mut *net, &gradients);
        }
        let (train, test) = (
            esr(&net, &train_in, &train_out)?,
            esr(&net, &test_in, &test_out)?,
        );
        curve.push((train, test));
        if epoch % 5 == 0 || epoch == 1 {
            println!(
                "epoch {epoch:2}: mean squared error {:.2e}, ESR train {:.2}%, test {:.2}%",
                loss / train_in.len() as f64,
                100.0 * train,
                100.0 * test
            );
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let test = curve.last().map_or(f64::INFINITY, |c| c.1);
    println!(
        "trained in {seconds:.1} s; test ESR {:.2}% (goal: below {:.0}%)",
        100.0 * test,
        100.0 * GOAL
    );
    let target = target_dir()?;
    let weights = target.join("train_distortion.safetensors");
    net.save_safetensors(&weights)?;
    let path = target.join("train_distortion.svg");
    plot(&curve, &path)?;
    println!("weights: {}", shown(&weights).display());
    println!("curve: {}", shown(&path).display());
    Ok(test < GOAL)
}

/// The ESR per epoch, training and test signals, on a logarithmic scale.
fn plot(curve: &[(f64, f64)], path: &Path) -> Result<(), Box<dyn Error>> {
    const TEXT: (&str, i32) = ("sans-serif", 16);
    let root = SVGBackend::new(path, (700, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let low = curve
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .fold(1.0, f64::min)
        .max(1e-6);
    let high = curve.iter().flat_map(|&(a, b)| [a, b]).fold(low, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("error-to-signal ratio", ("sans-serif", 28))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(1.0..curve.len() as f64, (low * 0.8..high * 1.2).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|epoch| format!("{epoch:.0}"))
        .y_label_formatter(&|esr| format!("{:.2}%", 100.0 * esr))
        .label_style(TEXT)
        .axis_desc_style(TEXT)
        .draw()?;
    let series = |test: bool| -> Vec<(f64, f64)> {
        curve
            .iter()
            .enumerate()
            .map(|(i, &(train, held))| ((i + 1) as f64, if test { held } else { train }))
            .collect()
    };
    chart
        .draw_series(LineSeries::new(series(false), BLUE.stroke_width(2)))?
        .label("training signal")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(series(true), RED.stroke_width(2)))?
        .label("test signal (other notes)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .label_font(TEXT)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}
