//! A dynamic evaluator: runs any checked [`nn_grammar::Network`] on given weights, in `f64`,
//! written from the definitions in docs/language.md and sharing no arithmetic with `nn-runtime`
//! (sums run in plain order; `erf` comes from `libm`, which is not ours; only the weights'
//! storage order comes from `TensorInfo::storage_index`).
//!
//! Generated code is compared against it: same network, same weights, same input.

use nn_grammar::{Activation, Layer, LayerKind, Network};

/// One layer's weights, `[OUT][IN]` row-major as PyTorch holds them, and biases.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerWeights {
    /// `weights[o * inputs + i]` is the weight from input `i` to neuron `o`; a normalisation's
    /// scale (per channel for a batchnorm, per value for a layernorm).
    pub weights: Vec<f64>,
    /// One per neuron; a normalisation's shift.
    pub bias: Vec<f64>,
    /// A batchnorm's running mean and variance, per channel; empty for other kinds.
    pub running: Vec<Vec<f64>>,
}

/// The weights of a generated network, read through `nn::Network` (whose slices hold them by
/// column) and put in row order: one entry per layer (empty for a layer without tensors).
pub fn weights_of<N: nn::Network>(net: &N) -> Vec<LayerWeights> {
    use nn::Scalar as _;
    let mut layers = vec![LayerWeights::default(); N::LAYERS.len()];
    net.for_each_tensor(|layer, tensor, values| {
        let row_major: Vec<f64> = (0..values.len())
            .map(|k| values[tensor.storage_index(k)].to_f64())
            .collect();
        let index = N::LAYERS
            .iter()
            .position(|l| l.name == layer.name)
            .expect("a layer of the network");
        let weights = &mut layers[index];
        match tensor.name {
            "weight" => weights.weights = row_major,
            "bias" => weights.bias = row_major,
            "running_mean" | "running_var" => weights.running.push(row_major),
            // `num_batches_tracked`: not part of the function.
            _ => {}
        }
    });
    layers
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The outputs of `net` for `input`.
///
/// # Panics
///
/// If the weights or the input do not have the shapes `net` declares: a test failure.
pub fn evaluate(net: &Network, weights: &[LayerWeights], input: &[f64]) -> Vec<f64> {
    assert_eq!(
        input.len(),
        net.input.elements(),
        "input width of `{}`",
        net.name
    );
    assert_eq!(
        weights.len(),
        net.layers.len(),
        "layer count of `{}`",
        net.name
    );
    let mut x = input.to_vec();
    for (layer, w) in net.layers.iter().zip(weights) {
        assert_eq!(x.len(), layer.input.elements(), "`{}`", layer.name);
        let mut y = match layer.kind {
            LayerKind::Dense => dense(layer, w, &x),
            LayerKind::BatchNorm { eps, .. } => batchnorm(layer, w, &x, eps),
            LayerKind::LayerNorm { eps } => layernorm(w, &x, eps),
            other => panic!("the evaluator has no `{}`", other.name()),
        };
        activate(layer.activation, &mut y);
        x = y;
    }
    x
}

/// `b[o] + sum_i w[o][i] x[i]`.
fn dense(layer: &Layer, w: &LayerWeights, x: &[f64]) -> Vec<f64> {
    assert_eq!(
        w.weights.len(),
        layer.input.elements() * layer.output.elements(),
        "`{}`",
        layer.name
    );
    assert_eq!(w.bias.len(), layer.output.elements(), "`{}`", layer.name);
    (0..layer.output.elements())
        .map(|o| {
            let row = &w.weights[o * layer.input.elements()..(o + 1) * layer.input.elements()];
            w.bias[o] + row.iter().zip(x).map(|(w, x)| w * x).sum::<f64>()
        })
        .collect()
}

/// `(x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c]` for every value of channel `c`, the
/// channels outermost (docs/language.md).
fn batchnorm(layer: &Layer, w: &LayerWeights, x: &[f64], eps: f64) -> Vec<f64> {
    let channels = layer.input.dims()[0];
    let [mean, var] = w.running.as_slice() else {
        panic!("`{}`: a running mean and variance", layer.name)
    };
    let per_channel = x.len() / channels;
    x.iter()
        .enumerate()
        .map(|(k, x)| {
            let c = k / per_channel;
            (x - mean[c]) / (var[c] + eps).sqrt() * w.weights[c] + w.bias[c]
        })
        .collect()
}

/// `(x - mean) / sqrt(var + eps) * w + b`, the mean and biased variance over the whole sample.
fn layernorm(w: &LayerWeights, x: &[f64], eps: f64) -> Vec<f64> {
    #[allow(clippy::cast_precision_loss)] // a few thousand values at most
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    x.iter()
        .zip(&w.weights)
        .zip(&w.bias)
        .map(|((x, w), b)| (x - mean) / (var + eps).sqrt() * w + b)
        .collect()
}

/// Applies `activation` as docs/language.md defines it.
pub fn activate(activation: Activation, y: &mut [f64]) {
    let max = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = y.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
    for v in y.iter_mut() {
        let x = *v;
        *v = match activation {
            Activation::Linear => x,
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Silu => x * sigmoid(x),
            Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            // ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), which cannot overflow.
            Activation::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Activation::Softmax => (x - max - log_sum).exp(),
            Activation::LogSoftmax => x - max - log_sum,
        };
    }
}

/// Whether `found` (from generated code) is within `tolerance` of `expected` (from the
/// evaluator), relative to the larger of 1 and `|expected|`.
pub fn close(found: f64, expected: f64, tolerance: f64) -> bool {
    (found - expected).abs() <= tolerance * expected.abs().max(1.0)
}

// The evaluator is the reference: check it on values known in closed form.
#[test]
fn evaluator_matches_closed_forms() {
    let net =
        nn_grammar::compile_item("struct Xor = 2 -> 2 relu as hidden -> 1 sigmoid as output;")
            .unwrap();
    // The XOR weights of docs/language.md: hidden = relu(x + y), relu(x + y - 1); 20 (a - 2b) - 10.
    let weights = [
        LayerWeights {
            weights: vec![1.0, 1.0, 1.0, 1.0],
            bias: vec![0.0, -1.0],
            running: Vec::new(),
        },
        LayerWeights {
            weights: vec![20.0, -40.0],
            bias: vec![-10.0],
            running: Vec::new(),
        },
    ];
    let out = |x: f64, y: f64| evaluate(&net, &weights, &[x, y])[0];
    let s10 = 1.0 / (1.0 + (-10.0f64).exp());
    assert!((out(1.0, 0.0) - s10).abs() < 1e-15);
    assert!((out(1.0, 1.0) - (1.0 - s10)).abs() < 1e-15);

    let at = |activation, x: f64| {
        let mut y = [x];
        activate(activation, &mut y);
        y[0]
    };
    assert!((at(Activation::Softplus, 0.0) - std::f64::consts::LN_2).abs() < 1e-16);
    assert!((at(Activation::Softplus, 1000.0) - 1000.0).abs() < 1e-12);
    // Phi(1) = (1 + erf(1 / sqrt 2)) / 2 = 0.841344746068543 (standard normal table).
    assert!((at(Activation::Gelu, 1.0) - 0.841_344_746_068_543).abs() < 1e-15);
    assert!(
        (at(Activation::Elu { alpha: 2.0 }, -1.0) - 2.0 * ((-1.0f64).exp() - 1.0)).abs() < 1e-16
    );
    assert!((at(Activation::LeakyRelu { alpha: 0.1 }, -3.0) + 0.3).abs() < 1e-16);
    let mut y = [1.0, 2.0, 3.0];
    activate(Activation::Softmax, &mut y);
    let e = [1.0f64.exp(), 2.0f64.exp(), 3.0f64.exp()];
    let sum: f64 = e.iter().sum();
    for (v, e) in y.iter().zip(e) {
        assert!((v - e / sum).abs() < 1e-15);
    }
    let mut y = [1.0, 2.0, 3.0];
    activate(Activation::LogSoftmax, &mut y);
    assert!((y[2] - (3.0 - sum.ln())).abs() < 1e-15);
}
