//! The layer kinds other than dense: their arguments (positional in a fixed order, or named,
//! with PyTorch's defaults), the rules on them and the output shape each computes.

use crate::ast::{self, Value, Word};
use crate::diag::{Diagnostic, closest, one_of};
use crate::network::{
    Activation, Cell, Conv1d, Conv2d, LayerKind, MAX_HISTORY, MAX_RECURRENT_LEVELS, MAX_WIDTH,
    Pool1d, Pool2d, Recurrent, Shape,
};
use std::borrow::Cow;

/// Every layer kind written by name (a dense layer is written as its width, or as
/// `dense(128, bias = false)` without a bias).
pub const KINDS: [&str; 16] = [
    "dense",
    "conv2d",
    "conv1d",
    "maxpool2d",
    "avgpool2d",
    "maxpool1d",
    "avgpool1d",
    "global_avgpool",
    "global_maxpool",
    "flatten",
    "dropout",
    "batchnorm",
    "layernorm",
    "lstm",
    "gru",
    "rnn",
];

/// The kinds that add a bias, which `bias = false` leaves out as PyTorch's `bias=False`.
pub const BIASED: [&str; 7] = [
    "dense",
    "conv1d",
    "conv2d",
    "lstm",
    "gru",
    "rnn",
    "layernorm",
];

/// The kinds with a learned scale and shift, which `affine = false` leaves out as PyTorch's
/// `affine=False` (`elementwise_affine=False` for `nn.LayerNorm`).
pub const AFFINE: [&str; 2] = ["batchnorm", "layernorm"];

/// The flags, each with the kinds that take it: what [`flags`] takes out of a layer's
/// arguments, and [`arguments`] lists beside the others.
const FLAGS: [(&str, &[&str]); 2] = [("bias", &BIASED), ("affine", &AFFINE)];

/// The flags `kind` takes.
fn flags_of(kind: &str) -> impl Iterator<Item = &'static str> {
    FLAGS
        .into_iter()
        .filter(move |(_, kinds)| kinds.contains(&kind))
        .map(|(flag, _)| flag)
}

/// The layer written as `written` without its arguments `bias` and `affine`, and their values:
/// whether it adds a bias and whether a normalisation scales and shifts (`true` when not
/// written, or recovered so after reporting a bad value, see [`flag`]); `None` after reporting
/// a positional argument after one. Kinds without them keep the argument, which [`arguments`]
/// then reports.
pub(crate) fn flags<'a>(
    written: &'a ast::Layer,
    problems: &mut Vec<Diagnostic>,
) -> Option<(Cow<'a, ast::Layer>, bool, bool)> {
    let [(bias, biased), (affine, affined)] = FLAGS;
    let (written, bias) = flag(Cow::Borrowed(written), bias, biased, problems)?;
    let (written, affine) = flag(written, affine, affined, problems)?;
    Some((written, bias, affine))
}

/// The value of the argument `name` (`true` when not written) of `written`, for the kinds
/// `kinds`, and `written` without it; see [`flags`]. A value other than `true` or `false`, or
/// the argument given twice, is a problem recovered as the first argument's value, or `true`
/// if that is not `true` or `false`; a positional argument after it is one that is not (as
/// after any named argument).
fn flag<'a>(
    written: Cow<'a, ast::Layer>,
    name: &str,
    kinds: &[&str],
    problems: &mut Vec<Diagnostic>,
) -> Option<(Cow<'a, ast::Layer>, bool)> {
    let is_flag = |argument: &ast::Argument| argument.name.as_ref().is_some_and(|n| n.text == name);
    let arguments = written.arguments.as_deref().unwrap_or_default();
    // A width (`-> 128`) has no arguments; other kinds keep theirs for `arguments` to report.
    let first = arguments.iter().position(is_flag);
    let Some(first) = first.filter(|_| kinds.contains(&written.width.text.as_str())) else {
        return Some((written, true));
    };
    let kind = &written.width.text;
    if let Some(positional) = arguments[first..]
        .iter()
        .find(|a| a.name.is_none() && !is_causal(a))
    {
        problems.push(Diagnostic::new(
            positional.range,
            format!(
                "a positional argument of `{kind}` cannot follow a named one: name it, as in `stride = 2`"
            ),
        ));
        return None;
    }
    for again in arguments[first + 1..].iter().filter(|a| is_flag(a)) {
        problems.push(Diagnostic::new(
            again.range,
            format!("argument `{name}` of `{kind}` is given twice"),
        ));
    }
    let on = match &arguments[first].value {
        Value::Symbol(word) if word.text == "true" || word.text == "false" => word.text == "true",
        value => {
            let case = match value {
                Value::Symbol(word)
                    if word.text.eq_ignore_ascii_case("true")
                        || word.text.eq_ignore_ascii_case("false") =>
                {
                    format!("write `{}` in lower case: ", word.text.to_ascii_lowercase())
                }
                _ => String::new(),
            };
            problems.push(Diagnostic::new(
                value.range(),
                format!(
                    "{case}expected `true` or `false` for `{name}`, as PyTorch's `{name}=False`{}",
                    found(value)
                ),
            ));
            true
        }
    };
    let mut without = written.into_owned();
    if let Some(arguments) = &mut without.arguments {
        arguments.retain(|argument| !is_flag(argument));
    }
    Some((Cow::Owned(without), on))
}

/// The width of `dense(128)`, the dense layer written by name: `None` after reporting what is
/// wrong with its arguments.
pub(crate) fn dense_width<'a>(
    written: &'a ast::Layer,
    problems: &mut Vec<Diagnostic>,
) -> Option<&'a Word> {
    let [outputs] = arguments(
        written,
        &["outputs"],
        1,
        "dense(128, bias = false)",
        problems,
    )?;
    match outputs? {
        Value::Number(word) => Some(word),
        value => {
            problems.push(Diagnostic::new(
                value.range(),
                format!(
                    "expected the number of outputs of `dense`, such as `128`{}",
                    found(value)
                ),
            ));
            None
        }
    }
}

/// The kind and output shape of the layer `written` (its `bias` and `affine` already read, see
/// [`flags`]), reading `input`; `None` after reporting what is wrong (or when `input` is
/// unknown).
pub(crate) fn kind(
    written: &ast::Layer,
    input: Option<Shape>,
    problems: &mut Vec<Diagnostic>,
) -> Option<(LayerKind, Shape)> {
    let name = &written.width;
    match name.text.as_str() {
        "conv2d" => conv2d(written, input, problems),
        "conv1d" => conv1d(written, input, problems),
        "maxpool2d" | "avgpool2d" => pool2d(written, input, problems),
        "maxpool1d" | "avgpool1d" => pool1d(written, input, problems),
        "flatten" => {
            let [] = arguments(written, &[], 0, "flatten", problems)?;
            Some((LayerKind::Flatten, Shape::vector(input?.elements())))
        }
        "global_avgpool" | "global_maxpool" => {
            let [] = arguments(written, &[], 0, &name.text, problems)?;
            let input = input?;
            if input.rank() == 1 {
                problems.push(Diagnostic::new(
                    name.range,
                    format!(
                        "`{}` reads channels, `[channels, length]` or `[channels, height, width]`, found the vector `{input}`",
                        name.text
                    ),
                ));
                return None;
            }
            let kind = if name.text == "global_avgpool" {
                LayerKind::GlobalAvgPool
            } else {
                LayerKind::GlobalMaxPool
            };
            Some((kind, Shape::vector(input.dims()[0])))
        }
        "dropout" => {
            // PyTorch's `nn.Dropout()` drops half.
            let [p] = arguments(written, &["p"], 0, "dropout(0.5)", problems)?;
            let p = p.map_or(Some(0.5), |p| probability(p, problems))?;
            Some((LayerKind::Dropout { p }, input?))
        }
        "batchnorm" => {
            let [eps, momentum] = arguments(
                written,
                &["eps", "momentum"],
                0,
                "batchnorm(eps = 1e-3)",
                problems,
            )?;
            let eps = eps.map_or(Some(DEFAULT_EPS), |v| epsilon(v, name, problems));
            let momentum = momentum.map_or(Some(DEFAULT_MOMENTUM), |v| fraction(v, problems));
            let kind = LayerKind::BatchNorm {
                eps: eps?,
                momentum: momentum?,
            };
            Some((kind, input?))
        }
        "lstm" | "gru" | "rnn" => recurrent(written, input, problems),
        "layernorm" => {
            let [eps] = arguments(written, &["eps"], 0, "layernorm(eps = 1e-3)", problems)?;
            let eps = eps.map_or(Some(DEFAULT_EPS), |v| epsilon(v, name, problems))?;
            Some((LayerKind::LayerNorm { eps }, input?))
        }
        unknown => {
            let message = if unknown == "linear" && written.arguments.is_some() {
                "PyTorch's `nn.Linear` is a dense layer, written as its width (`-> 128`), or as \
                 `-> dense(128, bias = false)` for `bias=False`"
                    .to_owned()
            } else if Activation::NAMES.contains(&unknown) {
                format!(
                    "`{unknown}` is an activation, not a layer: write it after a layer, as in `-> 128 {unknown}`"
                )
            } else {
                let expected: Vec<String> = KINDS.iter().map(|k| format!("`{k}`")).collect();
                let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
                let hint = closest(unknown, &KINDS)
                    .map_or_else(String::new, |c| format!("did you mean `{c}`? "));
                format!(
                    "unknown layer kind `{unknown}`, {hint}expected a width such as `128` or one of {}",
                    one_of(&expected)
                )
            };
            problems.push(Diagnostic::new(name.range, message));
            None
        }
    }
}

/// `lstm(hidden, layers = 1)`, `gru(hidden, layers = 1)` and `rnn(hidden, nonlinearity = tanh,
/// layers = 1)`, on a vector: one time step's features.
fn recurrent(
    written: &ast::Layer,
    input: Option<Shape>,
    problems: &mut Vec<Diagnostic>,
) -> Option<(LayerKind, Shape)> {
    let name = &written.width;
    let (hidden, nonlinearity, layers) = if name.text == "rnn" {
        let [hidden, nonlinearity, layers] = arguments(
            written,
            &["hidden", "nonlinearity", "layers"],
            1,
            "rnn(32)",
            problems,
        )?;
        (hidden, nonlinearity, layers)
    } else {
        let example = format!("{}(32)", name.text);
        let [hidden, layers] = arguments(written, &["hidden", "layers"], 1, &example, problems)?;
        if let Some(Value::Symbol(word)) = layers {
            // `gru(8, relu)`, as `rnn(8, relu)` is written.
            problems.push(Diagnostic::new(
                word.range,
                format!(
                    "`{}` takes no nonlinearity (its gates' sigmoid and tanh are fixed, as in \
                     PyTorch's `nn.{}`): its second argument is `layers`, a whole number from 1 \
                     to {MAX_RECURRENT_LEVELS}, found `{}`",
                    name.text,
                    name.text.to_uppercase(),
                    word.text
                ),
            ));
            return None;
        }
        (hidden, None, layers)
    };
    let hidden = count(hidden?, "hidden", 1, problems);
    let layers = layers.map_or(Some(1), |v| levels(v, problems));
    let cell = match (name.text.as_str(), nonlinearity) {
        ("lstm", _) => Some(Cell::Lstm),
        ("gru", _) => Some(Cell::Gru),
        (_, None) => Some(Cell::Rnn { relu: false }),
        (_, Some(Value::Symbol(word))) if word.text == "tanh" || word.text == "relu" => {
            Some(Cell::Rnn {
                relu: word.text == "relu",
            })
        }
        (_, Some(value)) => {
            problems.push(Diagnostic::new(
                value.range(),
                format!(
                    "expected `tanh` or `relu` for the `nonlinearity` of `rnn`, as PyTorch's `nn.RNN`{}",
                    found(value)
                ),
            ));
            None
        }
    };
    let recurrent = Recurrent {
        cell: cell?,
        hidden: hidden?,
        layers: layers?,
    };
    let input = input?;
    if input.rank() > 1 {
        problems.push(Diagnostic::new(
            name.range,
            format!(
                "`{}` reads a vector of features at each time step, found `{input}`: a sequence network's input is the width of one time step, and each layer runs once per step",
                name.text
            ),
        ));
        return None;
    }
    Some((
        LayerKind::Recurrent(recurrent),
        Shape::vector(recurrent.hidden),
    ))
}

/// The recurrent kinds' names, then the word that makes a `conv1d` causal: what makes a
/// sequence network.
pub(crate) const STATEFUL_WORDS: [&str; 4] = ["lstm", "gru", "rnn", "causal"];

/// Whether `argument` is the positional word `causal`.
fn is_causal(argument: &ast::Argument) -> bool {
    argument.name.is_none() && matches!(&argument.value, Value::Symbol(w) if w.text == "causal")
}

/// Whether the word `causal` is among `written`'s arguments; written twice, a problem
/// (recovered: the convolution is causal either way).
fn causal(written: &ast::Layer, problems: &mut Vec<Diagnostic>) -> bool {
    let mut words = written.arguments.iter().flatten().filter(|a| is_causal(a));
    let causal = words.next().is_some();
    if let Some(again) = words.next() {
        problems.push(Diagnostic::new(
            again.range,
            "`causal` is written twice: once makes the convolution causal",
        ));
    }
    causal
}

/// Whether `layer` is written as a kind that keeps state between time steps: a recurrent kind,
/// or a convolution with the word `causal`.
pub(crate) fn is_stateful(layer: &ast::Layer) -> bool {
    STATEFUL_WORDS[..3].contains(&layer.width.text.as_str())
        || layer.arguments.iter().flatten().any(|argument| {
            // A misspelt `causal` (an error of its own) still makes the fallback a sequence
            // network's, so that the code using it adds no errors.
            argument.name.is_none()
                && matches!(&argument.value, Value::Symbol(w) if closest(&w.text, &["causal"]).is_some())
        })
}

/// `, found `relu``: the end of a message about `value`, a number or a word (a tuple is shown
/// by its range alone).
fn found(value: &Value) -> String {
    match value {
        Value::Number(word) | Value::Symbol(word) => format!(", found `{}`", word.text),
        Value::Tuple(..) => ", found a tuple".to_owned(),
    }
}

/// A recurrent layer's `layers`: 1 to [`MAX_RECURRENT_LEVELS`].
fn levels(value: &Value, problems: &mut Vec<Diagnostic>) -> Option<usize> {
    let found = match value {
        Value::Number(word) => match word.text.replace('_', "").parse::<usize>() {
            Ok(0) => {
                problems.push(Diagnostic::new(
                    word.range,
                    format!("`layers` must be at least 1, found `{}`", word.text),
                ));
                return None;
            }
            Ok(layers) if layers > MAX_RECURRENT_LEVELS => {
                problems.push(Diagnostic::new(
                    value.range(),
                    format!(
                        "a recurrent layer has at most {MAX_RECURRENT_LEVELS} stacked `layers`, found {layers}"
                    ),
                ));
                return None;
            }
            Ok(layers) => return Some(layers),
            Err(_) => found(value),
        },
        _ => found(value),
    };
    problems.push(Diagnostic::new(
        value.range(),
        format!("expected a whole number from 1 to {MAX_RECURRENT_LEVELS} for `layers`{found}"),
    ));
    None
}

/// The arguments of `conv1d` and `conv2d`, in PyTorch's order.
const CONV_ARGUMENTS: [&str; 6] = [
    "out_channels",
    "kernel",
    "stride",
    "padding",
    "dilation",
    "groups",
];

/// `Some(())` when `groups` divides both channel counts of a convolution, else the problem.
fn groups_divide(
    name: &Word,
    channels: usize,
    out_channels: usize,
    groups: usize,
    problems: &mut Vec<Diagnostic>,
) -> Option<()> {
    if channels.is_multiple_of(groups) && out_channels.is_multiple_of(groups) {
        return Some(());
    }
    problems.push(Diagnostic::new(
        name.range,
        format!(
            "`{}` with {groups} groups needs input and output channels divisible by {groups}, found {channels} input and {out_channels} output channels",
            name.text
        ),
    ));
    None
}

/// `conv2d(out_channels, kernel, stride = 1, padding = 0, dilation = 1, groups = 1)`.
fn conv2d(
    written: &ast::Layer,
    input: Option<Shape>,
    problems: &mut Vec<Diagnostic>,
) -> Option<(LayerKind, Shape)> {
    let name = &written.width;
    let [out, kernel, stride, padding, dilation, groups] =
        arguments(written, &CONV_ARGUMENTS, 2, "conv2d(6, 5)", problems)?;
    let out_channels = count(out?, "out_channels", 1, problems);
    let kernel = pair(kernel?, "kernel", 1, problems);
    let stride = stride.map_or(Some([1, 1]), |v| pair(v, "stride", 1, problems));
    let dilation = dilation.map_or(Some([1, 1]), |v| pair(v, "dilation", 1, problems));
    let groups = groups.map_or(Some(1), |v| count(v, "groups", 1, problems));
    let padding = match padding {
        None => Some([0, 0]),
        Some(Value::Symbol(word)) if word.text == "same" => {
            same(word, kernel, stride, dilation, false, problems)
        }
        Some(value) => pair(value, "padding", 0, problems),
    };
    let conv = Conv2d {
        out_channels: out_channels?,
        kernel: kernel?,
        stride: stride?,
        padding: padding?,
        dilation: dilation?,
        groups: groups?,
    };
    let [channels, height, width] = image(name, input?, problems)?;
    groups_divide(name, channels, conv.out_channels, conv.groups, problems)?;
    let Some([oh, ow]) = conv.output_size([height, width]) else {
        let span = |i: usize| conv.dilation[i] * (conv.kernel[i] - 1) + 1;
        problems.push(Diagnostic::new(
                name.range,
                format!(
                    "the kernel of `conv2d` spans {}x{} but its input, `[{height}, {width}]` padded by {:?}, is only {}x{}: use a smaller kernel or dilation, or more padding",
                    span(0),
                    span(1),
                    conv.padding,
                    height + 2 * conv.padding[0],
                    width + 2 * conv.padding[1],
                ),
            ));
        return None;
    };
    let output = shape(name, &[conv.out_channels, oh, ow], problems)?;
    Some((LayerKind::Conv2d(conv), output))
}

/// `maxpool2d(kernel, stride = kernel, padding = 0)`, and `avgpool2d` with the same arguments.
fn pool2d(
    written: &ast::Layer,
    input: Option<Shape>,
    problems: &mut Vec<Diagnostic>,
) -> Option<(LayerKind, Shape)> {
    let name = &written.width;
    let [kernel, stride, padding] = arguments(
        written,
        &["kernel", "stride", "padding"],
        1,
        &format!("{}(2)", name.text),
        problems,
    )?;
    let kernel = pair(kernel?, "kernel", 1, problems);
    let stride = stride.map_or(kernel, |v| pair(v, "stride", 1, problems));
    let padding = padding.map_or(Some([0, 0]), |v| pair(v, "padding", 0, problems));
    let pool = Pool2d {
        kernel: kernel?,
        stride: stride?,
        padding: padding?,
    };
    if pool.padding[0] * 2 > pool.kernel[0] || pool.padding[1] * 2 > pool.kernel[1] {
        problems.push(Diagnostic::new(
                name.range,
                format!(
                    "the padding of `{}` must be at most half its kernel, found padding {:?} for a kernel of {:?}",
                    name.text, pool.padding, pool.kernel
                ),
            ));
        return None;
    }
    let [channels, height, width] = image(name, input?, problems)?;
    let Some([oh, ow]) = pool.output_size([height, width]) else {
        problems.push(Diagnostic::new(
                name.range,
                format!(
                    "`{}` leaves nothing: its window of {}x{} is larger than its input, `[{height}, {width}]` padded by {:?}",
                    name.text, pool.kernel[0], pool.kernel[1], pool.padding
                ),
            ));
        return None;
    };
    let kind = if name.text == "maxpool2d" {
        LayerKind::MaxPool2d(pool)
    } else {
        LayerKind::AvgPool2d(pool)
    };
    // Padding can make the output larger than the input (`stride = 1`, `2 * padding =
    // kernel`): within the limit, as a convolution's.
    Some((kind, shape(name, &[channels, oh, ow], problems)?))
}

/// `maxpool1d(kernel, stride = kernel, padding = 0)`, and `avgpool1d` with the same arguments.
fn pool1d(
    written: &ast::Layer,
    input: Option<Shape>,
    problems: &mut Vec<Diagnostic>,
) -> Option<(LayerKind, Shape)> {
    let name = &written.width;
    let [kernel, stride, padding] = arguments(
        written,
        &["kernel", "stride", "padding"],
        1,
        &format!("{}(2)", name.text),
        problems,
    )?;
    let kernel = count(kernel?, "kernel", 1, problems);
    let stride = stride.map_or(kernel, |v| count(v, "stride", 1, problems));
    let padding = padding.map_or(Some(0), |v| count(v, "padding", 0, problems));
    let pool = Pool1d {
        kernel: kernel?,
        stride: stride?,
        padding: padding?,
    };
    if pool.padding * 2 > pool.kernel {
        problems.push(Diagnostic::new(
            name.range,
            format!(
                "the padding of `{}` must be at most half its kernel, found padding {} for a kernel of {}",
                name.text, pool.padding, pool.kernel
            ),
        ));
        return None;
    }
    let [channels, length] = sequence(name, input?, problems)?;
    let Some(out) = pool.output_size(length) else {
        problems.push(Diagnostic::new(
            name.range,
            format!(
                "`{}` leaves nothing: its window of {} is longer than its input, {length} padded by {}",
                name.text, pool.kernel, pool.padding
            ),
        ));
        return None;
    };
    let kind = if name.text == "maxpool1d" {
        LayerKind::MaxPool1d(pool)
    } else {
        LayerKind::AvgPool1d(pool)
    };
    Some((kind, shape(name, &[channels, out], problems)?))
}

/// A causal convolution's history, which lives in every stream's state, within
/// [`MAX_HISTORY`] values; otherwise a problem on its `dilation` (or its name).
fn history_fits(
    name: &Word,
    dilation: Option<&Value>,
    conv: &Conv1d,
    channels: usize,
    problems: &mut Vec<Diagnostic>,
) -> Option<()> {
    let frames = (conv.kernel as u128 - 1) * conv.dilation as u128;
    let kept = frames * channels as u128;
    if kept <= MAX_HISTORY as u128 {
        return Some(());
    }
    let unit = if channels == 1 { "channel" } else { "channels" };
    problems.push(Diagnostic::new(
        dilation.map_or(name.range, Value::range),
        format!(
            "this causal `conv1d` would keep {kept} values of each stream ((kernel - 1) * dilation = {frames} steps of {channels} {unit}), the limit is {MAX_HISTORY}"
        ),
    ));
    None
}

/// `conv1d(out_channels, kernel, stride = 1, padding = 0, dilation = 1, groups = 1)`, or with
/// the word `causal` among its arguments a causal convolution over time steps.
fn conv1d(
    written: &ast::Layer,
    input: Option<Shape>,
    problems: &mut Vec<Diagnostic>,
) -> Option<(LayerKind, Shape)> {
    let name = &written.width;
    let causal = causal(written, problems);
    let mut without_causal;
    let read = if causal {
        without_causal = written.clone();
        if let Some(arguments) = &mut without_causal.arguments {
            arguments.retain(|argument| !is_causal(argument));
        }
        &without_causal
    } else {
        written
    };
    let [out, kernel, written_stride, padding, dilation, groups] =
        arguments(read, &CONV_ARGUMENTS, 2, "conv1d(16, 5)", problems)?;
    let out_channels = count(out?, "out_channels", 1, problems);
    let kernel = count(kernel?, "kernel", 1, problems);
    let stride = written_stride.map_or(Some(1), |v| count(v, "stride", 1, problems));
    let written_dilation = dilation;
    let dilation = dilation.map_or(Some(1), |v| count(v, "dilation", 1, problems));
    let groups = groups.map_or(Some(1), |v| count(v, "groups", 1, problems));
    if causal {
        // A causal convolution pads by itself, and steps one time step at a time.
        let mut fits = true;
        for (value, what) in [(padding, "padding"), (written_stride, "stride")] {
            let Some(value) = value else { continue };
            if what == "stride" && stride == Some(1) {
                continue;
            }
            fits = false;
            problems.push(Diagnostic::new(
                value.range(),
                format!(
                    "a `causal` convolution takes no `{what}`: it reads one time step at a time, after `(kernel - 1) * dilation` steps of zeros"
                ),
            ));
        }
        let conv = Conv1d {
            out_channels: out_channels?,
            kernel: kernel?,
            stride: 1,
            padding: 0,
            dilation: dilation?,
            groups: groups?,
        };
        let input = input?;
        let Some(channels) = input.width() else {
            problems.push(Diagnostic::new(
                name.range,
                format!(
                    "a `causal` `conv1d` reads a vector of channels at each time step, found `{input}`"
                ),
            ));
            return None;
        };
        groups_divide(name, channels, conv.out_channels, conv.groups, problems)?;
        history_fits(name, written_dilation, &conv, channels, problems)?;
        let output = shape(name, &[conv.out_channels], problems)?;
        return fits.then_some((LayerKind::CausalConv1d(conv), output));
    }
    let padding = match padding {
        None => Some(0),
        Some(Value::Symbol(word)) if word.text == "same" => same(
            word,
            kernel.map(|k| [k, 1]),
            stride.map(|s| [s, 1]),
            dilation.map(|d| [d, 1]),
            true,
            problems,
        )
        .map(|[p, _]| p),
        Some(value) => count(value, "padding", 0, problems),
    };
    let conv = Conv1d {
        out_channels: out_channels?,
        kernel: kernel?,
        stride: stride?,
        padding: padding?,
        dilation: dilation?,
        groups: groups?,
    };
    let [channels, length] = sequence(name, input?, problems)?;
    groups_divide(name, channels, conv.out_channels, conv.groups, problems)?;
    let Some(out) = conv.output_size(length) else {
        problems.push(Diagnostic::new(
            name.range,
            format!(
                "the kernel of `conv1d` spans {} but its input, {length} padded by {}, is only {}: use a smaller kernel or dilation, or more padding",
                conv.dilation * (conv.kernel - 1) + 1,
                conv.padding,
                length + 2 * conv.padding,
            ),
        ));
        return None;
    };
    let output = shape(name, &[conv.out_channels, out], problems)?;
    Some((LayerKind::Conv1d(conv), output))
}

/// The `eps` of `batchnorm` and `layernorm` when none is written: PyTorch's.
pub(crate) const DEFAULT_EPS: f64 = 1e-5;

/// The `momentum` of `batchnorm` when none is written: PyTorch's.
pub(crate) const DEFAULT_MOMENTUM: f64 = 0.1;

/// The `eps` of a normalisation: a positive number that stays positive and finite as an `f32`
/// (it is added to a variance in the network's scalar type, and 0 would divide by 0).
fn epsilon(value: &Value, kind: &Word, problems: &mut Vec<Diagnostic>) -> Option<f64> {
    let Value::Number(word) = value else {
        problems.push(Diagnostic::new(
            value.range(),
            "expected a number such as `1e-5` for `eps`",
        ));
        return None;
    };
    let eps = word.text.replace('_', "").parse::<f64>().ok();
    // The rounding is what is being checked.
    #[allow(clippy::cast_possible_truncation)]
    match eps {
        Some(eps) if eps > 0.0 && (eps as f32) > 0.0 && (eps as f32).is_finite() => Some(eps),
        Some(eps) if eps > 0.0 => {
            problems.push(Diagnostic::new(
                word.range,
                format!(
                    "`eps` of `{}` must be a positive number that an `f32` holds, from {:e} to {:e}, found `{}`",
                    kind.text,
                    f32::from_bits(1),
                    f32::MAX,
                    word.text
                ),
            ));
            None
        }
        Some(_) => {
            problems.push(Diagnostic::new(
                word.range,
                format!(
                    "`eps` of `{}` must be positive (it keeps the division by the standard deviation finite), found `{}`",
                    kind.text, word.text
                ),
            ));
            None
        }
        None => {
            problems.push(Diagnostic::new(
                word.range,
                format!(
                    "expected a number such as `1e-5` for `eps`, found `{}`",
                    word.text
                ),
            ));
            None
        }
    }
}

/// `batchnorm`'s `momentum`: a number from 0 to 1, both included.
fn fraction(value: &Value, problems: &mut Vec<Diagnostic>) -> Option<f64> {
    let Value::Number(word) = value else {
        problems.push(Diagnostic::new(
            value.range(),
            "expected a number from 0 to 1 such as `0.1` for `momentum`",
        ));
        return None;
    };
    match word.text.replace('_', "").parse::<f64>() {
        Ok(m) if (0.0..=1.0).contains(&m) => Some(m),
        _ => {
            problems.push(Diagnostic::new(
                word.range,
                format!(
                    "`batchnorm` needs a `momentum` from 0 to 1, found `{}`",
                    word.text
                ),
            ));
            None
        }
    }
}

/// `dropout`'s `p`: a number from 0 (included) to 1 (excluded).
fn probability(value: &Value, problems: &mut Vec<Diagnostic>) -> Option<f64> {
    let Value::Number(word) = value else {
        problems.push(Diagnostic::new(
            value.range(),
            "expected a probability such as `0.5` for `p`",
        ));
        return None;
    };
    match word.text.replace('_', "").parse::<f64>() {
        Ok(p) if (0.0..1.0).contains(&p) => Some(p),
        _ => {
            problems.push(Diagnostic::new(
                word.range,
                format!(
                    "`dropout` needs a probability `p` with 0 <= p < 1, found `{}`",
                    word.text
                ),
            ));
            None
        }
    }
}

/// PyTorch's argument names and nn's: `kernel_size = 3` is nn's `kernel = 3`.
const PYTORCH_SPELLINGS: [(&str, &str); 3] = [
    ("kernel_size", "kernel"),
    ("num_layers", "layers"),
    ("hidden_size", "hidden"),
];

/// The recurrent kinds, the convolutions and the pools, for [`PYTORCH_ONLY`].
const RECURRENT: &[&str] = &["lstm", "gru", "rnn"];
const CONVOLUTIONS: &[&str] = &["conv1d", "conv2d"];
const POOLS: &[&str] = &["maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d"];

/// PyTorch's arguments that nn has no counterpart of, the kinds whose PyTorch modules take
/// them, and why.
const PYTORCH_ONLY: [(&str, &[&str], &str); 10] = [
    (
        "batch_first",
        RECURRENT,
        "a sequence network reads one time step at a time, so PyTorch's batch layout does not \
         apply (the weights are the same either way)",
    ),
    (
        "bidirectional",
        RECURRENT,
        "nn's recurrent layers run forward in time only",
    ),
    ("proj_size", &["lstm"], "nn's `lstm` has no projection"),
    (
        "dropout",
        RECURRENT,
        "PyTorch's dropout between recurrent levels acts in training only: leave it out",
    ),
    (
        "input_size",
        RECURRENT,
        "nn takes the input size from the layer before",
    ),
    (
        "in_channels",
        CONVOLUTIONS,
        "nn takes the channels in from the layer before",
    ),
    (
        "padding_mode",
        CONVOLUTIONS,
        "nn pads with zeros, as PyTorch's default",
    ),
    (
        "ceil_mode",
        POOLS,
        "nn's pools round their output size down, as PyTorch's default",
    ),
    (
        "num_features",
        &["batchnorm"],
        "nn takes the channels from the layer before",
    ),
    (
        "elementwise_affine",
        &["layernorm"],
        "nn calls PyTorch's `elementwise_affine` `affine`: `layernorm(affine = false)`",
    ),
];

/// What to say of `name`, not an argument of `kind` (whose arguments are `names`), when it is
/// PyTorch's.
fn pytorch_argument(name: &str, kind: &str, names: &[&str]) -> Option<String> {
    if let Some((_, ours)) = PYTORCH_SPELLINGS
        .iter()
        .find(|(theirs, ours)| *theirs == name && names.contains(ours))
    {
        return Some(format!("nn calls PyTorch's `{name}` `{ours}`"));
    }
    PYTORCH_ONLY
        .iter()
        .find(|(theirs, kinds, _)| *theirs == name && kinds.contains(&kind))
        .map(|(_, _, why)| (*why).to_owned())
}

/// The arguments of `written` by parameter: positional ones in the order of `names`, then named
/// ones; the first `required` must be given. `None` after reporting a problem with them.
fn arguments<'a, const N: usize>(
    written: &'a ast::Layer,
    names: &[&'static str; N],
    required: usize,
    example: &str,
    problems: &mut Vec<Diagnostic>,
) -> Option<[Option<&'a Value>; N]> {
    let kind = &written.width.text;
    let mut values: [Option<&Value>; N] = [None; N];
    let mut ok = true;
    let mut named_seen = false;
    for (index, argument) in written.arguments.iter().flatten().enumerate() {
        let slot = if let Some(name) = &argument.name {
            named_seen = true;
            let Some(slot) = names.iter().position(|n| *n == name.text) else {
                // The kind's flags too, which `flags` took out before this call.
                let all: Vec<&str> = names.iter().copied().chain(flags_of(kind)).collect();
                let hint = pytorch_argument(&name.text, kind, &all).map_or_else(
                    || {
                        closest(&name.text, &all)
                            .map_or_else(String::new, |c| format!("did you mean `{c}`? "))
                    },
                    |hint| format!("{hint}; "),
                );
                let expected: Vec<String> = all.iter().map(|n| format!("`{n}`")).collect();
                let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
                let message = if all.is_empty() {
                    format!("`{kind}` takes no arguments, found `{}`", name.text)
                } else {
                    format!(
                        "unknown argument `{}` of `{kind}`, {hint}expected one of {}",
                        name.text,
                        one_of(&expected)
                    )
                };
                problems.push(Diagnostic::new(name.range, message));
                ok = false;
                continue;
            };
            slot
        } else if named_seen {
            problems.push(Diagnostic::new(
                argument.range,
                format!(
                    "a positional argument of `{kind}` cannot follow a named one: name it, as in `stride = 2`"
                ),
            ));
            ok = false;
            continue;
        } else if index < N {
            index
        } else {
            problems.push(Diagnostic::new(
                argument.range,
                if N == 0 {
                    format!("`{kind}` takes no arguments")
                } else {
                    let noun = if N == 1 { "argument" } else { "arguments" };
                    format!("`{kind}` takes at most {N} {noun}, found {}", index + 1)
                },
            ));
            ok = false;
            continue;
        };
        if values[slot].is_some() {
            problems.push(Diagnostic::new(
                argument.range,
                format!("argument `{}` of `{kind}` is given twice", names[slot]),
            ));
            ok = false;
            continue;
        }
        values[slot] = Some(&argument.value);
    }
    let missing: Vec<String> = (0..required)
        .filter(|&i| values[i].is_none())
        .map(|i| format!("`{}`", names[i]))
        .collect();
    if !missing.is_empty() {
        let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
        problems.push(Diagnostic::new(
            written.width.range,
            format!(
                "`{kind}` needs {}, as in `{example}`",
                one_of(&missing).replace(" or ", " and ")
            ),
        ));
        ok = false;
    }
    ok.then_some(values)
}

/// A whole number from `min` to [`MAX_WIDTH`].
fn number(word: &Word, what: &str, min: usize, problems: &mut Vec<Diagnostic>) -> Option<usize> {
    let text = word.text.replace('_', "");
    match text.parse::<usize>() {
        Ok(n) if (min..=MAX_WIDTH).contains(&n) => Some(n),
        Ok(n) if n < min => {
            problems.push(Diagnostic::new(
                word.range,
                format!("`{what}` must be at least {min}, found `{}`", word.text),
            ));
            None
        }
        _ => {
            problems.push(Diagnostic::new(
                word.range,
                format!(
                    "expected a whole number from {min} to {MAX_WIDTH} for `{what}`, found `{}`",
                    word.text
                ),
            ));
            None
        }
    }
}

/// A number, not a pair.
fn count(value: &Value, what: &str, min: usize, problems: &mut Vec<Diagnostic>) -> Option<usize> {
    if let Value::Number(word) = value {
        number(word, what, min, problems)
    } else {
        // `conv1d(4, 3, casual)`: a misspelt `causal` is read as the next positional argument.
        let hint = match value {
            Value::Symbol(word) => closest(&word.text, &["causal"])
                .map(|c| format!(", found `{}`: did you mean `{c}`?", word.text)),
            _ => None,
        };
        problems.push(Diagnostic::new(
            value.range(),
            format!(
                "expected a whole number for `{what}`{}",
                hint.unwrap_or_default()
            ),
        ));
        None
    }
}

/// `3` as `[3, 3]`, or `(3, 5)` as `[3, 5]` (height, width).
fn pair(
    value: &Value,
    what: &str,
    min: usize,
    problems: &mut Vec<Diagnostic>,
) -> Option<[usize; 2]> {
    match value {
        Value::Number(word) => number(word, what, min, problems).map(|n| [n, n]),
        Value::Tuple(words, _) if words.len() == 2 => {
            let height = number(&words[0], what, min, problems);
            let width = number(&words[1], what, min, problems);
            Some([height?, width?])
        }
        _ => {
            problems.push(Diagnostic::new(
                value.range(),
                format!(
                    "expected a number or a pair `(height, width)` for `{what}`, such as `3` or `(3, 5)`"
                ),
            ));
            None
        }
    }
}

/// `padding = same`: the padding that keeps the size with stride 1, when it is the same on both
/// ends of each axis (an even `dilation * (kernel - 1)`).
fn same(
    word: &Word,
    kernel: Option<[usize; 2]>,
    stride: Option<[usize; 2]>,
    dilation: Option<[usize; 2]>,
    one_d: bool,
    problems: &mut Vec<Diagnostic>,
) -> Option<[usize; 2]> {
    let (kernel, stride, dilation) = (kernel?, stride?, dilation?);
    if stride != [1, 1] {
        problems.push(Diagnostic::new(
            word.range,
            "`padding = same` needs a stride of 1, as in PyTorch",
        ));
        return None;
    }
    let total = [dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)];
    if total[0] % 2 == 1 || total[1] % 2 == 1 {
        // The kernel as written: one number, or a pair.
        let kernel = if one_d {
            kernel[0].to_string()
        } else {
            format!("({}, {})", kernel[0], kernel[1])
        };
        problems.push(Diagnostic::new(
            word.range,
            format!(
                "`padding = same` with a kernel of {kernel} would pad one end more than the other, which nn does not support: use an odd kernel"
            ),
        ));
        return None;
    }
    Some([total[0] / 2, total[1] / 2])
}

/// The `[channels, height, width]` of an input that must be an image.
fn image(name: &Word, input: Shape, problems: &mut Vec<Diagnostic>) -> Option<[usize; 3]> {
    if let [c, h, w] = *input.dims() {
        return Some([c, h, w]);
    }
    let hint = if input.rank() == 1 {
        ": declare the input as a shape such as `[1, 28, 28]`"
    } else {
        ""
    };
    problems.push(Diagnostic::new(
        name.range,
        format!(
            "`{}` reads images of shape `[channels, height, width]`, found `{input}`{hint}",
            name.text
        ),
    ));
    None
}

/// The `[channels, length]` of an input that must be a sequence.
fn sequence(name: &Word, input: Shape, problems: &mut Vec<Diagnostic>) -> Option<[usize; 2]> {
    if let [c, l] = *input.dims() {
        return Some([c, l]);
    }
    let hint = if input.rank() == 1 && name.text == "conv1d" {
        ": to convolve over time steps, one vector a step, write `causal`, as in `conv1d(16, 3, causal)`"
    } else {
        ""
    };
    problems.push(Diagnostic::new(
        name.range,
        format!(
            "`{}` reads sequences of shape `[channels, length]`, found `{input}`{hint}",
            name.text
        ),
    ));
    None
}

/// A layer's output shape, within [`MAX_WIDTH`] values.
fn shape(name: &Word, dims: &[usize], problems: &mut Vec<Diagnostic>) -> Option<Shape> {
    let shape = Shape::new(dims)?;
    let elements = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if elements.is_none_or(|n| n > MAX_WIDTH) {
        problems.push(Diagnostic::new(
            name.range,
            format!(
                "the output of `{}`, `{shape}`, is too large: a layer's output may hold at most {MAX_WIDTH} values",
                name.text
            ),
        ));
        return None;
    }
    Some(shape)
}
