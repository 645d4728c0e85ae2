//! The syntax tree of one declaration, as written, with the byte range of every piece.
//!
//! Nothing here is validated beyond syntax: widths and arguments keep their text so that
//! [`crate::check`] can say precisely what is wrong with them.

/// Byte range in the text the AST came from (not a `proc_macro2::Span`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TextRange {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl TextRange {
    /// The range from `start` to `end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest range covering `self` and `other`.
    #[must_use]
    pub fn cover(self, other: Self) -> Self {
        Self::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A piece of source text and where it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The text, exactly as written.
    pub text: String,
    /// Where it was written.
    pub range: TextRange,
}

/// `pub struct Mnist = 784 -> 128 relu -> 10 softmax with scalar = f64;`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// `///` doc comments (only in `.nn` files; the macro receives them as attributes).
    pub docs: Vec<String>,
    /// `pub`, `pub(crate)`, ... as written, if any.
    pub visibility: Option<Word>,
    /// The struct's name.
    pub name: Word,
    /// The input as written: a width (`784`) or a shape (`[1, 28, 28]`, its text normalised to
    /// single spaces after commas).
    pub input: Word,
    /// The sizes of an input written as a shape, `None` for a bare width.
    pub input_shape: Option<Vec<Word>>,
    /// An activation written on the input (always an error, kept to point at it).
    pub input_activation: Option<Activation>,
    /// The layers, in order.
    pub layers: Vec<Layer>,
    /// Options after `with`.
    pub settings: Vec<Setting>,
    /// The whole declaration.
    pub range: TextRange,
}

/// `-> 128 relu as hidden`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// The `->` token.
    pub arrow: TextRange,
    /// The number of neurons of a dense layer (`128`), or the name of another kind (`conv2d`,
    /// `flatten`), as written.
    pub width: Word,
    /// A kind's arguments in parentheses (`conv2d(6, 5, padding = 2)`); `None` without
    /// parentheses.
    pub arguments: Option<Vec<Argument>>,
    /// The activation, if any (none means linear).
    pub activation: Option<Activation>,
    /// The name after `as`, if any.
    pub name: Option<Word>,
    /// The whole layer.
    pub range: TextRange,
}

/// `5`, `(3, 5)`, `padding = 2`, `padding = same`: one argument of a layer kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Argument {
    /// The name before `=`, if any.
    pub name: Option<Word>,
    /// The value.
    pub value: Value,
    /// The whole argument.
    pub range: TextRange,
}

/// The value of a layer kind's argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `5`, `-0.5`, `1e-3`, as written.
    Number(Word),
    /// `(3, 5)`: its numbers, and the range of the parentheses.
    Tuple(Vec<Word>, TextRange),
    /// A word such as `same`.
    Symbol(Word),
}

impl Value {
    /// Where the value was written.
    pub fn range(&self) -> TextRange {
        match self {
            Self::Number(word) | Self::Symbol(word) => word.range,
            Self::Tuple(_, range) => *range,
        }
    }
}

/// `relu`, `leaky_relu(0.1)`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// The activation's name.
    pub name: Word,
    /// Arguments in parentheses; `None` when there are no parentheses.
    pub arguments: Option<Vec<Word>>,
    /// The name and its arguments.
    pub range: TextRange,
}

/// `scalar = f64`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The option's name.
    pub key: Word,
    /// Its value as written (a string keeps its quotes).
    pub value: Word,
    /// The whole setting.
    pub range: TextRange,
}
