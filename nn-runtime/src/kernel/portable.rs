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

/// Independent partial sums per dot product: enough for LLVM to keep a full AVX-512 register
/// of `f32` (or two of `f64`) busy.
const LANES: usize = 16;

/// `sum_i a[i] * b[i]`, with 16 independent partial sums added pairwise at the end.
///
/// The pairs beyond the shorter slice are ignored.
#[inline(always)]
pub fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
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

/// `W x + b` from the columns of `W` (`w[i]` is column `i`): the outputs plus `x[i]` times
/// column `i`, for every `i`. The lanes of the outputs are independent, so LLVM vectorises the
/// inner loop without reordering any sum.
#[inline(always)]
pub fn matvec<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    if OUT == 1 {
        // One column per input, one value each: the weights are a single row.
        let mut y = *b;
        y[0] += dot(w.as_flattened(), x);
        return y;
    }
    // Each output sums `IN` products in a chain; narrow layers spread the columns over several
    // partial outputs so that enough chains run side by side.
    if OUT < 16 {
        partial::<T, IN, OUT, 4>(w, b, x)
    } else if OUT < 32 {
        partial::<T, IN, OUT, 2>(w, b, x)
    } else {
        let mut y = *b;
        for (column, &x) in w.iter().zip(x) {
            for (y, &w) in y.iter_mut().zip(column) {
                *y += x * w;
            }
        }
        y
    }
}

/// [`matvec`] with column `i` added to partial output `i % P`; the `P` partials are added
/// pairwise at the end, then the bias.
#[inline(always)]
fn partial<T: Scalar, const IN: usize, const OUT: usize, const P: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    // `-0.0 + v == v`: partials that no column reaches cost nothing.
    let mut partials = [[-T::ZERO; OUT]; P];
    let (columns, rest) = w.as_chunks::<P>();
    let (xs, x_rest) = x.as_chunks::<P>();
    for (columns, xs) in columns.iter().zip(xs) {
        for ((partial, column), &x) in partials.iter_mut().zip(columns).zip(xs) {
            for (y, &w) in partial.iter_mut().zip(column) {
                *y += x * w;
            }
        }
    }
    for ((partial, column), &x) in partials.iter_mut().zip(rest).zip(x_rest) {
        for (y, &w) in partial.iter_mut().zip(column) {
            *y += x * w;
        }
    }
    let mut width = P;
    while width > 1 {
        width /= 2;
        for p in 0..width {
            let (low, high) = partials.split_at_mut(width);
            for (y, &v) in low[p].iter_mut().zip(&high[p]) {
                *y += v;
            }
        }
    }
    let mut y = *b;
    for (y, &v) in y.iter_mut().zip(&partials[0]) {
        *y += v;
    }
    y
}

/// `y[s] = W x[s] + b` for every pair of rows.
#[inline(always)]
pub fn matmul<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[[T; IN]],
    y: &mut [[T; OUT]],
) {
    for (x, y) in x.iter().zip(y) {
        *y = matvec(w, b, x);
    }
}
