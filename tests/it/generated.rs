//! Random networks through the whole pipeline. A deterministic generator writes random
//! declarations (widths up to 64, depth up to 6, every activation, `f32` and `f64`, some with
//! `unroll = full`; and networks with a shaped input through every other layer kind, with
//! random strides, paddings, dilations and groups):
//!
//! - from random seeds, each must compile and expand to tokens that parse as a Rust file;
//! - from fixed seeds, 24 networks of vectors and 16 shaped ones are committed in
//!   `generated_networks.rs`, compiled into this test binary, and their `forward` must agree
//!   with the evaluator on random weights and inputs (1e-5 in `f32`, 1e-12 in `f64`). A test
//!   regenerates the file, so it cannot go stale: bless a change of the generator with
//!   `UPDATE_EXPECT=1 cargo test --test it generated`.

use crate::evaluator::{close, evaluate, weights_of};
use nn::Scalar;
use nn_grammar::network::MAX_FULL_UNROLL;
use proc_macro2::{Span, TokenStream};
use proptest::prelude::*;
use std::fmt::Write as _;

/// The seed of the committed networks.
const SEED: u64 = 0x0067_656e_6e65_7473;
/// The seed of the committed networks with a shaped input (the first after 0x...03 whose set
/// covers every kind and activation, as the test checks, once `gelu_tanh` joined them).
const SHAPED_SEED: u64 = 0x0073_6861_7065_6406;
/// The seed of the choices of `bias = false` in the networks with a shaped input: a stream of
/// its own, so that the other choices stay as they were.
const BIAS_SEED: u64 = 0x0062_6961_7300_0001;
/// How many networks of vectors the committed file holds.
const NETWORKS: usize = 24;
/// How many networks with a shaped input follow them.
const SHAPED: usize = 16;

/// SplitMix64, for the test binary's random data. A copy of our own, so that the committed file
/// and the test data do not change when the runtime's initialisation does.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).expect("below n")
    }

    /// Uniform in `[-1, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// Uniform in `[lo, hi)`, with 53 random bits.
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * unit
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// What a random declaration may use.
#[derive(Clone, Copy)]
pub struct Limits {
    /// Largest width.
    pub width: usize,
    /// Most layers.
    pub depth: usize,
    /// Percent of `scalar = f64`.
    pub f64_percent: usize,
    /// Percent of `unroll = full`, where the multiply-adds allow it.
    pub full_percent: usize,
    /// Whether alphas may be huge (`1e300`, for `f64` networks) or tiny.
    pub extreme_alphas: bool,
}

/// Every activation, the two that normalise a layer last.
const ACTIVATIONS: [&str; 12] = nn_grammar::Activation::NAMES;

/// Layer names that are also what generated code binds or calls (`input`, `forward`, `net`),
/// or paths it uses (`core`, `nn`), and `x`, `w`, `b`, which a fully unrolled layer binds.
const NAMES: [&str; 23] = [
    "hidden", "encoder", "out", "input", "output", "inputs", "outputs", "y", "forward", "summary",
    "net", "layers", "f", "core", "nn", "random", "zeroed", "weights", "bias", "self_", "x", "w",
    "b",
];

/// A random declaration of a network called `name` that must compile.
pub fn random_declaration(rng: &mut Rng, name: &str, limits: Limits) -> String {
    let depth = 1 + rng.below(limits.depth);
    let inputs = 1 + rng.below(limits.width);
    let widths: Vec<usize> = (0..depth).map(|_| 1 + rng.below(limits.width)).collect();
    let f64_scalar = rng.percent(limits.f64_percent);
    let macs: usize = std::iter::once(inputs)
        .chain(widths.iter().copied())
        .zip(&widths)
        .map(|(a, b)| a * b)
        .sum();
    let full = macs <= MAX_FULL_UNROLL && rng.percent(limits.full_percent);

    let visibility = ["pub ", "pub(crate) ", ""][rng.below(3)];
    let mut text = format!("{visibility}struct {name} = {inputs}");
    let mut used: Vec<&str> = Vec::new();
    for (index, width) in widths.iter().enumerate() {
        let last = index + 1 == depth;
        let _ = write!(text, " -> {width}");
        let mut activation = ACTIVATIONS[rng.below(ACTIVATIONS.len())];
        while activation.ends_with("softmax") && !last {
            activation = ACTIVATIONS[rng.below(ACTIVATIONS.len())];
        }
        match activation {
            "leaky_relu" | "elu" => {
                text.push(' ');
                text.push_str(activation);
                if rng.percent(70) {
                    let alpha = if limits.extreme_alphas && f64_scalar && rng.percent(20) {
                        "1e300".to_owned()
                    } else if limits.extreme_alphas && rng.percent(20) {
                        "1e-30".to_owned()
                    } else {
                        let thousandths = rng.below(3000) + 1;
                        format!("{}", thousandths as f64 / 1000.0)
                    };
                    let sign = if activation == "leaky_relu" && rng.percent(30) {
                        "-"
                    } else {
                        ""
                    };
                    let _ = write!(text, "({sign}{alpha})");
                }
            }
            // `linear` is the default: write it only sometimes.
            "linear" if rng.percent(50) => {}
            other => {
                text.push(' ');
                text.push_str(other);
            }
        }
        if rng.percent(30) {
            let name = NAMES[rng.below(NAMES.len())];
            if !used.contains(&name) {
                used.push(name);
                let _ = write!(text, " as {name}");
            }
        }
    }
    let mut options = Vec::new();
    if f64_scalar {
        options.push("scalar = f64");
    }
    if full {
        options.push("unroll = full");
    }
    if rng.percent(10) {
        options.push("crate = ::nn");
    }
    if !options.is_empty() {
        let _ = write!(text, " with {}", options.join(", "));
    }
    text.push(';');
    text
}

/// A random declaration with a shaped input (`[C, L]` or `[C, H, W]`, small): one to three
/// layers that keep a feature map (convolutions with any stride, padding, dilation and groups,
/// the pools, `dropout`, `batchnorm`, `layernorm`), then `flatten` or a global pool, then one or two dense layers. Every
/// size is worked out here, so that the declaration compiles.
/// A quarter of the convolutions and dense layers are declared with `bias = false`, and a quarter
/// of the normalisations with `affine = false` (or a layernorm with `bias = false`), drawn from
/// `bias`.
pub fn random_shaped_declaration(
    rng: &mut Rng,
    bias: &mut Rng,
    name: &str,
    f64_scalar: bool,
) -> String {
    let two_d = rng.percent(50);
    let mut channels = 1 + rng.below(4);
    let mut sizes: Vec<usize> = if two_d {
        vec![3 + rng.below(8), 3 + rng.below(8)]
    } else {
        vec![4 + rng.below(17)]
    };
    let mut text = format!("struct {name} = [{channels}, {}]", list(&sizes));
    let suffix = if two_d { "2d" } else { "1d" };
    for _ in 0..=rng.below(3) {
        let choice = rng.below(12);
        if choice < 6 {
            random_convolution(rng, &mut text, &mut channels, &mut sizes);
            if bias.percent(25) {
                text.insert_str(text.len() - 1, ", bias = false");
            }
        } else if choice < 9 {
            let kind = if rng.percent(50) { "max" } else { "avg" };
            let smallest = sizes.iter().copied().min().unwrap_or(1).min(3);
            let k = if smallest < 2 {
                1
            } else {
                2 + rng.below(smallest - 1)
            };
            let p = rng.below(k / 2 + 1);
            let s = 1 + rng.below(k);
            for size in &mut sizes {
                *size = (*size + 2 * p - k) / s + 1;
            }
            let _ = write!(text, " -> {kind}pool{suffix}({k}");
            if s != k {
                let _ = write!(text, ", stride = {s}");
            }
            if p > 0 {
                let _ = write!(text, ", padding = {p}");
            }
            text.push(')');
        } else if choice == 9 {
            text.push_str(" -> dropout(0.25)");
        } else {
            let kind = if choice == 10 {
                "batchnorm"
            } else {
                "layernorm"
            };
            let eps = ["", "(1e-3)", "(eps = 0.5)"][rng.below(3)];
            let _ = write!(text, " -> {kind}{eps}");
            // Without their weight and bias, or (layernorm) without its bias.
            let flag = match bias.below(4) {
                0 => Some("affine = false"),
                1 if kind == "layernorm" => Some("bias = false"),
                _ => None,
            };
            if let Some(flag) = flag {
                if eps.is_empty() {
                    let _ = write!(text, "({flag})");
                } else {
                    text.insert_str(text.len() - 1, &format!(", {flag}"));
                }
            }
        }
        // Not the two that normalise, which come last.
        let activation = ACTIVATIONS[rng.below(ACTIVATIONS.len() - 2)];
        if activation != "linear" {
            let _ = write!(text, " {activation}");
        }
    }
    match rng.below(3) {
        0 => text.push_str(" -> global_avgpool"),
        1 => text.push_str(" -> global_maxpool"),
        _ => text.push_str(" -> flatten"),
    }
    for _ in 0..=rng.below(2) {
        let activation = ACTIVATIONS[rng.below(ACTIVATIONS.len())];
        let outputs = 1 + rng.below(16);
        if bias.percent(25) {
            let _ = write!(text, " -> dense({outputs}, bias = false)");
        } else {
            let _ = write!(text, " -> {outputs}");
        }
        if activation.ends_with("softmax") {
            // Only the last layer may normalise: stop here.
            let _ = write!(text, " {activation}");
            break;
        }
        if activation != "linear" {
            let _ = write!(text, " {activation}");
        }
    }
    if f64_scalar {
        text.push_str(" with scalar = f64");
    }
    text.push(';');
    text
}

/// `3, 5`.
fn list(values: &[usize]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One value for every axis (`3`), or a pair when they differ (`(3, 5)`).
fn written(values: &[usize]) -> String {
    if values.iter().all(|&v| v == values[0]) {
        values[0].to_string()
    } else {
        format!("({})", list(values))
    }
}

/// Appends a random `conv1d` or `conv2d` (by the rank of `sizes`) to `text`, updating the
/// channels and sizes of the map.
fn random_convolution(rng: &mut Rng, text: &mut String, channels: &mut usize, sizes: &mut [usize]) {
    let suffix = if sizes.len() == 2 { "2d" } else { "1d" };
    let groups = (1..=*channels)
        .filter(|g| channels.is_multiple_of(*g))
        .nth(rng.below(2))
        .unwrap_or(1);
    let out = groups * (1 + rng.below(3));
    let mut kernel = Vec::new();
    let mut stride = Vec::new();
    let mut padding = Vec::new();
    let mut dilation = Vec::new();
    for size in sizes.iter_mut() {
        let k = if rng.percent(20) { 1 } else { 2 + rng.below(2) };
        let p = rng.below(k / 2 + 1);
        let s = 1 + rng.below(2);
        let mut d = 1 + rng.below(2);
        if d * (k - 1) + 1 > *size + 2 * p {
            d = 1;
        }
        let k = if (k - 1) + 1 > *size + 2 * p { 1 } else { k };
        *size = (*size + 2 * p - (d * (k - 1) + 1)) / s + 1;
        kernel.push(k);
        stride.push(s);
        padding.push(p);
        dilation.push(d);
    }
    let _ = write!(*text, " -> conv{suffix}({out}, {}", written(&kernel));
    for (option, values, default) in [
        ("stride", &stride, 1),
        ("padding", &padding, 0),
        ("dilation", &dilation, 1),
    ] {
        if values.iter().any(|&v| v != default) {
            let _ = write!(*text, ", {option} = {}", written(values));
        }
    }
    if groups > 1 {
        let _ = write!(*text, ", groups = {groups}");
    }
    text.push(')');
    *channels = out;
}

/// The limits of the committed networks: every fourth network is `f64`, and every fifth
/// fully unrolled (with widths up to 12, to keep the compile quick).
fn committed_limits(index: usize) -> Limits {
    let full = index.is_multiple_of(5);
    Limits {
        width: if full { 12 } else { 64 },
        depth: if full { 3 } else { 6 },
        f64_percent: if (index + 1).is_multiple_of(4) {
            100
        } else {
            0
        },
        full_percent: if full { 100 } else { 0 },
        extreme_alphas: false,
    }
}

/// The text of `generated_networks.rs`.
pub fn generate() -> String {
    let mut rng = Rng::new(SEED);
    let mut declarations = Vec::new();
    for index in 0..NETWORKS {
        let name = format!("Gen{index:02}");
        declarations.push((
            name.clone(),
            random_declaration(&mut rng, &name, committed_limits(index)),
        ));
    }
    // Their own stream, so that adding kinds leaves the networks of vectors as they are.
    let mut rng = Rng::new(SHAPED_SEED);
    let mut bias = Rng::new(BIAS_SEED);
    for index in NETWORKS..NETWORKS + SHAPED {
        let name = format!("Gen{index:02}");
        let f64_scalar = (index + 1).is_multiple_of(4);
        declarations.push((
            name.clone(),
            random_shaped_declaration(&mut rng, &mut bias, &name, f64_scalar),
        ));
    }
    let mut file = String::from(
        "//! Generated by `generated::generate()` in `generated.rs`: do not edit. Regenerate with\n\
         //! `UPDATE_EXPECT=1 cargo test --test it generated`.\n\n\
         use crate::generated::Visit;\n",
    );
    for (index, (_, declaration)) in declarations.iter().enumerate() {
        let _ = write!(
            file,
            "\nnn::network! {{\n    /// Random network {index}.\n    {declaration}\n}}\n"
        );
    }
    file.push_str(
        "\n/// Calls `visit` with every network above.\n\
         #[allow(clippy::too_many_lines)] // one call per network\n\
         #[rustfmt::skip] // one line per network, however long\n\
         pub fn visit_all(visit: &mut impl Visit) {\n",
    );
    for (name, declaration) in &declarations {
        let _ = writeln!(file, "    visit.network({declaration:?}, {name}::random);");
    }
    file.push_str("}\n");
    file
}

/// A network's `forward` on vectors, as a function pointer.
pub type Forward<N, const IN: usize, const OUT: usize> =
    fn(&N, &[<N as nn::Network>::Scalar; IN]) -> [<N as nn::Network>::Scalar; OUT];

/// What `generated_networks.rs` calls for each of its networks.
pub trait Visit {
    /// One network: its declaration and its `random`.
    fn network<N: nn::Network>(&mut self, declaration: &str, random: fn(u64) -> Box<N>);
}

/// The runtime's description of a grammar activation.
fn runtime_activation(activation: nn_grammar::Activation) -> nn::Activation {
    use nn_grammar::Activation as A;
    match activation {
        A::Linear => nn::Activation::Linear,
        A::Relu => nn::Activation::Relu,
        A::LeakyRelu { alpha } => nn::Activation::LeakyRelu(alpha),
        A::Elu { alpha } => nn::Activation::Elu(alpha),
        A::Sigmoid => nn::Activation::Sigmoid,
        A::Tanh => nn::Activation::Tanh,
        A::Silu => nn::Activation::Silu,
        A::Gelu => nn::Activation::Gelu,
        A::GeluTanh => nn::Activation::GeluTanh,
        A::Softplus => nn::Activation::Softplus,
        A::Softmax => nn::Activation::Softmax,
        A::LogSoftmax => nn::Activation::LogSoftmax,
    }
}

/// Runs a generated network and the evaluator on the same weights and inputs.
#[derive(Default)]
pub struct Compare {
    /// Networks seen, by scalar type: `f32`, `f64`, and fully unrolled.
    pub counts: [usize; 3],
    /// Activations seen.
    pub activations: Vec<&'static str>,
    /// Layer kinds seen.
    pub kinds: Vec<&'static str>,
    /// Largest relative difference seen, `f32` and `f64`.
    pub worst: [f64; 2],
}

impl Visit for Compare {
    fn network<N: nn::Network>(&mut self, declaration: &str, random: fn(u64) -> Box<N>) {
        let spec = nn_grammar::compile_item(declaration)
            .unwrap_or_else(|ds| panic!("{declaration}: {ds:?}"));
        check_description::<N>(&spec);
        let is_f64 = N::Scalar::NAME == "f64";
        self.counts[usize::from(is_f64)] += 1;
        if spec.unroll == nn_grammar::Unroll::Full {
            self.counts[2] += 1;
        }
        for layer in &spec.layers {
            if !self.kinds.contains(&layer.kind.name()) {
                self.kinds.push(layer.kind.name());
            }
        }
        for layer in &spec.layers {
            if !self.activations.contains(&layer.activation.name()) {
                self.activations.push(layer.activation.name());
            }
        }
        let tolerance = if is_f64 { 1e-12 } else { 1e-5 };
        for seed in 0..2 {
            let mut net = random(seed);
            // Normalisations start as the identity (ones and zeros), dense biases at zero: give
            // every such tensor values that test something (a variance stays positive).
            let mut values_rng = Rng::new(seed ^ 0xba5e);
            net.for_each_tensor_mut(|_, tensor, values| {
                if tensor.init != nn::Init::Uniform && tensor.role != nn::Role::Counter {
                    for value in values {
                        *value = N::Scalar::from_f64(if tensor.name == "running_var" {
                            values_rng.uniform_in(0.25, 2.0)
                        } else {
                            values_rng.uniform()
                        });
                    }
                }
            });
            let weights = weights_of(&*net);
            let mut rng = Rng::new(seed ^ 0x5eed);
            for _ in 0..4 {
                let input: Vec<N::Scalar> = (0..N::INPUTS)
                    .map(|_| N::Scalar::from_f64(rng.uniform()))
                    .collect();
                // Through `forward`, its arrays cut from the slices.
                let mut output = vec![N::Scalar::from_f64(0.0); N::OUTPUTS];
                net.forward_slice(&input, &mut output)
                    .unwrap_or_else(|e| panic!("{declaration}: {e}"));
                let input: Vec<f64> = input.iter().map(|x| x.to_f64()).collect();
                let expected = evaluate(&spec, &weights, &input);
                for (o, (found, expected)) in output.iter().zip(&expected).enumerate() {
                    let found = found.to_f64();
                    assert!(
                        close(found, *expected, tolerance),
                        "{declaration}: output {o} is {found}, the evaluator says {expected}"
                    );
                    let error = (found - expected).abs() / expected.abs().max(1.0);
                    let worst = &mut self.worst[usize::from(is_f64)];
                    *worst = worst.max(error);
                }
            }
        }
    }
}

/// The network's self-description (`nn::Network`) matches what the grammar checked.
fn check_description<N: nn::Network>(spec: &nn_grammar::Network) {
    assert_eq!(N::NAME, spec.name);
    assert_eq!(N::INPUTS, spec.input.elements());
    assert_eq!(N::OUTPUTS, spec.output().elements());
    assert_eq!(N::PARAMETERS, spec.parameters());
    assert_eq!(N::LAYERS.len(), spec.layers.len());
    for (info, layer) in N::LAYERS.iter().zip(&spec.layers) {
        assert_eq!(info.name, layer.name);
        assert_eq!(
            (info.input, info.output),
            (layer.input.dims(), layer.output.dims())
        );
        assert_eq!(info.parameters(), layer.parameters());
        assert_eq!(info.activation, runtime_activation(layer.activation));
    }
    assert_eq!(<N::Scalar as Scalar>::NAME, spec.scalar.name());
}

#[test]
fn generated_networks_are_fresh() {
    expect_test::expect_file!["generated_networks.rs"].assert_eq(&generate());
}

#[test]
fn generated_networks_match_the_evaluator() {
    let mut compare = Compare::default();
    crate::generated_networks::visit_all(&mut compare);
    // The committed set covers what it claims to.
    let [f32s, f64s, full] = compare.counts;
    assert_eq!(f32s + f64s, NETWORKS + SHAPED);
    assert!(f64s >= 5 && full >= 4, "{f64s} f64, {full} fully unrolled");
    let mut seen = compare.activations.clone();
    seen.sort_unstable();
    let mut all = nn_grammar::Activation::NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(seen, all, "every activation appears");
    let mut kinds = compare.kinds.clone();
    kinds.sort_unstable();
    // Every kind of single-sample network: the recurrent kinds make sequence networks, with a
    // state, checked against PyTorch and onnxruntime instead (`recurrent.rs`, and the
    // runtime's `tests/it/recurrent.rs`).
    let mut expected: Vec<&str> = nn_grammar::KINDS
        .into_iter()
        .filter(|kind| !["lstm", "gru", "rnn"].contains(kind))
        .collect();
    expected.sort_unstable();
    assert_eq!(kinds, expected, "every layer kind appears");
    eprintln!(
        "largest relative difference: f32 {:e}, f64 {:e}",
        compare.worst[0], compare.worst[1]
    );
}

/// Expands `net` as `nnc` would: no macro spans.
fn expand(net: &nn_grammar::Network) -> TokenStream {
    nn_codegen::expand(net, TokenStream::new(), &|_| Span::call_site())
}

proptest! {
    #![proptest_config(crate::cases::config(128))]

    /// Random networks (widths up to 64, depth up to 6, any activation and alpha, options in
    /// any combination; some with a shaped input and any layer kind) compile and expand to a
    /// Rust file that parses.
    #[test]
    fn random_networks_expand_to_rust(seed in any::<u64>()) {
        let limits = Limits {
            width: 64,
            depth: 6,
            f64_percent: 40,
            full_percent: 50,
            extreme_alphas: true,
        };
        let mut rng = Rng::new(seed);
        let declaration = if rng.percent(30) {
            let f64_scalar = rng.percent(40);
            let mut bias = Rng::new(seed ^ BIAS_SEED);
            random_shaped_declaration(&mut rng, &mut bias, "Net", f64_scalar)
        } else {
            random_declaration(&mut rng, "Net", limits)
        };
        let net = nn_grammar::compile_item(&declaration)
            .unwrap_or_else(|ds| panic!("{declaration}: {ds:?}"));
        let tokens = expand(&net);
        let file = syn::parse2::<syn::File>(tokens)
            .unwrap_or_else(|e| panic!("{declaration}: the expansion does not parse: {e}"));
        let text = prettyplease::unparse(&file);
        prop_assert!(text.contains("pub fn forward(&self, input: &["), "{}", text);
    }
}
