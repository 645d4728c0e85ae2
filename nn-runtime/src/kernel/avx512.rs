//! `f32` kernels for AVX-512F: 16 lanes, 32 registers.
//!
//! Every function has `#[target_feature(enable = "avx512f")]`: calling one is sound only on a CPU
//! with AVX-512F, which [`super::Kernel`] checks through [`super::level`]. Inside, the
//! arithmetic intrinsics are safe; only loads and stores through pointers need `unsafe`, and
//! they are confined to [`load`], [`load_tail`] and [`store`].

// `w`, `b`, `x`, `y`: the notation of `y = w * x + b`.
#![allow(clippy::many_single_char_names)]

use super::portable;
use crate::Scalar;
use core::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
    _mm512_reduce_add_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_shuffle_ps,
    _mm512_storeu_ps, _mm512_unpackhi_ps, _mm512_unpacklo_ps,
};

/// `f32` lanes in a register.
const L: usize = 16;
/// Rows of `w` per tile of the batched kernel.
const TILE_ROWS: usize = 4;
/// Samples per tile of the batched kernel: `TILE_ROWS * TILE_SAMPLES` accumulators fill one and a
/// half [`sum_each`].
const TILE_SAMPLES: usize = 6;

#[target_feature(enable = "avx512f")]
#[inline]
fn load(v: &[f32; L]) -> __m512 {
    // SAFETY: `v` is 16 readable `f32`s, and `loadu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_loadu_ps(v.as_ptr())
    }
}

/// The first `v.len() < 16` lanes from `v`, zeros in the others.
#[target_feature(enable = "avx512f")]
#[inline]
fn load_tail(v: &[f32]) -> __m512 {
    debug_assert!(v.len() < L);
    let mask: __mmask16 = (1 << v.len()) - 1;
    // SAFETY: the lanes from `v.len()` on are masked off, and a masked AVX-512 load neither reads
    // nor faults on masked-off lanes; the lanes below `v.len()` lie in `v`.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_maskz_loadu_ps(mask, v.as_ptr())
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
fn store(dst: &mut [f32; L], v: __m512) {
    // SAFETY: `dst` is 16 writable `f32`s, and `storeu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_storeu_ps(dst.as_mut_ptr(), v);
    }
}

/// Lane `i` of the result is the sum of the 16 lanes of `v[i]`: a transpose-and-add tree of 45
/// instructions, three per vector instead of eight for one `reduce_add` each.
#[target_feature(enable = "avx512f")]
#[inline]
fn sum_each(v: &[__m512; L]) -> __m512 {
    // Pairs: within each 128-bit block, lanes (a, b, a, b) hold partial sums of v[2i], v[2i+1].
    let mut t = [_mm512_setzero_ps(); 8];
    for (i, t) in t.iter_mut().enumerate() {
        *t = _mm512_add_ps(
            _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
            _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]),
        );
    }
    // Quads: each 128-bit block holds one partial sum of v[4i], .., v[4i+3], in order.
    let mut u = [_mm512_setzero_ps(); 4];
    for (i, u) in u.iter_mut().enumerate() {
        *u = _mm512_add_ps(
            _mm512_shuffle_ps::<0x44>(t[2 * i], t[2 * i + 1]),
            _mm512_shuffle_ps::<0xEE>(t[2 * i], t[2 * i + 1]),
        );
    }
    // Fold the four 128-bit blocks of two quads into two each, then into one.
    fold(fold(u[0], u[1]), fold(u[2], u[3]))
}

/// Lane `i < 8` of the result is the sum of the 16 lanes of `v[i]` (lanes 8 to 15 repeat them):
/// [`sum_each`] for half as many vectors, in 24 instructions.
#[target_feature(enable = "avx512f")]
#[inline]
fn sum_each8(v: &[__m512; 8]) -> __m512 {
    let mut t = [_mm512_setzero_ps(); 4];
    for (i, t) in t.iter_mut().enumerate() {
        *t = _mm512_add_ps(
            _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
            _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]),
        );
    }
    let u0 = _mm512_add_ps(
        _mm512_shuffle_ps::<0x44>(t[0], t[1]),
        _mm512_shuffle_ps::<0xEE>(t[0], t[1]),
    );
    let u1 = _mm512_add_ps(
        _mm512_shuffle_ps::<0x44>(t[2], t[3]),
        _mm512_shuffle_ps::<0xEE>(t[2], t[3]),
    );
    let p = fold(u0, u1);
    fold(p, p)
}

/// Blocks (a0 + a1, a2 + a3, b0 + b1, b2 + b3) from the 128-bit blocks of `a` and `b`.
#[target_feature(enable = "avx512f")]
#[inline]
fn fold(a: __m512, b: __m512) -> __m512 {
    _mm512_add_ps(
        _mm512_shuffle_f32x4::<0x88>(a, b),
        _mm512_shuffle_f32x4::<0xDD>(a, b),
    )
}

/// `R` dot products of the rows with `x`, each left as 16 partial sums.
#[target_feature(enable = "avx512f")]
#[inline]
fn dots<const R: usize, const IN: usize>(rows: &[[f32; IN]; R], x: &[f32; IN]) -> [__m512; R] {
    let mut acc = [_mm512_setzero_ps(); R];
    let (chunks, tail) = x.as_chunks::<L>();
    for (c, x) in chunks.iter().enumerate() {
        let x = load(x);
        for (acc, row) in acc.iter_mut().zip(rows) {
            *acc = _mm512_fmadd_ps(load(&row.as_chunks::<L>().0[c]), x, *acc);
        }
    }
    if !tail.is_empty() {
        let x = load_tail(tail);
        for (acc, row) in acc.iter_mut().zip(rows) {
            *acc = _mm512_fmadd_ps(load_tail(row.as_chunks::<L>().1), x, *acc);
        }
    }
    acc
}

/// `w * x + b`: blocks of 16 rows, each reduced by one [`sum_each`].
#[target_feature(enable = "avx512f")]
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
        store(y, _mm512_add_ps(sums, load(y)));
    }
    let (quads, singles) = rest.as_chunks::<4>();
    let (y_quads, y_singles) = y_rest.as_chunks_mut::<4>();
    for (rows, y) in quads.iter().zip(y_quads) {
        let acc = dots(rows, x);
        for (y, acc) in y.iter_mut().zip(acc) {
            *y += _mm512_reduce_add_ps(acc);
        }
    }
    for (row, y) in singles.iter().zip(y_singles) {
        let [acc] = dots(core::array::from_ref(row), x);
        *y += _mm512_reduce_add_ps(acc);
    }
    y
}

/// `y[s] = w * x[s] + b`: tiles of 4 rows by 6 samples (24 accumulators of the 32 registers),
/// so that each weight loaded feeds 6 multiply-adds and each input 4. The tile's samples stay in
/// L1 while the rows stream from L2, one sixth as often as one sample at a time would need.
/// The last tile of each axis is moved back to end at the edge, recomputing a few values rather
/// than running a second, narrower kernel.
///
/// Measured on the 784 -> 128 layer against 4x4, 2x8, 8x2, 6x4, 3x8 and 8x3 tiles: 4x6 came
/// closest to the FMA peak.
#[target_feature(enable = "avx512f")]
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
        let ys = &mut y[s0..s0 + TILE_SAMPLES];
        if IN * TILE_SAMPLES * 4 <= ALIGNED_COPY_BYTES && !xs.as_ptr().addr().is_multiple_of(64) {
            sample_block_aligned(w, b, xs, ys);
        } else {
            sample_block(w, b, xs, ys);
        }
        s += TILE_SAMPLES;
    }
}

/// Input blocks up to this size are copied to a cache-line-aligned buffer when they are not
/// aligned: a vector load that straddles two lines costs two, and the block is read once per
/// tile of rows (about 160 against 143 GFLOP/s on the 784 -> 128 layer at batch 256).
const ALIGNED_COPY_BYTES: usize = 32 * 1024;

/// [`sample_block`] on an aligned copy of `xs`. A function of its own, so that its stack frame
/// exists only when it runs.
#[target_feature(enable = "avx512f")]
#[inline(never)]
fn sample_block_aligned<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    b: &[f32; OUT],
    xs: &[[f32; IN]; TILE_SAMPLES],
    ys: &mut [[f32; OUT]],
) {
    let copy = crate::batch::Aligned(*xs);
    sample_block(w, b, &copy.0, ys);
}

/// Every tile of rows against one block of samples, which stays in L1 while the rows stream.
#[target_feature(enable = "avx512f")]
#[inline]
fn sample_block<const IN: usize, const OUT: usize>(
    w: &[[f32; IN]; OUT],
    b: &[f32; OUT],
    xs: &[[f32; IN]; TILE_SAMPLES],
    ys: &mut [[f32; OUT]],
) {
    let mut o = 0;
    while o < OUT {
        let o0 = o.min(OUT - TILE_ROWS);
        let rows: &[[f32; IN]; TILE_ROWS] = w[o0..o0 + TILE_ROWS]
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        let [first, second] = tile(rows, xs);
        let mut sums = [[0.0; L]; 2];
        store(&mut sums[0], sum_each(&first));
        let (second, _) = second
            .split_first_chunk::<8>()
            .unwrap_or_else(|| unreachable!());
        store(&mut sums[1], sum_each8(second));
        let (sums, _) = sums.as_flattened().as_chunks::<TILE_ROWS>();
        let bias = &b[o0..o0 + TILE_ROWS];
        for (y, sums) in ys.iter_mut().zip(sums) {
            for ((y, b), sum) in y[o0..o0 + TILE_ROWS].iter_mut().zip(bias).zip(sums) {
                *y = b + sum;
            }
        }
        o += TILE_ROWS;
    }
}

/// The accumulators of one tile, sample-major: accumulator `k * 4 + r` (counting through both
/// arrays) is row `r` times sample `k`; the last 8 of the second array stay zero.
#[target_feature(enable = "avx512f")]
#[inline]
fn tile<const IN: usize>(
    rows: &[[f32; IN]; TILE_ROWS],
    xs: &[[f32; IN]; TILE_SAMPLES],
) -> [[__m512; L]; 2] {
    let mut acc = [[_mm512_setzero_ps(); L]; 2];
    for c in 0..IN / L {
        let mut x = [_mm512_setzero_ps(); TILE_SAMPLES];
        for (x, xs) in x.iter_mut().zip(xs) {
            *x = load(&xs.as_chunks::<L>().0[c]);
        }
        for (r, row) in rows.iter().enumerate() {
            let w = load(&row.as_chunks::<L>().0[c]);
            for (k, x) in x.iter().enumerate() {
                let i = k * TILE_ROWS + r;
                acc[i / L][i % L] = _mm512_fmadd_ps(w, *x, acc[i / L][i % L]);
            }
        }
    }
    if !IN.is_multiple_of(L) {
        let mut x = [_mm512_setzero_ps(); TILE_SAMPLES];
        for (x, xs) in x.iter_mut().zip(xs) {
            *x = load_tail(xs.as_chunks::<L>().1);
        }
        for (r, row) in rows.iter().enumerate() {
            let w = load_tail(row.as_chunks::<L>().1);
            for (k, x) in x.iter().enumerate() {
                let i = k * TILE_ROWS + r;
                acc[i / L][i % L] = _mm512_fmadd_ps(w, *x, acc[i / L][i % L]);
            }
        }
    }
    acc
}

/// The portable kernel, vectorised by LLVM for AVX-512 (used for `f64`).
#[target_feature(enable = "avx512f")]
pub fn matvec_auto<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    portable::matvec(w, b, x)
}

/// The portable batched kernel, vectorised by LLVM for AVX-512 (used for `f64`).
#[target_feature(enable = "avx512f")]
pub fn matmul_auto<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[[T; IN]],
    y: &mut [[T; OUT]],
) {
    portable::matmul(w, b, x, y);
}
