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
//! deserialised into a `Box` built directly on the heap, one layer at a time: there is no
//! `Deserialize` for the network by value, which would build it on the stack first.

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
use core::marker::PhantomData;

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

/// A row-major matrix of `width` columns, written as a list of rows.
struct Rows<'a, T>(&'a [T], usize);

/// A list of values.
struct Values<'a, T>(&'a [T]);

impl<T: Scalar> Serialize for LayerRef<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Layer", 3)?;
        state.serialize_field("name", self.info.name)?;
        state.serialize_field("weights", &Rows(self.weights, self.info.inputs))?;
        state.serialize_field("bias", &Values(self.bias))?;
        state.end()
    }
}

impl<T: Scalar> Serialize for Rows<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rows = self.0.chunks(self.1.max(1));
        let mut seq = serializer.serialize_seq(Some(rows.len()))?;
        for row in rows {
            seq.serialize_element(&Values(row))?;
        }
        seq.end()
    }
}

impl<T: Scalar> Serialize for Values<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for value in self.0 {
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
        while let Some(key) = map.next_key::<String>()? {
            if key != "layers" {
                return Err(de::Error::unknown_field(&key, &["layers"]));
            }
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
        write!(f, "a list of {} layers", N::LAYERS.len())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let expected = N::LAYERS.len();
        for (index, info) in N::LAYERS.iter().enumerate() {
            let Some(layer) = seq.next_element_seed(LayerSeed::<N::Scalar>(PhantomData))? else {
                return Err(de::Error::custom(Error::LayerCount {
                    expected,
                    found: index,
                }));
            };
            layer.check(index, info).map_err(de::Error::custom)?;
            // Copy into the network as soon as the layer is read, so that at most one layer
            // is held twice.
            let mut at = 0;
            self.net.for_each_layer_mut(|_, weights, bias| {
                if at == index {
                    for (slot, value) in weights.iter_mut().zip(layer.weights.iter().flatten()) {
                        *slot = value.0;
                    }
                    for (slot, value) in bias.iter_mut().zip(&layer.bias) {
                        *slot = value.0;
                    }
                }
                at += 1;
            });
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

/// One layer as read, before it is checked against the declaration.
struct LayerData<T> {
    name: String,
    weights: Vec<Vec<Value<T>>>,
    bias: Vec<Value<T>>,
}

impl<T: Scalar> LayerData<T> {
    /// The name, the shapes and that every value is finite.
    fn check(&self, index: usize, info: &LayerInfo) -> Result<(), Error> {
        let layer = info.name;
        if self.name != info.name {
            return Err(Error::LayerName {
                index,
                expected: info.name,
                found: self.name.clone(),
            });
        }
        let columns = self.weights.first().map_or(0, Vec::len);
        let ragged = self.weights.iter().position(|row| row.len() != columns);
        if let Some(row) = ragged {
            return Err(Error::Shape {
                layer,
                tensor: alloc::format!("weights[{row}]"),
                expected: vec![info.inputs],
                found: vec![self.weights[row].len()],
            });
        }
        if self.weights.len() != info.outputs || columns != info.inputs {
            return Err(Error::Shape {
                layer,
                tensor: "weights".into(),
                expected: vec![info.outputs, info.inputs],
                found: vec![self.weights.len(), columns],
            });
        }
        if self.bias.len() != info.outputs {
            return Err(Error::Shape {
                layer,
                tensor: "bias".into(),
                expected: vec![info.outputs],
                found: vec![self.bias.len()],
            });
        }
        let weights = self.weights.iter().enumerate().flat_map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(move |(c, v)| ("weights", vec![r, c], v.0))
        });
        let bias = self
            .bias
            .iter()
            .enumerate()
            .map(|(r, v)| ("bias", vec![r], v.0));
        if let Some((tensor, at, value)) = weights.chain(bias).find(|(_, _, v)| !v.is_finite()) {
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

/// Reads one layer.
struct LayerSeed<T>(PhantomData<T>);

const LAYER_FIELDS: &[&str] = &["name", "weights", "bias"];

impl<'de, T: Scalar> DeserializeSeed<'de> for LayerSeed<T> {
    type Value = LayerData<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<LayerData<T>, D::Error> {
        deserializer.deserialize_struct("Layer", LAYER_FIELDS, self)
    }
}

impl<'de, T: Scalar> Visitor<'de> for LayerSeed<T> {
    type Value = LayerData<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a layer: {\"name\", \"weights\", \"bias\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LayerData<T>, A::Error> {
        let (mut name, mut weights, mut bias) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" if name.is_none() => name = Some(map.next_value()?),
                "weights" if weights.is_none() => weights = Some(map.next_value()?),
                "bias" if bias.is_none() => bias = Some(map.next_value()?),
                "name" => return Err(de::Error::duplicate_field("name")),
                "weights" => return Err(de::Error::duplicate_field("weights")),
                "bias" => return Err(de::Error::duplicate_field("bias")),
                other => return Err(de::Error::unknown_field(other, LAYER_FIELDS)),
            }
        }
        Ok(LayerData {
            name: name.ok_or_else(|| de::Error::missing_field("name"))?,
            weights: weights.ok_or_else(|| de::Error::missing_field("weights"))?,
            bias: bias.ok_or_else(|| de::Error::missing_field("bias"))?,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LayerData<T>, A::Error> {
        let name = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let weights = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let bias = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(2, &self))?;
        Ok(LayerData {
            name,
            weights,
            bias,
        })
    }
}
