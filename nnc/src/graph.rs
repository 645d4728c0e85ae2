//! `nnc graph`: pictures of networks, as SVG (drawn here) or Graphviz dot.
//!
//! The SVG shows one column of neurons per layer, the input first. Each neuron carries a small
//! plot of its activation; a layer wider than [`MAX_FULL`] neurons shows its first and last
//! ones around an ellipsis; edges join only the neurons shown, lightly, so that the picture
//! stays readable at any width.

use crate::summary::{activation as describe, grouped};
use nn_grammar::{Activation, Network, Shape};
use std::fmt::Write as _;

/// Widest layer drawn in full.
const MAX_FULL: usize = 10;
/// Rows of a collapsed column, the ellipsis included.
const COLLAPSED: usize = 8;
/// Neurons shown before the ellipsis of a wide layer (the rest of the slots come after it).
const HEAD: usize = 4;
/// Edges drawn from each neuron shown (about).
const EDGES_PER_NEURON: usize = 4;
/// Horizontal distance between columns.
const COLUMN_GAP: f64 = 150.0;
/// Vertical distance between neurons.
const PITCH: f64 = 38.0;
/// Radius of a neuron.
const RADIUS: f64 = 14.0;
/// Space left and right of the outer columns.
const MARGIN: f64 = 80.0;
/// Title lines above the columns.
const TITLE: f64 = 64.0;
/// Layer name above a column.
const HEADER: f64 = 30.0;
/// Width and activation below a column.
const FOOTER: f64 = 56.0;
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// One row of a column.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    /// Neuron number `i`.
    Neuron(usize),
    /// Stands for `hidden` neurons not drawn.
    Ellipsis { hidden: usize },
}

/// The rows of a column of `width` neurons.
fn slots(width: usize) -> Vec<Slot> {
    if width <= MAX_FULL {
        return (0..width).map(Slot::Neuron).collect();
    }
    let tail = COLLAPSED - HEAD - 1;
    let mut slots: Vec<Slot> = (0..HEAD).map(Slot::Neuron).collect();
    slots.push(Slot::Ellipsis {
        hidden: width - HEAD - tail,
    });
    slots.extend((width - tail..width).map(Slot::Neuron));
    slots
}

/// One column: the input (no activation) or a layer.
struct Column<'a> {
    name: &'a str,
    width: usize,
    activation: Option<Activation>,
}

fn columns(net: &Network) -> Vec<Column<'_>> {
    let input = Column {
        name: "input",
        width: net.input.elements(),
        activation: None,
    };
    std::iter::once(input)
        .chain(net.layers.iter().map(|l| Column {
            name: &l.name,
            width: l.output.elements(),
            activation: Some(l.activation),
        }))
        .collect()
}

/// `784 -> 128 relu -> 10 softmax`
fn chain(net: &Network) -> String {
    let mut text = written(net.input);
    for layer in &net.layers {
        let _ = write!(text, " \u{2192} {}", written(layer.output));
        if layer.activation != Activation::Linear {
            let _ = write!(text, " {}", describe(layer.activation));
        }
    }
    text
}

/// A vector's shape as the language writes it (`784`), a higher rank as its sizes.
fn written(shape: Shape) -> String {
    shape
        .width()
        .map_or_else(|| shape.to_string(), |width| width.to_string())
}

/// `1 neuron`, `1,024 neurons`.
fn count(n: usize, noun: &str) -> String {
    format!("{} {noun}{}", grouped(n), if n == 1 { "" } else { "s" })
}

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every network as one SVG document, one below the other.
pub fn svg(networks: &[Network]) -> String {
    let heights: Vec<f64> = networks
        .iter()
        .map(|net| {
            let rows = columns(net)
                .iter()
                .map(|c| slots(c.width).len())
                .max()
                .unwrap_or(1);
            TITLE + HEADER + rows as f64 * PITCH + FOOTER
        })
        .collect();
    let width = networks
        .iter()
        .map(|net| 2.0 * MARGIN + net.layers.len() as f64 * COLUMN_GAP)
        .fold(2.0 * MARGIN, f64::max);
    let height = heights.iter().sum::<f64>().max(1.0);
    let names: Vec<&str> = networks.iter().map(|n| n.name.as_str()).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&names.join(", ")));
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let mut top = 0.0;
    for (index, (net, net_height)) in networks.iter().zip(&heights).enumerate() {
        network(&mut out, net, index, top);
        top += net_height;
    }
    out.push_str("</svg>\n");
    out
}

/// Where the rows of each column are drawn.
struct Layout {
    /// The rows of each column, input first.
    slots: Vec<Vec<Slot>>,
    /// Rows of the tallest column.
    rows: usize,
    /// Top of the first row.
    top: f64,
}

impl Layout {
    fn new(columns: &[Column<'_>], top: f64) -> Self {
        let slots: Vec<Vec<Slot>> = columns.iter().map(|c| slots(c.width)).collect();
        let rows = slots.iter().map(Vec::len).max().unwrap_or(1);
        Self { slots, rows, top }
    }

    /// Centre of column `column`.
    fn x(column: usize) -> f64 {
        MARGIN + column as f64 * COLUMN_GAP
    }

    /// Centre of row `row` of column `column`, each column centred on the tallest one.
    fn y(&self, column: usize, row: usize) -> f64 {
        let offset = (self.rows - self.slots[column].len()) as f64 / 2.0;
        self.top + (offset + row as f64 + 0.5) * PITCH
    }

    /// Below the last row.
    fn bottom(&self) -> f64 {
        self.top + self.rows as f64 * PITCH
    }
}

/// One network's group: title, edges, then one group per column.
fn network(out: &mut String, net: &Network, index: usize, top: f64) {
    let columns = columns(net);
    let layout = Layout::new(&columns, top + TITLE + HEADER);
    let _ = writeln!(
        out,
        r#"<g class="network" id="n{index}" data-name="{}">"#,
        escape(&net.name)
    );
    let _ = writeln!(
        out,
        r##"<text x="20" y="{}" font-size="16" font-weight="bold" fill="#222222">{}: {}</text>"##,
        top + 26.0,
        escape(&net.name),
        escape(&chain(net)),
    );
    let _ = writeln!(
        out,
        r##"<text x="20" y="{}" font-size="12" fill="#555555">{}, {}, {}</text>"##,
        top + 46.0,
        count(net.parameters(), "parameter"),
        count(net.multiply_adds(), "multiply-add"),
        net.scalar.name()
    );
    // Edges first, so that neurons are drawn over them.
    edges(out, &layout);
    for (number, layer) in columns.iter().enumerate() {
        column(out, &layout, (index, number), layer);
    }
    out.push_str("</g>\n");
}

/// Edges between the neurons shown of consecutive columns.
fn edges(out: &mut String, layout: &Layout) {
    out.push_str(r##"<g class="edges" stroke="#8a94a6" stroke-width="0.8" stroke-opacity="0.6">"##);
    out.push('\n');
    for column in 1..layout.slots.len() {
        let targets = layout.slots[column].len();
        // Every edge of a dense layer would be a grey wall: each neuron shown gets about
        // `EDGES_PER_NEURON` edges, spread evenly, and every neuron of the next column some.
        let stride = targets.div_ceil(EDGES_PER_NEURON).max(1);
        for (from_row, from) in layout.slots[column - 1].iter().enumerate() {
            for (to_row, to) in layout.slots[column].iter().enumerate() {
                if (from_row + to_row) % stride == 0
                    && matches!(from, Slot::Neuron(_))
                    && matches!(to, Slot::Neuron(_))
                {
                    let _ = writeln!(
                        out,
                        r#"<line x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
                        Layout::x(column - 1) + RADIUS,
                        layout.y(column - 1, from_row),
                        Layout::x(column) - RADIUS,
                        layout.y(column, to_row)
                    );
                }
            }
        }
    }
    out.push_str("</g>\n");
}

/// One column's group: its name, its neurons (or ellipsis), its width and activation.
fn column(
    out: &mut String,
    layout: &Layout,
    (network, number): (usize, usize),
    layer: &Column<'_>,
) {
    let cx = Layout::x(number);
    let activation = layer.activation.map_or_else(String::new, describe);
    let _ = writeln!(
        out,
        r#"<g class="layer" id="n{network}-l{number}" data-name="{}" data-width="{}" data-activation="{}">"#,
        escape(layer.name),
        layer.width,
        escape(&activation)
    );
    let _ = writeln!(
        out,
        "<title>{}: {}</title>",
        escape(layer.name),
        if layer.activation.is_some() {
            format!("{}, {}", count(layer.width, "neuron"), escape(&activation))
        } else {
            count(layer.width, "input")
        }
    );
    let _ = writeln!(
        out,
        r##"<text x="{cx}" y="{}" font-size="13" font-weight="bold" text-anchor="middle" fill="#222222">{}</text>"##,
        layout.top - 12.0,
        escape(layer.name)
    );
    for (row, slot) in layout.slots[number].iter().enumerate() {
        let cy = layout.y(number, row);
        match slot {
            Slot::Neuron(_) => neuron(out, cx, cy, layer.activation),
            Slot::Ellipsis { hidden } => {
                let _ = write!(
                    out,
                    r##"<g class="ellipsis" fill="#555555"><title>{hidden} more</title>"##
                );
                for dy in [-8.0, 0.0, 8.0] {
                    let _ = write!(out, r#"<circle cx="{cx}" cy="{}" r="2.2"/>"#, cy + dy);
                }
                out.push_str("</g>\n");
            }
        }
    }
    let (first, second) = match layer.activation {
        None => (count(layer.width, "input"), String::new()),
        Some(_) => (count(layer.width, "neuron"), activation),
    };
    for (line, text) in [first, second].iter().enumerate() {
        if !text.is_empty() {
            let _ = writeln!(
                out,
                r##"<text x="{cx}" y="{}" font-size="12" text-anchor="middle" fill="#333333">{}</text>"##,
                layout.bottom() + 20.0 + line as f64 * 16.0,
                escape(text)
            );
        }
    }
    out.push_str("</g>\n");
}

/// A neuron: a circle coloured by activation family, with a plot of the activation inside.
fn neuron(out: &mut String, cx: f64, cy: f64, activation: Option<Activation>) {
    let fill = match activation {
        None => "#eceff3",
        Some(Activation::Linear) => "#e4e4e4",
        Some(Activation::Sigmoid | Activation::Tanh) => "#d6efd0",
        Some(Activation::Softmax | Activation::LogSoftmax) => "#fadcc2",
        Some(_) => "#cfe2f7",
    };
    let _ = write!(
        out,
        r##"<circle class="neuron" cx="{cx}" cy="{cy}" r="{RADIUS}" fill="{fill}" stroke="#3b4252" stroke-width="1.2"/>"##
    );
    if let Some(activation) = activation {
        let _ = write!(
            out,
            r##"<path d="{}" fill="none" stroke="#1f2d3d" stroke-width="1.3" stroke-linecap="round" stroke-linejoin="round"/>"##,
            plot(activation, cx, cy)
        );
    }
    out.push('\n');
}

/// The activation of one neuron as a function of its own input, for a glyph.
fn function(activation: Activation, x: f64) -> f64 {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let softplus = |x: f64| x.exp().ln_1p();
    match activation {
        Activation::Linear => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu { alpha } => {
            if x > 0.0 {
                x
            } else {
                alpha * x
            }
        }
        Activation::Elu { alpha } => {
            if x > 0.0 {
                x
            } else {
                alpha * x.exp_m1()
            }
        }
        // With the other inputs fixed, softmax is a sigmoid of its own input.
        Activation::Sigmoid | Activation::Softmax => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::Silu => x * sigmoid(x),
        // The tanh approximation is indistinguishable at glyph size.
        Activation::Gelu => {
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044_715 * x.powi(3))).tanh())
        }
        Activation::Softplus => softplus(x),
        // `x - ln(e^x + c)`, with the other inputs fixed.
        Activation::LogSoftmax => -softplus(-x),
    }
}

/// An SVG path plotting `activation` over `[-3, 3]`, scaled into the neuron's circle.
fn plot(activation: Activation, cx: f64, cy: f64) -> String {
    const SAMPLES: usize = 25;
    let points: Vec<(f64, f64)> = (0..SAMPLES)
        .map(|i| {
            let x = -3.0 + 6.0 * i as f64 / (SAMPLES - 1) as f64;
            (x, function(activation, x))
        })
        .collect();
    let (low, high) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| {
            (lo.min(y), hi.max(y))
        });
    let span = (high - low).max(1e-9);
    let half = RADIUS * 0.55;
    let mut d = String::new();
    for (i, (x, value)) in points.iter().enumerate() {
        let px = cx + x / 3.0 * half;
        let py = cy + half - (value - low) / span * 2.0 * half;
        let _ = write!(d, "{}{px:.2},{py:.2}", if i == 0 { "M" } else { " L" });
    }
    d
}

/// Graphviz source: one node per layer, one cluster per network.
pub fn dot(networks: &[Network]) -> String {
    let mut out = String::from("digraph nn {\n");
    out.push_str("    rankdir=LR;\n");
    let _ = writeln!(
        out,
        r#"    node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=11];"#
    );
    let _ = writeln!(out, r#"    edge [fontname="{FONT}", fontsize=9];"#);
    for (index, net) in networks.iter().enumerate() {
        let _ = writeln!(out, "    subgraph cluster_{index} {{");
        let _ = writeln!(
            out,
            r#"        label="{}: {}";"#,
            dot_escape(&net.name),
            dot_escape(&chain(net))
        );
        for (column, layer) in columns(net).iter().enumerate() {
            let (detail, fill) = match layer.activation {
                None => (count(layer.width, "input"), "#eceff3"),
                Some(a) => (
                    format!("{}\\n{}", count(layer.width, "neuron"), describe(a)),
                    match a {
                        Activation::Linear => "#e4e4e4",
                        Activation::Sigmoid | Activation::Tanh => "#d6efd0",
                        Activation::Softmax | Activation::LogSoftmax => "#fadcc2",
                        _ => "#cfe2f7",
                    },
                ),
            };
            let _ = writeln!(
                out,
                r#"        n{index}_l{column} [label="{}\n{detail}", fillcolor="{fill}"];"#,
                dot_escape(layer.name)
            );
        }
        for (column, layer) in net.layers.iter().enumerate() {
            let _ = writeln!(
                out,
                r#"        n{index}_l{column} -> n{index}_l{} [label="{}"];"#,
                column + 1,
                count(layer.multiply_adds(), "weight")
            );
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}

/// Escapes text for a quoted dot string.
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
