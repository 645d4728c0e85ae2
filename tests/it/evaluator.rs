//! A dynamic evaluator: runs any checked [`nn_grammar::Network`] on given weights, in `f64`,
//! written from the definitions in docs/language.md and sharing no arithmetic with `nn-runtime`
//! (sums run in plain order; `erf` comes from `libm`, which is not ours; only the weights'
//! storage order comes from `TensorInfo::storage_index`).
//!
//! Generated code is compared against it: same network, same weights, same input.

use nn_grammar::{Activation, LayerKind, Network, Shape};

/// One layer's tensors, each flat in PyTorch's order and shape (`weight` `[OUT][IN]` for a
/// dense layer, `[OUT][IN / groups][KH][KW]` for a convolution, then `bias`; a batchnorm's
/// `weight`, `bias`, `running_mean`, `running_var` and `num_batches_tracked`); empty for a
/// kind without tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerWeights {
    /// In the order of the layer's `LayerInfo::tensors`.
    pub tensors: Vec<Vec<f64>>,
}

impl LayerWeights {
    /// A layer's `weight` and `bias`.
    pub fn dense(weights: Vec<f64>, bias: Vec<f64>) -> Self {
        Self {
            tensors: vec![weights, bias],
        }
    }
}

/// The weights of a generated network, read through `nn::Network` (whose slices hold them in
/// storage order) and put in PyTorch's order, one entry per layer of `N::LAYERS`.
pub fn weights_of<N: nn::Network>(net: &N) -> Vec<LayerWeights> {
    use nn::Scalar as _;
    let mut layers: Vec<LayerWeights> = N::LAYERS
        .iter()
        .map(|_| LayerWeights { tensors: vec![] })
        .collect();
    net.for_each_tensor(|layer, tensor, values| {
        // By name, unique in a network: a constant's address is not.
        let index = N::LAYERS
            .iter()
            .position(|l| l.name == layer.name)
            .expect("a layer of N::LAYERS");
        let pytorch_order: Vec<f64> = (0..values.len())
            .map(|k| values[tensor.storage_index(k)].to_f64())
            .collect();
        layers[index].tensors.push(pytorch_order);
    });
    layers
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The outputs of `net` for `input` (flat, in the input shape's row-major order, as
/// `torch.flatten` reads a tensor).
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
        let all = with_fixed(layer, &w.tensors);
        let tensors: Vec<&[f64]> = all.iter().map(Vec::as_slice).collect();
        let mut y = match (layer.kind, tensors.as_slice()) {
            (LayerKind::Dense, [weight, bias]) => dense(&x, weight, bias, layer.output),
            (LayerKind::Conv2d(conv), [weight, bias]) => {
                let geometry = Window {
                    kernel: conv.kernel,
                    stride: conv.stride,
                    padding: conv.padding,
                    dilation: conv.dilation,
                };
                convolution(
                    &x,
                    layer.input,
                    layer.output,
                    weight,
                    bias,
                    conv.groups,
                    geometry,
                )
            }
            (LayerKind::Conv1d(conv), [weight, bias]) => {
                let geometry = Window {
                    kernel: [1, conv.kernel],
                    stride: [1, conv.stride],
                    padding: [0, conv.padding],
                    dilation: [1, conv.dilation],
                };
                convolution(
                    &x,
                    layer.input,
                    layer.output,
                    weight,
                    bias,
                    conv.groups,
                    geometry,
                )
            }
            (LayerKind::MaxPool2d(pool) | LayerKind::AvgPool2d(pool), []) => {
                let geometry = Window {
                    kernel: pool.kernel,
                    stride: pool.stride,
                    padding: pool.padding,
                    dilation: [1, 1],
                };
                let max = matches!(layer.kind, LayerKind::MaxPool2d(_));
                pooling(&x, layer.input, layer.output, max, geometry)
            }
            (LayerKind::MaxPool1d(pool) | LayerKind::AvgPool1d(pool), []) => {
                let geometry = Window {
                    kernel: [1, pool.kernel],
                    stride: [1, pool.stride],
                    padding: [0, pool.padding],
                    dilation: [1, 1],
                };
                let max = matches!(layer.kind, LayerKind::MaxPool1d(_));
                pooling(&x, layer.input, layer.output, max, geometry)
            }
            (LayerKind::GlobalAvgPool, []) => per_channel(&x, layer.input)
                .map(|c| c.iter().sum::<f64>() / c.len() as f64)
                .collect(),
            (LayerKind::GlobalMaxPool, []) => per_channel(&x, layer.input)
                .map(|c| c.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                .collect(),
            (LayerKind::BatchNorm { eps, .. }, [weight, bias, mean, var, _count]) => {
                batchnorm(&x, layer.input, eps, [weight, bias, mean, var])
            }
            (LayerKind::LayerNorm { eps }, [weight, bias]) => layernorm(&x, eps, weight, bias),
            // Row-major order is `torch.flatten(x, 1)`'s; dropout is the identity at inference.
            (LayerKind::Flatten | LayerKind::Dropout { .. }, []) => x.clone(),
            (kind, tensors) => panic!(
                "`{}`: the evaluator has no {kind} with {} tensors",
                layer.name,
                tensors.len()
            ),
        };
        assert_eq!(y.len(), layer.output.elements(), "`{}`", layer.name);
        activate(layer.activation, &mut y);
        x = y;
    }
    x
}

/// A layer's tensors with those its declaration leaves out at their fixed values: after a
/// weight, a bias of zeros (`bias = false`); before a normalisation's other tensors, a weight of
/// ones and a bias of zeros (`affine = false`).
fn with_fixed(layer: &nn_grammar::Layer, tensors: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut all = tensors.to_vec();
    if !layer.bias && layer.affine {
        all.insert(1, vec![0.0; layer.bias_values()]);
    }
    if !layer.affine {
        let scale = match layer.kind {
            LayerKind::BatchNorm { .. } => layer.input.dims()[0],
            _ => layer.input.elements(),
        };
        all.splice(0..0, [vec![1.0; scale], vec![0.0; scale]]);
    }
    all
}

/// A dense layer: `y[o] = bias[o] + sum_i weight[o][i] x[i]`.
fn dense(x: &[f64], weight: &[f64], bias: &[f64], output: Shape) -> Vec<f64> {
    let outputs = output.elements();
    assert_eq!((weight.len(), bias.len()), (x.len() * outputs, outputs));
    (0..outputs)
        .map(|o| {
            let row = &weight[o * x.len()..(o + 1) * x.len()];
            bias[o] + row.iter().zip(x).map(|(w, x)| w * x).sum::<f64>()
        })
        .collect()
}

/// A sliding window over `[C, H, W]` (a 1-D map is `[C, 1, L]`, its window `[1, K]`).
#[derive(Clone, Copy)]
struct Window {
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
}

impl Window {
    /// The input position that tap `k` of output `o` reads along `axis`, if inside the input
    /// of `size` (else it reads padding).
    fn tap(self, axis: usize, o: usize, k: usize, size: usize) -> Option<usize> {
        (o * self.stride[axis] + k * self.dilation[axis])
            .checked_sub(self.padding[axis])
            .filter(|&i| i < size)
    }
}

/// `[channels, height, width]` of a map of rank 2 or 3 (`[C, L]` as `[C, 1, L]`).
fn planes(shape: Shape) -> [usize; 3] {
    match *shape.dims() {
        [c, l] => [c, 1, l],
        [c, h, w] => [c, h, w],
        _ => panic!("{shape} is not a feature map"),
    }
}

/// `nn.Conv2d`/`nn.Conv1d` from its definition: output channel `o` of group `g` reads input
/// channels `g * C/groups ..` with zero padding.
fn convolution(
    x: &[f64],
    input: Shape,
    output: Shape,
    weight: &[f64],
    bias: &[f64],
    groups: usize,
    window: Window,
) -> Vec<f64> {
    let [channels, height, width] = planes(input);
    let [outputs, out_height, out_width] = planes(output);
    let [kh, kw] = window.kernel;
    let per_group = channels / groups;
    let out_per_group = outputs / groups;
    assert_eq!(weight.len(), outputs * per_group * kh * kw);
    let mut y = Vec::with_capacity(output.elements());
    for o in 0..outputs {
        let first = o / out_per_group * per_group;
        for oy in 0..out_height {
            for ox in 0..out_width {
                let mut sum = bias[o];
                for i in 0..per_group {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let (Some(iy), Some(ix)) =
                                (window.tap(0, oy, ky, height), window.tap(1, ox, kx, width))
                            else {
                                continue;
                            };
                            let w = weight[((o * per_group + i) * kh + ky) * kw + kx];
                            sum += w * x[((first + i) * height + iy) * width + ix];
                        }
                    }
                }
                y.push(sum);
            }
        }
    }
    y
}

/// `nn.MaxPool*` (padding never wins) or `nn.AvgPool*` with `count_include_pad` (the
/// padding counts as zeros in the mean).
fn pooling(x: &[f64], input: Shape, output: Shape, max: bool, window: Window) -> Vec<f64> {
    let [channels, height, width] = planes(input);
    let [_, out_height, out_width] = planes(output);
    let [kh, kw] = window.kernel;
    let mut y = Vec::with_capacity(output.elements());
    for c in 0..channels {
        for oy in 0..out_height {
            for ox in 0..out_width {
                let mut values = Vec::new();
                for ky in 0..kh {
                    for kx in 0..kw {
                        if let (Some(iy), Some(ix)) =
                            (window.tap(0, oy, ky, height), window.tap(1, ox, kx, width))
                        {
                            values.push(x[(c * height + iy) * width + ix]);
                        }
                    }
                }
                y.push(if max {
                    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                } else {
                    values.iter().sum::<f64>() / (kh * kw) as f64
                });
            }
        }
    }
    y
}

/// `nn.BatchNorm*` in eval mode: each channel by its running statistics.
fn batchnorm(
    x: &[f64],
    shape: Shape,
    eps: f64,
    [weight, bias, mean, var]: [&[f64]; 4],
) -> Vec<f64> {
    let size = shape.elements() / shape.dims()[0];
    x.iter()
        .enumerate()
        .map(|(k, v)| {
            let c = k / size;
            (v - mean[c]) / (var[c] + eps).sqrt() * weight[c] + bias[c]
        })
        .collect()
}

/// `nn.LayerNorm(shape)`: over every value of the sample, the variance biased (divided by the
/// count), then the elementwise affine.
fn layernorm(x: &[f64], eps: f64, weight: &[f64], bias: &[f64]) -> Vec<f64> {
    let count = x.len() as f64;
    let mean = x.iter().sum::<f64>() / count;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
    x.iter()
        .zip(weight.iter().zip(bias))
        .map(|(v, (w, b))| (v - mean) / (var + eps).sqrt() * w + b)
        .collect()
}

/// The values of each channel of a map.
fn per_channel(x: &[f64], shape: Shape) -> impl Iterator<Item = &[f64]> {
    x.chunks_exact(shape.elements() / shape.dims()[0])
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
            Activation::GeluTanh => {
                let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044_715 * x.powi(3));
                0.5 * x * (1.0 + inner.tanh())
            }
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
        LayerWeights::dense(vec![1.0, 1.0, 1.0, 1.0], vec![0.0, -1.0]),
        LayerWeights::dense(vec![20.0, -40.0], vec![-10.0]),
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

// The new kinds, on values worked out by hand from PyTorch's definitions.
#[test]
fn evaluator_convolves_and_pools_by_definition() {
    let run = |declaration: &str, tensors: Vec<Vec<Vec<f64>>>, input: &[f64]| {
        let net = nn_grammar::compile_item(declaration).unwrap();
        let weights: Vec<LayerWeights> = tensors
            .into_iter()
            .map(|tensors| LayerWeights { tensors })
            .collect();
        evaluate(&net, &weights, input)
    };
    let nine: Vec<f64> = (1..=9).map(f64::from).collect();
    // A 2x2 kernel [[1, 0], [0, 1]] adds each value to its lower right neighbour.
    let y = run(
        "struct C = [1, 3, 3] -> conv2d(1, 2);",
        vec![vec![vec![1.0, 0.0, 0.0, 1.0], vec![0.5]]],
        &nine,
    );
    assert_eq!(y, [6.5, 8.5, 12.5, 14.5]);
    // Stride 2 and padding 1 on 3x3: outputs at rows/columns -1 and 1 of the input.
    let y = run(
        "struct C = [1, 3, 3] -> conv2d(1, 3, stride = 2, padding = 1);",
        vec![vec![vec![1.0; 9], vec![0.0]]],
        &nine,
    );
    // Top left: rows 0..1, columns 0..1 (1 + 2 + 4 + 5); bottom right: 5 + 6 + 8 + 9.
    assert_eq!(y, [12.0, 16.0, 24.0, 28.0]);
    // Dilation 2: a 2-tap kernel reads values two apart.
    let y = run(
        "struct C = [1, 5] -> conv1d(1, 2, dilation = 2);",
        vec![vec![vec![1.0, 10.0], vec![0.0]]],
        &[1.0, 2.0, 3.0, 4.0, 5.0],
    );
    assert_eq!(y, [31.0, 42.0, 53.0]);
    // Two groups: each output channel reads its own input channel.
    let y = run(
        "struct C = [2, 3] -> conv1d(2, 2, groups = 2);",
        vec![vec![vec![1.0, 1.0, 1.0, -1.0], vec![0.0, 0.0]]],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0],
    );
    assert_eq!(y, [3.0, 5.0, -1.0, -2.0]);
    // Average pooling counts the padding in the mean; max pooling never picks it.
    let y = run(
        "struct P = [1, 2, 2] -> avgpool2d(2, stride = 1, padding = 1);",
        vec![vec![]],
        &[1.0, 2.0, 3.0, 4.0],
    );
    assert_eq!(y, [0.25, 0.75, 0.5, 1.0, 2.5, 1.5, 0.75, 1.75, 1.0]);
    let y = run(
        "struct P = [1, 2, 2] -> maxpool2d(2, stride = 1, padding = 1);",
        vec![vec![]],
        &[-1.0, -2.0, -3.0, -4.0],
    );
    assert_eq!(y, [-1.0, -1.0, -2.0, -1.0, -1.0, -2.0, -3.0, -3.0, -4.0]);
    let y = run(
        "struct P = [2, 2, 2] -> global_avgpool;",
        vec![vec![]],
        &[1.0, 2.0, 3.0, 4.0, -1.0, -1.0, -1.0, 5.0],
    );
    assert_eq!(y, [2.5, 0.5]);
    let y = run(
        "struct P = [2, 4] -> global_maxpool -> 1;",
        vec![vec![], vec![vec![1.0, 10.0], vec![0.0]]],
        &[1.0, 2.0, 3.0, 4.0, -1.0, -1.0, -1.0, -5.0],
    );
    assert_eq!(y, [4.0 - 10.0]);
}

#[test]
fn evaluator_normalises_by_definition() {
    let net = nn_grammar::compile_item("struct N = [2, 2] -> batchnorm(eps = 0.5) -> layernorm;")
        .unwrap();
    let batchnorm = LayerWeights {
        // weight, bias, running mean, running variance (+ eps = 4 and 1), count.
        tensors: vec![
            vec![2.0, 1.0],
            vec![1.0, 0.0],
            vec![1.0, -1.0],
            vec![3.5, 0.5],
            vec![7.0],
        ],
    };
    let layernorm = LayerWeights {
        tensors: vec![vec![1.0; 4], vec![0.0; 4]],
    };
    let weights = [batchnorm, layernorm];
    // Channel 0: (x - 1) / 2 * 2 + 1 = x; channel 1: (x + 1) / 1 = x + 1.
    let only_batchnorm = evaluate(
        &nn_grammar::compile_item("struct B = [2, 2] -> batchnorm(eps = 0.5);").unwrap(),
        &weights[..1],
        &[3.0, 5.0, 1.0, 2.0],
    );
    assert_eq!(only_batchnorm, [3.0, 5.0, 2.0, 3.0]);
    // Then [3, 5, 2, 3]: mean 3.25, variance (0.0625 + 3.0625 + 1.5625 + 0.0625) / 4 = 1.1875.
    let y = evaluate(&net, &weights, &[3.0, 5.0, 1.0, 2.0]);
    let sd = (1.1875f64 + 1e-5).sqrt();
    for (found, value) in y.iter().zip([3.0, 5.0, 2.0, 3.0]) {
        assert!((found - (value - 3.25) / sd).abs() < 1e-15, "{y:?}");
    }
}
