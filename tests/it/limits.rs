//! The documented limits (`nn_grammar::network::MAX_*`). A network exactly at each limit
//! compiles (in this binary; rustc's cost for each is in BENCHMARKS.md, "Networks at the
//! limits") and computes what the evaluator computes; one past each limit is a compile error
//! on the offending token (`tests/ui/limit_*.rs`), not a hang or an out-of-memory in rustc.

use crate::evaluator::{close, evaluate, weights_of};
use crate::generated::{Forward, Rng};
use nn::Scalar as _;
use nn::train::Mse;
use nn_grammar::network::{MAX_FULL_UNROLL, MAX_HISTORY, MAX_LAYERS, MAX_PARAMETERS, MAX_WIDTH};

/// Declares a network and keeps its declaration as text, for the evaluator.
///
/// Calling `network!` from a `macro_rules!` macro is a test of its own: it failed to compile
/// (`self` and the locals of an unrolled layer resolved in two hygiene contexts) until layer
/// spans took the call site's.
macro_rules! network_with_text {
    ($text:ident: $($declaration:tt)*) => {
        nn::network! { $($declaration)* }
        const $text: &str = stringify!($($declaration)*);
    };
}

network_with_text! {
    AT_WIDTH: pub struct AtWidthLimit = 1048576 -> 1 sigmoid;
}

network_with_text! {
    // 128 neurons of 1_048_575 weights and a bias: 2^27 parameters, 512 MiB.
    AT_PARAMETERS: pub struct AtParameterLimit = 1048575 -> 128;
}

network_with_text! {
    // 4096 multiply-adds in one sum, the deepest expression `unroll = full` can write.
    AT_UNROLL: pub struct AtUnrollLimit = 4096 -> 1 tanh with unroll = full;
}

network_with_text! {
    AT_LAYERS: pub struct AtLayerLimit = 2
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 relu
        -> 3 tanh -> 3 silu -> 3 elu(0.5) -> 3 leaky_relu(0.2) -> 3 sigmoid -> 3 gelu -> 3 softplus -> 3 softmax;
}

/// Fills `net` with weights uniform in `[-sqrt(3 / fan_in), sqrt(3 / fan_in))` and biases in
/// `[-0.5, 0.5)`, so that every layer's output varies (`random` leaves biases at zero).
fn fill<N: nn::Network>(net: &mut N, seed: u64) {
    let mut rng = Rng::new(seed);
    net.for_each_tensor_mut(|_, tensor, values| {
        let bound = if tensor.name == "weight" {
            (3.0 / tensor.fans().0 as f64).sqrt()
        } else {
            0.5
        };
        for v in values {
            *v = N::Scalar::from_f64(rng.uniform() * bound);
        }
    });
}

/// Runs `forward` on a random input (on the heap: it may be 4 MiB) and the evaluator, and
/// returns the largest relative difference.
fn compare<N: nn::Network, const IN: usize, const OUT: usize>(
    declaration: &str,
    net: &N,
    forward: Forward<N, IN, OUT>,
) -> f64 {
    let spec = nn_grammar::compile_item(declaration).expect("a valid declaration");
    let mut rng = Rng::new(IN as u64);
    let input: Box<[N::Scalar]> = (0..IN)
        .map(|_| N::Scalar::from_f64(rng.uniform()))
        .collect();
    let input: Box<[N::Scalar; IN]> = input.try_into().expect("IN values");
    let output = forward(net, &input);
    let input: Vec<f64> = input.iter().map(|x| x.to_f64()).collect();
    let expected = evaluate(&spec, &weights_of(net), &input);
    let mut worst = 0.0f64;
    for (found, expected) in output.iter().zip(&expected) {
        let found = found.to_f64();
        assert!(close(found, *expected, 1e-5), "{found} != {expected}");
        worst = worst.max((found - expected).abs());
    }
    worst
}

#[test]
fn the_widest_input_works() {
    assert_eq!(AtWidthLimit::INPUTS, MAX_WIDTH);
    let mut net = AtWidthLimit::zeroed();
    fill(&mut *net, 1);
    compare(AT_WIDTH, &*net, AtWidthLimit::forward);
}

#[test]
fn the_most_parameters_fit_in_the_type_and_on_the_heap() {
    assert_eq!(AtParameterLimit::PARAMETERS, MAX_PARAMETERS);
    assert_eq!(size_of::<AtParameterLimit>(), 4 * MAX_PARAMETERS);
    let spec = nn_grammar::compile_item(AT_PARAMETERS).expect("a valid declaration");
    assert_eq!(spec.parameters(), MAX_PARAMETERS);
    // 512 MiB of zeros straight from the allocator: its pages are not touched, so this costs
    // next to nothing (running it would touch them all).
    let net = AtParameterLimit::zeroed();
    assert_eq!(net.layer0.parts().0.len(), 1_048_575 * 128);
}

#[test]
fn the_largest_full_unroll_works() {
    let spec = nn_grammar::compile_item(AT_UNROLL).expect("a valid declaration");
    assert_eq!(spec.multiply_adds(), MAX_FULL_UNROLL);
    let mut net = AtUnrollLimit::zeroed();
    fill(&mut *net, 2);
    compare(AT_UNROLL, &*net, AtUnrollLimit::forward);
}

#[test]
fn the_most_layers_work() {
    assert_eq!(<AtLayerLimit as nn::Network>::LAYERS.len(), MAX_LAYERS);
    let mut net = AtLayerLimit::zeroed();
    fill(&mut *net, 3);
    compare(AT_LAYERS, &*net, AtLayerLimit::forward);
    let output = net.forward(&[0.5, -0.5]);
    assert!((output.iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

nn::network! {
    /// A causal convolution keeping `MAX_HISTORY` values of each stream: 2^20 steps of one
    /// channel, 4 MiB of state.
    pub struct AtHistoryLimit = 1 -> conv1d(1, 2, dilation = 1048576, causal) -> 1;
}

#[test]
fn the_longest_history_steps_and_trains_from_the_heap() {
    assert_eq!(
        size_of::<AtHistoryLimitState>(),
        4 * MAX_HISTORY + size_of::<usize>()
    );
    let net = AtHistoryLimit::random(4);
    let [[w_old, w_now]] = net.layer0.weight()[0];
    let (bias, head) = (net.layer0.bias()[0], &net.layer1);
    // A fresh stream: the tap 2^20 steps back reads the padding's zeros.
    let inputs = [[0.5_f32], [-1.0], [2.0]];
    let mut stepped = AtHistoryLimitState::zeroed();
    for x in &inputs {
        let conv = bias + (w_old * 0.0 + w_now * x[0]);
        let expected = head.bias()[0] + head.weight(0, 0) * conv;
        let found = net.step(&mut stepped, x)[0];
        assert!(
            (found - expected).abs() <= 1e-6 * expected.abs().max(1.0),
            "{found} {expected}"
        );
    }
    // Training a window leaves the stream where stepping does, the history read in place.
    let mut trained = AtHistoryLimitState::zeroed();
    let mut gradients = AtHistoryLimitGradients::zeroed();
    net.accumulate_sequence(
        &mut trained,
        &inputs,
        &[[0.0]; 3],
        &Mse,
        1.0,
        &mut gradients,
    )
    .expect("as many targets as inputs");
    assert!(*trained == *stepped);
}

// One past each limit is a compile error: `tests/ui/limit_*.rs`, run with the other UI cases by
// `ui::ui`, each with the error rustc prints in its `.stderr`.

nn::network! {
    /// `unroll = full` writes out dense layers only: the convolution's 86,400 multiply-adds
    /// (beyond the 4,096 of the limit) call its kernel as without the option.
    pub struct UnrolledBesideConv = [1, 28, 28] -> conv2d(6, 5) relu -> maxpool2d(4) -> flatten
        -> 2 with unroll = full;
    /// The same with loops.
    pub struct LoopsBesideConv = [1, 28, 28] -> conv2d(6, 5) relu -> maxpool2d(4) -> flatten
        -> 2;
}

#[test]
fn full_unroll_counts_the_dense_layers_only() {
    let loops = LoopsBesideConv::random(5);
    let full = UnrolledBesideConv::from_safetensors(&loops.to_safetensors()).unwrap();
    let image: [[[f32; 28]; 28]; 1] = [std::array::from_fn(|r| {
        std::array::from_fn(|c| ((r * 28 + c) % 11) as f32 / 10.0)
    })];
    let (expected, found) = (loops.forward(&image), full.forward(&image));
    // The unrolled sums add left to right, the kernel's in another order.
    for (e, f) in expected.iter().zip(&found) {
        assert!((e - f).abs() <= 1e-5 * e.abs().max(1.0), "{e} against {f}");
    }
    assert_ne!(expected, [0.0; 2]);
}
