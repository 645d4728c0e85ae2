//! The recurrent layers against onnxruntime (`f32`, within `1e-5`, absolute, at every step) and
//! a float64 numpy implementation of PyTorch's formulas (`f64`, within `1e-12`), on the cases of
//! `tests/fixtures/make_recurrent_fixtures.py`, which wrote `tests/fixtures/recurrent.txt`
//! (and checked both references against torch); then, on random weights, the promises of the
//! API: `forward_sequence` and `step_streams` give the bits of `step`, however the steps are
//! cut into calls.

use std::collections::HashMap;
use std::fmt::Debug;
use std::str::FromStr;
use std::sync::LazyLock;

use nn_runtime::init::SplitMix64;
use nn_runtime::layers::{Gru, HiddenState, Lstm, LstmState, Recurrent, Rnn};
use nn_runtime::{Init, Layout, Role, Scalar, Tensors, ZeroInit, zeroed_box};

/// A line of the fixture: case, dtype (`any` for what both read) and tensor.
type Key = (&'static str, &'static str, &'static str);

static FIXTURES: LazyLock<HashMap<Key, Vec<&str>>> = LazyLock::new(|| {
    include_str!("../fixtures/recurrent.txt")
        .lines()
        .map(|line| {
            let mut words = line.split_ascii_whitespace();
            let mut word = || words.next().expect("a case, a dtype and a tensor");
            let key = (word(), word(), word());
            (key, words.collect())
        })
        .collect()
});

/// An element type of the fixtures, with its tolerance.
trait Fixture: Scalar + FromStr<Err: Debug> {
    const DTYPE: &'static str;
    const TOLERANCE: f64;
}

impl Fixture for f32 {
    const DTYPE: &'static str = "f32";
    const TOLERANCE: f64 = 1e-5;
}

impl Fixture for f64 {
    const DTYPE: &'static str = "f64";
    const TOLERANCE: f64 = 1e-12;
}

fn parse<V: FromStr<Err: Debug>>(case: &str, dtype: &str, tensor: &str) -> Option<Vec<V>> {
    FIXTURES.get(&(case, dtype, tensor)).map(|words| {
        words
            .iter()
            .map(|word| word.parse().expect("a number"))
            .collect()
    })
}

fn values<V: FromStr<Err: Debug>>(case: &str, dtype: &str, tensor: &str) -> Vec<V> {
    parse(case, dtype, tensor).unwrap_or_else(|| panic!("no `{tensor}` for `{case}` in {dtype}"))
}

/// What the tests need of the three layer types, in one interface.
trait Layer<const I: usize, const H: usize>:
    Tensors<Scalar: Fixture> + ZeroInit + Recurrent + Debug
{
    const LEVELS: usize;
    const CELL: bool;
    fn step(&self, state: &mut Self::State, input: &[Self::Scalar; I]) -> [Self::Scalar; H];
    fn sequence(
        &self,
        state: &mut Self::State,
        inputs: &[[Self::Scalar; I]],
        outputs: &mut [[Self::Scalar; H]],
    );
    fn streams(
        &self,
        states: &mut [Self::State],
        inputs: &[[Self::Scalar; I]],
        outputs: &mut [[Self::Scalar; H]],
    );
    fn hidden(state: &mut Self::State, level: usize) -> &mut [Self::Scalar; H];
    fn cell(state: &mut Self::State, level: usize) -> Option<&mut [Self::Scalar; H]>;
}

impl<const I: usize, const H: usize, T: Fixture, const D: usize> Layer<I, H> for Lstm<I, H, T, D> {
    const LEVELS: usize = Self::LEVELS;
    const CELL: bool = true;
    fn step(&self, state: &mut Self::State, input: &[T; I]) -> [T; H] {
        self.step(state, input)
    }
    fn sequence(&self, state: &mut Self::State, inputs: &[[T; I]], outputs: &mut [[T; H]]) {
        self.forward_sequence(state, inputs, outputs);
    }
    fn streams(&self, states: &mut [Self::State], inputs: &[[T; I]], outputs: &mut [[T; H]]) {
        self.step_streams(states, inputs, outputs);
    }
    fn hidden(state: &mut LstmState<H, T, D>, level: usize) -> &mut [T; H] {
        state.hidden_mut(level)
    }
    fn cell(state: &mut LstmState<H, T, D>, level: usize) -> Option<&mut [T; H]> {
        Some(state.cell_mut(level))
    }
}

macro_rules! hidden_layer {
    ($layer:ident $(, $relu:ident)?) => {
        impl<const I: usize, const H: usize, T: Fixture, const D: usize $(, const $relu: bool)?>
            Layer<I, H> for $layer<I, H, T, D $(, $relu)?>
        {
            const LEVELS: usize = Self::LEVELS;
            const CELL: bool = false;
            fn step(&self, state: &mut Self::State, input: &[T; I]) -> [T; H] {
                self.step(state, input)
            }
            fn sequence(
                &self,
                state: &mut Self::State,
                inputs: &[[T; I]],
                outputs: &mut [[T; H]],
            ) {
                self.forward_sequence(state, inputs, outputs);
            }
            fn streams(
                &self,
                states: &mut [Self::State],
                inputs: &[[T; I]],
                outputs: &mut [[T; H]],
            ) {
                self.step_streams(states, inputs, outputs);
            }
            fn hidden(state: &mut HiddenState<H, T, D>, level: usize) -> &mut [T; H] {
                state.hidden_mut(level)
            }
            fn cell(_: &mut HiddenState<H, T, D>, _: usize) -> Option<&mut [T; H]> {
                None
            }
        }
    };
}
hidden_layer!(Gru);
hidden_layer!(Rnn, RELU);

/// A layer on the heap (an `Lstm<8, 64, f64>` is 150 KB) with the case's tensors, read in
/// PyTorch's order and stored through `storage_indices`.
#[allow(clippy::unnecessary_box_returns)] // large layers, built on the heap
fn load<L: Tensors<Scalar: Fixture> + ZeroInit>(case: &str) -> Box<L> {
    let mut layer = zeroed_box::<L>();
    let mut seen = 0;
    layer.for_each_tensor_mut(|info, storage| {
        let values: Vec<L::Scalar> = values(case, "any", info.name);
        assert_eq!(values.len(), info.len(), "`{}` of `{case}`", info.name);
        for (value, index) in values.into_iter().zip(info.storage_indices()) {
            storage[index] = value;
        }
        seen += 1;
    });
    assert_eq!(seen, L::TENSORS.len());
    layer
}

/// The largest absolute difference, after checking the lengths.
fn max_error<T: Scalar>(found: &[T], expected: &[T]) -> f64 {
    assert_eq!(found.len(), expected.len());
    found
        .iter()
        .zip(expected)
        .map(|(f, e)| (f.to_f64() - e.to_f64()).abs())
        .fold(0.0, f64::max)
}

/// Runs a fixture case in one dtype: the whole sequence in one `forward_sequence` call from the
/// case's initial state; the recorded outputs (every step's in f32) and the final state within
/// the tolerance, and
/// `step` on each input the same bits. Returns the largest error.
fn run_case<L: Layer<I, H>, const I: usize, const H: usize>(case: &str) -> f64 {
    let dtype = <L::Scalar as Fixture>::DTYPE;
    let layer = load::<L>(case);
    let inputs: Vec<[L::Scalar; I]> = values::<L::Scalar>(case, "any", "input")
        .chunks_exact(I)
        .map(|x| x.try_into().expect("I values"))
        .collect();
    let mut state = L::State::default();
    if let Some(h0) = parse::<L::Scalar>(case, "any", "h0") {
        for (level, h) in h0.chunks_exact(H).enumerate() {
            L::hidden(&mut state, level).copy_from_slice(h);
        }
    }
    if let Some(c0) = parse::<L::Scalar>(case, "any", "c0") {
        for (level, c) in c0.chunks_exact(H).enumerate() {
            L::cell(&mut state, level)
                .expect("an LSTM")
                .copy_from_slice(c);
        }
    }
    let start = state;
    let mut outputs = vec![[<L::Scalar as Scalar>::ZERO; H]; inputs.len()];
    layer.sequence(&mut state, &inputs, &mut outputs);

    // Every step in f32; in f64, steps spread over the sequence.
    let steps: Vec<usize> = values(case, dtype, "steps");
    if dtype == "f32" {
        assert_eq!(steps.len(), inputs.len(), "`{case}`: every step recorded");
    }
    let recorded: Vec<L::Scalar> = steps.iter().flat_map(|&t| outputs[t]).collect();
    let mut error = max_error(&recorded, &values(case, dtype, "output"));
    let h_n: Vec<L::Scalar> = (0..L::LEVELS)
        .flat_map(|k| *L::hidden(&mut state, k))
        .collect();
    error = error.max(max_error(&h_n, &values(case, dtype, "h_n")));
    if L::CELL {
        let c_n: Vec<L::Scalar> = (0..L::LEVELS)
            .flat_map(|k| *L::cell(&mut state, k).expect("an LSTM"))
            .collect();
        error = error.max(max_error(&c_n, &values(case, dtype, "c_n")));
    }
    assert!(
        error <= <L::Scalar as Fixture>::TOLERANCE,
        "`{case}` in {dtype}: error {error:e}"
    );

    let mut stepped = start;
    for (input, output) in inputs.iter().zip(&outputs) {
        assert!(
            bits(&layer.step(&mut stepped, input)) == bits(output),
            "`{case}`: step"
        );
    }
    assert!(stepped == state, "`{case}`: the final state of step");
    error
}

/// One test per case, in `f32` and `f64`; `--nocapture` shows the errors.
macro_rules! case {
    ($name:ident, $layer:ident < $i:literal, $h:literal $(, $rest:tt)* >) => {
        #[test]
        fn $name() {
            let case = stringify!($name);
            let f32_error = run_case::<$layer<$i, $h, f32 $(, $rest)*>, $i, $h>(case);
            let f64_error = run_case::<$layer<$i, $h, f64 $(, $rest)*>, $i, $h>(case);
            println!("{case}: f32 {f32_error:.1e} from onnxruntime, f64 {f64_error:.1e} from numpy");
        }
    };
}

case!(lstm_i1_h1, Lstm<1, 1>);
case!(lstm_i3_h17, Lstm<3, 17>);
case!(lstm_i1_h32, Lstm<1, 32>);
case!(lstm_i8_h64, Lstm<8, 64>);
case!(lstm_i2_h3_deep, Lstm<2, 3, 1>);
case!(lstm_i4_h17_state, Lstm<4, 17>);
case!(gru_i1_h1, Gru<1, 1>);
case!(gru_i5_h17, Gru<5, 17>);
case!(gru_i1_h32, Gru<1, 32>);
case!(gru_i3_h64, Gru<3, 64>);
case!(gru_i2_h17_deep_state, Gru<2, 17, 1>);
case!(rnn_tanh_i1_h3, Rnn<1, 3>);
case!(rnn_tanh_i6_h64, Rnn<6, 64>);
case!(rnn_relu_i2_h17, Rnn<2, 17, 0, true>);
case!(rnn_relu_i7_h3_deep_state, Rnn<7, 3, 1, true>);

/// The bits of every value (as `f64`, which keeps the sign of zero), for comparisons to the bit.
fn bits<T: Scalar>(values: &[T]) -> Vec<u64> {
    values.iter().map(|v| v.to_f64().to_bits()).collect()
}

/// A layer with random tensors, uniform in `[-1.5 / sqrt(H), 1.5 / sqrt(H))`.
#[allow(clippy::unnecessary_box_returns)] // large layers, built on the heap
fn random<L: Layer<I, H>, const I: usize, const H: usize>(seed: u64) -> Box<L> {
    let mut rng = SplitMix64::new(seed);
    let bound = 1.5 / (H as f64).sqrt();
    let mut layer = zeroed_box::<L>();
    layer.for_each_tensor_mut(|_, values| {
        for value in values {
            *value = L::Scalar::from_f64(rng.uniform(bound));
        }
    });
    layer
}

fn random_rows<T: Scalar, const N: usize>(rng: &mut SplitMix64, n: usize) -> Vec<[T; N]> {
    (0..n)
        .map(|_| std::array::from_fn(|_| T::from_f64(rng.uniform(2.0))))
        .collect()
}

/// A random state: every level's `h` (and `c`).
fn random_state<L: Layer<I, H>, const I: usize, const H: usize>(rng: &mut SplitMix64) -> L::State {
    let mut state = L::State::default();
    for level in 0..L::LEVELS {
        for h in L::hidden(&mut state, level) {
            *h = L::Scalar::from_f64(rng.uniform(0.8));
        }
        if let Some(c) = L::cell(&mut state, level) {
            for c in c {
                *c = L::Scalar::from_f64(rng.uniform(2.0));
            }
        }
    }
    state
}

/// `forward_sequence` over several lengths (0, 1, chunks and their neighbours, not a multiple
/// of any chunk) and over a long sequence cut into calls of random lengths, and `step_streams`
/// over several streams: the bits of `step`, outputs and states.
fn same_bits<L: Layer<I, H>, const I: usize, const H: usize>(seed: u64) {
    let layer = random::<L, I, H>(seed);
    let mut rng = SplitMix64::new(seed + 1);
    let what = format!("{layer:?}");
    for length in [0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 100, 301] {
        let inputs = random_rows::<L::Scalar, I>(&mut rng, length);
        let start = random_state::<L, I, H>(&mut rng);
        let mut stepped = start;
        let expected: Vec<[L::Scalar; H]> =
            inputs.iter().map(|x| layer.step(&mut stepped, x)).collect();
        let mut state = start;
        let mut outputs = vec![[<L::Scalar as Scalar>::ZERO; H]; length];
        layer.sequence(&mut state, &inputs, &mut outputs);
        assert!(
            bits(outputs.as_flattened()) == bits(expected.as_flattened()),
            "{what}: {length} steps"
        );
        assert!(state == stepped, "{what}: the state after {length} steps");

        // The same sequence in calls of random lengths, the state carried.
        let mut state = start;
        let mut pieces = vec![[<L::Scalar as Scalar>::ZERO; H]; length];
        let mut at = 0;
        while at < length {
            let n = (rng.next_u64() % 40) as usize;
            let end = (at + n).min(length);
            layer.sequence(&mut state, &inputs[at..end], &mut pieces[at..end]);
            at = end;
        }
        assert!(
            bits(pieces.as_flattened()) == bits(expected.as_flattened()),
            "{what}: {length} steps in pieces"
        );
        assert!(
            state == stepped,
            "{what}: the state after {length} steps in pieces"
        );
    }
    for streams in [0, 1, 3, 8, 13, 30] {
        let mut states: Vec<L::State> = (0..streams)
            .map(|_| random_state::<L, I, H>(&mut rng))
            .collect();
        let mut expected_states = states.clone();
        for round in 0..3 {
            let inputs = random_rows::<L::Scalar, I>(&mut rng, streams);
            let expected: Vec<[L::Scalar; H]> = expected_states
                .iter_mut()
                .zip(&inputs)
                .map(|(state, x)| layer.step(state, x))
                .collect();
            let mut outputs = vec![[<L::Scalar as Scalar>::ZERO; H]; streams];
            layer.streams(&mut states, &inputs, &mut outputs);
            assert!(
                bits(outputs.as_flattened()) == bits(expected.as_flattened()),
                "{what}: {streams} streams, round {round}"
            );
            assert!(
                states == expected_states,
                "{what}: {streams} streams' states"
            );
        }
    }
}

#[test]
fn forward_sequence_and_step_streams_give_the_bits_of_step() {
    same_bits::<Lstm<1, 32, f32>, 1, 32>(1);
    same_bits::<Lstm<1, 64, f32>, 1, 64>(2);
    same_bits::<Lstm<5, 17, f32, 2>, 5, 17>(3);
    same_bits::<Lstm<3, 8, f64, 1>, 3, 8>(4);
    same_bits::<Lstm<130, 20, f32>, 130, 20>(5);
    same_bits::<Gru<1, 32, f32>, 1, 32>(6);
    same_bits::<Gru<4, 48, f32, 1>, 4, 48>(7);
    same_bits::<Gru<2, 5, f64>, 2, 5>(8);
    same_bits::<Rnn<1, 32, f32>, 1, 32>(9);
    same_bits::<Rnn<3, 70, f32, 1, true>, 3, 70>(10);
    same_bits::<Rnn<2, 9, f64, 0, true>, 2, 9>(11);
    same_bits::<Lstm<1, 1, f32, 7>, 1, 1>(12);
    // Recurrent matrices large enough for `step_streams` to multiply several streams at once.
    same_bits::<Lstm<3, 64, f32, 1>, 3, 64>(13);
    same_bits::<Rnn<2, 100, f32, 1>, 2, 100>(14);
    same_bits::<Gru<2, 40, f64, 1>, 2, 40>(15);
}

#[test]
fn tensors_are_pytorchs_state_dict() {
    let names: Vec<&str> = Lstm::<3, 5, f32, 1>::TENSORS
        .iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        [
            "weight_ih_l0",
            "weight_hh_l0",
            "bias_ih_l0",
            "bias_hh_l0",
            "weight_ih_l1",
            "weight_hh_l1",
            "bias_ih_l1",
            "bias_hh_l1"
        ]
    );
    let shapes = |tensors: &[nn_runtime::TensorInfo]| -> Vec<Vec<usize>> {
        tensors.iter().map(|t| t.shape.to_vec()).collect()
    };
    assert_eq!(
        shapes(Lstm::<3, 5, f32, 1>::TENSORS),
        [
            vec![20, 3],
            vec![20, 5],
            vec![20],
            vec![20],
            vec![20, 5],
            vec![20, 5],
            vec![20],
            vec![20]
        ]
    );
    assert_eq!(
        shapes(Gru::<2, 4, f64>::TENSORS),
        [vec![12, 2], vec![12, 4], vec![12], vec![12]]
    );
    assert_eq!(
        shapes(Rnn::<6, 7, f32, 0, true>::TENSORS),
        [vec![7, 6], vec![7, 7], vec![7], vec![7]]
    );
    assert_eq!(Lstm::<1, 1, f32, 7>::TENSORS.len(), 32);
    assert_eq!(Lstm::<1, 1, f32, 7>::TENSORS[31].name, "bias_hh_l7");
    for tensor in Gru::<2, 4, f32, 2>::TENSORS {
        assert_eq!(tensor.role, Role::Parameter);
        assert_eq!(tensor.init, Init::UniformHidden { hidden: 4 });
        let layout = if tensor.shape.len() == 2 {
            Layout::Transposed
        } else {
            Layout::Contiguous
        };
        assert_eq!(tensor.layout, layout, "{}", tensor.name);
    }
    let parameters = |tensors: &[nn_runtime::TensorInfo]| -> usize {
        tensors.iter().map(nn_runtime::TensorInfo::len).sum()
    };
    assert_eq!(
        Lstm::<3, 5, f32, 1>::PARAMETERS,
        parameters(Lstm::<3, 5, f32, 1>::TENSORS)
    );
    assert_eq!(
        Gru::<2, 4, f32, 2>::PARAMETERS,
        parameters(Gru::<2, 4, f32, 2>::TENSORS)
    );
    assert_eq!(
        Rnn::<6, 7, f32>::PARAMETERS,
        parameters(Rnn::<6, 7, f32>::TENSORS)
    );
}

/// Values written in PyTorch's order through `storage_indices` read back in that order, every
/// slice as long as its tensor; and the weights are by column: `weight_hh_l1[row][column]`
/// of an `Rnn` multiplies `h[column]` of level 1 into its `row`.
#[test]
#[allow(clippy::float_cmp)] // exact values
fn storage_round_trips_in_pytorchs_order() {
    let mut layer = zeroed_box::<Lstm<3, 5, f64, 1>>();
    let mut next = 0.0;
    layer.for_each_tensor_mut(|info, storage| {
        assert_eq!(storage.len(), info.len(), "{}", info.name);
        for index in info.storage_indices() {
            storage[index] = next;
            next += 1.0;
        }
    });
    let mut read = Vec::new();
    layer.for_each_tensor(|info, storage| {
        read.extend(info.storage_indices().map(|index| storage[index]));
    });
    assert_eq!(read, (0..read.len()).map(|k| k as f64).collect::<Vec<_>>());

    // h' = relu(W_hh h) at level 1 with one weight, row 2 and column 4: h[2] = 0.5 h[4].
    let mut rnn = zeroed_box::<Rnn<1, 5, f64, 1, true>>();
    rnn.for_each_tensor_mut(|info, storage| {
        if info.name == "weight_hh_l1" {
            storage[info.storage_index(2 * 5 + 4)] = 0.5;
        }
    });
    let mut state = HiddenState::<5, f64, 1>::ZERO;
    *state.hidden_mut(1) = [0.0, 0.0, 0.0, 0.0, 3.0];
    assert_eq!(rnn.step(&mut state, &[1.0]), [0.0, 0.0, 1.5, 0.0, 0.0]);
    assert_eq!(state.hidden(0), &[0.0; 5]);
}

#[test]
#[allow(clippy::float_cmp)] // exact values
fn states_start_at_zero_and_debug_shows_shapes() {
    assert_eq!(LstmState::<3, f32, 1>::default(), LstmState::ZERO);
    assert_eq!(LstmState::<3, f32, 1>::LEVELS, 2);
    let state = <Lstm<2, 3, f32, 1> as Recurrent>::State::default();
    assert_eq!(state.cell(1), &[0.0; 3]);
    assert_eq!(HiddenState::<4, f64>::default().hidden(0), &[0.0; 4]);
    assert_eq!(
        format!("{:?}", Lstm::<2, 3, f32, 1>::zeroed()),
        "Lstm<2, 3, f32, 1>"
    );
    assert_eq!(
        format!("{:?}", Gru::<2, 3, f64>::zeroed()),
        "Gru<2, 3, f64, 0>"
    );
    assert_eq!(
        format!("{:?}", Rnn::<2, 3, f32, 0, true>::zeroed()),
        "Rnn(relu)<2, 3, f32, 0>"
    );
    assert_eq!(nn_runtime::LayerKind::Lstm.to_string(), "LSTM");
    assert_eq!(nn_runtime::LayerKind::Gru.to_string(), "GRU");
    assert_eq!(nn_runtime::LayerKind::Rnn.to_string(), "RNN");
    assert_eq!(nn_runtime::LayerKind::RnnRelu.to_string(), "RNN(relu)");
}

#[test]
fn lengths_that_differ_panic() {
    let layer = Gru::<1, 2, f32>::zeroed();
    let sequence = std::panic::catch_unwind(|| {
        let mut state = HiddenState::ZERO;
        layer.forward_sequence(&mut state, &[[1.0]; 3], &mut [[0.0; 2]; 2]);
    });
    assert!(sequence.is_err());
    let streams = std::panic::catch_unwind(|| {
        let mut states = [HiddenState::ZERO; 2];
        layer.step_streams(&mut states, &[[1.0]; 3], &mut [[0.0; 2]; 3]);
    });
    assert!(streams.is_err());
}

/// A network with recurrent layers written by hand as generated code would be (`2 -> lstm(8,
/// num_layers = 2) -> rnn(3)`, one step from zero states in `forward_slice`), to check that the
/// shared machinery handles them: `init::randomize` draws every tensor uniform in
/// `[-1 / sqrt(H), 1 / sqrt(H))` as PyTorch, and the summary names the kinds as PyTorch does.
struct Voice {
    lstm: Lstm<2, 8, f32, 1>,
    rnn: Rnn<8, 3, f32>,
}

nn_runtime::__zero_init!(ZeroInit, Voice {
    lstm: Lstm<2, 8, f32, 1>,
    rnn: Rnn<8, 3, f32>,
});

impl nn_runtime::Network for Voice {
    type Scalar = f32;
    const NAME: &'static str = "Voice";
    const INPUTS: usize = 2;
    const OUTPUTS: usize = 3;
    const PARAMETERS: usize = Lstm::<2, 8, f32, 1>::PARAMETERS + Rnn::<8, 3, f32>::PARAMETERS;
    const LAYERS: &'static [nn_runtime::LayerInfo] = &[
        nn_runtime::LayerInfo {
            name: "lstm",
            named: true,
            kind: nn_runtime::LayerKind::Lstm,
            input: &[2],
            output: &[8],
            activation: nn_runtime::Activation::Linear,
            tensors: Lstm::<2, 8, f32, 1>::TENSORS,
        },
        nn_runtime::LayerInfo {
            name: "rnn",
            named: true,
            kind: nn_runtime::LayerKind::Rnn,
            input: &[8],
            output: &[3],
            activation: nn_runtime::Activation::Linear,
            tensors: Rnn::<8, 3, f32>::TENSORS,
        },
    ];

    fn for_each_tensor<'a>(
        &'a self,
        mut f: impl FnMut(&'static nn_runtime::LayerInfo, &'static nn_runtime::TensorInfo, &'a [f32]),
    ) {
        let layers = Self::LAYERS;
        self.lstm.for_each_tensor(|t, v| f(&layers[0], t, v));
        self.rnn.for_each_tensor(|t, v| f(&layers[1], t, v));
    }

    fn for_each_tensor_mut<'a>(
        &'a mut self,
        mut f: impl FnMut(
            &'static nn_runtime::LayerInfo,
            &'static nn_runtime::TensorInfo,
            &'a mut [f32],
        ),
    ) {
        let layers = Self::LAYERS;
        self.lstm.for_each_tensor_mut(|t, v| f(&layers[0], t, v));
        self.rnn.for_each_tensor_mut(|t, v| f(&layers[1], t, v));
    }

    fn forward_slice(&self, input: &[f32], output: &mut [f32]) -> Result<(), nn_runtime::Error> {
        let input: &[f32; 2] = input.try_into().map_err(|_| nn_runtime::Error::Input {
            layer: "lstm",
            expected: 2,
            found: input.len(),
        })?;
        let h = self.lstm.step(&mut LstmState::default(), input);
        output.copy_from_slice(&self.rnn.step(&mut HiddenState::default(), &h));
        Ok(())
    }
}

#[test]
fn recurrent_layers_initialise_as_pytorch_and_show_in_the_summary() {
    use nn_runtime::Network;
    let mut net = zeroed_box::<Voice>();
    nn_runtime::init::randomize(&mut *net, 3);
    let mut seen = 0;
    net.for_each_tensor(|layer, tensor, values| {
        let hidden = if layer.name == "lstm" { 8.0 } else { 3.0 };
        let bound = 1.0 / f32::sqrt(hidden);
        assert!(
            values.iter().all(|v| v.abs() <= bound && *v != 0.0),
            "{}.{}",
            layer.name,
            tensor.name
        );
        seen += 1;
    });
    assert_eq!(seen, 8 + 4);
    let summary = Voice::summary().to_string();
    assert!(
        summary.contains("LSTM") && summary.contains("RNN"),
        "{summary}"
    );
    assert_eq!(Voice::summary().parameters(), Voice::PARAMETERS);
    let mut output = [0.0; 3];
    net.forward_slice(&[0.5, -1.0], &mut output)
        .expect("the right lengths");
    assert!(output.iter().all(|v| v.abs() < 1.0));
}
