//! A checked network: every width is a valid number, every activation known, every option
//! understood. This is what code generation consumes.

use crate::ast::TextRange;
use core::fmt;

/// Largest width a layer (or the input) may have.
pub const MAX_WIDTH: usize = 1 << 20;
/// Most layers a network may have.
pub const MAX_LAYERS: usize = 256;
/// Most parameters (weights and biases) a network may have: 512 MiB of `f32`.
pub const MAX_PARAMETERS: usize = 1 << 27;
/// Most multiply-adds a network may have with `unroll = full` (one statement each).
pub const MAX_FULL_UNROLL: usize = 4096;

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

    /// Multiply-adds in one forward pass.
    pub fn multiply_adds(&self) -> usize {
        self.layers.iter().map(Layer::multiply_adds).sum()
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// Fully connected: every output reads every input (`Linear` in PyTorch). Input and output
    /// are vectors.
    Dense,
}

impl LayerKind {
    /// The name of the kind, as summaries print it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
        }
    }
}

/// One layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// The name after `as`, else `layer{index}`; a Rust field name and the weight-file key.
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
    /// The whole layer, `-> 128 relu as hidden`.
    pub range: TextRange,
}

impl Layer {
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
            range,
        }
    }

    /// Trained values: for a dense layer, weights plus biases.
    pub fn parameters(&self) -> usize {
        match self.kind {
            LayerKind::Dense => {
                self.input.elements() * self.output.elements() + self.output.elements()
            }
        }
    }

    /// Multiply-adds in one forward pass; for a dense layer, its number of weights.
    pub fn multiply_adds(&self) -> usize {
        match self.kind {
            LayerKind::Dense => self.input.elements() * self.output.elements(),
        }
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
    /// `ln(1 + exp(x))`.
    Softplus,
    /// `exp(x_i) / sum_j exp(x_j)` over the layer; last layer only.
    Softmax,
    /// `x_i - ln(sum_j exp(x_j))` over the layer; last layer only.
    LogSoftmax,
}

impl Activation {
    /// Every activation name the language knows.
    pub const NAMES: [&'static str; 11] = [
        "linear",
        "relu",
        "leaky_relu",
        "elu",
        "sigmoid",
        "tanh",
        "silu",
        "gelu",
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
            Self::Relu | Self::LeakyRelu { .. } | Self::Elu { .. } | Self::Silu | Self::Gelu
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

/// How dense layers become code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Unroll {
    /// Const-bounded loops in vector-friendly order in the runtime (fastest; the default).
    #[default]
    Loops,
    /// One expression per multiply-add, written out in the generated code (tiny layers).
    Full,
}
