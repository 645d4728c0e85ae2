//! The convolution goals: `nn` against tract (the ONNX models of bench/onnx/, loaded from their
//! bytes by tract-onnx, the same weights as `nn`'s) and against the FMA peak, in alternating
//! rounds of about 20 ms, forty of each, so that every implementation sees the same state of a
//! shared machine. onnxruntime is timed by bench/onnx/ort_bench.py (Python), run before and
//! after this by bench/onnx/compare.sh.
//!
//! Prints one line per implementation and measurement, seconds per call (one sample, or the
//! whole batch), best round and median round:
//!
//! ```text
//! onnx <group> <implementation> best <seconds> median <seconds> macs <multiply-adds per call>
//! ```
//!
//! ```sh
//! cargo bench -p nn-bench --features baselines --bench onnx
//! ```

#![allow(missing_docs)]

use nn::layers::{Conv2dGeometry, Pool2dGeometry};
use nn_bench::{Conv1dNet, LeNet, Mnist, fixture, floors, inputs};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tract_core::internal::IntoRunnable;
use tract_onnx::prelude::{
    DatumExt, Framework, InferenceModelExt, IntoTValue, Tensor, TypedRunnableModel,
    TypedSimpleState, tvec,
};

/// Pairs of rounds per measurement.
const ROUNDS: usize = 40;
/// Length of one round.
const ROUND: Duration = Duration::from_millis(20);
/// Outputs must agree with tract's this closely.
const TOLERANCE: f32 = 1e-5;

type Plan = std::sync::Arc<TypedRunnableModel>;

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

/// Rounds of each implementation in turn; prints each one's best and median round, and the
/// median of the per-round ratios of each to the first.
fn alternate(group: &str, mut all: Vec<Timed<'_>>) {
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
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        f64::midpoint(v[ROUNDS / 2 - 1], v[ROUNDS / 2])
    };
    for (t, times) in all.iter().zip(&rounds) {
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        let ratio = median(times.iter().zip(&rounds[0]).map(|(t, f)| t / f).collect());
        println!(
            "onnx {group} {} best {best:.6e} median {:.6e} macs {} median_ratio_to_first {ratio:.4}",
            t.name,
            median(times.clone()),
            t.macs,
        );
    }
}

/// tract's plan for `model` (a file of bench/onnx/) with a batch of `shape`.
fn tract(model: &str, shape: &[usize]) -> Plan {
    let bytes = std::fs::read(fixture(model)).expect("the ONNX model");
    tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
        .and_then(InferenceModelExt::into_optimized)
        .and_then(IntoRunnable::into_runnable)
        .expect("tract loads the model")
}

/// Runs `state` on `x` (a batch of `shape`), returning the flat output.
fn run_tract(state: &mut TypedSimpleState, shape: &[usize], x: &[f32]) -> Vec<f32> {
    let x = Tensor::from_shape(shape, x).expect("sizes match");
    let y = state.run(tvec![x.into_tvalue()]).expect("tract runs");
    y[0].to_plain_array_view::<f32>()
        .expect("f32 output")
        .iter()
        .copied()
        .collect()
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}");
    let worst = a
        .iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    println!("accuracy {what} {worst:.3e}");
    assert!(worst <= TOLERANCE, "{what}: nn and tract differ by {worst}");
}

/// Rounds of the FMA floor kernel for `macs` multiply-adds.
fn fma_floor(macs: usize) -> impl FnMut() {
    let rounds = macs.div_ceil(floors::fma_per_round().expect("a CPU with AVX2+FMA or AVX-512"));
    move || {
        black_box(floors::fma(black_box(rounds), 1.0));
    }
}

type Image = [[[f32; 28]; 28]; 1];

// `vec!` of 18 KiB images: the element is built on the stack once, then copied to the heap.
#[allow(clippy::large_stack_arrays)]
fn lenet() {
    let net = LeNet::from_safetensors_file(fixture("tests/fixtures/lenet.safetensors"))
        .expect("the LeNet fixture");
    let conv_macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150;
    let macs = conv_macs + 400 * 120 + 120 * 84 + 84 * 10;
    for batch in [1, 64] {
        let images: Vec<Image> = inputs::<784>(batch)
            .into_iter()
            .map(|x| {
                let mut image = [[[0.0; 28]; 28]; 1];
                image
                    .as_flattened_mut()
                    .as_flattened_mut()
                    .copy_from_slice(&x);
                image
            })
            .collect();
        let flat: Vec<f32> = images
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .copied()
            .collect();
        let shape = [batch, 1, 28, 28];
        let plan = tract("bench/onnx/lenet.onnx", &shape);
        let mut state = TypedSimpleState::new(&plan).expect("a state");
        let mut y = vec![[0.0_f32; 10]; batch];
        net.forward_batch(&images, &mut y).expect("sizes match");
        let group = format!("lenet_b{batch}");
        assert_close(
            &group,
            y.as_flattened(),
            &run_tract(&mut state, &shape, &flat),
        );
        let nn: Box<dyn FnMut()> = if batch == 1 {
            Box::new(|| {
                black_box(net.forward(black_box(&images[0])));
            })
        } else {
            Box::new(|| {
                net.forward_batch(black_box(&images), black_box(&mut y))
                    .expect("sizes match");
            })
        };
        alternate(
            &group,
            vec![
                timed("nn", batch * macs, nn),
                timed("tract", batch * macs, || {
                    black_box(run_tract(&mut state, &shape, black_box(&flat)));
                }),
                timed("floor_fma", batch * macs, fma_floor(batch * macs)),
            ],
        );
    }

    // The convolution layers alone at batch 64 (their inputs as in the network), against the
    // FMA peak for their multiply-adds.
    let batch = 64;
    let images = inputs::<784>(batch);
    let g1 = Conv2dGeometry {
        padding: [2, 2],
        ..Conv2dGeometry::DEFAULT
    };
    let g2 = Conv2dGeometry::DEFAULT;
    let mut a = vec![[[[0.0_f32; 28]; 28]; 6]; batch];
    let mut p = vec![[[[0.0_f32; 14]; 14]; 6]; batch];
    let mut b = vec![[[[0.0_f32; 10]; 10]; 16]; batch];
    let first: Vec<Image> = images
        .iter()
        .map(|x| {
            let mut image = [[[0.0; 28]; 28]; 1];
            image
                .as_flattened_mut()
                .as_flattened_mut()
                .copy_from_slice(x);
            image
        })
        .collect();
    for ((x, a), p) in first.iter().zip(&mut a).zip(&mut p) {
        net.layer0.forward_into(x, g1, a);
        *p = nn::layers::maxpool2d(a, Pool2dGeometry::new([2, 2]));
    }
    let mut s1 = vec![0.0_f32; nn::layers::Conv2d::<6, 1, 5, 5>::scratch_len([1, 28, 28], g1)];
    let mut s2 = vec![0.0_f32; nn::layers::Conv2d::<16, 6, 5, 5>::scratch_len([6, 14, 14], g2)];
    alternate(
        "lenet_conv_b64",
        vec![
            timed("nn", batch * conv_macs, || {
                for (x, a) in first.iter().zip(&mut a) {
                    net.layer0.forward_into_with(black_box(x), g1, a, &mut s1);
                }
                for (p, b) in p.iter().zip(&mut b) {
                    net.layer2.forward_into_with(black_box(p), g2, b, &mut s2);
                }
                black_box((&a, &b));
            }),
            timed("floor_fma", batch * conv_macs, fma_floor(batch * conv_macs)),
        ],
    );
}

fn conv1d() {
    let net = Conv1dNet::from_safetensors_file(fixture("bench/onnx/conv1d.safetensors"))
        .expect("the conv1d fixture");
    let macs = 16 * 128 * 8 * 5 + 16 * 128 * 16 * 5 + 16 * 4;
    for batch in [1, 64] {
        let xs: Vec<[[f32; 128]; 8]> = inputs::<1024>(batch)
            .into_iter()
            .map(|x| {
                let mut s = [[0.0; 128]; 8];
                s.as_flattened_mut().copy_from_slice(&x);
                s
            })
            .collect();
        let flat: Vec<f32> = xs.iter().flatten().flatten().copied().collect();
        let shape = [batch, 8, 128];
        let plan = tract("bench/onnx/conv1d.onnx", &shape);
        let mut state = TypedSimpleState::new(&plan).expect("a state");
        let mut y = vec![[0.0_f32; 4]; batch];
        net.forward_batch(&xs, &mut y).expect("sizes match");
        let group = format!("conv1d_b{batch}");
        assert_close(
            &group,
            y.as_flattened(),
            &run_tract(&mut state, &shape, &flat),
        );
        let nn: Box<dyn FnMut()> = if batch == 1 {
            Box::new(|| {
                black_box(net.forward(black_box(&xs[0])));
            })
        } else {
            Box::new(|| {
                net.forward_batch(black_box(&xs), black_box(&mut y))
                    .expect("sizes match");
            })
        };
        alternate(
            &group,
            vec![
                timed("nn", batch * macs, nn),
                timed("tract", batch * macs, || {
                    black_box(run_tract(&mut state, &shape, black_box(&flat)));
                }),
                timed("floor_fma", batch * macs, fma_floor(batch * macs)),
            ],
        );
    }
}

fn mnist() {
    let net = Mnist::from_safetensors_file(fixture("bench/onnx/mnist.safetensors"))
        .expect("the mnist fixture");
    let macs = 784 * 128 + 128 * 10;
    let batch = 256;
    let xs = inputs::<784>(batch);
    let flat: Vec<f32> = xs.iter().flatten().copied().collect();
    let shape = [batch, 784];
    let plan = tract("bench/onnx/mnist.onnx", &shape);
    let mut state = TypedSimpleState::new(&plan).expect("a state");
    let mut y = vec![[0.0_f32; 10]; batch];
    net.forward_batch(&xs, &mut y).expect("sizes match");
    assert_close(
        "mnist_b256",
        y.as_flattened(),
        &run_tract(&mut state, &shape, &flat),
    );
    alternate(
        "mnist_b256",
        vec![
            timed("nn", batch * macs, || {
                net.forward_batch(black_box(&xs), black_box(&mut y))
                    .expect("sizes match");
            }),
            timed("tract", batch * macs, || {
                black_box(run_tract(&mut state, &shape, black_box(&flat)));
            }),
            timed("floor_fma", batch * macs, fma_floor(batch * macs)),
        ],
    );
}

fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    if run("lenet") {
        lenet();
    }
    if run("conv1d") {
        conv1d();
    }
    if run("mnist") {
        mnist();
    }
}
