//! Training sequence networks: `accumulate_sequence` (truncated backpropagation through time
//! over a window, per-step layers and recurrent layers) against central finite differences of
//! its own summed loss, in `f64`, from a non-zero state; the state it leaves is
//! `forward_sequence`'s; lengths that do not match are typed errors; against torch's autograd
//! and Adam (`tests/fixtures/make_sequence_training.py`); and `Adam` through `Parameters` learns
//! a delay.

use crate::fixtures::{floats, path};
use nn::train::{Adam, Gradients, Mse, Optimizer};
use nn::{Error, Network, Role};
use serde_json::Value;

nn::network! {
    /// The brief's first case.
    pub struct Lone = 1 -> lstm(4) -> 2 with scalar = f64;

    /// Two GRU levels, then per-step dense layers.
    pub struct Stack = 3 -> gru(5, layers = 2) -> 4 relu -> 2 with scalar = f64;

    /// Per-step layers below and above a recurrent layer (its input gradients are used), a
    /// recurrent layer with an activation, and two recurrent layers in a row.
    pub struct Sandwich = 3 -> 6 tanh -> rnn(4) -> layernorm -> lstm(3) sigmoid -> rnn(3, relu) -> 2
        with scalar = f64;

    /// Dropout between steps: compiles and runs.
    pub struct Dropped = 2 -> lstm(6) -> dropout(0.5) -> 1 with scalar = f64;

    /// The network of `make_sequence_training.py`.
    pub struct Torch = 3 -> gru(5, layers = 2) as gru -> 4 relu as fc -> 2 as out
        with scalar = f64;

    /// The learning test's network.
    pub struct Delay = 1 -> lstm(8) -> 1;

    /// Causal convolutions (a dilation, groups, one tap) below and above a recurrent layer,
    /// whose input gradients flow through them.
    pub struct Causal = 2 -> conv1d(4, 3, dilation = 2, causal) tanh
        -> conv1d(4, 2, groups = 2, causal) -> gru(3) -> conv1d(3, 1, causal) relu -> 2
        with scalar = f64;

    /// Causal convolutions alone (a TCN): a sequence network without a recurrent layer.
    pub struct Tcn = 1 -> conv1d(3, 2, causal) tanh -> conv1d(3, 2, dilation = 2, causal) tanh
        -> conv1d(2, 2, dilation = 4, causal) -> 1 with scalar = f64;

    /// Dense layers unrolled (`unroll = full`) around a recurrent layer: training's forward
    /// pass leaves the state with `forward_sequence`'s bits all the same.
    pub struct Unrolled = 3 -> 96 tanh -> lstm(4) -> 2 with scalar = f64, unroll = full;

    /// [`Unrolled`] in `f32`, where the dense kernels use fused multiply-adds.
    pub struct UnrolledF32 = 3 -> 96 tanh -> lstm(4) -> 2 with unroll = full;

    /// The network of `make_sequence_training.py`'s second case.
    pub struct TorchCausal = 2 -> conv1d(4, 3, dilation = 2, causal) tanh as conv
        -> gru(5) as gru -> 2 as out with scalar = f64;
}

/// What the finite-difference check needs of a sequence network.
trait Sequence: Network<Scalar = f64> {
    const I: usize;
    const O: usize;
    type State: Copy + PartialEq + std::fmt::Debug;
    type Gradients: Gradients<Scalar = f64>;
    fn zero_state() -> Self::State;
    #[allow(clippy::unnecessary_box_returns)] // as the generated `zeroed`
    fn gradients() -> Box<Self::Gradients>;
    fn accumulate(
        &self,
        state: &mut Self::State,
        inputs: &[f64],
        targets: &[f64],
        gradients: &mut Self::Gradients,
    ) -> f64;
    fn forward(&self, state: &mut Self::State, inputs: &[f64]) -> Vec<f64>;
}

macro_rules! sequence {
    ($net:ident, $state:ident, $gradients:ident, $i:literal, $o:literal) => {
        impl Sequence for $net {
            const I: usize = $i;
            const O: usize = $o;
            type State = $state;
            type Gradients = $gradients;
            fn zero_state() -> $state {
                $state::ZERO
            }
            fn gradients() -> Box<$gradients> {
                $gradients::zeroed()
            }
            fn accumulate(
                &self,
                state: &mut $state,
                inputs: &[f64],
                targets: &[f64],
                gradients: &mut $gradients,
            ) -> f64 {
                let (inputs, []) = inputs.as_chunks::<$i>() else {
                    unreachable!()
                };
                let (targets, []) = targets.as_chunks::<$o>() else {
                    unreachable!()
                };
                self.accumulate_sequence(state, inputs, targets, &Mse, 1.0, gradients)
                    .expect("as many targets as inputs")
            }
            fn forward(&self, state: &mut $state, inputs: &[f64]) -> Vec<f64> {
                let (inputs, []) = inputs.as_chunks::<$i>() else {
                    unreachable!()
                };
                let mut outputs = vec![[0.0; $o]; inputs.len()];
                self.forward_sequence(state, inputs, &mut outputs)
                    .expect("as many outputs as inputs");
                outputs.into_flattened()
            }
        }
    };
}
sequence!(Lone, LoneState, LoneGradients, 1, 2);
sequence!(Stack, StackState, StackGradients, 3, 2);
sequence!(Sandwich, SandwichState, SandwichGradients, 3, 2);
sequence!(Causal, CausalState, CausalGradients, 2, 2);
sequence!(Tcn, TcnState, TcnGradients, 1, 1);
sequence!(Unrolled, UnrolledState, UnrolledGradients, 3, 2);
sequence!(Torch, TorchState, TorchGradients, 3, 2);
sequence!(TorchCausal, TorchCausalState, TorchCausalGradients, 2, 2);

/// Deterministic values in `[-1, 1)`: SplitMix64's outputs.
fn values(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            #[allow(clippy::cast_precision_loss)] // 53 bits, exact
            let unit = (z >> 11) as f64 / (1_u64 << 53) as f64;
            2.0 * unit - 1.0
        })
        .collect()
}

/// Every gradient of `accumulate_sequence` against central differences of its loss; returns
/// the worst `|analytic - numeric| / max(|analytic|, 1e-2)`.
fn check<N: Sequence>(net: &mut N, seed: u64, steps: usize) -> f64 {
    // A non-zero state: a few steps of another window first.
    let mut start = N::zero_state();
    net.forward(&mut start, &values(seed + 100, 5 * N::I));
    let inputs = values(seed, steps * N::I);
    let targets = values(seed + 1, steps * N::O);

    let mut gradients = N::gradients();
    let mut state = start;
    net.accumulate(&mut state, &inputs, &targets, &mut gradients);
    let mut reference = start;
    net.forward(&mut reference, &inputs);
    assert_eq!(state, reference, "the state at the window's end");

    let mut analytic = Vec::new();
    gradients.for_each_tensor(|_, values| analytic.extend_from_slice(values));
    assert_eq!(analytic.len(), N::PARAMETERS);
    let loss = |net: &N| {
        let mut scratch = N::gradients();
        net.accumulate(&mut start.clone(), &inputs, &targets, &mut scratch)
    };
    let eps = 1e-5;
    let mut worst = 0.0_f64;
    for (index, &analytic) in analytic.iter().enumerate() {
        let mut shifted = [0.0; 2];
        for (shifted, sign) in shifted.iter_mut().zip([1.0, -1.0]) {
            let mut original = 0.0;
            nudge(net, index, |v| {
                original = *v;
                *v += sign * eps;
            });
            *shifted = loss(net);
            nudge(net, index, |v| *v = original);
        }
        let numeric = (shifted[0] - shifted[1]) / (2.0 * eps);
        worst = worst.max((analytic - numeric).abs() / analytic.abs().max(1e-2));
    }
    assert!(analytic.iter().any(|g| g.abs() > 1e-2));
    worst
}

/// Calls `f` on the `index`-th trained value of `net`.
fn nudge<N: Network<Scalar = f64>>(net: &mut N, index: usize, mut f: impl FnMut(&mut f64)) {
    let mut k = 0;
    net.for_each_tensor_mut(|_, info, values| {
        if info.role != Role::Parameter {
            return;
        }
        for v in values {
            if k == index {
                f(v);
            }
            k += 1;
        }
    });
}

fn check_all<N: Sequence>(net: &mut N, name: &str) {
    let worst = [(1, 1), (2, 6), (3, 15)]
        .into_iter()
        .map(|(seed, steps)| check(&mut *net, seed, steps))
        .fold(0.0, f64::max);
    eprintln!("{name}: worst disagreement with finite differences {worst:.1e}");
    assert!(worst < 1e-7, "{name}: {worst:e}");
}

#[test]
fn gradients_are_finite_differences() {
    check_all(&mut *Lone::random(1), "1 -> lstm(4) -> 2");
    check_all(
        &mut *Stack::random(2),
        "3 -> gru(5, layers = 2) -> 4 relu -> 2",
    );
    check_all(&mut *Sandwich::random(3), "Sandwich");
    check_all(&mut *Causal::random(4), "Causal");
    check_all(&mut *Tcn::random(5), "Tcn");
    check_all(&mut *Unrolled::random(6), "Unrolled");
}

#[test]
#[allow(clippy::float_cmp)] // exact zeros
fn lengths_that_do_not_match_are_errors() {
    let net = Lone::random(1);
    let mut gradients = LoneGradients::zeroed();
    let mut state = LoneState::ZERO;
    let result = net.accumulate_sequence(
        &mut state,
        &[[0.5]; 3],
        &[[0.0; 2]; 2],
        &Mse,
        1.0,
        &mut gradients,
    );
    assert!(matches!(
        result,
        Err(Error::Targets {
            expected: 3,
            found: 2,
            ..
        })
    ));
    assert_eq!(state, LoneState::ZERO);
    // An empty window: no loss, no gradient, the same state.
    let mut state = LoneState::ZERO;
    *state.layer0.hidden_mut(0) = [0.5; 4];
    let before = state;
    let loss = net
        .accumulate_sequence(&mut state, &[], &[], &Mse, 1.0, &mut gradients)
        .expect("no steps, no targets");
    assert!(loss == 0.0 && state == before);
    gradients.for_each_tensor(|_, values| assert!(values.iter().all(|&g| g == 0.0)));
}

#[test]
fn dropout_draws_a_mask_per_step() {
    let net = Dropped::random(4);
    let mut gradients = DroppedGradients::zeroed();
    let inputs = [[0.5, -0.25]; 6];
    let targets = [[0.1]; 6];
    let mut state = DroppedState::ZERO;
    let first = net
        .accumulate_sequence(&mut state, &inputs, &targets, &Mse, 1.0, &mut gradients)
        .expect("lengths match");
    let mut again = DroppedState::ZERO;
    let second = net
        .accumulate_sequence(&mut again, &inputs, &targets, &Mse, 1.0, &mut gradients)
        .expect("lengths match");
    assert!(first.is_finite() && second.is_finite());
    // New masks for the second window: (almost surely) another loss, the same state.
    assert_ne!(first.to_bits(), second.to_bits());
    assert_eq!(state, again);
}

#[test]
fn adam_learns_a_delay() {
    // The target is the input one step before.
    #[allow(clippy::cast_possible_truncation)] // rounded to the nearest f32, as meant
    let signal: Vec<f32> = values(9, 41).into_iter().map(|v| v as f32).collect();
    let inputs: Vec<[f32; 1]> = signal[1..].iter().map(|&v| [v]).collect();
    let targets: Vec<[f32; 1]> = signal[..40].iter().map(|&v| [v]).collect();
    let mut net = Delay::random(5);
    let mut gradients = DelayGradients::zeroed();
    let mut adam = Adam::new(0.02);
    let mut losses = Vec::new();
    for _ in 0..100 {
        gradients.zero();
        let mut state = DelayState::ZERO;
        let loss = net
            .accumulate_sequence(
                &mut state,
                &inputs,
                &targets,
                &Mse,
                1.0 / 40.0,
                &mut gradients,
            )
            .expect("lengths match");
        losses.push(loss / 40.0);
        adam.step(&mut *net, &gradients);
    }
    let (first, last) = (losses[0], losses[99]);
    eprintln!("delay: mean loss {first:.4} -> {last:.4} over 100 Adam steps");
    assert!(last < 0.2 * first, "{first} -> {last}");
}

/// Agreement with torch, relative (absolute below 1).
fn disagreement(ours: f64, torch: f64) -> f64 {
    (ours - torch).abs() / torch.abs().max(1.0)
}

/// The largest disagreement of `values` (visited in the order of the network's trained
/// tensors, in storage order) with torch's tensors by `state_dict` name.
fn against_torch<N: Network<Scalar = f64>>(net: &N, values: &[f64], tensors: &Value) -> f64 {
    let mut worst = 0.0_f64;
    let mut offset = 0;
    net.for_each_tensor(|layer, info, stored| {
        if info.role != Role::Parameter {
            return;
        }
        let torch = floats(&tensors[format!("{}.{}", layer.name, info.name)]);
        assert_eq!(torch.len(), stored.len());
        let ours = &values[offset..offset + stored.len()];
        for (k, t) in torch.into_iter().enumerate() {
            worst = worst.max(disagreement(ours[info.storage_index(k)], t));
        }
        offset += stored.len();
    });
    assert_eq!(offset, values.len());
    worst
}

/// Sets `net`'s tensors to the fixture's, by `state_dict` name.
fn load_torch<N: Network<Scalar = f64>>(net: &mut N, tensors: &Value) {
    net.for_each_tensor_mut(|layer, info, values| {
        let torch = floats(&tensors[format!("{}.{}", layer.name, info.name)]);
        assert_eq!(torch.len(), values.len(), "{}.{}", layer.name, info.name);
        for (k, v) in torch.into_iter().enumerate() {
            values[info.storage_index(k)] = v;
        }
    });
}

/// `net`'s loss, gradients and two Adam steps over the fixture's window from `start` (Mse
/// summed over the steps, as `make_sequence_training.py`), against torch's; `what` names the
/// case in the messages.
fn agrees_with_torch<N>(what: &str, net: &mut N, start: N::State, fixture: &Value)
where
    N: Sequence + nn::train::Parameters<Scalar = f64, Gradients = <N as Sequence>::Gradients>,
{
    let (inputs, targets) = (floats(&fixture["inputs"]), floats(&fixture["targets"]));
    let gradients_at = |net: &N| {
        let mut gradients = N::gradients();
        let loss = net.accumulate(&mut start.clone(), &inputs, &targets, &mut gradients);
        let mut values = Vec::new();
        gradients.for_each_tensor(|_, v| values.extend_from_slice(v));
        (loss, gradients, values)
    };

    let (loss, _, gradients) = gradients_at(net);
    let worst_loss = disagreement(loss, fixture["loss"].as_f64().expect("a number"));
    let worst_gradient = against_torch(net, &gradients, &fixture["gradients"]);

    let mut adam = Adam::new(0.01);
    for _ in 0..2 {
        let (_, gradients, _) = gradients_at(net);
        adam.step(net, &*gradients);
    }
    let mut stepped = Vec::new();
    net.for_each_tensor(|_, info, values| {
        if info.role == Role::Parameter {
            stepped.extend_from_slice(values);
        }
    });
    let worst_adam = against_torch(net, &stepped, &fixture["adam"]);
    eprintln!(
        "{what} against torch: loss {worst_loss:.1e}, gradients {worst_gradient:.1e}, adam \
         {worst_adam:.1e}"
    );
    assert!(worst_loss < 1e-12, "{what}: loss {worst_loss:e}");
    assert!(
        worst_gradient < 1e-10,
        "{what}: gradients {worst_gradient:e}"
    );
    assert!(worst_adam < 1e-10, "{what}: adam {worst_adam:e}");
}

/// The fixture of `make_sequence_training.py`.
fn sequence_fixture() -> Value {
    let text = std::fs::read_to_string(path("sequence_training.json")).expect("the fixture");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn gradients_and_adam_are_torchs() {
    let fixture = sequence_fixture();
    let mut net = Torch::zeroed();
    load_torch(&mut *net, &fixture["tensors"]);
    let mut start = TorchState::ZERO;
    let h0 = floats(&fixture["h0"]);
    for level in 0..2 {
        start
            .gru
            .hidden_mut(level)
            .copy_from_slice(&h0[level * 5..][..5]);
    }
    agrees_with_torch("sequence network", &mut *net, start, &fixture);
}

#[test]
fn causal_gradients_and_adam_are_torchs() {
    let fixture = sequence_fixture();
    let fixture = &fixture["causal"];
    let mut net = TorchCausal::zeroed();
    load_torch(&mut *net, &fixture["tensors"]);
    // The window's state: the prefix run from zeros, with the starting weights.
    let mut start = TorchCausalState::ZERO;
    net.forward(&mut start, &floats(&fixture["prefix"]));
    agrees_with_torch("causal sequence network", &mut *net, start, fixture);
}

#[test]
fn unrolled_dense_layers_leave_forward_sequences_state_in_f32() {
    #[allow(clippy::cast_possible_truncation)] // rounded to the nearest f32, as meant
    let inputs: Vec<[f32; 3]> = values(11, 60)
        .chunks(3)
        .map(|row| core::array::from_fn(|k| row[k] as f32))
        .collect();
    let targets = vec![[0.25_f32, -0.5]; inputs.len()];
    let net = UnrolledF32::random(7);
    let mut gradients = UnrolledF32Gradients::zeroed();
    let (mut trained, mut stepped) = (UnrolledF32State::ZERO, UnrolledF32State::ZERO);
    net.accumulate_sequence(&mut trained, &inputs, &targets, &Mse, 1.0, &mut gradients)
        .expect("lengths match");
    let mut outputs = vec![[0.0; 2]; inputs.len()];
    net.forward_sequence(&mut stepped, &inputs, &mut outputs)
        .expect("as many outputs as inputs");
    assert_eq!(trained, stepped);
    assert_ne!(trained, UnrolledF32State::ZERO);
}
