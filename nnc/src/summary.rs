//! `nnc summary`: one table per network.

use nn_grammar::{Activation, Network, Scalar, Unroll};
use std::fmt::Write as _;

/// Layers, output shapes, parameters, multiply-adds and weight memory, with a total row.
pub fn table(net: &Network) -> String {
    let size = match net.scalar {
        Scalar::F32 => 4,
        Scalar::F64 => 8,
    };
    let unroll = match net.unroll {
        Unroll::Loops => "loops",
        Unroll::Full => "full",
    };
    // A network of dense layers only has no kind column: each layer is its width.
    let kinds = net
        .layers
        .iter()
        .any(|l| l.kind != nn_grammar::LayerKind::Dense);
    let row = |name: String, kind: String, rest: [String; 5]| -> Vec<String> {
        let mut row = vec![name];
        if kinds {
            row.push(kind);
        }
        row.extend(rest);
        row
    };
    let mut rows = vec![
        row(
            "layer".to_owned(),
            "kind".to_owned(),
            [
                "activation",
                "output",
                "parameters",
                "multiply-adds",
                "memory",
            ]
            .map(String::from),
        ),
        row(
            "input".to_owned(),
            String::new(),
            [
                String::new(),
                net.input.to_string(),
                String::new(),
                String::new(),
                String::new(),
            ],
        ),
    ];
    for layer in &net.layers {
        rows.push(row(
            layer.name.clone(),
            layer.kind_text(),
            [
                activation(layer.activation),
                layer.output.to_string(),
                grouped(layer.parameters()),
                grouped(layer.multiply_adds()),
                bytes(layer.parameters() * size),
            ],
        ));
    }
    let total = row(
        "total".to_owned(),
        String::new(),
        [
            String::new(),
            String::new(),
            grouped(net.parameters()),
            grouped(net.multiply_adds()),
            bytes(net.parameters() * size),
        ],
    );
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    // A vector as its width, as the language writes it; a shape as PyTorch prints it.
    let described = |shape: nn_grammar::Shape, noun: &str| match shape.width() {
        Some(width) => plural(width, noun),
        None => format!("{noun} {shape} ({})", plural(shape.elements(), "value")),
    };
    let mut out = format!(
        "{} ({}, unroll = {unroll}): {}, {}\n",
        net.name,
        net.scalar.name(),
        described(net.input, "input"),
        described(net.output(), "output")
    );
    out.push_str(&aligned(&rows, &total));
    if net.is_sequence() {
        let state = net.state_values();
        let _ = writeln!(
            out,
            "a sequence network: input, output and multiply-adds are one time step's; a stream's state holds {} ({})",
            plural(state, "value"),
            bytes(state * size)
        );
    }
    out
}

/// The rows as a table: the header, a rule, the rows, a rule and the total; names and words to
/// the left, the last three columns (numbers) to the right.
fn aligned(rows: &[Vec<String>], total: &[String]) -> String {
    let columns = total.len();
    let mut widths = vec![0; columns];
    for row in rows.iter().map(Vec::as_slice).chain([total]) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut text = String::new();
        for (column, (cell, width)) in row.iter().zip(&widths).enumerate() {
            let width = *width;
            if column > 0 {
                text.push_str("  ");
            }
            if column + 3 < columns {
                let _ = write!(text, "{cell:<width$}");
            } else {
                let _ = write!(text, "{cell:>width$}");
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    let rule = "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)) + "\n";
    let mut out = line(&rows[0]);
    out.push_str(&rule);
    for row in &rows[1..] {
        out.push_str(&line(row));
    }
    out.push_str(&rule);
    out.push_str(&line(total));
    out
}

/// `relu`, `leaky_relu(0.1)`: as the language writes it.
pub fn activation(activation: Activation) -> String {
    match activation {
        Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => {
            format!("{}({alpha})", activation.name())
        }
        _ => activation.name().to_owned(),
    }
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A byte count in B, KiB, MiB or GiB.
fn bytes(n: usize) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
