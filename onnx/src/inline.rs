//! Model-local functions (`FunctionProto`), inlined: each call becomes the function's nodes,
//! with the caller's values for its inputs and outputs, the caller's attributes for its
//! references, and its own values renamed under the call's name so that calls do not clash.

use crate::proto::{Attribute, Function, Node};
use prost::Message as _;

/// How deeply functions may call functions; deeper (or recursive) calls are a problem.
const MAX_DEPTH: usize = 16;

/// What the nodes that inlining adds may weigh, encoded (plus [`NODE_WEIGHT`] each), for each
/// byte of the model, and whatever the model: calls of calls multiply, and a budget keeps
/// memory within a fixed multiple of the file.
const BYTES_PER_BYTE: usize = 4;
/// See [`BYTES_PER_BYTE`].
const BUDGET_BYTES: usize = 1 << 16;
/// The weight of a node besides its encoding (its decoded size).
const NODE_WEIGHT: usize = 256;

/// The graph's nodes with every call of a local function replaced by its body, and the
/// problems met (a call nested too deeply, bodies that add more than the budget for a model of
/// `size` bytes).
pub(crate) fn inline(
    nodes: Vec<Node>,
    functions: &[Function],
    size: usize,
) -> (Vec<Node>, Vec<String>) {
    let mut out = Vec::with_capacity(nodes.len());
    let mut problems = Vec::new();
    let mut budget = size
        .saturating_mul(BYTES_PER_BYTE)
        .saturating_add(BUDGET_BYTES);
    for node in nodes {
        expand(node, functions, 0, &mut out, &mut problems, &mut budget);
    }
    (out, problems)
}

/// The function a node calls, if it calls a local one.
fn callee<'f>(node: &Node, functions: &'f [Function]) -> Option<&'f Function> {
    functions
        .iter()
        .find(|f| f.name == node.op_type && f.domain == node.domain && f.overload == node.overload)
}

fn expand(
    node: Node,
    functions: &[Function],
    depth: usize,
    out: &mut Vec<Node>,
    problems: &mut Vec<String>,
    budget: &mut usize,
) {
    let Some(function) = callee(&node, functions) else {
        out.push(node);
        return;
    };
    if depth >= MAX_DEPTH {
        problems.push(format!(
            "function `{}` calls functions more than {MAX_DEPTH} deep (or itself)",
            function.name
        ));
        return;
    }
    let scope = if node.name.is_empty() {
        format!("{}{}", function.name, out.len())
    } else {
        node.name.clone()
    };
    // A value of the body: a formal input or output becomes the caller's value, anything else
    // a fresh name in the call's scope; `""` (an omitted optional input) stays omitted.
    let rename = |value: &String| -> String {
        if value.is_empty() {
            return String::new();
        }
        if let Some(i) = function.input.iter().position(|v| v == value) {
            return node.input.get(i).cloned().unwrap_or_default();
        }
        if let Some(i) = function.output.iter().position(|v| v == value) {
            return node.output.get(i).cloned().unwrap_or_default();
        }
        format!("{scope}/{value}")
    };
    for inner in &function.node {
        let weight = inner.encoded_len().saturating_add(NODE_WEIGHT);
        if weight > *budget {
            if *budget > 0 {
                problems.push(format!(
                    "inlining the calls of local functions makes more nodes than a model of this size may (function `{}`)",
                    function.name
                ));
            }
            *budget = 0;
            return;
        }
        *budget -= weight;
        let attribute = inner
            .attribute
            .iter()
            .filter_map(|a| resolve(a, &node, function))
            .collect();
        let call = Node {
            input: inner.input.iter().map(rename).collect(),
            output: inner.output.iter().map(rename).collect(),
            name: format!("{scope}/{}", inner.name),
            op_type: inner.op_type.clone(),
            domain: inner.domain.clone(),
            overload: inner.overload.clone(),
            attribute,
            metadata_props: inner.metadata_props.clone(),
        };
        expand(call, functions, depth + 1, out, problems, budget);
    }
}

/// A body node's attribute: itself, or for a reference the caller's attribute (else the
/// function's default) under the body's name; `None` when neither gives it a value.
fn resolve(attribute: &Attribute, call: &Node, function: &Function) -> Option<Attribute> {
    if attribute.ref_attr_name.is_empty() {
        return Some(attribute.clone());
    }
    let referenced = &attribute.ref_attr_name;
    let value = call
        .attribute
        .iter()
        .chain(&function.attribute_proto)
        .find(|a| &a.name == referenced)?;
    Some(Attribute {
        name: attribute.name.clone(),
        ref_attr_name: String::new(),
        ..value.clone()
    })
}
