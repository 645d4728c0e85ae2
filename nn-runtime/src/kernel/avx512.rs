//! `f32` kernels for AVX-512F: 16 lanes, 32 registers.
//!
//! Every function has `#[target_feature(enable = "avx512f")]`: calling one is sound only on a CPU
//! with AVX-512F, which [`super::Kernel`] checks through [`super::level`]. Inside, the
//! arithmetic intrinsics are safe; only loads and stores through pointers need `unsafe`, and
//! they are confined to [`load`], [`store`], [`load_tail`] and [`store_tail`],
//! and to [`load_ptr`], [`store_ptr`] and [`store_tail_ptr`] for the convolution kernel
//! (`super::wide`), which checks its bounds once per call.

// `w`, `b`, `x`, `y`: the notation of `y = W x + b`.
#![allow(clippy::many_single_char_names)]

use super::activations::{SOFTMAX_DIRECT, SOFTMAX_DIRECT_LEN, activation_kernels};
use super::columns::column_kernels;
use super::gates::{gate_kernels, streams_panel};
use super::pieces::{self, Lane};
use super::portable::{self, BLOCK};
use super::wide::wide_kernels;
use crate::Scalar;
use crate::batch::Aligned;
use core::arch::x86_64::{
    __m512, __m512i, __mmask16, _CMP_GT_OQ, _CMP_LE_OQ, _CMP_UNORD_Q, _mm256_castpd_ps,
    _mm256_storeu_ps, _mm512_add_epi32, _mm512_add_pd, _mm512_add_ps, _mm512_and_epi32,
    _mm512_castpd_ps, _mm512_castps_pd, _mm512_castps_si512, _mm512_castps512_ps256,
    _mm512_castsi512_ps, _mm512_cmp_ps_mask, _mm512_cvtps_pd, _mm512_div_ps,
    _mm512_extractf64x4_pd, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_blend_ps,
    _mm512_mask_cmp_ps_mask, _mm512_mask_mov_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    _mm512_maskz_mov_ps, _mm512_max_ps, _mm512_min_ps, _mm512_mul_ps, _mm512_or_epi32,
    _mm512_permutex2var_ps, _mm512_reduce_add_pd, _mm512_reduce_max_ps, _mm512_set1_epi32,
    _mm512_set1_ps, _mm512_setr_epi32, _mm512_setzero_pd, _mm512_setzero_ps, _mm512_shuffle_f32x4,
    _mm512_slli_epi32, _mm512_storeu_ps, _mm512_sub_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps,
    _mm512_unpacklo_pd, _mm512_unpacklo_ps, _mm512_xor_epi32,
};
use core::borrow::Borrow;

/// A vector of `f32`s.
type V = __m512;
/// `f32` lanes in a [`V`].
const L: usize = 16;
/// Output vectors per panel of `matvec`: 128 outputs.
const MATVEC_PANEL: usize = 8;
/// Registers for `matvec`'s partial sums, half of the 32.
const MATVEC_ACCUMULATORS: usize = 16;
/// `matvec`'s lanes, panel and partial sums, for the test of its order of summation.
#[cfg(test)]
pub(super) const MATVEC_SHAPE: (usize, usize, usize) = (L, MATVEC_PANEL, MATVEC_ACCUMULATORS);
/// Half the output vectors of `gates`' widest panel (16 vectors, 256 outputs, one partial sum
/// each; 8 vectors with two each): its accumulators fill half of the 32 registers.
pub(crate) const GATES_PANEL: usize = 8;
/// Output vectors per tile of `matmul`: 64 outputs.
const MATMUL_PANEL: usize = 4;
/// Samples per tile of `matmul`: 24 accumulators, 4 weight vectors and a broadcast input fit
/// the 32 registers, and each weight vector loaded serves 6 samples (`mnist_b256` in
/// bench/benches/forward.rs).
const MATMUL_SAMPLES: usize = 6;
/// Columns per block of `matmul`: the block's part of a panel of weights fills at most 16 KiB.
const MATMUL_BLOCK: usize = 64;
/// Vectors of a gradient column per tile of `accumulate`.
const ACCUMULATE_PANEL: usize = 4;
/// Gradient columns per tile of `accumulate`: 24 accumulators, 4 vectors of `d` and a broadcast
/// input fit the 32 registers, as in `matmul`.
const ACCUMULATE_COLUMNS: usize = 6;

/// `f(k, x[k] in every lane)` for each lane `k`, in order: broadcasts from memory. (Shuffles,
/// as in AVX2's `splat_each`, are unmeasured at this level.)
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn splat_each(x: &[f32; L], mut f: impl FnMut(usize, V)) {
    // Written out, so that each call's `k` is a constant whether or not LLVM unrolls a loop.
    let [
        x0,
        x1,
        x2,
        x3,
        x4,
        x5,
        x6,
        x7,
        x8,
        x9,
        x10,
        x11,
        x12,
        x13,
        x14,
        x15,
    ] = *x;
    f(0, splat(x0));
    f(1, splat(x1));
    f(2, splat(x2));
    f(3, splat(x3));
    f(4, splat(x4));
    f(5, splat(x5));
    f(6, splat(x6));
    f(7, splat(x7));
    f(8, splat(x8));
    f(9, splat(x9));
    f(10, splat(x10));
    f(11, splat(x11));
    f(12, splat(x12));
    f(13, splat(x13));
    f(14, splat(x14));
    f(15, splat(x15));
}

#[target_feature(enable = "avx512f")]
#[inline]
fn zero() -> V {
    _mm512_setzero_ps()
}

#[target_feature(enable = "avx512f")]
#[inline]
fn splat(v: f32) -> V {
    _mm512_set1_ps(v)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn add(a: V, b: V) -> V {
    _mm512_add_ps(a, b)
}

/// `a * b + c`, rounded once.
#[target_feature(enable = "avx512f")]
#[inline]
fn fmadd(a: V, b: V, c: V) -> V {
    _mm512_fmadd_ps(a, b, c)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn sub(a: V, b: V) -> V {
    _mm512_sub_ps(a, b)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn mul(a: V, b: V) -> V {
    _mm512_mul_ps(a, b)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn div(a: V, b: V) -> V {
    _mm512_div_ps(a, b)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn min(a: V, b: V) -> V {
    _mm512_min_ps(a, b)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn max(a: V, b: V) -> V {
    _mm512_max_ps(a, b)
}

/// The sign bit of every lane.
#[target_feature(enable = "avx512f")]
#[inline]
fn sign_bits() -> __m512i {
    _mm512_set1_epi32(i32::MIN)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn negate(a: V) -> V {
    _mm512_castsi512_ps(_mm512_xor_epi32(_mm512_castps_si512(a), sign_bits()))
}

#[target_feature(enable = "avx512f")]
#[inline]
fn abs(a: V) -> V {
    _mm512_castsi512_ps(_mm512_and_epi32(
        _mm512_castps_si512(a),
        _mm512_set1_epi32(i32::MAX),
    ))
}

/// `magnitude` (whose sign bit is clear) with the sign of `sign`.
#[target_feature(enable = "avx512f")]
#[inline]
fn with_sign(magnitude: V, sign: V) -> V {
    let sign = _mm512_and_epi32(_mm512_castps_si512(sign), sign_bits());
    _mm512_castsi512_ps(_mm512_or_epi32(_mm512_castps_si512(magnitude), sign))
}

/// `2^n` from `shifted = n + 1.5 * 2^23` (`-126 <= n <= 127`), whose low bits hold `n`.
#[target_feature(enable = "avx512f")]
#[inline]
fn power_of_two(shifted: V) -> V {
    let bias = 127 - crate::math::ROUNDER.to_bits().cast_signed();
    let n = _mm512_add_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(bias));
    _mm512_castsi512_ps(_mm512_slli_epi32::<23>(n))
}

#[target_feature(enable = "avx512f")]
#[inline]
fn load(v: &[f32; L]) -> V {
    // SAFETY: `v` is 16 readable `f32`s, and `loadu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_loadu_ps(v.as_ptr())
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
fn store(dst: &mut [f32; L], v: V) {
    // SAFETY: `dst` is 16 writable `f32`s, and `storeu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_storeu_ps(dst.as_mut_ptr(), v);
    }
}

/// The lanes below `len < 16`.
#[target_feature(enable = "avx512f")]
#[inline]
fn mask(len: usize) -> __mmask16 {
    debug_assert!(len < L);
    (1 << len) - 1
}

/// The first `v.len() < 16` lanes from `v`, zeros in the others.
#[target_feature(enable = "avx512f")]
#[inline]
fn load_tail(v: &[f32]) -> V {
    // SAFETY: the lanes from `v.len()` on are masked off, and a masked AVX-512 load neither reads
    // nor faults on masked-off lanes; the lanes below `v.len()` lie in `v`.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_maskz_loadu_ps(mask(v.len()), v.as_ptr())
    }
}

/// Writes the first `dst.len() < 16` lanes of `v` to `dst`, nothing beyond.
#[target_feature(enable = "avx512f")]
#[inline]
fn store_tail(dst: &mut [f32], v: V) {
    // SAFETY: the lanes from `dst.len()` on are masked off, and a masked AVX-512 store neither
    // writes nor faults on masked-off lanes; the lanes below `dst.len()` lie in `dst`.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_mask_storeu_ps(dst.as_mut_ptr(), mask(dst.len()), v);
    }
}

/// The 16 values from `p` on.
///
/// # Safety
///
/// `p` must be readable for 16 `f32`s (any alignment: `loadu`).
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(unsafe_code)]
unsafe fn load_ptr(p: *const f32) -> V {
    // SAFETY: the caller's contract.
    unsafe { _mm512_loadu_ps(p) }
}

/// Writes `v` to the 16 values from `p` on.
///
/// # Safety
///
/// `p` must be writable for 16 `f32`s (any alignment: `storeu`).
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(unsafe_code)]
unsafe fn store_ptr(p: *mut f32, v: V) {
    // SAFETY: the caller's contract.
    unsafe { _mm512_storeu_ps(p, v) }
}

/// Writes the first `len < 16` lanes of `v` to the values from `p` on, nothing beyond.
///
/// # Safety
///
/// `p` must be writable for `len` `f32`s (any alignment; the masked-off lanes are neither
/// written nor checked for faults).
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(unsafe_code)]
unsafe fn store_tail_ptr(p: *mut f32, v: V, len: usize) {
    // SAFETY: the caller's contract.
    unsafe { _mm512_mask_storeu_ps(p, mask(len), v) }
}

/// The lanes `lo..hi` (`lo <= hi <= 16`).
#[target_feature(enable = "avx512f")]
#[inline]
fn lanes(lo: usize, hi: usize) -> __mmask16 {
    debug_assert!(lo <= hi && hi <= L);
    #[allow(clippy::cast_possible_truncation)] // below 2^16
    let lanes = ((1_u32 << hi) - (1_u32 << lo)) as __mmask16;
    lanes
}

/// The lanes of `lanes` from the 16 values from `p` on, zeros in the others.
///
/// # Safety
///
/// The lanes of `lanes` must be readable from `p` on (`p` itself may point anywhere: a masked
/// AVX-512 load neither reads nor faults on masked-off lanes).
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(unsafe_code)]
unsafe fn load_lanes_ptr(p: *const f32, lanes: __mmask16) -> V {
    // SAFETY: the caller's contract.
    unsafe { _mm512_maskz_loadu_ps(lanes, p) }
}

/// The max-pool's choice lane by lane (`layers::pool`'s `select_max`): `value` where it is
/// greater than `max` or NaN, else `max`.
#[target_feature(enable = "avx512f")]
#[inline]
fn select_max(max: V, value: V) -> V {
    let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(value, max)
        | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(value, value);
    _mm512_mask_blend_ps(take, max, value)
}

/// The even and the odd values of `2 n <= 32` values from `from` on, as two vectors (lanes
/// from `n` on unspecified).
#[target_feature(enable = "avx512f")]
#[inline]
fn pairs(from: &[f32]) -> (V, V) {
    let rest = from.get(L..).unwrap_or(&[]);
    let (low, high) = match (from.first_chunk::<L>(), rest.first_chunk::<L>()) {
        (Some(low), Some(high)) => (load(low), load(high)),
        (Some(low), None) => (load(low), load_tail(rest)),
        (None, _) => (load_tail(from), zero()),
    };
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    (
        _mm512_permutex2var_ps(low, even, high),
        _mm512_permutex2var_ps(low, odd, high),
    )
}

/// See [`super::max_pool_2x2`].
#[target_feature(enable = "avx512f")]
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

column_kernels!("avx512f");
gate_kernels!("avx512f", f32, load, load_tail);
activation_kernels!("avx512f");
wide_kernels!("avx512f");

/// `W x + b` in `f64` (or any scalar): the portable kernel, vectorised by LLVM for these
/// features.
#[target_feature(enable = "avx512f")]
pub fn matvec_auto<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    portable::matvec(w, b, x)
}

/// `y[s] = W x[s] + b` in `f64` (or any scalar): the portable kernel, vectorised by LLVM for
/// these features.
#[target_feature(enable = "avx512f")]
pub fn matmul_auto<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[[T; IN]],
    y: &mut [[T; OUT]],
) {
    portable::matmul(w, b, x, y);
}

/// The portable gradient accumulation, vectorised by LLVM for these features (used for `f64`).
#[target_feature(enable = "avx512f")]
pub fn accumulate_auto<T: Scalar, const IN: usize, const OUT: usize, X: Borrow<[T; IN]>>(
    g: &mut [[T; OUT]; IN],
    x: &[X],
    d: &[[T; OUT]],
) {
    portable::accumulate(g, x, d);
}

/// Calls `f` compiled with AVX-512F, for [`super::with_widest`].
#[target_feature(enable = "avx512f")]
pub fn run<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Whether every lane of `v` selected by `lanes` lies within `±SOFTMAX_DIRECT` (NaN does not).
#[target_feature(enable = "avx512f")]
#[inline]
fn within_direct(v: V, lanes: __mmask16) -> bool {
    _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(lanes, abs(v), splat(SOFTMAX_DIRECT)) == lanes
}

/// `(sum of the selected lanes, in f64)`: exact sums of pairs, then the tree of `reduce`.
#[target_feature(enable = "avx512f")]
#[inline]
fn sum_f64(v: V) -> f64 {
    let low = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    let high = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
        _mm512_castps_pd(v),
    )));
    _mm512_reduce_add_pd(_mm512_add_pd(low, high))
}

/// Writes the first `x.len() <= 16` lanes of `v` to `x` (`f32` values, or the bits of `i32`
/// sums), nothing beyond: 8 values, then the rest in the pieces of [`super::pieces`] (which
/// the softmax of a short row reads), each one store.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn store_pieces<T: Lane>(x: &mut [T], v: V) {
    let len = x.len();
    debug_assert!(len <= L);
    if len < 8 {
        pieces::store_below_8(x, _mm512_castps512_ps256(v));
        return;
    }
    // SAFETY: `x` holds at least 8 values, 16 when `len == L`, of 4 bytes (`Lane`); `storeu`
    // accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        if len == L {
            _mm512_storeu_ps(x.as_mut_ptr().cast(), v);
            return;
        }
        _mm256_storeu_ps(x.as_mut_ptr().cast(), _mm512_castps512_ps256(v));
    }
    let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
    pieces::store_below_8(&mut x[8..], high);
}

/// `activation::softmax` of `f32`s with 16 lanes at a time, within 4 ulps: `e^x` by the
/// recurrent layers' polynomial ([`exp_within`]), the sum in `f64` (in `f32` up to 16 values, a
/// tree of depth 4). When every value lies within `±SOFTMAX_DIRECT` (and there are at most
/// `SOFTMAX_DIRECT_LEN`) it takes `e^x` without subtracting the maximum, so that the
/// exponentials do not wait for it; otherwise it shifts by the maximum, as the scalar softmax
/// does. Up to 16 values go to the 256-bit kernel
/// (`super::avx2::softmax`, the same steps and sum, so the same bits as [`softmax_rows`]): on
/// this short path, which is latency, its division and shuffles are shorter than 512-bit ones
/// (the `# mlp` line of bench/benches/rtneural.rs). Probabilities below `f32`'s smallest normal
/// number (`1.2e-38`) are 0 or subnormal; NaN or `+inf` among the values makes every output
/// NaN.
#[target_feature(enable = "avx512f")]
pub fn softmax(x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    if x.len() <= L {
        super::avx2::softmax(x);
        return;
    }
    let mut direct = x.len() <= SOFTMAX_DIRECT_LEN;
    let (vectors, tail) = x.as_chunks_mut::<L>();
    direct &= within_direct(load_tail(tail), mask(tail.len()));
    let mut maximum = splat(f32::NEG_INFINITY);
    for v in vectors.iter() {
        let v = load(v);
        direct &= within_direct(v, !0);
        maximum = max(maximum, v);
    }
    let shift = if direct {
        0.0
    } else {
        let mut largest = _mm512_reduce_max_ps(maximum);
        for &v in tail.iter() {
            largest = largest.max(v);
        }
        largest
    };
    let shift = splat(shift);
    let mut sums = _mm512_setzero_pd();
    for v in vectors.iter_mut() {
        let e = exp_softmax(sub(load(v), shift));
        store(v, e);
        sums = _mm512_add_pd(sums, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        sums = _mm512_add_pd(
            sums,
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(e),
            ))),
        );
    }
    let mut sum = _mm512_reduce_add_pd(sums);
    if !tail.is_empty() {
        let e = _mm512_maskz_mov_ps(mask(tail.len()), exp_softmax(sub(load_tail(tail), shift)));
        store_tail(tail, e);
        sum += sum_f64(e);
    }
    #[allow(clippy::cast_possible_truncation)] // rounding to the nearest `f32` is the point
    let inverse = splat((1.0 / sum) as f32);
    for v in vectors.iter_mut() {
        store(v, mul(load(v), inverse));
    }
    if !tail.is_empty() {
        store_tail(tail, mul(load_tail(tail), inverse));
    }
}

/// [`softmax`] of each row, with each row's bits those of [`softmax`] on it alone (NaN where it
/// gives NaN, whose payload may differ): rows of 2 to 16 values go 16 rows at a time, value `j`
/// of the 16 rows one vector (lanes are rows), so that the maximum and the sum are additions
/// of vectors (the sum in the tree of `_mm512_reduce_add_ps`: lanes `j` and `j + 8`, then
/// `j + 4`, `j + 2`, `j + 1`) and nothing waits for a horizontal reduction; the other rows one
/// by one.
#[target_feature(enable = "avx512f")]
pub fn softmax_rows<const N: usize>(rows: &mut [[f32; N]]) {
    let (blocks, rest) = if (2..=L).contains(&N) {
        rows.as_chunks_mut::<L>()
    } else {
        (&mut [][..], rows)
    };
    for block in blocks {
        softmax_block(block);
    }
    for row in rest {
        softmax(row);
    }
}

/// [`softmax_rows`] of 16 rows of `N` values (`2 <= N <= 16`): the rows transposed into
/// vectors of value `j` of every row, and the probabilities transposed back.
#[target_feature(enable = "avx512f")]
#[inline]
fn softmax_block<const N: usize>(rows: &mut [[f32; N]; L]) {
    let lanes = if N == L { !0 } else { mask(N) };
    let mut loaded = [splat(0.0); L];
    for (v, row) in loaded.iter_mut().zip(rows.iter()) {
        // SAFETY: the lanes from `N` on are masked off, and a masked AVX-512 load neither reads
        // nor faults on them.
        #[allow(unsafe_code)]
        let row = unsafe { _mm512_maskz_loadu_ps(lanes, row.as_ptr()) };
        *v = row;
    }
    // Value `j` of every row; the vectors past `N` are not values (their `e^x` is 0).
    let values = transpose(&loaded);
    let mut direct: __mmask16 = !0;
    let mut maximum = splat(f32::NEG_INFINITY);
    for v in &values[..N] {
        direct &= _mm512_cmp_ps_mask::<_CMP_LE_OQ>(abs(*v), splat(SOFTMAX_DIRECT));
        maximum = max(maximum, *v);
    }
    // Each row's shift: 0 where every value of the row is within reach, its maximum otherwise.
    let shift = _mm512_mask_mov_ps(maximum, direct, splat(0.0));
    let mut e = [splat(0.0); L];
    for (e, v) in e.iter_mut().zip(&values[..N]) {
        *e = exp_softmax(sub(*v, shift));
    }
    // The tree of `_mm512_reduce_add_ps`, lane by lane.
    let mut width = L / 2;
    let mut sums = e;
    while width > 0 {
        for j in 0..width {
            sums[j] = _mm512_add_ps(sums[j], sums[j + width]);
        }
        width /= 2;
    }
    for e in &mut e[..N] {
        *e = div(*e, sums[0]);
    }
    for (row, v) in rows.iter_mut().zip(transpose(&e)) {
        // SAFETY: as for the loads.
        #[allow(unsafe_code)]
        unsafe {
            _mm512_mask_storeu_ps(row.as_mut_ptr(), lanes, v);
        }
    }
}

/// The 16 by 16 transpose: lane `i` of vector `j` of the result is lane `j` of vector `i`.
/// Pairs of lanes, then quadruples (unpacking within 128-bit lanes), then 128-bit lanes
/// (`vshuff32x4`) twice.
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose(r: &[V; L]) -> [V; L] {
    let mut t = [splat(0.0); L];
    for i in 0..L / 2 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // `u[4 i + c]`, 128-bit lane `k`: lane `4 k + c` of vectors `4 i .. 4 i + 4`.
    let mut u = [splat(0.0); L];
    let (low, high) = (
        |a: V, b: V| _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))),
        |a: V, b: V| _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))),
    );
    for i in 0..L / 4 {
        u[4 * i] = low(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = high(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = low(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = high(t[4 * i + 1], t[4 * i + 3]);
    }
    let mut out = [splat(0.0); L];
    for c in 0..4 {
        // 128-bit lanes 0 and 2 (`EVEN`) or 1 and 3 (`ODD`) of each operand.
        const EVEN: i32 = 0b10_00_10_00;
        const ODD: i32 = 0b11_01_11_01;
        let first_even = _mm512_shuffle_f32x4::<EVEN>(u[c], u[4 + c]);
        let first_odd = _mm512_shuffle_f32x4::<ODD>(u[c], u[4 + c]);
        let second_even = _mm512_shuffle_f32x4::<EVEN>(u[8 + c], u[12 + c]);
        let second_odd = _mm512_shuffle_f32x4::<ODD>(u[8 + c], u[12 + c]);
        out[c] = _mm512_shuffle_f32x4::<EVEN>(first_even, second_even);
        out[8 + c] = _mm512_shuffle_f32x4::<ODD>(first_even, second_even);
        out[4 + c] = _mm512_shuffle_f32x4::<EVEN>(first_odd, second_odd);
        out[12 + c] = _mm512_shuffle_f32x4::<ODD>(first_odd, second_odd);
    }
    out
}
