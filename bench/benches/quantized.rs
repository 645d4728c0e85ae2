//! The int8 goals: MNIST (`784 -> 128 relu -> 10 softmax`, the weights of
//! bench/onnx/mnist.safetensors) in f32 (`Mnist`) against its int8 twin (`MnistInt8`, calibrated
//! with min/max on `inputs::<784>(256)`), at batch 1 (`forward`) and batch 256 (`forward_batch`),
//! one thread, in alternating rounds of about 20 ms, forty of each, so that both see the same
//! state of a shared machine; at batch 256 also two parts of int8's time (quantising the inputs,
//! and the hidden layer's `i32` sums alone), the int8 multiply-add peak of this core (a
//! register-only loop of AVX-512 VNNI `vpdpbusd`) and the FMA peak, for the same multiply-adds.
//! Beside it, the twin calibrated with 7-bit weights (`int7`: `WeightRange::Int7`, which a CPU
//! with AVX2 and no VNNI runs with `vpmaddubsw`), with the same goals.
//!
//! Prints one line per implementation and measurement, seconds per call (one sample, or the
//! whole batch), best round and median round, then the goals' ratios:
//!
//! ```text
//! quant <group> <implementation> best <s> median <s> macs <multiply-adds per call> median_ratio_to_first <r>
//! goal <name> best <ratio of best rounds> median <median of per-round ratios> target <op><x> met <yes|no>
//! ```
//!
//! With `--ort <log>` (a log of bench/onnx/ort_bench.py, which bench/onnx/compare_quantized.sh
//! passes), also onnxruntime's int8 models against `MnistInt8`, onnxruntime's best net time
//! (its Python call overhead subtracted) over every run in the log:
//!
//! ```text
//! vs_ort <model> <batch> ort <s> nn_<int8|int7> <s> ratio <ort / nn> target >=<x> met <yes|no>
//! ```
//!
//! ```sh
//! cargo bench -p nn-bench --bench quantized
//! bench/onnx/compare_quantized.sh   # with onnxruntime, and writes bench/quantized.md
//! ```

#![allow(missing_docs)]

use nn::quant::{Calibration, WeightRange};
use nn_bench::{Mnist, MnistInt8, fixture, floors, inputs};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Pairs of rounds per measurement.
const ROUNDS: usize = 40;
/// Length of one round.
const ROUND: Duration = Duration::from_millis(20);
/// Multiply-adds of one MNIST sample.
const MACS: usize = 784 * 128 + 128 * 10;
/// The batch of `forward_batch`.
const BATCH: usize = 256;

/// One thing to time: a name, multiply-adds per call, and the call.
struct Timed<'a> {
    name: &'static str,
    macs: usize,
    run: Box<dyn FnMut() + 'a>,
}

fn timed<'a>(name: &'static str, macs: usize, run: impl FnMut() + 'a) -> Timed<'a> {
    Timed {
        name,
        macs,
        run: Box::new(run),
    }
}

fn per_call(calls: usize, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_secs_f64() / calls as f64
}

/// Calls of `f` that fill about one round, doubling from one until a quarter of a round is
/// filled (which also warms up caches and clocks).
fn calls_per_round(f: &mut dyn FnMut()) -> usize {
    let mut calls = 1_usize;
    loop {
        let start = Instant::now();
        for _ in 0..calls {
            f();
        }
        let elapsed = start.elapsed();
        if elapsed >= ROUND / 4 {
            let fit = ROUND.as_nanos() * calls as u128 / elapsed.as_nanos();
            return usize::try_from(fit).unwrap_or(usize::MAX).max(1);
        }
        calls *= 2;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    f64::midpoint(v[v.len() / 2 - 1], v[v.len() / 2])
}

/// Every implementation's rounds (seconds per call), by name.
struct Rounds(BTreeMap<&'static str, Vec<f64>>);

impl Rounds {
    fn best(&self, name: &str) -> f64 {
        self.0[name].iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// `a / b` of the best rounds, and the median of the per-round ratios.
    fn ratio(&self, a: &str, b: &str) -> (f64, f64) {
        let per_round = self.0[a].iter().zip(&self.0[b]).map(|(a, b)| a / b);
        (self.best(a) / self.best(b), median(per_round.collect()))
    }
}

/// Rounds of each implementation in turn; prints each one's best and median round, and the
/// median of the per-round ratios of each to the first.
fn alternate(group: &str, mut all: Vec<Timed<'_>>) -> Rounds {
    let calls: Vec<usize> = all
        .iter_mut()
        .map(|t| calls_per_round(&mut t.run))
        .collect();
    let mut rounds = vec![Vec::with_capacity(ROUNDS); all.len()];
    for _ in 0..ROUNDS {
        for ((t, calls), times) in all.iter_mut().zip(&calls).zip(&mut rounds) {
            times.push(per_call(*calls, &mut t.run));
        }
    }
    for (t, times) in all.iter().zip(&rounds) {
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        let ratio = median(times.iter().zip(&rounds[0]).map(|(t, f)| t / f).collect());
        println!(
            "quant {group} {} best {best:.6e} median {:.6e} macs {} median_ratio_to_first {ratio:.4}",
            t.name,
            median(times.clone()),
            t.macs,
        );
    }
    Rounds(all.iter().map(|t| t.name).zip(rounds).collect())
}

/// Prints a goal's line: `(best, median)` ratios against `target`, met when the best rounds'
/// ratio is at most (`at_most`) or at least the target.
fn goal(name: &str, (best, median): (f64, f64), at_most: bool, target: f64) {
    let (op, met) = if at_most {
        ("<=", best <= target)
    } else {
        (">=", best >= target)
    };
    println!(
        "goal {name} best {best:.4} median {median:.4} target {op}{target} met {}",
        if met { "yes" } else { "no" }
    );
}

/// Rounds of the int8 peak kernel for `macs` multiply-adds, if this CPU has AVX-512 VNNI.
fn dpbusd_floor(macs: usize) -> Option<impl FnMut()> {
    let rounds = macs.div_ceil(floors::dpbusd_per_round()?);
    Some(move || {
        black_box(floors::dpbusd(black_box(rounds), 1));
    })
}

/// Rounds of the FMA peak kernel for `macs` multiply-adds.
fn fma_floor(macs: usize) -> Option<impl FnMut()> {
    let rounds = macs.div_ceil(floors::fma_per_round()?);
    Some(move || {
        black_box(floors::fma(black_box(rounds), 1.0));
    })
}

/// onnxruntime's best net time per (model, batch) over every `ort` line of `log`.
fn ort_times(log: &str) -> BTreeMap<(String, usize), f64> {
    let mut best = BTreeMap::new();
    for line in log.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [
            "ort",
            model,
            batch,
            "model",
            _,
            "identity",
            _,
            "net",
            net,
            ..,
        ] = words[..]
        {
            let (Ok(batch), Ok(net)) = (batch.parse::<usize>(), net.parse::<f64>()) else {
                continue;
            };
            let entry = best
                .entry((model.to_owned(), batch))
                .or_insert(f64::INFINITY);
            *entry = f64::min(*entry, net);
        }
    }
    best
}

/// onnxruntime's int8 models (and its f32 model, for context) against `MnistInt8`'s best rounds
/// at batch 1 and 256: their time over ours, against the goals (2x at batch 1, 1.5x at 256).
fn versus_ort(log: &str, twin: &str, b1: f64, b256: f64) {
    let ort = ort_times(log);
    for model in ["mnist_int8_dynamic", "mnist_int8_static", "mnist"] {
        for (batch, ours, target) in [(1, b1, 2.0), (BATCH, b256, 1.5)] {
            let Some(theirs) = ort.get(&(model.to_owned(), batch)) else {
                continue;
            };
            let ratio = theirs / ours;
            // The goals are against onnxruntime's int8 models; f32 onnxruntime is context.
            let met = if model == "mnist" {
                "-"
            } else if ratio >= target {
                "yes"
            } else {
                "no"
            };
            println!(
                "vs_ort {model} {batch} ort {theirs:.6e} nn_{twin} {ours:.6e} ratio {ratio:.4} target >={target} met {met}"
            );
        }
    }
}

fn class(y: &[f32]) -> usize {
    (0..y.len())
        .max_by(|&a, &b| y[a].total_cmp(&y[b]))
        .expect("outputs")
}

/// Checks before timing: a batch gives `forward`'s outputs, and the twin named `twin` stays
/// close to f32 (printed).
fn check(net: &Mnist, int8: &MnistInt8, twin: &str, xs: &[[f32; 784]]) {
    let mut y8 = vec![[0.0_f32; 10]; BATCH];
    let mut y32 = vec![[0.0_f32; 10]; BATCH];
    int8.forward_batch(xs, &mut y8).expect("sizes match");
    net.forward_batch(xs, &mut y32).expect("sizes match");
    let mut worst = 0.0_f32;
    let mut same = 0;
    for ((x, a), b) in xs.iter().zip(&y8).zip(&y32) {
        assert_eq!(
            int8.forward(x).map(f32::to_bits),
            a.map(f32::to_bits),
            "forward_batch differs from forward"
        );
        worst = a
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(worst, f32::max);
        same += usize::from(class(a) == class(b));
    }
    println!("accuracy {twin}_vs_f32 max_difference {worst:.3e} same_class {same}/{BATCH}");
}

/// The goals' lines, and the peaks' where measured: int8 (and int7) time over f32 time at batch
/// 1; f32 time over int8 time (throughput) at batch 256.
fn goals(b1: &Rounds, b256: &Rounds) {
    for twin in ["int8", "int7"] {
        let time = b1.ratio(twin, "f32");
        goal(&format!("{twin}_b1_time_over_f32"), time, true, 0.4);
        let throughput = b256.ratio("f32", twin);
        goal(
            &format!("{twin}_b256_throughput_over_f32"),
            throughput,
            false,
            3.0,
        );
    }
    if b256.0.contains_key("floor_dpbusd") {
        let (best, median) = b256.ratio("floor_dpbusd", "int8");
        println!("floor int8_b256_fraction_of_dpbusd_peak best {best:.4} median {median:.4}");
        // The peak's time for the hidden layer's multiply-adds alone.
        let (best, median) = b256.ratio("floor_dpbusd", "int8_hidden_sums");
        let share = 784.0 * 128.0 / MACS as f64;
        println!(
            "floor hidden_sums_fraction_of_dpbusd_peak best {:.4} median {:.4}",
            best * share,
            median * share
        );
        if b256.0.contains_key("floor_fma") {
            let (best, median) = b256.ratio("floor_fma", "floor_dpbusd");
            println!("floor dpbusd_peak_over_fma_peak best {best:.4} median {median:.4}");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ort_log = args
        .iter()
        .position(|a| a == "--ort")
        .and_then(|i| args.get(i + 1))
        .map(|path| std::fs::read_to_string(path).expect("onnxruntime's log"));

    let net = Mnist::from_safetensors_file(fixture("bench/onnx/mnist.safetensors"))
        .expect("the mnist fixture");
    // The first 256 rows calibrate (the inputs make_quantized.py calibrates onnxruntime's static
    // model on); the next 256 are the batch timed and checked.
    let rows = inputs::<784>(2 * BATCH);
    let (calibration, xs) = rows.split_at(BATCH);
    let int8 = MnistInt8::calibrate(&net, calibration, Calibration::MinMax).expect("calibration");
    let int7 = MnistInt8::calibrate_with(&net, calibration, Calibration::MinMax, WeightRange::Int7)
        .expect("calibration");
    println!(
        "# int8 kernel level {:?}; avx512vnni {}; amx {}",
        nn::quant::level(),
        floors::dpbusd_per_round().is_some(),
        nn::quant::amx_enabled()
    );

    check(&net, &int8, "int8", xs);
    check(&net, &int7, "int7", xs);

    let x = xs[0];
    let steps = int8.input_quantization().quantize_all(&x);
    let b1 = alternate(
        "mnist_b1",
        vec![
            timed("f32", MACS, || {
                black_box(net.forward(black_box(&x)));
            }),
            timed("int8", MACS, || {
                black_box(int8.forward(black_box(&x)));
            }),
            timed("int8_u8", MACS, || {
                black_box(int8.forward_quantized(black_box(&steps)));
            }),
            timed("int7", MACS, || {
                black_box(int7.forward(black_box(&x)));
            }),
        ],
    );

    let q = int8.input_quantization();
    let input_steps: Vec<[u8; 784]> = xs.iter().map(|x| q.quantize_all(x)).collect();
    let mut batch_steps = input_steps.clone();
    let mut hidden_sums = vec![[0_i32; 128]; BATCH];
    let (mut y8, mut y32) = (vec![[0.0_f32; 10]; BATCH], vec![[0.0_f32; 10]; BATCH]);
    let mut y7 = vec![[0.0_f32; 10]; BATCH];
    let mut b256 = vec![
        timed("f32", BATCH * MACS, || {
            net.forward_batch(black_box(xs), black_box(&mut y32))
                .expect("sizes match");
        }),
        timed("int8", BATCH * MACS, || {
            int8.forward_batch(black_box(xs), black_box(&mut y8))
                .expect("sizes match");
        }),
        timed("int7", BATCH * MACS, || {
            int7.forward_batch(black_box(xs), black_box(&mut y7))
                .expect("sizes match");
        }),
        // Parts of int8's time, to see where it goes: quantising the inputs, and the hidden
        // layer's `i32` sums alone (on steps quantised beforehand).
        // (`quantize_slice` over the batch, the kernel that `forward_batch` runs on each chunk
        // through `quantize_slice_any_nan`.)
        timed("int8_quantize_inputs", 0, || {
            q.quantize_slice(
                black_box(xs).as_flattened(),
                black_box(batch_steps.as_flattened_mut()),
            );
        }),
        timed("int8_hidden_sums", BATCH * 784 * 128, || {
            int8.hidden
                .accumulate_batch(black_box(&input_steps), black_box(&mut hidden_sums));
        }),
    ];
    if let Some(floor) = dpbusd_floor(BATCH * MACS) {
        b256.push(timed("floor_dpbusd", BATCH * MACS, floor));
    }
    if let Some(floor) = fma_floor(BATCH * MACS) {
        b256.push(timed("floor_fma", BATCH * MACS, floor));
    }
    let b256 = alternate("mnist_b256", b256);

    goals(&b1, &b256);

    if let Some(log) = ort_log {
        versus_ort(&log, "int8", b1.best("int8"), b256.best("int8"));
        versus_ort(&log, "int7", b1.best("int7"), b256.best("int7"));
    }
}
