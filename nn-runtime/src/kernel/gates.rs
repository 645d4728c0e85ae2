//! The `f32` kernel of the recurrent layers' gates, written once for any vector width.
//!
//! [`gate_kernels!`] expands, inside a module for one instruction set (which provides `V`, `L`,
//! `GATES_PANEL`, the primitives of `columns.rs`, its `sum_streams` and `sum_columns`), into
//! `gates`: `y = W x + b` for `G` gates of `H` values, `W` by column (`w[i]` is column `i`,
//! `[G][H]`), as the portable [`gates`](super::portable::gates) but with fused multiply-adds. Its
//! type names `G` and `H` rather than `G * H`, which stable Rust cannot write in a generic type.
//! It writes `y` in place: returned, an LSTM(32)'s 512 bytes of gates took two calls to
//! `memcpy` a step, and the biases `y` started from a third.
//!
//! Each column's input goes into every lane through `columns.rs`' `sum_columns` (`splat_each`,
//! a vector's worth of columns at a time: at AVX2 from two loads and then shuffles, since the
//! products there are bound by their loads, see `kernel::avx2::splat_each`; at AVX-512 as
//! broadcasts from memory).
//!
//! A matrix of [`SWEPT`] bytes (larger than the first-level cache of common cores, up to a few
//! times it) is summed in blocks of [`SWEEP_BLOCK`] bytes of columns, and `gates` reads them last
//! to first when told to: [`super::gates`] alternates the direction on each thread from call to
//! call, so that each call starts with the blocks the previous one left in the cache. Each block's
//! sum is kept and the sums are added in column order either way, so the direction never changes
//! the bits (`nn-step` of the 64-wide LSTM in bench/benches/rtneural.rs).
//!
//! `gates_streams` is `gates` for several streams at once (`step_streams`): every output lane
//! gets the very operations of `gates`, in the same order (the same panels, partial sums and
//! blocks), so a stream's bits do not depend on its neighbours; but a register tile holds a few
//! output vectors of several streams, so that each weight vector loaded serves them all (the
//! weights of a 64-wide LSTM do not fit the first-level cache: `nn-streams64` in
//! bench/benches/rtneural.rs).

/// One arm of `gates_streams`' match: the panel of `$vectors` output vectors, with its partial
/// sums and tile named as constants (stable Rust cannot compute them in a generic argument).
macro_rules! streams_panel {
    ($vectors:expr, $w:ident, $b:ident, $xs:ident, $c:ident, $ys:ident) => {{
        const P: usize = $vectors;
        const S: usize = gate_streams(P);
        panel_streams::<
            IN,
            G,
            H,
            X,
            P,
            S,
            { stream_tile_vectors(P, S) },
            { stream_tile_streams(P, S) },
        >($w, $b, $xs, $c, $ys)
    }};
}

/// The sizes of the matrices `gates` sweeps in alternating directions: larger than 32 KiB (a
/// matrix that fits the first-level cache gains nothing) and at most 128 KiB (beyond that, the
/// little the cache keeps of it between calls is not worth the blocks' sums).
pub(crate) const SWEPT: core::ops::RangeInclusive<usize> = 32 * 1024 + 1..=128 * 1024;
/// Bytes of columns per block of a swept matrix (at least one column): half of a 48 KiB
/// first-level cache, so that the two blocks a call reads last are still there when the next
/// call reads them first. The 64-wide LSTM's step was fastest with blocks of 20 or 24 KiB,
/// slower with 16 and with 28 or 32 (`nn-step` in bench/benches/rtneural.rs, as thread CPU
/// time; BENCHMARKS.md, "Sequence networks, against RTNeural").
pub(crate) const SWEEP_BLOCK: usize = 24 * 1024;
/// The most blocks of a swept matrix: the blocks' sums a panel keeps when it reads them in
/// reverse. Ten, for 10 columns of 3,073 outputs (a block holds whole columns, here one).
pub(crate) const SWEEP_BLOCKS: usize = 10;

/// Whether `gates` sweeps a matrix of `inputs` columns of `outputs` `f32`s.
pub(crate) const fn swept(inputs: usize, outputs: usize) -> bool {
    let bytes = inputs * outputs * size_of::<f32>();
    *SWEPT.start() <= bytes && bytes <= *SWEPT.end()
}

/// Columns per block of `gates` for a matrix of `inputs` columns of `outputs` `f32`s: the
/// kernels' [`BLOCK`](super::portable::BLOCK), or for a [`swept`] matrix as many as fill
/// [`SWEEP_BLOCK`] bytes.
pub(crate) const fn gate_block(inputs: usize, outputs: usize) -> usize {
    if !swept(inputs, outputs) {
        return super::portable::BLOCK;
    }
    let columns = SWEEP_BLOCK / (outputs * size_of::<f32>());
    let columns = if columns == 0 { 1 } else { columns };
    assert!(inputs.div_ceil(columns) <= SWEEP_BLOCKS);
    columns
}

/// Expands into `gates` for the module's vector type, with weights of type `$W`: `$feature` is
/// its `#[target_feature]`, `$load_w` turns `&[$W; L]` into a vector of `f32`s and
/// `$load_w_tail` the `len < L` weights of a slice (zeros beyond). The `f32` kernels pass `f32`,
/// `load` and `load_tail`; the half-precision ones (`half/kernel.rs`) a format and its widening
/// loads, so that they do the `f32` kernels' very operations, in the same order, on the widened
/// weights.
macro_rules! gate_kernels {
    ($feature:literal, $W:ty, $load_w:ident, $load_w_tail:ident) => {
        /// `y = W x + b` for a recurrent layer's gates, from the columns of `W`: panels of up to
        /// `2 GATES_PANEL` output vectors, each the sum over the columns, in order, of their
        /// products, spread over [`gate_streams`] interleaved partial sums (column `i` to partial
        /// `i % S`), a block of columns at a time
        /// ([`gate_block`](crate::kernel::gates::gate_block)); then the outputs that do not fill a
        /// vector. One pass over a panel's weights, front to back, so that wide layers stream
        /// them from the second-level cache. The order depends only on the shapes, so a stream
        /// gets the same bits however it is called. With `reverse`, each panel reads the blocks
        /// of a [`swept`](crate::kernel::gates::swept) matrix last to first, for the same bits.
        #[target_feature(enable = $feature)]
        #[inline]
        pub fn gates<const IN: usize, const G: usize, const H: usize>(
            w: &[[[$W; H]; G]; IN],
            b: &[[f32; H]; G],
            x: &[f32; IN],
            y: &mut [[f32; H]; G],
            reverse: bool,
        ) {
            let block = const { crate::kernel::gates::gate_block(IN, G * H) };
            let reverse = reverse && const { crate::kernel::gates::swept(IN, G * H) };
            let (vectors, tail) = y.as_flattened_mut().as_chunks_mut::<L>();
            let (biases, bias_tail) = b.as_flattened().as_chunks::<L>();
            // The widest panel that fits, each with its partial sums (`panel_width`): the widest
            // of all while at least `2 GATES_PANEL` vectors remain, then at most two narrower
            // ones, whose widths are constants. (In one loop over a `match` of every width,
            // LLVM moved the loads of panels that never run out of it, to every call's start.)
            let mut c = 0;
            while vectors.len() - c >= 2 * GATES_PANEL {
                c += gates_panel::<IN, G, H, WIDEST_PANEL, { gate_streams(WIDEST_PANEL) }>(
                    w,
                    x,
                    c,
                    (&mut vectors[c..], &biases[c..]),
                    block,
                    reverse,
                );
            }
            for width in const { narrow_panels(G * H / L) } {
                let part = (&mut vectors[c..], &biases[c..]);
                c += match width {
                    0 => 0,
                    1 => gates_panel::<IN, G, H, 1, { gate_streams(1) }>(
                        w, x, c, part, block, reverse,
                    ),
                    2 => gates_panel::<IN, G, H, 2, { gate_streams(2) }>(
                        w, x, c, part, block, reverse,
                    ),
                    3 => gates_panel::<IN, G, H, 3, { gate_streams(3) }>(
                        w, x, c, part, block, reverse,
                    ),
                    4 => gates_panel::<IN, G, H, 4, { gate_streams(4) }>(
                        w, x, c, part, block, reverse,
                    ),
                    6 => gates_panel::<IN, G, H, 6, { gate_streams(6) }>(
                        w, x, c, part, block, reverse,
                    ),
                    8 => gates_panel::<IN, G, H, 8, { gate_streams(8) }>(
                        w, x, c, part, block, reverse,
                    ),
                    // `narrow_panels` checks that no other width remains.
                    _ => gates_panel::<IN, G, H, NARROW, { gate_streams(NARROW) }>(
                        w, x, c, part, block, reverse,
                    ),
                };
            }
            if !tail.is_empty() {
                gates_tail(w, x, bias_tail, tail);
            }
        }

        /// [`gates`] for each stream: `ys[s] = W xs[s] + b`, with the same bits as `gates` on
        /// each stream alone. Panel by panel as `gates` (each with its partial sums), a tile of
        /// [`stream_tile_vectors`] output vectors and [`stream_tile_streams`] streams at a time.
        // One arm a panel width, as in `gates`, each naming its tile's constants.
        #[target_feature(enable = $feature)]
        #[inline]
        pub fn gates_streams<
            const IN: usize,
            const G: usize,
            const H: usize,
            X: Borrow<[f32; IN]>,
        >(
            w: &[[[$W; H]; G]; IN],
            b: &[[f32; H]; G],
            xs: &[X],
            ys: &mut [Aligned<[[f32; H]; G]>],
        ) {
            let vectors = G * H / L;
            // The panels of `gates`, in its order, so that each output gets its partial sums.
            let mut c = 0;
            while vectors - c >= 2 * GATES_PANEL {
                c += streams_panel!(WIDEST_PANEL, w, b, xs, c, ys);
            }
            for width in const { narrow_panels(G * H / L) } {
                c += match width {
                    0 => 0,
                    1 => streams_panel!(1, w, b, xs, c, ys),
                    2 => streams_panel!(2, w, b, xs, c, ys),
                    3 => streams_panel!(3, w, b, xs, c, ys),
                    4 => streams_panel!(4, w, b, xs, c, ys),
                    6 => streams_panel!(6, w, b, xs, c, ys),
                    8 => streams_panel!(8, w, b, xs, c, ys),
                    _ => streams_panel!(NARROW, w, b, xs, c, ys),
                };
            }
            let at = vectors * L;
            if at < G * H {
                for (x, y) in xs.iter().zip(ys.iter_mut()) {
                    let tail = &mut y.0.as_flattened_mut()[at..];
                    gates_tail(w, x.borrow(), &b.as_flattened()[at..], tail);
                }
            }
        }

        /// Output vectors per tile of `gates_streams` for a panel of `vectors` with `partials`
        /// partial sums each: the most, up to 4, that divide the panel and leave room for
        /// several streams.
        const fn stream_tile_vectors(vectors: usize, partials: usize) -> usize {
            let mut q = 4;
            while q > 1 && (vectors % q != 0 || 2 * q * partials > GATES_PANEL) {
                q /= 2;
            }
            q
        }

        /// Streams per tile of `gates_streams`: the tile's accumulators fill at most
        /// `3 GATES_PANEL` registers (three quarters of them), leaving room for the tile's
        /// weight vectors and a broadcast input; at most 6.
        const fn stream_tile_streams(vectors: usize, partials: usize) -> usize {
            let per_stream = stream_tile_vectors(vectors, partials) * partials;
            let n = 3 * GATES_PANEL / per_stream;
            if n == 0 {
                1
            } else if n > 6 {
                6
            } else {
                n
            }
        }

        /// The `P` output vectors from vector `c0` of every stream, `Q` vectors of `N` streams at a
        /// time; returns `P`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn panel_streams<
            const IN: usize,
            const G: usize,
            const H: usize,
            X: Borrow<[f32; IN]>,
            const P: usize,
            const S: usize,
            const Q: usize,
            const N: usize,
        >(
            w: &[[[$W; H]; G]; IN],
            b: &[[f32; H]; G],
            xs: &[X],
            c0: usize,
            ys: &mut [Aligned<[[f32; H]; G]>],
        ) -> usize {
            let mut c = c0;
            while c < c0 + P {
                for (xs, ys) in xs.chunks(N).zip(ys.chunks_mut(N)) {
                    tile_streams::<IN, G, H, X, Q, S, N>(w, b, xs, c, ys);
                }
                c += Q;
            }
            P
        }

        /// The `Q` output vectors from vector `c0` of up to `N` streams (`xs` and `ys` as long,
        /// not empty), with `S` partial sums each, as `gates_panel` computes them; a shorter
        /// tile computes its last stream again in the missing ones' places, and drops them.
        #[target_feature(enable = $feature)]
        #[inline]
        fn tile_streams<
            const IN: usize,
            const G: usize,
            const H: usize,
            X: Borrow<[f32; IN]>,
            const Q: usize,
            const S: usize,
            const N: usize,
        >(
            w: &[[[$W; H]; G]; IN],
            b: &[[f32; H]; G],
            xs: &[X],
            c0: usize,
            ys: &mut [Aligned<[[f32; H]; G]>],
        ) {
            let last = xs.len() - 1;
            let xs: [&[f32; IN]; N] = core::array::from_fn(|n| xs[n.min(last)].borrow());
            let mut total = [[zero(); Q]; N];
            let columns = const { crate::kernel::gates::gate_block(IN, G * H) };
            for (block, w) in w.chunks(columns).enumerate() {
                let i0 = block * columns;
                let mut acc = [[[zero(); Q]; N]; S];
                let (groups, rest) = w.as_chunks::<S>();
                for (g, columns) in groups.iter().enumerate() {
                    for (k, (acc, column)) in acc.iter_mut().zip(columns).enumerate() {
                        tile_add::<IN, G, H, Q, N>(acc, column, c0, &xs, i0 + g * S + k);
                    }
                }
                let i = i0 + groups.len() * S;
                for (k, (acc, column)) in acc.iter_mut().zip(rest).enumerate() {
                    tile_add::<IN, G, H, Q, N>(acc, column, c0, &xs, i + k);
                }
                // The partial sums added pairwise, as in `gates_block`.
                let mut width = S;
                while width > 1 {
                    width /= 2;
                    let (low, high) = acc.split_at_mut(width);
                    for (low, high) in low.iter_mut().zip(high.iter()) {
                        for (low, high) in low.iter_mut().zip(high) {
                            for (l, h) in low.iter_mut().zip(high) {
                                *l = add(*l, *h);
                            }
                        }
                    }
                }
                for (total, sum) in total.iter_mut().zip(&acc[0]) {
                    for (total, sum) in total.iter_mut().zip(sum) {
                        *total = add(*total, *sum);
                    }
                }
            }
            let bias = &b.as_flattened().as_chunks::<L>().0[c0..c0 + Q];
            for (y, total) in ys.iter_mut().zip(&total) {
                let y = &mut y.0.as_flattened_mut().as_chunks_mut::<L>().0[c0..c0 + Q];
                for ((y, b), total) in y.iter_mut().zip(bias).zip(total) {
                    store(y, add(load(b), *total));
                }
            }
        }

        /// `acc[n][q] += xs[n][i] * column[c0 + q]` for the tile's streams and vectors.
        #[target_feature(enable = $feature)]
        #[inline]
        fn tile_add<
            const IN: usize,
            const G: usize,
            const H: usize,
            const Q: usize,
            const N: usize,
        >(
            acc: &mut [[V; Q]; N],
            column: &[[$W; H]; G],
            c0: usize,
            xs: &[&[f32; IN]; N],
            i: usize,
        ) {
            let part = &column.as_flattened().as_chunks::<L>().0[c0..c0 + Q];
            let w: [V; Q] = core::array::from_fn(|q| $load_w(&part[q]));
            for (acc, x) in acc.iter_mut().zip(xs) {
                let x = splat(x[i]);
                for (acc, w) in acc.iter_mut().zip(&w) {
                    *acc = fmadd(*w, x, *acc);
                }
            }
        }

        /// The widest panel of `gates` (and `gates_streams`): `GATES_PANEL` at AVX2 (4 vectors,
        /// with two partial sums each), twice it at AVX-512.
        pub(crate) const WIDEST_PANEL: usize = if GATES_PANEL == 4 { 4 } else { 2 * GATES_PANEL };
        /// The width of `gates`' narrow panels besides 1, 2, 3, 4, 6 and 8 (`GATES_PANEL` at
        /// AVX-512): one and a half `GATES_PANEL` at AVX-512 (12 vectors); never taken at AVX2.
        const NARROW: usize = GATES_PANEL + GATES_PANEL / 2;

        /// The output vectors of the next panel when `n` remain: all of them up to 3, then 4 or
        /// 6, then `GATES_PANEL`, one and a half times it, or [`WIDEST_PANEL`], the widest that fits
        /// (at AVX2 `GATES_PANEL` from 8 on); 0 when none remain.
        const fn panel_width(n: usize) -> usize {
            match n {
                0..4 => n,
                4..6 => 4,
                6..8 => 6,
                n if n < 2 * GATES_PANEL => {
                    if n < GATES_PANEL + GATES_PANEL / 2 || GATES_PANEL == 4 {
                        GATES_PANEL
                    } else {
                        NARROW
                    }
                }
                _ => WIDEST_PANEL,
            }
        }

        /// The widths of the (at most two) panels `gates` ends with for `vectors` output
        /// vectors, after its panels of [`WIDEST_PANEL`] while at least `2 GATES_PANEL` remain; 0
        /// for none.
        pub(crate) const fn narrow_panels(vectors: usize) -> [usize; 2] {
            let mut n = vectors;
            while n >= 2 * GATES_PANEL {
                n -= WIDEST_PANEL;
            }
            let first = panel_width(n);
            let second = panel_width(n - first);
            assert!(n == first + second, "two panels end every matrix");
            assert!(dispatched(first) && dispatched(second));
            [first, second]
        }

        /// Whether `gates` has a narrow panel of `width` vectors (0 for none): each width its
        /// own arm, the last one `NARROW`.
        const fn dispatched(width: usize) -> bool {
            matches!(width, 0..=4 | 6 | 8) || width == NARROW
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

        /// Sets the `P` output vectors from vector `c0` (the first `P` of `y.0`) to their biases
        /// (the first `P` of `y.1`) plus `W x`, a block of `block` columns at a time, the
        /// blocks' sums added in order (with `reverse` the blocks are read last to first, and
        /// their sums kept until all are known); returns `P`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn gates_panel<
            const IN: usize,
            const G: usize,
            const H: usize,
            const P: usize,
            const S: usize,
        >(
            w: &[[[$W; H]; G]; IN],
            x: &[f32; IN],
            c0: usize,
            (y, b): (&mut [[f32; L]], &[[f32; L]]),
            block: usize,
            reverse: bool,
        ) -> usize {
            let mut total = [zero(); P];
            let blocks = w.chunks(block).zip(x.chunks(block));
            if reverse {
                let mut sums = [[zero(); P]; crate::kernel::gates::SWEEP_BLOCKS];
                for ((w, x), sum) in blocks.zip(&mut sums).rev() {
                    *sum = gates_block::<G, H, P, S>(w, x, c0);
                }
                for sum in &sums[..IN.div_ceil(block)] {
                    for (total, sum) in total.iter_mut().zip(sum) {
                        *total = add(*total, *sum);
                    }
                }
            } else {
                for (w, x) in blocks {
                    let sum = gates_block::<G, H, P, S>(w, x, c0);
                    for (total, sum) in total.iter_mut().zip(sum) {
                        *total = add(*total, sum);
                    }
                }
            }
            for ((y, b), total) in y.iter_mut().zip(b).zip(total) {
                store(y, add(load(b), total));
            }
            P
        }

        /// The sum of one block's products for the `P` output vectors from vector `c0`, over
        /// `S` partial sums (column `i` to partial `i % S`) added pairwise.
        #[target_feature(enable = $feature)]
        #[inline]
        fn gates_block<const G: usize, const H: usize, const P: usize, const S: usize>(
            w: &[[[$W; H]; G]],
            x: &[f32],
            c0: usize,
        ) -> [V; P] {
            sum_columns::<_, P, S>(w, x, |acc, _, column, x| {
                gates_add::<G, H, P>(acc, column, c0, x);
            })
        }

        /// `acc[p] += x * column[c0 + p]` for the `P` vectors of a panel (`x` in every lane).
        #[target_feature(enable = $feature)]
        #[inline]
        fn gates_add<const G: usize, const H: usize, const P: usize>(
            acc: &mut [V; P],
            column: &[[$W; H]; G],
            c0: usize,
            x: V,
        ) {
            let part = &column.as_flattened().as_chunks::<L>().0[c0..c0 + P];
            for (acc, w) in acc.iter_mut().zip(part) {
                *acc = fmadd($load_w(w), x, *acc);
            }
        }

        /// Sets the last `G H % L` outputs, which do not fill a vector, to their biases `b`
        /// plus `W x`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn gates_tail<const IN: usize, const G: usize, const H: usize>(
            w: &[[[$W; H]; G]; IN],
            x: &[f32; IN],
            b: &[f32],
            y: &mut [f32],
        ) {
            let at = G * H - y.len();
            let mut total = zero();
            for (w, x) in w.chunks(BLOCK).zip(x.chunks(BLOCK)) {
                let (mut even, mut odd) = (zero(), zero());
                let (pairs, rest) = w.as_chunks::<2>();
                let (x_pairs, x_rest) = x.as_chunks::<2>();
                for ([w0, w1], [x0, x1]) in pairs.iter().zip(x_pairs) {
                    even = fmadd($load_w_tail(&w0.as_flattened()[at..]), splat(*x0), even);
                    odd = fmadd($load_w_tail(&w1.as_flattened()[at..]), splat(*x1), odd);
                }
                for (w, x) in rest.iter().zip(x_rest) {
                    even = fmadd($load_w_tail(&w.as_flattened()[at..]), splat(*x), even);
                }
                total = add(total, add(even, odd));
            }
            store_tail(y, add(load_tail(b), total));
        }
    };
}

pub(crate) use gate_kernels;
pub(crate) use streams_panel;

#[cfg(test)]
mod tests {
    use super::{SWEEP_BLOCKS, SWEPT, gate_block, swept};

    /// Every swept shape fits the blocks' sums a panel keeps (`gate_block` asserts it, in a
    /// `const` where a layer's kernels are compiled): a shape past it would not compile.
    #[test]
    fn every_swept_matrix_fits_the_blocks_kept() {
        let mut most = 0;
        for outputs in 1..=*SWEPT.end() / 4 {
            for inputs in 1..=*SWEPT.end() / (4 * outputs) {
                if swept(inputs, outputs) {
                    most = most.max(inputs.div_ceil(gate_block(inputs, outputs)));
                }
            }
        }
        assert_eq!(most, SWEEP_BLOCKS);
    }
}
