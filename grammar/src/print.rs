//! Canonical `.nn` text: the `Display` of a declaration as written ([`ast::Item`]) and of a
//! checked [`Network`].
//!
//! Parsing what these print gives back the same declaration (with new byte ranges), so `nnc`
//! can format `.nn` files and tools can write out networks they build. Property tests check
//! this round trip on random declarations.

use crate::ast;
use crate::kinds::{DEFAULT_EPS, DEFAULT_MOMENTUM};
use crate::network::{Activation, Cell, Layer, LayerKind, Network, Scalar, Shape, Unroll};
use core::fmt;

impl fmt::Display for ast::Item {
    /// One `///` line per doc, then the declaration on one line, every word as written:
    /// `pub struct Mnist = 784 -> 128 relu as hidden -> 10 softmax with scalar = f64;`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for doc in &self.docs {
            writeln!(f, "///{doc}")?;
        }
        if let Some(visibility) = &self.visibility {
            write!(f, "{} ", visibility.text)?;
        }
        write!(f, "struct {} = {}", self.name.text, self.input.text)?;
        if let Some(activation) = &self.input_activation {
            write!(f, " {activation}")?;
        }
        for layer in &self.layers {
            write!(f, " {layer}")?;
        }
        for (index, setting) in self.settings.iter().enumerate() {
            let separator = if index == 0 { " with " } else { ", " };
            write!(f, "{separator}{setting}")?;
        }
        f.write_str(";")
    }
}

impl fmt::Display for ast::Layer {
    /// `-> 128 relu as hidden`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-> {}", self.width.text)?;
        if let Some(arguments) = &self.arguments {
            f.write_str("(")?;
            for (index, argument) in arguments.iter().enumerate() {
                let separator = if index == 0 { "" } else { ", " };
                f.write_str(separator)?;
                if let Some(name) = &argument.name {
                    write!(f, "{} = ", name.text)?;
                }
                match &argument.value {
                    ast::Value::Number(word) | ast::Value::Symbol(word) => {
                        f.write_str(&word.text)?;
                    }
                    ast::Value::Tuple(words, _) => {
                        let words: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
                        write!(f, "({})", words.join(", "))?;
                    }
                }
            }
            f.write_str(")")?;
        }
        if let Some(activation) = &self.activation {
            write!(f, " {activation}")?;
        }
        if let Some(name) = &self.name {
            write!(f, " as {}", name.text)?;
        }
        Ok(())
    }
}

impl fmt::Display for ast::Activation {
    /// `relu`, `leaky_relu(0.1)`, or `relu()` if that is what was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name.text)?;
        if let Some(arguments) = &self.arguments {
            f.write_str("(")?;
            for (index, argument) in arguments.iter().enumerate() {
                let separator = if index == 0 { "" } else { ", " };
                write!(f, "{separator}{}", argument.text)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for ast::Setting {
    /// `scalar = f64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.key.text, self.value.text)
    }
}

impl fmt::Display for Network {
    /// The network as a canonical declaration: one `///` line per line of doc, names only
    /// where the user gave them, no `linear` (the default activation), `leaky_relu` and `elu`
    /// with their alpha, and only the options that differ from their defaults.
    ///
    /// ```
    /// let text = "pub(crate) struct Xor = 2 -> 2 relu as hidden -> 1 sigmoid with unroll = full;";
    /// let net = nn_grammar::compile_item(text).unwrap();
    /// assert_eq!(net.to_string(), text);
    ///
    /// let spaced = "struct  Net=3->4 leaky_relu -> 2 linear with scalar = f32, unroll = loops;";
    /// let net = nn_grammar::compile_item(spaced).unwrap();
    /// assert_eq!(net.to_string(), "struct Net = 3 -> 4 leaky_relu(0.01) -> 2;");
    /// ```
    ///
    /// Compiling the text gives back an equal network, up to byte ranges, for every network
    /// that came from text. (A doc built by hand that starts with `/` would print as a
    /// comment.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for doc in &self.docs {
            for line in doc.replace("\r\n", "\n").split(['\n', '\r']) {
                writeln!(f, "///{line}")?;
            }
        }
        if !self.visibility.is_empty() {
            write!(f, "{} ", self.visibility)?;
        }
        write!(f, "struct {} = {}", self.name, Size(self.input))?;
        for layer in &self.layers {
            // The language writes a dense layer as its output width.
            match layer.kind {
                LayerKind::Dense if layer.bias => write!(f, " -> {}", Size(layer.output))?,
                _ => write!(f, " -> {}", layer.kind_text())?,
            }
            if layer.activation != Activation::Linear {
                write!(f, " {}", layer.activation)?;
            }
            if layer.named {
                write!(f, " as {}", layer.name)?;
            }
        }
        let mut options = Vec::new();
        if self.scalar != Scalar::default() {
            options.push(format!("scalar = {}", self.scalar.name()));
        }
        if self.unroll == Unroll::Full {
            options.push("unroll = full".to_owned());
        }
        if let Some(path) = &self.runtime {
            options.push(format!("crate = {path}"));
        }
        if let Some((path, _)) = &self.weights {
            options.push(format!("weights = \"{path}\""));
        }
        for (quantize, _) in &self.quantize {
            options.push(format!("quantize = {}", quantize.name()));
        }
        if !options.is_empty() {
            write!(f, " with {}", options.join(", "))?;
        }
        f.write_str(";")
    }
}

impl Layer {
    /// The layer's kind with its arguments, as [`LayerKind`]'s `Display`, then `bias = false`
    /// and `affine = false` when declared: `conv2d(6, 5, bias = false)`,
    /// `batchnorm(affine = false)`, and `dense(10, bias = false)` for a dense layer (else
    /// `dense`).
    pub fn kind_text(&self) -> String {
        let kind = self.kind.to_string();
        let flags: Vec<&str> = [(self.bias, "bias = false"), (self.affine, "affine = false")]
            .into_iter()
            .filter(|(on, _)| !on)
            .map(|(_, text)| text)
            .collect();
        if flags.is_empty() {
            return kind;
        }
        let flags = flags.join(", ");
        if self.kind == LayerKind::Dense {
            return format!("dense({}, {flags})", Size(self.output));
        }
        match kind.strip_suffix(')') {
            Some(arguments) => format!("{arguments}, {flags})"),
            None => format!("{kind}({flags})"),
        }
    }
}

impl fmt::Display for LayerKind {
    /// The kind with its arguments as the language writes them, those at their defaults left
    /// out: `conv2d(6, 5, padding = 2)`, `maxpool2d(2)`, `flatten`. A dense layer, which the
    /// language writes as its width, is `dense`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Dense => f.write_str("dense")?,
            Self::Conv2d(conv) => {
                write!(f, "conv2d({}, {}", conv.out_channels, Pair(conv.kernel))?;
                if conv.stride != [1, 1] {
                    write!(f, ", stride = {}", Pair(conv.stride))?;
                }
                if conv.padding != [0, 0] {
                    write!(f, ", padding = {}", Pair(conv.padding))?;
                }
                if conv.dilation != [1, 1] {
                    write!(f, ", dilation = {}", Pair(conv.dilation))?;
                }
                if conv.groups != 1 {
                    write!(f, ", groups = {}", conv.groups)?;
                }
                f.write_str(")")?;
            }
            Self::MaxPool2d(pool) | Self::AvgPool2d(pool) => {
                write!(f, "{}({}", self.name(), Pair(pool.kernel))?;
                if pool.stride != pool.kernel {
                    write!(f, ", stride = {}", Pair(pool.stride))?;
                }
                if pool.padding != [0, 0] {
                    write!(f, ", padding = {}", Pair(pool.padding))?;
                }
                f.write_str(")")?;
            }
            Self::MaxPool1d(pool) | Self::AvgPool1d(pool) => {
                write!(f, "{}({}", self.name(), pool.kernel)?;
                if pool.stride != pool.kernel {
                    write!(f, ", stride = {}", pool.stride)?;
                }
                if pool.padding != 0 {
                    write!(f, ", padding = {}", pool.padding)?;
                }
                f.write_str(")")?;
            }
            Self::Conv1d(conv) | Self::CausalConv1d(conv) => {
                write!(f, "conv1d({}, {}", conv.out_channels, conv.kernel)?;
                if conv.stride != 1 {
                    write!(f, ", stride = {}", conv.stride)?;
                }
                if conv.padding != 0 {
                    write!(f, ", padding = {}", conv.padding)?;
                }
                if conv.dilation != 1 {
                    write!(f, ", dilation = {}", conv.dilation)?;
                }
                if conv.groups != 1 {
                    write!(f, ", groups = {}", conv.groups)?;
                }
                if matches!(self, Self::CausalConv1d(_)) {
                    f.write_str(", causal")?;
                }
                f.write_str(")")?;
            }
            Self::Dropout { p } => {
                f.write_str("dropout(")?;
                real(f, p)?;
                f.write_str(")")?;
            }
            Self::GlobalAvgPool | Self::GlobalMaxPool | Self::Flatten => {
                write!(f, "{}", self.name())?;
            }
            Self::BatchNorm { .. } | Self::LayerNorm { .. } => norm(f, *self)?,
            Self::Recurrent(recurrent) => {
                write!(f, "{}({}", self.name(), recurrent.hidden)?;
                if recurrent.cell == (Cell::Rnn { relu: true }) {
                    f.write_str(", relu")?;
                }
                if recurrent.layers != 1 {
                    write!(f, ", layers = {}", recurrent.layers)?;
                }
                f.write_str(")")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Activation {
    /// `relu`, `leaky_relu(0.01)`: the name, and the alpha of `leaky_relu` and `elu`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        if let Self::LeakyRelu { alpha } | Self::Elu { alpha } = self {
            f.write_str("(")?;
            real(f, *alpha)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A vector's shape as the language writes it, its width (`784`); a higher rank as its sizes
/// (`[3, 32, 32]`).
struct Size(Shape);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.width() {
            Some(width) => write!(f, "{width}"),
            None => write!(f, "{}", self.0),
        }
    }
}

/// `3` for `[3, 3]`, `(3, 5)` for `[3, 5]`: a kernel, stride or padding as the language writes
/// it.
struct Pair([usize; 2]);

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [a, b] if a == b => write!(f, "{a}"),
            [a, b] => write!(f, "({a}, {b})"),
        }
    }
}

/// `batchnorm(eps = 0.001)`: a normalisation with the arguments that differ from PyTorch's
/// defaults, by name (`momentum` for a batchnorm only).
fn norm(f: &mut fmt::Formatter<'_>, kind: LayerKind) -> fmt::Result {
    let (eps, momentum) = match kind {
        LayerKind::BatchNorm { eps, momentum } => (eps, Some(momentum)),
        LayerKind::LayerNorm { eps } => (eps, None),
        _ => return Ok(()),
    };
    f.write_str(kind.name())?;
    let mut separator = "(";
    if eps != DEFAULT_EPS {
        write!(f, "{separator}eps = ")?;
        real(f, eps)?;
        separator = ", ";
    }
    if let Some(momentum) = momentum.filter(|m| *m != DEFAULT_MOMENTUM) {
        write!(f, "{separator}momentum = ")?;
        real(f, momentum)?;
        separator = ", ";
    }
    if separator == ", " {
        f.write_str(")")?;
    }
    Ok(())
}

/// `0.01`, `-2.5`, and `1e-300` rather than three hundred zeros: always the shortest text that
/// parses back to exactly `x`.
fn real(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    let plain = x.to_string();
    if plain.len() <= 24 {
        f.write_str(&plain)
    } else {
        write!(f, "{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use crate::{compile_item, parse_file};

    #[test]
    fn items_print_as_written() {
        let text = "///  Two docs.\n///\npub ( crate ) struct  N=1_000 ->12.5 leaky_relu( - 0.5 ) as a \
                    -> 3 foo() with scalar = f64 , crate = ::my::nn, weights = \"a b\" ;";
        let items = parse_file(text).unwrap();
        assert_eq!(
            items[0].to_string(),
            "///  Two docs.\n///\npub(crate) struct N = 1_000 -> 12.5 leaky_relu(-0.5) as a \
             -> 3 foo() with scalar = f64, crate = ::my::nn, weights = \"a b\";"
        );
    }

    #[test]
    fn networks_print_canonically() {
        let net = compile_item(
            "struct N = 4 -> 3 elu as e -> 2 leaky_relu(1e-300) -> 2 log_softmax \
             with weights = \"w.safetensors\", crate = ::nn, scalar = f64;",
        )
        .unwrap();
        assert_eq!(
            net.to_string(),
            "struct N = 4 -> 3 elu(1) as e -> 2 leaky_relu(1e-300) -> 2 log_softmax \
             with scalar = f64, crate = ::nn, weights = \"w.safetensors\";"
        );
    }
}
