//! Training throughput (samples per second) of the code `network!` generates, against a
//! straightforward ndarray implementation of the same network and backpropagation, in the same
//! run, on the same weights and data: mini-batches of 32, mean cross-entropy on softmax, plain
//! SGD. The two end with the same weights (the maximum difference is printed).
//!
//! ```sh
//! cargo bench -p nn-bench --bench train_throughput
//! ```

use ndarray::{Array1, Array2, Axis};
use nn::Network;
use nn::train::{CrossEntropy, Gradients, Loss, Optimizer, Sgd, Trainable};
use std::hint::black_box;
use std::time::Instant;

const BATCH: usize = 32;
const LEARNING_RATE: f32 = 0.01;

nn::network! {
    struct Digits = 64 -> 32 relu -> 10 softmax;
}

nn::network! {
    struct Mnist = 784 -> 128 relu -> 10 softmax;
}

/// The same two-layer network as ndarray matrices (`[OUT][IN]` weights, as PyTorch's; `nn`
/// stores them by column).
struct Reference {
    w1: Array2<f32>,
    b1: Array1<f32>,
    w2: Array2<f32>,
    b2: Array1<f32>,
}

impl Reference {
    /// A copy of `net`'s weights.
    fn from<N: Network<Scalar = f32>>(net: &N) -> Self {
        let mut layers = Vec::new();
        let mut weight = None;
        net.for_each_tensor(|_, tensor, values| {
            if let &[outputs, inputs] = tensor.shape {
                // The slice holds the weights by column, `[IN][OUT]`: its transpose is `W`.
                let w = Array2::from_shape_vec((inputs, outputs), values.to_vec())
                    .expect("weights are [IN][OUT]")
                    .reversed_axes()
                    .as_standard_layout()
                    .into_owned();
                weight = Some(w);
            } else if let Some(w) = weight.take() {
                layers.push((w, Array1::from(values.to_vec())));
            }
        });
        let (w2, b2) = layers.pop().expect("two layers");
        let (w1, b1) = layers.pop().expect("two layers");
        Self { w1, b1, w2, b2 }
    }

    /// One SGD step on a batch: forward, backward, update.
    fn step(&mut self, x: &Array2<f32>, y: &Array2<f32>) {
        let scale = 1.0 / x.nrows() as f32;
        let z1 = x.dot(&self.w1.t()) + &self.b1;
        let a1 = z1.mapv(|v| v.max(0.0));
        let z2 = a1.dot(&self.w2.t()) + &self.b2;
        let mut p = z2;
        for mut row in p.rows_mut() {
            let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            row /= sum;
        }
        let d2 = (p - y) * scale;
        let gw2 = d2.t().dot(&a1);
        let gb2 = d2.sum_axis(Axis(0));
        let mut d1 = d2.dot(&self.w2);
        d1.zip_mut_with(&z1, |d, &z| {
            if z <= 0.0 {
                *d = 0.0;
            }
        });
        let gw1 = d1.t().dot(x);
        let gb1 = d1.sum_axis(Axis(0));
        self.w1.scaled_add(-LEARNING_RATE, &gw1);
        self.b1.scaled_add(-LEARNING_RATE, &gb1);
        self.w2.scaled_add(-LEARNING_RATE, &gw2);
        self.b2.scaled_add(-LEARNING_RATE, &gb2);
    }

    fn parameters(&self) -> Vec<f32> {
        [&self.w1.view(), &self.b1.view().insert_axis(Axis(0))]
            .into_iter()
            .chain([&self.w2.view(), &self.b2.view().insert_axis(Axis(0))])
            .flat_map(|a| a.iter().copied().collect::<Vec<_>>())
            .collect()
    }
}

/// Deterministic data: inputs in [0, 1), one-hot targets.
fn data<const IN: usize, const OUT: usize>(samples: usize) -> (Vec<[f32; IN]>, Vec<[f32; OUT]>) {
    let mut state = 0x1234_5678_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let inputs = (0..samples).map(|_| [(); IN].map(|()| next())).collect();
    let targets = (0..samples)
        .map(|i| std::array::from_fn(|o| if o == i % OUT { 1.0 } else { 0.0 }))
        .collect();
    (inputs, targets)
}

/// One epoch of the generated backward pass, one sample at a time, and `Sgd`, in batch order.
fn epoch_per_sample<N: Trainable<Scalar = f32>>(
    net: &mut N,
    gradients: &mut N::Gradients,
    sgd: &mut Sgd<f32>,
    inputs: &[N::Input],
    targets: &[N::Output],
) where
    CrossEntropy: Loss<N::OutputActivation>,
{
    for (x, y) in inputs.chunks(BATCH).zip(targets.chunks(BATCH)) {
        gradients.zero();
        let scale = 1.0 / x.len() as f32;
        for (x, y) in x.iter().zip(y) {
            black_box(net.accumulate_gradients(x, y, &CrossEntropy, scale, gradients));
        }
        sgd.step(net, gradients);
    }
}

/// One epoch of the generated chunked backward pass (`accumulate_batch`, what `Trainer` uses)
/// and `Sgd`, in batch order.
fn epoch_batched<N: Trainable<Scalar = f32>>(
    net: &mut N,
    gradients: &mut N::Gradients,
    sgd: &mut Sgd<f32>,
    inputs: &[N::Input],
    targets: &[N::Output],
) where
    CrossEntropy: Loss<N::OutputActivation>,
{
    for (x, y) in inputs.chunks(BATCH).zip(targets.chunks(BATCH)) {
        gradients.zero();
        let scale = 1.0 / x.len() as f32;
        net.accumulate_batch(x, y, &CrossEntropy, scale, gradients, |_, outcome| {
            black_box(outcome);
        })
        .expect("one target per input");
        sgd.step(net, gradients);
    }
}

/// Best of `runs` timings of `f`, in seconds.
fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn compare<N: Trainable<Scalar = f32>, const IN: usize, const OUT: usize>(
    net: &mut N,
    samples: usize,
) where
    N::Input: From<[f32; IN]> + AsRef<[f32]>,
    N::Output: From<[f32; OUT]>,
    CrossEntropy: Loss<N::OutputActivation>,
{
    let (inputs, targets) = data::<IN, OUT>(samples);
    let inputs: Vec<N::Input> = inputs.into_iter().map(N::Input::from).collect();
    let targets: Vec<N::Output> = targets.into_iter().map(N::Output::from).collect();
    let batches: Vec<(Array2<f32>, Array2<f32>)> = inputs
        .chunks(BATCH)
        .zip(targets.chunks(BATCH))
        .map(|(x, y)| {
            let x: Vec<f32> = x.iter().flat_map(|r| r.as_ref().to_vec()).collect();
            let y: Vec<f32> = y.iter().flat_map(|r| r.as_ref().to_vec()).collect();
            let rows = x.len() / IN;
            (
                Array2::from_shape_vec((rows, IN), x).expect("rows of IN"),
                Array2::from_shape_vec((rows, OUT), y).expect("rows of OUT"),
            )
        })
        .collect();

    // Same start, one epoch each: the weights must agree.
    let mut reference = Reference::from(&*net);
    let mut gradients = N::Gradients::zeroed();
    let mut sgd = Sgd::new(LEARNING_RATE);
    epoch_batched(net, &mut gradients, &mut sgd, &inputs, &targets);
    for (x, y) in &batches {
        reference.step(x, y);
    }
    let mut ours = Vec::new();
    // In `W`'s row order, as `Reference::parameters` lists them.
    net.for_each_tensor(|_, tensor, values| {
        ours.extend((0..values.len()).map(|k| values[tensor.storage_index(k)]));
    });
    let difference = ours
        .iter()
        .zip(reference.parameters())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0_f32, f32::max);

    let runs = 5;
    let per_sample_time = best(runs, || {
        epoch_per_sample(net, &mut gradients, &mut sgd, &inputs, &targets);
    });
    let nn_time = best(runs, || {
        epoch_batched(net, &mut gradients, &mut sgd, &inputs, &targets);
    });
    let ndarray_time = best(runs, || {
        for (x, y) in &batches {
            reference.step(x, y);
        }
    });
    let rate = |t: f64| samples as f64 / t;
    println!(
        "{:<6} {:>7} params  nn {:>9.0}/s (one sample at a time {:>9.0}/s)  ndarray {:>9.0}/s  nn/ndarray {:.2}x  (weights after one epoch differ by {difference:.1e})",
        N::NAME,
        N::PARAMETERS,
        rate(nn_time),
        rate(per_sample_time),
        rate(ndarray_time),
        ndarray_time / nn_time,
    );
}

fn main() {
    println!(
        "samples per second; batch {BATCH}, SGD, cross-entropy on softmax; best of 5 epochs each"
    );
    compare::<Digits, 64, 10>(&mut Digits::random(1), 30_000);
    compare::<Mnist, 784, 10>(&mut Mnist::random(1), 6_000);
}
