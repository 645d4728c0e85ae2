//! The `f32` kernels of the x86_64 levels, written once for any vector width.
//!
//! `matvec` and `matmul` add `x[i]` times column `i` of `W` to the outputs, a vector of outputs
//! at a time: the lanes are independent, so no horizontal sum is needed, and the only reordering
//! of the sums is the split of each output's terms over a few interleaved partial sums in
//! `matvec`.
//!
//! [`column_kernels!`] expands, inside a module for one instruction set, into `matvec`,
//! `matmul`, `matmul_stable` and `accumulate` (weight gradients) compiled with that set's
//! `#[target_feature]`.
//! The module provides the vector type `V`, the lanes `L`, the shapes below, and the primitives
//! (all `#[inline]` and compiled with the same features): `zero`, `splat`, `add`, `fmadd`
//! (`a * b + c`), `load` and `store` of `&[f32; L]`, `load_tail` / `store_tail` of the first
//! `len < L` lanes of a slice, `store_pieces` of them in the pieces a softmax reads
//! (`super::pieces`), and `splat_each` (each of `L` inputs in every lane of a vector).
//!
//! Shapes the module sets:
//! - `MATVEC_PANEL`: output vectors per panel of `matvec`, and `MATVEC_ACCUMULATORS`: registers
//!   for their partial sums. Each output vector gets as many independent partial sums
//!   (streams, over interleaved columns) as fit, so that enough chains of multiply-adds run side
//!   by side to hide their latency.
//! - `MATMUL_PANEL`, `MATMUL_SAMPLES`: the register tile of `matmul`, output vectors by samples;
//!   `MATMUL_BLOCK`: columns per block of `matmul`, at most [`BLOCK`](super::portable::BLOCK).
//! - `ACCUMULATE_PANEL`, `ACCUMULATE_COLUMNS`: the register tile of `accumulate`, vectors of a
//!   gradient column by columns.

/// Expands into `matvec`, `matmul`, `matmul_stable` and `accumulate` for the module's vector
/// type; `$feature` is its `#[target_feature]` string.
macro_rules! column_kernels {
    ($feature:literal) => {
        // The last arms of the remainder matches below cover panels up to these sizes, and
        // a block of `matmul` must not sum more columns than the accuracy bound allows.
        const _: () = assert!(MATVEC_PANEL <= 8 && MATMUL_PANEL <= 4 && ACCUMULATE_PANEL <= 4);
        const _: () = assert!(MATMUL_BLOCK <= BLOCK);
        /// `W x + b` from the columns of `W`: panels of output vectors, each the sum over `i`
        /// of `x[i]` times its part of column `i`, in [`streams`] interleaved partial sums.
        #[target_feature(enable = $feature)]
        pub fn matvec<const IN: usize, const OUT: usize>(
            w: &[[f32; OUT]; IN],
            b: &[f32; OUT],
            x: &[f32; IN],
        ) -> [f32; OUT] {
            let mut y = *b;
            if OUT == 1 {
                // One value per column: the weights are one contiguous row.
                y[0] += portable::dot(w.as_flattened(), x);
                return y;
            }
            let vectors = OUT / L;
            let mut c = 0;
            while c + MATVEC_PANEL <= vectors {
                matvec_panel::<IN, OUT, MATVEC_PANEL, { streams(MATVEC_PANEL) }>(w, x, c, &mut y);
                c += MATVEC_PANEL;
            }
            // Fewer vectors left than a panel: more streams for fewer vectors.
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
                let at = OUT - OUT % L;
                let tail = add(load_tail(&b[at..]), matvec_tail::<IN, OUT>(w, x));
                // In the pieces of `super::pieces` rather than a masked store, which the loads
                // that read the outputs next (the caller's, a softmax's) would wait for (the
                // `mlp` of bench/benches/rtneural.rs).
                store_pieces(&mut y[at..], tail);
            }
            y
        }

        /// Adds `W x` to output vectors `c0 .. c0 + P` of `y`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn matvec_panel<const IN: usize, const OUT: usize, const P: usize, const S: usize>(
            w: &[[f32; OUT]; IN],
            x: &[f32; IN],
            c0: usize,
            y: &mut [f32; OUT],
        ) {
            let mut total = [zero(); P];
            for (w, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
                let sums = sum_columns::<_, P, S>(w, x, |acc, _, column, x| {
                    add_scaled(acc, column, c0, x);
                });
                for (total, sum) in total.iter_mut().zip(sums) {
                    *total = add(*total, sum);
                }
            }
            let part = &mut y.as_chunks_mut::<L>().0[c0..c0 + P];
            for (y, total) in part.iter_mut().zip(total) {
                store(y, add(load(y), total));
            }
        }

        /// `acc[p] += x * column[c0 + p]` for the `P` vectors of a panel (`x` in every lane).
        #[target_feature(enable = $feature)]
        #[inline]
        fn add_scaled<const OUT: usize, const P: usize>(
            acc: &mut [V; P],
            column: &[f32; OUT],
            c0: usize,
            x: V,
        ) {
            let part = &column.as_chunks::<L>().0[c0..c0 + P];
            for (acc, w) in acc.iter_mut().zip(part) {
                *acc = fmadd(load(w), x, *acc);
            }
        }

        /// `W x` for the last `OUT % L` outputs, which do not fill a vector (in the low lanes).
        #[target_feature(enable = $feature)]
        #[inline]
        fn matvec_tail<const IN: usize, const OUT: usize>(
            w: &[[f32; OUT]; IN],
            x: &[f32; IN],
        ) -> V {
            const S: usize = streams(1);
            let at = OUT - OUT % L;
            let mut total = zero();
            for (w, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
                let [sum] = sum_columns::<_, 1, S>(w, x, |[acc], _, column, x| {
                    *acc = fmadd(load_tail(&column[at..]), x, *acc);
                });
                total = add(total, sum);
            }
            total
        }

        /// The sums `add` makes over the columns `i` of a block `w` (of any type: `f32` or
        /// 16-bit columns, a recurrent layer's gates), in order: `add(acc[i % S], i, column i,
        /// x[i] in every lane)` into `S` partial sums over interleaved columns, then added
        /// pairwise, the order of every `matvec` and `gates`. A vector of inputs at a time goes
        /// into every lane through `splat_each` (at AVX2 two loads, then shuffles, which pay
        /// there: the `mlp` and `nn-step` of bench/benches/rtneural.rs; at AVX-512 broadcasts
        /// from memory). The last columns go by groups of `S`, each to its partial by position:
        /// a partial picked by a computed index would keep the partials in memory rather than
        /// in registers (`splat_each` calls its `f` with constants).
        ///
        /// The partials start and end here, not in the caller: LLVM does not inline this into
        /// the AVX-512 `gates` of 8 vectors, where partials passed by reference went through
        /// memory at every call, a slower step (`lstm64 nn-step` in bench/benches/rtneural.rs).
        #[target_feature(enable = $feature)]
        #[inline]
        pub(crate) fn sum_columns<C, const P: usize, const S: usize>(
            w: &[C],
            x: &[f32],
            mut add: impl FnMut(&mut [V; P], usize, &C, V),
        ) -> [V; P] {
            const { assert!(L % S == 0, "a vector of columns is whole groups of S") };
            let mut acc = [[zero(); P]; S];
            let (vectors, rest) = w.as_chunks::<L>();
            let (x_vectors, x_rest) = x.as_chunks::<L>();
            for (v, (columns, xs)) in vectors.iter().zip(x_vectors).enumerate() {
                splat_each(xs, |k, x| add(&mut acc[k % S], v * L + k, &columns[k], x));
            }
            let start = vectors.len() * L;
            let (groups, last) = rest.as_chunks::<S>();
            let (x_groups, x_last) = x_rest.as_chunks::<S>();
            for (g, (columns, xs)) in groups.iter().zip(x_groups).enumerate() {
                for (j, ((acc, column), &x)) in acc.iter_mut().zip(columns).zip(xs).enumerate() {
                    add(acc, start + g * S + j, column, splat(x));
                }
            }
            let start = start + groups.len() * S;
            for (j, ((acc, column), &x)) in acc.iter_mut().zip(last).zip(x_last).enumerate() {
                add(acc, start + j, column, splat(x));
            }
            sum_streams(acc)
        }

        /// Partial sums per output vector when a panel has `vectors` of them: the largest power of
        /// two that keeps the panel's accumulators within `MATVEC_ACCUMULATORS`.
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

        /// `y[s] = W x[s] + b` for every pair of rows: [`matmul_stable`], or [`matvec`] on each
        /// row when there are fewer rows than a tile holds (a row alone has too few independent
        /// chains of multiply-adds to hide their latency, and `matvec` spreads its columns over
        /// several partial sums instead).
        #[target_feature(enable = $feature)]
        pub fn matmul<const IN: usize, const OUT: usize>(
            w: &[[f32; OUT]; IN],
            b: &[f32; OUT],
            x: &[[f32; IN]],
            y: &mut [[f32; OUT]],
        ) {
            if x.len().min(y.len()) < MATMUL_SAMPLES {
                for (x, y) in x.iter().zip(y.iter_mut()) {
                    *y = matvec(w, b, x);
                }
                return;
            }
            matmul_stable(w, b, x, y);
        }

        /// `y[s] = W x[s] + b` for every pair of rows, each row summed in the same order whatever
        /// the other rows (training relies on it: a chunk of samples must give the same bits as
        /// one sample at a time). Register tiles of `MATMUL_SAMPLES` samples by `MATMUL_PANEL`
        /// output vectors (twice the samples for a panel of a single vector, or of the last
        /// outputs that do not fill one). The columns go in blocks of `MATMUL_BLOCK`, each
        /// block's part of a panel (16 KiB at most) staying in the first-level cache while every
        /// tile of samples uses it; a tile sums the block's products in registers, then adds them
        /// to its outputs. Each weight vector loaded serves every sample of a tile, and each
        /// input value (broadcast to a vector) every output vector.
        #[target_feature(enable = $feature)]
        pub fn matmul_stable<const IN: usize, const OUT: usize, X: Borrow<[f32; IN]>>(
            w: &[[f32; OUT]; IN],
            b: &[f32; OUT],
            x: &[X],
            y: &mut [[f32; OUT]],
        ) {
            let n = x.len().min(y.len());
            if OUT == 1 {
                // One output: `matvec`'s dot product, row by row (each row on its own).
                for (x, y) in x.iter().zip(y.iter_mut()) {
                    *y = matvec(w, b, x.borrow());
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
                matmul_panel::<IN, OUT, MATMUL_PANEL, MATMUL_SAMPLES, X>(w, x, y, c);
                c += MATMUL_PANEL;
            }
            // A panel of one vector, and the last outputs that do not fill one, take twice the
            // samples, so that enough independent chains of multiply-adds hide their latency.
            match vectors - c {
                0 => {}
                1 => matmul_panel::<IN, OUT, 1, { 2 * MATMUL_SAMPLES }, X>(w, x, y, c),
                2 => matmul_panel::<IN, OUT, 2, MATMUL_SAMPLES, X>(w, x, y, c),
                _ => matmul_panel::<IN, OUT, 3, MATMUL_SAMPLES, X>(w, x, y, c),
            }
            if OUT % L != 0 {
                matmul_panel::<IN, OUT, 0, { 2 * MATMUL_SAMPLES }, X>(w, x, y, c);
            }
        }

        /// Adds `W x[s]` to output vectors `c0 .. c0 + P` of every sample, block of columns by
        /// block, in tiles of `M` samples, then of two, then one; `P = 0` means the last
        /// `OUT % L` outputs, which do not fill a vector.
        #[target_feature(enable = $feature)]
        #[inline]
        fn matmul_panel<const IN: usize, const OUT: usize, const P: usize, const M: usize, X>(
            w: &[[f32; OUT]; IN],
            x: &[X],
            y: &mut [[f32; OUT]],
            c0: usize,
        ) where
            X: Borrow<[f32; IN]>,
        {
            let (x_tiles, x_rest) = x.as_chunks::<M>();
            let (y_tiles, y_rest) = y.as_chunks_mut::<M>();
            // The samples left over (fewer than `M`) go in pairs: one sample alone has too few
            // chains of multiply-adds to hide their latency.
            let (x_pairs, x_last) = x_rest.as_chunks::<2>();
            let (y_pairs, y_last) = y_rest.as_chunks_mut::<2>();
            for (block, w) in w.chunks(MATMUL_BLOCK).enumerate() {
                let i0 = block * MATMUL_BLOCK;
                for (xs, ys) in x_tiles.iter().zip(y_tiles.iter_mut()) {
                    matmul_tile::<IN, OUT, P, M, X>(w, i0, xs, ys, c0);
                }
                for (xs, ys) in x_pairs.iter().zip(y_pairs.iter_mut()) {
                    matmul_tile::<IN, OUT, P, 2, X>(w, i0, xs, ys, c0);
                }
                for (x, y) in x_last.iter().zip(y_last.iter_mut()) {
                    let (xs, ys) = (core::array::from_ref(x), core::array::from_mut(y));
                    matmul_tile::<IN, OUT, P, 1, X>(w, i0, xs, ys, c0);
                }
            }
        }

        /// Adds the products of columns `i0 .. i0 + w.len()` to output vectors `c0 .. c0 + P` of
        /// `M` samples (`P = 0`: the last `OUT % L` outputs).
        #[target_feature(enable = $feature)]
        #[inline]
        fn matmul_tile<const IN: usize, const OUT: usize, const P: usize, const M: usize, X>(
            w: &[[f32; OUT]],
            i0: usize,
            xs: &[X; M],
            ys: &mut [[f32; OUT]; M],
            c0: usize,
        ) where
            X: Borrow<[f32; IN]>,
        {
            if P == 0 {
                let at = OUT - OUT % L;
                let mut acc = [zero(); M];
                for (i, column) in w.iter().enumerate() {
                    let wv = load_tail(&column[at..]);
                    for (acc, x) in acc.iter_mut().zip(xs) {
                        *acc = fmadd(wv, splat(x.borrow()[i0 + i]), *acc);
                    }
                }
                for (acc, y) in acc.iter().zip(ys.iter_mut()) {
                    let sum = add(load_tail(&y[at..]), *acc);
                    store_tail(&mut y[at..], sum);
                }
                return;
            }
            let mut acc = [[zero(); P]; M];
            // Two columns per iteration: the loop's own instructions share ports with the
            // multiply-adds (`mnist_b256` in bench/benches/forward.rs).
            let (pairs, last) = w.as_chunks::<2>();
            for (k, [first, second]) in pairs.iter().enumerate() {
                let i = i0 + 2 * k;
                tile_step::<IN, OUT, P, M, X>(&mut acc, first, c0, xs, i);
                tile_step::<IN, OUT, P, M, X>(&mut acc, second, c0, xs, i + 1);
            }
            if let [column] = last {
                tile_step::<IN, OUT, P, M, X>(&mut acc, column, c0, xs, i0 + w.len() - 1);
            }
            for (acc, y) in acc.iter().zip(ys.iter_mut()) {
                let part = &mut y.as_chunks_mut::<L>().0[c0..c0 + P];
                for (acc, y) in acc.iter().zip(part) {
                    store(y, add(load(y), *acc));
                }
            }
        }

        /// `acc[s][p] += x[s][i] * column[c0 + p]` for the `M` samples and `P` vectors of a tile.
        #[target_feature(enable = $feature)]
        #[inline]
        fn tile_step<const IN: usize, const OUT: usize, const P: usize, const M: usize, X>(
            acc: &mut [[V; P]; M],
            column: &[f32; OUT],
            c0: usize,
            xs: &[X; M],
            i: usize,
        ) where
            X: Borrow<[f32; IN]>,
        {
            let part = &column.as_chunks::<L>().0[c0..c0 + P];
            let mut wv = [zero(); P];
            for (wv, part) in wv.iter_mut().zip(part) {
                *wv = load(part);
            }
            for (acc, x) in acc.iter_mut().zip(xs) {
                let x = splat(x.borrow()[i]);
                for (acc, wv) in acc.iter_mut().zip(&wv) {
                    *acc = fmadd(*wv, x, *acc);
                }
            }
        }

        /// `g[i] += x[s][i] * d[s]` for every pair of rows, sample after sample, one fused
        /// multiply-add each: register tiles of `ACCUMULATE_COLUMNS` gradient columns by
        /// `ACCUMULATE_PANEL` vectors stay in registers while every sample of the chunk adds to
        /// them (each vector of `d` loaded serves every column of the tile, each input broadcast
        /// every vector). Every gradient still gets its samples' products in sample order, so the
        /// result is the same to the bit whatever the tiles and however many samples a call
        /// gets. Zero inputs are not skipped: a branch per input and sample mispredicts on
        /// images (the training rate that `examples/train_digits.rs` prints).
        #[target_feature(enable = $feature)]
        pub fn accumulate<const IN: usize, const OUT: usize, X: Borrow<[f32; IN]>>(
            g: &mut [[f32; OUT]; IN],
            x: &[X],
            d: &[[f32; OUT]],
        ) {
            let n = x.len().min(d.len());
            let (x, d) = (&x[..n], &d[..n]);
            let (groups, rest) = g.as_chunks_mut::<ACCUMULATE_COLUMNS>();
            for (k, group) in groups.iter_mut().enumerate() {
                accumulate_columns(group, k * ACCUMULATE_COLUMNS, x, d);
            }
            let i0 = IN - rest.len();
            for (k, column) in rest.iter_mut().enumerate() {
                accumulate_columns(core::array::from_mut(column), i0 + k, x, d);
            }
        }

        /// [`accumulate`] for the `M` gradient columns from `i0` on, a panel of vectors at a
        /// time, then the last `OUT % L` outputs, which do not fill a vector.
        #[target_feature(enable = $feature)]
        #[inline]
        fn accumulate_columns<const IN: usize, const OUT: usize, const M: usize, X>(
            g: &mut [[f32; OUT]; M],
            i0: usize,
            x: &[X],
            d: &[[f32; OUT]],
        ) where
            X: Borrow<[f32; IN]>,
        {
            let vectors = OUT / L;
            let mut c = 0;
            while c + ACCUMULATE_PANEL <= vectors {
                accumulate_tile::<IN, OUT, ACCUMULATE_PANEL, M, X>(g, c, i0, x, d);
                c += ACCUMULATE_PANEL;
            }
            match vectors - c {
                0 => {}
                1 => accumulate_tile::<IN, OUT, 1, M, X>(g, c, i0, x, d),
                2 => accumulate_tile::<IN, OUT, 2, M, X>(g, c, i0, x, d),
                _ => accumulate_tile::<IN, OUT, 3, M, X>(g, c, i0, x, d),
            }
            if OUT % L != 0 {
                accumulate_tile::<IN, OUT, 0, M, X>(g, c, i0, x, d);
            }
        }

        /// Adds `x[s][i0 + m] * d[s]` to vectors `c0 .. c0 + P` of gradient column `m`, for the
        /// `M` columns of `g` and every sample in order (`P = 0`: the last `OUT % L` outputs).
        #[target_feature(enable = $feature)]
        #[inline]
        fn accumulate_tile<const IN: usize, const OUT: usize, const P: usize, const M: usize, X>(
            g: &mut [[f32; OUT]; M],
            c0: usize,
            i0: usize,
            x: &[X],
            d: &[[f32; OUT]],
        ) where
            X: Borrow<[f32; IN]>,
        {
            if P == 0 {
                let at = OUT - OUT % L;
                let mut acc = [zero(); M];
                for (acc, g) in acc.iter_mut().zip(g.iter()) {
                    *acc = load_tail(&g[at..]);
                }
                for (x, d) in x.iter().zip(d) {
                    let dv = load_tail(&d[at..]);
                    let xs = &x.borrow()[i0..i0 + M];
                    for (acc, &x) in acc.iter_mut().zip(xs) {
                        *acc = fmadd(splat(x), dv, *acc);
                    }
                }
                for (acc, g) in acc.iter().zip(g.iter_mut()) {
                    store_tail(&mut g[at..], *acc);
                }
                return;
            }
            let mut acc = [[zero(); P]; M];
            for (acc, g) in acc.iter_mut().zip(g.iter()) {
                let part = &g.as_chunks::<L>().0[c0..c0 + P];
                for (acc, g) in acc.iter_mut().zip(part) {
                    *acc = load(g);
                }
            }
            for (x, d) in x.iter().zip(d) {
                let part = &d.as_chunks::<L>().0[c0..c0 + P];
                let mut dv = [zero(); P];
                for (dv, part) in dv.iter_mut().zip(part) {
                    *dv = load(part);
                }
                let xs = &x.borrow()[i0..i0 + M];
                for (acc, &x) in acc.iter_mut().zip(xs) {
                    let x = splat(x);
                    for (acc, dv) in acc.iter_mut().zip(&dv) {
                        *acc = fmadd(x, *dv, *acc);
                    }
                }
            }
            for (acc, g) in acc.iter().zip(g.iter_mut()) {
                let part = &mut g.as_chunks_mut::<L>().0[c0..c0 + P];
                for (acc, g) in acc.iter().zip(part) {
                    store(g, *acc);
                }
            }
        }
    };
}

pub(super) use column_kernels;
