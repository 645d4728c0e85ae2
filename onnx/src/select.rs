//! Which of the graph's outputs becomes the network's, and the nodes it needs: the rest of the
//! graph (a classifier's label computed from its probabilities, say) is left out unread.

use crate::proto::{Graph, Node, data_type};
use std::collections::HashSet;

/// The output: the graph's only one, or its only `float` or `double` one (skl2onnx's
/// classifiers also output an integer `label`).
pub(crate) fn output(graph: &Graph) -> Result<&str, String> {
    if let [only] = graph.output.as_slice() {
        return Ok(&only.name);
    }
    let floats: Vec<&str> = graph
        .output
        .iter()
        .filter(|o| {
            o.r#type
                .as_ref()
                .and_then(|t| t.tensor_type.as_ref())
                .is_some_and(|t| matches!(t.elem_type, data_type::FLOAT | data_type::DOUBLE))
        })
        .map(|o| o.name.as_str())
        .collect();
    if let [only] = floats.as_slice() {
        return Ok(only);
    }
    let names: Vec<String> = graph
        .output
        .iter()
        .map(|o| format!("`{}`", o.name))
        .collect();
    Err(format!(
        "expected one output (or one float output among others), found {}{}",
        graph.output.len(),
        if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join(", "))
        }
    ))
}

/// The nodes `output` depends on, in their order.
pub(crate) fn needed(nodes: Vec<Node>, output: &str) -> Vec<Node> {
    let mut wanted: HashSet<String> = HashSet::from([output.to_owned()]);
    let mut keep = vec![false; nodes.len()];
    for (index, node) in nodes.iter().enumerate().rev() {
        if node.output.iter().any(|o| wanted.contains(o)) {
            keep[index] = true;
            wanted.extend(node.input.iter().cloned());
        }
    }
    nodes
        .into_iter()
        .zip(keep)
        .filter_map(|(node, kept)| kept.then_some(node))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(inputs: &[&str], output: &str) -> Node {
        Node {
            input: inputs.iter().map(|&i| i.to_owned()).collect(),
            output: vec![output.to_owned()],
            ..Node::default()
        }
    }

    #[test]
    fn only_the_nodes_the_output_needs_are_kept() {
        let nodes = vec![
            node(&["x"], "a"),
            node(&["a"], "probabilities"),
            node(&["probabilities"], "label"),
            node(&["x"], "unused"),
        ];
        let kept = needed(nodes, "probabilities");
        let outputs: Vec<&str> = kept.iter().map(|n| n.output[0].as_str()).collect();
        assert_eq!(outputs, ["a", "probabilities"]);
    }
}
