//! The lowered layers as an nn declaration (built, printed as canonical `.nn` text, and checked
//! by compiling that text: the one parser and checker) and as named tensors.

use crate::error::Problem;
use crate::lower::Lowered;
use nn_grammar::{Layer, LayerKind, Network, Scalar, TextRange, Unroll};
use safetensors::{Dtype, tensor::TensorView};
use std::collections::HashMap;

/// A tensor of the imported weights, in PyTorch's layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// `<layer>.weight`, `<layer>.bias`, a batchnorm's `<layer>.running_mean` and
    /// `<layer>.running_var`, or a recurrent layer's `<layer>.weight_ih_l0`, `weight_hh_l0`,
    /// `bias_ih_l0`, `bias_hh_l0` (then `_l1`, ...).
    pub name: String,
    /// PyTorch's shape: `[outputs, inputs]` for a dense layer, `[out_channels, in_channels /
    /// groups, kernel...]` for a convolution, `[outputs]` for a bias.
    pub shape: Vec<usize>,
    /// The values, row-major (exactly the model's `f32`s, or `f64`s for a double model).
    pub values: Vec<f64>,
}

/// The network's declaration and tensors; `docs` become its `///` lines.
pub(crate) fn network(
    lowered: Lowered,
    name: &str,
    docs: Vec<String>,
) -> Result<(Network, Vec<Tensor>), Vec<Problem>> {
    let nowhere = TextRange { start: 0, end: 0 };
    let mut tensors = Vec::new();
    let mut layers = Vec::with_capacity(lowered.layers.len());
    for layer in lowered.layers {
        // A dense layer or convolution that nothing gave a bias (no `B` or `C`, no `Add`
        // after), or a recurrent layer without `B`, is declared without one, as PyTorch's
        // `bias=False` module it came from.
        let bias = match layer.kind {
            LayerKind::Dense | LayerKind::Conv1d(_) | LayerKind::Conv2d(_) => layer.bias.is_some(),
            LayerKind::Recurrent(_) => layer
                .tensors
                .iter()
                .any(|(name, ..)| name.starts_with("bias_")),
            _ => true,
        };
        if let Some((shape, values)) = layer.weight {
            tensors.push(Tensor {
                name: format!("{}.weight", layer.name),
                shape,
                values,
            });
        }
        if let Some(values) = layer.bias {
            tensors.push(Tensor {
                name: format!("{}.bias", layer.name),
                shape: vec![values.len()],
                values,
            });
        }
        // A batchnorm's counter (`num_batches_tracked`) is left out: loading takes it as 0.
        if let Some((mean, variance)) = layer.statistics {
            for (tensor, values) in [("running_mean", mean), ("running_var", variance)] {
                tensors.push(Tensor {
                    name: format!("{}.{tensor}", layer.name),
                    shape: vec![values.len()],
                    values,
                });
            }
        }
        for (tensor, shape, values) in layer.tensors {
            tensors.push(Tensor {
                name: format!("{}.{tensor}", layer.name),
                shape,
                values,
            });
        }
        layers.push(Layer {
            name: layer.name,
            named: true,
            kind: layer.kind,
            input: layer.input,
            output: layer.output,
            activation: layer.activation,
            bias,
            affine: true,
            range: nowhere,
        });
    }
    let built = Network {
        docs,
        visibility: "pub".to_owned(),
        name: name.to_owned(),
        name_range: nowhere,
        input: lowered.input,
        input_range: nowhere,
        layers,
        scalar: lowered.scalar,
        unroll: Unroll::Loops,
        runtime: None,
        weights: None,
        quantize: Vec::new(),
        range: nowhere,
    };
    let text = layout(&built.to_string());
    let checked = nn_grammar::compile_item(&text).map_err(|diagnostics| {
        diagnostics
            .into_iter()
            .map(|d| Problem {
                node: None,
                message: format!(
                    "the imported declaration breaks a rule of the language: {} (in `{}`)",
                    d.message,
                    text.get(d.range.start..d.range.end).unwrap_or("")
                ),
            })
            .collect::<Vec<_>>()
    })?;
    Ok((checked, tensors))
}

/// Longest declaration kept on one line.
const LINE: usize = 100;

/// The canonical text, a longer declaration with each layer on its own line:
///
/// ```text
/// pub struct LeNet = [1, 28, 28]
///     -> conv2d(6, 5, padding = 2) relu as conv1
///     -> maxpool2d(2) as pool1;
/// ```
pub(crate) fn layout(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.starts_with("///") || line.len() <= LINE {
                line.to_owned()
            } else {
                line.replace(" -> ", "\n    -> ")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why `tensor` cannot be loaded, if a value is not finite in `scalar` (NaN or infinite in the
/// model, or a product such as `alpha * B` beyond `f32`): its first such value, at its index,
/// as nn's loaders would refuse it.
pub(crate) fn non_finite(tensor: &Tensor, scalar: Scalar) -> Option<String> {
    #[allow(clippy::cast_possible_truncation)] // `f32` models' values, whose range is the point
    let finite = |v: f64| match scalar {
        Scalar::F32 => (v as f32).is_finite(),
        Scalar::F64 => v.is_finite(),
    };
    let at = tensor.values.iter().position(|&v| !finite(v))?;
    let mut index = Vec::with_capacity(tensor.shape.len());
    let mut rest = at;
    for &size in tensor.shape.iter().rev() {
        index.push(rest % size.max(1));
        rest /= size.max(1);
    }
    index.reverse();
    let value = tensor.values[at];
    let beyond = if value.is_finite() {
        ", beyond `f32`"
    } else {
        ""
    };
    Some(format!(
        "tensor `{}` holds {value:e} at {index:?}{beyond}: nn's networks take finite weights (the \
         model is damaged, or a factor such as `alpha` took its weights out of range)",
        tensor.name
    ))
}

/// The tensors as a safetensors file, in the network's scalar type, with the metadata
/// `{"format": "pt"}` that PyTorch's `save_file` writes.
pub(crate) fn safetensors(tensors: &[Tensor], scalar: Scalar) -> Result<Vec<u8>, String> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| match scalar {
            #[allow(clippy::cast_possible_truncation)] // the values are the model's `f32`s
            Scalar::F32 => t
                .values
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
            Scalar::F64 => t.values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        })
        .collect();
    let dtype = match scalar {
        Scalar::F32 => Dtype::F32,
        Scalar::F64 => Dtype::F64,
    };
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, data)| {
            TensorView::new(dtype, t.shape.clone(), data).map(|view| (t.name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let metadata = HashMap::from([("format".to_owned(), "pt".to_owned())]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
}
