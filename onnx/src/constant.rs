//! Values known at import time: initializers, `Constant` nodes, and what folding makes of them,
//! read from `TensorProto`s (their typed fields, `raw_data`, or an external file).

use crate::proto::{self, data_type};
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// An integer of a shape computation: a number, or the batch size, which the model leaves open
/// (what `Shape` reads from the input's first axis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Int {
    /// A number known at import time.
    Known(i64),
    /// The batch size.
    Batch,
    /// The number of time steps of a sequence model's input, which the model may leave open.
    Steps,
}

/// The elements of a constant, in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data {
    /// `float` and `double` tensors, exactly (every `f32` is an `f64`).
    Float(Vec<f64>),
    /// `int32`, `int64` and `bool` (0 or 1) tensors, and shapes.
    Int(Vec<Int>),
}

/// A tensor known at import time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Const {
    /// Its sizes, outermost first; empty for a scalar.
    pub dims: Vec<usize>,
    /// Its elements.
    pub data: Data,
}

impl Const {
    /// A vector of integers.
    pub fn ints(values: Vec<Int>) -> Self {
        Self {
            dims: vec![values.len()],
            data: Data::Int(values),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Float(values) => values.len(),
            Data::Int(values) => values.len(),
        }
    }

    /// The elements as known integers, if they are integers and none is the batch size.
    pub fn known_ints(&self) -> Option<Vec<i64>> {
        match &self.data {
            Data::Int(values) => values
                .iter()
                .map(|v| match v {
                    Int::Known(n) => Some(*n),
                    Int::Batch | Int::Steps => None,
                })
                .collect(),
            Data::Float(_) => None,
        }
    }

    /// The elements as floats, if it is a float tensor.
    pub fn floats(&self) -> Option<&[f64]> {
        match &self.data {
            Data::Float(values) => Some(values),
            Data::Int(_) => None,
        }
    }

    /// The single element of a one-element float tensor (a scalar or `[1]`).
    pub fn scalar(&self) -> Option<f64> {
        match self.floats()? {
            [value] => Some(*value),
            _ => None,
        }
    }
}

/// The constant a `TensorProto` holds; `dir` is where the model file is, for external data.
///
/// Element counts are checked against the data before anything is copied, so that no
/// allocation is larger than the file (or the external file) that holds the data.
pub(crate) fn read(tensor: &proto::Tensor, dir: Option<&Path>) -> Result<Const, String> {
    let name = &tensor.name;
    let mut dims = Vec::with_capacity(tensor.dims.len());
    let mut elements: usize = 1;
    for &dim in &tensor.dims {
        let dim = usize::try_from(dim)
            .map_err(|_| format!("tensor `{name}` has a negative size, {dim}"))?;
        elements = elements
            .checked_mul(dim)
            .ok_or_else(|| format!("tensor `{name}` has more elements than memory holds"))?;
        dims.push(dim);
    }
    let width = match tensor.data_type {
        data_type::BOOL => 1,
        data_type::FLOAT | data_type::INT32 => 4,
        data_type::INT64 | data_type::DOUBLE => 8,
        other => {
            return Err(format!(
                "tensor `{name}` has data type {} ({other}), expected float, double, int32, int64 or bool",
                type_name(other)
            ));
        }
    };
    let external;
    let raw: &[u8] = if tensor.data_location == proto::EXTERNAL {
        external = read_external(tensor, dir, elements.saturating_mul(width))?;
        &external
    } else {
        &tensor.raw_data
    };
    let typed = match tensor.data_type {
        data_type::FLOAT => tensor.float_data.len(),
        data_type::DOUBLE => tensor.double_data.len(),
        data_type::INT32 | data_type::BOOL => tensor.int32_data.len(),
        _ => tensor.int64_data.len(),
    };
    let found = if raw.is_empty() {
        typed
    } else {
        raw.len() / width
    };
    if found != elements || (!raw.is_empty() && !raw.len().is_multiple_of(width)) {
        return Err(format!(
            "tensor `{name}` has shape {dims:?} ({elements} elements) but holds {found}"
        ));
    }
    let chunk = |i: usize| &raw[i * width..(i + 1) * width];
    let data = match tensor.data_type {
        data_type::FLOAT if raw.is_empty() => {
            Data::Float(tensor.float_data.iter().map(|&v| f64::from(v)).collect())
        }
        data_type::FLOAT => Data::Float(
            (0..elements)
                .map(|i| f64::from(f32::from_le_bytes(bytes(chunk(i)))))
                .collect(),
        ),
        data_type::DOUBLE if raw.is_empty() => Data::Float(tensor.double_data.clone()),
        data_type::DOUBLE => Data::Float(
            (0..elements)
                .map(|i| f64::from_le_bytes(bytes(chunk(i))))
                .collect(),
        ),
        data_type::INT32 if raw.is_empty() => Data::Int(
            tensor
                .int32_data
                .iter()
                .map(|&v| Int::Known(v.into()))
                .collect(),
        ),
        data_type::INT32 => Data::Int(
            (0..elements)
                .map(|i| Int::Known(i32::from_le_bytes(bytes(chunk(i))).into()))
                .collect(),
        ),
        // Typed booleans are `int32_data`; raw ones a byte each.
        data_type::BOOL if raw.is_empty() => Data::Int(
            tensor
                .int32_data
                .iter()
                .map(|&v| Int::Known((v != 0).into()))
                .collect(),
        ),
        data_type::BOOL => Data::Int(raw.iter().map(|&b| Int::Known((b != 0).into())).collect()),
        _ if raw.is_empty() => {
            Data::Int(tensor.int64_data.iter().map(|&v| Int::Known(v)).collect())
        }
        _ => Data::Int(
            (0..elements)
                .map(|i| Int::Known(i64::from_le_bytes(bytes(chunk(i)))))
                .collect(),
        ),
    };
    Ok(Const { dims, data })
}

/// A chunk of `N` bytes as an array (the caller cuts exactly `N`).
fn bytes<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(chunk);
    array
}

/// The file of every tensor of `model` that keeps its data in an external file (the graph's
/// initializers and the tensors of its nodes' and functions' attributes), its `location` under
/// `dir`, each once, in the model's order; none without a directory (nothing is read then).
pub(crate) fn external_files(model: &proto::Model, dir: Option<&Path>) -> Vec<PathBuf> {
    fn attributes(nodes: &[proto::Node]) -> impl Iterator<Item = &proto::Tensor> + '_ {
        nodes
            .iter()
            .flat_map(|node| &node.attribute)
            .filter_map(|attribute| attribute.t.as_ref())
    }
    let Some(dir) = dir else {
        return Vec::new();
    };
    let graph = model.graph.as_ref();
    let tensors = graph
        .into_iter()
        .flat_map(|graph| graph.initializer.iter().chain(attributes(&graph.node)))
        .chain(model.functions.iter().flat_map(|function| {
            attributes(&function.node).chain(
                function
                    .attribute_proto
                    .iter()
                    .filter_map(|attribute| attribute.t.as_ref()),
            )
        }));
    let mut files: Vec<PathBuf> = Vec::new();
    for tensor in tensors {
        let location = tensor
            .external_data
            .iter()
            .find(|entry| entry.key == "location");
        if let Some(location) = location {
            let file = dir.join(&location.value);
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    files
}

/// The bytes of a tensor whose data lives in another file: `location` relative to the model's
/// directory (no absolute path, no `..`, no link out of it), from `offset`, `length` bytes
/// (all of it by default).
fn read_external(
    tensor: &proto::Tensor,
    dir: Option<&Path>,
    expected: usize,
) -> Result<Vec<u8>, String> {
    let name = &tensor.name;
    let entry = |key: &str| {
        tensor
            .external_data
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    };
    let Some(location) = entry("location") else {
        return Err(format!(
            "tensor `{name}` keeps its data in an external file but names none (no `location`)"
        ));
    };
    let number = |key: &str| -> Result<Option<u64>, String> {
        entry(key)
            .map(|text| {
                text.parse::<u64>().map_err(|_| {
                    format!("tensor `{name}`: external data `{key}` is `{text}`, expected a number")
                })
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let length = number("length")?;
    let Some(dir) = dir else {
        return Err(format!(
            "tensor `{name}` keeps its data in the external file `{location}`: import the model from its file, not from bytes, so that `{location}` can be found beside it"
        ));
    };
    let relative = Path::new(location);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "tensor `{name}` keeps its data in `{location}`, expected a path inside the model's directory"
        ));
    }
    // A model named by a bare file name has the empty path as its directory: the current one.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let path = dir.join(relative);
    let fail =
        |e: std::io::Error| format!("tensor `{name}`: cannot read `{}`: {e}", path.display());
    // A symbolic link may lead out of the directory that the path's words stay in.
    let (real_dir, real) = (
        dir.canonicalize().map_err(fail)?,
        path.canonicalize().map_err(fail)?,
    );
    if !real.starts_with(&real_dir) {
        return Err(format!(
            "tensor `{name}` keeps its data in `{location}`, which leads to `{}`, outside the model's directory",
            real.display()
        ));
    }
    let mut file = File::open(&real).map_err(fail)?;
    let size = file.metadata().map_err(fail)?.len();
    let wanted = length.unwrap_or(expected as u64);
    if wanted != expected as u64 {
        return Err(format!(
            "tensor `{name}`: external data `length` is {wanted}, the tensor needs {expected} bytes"
        ));
    }
    if offset.checked_add(wanted).is_none_or(|end| end > size) {
        return Err(format!(
            "tensor `{name}`: `{}` holds {size} bytes, the tensor needs {expected} from offset {offset} (length {wanted})",
            path.display()
        ));
    }
    file.seek(SeekFrom::Start(offset)).map_err(fail)?;
    let mut data = vec![0; expected];
    file.read_exact(&mut data).map_err(fail)?;
    Ok(data)
}

/// `TensorProto.DataType`'s name for a code.
pub(crate) fn type_name(code: i32) -> &'static str {
    match code {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "unknown",
    }
}
