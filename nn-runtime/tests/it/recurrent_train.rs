//! Backpropagation through time (`backward_sequence`) against central finite differences of the
//! loss `Σ_t w_t · h_t` (random `w_t`), in `f64`, two levels, from a random non-zero state: every
//! parameter's gradient and every input's; the state it leaves is `forward_sequence`'s, to the
//! bit; `scale` scales and gradients add up. Then against torch's autograd and optimizers on the
//! cases of `tests/fixtures/make_recurrent_training.py` (`recurrent_training.json`): gradients,
//! one `Sgd` step and two `Adam` steps of the bare layers, within `1e-10`.

use nn_runtime::init::SplitMix64;
use nn_runtime::layers::{Gru, HiddenState, Lstm, LstmState, Recurrent, Rnn};
use nn_runtime::train::{Adam, GruGradients, LstmGradients, Optimizer, Parameters, Sgd};
use nn_runtime::{Tensors, ZeroInit, zeroed_box};
use serde_json::Value;
use std::sync::LazyLock;

type Grads<L> = <L as Parameters>::Gradients;

/// What the test needs of the three layer types, in one interface.
pub(crate) trait Bptt<const I: usize, const H: usize>:
    Tensors<Scalar = f64>
    + Parameters<Scalar = f64, Gradients: Tensors<Scalar = f64>>
    + Recurrent
    + ZeroInit
    + Clone
{
    fn sequence(&self, state: &mut Self::State, inputs: &[[f64; I]], outputs: &mut [[f64; H]]);
    fn backward(
        &self,
        state: &mut Self::State,
        inputs: &[[f64; I]],
        output_gradients: &[[f64; H]],
        scale: f64,
        gradients: &mut Self::Gradients,
        input_gradients: &mut [[f64; I]],
    );
    fn hidden(state: &mut Self::State, level: usize) -> &mut [f64; H];
    fn cell(state: &mut Self::State, level: usize) -> Option<&mut [f64; H]>;
    fn levels() -> usize;
}

impl<const I: usize, const H: usize, const D: usize> Bptt<I, H> for Lstm<I, H, f64, D> {
    fn sequence(&self, state: &mut Self::State, inputs: &[[f64; I]], outputs: &mut [[f64; H]]) {
        self.forward_sequence(state, inputs, outputs);
    }
    fn backward(
        &self,
        state: &mut Self::State,
        inputs: &[[f64; I]],
        output_gradients: &[[f64; H]],
        scale: f64,
        gradients: &mut Self::Gradients,
        input_gradients: &mut [[f64; I]],
    ) {
        self.backward_sequence(
            state,
            inputs,
            output_gradients,
            scale,
            gradients,
            input_gradients,
        );
    }
    fn hidden(state: &mut LstmState<H, f64, D>, level: usize) -> &mut [f64; H] {
        state.hidden_mut(level)
    }
    fn cell(state: &mut LstmState<H, f64, D>, level: usize) -> Option<&mut [f64; H]> {
        Some(state.cell_mut(level))
    }
    fn levels() -> usize {
        D + 1
    }
}

macro_rules! hidden_layer {
    ($layer:ident $(, $relu:ident)?) => {
        impl<const I: usize, const H: usize, const D: usize $(, const $relu: bool)?> Bptt<I, H>
            for $layer<I, H, f64, D $(, $relu)?>
        {
            fn sequence(
                &self,
                state: &mut Self::State,
                inputs: &[[f64; I]],
                outputs: &mut [[f64; H]],
            ) {
                self.forward_sequence(state, inputs, outputs);
            }
            fn backward(
                &self,
                state: &mut Self::State,
                inputs: &[[f64; I]],
                output_gradients: &[[f64; H]],
                scale: f64,
                gradients: &mut Self::Gradients,
                input_gradients: &mut [[f64; I]],
            ) {
                self.backward_sequence(
                    state,
                    inputs,
                    output_gradients,
                    scale,
                    gradients,
                    input_gradients,
                );
            }
            fn hidden(state: &mut HiddenState<H, f64, D>, level: usize) -> &mut [f64; H] {
                state.hidden_mut(level)
            }
            fn cell(_: &mut HiddenState<H, f64, D>, _: usize) -> Option<&mut [f64; H]> {
                None
            }
            fn levels() -> usize {
                D + 1
            }
        }
    };
}
hidden_layer!(Gru);
hidden_layer!(Rnn, RELU);

/// Values uniform in `[-bound, bound)`.
fn fill(random: &mut SplitMix64, values: &mut [f64], bound: f64) {
    for v in values {
        *v = random.uniform(bound);
    }
}

/// A layer, a state, inputs and loss weights, all random.
struct Case<L: Bptt<I, H>, const I: usize, const H: usize> {
    layer: Box<L>,
    state: L::State,
    inputs: Vec<[f64; I]>,
    weights: Vec<[f64; H]>,
}

impl<L: Bptt<I, H>, const I: usize, const H: usize> Case<L, I, H> {
    fn new(seed: u64, steps: usize) -> Self {
        let mut random = SplitMix64::new(seed);
        let mut layer = zeroed_box::<L>();
        Tensors::for_each_tensor_mut(&mut *layer, |_, values| fill(&mut random, values, 0.7));
        let mut state = L::State::default();
        for level in 0..L::levels() {
            fill(&mut random, L::hidden(&mut state, level), 0.8);
            if let Some(cell) = L::cell(&mut state, level) {
                fill(&mut random, cell, 1.5);
            }
        }
        let mut inputs = vec![[0.0; I]; steps];
        fill(&mut random, inputs.as_flattened_mut(), 1.0);
        let mut weights = vec![[0.0; H]; steps];
        fill(&mut random, weights.as_flattened_mut(), 1.0);
        Self {
            layer,
            state,
            inputs,
            weights,
        }
    }

    /// `Σ_t w_t · h_t` over the window from the case's state.
    fn loss(&self, layer: &L, inputs: &[[f64; I]]) -> f64 {
        let mut state = self.state;
        let mut outputs = vec![[0.0; H]; inputs.len()];
        layer.sequence(&mut state, inputs, &mut outputs);
        outputs
            .as_flattened()
            .iter()
            .zip(self.weights.as_flattened())
            .map(|(h, w)| h * w)
            .sum()
    }

    fn backward(&self, scale: f64, gradients: &mut Grads<L>) -> (L::State, Vec<[f64; I]>) {
        let mut state = self.state;
        let mut input_gradients = vec![[f64::NAN; I]; self.inputs.len()];
        self.layer.backward(
            &mut state,
            &self.inputs,
            &self.weights,
            scale,
            gradients,
            &mut input_gradients,
        );
        (state, input_gradients)
    }
}

/// Central difference of `f` at `x` along one coordinate.
const EPS: f64 = 1e-5;
/// Agreement with finite differences, relative (absolute below gradients of `1e-2`).
const TOLERANCE: f64 = 1e-7;

/// The largest `|analytic - numeric| / max(|analytic|, 1e-2)`.
fn worst(pairs: impl IntoIterator<Item = (f64, f64)>) -> f64 {
    pairs
        .into_iter()
        .map(|(a, n)| (a - n).abs() / a.abs().max(1e-2))
        .fold(0.0, f64::max)
}

/// Every gradient against finite differences; returns the worst disagreement.
fn check<L: Bptt<I, H>, const I: usize, const H: usize>(seed: u64, steps: usize) -> f64 {
    let case = Case::<L, I, H>::new(seed, steps);
    let mut gradients = zeroed_box::<Grads<L>>();
    let (state, input_gradients) = case.backward(1.0, &mut gradients);

    // The state at the window's end is forward_sequence's, to the bit.
    let mut reference = case.state;
    let mut outputs = vec![[0.0; H]; steps];
    case.layer
        .sequence(&mut reference, &case.inputs, &mut outputs);
    assert_eq!(
        state,
        reference,
        "{}: the state at the window's end",
        L::levels()
    );

    let mut analytic = Vec::new();
    Tensors::for_each_tensor(&*gradients, |_, values| analytic.extend_from_slice(values));
    let mut numeric = Vec::new();
    for index in 0..analytic.len() {
        let mut shifted = [0.0; 2];
        for (shifted, sign) in shifted.iter_mut().zip([1.0, -1.0]) {
            let mut layer = case.layer.clone();
            let mut k = 0;
            Tensors::for_each_tensor_mut(&mut *layer, |_, values| {
                for v in values {
                    if k == index {
                        *v += sign * EPS;
                    }
                    k += 1;
                }
            });
            *shifted = case.loss(&layer, &case.inputs);
        }
        numeric.push((shifted[0] - shifted[1]) / (2.0 * EPS));
    }
    let parameters = worst(analytic.iter().copied().zip(numeric));

    let mut numeric = Vec::new();
    for index in 0..steps * I {
        let mut shifted = [0.0; 2];
        for (shifted, sign) in shifted.iter_mut().zip([1.0, -1.0]) {
            let mut inputs = case.inputs.clone();
            inputs.as_flattened_mut()[index] += sign * EPS;
            *shifted = case.loss(&case.layer, &inputs);
        }
        numeric.push((shifted[0] - shifted[1]) / (2.0 * EPS));
    }
    let inputs = worst(input_gradients.as_flattened().iter().copied().zip(numeric));
    assert!(
        analytic.iter().any(|g| g.abs() > 1e-2),
        "gradients that say something"
    );
    parameters.max(inputs)
}

fn check_all<L: Bptt<I, H>, const I: usize, const H: usize>(name: &str) {
    let mut worst = 0.0_f64;
    for (seed, steps) in [(1, 5), (2, 12), (3, 20), (4, 1)] {
        worst = worst.max(check::<L, I, H>(seed, steps));
    }
    eprintln!("{name}: worst disagreement with finite differences {worst:.1e}");
    assert!(worst < TOLERANCE, "{name}: {worst:e}");
}

#[test]
fn lstm_gradients_are_finite_differences() {
    check_all::<Lstm<3, 4, f64, 1>, 3, 4>("lstm, 2 levels");
    check_all::<Lstm<2, 3, f64>, 2, 3>("lstm, 1 level");
}

#[test]
fn gru_gradients_are_finite_differences() {
    check_all::<Gru<3, 4, f64, 1>, 3, 4>("gru, 2 levels");
    check_all::<Gru<2, 5, f64, 2>, 2, 5>("gru, 3 levels");
}

#[test]
fn rnn_gradients_are_finite_differences() {
    check_all::<Rnn<3, 4, f64, 1>, 3, 4>("rnn tanh, 2 levels");
    check_all::<Rnn<3, 4, f64, 1, true>, 3, 4>("rnn relu, 2 levels");
}

#[test]
#[allow(clippy::float_cmp)] // times a power of two is exact
fn scale_scales_and_gradients_add_up() {
    let case = Case::<Gru<3, 4, f64, 1>, 3, 4>::new(7, 9);
    let mut once = zeroed_box::<GruGradients<3, 4, f64, 1>>();
    let (_, inputs_once) = case.backward(1.0, &mut once);
    let mut quarters = zeroed_box::<GruGradients<3, 4, f64, 1>>();
    let (_, inputs_quarter) = case.backward(0.25, &mut quarters);
    case.backward(0.75, &mut quarters);
    // The input gradients are not scaled.
    assert_eq!(inputs_once, inputs_quarter);
    let mut pairs = Vec::new();
    let mut values = Vec::new();
    Tensors::for_each_tensor(&*once, |_, v| values.extend_from_slice(v));
    Tensors::for_each_tensor(&*quarters, |_, v| pairs.extend_from_slice(v));
    let mut scaled = zeroed_box::<GruGradients<3, 4, f64, 1>>();
    case.backward(0.25, &mut scaled);
    let mut quarter = Vec::new();
    Tensors::for_each_tensor(&*scaled, |_, v| quarter.extend_from_slice(v));
    for ((&one, &sum), &q) in values.iter().zip(&pairs).zip(&quarter) {
        // Times a power of two: exact.
        assert_eq!(q, one * 0.25);
        assert!((sum - one).abs() <= 1e-15 * one.abs().max(1.0));
    }
}

#[test]
fn gradients_are_the_layers_tensors() {
    type L = Lstm<3, 4, f64, 1>;
    assert_eq!(
        <LstmGradients<3, 4, f64, 1> as Tensors>::TENSORS,
        <L as Tensors>::TENSORS
    );
    assert_eq!(<L as Parameters>::PARAMETERS, L::PARAMETERS);
    assert_eq!(
        format!("{:?}", LstmGradients::<3, 4, f64, 1>::default()),
        "LstmGradients<3, 4, f64, 1>"
    );
}

static FIXTURE: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../fixtures/recurrent_training.json")).expect("json")
});

/// Agreement with torch, relative (absolute below 1).
const TORCH: f64 = 1e-10;

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// PyTorch's tensors, row-major, into storage.
fn load(target: &mut impl Tensors<Scalar = f64>, tensors: &Value) {
    target.for_each_tensor_mut(|info, values| {
        let source = floats(&tensors[info.name]);
        assert_eq!(source.len(), values.len(), "{}", info.name);
        for (k, v) in source.into_iter().enumerate() {
            values[info.storage_index(k)] = v;
        }
    });
}

/// The largest `|ours - torch| / max(|torch|, 1)` over every tensor.
fn against(ours: &impl Tensors<Scalar = f64>, tensors: &Value) -> f64 {
    let mut worst = 0.0_f64;
    ours.for_each_tensor(|info, values| {
        let torch = floats(&tensors[info.name]);
        assert_eq!(torch.len(), values.len(), "{}", info.name);
        for (k, t) in torch.into_iter().enumerate() {
            worst = worst.max((values[info.storage_index(k)] - t).abs() / t.abs().max(1.0));
        }
    });
    worst
}

fn torch_case<L: Bptt<3, 4>>(name: &str) {
    let case = &FIXTURE[name];
    let levels = L::levels();
    assert_eq!(case["levels"].as_u64(), Some(levels as u64));
    let mut layer = zeroed_box::<L>();
    load(&mut *layer, &case["tensors"]);
    let mut state = L::State::default();
    let (h0, c0) = (floats(&case["h0"]), case.get("c0").map(floats));
    for level in 0..levels {
        L::hidden(&mut state, level).copy_from_slice(&h0[level * 4..][..4]);
        if let (Some(cell), Some(c0)) = (L::cell(&mut state, level), &c0) {
            cell.copy_from_slice(&c0[level * 4..][..4]);
        }
    }
    let inputs: Vec<[f64; 3]> = floats(&case["inputs"])
        .chunks(3)
        .map(|c| c.try_into().expect("3"))
        .collect();
    let weights: Vec<[f64; 4]> = floats(&case["weights"])
        .chunks(4)
        .map(|c| c.try_into().expect("4"))
        .collect();
    let gradients_at = |layer: &L| {
        let mut gradients = zeroed_box::<Grads<L>>();
        let mut input_gradients = vec![[0.0; 3]; inputs.len()];
        layer.backward(
            &mut state.clone(),
            &inputs,
            &weights,
            1.0,
            &mut gradients,
            &mut input_gradients,
        );
        (gradients, input_gradients)
    };

    let (gradients, input_gradients) = gradients_at(&layer);
    let worst_gradient = against(&*gradients, &case["gradients"]);
    let torch_inputs = floats(&case["input_gradients"]);
    let worst_input = input_gradients
        .as_flattened()
        .iter()
        .zip(&torch_inputs)
        .map(|(a, t)| (a - t).abs() / t.abs().max(1.0))
        .fold(0.0, f64::max);

    let mut stepped = layer.clone();
    Sgd::new(0.1)
        .weight_decay(0.01)
        .step(&mut *stepped, &gradients);
    let worst_sgd = against(&*stepped, &case["sgd"]);

    let mut stepped = layer.clone();
    let mut adam = Adam::new(0.01);
    for _ in 0..2 {
        let (gradients, _) = gradients_at(&stepped);
        adam.step(&mut *stepped, &gradients);
    }
    let worst_adam = against(&*stepped, &case["adam"]);
    eprintln!(
        "{name} against torch: gradients {worst_gradient:.1e}, inputs {worst_input:.1e}, \
         sgd {worst_sgd:.1e}, adam {worst_adam:.1e}"
    );
    for (what, worst) in [
        ("gradients", worst_gradient),
        ("input gradients", worst_input),
        ("sgd", worst_sgd),
        ("adam", worst_adam),
    ] {
        assert!(worst < TORCH, "{name}: {what} {worst:e}");
    }
}

#[test]
fn gradients_and_optimizer_steps_are_torchs() {
    torch_case::<Lstm<3, 4, f64, 1>>("lstm");
    torch_case::<Gru<3, 4, f64>>("gru");
    torch_case::<Rnn<3, 4, f64>>("rnn");
    torch_case::<Rnn<3, 4, f64, 0, true>>("rnn_relu");
}

/// `backward_sequence` recomputes the window's forward pass; in `f32` too (where inference
/// computes the gates' activations with vector polynomials), the state it leaves is
/// `forward_sequence`'s, to the bit.
#[test]
fn in_f32_the_state_left_is_forward_sequences() {
    fn fill_f32(layer: &mut impl Tensors<Scalar = f32>, seed: u64) {
        let mut random = SplitMix64::new(seed);
        layer.for_each_tensor_mut(|_, values| {
            for v in values {
                #[allow(clippy::cast_possible_truncation)] // draws for an f32 layer
                {
                    *v = random.uniform(0.6) as f32;
                }
            }
        });
    }
    let inputs: Vec<[f32; 3]> = (0..40)
        .map(|t| std::array::from_fn(|i| ((t * 3 + i) as f32 * 0.31).sin()))
        .collect();
    let zeros = vec![[0.0f32; 7]; inputs.len()];
    let mut input_gradients = vec![[0.0f32; 3]; inputs.len()];

    let mut lstm = zeroed_box::<Lstm<3, 7, f32, 1>>();
    fill_f32(&mut *lstm, 1);
    let (mut forward, mut backward) = (LstmState::ZERO, LstmState::ZERO);
    lstm.forward_sequence(&mut forward, &inputs, &mut vec![[0.0; 7]; inputs.len()]);
    let mut gradients = zeroed_box::<LstmGradients<3, 7, f32, 1>>();
    lstm.backward_sequence(
        &mut backward,
        &inputs,
        &zeros,
        1.0,
        &mut gradients,
        &mut input_gradients,
    );
    assert_eq!(backward, forward, "LSTM");

    let mut gru = zeroed_box::<Gru<3, 7, f32>>();
    fill_f32(&mut *gru, 2);
    let (mut forward, mut backward) = (HiddenState::ZERO, HiddenState::ZERO);
    gru.forward_sequence(&mut forward, &inputs, &mut vec![[0.0; 7]; inputs.len()]);
    let mut gradients = zeroed_box::<GruGradients<3, 7, f32>>();
    gru.backward_sequence(
        &mut backward,
        &inputs,
        &zeros,
        1.0,
        &mut gradients,
        &mut input_gradients,
    );
    assert_eq!(backward, forward, "GRU");

    let mut rnn = zeroed_box::<Rnn<3, 7, f32>>();
    fill_f32(&mut *rnn, 3);
    let (mut forward, mut backward) = (HiddenState::ZERO, HiddenState::ZERO);
    rnn.forward_sequence(&mut forward, &inputs, &mut vec![[0.0; 7]; inputs.len()]);
    let mut gradients = zeroed_box::<nn_runtime::train::RnnGradients<3, 7, f32>>();
    rnn.backward_sequence(
        &mut backward,
        &inputs,
        &zeros,
        1.0,
        &mut gradients,
        &mut input_gradients,
    );
    assert_eq!(backward, forward, "RNN");
}
