//! Random inputs for the property tests: declarations that must compile (with the network they
//! must compile to), syntactically valid declarations of any meaning, token soups and edits.

use nn_grammar::ast::{self, TextRange, Word};
use nn_grammar::{Activation, Network, Scalar, Unroll};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The seed CI uses, so that every run checks the same cases; `PROPTEST_RNG_SEED` picks others.
const SEED: u64 = 0x6e6e_2d67_7261_6d6d;

/// `cases` cases from a fixed seed, without writing regression files into the source tree.
/// `PROPTEST_CASES` and `PROPTEST_RNG_SEED` override both for a longer local run.
pub fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config.failure_persistence = None;
    config
}

/// Words the grammar reserves (`name = !keyword ~ ident`).
const GRAMMAR_KEYWORDS: [&str; 4] = ["struct", "pub", "as", "with"];

/// Words `check` rejects as names of structs or layers: Rust keywords, `_`, primitive types.
const RESERVED: [&str; 53] = [
    "_", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "union",
];

/// An identifier as the grammar reads one, possibly a keyword.
pub fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,7}"
}

/// An identifier that may name a struct, a layer, an option or an activation in the grammar.
pub fn grammar_name() -> impl Strategy<Value = String> {
    ident().prop_filter("a grammar keyword", |s| {
        !GRAMMAR_KEYWORDS.contains(&s.as_str())
    })
}

/// An identifier `check` accepts as the name of a struct or a layer, never `layer0`-like.
pub fn rust_name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_]{0,7}".prop_filter("a reserved word", |s| {
        !RESERVED.contains(&s.as_str())
            && !s.starts_with("layer")
            && !["bool", "char", "str"].contains(&s.as_str())
            && !(s.len() >= 2
                && ["f", "i", "u"].iter().any(|p| s.starts_with(p))
                && (s[1..].bytes().all(|b| b.is_ascii_digit()) || &s[1..] == "size"))
    })
}

/// Any numeral the grammar reads as a width or a number: `0`, `1_000`, `12.5`, `1e400`, `7px`.
pub fn numeral() -> impl Strategy<Value = String> {
    "[0-9][0-9_]{0,6}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})?[A-Za-z0-9_]{0,2}"
}

/// A doc comment's text as the parser keeps it: anything on one line that does not start with
/// `/` (`////` starts a plain comment).
pub fn doc() -> impl Strategy<Value = String> {
    "([^/\r\n][^\r\n]{0,20})?"
}

fn word(text: String) -> Word {
    Word {
        text,
        range: TextRange::default(),
    }
}

fn syntactic_activation() -> impl Strategy<Value = ast::Activation> {
    let argument =
        (any::<bool>(), numeral()).prop_map(|(minus, n)| if minus { format!("-{n}") } else { n });
    (
        grammar_name(),
        prop::option::of(prop::collection::vec(argument, 0..3)),
    )
        .prop_map(|(name, arguments)| ast::Activation {
            name: word(name),
            arguments: arguments.map(|a| a.into_iter().map(word).collect()),
            range: TextRange::default(),
        })
}

/// `5`, `(3, 5)`, `same`, each possibly named: an argument of a layer kind.
fn syntactic_argument() -> impl Strategy<Value = ast::Argument> {
    let value = prop_oneof![
        numeral().prop_map(|n| ast::Value::Number(word(n))),
        prop::collection::vec(numeral(), 0..3).prop_map(|ns| ast::Value::Tuple(
            ns.into_iter().map(word).collect(),
            TextRange::default()
        )),
        ident().prop_map(|i| ast::Value::Symbol(word(i))),
    ];
    (prop::option::of(grammar_name()), value).prop_map(|(name, value)| ast::Argument {
        name: name.map(word),
        value,
        range: TextRange::default(),
    })
}

fn syntactic_layer() -> impl Strategy<Value = ast::Layer> {
    // A width, or a kind's name with arguments in parentheses or none.
    let body = prop_oneof![
        3 => numeral().prop_map(|width| (width, None)),
        1 => (
            grammar_name(),
            prop::option::of(prop::collection::vec(syntactic_argument(), 0..4))
        ),
    ];
    (
        body,
        prop::option::of(syntactic_activation()),
        prop::option::of(grammar_name()),
    )
        .prop_map(|((width, arguments), activation, name)| ast::Layer {
            arrow: TextRange::default(),
            width: word(width),
            arguments,
            activation,
            name: name.map(word),
            range: TextRange::default(),
        })
}

fn syntactic_value() -> impl Strategy<Value = String> {
    prop_oneof![
        // A string may hold escapes, and a backslash may escape even a line break.
        "\"([^\"\\\\\r\n]|\\\\[\\s\\S]){0,12}\"",
        ("(::)?", prop::collection::vec(ident(), 1..4))
            .prop_map(|(root, parts)| format!("{root}{}", parts.join("::"))),
        numeral(),
    ]
}

/// Any declaration the parser accepts, however meaningless, with empty ranges and every word
/// in the form the parser gives it (`pub(crate)`, `-0.5`, `::a::b`).
pub fn syntactic_item() -> impl Strategy<Value = ast::Item> {
    let visibility = prop::option::of(prop::sample::select(vec![
        "pub",
        "pub(crate)",
        "pub(super)",
        "pub(self)",
    ]));
    let setting = (grammar_name(), syntactic_value()).prop_map(|(key, value)| ast::Setting {
        key: word(key),
        value: word(value),
        range: TextRange::default(),
    });
    (
        prop::collection::vec(doc(), 0..3),
        visibility,
        grammar_name(),
        prop_oneof![
            3 => numeral().prop_map(|n| (n, None)),
            1 => prop::collection::vec(numeral(), 1..5).prop_map(|sizes| (
                format!("[{}]", sizes.join(", ")),
                Some(sizes.into_iter().map(word).collect())
            )),
        ],
        prop::option::weighted(0.1, syntactic_activation()),
        prop::collection::vec(syntactic_layer(), 0..5),
        prop::collection::vec(setting, 0..4),
    )
        .prop_map(
            |(docs, visibility, name, input, input_activation, layers, settings)| ast::Item {
                docs,
                visibility: visibility.map(|v| word(v.to_owned())),
                name: word(name),
                input: word(input.0),
                input_shape: input.1,
                input_activation,
                layers,
                settings,
                range: TextRange::default(),
            },
        )
}

/// `item` with every byte range emptied, to compare items parsed from different texts.
pub fn unranged_item(item: &ast::Item) -> ast::Item {
    fn w(word: &Word) -> Word {
        Word {
            text: word.text.clone(),
            range: TextRange::default(),
        }
    }
    fn a(activation: &ast::Activation) -> ast::Activation {
        ast::Activation {
            name: w(&activation.name),
            arguments: activation
                .arguments
                .as_ref()
                .map(|args| args.iter().map(w).collect()),
            range: TextRange::default(),
        }
    }
    ast::Item {
        docs: item.docs.clone(),
        visibility: item.visibility.as_ref().map(w),
        name: w(&item.name),
        input: w(&item.input),
        input_shape: item
            .input_shape
            .as_ref()
            .map(|sizes| sizes.iter().map(w).collect()),
        input_activation: item.input_activation.as_ref().map(a),
        layers: item
            .layers
            .iter()
            .map(|l| ast::Layer {
                arrow: TextRange::default(),
                width: w(&l.width),
                arguments: l.arguments.as_ref().map(|arguments| {
                    arguments
                        .iter()
                        .map(|argument| ast::Argument {
                            name: argument.name.as_ref().map(w),
                            value: match &argument.value {
                                ast::Value::Number(n) => ast::Value::Number(w(n)),
                                ast::Value::Symbol(n) => ast::Value::Symbol(w(n)),
                                ast::Value::Tuple(ns, _) => ast::Value::Tuple(
                                    ns.iter().map(w).collect(),
                                    TextRange::default(),
                                ),
                            },
                            range: TextRange::default(),
                        })
                        .collect()
                }),
                activation: l.activation.as_ref().map(a),
                name: l.name.as_ref().map(w),
                range: TextRange::default(),
            })
            .collect(),
        settings: item
            .settings
            .iter()
            .map(|s| ast::Setting {
                key: w(&s.key),
                value: w(&s.value),
                range: TextRange::default(),
            })
            .collect(),
        range: TextRange::default(),
    }
}

/// `net` with every byte range emptied.
pub fn unranged_network(net: &Network) -> Network {
    let mut net = net.clone();
    net.name_range = TextRange::default();
    net.input_range = TextRange::default();
    net.range = TextRange::default();
    for layer in &mut net.layers {
        layer.range = TextRange::default();
    }
    if let Some((_, range)) = &mut net.weights {
        *range = TextRange::default();
    }
    net
}

/// A declaration that must compile, as the network it must compile to (ranges empty) and its
/// text, written with random spacing, comments, digit separators and option order.
#[derive(Clone, Debug)]
pub struct Valid {
    /// What `compile_item(&text)` must return, up to byte ranges.
    pub network: Network,
    /// The declaration.
    pub text: String,
}

/// One layer before rendering: its network layer and how its activation is written.
#[derive(Clone, Debug)]
struct LayerPlan {
    outputs: usize,
    activation: Activation,
    /// `leaky_relu(-0.5)` or `leaky_relu`; `None` for an implicit `linear`.
    written: Option<String>,
    name: Option<String>,
    /// `false` for `dense(N, bias = false)`.
    bias: bool,
}

fn activation_plan(last: bool) -> impl Strategy<Value = (Activation, Option<String>)> {
    let alpha = prop_oneof![
        (-10.0..10.0f64).prop_map(|x| x.to_string()),
        (1u32..1000, 1u32..40).prop_map(|(m, e)| format!("{m}e-{e}")),
        Just("0.5".to_owned()),
        Just("2".to_owned()),
    ];
    let mut names: Vec<&str> = Activation::NAMES.to_vec();
    if !last {
        names.retain(|n| !n.ends_with("softmax"));
    }
    (
        prop::sample::select(names),
        prop::option::of(alpha),
        any::<bool>(),
    )
        .prop_map(|(name, alpha, implicit)| {
            let parse = |text: &str| text.parse::<f64>().expect("generated alpha");
            match (name, alpha) {
                ("linear", _) if implicit => (Activation::Linear, None),
                ("leaky_relu", Some(text)) => (
                    Activation::LeakyRelu {
                        alpha: parse(&text),
                    },
                    Some(format!("leaky_relu({text})")),
                ),
                ("leaky_relu", None) => (
                    Activation::LeakyRelu { alpha: 0.01 },
                    Some("leaky_relu".to_owned()),
                ),
                ("elu", Some(text)) => {
                    // `elu` needs a positive alpha.
                    let text = text.trim_start_matches('-').to_owned();
                    let alpha = parse(&text);
                    if alpha > 0.0 {
                        (Activation::Elu { alpha }, Some(format!("elu({text})")))
                    } else {
                        (Activation::Elu { alpha: 1.0 }, Some("elu".to_owned()))
                    }
                }
                ("elu", None) => (Activation::Elu { alpha: 1.0 }, Some("elu".to_owned())),
                (other, _) => {
                    let activation = match other {
                        "linear" => Activation::Linear,
                        "relu" => Activation::Relu,
                        "sigmoid" => Activation::Sigmoid,
                        "tanh" => Activation::Tanh,
                        "silu" => Activation::Silu,
                        "gelu" => Activation::Gelu,
                        "gelu_tanh" => Activation::GeluTanh,
                        "softplus" => Activation::Softplus,
                        "softmax" => Activation::Softmax,
                        _ => Activation::LogSoftmax,
                    };
                    (activation, Some(other.to_owned()))
                }
            }
        })
}

/// A width as a number of neurons, mostly small, sometimes up to 4096 (six layers of 4096
/// stay under the parameter limit).
fn width() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 1usize..=64, 1 => 1usize..=4096]
}

fn layers_plan() -> impl Strategy<Value = Vec<LayerPlan>> {
    (1usize..=6).prop_flat_map(|count| {
        let layers: Vec<_> = (0..count)
            .map(|index| {
                (
                    width(),
                    activation_plan(index + 1 == count),
                    prop::option::weighted(0.4, rust_name()),
                    prop::bool::weighted(0.75),
                )
                    .prop_map(|(outputs, (activation, written), name, bias)| {
                        LayerPlan {
                            outputs,
                            activation,
                            written,
                            name,
                            bias,
                        }
                    })
            })
            .collect();
        layers.prop_map(|mut layers| {
            // Names must be unique: drop repeats.
            let mut seen = Vec::new();
            for layer in &mut layers {
                if let Some(name) = &layer.name {
                    if seen.contains(name) {
                        layer.name = None;
                    } else {
                        seen.push(name.clone());
                    }
                }
            }
            layers
        })
    })
}

/// A width as written: plain or with `_` separators anywhere after the first digit.
fn write_width(n: usize, separators: u8) -> String {
    let digits = n.to_string();
    let mut text = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && separators & (1 << (i % 8)) != 0 {
            text.push('_');
        }
        text.push(c);
    }
    text
}

/// Space between tokens: a blank, a line break, a tab or a comment.
fn gap(choice: u8) -> &'static str {
    match choice % 8 {
        0..=2 => " ",
        3 => "\n  ",
        4 => "\t",
        5 => " /* a comment -> 3 */ ",
        6 => " // a line comment\n",
        _ => "  ",
    }
}

/// What a valid declaration sets after `with`, before rendering.
#[derive(Clone, Debug)]
struct OptionsPlan {
    /// `scalar = f64` (true) or `f32` (false), or nothing.
    f64_scalar: Option<bool>,
    /// `unroll = full` (true) or `loops` (false), or nothing.
    full: Option<bool>,
    runtime: Option<&'static str>,
    weights: Option<String>,
    /// Rotates the order of the options.
    order: usize,
}

fn options_plan() -> impl Strategy<Value = OptionsPlan> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(vec![
            "::nn",
            "nn",
            "my_crate::nn",
            "::a::b::c",
        ])),
        prop::option::of("[a-z]{1,6}( [a-z]{1,4})?\\.safetensors"),
        0usize..4,
    )
        .prop_map(|(f64_scalar, full, runtime, weights, order)| OptionsPlan {
            f64_scalar,
            full,
            runtime,
            weights,
            order,
        })
}

/// The checked layers `plan` describes.
fn layers_of(inputs: usize, plan: &[LayerPlan]) -> Vec<nn_grammar::Layer> {
    let mut previous = inputs;
    plan.iter()
        .enumerate()
        .map(|(index, step)| {
            let mut layer = nn_grammar::Layer::dense(
                step.name.clone().unwrap_or_else(|| format!("layer{index}")),
                step.name.is_some(),
                previous,
                step.outputs,
                step.activation,
                TextRange::default(),
            );
            layer.bias = step.bias;
            previous = step.outputs;
            layer
        })
        .collect()
}

/// Writes the declaration, with `noise` choosing the gaps and digit separators.
fn render(network: &Network, plan: &[LayerPlan], options: &OptionsPlan, noise: &[u8]) -> String {
    let mut noise = noise.iter().copied().cycle();
    let mut next = || noise.next().unwrap_or(0);
    let mut text = String::new();
    for d in &network.docs {
        text.push_str("///");
        text.push_str(d);
        text.push('\n');
    }
    if !network.visibility.is_empty() {
        text.push_str(&network.visibility);
        text.push_str(gap(next()));
    }
    for piece in ["struct", &network.name, "="] {
        text.push_str(piece);
        text.push_str(gap(next()));
    }
    text.push_str(&write_width(network.input.elements(), next()));
    for step in plan {
        text.push_str(gap(next()));
        text.push_str("->");
        text.push_str(gap(next()));
        if step.bias {
            text.push_str(&write_width(step.outputs, next()));
        } else {
            for piece in [
                "dense(",
                &write_width(step.outputs, next()),
                ",",
                gap(next()),
            ] {
                text.push_str(piece);
            }
            text.push_str("bias = false)");
        }
        if let Some(written) = &step.written {
            text.push_str(gap(next()));
            text.push_str(written);
        }
        if let Some(layer_name) = &step.name {
            for piece in ["as", layer_name] {
                text.push_str(gap(next()));
                text.push_str(piece);
            }
        }
    }
    let mut settings: Vec<String> = Vec::new();
    if let Some(f64_scalar) = options.f64_scalar {
        settings.push(format!(
            "scalar = {}",
            if f64_scalar { "f64" } else { "f32" }
        ));
    }
    if let Some(full) = options.full {
        settings.push(format!("unroll = {}", if full { "full" } else { "loops" }));
    }
    if let Some(path) = options.runtime {
        settings.push(format!("crate = {path}"));
    }
    if let Some(file) = &options.weights {
        settings.push(format!("weights = \"{file}\""));
    }
    if !settings.is_empty() {
        // Options may come in any order.
        let turn = options.order % settings.len();
        settings.rotate_left(turn);
        text.push_str(gap(next()));
        text.push_str("with ");
        text.push_str(&settings.join(", "));
    }
    text.push_str(gap(next()));
    text.push(';');
    text
}

/// Declarations that must compile, with the network each must compile to.
pub fn valid() -> impl Strategy<Value = Valid> {
    let visibility = prop::option::of(prop::sample::select(vec![
        "pub",
        "pub(crate)",
        "pub(super)",
        "pub(self)",
    ]));
    (
        prop::collection::vec(doc(), 0..3),
        visibility,
        rust_name(),
        width(),
        layers_plan(),
        options_plan(),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(
            |(docs, visibility, name, inputs, plan, mut options, noise)| {
                let layers = layers_of(inputs, &plan);
                let macs: usize = layers.iter().map(nn_grammar::Layer::multiply_adds).sum();
                // `unroll = full` only where it is allowed.
                if macs > nn_grammar::network::MAX_FULL_UNROLL && options.full == Some(true) {
                    options.full = None;
                }
                let network = Network {
                    docs,
                    visibility: visibility.unwrap_or_default().to_owned(),
                    name,
                    name_range: TextRange::default(),
                    input: nn_grammar::Shape::vector(inputs),
                    input_range: TextRange::default(),
                    layers,
                    scalar: if options.f64_scalar == Some(true) {
                        Scalar::F64
                    } else {
                        Scalar::F32
                    },
                    unroll: if options.full == Some(true) {
                        Unroll::Full
                    } else {
                        Unroll::Loops
                    },
                    runtime: options.runtime.map(str::to_owned),
                    weights: options.weights.clone().map(|w| (w, TextRange::default())),
                    quantize: Vec::new(),
                    range: TextRange::default(),
                };
                let text = render(&network, &plan, &options, &noise);
                Valid { network, text }
            },
        )
}

/// Pieces of the language and of what users mistype, for token soups and edits.
pub const VOCABULARY: [&str; 81] = [
    "pub",
    "pub(crate)",
    "(",
    ")",
    "crate",
    "super",
    "self",
    "struct",
    "Net",
    "A",
    "_x",
    "_",
    "=",
    "->",
    "-",
    ">",
    ";",
    ",",
    "with",
    "as",
    "0",
    "1",
    "128",
    "1_000",
    "12.5",
    "1e3",
    "1e400",
    "99999999999999999999",
    "0x10",
    "1048576",
    "1048577",
    "4096",
    "relu",
    "rleu",
    "softmax",
    "log_softmax",
    "leaky_relu",
    "elu",
    "linear",
    "sigmoid",
    "tanh",
    "silu",
    "gelu",
    "gelu_tanh",
    "softplus",
    "scalar",
    "f32",
    "f64",
    "unroll",
    "loops",
    "full",
    "weights",
    "\"w.safetensors\"",
    "\"",
    "\\",
    "::",
    "nn",
    "///",
    "//",
    "/*",
    "*/",
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "é",
    "😀",
    "\u{0}",
    "#",
    "[",
    "]",
    "{",
    "}",
    "'",
    "\u{200b}",
    "fn",
    "Self",
    "layer0",
    "-0.5",
    "1e-50",
];

/// A sequence of vocabulary words, each followed by a space or nothing.
pub fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (prop::sample::select(VOCABULARY.to_vec()), any::<bool>()),
        0..40,
    )
    .prop_map(|tokens| {
        let mut text = String::new();
        for (token, space) in tokens {
            text.push_str(token);
            if space {
                text.push(' ');
            }
        }
        text
    })
}

/// One edit of a text, positions given as fractions of its length in characters.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Remove `len` characters.
    Delete { at: u16, len: u8 },
    /// Insert a vocabulary word.
    Insert { at: u16, word: usize },
    /// Replace `len` characters by a vocabulary word.
    Replace { at: u16, len: u8, word: usize },
    /// Copy `len` characters to another place.
    Duplicate { from: u16, len: u8, to: u16 },
    /// Insert any character.
    Char { at: u16, c: char },
}

/// Random edits.
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let word = 0..VOCABULARY.len();
    let edit = prop_oneof![
        (any::<u16>(), 1u8..8).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<u16>(), word.clone()).prop_map(|(at, word)| Edit::Insert { at, word }),
        (any::<u16>(), 1u8..6, word).prop_map(|(at, len, word)| Edit::Replace { at, len, word }),
        (any::<u16>(), 1u8..20, any::<u16>()).prop_map(|(from, len, to)| Edit::Duplicate {
            from,
            len,
            to
        }),
        (any::<u16>(), any::<char>()).prop_map(|(at, c)| Edit::Char { at, c }),
    ];
    prop::collection::vec(edit, 1..5)
}

/// `text` after `edits`, which never split a character.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let place = |at: u16, len: usize| usize::from(at) * (len + 1) / (usize::from(u16::MAX) + 1);
    for edit in edits {
        let n = chars.len();
        match *edit {
            Edit::Delete { at, len } => {
                let start = place(at, n);
                let end = (start + usize::from(len)).min(n);
                chars.drain(start..end);
            }
            Edit::Insert { at, word } => {
                let start = place(at, n);
                chars.splice(start..start, VOCABULARY[word].chars());
            }
            Edit::Replace { at, len, word } => {
                let start = place(at, n);
                let end = (start + usize::from(len)).min(n);
                chars.splice(start..end, VOCABULARY[word].chars());
            }
            Edit::Duplicate { from, len, to } => {
                let start = place(from, n);
                let end = (start + usize::from(len)).min(n);
                let copied: Vec<char> = chars[start..end].to_vec();
                let to = place(to, n);
                chars.splice(to..to, copied);
            }
            Edit::Char { at, c } => {
                let start = place(at, n);
                chars.insert(start, c);
            }
        }
    }
    chars.into_iter().collect()
}
