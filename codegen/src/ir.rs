//! The lowered network: names resolved to Rust identifiers and paths, sizes computed, spans
//! attached, and every choice made (the scalar type's literals and size, each layer's kernel,
//! the chunk sizes of the batched methods). Emitting code from it needs no further decisions.

pub use nn_grammar::{Activation, Shape};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::ToTokens;

/// The size in bytes above which clippy's pedantic `large_stack_arrays` reports a local array:
/// chunks are sized to keep each local within it, so that generated code is clean in users'
/// crates.
pub(crate) const LARGE_STACK_ARRAY: usize = 16 * 1024;

/// A network ready to be emitted.
pub struct Network {
    /// The struct's identifier, spanned on the name in the declaration.
    pub name: Ident,
    /// Visibility tokens, possibly empty.
    pub visibility: TokenStream,
    /// Outer attributes to put on the struct (docs included).
    pub attributes: TokenStream,
    /// The scalar type.
    pub scalar: Scalar,
    /// Path to the runtime's `__private` module.
    pub runtime: TokenStream,
    /// The input's shape.
    pub input: Shape,
    /// The output's shape.
    pub output: Shape,
    /// Trained values over all layers.
    pub parameters: usize,
    /// Multiply-adds of one forward pass (how `forward_batch` judges a batch worth threads).
    pub multiply_adds: usize,
    /// The layers, input to output; never empty.
    pub layers: Vec<Layer>,
    /// Samples per chunk in `forward_batch`.
    pub batch_chunk: usize,
    /// Samples per chunk in `accumulate_batch`; 1 goes one sample at a time, through
    /// `accumulate_gradients`.
    pub training_chunk: usize,
    /// Whether every layer's kind has a backward pass and the output is a vector (what the
    /// losses read): otherwise no training code is emitted.
    pub trains: bool,
    /// For a sequence network (one with a recurrent layer), the streams of one chunk of
    /// `step_streams`; such a network has
    /// `step` and a state type instead of `forward` and `forward_batch`.
    pub sequence: Option<usize>,
    /// The twins to emit beside the network (`quantize = int8`, `bf16`, `f16`), in the order
    /// written, at most one per format.
    pub quantized: Vec<Quantized>,
    /// Span of the whole declaration.
    pub span: Span,
}

/// The smaller-number twin of a network (`<Name>Int8`, `<Name>Bf16`, `<Name>F16`): its numbers,
/// name and the chunk size of its `forward_batch`.
pub struct Quantized {
    /// The twin's numbers.
    pub kind: nn_grammar::Quantize,
    /// The twin's identifier, spanned on the option's value.
    pub name: Ident,
    /// Samples per chunk in an int8 twin's `forward_batch` (a half-precision twin's chunks are
    /// the `f32` network's, `batch_chunk`).
    pub chunk: usize,
    /// The first layer that an int8 twin's `forward_batch` runs on whole chunks: the dense
    /// layers at the end (with the dropouts without ReLU among them, nothing in inference);
    /// the layers before it run sample by sample into the chunk's rows.
    pub batched: usize,
}

impl Network {
    /// The layer that reads the input (a network has at least one layer).
    pub fn first_layer(&self) -> &Layer {
        &self.layers[0]
    }

    /// The layer that writes the output.
    pub fn last_layer(&self) -> &Layer {
        &self.layers[self.layers.len() - 1]
    }

    /// The twin in `format`, if the network has one.
    pub fn twin(&self, format: nn_grammar::Quantize) -> Option<&Quantized> {
        self.quantized.iter().find(|twin| twin.kind == format)
    }
}

/// The scalar type: its identifier (spanned on the declaration) and what emitting needs to
/// know of it. Quotes as its identifier.
pub struct Scalar {
    /// `f32` or `f64`.
    pub ident: Ident,
    /// Bytes of one value.
    pub bytes: usize,
    /// Which of the two.
    pub kind: nn_grammar::Scalar,
}

impl Scalar {
    /// The scalar type `kind`, its identifier spanned at `span`.
    pub fn new(kind: nn_grammar::Scalar, span: Span) -> Self {
        Self {
            ident: Ident::new(kind.name(), span),
            bytes: match kind {
                nn_grammar::Scalar::F32 => 4,
                nn_grammar::Scalar::F64 => 8,
            },
            kind,
        }
    }

    /// `value` as a literal of this type, suffixed (`0f32`).
    pub fn literal(&self, value: f64) -> Literal {
        match self.kind {
            // The user asked for an `f32` network: rounding is the point.
            #[allow(clippy::cast_possible_truncation)]
            nn_grammar::Scalar::F32 => Literal::f32_suffixed(value as f32),
            nn_grammar::Scalar::F64 => Literal::f64_suffixed(value),
        }
    }

    /// `value` as a literal without suffix, its type given by where it goes, printed as this
    /// type prints it (the shortest text that reads back exactly).
    pub fn unsuffixed(&self, value: f64) -> Literal {
        match self.kind {
            // Values baked in were rounded to `f32` when the file was read: this is exact.
            #[allow(clippy::cast_possible_truncation)]
            nn_grammar::Scalar::F32 => Literal::f32_unsuffixed(value as f32),
            nn_grammar::Scalar::F64 => Literal::f64_unsuffixed(value),
        }
    }
}

impl ToTokens for Scalar {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.ident.to_tokens(tokens);
    }
}

/// One layer.
pub struct Layer {
    /// Field and local variable name.
    pub field: Ident,
    /// Name as a string (for summaries, errors and weight files).
    pub name: String,
    /// Whether the declaration named the layer with `as`.
    pub named: bool,
    /// What the layer computes, with the choices made for it.
    pub kind: LayerKind,
    /// The shape it reads.
    pub input: Shape,
    /// The shape it writes.
    pub output: Shape,
    /// Applied to the outputs.
    pub activation: Activation,
    /// `false` for a layer declared with `bias = false`: its bias stays in the field, zero,
    /// and the `Network` and gradient visitors leave it out, so that files, summaries and
    /// optimizers never see it.
    pub bias: bool,
    /// `false` for a normalisation declared with `affine = false`: its weight (one, set by
    /// `Network::fill_fixed`) and bias (zero) stay in the field, left out as a hidden bias is.
    pub affine: bool,
    /// Span of the layer in the declaration.
    pub span: Span,
}

impl Layer {
    /// The tensors its declaration leaves out (`affine = false`, `bias = false`), as the
    /// runtime's `Hidden`; `None` when it keeps them all.
    pub fn hidden(&self, runtime: &TokenStream) -> Option<TokenStream> {
        if !self.affine {
            Some(quote::quote!(#runtime::Hidden::Parameters))
        } else if !self.bias {
            Some(quote::quote!(#runtime::Hidden::Biases))
        } else {
            None
        }
    }
}

/// What a layer computes. Each kind is emitted by its module of `layer/`, which
/// `layer::kind` picks: the one place that dispatches on this.
pub enum LayerKind {
    /// A fully connected layer.
    Dense(Dense),
    /// A 2-D convolution.
    Conv2d(Conv2d),
    /// A 1-D convolution.
    Conv1d(Conv1d),
    /// A pool, maximum or average, 1-D or 2-D.
    Pool(Pool),
    /// The maximum or mean of each channel.
    GlobalPool(GlobalPool),
    /// A sample as one vector.
    Flatten(Flatten),
    /// Dropout: the identity at inference.
    Dropout(Dropout),
    /// Batch normalisation with running statistics.
    BatchNorm(BatchNorm),
    /// Layer normalisation over a whole sample.
    LayerNorm(LayerNorm),
    /// An LSTM, GRU or RNN, with state between time steps.
    Recurrent(Recurrent),
    /// A 1-D convolution over time steps, keeping the last inputs.
    CausalConv1d(CausalConv1d),
}

/// `conv1d(..., causal)`: `Conv1d<OUT, IN_PER_GROUP, K, T>` in the runtime, stepped by
/// `step_causal` with a `ConvHistory<C, FRAMES, T>` per stream.
pub struct CausalConv1d {
    /// The layer's weights, as a 1-D convolution's (stride 1, no padding).
    pub conv: Conv1d,
    /// Channels read at each step.
    pub channels: usize,
    /// Inputs kept: `(kernel - 1) * dilation`.
    pub frames: usize,
}

/// `lstm`, `gru` or `rnn`: `Lstm<I, H, T, DEEPER>`, `Gru<I, H, T, DEEPER>` or
/// `Rnn<I, H, T, DEEPER, RELU>` in the runtime, its state `LstmState<H, T, DEEPER>` or
/// `HiddenState<H, T, DEEPER>`.
pub struct Recurrent {
    /// What each level computes.
    pub cell: nn_grammar::Cell,
    /// Values read at each step.
    pub inputs: usize,
    /// Values of the hidden state, the output's width.
    pub hidden: usize,
    /// Levels stacked above the first (PyTorch's `num_layers - 1`).
    pub deeper: usize,
}

/// `batchnorm`: `BatchNorm<C, T>` in the runtime (eval mode at inference, the batch's
/// statistics in training), on `[C]`, `[C, L]` or
/// `[C, H, W]`.
pub struct BatchNorm {
    /// Channels: the input's first size.
    pub channels: usize,
    /// Added to the running variance.
    pub eps: f64,
    /// How much one training batch moves the running statistics.
    pub momentum: f64,
    /// Whether the input is an image (`nn.BatchNorm2d`), else `nn.BatchNorm1d`.
    pub image: bool,
}

/// `layernorm`: `LayerNorm<S>` in the runtime, `S` the sample's array type.
pub struct LayerNorm {
    /// The sample's shape, which the weight and bias have too.
    pub shape: Shape,
    /// Added to the variance.
    pub eps: f64,
}

/// A 1-D convolution, `Conv1d<OUT, IN_PER_GROUP, K, T>` in the runtime, its geometry a
/// `Conv1dGeometry`.
pub struct Conv1d {
    /// Output channels.
    pub out_channels: usize,
    /// Input channels each output channel reads.
    pub in_per_group: usize,
    /// Taps of the kernel.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros before the first and after the last value.
    pub padding: usize,
    /// Step between the taps of a window.
    pub dilation: usize,
}

/// A 1-D or 2-D pool: the runtime's `maxpool2d`, `avgpool2d`, `maxpool1d` or `avgpool1d`.
pub struct Pool {
    /// The runtime function's name, as the language's (`maxpool2d`).
    pub function: &'static str,
    /// The geometry: `[height, width]` for 2-D, `[length]` for 1-D.
    pub geometry: PoolGeometry,
}

/// A pool's geometry, as `Pool2dGeometry` or `Pool1dGeometry`.
pub enum PoolGeometry {
    /// Kernel, stride and padding, each `[height, width]`.
    Two([usize; 2], [usize; 2], [usize; 2]),
    /// Kernel, stride and padding.
    One(usize, usize, usize),
}

/// `global_avgpool` or `global_maxpool`: the runtime's function of that name.
pub struct GlobalPool {
    /// The runtime function's name.
    pub function: &'static str,
}

/// `dropout(p)`: the runtime's `dropout` at inference, the identity; `train::dropout_train` in
/// training.
pub struct Dropout {
    /// The probability of zeroing a value in training.
    pub p: f64,
}

/// A 2-D convolution, `Conv2d<OUT, IN_PER_GROUP, KH, KW, T>` in the runtime, its geometry
/// passed as a value (`Conv2dGeometry`).
pub struct Conv2d {
    /// Output channels.
    pub out_channels: usize,
    /// Input channels each output channel reads (the input's channels over the groups).
    pub in_per_group: usize,
    /// `[height, width]` of the kernel.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Zeros before the first and after the last value.
    pub padding: [usize; 2],
    /// Step between the taps of a window.
    pub dilation: [usize; 2],
}

/// `flatten`: the runtime's function, no field.
pub struct Flatten;

/// A fully connected layer, `Dense<IN, OUT, T>` in the runtime.
pub struct Dense {
    /// Inputs of each neuron.
    pub inputs: usize,
    /// Neurons.
    pub outputs: usize,
    /// How `forward` computes it.
    pub forward: DenseForward,
}

/// How a dense layer's `forward` is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenseForward {
    /// The runtime's kernels (`unroll = loops`).
    Kernel,
    /// One multiply-add per term, written out in the generated code (`unroll = full`).
    Unrolled,
}
