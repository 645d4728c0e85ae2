//! The recurrent layers, one stream of `f32`: `step` (one call per sample) and
//! `forward_sequence` over blocks of 512 steps (time per step), `step_streams` over 8 streams
//! (time per stream), for `1 -> lstm(32) -> 1`'s
//! LSTM, `gru(32)` and `lstm(64)`, the sizes RTNeural's users compare. Best of several rounds,
//! nanoseconds per step; no criterion, so that it builds without the `baselines` feature.
//!
//! ```sh
//! cargo bench -p nn-bench --bench recurrent
//! ```

#![allow(missing_docs)]

use nn::__private::init::SplitMix64;
use nn::__private::layers::{Gru, Lstm, Recurrent};
use nn::__private::{Scalar, Tensors};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds per measurement; the best is printed (short rounds, many: on a shared machine some
/// fall in quiet moments).
const ROUNDS: usize = 100;
/// Length of one round.
const ROUND: Duration = Duration::from_millis(5);
/// Steps per `forward_sequence` call.
const BLOCK: usize = 512;
/// Streams per `step_streams` call.
const STREAMS: usize = 8;

/// Nanoseconds per call of `f`, the best of [`ROUNDS`] rounds.
fn best_ns(mut f: impl FnMut()) -> f64 {
    let mut calls = 1_usize;
    loop {
        let start = Instant::now();
        for _ in 0..calls {
            f();
        }
        if start.elapsed() >= ROUND / 4 {
            break;
        }
        calls *= 2;
    }
    calls *= 4;
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn randomize<L: Tensors<Scalar = f32>>(layer: &mut L, hidden: usize) {
    let mut rng = SplitMix64::new(7);
    let bound = 1.0 / (hidden as f64).sqrt();
    layer.for_each_tensor_mut(|_, values| {
        for v in values {
            *v = f32::from_f64(rng.uniform(bound));
        }
    });
}

macro_rules! measure {
    ($name:literal, $layer:ty, $h:literal) => {{
        let mut layer = <$layer>::zeroed();
        randomize(&mut layer, $h);
        let mut rng = SplitMix64::new(11);
        let inputs: Vec<[f32; 1]> = (0..BLOCK).map(|_| [f32::from_f64(rng.uniform(1.0))]).collect();
        let mut state = <$layer as Recurrent>::State::default();
        let mut t = 0;
        let step = best_ns(|| {
            let h = layer.step(&mut state, black_box(&inputs[t % BLOCK]));
            black_box(h);
            t += 1;
        });
        let mut outputs = vec![[0.0f32; $h]; BLOCK];
        let sequence = best_ns(|| {
            layer.forward_sequence(&mut state, black_box(&inputs), &mut outputs);
            black_box(&outputs);
        }) / BLOCK as f64;
        let mut states = [<$layer as Recurrent>::State::default(); STREAMS];
        let mut voices = [[0.0f32; $h]; STREAMS];
        let streams = best_ns(|| {
            layer.step_streams(&mut states, black_box(&inputs[..STREAMS]), &mut voices);
            black_box(&voices);
        }) / STREAMS as f64;
        println!(
            "recurrent {:<10} step {step:7.1} ns   forward_sequence({BLOCK}) {sequence:7.1} ns/step   \
             step_streams({STREAMS}) {streams:7.1} ns/stream",
            $name
        );
    }};
}

fn main() {
    measure!("lstm(32)", Lstm<1, 32, f32>, 32);
    measure!("gru(32)", Gru<1, 32, f32>, 32);
    measure!("lstm(64)", Lstm<1, 64, f32>, 64);
}
