//! The `f32` kernel of the recurrent layers' gates, written once for any vector width.
//!
//! [`gate_kernels!`] expands, inside a module for one instruction set (which provides `V`, `L`,
//! `GATES_PANEL` and the primitives of `columns.rs`), into `gates`: `W x + b` for `G` gates of
//! `H` values, `W` by column (`w[i]` is column `i`, `[G][H]`), as the portable
//! [`gates`](super::portable::gates) but with fused multiply-adds. Its type names `G` and `H`
//! rather than `G * H`, which stable Rust cannot write in a generic type.

/// Expands into `gates` for the module's vector type; `$feature` is its `#[target_feature]`.
macro_rules! gate_kernels {
    ($feature:literal) => {
        /// `W x + b` for a recurrent layer's gates, from the columns of `W`: panels of up to
        /// `2 GATES_PANEL` output vectors, each the sum over the columns, in order, of their
        /// products, spread over [`gate_streams`] interleaved partial sums (column `i` to partial
        /// `i % S`), a block of [`BLOCK`] columns at a time; then the outputs that do not fill a
        /// vector. One pass over a panel's weights, front to back, so that wide layers stream
        /// them from the second-level cache. The order depends only on the shapes, so a stream
        /// gets the same bits however it is called.
        #[target_feature(enable = $feature)]
        #[inline]
        pub fn gates<const IN: usize, const G: usize, const H: usize>(
            w: &[[[f32; H]; G]; IN],
            b: &[[f32; H]; G],
            x: &[f32; IN],
        ) -> [[f32; H]; G] {
            const WIDEST: usize = 2 * GATES_PANEL;
            let mut y = *b;
            let (vectors, tail) = y.as_flattened_mut().as_chunks_mut::<L>();
            let mut c = 0;
            while c < vectors.len() {
                let part = &mut vectors[c..];
                // The widest panel that fits: a few shapes, each with its partial sums.
                c += match part.len() {
                    1 => gates_panel::<IN, G, H, 1, { gate_streams(1) }>(w, x, c, part),
                    2 => gates_panel::<IN, G, H, 2, { gate_streams(2) }>(w, x, c, part),
                    3 => gates_panel::<IN, G, H, 3, { gate_streams(3) }>(w, x, c, part),
                    4..6 => gates_panel::<IN, G, H, 4, { gate_streams(4) }>(w, x, c, part),
                    6..8 => gates_panel::<IN, G, H, 6, { gate_streams(6) }>(w, x, c, part),
                    n if n < GATES_PANEL + GATES_PANEL / 2 || GATES_PANEL == 4 => {
                        gates_panel::<IN, G, H, GATES_PANEL, { gate_streams(GATES_PANEL) }>(
                            w, x, c, part,
                        )
                    }
                    n if n < WIDEST => gates_panel::<
                        IN,
                        G,
                        H,
                        { GATES_PANEL + GATES_PANEL / 2 },
                        { gate_streams(GATES_PANEL + GATES_PANEL / 2) },
                    >(w, x, c, part),
                    _ => gates_panel::<IN, G, H, WIDEST, { gate_streams(WIDEST) }>(w, x, c, part),
                };
            }
            if !tail.is_empty() {
                gates_tail(w, x, tail);
            }
            y
        }

        /// Partial sums per output vector for a panel of `vectors`: the largest power of two
        /// that keeps the panel's accumulators within `2 GATES_PANEL` registers (half of them).
        const fn gate_streams(vectors: usize) -> usize {
            let mut s = 1;
            while 2 * s * vectors <= 2 * GATES_PANEL {
                s *= 2;
            }
            s
        }

        /// Adds `W x` to the `P` output vectors from vector `c0` (the first `P` of `y`);
        /// returns `P`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn gates_panel<
            const IN: usize,
            const G: usize,
            const H: usize,
            const P: usize,
            const S: usize,
        >(
            w: &[[[f32; H]; G]; IN],
            x: &[f32; IN],
            c0: usize,
            y: &mut [[f32; L]],
        ) -> usize {
            let mut total = [zero(); P];
            for (w, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
                let mut acc = [[zero(); P]; S];
                let (groups, rest) = w.as_chunks::<S>();
                let (x_groups, x_rest) = x.as_chunks::<S>();
                for (columns, xs) in groups.iter().zip(x_groups) {
                    for ((acc, column), &x) in acc.iter_mut().zip(columns).zip(xs) {
                        gates_add::<G, H, P>(acc, column, c0, x);
                    }
                }
                for ((acc, column), &x) in acc.iter_mut().zip(rest).zip(x_rest) {
                    gates_add::<G, H, P>(acc, column, c0, x);
                }
                // The partial sums added pairwise, as in `matvec`.
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
                for (total, sum) in total.iter_mut().zip(acc[0]) {
                    *total = add(*total, sum);
                }
            }
            for (y, total) in y.iter_mut().zip(total) {
                store(y, add(load(y), total));
            }
            P
        }

        /// `acc[p] += x * column[c0 + p]` for the `P` vectors of a panel.
        #[target_feature(enable = $feature)]
        #[inline]
        fn gates_add<const G: usize, const H: usize, const P: usize>(
            acc: &mut [V; P],
            column: &[[f32; H]; G],
            c0: usize,
            x: f32,
        ) {
            let x = splat(x);
            let part = &column.as_flattened().as_chunks::<L>().0[c0..c0 + P];
            for (acc, w) in acc.iter_mut().zip(part) {
                *acc = fmadd(load(w), x, *acc);
            }
        }

        /// Adds `W x` to the last `G H % L` outputs, which do not fill a vector.
        #[target_feature(enable = $feature)]
        #[inline]
        fn gates_tail<const IN: usize, const G: usize, const H: usize>(
            w: &[[[f32; H]; G]; IN],
            x: &[f32; IN],
            y: &mut [f32],
        ) {
            let at = G * H - y.len();
            let mut total = zero();
            for (w, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
                let (mut even, mut odd) = (zero(), zero());
                let (pairs, rest) = w.as_chunks::<2>();
                let (x_pairs, x_rest) = x.as_chunks::<2>();
                for ([w0, w1], [x0, x1]) in pairs.iter().zip(x_pairs) {
                    even = fmadd(load_tail(&w0.as_flattened()[at..]), splat(*x0), even);
                    odd = fmadd(load_tail(&w1.as_flattened()[at..]), splat(*x1), odd);
                }
                for (w, x) in rest.iter().zip(x_rest) {
                    even = fmadd(load_tail(&w.as_flattened()[at..]), splat(*x), even);
                }
                total = add(total, add(even, odd));
            }
            store_tail(y, add(load_tail(y), total));
        }
    };
}

pub(super) use gate_kernels;
