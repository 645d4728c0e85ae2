//! The kernels of [`HalfDense`](super::HalfDense): [`Dense`](crate::Dense)'s `f32` kernels
//! (`kernel/portable.rs`, `kernel/columns.rs`) with each weight, or vector of weights, widened
//! from half precision as it is loaded.
//!
//! The exactness contract (a `HalfDense` gives the bits of the `f32` layer holding its widened
//! weights) rests on these functions doing, at each level, the same operations in the same
//! order as the `f32` ones: the same panels of outputs and partial sums (streams) per panel,
//! the same blocks of columns, the same starting zeros, the same fused multiply-adds. The
//! shapes below are copies of those of `kernel/avx512.rs` and `kernel/avx2.rs`; the tests in
//! `tests/it/half.rs` compare the two layers at every level and fail if either side changes
//! alone. Only the loads differ:
//!
//! - bfloat16: with AVX-512F, 32 values in one load, the even-numbered shifted into the upper
//!   half of their 32-bit lane (`vpslld`) and the odd-numbered masked in place (`vpandd`), their
//!   sums put back in order once per panel (`vpermt2ps`); single vectors zero-extended then
//!   shifted (`vpmovzxwd`, `vpslld`). With AVX2, one byte shuffle (`vpshufb`) of the 8 values
//!   loaded into both halves of a vector. All exact.
//! - binary16: `vcvtph2ps` (AVX-512F, or F16C beside AVX2), exact.
//! - the last `OUT % L` outputs of each column, which fill no vector: 16-bit elements have no
//!   masked load in AVX-512F or AVX2, so the vector is read straight from the weights when
//!   `L` of them remain from the tail's start (its lanes beyond the tail then hold the next
//!   column's first weights, and AVX-512 zeroes them in the conversion), else from a copy padded
//!   with zeros (the last columns). Those lanes are never stored into the outputs.

// `w`, `b`, `x`, `y`: the notation of `y = W x + b`.
#![allow(clippy::many_single_char_names)]

use super::{Bf16, F16};
use crate::batch::Aligned;
use crate::kernel::Level;
use core::borrow::Borrow;

/// Whether this CPU has F16C, which the AVX2 kernels of [`F16`] need (`vcvtph2ps`): detected
/// with `std` (the standard library caches it), else what the build enables.
#[inline]
pub(super) fn has_f16c() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        cfg!(all(target_arch = "x86_64", target_feature = "f16c"))
    }
}

/// [`Bf16`]'s `y = W x + b` at `level`, which the caller has checked is supported.
#[inline]
pub(super) fn matvec_bf16<const IN: usize, const OUT: usize>(
    level: Level,
    w: &[[Bf16; OUT]; IN],
    b: &[f32; OUT],
    x: &[f32; IN],
) -> [f32; OUT] {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
        #[allow(unsafe_code)]
        Level::Avx512 => unsafe { avx512::bf16::matvec(w, b, x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
        #[allow(unsafe_code)]
        Level::Avx2 => unsafe { avx2::bf16::matvec(w, b, x) },
        _ => portable::matvec(w, b, x),
    }
}

/// [`Bf16`]'s `y[s] = W x[s] + b` at `level`, which the caller has checked is supported.
#[inline]
pub(super) fn matmul_bf16<const IN: usize, const OUT: usize>(
    level: Level,
    w: &[[Bf16; OUT]; IN],
    b: &[f32; OUT],
    x: &[[f32; IN]],
    y: &mut [[f32; OUT]],
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
        #[allow(unsafe_code)]
        Level::Avx512 => unsafe { avx512::bf16::matmul(w, b, x, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
        #[allow(unsafe_code)]
        Level::Avx2 => unsafe { avx2::bf16::matmul(w, b, x, y) },
        _ => portable::matmul(w, b, x, y),
    }
}

/// [`F16`]'s `y = W x + b` at `level`, which the caller has checked is supported; the portable
/// kernel at [`Level::Avx2`] on a CPU without F16C.
#[inline]
pub(super) fn matvec_f16<const IN: usize, const OUT: usize>(
    level: Level,
    w: &[[F16; OUT]; IN],
    b: &[f32; OUT],
    x: &[f32; IN],
) -> [f32; OUT] {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`), which
        // has `vcvtph2ps` for 512 bits.
        #[allow(unsafe_code)]
        Level::Avx512 => unsafe { avx512::f16::matvec(w, b, x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`), and
        // `has_f16c` that it has F16C.
        #[allow(unsafe_code)]
        Level::Avx2 if has_f16c() => unsafe { avx2::f16::matvec(w, b, x) },
        _ => portable::matvec(w, b, x),
    }
}

/// [`F16`]'s `y[s] = W x[s] + b` at `level`, as [`matvec_f16`].
#[inline]
pub(super) fn matmul_f16<const IN: usize, const OUT: usize>(
    level: Level,
    w: &[[F16; OUT]; IN],
    b: &[f32; OUT],
    x: &[[f32; IN]],
    y: &mut [[f32; OUT]],
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
        #[allow(unsafe_code)]
        Level::Avx512 => unsafe { avx512::f16::matmul(w, b, x, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`), and
        // `has_f16c` that it has F16C.
        #[allow(unsafe_code)]
        Level::Avx2 if has_f16c() => unsafe { avx2::f16::matmul(w, b, x, y) },
        _ => portable::matmul(w, b, x, y),
    }
}

/// A recurrent layer's gates, `W x + b` for `G` gates of `H` values from the columns of `W`
/// (`w[i]` is column `i`), each weight widened, at `level`: `kernel::gates`' operations at that
/// level, in its order (the `f32` macro `gate_kernels!`, expanded here with the format's
/// widening loads). For `F16`, the portable kernel at [`Level::Avx2`] on a CPU without F16C.
macro_rules! gates_dispatch {
    ($name:ident, $streams:ident, $H:ty, $f16c:expr, $format:ident) => {
        #[inline(always)]
        pub(super) fn $name<const IN: usize, const G: usize, const H: usize>(
            level: Level,
            w: &[[[$H; H]; G]; IN],
            b: &[[f32; H]; G],
            x: &[f32; IN],
            y: &mut [[f32; H]; G],
        ) {
            match level {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`),
                // which has `vcvtph2ps` for 512 bits.
                #[allow(unsafe_code)]
                Level::Avx512 => unsafe { avx512::$format::gates(w, b, x, y, false) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`),
                // and for binary16 `has_f16c` that it has F16C.
                #[allow(unsafe_code)]
                Level::Avx2 if $f16c => unsafe { avx2::$format::gates(w, b, x, y, false) },
                _ => portable::gates(w, b, x, y),
            }
        }

        /// The gates of each stream, `ys[s] = W xs[s] + b`, at `level`: the bits of the
        /// single-stream kernel on each.
        #[inline(always)]
        pub(super) fn $streams<
            const IN: usize,
            const G: usize,
            const H: usize,
            X: Borrow<[f32; IN]>,
        >(
            level: Level,
            w: &[[[$H; H]; G]; IN],
            b: &[[f32; H]; G],
            xs: &[X],
            ys: &mut [Aligned<[[f32; H]; G]>],
        ) {
            match level {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above.
                #[allow(unsafe_code)]
                Level::Avx512 => unsafe { avx512::$format::gates_streams(w, b, xs, ys) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above.
                #[allow(unsafe_code)]
                Level::Avx2 if $f16c => unsafe { avx2::$format::gates_streams(w, b, xs, ys) },
                _ => {
                    for (x, y) in xs.iter().zip(ys) {
                        portable::gates(w, b, x.borrow(), &mut y.0);
                    }
                }
            }
        }
    };
}

gates_dispatch!(gates_bf16, gates_streams_bf16, Bf16, true, bf16);
gates_dispatch!(gates_f16, gates_streams_f16, F16, has_f16c(), f16);

/// `kernel/portable.rs`'s `matvec`, `matmul` and `dot` with each weight widened by
/// [`Half::to_f32`](super::Half::to_f32) as it is read: the same partial sums, panels and
/// blocks, the same `-0.0` starts.
pub(super) mod portable {
    // `#[inline(always)]` is the point, as in `kernel/portable.rs`: the x86_64 kernels call
    // `dot` inside `#[target_feature]` functions.
    #![allow(clippy::inline_always)]

    use super::super::Half;
    use crate::kernel::portable::BLOCK;

    /// Independent partial sums per dot product, as `kernel/portable.rs`'s `LANES`.
    const LANES: usize = 16;

    /// Outputs per panel of [`matvec`], as `kernel/portable.rs`'s `PANEL`.
    const PANEL: usize = 64;

    /// `sum_i a[i] * b[i]`, `a` widened: `kernel::portable::dot`'s blocks and partial sums.
    #[inline(always)]
    pub fn dot<H: Half>(a: &[H], b: &[f32]) -> f32 {
        let mut total = -0.0;
        for (a, b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
            total += dot_block(a, b);
        }
        total
    }

    /// [`dot`] of at most [`BLOCK`] pairs.
    #[inline(always)]
    fn dot_block<H: Half>(a: &[H], b: &[f32]) -> f32 {
        let length = a.len().min(b.len());
        let (a, b) = (&a[..length], &b[..length]);
        let (a_chunks, a_rest) = a.as_chunks::<LANES>();
        let (b_chunks, b_rest) = b.as_chunks::<LANES>();
        let mut partial = [-0.0f32; LANES];
        for (a, b) in a_chunks.iter().zip(b_chunks) {
            for lane in 0..LANES {
                partial[lane] += a[lane].to_f32() * b[lane];
            }
        }
        for (lane, (a, b)) in a_rest.iter().zip(b_rest).enumerate() {
            partial[lane] += a.to_f32() * *b;
        }
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            for lane in 0..width {
                partial[lane] += partial[lane + width];
            }
        }
        partial[0]
    }

    /// `W x + b` from the columns of `W`, each weight widened: `kernel::portable::matvec`.
    #[inline(always)]
    pub fn matvec<H: Half, const IN: usize, const OUT: usize>(
        w: &[[H; OUT]; IN],
        b: &[f32; OUT],
        x: &[f32; IN],
    ) -> [f32; OUT] {
        let mut y = *b;
        if OUT == 1 {
            y[0] += dot(w.as_flattened(), x);
            return y;
        }
        let mut o0 = 0;
        while o0 < OUT {
            let width = PANEL.min(OUT - o0);
            if width < 16 {
                panel::<H, IN, OUT, 4>(w, x, o0, &mut y[o0..o0 + width]);
            } else {
                panel::<H, IN, OUT, 1>(w, x, o0, &mut y[o0..o0 + width]);
            }
            o0 += width;
        }
        y
    }

    /// `kernel::portable`'s `panel`: within each block, column `i` goes to partial sum
    /// `i % S`, the partials added pairwise into the block's sum.
    #[inline(always)]
    fn panel<H: Half, const IN: usize, const OUT: usize, const S: usize>(
        w: &[[H; OUT]; IN],
        x: &[f32; IN],
        o0: usize,
        y: &mut [f32],
    ) {
        let width = y.len();
        for (columns, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
            let mut partials = [[-0.0f32; PANEL]; S];
            for (columns, xs) in columns.chunks(S).zip(x.chunks(S)) {
                for ((partial, column), &x) in partials.iter_mut().zip(columns).zip(xs) {
                    let column = &column[o0..o0 + width];
                    if H::WIDEN_FIRST {
                        // The same products and sums, the weights widened in a loop of their
                        // own first.
                        let mut wide = [0.0f32; PANEL];
                        for (v, w) in wide[..width].iter_mut().zip(column) {
                            *v = w.to_f32();
                        }
                        for (p, &w) in partial[..width].iter_mut().zip(&wide[..width]) {
                            *p += x * w;
                        }
                    } else {
                        for (p, w) in partial[..width].iter_mut().zip(column) {
                            *p += x * w.to_f32();
                        }
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

    /// `kernel::portable::gates` with each weight widened: `y` is the biases plus `x[i]` times
    /// column `i`, in order, a block of columns summed from `-0.0` before joining the outputs.
    #[inline(always)]
    pub fn gates<F: Half, const IN: usize, const G: usize, const H: usize>(
        w: &[[[F; H]; G]; IN],
        b: &[[f32; H]; G],
        x: &[f32; IN],
        y: &mut [[f32; H]; G],
    ) {
        if IN == 0 {
            *y = *b;
        }
        for (block, (columns, xs)) in w.chunks(BLOCK).zip(x.chunks(BLOCK)).enumerate() {
            let mut sum = [[-0.0f32; H]; G];
            for (column, &x) in columns.iter().zip(xs) {
                for (s, w) in sum.as_flattened_mut().iter_mut().zip(column.as_flattened()) {
                    *s += x * w.to_f32();
                }
            }
            // As `kernel::portable::gates`: the first block's sums join the biases.
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

    /// `y[s] = W x[s] + b` for every pair of rows: [`matvec`] on each.
    #[inline(always)]
    pub fn matmul<H: Half, const IN: usize, const OUT: usize>(
        w: &[[H; OUT]; IN],
        b: &[f32; OUT],
        x: &[[f32; IN]],
        y: &mut [[f32; OUT]],
    ) {
        for (x, y) in x.iter().zip(y) {
            *y = matvec(w, b, x);
        }
    }
}

/// Expands, inside a module of one level that provides `V`, `L`, the shapes of `matvec` and
/// `matmul` and the `f32` primitives of `kernel/columns.rs` (`zero`, `splat`, `add`, `fmadd`,
/// `load`, `store`, `load_tail`, `store_tail`, `sum_columns`), into `matvec` and `matmul` for
/// weights of type `$H`: `$widen` turns `&[$H; L]` into a vector, `$widen_tail(flat, start,
/// len)` the `len < L` weights from `flat[start]` on, `$widen_pair` two consecutive vectors of
/// weights into two vectors in an order of the level's choosing that `$unpair` puts back
/// (applied to the sums, once per panel; see `widen_pair_bf16`). `$feature` is the
/// `#[target_feature]` string, which for binary16 at AVX2 adds F16C.
#[cfg(target_arch = "x86_64")]
macro_rules! half_kernels {
    ($feature:literal, $H:ty, $widen:ident, $widen_tail:ident, $widen_pair:ident, $unpair:ident) => {
        /// `W x + b` from the columns of `W`: `kernel::columns`' `matvec`, its panels of
        /// output vectors each summed over `i` in [`streams`] interleaved partial sums.
        #[target_feature(enable = $feature)]
        pub fn matvec<const IN: usize, const OUT: usize>(
            w: &[[$H; OUT]; IN],
            b: &[f32; OUT],
            x: &[f32; IN],
        ) -> [f32; OUT] {
            let mut y = *b;
            if OUT == 1 {
                y[0] += portable::dot(w.as_flattened(), x);
                return y;
            }
            let vectors = OUT / L;
            let mut c = 0;
            while c + MATVEC_PANEL <= vectors {
                matvec_panel::<IN, OUT, MATVEC_PANEL, { streams(MATVEC_PANEL) }>(w, x, c, &mut y);
                c += MATVEC_PANEL;
            }
            match vectors - c {
                0 => {}
                1 => matvec_panel::<IN, OUT, 1, { streams(1) }>(w, x, c, &mut y),
                2 => matvec_panel::<IN, OUT, 2, { streams(2) }>(w, x, c, &mut y),
                3 => matvec_panel::<IN, OUT, 3, { streams(3) }>(w, x, c, &mut y),
                4 => matvec_panel::<IN, OUT, 4, { streams(4) }>(w, x, c, &mut y),
                5 => matvec_panel::<IN, OUT, 5, { streams(5) }>(w, x, c, &mut y),
                6 => matvec_panel::<IN, OUT, 6, { streams(6) }>(w, x, c, &mut y),
                _ => matvec_panel::<IN, OUT, 7, { streams(7) }>(w, x, c, &mut y),
            }
            if OUT % L != 0 {
                matvec_tail::<IN, OUT>(w, x, &mut y);
            }
            y
        }

        /// Adds `W x` to output vectors `c0 .. c0 + P` of `y`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn matvec_panel<const IN: usize, const OUT: usize, const P: usize, const S: usize>(
            w: &[[$H; OUT]; IN],
            x: &[f32; IN],
            c0: usize,
            y: &mut [f32; OUT],
        ) {
            let mut total = [zero(); P];
            for (w, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
                // Each input broadcast from memory, not through `sum_columns` (whose
                // `splat_each` shuffles at AVX2) as in the `f32` kernel and in `matvec_tail`:
                // the shuffles compete with the widening of the weights, and MNIST's bf16 twin at batch 1 measured slower with them (a
                // scratch harness of `forward` on the AVX2 Zen 4).
                let mut acc = [[zero(); P]; S];
                let (groups, rest) = w.as_chunks::<S>();
                let (x_groups, x_rest) = x.as_chunks::<S>();
                for (columns, xs) in groups.iter().zip(x_groups) {
                    for ((acc, column), &x) in acc.iter_mut().zip(columns).zip(xs) {
                        add_scaled(acc, column, c0, x);
                    }
                }
                for ((acc, column), &x) in acc.iter_mut().zip(rest).zip(x_rest) {
                    add_scaled(acc, column, c0, x);
                }
                for (total, sum) in total.iter_mut().zip(sum_streams(acc)) {
                    *total = add(*total, sum);
                }
            }
            for pair in total.as_chunks_mut::<2>().0 {
                *pair = $unpair(*pair);
            }
            let part = &mut y.as_chunks_mut::<L>().0[c0..c0 + P];
            for (y, total) in part.iter_mut().zip(total) {
                store(y, add(load(y), total));
            }
        }

        /// `acc[p] += x * column[c0 + p]` for the `P` vectors of a panel, widened two vectors
        /// at a time (each pair of `acc` in `$widen_pair`'s order).
        #[target_feature(enable = $feature)]
        #[inline]
        fn add_scaled<const OUT: usize, const P: usize>(
            acc: &mut [V; P],
            column: &[$H; OUT],
            c0: usize,
            x: f32,
        ) {
            let x = splat(x);
            let part = &column.as_chunks::<L>().0[c0..c0 + P];
            let (pairs, last) = part.as_chunks::<2>();
            let (acc_pairs, acc_last) = acc.as_chunks_mut::<2>();
            for (acc, w) in acc_pairs.iter_mut().zip(pairs) {
                let [first, second] = $widen_pair(w);
                acc[0] = fmadd(first, x, acc[0]);
                acc[1] = fmadd(second, x, acc[1]);
            }
            for (acc, w) in acc_last.iter_mut().zip(last) {
                *acc = fmadd($widen(w), x, *acc);
            }
        }

        /// Adds `W x` to the last `OUT % L` outputs, which do not fill a vector: column `i`
        /// of a block to stream `i % S`, as `kernel::columns`' `matvec_tail`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn matvec_tail<const IN: usize, const OUT: usize>(
            w: &[[$H; OUT]; IN],
            x: &[f32; IN],
            y: &mut [f32; OUT],
        ) {
            const S: usize = streams(1);
            let at = OUT - OUT % L;
            let flat = w.as_flattened();
            let mut total = zero();
            for (block, (w, x)) in w.chunks(BLOCK).zip(x.chunks(BLOCK)).enumerate() {
                // By index into the flattened weights, which the tail's loads may read past
                // the column (see the module's documentation).
                let [sum] = sum_columns::<_, 1, S>(w, x, |[acc], i, _, x| {
                    let column = block * BLOCK + i;
                    *acc = fmadd($widen_tail(flat, column * OUT + at, OUT % L), x, *acc);
                });
                total = add(total, sum);
            }
            let total = add(load_tail(&y[at..]), total);
            // In the pieces of `kernel::columns`' `matvec`, which a softmax reads them in.
            store_pieces(&mut y[at..], total);
        }

        /// Partial sums per output vector when a panel has `vectors` of them, as
        /// `kernel::columns`' `streams`.
        const fn streams(vectors: usize) -> usize {
            let mut s = 1;
            while 2 * s * vectors <= MATVEC_ACCUMULATORS {
                s *= 2;
            }
            s
        }

        /// The `S` partial sums of each vector added pairwise (`S` is a power of two).
        #[target_feature(enable = $feature)]
        #[inline]
        fn sum_streams<const P: usize, const S: usize>(mut acc: [[V; P]; S]) -> [V; P] {
            let mut width = S;
            while width > 1 {
                width /= 2;
                let (low, high) = acc.split_at_mut(width);
                for (low, high) in low.iter_mut().zip(high.iter()) {
                    for (l, h) in low.iter_mut().zip(high) {
                        *l = add(*l, *h);
                    }
                }
            }
            acc[0]
        }

        /// `y[s] = W x[s] + b` for every pair of rows: `kernel::columns`' `matmul`, [`matvec`]
        /// on each row when there are fewer rows than a tile holds, else register tiles of
        /// samples by output vectors, each block of a panel's weights widened once for all the
        /// tiles.
        #[target_feature(enable = $feature)]
        pub fn matmul<const IN: usize, const OUT: usize>(
            w: &[[$H; OUT]; IN],
            b: &[f32; OUT],
            x: &[[f32; IN]],
            y: &mut [[f32; OUT]],
        ) {
            let n = x.len().min(y.len());
            if n < MATMUL_SAMPLES || OUT == 1 {
                for (x, y) in x.iter().zip(y.iter_mut()) {
                    *y = matvec(w, b, x);
                }
                return;
            }
            let (x, y) = (&x[..n], &mut y[..n]);
            for y in y.iter_mut() {
                *y = *b;
            }
            let vectors = OUT / L;
            let mut c = 0;
            while c + MATMUL_PANEL <= vectors {
                matmul_panel::<IN, OUT, MATMUL_PANEL, MATMUL_SAMPLES>(w, x, y, c);
                c += MATMUL_PANEL;
            }
            match vectors - c {
                0 => {}
                1 => matmul_panel::<IN, OUT, 1, { 2 * MATMUL_SAMPLES }>(w, x, y, c),
                2 => matmul_panel::<IN, OUT, 2, MATMUL_SAMPLES>(w, x, y, c),
                _ => matmul_panel::<IN, OUT, 3, MATMUL_SAMPLES>(w, x, y, c),
            }
            if OUT % L != 0 {
                matmul_panel::<IN, OUT, 0, { 2 * MATMUL_SAMPLES }>(w, x, y, c);
            }
        }

        /// Adds `W x[s]` to output vectors `c0 .. c0 + P` of every sample, block of columns by
        /// block, in tiles of `M` samples, then of two, then one (`P = 0`: the last `OUT % L`
        /// outputs). Each block's weights are widened once, into a stack copy that every tile
        /// reads, rather than once a tile: the widening took a port from the multiply-adds
        /// (`half` at batch 256 in bench/benches/half.rs).
        #[target_feature(enable = $feature)]
        #[inline]
        fn matmul_panel<const IN: usize, const OUT: usize, const P: usize, const M: usize>(
            w: &[[$H; OUT]; IN],
            x: &[[f32; IN]],
            y: &mut [[f32; OUT]],
            c0: usize,
        ) {
            let (x_tiles, x_rest) = x.as_chunks::<M>();
            let (y_tiles, y_rest) = y.as_chunks_mut::<M>();
            let (x_pairs, x_last) = x_rest.as_chunks::<2>();
            let (y_pairs, y_last) = y_rest.as_chunks_mut::<2>();
            let mut widened = [[zero(); P]; MATMUL_BLOCK];
            let mut i0 = 0;
            while i0 < IN {
                let columns = MATMUL_BLOCK.min(IN - i0);
                if P > 0 {
                    for (wide, column) in widened.iter_mut().zip(&w[i0..i0 + columns]) {
                        let part = &column.as_chunks::<L>().0[c0..c0 + P];
                        for (wide, part) in wide.iter_mut().zip(part) {
                            *wide = $widen(part);
                        }
                    }
                }
                let block = &widened[..columns];
                for (xs, ys) in x_tiles.iter().zip(y_tiles.iter_mut()) {
                    matmul_tile::<IN, OUT, P, M>(w, block, i0, xs, ys, c0);
                }
                for (xs, ys) in x_pairs.iter().zip(y_pairs.iter_mut()) {
                    matmul_tile::<IN, OUT, P, 2>(w, block, i0, xs, ys, c0);
                }
                for (x, y) in x_last.iter().zip(y_last.iter_mut()) {
                    let (xs, ys) = (core::array::from_ref(x), core::array::from_mut(y));
                    matmul_tile::<IN, OUT, P, 1>(w, block, i0, xs, ys, c0);
                }
                i0 += columns;
            }
        }

        /// Adds the products of columns `i0 .. i0 + block.len()` to output vectors `c0 .. c0 +
        /// P` of `M` samples, summed from zero in registers, from `block`, those columns'
        /// vectors widened (`P = 0`: the last `OUT % L` outputs, widened from `w` here).
        #[target_feature(enable = $feature)]
        #[inline]
        fn matmul_tile<const IN: usize, const OUT: usize, const P: usize, const M: usize>(
            w: &[[$H; OUT]; IN],
            block: &[[V; P]],
            i0: usize,
            xs: &[[f32; IN]; M],
            ys: &mut [[f32; OUT]; M],
            c0: usize,
        ) {
            let columns = block.len();
            if P == 0 {
                let at = OUT - OUT % L;
                let flat = w.as_flattened();
                let mut acc = [zero(); M];
                for i in i0..i0 + columns {
                    let wv = $widen_tail(flat, i * OUT + at, OUT % L);
                    for (acc, x) in acc.iter_mut().zip(xs) {
                        *acc = fmadd(wv, splat(x[i]), *acc);
                    }
                }
                for (acc, y) in acc.iter().zip(ys.iter_mut()) {
                    let sum = add(load_tail(&y[at..]), *acc);
                    store_tail(&mut y[at..], sum);
                }
                return;
            }
            let mut acc = [[zero(); P]; M];
            // Two columns per iteration, as the `f32` kernel (whose loop this mirrors).
            let (pairs, last) = block.as_chunks::<2>();
            for (k, [first, second]) in pairs.iter().enumerate() {
                let i = i0 + 2 * k;
                tile_step::<IN, P, M>(&mut acc, first, xs, i);
                tile_step::<IN, P, M>(&mut acc, second, xs, i + 1);
            }
            if let [column] = last {
                tile_step::<IN, P, M>(&mut acc, column, xs, i0 + columns - 1);
            }
            for (acc, y) in acc.iter().zip(ys.iter_mut()) {
                let part = &mut y.as_chunks_mut::<L>().0[c0..c0 + P];
                for (acc, y) in acc.iter().zip(part) {
                    store(y, add(load(y), *acc));
                }
            }
        }

        /// `acc[s][p] += x[s][i] * column[p]` for the `M` samples and `P` vectors of a tile,
        /// from column `i`'s widened vectors.
        #[target_feature(enable = $feature)]
        #[inline]
        fn tile_step<const IN: usize, const P: usize, const M: usize>(
            acc: &mut [[V; P]; M],
            column: &[V; P],
            xs: &[[f32; IN]; M],
            i: usize,
        ) {
            for (acc, x) in acc.iter_mut().zip(xs) {
                let x = splat(x[i]);
                for (acc, wv) in acc.iter_mut().zip(column) {
                    *acc = fmadd(*wv, x, *acc);
                }
            }
        }
    };
}

/// Expands into `widen_pair` and `in_order` for a module of kernels whose pairs of vectors are
/// widened one vector at a time (`$widen`), in order: nothing to undo.
#[cfg(target_arch = "x86_64")]
macro_rules! in_order_pairs {
    ($feature:literal, $H:ty, $widen:ident) => {
        /// Two vectors of weights, each widened by itself.
        #[target_feature(enable = $feature)]
        #[inline]
        fn widen_pair([first, second]: &[[$H; L]; 2]) -> [V; 2] {
            [$widen(first), $widen(second)]
        }

        /// The sums of [`widen_pair`]'s vectors, already in order.
        #[target_feature(enable = $feature)]
        #[inline]
        fn in_order(sums: [V; 2]) -> [V; 2] {
            sums
        }
    };
}

/// Expands into `tail_halves` for a level's module (which provides `L`, `Halves` and
/// `load_halves`): the weights of a tail, `L` of them read straight from `flat` when that many
/// remain from `start`, else the `len` of the tail from a copy padded with zeros.
#[cfg(target_arch = "x86_64")]
macro_rules! tail_halves {
    ($feature:literal) => {
        /// The 16-bit weights `flat[start..start + len]` (`len < L`) in the low lanes of a
        /// vector of halves, see the module's documentation for the others.
        #[target_feature(enable = $feature)]
        #[inline]
        fn tail_halves<H: Half>(flat: &[H], start: usize, len: usize) -> Halves {
            match flat.get(start..).and_then(<[H]>::first_chunk::<L>) {
                Some(halves) => load_halves(halves),
                None => {
                    let mut padded = [H::ZERO; L];
                    padded[..len].copy_from_slice(&flat[start..start + len]);
                    load_halves(&padded)
                }
            }
        }
    };
}

/// AVX-512F: 16 lanes, 32 registers.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::super::{Bf16, F16, Half};
    use crate::batch::Aligned;
    use crate::kernel::avx512::{GATES_PANEL, store_pieces, sum_columns};
    use crate::kernel::gates::{gate_kernels, streams_panel};
    use crate::kernel::portable::BLOCK;
    use core::arch::x86_64::{
        __m256i, __m512, __mmask16, _mm256_loadu_si256, _mm512_add_ps, _mm512_and_si512,
        _mm512_castsi512_ps, _mm512_cvtepu16_epi32, _mm512_cvtph_ps, _mm512_fmadd_ps,
        _mm512_loadu_ps, _mm512_loadu_si512, _mm512_mask_storeu_ps, _mm512_maskz_cvtepu16_epi32,
        _mm512_maskz_cvtph_ps, _mm512_maskz_loadu_ps, _mm512_permutex2var_ps, _mm512_set1_epi32,
        _mm512_set1_ps, _mm512_setr_epi32, _mm512_setzero_ps, _mm512_slli_epi32, _mm512_storeu_ps,
    };
    use core::borrow::Borrow;

    /// A vector of `f32`s.
    type V = __m512;
    /// 16 halves, the weights of a [`V`].
    type Halves = __m256i;
    /// `f32` lanes in a [`V`].
    const L: usize = 16;
    // The shapes of `kernel/avx512.rs`, which the exactness contract needs unchanged.
    /// Output vectors per panel of `matvec`.
    const MATVEC_PANEL: usize = 8;
    /// Registers for `matvec`'s partial sums.
    const MATVEC_ACCUMULATORS: usize = 16;
    /// Output vectors per tile of `matmul`.
    const MATMUL_PANEL: usize = 4;
    /// Samples per tile of `matmul`.
    const MATMUL_SAMPLES: usize = 6;
    /// Columns per block of `matmul`.
    const MATMUL_BLOCK: usize = 64;

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
        // SAFETY: the lanes from `v.len()` on are masked off, and a masked AVX-512 load neither
        // reads nor faults on masked-off lanes; the lanes below `v.len()` lie in `v`.
        #[allow(unsafe_code)]
        unsafe {
            _mm512_maskz_loadu_ps(mask(v.len()), v.as_ptr())
        }
    }

    /// Writes the first `dst.len() < 16` lanes of `v` to `dst`, nothing beyond.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn store_tail(dst: &mut [f32], v: V) {
        // SAFETY: the lanes from `dst.len()` on are masked off, and a masked AVX-512 store
        // neither writes nor faults on masked-off lanes; the lanes below `dst.len()` lie in
        // `dst`.
        #[allow(unsafe_code)]
        unsafe {
            _mm512_mask_storeu_ps(dst.as_mut_ptr(), mask(dst.len()), v);
        }
    }

    /// 16 halves, as 16-bit integers.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn load_halves<H: Half>(w: &[H; L]) -> Halves {
        // SAFETY: `H` is `Bf16` or `F16` (`Half` is sealed), `repr(transparent)` over `u16`:
        // `w` is 32 readable bytes, and `loadu` accepts any alignment.
        #[allow(unsafe_code)]
        unsafe {
            _mm256_loadu_si256(w.as_ptr().cast())
        }
    }

    tail_halves!("avx512f");

    /// The `len < 16` bfloat16 weights of `w`, as `f32`s, zeros beyond: `gate_kernels!`'s
    /// tail load.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn widen_rest_bf16(w: &[Bf16]) -> V {
        widen_tail_bf16(w, 0, w.len())
    }

    /// The `len < 16` binary16 weights of `w`, as `f32`s, zeros beyond.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn widen_rest_f16(w: &[F16]) -> V {
        widen_tail_f16(w, 0, w.len())
    }

    /// 16 bfloat16 weights as `f32`s: each zero-extended to 32 bits and shifted into the upper
    /// half.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn widen_bf16(w: &[Bf16; L]) -> V {
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(load_halves(
            w,
        ))))
    }

    /// 32 bfloat16 weights (two vectors' worth) as `f32`s in two vectors, in one 512-bit load
    /// and one instruction each: the even-numbered weights shifted into the upper half of their
    /// lane, the odd-numbered masked in place. Half the instructions of [`widen_bf16`] twice,
    /// which at batch 1 is what limits the kernel (`half` in `bench/benches/half.rs`); the sums
    /// come out interleaved, which [`unpair_bf16`] undoes.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn widen_pair_bf16(w: &[[Bf16; L]; 2]) -> [V; 2] {
        // SAFETY: `Bf16` is `repr(transparent)` over `u16`: `w` is 64 readable bytes, and
        // `loadu` accepts any alignment.
        #[allow(unsafe_code)]
        let words = unsafe { _mm512_loadu_si512(w.as_ptr().cast()) };
        #[allow(clippy::cast_possible_wrap)] // the bit pattern of the upper halves
        let upper = _mm512_set1_epi32(0xFFFF_0000_u32 as i32);
        [
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(words)),
            _mm512_castsi512_ps(_mm512_and_si512(words, upper)),
        ]
    }

    /// The sums of [`widen_pair_bf16`]'s even- and odd-numbered weights back in order: lanes
    /// `0, 16, 1, 17, ...` of the pair, then `8, 24, ...`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn unpair_bf16([even, odd]: [V; 2]) -> [V; 2] {
        let low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        [
            _mm512_permutex2var_ps(even, low, odd),
            _mm512_permutex2var_ps(even, high, odd),
        ]
    }

    /// The `len < 16` bfloat16 weights from `flat[start]` on, as `f32`s, zeros beyond.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn widen_tail_bf16(flat: &[Bf16], start: usize, len: usize) -> V {
        let halves = tail_halves(flat, start, len);
        let words = _mm512_maskz_cvtepu16_epi32(mask(len), halves);
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(words))
    }

    /// 16 binary16 weights as `f32`s (`vcvtph2ps`, exact).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn widen_f16(w: &[F16; L]) -> V {
        _mm512_cvtph_ps(load_halves(w))
    }

    /// The `len < 16` binary16 weights from `flat[start]` on, as `f32`s, zeros beyond.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn widen_tail_f16(flat: &[F16], start: usize, len: usize) -> V {
        _mm512_maskz_cvtph_ps(mask(len), tail_halves(flat, start, len))
    }

    /// The bfloat16 kernels: the dense layer's, and the recurrent layers' gates.
    pub mod bf16 {
        #[allow(clippy::wildcard_imports)]
        use super::*;
        use crate::half::kernel::portable;

        half_kernels!(
            "avx512f",
            Bf16,
            widen_bf16,
            widen_tail_bf16,
            widen_pair_bf16,
            unpair_bf16
        );
        gate_kernels!("avx512f", Bf16, widen_bf16, widen_rest_bf16);
    }

    /// The binary16 kernels: the dense layer's, and the recurrent layers' gates.
    pub mod f16 {
        #[allow(clippy::wildcard_imports)]
        use super::*;
        use crate::half::kernel::portable;

        in_order_pairs!("avx512f", F16, widen_f16);
        half_kernels!(
            "avx512f",
            F16,
            widen_f16,
            widen_tail_f16,
            widen_pair,
            in_order
        );
        gate_kernels!("avx512f", F16, widen_f16, widen_rest_f16);
    }
}

/// AVX2 and FMA (and F16C for binary16): 8 lanes, 16 registers.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::{Bf16, F16, Half};
    use crate::batch::Aligned;
    use crate::kernel::avx2::{GATES_PANEL, store_pieces, sum_columns};
    use crate::kernel::gates::{gate_kernels, streams_panel};
    use crate::kernel::portable::BLOCK;
    use core::arch::x86_64::{
        __m128i, __m256, __m256i, _mm_loadu_si128, _mm256_add_ps, _mm256_and_si256,
        _mm256_broadcastsi128_si256, _mm256_castsi256_ps, _mm256_cmpgt_epi32, _mm256_cvtph_ps,
        _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_loadu_si256, _mm256_maskload_ps,
        _mm256_maskstore_ps, _mm256_permute2f128_ps, _mm256_set1_epi32, _mm256_set1_ps,
        _mm256_setr_epi8, _mm256_setr_epi32, _mm256_setzero_ps, _mm256_shuffle_epi8,
        _mm256_slli_epi32, _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };
    use core::borrow::Borrow;

    /// A vector of `f32`s.
    type V = __m256;
    /// 8 halves, the weights of a [`V`].
    type Halves = __m128i;
    /// `f32` lanes in a [`V`].
    const L: usize = 8;
    // The shapes of `kernel/avx2.rs`, which the exactness contract needs unchanged.
    /// Output vectors per panel of `matvec`.
    const MATVEC_PANEL: usize = 4;
    /// Registers for `matvec`'s partial sums.
    const MATVEC_ACCUMULATORS: usize = 8;
    /// Output vectors per tile of `matmul`.
    const MATMUL_PANEL: usize = 2;
    /// Samples per tile of `matmul`.
    const MATMUL_SAMPLES: usize = 6;
    /// Columns per block of `matmul`.
    const MATMUL_BLOCK: usize = 128;

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

    /// Writes the first `dst.len() < 8` lanes of `v` to `dst`, nothing beyond.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn store_tail(dst: &mut [f32], v: V) {
        // SAFETY: only the lanes below `dst.len()` are enabled in the mask, and they lie in
        // `dst`; `maskstore` neither writes nor faults on disabled lanes.
        #[allow(unsafe_code)]
        unsafe {
            _mm256_maskstore_ps(dst.as_mut_ptr(), mask(dst.len()), v);
        }
    }

    /// 8 halves, as 16-bit integers.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load_halves<H: Half>(w: &[H; L]) -> Halves {
        // SAFETY: `H` is `Bf16` or `F16` (`Half` is sealed), `repr(transparent)` over `u16`:
        // `w` is 16 readable bytes, and `loadu` accepts any alignment.
        #[allow(unsafe_code)]
        unsafe {
            _mm_loadu_si128(w.as_ptr().cast())
        }
    }

    tail_halves!("avx2,fma");

    /// The `len < 8` bfloat16 weights of `w`, as `f32`s in the low lanes: `gate_kernels!`'s
    /// tail load.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn widen_rest_bf16(w: &[Bf16]) -> V {
        widen_tail_bf16(w, 0, w.len())
    }

    /// The `len < 8` binary16 weights of `w`, as `f32`s in the low lanes.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn widen_rest_f16(w: &[F16]) -> V {
        widen_tail_f16(w, 0, w.len())
    }

    /// 8 bfloat16 values, in both halves of a vector, as `f32`s: each moved into the upper
    /// half of its lane by one byte shuffle, zeros below.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn bf16_lanes(halves: Halves) -> V {
        // Bytes `4k + 2` and `4k + 3` of each 128-bit half take value `k` of that half (values
        // 0-3, then 4-7); -1 (the high bit set) writes a zero.
        let spread = _mm256_setr_epi8(
            -1, -1, 0, 1, -1, -1, 2, 3, -1, -1, 4, 5, -1, -1, 6, 7, //
            -1, -1, 8, 9, -1, -1, 10, 11, -1, -1, 12, 13, -1, -1, 14, 15,
        );
        let both = _mm256_broadcastsi128_si256(halves);
        _mm256_castsi256_ps(_mm256_shuffle_epi8(both, spread))
    }

    /// 8 bfloat16 weights as `f32`s: a broadcast load (no arithmetic) and a byte shuffle, one
    /// instruction fewer than zero-extending then shifting.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn widen_bf16(w: &[Bf16; L]) -> V {
        bf16_lanes(load_halves(w))
    }

    /// 16 bfloat16 weights (two vectors' worth) as `f32`s in two vectors, from one 256-bit
    /// load and one instruction each: the even-numbered weights shifted into the upper half of
    /// their lane, the odd-numbered masked in place. At batch 1 the widening is what limits the
    /// kernel: MNIST in bfloat16 runs faster than with [`widen_bf16`]'s shuffle per vector
    /// (`half` in `bench/benches/half.rs`, an AVX2-only Zen 4; BENCHMARKS.md, "Smaller numbers:
    /// the kernels, LeNet in int8, bf16 and f16 weights"). The sums come out interleaved, which
    /// [`unpair_bf16`] undoes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn widen_pair_bf16(w: &[[Bf16; L]; 2]) -> [V; 2] {
        // SAFETY: `Bf16` is `repr(transparent)` over `u16`: `w` is 32 readable bytes, and
        // `loadu` accepts any alignment.
        #[allow(unsafe_code)]
        let words = unsafe { _mm256_loadu_si256(w.as_ptr().cast()) };
        #[allow(clippy::cast_possible_wrap)] // the bit pattern of the upper halves
        let upper = _mm256_set1_epi32(0xFFFF_0000_u32 as i32);
        [
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(words)),
            _mm256_castsi256_ps(_mm256_and_si256(words, upper)),
        ]
    }

    /// The sums of [`widen_pair_bf16`]'s even- and odd-numbered weights back in order: the
    /// lanes interleaved within each 128-bit half (outputs 0-3 and 8-11, then 4-7 and 12-15),
    /// then the halves regrouped.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn unpair_bf16([even, odd]: [V; 2]) -> [V; 2] {
        let low = _mm256_unpacklo_ps(even, odd);
        let high = _mm256_unpackhi_ps(even, odd);
        [
            _mm256_permute2f128_ps::<0x20>(low, high),
            _mm256_permute2f128_ps::<0x31>(low, high),
        ]
    }

    /// The `len < 8` bfloat16 weights from `flat[start]` on, as `f32`s in the low lanes (the
    /// others are never stored).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn widen_tail_bf16(flat: &[Bf16], start: usize, len: usize) -> V {
        bf16_lanes(tail_halves(flat, start, len))
    }

    /// 8 binary16 weights as `f32`s (`vcvtph2ps`, exact).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn widen_f16(w: &[F16; L]) -> V {
        _mm256_cvtph_ps(load_halves(w))
    }

    /// The `len < 8` binary16 weights from `flat[start]` on, as `f32`s in the low lanes (the
    /// others are never stored).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn widen_tail_f16(flat: &[F16], start: usize, len: usize) -> V {
        _mm256_cvtph_ps(tail_halves(flat, start, len))
    }

    /// The bfloat16 kernels: the dense layer's, and the recurrent layers' gates.
    pub mod bf16 {
        #[allow(clippy::wildcard_imports)]
        use super::*;
        use crate::half::kernel::portable;

        half_kernels!(
            "avx2,fma",
            Bf16,
            widen_bf16,
            widen_tail_bf16,
            widen_pair_bf16,
            unpair_bf16
        );
        gate_kernels!("avx2,fma", Bf16, widen_bf16, widen_rest_bf16);
    }

    /// The binary16 kernels: F16C besides AVX2 and FMA.
    pub mod f16 {
        #[allow(clippy::wildcard_imports)]
        use super::*;
        use crate::half::kernel::portable;

        in_order_pairs!("avx2,fma,f16c", F16, widen_f16);
        half_kernels!(
            "avx2,fma,f16c",
            F16,
            widen_f16,
            widen_tail_f16,
            widen_pair,
            in_order
        );
        gate_kernels!("avx2,fma,f16c", F16, widen_f16, widen_rest_f16);
    }
}
