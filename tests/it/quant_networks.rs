//! Random int8 networks against the documented scheme: random `f32` weights, calibrated on
//! random samples, then each twin's `forward_quantized` on random input steps equal, bit for
//! bit, to the scheme computed here from the twin's parts alone (its `i8` weights, weight
//! scales, `i32` biases and quantisations), in plain integer and `f32` arithmetic: the exact
//! sums, the `f32` multiplier `input scale * weight scale / output scale` rounding half to even,
//! ReLU as a clamp at the zero point, and the last layer dequantised and quantised by ONNX's
//! `QuantizeLinear` (a division). Widths off every kernel's vector and group of four, a
//! dropout (which keeps its input's quantisation) and layers without activation.
//! (Convolutions are checked layer by layer against numpy and onnxruntime in
//! `nn-runtime/tests/it/quant_conv.rs`.)

use crate::cases::config;
use nn::quant::{Calibration, Quantization, QuantizedDense};
use proptest::prelude::*;

nn::network! {
    /// Two hidden layers, the second without activation.
    pub struct Pair = 13 -> 17 relu -> 9 -> 5 with quantize = int8;

    /// A dropout between two ReLU layers, widths past a 16-lane vector.
    pub struct Dropped = 40 -> 33 relu -> dropout(0.2) -> 20 relu -> 3 with quantize = int8;

    /// A wide hidden layer (several panels of neurons, a block of inputs) and one output.
    pub struct Wide = 300 -> 70 relu -> 1 with quantize = int8;

    /// One layer.
    pub struct Single = 6 -> 11 with quantize = int8;
}

/// What the reference needs of a layer: its parts through the public API.
fn parts<const I: usize, const O: usize, const G: usize>(
    layer: &QuantizedDense<I, O, G>,
) -> (Vec<Vec<i8>>, Vec<f32>, Vec<i32>, Quantization, Quantization) {
    let weights = (0..O)
        .map(|o| (0..I).map(|i| layer.weight(o, i)).collect())
        .collect();
    (
        weights,
        layer.weight_scales().to_vec(),
        layer.bias().to_vec(),
        layer.input(),
        layer.output(),
    )
}

/// A layer's exact sums, in `i64` and checked to fit the `i32` the scheme keeps them in.
fn sums(weights: &[Vec<i8>], bias: &[i32], input: Quantization, x: &[u8]) -> Vec<i32> {
    weights
        .iter()
        .zip(bias)
        .map(|(row, &b)| {
            let sum = row.iter().zip(x).fold(i64::from(b), |sum, (&w, &x)| {
                sum + (i64::from(x) - i64::from(input.zero_point)) * i64::from(w)
            });
            i32::try_from(sum).expect("the scheme's sums fit an i32")
        })
        .collect()
}

/// A hidden layer by the scheme: `saturate(round(sum * m) + zero point)`, `m = (input scale *
/// weight scale) / output scale` in `f32`, ReLU clamping at the zero point.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // within 0..=255
#[allow(clippy::cast_precision_loss)] // the scheme converts the sums to f32
fn hidden<const I: usize, const O: usize, const G: usize>(
    layer: &QuantizedDense<I, O, G>,
    x: &[u8],
    relu: bool,
) -> Vec<u8> {
    let (weights, scales, bias, input, output) = parts(layer);
    let zero = f32::from(output.zero_point);
    let low = if relu { zero } else { 0.0 };
    sums(&weights, &bias, input, x)
        .into_iter()
        .zip(scales)
        .map(|(sum, scale)| {
            let multiplier = (input.scale * scale) / output.scale;
            ((sum as f32 * multiplier).round_ties_even() + zero).clamp(low, 255.0) as u8
        })
        .collect()
}

/// The last layer by the scheme: its sums dequantised, `sum * (input scale * weight scale)`,
/// then (no activation) quantised by ONNX's `QuantizeLinear`, `saturate(round(y / scale) +
/// zero point)`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // within 0..=255
#[allow(clippy::cast_precision_loss)] // the scheme converts the sums to f32
fn last<const I: usize, const O: usize, const G: usize>(
    layer: &QuantizedDense<I, O, G>,
    x: &[u8],
) -> Vec<u8> {
    let (weights, scales, bias, input, output) = parts(layer);
    sums(&weights, &bias, input, x)
        .into_iter()
        .zip(scales)
        .map(|(sum, scale)| {
            let real = sum as f32 * (input.scale * scale);
            ((real / output.scale).round_ties_even() + f32::from(output.zero_point))
                .clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// `n` rows of `N` values in `[-spread, spread)` from `seed` (SplitMix64).
#[allow(clippy::cast_precision_loss)] // 24 bits, exact
fn rows<const N: usize>(seed: u64, n: usize, spread: f32) -> Vec<[f32; N]> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            std::array::from_fn(|_| {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                ((z >> 40) as f32 / (1 << 24) as f32 * 2.0 - 1.0) * spread
            })
        })
        .collect()
}

/// Input steps of `N` values from `seed`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // within 0..=255
fn steps<const N: usize>(seed: u64) -> [u8; N] {
    rows::<N>(seed, 1, 1.0)[0].map(|v| ((v + 1.0) * 127.9) as u8)
}

/// Random biases for `net` (`random` leaves them 0), so that the sums' bias counts.
fn with_biases<N: nn::Network<Scalar = f32>>(net: &mut N, seed: u64) {
    let mut values = rows::<1>(seed ^ 0xb1a5, 4096, 0.5).into_iter();
    net.for_each_tensor_mut(|_, info, tensor| {
        if info.name == "bias" {
            for (v, [r]) in tensor.iter_mut().zip(&mut values) {
                *v = r;
            }
        }
    });
}

/// The calibration of each case: either method, on samples of a random spread.
fn calibration(percentile: bool) -> Calibration {
    if percentile {
        Calibration::Percentile(99.5)
    } else {
        Calibration::MinMax
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn random_int8_networks_are_the_scheme(
        seed in any::<u64>(),
        spread in 0.1_f32..8.0,
        percentile in any::<bool>(),
    ) {
        let method = calibration(percentile);

        let mut net = Pair::random(seed);
        with_biases(&mut *net, seed);
        let twin = PairInt8::calibrate(&net, &rows::<13>(seed, 64, spread), method)
            .expect("calibrates");
        for k in 0..8 {
            let x = steps::<13>(seed ^ k);
            let a = hidden(&twin.layer0, &x, true);
            let b = hidden(&twin.layer1, &a, false);
            prop_assert_eq!(twin.forward_quantized(&x).to_vec(), last(&twin.layer2, &b));
        }

        let mut net = Dropped::random(seed);
        with_biases(&mut *net, seed);
        let twin = DroppedInt8::calibrate(&net, &rows::<40>(seed, 64, spread), method)
            .expect("calibrates");
        for k in 0..8 {
            let x = steps::<40>(seed ^ k);
            let a = hidden(&twin.layer0, &x, true);
            // The dropout keeps its input's steps and quantisation.
            prop_assert_eq!(twin.layer0.output(), twin.layer2.input());
            let b = hidden(&twin.layer2, &a, true);
            prop_assert_eq!(twin.forward_quantized(&x).to_vec(), last(&twin.layer3, &b));
        }

        let mut net = Wide::random(seed);
        with_biases(&mut *net, seed);
        let twin = WideInt8::calibrate(&net, &rows::<300>(seed, 32, spread), method)
            .expect("calibrates");
        for k in 0..4 {
            let x = steps::<300>(seed ^ k);
            let a = hidden(&twin.layer0, &x, true);
            prop_assert_eq!(twin.forward_quantized(&x).to_vec(), last(&twin.layer1, &a));
        }

        let mut net = Single::random(seed);
        with_biases(&mut *net, seed);
        let twin = SingleInt8::calibrate(&net, &rows::<6>(seed, 16, spread), method)
            .expect("calibrates");
        for k in 0..8 {
            let x = steps::<6>(seed ^ k);
            prop_assert_eq!(twin.forward_quantized(&x).to_vec(), last(&twin.layer0, &x));
        }
    }
}
