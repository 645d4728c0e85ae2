//! Constant folding: the nodes whose inputs are all known at import time, evaluated. What
//! exporters compute this way is shapes (`Shape`, `Gather`, `Unsqueeze`, `Concat`, arithmetic
//! on sizes), where the batch size stays a symbol ([`Int::Batch`]), and now and then a weight
//! (`Transpose`, `Identity`, `Cast`); anything beyond that is a problem, not a guess.

use crate::attribute::{int, ints};
use crate::constant::{self, Const, Data, Int};
use crate::proto::{Node, data_type};
use std::path::Path;

/// Operators folded when all their inputs are constants.
pub(crate) const FOLDED: [&str; 15] = [
    "Constant",
    "Identity",
    "Shape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Cast",
    "Slice",
    "Reshape",
    "Mul",
    "Add",
    "Sub",
    "Div",
    "Transpose",
];

/// What shape computations are limited to, for messages.
const SHAPES_ONLY: &str = "only shape computations are folded";

/// A size or count as `i64`.
pub(crate) fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An axis or index counted from the end when negative, checked against `len`.
pub(crate) fn wrap(value: i64, len: usize) -> Option<usize> {
    let value = if value < 0 {
        value.checked_add(signed(len))?
    } else {
        value
    };
    usize::try_from(value).ok().filter(|&v| v < len)
}

/// Axes as an operator writes them ([`wrap`] of each), for a value of `rank` axes; `None` if one
/// is out of range.
pub(crate) fn axes(written: &[i64], rank: usize) -> Option<Vec<usize>> {
    written.iter().map(|&a| wrap(a, rank)).collect()
}

/// A `Constant` node's value.
pub(crate) fn constant_node(node: &Node, dir: Option<&Path>) -> Result<Const, String> {
    let Some(attribute) = node.attribute.first() else {
        return Err("a `Constant` without a value".to_owned());
    };
    match attribute.name.as_str() {
        "value" => {
            let tensor = attribute.t.as_ref().ok_or("`value` holds no tensor")?;
            constant::read(tensor, dir)
        }
        "value_float" => Ok(Const {
            dims: Vec::new(),
            data: Data::Float(vec![f64::from(attribute.f)]),
        }),
        "value_floats" => Ok(Const {
            dims: vec![attribute.floats.len()],
            data: Data::Float(attribute.floats.iter().map(|&v| f64::from(v)).collect()),
        }),
        "value_int" => Ok(Const {
            dims: Vec::new(),
            data: Data::Int(vec![Int::Known(attribute.i)]),
        }),
        "value_ints" => Ok(Const::ints(
            attribute.ints.iter().map(|&v| Int::Known(v)).collect(),
        )),
        other => Err(format!("`Constant` with `{other}` is not supported")),
    }
}

/// Evaluates a node whose inputs are all constants (`None` for an omitted optional input). The
/// result holds as many elements as its sizes say, which lowering relies on.
pub(crate) fn fold(node: &Node, inputs: &[Option<Const>], opset: i64) -> Result<Const, String> {
    let folded = evaluate(node, inputs, opset)?;
    let elements = folded
        .dims
        .iter()
        .try_fold(1usize, |all, &d| all.checked_mul(d));
    if elements == Some(folded.len()) {
        Ok(folded)
    } else {
        Err(format!(
            "makes {} values for the shape {:?}",
            folded.len(),
            folded.dims
        ))
    }
}

fn evaluate(node: &Node, inputs: &[Option<Const>], opset: i64) -> Result<Const, String> {
    let input = |i: usize| -> Result<&Const, String> {
        inputs
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("expected input {i}"))
    };
    let op = node.op_type.as_str();
    match op {
        "Identity" => Ok(input(0)?.clone()),
        "Shape" => {
            let dims = input(0)?.dims.iter().map(|&d| Int::Known(signed(d)));
            Ok(shape(node, dims.collect(), opset))
        }
        "Gather" => gather(node, input(0)?, input(1)?),
        "Unsqueeze" | "Squeeze" => {
            let axes = if opset >= 13 {
                match inputs.get(1).and_then(Option::as_ref) {
                    Some(axes) => axes.known_ints().ok_or("axes are not integers")?,
                    None => Vec::new(),
                }
            } else {
                ints(node, "axes").unwrap_or_default()
            };
            let data = input(0)?;
            let dims = if op == "Unsqueeze" {
                unsqueeze(&data.dims, &axes)?
            } else {
                squeeze(&data.dims, &axes)?
            };
            Ok(Const {
                dims,
                data: data.data.clone(),
            })
        }
        "Concat" => concat(&inputs.iter().flatten().collect::<Vec<_>>()),
        "Cast" => cast(node, input(0)?),
        "Slice" => slice(node, inputs, opset),
        "Reshape" => {
            let data = input(0)?;
            let target = input(1)?
                .known_ints()
                .ok_or("reshapes a constant to a shape that depends on the batch size")?;
            Ok(Const {
                dims: reshape(&data.dims, &target)?,
                data: data.data.clone(),
            })
        }
        "Mul" | "Add" | "Sub" | "Div" => elementwise(op, input(0)?, input(1)?),
        "Transpose" => transpose(node, input(0)?),
        _ => Err(format!(
            "operator `{op}` on constants only is not supported"
        )),
    }
}

/// A `Shape` node's value for sizes (the batch size first, for the flow), with `start` and
/// `end` (opset 15).
pub(crate) fn shape(node: &Node, dims: Vec<Int>, opset: i64) -> Const {
    if opset < 15 {
        return Const::ints(dims);
    }
    let rank = signed(dims.len());
    let clamp = |v: i64| {
        let v = if v < 0 { v.saturating_add(rank) } else { v };
        usize::try_from(v.clamp(0, rank)).unwrap_or(0)
    };
    let start = clamp(int(node, "start", 0));
    let end = clamp(int(node, "end", rank)).max(start);
    Const::ints(dims[start..end].to_vec())
}

fn gather(node: &Node, data: &Const, indices: &Const) -> Result<Const, String> {
    let positions = indices
        .known_ints()
        .ok_or("gathers with indices that are not integers")?;
    if int(node, "axis", 0) != 0 || data.dims.len() != 1 {
        return Err(format!(
            "gathers along another axis than 0 of a vector: {SHAPES_ONLY}"
        ));
    }
    let len = data.len();
    let picked: Vec<usize> = positions
        .iter()
        .map(|&p| wrap(p, len).ok_or_else(|| format!("gathers index {p} of {len} values")))
        .collect::<Result<_, _>>()?;
    let data = match &data.data {
        Data::Int(values) => Data::Int(picked.iter().map(|&i| values[i]).collect()),
        Data::Float(values) => Data::Float(picked.iter().map(|&i| values[i]).collect()),
    };
    Ok(Const {
        dims: indices.dims.clone(),
        data,
    })
}

fn unsqueeze(dims: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let rank = dims.len() + axes.len();
    let mut axes: Vec<usize> = axes
        .iter()
        .map(|&a| wrap(a, rank))
        .collect::<Option<_>>()
        .ok_or("an axis out of range")?;
    axes.sort_unstable();
    let mut dims = dims.to_vec();
    for axis in axes {
        if axis > dims.len() {
            return Err("an axis out of range".to_owned());
        }
        dims.insert(axis, 1);
    }
    Ok(dims)
}

fn squeeze(dims: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    if axes.is_empty() {
        return Ok(dims.iter().copied().filter(|&d| d != 1).collect());
    }
    let axes: Vec<usize> = axes
        .iter()
        .map(|&a| wrap(a, dims.len()))
        .collect::<Option<_>>()
        .ok_or("an axis out of range")?;
    if let Some(&axis) = axes.iter().find(|&&a| dims[a] != 1) {
        return Err(format!("squeezes axis {axis} of size {}", dims[axis]));
    }
    Ok(dims
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, &d)| d)
        .collect())
}

fn concat(parts: &[&Const]) -> Result<Const, String> {
    if parts.iter().any(|p| p.dims.len() != 1) {
        return Err(format!(
            "concatenates tensors that are not vectors: {SHAPES_ONLY}"
        ));
    }
    let mut ints = Vec::new();
    let mut floats = Vec::new();
    for part in parts {
        match &part.data {
            Data::Int(values) => ints.extend_from_slice(values),
            Data::Float(values) => floats.extend_from_slice(values),
        }
    }
    match (ints.is_empty(), floats.is_empty()) {
        (_, true) => Ok(Const::ints(ints)),
        (true, false) => Ok(Const {
            dims: vec![floats.len()],
            data: Data::Float(floats),
        }),
        (false, false) => Err("concatenates integers and floats".to_owned()),
    }
}

fn cast(node: &Node, data: &Const) -> Result<Const, String> {
    let to = i32::try_from(int(node, "to", 0)).unwrap_or(0);
    let dims = data.dims.clone();
    match (to, &data.data) {
        (data_type::INT32 | data_type::INT64, Data::Int(_))
        | (data_type::FLOAT | data_type::DOUBLE, Data::Float(_)) => Ok(data.clone()),
        (data_type::INT32 | data_type::INT64, Data::Float(values)) => Ok(Const {
            dims,
            // ONNX's cast to an integer truncates, as `as` does.
            #[allow(clippy::cast_possible_truncation)]
            data: Data::Int(values.iter().map(|&v| Int::Known(v as i64)).collect()),
        }),
        (data_type::FLOAT | data_type::DOUBLE, Data::Int(_)) => {
            let values = data.known_ints().ok_or("casts the batch size to a float")?;
            Ok(Const {
                dims,
                data: Data::Float(values.iter().map(|&v| v as f64).collect()),
            })
        }
        (other, _) => Err(format!("casts to {}", constant::type_name(other))),
    }
}

fn slice(node: &Node, inputs: &[Option<Const>], opset: i64) -> Result<Const, String> {
    let data = inputs
        .first()
        .and_then(Option::as_ref)
        .ok_or("expected input 0")?;
    if data.dims.len() != 1 {
        return Err(format!(
            "slices a tensor that is not a vector: {SHAPES_ONLY}"
        ));
    }
    let (starts, ends, axes, steps) = if opset >= 10 {
        let bounds = |i: usize| -> Result<Option<Vec<i64>>, String> {
            inputs
                .get(i)
                .and_then(Option::as_ref)
                .map(|c| {
                    c.known_ints()
                        .ok_or_else(|| "slice bounds are not integers".to_owned())
                })
                .transpose()
        };
        (
            bounds(1)?.unwrap_or_default(),
            bounds(2)?.unwrap_or_default(),
            bounds(3)?,
            bounds(4)?,
        )
    } else {
        (
            ints(node, "starts").unwrap_or_default(),
            ints(node, "ends").unwrap_or_default(),
            ints(node, "axes"),
            None,
        )
    };
    let ([start], [end]) = (starts.as_slice(), ends.as_slice()) else {
        return Err("slices along more than one axis".to_owned());
    };
    if axes.is_some_and(|a| a.iter().any(|&a| a != 0 && a != -1)) {
        return Err("slices along another axis than the first".to_owned());
    }
    let step = steps.and_then(|s| s.first().copied()).unwrap_or(1);
    if step != 1 {
        return Err(format!("slices with step {step}: {SHAPES_ONLY}"));
    }
    let len = signed(data.len());
    let clamp = |v: i64| {
        let v = if v < 0 { v.saturating_add(len) } else { v };
        usize::try_from(v.clamp(0, len)).unwrap_or(0)
    };
    let range = clamp(*start)..clamp(*end).max(clamp(*start));
    let data = match &data.data {
        Data::Int(values) => Data::Int(values[range.clone()].to_vec()),
        Data::Float(values) => Data::Float(values[range.clone()].to_vec()),
    };
    Ok(Const {
        dims: vec![range.len()],
        data,
    })
}

/// A constant's sizes reshaped to `target` (with ONNX's `0` for "as before" and one `-1`).
fn reshape(dims: &[usize], target: &[i64]) -> Result<Vec<usize>, String> {
    let elements: usize = dims.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &size) in target.iter().enumerate() {
        match size {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 => out.push(
                *dims
                    .get(i)
                    .ok_or("copies a size the tensor does not have")?,
            ),
            size => {
                out.push(
                    usize::try_from(size).map_err(|_| format!("reshapes to a size of {size}"))?,
                );
            }
        }
    }
    let known = out.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let fits = match (infer, known) {
        (Some(i), Some(known)) if known > 0 && elements.is_multiple_of(known) => {
            out[i] = elements / known;
            true
        }
        (None, Some(known)) => known == elements,
        _ => false,
    };
    if fits {
        Ok(out)
    } else {
        Err(format!("reshapes {elements} values to {target:?}"))
    }
}

/// `Mul`, `Add`, `Sub`, `Div` on constants: same shapes, or one a single value.
fn elementwise(op: &str, left: &Const, right: &Const) -> Result<Const, String> {
    let (one_left, one_right) = (left.len() == 1, right.len() == 1);
    if !one_left && !one_right && left.dims != right.dims {
        return Err(format!(
            "broadcasts {:?} with {:?}: {SHAPES_ONLY}",
            left.dims, right.dims
        ));
    }
    let dims = if one_left && !one_right {
        right.dims.clone()
    } else {
        left.dims.clone()
    };
    // A single value meets every value of the other side, none if it is empty.
    let count = if one_left { right.len() } else { left.len() };
    let pick = |one: bool, i: usize| if one { 0 } else { i };
    let data = match (&left.data, &right.data) {
        (Data::Float(xs), Data::Float(ys)) => Data::Float(
            (0..count)
                .map(|i| {
                    let (x, y) = (xs[pick(one_left, i)], ys[pick(one_right, i)]);
                    match op {
                        "Mul" => x * y,
                        "Add" => x + y,
                        "Sub" => x - y,
                        _ => x / y,
                    }
                })
                .collect(),
        ),
        (Data::Int(_), Data::Int(_)) => {
            let (Some(xs), Some(ys)) = (left.known_ints(), right.known_ints()) else {
                return Err(
                    "computes with the batch size: only a reshape that keeps it can be imported"
                        .to_owned(),
                );
            };
            let values = (0..count)
                .map(|i| {
                    let (x, y) = (xs[pick(one_left, i)], ys[pick(one_right, i)]);
                    let value = match op {
                        "Mul" => x.checked_mul(y),
                        "Add" => x.checked_add(y),
                        "Sub" => x.checked_sub(y),
                        _ => x.checked_div(y),
                    };
                    value.map(Int::Known)
                })
                .collect::<Option<_>>()
                .ok_or("overflows or divides by zero")?;
            Data::Int(values)
        }
        _ => return Err("mixes integers and floats".to_owned()),
    };
    Ok(Const { dims, data })
}

/// A float matrix transposed (weights some exporters store the other way round).
fn transpose(node: &Node, data: &Const) -> Result<Const, String> {
    let perm = ints(node, "perm").unwrap_or_else(|| vec![1, 0]);
    let (Data::Float(values), [rows, columns], [1, 0]) =
        (&data.data, data.dims.as_slice(), perm.as_slice())
    else {
        return Err("transposes a constant other than a float matrix".to_owned());
    };
    let mut out = Vec::with_capacity(values.len());
    for column in 0..*columns {
        for row in 0..*rows {
            out.push(values[row * columns + column]);
        }
    }
    Ok(Const {
        dims: vec![*columns, *rows],
        data: Data::Float(out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str) -> Node {
        Node {
            op_type: op.to_owned(),
            ..Node::default()
        }
    }

    fn known(values: &[i64]) -> Const {
        Const::ints(values.iter().map(|&v| Int::Known(v)).collect())
    }

    #[test]
    fn the_view_chain_keeps_the_batch_symbolic() {
        // `x.view(x.size(0), -1)` on [batch, 6, 2, 2]: Shape, Gather(0), Unsqueeze, Concat.
        let sizes = shape(
            &node("Shape"),
            vec![Int::Batch, Int::Known(6), Int::Known(2)],
            13,
        );
        let index = Const {
            dims: Vec::new(),
            data: Data::Int(vec![Int::Known(0)]),
        };
        let batch = gather(&node("Gather"), &sizes, &index).unwrap();
        assert_eq!(batch.dims, Vec::<usize>::new());
        let batch = Const {
            dims: unsqueeze(&batch.dims, &[0]).unwrap(),
            data: batch.data,
        };
        let target = concat(&[&batch, &known(&[-1])]).unwrap();
        assert_eq!(target.data, Data::Int(vec![Int::Batch, Int::Known(-1)]));
        // Arithmetic on the batch size is refused, not guessed.
        let error = elementwise("Mul", &target, &known(&[2])).unwrap_err();
        assert!(error.contains("batch size"), "{error}");
    }

    #[test]
    fn reshape_infers_one_size_and_copies_zeros() {
        assert_eq!(reshape(&[2, 3, 4], &[0, -1]).unwrap(), [2, 12]);
        assert_eq!(reshape(&[2, 3, 4], &[24]).unwrap(), [24]);
        assert!(reshape(&[2, 3, 4], &[5, -1]).is_err());
        assert!(reshape(&[2, 3, 4], &[-1, -1]).is_err());
        assert!(reshape(&[2, 3], &[i64::MAX, i64::MAX]).is_err());
    }

    #[test]
    fn slices_gathers_and_squeezes_check_their_bounds() {
        let sizes = known(&[1, 2, 3, 4]);
        let mut last = node("Slice");
        last.attribute = Vec::new();
        let inputs = [
            Some(sizes.clone()),
            Some(known(&[-2])),
            Some(known(&[i64::MAX])),
        ];
        let tail = slice(&last, &inputs, 13).unwrap();
        assert_eq!(tail.known_ints().unwrap(), [3, 4]);
        assert!(gather(&node("Gather"), &sizes, &known(&[4])).is_err());
        assert_eq!(
            gather(&node("Gather"), &sizes, &known(&[-1]))
                .unwrap()
                .known_ints()
                .unwrap(),
            [4]
        );
        assert_eq!(squeeze(&[1, 3, 1], &[]).unwrap(), [3]);
        assert_eq!(squeeze(&[1, 3, 1], &[-1]).unwrap(), [1, 3]);
        assert!(squeeze(&[1, 3], &[2]).is_err());
        assert!(squeeze(&[1, 3], &[1]).is_err());
        assert_eq!(unsqueeze(&[3], &[0, -1]).unwrap(), [1, 3, 1]);
        assert!(unsqueeze(&[3], &[5]).is_err());
    }

    #[test]
    fn a_single_value_against_an_empty_tensor_makes_an_empty_tensor() {
        let empty = Const {
            dims: vec![0],
            data: Data::Float(Vec::new()),
        };
        let one = Const {
            dims: Vec::new(),
            data: Data::Float(vec![2.0]),
        };
        for (left, right) in [(&one, &empty), (&empty, &one)] {
            let product = elementwise("Mul", left, right).unwrap();
            assert_eq!((product.len(), product.dims), (0, vec![0]));
        }
        let both = elementwise("Add", &one, &one).unwrap();
        assert_eq!(both.floats().unwrap(), [4.0]);
    }

    #[test]
    fn transpose_and_cast() {
        let matrix = Const {
            dims: vec![2, 3],
            data: Data::Float(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        };
        let turned = transpose(&node("Transpose"), &matrix).unwrap();
        assert_eq!(turned.dims, [3, 2]);
        assert_eq!(turned.floats().unwrap(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let mut to_float = node("Cast");
        to_float.attribute.push(crate::proto::Attribute {
            name: "to".to_owned(),
            i: i64::from(data_type::FLOAT),
            ..Default::default()
        });
        assert_eq!(
            cast(&to_float, &known(&[3])).unwrap().floats().unwrap(),
            [3.0]
        );
        assert!(cast(&to_float, &Const::ints(vec![Int::Batch])).is_err());
    }
}
