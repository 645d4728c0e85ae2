//! safetensors files: what PyTorch writes with `safetensors.torch.save_file(model.state_dict(),
//! path)`, and the same layout back.
//!
//! # Which tensor goes to which layer
//!
//! Each dense layer of the network reads two tensors: `<prefix>.weight` of shape
//! `[outputs, inputs]` (PyTorch's `Linear.weight`, row `o` being neuron `o`) and `<prefix>.bias`
//! of shape `[outputs]`. The prefix is found in two steps:
//!
//! 1. A layer whose name (`-> 128 relu as hidden`, or the default `layer{k}`) has a tensor
//!    `hidden.weight` or `hidden.bias` takes that name as its prefix, as the `state_dict` of a
//!    module with attributes `self.hidden = nn.Linear(...)` names it.
//! 2. The other layers, input to output, take the integer prefixes of the file in ascending
//!    order: `nn.Sequential(Linear, ReLU, Linear)` writes `0.*` and `2.*`, and the gap left by the
//!    ReLU does not matter.
//!
//! Every tensor must be taken: a tensor left over (a third `Linear`, a `BatchNorm`'s
//! `running_mean`) is [`Error::UnexpectedTensor`]. Dtypes `F32`, `F64`, `F16` and `BF16` are
//! converted to the network's scalar type (rounding to nearest, as numpy's `astype`).
//!
//! # What [`save`] writes
//!
//! The same layout, so that PyTorch reads it back with `model.load_state_dict(load_file(path))`:
//! a layer named in the declaration writes `<name>.weight` and `<name>.bias`; an unnamed layer
//! writes `<k>.weight` and `<k>.bias` with `k` its index in the equivalent `nn.Sequential`, in
//! which every activation but `linear` is a module of its own (`784 -> 128 relu -> 10 softmax`
//! writes `0.*` and `2.*`, as `nn.Sequential(Linear(784, 128), ReLU(), Linear(128, 10),
//! Softmax(1))`). Tensors have the network's scalar type (`F32` or `F64`); the header's metadata
//! is `{"format": "pt"}`, as `safetensors.torch` writes it.

use crate::zeroed::zeroed_box;
use crate::{Error, LayerInfo, Network, Scalar};
use ::safetensors::tensor::{Dtype, Metadata};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt::Write;

/// Largest header accepted, in bytes: 100 MB, as the reference implementation. A larger length
/// is rejected before anything is allocated.
pub const MAX_HEADER: usize = 100_000_000;

/// How to read a file; [`LoadOptions::new`] is the strict default.
///
/// ```
/// use nn_runtime::io::safetensors::LoadOptions;
///
/// let options = LoadOptions::new().allow_non_finite(true);
/// assert_ne!(options, LoadOptions::default());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    allow_non_finite: bool,
}

impl LoadOptions {
    /// Rejects NaN and infinite values.
    pub const fn new() -> Self {
        Self {
            allow_non_finite: false,
        }
    }

    /// Whether to accept NaN and infinite weights and biases (rejected by default: they are
    /// nearly always a diverged training run, and they make every output NaN).
    #[must_use]
    pub const fn allow_non_finite(self, allow: bool) -> Self {
        Self {
            allow_non_finite: allow,
        }
    }
}

/// One tensor of a parsed file.
struct Tensor<'a> {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: &'a [u8],
}

/// Splits a file into its tensors, in the order of their data, checking the framing: the
/// header length, the header itself, and that the data is exactly as long as the header says.
fn parse(bytes: &[u8]) -> Result<Vec<Tensor<'_>>, Error> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(Error::TooShort { found: bytes.len() });
    };
    let length = u64::from_le_bytes(*length);
    // The length is checked against the limit before it is used for anything: a damaged file
    // must not make us allocate gigabytes.
    let header_length = usize::try_from(length)
        .ok()
        .filter(|&n| n <= MAX_HEADER)
        .ok_or(Error::HeaderTooLarge {
            length,
            limit: MAX_HEADER,
        })?;
    let Some((header, data)) = rest.split_at_checked(header_length) else {
        return Err(Error::HeaderTruncated {
            length: header_length,
            found: rest.len(),
        });
    };
    // `Metadata`'s own checks: known dtypes, offsets that start at 0 and follow each other,
    // each tensor's byte count equal to its shape times its dtype's size, no overflow.
    let metadata: Metadata = serde_json::from_slice(header).map_err(|e| Error::Format {
        reason: format!("the header is not valid: {e}"),
    })?;
    let expected = metadata.data_len();
    match data.len().cmp(&expected) {
        Ordering::Less => {
            return Err(Error::Truncated {
                expected,
                found: data.len(),
            });
        }
        Ordering::Greater => {
            return Err(Error::Format {
                reason: format!(
                    "{} bytes after the last tensor (the header describes {expected} bytes of data)",
                    data.len() - expected
                ),
            });
        }
        Ordering::Equal => {}
    }
    metadata
        .offset_keys()
        .into_iter()
        .map(|name| {
            let info = metadata.info(&name);
            let data = info.and_then(|info| data.get(info.data_offsets.0..info.data_offsets.1));
            match (info, data) {
                (Some(info), Some(data)) => Ok(Tensor {
                    dtype: info.dtype,
                    shape: info.shape.clone(),
                    data,
                    name,
                }),
                _ => Err(Error::Format {
                    reason: format!("the data of tensor `{name}` is outside the file"),
                }),
            }
        })
        .collect()
}

/// `k` for `<k>.weight` and `<k>.bias`, where `k` is an integer written without leading zeros.
fn integer_prefix(name: &str) -> Option<usize> {
    let prefix = name
        .strip_suffix(".weight")
        .or_else(|| name.strip_suffix(".bias"))?;
    let canonical = !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'));
    if canonical { prefix.parse().ok() } else { None }
}

/// The tensor names of a file, quoted, for an error message.
fn list(tensors: &[Tensor<'_>]) -> String {
    const SHOWN: usize = 8;
    if tensors.is_empty() {
        return "no tensors".into();
    }
    let mut names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        let _ = write!(text, ", ... ({} tensors)", names.len());
    }
    text
}

/// The weight and bias tensors of each layer, in layer order (see the module documentation
/// for the rules), or the first layer or tensor that does not fit them.
fn assign<'f, 'a>(
    tensors: &'f [Tensor<'a>],
    layers: &[LayerInfo],
) -> Result<Vec<(&'f Tensor<'a>, &'f Tensor<'a>)>, Error> {
    let find = |name: &str| tensors.iter().position(|t| t.name == name);
    let named = |layer: &LayerInfo| {
        find(&format!("{}.weight", layer.name)).is_some()
            || find(&format!("{}.bias", layer.name)).is_some()
    };
    let mut numbers: Vec<usize> = tensors
        .iter()
        .filter_map(|t| integer_prefix(&t.name))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut numbers = numbers.into_iter();

    let mut used = vec![false; tensors.len()];
    let mut pairs = Vec::with_capacity(layers.len());
    for (index, layer) in layers.iter().enumerate() {
        let prefix = if named(layer) {
            layer.name.to_string()
        } else if let Some(k) = numbers.next() {
            k.to_string()
        } else {
            return Err(Error::MissingLayer {
                layer: layer.name,
                index,
                count: layers.len(),
                tensors: list(tensors),
            });
        };
        let (weight, bias) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
        match (find(&weight), find(&bias)) {
            (Some(w), Some(b)) => {
                used[w] = true;
                used[b] = true;
                pairs.push((&tensors[w], &tensors[b]));
            }
            (Some(_), None) => {
                return Err(Error::MissingTensor {
                    layer: layer.name,
                    tensor: bias,
                    found: weight,
                });
            }
            (None, _) => {
                return Err(Error::MissingTensor {
                    layer: layer.name,
                    tensor: weight,
                    found: bias,
                });
            }
        }
    }
    let unused = tensors.iter().zip(&used).filter(|(_, used)| !**used);
    if let Some((extra, _)) = unused.min_by(|a, b| a.0.name.cmp(&b.0.name)) {
        return Err(Error::UnexpectedTensor {
            tensor: extra.name.clone(),
            layers: layers.len(),
        });
    }
    for ((weight, bias), layer) in pairs.iter().zip(layers) {
        check(layer, weight, &[layer.outputs, layer.inputs])?;
        check(layer, bias, &[layer.outputs])?;
    }
    Ok(pairs)
}

/// Checks a tensor's shape, then its dtype.
fn check(layer: &LayerInfo, tensor: &Tensor<'_>, expected: &[usize]) -> Result<(), Error> {
    if tensor.shape != expected {
        return Err(Error::Shape {
            layer: layer.name,
            tensor: tensor.name.clone(),
            expected: expected.to_vec(),
            found: tensor.shape.clone(),
        });
    }
    if !matches!(
        tensor.dtype,
        Dtype::F32 | Dtype::F64 | Dtype::F16 | Dtype::BF16
    ) {
        return Err(Error::Dtype {
            layer: layer.name,
            tensor: tensor.name.clone(),
            found: tensor.dtype.to_string(),
        });
    }
    Ok(())
}

/// Decodes one little-endian value of `dtype` (one of the four float types) to `f64`, exactly.
fn decode(dtype: Dtype, bytes: &[u8]) -> Option<f64> {
    Some(match dtype {
        Dtype::F32 => f64::from(f32::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::F64 => f64::from_le_bytes(bytes.try_into().ok()?),
        Dtype::F16 => f16_to_f64(u16::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::BF16 => bf16_to_f64(u16::from_le_bytes(bytes.try_into().ok()?)),
        _ => return None,
    })
}

/// An IEEE 754 half-precision value (1 sign bit, 5 exponent bits, 10 fraction bits), exactly.
///
/// Written out rather than taken from the `half` crate, whose `zerocopy` dependency costs more
/// build time than the rest of this feature; checked against numpy on every exponent.
pub fn f16_to_f64(bits: u16) -> f64 {
    let sign = u32::from(bits & 0x8000) << 16;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let fraction = u32::from(bits & 0x3ff);
    let magnitude = match exponent {
        // Subnormal: `fraction * 2^-24`, exact in `f32` (a power-of-two scaling of an integer
        // below 2^10, landing in the normal range).
        0 => fraction as f32 * f32::from_bits((127 - 24) << 23),
        // Infinity, or NaN with its payload.
        0x1f => f32::from_bits(0x7f80_0000 | fraction << 13),
        // Normal: rebias the exponent, widen the fraction.
        _ => f32::from_bits((exponent + 127 - 15) << 23 | fraction << 13),
    };
    f64::from(f32::from_bits(magnitude.to_bits() | sign))
}

/// A bfloat16 value: the upper half of an `f32`, exactly.
pub fn bf16_to_f64(bits: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(bits) << 16))
}

/// Converts `tensor` (already checked) into `out`, rejecting values that are not finite in
/// `T` unless `options` allow them.
fn read<T: Scalar>(
    layer: &LayerInfo,
    tensor: &Tensor<'_>,
    out: &mut [T],
    options: LoadOptions,
) -> Result<(), Error> {
    let size = tensor.dtype.bitsize() / 8;
    let format = |reason: String| Error::Format { reason };
    if size == 0 || tensor.data.len() != out.len() * size {
        return Err(format(format!(
            "tensor `{}` has {} bytes, expected {} values",
            tensor.name,
            tensor.data.len(),
            out.len()
        )));
    }
    let width = tensor.shape.get(1).copied().unwrap_or(1).max(1);
    for (index, (slot, bytes)) in out
        .iter_mut()
        .zip(tensor.data.chunks_exact(size))
        .enumerate()
    {
        let source = decode(tensor.dtype, bytes)
            .ok_or_else(|| format(format!("tensor `{}` is not a float", tensor.name)))?;
        let value = T::from_f64(source);
        if !options.allow_non_finite && !value.is_finite() {
            let at = if tensor.shape.len() == 2 {
                vec![index / width, index % width]
            } else {
                vec![index]
            };
            return Err(Error::NonFinite {
                layer: layer.name,
                tensor: tensor.name.clone(),
                at,
                value: if source.is_finite() {
                    format!("{source:e}")
                } else {
                    source.to_string()
                },
                scalar: T::NAME,
            });
        }
        *slot = value;
    }
    Ok(())
}

/// Loads a network from the bytes of a safetensors file, directly on the heap.
///
/// # Errors
///
/// Any problem with the file, as an [`Error`] that names the layer and tensor, what was
/// expected and what was found: see the module documentation for the rules.
pub fn load<N: Network>(bytes: &[u8], options: LoadOptions) -> Result<Box<N>, Error> {
    let tensors = parse(bytes)?;
    let pairs = assign(&tensors, N::LAYERS)?;
    let mut net = zeroed_box::<N>();
    let mut pairs = pairs.into_iter();
    let mut result = Ok(());
    net.for_each_layer_mut(|layer, weights, bias| {
        if result.is_err() {
            return;
        }
        result = match pairs.next() {
            Some((w, b)) => {
                read(layer, w, weights, options).and_then(|()| read(layer, b, bias, options))
            }
            None => Err(Error::Format {
                reason: format!("`{}` visits more layers than it declares", N::NAME),
            }),
        };
    });
    result.map(|()| net)
}

/// Reads the file at `path` and loads it as [`load`] does.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, else as [`load`].
#[cfg(feature = "std")]
pub fn load_file<N: Network>(
    path: impl AsRef<std::path::Path>,
    options: LoadOptions,
) -> Result<Box<N>, Error> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, &e))?;
    load(&bytes, options)
}

/// One layer's weights (`[OUT][IN]` row-major) and biases.
pub type LayerValues<T> = (Vec<T>, Vec<T>);

/// The weights (`[OUT][IN]` row-major) and biases of `layers`, read from a file without a
/// network type: for tools, and for the `weights = "file"` option of `network!`, which bakes
/// them into the code.
///
/// # Errors
///
/// As [`load`].
pub fn load_layers<T: Scalar>(
    bytes: &[u8],
    layers: &[LayerInfo],
    options: LoadOptions,
) -> Result<Vec<LayerValues<T>>, Error> {
    let tensors = parse(bytes)?;
    assign(&tensors, layers)?
        .into_iter()
        .zip(layers)
        .map(|((w, b), layer)| {
            let mut weights = vec![T::ZERO; layer.inputs * layer.outputs];
            let mut bias = vec![T::ZERO; layer.outputs];
            read(layer, w, &mut weights, options)?;
            read(layer, b, &mut bias, options)?;
            Ok((weights, bias))
        })
        .collect()
}

/// The prefix [`save`] writes for each layer: the layer's name if the declaration gave one,
/// else its index in the equivalent `nn.Sequential`.
///
/// ```
/// use nn_runtime::{Activation, LayerInfo, io::safetensors::prefixes};
///
/// let layer = |name, inputs, outputs, activation| LayerInfo { name, inputs, outputs, activation };
/// let layers = [
///     layer("layer0", 784, 128, Activation::Relu),
///     layer("layer1", 128, 64, Activation::Linear),
///     layer("head", 64, 10, Activation::Softmax),
/// ];
/// assert_eq!(prefixes(&layers), ["0", "2", "head"]);
/// ```
pub fn prefixes(layers: &[LayerInfo]) -> Vec<String> {
    let mut position = 0;
    layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let prefix = if layer.name == format!("layer{index}") {
                position.to_string()
            } else {
                layer.name.to_string()
            };
            position += if layer.activation == crate::Activation::Linear {
                1
            } else {
                2
            };
            prefix
        })
        .collect()
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The network as a safetensors file, in the layout described in the module documentation.
///
/// Byte for byte what the reference writer (`safetensors.torch.save_file` with metadata
/// `{"format": "pt"}`) writes for the same tensors: sorted by name, header padded with spaces to
/// a multiple of 8 bytes. Infallible: names and shapes come from the declaration.
pub fn save<N: Network>(net: &N) -> Vec<u8> {
    let wide = core::mem::size_of::<N::Scalar>() == 8;
    let (dtype, size) = if wide { ("F64", 8) } else { ("F32", 4) };
    let prefixes = prefixes(N::LAYERS);
    // Name, shape and values of each tensor.
    let mut tensors = Vec::new();
    let mut index = 0;
    net.for_each_layer(|layer, weights, bias| {
        let prefix = prefixes.get(index).map_or(layer.name, String::as_str);
        tensors.push((
            format!("{prefix}.weight"),
            [layer.outputs, layer.inputs],
            weights,
        ));
        // A bias has one dimension; `0` marks the absent second one.
        tensors.push((format!("{prefix}.bias"), [layer.outputs, 0], bias));
        index += 1;
    });
    tensors.sort_by(|a, b| a.0.cmp(&b.0));

    let mut header = String::from(r#"{"__metadata__":{"format":"pt"}"#);
    let mut offset = 0;
    for (name, shape, values) in &tensors {
        let end = offset + values.len() * size;
        let shape: Vec<String> = shape
            .iter()
            .filter(|d| **d > 0)
            .map(ToString::to_string)
            .collect();
        // Writing to a `String` cannot fail.
        let _ = write!(
            header,
            r#",{}:{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{offset},{end}]}}"#,
            json_string(name),
            shape.join(","),
        );
        offset = end;
    }
    header.push('}');
    // Pad with spaces so that the data starts 8-byte aligned, as the reference writer does.
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for (_, _, values) in &tensors {
        for value in *values {
            let value = value.to_f64();
            if wide {
                bytes.extend_from_slice(&value.to_le_bytes());
            } else {
                // Exact: the value is an `f32` widened to `f64`.
                #[allow(clippy::cast_possible_truncation)]
                bytes.extend_from_slice(&(value as f32).to_le_bytes());
            }
        }
    }
    bytes
}

/// Writes [`save`]'s bytes to `path`.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be written.
#[cfg(feature = "std")]
pub fn save_file<N: Network>(net: &N, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
    let path = path.as_ref();
    std::fs::write(path, save(net)).map_err(|e| Error::io("write", path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_prefixes_are_canonical_integers() {
        assert_eq!(integer_prefix("0.weight"), Some(0));
        assert_eq!(integer_prefix("12.bias"), Some(12));
        assert_eq!(integer_prefix("012.bias"), None);
        assert_eq!(integer_prefix("hidden.weight"), None);
        assert_eq!(integer_prefix("1.running_mean"), None);
        assert_eq!(integer_prefix(".weight"), None);
    }

    #[test]
    fn json_strings_escape_quotes_and_controls() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }
}
