//! The `f32` convolution kernel of the x86_64 levels, written once for any vector width: a
//! matrix product whose columns are the positions of a "wide" output, read straight from the
//! padded input (an implicit im2col).
//!
//! With stride 1, output position `(y, x)` of a kernel tap `(c, ky, kx)` reads input
//! `(c, y + ky dh, x + kx dw)` of the padded input. Numbering the output's positions as the
//! padded input's, `q = y Wp + x` (`Wp` the padded width), every tap reads the padded input at
//! `q` plus the tap's offset `c plane + ky dh Wp + kx dw`: a vector of consecutive positions is
//! one unaligned load, whatever row it starts in. The positions `x >= OW` of each row are
//! computed and thrown away (the "wide" rows): that costs `Wp / OW` more multiply-adds, and saves
//! building an im2col matrix (`lenet_conv_b64` in bench/benches/onnx.rs).
//!
//! [`wide_kernels!`] expands, inside a module for one instruction set, into `conv_wide` (and
//! `place_rows`, the copies of the input that it reads): register
//! tiles of `MR` output channels by `NR` vectors of positions; per tap, `NR` loads of the input
//! serve every channel of the tile, and each channel's weight is broadcast straight from its row
//! of the weights in PyTorch's order (`MR` rows read side by side), so that no call packs the
//! weights first: at batch 1 that would be a second pass over every weight (`lenet_b1`). The module provides `V`, `L`, `zero`, `splat`,
//! `fmadd`, the pointer primitives `load_ptr`, `store_ptr` and `store_tail_ptr`, and `lanes`
//! with `load_lanes_ptr` (a load of some lanes only, the others zeros).

/// Expands into `conv_wide` for the module's vector type; `$feature` is its `#[target_feature]`
/// string.
macro_rules! wide_kernels {
    ($feature:literal) => {
        /// `y[m ldy + q] = bias[m] + sum over taps t of weights[m k + t] x[offset(t) + q]`, for
        /// the `rows = bias.len()` output channels, their `k = taps.len()` weights each, and the
        /// positions `q < len <= ldy` (the last vector's lanes from `len` on computed, not
        /// stored): tiles of `MR` channels by `NR` vectors, and a last single vector in tiles
        /// of `TR` channels.
        ///
        /// # Panics
        ///
        /// If a slice is shorter than the shapes say (a bug in the caller): the bounds are checked
        /// once here, so that the tiles can read and write without further checks.
        #[target_feature(enable = $feature)]
        pub fn conv_wide<const MR: usize, const NR: usize, const TR: usize>(
            weights: &[f32],
            bias: &[f32],
            taps: super::Taps,
            x: &[f32],
            y: &mut [f32],
            ldy: usize,
            len: usize,
        ) {
            let k = taps.len();
            let rows = bias.len();
            let vectors = len.div_ceil(L);
            // Lanes stored of the last vector.
            let last = len - (vectors.max(1) - 1) * L;
            assert!(
                NR <= 4
                    && len <= ldy
                    && weights.len() >= rows * k
                    && y.len() >= rows.saturating_sub(1) * ldy + len
                    && x.len() >= taps.reach() + vectors * L,
                "conv_wide: slices shorter than the shapes"
            );
            // Whole tiles of `NR` vectors, then the rest: a single vector in panels of `TR`
            // channels (as many accumulators as a whole tile, so that the multiply-adds of the
            // last vector keep both units busy: `lenet_conv_b64` in bench/benches/onnx.rs).
            let whole = vectors - vectors % NR;
            for m0 in (0..rows).step_by(MR) {
                let live = (rows - m0).min(MR);
                let a = &weights[m0 * k..(m0 + live) * k];
                let bias = &bias[m0..m0 + live];
                for v in (0..whole).step_by(NR) {
                    let tail = if v + NR == vectors { last } else { L };
                    // SAFETY: checked above: the tile reads `x` below `taps.reach() + (v + NR) L
                    // <= taps.reach() + vectors L <= x.len()`, `a` has the `k` weights of its
                    // `live` channels, and it writes rows `m0 .. m0 + live` of `y` below
                    // `(v + NR - 1) L + tail <= len <= ldy`.
                    #[allow(unsafe_code)]
                    unsafe {
                        wide_tile::<MR, NR>(
                            a,
                            bias,
                            taps,
                            x.as_ptr().add(v * L),
                            y.as_mut_ptr().add(m0 * ldy + v * L),
                            ldy,
                            tail,
                        );
                    }
                }
            }
            let (xv, v) = (x.as_ptr(), whole);
            if vectors - whole == 1 {
                for m0 in (0..rows).step_by(TR) {
                    let live = (rows - m0).min(TR);
                    // SAFETY: as above, for one vector, its first `last` lanes stored.
                    #[allow(unsafe_code)]
                    unsafe {
                        wide_tile::<TR, 1>(
                            &weights[m0 * k..(m0 + live) * k],
                            &bias[m0..m0 + live],
                            taps,
                            xv.add(v * L),
                            y.as_mut_ptr().add(m0 * ldy + v * L),
                            ldy,
                            last,
                        );
                    }
                }
            } else if vectors > whole {
                for m0 in (0..rows).step_by(MR) {
                    let live = (rows - m0).min(MR);
                    let (a, bias) = (&weights[m0 * k..(m0 + live) * k], &bias[m0..m0 + live]);
                    // SAFETY: as above, with fewer vectors, the last one `last` lanes.
                    #[allow(unsafe_code)]
                    unsafe {
                        let (xv, yv) = (xv.add(v * L), y.as_mut_ptr().add(m0 * ldy + v * L));
                        match vectors - v {
                            2 => wide_tile::<MR, 2>(a, bias, taps, xv, yv, ldy, last),
                            _ => wide_tile::<MR, 3>(a, bias, taps, xv, yv, ldy, last),
                        }
                    }
                }
            }
        }

        /// One tile: the `live = bias.len()` channels whose weights are the rows of `a` (at most
        /// `MR`; the others compute the last channel again and store nothing) by `NR` vectors of
        /// positions from `x` and `y` on, of which the last stores its first `tail` lanes.
        ///
        /// # Safety
        ///
        /// `a` holds `live` rows of `taps.len()` weights, `0 < live <= MR`; `0 < tail <= L`; `x`
        /// is readable for `taps.reach() + NR L` values and `y` writable at `m ldy + j` for
        /// `m < live`, `j < (NR - 1) L + tail`.
        #[target_feature(enable = $feature)]
        #[inline]
        #[allow(unsafe_code)]
        unsafe fn wide_tile<const MR: usize, const NR: usize>(
            a: &[f32],
            bias: &[f32],
            taps: super::Taps,
            x: *const f32,
            y: *mut f32,
            ldy: usize,
            tail: usize,
        ) {
            let k = taps.len();
            let live = bias.len();
            debug_assert!(live > 0 && live <= MR && a.len() >= live * k);
            // Every accumulator from its bias (the channels past `live` repeat the last): a
            // fixed count, so that they start in registers.
            let mut acc: [[V; NR]; MR] =
                core::array::from_fn(|m| [splat(bias[m.min(live - 1)]); NR]);
            let rows: [*const f32; MR] =
                core::array::from_fn(|m| a[m.min(live - 1) * k..].as_ptr());
            let mut t = 0;
            for c in 0..taps.channels {
                for ky in 0..taps.rows {
                    let row = c * taps.plane + ky * taps.row_step;
                    for kx in 0..taps.columns {
                        // SAFETY: `row + kx column_step <= taps.reach()`, and the caller makes
                        // `taps.reach() + NR L` values readable from `x`.
                        let xk = unsafe { x.add(row + kx * taps.column_step) };
                        let mut bv = [zero(); NR];
                        for (j, bv) in bv.iter_mut().enumerate() {
                            // SAFETY: as above: `j L + L <= NR L`.
                            *bv = unsafe { load_ptr(xk.add(j * L)) };
                        }
                        for (acc, row) in acc.iter_mut().zip(&rows) {
                            // SAFETY: `t < k`, and every row pointer starts a row of `k` weights
                            // of `a`.
                            let w = splat(unsafe { *row.add(t) });
                            for (acc, bv) in acc.iter_mut().zip(&bv) {
                                *acc = fmadd(*bv, w, *acc);
                            }
                        }
                        t += 1;
                    }
                }
            }
            for (m, acc) in acc.iter().enumerate().take(bias.len()) {
                for (j, acc) in acc.iter().enumerate() {
                    // SAFETY: `m < bias.len()`, and `j L + L <= (NR - 1) L + tail` or only
                    // the first `tail` lanes of the last vector: the caller makes these writable.
                    unsafe {
                        if j + 1 < NR || tail == L {
                            store_ptr(y.add(m * ldy + j * L), *acc);
                        } else {
                            store_tail_ptr(y.add(m * ldy + j * L), *acc, tail);
                        }
                    }
                }
            }
        }

        /// `dst`'s rows of `line` values: row `r` zeros but for `dst[r line + first ..
        /// r line + end]`, which is `src[r width ..][.. end - first]`; see
        /// [`super::place_rows`].
        #[target_feature(enable = $feature)]
        pub fn place_rows(
            src: &[f32],
            width: usize,
            dst: &mut [f32],
            line: usize,
            first: usize,
            end: usize,
        ) {
            let len = end - first;
            let reach = len.next_multiple_of(L);
            // Rows written in whole vectors, each store free to spill up to `L - 1` values past
            // its row into rows written after it: the first rows, while the spills stay in `dst`
            // and the loads in `src` (row `r` is fast when `(r + 1) line + L <= rows line` and
            // `r width + reach <= src.len()`). The rest are written exactly, with masks.
            let rows = dst.len() / line;
            let by_dst = (rows * line).checked_sub(L).map_or(0, |room| room / line);
            let by_src = match src.len().checked_sub(reach) {
                None => 0,
                Some(_) if width == 0 => rows,
                Some(room) => room / width + 1,
            };
            let fast = by_dst.min(by_src).min(rows);
            if first == 0 && end == line && len <= L {
                // Rows of one vector and no zeros (a shifted copy without padding): one load and
                // one store each.
                for r in 0..fast {
                    // SAFETY: `r < fast`, as below.
                    #[allow(unsafe_code)]
                    unsafe {
                        store_ptr(
                            dst.as_mut_ptr().add(r * line),
                            load_ptr(src.as_ptr().add(r * width)),
                        );
                    }
                }
            } else if (L..=2 * L).contains(&line) {
                // Rows of one or two vectors: the row's first and last `L` values, each loaded
                // with only the lanes that hold the row's values (the others zeros), so that no
                // store leaves its row: every row so, in two loads and two stores, no branch.
                let tail = line - L;
                let head = lanes(first.min(L), end.min(L));
                let back = lanes(first.max(tail) - tail, end.max(tail) - tail);
                for r in 0..rows {
                    // Position `p` of row `r` is `src[r width + p - first]` for `first <= p <
                    // end`: `from + p`, a pointer that may lie outside `src` where masked off.
                    let from = src.as_ptr().wrapping_add(r * width).wrapping_sub(first);
                    // SAFETY: both stores lie in row `r` of `dst`, below `rows line <=
                    // dst.len()`; the loads read only lanes at positions `first..end`, that is
                    // `src[r width ..][.. len]`, which the caller makes readable.
                    #[allow(unsafe_code)]
                    unsafe {
                        let to = dst.as_mut_ptr().add(r * line);
                        store_ptr(to, load_lanes_ptr(from, head));
                        store_ptr(to.add(tail), load_lanes_ptr(from.wrapping_add(tail), back));
                    }
                }
                return;
            } else {
                for r in 0..fast {
                    // SAFETY: `r < fast`: every store lies below `(r + 1) line + L <= rows line
                    // <= dst.len()`, every load below `r width + reach <= src.len()`.
                    #[allow(unsafe_code)]
                    unsafe {
                        let to = dst.as_mut_ptr().add(r * line);
                        let from = src.as_ptr().add(r * width);
                        let mut p = 0;
                        while p < first {
                            store_ptr(to.add(p), zero());
                            p += L;
                        }
                        let mut p = 0;
                        while p < len {
                            store_ptr(to.add(first + p), load_ptr(from.add(p)));
                            p += L;
                        }
                        let mut p = end;
                        while p < line {
                            store_ptr(to.add(p), zero());
                            p += L;
                        }
                    }
                }
            }
            for (r, to) in dst.chunks_exact_mut(line).enumerate().skip(fast) {
                let (head, rest) = to.split_at_mut(first);
                let (body, tail) = rest.split_at_mut(len);
                fill_zeros(head);
                fill_zeros(tail);
                copy(&src[r * width..][..len], body);
            }
        }

        /// `to = from`, of the same length, in vectors. (A loop of whole vectors alone would
        /// become a call to `memcpy`, slower for rows this short.)
        #[target_feature(enable = $feature)]
        #[inline]
        fn copy(from: &[f32], to: &mut [f32]) {
            for (from, to) in from.chunks(L).zip(to.chunks_mut(L)) {
                match (from.try_into(), to.try_into()) {
                    (Ok(from), Ok(to)) => store(to, load(from)),
                    _ => store_tail(to, load_tail(from)),
                }
            }
        }

        /// `to = 0`, in vectors.
        #[target_feature(enable = $feature)]
        #[inline]
        fn fill_zeros(to: &mut [f32]) {
            let (to, to_tail) = to.as_chunks_mut::<L>();
            for to in to {
                store(to, zero());
            }
            if !to_tail.is_empty() {
                store_tail(to_tail, zero());
            }
        }
    };
}

pub(super) use wide_kernels;
