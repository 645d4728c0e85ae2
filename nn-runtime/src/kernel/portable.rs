//! Kernels in plain Rust: every target, every scalar type.
//!
//! They are `#[inline(always)]` so that the x86_64 modules can instantiate them inside
//! `#[target_feature]` functions, where LLVM vectorises them for the wider registers (this is how
//! `f64` layers use AVX2 and AVX-512).

// `w`, `b`, `x`, `y`: the notation of `y = w * x + b`.
#![allow(clippy::many_single_char_names)]
// `#[inline(always)]` is the point: the x86_64 modules instantiate these kernels inside
// `#[target_feature]` functions, and only inlining compiles them with those features.
#![allow(clippy::inline_always)]

use crate::Scalar;
use core::borrow::Borrow;

/// Independent partial sums per dot product: enough for LLVM to keep a full AVX-512 register
/// of `f32` (or two of `f64`) busy.
const LANES: usize = 16;

/// `sum_i a[i] * b[i]`: in blocks of [`BLOCK`] pairs, each summed in 16 independent partial
/// sums added pairwise, the block sums then added in order.
///
/// The pairs beyond the shorter slice are ignored.
#[inline(always)]
pub fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    // `-0.0 + v == v`, so a single block costs no extra addition.
    let mut total = -T::ZERO;
    for (a, b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        total += dot_block(a, b);
    }
    total
}

/// [`dot`] of at most [`BLOCK`] pairs.
#[inline(always)]
fn dot_block<T: Scalar>(a: &[T], b: &[T]) -> T {
    // Cut both to the shorter length, so that the tails below pair the same indices.
    let length = a.len().min(b.len());
    let (a, b) = (&a[..length], &b[..length]);
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    // `-0.0 + v == v` for every `v`, so LLVM drops the additions of lanes a short dot product
    // never touches (it may not drop `0.0 + v`, which turns `-0.0` into `0.0`).
    let mut partial = [-T::ZERO; LANES];
    for (a, b) in a_chunks.iter().zip(b_chunks) {
        for lane in 0..LANES {
            partial[lane] += a[lane] * b[lane];
        }
    }
    for (lane, (a, b)) in a_rest.iter().zip(b_rest).enumerate() {
        partial[lane] += *a * *b;
    }
    // Pairwise reduction: the same order on every call, and shallow.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for lane in 0..width {
            partial[lane] += partial[lane + width];
        }
    }
    partial[0]
}

/// Columns per block: every kernel sums a block's products from zero, then adds the block's sum
/// to the output. Each output is then a sum of at most `BLOCK` products plus `IN / BLOCK` block
/// sums, rather than one chain of `IN` roundings: a plain running sum over the 784 inputs of
/// MNIST's first layer missed an `f64` reference by more than 1e-5.
pub const BLOCK: usize = 128;

/// Outputs per panel of the portable [`matvec`]: its partial sums live on the stack.
const PANEL: usize = 64;

/// `W x + b` from the columns of `W` (`w[i]` is column `i`): the outputs plus `x[i]` times
/// column `i`, for every `i`, a panel of outputs and a [`BLOCK`] of columns at a time. The lanes
/// of a panel are independent, so LLVM vectorises the inner loop without reordering any sum.
#[inline(always)]
pub fn matvec<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    let mut y = *b;
    if OUT == 1 {
        // One value per column: the weights are a single row.
        y[0] += dot(w.as_flattened(), x);
        return y;
    }
    let mut o0 = 0;
    while o0 < OUT {
        let width = PANEL.min(OUT - o0);
        // A narrow panel has few independent lanes: spread its columns over several partial
        // sums, so that enough chains of additions run side by side.
        if width < 16 {
            panel::<T, IN, OUT, 4>(w, x, o0, &mut y[o0..o0 + width]);
        } else {
            panel::<T, IN, OUT, 1>(w, x, o0, &mut y[o0..o0 + width]);
        }
        o0 += width;
    }
    y
}

/// Adds `W x` to the outputs `y` (at most [`PANEL`]) that start at `o0`: within each block,
/// column `i` goes to partial sum `i % S`; the `S` partials (a power of two) are added pairwise
/// into the block's sum.
#[inline(always)]
fn panel<T: Scalar, const IN: usize, const OUT: usize, const S: usize>(
    w: &[[T; OUT]; IN],
    x: &[T; IN],
    o0: usize,
    y: &mut [T],
) {
    let width = y.len();
    for (columns, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
        // `-0.0 + v == v`: partials that no column reaches cost nothing.
        let mut partials = [[-T::ZERO; PANEL]; S];
        for (columns, xs) in columns.chunks(S).zip(x.chunks(S)) {
            for ((partial, column), &x) in partials.iter_mut().zip(columns).zip(xs) {
                for (p, &w) in partial[..width].iter_mut().zip(&column[o0..o0 + width]) {
                    *p += x * w;
                }
            }
        }
        let mut half = S;
        while half > 1 {
            half /= 2;
            let (low, high) = partials.split_at_mut(half);
            for (low, high) in low.iter_mut().zip(high.iter()) {
                for (l, &h) in low[..width].iter_mut().zip(&high[..width]) {
                    *l += h;
                }
            }
        }
        for (y, &p) in y.iter_mut().zip(&partials[0][..width]) {
            *y += p;
        }
    }
}

/// `y = W x + b` for a recurrent layer's `G` gates of `H` values, `W` by column (`w[i]` is column
/// `i`): the biases plus `x[i]` times column `i`, in order, a [`BLOCK`] of columns summed from
/// `-0.0` before joining the outputs.
#[inline(always)]
pub fn gates<T: Scalar, const IN: usize, const G: usize, const H: usize>(
    w: &[[[T; H]; G]; IN],
    b: &[[T; H]; G],
    x: &[T; IN],
    y: &mut [[T; H]; G],
) {
    if IN == 0 {
        *y = *b;
    }
    for (block, (columns, xs)) in w.chunks(BLOCK).zip(x.chunks(BLOCK)).enumerate() {
        // `-0.0 + v == v`: the first column's products enter exactly.
        let mut sum = [[-T::ZERO; H]; G];
        for (column, &x) in columns.iter().zip(xs) {
            for (s, &w) in sum.as_flattened_mut().iter_mut().zip(column.as_flattened()) {
                *s += x * w;
            }
        }
        // The first block's sums join the biases as `y` is written, rather than `y` being a
        // copy of the biases first (a call to `memcpy` for the 512 bytes of an LSTM(32)'s).
        let (ys, sums) = (y.as_flattened_mut(), sum.as_flattened());
        if block == 0 {
            for ((y, &b), &s) in ys.iter_mut().zip(b.as_flattened()).zip(sums) {
                *y = b + s;
            }
        } else {
            for (y, &s) in ys.iter_mut().zip(sums) {
                *y += s;
            }
        }
    }
}

/// `y[s] = W x[s] + b` for every pair of rows: [`matvec`] on each, so a row gives the same
/// bits alone or among others.
#[inline(always)]
pub fn matmul<T: Scalar, const IN: usize, const OUT: usize, X: Borrow<[T; IN]>>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[X],
    y: &mut [[T; OUT]],
) {
    for (x, y) in x.iter().zip(y) {
        *y = matvec(w, b, x.borrow());
    }
}

/// `g[i] += x[s][i] * d[s]` for every pair of rows, sample after sample, skipping the terms whose
/// input is zero (a ReLU that switched off adds nothing).
#[inline(always)]
pub fn accumulate<T: Scalar, const IN: usize, const OUT: usize, X: Borrow<[T; IN]>>(
    g: &mut [[T; OUT]; IN],
    x: &[X],
    d: &[[T; OUT]],
) {
    for (i, column) in g.iter_mut().enumerate() {
        for (x, d) in x.iter().zip(d) {
            let x = x.borrow()[i];
            if x == T::ZERO {
                continue;
            }
            for (g, &d) in column.iter_mut().zip(d) {
                *g += x * d;
            }
        }
    }
}
