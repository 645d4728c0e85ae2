//! Run-time errors: values that name the layer, what was expected and what was found.

#[cfg(feature = "alloc")]
use crate::network::LayerKind;
use crate::network::Plural;
#[cfg(feature = "alloc")]
use crate::tensor::{TensorInfo, is_bias_name};
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
    #[error("layer `{layer}`: expected room for exactly {}, found {found}", Plural(*.expected, "output"))]
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
    /// A training method's targets did not have one row per input.
    #[error("layer `{layer}`: expected {}, one per input, found {found}", Plural(*.expected, "target row"))]
    Targets {
        /// The layer whose output the targets are compared with.
        layer: &'static str,
        /// Inputs given.
        expected: usize,
        /// Target rows given.
        found: usize,
    },
    /// A sequence network's `step_streams` was given a different number of input rows than of
    /// stream states.
    #[error("layer `{layer}`: expected {}, one per stream state, found {found}", Plural(*.expected, "input row"))]
    Streams {
        /// The layer that reads the input.
        layer: &'static str,
        /// Stream states given.
        expected: usize,
        /// Input rows given.
        found: usize,
    },
    /// A sequence network's `forward_slice` was given an input that is not a whole number of
    /// time steps.
    #[error("layer `{layer}`: expected whole time steps of {}, found {found} values", Plural(*.width, "input"))]
    Steps {
        /// The layer that reads the input.
        layer: &'static str,
        /// Values of one time step.
        width: usize,
        /// Values given.
        found: usize,
    },
    /// Without the `alloc` feature, a training batch of a network with batchnorm did not fit
    /// in one chunk of `accumulate_batch`: batch normalisation in training needs the
    /// statistics of the whole batch, and without a heap the batch is one chunk on the stack.
    #[error(
        "layer `{layer}`: batch normalisation in training needs the whole batch in one chunk: \
         found {batch} samples, at most {chunk} (the network's `TRAINING_CHUNK`) without the \
         `alloc` feature"
    )]
    BatchTooLarge {
        /// The first batchnorm layer.
        layer: &'static str,
        /// Samples given.
        batch: usize,
        /// The network's `TRAINING_CHUNK`.
        chunk: usize,
    },
    /// A matrix of samples (one per row) had more rows than their outputs can be allocated
    /// for: a broadcast view can repeat one row any number of times.
    #[error("layer `{layer}`: the outputs of {rows} rows, {} each, do not fit in memory", Plural(*.width, "value"))]
    OutputTooLarge {
        /// The layer that writes the output.
        layer: &'static str,
        /// Rows given.
        rows: usize,
        /// Outputs of one row.
        width: usize,
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
        "no tensors for layer `{layer}` (layer {index} of {count}): expected {} for an integer `k`, as `nn.Sequential` names them, or {} (a layer declared `as fc1` or `as encoder.0` reads PyTorch's module `fc1` or `encoder.0`); the file has {tensors}{}",
        Names("<k>", .expected),
        Names(.layer, .expected),
        missing_layer_hint(*.kind)
    )]
    MissingLayer {
        /// The layer without tensors.
        layer: &'static str,
        /// Its kind: a layernorm's tensors are missing when PyTorch's had no affine parameters.
        kind: LayerKind,
        /// Its position among the layers, from 0.
        index: usize,
        /// Layers in the network.
        count: usize,
        /// The layer's tensors, as its `LayerInfo::tensors` lists them.
        expected: &'static [TensorInfo],
        /// The tensors the file has, quoted and comma-separated (at most 8, then `...`).
        tensors: String,
    },
    /// Some of a layer's tensors were found but not this one (a dense layer's weight without its
    /// bias, or the other way around).
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: missing tensor `{tensor}` (the file has {found}){}",
        missing_hint(*.kind, .tensor)
    )]
    MissingTensor {
        /// The layer.
        layer: &'static str,
        /// The layer's kind, in a float network's file (`None` in an int8 twin's): what says
        /// whether a missing bias or weight is PyTorch's `bias=False` or `affine=False`.
        kind: Option<LayerKind>,
        /// The tensor that is missing.
        tensor: String,
        /// The tensors the file has under the same prefix (or, if none, all of them), quoted
        /// and comma-separated (at most 8, then `...`).
        found: String,
    },
    /// The file has a tensor that no layer takes: more layers than the network, or a tensor of
    /// another kind of layer.
    #[cfg(feature = "alloc")]
    #[error(
        "unexpected tensor `{tensor}`: {} already has its tensors",
        EveryLayer(*.layers)
    )]
    UnexpectedTensor {
        /// The tensor's name.
        tensor: String,
        /// Layers in the network.
        layers: usize,
    },
    /// The file has a tensor under the prefix of a layer that does not have it: a level more
    /// than declared (`lstm.weight_ih_l2` for `lstm(8, layers = 2)`), or another kind's
    /// tensor (a batchnorm's statistics where a dense layer was matched).
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: unexpected tensor `{tensor}`: the layer has {}{}",
        Names(.prefix, .expected),
        extra_hint(.tensor, .expected)
    )]
    ExtraTensor {
        /// The layer whose prefix the tensor has.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// The layer's prefix in the file.
        prefix: String,
        /// The layer's tensors, as its `LayerInfo::tensors` lists them.
        expected: &'static [TensorInfo],
    },
    /// A tensor has the wrong shape.
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: tensor `{tensor}` has shape {found:?}, expected {expected:?}{hint}",
        hint = shape_hint(*.kind, .tensor, .expected, .found)
    )]
    Shape {
        /// The layer.
        layer: &'static str,
        /// The layer's kind, in a float network's file or JSON (`None` in an int8 twin's):
        /// what says whether a 2-D tensor is a dense layer's weight, whose message tells how to
        /// save it (a `layernorm`'s weight over a 2-D input is 2-D too).
        kind: Option<LayerKind>,
        /// The tensor's name.
        tensor: String,
        /// PyTorch's shape of the tensor (`[outputs, inputs]` for a dense layer's weight, as
        /// `Linear.weight`).
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
    /// A counter (batchnorm's `num_batches_tracked`, see
    /// [`Role::Counter`](crate::Role::Counter)) has an element type that is not a number.
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: tensor `{tensor}` has dtype {found}, expected a count: an integer (PyTorch writes I64) or a float"
    )]
    CounterDtype {
        /// The layer.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// The dtype in the file, as safetensors writes it (`BOOL`, ...).
        found: String,
    },
    /// A value of a tensor is NaN or infinite (or too large for the network's scalar type).
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: tensor `{tensor}` holds {value} at {at:?}, expected finite {scalar} values{}",
        ALLOW_NON_FINITE
    )]
    NonFinite {
        /// The layer.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// Index of the value in PyTorch's shape of the tensor (`[row, column]` for a dense
        /// layer's weight, `[row]` for its bias).
        at: Vec<usize>,
        /// The value in the file.
        value: String,
        /// The network's scalar type.
        scalar: &'static str,
    },
    /// A variance (batchnorm's `running_var`) is negative, which PyTorch's never are: a damaged
    /// file (below `-eps`, every output of its channel would be NaN).
    #[cfg(feature = "alloc")]
    #[error(
        "layer `{layer}`: tensor `{tensor}` holds {value} at {at:?}, expected a variance of 0 or more, as PyTorch's always are{}",
        ALLOW_NON_FINITE
    )]
    NegativeVariance {
        /// The layer.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// Index of the value in PyTorch's shape of the tensor (`[channel]`).
        at: Vec<usize>,
        /// The value in the file.
        value: String,
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
        /// Layers in the network.
        expected: usize,
        /// Layers in the data.
        found: usize,
    },
    /// Calibration of an int8 network could not choose a quantisation: no samples, a value
    /// that is not finite, or a bad percentile.
    #[cfg(feature = "alloc")]
    #[error("cannot calibrate: {reason}")]
    Calibration {
        /// What is wrong, naming the tensor.
        reason: String,
    },
    /// A tensor of a quantised weight file has the wrong element type.
    #[cfg(feature = "alloc")]
    #[error("layer `{layer}`: tensor `{tensor}` has dtype {found}, expected {expected}")]
    QuantizedDtype {
        /// The layer.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// The dtype the scheme stores it in (`I8`, `I32`, `F32`, `U8`).
        expected: &'static str,
        /// The dtype in the file.
        found: String,
    },
    /// A value of a quantised weight file breaks the scheme: a scale that is not positive and
    /// finite, or a layer whose input quantisation is not the previous layer's output's.
    #[cfg(feature = "alloc")]
    #[error("layer `{layer}`: tensor `{tensor}` {problem}")]
    QuantizedValue {
        /// The layer.
        layer: &'static str,
        /// The tensor's name.
        tensor: String,
        /// What is wrong with its value.
        problem: String,
    },
    /// A quantised layer's parts, given to `assign`, break the scheme (the file loader names
    /// the tensor and the index of the same problems).
    #[error("invalid quantised parts: {problem}")]
    InvalidParts {
        /// What is wrong.
        problem: &'static str,
    },
    /// A float network was given an int8 network's file (an int8 twin's `to_safetensors`).
    #[error(
        "the file is an int8 network's (`I8` weights with their scales and zero points, as an \
         int8 twin's `to_safetensors` writes it): load it with the twin's `from_safetensors`"
    )]
    QuantizedFile {},
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
            Targets { layer, expected, found },
            Streams { layer, expected, found },
            Steps { layer, width, found },
            Columns { layer, expected, found },
            OutputTooLarge { layer, rows, width },
            BatchTooLarge { layer, batch, chunk },
            TooShort { found },
            HeaderTooLarge { length, limit },
            HeaderTruncated { length, found },
            Truncated { expected, found },
            #[cfg(feature = "alloc")] Format { reason },
            #[cfg(feature = "alloc")] MissingLayer { layer, kind, index, count, expected, tensors },
            #[cfg(feature = "alloc")] MissingTensor { layer, kind, tensor, found },
            #[cfg(feature = "alloc")] UnexpectedTensor { tensor, layers },
            #[cfg(feature = "alloc")] ExtraTensor { layer, tensor, prefix, expected },
            #[cfg(feature = "alloc")] Shape { layer, kind, tensor, expected, found },
            #[cfg(feature = "alloc")] Dtype { layer, tensor, found },
            #[cfg(feature = "alloc")] CounterDtype { layer, tensor, found },
            #[cfg(feature = "alloc")] NonFinite { layer, tensor, at, value, scalar },
            #[cfg(feature = "alloc")] NegativeVariance { layer, tensor, at, value },
            #[cfg(feature = "alloc")] LayerName { index, expected, found },
            LayerCount { expected, found },
            #[cfg(feature = "alloc")] Calibration { reason },
            #[cfg(feature = "alloc")] QuantizedDtype { layer, tensor, expected, found },
            #[cfg(feature = "alloc")] QuantizedValue { layer, tensor, problem },
            InvalidParts { problem },
            QuantizedFile {},
            #[cfg(feature = "std")] Io { operation, path, kind, message },
        )
    }
}

/// How a safetensors loader can take values that make outputs NaN: the end of the messages of
/// [`Error::NonFinite`] and [`Error::NegativeVariance`], which JSON (without the option) leaves
/// out.
#[cfg(feature = "alloc")]
pub(crate) const ALLOW_NON_FINITE: &str =
    " (opt in with `LoadOptions::allow_non_finite` to load it anyway)";

/// For a tensor missing from a layer of `kind`, how to declare the layer PyTorch saved so: a
/// bias with `bias = false`, a normalisation's weight with `affine = false`.
#[cfg(feature = "alloc")]
fn missing_hint(kind: Option<LayerKind>, tensor: &str) -> &'static str {
    use LayerKind as K;
    let name = tensor.rsplit('.').next().unwrap_or(tensor);
    match kind {
        Some(K::BatchNorm1d | K::BatchNorm2d | K::LayerNorm) if name == "weight" => {
            ": a PyTorch normalisation with `affine=False` (`elementwise_affine=False`) saves no \
             weight and no bias, declare it with `affine = false`"
        }
        Some(
            K::Dense
            | K::Conv1d
            | K::Conv2d
            | K::Lstm
            | K::Gru
            | K::Rnn
            | K::RnnRelu
            | K::LayerNorm,
        ) if is_bias_name(name) => {
            ": a PyTorch module with `bias=False` saves none, declare the layer with \
             `bias = false`"
        }
        _ => "",
    }
}

/// For a layer that a file has no tensors for, whether PyTorch's module saves none: a
/// `LayerNorm(elementwise_affine=False)`.
#[cfg(feature = "alloc")]
fn missing_layer_hint(kind: LayerKind) -> &'static str {
    match kind {
        LayerKind::LayerNorm => {
            ": a PyTorch `LayerNorm` with `elementwise_affine=False` saves no tensors, declare \
             it `layernorm(affine = false)`"
        }
        _ => "",
    }
}

/// For a tensor under a layer's prefix that its `expected` tensors leave out because the
/// declaration does (`bias = false`; `affine = false`, which leaves a batchnorm its running
/// statistics and a layernorm no tensors), which argument to drop to read it.
#[cfg(feature = "alloc")]
fn extra_hint(tensor: &str, expected: &[TensorInfo]) -> &'static str {
    let name = tensor.rsplit('.').next().unwrap_or(tensor);
    let has = |found: fn(&str) -> bool| expected.iter().any(|t| found(t.name));
    let weighted = has(|n| n.starts_with("weight"));
    if is_bias_name(name) && weighted && !expected.iter().any(TensorInfo::is_bias) {
        ": it is declared `bias = false`, leave that out to read the file's bias"
    } else if (name == "weight" || name == "bias")
        && !weighted
        && (expected.is_empty() || has(|n| n.starts_with("running_")))
    {
        ": it is declared `affine = false`, leave that out to read the file's weight and bias"
    } else {
        ""
    }
}

/// `the one layer` or `every one of the 3 layers`.
#[cfg(feature = "alloc")]
struct EveryLayer(usize);

#[cfg(feature = "alloc")]
impl core::fmt::Display for EveryLayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            1 => f.write_str("the one layer"),
            n => write!(f, "every one of the {n} layers"),
        }
    }
}

/// A layer's tensors under a prefix: `` `<k>.weight` and `<k>.bias` ``, `` `a`, `b` and `c` ``.
#[cfg(feature = "alloc")]
struct Names<'a>(&'a str, &'a [TensorInfo]);

#[cfg(feature = "alloc")]
impl core::fmt::Display for Names<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self(prefix, tensors) = *self;
        if tensors.is_empty() {
            return f.write_str("no tensors");
        }
        for (index, tensor) in tensors.iter().enumerate() {
            if index > 0 {
                f.write_str(if index + 1 == tensors.len() {
                    " and "
                } else {
                    ", "
                })?;
            }
            write!(f, "`{prefix}.{}`", tensor.name)?;
        }
        Ok(())
    }
}

/// For a dense layer's weight (`kind` `Dense`; in an int8 twin's file, whose `kind` is `None`,
/// `<k>.weight`: its only 2-D tensors), the layout it must have and, when `found` is
/// `expected` transposed, how to save it transposed: as a contiguous copy. `safetensors.numpy` writes a transposed view
/// (`coefs_[k].T`) in its untransposed order under the transposed shape, so that the file loads
/// and is silently wrong; `safetensors.torch` refuses a non-contiguous tensor. Other tensors
/// get no hint.
#[cfg(feature = "alloc")]
fn shape_hint(
    kind: Option<LayerKind>,
    tensor: &str,
    expected: &[usize],
    found: &[usize],
) -> &'static str {
    let dense_weight = match kind {
        Some(kind) => kind == LayerKind::Dense,
        None => tensor.ends_with(".weight"),
    };
    if !dense_weight {
        return "";
    }
    match (expected, found) {
        ([o, i], [a, b]) if o == b && i == a && o != i => {
            " ([outputs, inputs], the layout of PyTorch's `Linear.weight`): the tensor is transposed, save `np.ascontiguousarray(coefs_[k].T)` from scikit-learn or `weight.T.contiguous()` from PyTorch (a bare `.T` is a view, which `safetensors.numpy` writes untransposed)"
        }
        ([_, _], _) => " ([outputs, inputs], the layout of PyTorch's `Linear.weight`)",
        _ => "",
    }
}

#[cfg(feature = "safetensors")]
impl Error {
    /// Whether the message says which declaration would read the file (`bias = false`,
    /// `affine = false`): of two loaders' errors, the one to show.
    pub(crate) fn hints(&self) -> bool {
        match self {
            Self::MissingLayer { kind, .. } => !missing_layer_hint(*kind).is_empty(),
            Self::MissingTensor { kind, tensor, .. } => !missing_hint(*kind, tensor).is_empty(),
            Self::ExtraTensor {
                tensor, expected, ..
            } => !extra_hint(tensor, expected).is_empty(),
            _ => false,
        }
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
            "layer `layer0`: expected room for exactly 1 output, found 0"
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
            "unexpected tensor `1.weight`: the one layer already has its tensors"
        );
        assert_eq!(
            unexpected(2).to_string(),
            "unexpected tensor `1.weight`: every one of the 2 layers already has its tensors"
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn a_missing_layer_names_its_tensors() {
        use crate::{Dense, Tensors};
        let missing = |expected| Error::MissingLayer {
            layer: "hidden",
            kind: crate::LayerKind::Dense,
            index: 1,
            count: 3,
            expected,
            tensors: "`0.weight`".to_string(),
        };
        assert_eq!(
            missing(<Dense<2, 3, f32> as Tensors>::TENSORS).to_string(),
            "no tensors for layer `hidden` (layer 1 of 3): expected `<k>.weight` and `<k>.bias` \
             for an integer `k`, as `nn.Sequential` names them, or `hidden.weight` and \
             `hidden.bias` (a layer declared `as fc1` or `as encoder.0` reads PyTorch's module \
             `fc1` or `encoder.0`); the file has `0.weight`"
        );
        let three = [Dense::<2, 3, f32>::TENSORS[0]; 3];
        let three: &'static [crate::TensorInfo] =
            std::boxed::Box::leak(std::boxed::Box::new(three));
        assert!(
            missing(three)
                .to_string()
                .contains("or `hidden.weight`, `hidden.weight` and `hidden.weight` (")
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn only_a_dense_weight_gets_the_transpose_hint() {
        use crate::network::LayerKind;
        use std::vec;
        let shape = |kind, tensor: &str, expected: [usize; 2]| Error::Shape {
            layer: "layer0",
            kind,
            tensor: tensor.to_string(),
            expected: vec![expected[0], expected[1]],
            found: vec![expected[1], expected[0]],
        };
        let dense = Some(LayerKind::Dense);
        for (kind, weight) in [
            (dense, "0.weight"),
            (dense, "weights"),
            (None, "hidden.weight"),
        ] {
            assert!(
                shape(kind, weight, [3, 2])
                    .to_string()
                    .contains("the tensor is transposed")
            );
        }
        // A matrix of another kind of tensor is not a `Linear.weight`: a `layernorm`'s weight
        // over a 2-D input, or an int8 file's other tensor.
        assert_eq!(
            shape(Some(LayerKind::LayerNorm), "0.weight", [3, 2]).to_string(),
            "layer `layer0`: tensor `0.weight` has shape [2, 3], expected [3, 2]"
        );
        assert_eq!(
            shape(None, "0.other", [3, 2]).to_string(),
            "layer `layer0`: tensor `0.other` has shape [2, 3], expected [3, 2]"
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn debug_keeps_the_hint() {
        use crate::network::LayerKind;
        use std::vec;
        let error = Error::Shape {
            layer: "layer0",
            kind: Some(LayerKind::Dense),
            tensor: "0.weight".to_string(),
            expected: vec![128, 784],
            found: vec![784, 128],
        };
        let debug = format!("{error:?}");
        assert_eq!(debug, error.to_string());
        assert!(debug.contains("the tensor is transposed"), "{debug}");
        assert_eq!(
            format!("{error:#?}"),
            "Shape {\n    layer: \"layer0\",\n    kind: Some(\n        Dense,\n    ),\n    tensor: \"0.weight\",\n    expected: [\n        128,\n        784,\n    ],\n    found: [\n        784,\n        128,\n    ],\n}"
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
