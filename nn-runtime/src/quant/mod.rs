//! int8 networks: the quantisation scheme, the quantised dense layer and its kernels,
//! calibration, and quantised weight files.
//!
//! # The scheme
//!
//! ONNX's `QLinearConv`/`QLinearMatMul` with onnxruntime's quantiser's choices (`u8`
//! activations, symmetric `i8` weights per output channel); TFLite's int8 specification is
//! the same idea, but not bit for bit (its activations are `i8`, and it requantises with a
//! fixed-point multiplier and shift, where this scheme uses an `f32` multiplier):
//!
//! - **Activations** (a network's input and every layer's output) are `u8` with one
//!   [`Quantization`] per tensor, `real = scale * (q - zero_point)`, its range chosen by
//!   calibration and widened to hold 0 exactly (so that zero padding and ReLU are exact).
//!   Quantising is `q = saturate(round(x / scale) + zero_point)`, rounding half to even, as
//!   ONNX's `QuantizeLinear`.
//! - **Weights** are `i8`, symmetric, one scale per output channel (neuron):
//!   `scale[o] = max |W[o][..]| / 127`, `q = round(W / scale[o])` in `-127..=127`; larger
//!   where the bias in steps would exceed `2^31 - 1 - IN * 255 * 127`, the sums' room in an
//!   `i32`: then `|bias[o]| / (input.scale * room)`. With [`WeightRange::Int7`] (onnxruntime's
//!   `reduce_range`), 64 in place of 127: `q` in `-64..=64`, which AVX2 CPUs without VNNI
//!   multiply twice as fast.
//! - **Biases** are `i32` in the accumulator's units, `round(b[o] / (input.scale * scale[o]))`.
//! - **A layer** accumulates `sum (x - x.zero_point) * w + bias` exactly in `i32`, then
//!   requantises: `y = saturate(round(acc * m[o]) + y.zero_point)` with the `f32` multiplier
//!   `m[o] = input.scale * scale[o] / output.scale` (in that order), rounding half to even, as
//!   onnxruntime's requantisation.
//! - **Activation functions**: ReLU is fused (the saturation starts at the output's zero
//!   point). Every other one is computed in `f32` at the layer's edge: the accumulator is
//!   dequantised (`acc * input.scale * scale[o]`), the function applied, and the result
//!   quantised with the output's parameters. Sigmoid and softmax outputs have the fixed
//!   parameters `scale = 1 / 256`, `zero_point = 0` and tanh's `1 / 128`, `128`, as in TFLite.
//! - **The last layer** is dequantised to `f32` and its activation applied in `f32`:
//!   networks take and return `f32`; `forward_quantized` stays in `u8` at both ends.

// The element-wise helpers are `#[inline(always)]`, so that `kernel::with_widest` compiles them
// for its level.
#![allow(clippy::inline_always)]

mod conv;
mod dense;
mod kernel;
mod pool;

#[cfg(feature = "alloc")]
mod calibrate;
#[cfg(feature = "safetensors")]
pub mod file;

#[cfg(feature = "alloc")]
pub use calibrate::{Calibration, Observer};
pub use conv::{PreparedConv1d, PreparedConv2d, QuantizedConv1d, QuantizedConv2d};
pub use dense::QuantizedDense;
pub use kernel::{QuantLevel, amx_enabled, level};
pub use pool::{
    Steps, avgpool1d_u8, avgpool2d_u8, flatten_u8, global_avgpool_u8, global_maxpool_u8,
    maxpool1d_u8, maxpool2d_u8,
};

/// The steps a layer's weights are quantised to: the largest weight of each output channel
/// (neuron) becomes the largest step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WeightRange {
    /// `-127..=127`: the finest steps, the scheme of onnxruntime's quantiser and TFLite.
    #[default]
    Int8,
    /// `-64..=64` (onnxruntime's `reduce_range`): steps twice as coarse, on which AVX2's
    /// `vpmaddubsw` is exact, so that a CPU with AVX2 and no VNNI multiplies twice as many
    /// weights an instruction as with `-127..=127` and needs no widening (MNIST's 784 -> 128
    /// runs faster at batch 1: `Avx2, 7-bit` in `bench/benches/quant.rs`). Elsewhere it changes
    /// nothing but the steps.
    Int7,
}

impl WeightRange {
    /// The largest step: 127 or 64.
    pub const fn largest(self) -> i8 {
        match self {
            WeightRange::Int8 => 127,
            WeightRange::Int7 => 64,
        }
    }
}

/// The affine map between real values and `u8` steps: `real = scale * (q - zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantization {
    /// The real value of one step; positive.
    pub scale: f32,
    /// The step that stands for 0.
    pub zero_point: u8,
}

impl Quantization {
    /// The parameters of sigmoid and softmax outputs, in `[0, 1)`: `1 / 256` and 0, as TFLite.
    pub const UNIT: Self = Self::new(1.0 / 256.0, 0);
    /// The parameters of tanh outputs, in `[-1, 1)`: `1 / 128` and 128, as TFLite.
    pub const SIGNED_UNIT: Self = Self::new(1.0 / 128.0, 128);

    /// Parameters from their values.
    pub const fn new(scale: f32, zero_point: u8) -> Self {
        Self { scale, zero_point }
    }

    /// The parameters that map `[min, max]`, widened to hold 0, onto the 256 steps:
    /// `scale = (max - min) / 255`, `zero_point = round(-min / scale)`, as onnxruntime's
    /// calibration computes them. A range of all zeros (or one whose scale is below the
    /// smallest normal `f32`) gets scale 1 and zero point 0, as onnxruntime's
    /// `compute_scale_zp` gives it: later positive values keep their steps, where a zero point
    /// of 255 clipped every one of them to 0. A range wider than `f32::MAX` (where `max - min`
    /// would be an infinity) gets `max / 255 - min / 255`.
    pub fn from_range(min: f32, max: f32) -> Self {
        let (min, max) = (min.min(0.0), max.max(0.0));
        let mut scale = (max - min) / 255.0;
        if scale.is_infinite() && min.is_finite() && max.is_finite() {
            scale = max / 255.0 - min / 255.0;
        }
        if !(scale >= f32::MIN_POSITIVE && scale.is_finite()) {
            return Self::new(1.0, 0);
        }
        Self::new(scale, saturate(round_even(-min / scale)))
    }

    /// `saturate(round(x / scale) + zero_point)`, rounding half to even: ONNX's
    /// `QuantizeLinear`. NaN becomes the zero point.
    #[inline(always)]
    pub fn quantize(self, x: f32) -> u8 {
        let steps = x / self.scale;
        // Branch-free, so that loops over it vectorise: beyond 512 steps from the zero point
        // every value saturates alike, and within them the rounding is exact; NaN is selected
        // away first.
        let steps = if steps.is_nan() {
            0.0
        } else {
            steps.clamp(-512.0, 512.0)
        };
        to_byte((round_small(steps) + f32::from(self.zero_point)).clamp(0.0, 255.0))
    }

    /// `scale * (q - zero_point)`.
    #[inline]
    pub fn dequantize(self, q: u8) -> f32 {
        self.scale * f32::from(i16::from(q) - i16::from(self.zero_point))
    }

    /// [`Quantization::quantize`] of every value.
    #[inline]
    pub fn quantize_all<const N: usize>(self, x: &[f32; N]) -> [u8; N] {
        self.quantize_array(x)
    }

    /// [`Quantization::quantize`] of every value of `x` into `steps`: inputs of any shape,
    /// flattened.
    ///
    /// # Panics
    ///
    /// When the lengths differ.
    #[inline]
    pub fn quantize_slice(self, x: &[f32], steps: &mut [u8]) {
        let _ = self.quantize_slice_perhaps_nan(x, steps);
    }

    /// [`Quantization::quantize_slice`], and whether any value of `x` is NaN (which becomes
    /// the zero point): one pass over `x`, where [`any_nan`] before it would be a second (an
    /// int8 twin's `forward_batch`, `mnist_b256` in bench/benches/quantized.rs).
    ///
    /// # Panics
    ///
    /// When the lengths differ.
    #[inline]
    pub fn quantize_slice_any_nan(self, x: &[f32], steps: &mut [u8]) -> bool {
        self.quantize_slice_perhaps_nan(x, steps)
            .unwrap_or_else(|| any_nan(x))
    }

    /// [`Quantization::quantize_slice`], and whether any value of `x` is NaN where the vector
    /// kernels found it as they went; `None` after the portable loop, which does not look.
    #[inline]
    fn quantize_slice_perhaps_nan(self, x: &[f32], steps: &mut [u8]) -> Option<bool> {
        assert_eq!(x.len(), steps.len(), "one step per value");
        if let Some(nan) = kernel::quantize::quantize_slice(self, x, steps) {
            return Some(nan);
        }
        // Compiled for the widest vectors this CPU has: the same scalar operations on every
        // value, so the same steps at every level.
        crate::kernel::with_widest(
            #[inline(always)]
            || {
                for (q, x) in steps.iter_mut().zip(x) {
                    *q = self.quantize(*x);
                }
            },
        );
        None
    }

    /// [`Quantization::quantize`] of every value, as a loop that vectorises.
    #[inline]
    fn quantize_array<const N: usize>(self, x: &[f32; N]) -> [u8; N] {
        let mut steps = [0; N];
        self.quantize_slice(x, &mut steps);
        steps
    }

    /// [`Quantization::dequantize`] of every value.
    #[inline]
    pub fn dequantize_all<const N: usize>(self, q: &[u8; N]) -> [f32; N] {
        core::array::from_fn(|i| self.dequantize(q[i]))
    }
}

/// `x` rounded to the nearest integer, half to even (the rounding of ONNX and of the vector
/// kernels' conversions, `f32::round_ties_even`); `x` unchanged from 2^23 on, where every `f32`
/// is an integer.
#[inline]
pub(crate) fn round_even(x: f32) -> f32 {
    // Adding and subtracting 2^23 of `x`'s sign rounds to an integer in the current
    // (nearest-even) mode: the sum lies where `f32`s are 1 apart, for every `|x| < 2^23` (1.5 *
    // 2^23, `round_small`'s, does only within 2^22).
    const TWO_23: f32 = 8_388_608.0;
    if x.abs() < TWO_23 {
        let magic = TWO_23.copysign(x);
        (x + magic) - magic
    } else {
        x
    }
}

/// `x`, within 2^22 of 0, rounded to the nearest integer, half to even: [`round_even`] without
/// its branch.
#[inline(always)]
pub(crate) fn round_small(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

/// `x`, a whole number in `0..=255`, as a byte: the low bits of `x + 1.5 * 2^23`, which hold
/// it exactly. Integer operations only, where `as u8` (which saturates and checks for NaN)
/// keeps quantising loops from vectorising (the digits example's int8 `forward_batch`).
#[inline(always)]
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn to_byte(x: f32) -> u8 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC).to_bits() as u8
}

/// One output step from an `i32` sum: `round(sum * multiplier) + zero_point` within
/// `low..=high` (`0..=255`), rounding half to even. Branch-free, so that loops over it
/// vectorise: beyond 512 steps every value saturates alike, within them `round_small` is exact;
/// no NaN (the multipliers are finite). The one formula of dense layers and convolutions.
#[inline(always)]
#[allow(clippy::cast_precision_loss)]
pub(crate) fn requantize_step(sum: i32, multiplier: f32, zero: f32, low: f32, high: f32) -> u8 {
    let real = (sum as f32 * multiplier).clamp(-512.0, 512.0);
    to_byte((round_small(real) + zero).max(low).min(high))
}

/// `x` (a whole number, or NaN) clamped to `0..=255`; NaN becomes 0.
#[inline]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn saturate(x: f32) -> u8 {
    // `as` saturates and maps NaN to 0.
    x as u8
}

/// Whether any of `values` is NaN, which [`Quantization::quantize`] makes the zero point: an
/// int8 twin's `forward` and `forward_batch` return NaN for such an input, as its `f32`
/// network does wherever a layer reads it, rather than the outputs of another input.
#[inline]
pub fn any_nan(values: &[f32]) -> bool {
    // The largest magnitude's bits, without a short cut, so that it vectorises (an integer
    // maximum); NaN's are those above infinity's.
    crate::kernel::with_widest(
        #[inline(always)]
        || {
            values.iter().fold(0, |largest: u32, value| {
                largest.max(value.to_bits() & 0x7fff_ffff)
            }) > f32::INFINITY.to_bits()
        },
    )
}

/// ReLU on quantised steps: every step below `zero_point` (the real value 0) raised to it.
#[inline]
pub fn relu_steps(steps: &mut [u8], zero_point: u8) {
    for q in steps {
        *q = (*q).max(zero_point);
    }
}

/// What a layer's requantisation may produce: ReLU fused as a lower bound at the output's zero
/// point, or every step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clamp {
    /// The lowest step written.
    pub low: u8,
    /// The highest step written.
    pub high: u8,
}

impl Clamp {
    /// Every step.
    pub const NONE: Self = Self { low: 0, high: 255 };

    /// ReLU fused: nothing below the real value 0, the output's zero point.
    pub const fn relu(output: Quantization) -> Self {
        Self {
            low: output.zero_point,
            high: 255,
        }
    }
}

#[cfg(test)]
// The values compared are exact in binary floating point.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn any_nan_finds_every_nan_and_nothing_else() {
        let nans = [
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0xffff_ffff),
        ];
        let others = [
            0.0,
            -0.0,
            1.5,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for length in [0, 1, 7, 8, 9, 31, 784] {
            let mut values: std::vec::Vec<f32> =
                (0..length).map(|k| others[k % others.len()]).collect();
            assert!(!any_nan(&values), "{length}");
            for at in 0..length {
                for nan in nans {
                    let kept = core::mem::replace(&mut values[at], nan);
                    assert!(any_nan(&values), "{length}: {nan} at {at}");
                    values[at] = kept;
                }
            }
        }
    }

    #[test]
    fn quantize_rounds_half_to_even_and_saturates() {
        let q = Quantization::new(0.5, 10);
        // 0.25 / 0.5 = 0.5 rounds to 0, 0.75 / 0.5 = 1.5 to 2.
        assert_eq!(q.quantize(0.25), 10);
        assert_eq!(q.quantize(0.75), 12);
        assert_eq!(q.quantize(-0.75), 8);
        assert_eq!(q.quantize(1000.0), 255);
        assert_eq!(q.quantize(-1000.0), 0);
        assert_eq!(q.quantize(f32::NAN), 10);
        assert_eq!(q.dequantize(12), 1.0);
        assert_eq!(q.dequantize(0), -5.0);
    }

    /// `round_even` is `f32::round_ties_even` everywhere: halves, both signs, each binade up to
    /// 2^25 (biases of millions of steps).
    #[test]
    fn round_even_is_round_ties_even() {
        extern crate std;
        let mut checked = 0;
        for exponent in -2..=25 {
            let base = 2.0_f32.powi(exponent);
            for k in 0..4096_u16 {
                let x = base + f32::from(k) * base * 2.0_f32.powi(-12);
                for x in [x, -x, x + 0.5, -(x + 0.5)] {
                    // Equal as numbers: 0 may come out as -0 or 0 (a sign the integers drop).
                    assert_eq!(
                        round_even(x),
                        std::primitive::f32::round_ties_even(x),
                        "{x}"
                    );
                    checked += 1;
                }
            }
        }
        // Halves around 2^22 and 2^23 (where the sum with 1.5 * 2^23 leaves steps of 1).
        for x in [
            4_194_304.5_f32,
            4_194_305.0,
            5_000_001.0,
            8_388_607.5,
            -4_194_305.5,
            -8_388_607.5,
        ] {
            assert_eq!(round_even(x), x.round_ties_even(), "{x}");
        }
        assert!(checked > 400_000);
        assert!(round_even(f32::NAN).is_nan());
        assert_eq!(round_even(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn ranges_wider_than_f32_keep_their_steps() {
        let q = Quantization::from_range(-3e38, 3e38);
        assert_eq!(q.scale, 3e38 / 255.0 + 3e38 / 255.0);
        assert_eq!(q.zero_point, 128);
        assert_eq!(q.quantize(-3e38), 0);
        assert_eq!(q.quantize(3e38), 255);
        assert_eq!(q.quantize(0.0), 128);
        // Lopsided: the zero point sits a quarter of the way up.
        let q = Quantization::from_range(-1e38, 3e38);
        assert_eq!(q.scale, 3e38 / 255.0 + 1e38 / 255.0);
        assert_eq!(q.zero_point, 64);
        assert_eq!(q.quantize(3e38), 255);
    }

    #[test]
    fn ranges_hold_zero_exactly() {
        let q = Quantization::from_range(0.5, 2.0);
        assert_eq!(q.zero_point, 0);
        assert_eq!(q.dequantize(q.quantize(0.0)), 0.0);
        let q = Quantization::from_range(-1.0, -0.5);
        assert_eq!(q.zero_point, 255);
        let q = Quantization::from_range(-1.0, 3.0);
        assert_eq!(q.zero_point, 64);
        assert_eq!(q.dequantize(q.zero_point), 0.0);
        // onnxruntime's `compute_scale_zp(0, 0, 0, 255)`: scale 1, zero point 0.
        assert_eq!(
            Quantization::from_range(0.0, 0.0),
            Quantization::new(1.0, 0)
        );
        assert_eq!(
            Quantization::from_range(-1e-40, 0.0),
            Quantization::new(1.0, 0)
        );
    }
}
