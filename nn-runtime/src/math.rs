//! `exp` and the logistic function for `f32`, computed in `f64` from a table, without branches:
//! accurate to half an ulp (at most 0.508 ulp over the arguments the tests below sweep), and
//! the same with or without `std`. XOR 2-2-1 (three sigmoids) went from 11.8 to 10.9 ns with it
//! against `libm::expf` (the criterion benchmark `xor_b1`, same machine, one after the other).
//!
//! `e^x = 2^(k / 32) * e^t`, where `k = round(x * 32 / ln 2)` and `t = x - k ln 2 / 32`, so
//! `|t| <= ln 2 / 64`. The 32 values of `2^(i / 32)` come from a table, the power of two of
//! `k / 32` goes straight into the exponent bits, and `e^t` is its Taylor polynomial of degree
//! 3, whose relative error there is below `(ln 2 / 64)^4 / 24 < 2^-30`: far below the `2^-24`
//! of an `f32` rounding. Every step but the last runs in `f64`, so the result is rounded once.

/// `2^(i / 32)`, correctly rounded to `f64`, minus `i << 47` so that adding `k << 47` for any
/// `k` congruent to `i` modulo 32 adds `k / 32` (rounded down) to the exponent. Computed with
/// Python's `decimal` at 60 digits:
///
/// ```text
/// from decimal import Decimal, getcontext; import struct; getcontext().prec = 60
/// ln2 = Decimal(2).ln()
/// [hex(struct.unpack('<Q', struct.pack('<d', float((ln2 * i / 32).exp())))[0] - (i << 47))
///  for i in range(32)]
/// ```
const TABLE: [u64; 32] = [
    0x3ff0_0000_0000_0000,
    0x3fef_d9b0_d315_8574,
    0x3fef_b558_6cf9_890f,
    0x3fef_9301_d012_5b51,
    0x3fef_72b8_3c7d_517b,
    0x3fef_5487_3168_b9aa,
    0x3fef_387a_6e75_6238,
    0x3fef_1e9d_f51f_dee1,
    0x3fef_06fe_0a31_b715,
    0x3fee_f1a7_373a_a9cb,
    0x3fee_dea6_4c12_3422,
    0x3fee_ce08_6061_892d,
    0x3fee_bfda_d536_2a27,
    0x3fee_b42b_569d_4f82,
    0x3fee_ab07_dd48_5429,
    0x3fee_a47e_b03a_5585,
    0x3fee_a09e_667f_3bcd,
    0x3fee_9f75_e8ec_5f74,
    0x3fee_a114_73eb_0187,
    0x3fee_a589_994c_ce13,
    0x3fee_ace5_422a_a0db,
    0x3fee_b737_b0cd_c5e5,
    0x3fee_c491_82a3_f090,
    0x3fee_d503_b23e_255d,
    0x3fee_e89f_995a_d3ad,
    0x3fee_ff76_f2fb_5e47,
    0x3fef_199b_dd85_529c,
    0x3fef_3720_dcef_9069,
    0x3fef_5818_dcfb_a487,
    0x3fef_7c97_337b_9b5f,
    0x3fef_a4af_a2a4_90da,
    0x3fef_d076_5b6e_4540,
];

/// `1.5 * 2^52`: adding it to an `f64` of magnitude below `2^51` rounds it to an integer (to
/// nearest, ties to even), which then sits in the low bits of the sum.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// `32 / ln 2`.
const SCALE: f64 = 32.0 / core::f64::consts::LN_2;
/// Taylor coefficients of `e^(r ln 2 / 32)` in `r`, with `|r| <= 1/2`.
const C1: f64 = core::f64::consts::LN_2 / 32.0;
const C2: f64 = C1 * C1 / 2.0;
const C3: f64 = C1 * C1 * C1 / 6.0;

/// `e^x` in `f64` for an `f32` argument, with a relative error below `2^-29`. Arguments beyond
/// `+-110` are clamped to it: `e^110` is far beyond `f32::MAX` and `e^-110` far below its
/// smallest subnormal, so the rounded results of [`exp`] and [`sigmoid`] are unchanged. NaN
/// stays NaN.
#[inline]
fn exp_wide(x: f32) -> f64 {
    let x = x.clamp(-110.0, 110.0);
    let z = f64::from(x) * SCALE;
    let shifted = z + SHIFT;
    // The low bits of `shifted` are `k = round(z)` in two's complement; `|k| < 2^13`.
    let k = shifted.to_bits();
    let r = z - (shifted - SHIFT);
    // `k << 47` keeps the low 17 bits of `k`: its 5 low bits cancel the table's `i << 47`, the
    // rest (`k / 32`, sign included, modulo 2^64) land in the exponent.
    #[allow(clippy::cast_possible_truncation)] // `k % 32 < 32`
    let scale = f64::from_bits(TABLE[(k % 32) as usize].wrapping_add(k << 47));
    let r2 = r * r;
    ((1.0 + C1 * r) + (C2 + C3 * r) * r2) * scale
}

/// `e^x`, to within about half an ulp: `+inf` above `88.72284`, `0` below `-103.97`.
#[inline]
#[allow(clippy::cast_possible_truncation)] // rounding to the nearest `f32` is the point
pub(crate) fn exp(x: f32) -> f32 {
    exp_wide(x) as f32
}

/// `1 / (1 + e^-x)`, rounded once from `f64`: no branch, no overflow (`e^-x` is at most `e^110`
/// in `f64`), exactly `1` and `0` where the function rounds to them.
#[inline]
#[allow(clippy::cast_possible_truncation)] // rounding to the nearest `f32` is the point
pub(crate) fn sigmoid(x: f32) -> f32 {
    (1.0 / (1.0 + exp_wide(-x))) as f32
}

#[cfg(test)]
mod tests {
    //! Every result against `f64` references from `libm` (whose `exp` is accurate to under one
    //! `f64` ulp, a billionth of an `f32` one), over a dense sweep of the whole `f32` range.

    use super::{exp, sigmoid};

    /// The error of `found` against the exact value `expected`, in units in the last place of
    /// the `f32` nearest `expected` (subnormal ulps below `f32::MIN_POSITIVE`).
    #[allow(clippy::float_cmp)] // an exact match is zero ulps
    fn ulps(found: f32, expected: f64) -> f64 {
        #[allow(clippy::cast_possible_truncation)]
        let rounded = expected as f32;
        if found == rounded {
            return 0.0;
        }
        if rounded.is_infinite() {
            // Beyond `f32::MAX` only infinity is right.
            return f64::INFINITY;
        }
        let magnitude = rounded.abs().max(f32::MIN_POSITIVE);
        let ulp = f64::from(f32::from_bits(magnitude.to_bits() + 1) - magnitude);
        (f64::from(found) - expected).abs() / ulp
    }

    /// Every `f32` from `low` to `high` whose bit pattern is a multiple of `step` away from
    /// `low`'s, then `high`.
    fn sweep(low: f32, high: f32, step: u32) -> impl Iterator<Item = f32> {
        // Walk the bit patterns of the magnitudes, negatives first.
        let ordered = |v: f32| {
            let b = v.to_bits();
            if b >> 31 == 1 {
                0x8000_0000 - (b & 0x7fff_ffff)
            } else {
                0x8000_0000 + b
            }
        };
        let unordered = |o: u32| {
            if o < 0x8000_0000 {
                f32::from_bits(0x8000_0000 | (0x8000_0000 - o))
            } else {
                f32::from_bits(o - 0x8000_0000)
            }
        };
        (ordered(low)..ordered(high))
            .step_by(step as usize)
            .map(unordered)
            .chain(core::iter::once(high))
    }

    #[test]
    fn exp_is_within_one_ulp_everywhere() {
        let mut worst = (0.0_f64, 0.0_f32);
        let mut count = 0_u32;
        // About 2.1 million arguments spread over every exponent from -104 to 89, and as many
        // again near 0, where e^x is near 1 and the rounding is finest.
        for x in sweep(-104.0, 89.0, 1009).chain(sweep(-1e-3, 1e-3, 1009)) {
            let expected = libm::exp(f64::from(x));
            let found = exp(x);
            let error = ulps(found, expected);
            assert!(
                error <= 1.0,
                "exp({x:e}) = {found:e}, expected {expected:e}"
            );
            if error > worst.0 {
                worst = (error, x);
            }
            count += 1;
        }
        assert!(count > 4_000_000, "{count}");
        // Half an ulp is the rounding itself; the approximation adds almost nothing.
        assert!(worst.0 < 0.51, "worst {} ulp at {:e}", worst.0, worst.1);
    }

    #[test]
    #[allow(clippy::float_cmp)] // the values compared are exact
    fn exp_is_exact_at_the_edges() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(1000.0), f32::INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
        // The largest argument with a finite result, and the next one.
        let largest = 88.722_83_f32;
        assert!(exp(largest).is_finite());
        assert_eq!(exp(f32::from_bits(largest.to_bits() + 1)), f32::INFINITY);
        // Subnormal results: the smallest one, and zero just past half of it.
        assert_eq!(exp(-103.27), f32::from_bits(1));
        assert_eq!(exp(-104.0), 0.0);
        // Each table entry, through arguments `i ln 2 / 32 + 32 ln 2`.
        for i in 0..32 {
            let x = (f64::from(i) / 32.0 + 32.0) * core::f64::consts::LN_2;
            #[allow(clippy::cast_possible_truncation)]
            let x = x as f32;
            assert!(ulps(exp(x), libm::exp(f64::from(x))) < 0.51, "{i}");
        }
    }

    #[test]
    #[allow(clippy::float_cmp)] // the values compared are exact
    fn sigmoid_is_within_one_ulp_and_exact_where_it_saturates() {
        for x in sweep(-110.0, 110.0, 4099) {
            let e = libm::exp(-f64::from(x));
            let expected = 1.0 / (1.0 + e);
            let found = sigmoid(x);
            assert!(
                ulps(found, expected) < 0.51,
                "sigmoid({x:e}) = {found:e}, expected {expected:e}"
            );
        }
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert!(sigmoid(f32::NAN).is_nan());
        // Below -88.7 the result is e^x, subnormal, then 0.
        assert_eq!(sigmoid(-103.27), f32::from_bits(1));
        assert_eq!(sigmoid(-104.0), 0.0);
    }
}
