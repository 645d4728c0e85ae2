//! The `weights = "file"` option: reads a safetensors file while compiling, with the runtime's
//! own reader, so that a file loads the same way at compile time and at run time.

use nn_codegen::{BakedWeights, QuantizedLayer};
use nn_grammar::{Activation, Cell, Network, Scalar};
use nn_runtime::io::safetensors::{LoadOptions, is_quantized_file, load_layers};
use nn_runtime::layers::{BatchNorm, Conv1d, Conv2d, Gru, LayerNorm, Lstm, Rnn};
use nn_runtime::quant::Quantization;
use nn_runtime::quant::file::Reader;
use nn_runtime::{Bf16, Dense, F16, Hidden, Init, LayerInfo, LayerKind, TensorInfo, Tensors};
use std::path::Path;

/// The runtime's name for an activation.
fn activation(activation: Activation) -> nn_runtime::Activation {
    use nn_runtime::Activation as A;
    match activation {
        Activation::Linear => A::Linear,
        Activation::Relu => A::Relu,
        Activation::LeakyRelu { alpha } => A::LeakyRelu(alpha),
        Activation::Elu { alpha } => A::Elu(alpha),
        Activation::Sigmoid => A::Sigmoid,
        Activation::Tanh => A::Tanh,
        Activation::Silu => A::Silu,
        Activation::Gelu => A::Gelu,
        Activation::GeluTanh => A::GeluTanh,
        Activation::Softplus => A::Softplus,
        Activation::Softmax => A::Softmax,
        Activation::LogSoftmax => A::LogSoftmax,
    }
}

/// Most parameters `weights = "file"` bakes in. Each becomes a literal token, and rustc's time
/// and memory grow linearly with them ("Baked weights" in BENCHMARKS.md), so larger networks
/// load their file at run time.
pub(crate) const MAX_BAKED: usize = 1 << 21;

/// Reads `file` (relative to the crate being compiled) for `net`, or says why it cannot be
/// used, in a message for the option's value.
pub(crate) fn read(net: &Network, file: &str) -> Result<BakedWeights, String> {
    let parameters = net.parameters();
    if parameters > MAX_BAKED {
        return Err(format!(
            "`weights` writes every parameter into the code and is limited to {MAX_BAKED} parameters, `{name}` has {parameters}: load the file at run time with `{name}::from_safetensors_file`",
            name = net.name
        ));
    }
    let root = std::env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| {
        format!("cannot find `{file}`: `CARGO_MANIFEST_DIR` is not set (is this built by cargo?)")
    })?;
    let path = Path::new(&root).join(file);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!("cannot read `{file}` (relative to the directory of this crate's Cargo.toml): {e}")
    })?;
    let absolute = path
        .to_str()
        .ok_or_else(|| format!("the path of `{file}` is not valid UTF-8"))?
        .to_owned();
    // Every layer's tensors as its type declares them; a layer declared with `bias = false`
    // (`affine = false`) reads those but its biases (parameters), which bake at their fixed
    // values.
    let mut all_tensors = Vec::with_capacity(net.layers.len());
    let layers: Vec<LayerInfo> = net
        .layers
        .iter()
        .map(|layer| {
            // `LayerInfo` holds `'static` names and shapes, as generated code does. Leaking a
            // few per expansion is the price of reading with the very code the runtime uses.
            let input: &'static [usize] = Box::leak(layer.input.dims().into());
            let output: &'static [usize] = Box::leak(layer.output.dims().into());
            let (kind, mut tensors) = kind_and_tensors(layer, input, output);
            let hidden = hidden(layer);
            all_tensors.push((tensors.clone(), hidden));
            if let Some(hidden) = hidden {
                tensors.retain(|tensor| !hidden.hides(tensor));
            }
            LayerInfo {
                name: Box::leak(layer.name.clone().into_boxed_str()),
                named: layer.named,
                kind,
                input,
                output,
                activation: activation(layer.activation),
                tensors: Box::leak(tensors.into_boxed_slice()),
            }
        })
        .collect();
    let int8_twin = net
        .quantize
        .iter()
        .any(|(format, _)| *format == nn_grammar::Quantize::Int8);
    if is_quantized_file(&bytes) && !int8_twin {
        return Err(format!(
            "`{file}` is an int8 network's file (an int8 twin's `to_safetensors`), but `{name}` \
             declares no `quantize = int8` to bake it into: add it, or bake the `f32` network's \
             file",
            name = net.name
        ));
    }
    if is_quantized_file(&bytes) {
        return Ok(BakedWeights {
            written: file.to_owned(),
            path: absolute,
            layers: Vec::new(),
            quantized: Some(quantized(net, &layers, &bytes).map_err(|e| format!("`{file}`: {e}"))?),
        });
    }
    let options = LoadOptions::new();
    let infos: &[LayerInfo] = &layers;
    let layers = match net.scalar {
        Scalar::F32 => load_layers::<f32>(&bytes, &layers, options).map(|layers| {
            let widen = |v: Vec<f32>| v.into_iter().map(f64::from).collect();
            layers
                .into_iter()
                .map(|tensors| tensors.into_iter().map(widen).collect())
                .collect()
        }),
        Scalar::F64 => load_layers::<f64>(&bytes, &layers, options),
    }
    .map_err(|e| format!("`{file}`: {e}"))?;
    check_half_range(net, infos, &layers).map_err(|e| format!("`{file}`: {e}"))?;
    let layers = layers
        .into_iter()
        .zip(&all_tensors)
        .map(|(read, (all, hidden))| with_fixed(read, all, *hidden))
        .collect();
    Ok(BakedWeights {
        written: file.to_owned(),
        path: absolute,
        layers,
        quantized: None,
    })
}

/// Checks that every weight a half-precision twin rounds (the `weight*` tensors of dense,
/// convolution and recurrent layers) stays finite in its format, as the twin's loader does at
/// run time (`nn_runtime::check_half_tensor_range`): a weight beyond binary16's 65504 would bake as
/// an infinity.
fn check_half_range(
    net: &Network,
    infos: &[LayerInfo],
    layers: &[Vec<Vec<f64>>],
) -> Result<(), nn_runtime::Error> {
    use nn_grammar::{LayerKind as Kind, Quantize};
    use nn_runtime::check_half_tensor_range as check;
    let prefixes = nn_runtime::io::safetensors::prefixes(infos);
    for (format, _) in &net.quantize {
        for (((layer, info), tensors), prefix) in
            net.layers.iter().zip(infos).zip(layers).zip(&prefixes)
        {
            let rounded = matches!(
                layer.kind,
                Kind::Dense | Kind::Conv2d(_) | Kind::Conv1d(_) | Kind::Recurrent(_)
            );
            for (tensor, values) in info.tensors.iter().zip(tensors) {
                if !rounded || !tensor.name.starts_with("weight") {
                    continue;
                }
                let name = format!("{prefix}.{}", tensor.name);
                #[allow(clippy::cast_possible_truncation)] // the network's `f32` values
                let at = |index: usize| values[index] as f32;
                match format {
                    Quantize::F16 => check::<F16>(info.name, name, tensor.shape, at)?,
                    Quantize::Bf16 => check::<Bf16>(info.name, name, tensor.shape, at)?,
                    Quantize::Int8 => {}
                }
            }
        }
    }
    Ok(())
}

/// The tensors a layer's declaration leaves out (`affine = false`, `bias = false`), as the
/// generated `LayerInfo` does.
fn hidden(layer: &nn_grammar::Layer) -> Option<Hidden> {
    if !layer.affine {
        Some(Hidden::Parameters)
    } else if !layer.bias {
        Some(Hidden::Biases)
    } else {
        None
    }
}

/// A layer's tensors `read` from a file, in the order of its tensors `all`, with each tensor
/// `hidden` leaves out at its fixed value: a normalisation's weight one, a bias zero.
fn with_fixed(read: Vec<Vec<f64>>, all: &[TensorInfo], hidden: Option<Hidden>) -> Vec<Vec<f64>> {
    let Some(hidden) = hidden else {
        return read;
    };
    let mut read = read.into_iter();
    all.iter()
        .map(|tensor| {
            if !hidden.hides(tensor) {
                read.next().unwrap_or_default()
            } else if tensor.init == Init::Ones {
                vec![1.0; tensor.len()]
            } else {
                vec![0.0; tensor.len()]
            }
        })
        .collect()
}

/// The parts of the layers with weights from a quantised file, with the runtime's reader.
fn quantized(
    net: &Network,
    layers: &[LayerInfo],
    bytes: &[u8],
) -> Result<Vec<QuantizedLayer>, nn_runtime::Error> {
    let prefixes = nn_runtime::io::safetensors::prefixes(layers);
    let mut reader = Reader::new(bytes)?;
    let mut parts = Vec::new();
    for ((layer, info), prefix) in net.layers.iter().zip(layers).zip(&prefixes) {
        let read = match layer.kind {
            nn_grammar::LayerKind::Dense => {
                let (inputs, outputs) = (layer.input.elements(), layer.output.elements());
                reader.parts(info.name, prefix, inputs, outputs)?
            }
            nn_grammar::LayerKind::Conv2d(conv) => {
                let in_per_group = layer.input.dims()[0] / conv.groups.max(1);
                let kernel = [in_per_group, conv.kernel[0], conv.kernel[1]];
                reader.conv2d_parts(info.name, prefix, conv.out_channels, kernel)?
            }
            nn_grammar::LayerKind::Conv1d(conv) => {
                let in_per_group = layer.input.dims()[0] / conv.groups.max(1);
                let kernel = [in_per_group, conv.kernel];
                reader.conv1d_parts(info.name, prefix, conv.out_channels, kernel)?
            }
            // Layers without weights.
            _ => continue,
        };
        let fixed = match layer.activation {
            Activation::Sigmoid => Some(("sigmoid", Quantization::UNIT)),
            Activation::Softmax => Some(("softmax", Quantization::UNIT)),
            Activation::Tanh => Some(("tanh", Quantization::SIGNED_UNIT)),
            _ => None,
        };
        if let Some((activation, fixed)) = fixed {
            reader.expect_output(info.name, prefix, activation, fixed)?;
        }
        if !layer.bias {
            reader.expect_no_bias(info.name, prefix, &read.bias)?;
        }
        parts.push(QuantizedLayer {
            weights: read.weights,
            weight_scales: read.weight_scales,
            bias: read.bias,
            input: (read.input.scale, read.input.zero_point),
            output: (read.output.scale, read.output.zero_point),
        });
    }
    reader.finish()?;
    Ok(parts)
}

/// The runtime's kind of `layer` and its tensors as the runtime declares them, with the
/// declaration's shapes (`input` and `output`, leaked as `LayerInfo` needs them).
fn kind_and_tensors(
    layer: &nn_grammar::Layer,
    input: &'static [usize],
    output: &'static [usize],
) -> (LayerKind, Vec<TensorInfo>) {
    match layer.kind {
        nn_grammar::LayerKind::Dense => {
            let (inputs, outputs) = (layer.input.elements(), layer.output.elements());
            let weight: &'static [usize] = Box::leak(Box::new([outputs, inputs]));
            // A dense layer's tensors as the runtime declares them, with these shapes.
            let tensors: Vec<TensorInfo> = <Dense<1, 1, f32> as Tensors>::TENSORS
                .iter()
                .zip([weight, output])
                .map(|(tensor, shape)| TensorInfo { shape, ..*tensor })
                .collect();
            (LayerKind::Dense, tensors)
        }
        nn_grammar::LayerKind::Conv2d(conv) => {
            let in_per_group = layer.input.dims()[0] / conv.groups.max(1);
            let [kh, kw] = conv.kernel;
            let weight: &'static [usize] =
                Box::leak(Box::new([conv.out_channels, in_per_group, kh, kw]));
            let bias: &'static [usize] = Box::leak(Box::new([conv.out_channels]));
            let tensors: Vec<TensorInfo> = <Conv2d<1, 1, 1, 1, f32> as Tensors>::TENSORS
                .iter()
                .zip([weight, bias])
                .map(|(tensor, shape)| TensorInfo { shape, ..*tensor })
                .collect();
            (LayerKind::Conv2d, tensors)
        }
        nn_grammar::LayerKind::Conv1d(conv) | nn_grammar::LayerKind::CausalConv1d(conv) => {
            let in_per_group = layer.input.dims()[0] / conv.groups.max(1);
            let weight: &'static [usize] =
                Box::leak(Box::new([conv.out_channels, in_per_group, conv.kernel]));
            let bias: &'static [usize] = Box::leak(Box::new([conv.out_channels]));
            let tensors: Vec<TensorInfo> = <Conv1d<1, 1, 1, f32> as Tensors>::TENSORS
                .iter()
                .zip([weight, bias])
                .map(|(tensor, shape)| TensorInfo { shape, ..*tensor })
                .collect();
            (LayerKind::Conv1d, tensors)
        }
        // Layers without tensors read nothing from the file.
        nn_grammar::LayerKind::MaxPool2d(_) => (LayerKind::MaxPool2d, Vec::new()),
        nn_grammar::LayerKind::AvgPool2d(_) => (LayerKind::AvgPool2d, Vec::new()),
        nn_grammar::LayerKind::MaxPool1d(_) => (LayerKind::MaxPool1d, Vec::new()),
        nn_grammar::LayerKind::AvgPool1d(_) => (LayerKind::AvgPool1d, Vec::new()),
        nn_grammar::LayerKind::GlobalAvgPool => (LayerKind::GlobalAvgPool, Vec::new()),
        nn_grammar::LayerKind::GlobalMaxPool => (LayerKind::GlobalMaxPool, Vec::new()),
        nn_grammar::LayerKind::Flatten => (LayerKind::Flatten, Vec::new()),
        nn_grammar::LayerKind::Dropout { .. } => (LayerKind::Dropout, Vec::new()),
        nn_grammar::LayerKind::BatchNorm { .. } => {
            let channels: &'static [usize] = Box::leak(Box::new([layer.input.dims()[0]]));
            // `[C]` each, but the counter, which has no axes.
            let tensors: Vec<TensorInfo> = <BatchNorm<1, f32> as Tensors>::TENSORS
                .iter()
                .map(|tensor| TensorInfo {
                    shape: if tensor.shape.is_empty() {
                        &[]
                    } else {
                        channels
                    },
                    ..*tensor
                })
                .collect();
            let kind = if layer.input.rank() == 3 {
                LayerKind::BatchNorm2d
            } else {
                LayerKind::BatchNorm1d
            };
            (kind, tensors)
        }
        nn_grammar::LayerKind::LayerNorm { .. } => {
            // The weight and bias have the sample's shape.
            let tensors: Vec<TensorInfo> = <LayerNorm<[f32; 1]> as Tensors>::TENSORS
                .iter()
                .map(|tensor| TensorInfo {
                    shape: input,
                    ..*tensor
                })
                .collect();
            (LayerKind::LayerNorm, tensors)
        }
        nn_grammar::LayerKind::Recurrent(recurrent) => recurrent_tensors(layer, recurrent),
    }
}

/// A recurrent layer's kind and tensors: the deepest stack's tensors as the runtime declares
/// them, as many levels as declared, with the declaration's shapes.
fn recurrent_tensors(
    layer: &nn_grammar::Layer,
    recurrent: nn_grammar::Recurrent,
) -> (LayerKind, Vec<TensorInfo>) {
    let (kind, all) = match recurrent.cell {
        Cell::Lstm => (LayerKind::Lstm, <Lstm<1, 1, f32, 7> as Tensors>::TENSORS),
        Cell::Gru => (LayerKind::Gru, <Gru<1, 1, f32, 7> as Tensors>::TENSORS),
        Cell::Rnn { relu: false } => (LayerKind::Rnn, <Rnn<1, 1, f32, 7> as Tensors>::TENSORS),
        Cell::Rnn { relu: true } => (LayerKind::RnnRelu, <Rnn<1, 1, f32, 7> as Tensors>::TENSORS),
    };
    let (rows, hidden) = (recurrent.cell.gates() * recurrent.hidden, recurrent.hidden);
    let tensors = all
        .iter()
        .take(4 * recurrent.layers)
        .enumerate()
        .map(|(index, tensor)| {
            let reads = if index < 4 {
                layer.input.elements()
            } else {
                hidden
            };
            let shape: &'static [usize] = match index % 4 {
                0 => Box::leak(Box::new([rows, reads])),
                1 => Box::leak(Box::new([rows, hidden])),
                _ => Box::leak(Box::new([rows])),
            };
            TensorInfo {
                shape,
                init: Init::UniformHidden { hidden },
                ..*tensor
            }
        })
        .collect();
    (kind, tensors)
}
