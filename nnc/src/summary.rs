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
    let mut rows = vec![
        [
            "layer",
            "activation",
            "output",
            "parameters",
            "multiply-adds",
            "memory",
        ]
        .map(String::from),
        [
            "input".to_owned(),
            String::new(),
            net.input.to_string(),
            String::new(),
            String::new(),
            String::new(),
        ],
    ];
    for layer in &net.layers {
        // Dense layers by name alone, as before other kinds existed; the others with their kind.
        let name = match layer.kind {
            nn_grammar::LayerKind::Dense => layer.name.clone(),
            kind => format!("{} ({})", layer.name, kind.name()),
        };
        rows.push([
            name,
            activation(layer.activation),
            layer.output.to_string(),
            grouped(layer.parameters()),
            grouped(layer.multiply_adds()),
            bytes(layer.parameters() * size),
        ]);
    }
    let total = [
        "total".to_owned(),
        String::new(),
        String::new(),
        grouped(net.parameters()),
        grouped(net.multiply_adds()),
        bytes(net.parameters() * size),
    ];
    let mut widths = [0; 6];
    for row in rows.iter().chain([&total]) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 6]| {
        let mut text = String::new();
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            if column > 0 {
                text.push_str("  ");
            }
            // Names and words to the left, numbers to the right.
            if column < 3 {
                let _ = write!(text, "{cell:<width$}");
            } else {
                let _ = write!(text, "{cell:>width$}");
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    let rule = "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)) + "\n";
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut out = format!(
        "{} ({}, unroll = {unroll}): {}, {}\n",
        net.name,
        net.scalar.name(),
        plural(net.input.elements(), "input"),
        plural(net.output().elements(), "output")
    );
    out.push_str(&line(&rows[0]));
    out.push_str(&rule);
    for row in &rows[1..] {
        out.push_str(&line(row));
    }
    out.push_str(&rule);
    out.push_str(&line(&total));
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
