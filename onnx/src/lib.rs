//! ONNX models to nn: a checked [`nn_grammar::Network`] (canonical `.nn` text with
//! `Display`) and its weights as named tensors in the layout `from_safetensors_file` reads.
//!
//! ```no_run
//! let import = nn_onnx::import_file("model.onnx".as_ref(), None, false)?;
//! std::fs::write("model.nn", import.text())?;
//! std::fs::write("model.safetensors", &import.safetensors)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Import writes the language (`DESIGN.md`, decision 12): the declaration it builds is printed
//! and compiled again by `nn_grammar`, so an imported network is exactly what its `.nn` text
//! says, and goes through the one code generator. The pipeline, one module per step:
//! `proto` (decode) -> `inline` (local functions) -> `fuse` (`x * Sigmoid(x)`, the `Erf` form
//! of GELU) -> `select` (the output and the nodes it needs) -> `lower` (fold constants, nodes to
//! layers, every problem; `recurrent` for `LSTM`, `GRU` and `RNN` nodes) -> `emit` (declaration
//! and tensors). The guide is `nn::guide::onnx` (`docs/onnx.md`).
//!
//! **Why prost.** An ONNX file is a protobuf message. Of the pure-Rust decoders on crates.io,
//! `prost` is the most used and maintained (tokio's), its decoder is fuzzed upstream, checks
//! every length against the bytes left before it allocates, and limits nesting depth; its
//! derive macro lets `proto.rs` declare just the fields import reads, by hand from
//! `onnx.proto`, so that building needs no `protoc` and no build script. `protobuf` v3 needs
//! its code generator (run once, but then thousands of generated lines for all of
//! `onnx.proto`) and a larger runtime; `micropb` targets `no_std` with fixed capacities, which
//! do not suit weight tensors of any size; the ONNX-types crates (`onnx-protobuf`, `onnx-pb`)
//! pin old generator versions and bring the whole schema. Unknown fields (subgraphs, training
//! info, sparse tensors' contents) are skipped unread.
//!
//! **Bounds.** No single allocation is larger than a fixed multiple of the input (256 bytes per
//! byte, checked by `tests/it/allocations.rs` and the fuzz target): prost allocates a string, a
//! byte field or a packed array only after checking that the input holds it (a decoded message
//! is larger than its encoding, an empty node being two bytes), tensors are converted only
//! after their element count is checked against their data, and inlining local functions (whose
//! calls of calls multiply) stops at a budget proportional to the file. Import never panics on any bytes
//! (proptest edits of the fixtures in the tests, and the `onnx` cargo-fuzz target).

mod attribute;
mod constant;
mod emit;
mod error;
mod fold;
mod fuse;
mod inline;
mod lower;
mod proto;
mod recurrent;
mod select;
#[cfg(test)]
mod tests;

pub use emit::Tensor;
pub use error::{Error, NodeAt, Problem};
use nn_grammar::Network;
use prost::Message as _;
use std::path::{Path, PathBuf};

/// The oldest default-domain opset import understands.
pub const MIN_OPSET: i64 = 9;

/// How to name and document the imported network.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The struct's name; `Net` when empty.
    pub name: String,
    /// The model's file name, for the declaration's doc line.
    pub source: Option<String>,
    /// The model's directory, where tensors with external data (`location`) are read from;
    /// without it such tensors are a problem.
    pub dir: Option<PathBuf>,
    /// Fold each `BatchNormalization` into the dense layer or convolution before it (its
    /// weights and bias scaled and shifted: one layer less at run time) instead of importing it
    /// as a `batchnorm` layer; one that follows no such layer stays a `batchnorm`.
    pub fold_batchnorm: bool,
}

/// An imported model.
#[derive(Clone, Debug)]
pub struct Import {
    /// The declaration, checked by `nn_grammar`; every layer named after its ONNX node.
    pub network: Network,
    /// Every layer's tensors, `<layer>.weight` and `<layer>.bias` (a recurrent layer's
    /// `<layer>.weight_ih_l0`, ...), in PyTorch's shapes.
    pub tensors: Vec<Tensor>,
    /// The tensors as a safetensors file, which `from_safetensors_file` reads.
    pub safetensors: Vec<u8>,
    /// The files beside the model that its tensors keep their data in (their `location`s,
    /// under [`Options::dir`]), each once, in the model's order: what a build script watches
    /// besides the model.
    pub external_files: Vec<PathBuf>,
}

impl Import {
    /// The declaration as a `.nn` file: the network's canonical text (its `Display`), each
    /// layer on a line of its own when it does not fit in one, and a final newline.
    pub fn text(&self) -> String {
        format!("{}\n", emit::layout(&self.network.to_string()))
    }
}

/// Imports a model from its bytes.
///
/// # Errors
///
/// [`Error::Name`] when `options.name` is neither empty nor a struct name, [`Error::Decode`]
/// when the bytes are not an ONNX model, [`Error::Unsupported`] with every problem (each node
/// that cannot be imported, the model's own problems) otherwise.
pub fn import(bytes: &[u8], options: &Options) -> Result<Import, Error> {
    if let Some(problem) = nn_grammar::struct_name_problem(&options.name)
        && !options.name.is_empty()
    {
        return Err(Error::Name(problem));
    }
    let model = proto::Model::decode(bytes).map_err(|e| Error::Decode(e.to_string()))?;
    let mut problems = Vec::new();
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version);
    match opset {
        Some(version) if version >= MIN_OPSET => {}
        Some(version) => problems.push(Problem {
            node: None,
            message: format!(
                "the model uses opset {version}, expected {MIN_OPSET} or later: convert it with `onnx.version_converter`"
            ),
        }),
        None => problems.push(Problem {
            node: None,
            message: "the model imports no version of the default operator set".to_owned(),
        }),
    }
    let opset = opset.unwrap_or(MIN_OPSET);
    let Some(graph) = model.graph.as_ref() else {
        return Err(Error::Decode("the model has no graph".to_owned()));
    };
    let (nodes, recursive) = inline::inline(graph.node.clone(), &model.functions, bytes.len());
    problems.extend(recursive.into_iter().map(|message| Problem {
        node: None,
        message,
    }));
    let dir = options.dir.as_deref();
    let nodes = {
        let scalars = scalar_constants(graph, &nodes, dir);
        let lookup = |name: &str| scalars(name);
        fuse::fuse(nodes.clone(), &lookup)
    };
    let output = match select::output(graph) {
        Ok(output) => output,
        Err(message) => {
            problems.push(Problem {
                node: None,
                message,
            });
            ""
        }
    };
    let nodes = select::needed(nodes, output);
    let lowered = lower::lower(
        graph,
        &nodes,
        output,
        opset,
        dir,
        options.fold_batchnorm,
        problems,
    )
    .map_err(Error::Unsupported)?;
    let scalar = lowered.scalar;
    let name = if options.name.is_empty() {
        "Net"
    } else {
        &options.name
    };
    let mut docs = docs(&model, opset, options);
    if lowered.last_step {
        docs.extend([
            " The model returns its last time step's output: run a sequence through".to_owned(),
            " `forward_sequence` (or `step`) and read the last output.".to_owned(),
        ]);
    }
    let (network, tensors) = emit::network(lowered, name, docs).map_err(Error::Unsupported)?;
    let non_finite: Vec<Problem> = tensors
        .iter()
        .filter_map(|tensor| emit::non_finite(tensor, scalar))
        .map(|message| Problem {
            node: None,
            message,
        })
        .collect();
    if !non_finite.is_empty() {
        return Err(Error::Unsupported(non_finite));
    }
    let safetensors = emit::safetensors(&tensors, scalar).map_err(|message| {
        Error::Unsupported(vec![Problem {
            node: None,
            message: format!("the weights cannot be written: {message}"),
        }])
    })?;
    Ok(Import {
        network,
        tensors,
        safetensors,
        external_files: constant::external_files(&model, dir),
    })
}

/// The README's example (the crates.io page), compiled with the doc tests so that it stays
/// true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Imports the model in `path`, named `name` or after the file (`lenet_5.onnx` as `Lenet5`);
/// external data is read from the model's directory; `fold_batchnorm` as
/// [`Options::fold_batchnorm`].
///
/// # Errors
///
/// [`Error::Read`] when the file cannot be read, else as [`import`].
pub fn import_file(path: &Path, name: Option<&str>, fold_batchnorm: bool) -> Result<Import, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let options = Options {
        name: name.map_or_else(
            || struct_name(stem.as_deref().unwrap_or_default()),
            ToOwned::to_owned,
        ),
        source: path.file_name().map(|f| f.to_string_lossy().into_owned()),
        dir: Some(
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        ),
        fold_batchnorm,
    };
    import(&bytes, &options)
}

/// A struct name from a file stem: its words in `UpperCamelCase` (`lenet_5` as `Lenet5`,
/// `mlp-classifier` as `MlpClassifier`), `Net` when nothing is left, `Net` before a leading
/// digit or the word Rust reserves (`Self` as `NetSelf`), so that every file name gives one.
pub fn struct_name(stem: &str) -> String {
    let mut name = String::new();
    for word in stem
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.extend(chars);
        }
    }
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || name == "Self" {
        name.insert_str(0, "Net");
    }
    name
}

/// The declaration's doc: where it came from.
fn docs(model: &proto::Model, opset: i64, options: &Options) -> Vec<String> {
    let mut producer = model.producer_name.trim().to_owned();
    if !model.producer_version.trim().is_empty() {
        producer = format!("{producer} {}", model.producer_version.trim());
    }
    let source = options
        .source
        .as_ref()
        .map_or_else(String::new, |s| format!(" `{s}`"));
    let by = if producer.trim().is_empty() {
        String::new()
    } else {
        format!(", exported by {}", producer.trim())
    };
    vec![format!(" Imported from ONNX{source} (opset {opset}{by}).").replace(['\n', '\r'], " ")]
}

/// A lookup of the one-element float constants (initializers and `Constant` nodes), for the
/// patterns `fuse` recognises.
fn scalar_constants<'a>(
    graph: &'a proto::Graph,
    nodes: &'a [proto::Node],
    dir: Option<&'a Path>,
) -> impl Fn(&str) -> Option<f64> + 'a {
    move |name: &str| {
        if let Some(tensor) = graph.initializer.iter().find(|t| t.name == name) {
            if tensor.dims.iter().try_fold(1i64, |a, &d| a.checked_mul(d)) != Some(1) {
                return None;
            }
            return constant::read(tensor, dir).ok()?.scalar();
        }
        let node = nodes
            .iter()
            .find(|n| n.op_type == "Constant" && n.output.first().is_some_and(|o| o == name))?;
        let attribute = node.attribute.first()?;
        match attribute.name.as_str() {
            "value" => constant::read(attribute.t.as_ref()?, dir).ok()?.scalar(),
            "value_float" => Some(f64::from(attribute.f)),
            _ => None,
        }
    }
}
