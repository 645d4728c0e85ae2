//! nn's side of the comparison with RTNeural (`bench/rtneural/run.sh`): the same four models,
//! timed as its harness times them (a warm-up, then the best of 7 repetitions of 200,000
//! samples, the outputs summed into a sink), one line per model and way of running, in its
//! format (`model backend ns_per_sample`):
//!
//! - `nn-step`: one `step` call per sample, as RTNeural's one `forward` call per sample;
//! - `nn-block512`: `forward_sequence` over blocks of 512 samples (an audio buffer);
//! - `nn-streams64`: `step_streams` over 64 streams at once, per sample of one stream;
//! - `nn-bf16-step`: `step` of the network's `quantize = bf16` twin (its recurrent matrices in
//!   16 bits, computed in `f32`: other numbers than RTNeural's, so a row of its own);
//! - `mlp nn`: one `forward` call per input.
//!
//! Then comment lines: the softmax's share of `mlp` (its `forward` against that of the same
//! network without softmax), the real-time factor at 48 kHz of each recurrent model (how many
//! times faster than real time one stream runs, one sample per `step`) and the streams one core
//! sustains in real time with `step_streams`.
//!
//! ```sh
//! cargo bench -p nn-bench --bench rtneural
//! ```

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

nn::network! {
    /// RTNeural's `lstm32`, and its bf16 twin.
    pub struct Lstm32 = 1 -> lstm(32) -> 1 with quantize = bf16;
    /// RTNeural's `gru32`, and its bf16 twin.
    pub struct Gru32 = 1 -> gru(32) -> 1 with quantize = bf16;
    /// RTNeural's `lstm64`, and its bf16 twin.
    pub struct Lstm64 = 1 -> lstm(64) -> 1 with quantize = bf16;
    /// RTNeural's `mlp`.
    pub struct Mlp = 64 -> 32 relu -> 10 softmax;
    /// `Mlp` without its softmax, whose time the softmax's is measured against.
    pub struct MlpLogits = 64 -> 32 relu -> 10;
}

const SAMPLES: usize = 200_000;
const REPS: usize = 7;
const BLOCK: usize = 512;
const STREAMS: usize = 64;
const RATE: f64 = 48_000.0;

/// The harness's signal: three sines at 48 kHz, in [-1, 1].
fn audio(n: usize) -> Vec<[f32; 1]> {
    let two_pi = std::f64::consts::TAU;
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE;
            let x = 0.6 * (two_pi * 220.0 * t).sin()
                + 0.3 * (two_pi * 1330.0 * t + 0.5).sin()
                + 0.1 * (two_pi * 5010.0 * t + 1.0).sin();
            #[allow(clippy::cast_possible_truncation)] // the signal is f32, as the harness's
            [x as f32]
        })
        .collect()
}

/// Nanoseconds per sample of `run` (which processes `samples` samples): the best of `REPS`
/// after a warm-up.
fn best(samples: usize, mut run: impl FnMut() -> f32) -> f64 {
    black_box(run());
    (0..REPS)
        .map(|_| {
            let start = Instant::now();
            black_box(run());
            start.elapsed().as_secs_f64() * 1e9 / samples as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Nanoseconds per call of `forward`, one call per input, cycling through `inputs` (generic, so
/// that each network's `forward` inlines as it would in a user's loop).
fn per_input(inputs: &[[f32; 64]], forward: impl Fn(&[f32; 64]) -> f32) -> f64 {
    best(SAMPLES, || {
        let mut sum = 0.0;
        for k in 0..SAMPLES {
            sum += forward(&inputs[k % inputs.len()]);
        }
        sum
    })
}

/// The three ways of running a recurrent network, as a macro over its generated types.
macro_rules! recurrent {
    ($name:literal, $net:ident, $half:ident, $state:ident, $signal:expr) => {{
        let net = $net::random(1);
        let signal: &[[f32; 1]] = $signal;
        let step = best(SAMPLES, || {
            let mut state = $state::ZERO;
            let mut sum = 0.0;
            for x in signal {
                sum += net.step(&mut state, x)[0];
            }
            sum
        });
        println!("{} nn-step {step:.2}", $name);
        let mut outputs = vec![[0.0f32; 1]; BLOCK];
        let block = best(SAMPLES, || {
            let mut state = $state::ZERO;
            let mut sum = 0.0;
            for inputs in signal.chunks(BLOCK) {
                let outputs = &mut outputs[..inputs.len()];
                net.forward_sequence(&mut state, inputs, outputs).unwrap();
                sum += outputs[0][0];
            }
            sum
        });
        println!("{} nn-block{BLOCK} {block:.2}", $name);
        let mut states = vec![$state::ZERO; STREAMS];
        let mut outputs = vec![[0.0f32; 1]; STREAMS];
        let streams = best(SAMPLES, || {
            let mut sum = 0.0;
            for inputs in signal.chunks_exact(STREAMS) {
                net.step_streams(&mut states, inputs, &mut outputs).unwrap();
                sum += outputs[0][0];
            }
            sum
        });
        println!("{} nn-streams{STREAMS} {streams:.2}", $name);
        let half = $half::from_network(&net).unwrap();
        let half_step = best(SAMPLES, || {
            let mut state = $state::ZERO;
            let mut sum = 0.0;
            for x in signal {
                sum += half.step(&mut state, x)[0];
            }
            sum
        });
        println!("{} nn-bf16-step {half_step:.2}", $name);
        (step, block, streams)
    }};
}

fn main() {
    let signal = audio(SAMPLES);
    println!("# nn: {SAMPLES} samples per repetition, best of {REPS} repetitions after a warm-up");
    let mut factors = Vec::new();
    factors.push((
        "lstm32",
        recurrent!("lstm32", Lstm32, Lstm32Bf16, Lstm32State, &signal),
    ));
    factors.push((
        "gru32",
        recurrent!("gru32", Gru32, Gru32Bf16, Gru32State, &signal),
    ));
    factors.push((
        "lstm64",
        recurrent!("lstm64", Lstm64, Lstm64Bf16, Lstm64State, &signal),
    ));

    let mlp = Mlp::random(4);
    let inputs: Vec<[f32; 64]> = (0..256)
        .map(|k| std::array::from_fn(|i| ((k * 64 + i) as f32 * 0.37).sin()))
        .collect();
    let ns = per_input(&inputs, |x| mlp.forward(x)[0]);
    println!("mlp nn {ns:.2}");
    let logits = MlpLogits::random(4);
    let logits_ns = per_input(&inputs, |x| logits.forward(x)[0]);
    println!(
        "# mlp: nn's softmax of 10 values {:.1} ns (forward {ns:.1} ns, the same network without softmax {logits_ns:.1})",
        ns - logits_ns
    );

    for (name, (step, _, streams)) in factors {
        let period = 1e9 / RATE;
        println!(
            "# {name}: real-time factor at 48 kHz {:.0} (one stream, step); {:.0} streams a core in real time (step_streams)",
            period / step,
            period / streams
        );
    }
}
