//! Why a model cannot be imported: every problem at once, each naming the node it is about.

use core::fmt;

/// Where a problem sits: a node of the graph (after local functions are inlined), as the
/// message shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAt {
    /// Position in the graph's node list, from 0.
    pub index: usize,
    /// The node's name, empty when the model gives none.
    pub name: String,
    /// Its operator, `Conv`, or `domain.Op` outside the default domain.
    pub op_type: String,
    /// The names of the values it reads.
    pub inputs: Vec<String>,
}

impl fmt::Display for NodeAt {
    /// ``node 3 `/0/Conv` (Conv, reads `input`, `0.weight`)``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.index)?;
        if !self.name.is_empty() {
            write!(f, " `{}`", self.name)?;
        }
        write!(f, " ({}", self.op_type)?;
        let inputs: Vec<String> = self
            .inputs
            .iter()
            .filter(|i| !i.is_empty())
            .map(|i| format!("`{i}`"))
            .collect();
        if !inputs.is_empty() {
            write!(f, ", reads {}", inputs.join(", "))?;
        }
        f.write_str(")")
    }
}

/// One reason the model cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The node it is about, `None` for the model as a whole (its opset, its input).
    pub node: Option<NodeAt>,
    /// What is wrong, lowercase, expected then found.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "{node}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a model cannot be imported. Import never returns part of a model.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The model file cannot be read.
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model: protobuf's decoder says why.
    Decode(String),
    /// The model decodes but cannot become an nn network: every problem, in graph order (the
    /// model's own first).
    Unsupported(Vec<Problem>),
    /// The struct name asked for ([`Options::name`](crate::Options::name)) cannot name a
    /// network.
    Name(String),
}

impl fmt::Display for Error {
    /// One line for a file that does not decode; otherwise a count, then one line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read `{}`: {source}", path.display()),
            Self::Decode(why) => write!(f, "not an ONNX model: {why}"),
            Self::Name(why) => write!(f, "cannot name the network: {why}"),
            Self::Unsupported(problems) => {
                let count = problems.len();
                write!(
                    f,
                    "the model cannot be imported, {count} problem{}:",
                    if count == 1 { "" } else { "s" }
                )?;
                for problem in problems {
                    write!(f, "\n  {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
