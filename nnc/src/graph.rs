//! `nnc graph`: pictures of networks, as SVG (drawn here) or Graphviz dot.
//!
//! The SVG shows one column per layer, the input first. A vector is a column of neurons, each
//! carrying a small plot of its activation; a vector wider than [`MAX_FULL`] shows its first
//! and last neurons around an ellipsis, and edges join only the neurons shown, lightly, so that
//! the picture stays readable at any width. A feature map (a shape of rank 2 or 3) is a stack
//! of planes, one per channel up to [`MAX_PLANES`], each as tall and wide as the map (a 1-D
//! map is a bar as long as its length); a convolution or a pool draws its window on the front
//! plane of its input, joined to the one value of its output that the window makes, as
//! LeNet's paper draws it.

use crate::summary::{activation as describe, grouped};
use nn_grammar::{Activation, LayerKind, Network, Shape};
use std::fmt::Write as _;

/// Widest layer drawn in full.
const MAX_FULL: usize = 10;
/// Rows of a collapsed column, the ellipsis included.
const COLLAPSED: usize = 8;
/// Neurons shown before the ellipsis of a wide layer (the rest of the slots come after it).
const HEAD: usize = 4;
/// Edges drawn from each neuron shown (about).
const EDGES_PER_NEURON: usize = 4;
/// Horizontal distance between columns of a network of vectors only.
const COLUMN_GAP: f64 = 150.0;
/// Horizontal distance between columns of a network with feature maps, which are wider.
const MAP_COLUMN_GAP: f64 = 175.0;
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
/// Lines of text below a column.
const FOOTER: f64 = 72.0;
/// Most planes drawn for a feature map (one per channel).
const MAX_PLANES: usize = 8;
/// How far each plane of a stack sits up and to the right of the one before it.
const PLANE_OFFSET: f64 = 6.0;
/// Pixels per value along a side of a feature map, less when a network's longest side would
/// exceed [`MAX_SIDE`]: one scale per network, so that a pool that halves a map halves its
/// picture.
const CELL: f64 = 3.2;
/// Shortest side of a plane.
const MIN_SIDE: f64 = 14.0;
/// Longest side of a plane.
const MAX_SIDE: f64 = 96.0;
/// Width of a 1-D map's bar.
const BAR: f64 = 12.0;
/// Smallest side of a window or of the value it makes.
const MIN_WINDOW: f64 = 3.0;
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// One row of a column of neurons.
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

/// One column: the input (no kind, no activation) or a layer.
struct Column<'a> {
    name: &'a str,
    shape: Shape,
    kind: Option<LayerKind>,
    /// The kind as the language writes it, with `bias = false` (`Layer::kind_text`).
    kind_text: String,
    activation: Option<Activation>,
}

fn columns(net: &Network) -> Vec<Column<'_>> {
    let input = Column {
        name: "input",
        shape: net.input,
        kind: None,
        kind_text: String::new(),
        activation: None,
    };
    std::iter::once(input)
        .chain(net.layers.iter().map(|l| Column {
            name: &l.name,
            shape: l.output,
            kind: Some(l.kind),
            kind_text: l.kind_text(),
            activation: Some(l.activation),
        }))
        .collect()
}

/// How a column is drawn.
enum Body {
    /// A vector: a column of neurons.
    Neurons(Vec<Slot>),
    /// A feature map: `planes` planes of `width` by `height` pixels, each [`PLANE_OFFSET`] up
    /// and to the right of the one in front of it.
    Planes {
        planes: usize,
        width: f64,
        height: f64,
        /// Pixels per value across and down the map.
        scale: [f64; 2],
    },
}

impl Body {
    /// How `shape` is drawn at `cell` pixels per value of a map's side.
    fn new(shape: Shape, cell: f64) -> Self {
        let side = |values: usize| (values as f64 * cell).max(MIN_SIDE);
        let planes = |channels: usize| channels.clamp(1, MAX_PLANES);
        match *shape.dims() {
            [channels, length] => Self::Planes {
                planes: planes(channels),
                width: BAR,
                height: side(length),
                scale: [BAR, side(length) / length as f64],
            },
            [channels, height, width] => Self::Planes {
                planes: planes(channels),
                width: side(width),
                height: side(height),
                scale: [side(width) / width as f64, side(height) / height as f64],
            },
            _ => Self::Neurons(slots(shape.elements())),
        }
    }

    /// Width and height of the whole drawing.
    fn extent(&self) -> [f64; 2] {
        match self {
            Self::Neurons(slots) => [2.0 * RADIUS, slots.len() as f64 * PITCH],
            Self::Planes {
                planes,
                width,
                height,
                ..
            } => {
                let depth = (*planes - 1) as f64 * PLANE_OFFSET;
                [width + depth, height + depth]
            }
        }
    }
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
    let layouts: Vec<Layout> = networks.iter().map(|net| Layout::new(net, 0.0)).collect();
    let heights: Vec<f64> = layouts
        .iter()
        .map(|layout| TITLE + HEADER + layout.height + FOOTER)
        .collect();
    let width = layouts
        .iter()
        .map(|layout| 2.0 * MARGIN + (layout.bodies.len() - 1) as f64 * layout.gap)
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

/// Where each column is drawn.
struct Layout {
    /// How each column is drawn, input first.
    bodies: Vec<Body>,
    /// Height of the tallest column.
    height: f64,
    /// Top of the tallest column.
    top: f64,
    /// Distance between the centres of columns.
    gap: f64,
}

impl Layout {
    fn new(net: &Network, top: f64) -> Self {
        let columns = columns(net);
        let longest = columns
            .iter()
            .filter(|c| c.shape.rank() > 1)
            .flat_map(|c| c.shape.dims()[1..].to_vec())
            .max()
            .unwrap_or(1);
        let cell = CELL.min(MAX_SIDE / longest as f64);
        let bodies: Vec<Body> = columns.iter().map(|c| Body::new(c.shape, cell)).collect();
        let height = bodies
            .iter()
            .map(|body| body.extent()[1])
            .fold(PITCH, f64::max);
        let gap = if bodies.iter().any(|b| matches!(b, Body::Planes { .. })) {
            MAP_COLUMN_GAP
        } else {
            COLUMN_GAP
        };
        Self {
            bodies,
            height,
            top,
            gap,
        }
    }

    /// Centre of column `column`.
    fn x(&self, column: usize) -> f64 {
        MARGIN + column as f64 * self.gap
    }

    /// Top of column `column`'s drawing, each column centred on the tallest one.
    fn column_top(&self, column: usize) -> f64 {
        self.top + (self.height - self.bodies[column].extent()[1]) / 2.0
    }

    /// Centre of row `row` of a column of neurons.
    fn y(&self, column: usize, row: usize) -> f64 {
        self.column_top(column) + (row as f64 + 0.5) * PITCH
    }

    /// Below the tallest column.
    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    /// The front plane of column `column`'s stack: left, top, width, height.
    fn front(&self, column: usize) -> Option<[f64; 4]> {
        let Body::Planes {
            planes,
            width,
            height,
            ..
        } = self.bodies[column]
        else {
            return None;
        };
        let [extent, _] = self.bodies[column].extent();
        let left = self.x(column) - extent / 2.0;
        let depth = (planes - 1) as f64 * PLANE_OFFSET;
        Some([left, self.column_top(column) + depth, width, height])
    }

    /// A point on the right side of column `column`'s stack, a share `down` of the way from
    /// the back plane's top to the front plane's bottom.
    fn stack_right(&self, column: usize, down: f64) -> Option<[f64; 2]> {
        let [left, front_top, width, height] = self.front(column)?;
        let depth = front_top - self.column_top(column);
        Some([
            left + width + depth * (1.0 - down),
            self.column_top(column) + (height + depth) * down,
        ])
    }
}

/// One network's group: title, edges, then one group per column.
fn network(out: &mut String, net: &Network, index: usize, top: f64) {
    let columns = columns(net);
    let layout = Layout::new(net, top + TITLE + HEADER);
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
    // Edges first, so that neurons and planes are drawn over them.
    edges(out, &layout, &columns);
    for (number, layer) in columns.iter().enumerate() {
        column(out, &layout, (index, number), layer);
    }
    draw_windows(out, &layout, &columns);
    out.push_str("</g>\n");
}

/// An edge.
fn line(out: &mut String, [x1, y1]: [f64; 2], [x2, y2]: [f64; 2]) {
    let _ = writeln!(
        out,
        r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}"/>"#
    );
}

/// The values a layer's window covers, `[across, down]` (a 1-D window runs down its bar), for
/// the kinds that slide one over their input.
fn window(kind: LayerKind) -> Option<[usize; 2]> {
    let span = |kernel: usize, dilation: usize| dilation * (kernel - 1) + 1;
    match kind {
        LayerKind::Conv2d(conv) => Some([
            span(conv.kernel[1], conv.dilation[1]),
            span(conv.kernel[0], conv.dilation[0]),
        ]),
        LayerKind::MaxPool2d(pool) | LayerKind::AvgPool2d(pool) => {
            Some([pool.kernel[1], pool.kernel[0]])
        }
        LayerKind::Conv1d(conv) => Some([1, span(conv.kernel, conv.dilation)]),
        LayerKind::MaxPool1d(pool) | LayerKind::AvgPool1d(pool) => Some([1, pool.kernel]),
        _ => None,
    }
}

/// The lines between consecutive columns: between neurons shown; from a window on a map to
/// the value it makes (the window itself is drawn by [`draw_windows`]); from a map's right side
/// to the neurons a `flatten` or a global pool feeds.
fn edges(out: &mut String, layout: &Layout, columns: &[Column<'_>]) {
    out.push_str(r##"<g class="edges" stroke="#8a94a6" stroke-width="0.8" stroke-opacity="0.6">"##);
    out.push('\n');
    for column in 1..layout.bodies.len() {
        match (&layout.bodies[column - 1], &layout.bodies[column]) {
            (Body::Neurons(sources), Body::Neurons(targets)) => {
                // Every edge of a dense layer would be a grey wall: each neuron shown gets about
                // `EDGES_PER_NEURON` edges, spread evenly, and every neuron of the next column
                // some.
                let stride = targets.len().div_ceil(EDGES_PER_NEURON).max(1);
                for (from_row, from) in sources.iter().enumerate() {
                    for (to_row, to) in targets.iter().enumerate() {
                        if (from_row + to_row) % stride == 0
                            && matches!(from, Slot::Neuron(_))
                            && matches!(to, Slot::Neuron(_))
                        {
                            line(
                                out,
                                [
                                    layout.x(column - 1) + RADIUS,
                                    layout.y(column - 1, from_row),
                                ],
                                [layout.x(column) - RADIUS, layout.y(column, to_row)],
                            );
                        }
                    }
                }
            }
            (Body::Planes { .. }, Body::Planes { .. }) => {
                // A window's lines are drawn over the planes, by `draw_windows`; a kind without
                // one keeps the shape, value by value: join the planes' corners.
                if windows(layout, columns, column).is_none()
                    && let (Some([sx, sy, sw, sh]), Some([tx, ty, _, th])) =
                        (layout.front(column - 1), layout.front(column))
                {
                    line(out, [sx + sw, sy], [tx, ty]);
                    line(out, [sx + sw, sy + sh], [tx, ty + th]);
                }
            }
            (Body::Planes { .. }, Body::Neurons(targets)) => {
                for (row, to) in targets.iter().enumerate() {
                    if matches!(to, Slot::Neuron(_)) {
                        let down = (row as f64 + 0.5) / targets.len() as f64;
                        if let Some(from) = layout.stack_right(column - 1, down) {
                            line(
                                out,
                                from,
                                [layout.x(column) - RADIUS, layout.y(column, row)],
                            );
                        }
                    }
                }
            }
            // No kind turns a vector into a map.
            (Body::Neurons(_), Body::Planes { .. }) => {}
        }
    }
    out.push_str("</g>\n");
}

/// The window on the front plane of column `column - 1` and the value it makes on column
/// `column`'s, both at the same share of their planes, when `column`'s kind slides a window
/// over a map.
fn windows(layout: &Layout, columns: &[Column<'_>], column: usize) -> Option<[[f64; 4]; 2]> {
    let values = columns[column].kind.and_then(window)?;
    let (Body::Planes { scale: from, .. }, Body::Planes { scale: to, .. }) =
        (&layout.bodies[column - 1], &layout.bodies[column])
    else {
        return None;
    };
    Some([
        window_rect(layout.front(column - 1)?, *from, values),
        window_rect(layout.front(column)?, *to, [1, 1]),
    ])
}

/// Windows, the values they make and the lines between them, over the planes they lie on:
/// drawn after the columns.
fn draw_windows(out: &mut String, layout: &Layout, columns: &[Column<'_>]) {
    for column in 1..columns.len() {
        if let Some([from, to]) = windows(layout, columns, column) {
            out.push_str(r##"<g class="projection" stroke="#9a6b00" stroke-width="0.8">"##);
            out.push('\n');
            for dy in [0.0, 1.0] {
                line(
                    out,
                    [from[0] + from[2], from[1] + dy * from[3]],
                    [to[0], to[1] + dy * to[3]],
                );
            }
            out.push_str("</g>\n");
            for ([x, y, w, h], fill) in [(from, "#fce8a6"), (to, "#9a6b00")] {
                let _ = writeln!(
                    out,
                    r##"<rect class="window" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}" stroke="#9a6b00" stroke-width="1"/>"##
                );
            }
        }
    }
}

/// A window of `values` (`[across, down]`) on a plane (`[left, top, width, height]`) drawn at
/// `scale` pixels per value, placed a little above and left of the centre.
fn window_rect(plane: [f64; 4], scale: [f64; 2], values: [usize; 2]) -> [f64; 4] {
    let [left, top, width, height] = plane;
    let w = (values[0] as f64 * scale[0]).clamp(MIN_WINDOW, width);
    let h = (values[1] as f64 * scale[1]).clamp(MIN_WINDOW, height);
    [left + (width - w) * 0.4, top + (height - h) * 0.4, w, h]
}

/// The fill of a neuron or plane with `activation` (`None`: the input).
fn fill(activation: Option<Activation>) -> &'static str {
    match activation {
        None => "#eceff3",
        Some(Activation::Linear) => "#e4e4e4",
        Some(Activation::Sigmoid | Activation::Tanh) => "#d6efd0",
        Some(Activation::Softmax | Activation::LogSoftmax) => "#fadcc2",
        Some(_) => "#cfe2f7",
    }
}

/// The lines of text below a column: a dense layer's neurons and activation; a map's shape,
/// kind and activation; a vector from another kind, its values and kind.
fn footer(layer: &Column<'_>) -> Vec<String> {
    let activation = layer
        .activation
        .filter(|&a| a != Activation::Linear)
        .map(describe);
    let mut lines = match (layer.kind, layer.shape.width()) {
        (None, Some(width)) => vec![count(width, "input")],
        (None, None) => vec![layer.shape.to_string(), "input".to_owned()],
        (Some(LayerKind::Dense), Some(width)) => {
            // A dense layer's own activation, `linear` included, as before maps existed.
            let linear = layer.activation.map(describe);
            return [Some(count(width, "neuron")), linear]
                .into_iter()
                .flatten()
                .collect();
        }
        (Some(_), Some(width)) => vec![count(width, "value"), layer.kind_text.clone()],
        (Some(_), None) => vec![layer.shape.to_string(), layer.kind_text.clone()],
    };
    lines.extend(activation);
    lines
}

/// One column's group: its name, its neurons (or ellipsis) or planes, and its footer.
fn column(
    out: &mut String,
    layout: &Layout,
    (network, number): (usize, usize),
    layer: &Column<'_>,
) {
    let cx = layout.x(number);
    let activation = layer.activation.map_or_else(String::new, describe);
    let kind = &layer.kind_text;
    let _ = writeln!(
        out,
        r#"<g class="layer" id="n{network}-l{number}" data-name="{}" data-kind="{}" data-shape="{}" data-width="{}" data-activation="{}">"#,
        escape(layer.name),
        escape(kind),
        layer.shape,
        layer.shape.elements(),
        escape(&activation)
    );
    let title = match (layer.kind, layer.shape.width()) {
        (None, Some(width)) => count(width, "input"),
        (None, None) => layer.shape.to_string(),
        (Some(LayerKind::Dense), Some(width)) => {
            format!("{}, {}", count(width, "neuron"), escape(&activation))
        }
        (Some(_), _) => format!(
            "{} to {}, {}",
            escape(kind),
            layer.shape,
            escape(&activation)
        ),
    };
    let _ = writeln!(out, "<title>{}: {title}</title>", escape(layer.name));
    let _ = writeln!(
        out,
        r##"<text x="{cx}" y="{}" font-size="13" font-weight="bold" text-anchor="middle" fill="#222222">{}</text>"##,
        layout.top - 12.0,
        escape(layer.name)
    );
    match &layout.bodies[number] {
        Body::Neurons(slots) => {
            for (row, slot) in slots.iter().enumerate() {
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
        }
        Body::Planes { planes, .. } => {
            let Some([left, front_top, width, height]) = layout.front(number) else {
                return;
            };
            // Back to front, each plane hiding the one behind it.
            for plane in (0..*planes).rev() {
                let shift = plane as f64 * PLANE_OFFSET;
                let _ = writeln!(
                    out,
                    r##"<rect class="map" x="{:.1}" y="{:.1}" width="{width:.1}" height="{height:.1}" fill="{}" stroke="#3b4252" stroke-width="1"/>"##,
                    left + shift,
                    front_top - shift,
                    fill(layer.activation)
                );
            }
        }
    }
    for (line, text) in footer(layer).iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text x="{cx}" y="{}" font-size="12" text-anchor="middle" fill="#333333">{}</text>"##,
            layout.bottom() + 20.0 + line as f64 * 16.0,
            escape(text)
        );
    }
    out.push_str("</g>\n");
}

/// A neuron: a circle coloured by activation family, with a plot of the activation inside.
fn neuron(out: &mut String, cx: f64, cy: f64, activation: Option<Activation>) {
    let fill = fill(activation);
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
        // The tanh approximation is indistinguishable from the exact form at glyph size.
        Activation::Gelu | Activation::GeluTanh => {
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
            let _ = writeln!(
                out,
                r#"        n{index}_l{column} [label="{}\n{}", fillcolor="{}"];"#,
                dot_escape(layer.name),
                footer(layer)
                    .iter()
                    .map(|line| dot_escape(line))
                    .collect::<Vec<_>>()
                    .join("\\n"),
                fill(layer.activation)
            );
        }
        for (column, layer) in net.layers.iter().enumerate() {
            let label = edge_label(layer)
                .map(|label| format!(" [label=\"{label}\"]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "        n{index}_l{column} -> n{index}_l{}{label};",
                column + 1
            );
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}

/// What an edge into `layer` carries: a dense layer's or a convolution's weights (its
/// parameters less its biases), another kind's parameters; nothing for a kind without any.
fn edge_label(layer: &nn_grammar::Layer) -> Option<String> {
    let parameters = layer.parameters();
    match layer.kind {
        LayerKind::Dense => Some(count(layer.multiply_adds(), "weight")),
        LayerKind::Conv2d(nn_grammar::Conv2d { out_channels, .. })
        | LayerKind::Conv1d(nn_grammar::Conv1d { out_channels, .. }) => {
            // `parameters` leaves out the biases of a layer declared `bias = false`.
            let biases = if layer.bias { out_channels } else { 0 };
            Some(count(parameters - biases, "weight"))
        }
        _ if parameters > 0 => Some(count(parameters, "parameter")),
        _ => None,
    }
}

/// Escapes text for a quoted dot string.
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
