//! `exp` and the logistic function for `f32`, computed in `f64` from a table, without branches:
//! accurate to half an ulp (at most 0.507 ulp over every seventh `f32` bit pattern in range; the
//! tests below sweep fewer), and the same with or without `std`.
//!
//! `e^x = 2^(k / 256) * e^t`, where `k = round(x * 256 / ln 2)` and `t = x - k ln 2 / 256`, so
//! `|t| <= ln 2 / 512`. The 256 values of `2^(i / 256)` come from a table (2 KiB), the power of
//! two of `k / 256` goes straight into the exponent bits, and `e^t` is its Taylor polynomial of
//! degree 2, whose relative error there is about `(ln 2 / 512)^3 / 6`, below `2^-31`: far below the
//! `2^-24` of an `f32` rounding. Every step but the last runs in `f64`, so the result is rounded
//! once.
//!
//! The result is kept as a sum `s + q` (`s = 2^(k / 256)`, `q = s (e^t - 1)`) until the end, so
//! the logistic function `1 / ((1 + s) + q)` need not wait for `q` to add 1. A table of 256 and
//! a quadratic rather than `libm::expf`, or a smaller table and a cubic: `xor_b1` in
//! bench/benches/forward.rs (three sigmoids a call).

/// `2^(i / 256)`, correctly rounded to `f64`, minus `i << 44` so that adding `k << 44` for any
/// `k` congruent to `i` modulo 256 adds `k / 256` (rounded down) to the exponent. Computed with
/// Python's `decimal` at 60 digits:
///
/// ```text
/// from decimal import Decimal, getcontext; import struct; getcontext().prec = 60
/// ln2 = Decimal(2).ln()
/// [hex(struct.unpack('<Q', struct.pack('<d', float((ln2 * i / 256).exp())))[0] - (i << 44))
///  for i in range(256)]
/// ```
const TABLE: [u64; 256] = [
    0x3ff0_0000_0000_0000,
    0x3fef_fb1a_fa5a_bcbf,
    0x3fef_f63d_a9fb_3335,
    0x3fef_f168_143b_0281,
    0x3fef_ec9a_3e77_8061,
    0x3fef_e7d4_2e11_bbcc,
    0x3fef_e315_e86e_7f85,
    0x3fef_de5f_72f6_54b1,
    0x3fef_d9b0_d315_8574,
    0x3fef_d50a_0e3c_1f89,
    0x3fef_d06b_29dd_f6de,
    0x3fef_cbd4_2b72_a836,
    0x3fef_c745_1875_9bc8,
    0x3fef_c2bd_f666_07e0,
    0x3fef_be3e_cac6_f383,
    0x3fef_b9c7_9b1f_3919,
    0x3fef_b558_6cf9_890f,
    0x3fef_b0f1_45e4_6c85,
    0x3fef_ac92_2b72_47f7,
    0x3fef_a83b_2339_5dec,
    0x3fef_a3ec_32d3_d1a2,
    0x3fef_9fa5_5fdf_a9c5,
    0x3fef_9b66_affe_d31b,
    0x3fef_9730_28d7_233e,
    0x3fef_9301_d012_5b51,
    0x3fef_8edb_ab5e_2ab6,
    0x3fef_8abd_c06c_31cc,
    0x3fef_86a8_14f2_04ab,
    0x3fef_829a_aea9_2de0,
    0x3fef_7e95_934f_312e,
    0x3fef_7a98_c8a5_8e51,
    0x3fef_76a4_5471_c3c2,
    0x3fef_72b8_3c7d_517b,
    0x3fef_6ed4_8695_bbc0,
    0x3fef_6af9_388c_8dea,
    0x3fef_6726_5837_5d2f,
    0x3fef_635b_eb6f_cb75,
    0x3fef_5f99_f813_8a1c,
    0x3fef_5be0_8404_5cd4,
    0x3fef_582f_9528_1c6b,
    0x3fef_5487_3168_b9aa,
    0x3fef_50e7_5eb4_4027,
    0x3fef_4d50_22fc_d91d,
    0x3fef_49c1_8438_ce4d,
    0x3fef_463b_8862_8cd6,
    0x3fef_42be_3578_a819,
    0x3fef_3f49_917d_dc96,
    0x3fef_3bdd_a279_12d1,
    0x3fef_387a_6e75_6238,
    0x3fef_351f_fb82_140a,
    0x3fef_31ce_4fb2_a63f,
    0x3fef_2e85_711e_ce75,
    0x3fef_2b45_65e2_7cdd,
    0x3fef_280e_341d_df29,
    0x3fef_24df_e1f5_6381,
    0x3fef_21ba_7591_bb70,
    0x3fef_1e9d_f51f_dee1,
    0x3fef_1b8a_66d1_0f13,
    0x3fef_187f_d0da_d990,
    0x3fef_157e_3977_1b2f,
    0x3fef_1285_a6e4_030b,
    0x3fef_0f96_1f64_1589,
    0x3fef_0caf_a93e_2f56,
    0x3fef_09d2_4abd_886b,
    0x3fef_06fe_0a31_b715,
    0x3fef_0432_edee_b2fd,
    0x3fef_0170_fc4c_d831,
    0x3fee_feb8_3ba8_ea32,
    0x3fee_fc08_b264_16ff,
    0x3fee_f962_66e3_fa2d,
    0x3fee_f6c5_5f92_9ff1,
    0x3fee_f431_a2de_883b,
    0x3fee_f1a7_373a_a9cb,
    0x3fee_ef26_231e_754a,
    0x3fee_ecae_6d05_d866,
    0x3fee_ea40_1b71_40ef,
    0x3fee_e7db_34e5_9ff7,
    0x3fee_e57f_bfec_6cf4,
    0x3fee_e32d_c313_a8e5,
    0x3fee_e0e5_44ed_e173,
    0x3fee_dea6_4c12_3422,
    0x3fee_dc70_df1c_5175,
    0x3fee_da45_04ac_801c,
    0x3fee_d822_c367_a024,
    0x3fee_d60a_21f7_2e2a,
    0x3fee_d3fb_2709_468a,
    0x3fee_d1f5_d950_a897,
    0x3fee_cffa_3f84_b9d4,
    0x3fee_ce08_6061_892d,
    0x3fee_cc20_42a7_d232,
    0x3fee_ca41_ed1d_0057,
    0x3fee_c86d_668b_3237,
    0x3fee_c6a2_b5c1_3cd0,
    0x3fee_c4e1_e192_aed2,
    0x3fee_c32a_f0d7_d3de,
    0x3fee_c17d_ea6d_b7d7,
    0x3fee_bfda_d536_2a27,
    0x3fee_be41_b817_c114,
    0x3fee_bcb2_99fd_dd0d,
    0x3fee_bb2d_81d8_abff,
    0x3fee_b9b2_769d_2ca7,
    0x3fee_b841_7f45_31ee,
    0x3fee_b6da_a2cf_6642,
    0x3fee_b57d_e83f_4eef,
    0x3fee_b42b_569d_4f82,
    0x3fee_b2e2_f4f6_ad27,
    0x3fee_b1a4_ca5d_920f,
    0x3fee_b070_dde9_10d2,
    0x3fee_af47_36b5_27da,
    0x3fee_ae27_dbe2_c4cf,
    0x3fee_ad12_d497_c7fd,
    0x3fee_ac08_27ff_07cc,
    0x3fee_ab07_dd48_5429,
    0x3fee_aa11_fba8_7a03,
    0x3fee_a926_8a59_46b7,
    0x3fee_a845_9099_8b93,
    0x3fee_a76f_15ad_2148,
    0x3fee_a6a3_20dc_eb71,
    0x3fee_a5e1_b976_dc09,
    0x3fee_a52a_e6cd_f6f4,
    0x3fee_a47e_b03a_5585,
    0x3fee_a3dd_1d19_29fd,
    0x3fee_a346_34cc_c320,
    0x3fee_a2b9_febc_8fb7,
    0x3fee_a238_8255_2225,
    0x3fee_a1c1_c708_33f6,
    0x3fee_a155_d44c_a973,
    0x3fee_a0f4_b19e_9538,
    0x3fee_a09e_667f_3bcd,
    0x3fee_a052_fa75_173e,
    0x3fee_a012_750b_dabf,
    0x3fee_9fdc_ddd4_7645,
    0x3fee_9fb2_3c65_1a2f,
    0x3fee_9f92_9859_3ae5,
    0x3fee_9f7d_f951_9484,
    0x3fee_9f74_66f4_2e87,
    0x3fee_9f75_e8ec_5f74,
    0x3fee_9f82_86ea_d08a,
    0x3fee_9f9a_48a5_8174,
    0x3fee_9fbd_35d7_cbfd,
    0x3fee_9feb_5642_67c9,
    0x3fee_a024_b1ab_6e09,
    0x3fee_a069_4fde_5d3f,
    0x3fee_a0b9_38ac_1cf6,
    0x3fee_a114_73eb_0187,
    0x3fee_a17b_0976_cfdb,
    0x3fee_a1ed_0130_c132,
    0x3fee_a26a_62ff_86f0,
    0x3fee_a2f3_36cf_4e62,
    0x3fee_a387_8491_c491,
    0x3fee_a427_543e_1a12,
    0x3fee_a4d2_add1_06d9,
    0x3fee_a589_994c_ce13,
    0x3fee_a64c_1eb9_41f7,
    0x3fee_a71a_4623_c7ad,
    0x3fee_a7f4_179f_5b21,
    0x3fee_a8d9_9b44_92ed,
    0x3fee_a9ca_d931_a436,
    0x3fee_aac7_d98a_6699,
    0x3fee_abd0_a478_580f,
    0x3fee_ace5_422a_a0db,
    0x3fee_ae05_bad6_1778,
    0x3fee_af32_16b5_448c,
    0x3fee_b06a_5e08_66d9,
    0x3fee_b1ae_9915_7736,
    0x3fee_b2fe_d028_2c8a,
    0x3fee_b45b_0b91_ffc6,
    0x3fee_b5c3_53aa_2fe2,
    0x3fee_b737_b0cd_c5e5,
    0x3fee_b8b8_2b5f_98e5,
    0x3fee_ba44_cbc8_520f,
    0x3fee_bbdd_9a76_70b3,
    0x3fee_bd82_9fde_4e50,
    0x3fee_bf33_e47a_22a2,
    0x3fee_c0f1_70ca_07ba,
    0x3fee_c2bb_4d53_fe0d,
    0x3fee_c491_82a3_f090,
    0x3fee_c674_194b_b8d5,
    0x3fee_c863_19e3_2323,
    0x3fee_ca5e_8d07_f29e,
    0x3fee_cc66_7b5d_e565,
    0x3fee_ce7a_ed8e_b8bb,
    0x3fee_d09b_ec4a_2d33,
    0x3fee_d2c9_8046_0ad8,
    0x3fee_d503_b23e_255d,
    0x3fee_d74a_8af4_6052,
    0x3fee_d99e_1330_b358,
    0x3fee_dbfe_53c1_2e59,
    0x3fee_de6b_5579_fdbf,
    0x3fee_e0e5_2135_6eba,
    0x3fee_e36b_bfd3_f37a,
    0x3fee_e5ff_3a3c_2774,
    0x3fee_e89f_995a_d3ad,
    0x3fee_eb4c_e622_f2ff,
    0x3fee_ee07_298d_b666,
    0x3fee_f0ce_6c9a_8952,
    0x3fee_f3a2_b84f_15fb,
    0x3fee_f684_15b7_49b1,
    0x3fee_f972_8de5_593a,
    0x3fee_fc6e_29f1_c52a,
    0x3fee_ff76_f2fb_5e47,
    0x3fef_028c_f227_49e4,
    0x3fef_05b0_30a1_064a,
    0x3fef_08e0_b79a_6f1f,
    0x3fef_0c1e_904b_c1d2,
    0x3fef_0f69_c3f3_a207,
    0x3fef_12c2_5bd7_1e09,
    0x3fef_1628_6141_b33d,
    0x3fef_199b_dd85_529c,
    0x3fef_1d1c_d9fa_652c,
    0x3fef_20ab_5fff_d07a,
    0x3fef_2447_78fa_fb22,
    0x3fef_27f1_2e57_d14b,
    0x3fef_2ba8_8988_c933,
    0x3fef_2f6d_9406_e7b5,
    0x3fef_3340_5751_c4db,
    0x3fef_3720_dcef_9069,
    0x3fef_3b0f_2e6d_1675,
    0x3fef_3f0b_555d_c3fa,
    0x3fef_4315_5b5b_ab74,
    0x3fef_472d_4a07_897c,
    0x3fef_4b53_2b08_c968,
    0x3fef_4f87_080d_89f2,
    0x3fef_53c8_eaca_a1d6,
    0x3fef_5818_dcfb_a487,
    0x3fef_5c76_e862_e6d3,
    0x3fef_60e3_16c9_8398,
    0x3fef_655d_71ff_6075,
    0x3fef_69e6_03db_3285,
    0x3fef_6e7c_d63a_8315,
    0x3fef_7321_f301_b460,
    0x3fef_77d5_641c_0658,
    0x3fef_7c97_337b_9b5f,
    0x3fef_8167_6b19_7d17,
    0x3fef_8646_14f5_a129,
    0x3fef_8b33_3b16_ee12,
    0x3fef_902e_e78b_3ff6,
    0x3fef_9539_2467_6d76,
    0x3fef_9a51_fbc7_4c83,
    0x3fef_9f79_77cd_b740,
    0x3fef_a4af_a2a4_90da,
    0x3fef_a9f4_867c_ca6e,
    0x3fef_af48_2d8e_67f1,
    0x3fef_b4aa_a218_8510,
    0x3fef_ba1b_ee61_5a27,
    0x3fef_bf9c_1cb6_412a,
    0x3fef_c52b_376b_ba97,
    0x3fef_cac9_48dd_7274,
    0x3fef_d076_5b6e_4540,
    0x3fef_d632_7988_44f8,
    0x3fef_dbfd_ad9c_be14,
    0x3fef_e1d8_0224_3c89,
    0x3fef_e7c1_819e_90d8,
    0x3fef_edba_3692_d514,
    0x3fef_f3c2_2b8f_71f1,
    0x3fef_f9d9_6b2a_23d9,
];

/// `1.5 * 2^52`: adding it to an `f64` of magnitude below `2^51` rounds it to an integer (to
/// nearest, ties to even), which then sits in the low bits of the sum.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// `256 / ln 2`.
const SCALE: f64 = 256.0 / core::f64::consts::LN_2;
/// Taylor coefficients of `e^(r ln 2 / 256) - 1` in `r`, with `|r| <= 1/2`.
const C1: f64 = core::f64::consts::LN_2 / 256.0;
const C2: f64 = C1 * C1 / 2.0;

/// `e^(x * sign)` in `f64` for an `f32` argument, as the sum of a power of `2^(1/256)` and a
/// correction, with a relative error below `2^-31`. Arguments beyond `+-110` are clamped to it:
/// `e^110` is far beyond `f32::MAX` and `e^-110` far below its smallest subnormal, so the rounded
/// results of [`exp`] and [`sigmoid`] are unchanged. NaN stays NaN (in the correction). `sign` is
/// `1` or `-1`: the negation folds into a constant.
#[inline]
fn exp_parts(x: f32, sign: f64) -> (f64, f64) {
    let z = f64::from(x.clamp(-110.0, 110.0)) * (sign * SCALE);
    let shifted = z + SHIFT;
    // The low bits of `shifted` are `k = round(z)` in two's complement; `|k| < 2^16`.
    let k = shifted.to_bits();
    let r = z - (shifted - SHIFT);
    // `k << 44` keeps the low 20 bits of `k`: its 8 low bits cancel the table's `i << 44`, the
    // rest (`k / 256`, sign included, modulo 2^64) land in the exponent.
    #[allow(clippy::cast_possible_truncation)] // `k % 256 < 256`
    let power = f64::from_bits(TABLE[(k % 256) as usize].wrapping_add(k << 44));
    (power, (power * r) * (C1 + C2 * r))
}

/// `e^x`, to within about half an ulp: `+inf` above `88.72284`, `0` below `-103.97`.
#[inline]
#[allow(clippy::cast_possible_truncation)] // rounding to the nearest `f32` is the point
pub(crate) fn exp(x: f32) -> f32 {
    let (power, correction) = exp_parts(x, 1.0);
    (power + correction) as f32
}

/// `1 / (1 + e^-x)`, rounded once from `f64`: no branch, no overflow (`e^-x` is at most `e^110`
/// in `f64`), exactly `1` and `0` where the function rounds to them.
#[inline]
#[allow(clippy::cast_possible_truncation)] // rounding to the nearest `f32` is the point
pub(crate) fn sigmoid(x: f32) -> f32 {
    let (power, correction) = exp_parts(x, -1.0);
    (1.0 / ((1.0 + power) + correction)) as f32
}

// The recurrent layers' logistic function and hyperbolic tangent for `f32`: no table, no
// branch, no conversion that saturates, so that LLVM vectorises a loop of them (`step` in
// bench/benches/recurrent.rs); within 5 ulps of the exact value (`FAST_ULPS`, tested against
// `libm` in `f64` below), exactly `1` and `-1` where the functions round to them.
//
// `e^x` from a polynomial: `x` is split as `n ln 2 + r` with `|r| <= ln 2 / 2`, `e^r - 1` is a
// polynomial of degree 6, and `2^n` goes straight into the exponent bits. `tanh` uses
// `e^(2|x|) - 1` computed the same way, so that it stays accurate near zero. The coefficients:
//
//     r = ln(2) / 2 * cos((2 k + 1) pi / 4000), k < 2000; q = expm1(r) / r
//     fit q = 1 + c1 r + ... + c5 r^5 by least squares weighted by 1 / q, reweighted by
//     |error|^(1/2) fifty times (Lawson); round to f32
//
// (numpy, float64).

/// `1.5 * 2^23`: adding it rounds a float below `2^22` in magnitude to an integer, which its low
/// mantissa bits then hold.
pub(crate) const ROUNDER: f32 = 12_582_912.0;
/// `ln 2` in two parts: the first has 9 significant bits, so that `n * LN2_HIGH` is exact for
/// `|n| < 2^15`.
pub(crate) const LN2_HIGH: f32 = 0.693_359_4;
pub(crate) const LN2_LOW: f32 = -2.121_944_4e-4;

/// The coefficients of `r`, ..., `r^5` in `q(r) = (e^r - 1) / r` for `|r| <= ln 2 / 2`, fitted in
/// the script in this module's doc (the constant term is 1).
pub(crate) const Q: [f32; 5] = [
    0.499_999_97,
    0.166_665_43,
    0.041_667_2,
    0.008_366_514,
    0.001_388_251_9,
];

/// `(e^r - 1, 2^n)` for `x = n ln 2 + r`, `-88 <= x <= 88`: `e^x = 2^n (1 + p)`.
#[inline(always)]
#[allow(clippy::inline_always)] // inlined into the recurrent layers' vectorised loops
fn exp_parts_fast(x: f32) -> (f32, f32) {
    let shifted = x * core::f32::consts::LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = (x - n * LN2_HIGH) - n * LN2_LOW;
    // The low bits of `shifted` hold `n`: `(n + 127) << 23` is the bits of `2^n`.
    let power = f32::from_bits(
        shifted
            .to_bits()
            .wrapping_sub(ROUNDER.to_bits())
            .wrapping_add(127)
            << 23,
    );
    // `e^r - 1 = r q(r)`, `q` of degree 5 (near-minimax for relative error, 1.7e-8 with these
    // `f32` coefficients), by Estrin's scheme rather than Horner's: a shorter chain of dependent
    // operations, which a recurrent step waits for.
    let r2 = r * r;
    let r4 = r2 * r2;
    let q = (1.0 + r * Q[0]) + r2 * (Q[1] + r * Q[2]) + r4 * (Q[3] + r * Q[4]);
    (r * q, power)
}

/// `|x|` and the sign bit of `x`.
#[inline(always)]
#[allow(clippy::inline_always)]
fn magnitude(x: f32) -> (f32, u32) {
    let bits = x.to_bits();
    (f32::from_bits(bits & 0x7fff_ffff), bits & 0x8000_0000)
}

/// `1 / (1 + e^-x)` within 5 ulps for `x >= -87` (below, a value under `2e-38`).
#[inline(always)]
#[allow(clippy::inline_always)]
pub(crate) fn sigmoid_fast(x: f32) -> f32 {
    // `e^87` is below `f32::MAX`, and `1 / (1 + e^87)` a normal number: no branch on the sign.
    let (p, power) = exp_parts_fast((-x).clamp(-87.0, 87.0));
    1.0 / (1.0 + (power + power * p))
}

/// `tanh x` within 5 ulps.
#[inline(always)]
#[allow(clippy::inline_always)]
#[allow(clippy::many_single_char_names)] // the formulas' names
pub(crate) fn tanh_fast(x: f32) -> f32 {
    let (a, sign) = magnitude(x);
    // `tanh 9.1` rounds to 1.
    // Not `min`, which would turn NaN into 9.1.
    let a = if a > 9.1 { 9.1 } else { a };
    let (p, power) = exp_parts_fast(2.0 * a);
    // `e^(2|x|) - 1 = 2^n p + (2^n - 1)`: exact cancellation, accurate near zero.
    let e = power * p + (power - 1.0);
    let t = e / (e + 2.0);
    f32::from_bits(t.to_bits() | sign)
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
        // Each table entry, through arguments `i ln 2 / 256 + 32 ln 2`.
        for i in 0..256 {
            let x = (f64::from(i) / 256.0 + 32.0) * core::f64::consts::LN_2;
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

    #[test]
    fn fast_sigmoid_and_tanh_are_within_their_bound() {
        use super::{sigmoid_fast, tanh_fast};
        /// The bound the functions' doc states.
        const FAST_ULPS: f64 = 5.0;
        let reference = |x: f32| {
            let v = f64::from(x);
            if v >= 0.0 {
                1.0 / (1.0 + libm::exp(-v))
            } else {
                libm::exp(v) / (1.0 + libm::exp(v))
            }
        };
        let (mut worst_sigmoid, mut worst_tanh) = (0.0f64, 0.0f64);
        for x in sweep(-87.0, 87.0, 257) {
            worst_sigmoid = worst_sigmoid.max(ulps(sigmoid_fast(x), reference(x)));
        }
        for x in sweep(-20.0, 20.0, 257) {
            worst_tanh = worst_tanh.max(ulps(tanh_fast(x), libm::tanh(f64::from(x))));
        }
        std::println!("sigmoid_fast {worst_sigmoid:.2} ulps, tanh_fast {worst_tanh:.2} ulps");
        assert!(
            worst_sigmoid <= FAST_ULPS,
            "sigmoid_fast: {worst_sigmoid} ulps"
        );
        assert!(worst_tanh <= FAST_ULPS, "tanh_fast: {worst_tanh} ulps");
        for (x, s, t) in [
            (0.0f32, 0.5f32, 0.0f32),
            (-0.0, 0.5, -0.0),
            (100.0, 1.0, 1.0),
            (-100.0, 0.0, -1.0),
            (f32::INFINITY, 1.0, 1.0),
            (f32::NEG_INFINITY, 0.0, -1.0),
        ] {
            assert!((sigmoid_fast(x) - s).abs() < 2e-38, "sigmoid_fast({x})");
            assert_eq!(tanh_fast(x).to_bits(), t.to_bits(), "tanh_fast({x})");
        }
    }
}
