//! Run-time errors: values that name the layer, what was expected and what was found.

use crate::network::Plural;
#[cfg(feature = "alloc")]
use alloc::{string::String, vec::Vec};

/// Everything that can go wrong at run time.
///
/// Weight files (safetensors, JSON) add the variants that need an allocator: a bad file is
/// always one of these values, never a panic and never a silently truncated network.
///
/// # Debug
///
/// `{:?}` prints the message, as `Display` does, and `{:#?}` the variant and its fields. A
/// `fn main() -> Result<(), nn::Error>` prints its error with `{:?}` (so do `unwrap` and
/// `expect`), and the message, with its hint, is what whoever runs the program needs to read;
/// a derived `Debug` would print `Shape { layer: "layer0", ... }` and drop the hint. This is
/// what `anyhow::Error` does. Code that wants the fields matches on the variant, or logs with
/// `{:#?}`:
///
/// ```
/// let error = nn_runtime::Error::Batch { layer: "output", expected: 3, found: 2 };
/// assert_eq!(format!("{error:?}"), error.to_string());
/// assert!(format!("{error:#?}").starts_with("Batch {\n    layer: \"output\","));
/// ```
#[derive(Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input had the wrong number of values.
    #[error("layer `{layer}`: expected {}, found {found}", Plural(*.expected, "input"))]
    Input {
        /// The layer that reads the input.
        layer: &'static str,
        /// Inputs the network takes.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// An output buffer had the wrong number of values.
    #[error("layer `{layer}`: expected room for {}, found {found}", Plural(*.expected, "output"))]
    Output {
        /// The layer that writes the output.
        layer: &'static str,
        /// Outputs the network produces.
        expected: usize,
        /// Room given.
        found: usize,
    },
    /// A batch's output buffer did not have one row per input.
    #[error("layer `{layer}`: expected {}, one per input, found {found}", Plural(*.expected, "output row"))]
    Batch {
        /// The layer that writes the output.
        layer: &'static str,
        /// Inputs given.
        expected: usize,
        /// Output rows given.
        found: usize,
    },
    /// A matrix of samples (one per row) had the wrong number of columns.
    #[error("layer `{layer}`: expected {}, one per input, found {found}", Plural(*.expected, "column"))]
    Columns {
        /// The layer that reads the input.
        layer: &'static str,
        /// Inputs the network takes.
        expected: usize,
        /// Columns given.
        found: usize,
    },

    /// The file is shorter than the 8 bytes that give a safetensors header's length.
    #[error("not a safetensors file: expected at least 8 bytes (the header length), found {found}")]
    TooShort {
        /// Bytes in the file.
        found: usize,
    },
    /// The header length is larger than any real header: the file is damaged or not a
    /// safetensors file. Nothing is allocated for it.
    #[error(
        "safetensors header length is {length} bytes, the limit is {limit}: the file is damaged or not a safetensors file"
    )]
    HeaderTooLarge {
        /// The length the file claims.
        length: u64,
        /// The largest header accepted (100 MB, as the reference implementation).
        limit: usize,
    },
    /// The header length claims more bytes than the file has.
    #[error(
        "truncated safetensors file: the header length says {length} bytes, but only {found} bytes follow it"
    )]
    HeaderTruncated {
        /// The length the file claims.
        length: usize,
        /// Bytes after the 8-byte length.
        found: usize,
    },
    /// The tensor data is shorter than the header describes.
    #[error(
        "truncated safetensors file: the header describes {expected} bytes of tensor data, found {found}"
    )]
    Truncated {
        /// Bytes of tensor data the header describes.
        expected: usize,
        /// Bytes of tensor data in the file.
        found: usize,
    },
    /// The file breaks the safetensors format in another way: invalid header JSON, overlapping
    /// offsets, bytes after the last tensor.
    #[cfg(feature = "alloc")]
    #[error("invalid safetensors file: {reason}")]
    Format {
        /// What is wrong, as the parser saw it.
        reason: String,
    },
    /// No tensor in the file belongs to a layer.
    #[cfg(feature = "alloc")]
    #[error(
        "no tensors for layer `{layer}` (dense layer {index} of {count}): expected `<k>.weight` and `<k>.bias` for an integer `k`, as `nn.Sequential` names them, or `{layer}.weight` and `{layer}.bias`; the file has {tensors}"
    )]
    MissingLayer {
        /// The layer without tensors.
        layer: &'static str,
        /// Its position among the dense layers, from 0.
        index: usize,
        /// Dense layers in the network.
        count: usize,
        /// The tensors the file has, quoted and comma-separated (at most 8, then `...`).
        tensors: String,
    },
    /// A layer's weight was found but not its bias, or the other way around.
    #[cfg(feature = "alloc")]
    #[error("layer `{layer}`: missing tensor `{tensor}` (the file has `{found}`)")]
    MissingTensor {
        /// The layer.
        layer: &'static str,
        /// The tensor that is missing.
        tensor: String,
        /// Its sibling, which is present.
        found: String,
    },
    /// The file has a tensor that no layer takes: more layers than the network, or a tensor of
    /// another kind of layer.
    #[cfg(feature = "alloc")]
    #[error(
        "unexpected tensor `{tensor}`: {} already has its weights and bias",
        EveryLayer(*.layers)
    )]
    UnexpectedTensor {
        /// The tensor's name.
        tensor: String,
        /// Dense layers in the network.
        layers: usize,
    },
    /// A tensor has the wrong shape.
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: tensor `{tensor}` has shape {found:?}, expected {expected:?}{hint}",
        hint = shape_hint(.expected, .found)
    )]
    Shape {
        /// The layer.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// `[outputs, inputs]` for weights (PyTorch's `Linear.weight`), `[outputs]` for biases.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor has an element type that is not a float.
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: tensor `{tensor}` has dtype {found}, expected one of F32, F64, F16, BF16"
    )]
    Dtype {
        /// The layer.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// The dtype in the file, as safetensors writes it (`I64`, `U8`, ...).
        found: String,
    },
    /// A weight or bias is NaN or infinite (or too large for the network's scalar type).
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: tensor `{tensor}` holds {value} at {at:?}, expected finite {scalar} values (opt in with `LoadOptions::allow_non_finite` to load it anyway)"
    )]
    NonFinite {
        /// The layer.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// Index of the value: `[row, column]` for weights, `[row]` for biases.
        at: Vec<usize>,
        /// The value in the file.
        value: String,
        /// The network's scalar type.
        scalar: &'static str,
    },
    /// A layer in a serialised network (JSON) has another name than the declaration's.
    #[cfg(feature = "alloc")]
    #[error("layer {index}: expected the layer named `{expected}`, found `{found}`")]
    LayerName {
        /// Position of the layer, from 0.
        index: usize,
        /// The name in the declaration.
        expected: &'static str,
        /// The name in the data.
        found: String,
    },
    /// A serialised network (JSON) has the wrong number of layers.
    #[error("expected {}, found {found}", Plural(*.expected, "layer"))]
    LayerCount {
        /// Dense layers in the network.
        expected: usize,
        /// Layers in the data.
        found: usize,
    },
    /// A weight file could not be read or written.
    #[cfg(feature = "std")]
    #[error("cannot {operation} `{path}`: {message}")]
    Io {
        /// `read` or `write`.
        operation: &'static str,
        /// The file.
        path: String,
        /// What went wrong, as the operating system tells it.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
}

/// The variant and its fields, for `{:#?}`: `Name { field: value, ... }`, as a derived `Debug`.
macro_rules! structured {
    ($self:ident, $f:ident; $($(#[$cfg:meta])* $variant:ident { $($field:ident),* }),* $(,)?) => {
        match $self {
            $(
                $(#[$cfg])*
                Self::$variant { $($field),* } => $f
                    .debug_struct(stringify!($variant))
                    $(.field(stringify!($field), $field))*
                    .finish(),
            )*
        }
    };
}

impl core::fmt::Debug for Error {
    /// The message with `{:?}`, the variant and its fields with `{:#?}`: see [`Error`].
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if !f.alternate() {
            return core::fmt::Display::fmt(self, f);
        }
        structured!(self, f;
            Input { layer, expected, found },
            Output { layer, expected, found },
            Batch { layer, expected, found },
            Columns { layer, expected, found },
            TooShort { found },
            HeaderTooLarge { length, limit },
            HeaderTruncated { length, found },
            Truncated { expected, found },
            #[cfg(feature = "alloc")] Format { reason },
            #[cfg(feature = "alloc")] MissingLayer { layer, index, count, tensors },
            #[cfg(feature = "alloc")] MissingTensor { layer, tensor, found },
            #[cfg(feature = "alloc")] UnexpectedTensor { tensor, layers },
            #[cfg(feature = "alloc")] Shape { layer, tensor, expected, found },
            #[cfg(feature = "alloc")] Dtype { layer, tensor, found },
            #[cfg(feature = "alloc")] NonFinite { layer, tensor, at, value, scalar },
            #[cfg(feature = "alloc")] LayerName { index, expected, found },
            LayerCount { expected, found },
            #[cfg(feature = "std")] Io { operation, path, kind, message },
        )
    }
}

/// `the one dense layer` or `every one of the 3 dense layers`.
#[cfg(feature = "alloc")]
struct EveryLayer(usize);

#[cfg(feature = "alloc")]
impl core::fmt::Display for EveryLayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            1 => f.write_str("the one dense layer"),
            n => write!(f, "every one of the {n} dense layers"),
        }
    }
}

/// The layout a weight must have and, when `found` is `expected` transposed, how to save it
/// transposed: as a contiguous copy. `safetensors.numpy` writes a transposed view (`coefs_[k].T`)
/// in its untransposed order under the transposed shape, so that the file loads and is
/// silently wrong; `safetensors.torch` refuses a non-contiguous tensor.
#[cfg(feature = "alloc")]
fn shape_hint(expected: &[usize], found: &[usize]) -> &'static str {
    match (expected, found) {
        ([o, i], [a, b]) if o == b && i == a && o != i => {
            " ([outputs, inputs], the layout of PyTorch's `Linear.weight`): the tensor is transposed, save `np.ascontiguousarray(coefs_[k].T)` from scikit-learn or `weight.T.contiguous()` from PyTorch (a bare `.T` is a view, which `safetensors.numpy` writes untransposed)"
        }
        ([_, _], _) => " ([outputs, inputs], the layout of PyTorch's `Linear.weight`)",
        _ => "",
    }
}

#[cfg(all(feature = "std", feature = "safetensors"))]
impl Error {
    /// An [`Error::Io`] from a failed read or write of `path`.
    pub(crate) fn io(
        operation: &'static str,
        path: &std::path::Path,
        error: &std::io::Error,
    ) -> Self {
        use alloc::string::ToString;
        Self::Io {
            operation,
            path: path.display().to_string(),
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Error;
    use std::format;
    use std::string::ToString;

    #[test]
    fn debug_is_the_message_and_alternate_debug_the_fields() {
        let error = Error::Input {
            layer: "hidden",
            expected: 784,
            found: 783,
        };
        assert_eq!(
            format!("{error:?}"),
            "layer `hidden`: expected 784 inputs, found 783"
        );
        assert_eq!(
            format!("{error:#?}"),
            "Input {\n    layer: \"hidden\",\n    expected: 784,\n    found: 783,\n}"
        );
        // What `fn main() -> Result<(), Error>` prints, and what `unwrap` shows.
        let result: Result<(), Error> = Err(error);
        assert_eq!(
            format!("{result:?}"),
            "Err(layer `hidden`: expected 784 inputs, found 783)"
        );
    }

    #[test]
    fn counts_of_one_are_singular() {
        let one = |expected| Error::Input {
            layer: "layer0",
            expected,
            found: 2,
        };
        assert_eq!(
            one(1).to_string(),
            "layer `layer0`: expected 1 input, found 2"
        );
        assert_eq!(
            one(3).to_string(),
            "layer `layer0`: expected 3 inputs, found 2"
        );
        let output = Error::Output {
            layer: "layer0",
            expected: 1,
            found: 0,
        };
        assert_eq!(
            output.to_string(),
            "layer `layer0`: expected room for 1 output, found 0"
        );
        let batch = Error::Batch {
            layer: "layer0",
            expected: 1,
            found: 2,
        };
        assert_eq!(
            batch.to_string(),
            "layer `layer0`: expected 1 output row, one per input, found 2"
        );
        let columns = Error::Columns {
            layer: "layer0",
            expected: 1,
            found: 2,
        };
        assert_eq!(
            columns.to_string(),
            "layer `layer0`: expected 1 column, one per input, found 2"
        );
        let layers = Error::LayerCount {
            expected: 1,
            found: 2,
        };
        assert_eq!(layers.to_string(), "expected 1 layer, found 2");
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn an_unexpected_tensor_counts_the_layers() {
        let unexpected = |layers| Error::UnexpectedTensor {
            tensor: "1.weight".to_string(),
            layers,
        };
        assert_eq!(
            unexpected(1).to_string(),
            "unexpected tensor `1.weight`: the one dense layer already has its weights and bias"
        );
        assert_eq!(
            unexpected(2).to_string(),
            "unexpected tensor `1.weight`: every one of the 2 dense layers already has its weights and bias"
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn debug_keeps_the_hint() {
        use std::vec;
        let error = Error::Shape {
            layer: "layer0",
            tensor: "0.weight".to_string(),
            expected: vec![128, 784],
            found: vec![784, 128],
        };
        let debug = format!("{error:?}");
        assert_eq!(debug, error.to_string());
        assert!(debug.contains("the tensor is transposed"), "{debug}");
        assert_eq!(
            format!("{error:#?}"),
            "Shape {\n    layer: \"layer0\",\n    tensor: \"0.weight\",\n    expected: [\n        128,\n        784,\n    ],\n    found: [\n        784,\n        128,\n    ],\n}"
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn every_field_of_an_io_error_is_in_the_alternate_form() {
        let error = Error::Io {
            operation: "read",
            path: "mnist.safetensors".to_string(),
            kind: std::io::ErrorKind::NotFound,
            message: "No such file or directory (os error 2)".to_string(),
        };
        assert_eq!(
            format!("{error:?}"),
            "cannot read `mnist.safetensors`: No such file or directory (os error 2)"
        );
        let fields = format!("{error:#?}");
        assert!(
            fields.starts_with("Io {\n    operation: \"read\",\n"),
            "{fields}"
        );
        assert!(fields.contains("    kind: NotFound,\n"), "{fields}");
    }
}
