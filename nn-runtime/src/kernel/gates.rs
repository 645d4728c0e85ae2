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
        const _: () = assert!(GATES_PANEL <= 8);

        /// `W x + b` for a recurrent layer's gates, from the columns of `W`: panels of output
        /// vectors, each column's products added in order to one of two partial sums (even and
        /// odd columns), a block of [`BLOCK`] columns at a time; the outputs that do not fill a
        /// vector last. The order depends only on the shapes, so a stream gets the same bits
        /// however it is called.
        #[target_feature(enable = $feature)]
        pub fn gates<const IN: usize, const G: usize, const H: usize>(
            w: &[[[f32; H]; G]; IN],
            b: &[[f32; H]; G],
            x: &[f32; IN],
        ) -> [[f32; H]; G] {
            let mut y = *b;
            let (vectors, tail) = y.as_flattened_mut().as_chunks_mut::<L>();
            let mut c = 0;
            while c < vectors.len() {
                let part = &mut vectors[c..];
                match part.len().min(GATES_PANEL) {
                    1 => gates_panel::<IN, G, H, 1>(w, x, c, part),
                    2 => gates_panel::<IN, G, H, 2>(w, x, c, part),
                    3 => gates_panel::<IN, G, H, 3>(w, x, c, part),
                    4 => gates_panel::<IN, G, H, 4>(w, x, c, part),
                    5 => gates_panel::<IN, G, H, 5>(w, x, c, part),
                    6 => gates_panel::<IN, G, H, 6>(w, x, c, part),
                    7 => gates_panel::<IN, G, H, 7>(w, x, c, part),
                    _ => gates_panel::<IN, G, H, 8>(w, x, c, part),
                }
                c += GATES_PANEL;
            }
            if !tail.is_empty() {
                gates_tail(w, x, tail);
            }
            y
        }

        /// Adds `W x` to the `P` output vectors from vector `c0` (the first `P` of `y`).
        #[target_feature(enable = $feature)]
        #[inline]
        fn gates_panel<const IN: usize, const G: usize, const H: usize, const P: usize>(
            w: &[[[f32; H]; G]; IN],
            x: &[f32; IN],
            c0: usize,
            y: &mut [[f32; L]],
        ) {
            let mut total = [zero(); P];
            for (w, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
                let mut even = [zero(); P];
                let mut odd = [zero(); P];
                let (pairs, rest) = w.as_chunks::<2>();
                let (x_pairs, x_rest) = x.as_chunks::<2>();
                for ([w0, w1], [x0, x1]) in pairs.iter().zip(x_pairs) {
                    gates_add::<G, H, P>(&mut even, w0, c0, *x0);
                    gates_add::<G, H, P>(&mut odd, w1, c0, *x1);
                }
                for (w, x) in rest.iter().zip(x_rest) {
                    gates_add::<G, H, P>(&mut even, w, c0, *x);
                }
                for ((total, even), odd) in total.iter_mut().zip(even).zip(odd) {
                    *total = add(*total, add(even, odd));
                }
            }
            for (y, total) in y.iter_mut().zip(total) {
                store(y, add(load(y), total));
            }
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
