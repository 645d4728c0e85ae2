//! Forward passes against numpy: `tests/fixtures/forward.json`, written by
//! `tests/fixtures/make_forward_fixtures.py` (float64 references; weights in PyTorch's
//! `[OUT][IN]` layout). Three networks cover every activation, each declared in f32 and f64, with
//! loops and fully unrolled. Inputs go up to 1e4 in magnitude.
//!
//! An output `y` matches the reference `r` when `|y - r| <= tolerance * max(1, |r|)`: absolute
//! near zero, relative for the large outputs of the linear network.

use nn::{Network, Scalar};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

const F32_TOLERANCE: f64 = 1e-5;
const F64_TOLERANCE: f64 = 1e-12;

nn::network! {
    struct ReluFamily32 = 6 -> 8 relu -> 8 leaky_relu(0.2) -> 8 elu(0.5) -> 5 softmax;
    struct ReluFamily64 = 6 -> 8 relu -> 8 leaky_relu(0.2) -> 8 elu(0.5) -> 5 softmax
        with scalar = f64;
    struct ReluFamilyUnrolled32 = 6 -> 8 relu -> 8 leaky_relu(0.2) -> 8 elu(0.5) -> 5 softmax
        with unroll = full;
    struct ReluFamilyUnrolled64 = 6 -> 8 relu -> 8 leaky_relu(0.2) -> 8 elu(0.5) -> 5 softmax
        with scalar = f64, unroll = full;

    struct Squashing32 = 5 -> 7 sigmoid -> 7 tanh -> 6 silu -> 4 log_softmax;
    struct Squashing64 = 5 -> 7 sigmoid -> 7 tanh -> 6 silu -> 4 log_softmax with scalar = f64;
    struct SquashingUnrolled32 = 5 -> 7 sigmoid -> 7 tanh -> 6 silu -> 4 log_softmax
        with unroll = full;
    struct SquashingUnrolled64 = 5 -> 7 sigmoid -> 7 tanh -> 6 silu -> 4 log_softmax
        with scalar = f64, unroll = full;

    // `leaky_relu` and `elu` without arguments take PyTorch's defaults, 0.01 and 1.0.
    struct Smooth32 = 4 -> 6 gelu -> 6 softplus -> 5 leaky_relu -> 5 elu -> 3 linear;
    struct Smooth64 = 4 -> 6 gelu -> 6 softplus -> 5 leaky_relu -> 5 elu -> 3 linear
        with scalar = f64;
    struct SmoothUnrolled32 = 4 -> 6 gelu -> 6 softplus -> 5 leaky_relu -> 5 elu -> 3
        with unroll = full;
    struct SmoothUnrolled64 = 4 -> 6 gelu -> 6 softplus -> 5 leaky_relu -> 5 elu -> 3
        with scalar = f64, unroll = full;

    struct GeluTanh32 = 4 -> 6 gelu_tanh -> 5 gelu_tanh -> 3;
    struct GeluTanh64 = 4 -> 6 gelu_tanh -> 5 gelu_tanh -> 3 with scalar = f64;
    struct GeluTanhUnrolled32 = 4 -> 6 gelu_tanh -> 5 gelu_tanh -> 3 with unroll = full;
    struct GeluTanhUnrolled64 = 4 -> 6 gelu_tanh -> 5 gelu_tanh -> 3
        with scalar = f64, unroll = full;
}

#[derive(Deserialize)]
struct Fixture {
    inputs: usize,
    layers: Vec<Layer>,
    cases: Vec<Vec<f64>>,
    expected: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
struct Layer {
    activation: String,
    alpha: Option<f64>,
    /// `[OUT][IN]`.
    weights: Vec<Vec<f64>>,
    bias: Vec<f64>,
}

static FIXTURES: LazyLock<BTreeMap<String, Fixture>> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/forward.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
});

/// Loads the fixture's weights into a fresh network, checking that each layer is the one the
/// fixture describes.
fn load<N: Network>(fixture: &Fixture, net: &mut N) {
    assert_eq!(N::INPUTS, fixture.inputs);
    assert_eq!(N::LAYERS.len(), fixture.layers.len());
    for (index, (info, layer)) in N::LAYERS.iter().zip(&fixture.layers).enumerate() {
        assert_eq!(info.activation.name(), layer.activation, "layer {index}");
        match info.activation {
            nn::Activation::LeakyRelu(alpha) | nn::Activation::Elu(alpha) => {
                assert_eq!(Some(alpha), layer.alpha, "layer {index}");
            }
            _ => assert_eq!(layer.alpha, None, "layer {index}"),
        }
        let shapes: Vec<&[usize]> = info.tensors.iter().map(|t| t.shape).collect();
        assert_eq!(
            shapes,
            [
                &[layer.weights.len(), layer.weights[0].len()][..],
                &[layer.bias.len()]
            ]
        );
    }
    // The weights (PyTorch's rows, flattened) and biases, put in storage order.
    let mut tensors = fixture
        .layers
        .iter()
        .flat_map(|layer| [layer.weights.concat(), layer.bias.clone()]);
    net.for_each_tensor_mut(|_, tensor, values| {
        let source = tensors.next().expect("a tensor of the fixture");
        assert_eq!(values.len(), source.len(), "`{}`", tensor.name);
        for (k, x) in source.iter().enumerate() {
            values[tensor.storage_index(k)] = N::Scalar::from_f64(*x);
        }
    });
    assert!(tensors.next().is_none());
}

/// Runs every case of fixture `name` through `N` and compares with numpy.
fn check<N: Network>(name: &str, zeroed: fn() -> Box<N>, tolerance: f64) {
    let fixture = &FIXTURES[name];
    let mut net = zeroed();
    load(fixture, &mut *net);
    assert!(fixture.cases.len() >= 8, "{name}: too few cases");
    for (case, expected) in fixture.cases.iter().zip(&fixture.expected) {
        let input: Vec<N::Scalar> = case.iter().map(|x| N::Scalar::from_f64(*x)).collect();
        // The fixture's inputs are exact in f32, so both scalar types read the same numbers.
        assert!(input.iter().zip(case).all(|(a, b)| a.to_f64() == *b));
        let mut output = vec![N::Scalar::ZERO; N::OUTPUTS];
        net.forward_slice(&input, &mut output).unwrap();
        assert_eq!(output.len(), expected.len());
        for (got, want) in output.iter().zip(expected) {
            let got = got.to_f64();
            let error = (got - want).abs() / want.abs().max(1.0);
            assert!(
                error <= tolerance,
                "{name} ({}): input {case:?}: got {got:e}, numpy {want:e}, error {error:e}",
                N::NAME
            );
        }
    }
    // The comparison is not vacuous: the references are far from zero somewhere.
    assert!(fixture.expected.iter().flatten().any(|y| y.abs() > 0.1));
}

#[test]
fn relu_family_and_softmax() {
    check("relu_family_softmax", ReluFamily32::zeroed, F32_TOLERANCE);
    check("relu_family_softmax", ReluFamily64::zeroed, F64_TOLERANCE);
    check(
        "relu_family_softmax",
        ReluFamilyUnrolled32::zeroed,
        F32_TOLERANCE,
    );
    check(
        "relu_family_softmax",
        ReluFamilyUnrolled64::zeroed,
        F64_TOLERANCE,
    );
}

#[test]
fn squashing_and_log_softmax() {
    check("squashing_log_softmax", Squashing32::zeroed, F32_TOLERANCE);
    check("squashing_log_softmax", Squashing64::zeroed, F64_TOLERANCE);
    check(
        "squashing_log_softmax",
        SquashingUnrolled32::zeroed,
        F32_TOLERANCE,
    );
    check(
        "squashing_log_softmax",
        SquashingUnrolled64::zeroed,
        F64_TOLERANCE,
    );
}

#[test]
fn smooth_and_linear() {
    check("smooth_linear", Smooth32::zeroed, F32_TOLERANCE);
    check("smooth_linear", Smooth64::zeroed, F64_TOLERANCE);
    check("smooth_linear", SmoothUnrolled32::zeroed, F32_TOLERANCE);
    check("smooth_linear", SmoothUnrolled64::zeroed, F64_TOLERANCE);
}

#[test]
fn gelu_s_tanh_approximation() {
    check("gelu_tanh_linear", GeluTanh32::zeroed, F32_TOLERANCE);
    check("gelu_tanh_linear", GeluTanh64::zeroed, F64_TOLERANCE);
    check(
        "gelu_tanh_linear",
        GeluTanhUnrolled32::zeroed,
        F32_TOLERANCE,
    );
    check(
        "gelu_tanh_linear",
        GeluTanhUnrolled64::zeroed,
        F64_TOLERANCE,
    );
}

#[test]
fn every_activation_is_covered() {
    let covered: std::collections::BTreeSet<&str> = FIXTURES
        .values()
        .flat_map(|f| f.layers.iter().map(|l| l.activation.as_str()))
        .collect();
    let all: std::collections::BTreeSet<&str> = nn_grammar::Activation::NAMES.into();
    assert_eq!(covered, all);
}

#[test]
fn the_array_forward_agrees_with_the_slice_forward() {
    let fixture = &FIXTURES["smooth_linear"];
    let mut net = Smooth64::zeroed();
    load(fixture, &mut *net);
    let mut batch_in = Vec::new();
    for case in &fixture.cases {
        let input: [f64; 4] = case.as_slice().try_into().unwrap();
        let mut slice_out = [0.0; 3];
        net.forward_slice(&input, &mut slice_out).unwrap();
        assert_eq!(
            net.forward(&input).map(f64::to_bits),
            slice_out.map(f64::to_bits)
        );
        batch_in.push(input);
    }
    let mut batch_out = vec![[0.0; 3]; batch_in.len()];
    net.forward_batch(&batch_in, &mut batch_out).unwrap();
    for (input, output) in batch_in.iter().zip(&batch_out) {
        assert_eq!(
            net.forward(input).map(f64::to_bits),
            output.map(f64::to_bits)
        );
    }
}
