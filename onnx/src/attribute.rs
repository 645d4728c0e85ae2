//! A node's attributes by name, with ONNX's defaults given by the caller.

use crate::proto::{Attribute, Node, attribute_type};

fn find<'n>(node: &'n Node, name: &str) -> Option<&'n Attribute> {
    node.attribute.iter().find(|a| a.name == name)
}

/// An `int` attribute, or `default`.
pub(crate) fn int(node: &Node, name: &str, default: i64) -> i64 {
    find(node, name).map_or(default, |a| a.i)
}

/// A `float` attribute, or `default`.
pub(crate) fn float32(node: &Node, name: &str, default: f32) -> f32 {
    find(node, name).map_or(default, |a| a.f)
}

/// A `float` attribute as `f64` (exactly), or `default`.
pub(crate) fn float(node: &Node, name: &str, default: f32) -> f64 {
    f64::from(float32(node, name, default))
}

/// An `ints` attribute, if the node has it.
pub(crate) fn ints(node: &Node, name: &str) -> Option<Vec<i64>> {
    find(node, name)
        .filter(|a| a.r#type == attribute_type::INTS || !a.ints.is_empty())
        .map(|a| a.ints.clone())
}

/// A `string` attribute, if the node has it.
pub(crate) fn string(node: &Node, name: &str) -> Option<String> {
    find(node, name)
        .filter(|a| a.r#type == attribute_type::STRING || !a.s.is_empty())
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

/// A `floats` attribute, empty when the node does not have it.
pub(crate) fn floats(node: &Node, name: &str) -> Vec<f32> {
    find(node, name)
        .map(|a| a.floats.clone())
        .unwrap_or_default()
}

/// A `strings` attribute, if the node has it.
pub(crate) fn strings(node: &Node, name: &str) -> Option<Vec<String>> {
    find(node, name).map(|a| {
        a.strings
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    })
}

/// Whether the node has the attribute at all.
pub(crate) fn has(node: &Node, name: &str) -> bool {
    find(node, name).is_some()
}
