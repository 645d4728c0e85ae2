//! `f32` kernels for AVX2 and FMA: 8 lanes, 16 registers.
//!
//! Every function has `#[target_feature(enable = "avx2,fma")]`: calling one is sound only on a
//! CPU with both, which [`super::Kernel`] checks through [`super::level`]. Inside, the arithmetic
//! intrinsics are safe; only loads and stores through pointers need `unsafe`, and they are
//! confined to [`load`], [`load_tail`] and [`store`].

// `w`, `b`, `x`, `y`: the notation of `y = w * x + b`.
#![allow(clippy::many_single_char_names)]

use super::portable;
use crate::Scalar;
use core::arch::x86_64::{
    __m256, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps, _mm256_add_ps,
    _mm256_castps256_ps128, _mm256_cmpgt_epi32, _mm256_extractf128_ps, _mm256_fmadd_ps,
    _mm256_loadu_ps, _mm256_maskload_ps, _mm256_permute2f128_ps, _mm256_set1_epi32,
    _mm256_setr_epi32, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_unpackhi_ps,
    _mm256_unpacklo_ps,
};

/// `f32` lanes in a register.
const L: usize = 8;
/// Rows of `w` per tile of the batched kernel.
const TILE_ROWS: usize = 2;
/// Samples per tile of the batched kernel; `TILE_ROWS * TILE_SAMPLES` accumulators make one
/// [`sum_each`].
const TILE_SAMPLES: usize = 4;

#[target_feature(enable = "avx2,fma")]
#[inline]
fn load(v: &[f32; L]) -> __m256 {
    // SAFETY: `v` is 8 readable `f32`s, and `loadu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_loadu_ps(v.as_ptr())
    }
}

/// The first `v.len() < 8` lanes from `v`, zeros in the others.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn load_tail(v: &[f32]) -> __m256 {
    debug_assert!(v.len() < L);
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // v.len() < 8
    let len = v.len() as i32;
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(len),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    // SAFETY: only the lanes below `v.len()` are enabled in `mask`, and they lie in `v`;
    // `maskload` neither reads nor faults on disabled lanes.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_maskload_ps(v.as_ptr(), mask)
    }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn store(dst: &mut [f32; L], v: __m256) {
    // SAFETY: `dst` is 8 writable `f32`s, and `storeu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm256_storeu_ps(dst.as_mut_ptr(), v);
    }
}

/// The sum of the 8 lanes of `v`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn sum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn pair(a: __m256, b: __m256) -> __m256 {
    _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b))
}

/// Lane `i` of the result is the sum of the 8 lanes of `v[i]`: a transpose-and-add tree.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn sum_each(v: &[__m256; L]) -> __m256 {
    // Within each 128-bit half, lanes (a, b, a, b) hold partial sums of v[2i], v[2i+1].
    let t = [
        pair(v[0], v[1]),
        pair(v[2], v[3]),
        pair(v[4], v[5]),
        pair(v[6], v[7]),
    ];
    // Each 128-bit half holds one partial sum of v[4i], .., v[4i+3], in order.
    let u0 = _mm256_add_ps(
        _mm256_shuffle_ps::<0x44>(t[0], t[1]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[1]),
    );
    let u1 = _mm256_add_ps(
        _mm256_shuffle_ps::<0x44>(t[2], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[2], t[3]),
    );
    _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(u0, u1),
        _mm256_permute2f128_ps::<0x31>(u0, u1),
    )
}

/// `R` dot products of the rows with `x`, each left as 8 partial sums.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn dots<const R: usize, const IN: usize>(rows: &[[f32; IN]; R], x: &[f32; IN]) -> [__m256; R] {
    let mut acc = [_mm256_setzero_ps(); R];
    let (chunks, tail) = x.as_chunks::<L>();
    for (c, x) in chunks.iter().enumerate() {
        let x = load(x);
        for (acc, row) in acc.iter_mut().zip(rows) {
            *acc = _mm256_fmadd_ps(load(&row.as_chunks::<L>().0[c]), x, *acc);
        }
    }
    if !tail.is_empty() {
        let x = load_tail(tail);
        for (acc, row) in acc.iter_mut().zip(rows) {
            *acc = _mm256_fmadd_ps(load_tail(row.as_chunks::<L>().1), x, *acc);
        }
    }
    acc
}

/// `w * x + b`: blocks of 8 rows, each reduced by one [`sum_each`].
#[target_feature(enable = "avx2,fma")]
pub fn matvec<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    b: &[f32; OUT],
    x: &[f32; IN],
) -> [f32; OUT] {
    let mut y = *b;
    let (blocks, rest) = w.as_chunks::<L>();
    let (y_blocks, y_rest) = y.as_chunks_mut::<L>();
    for (rows, y) in blocks.iter().zip(y_blocks) {
        let sums = sum_each(&dots(rows, x));
        store(y, _mm256_add_ps(sums, load(y)));
    }
    let (quads, singles) = rest.as_chunks::<4>();
    let (y_quads, y_singles) = y_rest.as_chunks_mut::<4>();
    for (rows, y) in quads.iter().zip(y_quads) {
        let acc = dots(rows, x);
        for (y, acc) in y.iter_mut().zip(acc) {
            *y += sum(acc);
        }
    }
    for (row, y) in singles.iter().zip(y_singles) {
        let [acc] = dots(core::array::from_ref(row), x);
        *y += sum(acc);
    }
    y
}

/// `y[s] = w * x[s] + b`: tiles of 2 rows by 4 samples (8 accumulators of the 16 registers).
/// The last tile of each axis is moved back to end at the edge, recomputing a few values.
#[target_feature(enable = "avx2,fma")]
pub fn matmul<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    b: &[f32; OUT],
    x: &[[f32; IN]],
    y: &mut [[f32; OUT]],
) {
    let n = x.len().min(y.len());
    if OUT < TILE_ROWS || n < TILE_SAMPLES {
        for (x, y) in x.iter().zip(y.iter_mut()) {
            *y = matvec(w, b, x);
        }
        return;
    }
    let mut s = 0;
    while s < n {
        let s0 = s.min(n - TILE_SAMPLES);
        let xs: &[[f32; IN]; TILE_SAMPLES] = x[s0..s0 + TILE_SAMPLES]
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        let mut o = 0;
        while o < OUT {
            let o0 = o.min(OUT - TILE_ROWS);
            let rows: &[[f32; IN]; TILE_ROWS] = w[o0..o0 + TILE_ROWS]
                .try_into()
                .unwrap_or_else(|_| unreachable!());
            let mut sums = [0.0; L];
            store(&mut sums, sum_each(&tile(rows, xs)));
            for (k, y) in y[s0..s0 + TILE_SAMPLES].iter_mut().enumerate() {
                for r in 0..TILE_ROWS {
                    y[o0 + r] = b[o0 + r] + sums[k * TILE_ROWS + r];
                }
            }
            o += TILE_ROWS;
        }
        s += TILE_SAMPLES;
    }
}

/// The 8 accumulators of one tile, sample-major: `acc[k * 2 + r]` is row `r` times sample `k`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn tile<const IN: usize>(
    rows: &[[f32; IN]; TILE_ROWS],
    xs: &[[f32; IN]; TILE_SAMPLES],
) -> [__m256; L] {
    let mut acc = [_mm256_setzero_ps(); L];
    for c in 0..IN / L {
        let mut x = [_mm256_setzero_ps(); TILE_SAMPLES];
        for (x, xs) in x.iter_mut().zip(xs) {
            *x = load(&xs.as_chunks::<L>().0[c]);
        }
        for (r, row) in rows.iter().enumerate() {
            let w = load(&row.as_chunks::<L>().0[c]);
            for (k, x) in x.iter().enumerate() {
                acc[k * TILE_ROWS + r] = _mm256_fmadd_ps(w, *x, acc[k * TILE_ROWS + r]);
            }
        }
    }
    if !IN.is_multiple_of(L) {
        let mut x = [_mm256_setzero_ps(); TILE_SAMPLES];
        for (x, xs) in x.iter_mut().zip(xs) {
            *x = load_tail(xs.as_chunks::<L>().1);
        }
        for (r, row) in rows.iter().enumerate() {
            let w = load_tail(row.as_chunks::<L>().1);
            for (k, x) in x.iter().enumerate() {
                acc[k * TILE_ROWS + r] = _mm256_fmadd_ps(w, *x, acc[k * TILE_ROWS + r]);
            }
        }
    }
    acc
}

/// The portable kernel, vectorised by LLVM for AVX2 (used for `f64`).
#[target_feature(enable = "avx2,fma")]
pub fn matvec_auto<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    portable::matvec(w, b, x)
}

/// The portable batched kernel, vectorised by LLVM for AVX2 (used for `f64`).
#[target_feature(enable = "avx2,fma")]
pub fn matmul_auto<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[[T; IN]],
    y: &mut [[T; OUT]],
) {
    portable::matmul(w, b, x, y);
}
