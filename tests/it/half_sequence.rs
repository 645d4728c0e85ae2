//! Half-precision twins of sequence networks (`with quantize = bf16` and `f16` on networks with
//! `lstm`, `gru`, `rnn` and causal `conv1d`): over 300 steps, through `step`, `forward_sequence`
//! in blocks of uneven lengths and `step_streams`, each twin gives the bits of the `f32` network
//! whose recurrent matrices and dense weights were rounded to the format (causal convolutions
//! and every bias stay `f32`); a baked twin gives the bits of the one loaded from the same file;
//! and the twin stays within a bound of the unrounded `f32` network (each about four times the
//! largest difference over the 300 steps when it was written). The kernels behind them are
//! checked at every instruction-set level in `nn-runtime/tests/it/half.rs`.

use crate::fixtures::path;
use crate::recurrent::noise;

nn::network! {
    /// `tests/it/recurrent.rs`'s guitar amplifier with a bfloat16 twin, baked from PyTorch's
    /// weights.
    pub struct HalfAmp = 1 -> lstm(32) as lstm -> 1 as head
        with quantize = bf16, weights = "tests/fixtures/recurrent_amp.safetensors";

    /// Two GRU levels and per-step dense layers, a binary16 twin, baked.
    pub struct HalfStacked = 4 -> gru(16, layers = 2) as gru -> 8 relu as fc -> 3 softmax as out
        with quantize = f16, weights = "tests/fixtures/recurrent_stacked.safetensors";

    /// Two plain RNNs (ReLU, then tanh), a bfloat16 twin, baked.
    pub struct HalfPlain = 3 -> rnn(8, relu) -> rnn(5) -> 2
        with quantize = bf16, weights = "tests/fixtures/recurrent_plain.safetensors";

    /// Causal convolutions before a GRU, a binary16 twin, baked: the convolutions stay `f32`.
    pub struct HalfTcn = 2 -> conv1d(8, 3, dilation = 2, causal) tanh as conv1
        -> conv1d(8, 2, dilation = 4, groups = 2, causal) as conv2 -> gru(6) as gru -> 1 as head
        with quantize = f16, weights = "tests/fixtures/recurrent_tcn.safetensors";

    /// Two 64-wide LSTM levels, random weights: the vector kernels on every panel, and a
    /// bfloat16 recurrent matrix of 32 KiB, which `step_streams` multiplies for several
    /// streams at once.
    pub struct Wide = 3 -> lstm(64, layers = 2) as lstm -> 2 tanh as head with quantize = bf16;

    /// The same with a binary16 twin.
    pub struct WideHalf = 3 -> lstm(64, layers = 2) as lstm -> 2 tanh as head with quantize = f16;
}

fn bf16(x: f32) -> f32 {
    nn::Bf16::from_f32(x).to_f32()
}

fn f16(x: f32) -> f32 {
    nn::F16::from_f32(x).to_f32()
}

/// `net` with what a twin stores in 16 bits rounded through `round`: the weights of its dense
/// layers and the matrices of its recurrent layers (`weight_ih_l*`, `weight_hh_l*`).
fn round_weights<N: nn::Network<Scalar = f32>>(net: &mut N, round: fn(f32) -> f32) {
    net.for_each_tensor_mut(|layer, tensor, values| {
        let rounds = matches!(
            layer.kind,
            nn::LayerKind::Dense
                | nn::LayerKind::Lstm
                | nn::LayerKind::Gru
                | nn::LayerKind::Rnn
                | nn::LayerKind::RnnRelu
        );
        if rounds && tensor.name.starts_with("weight") {
            for value in values {
                *value = round(*value);
            }
        }
    });
}

fn bits<const N: usize>(rows: &[[f32; N]]) -> Vec<u32> {
    rows.as_flattened().iter().map(|v| v.to_bits()).collect()
}

/// Block lengths of `forward_sequence` over 300 steps: uneven, a one-step block among them.
const BLOCKS: [usize; 6] = [1, 7, 64, 100, 3, 125];

/// Checks `$twin` against `$rounded` (the `f32` network holding the rounded weights) and
/// `$net` (unrounded), with state type `$state`, on 300 steps of `$inputs` values: `step`,
/// `forward_sequence` in [`BLOCKS`] and `step_streams` give `$rounded`'s bits, and `step`
/// stays within `$bound` of `$net`'s outputs (about four times the difference measured), but
/// not at `$net`'s bits: the twin does hold rounded weights.
macro_rules! check_twin {
    ($twin:expr, $rounded:expr, $net:expr, $state:ty, $inputs:literal, $outputs:literal, $bound:expr) => {{
        let (twin, rounded, net) = (&$twin, &$rounded, &$net);
        let inputs = noise::<$inputs>(11, 300);
        let (mut a, mut b, mut c) = (<$state>::ZERO, <$state>::ZERO, <$state>::ZERO);
        let mut stepped = Vec::new();
        let mut expected = Vec::new();
        let mut largest = 0.0f32;
        for x in &inputs {
            let (y, e, f) = (
                twin.step(&mut a, x),
                rounded.step(&mut b, x),
                net.step(&mut c, x),
            );
            for (y, f) in y.iter().zip(&f) {
                largest = largest.max((y - f).abs());
            }
            stepped.push(y);
            expected.push(e);
        }
        assert_eq!(bits(&stepped), bits(&expected), "step");
        assert_eq!(a, b, "the state after `step`");
        assert!(
            largest <= $bound,
            "largest difference from the f32 network {largest:e}"
        );
        assert!(largest > 0.0, "the rounding changed no output");
        // Blocks of uneven lengths give the bits of the steps.
        let mut state = <$state>::default();
        let mut blocked = vec![[f32::NAN; $outputs]; inputs.len()];
        let mut at = 0;
        for length in BLOCKS {
            twin.forward_sequence(
                &mut state,
                &inputs[at..at + length],
                &mut blocked[at..at + length],
            )
            .unwrap();
            at += length;
        }
        assert_eq!(at, inputs.len());
        assert_eq!(bits(&blocked), bits(&stepped), "forward_sequence");
        assert_eq!(state, a, "the state after `forward_sequence`");
        // 13 streams (two chunks and a part), each at another point of its sequence, for 20
        // steps: the bits of `step` on each, and of the rounded network's `step_streams`.
        let streams = 13;
        let mut states: Vec<$state> = (0..streams).map(|_| <$state>::ZERO).collect();
        for (s, state) in states.iter_mut().enumerate() {
            for x in &inputs[..s * 7] {
                let _ = twin.step(state, x);
            }
        }
        let mut theirs = states.clone();
        let mut alone = states.clone();
        for t in 0..20 {
            let rows: Vec<[f32; $inputs]> =
                (0..streams).map(|s| inputs[(s * 13 + t) % 300]).collect();
            let mut found = vec![[f32::NAN; $outputs]; streams];
            let mut expected = vec![[f32::NAN; $outputs]; streams];
            twin.step_streams(&mut states, &rows, &mut found).unwrap();
            rounded
                .step_streams(&mut theirs, &rows, &mut expected)
                .unwrap();
            assert_eq!(bits(&found), bits(&expected), "step_streams, step {t}");
            let each: Vec<[f32; $outputs]> = alone
                .iter_mut()
                .zip(&rows)
                .map(|(state, x)| twin.step(state, x))
                .collect();
            assert_eq!(
                bits(&found),
                bits(&each),
                "step_streams against step, step {t}"
            );
        }
        assert_eq!(states, theirs);
        assert_eq!(states, alone);
    }};
}

/// A baked twin against the one loaded from the same file: the same bits over 300 steps.
macro_rules! check_baked {
    ($baked:expr, $loaded:expr, $state:ty, $inputs:literal) => {{
        let (baked, loaded) = (&$baked, &$loaded);
        let (mut a, mut b) = (<$state>::ZERO, <$state>::ZERO);
        for x in noise::<$inputs>(5, 300) {
            let (y, z) = (baked.step(&mut a, &x), loaded.step(&mut b, &x));
            assert_eq!(bits(&[y]), bits(&[z]));
        }
        assert_eq!(a, b);
    }};
}

static AMP: HalfAmpBf16 = HalfAmpBf16::BAKED;

#[test]
fn an_lstm_twin_gives_the_bits_of_the_rounded_f32_network() {
    let file = path("recurrent_amp.safetensors");
    let net = HalfAmp::from_safetensors_file(&file).unwrap();
    let twin = HalfAmpBf16::from_network(&net).unwrap();
    let mut rounded = HalfAmp::from_safetensors_file(&file).unwrap();
    round_weights(&mut *rounded, bf16);
    check_twin!(twin, rounded, net, HalfAmpState, 1, 1, 5e-4);
    let loaded = HalfAmpBf16::from_safetensors_file(&file).unwrap();
    check_baked!(AMP, loaded, HalfAmpState, 1);
    check_baked!(AMP, twin, HalfAmpState, 1);
    assert_eq!(
        format!("{twin:?}"),
        "HalfAmpBf16 { lstm: Lstm<1, 32, f32, 0, bf16>, head: HalfDense<32, 1, bf16> }"
    );
}

#[test]
fn stacked_gru_twins_with_dense_layers_give_the_rounded_bits() {
    static BAKED: HalfStackedF16 = HalfStackedF16::BAKED;
    let file = path("recurrent_stacked.safetensors");
    let net = HalfStacked::from_safetensors_file(&file).unwrap();
    let twin = HalfStackedF16::from_network(&net).unwrap();
    let mut rounded = HalfStacked::from_safetensors_file(&file).unwrap();
    round_weights(&mut *rounded, f16);
    check_twin!(twin, rounded, net, HalfStackedState, 4, 3, 1e-4);
    let bytes = std::fs::read(&file).unwrap();
    let loaded = HalfStackedF16::from_safetensors(&bytes).unwrap();
    check_baked!(BAKED, loaded, HalfStackedState, 4);
}

#[test]
fn rnn_twins_give_the_rounded_bits() {
    static BAKED: HalfPlainBf16 = HalfPlainBf16::BAKED;
    let file = path("recurrent_plain.safetensors");
    let net = HalfPlain::from_safetensors_file(&file).unwrap();
    let twin = HalfPlainBf16::from_network(&net).unwrap();
    let mut rounded = HalfPlain::from_safetensors_file(&file).unwrap();
    round_weights(&mut *rounded, bf16);
    check_twin!(twin, rounded, net, HalfPlainState, 3, 2, 5e-3);
    let loaded = HalfPlainBf16::from_safetensors_file(&file).unwrap();
    check_baked!(BAKED, loaded, HalfPlainState, 3);
}

#[test]
fn causal_convolutions_stay_f32_in_a_twin() {
    static BAKED: HalfTcnF16 = HalfTcnF16::BAKED;
    let file = path("recurrent_tcn.safetensors");
    let net = HalfTcn::from_safetensors_file(&file).unwrap();
    let twin = HalfTcnF16::from_network(&net).unwrap();
    let mut rounded = HalfTcn::from_safetensors_file(&file).unwrap();
    round_weights(&mut *rounded, f16);
    check_twin!(twin, rounded, net, HalfTcnState, 2, 1, 5e-4);
    let loaded = HalfTcnF16::from_safetensors_file(&file).unwrap();
    check_baked!(BAKED, loaded, HalfTcnState, 2);
    assert_eq!(twin.conv1.weight(), net.conv1.weight());
}

#[test]
fn wide_stacked_lstm_twins_give_the_rounded_bits() {
    let net = Wide::random(3);
    let twin = WideBf16::from_network(&net).unwrap();
    let mut rounded = Wide::random(3);
    round_weights(&mut *rounded, bf16);
    check_twin!(twin, rounded, net, WideState, 3, 2, 1.5e-3);

    let net = WideHalf::random(4);
    let twin = WideHalfF16::from_network(&net).unwrap();
    let mut rounded = WideHalf::random(4);
    round_weights(&mut *rounded, f16);
    check_twin!(twin, rounded, net, WideHalfState, 3, 2, 1e-4);
}
