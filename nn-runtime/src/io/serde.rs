//! serde: every generated network implements `Serialize`, and `Box<Network>` implements
//! `Deserialize`, in this layout (shown as JSON):
//!
//! ```json
//! {"layers": [
//!   {"name": "hidden", "weights": [[0.1, -0.2, ...], ...], "bias": [0.0, ...]},
//!   {"name": "layer1", "weights": [[...], ...], "bias": [...]}
//! ]}
//! ```
//!
//! One entry per layer, input to output: `name` is the layer's name in the declaration (`as
//! hidden`, else `layer{k}`), then one field per tensor of the layer ([`LayerInfo::tensors`]),
//! in their order. A field is named as its tensor, except `weight`, written `weights` (the
//! layout's name from before layers were lists of tensors), and holds the values in PyTorch's
//! shape as nested lists (a tensor of no axes as a list of one value). A dense layer's
//! `weights` has one row per neuron, `[outputs][inputs]` as PyTorch's `Linear.weight`; `bias`
//! one value per neuron. Values are written in the network's scalar type, so an `f32` network
//! writes `0.1`, not `0.10000000149011612`.
//!
//! Deserialising checks everything: the number of layers, each name, each shape (with the same
//! transpose hint as safetensors files), and that every value is finite. The network is
//! deserialised into a `Box` built directly on the heap, each value straight into its place:
//! there is no `Deserialize` for the network by value, which would build it on the stack first,
//! and nothing else is allocated but the layer names, a list of the network's tensors and a few
//! numbers per tensor (a list of a million empty rows is counted, not stored).

use crate::error::ALLOW_NON_FINITE;
use crate::zeroed::zeroed_box;
use crate::{Error, LayerInfo, Network, Scalar, TensorInfo};
use ::serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use ::serde::ser::{SerializeSeq, SerializeStruct};
use ::serde::{Deserialize, Deserializer, Serialize, Serializer};
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// Serialises `net` in the layout of the module documentation; generated `Serialize` impls
/// call it.
///
/// # Errors
///
/// Whatever `serializer` reports.
pub fn serialize<N: Network, S: Serializer>(net: &N, serializer: S) -> Result<S::Ok, S::Error> {
    let mut tensors = Vec::new();
    net.for_each_tensor(|_, info, values| tensors.push((info, values)));
    let mut rest = tensors.as_slice();
    let layers: Vec<LayerRef<'_, N::Scalar>> = N::LAYERS
        .iter()
        .map(|info| {
            let (tensors, tail) = rest.split_at(info.tensors.len().min(rest.len()));
            rest = tail;
            LayerRef { info, tensors }
        })
        .collect();
    let mut state = serializer.serialize_struct("Network", 1)?;
    state.serialize_field("layers", &layers)?;
    state.end()
}

/// Deserialises a network in the layout of the module documentation, directly on the heap;
/// generated `Deserialize` impls for `Box<Network>` call it.
///
/// # Errors
///
/// The format's error, whose message is an [`Error`] when the data does not fit the network.
pub fn deserialize<'de, N: Network, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Box<N>, D::Error> {
    let mut net = zeroed_box::<N>();
    net.fill_fixed();
    deserializer.deserialize_struct("Network", &["layers"], NetworkVisitor { net: &mut *net })?;
    Ok(net)
}

/// An error of a half-precision twin's `from_network`, its tensor named as this layout names it
/// (`weights`, where a file says `0.weight`): the twin's `Deserialize` reports it so.
pub fn named_as_field(error: Error) -> Error {
    match error {
        Error::QuantizedValue {
            layer,
            tensor,
            problem,
        } => {
            let name = tensor
                .rsplit_once('.')
                .map_or(tensor.as_str(), |(_, name)| name);
            Error::QuantizedValue {
                layer,
                tensor: field_named(name).into(),
                problem,
            }
        }
        other => other,
    }
}

/// The field of a layer that holds `tensor`: its name, but `weights` for `weight`.
fn field(tensor: &TensorInfo) -> &'static str {
    field_named(tensor.name)
}

/// The field of a layer that holds the tensor named `name`: `weights` for `weight`, the name
/// for the others.
fn field_named(name: &str) -> &str {
    if name == "weight" { "weights" } else { name }
}

/// The shape of a tensor as nested lists: its own, or `[1]` for a tensor of no axes.
fn nested_shape(tensor: &TensorInfo) -> &'static [usize] {
    if tensor.shape.is_empty() {
        &[1]
    } else {
        tensor.shape
    }
}

/// The product of `sizes`.
fn product(sizes: &[usize]) -> usize {
    sizes.iter().product()
}

/// `deserialize_struct`'s list of a layer's fields. Self-describing formats (JSON) ignore it,
/// and messages name the fields from the layer itself; formats that write a struct as a
/// sequence (bincode, postcard) read only its length, `name` and one per tensor, so it has one
/// for every tensor of the largest layer (a recurrent one of `MAX_LEVELS` levels of four).
/// `'static` names cannot be made from the layer's tensors, so beyond the dense layer's names
/// they are placeholders.
fn fields_hint(info: &LayerInfo) -> &'static [&'static str] {
    const FIELDS: [&str; 1 + 4 * crate::layers::MAX_LEVELS] = [
        "name", "weights", "bias", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14",
        "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29",
        "30", "31", "32",
    ];
    &FIELDS[..(1 + info.tensors.len()).min(FIELDS.len())]
}

/// One value of scalar type `T`, written as `T` itself (not through `f64`, which would round
/// twice); [`Written`] reads it.
struct Value<T>(T);

impl<T: Scalar> Serialize for Value<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if T::NAME == "f32" {
            // Exact: the value is an `f32` widened to `f64`.
            #[allow(clippy::cast_possible_truncation)]
            serializer.serialize_f32(self.0.to_f64() as f32)
        } else {
            serializer.serialize_f64(self.0.to_f64())
        }
    }
}

/// A value as read for a network of `T`: the value, and the number the file wrote, for an
/// error that names a number beyond `T`'s range as written (`1e39`, not `inf`).
struct Written<T> {
    value: T,
    written: f64,
}

impl<'de, T: Scalar> Deserialize<'de> for Written<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Takes the number as the format gives it: JSON's `f64` (which `f32::deserialize`
        /// would narrow before anyone could see it), or a binary format's `f32` or `f64`.
        struct Number<T>(core::marker::PhantomData<T>);

        impl<T: Scalar> Visitor<'_> for Number<T> {
            type Value = Written<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::NAME)
            }

            fn visit_f64<E: de::Error>(self, written: f64) -> Result<Self::Value, E> {
                Ok(Written {
                    value: T::from_f64(written),
                    written,
                })
            }

            fn visit_f32<E: de::Error>(self, v: f32) -> Result<Self::Value, E> {
                self.visit_f64(f64::from(v))
            }

            #[allow(clippy::cast_precision_loss)] // rounded once, by `integer`
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(integer(v as f32, v as f64))
            }

            #[allow(clippy::cast_precision_loss)] // rounded once, by `integer`
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(integer(v as f32, v as f64))
            }
        }

        /// An integer, given rounded to each width, rounded once to `T`, as `f32::deserialize`
        /// and `f64::deserialize` take them (through `f64`, an `f32` network's would round
        /// twice above 2^53).
        fn integer<T: Scalar>(as_f32: f32, as_f64: f64) -> Written<T> {
            let value = if T::NAME == "f32" {
                T::from_f64(f64::from(as_f32))
            } else {
                T::from_f64(as_f64)
            };
            Written {
                value,
                written: as_f64,
            }
        }

        let number = Number(core::marker::PhantomData);
        // The width the network wrote: a binary format reads as many bytes as were written.
        if T::NAME == "f32" {
            deserializer.deserialize_f32(number)
        } else {
            deserializer.deserialize_f64(number)
        }
    }
}

/// One layer, borrowed from the network, for writing: its tensors' descriptions and values.
struct LayerRef<'a, T> {
    info: &'static LayerInfo,
    tensors: &'a [(&'static TensorInfo, &'a [T])],
}

impl<T: Scalar> Serialize for LayerRef<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Layer", 1 + self.tensors.len())?;
        state.serialize_field("name", self.info.name)?;
        for &(info, values) in self.tensors {
            let nested = Nested {
                info,
                values,
                depth: 0,
                offset: 0,
            };
            state.serialize_field(field(info), &nested)?;
        }
        state.end()
    }
}

/// The list at `depth` of a tensor's nested lists whose first value is value `offset` in
/// PyTorch's order; the values are in storage order (see [`TensorInfo::storage_index`]).
struct Nested<'a, T> {
    info: &'static TensorInfo,
    values: &'a [T],
    depth: usize,
    offset: usize,
}

impl<T: Scalar> Serialize for Nested<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let shape = nested_shape(self.info);
        let len = shape.get(self.depth).copied().unwrap_or(0);
        let mut seq = serializer.serialize_seq(Some(len))?;
        if self.depth + 1 >= shape.len() {
            for index in self.offset..self.offset + len {
                let value = self.values.get(self.info.storage_index(index));
                seq.serialize_element(&Value(value.copied().unwrap_or(T::ZERO)))?;
            }
        } else {
            let stride = product(&shape[self.depth + 1..]);
            for k in 0..len {
                seq.serialize_element(&Nested {
                    depth: self.depth + 1,
                    offset: self.offset + k * stride,
                    ..*self
                })?;
            }
        }
        seq.end()
    }
}

/// Reads `{"layers": [...]}` into a network.
struct NetworkVisitor<'n, N> {
    net: &'n mut N,
}

impl<'de, N: Network> Visitor<'de> for NetworkVisitor<'_, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a `{}` network: {{\"layers\": [...]}}", N::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(LayersField) = map.next_key()? {
            if seen {
                return Err(de::Error::duplicate_field("layers"));
            }
            seen = true;
            map.next_value_seed(LayersSeed {
                net: &mut *self.net,
            })?;
        }
        if seen {
            Ok(())
        } else {
            Err(de::Error::missing_field("layers"))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match seq.next_element_seed(LayersSeed { net: self.net })? {
            Some(()) => Ok(()),
            None => Err(de::Error::invalid_length(0, &self)),
        }
    }
}

/// The one field of a network, `layers`: any other is an error.
struct LayersField;

impl<'de> Deserialize<'de> for LayersField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(LayersField)
    }
}

impl Visitor<'_> for LayersField {
    type Value = LayersField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`layers`")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<LayersField, E> {
        if name == "layers" {
            Ok(LayersField)
        } else {
            Err(de::Error::unknown_field(name, &["layers"]))
        }
    }
}

/// Reads the list of layers.
struct LayersSeed<'n, N> {
    net: &'n mut N,
}

impl<'de, N: Network> DeserializeSeed<'de> for LayersSeed<'_, N> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, N: Network> Visitor<'de> for LayersSeed<'_, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a list of {}",
            crate::network::Plural(N::LAYERS.len(), "layer")
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let expected = N::LAYERS.len();
        // Each layer is read straight into the network: nothing is held twice, and nothing is
        // allocated in proportion to the input (a list of a million empty rows is counted,
        // not stored). A layer's fields come in any order, so all its tensors are at hand.
        let mut tensors = Vec::new();
        self.net
            .for_each_tensor_mut(|_, _, values| tensors.push(values));
        let mut rest = tensors.as_mut_slice();
        for (index, info) in N::LAYERS.iter().enumerate() {
            let count = info.tensors.len().min(rest.len());
            let (mine, tail) = core::mem::take(&mut rest).split_at_mut(count);
            rest = tail;
            let layer = LayerSeed {
                index,
                info,
                tensors: mine,
            };
            if seq.next_element_seed(layer)?.is_none() {
                return Err(de::Error::custom(Error::LayerCount {
                    expected,
                    found: index,
                }));
            }
        }
        let mut found = expected;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            found += 1;
        }
        if found == expected {
            Ok(())
        } else {
            Err(de::Error::custom(Error::LayerCount { expected, found }))
        }
    }
}

/// Reads layer `index`, described by `info`, into its tensors, then checks it against the
/// declaration.
struct LayerSeed<'s, 'a, T> {
    index: usize,
    info: &'static LayerInfo,
    tensors: &'s mut [&'a mut [T]],
}

impl<T> LayerSeed<'_, '_, T> {
    /// Where tensor `k`'s values go: nowhere if the network visited fewer tensors than it
    /// declares (the values are still read, to check them).
    fn out(&mut self, k: usize) -> &mut [T] {
        self.tensors
            .get_mut(k)
            .map_or(&mut [], |values| &mut **values)
    }
}

impl<'de, T: Scalar> DeserializeSeed<'de> for LayerSeed<'_, '_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("Layer", fields_hint(self.info), self)
    }
}

impl<'de, T: Scalar> Visitor<'de> for LayerSeed<'_, '_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a layer: {\"name\"")?;
        for tensor in self.info.tensors {
            write!(f, ", \"{}\"", field(tensor))?;
        }
        f.write_str("}")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let info = self.info;
        let mut name = None;
        let mut tensors: Vec<Option<TensorRead<T>>> = info.tensors.iter().map(|_| None).collect();
        while let Some(key) = map.next_key_seed(FieldSeed(info))? {
            match key {
                Field::Name if name.is_none() => {
                    name = Some(
                        map.next_value::<String>()
                            .map_err(|e| in_field(info, "name", &e))?,
                    );
                }
                Field::Name => return Err(in_field(info, "name", &"duplicate field")),
                Field::Tensor(k) => {
                    let tensor = &info.tensors[k];
                    if tensors[k].is_some() {
                        return Err(in_field(info, field(tensor), &"duplicate field"));
                    }
                    let mut reader = Reader::new(tensor, self.out(k));
                    map.next_value_seed(ListSeed {
                        reader: &mut reader,
                        depth: 0,
                        offset: Some(0),
                    })
                    .map_err(|e| in_field(info, field(tensor), &e))?;
                    tensors[k] = Some(reader.read);
                }
            }
        }
        // serde's `missing_field` message, naming the layer.
        let missing = |field: &str| {
            de::Error::custom(format_args!(
                "layer `{}`: missing field `{field}`",
                info.name
            ))
        };
        let name = name.ok_or_else(|| missing("name"))?;
        let tensors = tensors
            .into_iter()
            .zip(info.tensors)
            .map(|(read, tensor)| read.ok_or_else(|| missing(field(tensor))))
            .collect::<Result<Vec<_>, _>>()?;
        check(self.index, info, &name, &tensors).map_err(|error| to_serde(&error))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let info = self.info;
        let name: String = seq
            .next_element()
            .map_err(|e| in_field(info, "name", &e))?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let mut tensors = Vec::with_capacity(info.tensors.len());
        for (k, tensor) in info.tensors.iter().enumerate() {
            let mut reader = Reader::new(tensor, self.out(k));
            let list = ListSeed {
                reader: &mut reader,
                depth: 0,
                offset: Some(0),
            };
            let read = seq
                .next_element_seed(list)
                .map_err(|e| in_field(info, field(tensor), &e))?;
            if read.is_none() {
                return Err(de::Error::invalid_length(1 + k, &self));
            }
            tensors.push(reader.read);
        }
        check(self.index, info, &name, &tensors).map_err(|error| to_serde(&error))
    }
}

/// `error`, met in field `field` of the layer `info`, naming both: in a large network the layer
/// is the first thing to find. (`serde_json` takes its position back from the message's end,
/// so it is not given twice.)
fn in_field<E: de::Error>(info: &LayerInfo, field: &str, error: &dyn fmt::Display) -> E {
    E::custom(format_args!(
        "layer `{}`: field `{field}`: {error}",
        info.name
    ))
}

/// A field of a layer: its name, or tensor `k`'s values.
#[derive(Clone, Copy)]
enum Field {
    Name,
    Tensor(usize),
}

/// Reads a [`Field`] of the layer without allocating; any other field is an error.
struct FieldSeed(&'static LayerInfo);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldSeed {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`name`")?;
        let tensors = self.0.tensors;
        for (k, tensor) in tensors.iter().enumerate() {
            let separator = if k + 1 == tensors.len() { " or " } else { ", " };
            write!(f, "{separator}`{}`", field(tensor))?;
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        if name == "name" {
            return Ok(Field::Name);
        }
        match self.0.tensors.iter().position(|t| field(t) == name) {
            Some(k) => Ok(Field::Tensor(k)),
            // serde's `unknown_field` message (which needs its names `'static`), naming the
            // layer, which in a large network is the first thing to find.
            None => Err(de::Error::custom(format_args!(
                "layer `{}`: unknown field `{name}`, expected {}",
                self.0.name,
                Fields(self.0)
            ))),
        }
    }
}

/// The fields of a layer, as serde lists expected fields: `` `name` or `bias` ``, `` one of
/// `name`, `weights`, `bias` ``.
struct Fields(&'static LayerInfo);

impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tensors = self.0.tensors;
        match tensors {
            [] => f.write_str("`name`"),
            [only] => write!(f, "`name` or `{}`", field(only)),
            _ => {
                f.write_str("one of `name`")?;
                for tensor in tensors {
                    write!(f, ", `{}`", field(tensor))?;
                }
                Ok(())
            }
        }
    }
}

/// What was read of a tensor's nested lists, its values being already in the network.
struct TensorRead<T> {
    /// The length of the first list met at each depth: the shape found.
    shape: Vec<usize>,
    /// Whether a list has been met at each depth.
    seen: Vec<bool>,
    /// The indices of the first list met at each depth, from the outermost list.
    first: Vec<Vec<usize>>,
    /// The first list, past the first of its depth, of another length: its indices from the
    /// outermost list, and its length.
    ragged: Option<(Vec<usize>, usize)>,
    /// The first value that is not finite in `T`: its indices and the number written.
    non_finite: Option<(Vec<usize>, f64)>,
    /// The first negative value of a variance ([`TensorInfo::is_variance`]): its indices and
    /// the value.
    negative_variance: Option<(Vec<usize>, T)>,
}

/// Reads one tensor's nested lists into its values.
struct Reader<'a, T> {
    info: &'static TensorInfo,
    /// Whether the tensor holds variances, which must not be negative.
    variances: bool,
    /// The tensor's values in storage order; each value read lands at
    /// [`TensorInfo::storage_index`] of its index in PyTorch's order, if the index is in the
    /// shape.
    out: &'a mut [T],
    /// The indices of the list being read, from the outermost.
    path: Vec<usize>,
    read: TensorRead<T>,
}

impl<'a, T> Reader<'a, T> {
    fn new(info: &'static TensorInfo, out: &'a mut [T]) -> Self {
        let rank = nested_shape(info).len();
        Self {
            info,
            variances: info.is_variance(),
            out,
            path: Vec::with_capacity(rank),
            read: TensorRead {
                shape: vec![0; rank],
                seen: vec![false; rank],
                first: vec![Vec::new(); rank],
                ragged: None,
                non_finite: None,
                negative_variance: None,
            },
        }
    }
}

/// Reads the list at `depth` of a tensor's nested lists, whose first value is value `offset`
/// in PyTorch's order, or lies outside the shape (`None`): then its values are read but not
/// stored, to report the shape.
struct ListSeed<'r, 'a, T> {
    reader: &'r mut Reader<'a, T>,
    depth: usize,
    offset: Option<usize>,
}

impl<'de, T: Scalar> DeserializeSeed<'de> for ListSeed<'_, '_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Scalar> Visitor<'de> for ListSeed<'_, '_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = nested_shape(self.reader.info);
        match shape.len() - self.depth.min(shape.len()) {
            0 | 1 => write!(
                f,
                "a list of {} numbers",
                shape.last().copied().unwrap_or(0)
            ),
            2 => f.write_str("a list of rows of numbers"),
            _ => f.write_str("a list of lists of numbers"),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ListSeed {
            reader,
            depth,
            offset,
        } = self;
        let shape = nested_shape(reader.info);
        let size = shape.get(depth).copied().unwrap_or(0);
        let innermost = depth + 1 >= shape.len();
        let stride = if innermost {
            1
        } else {
            product(&shape[depth + 1..])
        };
        let mut len = 0;
        loop {
            let at = offset.filter(|_| len < size).map(|o| o + len * stride);
            if innermost {
                let Some(Written { value, written }) = seq.next_element::<Written<T>>()? else {
                    break;
                };
                if let Some(slot) =
                    at.and_then(|k| reader.out.get_mut(reader.info.storage_index(k)))
                {
                    *slot = value;
                }
                let index = || {
                    let mut indices = reader.path[..depth.min(reader.path.len())].to_vec();
                    indices.push(len);
                    indices
                };
                if reader.read.non_finite.is_none() && !value.is_finite() {
                    reader.read.non_finite = Some((index(), written));
                }
                if reader.variances && reader.read.negative_variance.is_none() && value < T::ZERO {
                    reader.read.negative_variance = Some((index(), value));
                }
            } else {
                reader.path.truncate(depth);
                reader.path.push(len);
                let inner = ListSeed {
                    reader: &mut *reader,
                    depth: depth + 1,
                    offset: at,
                };
                if seq.next_element_seed(inner)?.is_none() {
                    break;
                }
            }
            len += 1;
        }
        let read = &mut reader.read;
        if let (Some(seen), Some(first)) = (read.seen.get_mut(depth), read.shape.get(depth)) {
            if !*seen {
                *seen = true;
                read.shape[depth] = len;
                read.first[depth] = reader.path[..depth.min(reader.path.len())].to_vec();
            } else if len != *first && read.ragged.is_none() {
                read.ragged = Some((reader.path[..depth.min(reader.path.len())].to_vec(), len));
            }
        }
        Ok(())
    }
}

/// Checks what was read of a layer against its declaration: the name, then each tensor's
/// shape, then that every value is finite and no variance negative.
fn check<T: Scalar>(
    index: usize,
    info: &LayerInfo,
    name: &str,
    tensors: &[TensorRead<T>],
) -> Result<(), Error> {
    let layer = info.name;
    if name != info.name {
        return Err(Error::LayerName {
            index,
            expected: info.name,
            found: name.into(),
        });
    }
    for (tensor, read) in info.tensors.iter().zip(tensors) {
        let shape = nested_shape(tensor);
        if let Some((indices, found)) = &read.ragged {
            // Lists of one depth differ in length: the one to name is the one that differs
            // from the declaration, which may be the first (whose length the others were
            // compared with).
            let depth = indices.len();
            let expected = shape.get(depth).copied();
            let (indices, found) = match (read.first.get(depth), read.shape.get(depth)) {
                (Some(first), Some(&length)) if expected == Some(*found) => (first, length),
                _ => (indices, *found),
            };
            let mut name = String::from(field(tensor));
            for i in indices {
                // Writing to a `String` cannot fail.
                let _ = write!(name, "[{i}]");
            }
            return Err(Error::Shape {
                layer,
                kind: Some(info.kind),
                tensor: name,
                expected: shape.get(indices.len()..).unwrap_or_default().to_vec(),
                found: vec![found],
            });
        }
        if read.shape != shape {
            // The depths reached: an empty list has no lists inside it.
            let reached = read.seen.iter().take_while(|seen| **seen).count();
            return Err(Error::Shape {
                layer,
                kind: Some(info.kind),
                tensor: field(tensor).into(),
                expected: shape.to_vec(),
                found: read.shape[..reached].to_vec(),
            });
        }
    }
    for (tensor, read) in info.tensors.iter().zip(tensors) {
        let tensor = field(tensor).into();
        if let Some((at, value)) = &read.non_finite {
            return Err(Error::NonFinite {
                layer,
                tensor,
                at: at.clone(),
                value: if value.is_finite() {
                    alloc::format!("{value:e}")
                } else {
                    alloc::format!("{value}")
                },
                scalar: T::NAME,
            });
        }
        if let Some((at, value)) = &read.negative_variance {
            return Err(Error::NegativeVariance {
                layer,
                tensor,
                at: at.clone(),
                value: alloc::format!("{value}"),
            });
        }
    }
    Ok(())
}

/// `error` as a serde error: its message without the safetensors loader's opt-in, which JSON
/// has no counterpart of.
fn to_serde<E: de::Error>(error: &Error) -> E {
    let message = error.to_string();
    E::custom(message.strip_suffix(ALLOW_NON_FINITE).unwrap_or(&message))
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // small integers, exact
mod tests {
    use super::*;
    use crate::{Activation, Init, LayerKind, Layout, Role};

    /// A layer of a kind to come: a tensor of three axes, stored with its first axis last.
    static LAYER: LayerInfo = LayerInfo {
        name: "conv",
        named: true,
        kind: LayerKind::Dense,
        input: &[2],
        output: &[2],
        activation: Activation::Linear,
        tensors: &[
            TensorInfo {
                name: "kernel",
                shape: &[2, 2, 3],
                role: Role::Parameter,
                layout: Layout::Transposed,
                init: Init::Uniform,
            },
            TensorInfo {
                name: "running_mean",
                shape: &[2],
                role: Role::Buffer,
                layout: Layout::Contiguous,
                init: Init::Zeros,
            },
        ],
    };

    /// Reads `json` as `LAYER`: its tensors in storage order, or the error's message.
    fn read(json: &str) -> Result<(Vec<f64>, Vec<f64>), String> {
        let (mut kernel, mut mean) = (vec![0.0; 12], vec![0.0; 2]);
        let mut tensors = [&mut kernel[..], &mut mean[..]];
        let seed = LayerSeed {
            index: 0,
            info: &LAYER,
            tensors: &mut tensors,
        };
        seed.deserialize(&mut serde_json::Deserializer::from_str(json))
            .map_err(|e| std::string::ToString::to_string(&e))?;
        Ok((kernel, mean))
    }

    const JSON: &str = r#"{"name":"conv","kernel":[[[0.0,1.0,2.0],[3.0,4.0,5.0]],[[6.0,7.0,8.0],[9.0,10.0,11.0]]],"running_mean":[0.5,-0.5]}"#;

    #[test]
    fn tensors_of_any_rank_read_and_write_in_pytorchs_shape() {
        let (kernel, mean) = read(JSON).expect("valid");
        let info = &LAYER.tensors[0];
        for k in 0..12 {
            assert_eq!(kernel[info.storage_index(k)], k as f64);
        }
        assert_eq!(mean, [0.5, -0.5]);
        let tensors = [(info, &kernel[..]), (&LAYER.tensors[1], &mean[..])];
        let layer = LayerRef {
            info: &LAYER,
            tensors: &tensors,
        };
        assert_eq!(serde_json::to_string(&layer).expect("serialisable"), JSON);
    }

    #[test]
    fn a_tensor_of_any_rank_reports_its_shape() {
        let ragged = JSON.replacen("3.0,4.0,5.0", "3.0,4.0", 1);
        assert!(
            read(&ragged)
                .unwrap_err()
                .starts_with("layer `conv`: tensor `kernel[0][1]` has shape [2], expected [3]"),
            "{ragged}"
        );
        // The first row is the one of a wrong length: it is named, not the next.
        let first = JSON.replacen("0.0,1.0,2.0", "0.0,1.0", 1);
        let error = read(&first).unwrap_err();
        assert!(
            error.starts_with("layer `conv`: tensor `kernel[0][0]` has shape [2], expected [3]"),
            "{error}"
        );
        let first = JSON.replacen("[[0.0,1.0,2.0],[3.0,4.0,5.0]],", "[[0.0,1.0,2.0]],", 1);
        let error = read(&first).unwrap_err();
        assert!(
            error.starts_with("layer `conv`: tensor `kernel[0]` has shape [1], expected [2, 3]"),
            "{error}"
        );
        let short = JSON.replacen("[6.0,7.0,8.0],", "", 1);
        let error = read(&short).unwrap_err();
        assert!(
            error.starts_with("layer `conv`: tensor `kernel[1]` has shape [1], expected [2, 3]"),
            "{error}"
        );
        let unknown = JSON.replacen("running_mean", "running_var", 1);
        let error = read(&unknown).unwrap_err();
        assert!(
            error.starts_with(
                "layer `conv`: unknown field `running_var`, expected one of `name`, `kernel`, \
                 `running_mean`"
            ),
            "{error}"
        );
        let missing = r#"{"name":"conv","kernel":[]}"#;
        assert!(
            read(missing)
                .unwrap_err()
                .starts_with("layer `conv`: missing field `running_mean`")
        );
    }
}
