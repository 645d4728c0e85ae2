//! The files of `tests/fixtures/`, written by `tests/fixtures/make_safetensors.py` (numpy and
//! the reference `safetensors` package), and the networks they fit.

use serde_json::Value;
use std::path::PathBuf;

nn::network! {
    /// `nn.Sequential(Linear(5, 4), ReLU(), Linear(4, 3), Softmax(1))`: the fixtures' network.
    pub struct Tiny = 5 -> 4 relu -> 3 softmax;
}

nn::network! {
    /// [`Tiny`] in `f64`.
    pub struct TinyF64 = 5 -> 4 relu -> 3 softmax with scalar = f64;
}

nn::network! {
    /// [`Tiny`] with named layers, as a module with attributes `hidden` and `output`.
    pub struct TinyNamed = 5 -> 4 relu as hidden -> 3 softmax as output;
}

/// `tests/fixtures/<name>`.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The bytes of `tests/fixtures/<name>.safetensors`.
pub fn bytes(name: &str) -> Vec<u8> {
    let path = path(&format!("{name}.safetensors"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The tensors of a safetensors file, by name, with their bytes, sorted: what two files that
/// hold the same tensors share.
pub fn tensors(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let file = safetensors::SafeTensors::deserialize(bytes).expect("a safetensors file");
    let mut tensors: Vec<(String, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.data().to_vec()))
        .collect();
    tensors.sort();
    tensors
}

/// `tiny_expected.json`: the inputs, and per dtype the weights as loaded and numpy's outputs.
pub fn expected() -> Value {
    let text = std::fs::read_to_string(path("tiny_expected.json")).expect("tiny_expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// A JSON array of numbers as `f64`s.
pub fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// A JSON array of arrays of numbers, flattened row by row.
pub fn matrix(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("an array of rows")
        .iter()
        .flat_map(floats)
        .collect()
}

/// The inputs of `tiny_expected.json`, as `f32` and `f64` rows.
pub fn inputs() -> Vec<[f64; 5]> {
    expected()["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|row| floats(row).try_into().expect("5 inputs"))
        .collect()
}

/// Asserts `actual` and `expected` agree within `tolerance`, element by element.
pub fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance,
            "{what}[{i}]: {a} vs {e} (tolerance {tolerance})"
        );
    }
}

/// `file` with the data of its tensor `name` replaced by `data` (of the same length): a file
/// that `assign` and the writer cannot make.
pub fn with_tensor(file: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let parsed = safetensors::SafeTensors::deserialize(file).expect("a safetensors file");
    let tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = parsed
        .tensors()
        .into_iter()
        .map(|(tensor, view)| {
            if tensor != name {
                return (tensor, view);
            }
            assert_eq!(view.data().len(), data.len(), "`{name}`'s length");
            let view =
                safetensors::tensor::TensorView::new(view.dtype(), view.shape().to_vec(), data)
                    .expect("the same shape");
            (tensor, view)
        })
        .collect();
    safetensors::serialize(tensors, None).expect("serialises")
}
