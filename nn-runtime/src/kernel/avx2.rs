//! `f32` kernels for AVX2 and FMA: 8 lanes, 16 registers.
//!
//! Every function has `#[target_feature(enable = "avx2,fma")]`: calling one is sound only on a
//! CPU with both, which [`super::Kernel`] checks through [`super::level`]. Inside, the arithmetic
//! intrinsics are safe; only loads and stores through pointers need `unsafe`, and they are
//! confined to [`load`], [`store`], [`load_tail`] and [`store_tail`],
//! and to [`load_ptr`], [`store_ptr`] and [`store_tail_ptr`] for the convolution kernel
//! (`super::wide`), which checks its bounds once per call.

// `w`, `b`, `x`, `y`: the notation of `y = W x + b`.
#![allow(clippy::many_single_char_names)]

use super::activations::{SOFTMAX_DIRECT, SOFTMAX_DIRECT_LEN, activation_kernels};
use super::columns::column_kernels;
use super::gates::{gate_kernels, streams_panel};
use super::pieces;
use super::portable::{self, BLOCK};
use super::wide::wide_kernels;
use crate::Scalar;
use crate::batch::Aligned;
use core::arch::x86_64::{
    __m256, __m256i, _CMP_GT_OQ, _CMP_LE_OQ, _CMP_UNORD_Q, _mm_loadu_ps, _mm256_add_epi32,
    _mm256_add_pd, _mm256_add_ps, _mm256_and_ps, _mm256_and_si256, _mm256_andnot_ps,
    _mm256_blendv_ps, _mm256_castpd_ps, _mm256_castps_pd, _mm256_castps_si256,
    _mm256_castps256_ps128, _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_cmpgt_epi32,
    _mm256_cvtps_pd, _mm256_div_ps, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
    _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_max_ps, _mm256_min_ps, _mm256_movemask_ps,
    _mm256_mul_ps, _mm256_or_ps, _mm256_permute_ps, _mm256_permute2f128_ps, _mm256_permute4x64_pd,
    _mm256_set_m128, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setzero_pd,
    _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_slli_epi32, _mm256_storeu_pd, _mm256_storeu_ps,
    _mm256_sub_ps, _mm256_xor_ps,
};
use core::borrow::Borrow;

/// A vector of `f32`s.
type V = __m256;
/// `f32` lanes in a [`V`].
const L: usize = 8;
/// Output vectors per panel of `matvec`: 32 outputs.
const MATVEC_PANEL: usize = 4;
/// Registers for `matvec`'s partial sums, half of the 16.
const MATVEC_ACCUMULATORS: usize = 8;
/// `matvec`'s lanes, panel and partial sums, for the test of its order of summation.
#[cfg(test)]
pub(super) const MATVEC_SHAPE: (usize, usize, usize) = (L, MATVEC_PANEL, MATVEC_ACCUMULATORS);
/// Half the output vectors of `gates`' widest panel (8 vectors, 64 outputs): its accumulators
/// fill half of the 16 registers.
pub(crate) const GATES_PANEL: usize = 4;
/// Output vectors per tile of `matmul`: 16 outputs.
const MATMUL_PANEL: usize = 2;
/// Samples per tile of `matmul`: 12 accumulators, 2 weight vectors and a broadcast input fit
/// the 16 registers.
const MATMUL_SAMPLES: usize = 6;
/// Columns per block of `matmul`: the block's part of a panel of weights fills at most 16 KiB.
const MATMUL_BLOCK: usize = 128;
/// Vectors of a gradient column per tile of `accumulate`.
const ACCUMULATE_PANEL: usize = 2;
/// Gradient columns per tile of `accumulate`: 12 accumulators, 2 vectors of `d` and a broadcast
/// input fit the 16 registers, as in `matmul`.
const ACCUMULATE_COLUMNS: usize = 6;

/// `f(k, x[k] in every lane)` for each lane `k`, in order: two loads and then a shuffle a lane
/// (on a shuffle port), where a broadcast from memory would take a load a lane. The gates' and
/// dense layers' products are bound by their loads on this level's cores (two a cycle, against
/// two fused multiply-adds), so the LSTM(32)'s and GRU(32)'s steps and the `mlp` are faster
/// with shuffles than with broadcasts (`nn-step` and `mlp` in bench/benches/rtneural.rs;
/// BENCHMARKS.md, "Sequence networks, against RTNeural").
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn splat_each(x: &[f32; L], mut f: impl FnMut(usize, V)) {
    let (first, second) = x.split_at(L / 2);
    // Each half loaded into both halves of a vector (`vbroadcastf128`): 16-byte loads, which
    // take their values straight from the caller's stores of 16 or 32 bytes, where one load of
    // 32 bytes would wait for two stores of 16 (the `mlp` of bench/benches/rtneural.rs, whose
    // ReLU between the layers is compiled for SSE).
    // SAFETY: each half holds the 4 values loaded; `loadu` accepts any alignment.
    #[allow(unsafe_code)]
    let (first, second) = unsafe { (_mm_loadu_ps(first.as_ptr()), _mm_loadu_ps(second.as_ptr())) };
    let (mut low, mut high) = (
        _mm256_set_m128(first, first),
        _mm256_set_m128(second, second),
    );
    // An empty `asm!` that LLVM must assume changes both halves, so that it cannot fold each
    // shuffle below back into a broadcast from memory (which it otherwise does), nor move the
    // halves out of the caller's loop to keep them (and spill them) across panels.
    // SAFETY: the template is empty: it reads and writes nothing but the two registers.
    #[allow(unsafe_code)]
    unsafe {
        core::arch::asm!(
            "/* {0} {1} */",
            inout(ymm_reg) low,
            inout(ymm_reg) high,
            options(nomem, nostack, preserves_flags),
        );
    }
    f(0, _mm256_permute_ps::<0x00>(low));
    f(1, _mm256_permute_ps::<0x55>(low));
    f(2, _mm256_permute_ps::<0xaa>(low));
    f(3, _mm256_permute_ps::<0xff>(low));
    f(4, _mm256_permute_ps::<0x00>(high));
    f(5, _mm256_permute_ps::<0x55>(high));
    f(6, _mm256_permute_ps::<0xaa>(high));
    f(7, _mm256_permute_ps::<0xff>(high));
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn zero() -> V {
    _mm256_setzero_ps()
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn splat(v: f32) -> V {
    _mm256_set1_ps(v)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn add(a: V, b: V) -> V {
    _mm256_add_ps(a, b)
}

/// `a * b + c`, rounded once.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn fmadd(a: V, b: V, c: V) -> V {
    _mm256_fmadd_ps(a, b, c)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn sub(a: V, b: V) -> V {
    _mm256_sub_ps(a, b)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn mul(a: V, b: V) -> V {
    _mm256_mul_ps(a, b)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn div(a: V, b: V) -> V {
    _mm256_div_ps(a, b)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn min(a: V, b: V) -> V {
    _mm256_min_ps(a, b)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn max(a: V, b: V) -> V {
    _mm256_max_ps(a, b)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn negate(a: V) -> V {
    _mm256_xor_ps(a, splat(-0.0))
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn abs(a: V) -> V {
    _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX)))
}

/// `magnitude` (whose sign bit is clear) with the sign of `sign`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn with_sign(magnitude: V, sign: V) -> V {
    _mm256_or_ps(magnitude, _mm256_and_ps(sign, splat(-0.0)))
}

/// `2^n` from `shifted = n + 1.5 * 2^23` (`-126 <= n <= 127`), whose low bits hold `n`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn power_of_two(shifted: V) -> V {
    let bias = 127 - crate::math::ROUNDER.to_bits().cast_signed();
    let n = _mm256_add_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(bias));
    _mm256_castsi256_ps(_mm256_slli_epi32::<23>(n))
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn load(v: &[f32; L]) -> V {
    // SAFETY: `v` is 8 readable `f32`s, and `loadu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_loadu_ps(v.as_ptr())
    }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn store(dst: &mut [f32; L], v: V) {
    // SAFETY: `dst` is 8 writable `f32`s, and `storeu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_storeu_ps(dst.as_mut_ptr(), v);
    }
}

/// The lanes below `len < 8`, as the sign bits `maskload` and `maskstore` read.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn mask(len: usize) -> __m256i {
    debug_assert!(len < L);
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // len < 8
    let len = len as i32;
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(len),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// The first `v.len() < 8` lanes from `v`, zeros in the others.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn load_tail(v: &[f32]) -> V {
    // SAFETY: only the lanes below `v.len()` are enabled in the mask, and they lie in `v`;
    // `maskload` neither reads nor faults on disabled lanes.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_maskload_ps(v.as_ptr(), mask(v.len()))
    }
}

/// The `x.len() <= 8` values of `x` in the low lanes, zeros in the others, read in the pieces
/// of [`super::pieces`], each one load.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn load_pieces(x: &[f32]) -> V {
    match x.try_into() {
        Ok(x) => load(x),
        Err(_) => pieces::load_below_8(x),
    }
}

/// Writes the first `x.len() <= 8` lanes of `v` to `x`, nothing beyond, in the pieces that
/// [`load_pieces`] reads.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn store_pieces(x: &mut [f32], v: V) {
    match x.try_into() {
        Ok(x) => store(x, v),
        Err(_) => pieces::store_below_8(x, v),
    }
}

/// Writes the first `dst.len() < 8` lanes of `v` to `dst`, nothing beyond.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn store_tail(dst: &mut [f32], v: V) {
    // SAFETY: only the lanes below `dst.len()` are enabled in the mask, and they lie in `dst`;
    // `maskstore` neither writes nor faults on disabled lanes.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_maskstore_ps(dst.as_mut_ptr(), mask(dst.len()), v);
    }
}

/// The 8 values from `p` on.
///
/// # Safety
///
/// `p` must be readable for 8 `f32`s (any alignment: `loadu`).
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unsafe_code)]
unsafe fn load_ptr(p: *const f32) -> V {
    // SAFETY: the caller's contract.
    unsafe { _mm256_loadu_ps(p) }
}

/// Writes `v` to the 8 values from `p` on.
///
/// # Safety
///
/// `p` must be writable for 8 `f32`s (any alignment: `storeu`).
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unsafe_code)]
unsafe fn store_ptr(p: *mut f32, v: V) {
    // SAFETY: the caller's contract.
    unsafe { _mm256_storeu_ps(p, v) }
}

/// Writes the first `len < 8` lanes of `v` to the values from `p` on, nothing beyond.
///
/// # Safety
///
/// `p` must be writable for `len` `f32`s (any alignment; the masked-off lanes are neither
/// written nor checked for faults).
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unsafe_code)]
unsafe fn store_tail_ptr(p: *mut f32, v: V, len: usize) {
    // SAFETY: the caller's contract.
    unsafe { _mm256_maskstore_ps(p, mask(len), v) }
}

/// The lanes `lo..hi` (`lo <= hi <= 8`), as the sign bits `maskload` reads.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lanes(lo: usize, hi: usize) -> __m256i {
    debug_assert!(lo <= hi && hi <= L);
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // at most 8
    let (lo, hi) = (lo as i32, hi as i32);
    let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_and_si256(
        _mm256_cmpgt_epi32(index, _mm256_set1_epi32(lo - 1)),
        _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), index),
    )
}

/// The lanes of `lanes` from the 8 values from `p` on, zeros in the others.
///
/// # Safety
///
/// The lanes of `lanes` must be readable from `p` on (`p` itself may point anywhere: the
/// masked-off lanes are neither read nor checked for faults).
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unsafe_code)]
unsafe fn load_lanes_ptr(p: *const f32, lanes: __m256i) -> V {
    // SAFETY: the caller's contract.
    unsafe { _mm256_maskload_ps(p, lanes) }
}

/// The max-pool's choice lane by lane (`layers::pool`'s `select_max`): `value` where it is
/// greater than `max` or NaN, else `max`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn select_max(max: V, value: V) -> V {
    let take = _mm256_or_ps(
        _mm256_cmp_ps::<_CMP_GT_OQ>(value, max),
        _mm256_cmp_ps::<_CMP_UNORD_Q>(value, value),
    );
    _mm256_blendv_ps(max, value, take)
}

/// The even and the odd values of `2 n <= 16` values from `from` on, as two vectors (lanes
/// from `n` on unspecified).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn pairs(from: &[f32]) -> (V, V) {
    let rest = from.get(L..).unwrap_or(&[]);
    let (low, high) = match (from.first_chunk::<L>(), rest.first_chunk::<L>()) {
        (Some(low), Some(high)) => (load(low), load(high)),
        (Some(low), None) => (load(low), load_tail(rest)),
        (None, _) => (load_tail(from), zero()),
    };
    // Within each 128-bit half: two values of `low`, then two of `high`; then the 64-bit
    // pairs reordered so that `low`'s come first.
    let even = _mm256_shuffle_ps::<0b10_00_10_00>(low, high);
    let odd = _mm256_shuffle_ps::<0b11_01_11_01>(low, high);
    (halves_in_order(even), halves_in_order(odd))
}

/// The 64-bit pairs of `v` in the order 0, 2, 1, 3.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn halves_in_order(v: V) -> V {
    _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)))
}

/// See [`super::max_pool_2x2`].
#[target_feature(enable = "avx2,fma")]
pub fn max_pool_2x2(x: &[f32], width: usize, y: &mut [f32], out_width: usize) {
    for (r, out) in y.chunks_exact_mut(out_width).enumerate() {
        let top = &x[2 * r * width..][..2 * out_width];
        let bottom = &x[(2 * r + 1) * width..][..2 * out_width];
        for (j, out) in out.chunks_mut(L).enumerate() {
            let n = out.len();
            let (t0, t1) = pairs(&top[2 * j * L..][..2 * n]);
            let (b0, b1) = pairs(&bottom[2 * j * L..][..2 * n]);
            let m = select_max(select_max(select_max(t0, t1), b0), b1);
            match out.try_into() {
                Ok(out) => store(out, m),
                Err(_) => store_tail(out, m),
            }
        }
    }
}

/// `combine` of all of `v`'s lanes, in every lane: lanes `j` and `j + 4`, then `j + 2`, then
/// `j + 1`, each lane combined with its partner's, so that no lane has to be broadcast
/// afterwards. The sum with `add`; the greatest with `max` (NaN lanes may or may not win it:
/// [`softmax`] gives NaN for them either way).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn everywhere(v: V, combine: impl Fn(V, V) -> V) -> V {
    let v = combine(v, _mm256_permute2f128_ps::<0x01>(v, v));
    let v = combine(v, _mm256_permute_ps::<0b01_00_11_10>(v));
    combine(v, _mm256_permute_ps::<0b10_11_00_01>(v))
}

/// Lanes `lo..hi` all ones (as `f32` bits), the others zeros: the lanes of a vector that hold
/// a row's values.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn valid(lo: usize, hi: usize) -> V {
    _mm256_castsi256_ps(lanes(lo, hi))
}

/// The lanes of `valid` (all-ones lanes) whose value in `v` lies beyond `±SOFTMAX_DIRECT` or
/// is NaN, all ones; the others zeros.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn outside_direct(v: V, valid: V) -> V {
    _mm256_andnot_ps(
        _mm256_cmp_ps::<_CMP_LE_OQ>(abs(v), splat(SOFTMAX_DIRECT)),
        valid,
    )
}

/// The probabilities of the lanes of `v` selected by `valid` (all-ones lanes), the others 0:
/// [`softmax`] of up to 16 values held in `N` registers. When every selected value lies within
/// `±SOFTMAX_DIRECT` it takes `e^x` itself, without waiting for the maximum; otherwise it
/// shifts by the maximum. The sum is `f32`'s (at most 16 terms, a tree of depth 4: within 2
/// ulps), added into every lane.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn softmax_registers<const N: usize>(v: [V; N], valid: [V; N]) -> [V; N] {
    let mut outside = zero();
    for (v, valid) in v.iter().zip(&valid) {
        outside = _mm256_or_ps(outside, outside_direct(*v, *valid));
    }
    let e: [V; N] = if _mm256_movemask_ps(outside) == 0 {
        core::array::from_fn(|k| _mm256_and_ps(exp_within(v[k]), valid[k]))
    } else {
        let mut largest = splat(f32::NEG_INFINITY);
        for (v, valid) in v.iter().zip(&valid) {
            largest = max(
                largest,
                _mm256_blendv_ps(splat(f32::NEG_INFINITY), *v, *valid),
            );
        }
        let shift = everywhere(largest, |a, b| max(a, b));
        core::array::from_fn(|k| _mm256_and_ps(exp_softmax(sub(v[k], shift)), valid[k]))
    };
    let mut sum = e[0];
    for e in &e[1..] {
        sum = add(sum, *e);
    }
    let sum = everywhere(sum, |a, b| add(a, b));
    e.map(|e| div(e, sum))
}

/// `activation::softmax` of `f32`s with 8 lanes at a time, within 4 ulps: the AVX-512 kernel's
/// method (`super::avx512::softmax`) with 8-lane vectors. Up to 16 values stay in registers
/// ([`softmax_registers`]), read and written as 8 values and the pieces of
/// [`super::pieces`], in which the dense layers write their last outputs; value `i` in lane
/// `i % 8`, so that their sum's tree is `_mm512_reduce_add_ps`', and the AVX-512 kernel
/// runs this one for such rows. Longer rows shift by
/// their maximum unless every value lies within `±SOFTMAX_DIRECT` (and there are at most
/// `SOFTMAX_DIRECT_LEN`), and sum in `f64`. NaN or `+inf` among the values makes every output
/// NaN. The `mlp` of bench/benches/rtneural.rs measures it.
#[target_feature(enable = "avx2,fma")]
pub fn softmax(x: &mut [f32]) {
    let len = x.len();
    match len {
        0 => {}
        1..=8 => {
            let [e] = softmax_registers([load_pieces(x)], [valid(0, len)]);
            store_pieces(x, e);
        }
        9..=16 => {
            let (low, high) = x.split_at_mut(L);
            let low: &mut [f32; L] = low.try_into().expect("split at L");
            let v = [load(low), load_pieces(high)];
            let [e_low, e_high] = softmax_registers(v, [valid(0, L), valid(0, len - L)]);
            store(low, e_low);
            store_pieces(high, e_high);
        }
        _ => softmax_long(x),
    }
}

/// [`softmax`] of more than 16 values: `e^x` into `x`, summed in `f64`, then each multiplied
/// by the sum's inverse, as the scalar softmax does.
#[target_feature(enable = "avx2,fma")]
fn softmax_long(x: &mut [f32]) {
    let len = x.len();
    let (vectors, tail) = x.as_chunks_mut::<L>();
    let tail_lanes = valid(0, tail.len());
    let mut outside = outside_direct(load_tail(tail), tail_lanes);
    let mut maximum = splat(f32::NEG_INFINITY);
    for v in vectors.iter() {
        let v = load(v);
        outside = _mm256_or_ps(outside, outside_direct(v, valid(0, L)));
        maximum = max(maximum, v);
    }
    let shift = if _mm256_movemask_ps(outside) == 0 && len <= SOFTMAX_DIRECT_LEN {
        zero()
    } else {
        let tail = _mm256_blendv_ps(splat(f32::NEG_INFINITY), load_tail(tail), tail_lanes);
        everywhere(max(maximum, tail), |a, b| max(a, b))
    };
    let widen = |e: V| {
        _mm256_add_pd(
            _mm256_cvtps_pd(_mm256_castps256_ps128(e)),
            _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(e)),
        )
    };
    let mut sums = _mm256_setzero_pd();
    for v in vectors.iter_mut() {
        let e = exp_softmax(sub(load(v), shift));
        store(v, e);
        sums = _mm256_add_pd(sums, widen(e));
    }
    if !tail.is_empty() {
        let e = _mm256_and_ps(exp_softmax(sub(load_tail(tail), shift)), tail_lanes);
        store_tail(tail, e);
        sums = _mm256_add_pd(sums, widen(e));
    }
    let mut parts = [0.0f64; 4];
    // SAFETY: `parts` is 4 writable `f64`s, and `storeu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_storeu_pd(parts.as_mut_ptr(), sums);
    }
    let sum = (parts[0] + parts[1]) + (parts[2] + parts[3]);
    #[allow(clippy::cast_possible_truncation)] // rounding to the nearest `f32` is the point
    let inverse = splat((1.0 / sum) as f32);
    for v in vectors.iter_mut() {
        store(v, mul(load(v), inverse));
    }
    if !tail.is_empty() {
        store_tail(tail, mul(load_tail(tail), inverse));
    }
}

column_kernels!("avx2,fma");
gate_kernels!("avx2,fma", f32, load, load_tail);
activation_kernels!("avx2,fma");
wide_kernels!("avx2,fma");

/// `W x + b` in `f64` (or any scalar): the portable kernel, vectorised by LLVM for these
/// features.
#[target_feature(enable = "avx2,fma")]
pub fn matvec_auto<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    portable::matvec(w, b, x)
}

/// `y[s] = W x[s] + b` in `f64` (or any scalar): the portable kernel, vectorised by LLVM for
/// these features.
#[target_feature(enable = "avx2,fma")]
pub fn matmul_auto<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[[T; IN]],
    y: &mut [[T; OUT]],
) {
    portable::matmul(w, b, x, y);
}

/// The portable gradient accumulation, vectorised by LLVM for these features (used for `f64`).
#[target_feature(enable = "avx2,fma")]
pub fn accumulate_auto<T: Scalar, const IN: usize, const OUT: usize, X: Borrow<[T; IN]>>(
    g: &mut [[T; OUT]; IN],
    x: &[X],
    d: &[[T; OUT]],
) {
    portable::accumulate(g, x, d);
}

/// Calls `f` compiled with AVX2 and FMA, for [`super::with_widest`].
#[target_feature(enable = "avx2,fma")]
pub fn run<R>(f: impl FnOnce() -> R) -> R {
    f()
}
