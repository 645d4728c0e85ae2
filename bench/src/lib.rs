//! Benchmarks of `nn` against the machine's measured floors and against ndarray, candle and
//! tract on the same weights. The measurements live in `benches/forward.rs`; `bench/run.sh`
//! runs them and regenerates `BENCHMARKS.md`.
//!
//! The library holds what the benchmark needs besides timing: the networks, an `f64`
//! reference, the naive loop, the floor kernels and (feature `baselines`) the other frameworks
//! built from the same weights.

use nn::{Activation, Network};

#[cfg(feature = "baselines")]
pub mod baselines;
pub mod floors;

nn::network! {
    /// The MNIST classifier of the README, with its int8 twin `MnistInt8`
    /// (bench/benches/quantized.rs).
    pub struct Mnist = 784 -> 128 relu as hidden -> 10 softmax as output with quantize = int8;
}

nn::network! {
    /// A small network, where per-call overheads show.
    pub struct Small = 50 -> 64 relu as hidden -> 1 sigmoid as output;
}

nn::network! {
    /// XOR, written out one multiply-add per term.
    pub struct Xor = 2 -> 2 sigmoid as hidden -> 1 sigmoid as output with unroll = full;
}

nn::network! {
    /// XOR through the layer kernels.
    pub struct XorLoops = 2 -> 2 sigmoid as hidden -> 1 sigmoid as output;
}

nn::network! {
    /// LeNet-5, as in examples/lenet.rs (the weights of tests/fixtures/lenet.safetensors).
    pub struct LeNet = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2)
        -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax
        with quantize = int8;
}

nn::network! {
    /// The 1-D convolutional network of the convolution goals (bench/onnx/conv1d.safetensors).
    pub struct Conv1dNet = [8, 128] -> conv1d(16, 5, padding = 2) relu as c1
        -> conv1d(16, 5, padding = 2) relu as c2 -> global_avgpool -> 4 softmax as out;
}

/// A file of the benchmarks' fixtures, from the workspace's root.
pub fn fixture(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// One dense layer as plain vectors: what the baselines are built from.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Inputs of each neuron.
    pub inputs: usize,
    /// Neurons.
    pub outputs: usize,
    /// `[outputs][inputs]`, row-major.
    pub weights: Vec<f32>,
    /// One per neuron.
    pub bias: Vec<f32>,
    /// Applied to the outputs.
    pub activation: Activation,
}

/// The layers of any `f32` network of dense layers, copied out through
/// [`Network::for_each_tensor`] (whose weights are by column) into PyTorch's row order.
pub fn layers<N: Network<Scalar = f32>>(net: &N) -> Vec<Layer> {
    let mut layers: Vec<Layer> = N::LAYERS
        .iter()
        .map(|info| Layer {
            inputs: info.input.iter().product(),
            outputs: info.output.iter().product(),
            weights: Vec::new(),
            bias: Vec::new(),
            activation: info.activation,
        })
        .collect();
    net.for_each_tensor(|info, tensor, values| {
        let row_major = (0..values.len()).map(|k| values[tensor.storage_index(k)]);
        // Layer names are unique in a network.
        let index = N::LAYERS.iter().position(|l| l.name == info.name);
        if let Some(layer) = index.and_then(|index| layers.get_mut(index)) {
            match tensor.name {
                "weight" => layer.weights.extend(row_major),
                _ => layer.bias.extend(row_major),
            }
        }
    });
    layers
}

/// The forward pass in `f64`, summed in order: the reference every implementation must match.
pub fn reference(layers: &[Layer], input: &[f32]) -> Vec<f64> {
    let mut x: Vec<f64> = input.iter().map(|v| f64::from(*v)).collect();
    for layer in layers {
        let mut y: Vec<f64> = (0..layer.outputs)
            .map(|o| {
                let row = &layer.weights[o * layer.inputs..(o + 1) * layer.inputs];
                row.iter()
                    .zip(&x)
                    .fold(f64::from(layer.bias[o]), |s, (w, x)| s + f64::from(*w) * x)
            })
            .collect();
        layer.activation.apply(&mut y);
        x = y;
    }
    x
}

/// The largest absolute difference between `found` and the reference on `input`.
///
/// # Panics
///
/// If `found` does not have one value per output of the last layer.
pub fn error(layers: &[Layer], input: &[f32], found: &[f32]) -> f64 {
    assert_eq!(
        found.len(),
        layers[layers.len() - 1].outputs,
        "output width"
    );
    reference(layers, input)
        .iter()
        .zip(found)
        .map(|(e, f)| (e - f64::from(*f)).abs())
        .fold(0.0, f64::max)
}

/// Deterministic inputs in `[0, 1)`, different for each row.
pub fn inputs<const IN: usize>(rows: usize) -> Vec<[f32; IN]> {
    let mut rng = nn::__private::init::SplitMix64::new(99);
    #[allow(clippy::cast_possible_truncation)] // values in [0, 1)
    (0..rows)
        .map(|_| core::array::from_fn(|_| rng.next_f64() as f32))
        .collect()
}

/// `act(sum_i w[o][i] * x[i] + b[o])` with one running sum per neuron, over the network's own
/// const arrays: the loop a first implementation writes, which LLVM cannot vectorise. (It reads
/// the weights of neuron `o` across the columns, `columns()[i][o]`, one stride apart.)
pub fn naive_layer<const IN: usize, const OUT: usize>(
    layer: &nn::Dense<IN, OUT, f32>,
    x: &[f32; IN],
) -> [f32; OUT] {
    let mut y = [0.0; OUT];
    for (o, y) in y.iter_mut().enumerate() {
        let mut sum = layer.bias()[o];
        for (column, x) in layer.columns().iter().zip(x) {
            sum += column[o] * x;
        }
        *y = sum;
    }
    y
}

/// The MNIST network through [`naive_layer`].
pub fn naive_mnist(net: &Mnist, x: &[f32; 784]) -> [f32; 10] {
    let mut hidden = naive_layer(&net.hidden, x);
    nn::activation::relu(&mut hidden);
    let mut output = naive_layer(&net.output, &hidden);
    nn::activation::softmax(&mut output);
    output
}

/// The small network through [`naive_layer`].
pub fn naive_small(net: &Small, x: &[f32; 50]) -> [f32; 1] {
    let mut hidden = naive_layer(&net.hidden, x);
    nn::activation::relu(&mut hidden);
    let mut output = naive_layer(&net.output, &hidden);
    nn::activation::sigmoid(&mut output);
    output
}

/// The MNIST network with every layer on the kernel of `level` (`None` if this CPU lacks it).
pub fn mnist_at(
    net: &Mnist,
    level: nn::__private::kernel::Level,
    x: &[f32; 784],
) -> Option<[f32; 10]> {
    let mut hidden = net.hidden.forward_at(level, x)?;
    nn::activation::relu(&mut hidden);
    let mut output = net.output.forward_at(level, &hidden)?;
    nn::activation::softmax(&mut output);
    Some(output)
}
