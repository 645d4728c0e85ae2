//! `f32` kernels for AVX-512F: 16 lanes, 32 registers.
//!
//! Every function has `#[target_feature(enable = "avx512f")]`: calling one is sound only on a CPU
//! with AVX-512F, which [`super::Kernel`] checks through [`super::level`]. Inside, the
//! arithmetic intrinsics are safe; only loads and stores through pointers need `unsafe`, and
//! they are confined to [`load`], [`store`], [`load_tail`] and [`store_tail`],
//! and to [`load_ptr`] and [`store_ptr`] for the convolution kernel (`super::wide`), which
//! checks its bounds once per call.

// `w`, `b`, `x`, `y`: the notation of `y = W x + b`.
#![allow(clippy::many_single_char_names)]

use super::activations::activation_kernels;
use super::columns::column_kernels;
use super::gates::gate_kernels;
use super::portable::{self, BLOCK};
use super::wide::wide_kernels;
use crate::Scalar;
use crate::batch::Aligned;
use core::arch::x86_64::{
    __m512, __m512i, __mmask16, _mm512_add_epi32, _mm512_add_ps, _mm512_and_epi32,
    _mm512_castps_si512, _mm512_castsi512_ps, _mm512_div_ps, _mm512_fmadd_ps, _mm512_loadu_ps,
    _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_max_ps, _mm512_min_ps, _mm512_mul_ps,
    _mm512_or_epi32, _mm512_set1_epi32, _mm512_set1_ps, _mm512_setzero_ps, _mm512_slli_epi32,
    _mm512_storeu_ps, _mm512_sub_ps, _mm512_xor_epi32,
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
/// Half the output vectors of `gates`' widest panel (16 vectors, 256 outputs, one partial sum
/// each; 8 vectors with two each): its accumulators fill half of the 32 registers.
const GATES_PANEL: usize = 8;
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

column_kernels!("avx512f");
gate_kernels!("avx512f");
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
