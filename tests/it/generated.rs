//! Random networks through the whole pipeline. A deterministic generator writes random
//! declarations (widths up to 64, depth up to 6, every activation, `f32` and `f64`, some with
//! `unroll = full`, some with `batchnorm` and `layernorm` between dense layers):
//!
//! - from random seeds, each must compile and expand to tokens that parse as a Rust file;
//! - from one fixed seed, 24 of them are committed in `generated_networks.rs`, compiled into
//!   this test binary, and their `forward` must agree with the evaluator on random weights and
//!   inputs (1e-5 in `f32`, 1e-12 in `f64`). A test regenerates the file, so it cannot go
//!   stale: bless a change of the generator with `UPDATE_EXPECT=1 cargo test --test it
//!   generated`.

use crate::evaluator::{close, evaluate, weights_of};
use nn::Scalar;
use nn_grammar::network::MAX_FULL_UNROLL;
use proc_macro2::{Span, TokenStream};
use proptest::prelude::*;
use std::fmt::Write as _;

/// The seed of the committed networks.
const SEED: u64 = 0x0067_656e_6e65_7473;
/// How many networks the committed file holds.
const NETWORKS: usize = 24;

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
        let mut activation = nn_grammar::Activation::NAMES[rng.below(11)];
        while activation.ends_with("softmax") && !last {
            activation = nn_grammar::Activation::NAMES[rng.below(11)];
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
        // Now and then a normalisation of the hidden layer's output, which keeps its width
        // (not with `unroll = full`, whose limit counts the normalisations' multiply-adds).
        if !last && !full && rng.percent(30) {
            let kind = ["batchnorm", "layernorm"][rng.below(2)];
            let eps = ["", "(eps = 0.001)", "(0.5)"][rng.below(3)];
            let activation = ["", " relu", " tanh", " gelu"][rng.below(4)];
            let _ = write!(text, " -> {kind}{eps}{activation}");
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
         pub fn visit_all(visit: &mut impl Visit) {\n",
    );
    for (name, declaration) in &declarations {
        let _ = write!(
            file,
            "    visit.network(\n        {declaration:?},\n        {name}::random,\n        {name}::forward,\n    );\n"
        );
    }
    file.push_str("}\n");
    file
}

/// A network's `forward`, as a function pointer.
pub type Forward<N, const IN: usize, const OUT: usize> =
    fn(&N, &[<N as nn::Network>::Scalar; IN]) -> [<N as nn::Network>::Scalar; OUT];

/// What `generated_networks.rs` calls for each of its networks.
pub trait Visit {
    /// One network: its declaration, its `random` and its `forward`.
    fn network<N: nn::Network, const IN: usize, const OUT: usize>(
        &mut self,
        declaration: &str,
        random: fn(u64) -> Box<N>,
        forward: Forward<N, IN, OUT>,
    );
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
    fn network<N: nn::Network, const IN: usize, const OUT: usize>(
        &mut self,
        declaration: &str,
        random: fn(u64) -> Box<N>,
        forward: Forward<N, IN, OUT>,
    ) {
        let spec = nn_grammar::compile_item(declaration)
            .unwrap_or_else(|ds| panic!("{declaration}: {ds:?}"));
        check_description::<N>(&spec);
        assert_eq!((IN, OUT), (spec.input.elements(), spec.output().elements()));
        let is_f64 = N::Scalar::NAME == "f64";
        self.counts[usize::from(is_f64)] += 1;
        if spec.unroll == nn_grammar::Unroll::Full {
            self.counts[2] += 1;
        }
        for layer in &spec.layers {
            if !self.activations.contains(&layer.activation.name()) {
                self.activations.push(layer.activation.name());
            }
            if !self.kinds.contains(&layer.kind.name()) {
                self.kinds.push(layer.kind.name());
            }
        }
        let tolerance = if is_f64 { 1e-12 } else { 1e-5 };
        for seed in 0..2 {
            let mut net = random(seed);
            let mut rng = Rng::new(seed ^ 0x5eed);
            // Normalisations start as PyTorch's (scale 1, shift 0, mean 0, variance 1): draw
            // every tensor but the counter, so that each part of their function counts.
            net.for_each_tensor_mut(|layer, tensor, values| {
                let norm = matches!(
                    layer.kind,
                    nn::LayerKind::BatchNorm1d | nn::LayerKind::LayerNorm
                );
                for value in values.iter_mut().filter(|_| norm) {
                    let drawn = match tensor.name {
                        "running_var" => rng.uniform_in(0.25, 2.0),
                        "weight" if tensor.init == nn::Init::Ones => rng.uniform_in(0.5, 1.5),
                        "num_batches_tracked" => continue,
                        _ => rng.uniform() * 0.5,
                    };
                    *value = N::Scalar::from_f64(drawn);
                }
            });
            let weights = weights_of(&*net);
            for _ in 0..4 {
                let input: [N::Scalar; IN] =
                    std::array::from_fn(|_| N::Scalar::from_f64(rng.uniform()));
                let output = forward(&net, &input);
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
    assert_eq!(f32s + f64s, NETWORKS);
    assert!(f64s >= 5 && full >= 4, "{f64s} f64, {full} fully unrolled");
    let mut seen = compare.activations.clone();
    seen.sort_unstable();
    let mut all = nn_grammar::Activation::NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(seen, all, "every activation appears");
    let mut kinds = compare.kinds.clone();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["batchnorm", "dense", "layernorm"],
        "every kind appears"
    );
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
    /// any combination) compile and expand to a Rust file that parses.
    #[test]
    fn random_networks_expand_to_rust(seed in any::<u64>()) {
        let limits = Limits {
            width: 64,
            depth: 6,
            f64_percent: 40,
            full_percent: 50,
            extreme_alphas: true,
        };
        let declaration = random_declaration(&mut Rng::new(seed), "Net", limits);
        let net = nn_grammar::compile_item(&declaration)
            .unwrap_or_else(|ds| panic!("{declaration}: {ds:?}"));
        let tokens = expand(&net);
        let file = syn::parse2::<syn::File>(tokens)
            .unwrap_or_else(|e| panic!("{declaration}: the expansion does not parse: {e}"));
        let text = prettyplease::unparse(&file);
        prop_assert!(text.contains("pub fn forward(&self, input: &["), "{}", text);
    }
}
