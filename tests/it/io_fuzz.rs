//! The weight loaders on damaged input: proptest mutations of the seed corpus of the fuzz
//! targets (`fuzz/corpus/*/seed_*`: the safetensors fixtures and JSON written by the networks
//! below), by bit flips, truncations, insertions, removals, splices of format words, edits of
//! the header length, and edits of the JSON (a safetensors header, or the serde layout) that keep
//! it JSON. For every mutated input and each of four networks: no panic, no allocation larger
//! than the network or [`PER_BYTE`] bytes per input byte, a typed error for a rejected input, and
//! for an accepted one exactly the values that an independent reading of the input gives.

use crate::allocations::largest_allocation_during;
use crate::cases::config;
use crate::fixtures::{Tiny, TinyF64, TinyNamed};
use nn::io::safetensors::{
    LoadOptions, MAX_DIMENSIONS, MAX_HEADER, load, load_layers, load_partial,
};
use nn::{Error, Network, Scalar};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::Path;

nn::network! {
    /// Unnamed layers with and without activation modules, and a named one, in `f64`.
    pub struct Mixed = 8 -> 6 relu -> 4 as middle -> 3 tanh -> 2 with scalar = f64;
}

nn::network! {
    /// `Tiny` with an int8 twin, whose quantised files (`seed_tiny_int8.safetensors`) are
    /// fuzzed too.
    pub struct TinyQ = 5 -> 4 relu -> 3 softmax with quantize = int8;

    /// A 2-D convolution's int8 twin (`seed_conv2d_int8.safetensors`): the convolutions'
    /// readers (their weights `[out, in, kh, kw]`) fuzzed too.
    pub struct Conv2dQ = [1, 6, 6] -> conv2d(2, 3) relu -> maxpool2d(2) -> flatten -> 3
        with quantize = int8;

    /// A grouped 1-D convolution's (`seed_conv1d_int8.safetensors`).
    pub struct Conv1dQ = [2, 7] -> conv1d(4, 3, groups = 2) relu -> flatten -> 3
        with quantize = int8;
}

/// An int8 twin's file methods, for [`check_quantized`].
trait QuantizedFile: Sized {
    const NAME: &'static str;
    fn load(bytes: &[u8]) -> Result<Box<Self>, Error>;
    fn save(&self) -> Vec<u8>;
}

macro_rules! quantized_file {
    ($($twin:ident),*) => {
        $(impl QuantizedFile for $twin {
            const NAME: &'static str = stringify!($twin);
            fn load(bytes: &[u8]) -> Result<Box<Self>, Error> {
                Self::from_safetensors(bytes)
            }
            fn save(&self) -> Vec<u8> {
                self.to_safetensors()
            }
        })*
    };
}
quantized_file!(TinyQInt8, Conv2dQInt8, Conv1dQInt8);

/// Bytes a loader may allocate at once per byte of input, beyond the network itself.
pub const PER_BYTE: usize = 4;

/// Bytes a loader may allocate at once whatever the input: error messages, small tables.
pub const FIXED: usize = 4096;

/// The largest single allocation a loader may make for an input of `len` bytes into `N`.
pub fn allocation_limit<N>(len: usize) -> usize {
    size_of::<N>().max(PER_BYTE * len) + FIXED
}

/// Asserts that loading `len` bytes into `N` allocated at most [`allocation_limit`] at once.
pub fn assert_bounded<N: Network>(len: usize, largest: usize) {
    let limit = allocation_limit::<N>(len);
    assert!(
        largest <= limit,
        "{}: a {len}-byte input made a {largest}-byte allocation (limit {limit})",
        N::NAME
    );
}

/// The committed seeds of a fuzz target, by file name.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            name.starts_with("seed_").then(|| {
                let bytes = std::fs::read(&path).expect("a readable seed");
                (name, bytes)
            })
        })
        .collect();
    seeds.sort();
    seeds
}

/// Every weight and bias of `net`, layer by layer, in the file's order (weights in PyTorch's
/// rows), as the bits of an `f64`.
fn bits<N: Network>(net: &N) -> Vec<u64> {
    let mut bits = Vec::new();
    net.for_each_tensor(|_, tensor, values| {
        let row_major = (0..values.len()).map(|k| &values[tensor.storage_index(k)]);
        bits.extend(row_major.map(|v| v.to_f64().to_bits()));
    });
    bits
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// JSON values that a tree edit puts in place of a node: the format's words and numbers at the
/// edges of what the loaders accept.
const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "-1",
    "80",
    "18446744073709551615",
    "4294967296",
    "1e39",
    "-1e39",
    "1e308",
    "0.5",
    "-0.0",
    "null",
    "true",
    r#""F32""#,
    r#""F64""#,
    r#""F16""#,
    r#""BF16""#,
    r#""I64""#,
    r#""F4""#,
    r#""F8_E4M3""#,
    r#""BOOL""#,
    r#""layer0""#,
    r#""layer1""#,
    r#""hidden""#,
    r#""middle""#,
    r#""""#,
    "[]",
    "[0]",
    "[2]",
    "[3]",
    "[4]",
    "[4,5]",
    "[5,4]",
    "[3,4]",
    "[0,5]",
    "[1,1,1]",
    "[0,0]",
    "[0,80]",
    "[80,0]",
    "[0,18446744073709551615]",
    "[4294967296,4294967296]",
    "[[]]",
    "[[1,2,3,4,5]]",
    "{}",
    r#"{"format":"pt"}"#,
];

/// Names that a tree edit gives to an object member.
const NAMES: &[&str] = &[
    "0.weight",
    "0.bias",
    "1.weight",
    "2.bias",
    "4.weight",
    "00.bias",
    "hidden.weight",
    "output.bias",
    "middle.weight",
    "layer0.bias",
    "__metadata__",
    "format",
    "dtype",
    "shape",
    "data_offsets",
    "layers",
    "name",
    "weights",
    "bias",
    "",
];

/// Text that a splice puts anywhere, JSON or not.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    " ",
    "1e400",
    "-",
    "0x10",
    "NaN",
    "Infinity",
    "\u{e9}",
    "\u{1f600}",
    "\"layers\"",
    "\"shape\"",
    "[[]]",
    "0,",
    "[0,",
];

/// One change to a JSON tree, at the node of a given index in pre-order.
#[derive(Clone, Debug)]
enum TreeEdit {
    /// The node becomes this JSON value.
    Replace(&'static str),
    /// The node leaves its array or object.
    Remove,
    /// The node appears twice in its array (or object, under a new name).
    Duplicate,
    /// The node, an object member, gets this name.
    Rename(&'static str),
}

/// One change to an input.
#[derive(Clone, Debug)]
enum Edit {
    /// Flips bit `.1` of the byte at `.0`.
    Flip(usize, u8),
    /// Keeps the first `.0` bytes.
    Truncate(usize),
    /// Inserts bytes at `.0`.
    Insert(usize, Vec<u8>),
    /// Removes up to `.1` bytes at `.0`.
    Remove(usize, usize),
    /// Replaces up to `.1` bytes at `.0` with a fragment; in a safetensors file, inside the
    /// header, whose length field then follows the change.
    Splice(usize, usize, &'static str),
    /// A safetensors header length field of this value.
    Length(u64),
    /// A safetensors header length field off by this many bytes.
    LengthBy(i8),
    /// An edit of the JSON (in a safetensors file, of the header, whose length field then
    /// follows), when the input still is JSON.
    Tree(usize, TreeEdit),
}

/// `at` as a position in `0..=len`.
fn position(at: usize, len: usize) -> usize {
    at % (len + 1)
}

/// Applies `edit` to node `target` of `value` (counting in pre-order from `*index`); whether
/// it found the node.
fn edit_tree(value: &mut Value, target: usize, edit: &TreeEdit, index: &mut usize) -> bool {
    // Children first look for the node, so that removing or duplicating acts on the parent.
    match value {
        Value::Array(items) => {
            for i in 0..items.len() {
                *index += 1;
                if *index == target {
                    match edit {
                        TreeEdit::Replace(text) => items[i] = parse(text),
                        TreeEdit::Remove => drop(items.remove(i)),
                        TreeEdit::Duplicate => items.insert(i, items[i].clone()),
                        TreeEdit::Rename(name) => items[i] = Value::String((*name).into()),
                    }
                    return true;
                }
                if edit_tree(&mut items[i], target, edit, index) {
                    return true;
                }
            }
            false
        }
        Value::Object(members) => {
            let keys: Vec<String> = members.keys().cloned().collect();
            for key in keys {
                *index += 1;
                if *index == target {
                    match edit {
                        TreeEdit::Replace(text) => members[&key] = parse(text),
                        TreeEdit::Remove => drop(members.remove(&key)),
                        TreeEdit::Duplicate => {
                            let copy = members[&key].clone();
                            members.insert(format!("{key}{key}"), copy);
                        }
                        TreeEdit::Rename(name) => {
                            let value = members.remove(&key).expect("a member");
                            members.insert((*name).into(), value);
                        }
                    }
                    return true;
                }
                if edit_tree(&mut members[&key], target, edit, index) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

/// A JSON text of [`VALUES`].
fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("VALUES are JSON")
}

/// `edit` on JSON text, if it is JSON.
fn edit_json(text: &[u8], target: usize, edit: &TreeEdit) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(text).ok()?;
    edit_tree(&mut value, target, edit, &mut 0);
    serde_json::to_vec(&value).ok()
}

/// The header length field and header of a safetensors file, if it has them.
fn header_of(file: &[u8]) -> Option<(usize, &[u8])> {
    let length = u64::from_le_bytes(*file.first_chunk::<8>()?);
    let length = usize::try_from(length).ok()?;
    Some((length, file.get(8..8_usize.checked_add(length)?)?))
}

/// `file` with its header replaced by `header`, and the length field to match.
fn with_header(file: &[u8], header: &[u8]) -> Option<Vec<u8>> {
    let (length, _) = header_of(file)?;
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(&file[8 + length..]);
    Some(out)
}

/// Bytes `at..at + len` of `bytes` (clamped) replaced by `with`.
fn splice(bytes: &mut Vec<u8>, at: usize, len: usize, with: &[u8]) {
    let at = position(at, bytes.len());
    let end = (at + len).min(bytes.len());
    bytes.splice(at..end, with.iter().copied());
}

/// Applies `edit` to `input`, a safetensors file if `safetensors`, else JSON text.
fn apply(input: &mut Vec<u8>, edit: &Edit, safetensors: bool) {
    match edit {
        Edit::Flip(at, bit) => {
            if !input.is_empty() {
                let at = at % input.len();
                input[at] ^= 1 << bit;
            }
        }
        Edit::Truncate(keep) => input.truncate(position(*keep, input.len())),
        Edit::Insert(at, bytes) => splice(input, *at, 0, bytes),
        Edit::Remove(at, len) => splice(input, *at, *len, &[]),
        Edit::Splice(at, len, fragment) => {
            let spliced =
                safetensors
                    .then(|| header_of(input))
                    .flatten()
                    .and_then(|(_, header)| {
                        let mut header = header.to_vec();
                        splice(&mut header, *at, *len, fragment.as_bytes());
                        with_header(input, &header)
                    });
            match spliced {
                Some(file) => *input = file,
                None => splice(input, *at, *len, fragment.as_bytes()),
            }
        }
        Edit::Length(length) => {
            if let Some(field) = input.first_chunk_mut::<8>() {
                *field = length.to_le_bytes();
            }
        }
        Edit::LengthBy(delta) => {
            if let Some(field) = input.first_chunk_mut::<8>() {
                let length = u64::from_le_bytes(*field).wrapping_add_signed(i64::from(*delta));
                *field = length.to_le_bytes();
            }
        }
        Edit::Tree(target, edit) => {
            let edited = if safetensors {
                header_of(input)
                    .and_then(|(_, header)| edit_json(header, *target, edit))
                    .and_then(|header| with_header(input, &header))
            } else {
                edit_json(input, *target, edit)
            };
            if let Some(edited) = edited {
                *input = edited;
            }
        }
    }
}

/// Any edit of a JSON tree.
fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    prop_oneof![
        3 => select(VALUES).prop_map(TreeEdit::Replace),
        1 => Just(TreeEdit::Remove),
        1 => Just(TreeEdit::Duplicate),
        1 => select(NAMES).prop_map(TreeEdit::Rename),
    ]
}

/// Any edit of a safetensors file (`safetensors`) or of JSON text.
fn edit(safetensors: bool) -> impl Strategy<Value = Edit> {
    // Header lengths at the edges: none, the limit, past it, huge.
    let lengths = select(
        &[
            0,
            1,
            7,
            8,
            MAX_HEADER as u64,
            MAX_HEADER as u64 + 1,
            1 << 40,
            u64::MAX,
        ][..],
    );
    let length_weight = u32::from(safetensors);
    prop_oneof![
        2 => (any::<usize>(), 0..8_u8).prop_map(|(at, bit)| Edit::Flip(at, bit)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), vec(any::<u8>(), 1..16)).prop_map(|(at, b)| Edit::Insert(at, b)),
        1 => (any::<usize>(), 1..32_usize).prop_map(|(at, len)| Edit::Remove(at, len)),
        2 => (any::<usize>(), 0..8_usize, select(FRAGMENTS))
            .prop_map(|(at, len, fragment)| Edit::Splice(at, len, fragment)),
        length_weight => prop_oneof![lengths, any::<u64>()].prop_map(Edit::Length),
        length_weight => any::<i8>().prop_map(Edit::LengthBy),
        4 => (any::<usize>(), tree_edit()).prop_map(|(at, edit)| Edit::Tree(at, edit)),
    ]
}

/// A seed of `target`, and the edits to make to it.
fn mutated(target: &'static str) -> impl Strategy<Value = (String, Vec<u8>, Vec<Edit>)> {
    let seeds = seeds(target);
    (select(seeds), vec(edit(target == "safetensors"), 1..=4))
        .prop_map(|((name, bytes), edits)| (name, bytes, edits))
}

/// The seed with its edits applied.
fn damaged(bytes: &[u8], edits: &[Edit], safetensors: bool) -> Vec<u8> {
    let mut input = bytes.to_vec();
    for edit in edits {
        apply(&mut input, edit, safetensors);
    }
    input
}

// ---------------------------------------------------------------------------------------------
// safetensors.

/// An F16 value by the definition of IEEE 754 binary16 (not the runtime's bit manipulation).
fn f16_by_definition(bits: u16) -> f64 {
    let sign = if bits & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    sign * match exponent {
        0 => fraction * 2f64.powi(-24),
        0x1f if fraction == 0.0 => f64::INFINITY,
        0x1f => f64::NAN,
        _ => (1.0 + fraction / 1024.0) * 2f64.powi(exponent - 15),
    }
}

/// The values of `file` for the layers of `N`, read independently of the loader: the header
/// parsed by `serde_json`, tensors assigned to layers by the rules of the documentation, every
/// tensor used, each layer's values converted from their dtype; `None` if that fails.
fn read_independently<N: Network>(file: &[u8]) -> Option<Vec<u64>> {
    let (length, header) = header_of(file)?;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(header).ok()?;
    let data = &file[8 + length..];
    let integer = |name: &str| {
        let prefix = name
            .strip_suffix(".weight")
            .or_else(|| name.strip_suffix(".bias"))?;
        let canonical = prefix.bytes().all(|b| b.is_ascii_digit()) && !prefix.is_empty();
        (canonical && (prefix == "0" || !prefix.starts_with('0')))
            .then(|| prefix.parse::<u64>().ok())
            .flatten()
    };
    let mut numbers: Vec<u64> = header.keys().filter_map(|k| integer(k)).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut numbers = numbers.into_iter();
    let mut used = 0;
    let mut values = Vec::new();
    for layer in N::LAYERS {
        let named = [".weight", ".bias"]
            .iter()
            .any(|suffix| header.contains_key(&format!("{}{suffix}", layer.name)));
        let prefix = if named {
            layer.name.to_owned()
        } else {
            numbers.next()?.to_string()
        };
        for (suffix, shape) in [
            ("weight", vec![layer.output[0], layer.input[0]]),
            ("bias", vec![layer.output[0]]),
        ] {
            let info = header.get(&format!("{prefix}.{suffix}"))?;
            let found: Vec<usize> = serde_json::from_value(info["shape"].clone()).ok()?;
            let [start, end]: [usize; 2] =
                serde_json::from_value(info["data_offsets"].clone()).ok()?;
            let bytes = data.get(start..end)?;
            if found != shape {
                return None;
            }
            let size = match info["dtype"].as_str()? {
                "F64" => 8,
                "F32" => 4,
                "F16" | "BF16" => 2,
                _ => return None,
            };
            if bytes.len() != size * layer.output[0] * shape.get(1).unwrap_or(&1) {
                return None;
            }
            for chunk in bytes.chunks_exact(size) {
                let value = match info["dtype"].as_str()? {
                    "F64" => f64::from_le_bytes(chunk.try_into().ok()?),
                    "F32" => f64::from(f32::from_le_bytes(chunk.try_into().ok()?)),
                    "F16" => f16_by_definition(u16::from_le_bytes(chunk.try_into().ok()?)),
                    _ => f64::from(f32::from_bits(
                        u32::from(u16::from_le_bytes(chunk.try_into().ok()?)) << 16,
                    )),
                };
                values.push(N::Scalar::from_f64(value).to_f64().to_bits());
            }
            used += 1;
        }
    }
    let tensors = header.keys().filter(|k| *k != "__metadata__").count();
    (used == tensors).then_some(values)
}

/// Loads `file` into `N` every way there is, checking the properties of the module
/// documentation; whether it loaded.
fn check_safetensors<N: Network>(file: &[u8]) -> bool {
    let strict = LoadOptions::new();
    let lenient = LoadOptions::new().allow_non_finite(true);
    let (result, largest) = largest_allocation_during(|| load::<N>(file, strict));
    assert_bounded::<N>(file.len(), largest);
    let (lenient_result, largest) = largest_allocation_during(|| load::<N>(file, lenient));
    assert_bounded::<N>(file.len(), largest);
    let (layers, largest) =
        largest_allocation_during(|| load_layers::<N::Scalar>(file, N::LAYERS, strict));
    assert_bounded::<N>(file.len(), largest);

    // `load_layers`, the path of baked weights, agrees with `load`.
    let flat = layers.map(|layers| {
        layers
            .iter()
            .flatten()
            .flatten()
            .map(|v| v.to_f64().to_bits())
            .collect::<Vec<_>>()
    });
    assert_eq!(flat.as_ref().err(), result.as_ref().err(), "{}", N::NAME);
    assert_eq!(flat.ok(), result.as_deref().ok().map(bits), "{}", N::NAME);
    match (&result, &lenient_result) {
        (Ok(net), Ok(lenient)) => {
            assert_eq!(bits(&**net), bits(&**lenient));
            assert_eq!(
                Some(bits(&**net)),
                read_independently::<N>(file),
                "{}: an accepted file holds other values",
                N::NAME
            );
        }
        // Only values that make outputs NaN separate the two.
        (Err(error), Ok(_)) => assert!(
            matches!(
                error,
                Error::NonFinite { .. } | Error::NegativeVariance { .. }
            ),
            "{error:?}"
        ),
        (Err(error), Err(lenient)) => {
            assert_eq!(error, lenient);
            assert!(!error.to_string().is_empty());
        }
        (Ok(_), Err(error)) => panic!(
            "{}: rejected only when non-finite values are allowed: {error}",
            N::NAME
        ),
    }
    check_partial::<N>(file, result.as_deref().ok());
    result.is_ok()
}

/// `load_partial` of `file` into a zeroed `N`, whose strict load gave `strict`: no panic,
/// bounded allocations; a complete partial load is the strict one (a strict load may take
/// more, by the file's numbers where a partial one matches exact keys); an error leaves the
/// network as it was.
fn check_partial<N: Network>(file: &[u8], strict: Option<&N>) {
    let mut net = nn::__private::zeroed_box::<N>();
    net.fill_fixed();
    let before = bits(&*net);
    let (partial, largest) =
        largest_allocation_during(|| load_partial(&mut *net, file, LoadOptions::new()));
    assert_bounded::<N>(file.len(), largest);
    match (&partial, strict) {
        (Ok(report), Some(strict)) if report.is_complete() => {
            assert_eq!(bits(&*net), bits(strict), "{}", N::NAME);
        }
        (Ok(_), Some(_)) => {}
        (Ok(report), None) => assert!(
            !report.is_complete(),
            "{}: a complete partial load of a file the strict load refuses",
            N::NAME
        ),
        (Err(error), _) => {
            assert!(!error.to_string().is_empty());
            assert_eq!(bits(&*net), before, "{}: written before {error}", N::NAME);
            assert!(
                strict.is_none(),
                "{}: only the partial load failed",
                N::NAME
            );
        }
    }
}

/// Loads `file` as a quantised `Q`: no panic, bounded allocations, a typed error with a
/// message, or a network that saves to a file that loads back to the same file; whether it
/// loaded.
fn check_quantized<Q: QuantizedFile>(file: &[u8]) -> bool {
    let (result, largest) = largest_allocation_during(|| Q::load(file));
    let limit = allocation_limit::<Q>(file.len());
    assert!(
        largest <= limit,
        "{}: {largest} bytes allocated (limit {limit})",
        Q::NAME
    );
    match result {
        Ok(net) => {
            let saved = net.save();
            let back = Q::load(&saved).expect("a saved file loads");
            assert_eq!(back.save(), saved, "{}: save and load", Q::NAME);
            true
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            false
        }
    }
}

/// `seed_tiny_int8.safetensors`: `Tiny`'s weights quantised, calibrated on fixed inputs.
#[test]
fn the_quantized_seed_is_the_calibrated_tiny_network() {
    let net = Tiny::from_safetensors(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_f32.safetensors"),
        )
        .expect("fixture"),
    )
    .expect("fixture loads");
    let samples: Vec<[f32; 5]> = (0..32_u8)
        .map(|s| std::array::from_fn(|i| f32::from(s) / 8.0 - i as f32 * 0.5))
        .collect();
    let mut quantized = TinyQInt8::calibrate(
        &TinyQ::from_safetensors(&net.to_safetensors()).expect("the same layout"),
        &samples,
        nn::quant::Calibration::MinMax,
    )
    .expect("calibration");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/safetensors/seed_tiny_int8.safetensors");
    let bytes = quantized.to_safetensors();
    if std::env::var_os("NN_BLESS").is_some() {
        std::fs::write(&path, &bytes).expect("seed written");
    }
    assert_eq!(
        std::fs::read(&path).unwrap_or_default(),
        bytes,
        "rerun with NN_BLESS=1"
    );
    quantized = TinyQInt8::from_safetensors(&bytes).expect("own file");
    assert_eq!(quantized.to_safetensors(), bytes);
}

/// The convolutions' seeds: each its twin's file, calibrated from a random network (written
/// with `NN_BLESS=1`; the calibration's last bits may depend on the CPU's `f32` kernels, so the
/// test checks that the committed file loads and saves back to itself, not its bytes).
#[test]
fn the_convolution_seeds_are_their_twins_files() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/safetensors");
    #[allow(clippy::cast_precision_loss)] // small integers
    let value = |k: usize| ((k * 37 + 11) % 23) as f32 / 11.0 - 1.0;
    if std::env::var_os("NN_BLESS").is_some() {
        let images: Vec<[[[f32; 6]; 6]; 1]> = (0..16)
            .map(|s| {
                [std::array::from_fn(|r| {
                    std::array::from_fn(|c| value(s * 36 + r * 6 + c))
                })]
            })
            .collect();
        let twin =
            Conv2dQInt8::calibrate(&Conv2dQ::random(3), &images, nn::quant::Calibration::MinMax)
                .expect("calibration");
        std::fs::write(
            corpus.join("seed_conv2d_int8.safetensors"),
            twin.to_safetensors(),
        )
        .expect("seed written");
        let rows: Vec<[[f32; 7]; 2]> = (0..16)
            .map(|s| std::array::from_fn(|c| std::array::from_fn(|t| value(s * 14 + c * 7 + t))))
            .collect();
        let twin =
            Conv1dQInt8::calibrate(&Conv1dQ::random(4), &rows, nn::quant::Calibration::MinMax)
                .expect("calibration");
        std::fs::write(
            corpus.join("seed_conv1d_int8.safetensors"),
            twin.to_safetensors(),
        )
        .expect("seed written");
    }
    let read = |name: &str| std::fs::read(corpus.join(name)).expect("rerun with NN_BLESS=1");
    let bytes = read("seed_conv2d_int8.safetensors");
    assert_eq!(
        Conv2dQInt8::from_safetensors(&bytes)
            .expect("loads")
            .to_safetensors(),
        bytes
    );
    let bytes = read("seed_conv1d_int8.safetensors");
    assert_eq!(
        Conv1dQInt8::from_safetensors(&bytes)
            .expect("loads")
            .to_safetensors(),
        bytes
    );
}

/// Whether `header` has a name twice at its top level or a shape of more than
/// [`MAX_DIMENSIONS`]: where the loader rejects what the reference implementation accepts.
fn stricter_than_the_reference(header: &[u8]) -> bool {
    let Ok(Json::Object(members)) = serde_json::from_slice::<Json>(header) else {
        return false;
    };
    let mut names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    let twice = names.windows(2).any(|pair| pair[0] == pair[1]);
    let long = |entry: &Json| match entry {
        Json::Object(fields) => fields
            .iter()
            .any(|(k, v)| k == "shape" && v.array().is_some_and(|s| s.len() > MAX_DIMENSIONS)),
        Json::Array(fields) => fields
            .get(1)
            .and_then(Json::array)
            .is_some_and(|s| s.len() > MAX_DIMENSIONS),
        Json::Scalar(_) => false,
    };
    twice || members.iter().any(|(_, entry)| long(entry))
}

/// Asserts that the loader accepts a header exactly when the reference implementation does
/// (but for the documented differences).
fn assert_header_as_the_reference(file: &[u8]) {
    let Some((_, header)) = header_of(file) else {
        return;
    };
    let reference = serde_json::from_slice::<safetensors::tensor::Metadata>(header);
    let ours = match Tiny::from_safetensors(file) {
        Err(Error::Format { reason }) => reason
            .strip_prefix("the header is not valid: ")
            .map(str::to_owned),
        _ => None,
    };
    if !stricter_than_the_reference(header) {
        assert_eq!(
            reference.is_ok(),
            ours.is_none(),
            "reference: {:?}, ours: {ours:?}",
            reference.err().map(|e| e.to_string())
        );
    }
}

/// A zero dimension after a large one: the reference counts a tensor's elements before its
/// bits, so `[2^62, 0]` is an empty tensor while `[2^62, 4, 0]` overflows; the loader reads
/// both headers as it does (the first file then names the tensor no layer has).
#[test]
fn empty_tensors_with_large_dimensions_read_as_the_reference() {
    let file = Tiny::random(1).to_safetensors();
    let (_, header) = header_of(&file).expect("a header");
    let header = std::str::from_utf8(header).expect("UTF-8");
    for (shape, accepted) in [
        ("[4611686018427387904,0]", true),
        ("[0,4611686018427387904,4]", true),
        ("[4611686018427387904,4,0]", false),
    ] {
        let entry = format!(r#"{{"empty":{{"dtype":"F32","shape":{shape},"data_offsets":[0,0]}},"#);
        let edited =
            with_header(&file, header.replacen('{', &entry, 1).as_bytes()).expect("a file");
        assert_header_as_the_reference(&edited);
        let reference = safetensors::SafeTensors::deserialize(&edited);
        assert_eq!(reference.is_ok(), accepted, "{shape}");
        match Tiny::from_safetensors(&edited) {
            Err(Error::UnexpectedTensor { tensor, .. }) if accepted => assert_eq!(tensor, "empty"),
            Err(Error::Format { .. }) if !accepted => {}
            other => panic!("{shape}: {:?}", other.map(|_| ())),
        }
    }
}

/// Loads `file` into each network; how many took it.
fn safetensors_into_each(file: &[u8]) -> usize {
    assert_header_as_the_reference(file);
    [
        check_safetensors::<Tiny>(file),
        check_safetensors::<TinyF64>(file),
        check_safetensors::<TinyNamed>(file),
        check_safetensors::<Mixed>(file),
        check_quantized::<TinyQInt8>(file),
        check_quantized::<Conv2dQInt8>(file),
        check_quantized::<Conv1dQInt8>(file),
    ]
    .into_iter()
    .filter(|loaded| *loaded)
    .count()
}

#[test]
fn the_safetensors_seeds_hold_and_load() {
    let seeds = seeds("safetensors");
    // Every fixture, and a file for `Mixed`.
    assert_eq!(
        seeds.len(),
        20,
        "{:?}",
        seeds.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    let loaded: Vec<(&str, usize)> = seeds
        .iter()
        .map(|(name, file)| (name.as_str(), safetensors_into_each(file)))
        .collect();
    for (name, count) in &loaded {
        let valid = matches!(
            *name,
            "seed_tiny_f32.safetensors"
                | "seed_tiny_f64.safetensors"
                | "seed_tiny_f16.safetensors"
                | "seed_tiny_bf16.safetensors"
                | "seed_tiny_named.safetensors"
                | "seed_f64_overflow.safetensors"
                | "seed_mixed.safetensors"
                | "seed_tiny_int8.safetensors"
                | "seed_conv2d_int8.safetensors"
                | "seed_conv1d_int8.safetensors"
        );
        assert_eq!(*count > 0, valid, "{name}");
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn damaged_safetensors_files_are_errors_or_exactly_what_they_hold(
        (_name, seed, edits) in mutated("safetensors")
    ) {
        safetensors_into_each(&damaged(&seed, &edits, true));
    }

    #[test]
    fn damaged_framing_is_its_own_error(
        (_name, seed, _) in mutated("safetensors"),
        keep in any::<usize>(),
        length in prop_oneof![any::<u64>(), 0..=MAX_HEADER as u64],
    ) {
        let (header, _) = header_of(&seed).expect("a seed has a header");
        let keep = position(keep, seed.len() - 1);
        let cut = Tiny::from_safetensors(&seed[..keep]).map(|_| ());
        let data = seed.len() - 8 - header;
        match keep {
            0..8 => prop_assert_eq!(cut, Err(Error::TooShort { found: keep })),
            _ if keep < 8 + header => prop_assert_eq!(
                cut,
                Err(Error::HeaderTruncated { length: header, found: keep - 8 })
            ),
            _ => prop_assert_eq!(
                cut,
                Err(Error::Truncated { expected: data, found: keep - 8 - header })
            ),
        }
        let mut long = seed.clone();
        long[..8].copy_from_slice(&length.to_le_bytes());
        let loaded = Tiny::from_safetensors(&long).map(|_| ());
        if length > MAX_HEADER as u64 {
            prop_assert_eq!(loaded, Err(Error::HeaderTooLarge { length, limit: MAX_HEADER }));
        } else if length != header as u64 {
            prop_assert!(loaded.is_err());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON.

/// A JSON number as the serde visitor of `T` converts it: integers straight to `T`, others
/// through `f64`.
fn number<T: Scalar>(value: &Value) -> Option<u64> {
    let wide = T::NAME == "f64";
    let as_f64 = |v: f64| {
        if wide {
            v
        } else {
            // The cast of serde's `f32` visitor.
            #[allow(clippy::cast_possible_truncation)]
            f64::from(v as f32)
        }
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let value = match (value.as_u64(), value.as_i64()) {
        (Some(u), _) if wide => u as f64,
        (Some(u), _) => f64::from(u as f32),
        (None, Some(i)) if wide => i as f64,
        (None, Some(i)) => f64::from(i as f32),
        _ => as_f64(value.as_f64()?),
    };
    value.is_finite().then_some(value.to_bits())
}

/// JSON as written, unlike [`Value`], whose objects keep one of several equal keys.
#[derive(Debug)]
enum Json {
    /// A number, string, boolean or null.
    Scalar(Value),
    /// An array.
    Array(Vec<Json>),
    /// An object's members, in order, as written.
    Object(Vec<(String, Json)>),
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Builds a [`Json`].
struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Scalar(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Scalar(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Scalar(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Scalar(v.into()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Scalar(v.into()))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry()? {
            members.push(member);
        }
        Ok(Json::Object(members))
    }
}

impl Json {
    fn array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    fn scalar(&self) -> Option<&Value> {
        match self {
            Json::Scalar(value) => Some(value),
            _ => None,
        }
    }

    /// The values of `names`, if the object has exactly these members, each once.
    fn fields<const K: usize>(&self, names: [&str; K]) -> Option<[&Json; K]> {
        let Json::Object(members) = self else {
            return None;
        };
        if members.len() != K {
            return None;
        }
        let mut fields = [None; K];
        for (key, value) in members {
            let slot = &mut fields[names.iter().position(|n| n == key)?];
            if slot.replace(value).is_some() {
                return None;
            }
        }
        Some(fields.map(|f| f.expect("every name once")))
    }

    /// The fields `names` of a struct: an object, or (serde's sequence form) an array.
    fn record<const K: usize>(&self, names: [&str; K]) -> Option<[&Json; K]> {
        match self {
            Json::Array(items) => items.iter().collect::<Vec<_>>().try_into().ok(),
            _ => self.fields(names),
        }
    }
}

/// The values of a JSON network for `N`, read independently of the loader: parsed by
/// `serde_json` into a tree, the shape and names checked against `N`; `None` if they differ.
fn read_json_independently<N: Network>(text: &[u8]) -> Option<Vec<u64>> {
    let json: Json = serde_json::from_slice(text).ok()?;
    let [layers] = json.record(["layers"])?;
    let layers = layers.array()?;
    if layers.len() != N::LAYERS.len() {
        return None;
    }
    let mut values = Vec::new();
    for (layer, info) in layers.iter().zip(N::LAYERS) {
        let [name, weights, bias] = layer.record(["name", "weights", "bias"])?;
        if name.scalar()?.as_str()? != info.name {
            return None;
        }
        let rows = weights.array()?;
        let bias = bias.array()?;
        if rows.len() != info.output[0] || bias.len() != info.output[0] {
            return None;
        }
        for row in rows {
            let row = row.array()?;
            if row.len() != info.input[0] {
                return None;
            }
            for v in row {
                values.push(number::<N::Scalar>(v.scalar()?)?);
            }
        }
        for v in bias {
            values.push(number::<N::Scalar>(v.scalar()?)?);
        }
    }
    Some(values)
}

/// Deserialises `text` into `Box<N>`, checking the properties of the module documentation;
/// whether it loaded.
fn check_json<N: Network + Serialize>(text: &[u8]) -> bool
where
    Box<N>: DeserializeOwned,
{
    let (result, largest) = largest_allocation_during(|| serde_json::from_slice::<Box<N>>(text));
    assert_bounded::<N>(text.len(), largest);
    let independent = read_json_independently::<N>(text);
    match result {
        Ok(net) => {
            assert_eq!(Some(bits(&*net)), independent, "{}", N::NAME);
            true
        }
        Err(error) => {
            assert_eq!(independent, None, "{}: rejected: {error}", N::NAME);
            // Typed: text that is JSON is rejected for its data, not its syntax. (Text that is
            // not JSON may be rejected for its data too, before the parser reaches the fault.)
            if serde_json::from_slice::<Value>(text).is_ok() {
                let category = error.classify();
                assert_eq!(
                    category,
                    serde_json::error::Category::Data,
                    "{}: {error}",
                    N::NAME
                );
            }
            assert!(!error.to_string().is_empty());
            false
        }
    }
}

/// Deserialises `text` into each network; how many took it.
fn json_into_each(text: &[u8]) -> usize {
    [
        check_json::<Tiny>(text),
        check_json::<TinyF64>(text),
        check_json::<TinyNamed>(text),
        check_json::<Mixed>(text),
    ]
    .into_iter()
    .filter(|loaded| *loaded)
    .count()
}

#[test]
fn the_json_seeds_hold_and_load() {
    let loaded: Vec<(String, usize)> = seeds("json")
        .iter()
        .map(|(name, text)| (name.clone(), json_into_each(text)))
        .collect();
    assert_eq!(
        loaded,
        [
            ("seed_mixed.json".to_owned(), 1),
            // The layers of `Tiny` and `TinyF64` have the same names.
            ("seed_tiny.json".to_owned(), 2),
            ("seed_tiny_f64.json".to_owned(), 2),
            // Found by the `json` fuzz target: more digits than an `f64` holds, which the
            // default float parser of `serde_json` reads one ulp off.
            ("seed_tiny_f64_long_digits.json".to_owned(), 2),
            ("seed_tiny_named.json".to_owned(), 1),
        ]
    );
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn damaged_json_is_an_error_or_exactly_what_it_holds(
        (_name, seed, edits) in mutated("json")
    ) {
        json_into_each(&damaged(&seed, &edits, false));
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs built to allocate, and the reference's reading of headers.

/// A safetensors file of `header` and no data.
fn file_of(header: &str) -> Vec<u8> {
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file
}

/// `n` copies of `item`, separated by commas.
fn repeat(item: &str, n: usize) -> String {
    vec![item; n].join(",")
}

#[test]
fn a_safetensors_header_allocates_at_most_a_few_times_its_size() {
    // Each of these made an allocation of 8 to 21 bytes per byte of header, when the header
    // was read by the reference implementation (through `serde`'s buffering of flattened
    // fields, then growing lists by doubling).
    let n = 100_000;
    let zeros = repeat("0", n);
    let entries = |entry: &str| {
        (0..n)
            .map(|i| format!(r#""{i}":{entry}"#))
            .collect::<Vec<_>>()
            .join(",")
    };
    for (what, header, part) in [
        (
            "a long shape",
            format!(r#"{{"0.weight":{{"dtype":"F32","shape":[{zeros}],"data_offsets":[0,0]}}}}"#),
            "invalid length 65, expected a shape of at most 64 dimensions",
        ),
        (
            "a long list",
            format!(r#"{{"x":[{zeros}]}}"#),
            "expected value at line 1 column 7",
        ),
        (
            "long offsets",
            format!(r#"{{"0.weight":{{"dtype":"F32","shape":[0],"data_offsets":[{zeros}]}}}}"#),
            "trailing characters",
        ),
        (
            "many objects",
            format!(r#"{{"x":[{}]}}"#, repeat("{}", n)),
            "expected value at line 1 column 8",
        ),
        (
            "many tensors",
            format!(
                "{{{}}}",
                entries(r#"{"dtype":"I8","shape":[0],"data_offsets":[0,0]}"#)
            ),
            "no tensors for layer `layer0`",
        ),
        // The smallest entries there are: 19 bytes for 72 bytes of tensor.
        (
            "many tensors as lists",
            format!("{{{}}}", repeat(r#""":["I8",[0],[0,0]]"#, n)),
            "tensor `` appears twice",
        ),
        // Members that are not tensors are counted too: 5 bytes each must not reserve 72.
        (
            "many members that are not tensors",
            format!("{{{}}}", repeat(r#""":0"#, n)),
            "the header is not valid",
        ),
        (
            "much metadata",
            format!(r#"{{"__metadata__":{{{}}}}}"#, entries(r#""""#)),
            "no tensors for layer `layer0`",
        ),
        (
            "deep arrays",
            format!(r#"{{"x":{}{}}}"#, "[".repeat(n), "]".repeat(n)),
            "expected value",
        ),
    ] {
        let file = file_of(&header);
        let (result, largest) = largest_allocation_during(|| Tiny::from_safetensors(&file));
        assert_bounded::<Tiny>(file.len(), largest);
        let error = result.map(|_| ()).expect_err(what).to_string();
        assert!(error.contains(part), "{what}: {error}");
    }
}

#[test]
fn json_allocates_nothing_but_the_network_and_names() {
    // A list of empty rows made 10 bytes of allocation per byte of JSON (the rows were read
    // into `Vec`s before their shape was checked), a long row of `f64`s 5.
    let n = 100_000;
    let zeros = repeat("0", n);
    let layer = |name: &str, weights: &str, bias: &str| {
        format!(r#"{{"layers":[{{"name":"{name}","weights":{weights},"bias":{bias}}}]}}"#)
    };
    let long_name = "a".repeat(n);
    for (what, json, part) in [
        (
            "empty rows",
            layer("layer0", &format!("[{}]", repeat("[]", n)), "[]"),
            "shape [100000, 0]",
        ),
        (
            "a long row",
            layer("layer0", &format!("[[{zeros}]]"), "[]"),
            "shape [1, 100000]",
        ),
        (
            "a long bias",
            layer("layer0", "[]", &format!("[{zeros}]")),
            "shape [0], expected [4, 5]",
        ),
        ("a long name", layer(&long_name, "[]", "[]"), "found `aaaa"),
        (
            "escapes",
            layer(&"\\n".repeat(n), "[]", "[]"),
            "found `\n\n",
        ),
        (
            "extra layers",
            format!(r#"{{"layers":[1,2,[{zeros}]]}}"#),
            "invalid type: integer `1`",
        ),
        (
            "a long key",
            format!(r#"{{"{}":1}}"#, "\\n".repeat(n)),
            "unknown field",
        ),
    ] {
        let (result, largest) =
            largest_allocation_during(|| serde_json::from_str::<Box<Tiny>>(&json));
        assert_bounded::<Tiny>(json.len(), largest);
        let error = result.map(|_| ()).expect_err(what).to_string();
        assert!(error.contains(part), "{what}: {error}");
        let (result, largest) =
            largest_allocation_during(|| serde_json::from_str::<Box<TinyF64>>(&json));
        assert_bounded::<TinyF64>(json.len(), largest);
        assert!(result.is_err(), "{what}");
    }
}

#[test]
fn headers_read_as_the_reference_reads_them() {
    use safetensors::tensor::Metadata;
    let file = crate::fixtures::bytes("tiny_f32");
    let (length, header) = header_of(&file).expect("a header");
    let data = file.len() - 8 - length;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(header).expect("JSON");
    let expected = bits(&*Tiny::from_safetensors(&file).expect("valid"));
    let edited = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut header = header.clone();
        edit(&mut header);
        let text = serde_json::to_vec(&header).expect("JSON");
        let reference = serde_json::from_slice::<Metadata>(&text).map(|_| ());
        (with_header(&file, &text).expect("a header"), reference)
    };

    // Tensors as lists, metadata `null`, unknown fields: all as the reference.
    let (lists, reference) = edited(&|header| {
        for (name, entry) in header.iter_mut() {
            if name != "__metadata__" {
                *entry = serde_json::json!([entry["dtype"], entry["shape"], entry["data_offsets"]]);
            }
        }
        header["__metadata__"] = Value::Null;
    });
    assert!(reference.is_ok());
    assert_eq!(
        Tiny::from_safetensors(&lists).map(|n| bits(&*n)),
        Ok(expected.clone())
    );
    let (unknown, reference) = edited(&|header| {
        header["0.weight"]["comment"] = serde_json::json!({"any": [1, "thing"]});
    });
    assert!(reference.is_ok());
    assert_eq!(
        Tiny::from_safetensors(&unknown).map(|n| bits(&*n)),
        Ok(expected)
    );

    // A tensor of many dimensions: the reference reads it, and so does the loader up to
    // `MAX_DIMENSIONS`, to name it.
    for dimensions in [MAX_DIMENSIONS, MAX_DIMENSIONS + 1] {
        let (many, reference) = edited(&|header| {
            header.insert(
                "conv.weight".into(),
                serde_json::json!({"dtype": "F32", "shape": vec![0; dimensions], "data_offsets": [data, data]}),
            );
        });
        assert!(reference.is_ok());
        let error = Tiny::from_safetensors(&many)
            .map(|_| ())
            .expect_err("unused tensor");
        if dimensions == MAX_DIMENSIONS {
            assert_eq!(
                error,
                Error::UnexpectedTensor {
                    tensor: "conv.weight".into(),
                    layers: 2
                }
            );
        } else {
            assert!(
                error
                    .to_string()
                    .contains("expected a shape of at most 64 dimensions"),
                "{error}"
            );
        }
    }

    // A name twice: the reference takes the last; the loader refuses to guess.
    let text = std::str::from_utf8(header_of(&file).expect("a header").1).expect("UTF-8");
    let entry = &text[text.find(r#""0.bias""#).expect("0.bias")..];
    let entry = &entry[..=entry.find('}').expect("the end of the entry")];
    let twice = text.replacen(entry, &format!("{entry},{entry}"), 1);
    assert!(serde_json::from_str::<Metadata>(&twice).is_ok());
    let error = Tiny::from_safetensors(&with_header(&file, twice.as_bytes()).expect("a header"))
        .map(|_| ())
        .expect_err("a name twice");
    assert_eq!(
        error,
        Error::Format {
            reason: "the header is not valid: tensor `0.bias` appears twice".into()
        }
    );
}
