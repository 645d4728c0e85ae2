//! ONNX's `LSTM`, `GRU` and `RNN` nodes as nn's `lstm`, `gru` and `rnn` layers: the attributes
//! nn computes (one direction, the default activations, PyTorch's GRU), and the weights from
//! ONNX's layout (`W [directions, gates * hidden, inputs]`, `R [directions, gates * hidden,
//! hidden]`, `B [directions, 2 * gates * hidden]`) and gate orders (LSTM i, o, f, c; GRU z, r,
//! h) to PyTorch's tensors (`weight_ih_l0 [gates * hidden, inputs]`, `weight_hh_l0`, `bias_ih_l0`,
//! `bias_hh_l0`; LSTM i, f, g, o; GRU r, z, n), which nn's layers read.

use crate::attribute::{floats, has, int, string, strings};
use crate::constant::Const;
use crate::proto::Node;
use nn_grammar::Cell;

/// The recurrent operators.
pub(crate) const RECURRENT: [&str; 3] = ["LSTM", "GRU", "RNN"];

/// What a recurrent node's attributes say, when nn computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    /// The cell, from the operator and its activations.
    pub cell: Cell,
    /// `hidden_size`, when written.
    pub hidden: Option<usize>,
    /// `layout = 1`: `X` is `[batch, steps, inputs]` and `Y` `[batch, steps, directions,
    /// hidden]`, rather than steps first.
    pub batch_first: bool,
}

impl Spec {
    /// Reads a recurrent node's attributes, or says which one nn cannot compute.
    pub(crate) fn read(node: &Node) -> Result<Self, String> {
        let op = node.op_type.as_str();
        let direction = string(node, "direction").unwrap_or_default();
        match direction.as_str() {
            "" | "forward" => {}
            "bidirectional" => {
                return Err(
                    "runs in both directions (`direction = bidirectional`): nn's recurrent layers run forward in time only"
                        .to_owned(),
                );
            }
            other => {
                return Err(format!(
                    "runs with `direction = {other}`: nn's recurrent layers run forward in time only"
                ));
            }
        }
        if has(node, "clip") {
            return Err(
                "clips its cells' inputs (`clip`): nn's recurrent layers do not clip".to_owned(),
            );
        }
        if !floats(node, "activation_alpha").is_empty()
            || !floats(node, "activation_beta").is_empty()
        {
            return Err(
                "has `activation_alpha` or `activation_beta`: only the default activations can be imported"
                    .to_owned(),
            );
        }
        let written = strings(node, "activations").unwrap_or_default();
        let lowercase: Vec<String> = written.iter().map(|a| a.to_ascii_lowercase()).collect();
        let activations: Vec<&str> = lowercase.iter().map(String::as_str).collect();
        let cell = match op {
            "LSTM" => {
                if !matches!(activations.as_slice(), [] | ["sigmoid", "tanh", "tanh"]) {
                    return Err(format!(
                        "has activations {written:?}: nn's `lstm` is PyTorch's, with `[\"Sigmoid\", \"Tanh\", \"Tanh\"]`"
                    ));
                }
                if int(node, "input_forget", 0) != 0 {
                    return Err(
                        "couples its input and forget gates (`input_forget = 1`): nn's `lstm` is PyTorch's, which does not"
                            .to_owned(),
                    );
                }
                Cell::Lstm
            }
            "GRU" => {
                if !matches!(activations.as_slice(), [] | ["sigmoid", "tanh"]) {
                    return Err(format!(
                        "has activations {written:?}: nn's `gru` is PyTorch's, with `[\"Sigmoid\", \"Tanh\"]`"
                    ));
                }
                if int(node, "linear_before_reset", 0) != 1 {
                    return Err(
                        "applies its reset gate before the hidden state's linear transformation (`linear_before_reset = 0`): nn's `gru` is PyTorch's GRU, which applies it after (`linear_before_reset = 1`)"
                            .to_owned(),
                    );
                }
                Cell::Gru
            }
            _ => match activations.as_slice() {
                [] | ["tanh"] => Cell::Rnn { relu: false },
                ["relu"] => Cell::Rnn { relu: true },
                _ => {
                    return Err(format!(
                        "has activations {written:?}: nn's `rnn` computes `[\"Tanh\"]` or `[\"Relu\"]`"
                    ));
                }
            },
        };
        let hidden = if has(node, "hidden_size") {
            Some(
                usize::try_from(int(node, "hidden_size", 0))
                    .ok()
                    .filter(|&h| h > 0)
                    .ok_or("has a `hidden_size` below 1")?,
            )
        } else {
            None
        };
        let batch_first = match int(node, "layout", 0) {
            0 => false,
            1 => true,
            other => return Err(format!("has `layout = {other}`, expected 0 or 1")),
        };
        Ok(Self {
            cell,
            hidden,
            batch_first,
        })
    }
}

/// ONNX's gate block for each of PyTorch's, in PyTorch's order: an LSTM's i, f, g, o are ONNX's
/// blocks 0 (i), 2 (f), 3 (c) and 1 (o); a GRU's r, z, n are ONNX's 1 (r), 0 (z) and 2 (h).
pub(crate) fn onnx_blocks(cell: Cell) -> &'static [usize] {
    match cell {
        Cell::Lstm => &[0, 2, 3, 1],
        Cell::Gru => &[1, 0, 2],
        Cell::Rnn { .. } => &[0],
    }
}

/// Rows of `width` values in ONNX's gate blocks of `hidden` rows, in PyTorch's order.
pub(crate) fn reorder(values: &[f64], cell: Cell, hidden: usize, width: usize) -> Vec<f64> {
    let block = hidden * width;
    onnx_blocks(cell)
        .iter()
        .flat_map(|&b| &values[b * block..(b + 1) * block])
        .copied()
        .collect()
}

/// A level's tensors in PyTorch's names (without the level's `_l0`), shapes and order.
pub(crate) struct Level {
    /// The hidden state's size.
    pub hidden: usize,
    /// `weight_ih`, `weight_hh`, and `bias_ih`, `bias_hh` when the node has `B`: name, shape,
    /// values.
    pub tensors: Vec<(&'static str, Vec<usize>, Vec<f64>)>,
}

/// The names of a level's biases, which a node without `B` leaves out (PyTorch's
/// `bias=False`).
pub(crate) const BIASES: [&str; 2] = ["bias_ih", "bias_hh"];

/// A level's two biases, zero, for `hidden` values a gate: what a node without `B` adds to a
/// layer whose other levels have them.
pub(crate) fn zero_biases(cell: Cell, hidden: usize) -> [(&'static str, Vec<usize>, Vec<f64>); 2] {
    let rows = cell.gates() * hidden;
    BIASES.map(|name| (name, vec![rows], vec![0.0; rows]))
}

/// The tensors of a node reading `inputs` values a step, from its `W`, `R` and `B` (left out
/// when absent), checked against each other and `hidden_size`.
pub(crate) fn level(
    spec: &Spec,
    inputs: usize,
    w: &Const,
    r: &Const,
    b: Option<&Const>,
) -> Result<Level, String> {
    let gates = spec.cell.gates();
    let (Some(w_values), Some(r_values)) = (w.floats(), r.floats()) else {
        return Err("its weights `W` and `R` are not floats".to_owned());
    };
    let &[directions, rows, reads] = w.dims.as_slice() else {
        return Err(format!(
            "has `W` of shape {:?}, expected [directions, {gates} * hidden, inputs]",
            w.dims
        ));
    };
    if directions != 1 {
        return Err(format!(
            "has weights for {directions} directions: nn's recurrent layers run forward in time only"
        ));
    }
    let hidden = match (spec.hidden, r.dims.as_slice()) {
        (_, &[1, _, h]) if h > 0 && spec.hidden.is_none_or(|s| s == h) => h,
        _ => {
            return Err(format!(
                "has `R` of shape {:?}, expected [1, {gates} * hidden, hidden]{}",
                r.dims,
                spec.hidden
                    .map_or_else(String::new, |h| format!(" with `hidden_size = {h}`"))
            ));
        }
    };
    let rows_expected = gates * hidden;
    if r.dims[1] != rows_expected || rows != rows_expected {
        return Err(format!(
            "has `W` of shape {:?} and `R` of shape {:?}, expected {rows_expected} rows ({gates} gates of {hidden})",
            w.dims, r.dims
        ));
    }
    if reads != inputs {
        return Err(format!(
            "reads {inputs} values a step, but its `W` of shape {:?} reads {reads}",
            w.dims
        ));
    }
    let cell = spec.cell;
    let mut tensors = vec![
        (
            "weight_ih",
            vec![rows_expected, inputs],
            reorder(w_values, cell, hidden, inputs),
        ),
        (
            "weight_hh",
            vec![rows_expected, hidden],
            reorder(r_values, cell, hidden, hidden),
        ),
    ];
    if let Some(b) = b {
        let biases = match (b.floats(), b.dims.as_slice()) {
            (Some(values), &[1, n]) if n == 2 * rows_expected => values,
            _ => {
                return Err(format!(
                    "has `B` of shape {:?}, expected [1, {}]",
                    b.dims,
                    2 * rows_expected
                ));
            }
        };
        let (input_biases, hidden_biases) = biases.split_at(rows_expected);
        for (name, values) in BIASES.into_iter().zip([input_biases, hidden_biases]) {
            tensors.push((name, vec![rows_expected], reorder(values, cell, hidden, 1)));
        }
    }
    Ok(Level { hidden, tensors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constant::Data;
    use crate::proto::Attribute;

    fn node(op: &str, attributes: Vec<Attribute>) -> Node {
        Node {
            op_type: op.to_owned(),
            attribute: attributes,
            ..Node::default()
        }
    }

    fn int(name: &str, i: i64) -> Attribute {
        Attribute {
            name: name.to_owned(),
            i,
            ..Attribute::default()
        }
    }

    fn strings(name: &str, values: &[&str]) -> Attribute {
        Attribute {
            name: name.to_owned(),
            strings: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
            ..Attribute::default()
        }
    }

    /// A constant whose values count up from 0.
    fn counting(dims: &[usize]) -> Const {
        let n: usize = dims.iter().product();
        #[allow(clippy::cast_precision_loss)]
        Const {
            dims: dims.to_vec(),
            data: Data::Float((0..n).map(|v| v as f64).collect()),
        }
    }

    #[test]
    fn lstm_gates_go_from_iofc_to_ifgo() {
        // Two hidden values, one input: ONNX's rows are i0 i1 o0 o1 f0 f1 c0 c1.
        let rows: Vec<f64> = (0..8).map(f64::from).collect();
        let pytorch = reorder(&rows, Cell::Lstm, 2, 1);
        // PyTorch's: i0 i1 f0 f1 g0 g1 o0 o1.
        assert_eq!(pytorch, [0.0, 1.0, 4.0, 5.0, 6.0, 7.0, 2.0, 3.0]);
    }

    #[test]
    fn gru_gates_go_from_zrh_to_rzn_and_whole_rows_move() {
        // One hidden value, two inputs: rows z, r, h of two values each.
        let rows = [10.0, 11.0, 20.0, 21.0, 30.0, 31.0];
        assert_eq!(
            reorder(&rows, Cell::Gru, 1, 2),
            [20.0, 21.0, 10.0, 11.0, 30.0, 31.0]
        );
        assert_eq!(reorder(&rows, Cell::Rnn { relu: false }, 6, 1), rows);
    }

    #[test]
    fn bias_splits_into_input_and_hidden_halves() {
        let spec = Spec {
            cell: Cell::Gru,
            hidden: Some(1),
            batch_first: false,
        };
        let level = level(
            &spec,
            2,
            &counting(&[1, 3, 2]),
            &counting(&[1, 3, 1]),
            Some(&counting(&[1, 6])),
        )
        .unwrap();
        let names: Vec<&str> = level.tensors.iter().map(|t| t.0).collect();
        assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
        assert_eq!(level.tensors[0].1, [3, 2]);
        assert_eq!(level.tensors[0].2, [2.0, 3.0, 0.0, 1.0, 4.0, 5.0]);
        assert_eq!(level.tensors[1].2, [1.0, 0.0, 2.0]);
        // `B` is `[Wb_z, Wb_r, Wb_h, Rb_z, Rb_r, Rb_h]`.
        assert_eq!(level.tensors[2].2, [1.0, 0.0, 2.0]);
        assert_eq!(level.tensors[3].2, [4.0, 3.0, 5.0]);
    }

    #[test]
    fn weights_are_checked_against_each_other() {
        let spec = Spec {
            cell: Cell::Lstm,
            hidden: None,
            batch_first: false,
        };
        let (w, r) = (counting(&[2, 8, 1]), counting(&[2, 8, 2]));
        let error = level(&spec, 1, &w, &r, None).err().unwrap();
        assert!(error.contains("2 directions"), "{error}");
        let (w, r) = (counting(&[1, 8, 3]), counting(&[1, 8, 2]));
        let error = level(&spec, 1, &w, &r, None).err().unwrap();
        assert!(error.contains("reads 1 values a step"), "{error}");
        // Without `B`, no biases (PyTorch's `bias=False`).
        let names: Vec<&str> = level(&spec, 3, &w, &r, None)
            .unwrap()
            .tensors
            .iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(names, ["weight_ih", "weight_hh"]);
    }

    #[test]
    fn attributes_outside_pytorchs_cells_are_named() {
        let read = |op: &str, attributes| Spec::read(&node(op, attributes));
        assert_eq!(
            read("GRU", vec![int("linear_before_reset", 1)])
                .unwrap()
                .cell,
            Cell::Gru
        );
        assert!(
            read("GRU", vec![])
                .unwrap_err()
                .contains("`linear_before_reset = 0`")
        );
        assert_eq!(
            read("RNN", vec![strings("activations", &["Relu"])])
                .unwrap()
                .cell,
            Cell::Rnn { relu: true }
        );
        assert!(read("RNN", vec![strings("activations", &["Sigmoid"])]).is_err());
        let both = Attribute {
            name: "direction".to_owned(),
            s: b"bidirectional".to_vec(),
            ..Attribute::default()
        };
        assert!(
            read("LSTM", vec![both])
                .unwrap_err()
                .contains("both directions")
        );
        assert!(read("LSTM", vec![int("input_forget", 1)]).is_err());
        assert!(read("LSTM", vec![int("layout", 1)]).unwrap().batch_first);
    }
}
