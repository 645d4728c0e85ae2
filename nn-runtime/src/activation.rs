//! Activation functions, applied in place to a layer's outputs.
//!
//! Each one is numerically stable: finite inputs give finite outputs (softmax of `[1000, 0]` is
//! `[1, 0]`, sigmoid of `-1000` is `0`), and none divides by a sum that can overflow.

use crate::Scalar;

/// An activation and its parameter, as declared (for summaries, initialisation and training).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `x`.
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `x` if positive, else `alpha * x`.
    LeakyRelu(f64),
    /// `x` if positive, else `alpha * (exp(x) - 1)`.
    Elu(f64),
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `x * sigmoid(x)`.
    Silu,
    /// `x * Phi(x)` (exact, with `erf`).
    Gelu,
    /// GELU's `tanh` approximation (PyTorch's `nn.GELU(approximate="tanh")`).
    GeluTanh,
    /// `ln(1 + exp(x))`.
    Softplus,
    /// Normalised exponentials over the layer.
    Softmax,
    /// Logarithm of softmax over the layer.
    LogSoftmax,
}

impl Activation {
    /// The name used in the network language.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Relu => "relu",
            Self::LeakyRelu(_) => "leaky_relu",
            Self::Elu(_) => "elu",
            Self::Sigmoid => "sigmoid",
            Self::Tanh => "tanh",
            Self::Silu => "silu",
            Self::Gelu => "gelu",
            Self::GeluTanh => "gelu_tanh",
            Self::Softplus => "softplus",
            Self::Softmax => "softmax",
            Self::LogSoftmax => "log_softmax",
        }
    }

    /// Whether He initialisation suits it (the ReLU family); the others get Xavier.
    pub const fn is_relu_like(self) -> bool {
        matches!(
            self,
            Self::Relu
                | Self::LeakyRelu(_)
                | Self::Elu(_)
                | Self::Silu
                | Self::Gelu
                | Self::GeluTanh
        )
    }

    /// Applies the activation to `x` in place (dispatching at run time, for dynamic callers;
    /// generated code calls the functions below directly).
    pub fn apply<T: Scalar>(self, x: &mut [T]) {
        match self {
            Self::Linear => {}
            Self::Relu => relu(x),
            Self::LeakyRelu(alpha) => leaky_relu(x, T::from_f64(alpha)),
            Self::Elu(alpha) => elu(x, T::from_f64(alpha)),
            Self::Sigmoid => sigmoid(x),
            Self::Tanh => tanh(x),
            Self::Silu => silu(x),
            Self::Gelu => gelu(x),
            Self::GeluTanh => gelu_tanh(x),
            Self::Softplus => softplus(x),
            Self::Softmax => softmax(x),
            Self::LogSoftmax => log_softmax(x),
        }
    }
}

impl core::fmt::Display for Activation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::LeakyRelu(alpha) | Self::Elu(alpha) => write!(f, "{}({alpha})", self.name()),
            _ => f.write_str(self.name()),
        }
    }
}

/// `max(x, 0)`.
#[inline]
pub fn relu<T: Scalar>(x: &mut [T]) {
    // An unconditional store of a select vectorises; a conditional store stays scalar
    // (`small_b1` in bench/benches/forward.rs: a relu over 64 values). NaN stays NaN either way.
    for v in x {
        *v = if *v < T::ZERO { T::ZERO } else { *v };
    }
}

/// `x` if positive, else `alpha * x`.
#[inline]
pub fn leaky_relu<T: Scalar>(x: &mut [T], alpha: T) {
    for v in x {
        if *v < T::ZERO {
            *v *= alpha;
        }
    }
}

/// `x` if positive, else `alpha * (exp(x) - 1)`.
#[inline]
pub fn elu<T: Scalar>(x: &mut [T], alpha: T) {
    for v in x {
        if *v < T::ZERO {
            *v = alpha * v.exp_m1();
        }
    }
}

/// The logistic function of one value, without overflow for any input.
#[inline]
pub fn sigmoid_one<T: Scalar>(v: T) -> T {
    v.sigmoid()
}

/// `1 / (1 + exp(-x))`.
#[inline]
pub fn sigmoid<T: Scalar>(x: &mut [T]) {
    for v in x {
        *v = sigmoid_one(*v);
    }
}

/// Hyperbolic tangent.
#[inline]
pub fn tanh<T: Scalar>(x: &mut [T]) {
    for v in x {
        *v = v.tanh();
    }
}

/// `x * sigmoid(x)`.
#[inline]
pub fn silu<T: Scalar>(x: &mut [T]) {
    for v in x {
        *v = *v * sigmoid_one(*v);
    }
}

/// `x * Phi(x) = x / 2 * (1 + erf(x / sqrt(2)))`.
#[inline]
pub fn gelu<T: Scalar>(x: &mut [T]) {
    let half = T::from_f64(0.5);
    let inv_sqrt2 = T::from_f64(core::f64::consts::FRAC_1_SQRT_2);
    for v in x {
        *v = half * *v * (T::ONE + (*v * inv_sqrt2).erf());
    }
}

/// `sqrt(2 / pi)` and `0.044715`, the constants of GELU's `tanh` approximation.
pub(crate) const GELU_TANH: (f64, f64) = (0.797_884_560_802_865_4, 0.044_715);

/// `x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`, as PyTorch computes
/// `nn.GELU(approximate="tanh")`.
#[inline]
pub fn gelu_tanh<T: Scalar>(x: &mut [T]) {
    let half = T::from_f64(0.5);
    let (beta, kappa) = (T::from_f64(GELU_TANH.0), T::from_f64(GELU_TANH.1));
    for v in x {
        let inner = beta * (*v + kappa * *v * *v * *v);
        *v = half * *v * (T::ONE + inner.tanh());
    }
}

/// `ln(1 + exp(x))`, computed as `max(x, 0) + ln(1 + exp(-|x|))` so it never overflows.
#[inline]
pub fn softplus<T: Scalar>(x: &mut [T]) {
    for v in x {
        *v = softplus_one(*v);
    }
}

/// `ln(1 + exp(v))` of one value, as `max(v, 0) + ln(1 + exp(-|v|))`, without overflow.
#[inline]
pub fn softplus_one<T: Scalar>(v: T) -> T {
    let (positive, negative_abs) = if v > T::ZERO { (v, -v) } else { (T::ZERO, v) };
    positive + negative_abs.exp().ln_1p()
}

fn max_of<T: Scalar>(x: &[T]) -> T {
    let larger = |m: T, v: T| if v > m { v } else { m };
    // Four running maxima, so that the comparisons do not wait on each other.
    let mut maxima = [x[0]; 4];
    for quad in x.chunks(4) {
        for (m, &v) in maxima.iter_mut().zip(quad) {
            *m = larger(*m, v);
        }
    }
    larger(larger(maxima[0], maxima[1]), larger(maxima[2], maxima[3]))
}

/// `exp(x_i) / sum_j exp(x_j)`, shifted by the maximum so no exponential overflows. `f32` on
/// AVX-512 and AVX2 runs a vector kernel (`kernel::avx512::softmax`, `kernel::avx2::softmax`:
/// within 4 ulps, probabilities below `1.2e-38` 0 or subnormal); otherwise each `exp` is within
/// about half an ulp.
#[inline]
pub fn softmax<T: Scalar>(x: &mut [T]) {
    if x.is_empty() || T::softmax_lanes(crate::kernel::level(), x) {
        return;
    }
    let max = max_of(x);
    // The sum runs in `f64`: an `f32` running sum of 4096 or more terms drifts by more than
    // 1e-6, and the outputs would no longer sum to 1 within that.
    // Four partial sums, so that the additions do not wait on each other.
    let mut sums = [0.0f64; 4];
    for quad in x.chunks_mut(4) {
        for (v, sum) in quad.iter_mut().zip(&mut sums) {
            *v = (*v - max).exp();
            *sum += v.to_f64();
        }
    }
    let sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    // `sum >= 1` because the maximum contributes `exp(0)`, so no output exceeds 1.
    let inverse = T::from_f64(1.0 / sum);
    for v in x {
        *v *= inverse;
    }
}

/// [`softmax`] of each row, each row's values exactly those of `softmax` on it alone (NaN for
/// NaN, whose payload may differ): the batched methods of a network that ends in `softmax`.
/// `f32` on AVX-512 runs `kernel::avx512::softmax_rows`: rows of 2 to 16 values 16 at a time,
/// value by value in vectors whose lanes are the rows, where one row at a time waits for
/// horizontal reductions.
#[inline]
pub fn softmax_rows<T: Scalar, const N: usize>(rows: &mut [[T; N]]) {
    if rows.is_empty() || T::softmax_rows_lanes(crate::kernel::level(), rows) {
        return;
    }
    for row in rows {
        softmax(row);
    }
}

/// `x_i - ln(sum_j exp(x_j))`, shifted by the maximum so no exponential overflows.
#[inline]
pub fn log_softmax<T: Scalar>(x: &mut [T]) {
    if x.is_empty() {
        return;
    }
    let max = max_of(x);
    // In `f64`, as in `softmax`; `Scalar::ln` is libm's with or without `std`.
    let mut sum = 0.0f64;
    for v in x.iter() {
        sum += (*v - max).exp().to_f64();
    }
    let log_sum = T::from_f64(Scalar::ln(sum));
    // `(x - max) - ln(sum)`, not `x - (max + ln(sum))`: next to a large maximum, `ln(sum)`
    // would vanish in the rounding of `max + ln(sum)` (at `1e8` in `f32`, anything below 4).
    for v in x {
        *v = (*v - max) - log_sum;
    }
}

#[cfg(test)]
// These tests check results that must be exact, and name values as the formulas do.
#[allow(clippy::float_cmp, clippy::many_single_char_names)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// `softmax_rows` against `softmax` on each row, bit for bit (NaN for NaN), for `rows` rows
    /// of `N` values: random values of every magnitude up to 2^12 (rows beyond the direct
    /// path's ±80 too), a row with NaN, with `+inf`, with `-inf`, with `f32::MAX`.
    fn rows_agree<const N: usize>(rows: usize, seed: u64) {
        let mut state = seed;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut x: Vec<[f32; N]> = (0..rows)
            .map(|_| {
                core::array::from_fn(|_| {
                    let bits = next();
                    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                    let magnitude =
                        f32::from_bits(((bits >> 8) as u32 & 0x007F_FFFF) | 0x3F80_0000)
                            * (2.0_f32).powi((bits % 32) as i32 - 20);
                    if bits & 1 == 0 { magnitude } else { -magnitude }
                })
            })
            .collect();
        // The kernels' direct range ends at ±80, which both must treat alike.
        let specials = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            80.0,
            -80.0,
            f32::from_bits(80.0_f32.to_bits() + 1),
            -f32::from_bits(80.0_f32.to_bits() + 1),
        ];
        for (row, special) in x.iter_mut().skip(3).step_by(5).zip(specials) {
            row[N / 2] = special;
        }
        let mut expected = x.clone();
        for row in &mut expected {
            softmax(row);
        }
        softmax_rows(&mut x);
        for (r, (got, want)) in x.iter().zip(&expected).enumerate() {
            for (g, w) in got.iter().zip(want) {
                assert!(
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                    "{N} values, row {r}: {got:?} against {want:?}"
                );
            }
        }
    }

    #[test]
    fn softmax_rows_gives_each_row_the_bits_of_softmax() {
        for (rows, seed) in [(0, 1), (1, 2), (15, 3), (16, 4), (17, 5), (64, 6), (100, 7)] {
            rows_agree::<1>(rows, seed);
            rows_agree::<2>(rows, seed);
            rows_agree::<3>(rows, seed);
            rows_agree::<4>(rows, seed);
            rows_agree::<5>(rows, seed);
            rows_agree::<6>(rows, seed);
            rows_agree::<7>(rows, seed);
            rows_agree::<8>(rows, seed);
            rows_agree::<9>(rows, seed);
            rows_agree::<10>(rows, seed);
            rows_agree::<11>(rows, seed);
            rows_agree::<12>(rows, seed);
            rows_agree::<13>(rows, seed);
            rows_agree::<14>(rows, seed);
            rows_agree::<15>(rows, seed);
            rows_agree::<16>(rows, seed);
            rows_agree::<17>(rows, seed);
            rows_agree::<40>(rows, seed);
        }
    }

    #[test]
    fn softmax_is_exact_at_extremes() {
        let mut a = [1000.0_f32, 0.0];
        softmax(&mut a);
        assert_eq!(a, [1.0, 0.0]);
        let mut b = [-1000.0_f32, 0.0];
        softmax(&mut b);
        assert_eq!(b, [0.0, 1.0]);
        let mut c = [1000.0_f64, 1000.0];
        softmax(&mut c);
        assert_eq!(c, [0.5, 0.5]);
    }

    #[test]
    fn the_maximum_is_found_wherever_it_is() {
        // Lengths around the four running maxima, the largest value at every position.
        for n in 1..=11 {
            for at in 0..n {
                let mut x = [-3.0_f32; 11];
                for (i, v) in x.iter_mut().enumerate() {
                    *v -= i as f32;
                }
                x[at] = 5.0;
                assert_eq!(max_of(&x[..n]), 5.0, "{n} values, largest at {at}");
            }
        }
    }

    #[test]
    fn log_softmax_is_finite_at_extremes() {
        let mut a = [1000.0_f32, 0.0];
        log_softmax(&mut a);
        assert_eq!(a, [0.0, -1000.0]);
        // Ten equal logits of 1e8 are ten probabilities of 0.1, whatever their size.
        let mut b = [1e8_f32; 10];
        log_softmax(&mut b);
        assert!(
            b.iter()
                .all(|v| (v + core::f32::consts::LN_10).abs() < 1e-6),
            "{b:?}"
        );
    }

    #[test]
    fn sigmoid_and_tanh_saturate_exactly() {
        let mut s = [1000.0_f32, -1000.0, 0.0];
        sigmoid(&mut s);
        assert_eq!(s, [1.0, 0.0, 0.5]);
        let mut t = [1e6_f64, -1e6, 0.0];
        tanh(&mut t);
        assert_eq!(t, [1.0, -1.0, 0.0]);
        let mut t32 = [1e6_f32, -1e6];
        tanh(&mut t32);
        assert_eq!(t32, [1.0, -1.0]);
    }

    #[test]
    fn softplus_neither_overflows_nor_loses_large_inputs() {
        let mut x = [1000.0_f32, -1000.0, 0.0];
        softplus(&mut x);
        assert_eq!(x[0], 1000.0);
        assert_eq!(x[1], 0.0);
        assert!((x[2] - core::f32::consts::LN_2).abs() < 1e-7);
    }

    #[test]
    fn relu_family_at_extremes() {
        let mut x = [-1000.0_f64, 2.0];
        relu(&mut x);
        assert_eq!(x, [0.0, 2.0]);
        let mut l = [-1000.0_f64, 2.0];
        leaky_relu(&mut l, 0.01);
        assert_eq!(l, [-10.0, 2.0]);
        let mut e = [-1000.0_f64, 2.0];
        elu(&mut e, 1.0);
        assert_eq!(e, [-1.0, 2.0]);
        let mut g = [-1000.0_f64, 1000.0];
        gelu(&mut g);
        assert_eq!(g, [-0.0, 1000.0]);
        let mut s = [-1000.0_f64, 1000.0];
        silu(&mut s);
        assert_eq!(s, [-0.0, 1000.0]);
    }
}
