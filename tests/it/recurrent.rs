//! Sequence networks (`lstm`, `gru`, `rnn`) against PyTorch: `tests/fixtures/recurrent_*`
//! (each model's `state_dict` as PyTorch saves it, and PyTorch's float64 outputs over 300
//! steps, made by `make_recurrent.py`); and the three ways of running time steps (`step`,
//! `forward_sequence`, `step_streams`) giving the same bits.

use crate::fixtures::{floats, path};
use nn::{Error, Network as _};
use serde_json::Value;

nn::network! {
    /// A guitar amplifier: one sample in, one out.
    pub struct Amp = 1 -> lstm(32) as lstm -> 1 as head;

    /// Two GRU levels, then per-step dense layers.
    pub struct Stacked = 4 -> gru(16, layers = 2) as gru -> 8 relu as fc -> 3 softmax as out;

    /// Two plain RNNs, loaded by position (`0.*`, `1.*`, `2.*`).
    pub struct Plain = 3 -> rnn(8, relu) -> rnn(5) -> 2;

    /// Three LSTM levels in `f64`.
    pub struct Deep = 2 -> lstm(12, layers = 3) as lstm -> 1 as head with scalar = f64;

    /// [`Amp`] with the fixture's weights baked in at compile time.
    pub struct BakedAmp = 1 -> lstm(32) as lstm -> 1 as head
        with weights = "tests/fixtures/recurrent_amp.safetensors";

    /// Causal convolutions (a TCN) before a GRU.
    pub struct Tcn = 2 -> conv1d(8, 3, dilation = 2, causal) tanh as conv1
        -> conv1d(8, 2, dilation = 4, groups = 2, causal) as conv2 -> gru(6) as gru -> 1 as head;

    /// Only causal convolutions: a sequence network without a recurrent layer.
    pub struct Wavenet = 1 -> conv1d(4, 2, causal) tanh -> conv1d(4, 2, dilation = 2, causal) tanh
        -> conv1d(4, 2, dilation = 4, causal) -> 1;

    /// [`Amp`] with a smaller LSTM: the file's tensors do not fit it.
    pub struct SmallAmp = 1 -> lstm(16) as lstm -> 1 as head;

    /// [`Amp`] with two levels: the file has no `_l1` tensors.
    pub struct DeepAmp = 1 -> lstm(32, layers = 2) as lstm -> 1 as head;

    /// [`Stacked`] in `f64`, for the bit-identity checks in both scalar types.
    pub struct StackedF64 = 4 -> gru(16, layers = 2) as gru -> 8 relu as fc -> 3 softmax as out
        with scalar = f64;
}

/// One model's inputs and PyTorch's float64 outputs, one row per time step.
fn expected(model: &str) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let text =
        std::fs::read_to_string(path("recurrent_expected.json")).expect("recurrent_expected.json");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    let rows = |key: &str| -> Vec<Vec<f64>> {
        json[model][key]
            .as_array()
            .expect("an array of steps")
            .iter()
            .map(floats)
            .collect()
    };
    (rows("inputs"), rows("outputs"))
}

/// The largest absolute difference over all steps.
fn largest_error<const O: usize, T: Copy + Into<f64>>(
    actual: &[[T; O]],
    expected: &[Vec<f64>],
) -> f64 {
    assert_eq!(actual.len(), expected.len());
    actual
        .iter()
        .zip(expected)
        .flat_map(|(a, e)| a.iter().zip(e).map(|(a, e)| ((*a).into() - e).abs()))
        .fold(0.0, f64::max)
}

#[allow(clippy::cast_possible_truncation)] // the inputs are `f32`s written exactly
fn rows_f32<const I: usize>(rows: &[Vec<f64>]) -> Vec<[f32; I]> {
    rows.iter()
        .map(|row| core::array::from_fn(|i| row[i] as f32))
        .collect()
}

fn rows_f64<const I: usize>(rows: &[Vec<f64>]) -> Vec<[f64; I]> {
    rows.iter()
        .map(|row| core::array::from_fn(|i| row[i]))
        .collect()
}

#[test]
fn an_lstm_from_pytorch_matches_it_over_300_steps() {
    let (inputs, outputs) = expected("amp");
    let net = Amp::from_safetensors_file(path("recurrent_amp.safetensors")).expect("loads");
    let inputs = rows_f32::<1>(&inputs);
    let mut state = AmpState::ZERO;
    let mut actual = vec![[0.0; 1]; inputs.len()];
    net.forward_sequence(&mut state, &inputs, &mut actual)
        .unwrap();
    let error = largest_error(&actual, &outputs);
    assert!(error <= 1e-5, "largest error {error:e}");
    // The state moved: the last step's hidden state is not zero.
    assert_ne!(state, AmpState::ZERO);
}

#[test]
fn baked_weights_give_the_loaded_networks_bits() {
    static BAKED: BakedAmp = BakedAmp::BAKED;
    let (inputs, _) = expected("amp");
    let loaded = Amp::from_safetensors_file(path("recurrent_amp.safetensors")).expect("loads");
    let (mut a, mut b) = (AmpState::ZERO, BakedAmpState::ZERO);
    for input in rows_f32::<1>(&inputs) {
        let (x, y) = (loaded.step(&mut a, &input), BAKED.step(&mut b, &input));
        assert_eq!(x[0].to_bits(), y[0].to_bits());
    }
}

#[test]
fn stacked_gru_and_dense_layers_match_pytorch() {
    let (inputs, outputs) = expected("stacked");
    let net = Stacked::from_safetensors_file(path("recurrent_stacked.safetensors")).expect("loads");
    let inputs = rows_f32::<4>(&inputs);
    let mut state = StackedState::default();
    let actual: Vec<[f32; 3]> = inputs.iter().map(|x| net.step(&mut state, x)).collect();
    let error = largest_error(&actual, &outputs);
    assert!(error <= 1e-5, "largest error {error:e}");
}

#[test]
fn plain_rnns_load_by_position_and_match_pytorch() {
    let (inputs, outputs) = expected("plain");
    let net = Plain::from_safetensors_file(path("recurrent_plain.safetensors")).expect("loads");
    let inputs = rows_f32::<3>(&inputs);
    let mut actual = vec![[0.0; 2]; inputs.len()];
    // Through the generic slice API: a fresh stream.
    net.forward_slice(inputs.as_flattened(), actual.as_flattened_mut())
        .unwrap();
    let error = largest_error(&actual, &outputs);
    assert!(error <= 1e-5, "largest error {error:e}");
}

#[test]
fn three_lstm_levels_in_f64_match_pytorch_within_1e_12() {
    let (inputs, outputs) = expected("deep");
    let net = Deep::from_safetensors_file(path("recurrent_deep.safetensors")).expect("loads");
    let inputs = rows_f64::<2>(&inputs);
    let mut state = DeepState::ZERO;
    let mut actual = vec![[0.0; 1]; inputs.len()];
    net.forward_sequence(&mut state, &inputs, &mut actual)
        .unwrap();
    let error = largest_error(&actual, &outputs);
    assert!(error <= 1e-12, "largest error {error:e}");
}

#[test]
fn causal_convolutions_and_a_gru_match_pytorch() {
    let (inputs, outputs) = expected("tcn");
    let net = Tcn::from_safetensors_file(path("recurrent_tcn.safetensors")).expect("loads");
    let inputs = rows_f32::<2>(&inputs);
    let mut state = TcnState::ZERO;
    let mut actual = vec![[0.0; 1]; inputs.len()];
    // Two blocks: the convolutions' history carries across.
    net.forward_sequence(&mut state, &inputs[..77], &mut actual[..77])
        .unwrap();
    net.forward_sequence(&mut state, &inputs[77..], &mut actual[77..])
        .unwrap();
    let error = largest_error(&actual, &outputs);
    assert!(error <= 1e-5, "largest error {error:e}");
}

#[test]
fn causal_convolutions_alone_step_block_and_stream_alike() {
    let net = Wavenet::random(8);
    let inputs = noise::<1>(4, 300);
    let mut state = WavenetState::ZERO;
    let stepped: Vec<[f32; 1]> = inputs.iter().map(|x| net.step(&mut state, x)).collect();
    let mut blocked = vec![[0.0; 1]; inputs.len()];
    let mut again = WavenetState::default();
    net.forward_sequence(&mut again, &inputs[..5], &mut blocked[..5])
        .unwrap();
    net.forward_sequence(&mut again, &inputs[5..], &mut blocked[5..])
        .unwrap();
    assert_eq!(blocked, stepped);
    assert_eq!(again, state);
    // Three streams, the first the one above.
    let mut states = [WavenetState::ZERO; 3];
    let mut outputs = [[0.0; 1]; 3];
    for (t, x) in inputs.iter().enumerate() {
        net.step_streams(&mut states, &[*x, [0.5], [-0.5]], &mut outputs)
            .unwrap();
        assert_eq!(outputs[0], stepped[t]);
    }
    assert_eq!(states[0], state);
    assert_ne!(states[1], states[2]);
}

/// Random inputs of `I` values in `[-1, 1)` for `steps` steps, from `seed` (xorshift).
pub(crate) fn noise<const I: usize>(seed: u64, steps: usize) -> Vec<[f32; I]> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..steps)
        .map(|_| {
            core::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                #[allow(clippy::cast_precision_loss)]
                let unit = (state >> 11) as f32 / (1u64 << 53) as f32;
                2.0 * unit - 1.0
            })
        })
        .collect()
}

#[test]
fn blocks_of_any_lengths_give_the_bits_of_steps() {
    let net = Stacked::random(3);
    let inputs = noise::<4>(1, 1000);
    let mut state = StackedState::ZERO;
    let stepped: Vec<[f32; 3]> = inputs.iter().map(|x| net.step(&mut state, x)).collect();
    let final_state = state;
    for lengths in [
        &[1000][..],
        &[1, 2, 3, 500, 494],
        &[0, 129, 7, 864],
        &[333, 333, 334],
    ] {
        let mut state = StackedState::ZERO;
        let mut blocked = vec![[0.0; 3]; inputs.len()];
        let mut start = 0;
        for &length in lengths {
            let end = start + length;
            net.forward_sequence(&mut state, &inputs[start..end], &mut blocked[start..end])
                .unwrap();
            start = end;
        }
        assert_eq!(start, inputs.len());
        let bits = |rows: &[[f32; 3]]| -> Vec<u32> {
            rows.as_flattened().iter().map(|v| v.to_bits()).collect()
        };
        assert_eq!(bits(&blocked), bits(&stepped), "blocks {lengths:?}");
        assert_eq!(state, final_state, "blocks {lengths:?}");
    }
}

#[test]
fn streams_step_together_with_the_bits_of_each_alone() {
    let net = StackedF64::random(5);
    let streams = 37;
    let mut together = vec![StackedF64State::ZERO; streams];
    let mut alone = together.clone();
    for step in 0..50 {
        let inputs: Vec<[f64; 4]> = noise::<4>(step, streams)
            .iter()
            .map(|x| x.map(f64::from))
            .collect();
        let mut outputs = vec![[0.0; 3]; streams];
        net.step_streams(&mut together, &inputs, &mut outputs)
            .unwrap();
        for ((state, input), output) in alone.iter_mut().zip(&inputs).zip(&outputs) {
            let expected = net.step(state, input);
            assert_eq!(expected.map(f64::to_bits), output.map(f64::to_bits));
        }
    }
    assert_eq!(together, alone);
}

#[test]
fn a_state_is_plain_data_copied_and_reset() {
    fn shared<T: Send + Sync>(_: &T) {}
    let net = Amp::random(1);
    let inputs = noise::<1>(9, 64);
    let mut state = AmpState::ZERO;
    for x in &inputs[..32] {
        let _ = net.step(&mut state, x);
    }
    // A copy is a fork: both continue alike.
    let mut fork = state;
    for x in &inputs[32..] {
        assert_eq!(net.step(&mut state, x), net.step(&mut fork, x));
    }
    state.reset();
    assert_eq!(state, AmpState::default());
    let mut fresh = AmpState::ZERO;
    assert_eq!(
        net.step(&mut state, &inputs[0]),
        net.step(&mut fresh, &inputs[0])
    );
    // One network, shared by threads, each with its streams.
    shared(&*net);
    // A fresh state built on the heap, recurrent layers and causal convolutions alike.
    assert_eq!(*AmpState::zeroed(), AmpState::ZERO);
    assert_eq!(*TcnState::zeroed(), TcnState::ZERO);
    let tcn = Tcn::random(2);
    let (mut boxed, mut fresh) = (TcnState::zeroed(), TcnState::ZERO);
    for x in &noise::<2>(3, 12) {
        assert_eq!(tcn.step(&mut boxed, x), tcn.step(&mut fresh, x));
    }
    assert_eq!(*boxed, fresh);
}

#[test]
fn mismatched_lengths_are_typed_errors_and_run_nothing() {
    let net = Amp::random(1);
    let mut state = AmpState::ZERO;
    let mut outputs = [[0.0; 1]; 2];
    let error = net
        .forward_sequence(&mut state, &[[0.5]; 3], &mut outputs)
        .unwrap_err();
    assert_eq!(
        error,
        Error::Batch {
            layer: "head",
            expected: 3,
            found: 2
        }
    );
    assert_eq!(state, AmpState::ZERO);
    let mut states = [AmpState::ZERO; 2];
    let error = net
        .step_streams(&mut states, &[[0.5]; 3], &mut [[0.0]; 3])
        .unwrap_err();
    assert_eq!(
        error,
        Error::Streams {
            layer: "lstm",
            expected: 2,
            found: 3
        }
    );
    assert_eq!(
        error.to_string(),
        "layer `lstm`: expected 2 input rows, one per stream state, found 3"
    );
    let plain = Plain::random(2);
    let error = plain.forward_slice(&[0.0; 7], &mut [0.0; 4]).unwrap_err();
    assert_eq!(
        error,
        Error::Steps {
            layer: "layer0",
            width: 3,
            found: 7
        }
    );
    assert_eq!(
        error.to_string(),
        "layer `layer0`: expected whole time steps of 3 inputs, found 7 values"
    );
    let error = plain.forward_slice(&[0.0; 6], &mut [0.0; 6]).unwrap_err();
    assert_eq!(
        error,
        Error::Output {
            layer: "layer2",
            expected: 4,
            found: 6
        }
    );
}

#[test]
fn files_that_do_not_fit_are_typed_errors_naming_the_tensor() {
    let bytes = std::fs::read(path("recurrent_amp.safetensors")).unwrap();
    match SmallAmp::from_safetensors(&bytes).map(|_| ()).unwrap_err() {
        Error::Shape {
            layer,
            tensor,
            expected,
            found,
            ..
        } => assert_eq!(
            (layer, tensor.as_str(), expected, found),
            ("lstm", "lstm.weight_ih_l0", vec![64, 1], vec![128, 1])
        ),
        other => panic!("expected a shape error, found {other}"),
    }
    let error = DeepAmp::from_safetensors(&bytes).map(|_| ()).unwrap_err();
    assert!(error.to_string().contains("lstm.weight_ih_l1"), "{error}");
    // A level more than declared: the layer is named, with the tensors it has.
    let deeper = DeepAmp::random(3).to_safetensors();
    let error = Amp::from_safetensors(&deeper).map(|_| ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer `lstm`: unexpected tensor `lstm.bias_hh_l1`: the layer has `lstm.weight_ih_l0`, \
         `lstm.weight_hh_l0`, `lstm.bias_ih_l0` and `lstm.bias_hh_l0`"
    );
    assert!(matches!(error, Error::ExtraTensor { layer: "lstm", .. }));
}

#[test]
fn recurrent_tensors_are_named_and_shaped_as_pytorch() {
    let names: Vec<String> = Deep::LAYERS
        .iter()
        .flat_map(|layer| {
            layer
                .tensors
                .iter()
                .map(move |t| format!("{}.{} {:?}", layer.name, t.name, t.shape))
        })
        .collect();
    assert_eq!(
        names,
        [
            "lstm.weight_ih_l0 [48, 2]",
            "lstm.weight_hh_l0 [48, 12]",
            "lstm.bias_ih_l0 [48]",
            "lstm.bias_hh_l0 [48]",
            "lstm.weight_ih_l1 [48, 12]",
            "lstm.weight_hh_l1 [48, 12]",
            "lstm.bias_ih_l1 [48]",
            "lstm.bias_hh_l1 [48]",
            "lstm.weight_ih_l2 [48, 12]",
            "lstm.weight_hh_l2 [48, 12]",
            "lstm.bias_ih_l2 [48]",
            "lstm.bias_hh_l2 [48]",
            "head.weight [1, 12]",
            "head.bias [1]",
        ]
    );
    assert_eq!(
        Deep::PARAMETERS,
        4 * 12 * (2 + 12 + 2) + 2 * 4 * 12 * (12 + 12 + 2) + 13
    );
    // Saved and loaded again, to the bit.
    let net = Deep::random(4);
    let again = Deep::from_safetensors(&net.to_safetensors()).unwrap();
    assert_eq!(again.to_safetensors(), net.to_safetensors());
}

nn::network! {
    /// An LSTM by position, for the file of a dense network of the same prefixes.
    pub struct LstmByPosition = 2 -> lstm(4) -> 1;
}

nn::network! {
    /// Dense layers where the LSTM was meant: `0.weight`, `0.bias`, `1.weight`, `1.bias`.
    pub struct DenseInstead = 2 -> 16 -> 1;
}

#[test]
fn a_recurrent_layer_missing_its_tensors_lists_what_its_prefix_holds() {
    let file = DenseInstead::random(0).to_safetensors();
    let Err(error) = LstmByPosition::from_safetensors(&file) else {
        panic!("a dense file loaded into an LSTM");
    };
    assert_eq!(
        error.to_string(),
        "layer `layer0`: missing tensor `0.weight_ih_l0` (the file has `0.bias`, `0.weight`)"
    );
}

/// The summary names an RNN's nonlinearity, as PyTorch's `nonlinearity` argument: its
/// activation column is what follows the layer (nothing here).
#[test]
fn the_summary_names_an_rnn_s_nonlinearity() {
    let summary = Plain::summary();
    let kinds: Vec<nn::LayerKind> = summary.layers.iter().map(|layer| layer.kind).collect();
    assert_eq!(
        kinds,
        [
            nn::LayerKind::RnnRelu,
            nn::LayerKind::Rnn,
            nn::LayerKind::Dense
        ]
    );
    let text = summary.to_string();
    assert!(text.contains("layer0 (RNN(relu))"), "{text}");
    assert!(text.contains("layer1 (RNN)"), "{text}");
}
