//! A checked network: every width is a valid number, every activation known, every option
//! understood. This is what code generation consumes.

use crate::ast::TextRange;
use core::fmt;

/// Largest width a layer (or the input) may have.
pub const MAX_WIDTH: usize = 1 << 20;
/// Most values a causal `conv1d` may keep of a stream, `(kernel - 1) * dilation` inputs of its
/// channels: 4 MiB of `f32` in each stream's state.
pub const MAX_HISTORY: usize = 1 << 20;
/// Most layers a network may have.
pub const MAX_LAYERS: usize = 256;
/// Most parameters (weights and biases) a network may have: 512 MiB of `f32`.
pub const MAX_PARAMETERS: usize = 1 << 27;
/// Most multiply-adds a network may have with `unroll = full` (one statement each).
pub const MAX_FULL_UNROLL: usize = 4096;
/// Most stacked levels a recurrent layer may have (`lstm(32, layers = 8)`), as the runtime's
/// `layers::MAX_LEVELS`.
pub const MAX_RECURRENT_LEVELS: usize = 8;

/// A network that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// `///` docs from a `.nn` file (the macro passes its attributes separately).
    pub docs: Vec<String>,
    /// `pub`, `pub(crate)`, ... or empty for private.
    pub visibility: String,
    /// The struct's name.
    pub name: String,
    /// Where the name was written.
    pub name_range: TextRange,
    /// The input's shape.
    pub input: Shape,
    /// Where the input width was written.
    pub input_range: TextRange,
    /// The layers, input to output; never empty.
    pub layers: Vec<Layer>,
    /// Element type of weights, inputs and outputs.
    pub scalar: Scalar,
    /// How dense layers are turned into code.
    pub unroll: Unroll,
    /// Path of the runtime in generated code, `None` for the default `::nn::__private`.
    pub runtime: Option<String>,
    /// A safetensors file (relative to the crate root) to bake in as constants.
    pub weights: Option<(String, TextRange)>,
    /// The smaller-number twins to generate beside the network (`quantize = int8`), in the
    /// order written, each with where its value was written: at most one per format
    /// (`quantize = int8, quantize = bf16` makes both twins).
    pub quantize: Vec<(Quantize, TextRange)>,
    /// The whole declaration.
    pub range: TextRange,
}

impl Network {
    /// The output's shape (the last layer's).
    pub fn output(&self) -> Shape {
        self.layers.last().map_or(self.input, |l| l.output)
    }

    /// Weights plus biases over all layers.
    pub fn parameters(&self) -> usize {
        self.layers.iter().map(Layer::parameters).sum()
    }

    /// Multiply-adds in one forward pass (one time step, for a sequence network).
    pub fn multiply_adds(&self) -> usize {
        self.layers.iter().map(Layer::multiply_adds).sum()
    }

    /// Whether the network runs over time steps with state between them: it has a recurrent
    /// layer or a causal convolution. Its input and output are then one time step's.
    pub fn is_sequence(&self) -> bool {
        self.layers.iter().any(|l| l.kind.is_stateful())
    }

    /// Whether the network has a training half (`<Name>Gradients` and the methods that fill
    /// it): its output is a vector, which the losses read, and every layer's kind has a
    /// backward pass.
    pub fn trains(&self) -> bool {
        self.output().rank() == 1 && self.layers.iter().all(|layer| layer.kind.trains())
    }

    /// The Rust types the network's code defines, each with what it is: the struct,
    /// `<Name>Gradients` when it [trains](Self::trains), for a sequence network
    /// `<Name>State`, and each twin (`<Name>Int8`, `<Name>Bf16`, `<Name>F16`).
    pub fn type_names(&self) -> Vec<(String, &'static str)> {
        let mut names = vec![(self.name.clone(), "the network")];
        if self.trains() {
            names.push((format!("{}Gradients", self.name), "its gradients"));
        }
        if self.is_sequence() {
            names.push((format!("{}State", self.name), "its state"));
        }
        for (twin, _) in &self.quantize {
            names.push((format!("{}{}", self.name, twin.suffix()), twin.twin()));
        }
        names
    }

    /// Values of one stream's state: the hidden state (and an LSTM's cell state) of every
    /// level of every recurrent layer, and the inputs each causal convolution keeps; 0 for a
    /// network that is not a sequence network.
    pub fn state_values(&self) -> usize {
        self.layers.iter().map(Layer::state_values).sum()
    }
}

/// The shape of a layer's input or output: rank 1 to 3, in PyTorch's channel-first order
/// (`[C]`, `[C, L]`, `[C, H, W]`). Generated code holds it as nested arrays, outermost first
/// (`[[[T; W]; H]; C]`).
///
/// ```
/// use nn_grammar::Shape;
/// let image = Shape::new(&[3, 32, 28]).unwrap();
/// assert_eq!((image.rank(), image.elements()), (3, 2688));
/// assert_eq!(image.to_string(), "[3, 32, 28]");
/// assert_eq!((image.width(), Shape::vector(10).width()), (None, Some(10)));
/// assert_eq!(Shape::new(&[]), None);
/// assert_eq!(Shape::new(&[1, 2, 3, 4]), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// The sizes, outermost first; the first `rank` are used, the rest are 1.
    dims: [usize; 3],
    /// How many sizes there are, 1 to 3.
    rank: usize,
}

impl Shape {
    /// Highest rank a shape may have.
    pub const MAX_RANK: usize = 3;

    /// The shape `[width]`: a vector, what dense layers read and write.
    pub fn vector(width: usize) -> Self {
        Self {
            dims: [width, 1, 1],
            rank: 1,
        }
    }

    /// The shape with these sizes, outermost first; `None` unless there are 1 to 3 of them.
    pub fn new(dims: &[usize]) -> Option<Self> {
        if dims.is_empty() || dims.len() > Self::MAX_RANK {
            return None;
        }
        let mut all = [1; 3];
        all[..dims.len()].copy_from_slice(dims);
        Some(Self {
            dims: all,
            rank: dims.len(),
        })
    }

    /// The sizes, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }

    /// How many sizes: 1 to 3.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of values: the product of the sizes.
    pub fn elements(&self) -> usize {
        self.dims().iter().product()
    }

    /// The size of a vector (rank 1), `None` for a higher rank.
    pub fn width(&self) -> Option<usize> {
        (self.rank == 1).then_some(self.dims[0])
    }
}

/// `[784]`, `[3, 32, 32]`: as PyTorch prints a shape's sizes.
impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (index, size) in self.dims().iter().enumerate() {
            if index > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{size}")?;
        }
        write!(f, "]")
    }
}

/// What a layer computes, with what the kind alone needs; its input and output shapes are on
/// the [`Layer`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerKind {
    /// Fully connected: every output reads every input (`Linear` in PyTorch). Input and output
    /// are vectors.
    Dense,
    /// 2-D convolution, as `nn.Conv2d`: `[C, H, W]` to `[out_channels, OH, OW]`.
    Conv2d(Conv2d),
    /// 1-D convolution, as `nn.Conv1d`: `[C, L]` to `[out_channels, OL]`.
    Conv1d(Conv1d),
    /// 2-D maximum pooling, as `nn.MaxPool2d`: each channel separately.
    MaxPool2d(Pool2d),
    /// 2-D average pooling, as `nn.AvgPool2d` (`count_include_pad`).
    AvgPool2d(Pool2d),
    /// 1-D maximum pooling, as `nn.MaxPool1d`.
    MaxPool1d(Pool1d),
    /// 1-D average pooling, as `nn.AvgPool1d` (`count_include_pad`).
    AvgPool1d(Pool1d),
    /// The mean of each channel: `[C, ...]` to `[C]`.
    GlobalAvgPool,
    /// The maximum of each channel: `[C, ...]` to `[C]`.
    GlobalMaxPool,
    /// A sample as one vector, in `torch.flatten(x, 1)`'s order.
    Flatten,
    /// `nn.Dropout(p)`: the identity at inference.
    Dropout {
        /// The probability of zeroing a value in training, `0 <= p < 1`.
        p: f64,
    },
    /// Batch normalisation, as `nn.BatchNorm1d(C)` on `[C]`
    /// or `[C, L]` and `nn.BatchNorm2d(C)` on `[C, H, W]`: the shape is kept.
    BatchNorm {
        /// Added to the running variance, `> 0` (PyTorch's default `1e-5`).
        eps: f64,
        /// How much one training batch moves the running statistics, `0..=1` (PyTorch's default
        /// 0.1); inference does not read it.
        momentum: f64,
    },
    /// Layer normalisation over all of a sample's values, as `nn.LayerNorm(shape)` with an
    /// elementwise weight and bias of the sample's shape: the shape is kept.
    LayerNorm {
        /// Added to the variance, `> 0` (PyTorch's default `1e-5`).
        eps: f64,
    },
    /// A recurrent layer, as `nn.LSTM`, `nn.GRU` or `nn.RNN` with `batch_first = True`: reads
    /// a vector at each time step and writes its last level's hidden state, `[hidden]`,
    /// keeping state from one step to the next.
    Recurrent(Recurrent),
    /// A causal 1-D convolution over time steps (`conv1d(..., causal)`), as `nn.Conv1d` with
    /// `(kernel - 1) * dilation` zeros of padding before the first step only: reads a vector
    /// at each step (the channels) and writes `[out_channels]`, keeping the last
    /// `(kernel - 1) * dilation` inputs. Stride 1, no other padding.
    CausalConv1d(Conv1d),
}

impl LayerKind {
    /// The name of the kind, as the language writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
            Self::Conv2d(_) => "conv2d",
            Self::Conv1d(_) | Self::CausalConv1d(_) => "conv1d",
            Self::MaxPool2d(_) => "maxpool2d",
            Self::AvgPool2d(_) => "avgpool2d",
            Self::MaxPool1d(_) => "maxpool1d",
            Self::AvgPool1d(_) => "avgpool1d",
            Self::GlobalAvgPool => "global_avgpool",
            Self::GlobalMaxPool => "global_maxpool",
            Self::Flatten => "flatten",
            Self::Dropout { .. } => "dropout",
            Self::BatchNorm { .. } => "batchnorm",
            Self::LayerNorm { .. } => "layernorm",
            Self::Recurrent(recurrent) => recurrent.cell.name(),
        }
    }

    /// Whether the kind keeps state from one time step to the next: it makes a sequence
    /// network.
    pub fn is_stateful(self) -> bool {
        matches!(self, Self::Recurrent(_) | Self::CausalConv1d(_))
    }

    /// Whether the generated backward pass supports it: every kind listed here (recurrent
    /// layers and causal convolutions through `accumulate_sequence`); a kind added later trains
    /// once it is listed.
    pub fn trains(self) -> bool {
        matches!(
            self,
            Self::Dense
                | Self::Conv2d(_)
                | Self::Conv1d(_)
                | Self::MaxPool2d(_)
                | Self::AvgPool2d(_)
                | Self::MaxPool1d(_)
                | Self::AvgPool1d(_)
                | Self::GlobalAvgPool
                | Self::GlobalMaxPool
                | Self::Flatten
                | Self::Dropout { .. }
                | Self::LayerNorm { .. }
                | Self::BatchNorm { .. }
                | Self::Recurrent(_)
                | Self::CausalConv1d(_)
        )
    }
}

/// The arguments of a recurrent layer, with the meaning of PyTorch's `nn.LSTM(input_size,
/// hidden_size, num_layers)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recurrent {
    /// The cell each level computes.
    pub cell: Cell,
    /// Values of the hidden state (`hidden_size`), the layer's output width.
    pub hidden: usize,
    /// Stacked levels (`num_layers`), 1 to [`MAX_RECURRENT_LEVELS`]: each level after the
    /// first reads the one below's hidden state.
    pub layers: usize,
}

impl Recurrent {
    /// Trained values of a layer reading `inputs` values a step: per level, `gates * hidden`
    /// rows of input and hidden weights and two biases (`bias_ih`, `bias_hh`), as PyTorch.
    pub fn parameters(&self, inputs: usize) -> usize {
        let rows = self.cell.gates().saturating_mul(self.hidden);
        (0..self.layers)
            .map(|level| {
                let reads = if level == 0 { inputs } else { self.hidden };
                rows.saturating_mul(reads.saturating_add(self.hidden).saturating_add(2))
            })
            .fold(0, usize::saturating_add)
    }

    /// Values of one stream's state: `hidden` per level, twice for an LSTM (`h` and `c`).
    pub fn state_values(&self) -> usize {
        let per_level = if self.cell == Cell::Lstm { 2 } else { 1 };
        per_level * self.hidden * self.layers
    }

    /// Multiply-adds of one time step: every weight once.
    pub fn multiply_adds(&self, inputs: usize) -> usize {
        let rows = self.cell.gates().saturating_mul(self.hidden);
        (0..self.layers)
            .map(|level| {
                let reads = if level == 0 { inputs } else { self.hidden };
                rows.saturating_mul(reads.saturating_add(self.hidden))
            })
            .fold(0, usize::saturating_add)
    }
}

/// What a recurrent layer computes at each step, with PyTorch's formulas and gate orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// `nn.LSTM`: gates i, f, g, o; hidden and cell state.
    Lstm,
    /// `nn.GRU`: gates r, z, n, the candidate `tanh(W_in x + b_in + r * (W_hn h + b_hn))`.
    Gru,
    /// `nn.RNN`: `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`, or `relu` of it.
    Rnn {
        /// `nonlinearity = 'relu'` rather than PyTorch's default `tanh`.
        relu: bool,
    },
}

impl Cell {
    /// The kind's name in the language: `lstm`, `gru`, `rnn`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lstm => "lstm",
            Self::Gru => "gru",
            Self::Rnn { .. } => "rnn",
        }
    }

    /// Rows of the weights per hidden value: 4 for an LSTM, 3 for a GRU, 1 for an RNN.
    pub fn gates(self) -> usize {
        match self {
            Self::Lstm => 4,
            Self::Gru => 3,
            Self::Rnn { .. } => 1,
        }
    }
}

/// The arguments of a 2-D convolution, each `[height, width]`, with `nn.Conv2d`'s meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Zeros before the first and after the last value.
    pub padding: [usize; 2],
    /// Step between the taps of a window.
    pub dilation: [usize; 2],
    /// Input and output channels split into this many independent groups.
    pub groups: usize,
}

impl Conv2d {
    /// The output's `[height, width]` for an input of `[height, width]`, as PyTorch computes
    /// it, or `None` when the (dilated) kernel is larger than the padded input or a stride or
    /// dilation is 0.
    pub fn output_size(&self, input: [usize; 2]) -> Option<[usize; 2]> {
        let axis = |i: usize| {
            window(
                input[i],
                self.kernel[i],
                self.stride[i],
                self.padding[i],
                self.dilation[i],
            )
        };
        Some([axis(0)?, axis(1)?])
    }
}

/// The arguments of a 1-D convolution, with `nn.Conv1d`'s meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1d {
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros before the first and after the last value.
    pub padding: usize,
    /// Step between the taps of a window.
    pub dilation: usize,
    /// Input and output channels split into this many independent groups.
    pub groups: usize,
}

impl Conv1d {
    /// The output's length, or `None` as [`Conv2d::output_size`].
    pub fn output_size(&self, input: usize) -> Option<usize> {
        window(input, self.kernel, self.stride, self.padding, self.dilation)
    }
}

/// The arguments of a 1-D pool, with `nn.MaxPool1d`'s meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool1d {
    /// Window size.
    pub kernel: usize,
    /// Step between windows (the kernel by default).
    pub stride: usize,
    /// Padding before the first and after the last value (at most half the kernel).
    pub padding: usize,
}

impl Pool1d {
    /// The output's length, or `None` as [`Pool2d::output_size`].
    pub fn output_size(&self, input: usize) -> Option<usize> {
        if self.padding * 2 > self.kernel {
            return None;
        }
        window(input, self.kernel, self.stride, self.padding, 1)
    }
}

/// The arguments of a 2-D pool, each `[height, width]`, with `nn.MaxPool2d`'s meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    /// Window size.
    pub kernel: [usize; 2],
    /// Step between windows (the kernel by default).
    pub stride: [usize; 2],
    /// Padding before the first and after the last value (at most half the kernel).
    pub padding: [usize; 2],
}

impl Pool2d {
    /// The output's `[height, width]`, or `None` when the window is larger than the padded
    /// input, a size or stride is 0, or a padding is more than half the kernel.
    pub fn output_size(&self, input: [usize; 2]) -> Option<[usize; 2]> {
        let axis = |i: usize| {
            if self.padding[i] * 2 > self.kernel[i] {
                return None;
            }
            window(input[i], self.kernel[i], self.stride[i], self.padding[i], 1)
        };
        Some([axis(0)?, axis(1)?])
    }
}

/// `(input + 2 padding - dilation (kernel - 1) - 1) / stride + 1`, PyTorch's output size, or
/// `None` when it is not at least 1 or an argument is 0.
fn window(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return None;
    }
    let padded = input.checked_add(padding.checked_mul(2)?)?;
    let span = dilation.checked_mul(kernel - 1)?.checked_add(1)?;
    let room = padded.checked_sub(span)?;
    Some(room / stride + 1)
}

/// One layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// The name after `as`, else `layer{index}`: the weight-file key, and, its `.` as `_`, the
    /// Rust field ([`Layer::field`]). A module path (`encoder.0`) names a module of a nested
    /// PyTorch model.
    pub name: String,
    /// Whether the user wrote the name.
    pub named: bool,
    /// What the layer computes.
    pub kind: LayerKind,
    /// The shape it reads (the previous layer's output, or the network's input).
    pub input: Shape,
    /// The shape it writes.
    pub output: Shape,
    /// Applied to the layer's outputs.
    pub activation: Activation,
    /// `false` for a layer declared with `bias = false` (PyTorch's `bias=False`): a dense,
    /// convolution, recurrent or `layernorm` layer without its bias tensors
    /// ([`Layer::bias_values`]), which files then do not hold. `true` for every other layer,
    /// kinds without a bias included.
    pub bias: bool,
    /// `false` for a normalisation declared with `affine = false` (PyTorch's `affine=False`,
    /// `elementwise_affine=False`): no weight and no bias, which files then do not hold (it
    /// normalises with a scale of one). `true` for every other layer.
    pub affine: bool,
    /// The whole layer, `-> 128 relu as hidden`.
    pub range: TextRange,
}

impl Layer {
    /// The Rust field of the layer: its name, a module path's `.` as `_` (`encoder.0` is
    /// `encoder_0`).
    pub fn field(&self) -> String {
        self.name.replace('.', "_")
    }

    /// A dense layer from `inputs` to `outputs` neurons.
    pub fn dense(
        name: String,
        named: bool,
        inputs: usize,
        outputs: usize,
        activation: Activation,
        range: TextRange,
    ) -> Self {
        Self {
            name,
            named,
            kind: LayerKind::Dense,
            input: Shape::vector(inputs),
            output: Shape::vector(outputs),
            activation,
            bias: true,
            affine: true,
            range,
        }
    }

    /// Trained values: for a dense layer, weights plus biases; for a convolution, its kernels
    /// plus biases; for a normalisation, its weight and bias (a batchnorm's running statistics
    /// are buffers, which PyTorch's `parameters()` leaves out, and so does this count); none
    /// for pools, `flatten` and `dropout`.
    pub fn parameters(&self) -> usize {
        let all = self.parameters_with_bias();
        // `affine = false`, a normalisation's: no parameters at all, only buffers.
        if !self.affine {
            0
        } else if self.bias {
            all
        } else {
            all - self.bias_values()
        }
    }

    /// The values of the layer's bias tensors when it has them: a dense layer's outputs, a
    /// convolution's out channels, a recurrent layer's `bias_ih` and `bias_hh` of each level, a
    /// layernorm's input; 0 for the kinds without a bias, or (batchnorm) that cannot go without
    /// it alone.
    pub fn bias_values(&self) -> usize {
        match self.kind {
            LayerKind::Dense => self.output.elements(),
            LayerKind::Conv2d(conv) => conv.out_channels,
            LayerKind::Conv1d(conv) | LayerKind::CausalConv1d(conv) => conv.out_channels,
            LayerKind::Recurrent(recurrent) => {
                2 * recurrent.layers * recurrent.cell.gates() * recurrent.hidden
            }
            LayerKind::LayerNorm { .. } => self.input.elements(),
            _ => 0,
        }
    }

    /// [`Layer::parameters`] counting the bias of a layer declared without one.
    fn parameters_with_bias(&self) -> usize {
        match self.kind {
            LayerKind::Dense => {
                self.input.elements() * self.output.elements() + self.output.elements()
            }
            LayerKind::Conv2d(conv) => self
                .conv_weights(
                    conv.out_channels,
                    conv.groups,
                    conv.kernel[0] * conv.kernel[1],
                )
                .saturating_add(conv.out_channels),
            LayerKind::Conv1d(conv) | LayerKind::CausalConv1d(conv) => self
                .conv_weights(conv.out_channels, conv.groups, conv.kernel)
                .saturating_add(conv.out_channels),
            LayerKind::BatchNorm { .. } => 2 * self.input.dims()[0],
            LayerKind::LayerNorm { .. } => 2 * self.input.elements(),
            LayerKind::Recurrent(recurrent) => recurrent.parameters(self.input.elements()),
            _ => 0,
        }
    }

    /// Multiply-adds in one forward pass: for a dense layer, its number of weights; for a
    /// convolution, its kernels' taps times the output's positions; for a batchnorm, one per
    /// value (its statistics fold into `x * a + b`); for a layernorm, two per value (the
    /// variance's squares, then the scale); for a recurrent layer, its weights (one time
    /// step); none for pools, `flatten` and `dropout`.
    pub fn multiply_adds(&self) -> usize {
        match self.kind {
            LayerKind::Dense => self.input.elements() * self.output.elements(),
            LayerKind::Conv2d(conv) => {
                let positions = self.output.elements() / conv.out_channels.max(1);
                self.conv_weights(
                    conv.out_channels,
                    conv.groups,
                    conv.kernel[0] * conv.kernel[1],
                )
                .saturating_mul(positions)
            }
            LayerKind::Conv1d(conv) => {
                let positions = self.output.elements() / conv.out_channels.max(1);
                self.conv_weights(conv.out_channels, conv.groups, conv.kernel)
                    .saturating_mul(positions)
            }
            LayerKind::BatchNorm { .. } => self.input.elements(),
            LayerKind::LayerNorm { .. } => 2 * self.input.elements(),
            LayerKind::Recurrent(recurrent) => recurrent.multiply_adds(self.input.elements()),
            LayerKind::CausalConv1d(conv) => {
                self.conv_weights(conv.out_channels, conv.groups, conv.kernel)
            }
            _ => 0,
        }
    }

    /// Values of one stream's state this layer keeps: a recurrent layer's hidden (and cell)
    /// states, a causal convolution's last `(kernel - 1) * dilation` inputs; 0 for the others.
    pub fn state_values(&self) -> usize {
        match self.kind {
            LayerKind::Recurrent(recurrent) => recurrent.state_values(),
            LayerKind::CausalConv1d(conv) => {
                (conv.kernel - 1) * conv.dilation * self.input.elements()
            }
            _ => 0,
        }
    }

    /// A convolution's weights: out channels times input channels per group times the
    /// kernel's taps.
    fn conv_weights(&self, out_channels: usize, groups: usize, taps: usize) -> usize {
        let in_per_group = self.input.dims()[0] / groups.max(1);
        out_channels
            .saturating_mul(in_per_group)
            .saturating_mul(taps)
    }
}

/// An activation function with its arguments resolved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `x`.
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `x` if positive, else `alpha * x`.
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f64,
    },
    /// `x` if positive, else `alpha * (exp(x) - 1)`.
    Elu {
        /// Scale of the negative part.
        alpha: f64,
    },
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `x * sigmoid(x)`.
    Silu,
    /// `x * Phi(x)`, with `Phi` the standard normal CDF (the exact form, as PyTorch's default).
    Gelu,
    /// GELU's `tanh` approximation, `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`:
    /// PyTorch's `nn.GELU(approximate="tanh")`.
    GeluTanh,
    /// `ln(1 + exp(x))`.
    Softplus,
    /// `exp(x_i) / sum_j exp(x_j)` over the layer; last layer only.
    Softmax,
    /// `x_i - ln(sum_j exp(x_j))` over the layer; last layer only.
    LogSoftmax,
}

impl Activation {
    /// Every activation name the language knows.
    pub const NAMES: [&'static str; 12] = [
        "linear",
        "relu",
        "leaky_relu",
        "elu",
        "sigmoid",
        "tanh",
        "silu",
        "gelu",
        "gelu_tanh",
        "softplus",
        "softmax",
        "log_softmax",
    ];

    /// The name as written in the language.
    pub fn name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Relu => "relu",
            Self::LeakyRelu { .. } => "leaky_relu",
            Self::Elu { .. } => "elu",
            Self::Sigmoid => "sigmoid",
            Self::Tanh => "tanh",
            Self::Silu => "silu",
            Self::Gelu => "gelu",
            Self::GeluTanh => "gelu_tanh",
            Self::Softplus => "softplus",
            Self::Softmax => "softmax",
            Self::LogSoftmax => "log_softmax",
        }
    }

    /// The name in `UpperCamelCase`, as the runtime's `Activation` variants and training markers
    /// spell it: `LeakyRelu` for `leaky_relu`.
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Linear => "Linear",
            Self::Relu => "Relu",
            Self::LeakyRelu { .. } => "LeakyRelu",
            Self::Elu { .. } => "Elu",
            Self::Sigmoid => "Sigmoid",
            Self::Tanh => "Tanh",
            Self::Silu => "Silu",
            Self::Gelu => "Gelu",
            Self::GeluTanh => "GeluTanh",
            Self::Softplus => "Softplus",
            Self::Softmax => "Softmax",
            Self::LogSoftmax => "LogSoftmax",
        }
    }

    /// Whether it mixes the whole layer (and so must come last).
    pub fn is_normalising(self) -> bool {
        matches!(self, Self::Softmax | Self::LogSoftmax)
    }

    /// Whether He initialisation suits it (the ReLU family); otherwise Xavier.
    pub fn is_relu_like(self) -> bool {
        matches!(
            self,
            Self::Relu
                | Self::LeakyRelu { .. }
                | Self::Elu { .. }
                | Self::Silu
                | Self::Gelu
                | Self::GeluTanh
        )
    }
}

/// Element type of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scalar {
    /// 32-bit float (the default).
    #[default]
    F32,
    /// 64-bit float.
    F64,
}

impl Scalar {
    /// The Rust type name.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F64 => "f64",
        }
    }
}

/// A smaller-number twin of a network (`with quantize = int8`): a second struct, made from a
/// trained network, that computes with smaller numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantize {
    /// `<Name>Int8`: `i8` weights, `u8` activations, `i32` sums.
    Int8,
    /// `<Name>Bf16`: bfloat16 weights, computed in `f32`.
    Bf16,
    /// `<Name>F16`: IEEE binary16 weights, computed in `f32`.
    F16,
}

impl Quantize {
    /// The option's value as written.
    pub fn name(self) -> &'static str {
        match self {
            Self::Int8 => "int8",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
        }
    }

    /// The twin's name: the network's with this suffix (`MnistInt8`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Int8 => "Int8",
            Self::Bf16 => "Bf16",
            Self::F16 => "F16",
        }
    }

    /// What the twin of this format is, for messages: `its int8 twin`.
    pub fn twin(self) -> &'static str {
        match self {
            Self::Int8 => "its int8 twin",
            Self::Bf16 => "its bf16 twin",
            Self::F16 => "its f16 twin",
        }
    }
}

/// Largest input a quantised dense layer may read: beyond it, a sum of `u8` times `i8`
/// products could overflow its `i32` accumulator.
pub const MAX_QUANTIZED_INPUTS: usize = 65_536;

/// Most weights of a convolution in a `bf16` or `f16` twin: each call widens them into a stack
/// copy of the `f32` layer (1 MiB at this limit), beside the activations on the same stack.
pub const MAX_HALF_CONV_WEIGHTS: usize = 1 << 18;

/// How dense layers become code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Unroll {
    /// Const-bounded loops in vector-friendly order in the runtime (fastest; the default).
    #[default]
    Loops,
    /// One expression per multiply-add, written out in the generated code (tiny layers).
    Full,
}
