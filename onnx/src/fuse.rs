//! The activations exporters write as several nodes, each replaced by one node before lowering:
//! `x * Sigmoid(x)` becomes `Silu(x)` (nn's `silu`), `Where(x > 20, x, Softplus(x))` becomes
//! `Softplus(x)`, and the exact GELU in its `Erf` form, `0.5 * x * (1 + Erf(x / sqrt(2)))`
//! (PyTorch's export of `nn.GELU()` before opset 20), becomes `Gelu(x)`, and its `tanh`
//! approximation `Gelu(x)` with `approximate = "tanh"` (nn's `gelu_tanh`). A pattern is replaced
//! only when its inner values feed nothing else.

use crate::proto::{Attribute, Node, attribute_type};
use std::collections::HashMap;
use std::f64::consts::PI;

/// How far a constant may be from `sqrt(2)`, `1` or `0.5` (relative): exporters write `f32`s.
const TOLERANCE: f64 = 1e-6;

/// The nodes with every pattern replaced; `constant` gives a one-element float constant's
/// value by name.
pub(crate) fn fuse(nodes: Vec<Node>, constant: &dyn Fn(&str) -> Option<f64>) -> Vec<Node> {
    let mut uses: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut maker: HashMap<&str, usize> = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        for input in &node.input {
            uses.entry(input).or_default().push(index);
        }
        for output in &node.output {
            maker.entry(output).or_insert(index);
        }
    }
    let finder = Finder {
        nodes: &nodes,
        uses: &uses,
        maker: &maker,
        constant,
    };
    let mut removed = vec![false; nodes.len()];
    let mut replaced: HashMap<usize, Node> = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        if removed[index] || !node.domain.is_empty() {
            continue;
        }
        let found = match node.op_type.as_str() {
            "Sigmoid" => finder.silu(index).map(|(y, all)| ("Silu", y, all)),
            "Erf" => finder.gelu(index).map(|(x, y, all)| ("Gelu", (x, y), all)),
            "Tanh" => finder
                .gelu_tanh(index)
                .map(|(x, y, all)| ("GeluTanh", (x, y), all)),
            "Softplus" => finder
                .softplus(index)
                .map(|(x, y, all)| ("Softplus", (x, y), all)),
            _ => None,
        };
        let Some((op, (x, y), all)) = found else {
            continue;
        };
        if all.iter().any(|&i| removed[i]) {
            continue;
        }
        let first = all.iter().copied().min().unwrap_or(index);
        for &i in &all {
            removed[i] = true;
        }
        // The tanh form becomes opset 20's `Gelu` with `approximate = "tanh"`.
        let (op, attribute) = match op {
            "GeluTanh" => (
                "Gelu",
                vec![Attribute {
                    name: "approximate".to_owned(),
                    r#type: attribute_type::STRING,
                    s: b"tanh".to_vec(),
                    ..Attribute::default()
                }],
            ),
            op => (op, Vec::new()),
        };
        replaced.insert(
            first,
            Node {
                input: vec![x],
                output: vec![y],
                name: nodes[first].name.clone(),
                op_type: op.to_owned(),
                attribute,
                ..Node::default()
            },
        );
    }
    nodes
        .into_iter()
        .enumerate()
        .filter_map(|(index, node)| match replaced.remove(&index) {
            Some(fused) => Some(fused),
            None => (!removed[index]).then_some(node),
        })
        .collect()
}

/// Looks for the patterns around one node.
struct Finder<'a> {
    nodes: &'a [Node],
    uses: &'a HashMap<&'a str, Vec<usize>>,
    maker: &'a HashMap<&'a str, usize>,
    constant: &'a dyn Fn(&str) -> Option<f64>,
}

impl Finder<'_> {
    /// The one node that reads `value`, if exactly one does.
    fn only_user(&self, value: &str) -> Option<usize> {
        match self.uses.get(value).map(Vec::as_slice) {
            Some(&[user]) => Some(user),
            _ => None,
        }
    }

    /// The node, if it is `op` in the default domain with one output.
    fn op(&self, index: usize, op: &str) -> Option<&Node> {
        let node = &self.nodes[index];
        (node.op_type == op && node.domain.is_empty() && node.output.len() == 1).then_some(node)
    }

    /// The other input of a binary node, given one of them.
    fn other<'n>(node: &'n Node, one: &str) -> Option<&'n str> {
        match node.input.as_slice() {
            [a, b] if a == one => Some(b),
            [a, b] if b == one => Some(a),
            _ => None,
        }
    }

    /// Whether `value` is a constant within [`TOLERANCE`] of `expected`.
    fn is(&self, value: &str, expected: f64) -> bool {
        (self.constant)(value).is_some_and(|v| (v - expected).abs() <= TOLERANCE * expected.abs())
    }

    /// `Sigmoid(x)` read only by `Mul(x, it)`: the output and the two nodes.
    fn silu(&self, sigmoid: usize) -> Option<((String, String), Vec<usize>)> {
        let node = self.op(sigmoid, "Sigmoid")?;
        let x = node.input.first()?;
        let mul_index = self.only_user(&node.output[0])?;
        let mul = self.op(mul_index, "Mul")?;
        (Self::other(mul, &node.output[0])? == x)
            .then(|| ((x.clone(), mul.output[0].clone()), vec![sigmoid, mul_index]))
    }

    /// `Where(x > 20, x, Softplus(x))` around the `Softplus`: PyTorch's `nn.Softplus()`, which
    /// returns `x` itself above its threshold of 20, as the default exporter writes it (nn's
    /// `softplus` differs from it there by less than `ln(1 + exp(-20))`, 2.1e-9).
    fn softplus(&self, softplus: usize) -> Option<(String, String, Vec<usize>)> {
        let node = self.op(softplus, "Softplus")?;
        let x = node.input.first()?;
        let choice_index = self.only_user(&node.output[0])?;
        let choice = self.op(choice_index, "Where")?;
        let [condition, above, below] = choice.input.as_slice() else {
            return None;
        };
        if above != x || *below != node.output[0] {
            return None;
        }
        let (greater_index, greater) = self.made_for(condition, choice_index, "Greater")?;
        let [left, threshold] = greater.input.as_slice() else {
            return None;
        };
        (left == x && self.is(threshold, 20.0)).then(|| {
            (
                x.clone(),
                choice.output[0].clone(),
                vec![softplus, greater_index, choice_index],
            )
        })
    }

    /// `0.5 * x * (1 + Erf(x / sqrt(2)))` around the `Erf`, in the orders exporters write it:
    /// `x`, the output, and every node of the pattern.
    fn gelu(&self, erf: usize) -> Option<(String, String, Vec<usize>)> {
        let node = self.op(erf, "Erf")?;
        let scaled = node.input.first()?;
        let scale_index = *self.maker.get(scaled.as_str())?;
        if self.only_user(scaled)? != erf {
            return None;
        }
        let scale = &self.nodes[scale_index];
        let x = match scale.op_type.as_str() {
            "Div" if scale.input.len() == 2 && self.is(&scale.input[1], 2f64.sqrt()) => {
                scale.input[0].clone()
            }
            "Mul" => {
                let [a, b] = scale.input.as_slice() else {
                    return None;
                };
                if self.is(b, 0.5f64.sqrt()) {
                    a.clone()
                } else if self.is(a, 0.5f64.sqrt()) {
                    b.clone()
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        self.half_x_times_one_plus(&node.output[0], x, vec![scale_index, erf])
    }

    /// GELU's `tanh` approximation, `0.5 * x * (1 + Tanh(sqrt(2 / pi) * (x + 0.044715 *
    /// x^3)))`, around the `Tanh` (PyTorch's export of `nn.GELU(approximate="tanh")`), the cube
    /// a `Pow(x, 3)` or two `Mul`s: `x`, the output, and every node of the pattern.
    fn gelu_tanh(&self, tanh: usize) -> Option<(String, String, Vec<usize>)> {
        let node = self.op(tanh, "Tanh")?;
        let (scale_index, scaled) = self.made_for(node.input.first()?, tanh, "Mul")?;
        let sum = Self::other(scaled, self.constant_input(scaled, (2.0 / PI).sqrt())?)?;
        let (sum_index, add) = self.made_for(sum, scale_index, "Add")?;
        let [a, b] = add.input.as_slice() else {
            return None;
        };
        let mut all = vec![scale_index, sum_index, tanh];
        for (x, cubic) in [(a, b), (b, a)] {
            let Some((kappa_index, kappa)) = self.made_for(cubic, sum_index, "Mul") else {
                continue;
            };
            let Some(cube) = self
                .constant_input(kappa, 0.044_715)
                .and_then(|k| Self::other(kappa, k))
            else {
                continue;
            };
            if let Some(cube_nodes) = self.cube(cube, kappa_index, x) {
                all.push(kappa_index);
                all.extend(cube_nodes);
                return self.half_x_times_one_plus(&node.output[0], x.clone(), all);
            }
        }
        None
    }

    /// The nodes that compute `x^3` as `value` for `reader` alone: `Pow(x, 3)`, or
    /// `Mul(x, Mul(x, x))` in either order.
    fn cube(&self, value: &str, reader: usize, x: &str) -> Option<Vec<usize>> {
        if let Some((index, pow)) = self.made_for(value, reader, "Pow") {
            return (pow.input.len() == 2 && pow.input[0] == x && self.is(&pow.input[1], 3.0))
                .then(|| vec![index]);
        }
        let (index, outer) = self.made_for(value, reader, "Mul")?;
        let square = Self::other(outer, x)?;
        let (square_index, inner) = self.made_for(square, index, "Mul")?;
        (inner.input.len() == 2 && inner.input.iter().all(|i| i == x))
            .then(|| vec![index, square_index])
    }

    /// The node that makes `value`, if it is `op` and `reader` is the only node reading it.
    fn made_for(&self, value: &str, reader: usize, op: &str) -> Option<(usize, &Node)> {
        let index = *self.maker.get(value)?;
        let node = self.op(index, op)?;
        (self.only_user(value)? == reader).then_some((index, node))
    }

    /// The input of a binary `node` that is a constant within [`TOLERANCE`] of `expected`.
    fn constant_input<'n>(&self, node: &'n Node, expected: f64) -> Option<&'n str> {
        node.input
            .iter()
            .find(|input| self.is(input, expected))
            .map(String::as_str)
    }

    /// `0.5 * x * (1 + value)` after `value`, read by nothing else, in the three orders
    /// exporters write it: `x`, the output, and `all` with the nodes of this part.
    fn half_x_times_one_plus(
        &self,
        value: &str,
        x: String,
        mut all: Vec<usize>,
    ) -> Option<(String, String, Vec<usize>)> {
        let add_index = self.only_user(value)?;
        let add = self.op(add_index, "Add")?;
        if !self.is(Self::other(add, value)?, 1.0) {
            return None;
        }
        let times_index = self.only_user(&add.output[0])?;
        let times = self.op(times_index, "Mul")?;
        let factor = Self::other(times, &add.output[0])?;
        all.extend([add_index, times_index]);
        if factor == x {
            // `(x * (1 + f)) * 0.5`
            let half_index = self.only_user(&times.output[0])?;
            let half = self.op(half_index, "Mul")?;
            if !self.is(Self::other(half, &times.output[0])?, 0.5) {
                return None;
            }
            all.push(half_index);
            return Some((x, half.output[0].clone(), all));
        }
        if self.is(factor, 0.5) {
            // `x * ((1 + f) * 0.5)`, as the default exporter writes it before opset 20.
            let last_index = self.only_user(&times.output[0])?;
            let last = self.op(last_index, "Mul")?;
            if Self::other(last, &times.output[0])? != x {
                return None;
            }
            all.push(last_index);
            return Some((x, last.output[0].clone(), all));
        }
        // `(x * 0.5) * (1 + f)`
        let half_index = *self.maker.get(factor)?;
        let half = self.op(half_index, "Mul")?;
        if self.only_user(factor)? != times_index || !self.is(Self::other(half, &x)?, 0.5) {
            return None;
        }
        all.push(half_index);
        Some((x, times.output[0].clone(), all))
    }
}
