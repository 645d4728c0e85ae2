//! safetensors files: what PyTorch writes with `safetensors.torch.save_file(model.state_dict(),
//! path)`, and the same layout back.
//!
//! # Which tensor goes to which layer
//!
//! Each layer reads one tensor of the file per tensor of its [`LayerInfo::tensors`], named
//! `<prefix>.<tensor>` and shaped as PyTorch shapes it: a dense layer reads `<prefix>.weight`
//! of shape `[outputs, inputs]` (PyTorch's `Linear.weight`, row `o` being neuron `o`) and
//! `<prefix>.bias` of shape `[outputs]`. The prefix is found in two steps:
//!
//! 1. A layer whose name (`-> 128 relu as hidden`, or the default `layer{k}`) has one of its
//!    tensors in the file (`hidden.weight` or `hidden.bias`) takes that name as its prefix, as
//!    the `state_dict` of a module with attributes `self.hidden = nn.Linear(...)` names it.
//! 2. The other layers, input to output, take the integer prefixes of the file (of tensors
//!    named `<k>.<tensor>`, `<tensor>` a tensor name of the network) in ascending order:
//!    `nn.Sequential(Linear, ReLU, Linear)` writes `0.*` and `2.*`, and the gap left by the
//!    ReLU does not matter. Layers without tensors (pools, `flatten`) take no prefix: the gaps
//!    they leave (`Sequential(Conv2d, ReLU, MaxPool2d, Flatten, Linear)` writes `0.*` and
//!    `4.*`) do not matter either.
//!
//! Every tensor must be taken: a tensor left over (a third `Linear`, a `BatchNorm`'s
//! `running_mean` in a network without batchnorm) is [`Error::UnexpectedTensor`]. Dtypes `F32`,
//! `F64`, `F16` and `BF16` are converted to the network's scalar type (rounding to nearest, as
//! numpy's `astype`), and put in storage order through [`TensorInfo::storage_indices`].
//!
//! A counter ([`Role::Counter`]: a batchnorm's `num_batches_tracked`, an `I64` of no axes in
//! PyTorch's files) may also be of any integer dtype, and may be missing (then it is 0, as
//! PyTorch loads checkpoints older than the counter); inference never reads it.
//!
//! # Damaged files
//!
//! The header is read as the reference implementation reads it, except that a tensor named twice
//! is an error (the reference keeps the last) and a shape has at most [`MAX_DIMENSIONS`]. It is
//! read straight into the list of tensors, so that no single allocation while loading is larger
//! than the network or a few bytes per byte of the file, whatever the file holds.
//!
//! # What [`save`] writes
//!
//! The same layout, so that PyTorch reads it back with `model.load_state_dict(load_file(path))`:
//! a layer named in the declaration writes `<name>.<tensor>` for each of its tensors
//! (`<name>.weight` and `<name>.bias`); an unnamed layer writes `<k>.<tensor>` with `k` its
//! index in the equivalent `nn.Sequential`, in which every activation but `linear` is a module
//! of its own (`784 -> 128 relu -> 10 softmax` writes `0.*` and `2.*`, as
//! `nn.Sequential(Linear(784, 128), ReLU(), Linear(128, 10), Softmax(1))`), and so is every
//! layer without tensors (a pool, `flatten`), which writes nothing; a global pool is two
//! (`AdaptiveAvgPool2d(1)`, then `Flatten()`). Tensors have the
//! network's scalar type (`F32` or `F64`), but counters, which are `I64` as in PyTorch's
//! `state_dict` (a batchnorm writes `num_batches_tracked`, so that PyTorch's strict
//! `load_state_dict` accepts the file); the header's metadata is `{"format": "pt"}`, as
//! `safetensors.torch` writes it.
//!
//! [`save_half`] writes the same file with some layers' weights in `BF16` or `F16`: a
//! half-precision twin's file.

use crate::network::Plural;
use crate::tensor::coordinates;
use crate::zeroed::zeroed_box;
use crate::{Error, LayerInfo, Network, Role, Scalar, TensorInfo};
use ::safetensors::tensor::Dtype;
use ::serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use ::serde::{Deserialize, Deserializer};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt::{self, Write};

/// Largest header accepted, in bytes: 100 MB, as the reference implementation. A larger length
/// is rejected before anything is allocated.
pub const MAX_HEADER: usize = 100_000_000;

/// How to read a file; [`LoadOptions::new`] is the strict default.
///
/// ```
/// use nn_runtime::io::safetensors::LoadOptions;
///
/// let options = LoadOptions::new().allow_non_finite(true);
/// assert_ne!(options, LoadOptions::default());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    allow_non_finite: bool,
}

impl LoadOptions {
    /// Rejects NaN and infinite values, and negative variances.
    pub const fn new() -> Self {
        Self {
            allow_non_finite: false,
        }
    }

    /// Whether to accept values that make outputs NaN: NaN and infinite weights and biases, and
    /// negative variances (batchnorm's `running_var`). Rejected by default: they are nearly
    /// always a diverged training run or a damaged file.
    #[must_use]
    pub const fn allow_non_finite(self, allow: bool) -> Self {
        Self {
            allow_non_finite: allow,
        }
    }
}

/// One tensor of a parsed file.
pub(crate) struct Tensor {
    pub(crate) name: String,
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<usize>,
    /// Where its data lies in the data of the file (after the header).
    offsets: (usize, usize),
}

impl Tensor {
    /// The tensor's bytes in `data`, the data of its file, whose length [`parse`] checked.
    pub(crate) fn data<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        data.get(self.offsets.0..self.offsets.1).unwrap_or_default()
    }
}

/// Splits a file into its tensors, in the order of their data, and its data, checking the
/// framing: the header length, the header itself, and that the data is exactly as long as the
/// header says.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Vec<Tensor>, &[u8]), Error> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(Error::TooShort { found: bytes.len() });
    };
    let length = u64::from_le_bytes(*length);
    // The length is checked against the limit before it is used for anything: a damaged file
    // must not make us allocate gigabytes.
    let header_length = usize::try_from(length)
        .ok()
        .filter(|&n| n <= MAX_HEADER)
        .ok_or(Error::HeaderTooLarge {
            length,
            limit: MAX_HEADER,
        })?;
    let Some((header, data)) = rest.split_at_checked(header_length) else {
        return Err(Error::HeaderTruncated {
            length: header_length,
            found: rest.len(),
        });
    };
    let invalid = |reason: core::fmt::Arguments<'_>| Error::Format {
        reason: format!("the header is not valid: {reason}"),
    };
    // A first reading counts the tensors, so that the second can allocate exactly: growing the
    // list by doubling would allocate up to 8 bytes per byte of a header of many small tensors.
    let Count(count) = serde_json::from_slice(header).map_err(|e| invalid(format_args!("{e}")))?;
    // The count includes members that are not tensors (`{"":0,...}` is 5 bytes a member): reserve
    // no more than the smallest valid tensor entry allows, 19 bytes of header each.
    let Header(mut tensors) = HeaderSeed(count.min(header.len() / 19))
        .deserialize(&mut serde_json::Deserializer::from_slice(header))
        .map_err(|e| invalid(format_args!("{e}")))?;
    // A name twice is ambiguous (the reference implementation takes the last one).
    {
        let mut names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(name) = names
            .windows(2)
            .find_map(|pair| (pair[0] == pair[1]).then_some(pair[0]))
        {
            return Err(invalid(format_args!("tensor `{name}` appears twice")));
        }
    }
    // The checks of the reference implementation: offsets that start at 0 and follow each
    // other, each tensor's byte count equal to its shape times its dtype's size, no overflow.
    // The names break ties between empty tensors, so that errors do not depend on the order of
    // the header; neither sort allocates.
    tensors.sort_unstable_by(|a, b| (a.offsets, &a.name).cmp(&(b.offsets, &b.name)));
    let mut end = 0;
    for tensor in &tensors {
        let (start, stop) = tensor.offsets;
        let name = &tensor.name;
        if start != end || stop < start {
            return Err(invalid(format_args!(
                "tensor `{name}` has data offsets [{start}, {stop}], expected [{end}, ...]: \
                 each tensor's data follows the previous one's"
            )));
        }
        // The reference's order: the elements' count, then its bits (so that a zero
        // dimension after a large one is not an overflow).
        let bits = tensor
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .and_then(|elements| elements.checked_mul(tensor.dtype.bitsize()))
            .filter(|bits| bits % 8 == 0)
            .ok_or_else(|| {
                invalid(format_args!(
                    "tensor `{name}` of shape {:?} and dtype {} is not a whole number of bytes \
                     that fits in memory",
                    tensor.shape, tensor.dtype
                ))
            })?;
        if stop - start != bits / 8 {
            return Err(invalid(format_args!(
                "tensor `{name}` of shape {:?} and dtype {} has {} bytes, its data offsets \
                 [{start}, {stop}] hold {}",
                tensor.shape,
                tensor.dtype,
                bits / 8,
                stop - start
            )));
        }
        end = stop;
    }
    match data.len().cmp(&end) {
        Ordering::Less => {
            return Err(Error::Truncated {
                expected: end,
                found: data.len(),
            });
        }
        Ordering::Greater => {
            return Err(Error::Format {
                reason: format!(
                    "{} bytes after the last tensor (the header describes {end} bytes of data)",
                    data.len() - end
                ),
            });
        }
        Ordering::Equal => {}
    }
    Ok((tensors, data))
}

/// Most dimensions a tensor of the header may have. Only tensors of one or two dimensions can
/// be loaded; the limit keeps a damaged shape from allocating more than a few hundred bytes,
/// while real tensors of more dimensions still get an error that names them.
pub const MAX_DIMENSIONS: usize = 64;

/// A safetensors header, `{"__metadata__": {"key": "value", ...}, "name": {"dtype", "shape",
/// "data_offsets"}, ...}`, read as the reference implementation reads it (which also accepts a
/// tensor written as the list `[dtype, shape, data_offsets]`, or a `null` metadata), except
/// that a name given twice is an error rather than the last one winning, and that a shape has
/// at most [`MAX_DIMENSIONS`]. Read straight into the tensors, never through an intermediate
/// tree, so that no allocation is more than a few times the size of the header.
struct Header(Vec<Tensor>);

/// Reads a [`Header`] of at most this many tensors.
struct HeaderSeed(usize);

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = Header;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Header, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a safetensors header: {\"tensor name\": {\"dtype\", \"shape\", \"data_offsets\"}, ...}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut tensors = Vec::with_capacity(self.0);
        let mut metadata = false;
        while let Some(name) = map.next_key::<String>()? {
            if name == "__metadata__" {
                if metadata {
                    return Err(de::Error::duplicate_field("__metadata__"));
                }
                metadata = true;
                map.next_value::<Option<TextMap>>()?;
            } else {
                let (dtype, shape, offsets) = map.next_value_seed(EntrySeed)?;
                tensors.push(Tensor {
                    name,
                    dtype,
                    shape,
                    offsets,
                });
            }
        }
        Ok(Header(tensors))
    }
}

/// The number of members of a JSON object, read without allocating.
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Count(0))
    }
}

impl<'de> Visitor<'de> for Count {
    type Value = Count;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a safetensors header: a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
        let mut count = 0;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(Count(count))
    }
}

/// A map of strings to strings, checked and dropped.
struct TextMap;

impl<'de> Deserialize<'de> for TextMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TextMap)
    }
}

impl<'de> Visitor<'de> for TextMap {
    type Value = TextMap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings to strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TextMap, A::Error> {
        while map.next_entry::<Text, Text>()?.is_some() {}
        Ok(TextMap)
    }
}

/// A string, checked and dropped.
struct Text;

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Text)
    }
}

impl Visitor<'_> for Text {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Text, E> {
        Ok(Text)
    }
}

/// One tensor's entry in the header: dtype, shape and data offsets.
struct EntrySeed;

type Entry = (Dtype, Vec<usize>, (usize, usize));

const ENTRY_FIELDS: &[&str] = &["dtype", "shape", "data_offsets"];

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Entry, D::Error> {
        deserializer.deserialize_struct("TensorInfo", ENTRY_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for EntrySeed {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tensor: {\"dtype\", \"shape\", \"data_offsets\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        while let Some(field) = map.next_key::<EntryField>()? {
            match field {
                EntryField::Dtype if dtype.is_none() => dtype = Some(map.next_value()?),
                EntryField::Shape if shape.is_none() => {
                    shape = Some(map.next_value_seed(ShapeSeed)?);
                }
                EntryField::Offsets if offsets.is_none() => offsets = Some(map.next_value()?),
                // Unknown fields are ignored, as the reference implementation ignores them.
                EntryField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
                EntryField::Dtype | EntryField::Shape | EntryField::Offsets => {
                    return Err(de::Error::duplicate_field(ENTRY_FIELDS[field as usize]));
                }
            }
        }
        Ok((
            dtype.ok_or_else(|| de::Error::missing_field("dtype"))?,
            shape.ok_or_else(|| de::Error::missing_field("shape"))?,
            offsets.ok_or_else(|| de::Error::missing_field("data_offsets"))?,
        ))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        let dtype = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let shape = seq
            .next_element_seed(ShapeSeed)?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let offsets = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(2, &self))?;
        Ok((dtype, shape, offsets))
    }
}

/// The fields of an entry, by their index in [`ENTRY_FIELDS`].
#[derive(Clone, Copy)]
enum EntryField {
    Dtype = 0,
    Shape = 1,
    Offsets = 2,
    Other,
}

impl<'de> Deserialize<'de> for EntryField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(EntryFieldVisitor)
    }
}

/// Reads an [`EntryField`] without allocating.
struct EntryFieldVisitor;

impl Visitor<'_> for EntryFieldVisitor {
    type Value = EntryField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<EntryField, E> {
        Ok(match name {
            "dtype" => EntryField::Dtype,
            "shape" => EntryField::Shape,
            "data_offsets" => EntryField::Offsets,
            _ => EntryField::Other,
        })
    }
}

/// A shape: at most [`MAX_DIMENSIONS`] sizes.
struct ShapeSeed;

impl<'de> DeserializeSeed<'de> for ShapeSeed {
    type Value = Vec<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<usize>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed {
    type Value = Vec<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a shape of at most {MAX_DIMENSIONS} dimensions")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<usize>, A::Error> {
        let mut shape = Vec::new();
        while let Some(size) = seq.next_element()? {
            if shape.len() == MAX_DIMENSIONS {
                return Err(de::Error::invalid_length(shape.len() + 1, &self));
            }
            shape.push(size);
        }
        Ok(shape)
    }
}

/// `k` for `<k>.<tensor>`, where `k` is an integer written without leading zeros and
/// `<tensor>` one of `names` (the names of the network's tensors: `weight`, `bias`).
fn integer_prefix(name: &str, names: &[&str]) -> Option<usize> {
    let prefix = names
        .iter()
        .find_map(|tensor| name.strip_suffix(tensor)?.strip_suffix('.'))?;
    let canonical = !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'));
    if canonical { prefix.parse().ok() } else { None }
}

/// The integer prefixes `k` of the file's tensors `<k>.<tensor>` (`<tensor>` a tensor name of
/// `layers`), ascending, each once.
fn integer_prefixes(tensors: &[Tensor], layers: &[LayerInfo]) -> Vec<usize> {
    let mut suffixes: Vec<&str> = layers
        .iter()
        .flat_map(|layer| layer.tensors.iter().map(|tensor| tensor.name))
        .collect();
    suffixes.sort_unstable();
    suffixes.dedup();
    let mut numbers: Vec<usize> = tensors
        .iter()
        .filter_map(|t| integer_prefix(&t.name, &suffixes))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}

/// [`list`] of the tensors named `<prefix>.*`, or of all of them if none is: what a layer
/// missing one of its tensors has instead (an `nn.Linear`'s tensors where an `nn.LSTM`'s were
/// expected).
pub(crate) fn under_prefix(tensors: &[Tensor], prefix: &str) -> String {
    let dotted = format!("{prefix}.");
    let siblings: Vec<&str> = tensors
        .iter()
        .map(|t| t.name.as_str())
        .filter(|name| name.starts_with(&dotted))
        .collect();
    if siblings.is_empty() {
        list(tensors)
    } else {
        list_names(siblings)
    }
}

/// The tensor names of a file, quoted, for an error message.
pub(crate) fn list(tensors: &[Tensor]) -> String {
    list_names(tensors.iter().map(|t| t.name.as_str()).collect())
}

/// [`list`] of these names.
fn list_names(mut names: Vec<&str>) -> String {
    const SHOWN: usize = 8;
    if names.is_empty() {
        return "no tensors".into();
    }
    names.sort_unstable();
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        let _ = write!(text, ", ... ({} tensors)", names.len());
    }
    text
}

/// What [`assign`] found in a file for a network's layers.
struct Assigned<'f> {
    /// The file's tensor for every tensor of the layers, in their order (layer by layer, each
    /// layer's in the order of [`LayerInfo::tensors`]); `None` for a missing counter, or in a
    /// partial load for any missing tensor.
    found: Vec<Option<&'f Tensor>>,
    /// In a partial load, the report of what was missing and left over.
    partial: Partial,
}

/// The file's tensor for every tensor of `layers` (see the module documentation for the rules),
/// or the first layer or tensor that does not fit them. Unless `strict`, a layer the file has
/// no tensors for, a tensor missing under a layer's prefix and a tensor no layer takes are not
/// errors but listed in [`Assigned::partial`]; a tensor of the wrong shape or dtype still is.
///
/// A strict load takes the unnamed layers' integer keys in order. Where that finds a layer
/// too few or too many, the keys `save` writes (PyTorch's `nn.Sequential` indices) are tried
/// too, and where their error says which declaration would read the file (a layernorm's
/// `affine = false`), theirs is returned: the order cannot tell which layer a layernorm
/// without tensors is, the indices can.
fn assign<'f>(
    tensors: &'f [Tensor],
    layers: &[LayerInfo],
    strict: bool,
) -> Result<Assigned<'f>, Error> {
    if !strict {
        return assign_by(tensors, layers, Keys::Saved, false);
    }
    let in_order = match assign_by(tensors, layers, Keys::InOrder, true) {
        Ok(assigned) => return Ok(assigned),
        Err(error) => error,
    };
    // Only where the order went wrong by one layer: the file has one layer's keys fewer (a
    // layernorm saved without tensors) or more (one saved with them) than the layers that
    // take integer keys (those whose name it does not have). Shapes, dtypes and values are
    // the file's own problems.
    let keys = integer_prefixes(tensors, layers).len();
    let unnamed = layers
        .iter()
        .filter(|layer| !layer.tensors.is_empty() && !by_name(tensors, layer))
        .count();
    let structural = matches!(
        in_order,
        Error::MissingLayer { .. } | Error::MissingTensor { .. } | Error::UnexpectedTensor { .. }
    );
    if in_order.hints() || !structural {
        return Err(in_order);
    }
    match assign_by(tensors, layers, Keys::Saved, true) {
        Err(saved @ Error::MissingLayer { .. }) if saved.hints() && keys + 1 == unnamed => {
            Err(saved)
        }
        Err(saved @ Error::ExtraTensor { .. }) if saved.hints() && keys == unnamed + 1 => {
            Err(saved)
        }
        _ => Err(in_order),
    }
}

/// Whether the file has a tensor of `layer` under its name (`fc1.weight`), which it then reads
/// whether or not the declaration named it.
fn by_name(tensors: &[Tensor], layer: &LayerInfo) -> bool {
    layer.tensors.iter().any(|tensor| {
        let name = format!("{}.{}", layer.name, tensor.name);
        tensors.iter().any(|t| t.name == name)
    })
}

/// How the layers declared without a name find their tensors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// The file's integer keys `k` of `<k>.<tensor>`, in order.
    InOrder,
    /// Exactly the key `save` writes for it: its index in the `nn.Sequential`.
    Saved,
}

/// Whether `tensors` are an int8 twin's file: `I8` weights beside scales (an integer
/// `num_batches_tracked` alone does not make one).
fn quantized(tensors: &[Tensor]) -> bool {
    tensors
        .iter()
        .any(|t| t.dtype == Dtype::I8 && t.name.ends_with(".weight"))
        && tensors.iter().any(|t| t.name.ends_with(".input_scale"))
}

/// Whether `bytes` is a readable safetensors file of an int8 twin (its `to_safetensors`), by
/// the rule with which the float loaders refuse one: for `network!`'s baking, which reads it
/// with the int8 reader then.
#[doc(hidden)]
#[must_use]
pub fn is_quantized_file(bytes: &[u8]) -> bool {
    parse(bytes).is_ok_and(|(tensors, _)| quantized(&tensors))
}

/// [`assign`] with the rule `keys`.
fn assign_by<'f>(
    tensors: &'f [Tensor],
    layers: &[LayerInfo],
    keys: Keys,
    strict: bool,
) -> Result<Assigned<'f>, Error> {
    // An int8 twin's file is not a float network's: say so, rather than name its first scale
    // as a tensor of too many.
    if quantized(tensors) {
        return Err(Error::QuantizedFile {});
    }
    let find = |name: &str| tensors.iter().position(|t| t.name == name);
    let mut numbers = integer_prefixes(tensors, layers).into_iter();

    let mut used = vec![false; tensors.len()];
    let mut found = Vec::with_capacity(layers.iter().map(|l| l.tensors.len()).sum());
    let mut prefixes: Vec<(String, &LayerInfo)> = Vec::with_capacity(layers.len());
    let mut partial = Partial::default();
    // What `save` writes: how a missing layer's tensors are reported.
    let saved = crate::network::prefixes(layers);
    for (index, layer) in layers.iter().enumerate() {
        // A layer without tensors (a pool, `flatten`) reads nothing; in a Sequential it only
        // leaves a gap in the numbering.
        if layer.tensors.is_empty() {
            continue;
        }
        // In a partial load keys match exactly, as PyTorch's: a layer reads its name, or an
        // unnamed one the key `save` writes for it (its index in the `nn.Sequential`).
        let exact = (keys == Keys::Saved && !layer.named)
            .then(|| saved[index].as_str())
            .filter(|key| {
                let found = |t: &TensorInfo| find(&format!("{key}.{}", t.name)).is_some();
                layer.tensors.iter().any(found)
            });
        let prefix = if by_name(tensors, layer) {
            layer.name.to_string()
        } else if let Some(key) = exact {
            key.to_string()
        } else if !strict {
            found.extend(layer.tensors.iter().map(|_| None));
            partial.miss(&saved[index], layer.tensors);
            continue;
        } else if let Some(k) = numbers.next().filter(|_| keys == Keys::InOrder) {
            k.to_string()
        } else {
            return Err(Error::MissingLayer {
                layer: layer.name,
                kind: layer.kind,
                index,
                count: layers.len(),
                expected: layer.tensors,
                tensors: list(tensors),
            });
        };
        let positions: Vec<Option<usize>> = layer
            .tensors
            .iter()
            .map(|tensor| find(&format!("{prefix}.{}", tensor.name)))
            .collect();
        let missing = positions
            .iter()
            .zip(layer.tensors)
            .position(|(position, info)| position.is_none() && info.role != Role::Counter);
        if !strict {
            let absent = positions
                .iter()
                .zip(layer.tensors)
                .filter(|(p, _)| p.is_none());
            partial.miss(&prefix, absent.map(|(_, info)| info));
        } else if let Some(missing) = missing {
            return Err(Error::MissingTensor {
                layer: layer.name,
                kind: Some(layer.kind),
                tensor: format!("{prefix}.{}", layer.tensors[missing].name),
                found: under_prefix(tensors, &prefix),
            });
        }
        for position in positions {
            if let Some(position) = position {
                used[position] = true;
            }
            found.push(position.map(|position| &tensors[position]));
        }
        prefixes.push((prefix, layer));
    }
    let unused = tensors.iter().zip(&used).filter(|(_, used)| !**used);
    if strict {
        if let Some((extra, _)) = unused.min_by(|a, b| a.0.name.cmp(&b.0.name)) {
            return Err(unexpected(extra, tensors, &prefixes, layers, &saved));
        }
    } else {
        partial.unexpected = unused.map(|(t, _)| t.name.clone()).collect();
        partial.unexpected.sort_unstable();
    }
    let expected = layers
        .iter()
        .flat_map(|layer| layer.tensors.iter().map(move |tensor| (layer, tensor)));
    for (tensor, (layer, info)) in found.iter().zip(expected) {
        if let Some(tensor) = tensor {
            check(layer, tensor, info)?;
        }
    }
    Ok(Assigned { found, partial })
}

/// The error for `extra`, a tensor no layer took: under the prefix a layer took (of
/// `prefixes`), that layer's, naming what it has; under the name of a layernorm declared
/// `affine = false`, which takes no tensors, or its `nn.Sequential` key (`saved`) with tensors
/// of its shape, that one's; else one of a file with more layers than the network's `layers`.
fn unexpected(
    extra: &Tensor,
    tensors: &[Tensor],
    prefixes: &[(String, &LayerInfo)],
    layers: &[LayerInfo],
    saved: &[String],
) -> Error {
    let under = |prefix: &str| {
        extra
            .name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    let owner = prefixes
        .iter()
        .find(|(prefix, _)| under(prefix))
        .map(|(prefix, layer)| (prefix.clone(), *layer))
        .or_else(|| {
            // A layernorm without tensors (`affine = false`), by its name, or by its key
            // where every tensor under it has its shape (as a `LayerNorm`'s weight and bias
            // have, and not a `Linear`'s).
            let shaped = |key: &str, layer: &LayerInfo| {
                let dotted = format!("{key}.");
                tensors
                    .iter()
                    .filter(|t| t.name.starts_with(&dotted))
                    .all(|t| t.shape == layer.input)
            };
            let (layer, prefix) = layers.iter().zip(saved).find(|(layer, key)| {
                layer.kind == crate::LayerKind::LayerNorm
                    && layer.tensors.is_empty()
                    && (under(layer.name) || (!layer.named && under(key) && shaped(key, layer)))
            })?;
            let prefix = if under(layer.name) {
                layer.name
            } else {
                prefix.as_str()
            };
            Some((prefix.to_string(), layer))
        });
    match owner {
        Some((prefix, layer)) => Error::ExtraTensor {
            layer: layer.name,
            tensor: extra.name.clone(),
            prefix,
            expected: layer.tensors,
        },
        None => Error::UnexpectedTensor {
            tensor: extra.name.clone(),
            layers: layers.len(),
        },
    }
}

/// Checks a tensor's shape, then its dtype: a float, or for a counter also an integer.
fn check(layer: &LayerInfo, tensor: &Tensor, info: &TensorInfo) -> Result<(), Error> {
    if tensor.shape != info.shape {
        return Err(Error::Shape {
            layer: layer.name,
            kind: Some(layer.kind),
            tensor: tensor.name.clone(),
            expected: info.shape.to_vec(),
            found: tensor.shape.clone(),
        });
    }
    let float = matches!(
        tensor.dtype,
        Dtype::F32 | Dtype::F64 | Dtype::F16 | Dtype::BF16
    );
    let integer = matches!(
        tensor.dtype,
        Dtype::I8
            | Dtype::I16
            | Dtype::I32
            | Dtype::I64
            | Dtype::U8
            | Dtype::U16
            | Dtype::U32
            | Dtype::U64
    );
    let found = || tensor.dtype.to_string();
    match info.role {
        Role::Counter if !float && !integer => Err(Error::CounterDtype {
            layer: layer.name,
            tensor: tensor.name.clone(),
            found: found(),
        }),
        Role::Parameter | Role::Buffer if !float => Err(Error::Dtype {
            layer: layer.name,
            tensor: tensor.name.clone(),
            found: found(),
        }),
        _ => Ok(()),
    }
}

/// Decodes one little-endian value of `dtype` (a float type, exactly, or an integer type, to
/// the nearest `f64`).
// Counts above 2^53 round, as they do in the network's scalar type anyway.
#[allow(clippy::cast_precision_loss)]
fn decode(dtype: Dtype, bytes: &[u8]) -> Option<f64> {
    Some(match dtype {
        Dtype::F32 => f64::from(f32::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::F64 => f64::from_le_bytes(bytes.try_into().ok()?),
        Dtype::F16 => f16_to_f64(u16::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::BF16 => bf16_to_f64(u16::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::I8 => f64::from(i8::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::I16 => f64::from(i16::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::I32 => f64::from(i32::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::I64 => i64::from_le_bytes(bytes.try_into().ok()?) as f64,
        Dtype::U8 => f64::from(u8::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::U16 => f64::from(u16::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::U32 => f64::from(u32::from_le_bytes(bytes.try_into().ok()?)),
        Dtype::U64 => u64::from_le_bytes(bytes.try_into().ok()?) as f64,
        _ => return None,
    })
}

/// An IEEE 754 half-precision value (1 sign bit, 5 exponent bits, 10 fraction bits), exactly.
///
/// Written out rather than taken from the `half` crate, whose `zerocopy` dependency costs more
/// build time than the rest of this feature; checked against numpy on every exponent.
pub fn f16_to_f64(bits: u16) -> f64 {
    let sign = u32::from(bits & 0x8000) << 16;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let fraction = u32::from(bits & 0x3ff);
    let magnitude = match exponent {
        // Subnormal: `fraction * 2^-24`, exact in `f32` (a power-of-two scaling of an integer
        // below 2^10, landing in the normal range).
        0 => fraction as f32 * f32::from_bits((127 - 24) << 23),
        // Infinity, or NaN with its payload.
        0x1f => f32::from_bits(0x7f80_0000 | fraction << 13),
        // Normal: rebias the exponent, widen the fraction.
        _ => f32::from_bits((exponent + 127 - 15) << 23 | fraction << 13),
    };
    f64::from(f32::from_bits(magnitude.to_bits() | sign))
}

/// A bfloat16 value: the upper half of an `f32`, exactly.
pub fn bf16_to_f64(bits: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(bits) << 16))
}

/// Where [`read`] puts the values of a tensor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// In the file's order, PyTorch's: what [`load_layers`] returns.
    File,
    /// In storage order, through [`TensorInfo::storage_indices`]: the slices of
    /// [`Network::for_each_tensor_mut`].
    Storage,
}

/// Converts `tensor` (already checked against `info`), whose file has the data `data`, into
/// `out` in `order`, rejecting values that are not finite in `T` unless `options` allow them.
fn read<T: Scalar>(
    layer: &LayerInfo,
    info: &TensorInfo,
    tensor: &Tensor,
    data: &[u8],
    out: &mut [T],
    order: Order,
    options: LoadOptions,
) -> Result<(), Error> {
    let size = tensor.dtype.bitsize() / 8;
    let format = |reason: String| Error::Format { reason };
    let data = tensor.data(data);
    if size == 0 || data.len() != out.len() * size || out.len() != info.len() {
        return Err(format(format!(
            "tensor `{}` has {}, expected {}",
            tensor.name,
            Plural(data.len(), "byte"),
            Plural(out.len(), "value")
        )));
    }
    let mut slots = info.storage_indices();
    let variances = info.is_variance();
    for (index, bytes) in data.chunks_exact(size).enumerate() {
        let source = decode(tensor.dtype, bytes)
            .ok_or_else(|| format(format!("tensor `{}` is not a number", tensor.name)))?;
        let value = T::from_f64(source);
        if !options.allow_non_finite && !value.is_finite() {
            return Err(Error::NonFinite {
                layer: layer.name,
                tensor: tensor.name.clone(),
                at: coordinates(index, &tensor.shape),
                value: if source.is_finite() {
                    format!("{source:e}")
                } else {
                    source.to_string()
                },
                scalar: T::NAME,
            });
        }
        if !options.allow_non_finite && variances && value < T::ZERO {
            return Err(Error::NegativeVariance {
                layer: layer.name,
                tensor: tensor.name.clone(),
                at: coordinates(index, &tensor.shape),
                value: format!("{value}"),
            });
        }
        let slot = match order {
            Order::File => Some(index),
            Order::Storage => slots.next(),
        };
        // In bounds: the slots are a permutation of `0..out.len()`, checked above.
        if let Some(slot) = slot.and_then(|slot| out.get_mut(slot)) {
            *slot = value;
        }
    }
    Ok(())
}

/// Loads a network from the bytes of a safetensors file, directly on the heap.
///
/// # Errors
///
/// Any problem with the file, as an [`Error`] that names the layer and tensor, what was
/// expected and what was found: see the module documentation for the rules.
pub fn load<N: Network>(bytes: &[u8], options: LoadOptions) -> Result<Box<N>, Error> {
    let (tensors, data) = parse(bytes)?;
    let found = assign(&tensors, N::LAYERS, true)?.found;
    let mut net = zeroed_box::<N>();
    net.fill_fixed();
    let mut found = found.into_iter();
    let mut result = Ok(());
    net.for_each_tensor_mut(|layer, info, values| {
        if result.is_err() {
            return;
        }
        result = match found.next() {
            Some(Some(tensor)) => read(layer, info, tensor, data, values, Order::Storage, options),
            // A missing counter: the zeros the network was built with.
            Some(None) => Ok(()),
            None => Err(Error::Format {
                reason: format!("`{}` visits more tensors than it declares", N::NAME),
            }),
        };
    });
    result.map(|()| net)
}

/// What [`load_partial`] did not load: PyTorch's report of `load_state_dict(..., strict=False)`
/// (its `missing_keys` and `unexpected_keys`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partial {
    /// The network's tensors the file does not hold, under the keys [`save`] writes
    /// (`3.weight`, `head.weight`), in the network's order: left as they were. Counters (`num_batches_tracked`) are not listed, as
    /// PyTorch does not list them.
    pub missing: Vec<String>,
    /// The file's tensors that no layer took, by name, sorted: ignored.
    pub unexpected: Vec<String>,
}

impl Partial {
    /// Lists `tensors` as missing under `key`, but counters, which PyTorch does not list.
    fn miss<'t>(&mut self, key: &str, tensors: impl IntoIterator<Item = &'t TensorInfo>) {
        let absent = tensors.into_iter().filter(|t| t.role != Role::Counter);
        self.missing
            .extend(absent.map(|tensor| format!("{key}.{}", tensor.name)));
    }

    /// Whether everything loaded and nothing was left over: what [`load`] requires.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }
}

/// Loads into `net` what the file holds for it, as PyTorch's
/// `model.load_state_dict(state_dict, strict=False)`: the layers it has tensors for take them
/// by the rules of [`load`], and the rest of `net` stays as it was. For a pretrained network
/// with a new head, or a checkpoint of part of a model: build the network (`random`), load the
/// part, then train.
///
/// ```
/// # use nn_runtime as nn;
/// # fn demo<N: nn::Network>(net: &mut N, backbone: &[u8]) -> Result<(), nn::Error> {
/// use nn::io::safetensors::{LoadOptions, load_partial};
///
/// let report = load_partial(net, backbone, LoadOptions::new())?;
/// println!("kept as they were: {:?}; not used: {:?}", report.missing, report.unexpected);
/// # Ok(())
/// # }
/// ```
///
/// Keys match exactly, as PyTorch's: a layer reads `<name>.<tensor>` (`as head` reads
/// `head.weight`; any layer whose name the file holds, as in [`load`]), and an unnamed layer
/// otherwise the key [`save`] writes for it, its index `k` in the equivalent `nn.Sequential`
/// (`<k>.weight`), never the next number the file happens to have: a backbone saved from an
/// `nn.Sequential` fills the layers it numbers, and a file of only its last layer fills only
/// that one. Nothing is written unless the whole file reads: `net` is unchanged on an error.
///
/// # Errors
///
/// As [`load`], but for what [`Partial`] lists: a tensor of the wrong shape or dtype, a value
/// that is not finite, a damaged file.
pub fn load_partial<N: Network>(
    net: &mut N,
    bytes: &[u8],
    options: LoadOptions,
) -> Result<Partial, Error> {
    let (tensors, data) = parse(bytes)?;
    let Assigned { found, partial } = assign(&tensors, N::LAYERS, false)?;
    // Every tensor read before any is written, so that an error leaves `net` as it was.
    let expected = N::LAYERS
        .iter()
        .flat_map(|layer| layer.tensors.iter().map(move |tensor| (layer, tensor)));
    let mut staged: Vec<Option<Vec<N::Scalar>>> = Vec::with_capacity(found.len());
    for (tensor, (layer, info)) in found.iter().zip(expected) {
        staged.push(match tensor {
            Some(tensor) => {
                let mut values = vec![N::Scalar::ZERO; info.len()];
                read(
                    layer,
                    info,
                    tensor,
                    data,
                    &mut values,
                    Order::Storage,
                    options,
                )?;
                Some(values)
            }
            None => None,
        });
    }
    let mut staged = staged.into_iter();
    net.for_each_tensor_mut(|_, _, values| {
        if let Some(Some(read)) = staged.next() {
            for (value, read) in values.iter_mut().zip(read) {
                *value = read;
            }
        }
    });
    Ok(partial)
}

/// Reads the file at `path` and loads it as [`load`] does.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, else as [`load`].
#[cfg(feature = "std")]
pub fn load_file<N: Network>(
    path: impl AsRef<std::path::Path>,
    options: LoadOptions,
) -> Result<Box<N>, Error> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, &e))?;
    load(&bytes, options)
}

/// One layer's tensors, in the order of [`LayerInfo::tensors`], each in the file's order
/// (PyTorch's row-major order, not the storage order of [`Network::for_each_tensor`]).
pub type LayerValues<T> = Vec<Vec<T>>;

/// The tensors of `layers` (for a dense layer, its weight `[outputs, inputs]` row-major, weight
/// `o * inputs + i` being the one from input `i` to neuron `o`, then its bias), read from a
/// file without a network type: for tools, and for the `weights = "file"` option of
/// `network!`, which bakes them into the code.
///
/// # Errors
///
/// As [`load`].
pub fn load_layers<T: Scalar>(
    bytes: &[u8],
    layers: &[LayerInfo],
    options: LoadOptions,
) -> Result<Vec<LayerValues<T>>, Error> {
    let (tensors, data) = parse(bytes)?;
    let mut found = assign(&tensors, layers, true)?.found.into_iter();
    layers
        .iter()
        .map(|layer| {
            layer
                .tensors
                .iter()
                .map(|info| {
                    let mut values = vec![T::ZERO; info.len()];
                    let tensor = found.next().ok_or_else(|| Error::Format {
                        reason: format!("layer `{}` has fewer tensors than declared", layer.name),
                    })?;
                    // A missing counter is 0.
                    if let Some(tensor) = tensor {
                        read(layer, info, tensor, data, &mut values, Order::File, options)?;
                    }
                    Ok(values)
                })
                .collect()
        })
        .collect()
}

/// The prefix [`save`] writes for each layer: the layer's name if the declaration gave one,
/// else its index in the equivalent `nn.Sequential`.
///
/// ```
/// use nn_runtime::{Activation, LayerInfo, LayerKind, io::safetensors::prefixes};
///
/// let layer = |name, named, activation| LayerInfo {
///     name,
///     named,
///     kind: LayerKind::Dense,
///     input: &[2],
///     output: &[2],
///     activation,
///     tensors: &[],
/// };
/// let layers = [
///     layer("layer0", false, Activation::Relu),
///     layer("layer1", false, Activation::Linear),
///     layer("head", true, Activation::Softmax),
/// ];
/// assert_eq!(prefixes(&layers), ["0", "2", "head"]);
/// ```
pub fn prefixes(layers: &[LayerInfo]) -> Vec<String> {
    crate::network::prefixes(layers)
}

/// `text` as a JSON string literal.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The network as a safetensors file, in the layout described in the module documentation.
///
/// Byte for byte what the reference writer (`safetensors.torch.save_file` with metadata
/// `{"format": "pt"}`) writes for the same tensors: ordered by dtype, the widest first (a
/// counter's `I64`, then `F64` or `F32`; the reference writer's order, which keeps every
/// tensor's data aligned), then by name; header padded with spaces to a multiple of 8 bytes.
/// Infallible: names and shapes come from the declaration.
pub fn save<N: Network>(net: &N) -> Vec<u8> {
    write(net, None)
}

/// As [`save`], with the weights of the layers named in `layers` (`weight`, and a recurrent
/// layer's `weight_ih_l<k>` and `weight_hh_l<k>`; not biases) stored in `H`'s dtype (`BF16`
/// or `F16`), each rounded to the format (ties to even, as [`Half::from_f32`](crate::Half::from_f32)):
/// what a half-precision twin saves, whose weights are values of the format already, so
/// that the file holds them exactly in half the bytes. After the `F32` tensors in the file,
/// as the reference writer orders a file of PyTorch's `bfloat16` and `float32` tensors;
/// PyTorch's `load_state_dict` converts them to its parameters' dtype. A weight beyond the
/// format's range (binary16's 65504) would be written as an infinity, which loaders refuse:
/// a twin's weights never are (its `from_network` refuses them).
pub fn save_half<H: crate::Half, N: Network<Scalar = f32>>(net: &N, layers: &[&str]) -> Vec<u8> {
    let narrow = Narrow {
        dtype: H::DTYPE,
        bits: |x| H::from_f32(x).to_bits(),
        layers,
    };
    write(net, Some(&narrow))
}

/// Which tensors [`save_half`] stores in 16 bits, and how.
struct Narrow<'a> {
    /// The file's name of the format.
    dtype: &'static str,
    /// A value's bits in the format.
    bits: fn(f32) -> u16,
    /// The layers whose weights are stored so.
    layers: &'a [&'a str],
}

/// The file [`save`] and [`save_half`] write.
fn write<N: Network>(net: &N, narrow: Option<&Narrow<'_>>) -> Vec<u8> {
    let wide = core::mem::size_of::<N::Scalar>() == 8;
    let (dtype, size) = if wide { ("F64", 8) } else { ("F32", 4) };
    // How a tensor is stored: dtype, size, and rank in the reference writer's order (the widest
    // dtype first: a counter's `I64`, the scalar, then a half format).
    let dtype_of = |layer: &LayerInfo, info: &TensorInfo| match narrow {
        _ if info.role == Role::Counter => ("I64", 8, 0),
        Some(narrow) if narrow.layers.contains(&layer.name) && info.name.starts_with("weight") => {
            (narrow.dtype, 2, 2)
        }
        _ => (dtype, size, 1),
    };
    let prefixes = prefixes(N::LAYERS);
    // The file's name of each tensor, in the order of the visits.
    let mut names = N::LAYERS.iter().zip(&prefixes).flat_map(|(layer, prefix)| {
        layer
            .tensors
            .iter()
            .map(move |tensor| format!("{prefix}.{}", tensor.name))
    });
    // Name, storage and values of each tensor.
    let mut tensors = Vec::new();
    net.for_each_tensor(|layer, info, values| {
        let name = names
            .next()
            .unwrap_or_else(|| format!("{}.{}", layer.name, info.name));
        tensors.push((name, info, dtype_of(layer, info), values));
    });
    tensors.sort_by(|a, b| (a.2.2, &a.0).cmp(&(b.2.2, &b.0)));

    let mut header = String::from(r#"{"__metadata__":{"format":"pt"}"#);
    let mut offset = 0;
    for (name, info, (dtype, size, _), _) in &tensors {
        let end = offset + info.len() * size;
        let shape: Vec<String> = info.shape.iter().map(ToString::to_string).collect();
        // Writing to a `String` cannot fail.
        let _ = write!(
            header,
            r#",{}:{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{offset},{end}]}}"#,
            json_string(name),
            shape.join(","),
        );
        offset = end;
    }
    header.push('}');
    // Pad with spaces so that the data starts 8-byte aligned, as the reference writer does.
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for (_, info, (_, size, rank), values) in &tensors {
        // In PyTorch's order, whatever the storage order.
        for index in info.storage_indices() {
            let value = values.get(index).map_or(0.0, |v| v.to_f64());
            if *rank == 0 {
                // A whole number (loaded from an integer, or 0); saturating, as `as` is.
                #[allow(clippy::cast_possible_truncation)]
                bytes.extend_from_slice(&(value as i64).to_le_bytes());
            } else if *size == 8 {
                bytes.extend_from_slice(&value.to_le_bytes());
            } else {
                // Exact: the value is an `f32` widened to `f64`.
                #[allow(clippy::cast_possible_truncation)]
                let value = value as f32;
                match narrow {
                    Some(narrow) if *rank == 2 => {
                        bytes.extend_from_slice(&(narrow.bits)(value).to_le_bytes());
                    }
                    _ => bytes.extend_from_slice(&value.to_le_bytes()),
                }
            }
        }
    }
    bytes
}

/// Writes [`save`]'s bytes to `path`.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be written.
#[cfg(feature = "std")]
pub fn save_file<N: Network>(net: &N, path: impl AsRef<std::path::Path>) -> Result<(), Error> {
    let path = path.as_ref();
    std::fs::write(path, save(net)).map_err(|e| Error::io("write", path, &e))
}

/// Writes [`save_half`]'s bytes to `path`.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be written.
#[cfg(feature = "std")]
pub fn save_half_file<H: crate::Half, N: Network<Scalar = f32>>(
    net: &N,
    layers: &[&str],
    path: impl AsRef<std::path::Path>,
) -> Result<(), Error> {
    let path = path.as_ref();
    std::fs::write(path, save_half::<H, N>(net, layers)).map_err(|e| Error::io("write", path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_prefixes_are_canonical_integers() {
        let names = ["bias", "weight"];
        assert_eq!(integer_prefix("0.weight", &names), Some(0));
        assert_eq!(integer_prefix("12.bias", &names), Some(12));
        assert_eq!(integer_prefix("012.bias", &names), None);
        assert_eq!(integer_prefix("hidden.weight", &names), None);
        assert_eq!(integer_prefix("1.running_mean", &names), None);
        assert_eq!(integer_prefix(".weight", &names), None);
        assert_eq!(integer_prefix("3weight", &names), None);
    }

    #[test]
    fn json_strings_escape_quotes_and_controls() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }
}
