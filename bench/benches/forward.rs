//! `nn` against the machine's floors, a naive loop, ndarray, candle and tract, on the same
//! weights, in one process. Run by `bench/run.sh`, which turns the results into
//! `BENCHMARKS.md`; before timing, every implementation's outputs are checked against an `f64`
//! reference and the largest error is printed as an `accuracy` line.
//!
//! Run with `RAYON_NUM_THREADS=1` so that candle uses one thread; the `nn_rayon` benchmark
//! builds its own pool of two.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use nn::__private::kernel::Level;
use nn_bench::baselines::{Candle, Ndarray, Tract};
use nn_bench::{Layer, Mnist, Small, Xor, XorLoops, error, floors, inputs, layers};
use std::hint::black_box;
use std::time::Duration;

/// Outputs must stay this close to the `f64` reference.
const TOLERANCE: f64 = 1e-5;

fn check(group: &str, name: &str, layers: &[Layer], input: &[f32], output: &[f32]) {
    let error = error(layers, input, output);
    println!("accuracy {group}/{name} {error:.3e}");
    assert!(
        error <= TOLERANCE,
        "{group}/{name}: error {error:e} against the f64 reference"
    );
}

fn check_rows<const IN: usize>(
    group: &str,
    name: &str,
    layers: &[Layer],
    x: &[[f32; IN]],
    y: &[f32],
) {
    let width = y.len() / x.len();
    let worst = x
        .iter()
        .zip(y.chunks(width))
        .map(|(x, y)| error(layers, x, y))
        .fold(0.0, f64::max);
    println!("accuracy {group}/{name} {worst:.3e}");
    assert!(
        worst <= TOLERANCE,
        "{group}/{name}: error {worst:e} against the f64 reference"
    );
}

fn open<'a>(c: &'a mut Criterion, name: &str, batch: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(batch as u64));
    group
}

/// The floors for `macs` multiply-adds per iteration (FMA peak) and `bytes` read (L2).
fn floors(group: &mut BenchmarkGroup<'_, WallTime>, macs: usize, bytes: Option<usize>) {
    let per_round = floors::fma_per_round().expect("a CPU with AVX2+FMA or AVX-512");
    let rounds = macs.div_ceil(per_round);
    println!("floor_fma rounds {rounds} macs {}", rounds * per_round);
    group.bench_function("floor_fma", |b| {
        b.iter(|| floors::fma(black_box(rounds), black_box(1.0)));
    });
    if let Some(bytes) = bytes {
        let data = floors::lines(bytes / 4);
        group.bench_function("floor_l2", |b| b.iter(|| floors::read(black_box(&data))));
    }
}

fn tensor(x: &[f32], rows: usize, cols: usize) -> candle_core::Tensor {
    candle_core::Tensor::from_slice(x, (rows, cols), &candle_core::Device::Cpu).expect("a tensor")
}

fn candle_rows(y: &candle_core::Tensor) -> Vec<f32> {
    y.flatten_all()
        .and_then(|y| y.to_vec1())
        .expect("an f32 tensor")
}

fn mnist_b1(c: &mut Criterion) {
    assert_eq!(
        std::env::var("RAYON_NUM_THREADS").as_deref(),
        Ok("1"),
        "run with RAYON_NUM_THREADS=1 so that candle uses one thread (bench/run.sh does)"
    );
    let net = Mnist::random(1);
    let layers = layers(&*net);
    let macs = 784 * 128 + 128 * 10;
    let bytes = Mnist::PARAMETERS * 4;
    let x = inputs::<784>(1);
    let ndarray = Ndarray::new(&layers);
    let candle = Candle::new(&layers).expect("candle model");
    let mut tract1 = Tract::new(&layers, 1).expect("tract model");
    let g = "mnist_b1";
    check(g, "nn", &layers, &x[0], &net.forward(&x[0]));
    check(
        g,
        "naive",
        &layers,
        &x[0],
        &nn_bench::naive_mnist(&net, &x[0]),
    );
    let x0 = ndarray::Array1::from(x[0].to_vec());
    check(
        g,
        "ndarray",
        &layers,
        &x[0],
        ndarray.forward(&x0).as_slice().expect("contiguous"),
    );
    let t0 = tensor(&x[0], 1, 784);
    check(
        g,
        "candle",
        &layers,
        &x[0],
        &candle_rows(&candle.forward(&t0).expect("candle")),
    );
    check(
        g,
        "tract",
        &layers,
        &x[0],
        &tract1.forward(&x[0]).expect("tract"),
    );
    let mut group = open(c, g, 1);
    floors(&mut group, macs, Some(bytes));
    group.bench_function("nn", |b| b.iter(|| net.forward(black_box(&x[0]))));
    for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
        let name = format!("nn_{level:?}").to_lowercase();
        check(
            g,
            &name,
            &layers,
            &x[0],
            &nn_bench::mnist_at(&net, level, &x[0]).expect("supported"),
        );
        group.bench_function(&name, |b| {
            b.iter(|| nn_bench::mnist_at(&net, level, black_box(&x[0])));
        });
    }
    group.bench_function("naive", |b| {
        b.iter(|| nn_bench::naive_mnist(&net, black_box(&x[0])));
    });
    group.bench_function("ndarray", |b| b.iter(|| ndarray.forward(black_box(&x0))));
    group.bench_function("candle", |b| b.iter(|| candle.forward(black_box(&t0))));
    group.bench_function("tract", |b| b.iter(|| tract1.forward(black_box(&x[0]))));
    group.finish();
}

fn mnist_b256(c: &mut Criterion) {
    let net = Mnist::random(1);
    let layers = layers(&*net);
    let macs = 784 * 128 + 128 * 10;
    let x = inputs::<784>(256);
    let ndarray = Ndarray::new(&layers);
    let candle = Candle::new(&layers).expect("candle model");
    let mut tract256 = Tract::new(&layers, 256).expect("tract model");
    let g = "mnist_b256";
    let flat: Vec<f32> = x.iter().flatten().copied().collect();
    let mut y = vec![[0.0_f32; 10]; 256];
    net.forward_batch(&x, &mut y)
        .expect("one output row per input");
    check_rows(g, "nn", &layers, &x, y.as_flattened());
    let xs = ndarray::Array2::from_shape_vec((256, 784), flat.clone()).expect("256 x 784");
    check_rows(
        g,
        "ndarray",
        &layers,
        &x,
        ndarray.forward_batch(&xs).as_slice().expect("contiguous"),
    );
    let ts = tensor(&flat, 256, 784);
    check_rows(
        g,
        "candle",
        &layers,
        &x,
        &candle_rows(&candle.forward(&ts).expect("candle")),
    );
    check_rows(
        g,
        "tract",
        &layers,
        &x,
        &tract256.forward(&flat).expect("tract"),
    );
    let mut group = open(c, g, 256);
    floors(&mut group, 256 * macs, None);
    group.bench_function("nn", |b| {
        b.iter(|| net.forward_batch(black_box(&x), black_box(&mut y)));
    });
    #[cfg(feature = "rayon")]
    {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool");
        let mut y2 = vec![[0.0_f32; 10]; 256];
        pool.install(|| net.forward_batch(&x, &mut y2))
            .expect("one output row per input");
        check_rows(g, "nn_rayon", &layers, &x, y2.as_flattened());
        group.bench_function("nn_rayon", |b| {
            b.iter(|| pool.install(|| net.forward_batch(black_box(&x), black_box(&mut y2))));
        });
    }
    group.bench_function("ndarray", |b| {
        b.iter(|| ndarray.forward_batch(black_box(&xs)));
    });
    group.bench_function("candle", |b| b.iter(|| candle.forward(black_box(&ts))));
    group.bench_function("tract", |b| b.iter(|| tract256.forward(black_box(&flat))));
    group.finish();
}

fn small(c: &mut Criterion) {
    let net = Small::random(2);
    let layers = layers(&*net);
    let x = inputs::<50>(1);
    let ndarray = Ndarray::new(&layers);
    let candle = Candle::new(&layers).expect("candle model");
    let mut tract = Tract::new(&layers, 1).expect("tract model");
    let g = "small_b1";
    check(g, "nn", &layers, &x[0], &net.forward(&x[0]));
    check(
        g,
        "naive",
        &layers,
        &x[0],
        &nn_bench::naive_small(&net, &x[0]),
    );
    let x0 = ndarray::Array1::from(x[0].to_vec());
    check(
        g,
        "ndarray",
        &layers,
        &x[0],
        ndarray.forward(&x0).as_slice().expect("contiguous"),
    );
    let t0 = tensor(&x[0], 1, 50);
    check(
        g,
        "candle",
        &layers,
        &x[0],
        &candle_rows(&candle.forward(&t0).expect("candle")),
    );
    check(
        g,
        "tract",
        &layers,
        &x[0],
        &tract.forward(&x[0]).expect("tract"),
    );
    let mut group = open(c, g, 1);
    group.bench_function("nn", |b| b.iter(|| net.forward(black_box(&x[0]))));
    group.bench_function("naive", |b| {
        b.iter(|| nn_bench::naive_small(&net, black_box(&x[0])));
    });
    group.bench_function("ndarray", |b| b.iter(|| ndarray.forward(black_box(&x0))));
    group.bench_function("candle", |b| b.iter(|| candle.forward(black_box(&t0))));
    group.bench_function("tract", |b| b.iter(|| tract.forward(black_box(&x[0]))));
    group.finish();
}

fn xor(c: &mut Criterion) {
    let full = Xor::random(3);
    let mut loops = XorLoops::zeroed();
    let layers = layers(&*full);
    // The same weights in both.
    let mut copied = layers
        .iter()
        .flat_map(|layer| [&layer.weights, &layer.bias]);
    nn::Network::for_each_tensor_mut(&mut *loops, |_, tensor, values| {
        let source = copied.next().expect("same layers");
        for (k, value) in source.iter().enumerate() {
            values[tensor.storage_index(k)] = *value;
        }
    });
    let x = [1.0_f32, 0.0];
    let g = "xor_b1";
    check(g, "nn_unroll_full", &layers, &x, &full.forward(&x));
    check(g, "nn_loops", &layers, &x, &loops.forward(&x));
    let mut group = open(c, g, 1);
    group.bench_function("nn_unroll_full", |b| b.iter(|| full.forward(black_box(&x))));
    group.bench_function("nn_loops", |b| b.iter(|| loops.forward(black_box(&x))));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = mnist_b1, mnist_b256, small, xor
}
criterion_main!(benches);
