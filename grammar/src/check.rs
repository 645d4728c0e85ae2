//! [`ast`](crate::ast) to [`Network`]: every semantic rule of the language, all problems at once.

use crate::ast::{self, TextRange, Word};
use crate::diag::{Diagnostic, closest, one_of};
use crate::kinds;
use crate::network::{
    Activation, Layer, LayerKind, MAX_FULL_UNROLL, MAX_HALF_CONV_WEIGHTS, MAX_LAYERS,
    MAX_PARAMETERS, MAX_QUANTIZED_INPUTS, MAX_WIDTH, Network, Quantize, Scalar, Shape, Unroll,
};

/// Options a declaration may set after `with`.
pub const SETTINGS: [&str; 5] = ["scalar", "unroll", "crate", "weights", "quantize"];

/// Words that cannot name a layer because they are Rust keywords (layer names become fields).
const RUST_KEYWORDS: [&str; 52] = [
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// The prelude's enum variants, which no `let` may bind (a layer's name also names its
/// output's local in the generated code).
const PRELUDE_VARIANTS: [&str; 4] = ["None", "Some", "Ok", "Err"];

/// Why `name` cannot name a network's struct, for tools that write declarations (ONNX import's
/// `--name`): not an identifier of ASCII letters, digits and `_` that starts with a letter or
/// `_`, or a word Rust or the language reserves. `None` for a name the grammar takes.
pub fn struct_name_problem(name: &str) -> Option<String> {
    let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier {
        Some(format!(
            "`{name}` is not a struct name: one is ASCII letters, digits and `_`, not starting \
             with a digit, such as `Mnist` or `Lenet5`"
        ))
    } else if not_an_identifier(name) || name == "with" {
        Some(format!("`{name}` is a word Rust or the language reserves"))
    } else if PRIMITIVE_TYPES.contains(&name) {
        Some(format!("`{name}` names a primitive type"))
    } else {
        None
    }
}

/// Checks a parsed declaration.
///
/// # Errors
///
/// Every problem found, each located on the token it is about.
pub fn check(item: &ast::Item) -> Result<Network, Vec<Diagnostic>> {
    let Recovered {
        network, problems, ..
    } = check_recovering(item);
    match network {
        Some(net) if problems.is_empty() => Ok(net),
        _ => Err(problems),
    }
}

/// What [`check_recovering`] found: every problem, and the network the declaration most
/// plausibly meant, for code generation to go on with while the problems are reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovered {
    /// The network with each problem replaced by something neutral: an unknown or misplaced
    /// activation by `linear`, a bad argument by the default, a bad option by its default, a
    /// reserved or repeated layer name by a fresh one, a bad hidden width by 1, an alpha that
    /// `f32` cannot hold by the default, `unroll = full` beyond its limit by `loops`. `None`
    /// when what user code sees cannot be known or generated: a bad input or output width, no
    /// layers, a struct name Rust rejects, more layers or parameters than the limits, a layer of
    /// another kind than dense with a problem, a dense layer on a shaped input.
    pub network: Option<Network>,
    /// Every problem, sorted by position; empty exactly when the declaration is correct.
    pub problems: Vec<Diagnostic>,
    /// The input's shape, when it is valid (even if `network` is `None`).
    pub input: Option<Shape>,
    /// The last layer's output shape, when it is valid.
    pub output: Option<Shape>,
    /// The scalar type, `f32` unless a valid `scalar = f64` says otherwise.
    pub scalar: Scalar,
    /// Whether a layer is written as a recurrent kind (`lstm`, `gru`, `rnn`): a stand-in for a
    /// network that cannot be generated then has a sequence network's API.
    pub sequence: bool,
}

/// Checks a parsed declaration, and recovers from its problems where it can: see
/// [`Recovered`]. Never panics; `check` is this with the network only when nothing is wrong.
pub fn check_recovering(item: &ast::Item) -> Recovered {
    let mut problems = Vec::new();

    let inputs = input_shape(item, &mut problems);
    // A dense layer after the input, for the examples: after `flatten` if the input is a map.
    let dense_after = if item.input_shape.as_ref().is_some_and(|dims| dims.len() > 1) {
        format!("{} -> flatten ->", item.input.text)
    } else {
        format!("{} ->", item.input.text)
    };
    if let Some(activation) = &item.input_activation {
        problems.push(Diagnostic::new(
            activation.name.range,
            format!(
                "the input cannot have an activation, found `{}`: activations belong to layers, as in `{dense_after} 10 {}`",
                activation.name.text, activation.name.text
            ),
        ));
    }
    if item.layers.is_empty() {
        problems.push(Diagnostic::new(
            item.input.range,
            format!(
                "expected at least one layer after the input width, as in `{dense_after} 10 softmax`"
            ),
        ));
    }
    if let Some(extra) = item.layers.get(MAX_LAYERS) {
        problems.push(Diagnostic::new(
            extra.arrow,
            format!(
                "too many layers: expected at most {MAX_LAYERS}, found {}",
                item.layers.len()
            ),
        ));
    }

    let (mut layers, last_width, complete, built) = check_layers(item, inputs, &mut problems);
    let per_step = check_sequence(item, &layers, &built, &mut problems);
    let renamed = check_names(item, &layers, &mut problems);
    rename(&mut layers, &renamed);

    let within_limits = check_parameters(item, &layers, &mut problems);
    let mut settings = settings(&item.settings, &mut problems);
    if !check_unroll(&settings, &layers, &mut problems) {
        settings.unroll = Unroll::Loops;
    }
    let rust_names = check_rust(item, &mut layers, settings.scalar, &mut problems);
    let twins = std::mem::take(&mut settings.quantize);
    settings.quantize = twins
        .into_iter()
        .filter(|&twin| check_quantize(item, &settings, twin, &layers, &mut problems))
        .collect();

    problems.sort_by_key(|d| d.range.start);
    let recoverable = inputs.is_some()
        && last_width.is_some()
        && complete
        && per_step
        && !layers.is_empty()
        && item.layers.len() <= MAX_LAYERS
        && within_limits
        && rust_names
        && !not_an_identifier(&item.name.text);
    let network = recoverable.then(|| Network {
        docs: item.docs.clone(),
        visibility: item
            .visibility
            .as_ref()
            .map(|v| v.text.clone())
            .unwrap_or_default(),
        name: item.name.text.clone(),
        name_range: item.name.range,
        input: inputs.unwrap_or(Shape::vector(1)),
        input_range: item.input.range,
        layers,
        scalar: settings.scalar,
        unroll: settings.unroll,
        runtime: settings.runtime,
        weights: settings.weights,
        quantize: settings.quantize,
        range: item.range,
    });
    Recovered {
        network,
        problems,
        input: inputs,
        output: last_width,
        scalar: settings.scalar,
        sequence: item.layers.iter().any(kinds::is_stateful),
    }
}

/// The input's shape: a width, or sizes in brackets (rank 1 to 3, at most [`MAX_WIDTH`]
/// values).
fn input_shape(item: &ast::Item, problems: &mut Vec<Diagnostic>) -> Option<Shape> {
    let Some(sizes) = &item.input_shape else {
        return width(&item.input, problems).map(Shape::vector);
    };
    let dims: Vec<Option<usize>> = sizes.iter().map(|s| width(s, problems)).collect();
    if sizes.len() > Shape::MAX_RANK {
        problems.push(Diagnostic::new(
            item.input.range,
            format!(
                "an input shape has at most {} sizes, `[channels, height, width]`, found {}",
                Shape::MAX_RANK,
                sizes.len()
            ),
        ));
        return None;
    }
    let dims: Vec<usize> = dims.into_iter().collect::<Option<_>>()?;
    let shape = Shape::new(&dims)?;
    if shape.elements() > MAX_WIDTH {
        problems.push(Diagnostic::new(
            item.input.range,
            format!(
                "the input `{shape}` has {} values, the limit is {MAX_WIDTH}",
                shape.elements()
            ),
        ));
        return None;
    }
    Some(shape)
}

/// Each layer's kind, shapes and activation; a bad width is recovered as 1, a misplaced or
/// unknown activation as `linear`. Also the last layer's output shape, if it is valid, whether
/// the network is complete (every layer built and readable), and which layers were built: a
/// layer of another kind than dense with a problem, or after a layer whose output is unknown,
/// is not (it stands in as a `flatten`, its problem reported or its cause before it).
fn check_layers(
    item: &ast::Item,
    inputs: Option<Shape>,
    problems: &mut Vec<Diagnostic>,
) -> (Vec<Layer>, Option<Shape>, bool, Vec<bool>) {
    let mut layers = Vec::with_capacity(item.layers.len());
    let mut built = Vec::with_capacity(item.layers.len());
    let mut previous = inputs;
    let mut last_width = None;
    let mut complete = true;
    let count = item.layers.len();
    for (index, layer) in item.layers.iter().enumerate() {
        let number = layer.width.text.starts_with(|c: char| c.is_ascii_digit());
        let parsed = kinds::flags(layer, problems);
        let (bias, affine) = parsed.as_ref().map_or((true, true), |(_, b, a)| (*b, *a));
        // `Some(width)` for a dense layer, written as its width or as `dense(width, ..)`.
        let dense = match &parsed {
            _ if number => Some(Some(&layer.width)),
            Some((written, ..)) if written.width.text == "dense" => {
                Some(kinds::dense_width(written, problems))
            }
            _ => None,
        };
        let (kind, input, outputs, was_built) = if let Some(Some(written_width)) = dense {
            let (input, readable) = dense_input(layer, previous, problems);
            complete &= readable;
            let outputs = width(written_width, problems).map(Shape::vector);
            (LayerKind::Dense, input, outputs, true)
        } else if let (None, Some((written, ..))) = (&dense, &parsed)
            && let Some((kind, output)) = kinds::kind(written, previous, problems)
        {
            (
                kind,
                previous.unwrap_or(Shape::vector(1)),
                Some(output),
                true,
            )
        } else {
            complete = false;
            (LayerKind::Flatten, Shape::vector(1), None, false)
        };
        built.push(was_built);
        last_width = outputs;
        let mut activation = layer
            .activation
            .as_ref()
            .and_then(|a| activation(a, problems))
            .unwrap_or(Activation::Linear);
        if activation.is_normalising()
            && index + 1 < count
            && let Some(written) = &layer.activation
        {
            // Recovered as `linear`: the layers after it see its raw outputs.
            let found = activation;
            activation = Activation::Linear;
            let after = count - index - 1;
            problems.push(Diagnostic::new(
                written.name.range,
                format!(
                    "`{}` is only allowed on the last layer, where it normalises the network's outputs, found it with {after} {} after it",
                    found.name(),
                    if after == 1 { "layer" } else { "layers" }
                ),
            ));
        } else if activation.is_normalising()
            && let Some(shape) = outputs.filter(|s| s.rank() > 1)
            && let Some(written) = &layer.activation
        {
            let found = activation;
            activation = Activation::Linear;
            problems.push(Diagnostic::new(
                written.name.range,
                format!(
                    "`{}` normalises a vector of scores, found an output of shape `{shape}`: end with `-> flatten -> 10 {}` (a dense layer of one output per class)",
                    found.name(),
                    found.name()
                ),
            ));
        }
        let (name, named) = match &layer.name {
            Some(name) => (name.text.clone(), true),
            None => (format!("layer{index}"), false),
        };
        layers.push(Layer {
            name,
            named,
            kind,
            input,
            output: outputs.unwrap_or(Shape::vector(1)),
            activation,
            bias,
            affine,
            range: layer.range,
        });
        previous = outputs;
    }
    (layers, last_width, complete, built)
}

/// What the dense layer `written` reads after `previous`, and
/// whether it can read it: a vector. A shaped output is a problem, not recovered, as the
/// generated layer could not read it.
fn dense_input(
    written: &ast::Layer,
    previous: Option<Shape>,
    problems: &mut Vec<Diagnostic>,
) -> (Shape, bool) {
    match previous {
        Some(shape) if shape.rank() > 1 => {
            // `-> 128`, or `-> dense(128, ..)` by its kind's name.
            problems.push(Diagnostic::new(
                written.width.range,
                format!(
                    "a dense layer reads a vector, found `{shape}`: insert `-> flatten` before `-> {}`",
                    written.width.text
                ),
            ));
            (Shape::vector(shape.elements()), false)
        }
        Some(shape) => (shape, true),
        None => (Shape::vector(1), true),
    }
}

/// The problems of networks declared together (in one `network!` or one `.nn` file): a network
/// whose code would define a type that an earlier one's code defines (`struct AmpState` after
/// `struct Amp = 1 -> lstm(8) -> 1`, whose state type it is), reported on the later network's
/// name: one entry for each of `networks` (`None` for a declaration that did not check), the
/// problem of that network if it has one.
pub fn check_together<'a>(
    networks: impl IntoIterator<Item = Option<&'a Network>>,
) -> Vec<Option<Diagnostic>> {
    let networks: Vec<Option<&Network>> = networks.into_iter().collect();
    networks
        .iter()
        .enumerate()
        .map(|(index, net)| clash(net.as_ref()?, &networks[..index]))
        .collect()
}

/// The problem of `net` if a type its code defines is one that a network of `earlier` defines.
fn clash(net: &Network, earlier: &[Option<&Network>]) -> Option<Diagnostic> {
    let (name, what, earlier, theirs) = net.type_names().into_iter().find_map(|(name, what)| {
        earlier.iter().flatten().find_map(|earlier| {
            let (_, theirs) = earlier.type_names().into_iter().find(|(n, _)| *n == name)?;
            Some((name.clone(), what, earlier, theirs))
        })
    })?;
    if net.name == earlier.name {
        return Some(Diagnostic::new(
            net.name_range,
            format!("a network named `{name}` is declared above: rename one of the two networks"),
        ));
    }
    let whose = |what: &str| {
        if what == "the network" {
            format!("the network `{name}`")
        } else {
            format!("`{name}`, {what}")
        }
    };
    let ours = if what == "the network" {
        String::new()
    } else {
        format!(" defines {}, and", whose(what))
    };
    Some(Diagnostic::new(
        net.name_range,
        format!(
            "`{}`{ours} clashes with `{}` above, which defines {}: rename one of the two networks",
            net.name,
            earlier.name,
            whose(theirs)
        ),
    ))
}

/// In a sequence network (one with a recurrent layer or a causal convolution), every layer
/// runs once per time step on a vector: only dense layers, the recurrent kinds, causal
/// convolutions, `dropout` and `layernorm` do. Whether that
/// holds; a layer of another kind is reported on its kind's name, a layer that was not `built`
/// not at all (what is wrong with it, or before it, is reported already).
fn check_sequence(
    item: &ast::Item,
    layers: &[Layer],
    built: &[bool],
    problems: &mut Vec<Diagnostic>,
) -> bool {
    // The first stateful layer, by its kind, or as written when none was built (an `lstm`
    // after a layer that outputs a map is an error of its own, and that layer's too).
    let stateful = match layers.iter().find(|l| l.kind.is_stateful()) {
        Some(Layer {
            kind: LayerKind::CausalConv1d(_),
            ..
        }) => "a causal `conv1d`".to_owned(),
        Some(layer) => format!("`{}`", layer.kind.name()),
        None => match item.layers.iter().find(|l| kinds::is_stateful(l)) {
            Some(written) if kinds::STATEFUL_WORDS[..3].contains(&written.width.text.as_str()) => {
                format!("`{}`", written.width.text)
            }
            Some(_) => "a causal `conv1d`".to_owned(),
            None => return true,
        },
    };
    let mut per_step = true;
    for ((written, layer), &built) in item.layers.iter().zip(layers).zip(built) {
        if !built {
            per_step = false;
            continue;
        }
        if matches!(
            layer.kind,
            LayerKind::Dense
                | LayerKind::Recurrent(_)
                | LayerKind::CausalConv1d(_)
                | LayerKind::Dropout { .. }
                | LayerKind::LayerNorm { .. }
        ) {
            continue;
        }
        per_step = false;
        let hint = if matches!(layer.kind, LayerKind::Conv1d(_)) {
            "; a convolution over time steps is written `causal`, as in `conv1d(16, 3, causal)`"
        } else {
            ""
        };
        problems.push(Diagnostic::new(
            written.width.range,
            format!(
                "`{}` cannot be part of a network with {stateful}: such a network runs one time step at a time on vectors, and only dense layers, `lstm`, `gru`, `rnn`, causal `conv1d`, `dropout` and `layernorm` run per step{hint}",
                written.width.text,
            ),
        ));
    }
    per_step
}

/// Gives each layer in `renamed` a fresh name: `layer{index}`, or with `_` appended until no
/// other layer has it.
fn rename(layers: &mut [Layer], renamed: &[usize]) {
    for &index in renamed {
        let mut name = format!("layer{index}");
        while layers
            .iter()
            .enumerate()
            .any(|(other, l)| other != index && l.field() == name)
        {
            name.push('_');
        }
        // Unnamed when the fresh name is the default one, so that it prints as written.
        layers[index].named = name != format!("layer{index}");
        layers[index].name = name;
    }
}

/// At most [`MAX_PARAMETERS`] weights and biases in all; whether that holds.
fn check_parameters(item: &ast::Item, layers: &[Layer], problems: &mut Vec<Diagnostic>) -> bool {
    // Point at the width of the layer that takes the count over the limit: that is the number
    // to make smaller. Widths are at most 2^20, so one layer's count cannot overflow a u64.
    let mut parameters: u64 = 0;
    for (written, layer) in item.layers.iter().zip(layers) {
        // Each layer's count is below 2^41 (widths are at most 2^20): exact in a u64.
        parameters = parameters.saturating_add(layer.parameters() as u64);
        if parameters > MAX_PARAMETERS as u64 {
            problems.push(Diagnostic::new(
                written.width.range,
                format!(
                    "too many parameters: expected at most {MAX_PARAMETERS} weights and biases in `{}`, found {parameters} up to this layer",
                    item.name.text
                ),
            ));
            return false;
        }
    }
    true
}

/// `quantize` only on `f32` networks whose every layer the twin has: for `int8`, dense layers,
/// `conv2d` and `conv1d` (any groups; not causal), the 2-D and 1-D pools, global pools,
/// `flatten` and `dropout`, ending with a dense layer, activations other than `relu` on dense
/// layers only, and inputs within the `i32` sums; for `bf16` and `f16`, every kind, sequence
/// networks included. Each format written is checked on its own (a twin the network cannot
/// have is dropped, the others kept), its messages naming it. Whether this twin can stay.
fn check_quantize(
    item: &ast::Item,
    settings: &Settings,
    (quantize, range): (Quantize, TextRange),
    layers: &[Layer],
    problems: &mut Vec<Diagnostic>,
) -> bool {
    let mut fine = true;
    if settings.scalar != Scalar::F32 {
        problems.push(Diagnostic::new(
            range,
            format!(
                "`quantize = {}` makes a twin of an `f32` network, this one is `{}`: remove `scalar = {}`",
                quantize.name(),
                settings.scalar.name(),
                settings.scalar.name()
            ),
        ));
        fine = false;
    }
    let int8 = quantize == Quantize::Int8;
    let supported =
        "dense layers, `conv2d`, `conv1d`, the 2-D, 1-D and global pools, `flatten` and `dropout`";
    for (written, layer) in item.layers.iter().zip(layers) {
        let kind_fits = match layer.kind {
            LayerKind::Dense | LayerKind::Dropout { .. } => true,
            LayerKind::Conv2d(_)
            | LayerKind::Conv1d(_)
            | LayerKind::MaxPool2d(_)
            | LayerKind::AvgPool2d(_)
            | LayerKind::MaxPool1d(_)
            | LayerKind::AvgPool1d(_)
            | LayerKind::GlobalAvgPool
            | LayerKind::GlobalMaxPool
            | LayerKind::Flatten => int8,
            _ => false,
        };
        // A half-precision twin runs the `f32` network's code on widened weights: every kind,
        // sequence networks' included (their state stays `f32`).
        let kind_fits = kind_fits || !int8;
        if !kind_fits {
            let what = if matches!(layer.kind, LayerKind::CausalConv1d(_)) {
                "a causal `conv1d`".to_owned()
            } else {
                format!("`{}`", written.width.text)
            };
            problems.push(Diagnostic::new(
                written.width.range,
                format!(
                    "{what} cannot be quantised: `quantize = {}` supports {supported} for now",
                    quantize.name()
                ),
            ));
            // Every problem at once, as for the rest of a declaration.
            fine = false;
            continue;
        }
        let dense = layer.kind == LayerKind::Dense;
        if int8
            && !dense
            && !matches!(layer.activation, Activation::Linear | Activation::Relu)
            && let Some(activation) = &written.activation
        {
            problems.push(Diagnostic::new(
                activation.name.range,
                format!(
                    "an int8 `{}` takes `relu` or no activation (others are computed in `f32` after dense layers only), found `{}`",
                    written.width.text, activation.name.text
                ),
            ));
            fine = false;
        }
        fine &= twin_sizes(quantize, written, layer, problems);
    }
    if int8
        && let (Some(written), Some(last)) = (item.layers.last(), layers.last())
        && last.kind != LayerKind::Dense
    {
        problems.push(Diagnostic::new(
            written.width.range,
            format!(
                "an int8 twin ends with a dense layer (its sums are dequantised to `f32`), this network ends with `{}`",
                written.width.text
            ),
        ));
        fine = false;
    }
    fine
}

/// The sizes a twin in `quantize` allows `layer` (`written`): an int8 layer's sums that fit
/// `i32`, a half twin's convolution weights that fit the stack; whether they fit.
fn twin_sizes(
    quantize: Quantize,
    written: &ast::Layer,
    layer: &Layer,
    problems: &mut Vec<Diagnostic>,
) -> bool {
    let int8 = quantize == Quantize::Int8;
    let mut fine = true;
    // What one output sums: a dense layer's inputs, a convolution's window.
    let reads = match layer.kind {
        LayerKind::Dense => layer.input.elements(),
        LayerKind::Conv2d(conv) => {
            layer.input.dims()[0] / conv.groups.max(1) * conv.kernel[0] * conv.kernel[1]
        }
        LayerKind::Conv1d(conv) => layer.input.dims()[0] / conv.groups.max(1) * conv.kernel,
        _ => 0,
    };
    // A half twin's convolution widens its weights on the stack at every call.
    let widened = match layer.kind {
        LayerKind::Conv2d(crate::Conv2d { out_channels, .. })
        | LayerKind::Conv1d(crate::Conv1d { out_channels, .. }) => out_channels * reads,
        _ => 0,
    };
    if !int8 && widened > MAX_HALF_CONV_WEIGHTS {
        problems.push(Diagnostic::new(
            written.width.range,
            format!(
                "a `{}` twin widens each convolution's weights on the stack at every call, at most {MAX_HALF_CONV_WEIGHTS} of them (1 MiB), this one has {widened}: keep the network `f32`, or use smaller convolutions",
                quantize.name()
            ),
        ));
        fine = false;
    }
    if int8 && reads > MAX_QUANTIZED_INPUTS {
        problems.push(Diagnostic::new(
            written.width.range,
            format!(
                "a quantised layer's output sums at most {MAX_QUANTIZED_INPUTS} products (more could overflow its `i32` sums), this one sums {reads}"
            ),
        ));
        fine = false;
    }
    fine
}

/// `unroll = full` only for networks of at most [`MAX_FULL_UNROLL`] multiply-adds; whether the
/// unroll setting is fine.
fn check_unroll(settings: &Settings, layers: &[Layer], problems: &mut Vec<Diagnostic>) -> bool {
    if let (Unroll::Full, Some(range)) = (settings.unroll, settings.unroll_range) {
        // Only dense layers are written out; the other kinds call their kernels either way.
        let macs: usize = layers
            .iter()
            .filter(|l| l.kind == LayerKind::Dense)
            .map(Layer::multiply_adds)
            .fold(0, usize::saturating_add);
        if macs > MAX_FULL_UNROLL {
            problems.push(Diagnostic::new(
                range,
                format!(
                    "`unroll = full` writes one statement per multiply-add of a dense layer and is limited to {MAX_FULL_UNROLL}, this network's dense layers have {macs}: use `unroll = loops`"
                ),
            ));
            return false;
        }
    }
    true
}

/// Primitive types, which a struct name would hide from the generated code (`f32`, `usize`).
const PRIMITIVE_TYPES: [&str; 17] = [
    "bool", "char", "str", "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16",
    "u32", "u64", "u128", "usize",
];

/// What the grammar accepts but the generated Rust could not hold: a struct named like a
/// primitive type, an alpha that overflows (or, for `elu`, vanishes in) an `f32` literal
/// (recovered as the default alpha). Whether the struct name can be generated.
fn check_rust(
    item: &ast::Item,
    layers: &mut [Layer],
    scalar: Scalar,
    problems: &mut Vec<Diagnostic>,
) -> bool {
    let primitive = PRIMITIVE_TYPES.contains(&item.name.text.as_str());
    if primitive {
        problems.push(Diagnostic::new(
            item.name.range,
            format!(
                "expected a struct name such as `Mnist`, found `{}`, which names a primitive type",
                item.name.text
            ),
        ));
    }
    if scalar != Scalar::F32 {
        return !primitive;
    }
    for (written, layer) in item.layers.iter().zip(layers.iter_mut()) {
        let (Activation::LeakyRelu { alpha } | Activation::Elu { alpha }) = layer.activation else {
            continue;
        };
        let Some(argument) = written
            .activation
            .as_ref()
            .and_then(|a| a.arguments.as_ref())
            .and_then(|a| a.first())
        else {
            continue;
        };
        #[allow(clippy::cast_possible_truncation)] // the rounding is what is being checked
        let rounded = alpha as f32;
        let name = layer.activation.name();
        let default = match layer.activation {
            Activation::LeakyRelu { .. } => Activation::LeakyRelu { alpha: 0.01 },
            _ => Activation::Elu { alpha: 1.0 },
        };
        if rounded.is_infinite() {
            layer.activation = default;
            problems.push(Diagnostic::new(
                argument.range,
                format!(
                    "expected an argument of `{name}` that fits in `f32`, at most {:e} in size, found `{}`: use `scalar = f64`",
                    f32::MAX,
                    argument.text
                ),
            ));
        } else if matches!(layer.activation, Activation::Elu { .. }) && rounded == 0.0 {
            layer.activation = default;
            problems.push(Diagnostic::new(
                argument.range,
                format!(
                    "`elu` needs a positive alpha, found `{}`, which is 0 as an `f32`",
                    argument.text
                ),
            ));
        }
    }
    !primitive
}

/// A width: a whole number from 1 to [`MAX_WIDTH`].
fn width(word: &Word, problems: &mut Vec<Diagnostic>) -> Option<usize> {
    let text = word.text.replace('_', "");
    let message = if text.bytes().all(|b| b.is_ascii_digit()) {
        match text.parse::<usize>() {
            Ok(0) => format!("a layer width must be at least 1, found `{}`", word.text),
            Ok(n) if n <= MAX_WIDTH => return Some(n),
            _ => format!(
                "layer width `{}` is too large, the limit is {MAX_WIDTH}",
                word.text
            ),
        }
    } else if text.parse::<f64>().is_ok() {
        format!(
            "a layer width must be a whole number of neurons, found `{}`",
            word.text
        )
    } else {
        format!(
            "expected a layer width such as `128`, found `{}`",
            word.text
        )
    };
    problems.push(Diagnostic::new(word.range, message));
    None
}

/// A finite real number.
fn real(word: &Word, problems: &mut Vec<Diagnostic>) -> Option<f64> {
    match word.text.replace('_', "").parse::<f64>() {
        Ok(x) if x.is_finite() => Some(x),
        _ => {
            problems.push(Diagnostic::new(
                word.range,
                format!(
                    "expected a finite number such as `0.01`, found `{}`",
                    word.text
                ),
            ));
            None
        }
    }
}

fn activation(written: &ast::Activation, problems: &mut Vec<Diagnostic>) -> Option<Activation> {
    let name = written.name.text.as_str();
    let arguments = written.arguments.as_deref();
    // Activations with one optional parameter, and its default (PyTorch's).
    let parameter_default = match name {
        "leaky_relu" => Some(0.01),
        "elu" => Some(1.0),
        _ => None,
    };
    let alpha = match (parameter_default, arguments) {
        (_, None) => parameter_default,
        // A bad argument is reported, and recovered as the default.
        (Some(_), Some([])) => {
            problems.push(Diagnostic::new(
                written.range,
                format!("`{name}()` needs a value, as in `{name}(0.1)`, or no parentheses for the default"),
            ));
            parameter_default
        }
        (Some(_), Some([argument])) => match real(argument, problems) {
            Some(alpha) if name == "elu" && alpha <= 0.0 => {
                problems.push(Diagnostic::new(
                    argument.range,
                    format!("`elu` needs a positive alpha, found `{}`", argument.text),
                ));
                parameter_default
            }
            Some(alpha) => Some(alpha),
            None => parameter_default,
        },
        (Some(_), Some(all @ [_, extra, ..])) => {
            problems.push(Diagnostic::new(
                extra.range,
                format!("`{name}` takes one argument, found {}", all.len()),
            ));
            parameter_default
        }
        (None, Some(args)) => {
            if Activation::NAMES.contains(&name) {
                let at = args.first().map_or(written.range, |a| a.range);
                problems.push(Diagnostic::new(
                    at,
                    format!(
                        "`{name}` takes no arguments, found `{}`",
                        &written.range_text()
                    ),
                ));
            }
            None
        }
    };
    Some(match name {
        "linear" => Activation::Linear,
        "relu" => Activation::Relu,
        "leaky_relu" => Activation::LeakyRelu { alpha: alpha? },
        "elu" => Activation::Elu { alpha: alpha? },
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "silu" => Activation::Silu,
        "gelu" => Activation::Gelu,
        "gelu_tanh" => Activation::GeluTanh,
        "softplus" => Activation::Softplus,
        "softmax" => Activation::Softmax,
        "log_softmax" => Activation::LogSoftmax,
        unknown => {
            let expected = Activation::NAMES.map(|n| format!("`{n}`"));
            let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
            let hint = closest(unknown, &Activation::NAMES).map_or_else(
                || "expected ".to_owned(),
                |c| format!("did you mean `{c}`? expected "),
            );
            problems.push(Diagnostic::new(
                written.name.range,
                format!(
                    "unknown activation `{unknown}`, {hint}one of {}",
                    one_of(&expected)
                ),
            ));
            return None;
        }
    })
}

trait RangeText {
    fn range_text(&self) -> String;
}

impl RangeText for ast::Activation {
    /// `name(arg, ...)` as the user wrote it, normalised.
    fn range_text(&self) -> String {
        let args: Vec<&str> = self
            .arguments
            .iter()
            .flatten()
            .map(|a| a.text.as_str())
            .collect();
        format!("{}({})", self.name.text, args.join(", "))
    }
}

/// A layer as the user wrote it, `-> 128 relu as hidden`, to name it in messages.
fn layer_text(layer: &ast::Layer) -> String {
    let mut text = format!("-> {}", layer.width.text);
    if let Some(activation) = &layer.activation {
        text.push(' ');
        text.push_str(&activation.name.text);
        if let Some(arguments) = &activation.arguments {
            let arguments: Vec<&str> = arguments.iter().map(|a| a.text.as_str()).collect();
            text.push('(');
            text.push_str(&arguments.join(", "));
            text.push(')');
        }
    }
    if let Some(name) = &layer.name {
        text.push_str(" as ");
        text.push_str(&name.text);
    }
    text
}

/// Whether `segment`, after the first of a module path, is a name or a number as PyTorch writes
/// them (`0`, `12`, `fc1`).
fn path_segment(segment: &str) -> bool {
    let number = segment.bytes().all(|b| b.is_ascii_digit());
    if number {
        return segment == "0" || !segment.starts_with('0');
    }
    segment.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// Whether `word` cannot be a Rust identifier for a struct or a field.
fn not_an_identifier(word: &str) -> bool {
    word == "_" || RUST_KEYWORDS.contains(&word)
}

/// The rules on names; returns the indices of the layers whose name must be replaced.
fn check_names(item: &ast::Item, layers: &[Layer], problems: &mut Vec<Diagnostic>) -> Vec<usize> {
    let mut renamed = Vec::new();
    if not_an_identifier(&item.name.text) {
        problems.push(Diagnostic::new(
            item.name.range,
            format!(
                "expected a struct name such as `Mnist`, found `{}`, which Rust reserves",
                item.name.text
            ),
        ));
    }
    for (index, (written, layer)) in item.layers.iter().zip(layers).enumerate() {
        let Some(name) = &written.name else { continue };
        let mut segments = name.text.split('.').skip(1);
        if let Some(bad) = segments.find(|s| !path_segment(s)) {
            renamed.push(index);
            problems.push(Diagnostic::new(
                name.range,
                format!(
                    "expected a layer name such as `hidden` or a module path such as \
                     `encoder.0`, found `{}`: `{bad}` is neither a name nor a number without \
                     leading zeros",
                    name.text
                ),
            ));
        } else if not_an_identifier(&layer.field()) {
            renamed.push(index);
            problems.push(Diagnostic::new(
                name.range,
                format!(
                    "expected a layer name such as `hidden`, found `{}`, which Rust reserves (layer names become fields)",
                    name.text
                ),
            ));
        } else if PRELUDE_VARIANTS.contains(&layer.field().as_str()) {
            renamed.push(index);
            problems.push(Diagnostic::new(
                name.range,
                format!(
                    "expected a layer name such as `hidden`, found `{}`, which names a variant of Rust's prelude (layer names become locals, which cannot shadow it)",
                    name.text
                ),
            ));
        } else if layer.field().starts_with("__") {
            renamed.push(index);
            problems.push(Diagnostic::new(
                name.range,
                format!(
                    "expected a layer name such as `hidden`, found `{}`: fields that start with `__` are reserved for the fields nn adds (such as `__dropout_masks`)",
                    name.text
                ),
            ));
        } else if let Some(first) = layers[..index]
            .iter()
            .position(|l| l.field() == layer.field())
        {
            // Two names of one field: the same name, or paths such as `enc.0` and `enc_0`.
            let used = layer_text(&item.layers[first]);
            renamed.push(index);
            problems.push(Diagnostic::new(
                name.range,
                if layers[first].name == layer.name {
                    format!(
                        "duplicate layer name `{}`, already used by `{used}`",
                        name.text
                    )
                } else {
                    format!(
                        "layer name `{}` makes the field `{}`, as `{used}` does: choose another \
                         name",
                        name.text,
                        layer.field()
                    )
                },
            ));
        } else if let Some(other) = layers
            .iter()
            .position(|l| !l.named && l.field() == layer.field())
        {
            renamed.push(index);
            problems.push(Diagnostic::new(
                name.range,
                format!(
                    "layer name `{}` is already the default name of the unnamed layer `{}`: choose another name",
                    name.text,
                    layer_text(&item.layers[other])
                ),
            ));
        }
    }
    renamed
}

/// The format `quantize = text` names.
fn twin_format(text: &str) -> Option<Quantize> {
    [Quantize::Int8, Quantize::Bf16, Quantize::F16]
        .into_iter()
        .find(|format| format.name() == text)
}

/// Adds the twin in `format` to `twins`, unless that format is there already: each format makes
/// one twin, so a second is a mistake, reported on its value.
fn add_twin(
    format: Quantize,
    value: &ast::Word,
    twins: &mut Vec<(Quantize, TextRange)>,
) -> Option<Diagnostic> {
    if twins.iter().any(|&(set, _)| set == format) {
        return Some(Diagnostic::new(
            value.range,
            format!("`quantize = {}` is set twice", value.text),
        ));
    }
    twins.push((format, value.range));
    None
}

/// Options with their defaults applied.
#[derive(Default)]
struct Settings {
    scalar: Scalar,
    unroll: Unroll,
    unroll_range: Option<TextRange>,
    runtime: Option<String>,
    weights: Option<(String, TextRange)>,
    quantize: Vec<(Quantize, TextRange)>,
}

fn settings(written: &[ast::Setting], problems: &mut Vec<Diagnostic>) -> Settings {
    let mut settings = Settings::default();
    for (index, setting) in written.iter().enumerate() {
        let key = setting.key.text.as_str();
        let value = &setting.value;
        // `quantize` once per format (each makes its twin, see below); every other option once.
        if key != "quantize" && written[..index].iter().any(|s| s.key.text == key) {
            problems.push(Diagnostic::new(
                setting.key.range,
                format!("option `{key}` is set twice"),
            ));
            continue;
        }
        let mut bad_value = |expected: &str| {
            problems.push(Diagnostic::new(
                value.range,
                format!(
                    "expected {expected} for option `{key}`, found `{}`",
                    value.text
                ),
            ));
        };
        match key {
            "scalar" => match value.text.as_str() {
                "f32" => settings.scalar = Scalar::F32,
                "f64" => settings.scalar = Scalar::F64,
                _ => bad_value("`f32` or `f64`"),
            },
            "unroll" => match value.text.as_str() {
                "loops" => settings.unroll = Unroll::Loops,
                "full" => {
                    settings.unroll = Unroll::Full;
                    settings.unroll_range = Some(value.range);
                }
                _ => bad_value("`loops` or `full`"),
            },
            "crate" => {
                // Each segment an identifier; of the keywords, only those that may start a path:
                // `crate` or `self` first, `super` after `self`s and `super`s only.
                let segments: Vec<&str> = value.text.split("::").map(str::trim).collect();
                let keyword = segments.iter().enumerate().any(|(at, segment)| {
                    let leading = segments[..at]
                        .iter()
                        .all(|s| matches!(*s, "self" | "super"));
                    match *segment {
                        // An empty segment only before a leading `::`; `crate`, `self` first.
                        "" | "crate" | "self" => at != 0,
                        "super" => !leading,
                        _ => not_an_identifier(segment),
                    }
                });
                if value.text.starts_with('"')
                    || value.text.starts_with(|c: char| c.is_ascii_digit())
                    || keyword
                {
                    bad_value("a path such as `::nn`");
                } else {
                    settings.runtime = Some(value.text.clone());
                }
            }
            "weights" => match value
                .text
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
            {
                Some(path) if !path.is_empty() && !path.contains('\\') => {
                    settings.weights = Some((path.to_owned(), value.range));
                }
                // A number format: the twins are `quantize`'s.
                None if matches!(value.text.as_str(), "int8" | "bf16" | "f16") => {
                    problems.push(Diagnostic::new(
                        value.range,
                        format!(
                            "option `weights` names a file of weights to bake in, such as \
                             `\"mnist.safetensors\"`; for a twin with `{0}` weights write \
                             `quantize = {0}`",
                            value.text
                        ),
                    ));
                }
                _ => bad_value("a file path in quotes, such as `\"mnist.safetensors\"`,"),
            },
            "quantize" => match twin_format(&value.text) {
                Some(format) => problems.extend(add_twin(format, value, &mut settings.quantize)),
                None => bad_value("`int8`, `bf16` or `f16`"),
            },
            unknown => {
                let expected = SETTINGS.map(|s| format!("`{s}`"));
                let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
                let hint = closest(unknown, &SETTINGS).map_or_else(
                    || "expected ".to_owned(),
                    |c| format!("did you mean `{c}`? expected "),
                );
                problems.push(Diagnostic::new(
                    setting.key.range,
                    format!(
                        "unknown option `{unknown}`, {hint}one of {}",
                        one_of(&expected)
                    ),
                ));
            }
        }
    }
    settings
}
