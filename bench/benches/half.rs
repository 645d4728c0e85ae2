//! Half-precision weights against `f32`: MNIST's two layers (`784 -> 128`, ReLU, `128 -> 10`) as
//! `Dense` (`f32`), `HalfDense` with bfloat16 weights and `HalfDense` with binary16 weights, the
//! same weights rounded, at batch 1 (`forward`) and 256 (`forward_batch`), at every level this
//! CPU has; then LeNet-5 (the weights of tests/fixtures/lenet.safetensors) against its
//! `quantize = bf16` and `f16` twins, at the best level. The three run in alternating rounds of about 10 ms, thirty times over, so that they
//! see the same state of a shared machine (as in `paired.rs`); each line gives the best round
//! of each (nanoseconds per sample) and the median of the per-round ratios half / `f32`. No
//! criterion, so that it builds without the `baselines` feature.
//!
//! ```sh
//! cargo bench -p nn-bench --bench half
//! ```

#![allow(missing_docs)]

use nn::__private::init::SplitMix64;
use nn::__private::kernel::Level;
use nn::__private::{Bf16, Dense, F16, Half, HalfDense, Scalar, zeroed_box};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds of each variant per measurement.
const ROUNDS: usize = 30;
/// Length of one round.
const ROUND: Duration = Duration::from_millis(10);
/// Samples of the large batch.
const BATCH: usize = 256;

/// Time taken by `calls` calls of `f`.
fn time(calls: usize, f: &mut dyn FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed()
}

/// Calls of `f` that fill about one round, doubling from one until a quarter of a round is
/// filled (which also warms up caches and clocks).
fn calls_per_round(f: &mut dyn FnMut()) -> usize {
    let mut calls = 1_usize;
    loop {
        let elapsed = time(calls, f);
        if elapsed >= ROUND / 4 {
            let fit = ROUND.as_nanos() * calls as u128 / elapsed.as_nanos();
            return usize::try_from(fit).unwrap_or(usize::MAX).max(1);
        }
        calls *= 2;
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Alternates rounds of the variants (the first is `f32`); prints the best of each in
/// nanoseconds per sample and the median ratio of each to the first.
fn alternate(name: &str, samples: usize, variants: &mut [(&str, &mut dyn FnMut())]) {
    let calls: Vec<usize> = variants
        .iter_mut()
        .map(|(_, f)| calls_per_round(*f))
        .collect();
    let mut times = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for _ in 0..ROUNDS {
        for ((_, f), (calls, times)) in variants.iter_mut().zip(calls.iter().zip(&mut times)) {
            let seconds = time(*calls, *f).as_secs_f64();
            times.push(seconds * 1e9 / (*calls * samples) as f64);
        }
    }
    let best: Vec<f64> = times
        .iter()
        .map(|t| t.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    let mut line = format!("half {name:<18}");
    for (k, (variant, _)) in variants.iter().enumerate() {
        let _ = write!(line, " {variant} {:8.1} ns", best[k]);
        if k > 0 {
            let ratios = times[k].iter().zip(&times[0]).map(|(h, f)| h / f).collect();
            let _ = write!(line, " ({:.3}x)", median(ratios));
        }
    }
    println!("{line}");
}

nn::network! {
    /// LeNet-5 with a bfloat16 twin (`LeNetBf16Bf16`).
    struct LeNetBf16 = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2)
        -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax
        with quantize = bf16;
    /// The same with a binary16 twin (`LeNetF16F16`).
    struct LeNetF16 = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2)
        -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax
        with quantize = f16;
}

/// LeNet-5 and its half-precision twins, batch 1 and 256: the convolutions (most of LeNet's
/// multiply-adds, few of its weights) run in `f32` on widened weights in all three.
fn lenet() {
    let path = nn_bench::fixture("tests/fixtures/lenet.safetensors");
    let net = LeNetBf16::from_safetensors_file(&path).expect("LeNet's fixture");
    let bf16 = LeNetBf16Bf16::from_network(&net).unwrap();
    let f16 = LeNetF16F16::from_network(
        &LeNetF16::from_safetensors_file(&path).expect("LeNet's fixture"),
    )
    .unwrap();
    let mut rng = SplitMix64::new(11);
    let images: Vec<[[[f32; 28]; 28]; 1]> = (0..BATCH)
        .map(|_| {
            [std::array::from_fn(|_| {
                std::array::from_fn(|_| f32::from_f64(rng.next_f64()))
            })]
        })
        .collect();
    let mut t = 0;
    let mut f32_one = || {
        black_box(net.forward(black_box(&images[t % BATCH])));
        t += 1;
    };
    let mut t = 0;
    let mut bf16_one = || {
        black_box(bf16.forward(black_box(&images[t % BATCH])));
        t += 1;
    };
    let mut t = 0;
    let mut f16_one = || {
        black_box(f16.forward(black_box(&images[t % BATCH])));
        t += 1;
    };
    alternate(
        "LeNet batch 1",
        1,
        &mut [
            ("f32", &mut f32_one),
            ("bf16", &mut bf16_one),
            ("f16", &mut f16_one),
        ],
    );
    let mut outputs = vec![[0.0f32; 10]; BATCH];
    let mut f32_batch = || {
        net.forward_batch(black_box(&images), &mut outputs)
            .expect("one output a sample");
        black_box(&outputs);
    };
    let mut bf16_outputs = vec![[0.0f32; 10]; BATCH];
    let mut bf16_batch = || {
        bf16.forward_batch(black_box(&images), &mut bf16_outputs)
            .expect("one output a sample");
        black_box(&bf16_outputs);
    };
    let mut f16_outputs = vec![[0.0f32; 10]; BATCH];
    let mut f16_batch = || {
        f16.forward_batch(black_box(&images), &mut f16_outputs)
            .expect("one output a sample");
        black_box(&f16_outputs);
    };
    alternate(
        &format!("LeNet batch {BATCH}"),
        BATCH,
        &mut [
            ("f32", &mut f32_batch),
            ("bf16", &mut bf16_batch),
            ("f16", &mut f16_batch),
        ],
    );
}

/// MNIST's two layers with half-precision weights.
struct HalfMnist<H: Half> {
    hidden: Box<HalfDense<784, 128, H>>,
    output: Box<HalfDense<128, 10, H>>,
}

impl<H: Half> HalfMnist<H> {
    fn from(hidden: &Dense<784, 128>, output: &Dense<128, 10>) -> Self {
        let mut half = Self {
            hidden: zeroed_box(),
            output: zeroed_box(),
        };
        half.hidden.assign_from(hidden);
        half.output.assign_from(output);
        half
    }

    fn forward(&self, level: Level, x: &[f32; 784]) -> [f32; 10] {
        let mut h = self.hidden.forward_at(level, x).expect("a supported level");
        relu(&mut h);
        self.output
            .forward_at(level, &h)
            .expect("a supported level")
    }

    fn forward_batch(
        &self,
        level: Level,
        x: &[[f32; 784]],
        h: &mut [[f32; 128]],
        y: &mut [[f32; 10]],
    ) {
        assert!(self.hidden.forward_batch_at(level, x, h));
        relu(h.as_flattened_mut());
        assert!(self.output.forward_batch_at(level, h, y));
    }
}

fn relu(values: &mut [f32]) {
    for v in values {
        *v = v.max(0.0);
    }
}

fn main() {
    let mut rng = SplitMix64::new(7);
    let mut hidden = zeroed_box::<Dense<784, 128>>();
    let mut output = zeroed_box::<Dense<128, 10>>();
    for w in hidden.parts_mut().0 {
        *w = f32::from_f64(rng.uniform((6.0f64 / 784.0).sqrt()));
    }
    for w in output.parts_mut().0 {
        *w = f32::from_f64(rng.uniform((6.0f64 / 128.0).sqrt()));
    }
    let bf16 = HalfMnist::<Bf16>::from(&hidden, &output);
    let f16 = HalfMnist::<F16>::from(&hidden, &output);
    let inputs: Vec<[f32; 784]> = (0..BATCH)
        .map(|_| std::array::from_fn(|_| f32::from_f64(rng.next_f64())))
        .collect();
    let f32_forward = |level: Level, x: &[f32; 784]| {
        let mut h = hidden.forward_at(level, x).expect("a supported level");
        relu(&mut h);
        output.forward_at(level, &h).expect("a supported level")
    };
    for level in Level::ALL.into_iter().rev().filter(|l| l.is_supported()) {
        if !(Bf16::has_level(level) && F16::has_level(level)) {
            println!("half {level:?}: no kernel for a format (F16C?), skipped");
            continue;
        }
        // The rounded weights move the outputs by about their rounding error.
        let (y, yb, yh) = (
            f32_forward(level, &inputs[0]),
            bf16.forward(level, &inputs[0]),
            f16.forward(level, &inputs[0]),
        );
        let error = |z: &[f32; 10]| {
            y.iter()
                .zip(z)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max)
        };
        println!(
            "half {level:?}: largest output difference to f32: bf16 {:.2e}, f16 {:.2e}",
            error(&yb),
            error(&yh)
        );
        let mut t = 0;
        let mut f32_one = || {
            black_box(f32_forward(level, black_box(&inputs[t % BATCH])));
            t += 1;
        };
        let mut t = 0;
        let mut bf16_one = || {
            black_box(bf16.forward(level, black_box(&inputs[t % BATCH])));
            t += 1;
        };
        let mut t = 0;
        let mut f16_one = || {
            black_box(f16.forward(level, black_box(&inputs[t % BATCH])));
            t += 1;
        };
        alternate(
            &format!("{level:?} batch 1"),
            1,
            &mut [
                ("f32", &mut f32_one),
                ("bf16", &mut bf16_one),
                ("f16", &mut f16_one),
            ],
        );
        let mut h = vec![[0.0f32; 128]; BATCH];
        let mut y = vec![[0.0f32; 10]; BATCH];
        let mut buffers = (h.clone(), y.clone(), h.clone(), y.clone());
        let mut f32_batch = || {
            assert!(hidden.forward_batch_at(level, black_box(&inputs), &mut h));
            relu(h.as_flattened_mut());
            assert!(output.forward_batch_at(level, &h, &mut y));
            black_box(&y);
        };
        let (hb, yb, hh, yh) = &mut buffers;
        let mut bf16_batch = || {
            bf16.forward_batch(level, black_box(&inputs), hb, yb);
            black_box(&yb);
        };
        let mut f16_batch = || {
            f16.forward_batch(level, black_box(&inputs), hh, yh);
            black_box(&yh);
        };
        alternate(
            &format!("{level:?} batch {BATCH}"),
            BATCH,
            &mut [
                ("f32", &mut f32_batch),
                ("bf16", &mut bf16_batch),
                ("f16", &mut f16_batch),
            ],
        );
    }
    lenet();
}
