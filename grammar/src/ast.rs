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
    /// The input width, as written.
    pub input: Word,
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
    /// The number of neurons, as written.
    pub width: Word,
    /// The activation, if any (none means linear).
    pub activation: Option<Activation>,
    /// The name after `as`, if any.
    pub name: Option<Word>,
    /// The whole layer.
    pub range: TextRange,
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
