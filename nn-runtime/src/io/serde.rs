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
//! One entry per dense layer, input to output; `name` is the layer's name in the declaration
//! (`as hidden`, else `layer{k}`); `weights` has one row per neuron, `[outputs][inputs]` as
//! PyTorch's `Linear.weight`; `bias` one value per neuron. Values are written in the network's
//! scalar type, so an `f32` network writes `0.1`, not `0.10000000149011612`.
//!
//! Deserialising checks everything: the number of layers, each name, each shape (with the same
//! transpose hint as safetensors files), and that every value is finite. The network is
//! deserialised into a `Box` built directly on the heap, each value straight into its place:
//! there is no `Deserialize` for the network by value, which would build it on the stack first,
//! and nothing else is allocated but the layer names (a list of a million empty rows is
//! counted, not stored).

use crate::zeroed::zeroed_box;
use crate::{Error, LayerInfo, Network, Scalar};
use ::serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use ::serde::ser::{SerializeSeq, SerializeStruct};
use ::serde::{Deserialize, Deserializer, Serialize, Serializer};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// Serialises `net` in the layout of the module documentation; generated `Serialize` impls
/// call it.
///
/// # Errors
///
/// Whatever `serializer` reports.
pub fn serialize<N: Network, S: Serializer>(net: &N, serializer: S) -> Result<S::Ok, S::Error> {
    let mut layers = Vec::with_capacity(N::LAYERS.len());
    net.for_each_layer(|info, weights, bias| {
        layers.push(LayerRef {
            info: *info,
            weights,
            bias,
        });
    });
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
    deserializer.deserialize_struct("Network", &["layers"], NetworkVisitor { net: &mut *net })?;
    Ok(net)
}

/// One value of scalar type `T`, written and read as `T` itself (not through `f64`, which
/// would round twice).
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

impl<'de, T: Scalar> Deserialize<'de> for Value<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if T::NAME == "f32" {
            f32::deserialize(deserializer).map(|v| Value(T::from_f64(f64::from(v))))
        } else {
            f64::deserialize(deserializer).map(|v| Value(T::from_f64(v)))
        }
    }
}

/// One layer, borrowed from the network, for writing.
struct LayerRef<'a, T> {
    info: LayerInfo,
    weights: &'a [T],
    bias: &'a [T],
}

/// A weight matrix stored by column (see [`LayerInfo::weight_index`]), written as a list of
/// rows, one per neuron.
struct Rows<'a, T>(&'a [T], LayerInfo);

/// A list of values: every `step`-th value of a slice, from its first.
struct Values<'a, T>(&'a [T], usize);

impl<T: Scalar> Serialize for LayerRef<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Layer", 3)?;
        state.serialize_field("name", self.info.name)?;
        state.serialize_field("weights", &Rows(self.weights, self.info))?;
        state.serialize_field("bias", &Values(self.bias, 1))?;
        state.end()
    }
}

impl<T: Scalar> Serialize for Rows<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Rows(weights, LayerInfo { outputs, .. }) = *self;
        let mut seq = serializer.serialize_seq(Some(outputs))?;
        // Row `o` is every `outputs`-th weight from `o` on.
        for neuron in 0..outputs {
            seq.serialize_element(&Values(weights.get(neuron..).unwrap_or_default(), outputs))?;
        }
        seq.end()
    }
}

impl<T: Scalar> Serialize for Values<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Values(values, step) = *self;
        let values = values.iter().step_by(step.max(1));
        let mut seq = serializer.serialize_seq(Some(values.len()))?;
        for value in values {
            seq.serialize_element(&Value(*value))?;
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
        let mut index = 0;
        let mut result = Ok(());
        // Each layer is read straight into the network: nothing is held twice, and nothing is
        // allocated in proportion to the input (a list of a million empty rows is counted,
        // not stored).
        self.net.for_each_layer_mut(|info, weights, bias| {
            if result.is_ok() {
                let layer = LayerSeed {
                    index,
                    info,
                    weights,
                    bias,
                };
                result = match seq.next_element_seed(layer) {
                    Ok(Some(())) => Ok(()),
                    Ok(None) => Err(de::Error::custom(Error::LayerCount {
                        expected,
                        found: index,
                    })),
                    Err(error) => Err(error),
                };
            }
            index += 1;
        });
        result?;
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

/// Reads layer `index`, described by `info`, into its weights and biases, then checks it
/// against the declaration.
struct LayerSeed<'a, T> {
    index: usize,
    info: &'a LayerInfo,
    weights: &'a mut [T],
    bias: &'a mut [T],
}

const LAYER_FIELDS: &[&str] = &["name", "weights", "bias"];

impl<'de, T: Scalar> DeserializeSeed<'de> for LayerSeed<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("Layer", LAYER_FIELDS, self)
    }
}

impl<'de, T: Scalar> Visitor<'de> for LayerSeed<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a layer: {\"name\", \"weights\", \"bias\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut name, mut weights, mut bias) = (None, None, None);
        while let Some(field) = map.next_key::<LayerField>()? {
            match field {
                LayerField::Name if name.is_none() => name = Some(map.next_value::<String>()?),
                LayerField::Weights if weights.is_none() => {
                    weights = Some(map.next_value_seed(RowsSeed {
                        out: &mut *self.weights,
                        info: self.info,
                    })?);
                }
                LayerField::Bias if bias.is_none() => {
                    bias = Some(map.next_value_seed(ValuesSeed::new(&mut *self.bias))?);
                }
                LayerField::Name | LayerField::Weights | LayerField::Bias => {
                    return Err(de::Error::duplicate_field(LAYER_FIELDS[field as usize]));
                }
            }
        }
        let layer = Layer {
            name: name.ok_or_else(|| de::Error::missing_field("name"))?,
            weights: weights.ok_or_else(|| de::Error::missing_field("weights"))?,
            bias: bias.ok_or_else(|| de::Error::missing_field("bias"))?,
        };
        layer
            .check(self.index, self.info)
            .map_err(de::Error::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let name = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let rows = RowsSeed {
            out: &mut *self.weights,
            info: self.info,
        };
        let weights = seq
            .next_element_seed(rows)?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let values = ValuesSeed::new(&mut *self.bias);
        let bias = seq
            .next_element_seed(values)?
            .ok_or_else(|| de::Error::invalid_length(2, &self))?;
        let layer = Layer {
            name,
            weights,
            bias,
        };
        layer
            .check(self.index, self.info)
            .map_err(de::Error::custom)
    }
}

/// The fields of a layer, by their index in [`LAYER_FIELDS`].
#[derive(Clone, Copy)]
enum LayerField {
    Name = 0,
    Weights = 1,
    Bias = 2,
}

impl<'de> Deserialize<'de> for LayerField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(LayerFieldVisitor)
    }
}

/// Reads a [`LayerField`] without allocating.
struct LayerFieldVisitor;

impl Visitor<'_> for LayerFieldVisitor {
    type Value = LayerField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`name`, `weights` or `bias`")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<LayerField, E> {
        match name {
            "name" => Ok(LayerField::Name),
            "weights" => Ok(LayerField::Weights),
            "bias" => Ok(LayerField::Bias),
            _ => Err(de::Error::unknown_field(name, LAYER_FIELDS)),
        }
    }
}

/// What was read of a layer, its values being already in the network.
struct Layer<T> {
    name: String,
    weights: RowsRead<T>,
    bias: ValuesRead<T>,
}

impl<T: Scalar> Layer<T> {
    /// The name, the shapes and that every value is finite, in this order.
    fn check(&self, index: usize, info: &LayerInfo) -> Result<(), Error> {
        let layer = info.name;
        if self.name != info.name {
            return Err(Error::LayerName {
                index,
                expected: info.name,
                found: self.name.clone(),
            });
        }
        if let Some((row, found)) = self.weights.ragged {
            return Err(Error::Shape {
                layer,
                tensor: alloc::format!("weights[{row}]"),
                expected: vec![info.inputs],
                found: vec![found],
            });
        }
        if self.weights.rows != info.outputs || self.weights.columns != info.inputs {
            return Err(Error::Shape {
                layer,
                tensor: "weights".into(),
                expected: vec![info.outputs, info.inputs],
                found: vec![self.weights.rows, self.weights.columns],
            });
        }
        if self.bias.len != info.outputs {
            return Err(Error::Shape {
                layer,
                tensor: "bias".into(),
                expected: vec![info.outputs],
                found: vec![self.bias.len],
            });
        }
        let weights = self
            .weights
            .non_finite
            .map(|(row, column, value)| ("weights", vec![row, column], value));
        let bias = self
            .bias
            .non_finite
            .map(|(i, value)| ("bias", vec![i], value));
        if let Some((tensor, at, value)) = weights.or(bias) {
            return Err(Error::NonFinite {
                layer,
                tensor: tensor.into(),
                at,
                value: alloc::format!("{value}"),
                scalar: T::NAME,
            });
        }
        Ok(())
    }
}

/// What was read of a list of rows: how many, the length of the first, the first row of
/// another length, and the first value that is not finite.
struct RowsRead<T> {
    rows: usize,
    columns: usize,
    ragged: Option<(usize, usize)>,
    non_finite: Option<(usize, usize, T)>,
}

/// Reads a list of rows, one per neuron of the layer `info`, into `out`, the layer's weights by
/// column (row `o`'s value `i` at `i * outputs + o`), as far as it fits.
struct RowsSeed<'a, T> {
    out: &'a mut [T],
    info: &'a LayerInfo,
}

impl<'de, T: Scalar> DeserializeSeed<'de> for RowsSeed<'_, T> {
    type Value = RowsRead<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RowsRead<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Scalar> Visitor<'de> for RowsSeed<'_, T> {
    type Value = RowsRead<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows of numbers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RowsRead<T>, A::Error> {
        let mut rows = RowsRead {
            rows: 0,
            columns: 0,
            ragged: None,
            non_finite: None,
        };
        loop {
            // The row's place in the network (every `outputs`-th weight from its neuron's on),
            // or nothing once the layer is full: the values are still read, to report the
            // shape.
            let LayerInfo {
                inputs, outputs, ..
            } = *self.info;
            let out = ValuesSeed {
                out: if rows.rows < outputs {
                    self.out.get_mut(rows.rows..).unwrap_or_default()
                } else {
                    &mut []
                },
                step: outputs,
                len: if rows.rows < outputs { inputs } else { 0 },
            };
            let Some(row) = seq.next_element_seed(out)? else {
                break;
            };
            if rows.rows == 0 {
                rows.columns = row.len;
            } else if row.len != rows.columns && rows.ragged.is_none() {
                rows.ragged = Some((rows.rows, row.len));
            }
            if let (None, Some((column, value))) = (rows.non_finite, row.non_finite) {
                rows.non_finite = Some((rows.rows, column, value));
            }
            rows.rows += 1;
        }
        Ok(rows)
    }
}

/// What was read of a list of values: how many, and the first that is not finite.
struct ValuesRead<T> {
    len: usize,
    non_finite: Option<(usize, T)>,
}

/// Reads a list of values into every `step`-th slot of `out` from its first, at most `len`
/// of them.
struct ValuesSeed<'a, T> {
    out: &'a mut [T],
    step: usize,
    len: usize,
}

impl<'a, T> ValuesSeed<'a, T> {
    /// Into `out`, one value a slot, as far as it fits.
    fn new(out: &'a mut [T]) -> Self {
        let len = out.len();
        Self { out, step: 1, len }
    }
}

impl<'de, T: Scalar> DeserializeSeed<'de> for ValuesSeed<'_, T> {
    type Value = ValuesRead<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ValuesRead<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Scalar> Visitor<'de> for ValuesSeed<'_, T> {
    type Value = ValuesRead<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {} numbers", self.len)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ValuesRead<T>, A::Error> {
        let mut values = ValuesRead {
            len: 0,
            non_finite: None,
        };
        while let Some(Value(value)) = seq.next_element::<Value<T>>()? {
            if values.len < self.len
                && let Some(slot) = self.out.get_mut(values.len * self.step)
            {
                *slot = value;
            }
            if values.non_finite.is_none() && !value.is_finite() {
                values.non_finite = Some((values.len, value));
            }
            values.len += 1;
        }
        Ok(values)
    }
}
