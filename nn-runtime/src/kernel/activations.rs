//! The recurrent layers' `f32` logistic function and hyperbolic tangent on whole vectors, written
//! once for any vector width: `math::sigmoid_fast` and `math::tanh_fast`'s method with fused
//! multiply-adds (fewer operations, so different roundings: within the same bound, tested at
//! every level in `kernel::tests`).
//!
//! [`activation_kernels!`] expands, inside a module for one instruction set (which provides `V`,
//! `L`, the primitives of `columns.rs` and `sub`, `mul`, `div`, `min`, `max`, `abs`, `negate`,
//! `with_sign` (the magnitude of one vector with the sign of another) and `power_of_two` (`2^n`
//! from the bits of `n + 1.5 * 2^23`)), into `sigmoid_lanes`, `tanh_lanes`,
//! `lstm_update` and `gru_update`, and the softmax's exponentials `exp_within` and
//! `exp_softmax`.

/// Values of at most this magnitude have a normal `e^x` far from overflow (`e^80 < 2^116`), so
/// the vector softmax kernels need not wait for the maximum when every value lies within it.
pub(super) const SOFTMAX_DIRECT: f32 = 80.0;

/// Rows of at most this many values may take the direct path: their sum of `e^x` stays below
/// `e^80 * 1024 < 2^126`, so that its inverse, which scales every value, is a normal `f32`
/// (a subnormal one would round away some of the 4 ulps the kernels promise).
pub(super) const SOFTMAX_DIRECT_LEN: usize = 1024;

/// Expands into `sigmoid_lanes` and `tanh_lanes`; `$feature` is the module's
/// `#[target_feature]`.
macro_rules! activation_kernels {
    ($feature:literal) => {
        /// `(r, 2^n)` for `y = n ln 2 + r`, `|r| <= ln 2 / 2`, `-88 <= y <= 88`: the
        /// exponentials' reduction (`n ln 2` in two parts).
        #[target_feature(enable = $feature)]
        #[inline]
        fn reduce(y: V) -> (V, V) {
            use crate::math::{LN2_HIGH, LN2_LOW, ROUNDER};
            let shifted = fmadd(y, splat(core::f32::consts::LOG2_E), splat(ROUNDER));
            let n = sub(shifted, splat(ROUNDER));
            let r = fmadd(n, splat(-LN2_HIGH), y);
            (fmadd(n, splat(-LN2_LOW), r), power_of_two(shifted))
        }

        /// `(e^r - 1, 2^n)` for `y = n ln 2 + r`, `-88 <= y <= 88`: `e^y = 2^n (1 + p)`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn exp_parts(y: V) -> (V, V) {
            use crate::math::Q;
            let (r, power) = reduce(y);
            let r2 = mul(r, r);
            let r4 = mul(r2, r2);
            let low = fmadd(r, splat(Q[0]), splat(1.0));
            let middle = fmadd(r, splat(Q[2]), splat(Q[1]));
            let high = fmadd(r, splat(Q[4]), splat(Q[3]));
            let q = fmadd(r4, high, fmadd(r2, middle, low));
            (mul(r, q), power)
        }

        /// `e^d` of every lane, `d <= 80` or NaN: [`exp_parts`]' polynomial, 0 where `e^d` is
        /// below `f32`'s smallest normal number (`d < -87.33`), NaN where `d` is NaN.
        #[target_feature(enable = $feature)]
        #[inline]
        fn exp_softmax(d: V) -> V {
            // `max` returns its second operand when either is NaN, so that NaN goes through.
            // From -88, `2^n` is `2^-127`, whose bits are those of 0.
            exp_within(max(splat(-88.0), d))
        }

        /// `e^d` of every lane, `-88 <= d <= 80`: [`exp_softmax`] without its bound, for
        /// values known to lie within it (the direct softmax's).
        #[target_feature(enable = $feature)]
        #[inline]
        fn exp_within(d: V) -> V {
            use crate::math::Q;
            // `exp_parts`' reduction and polynomial, with its last product folded in: `p = r
            // q(r) = (r + Q0 r^2) + r^3 ((Q1 + Q2 r) + r^2 (Q3 + Q4 r))`, one operation fewer
            // after `r` on the path than `r` times `q(r)`.
            let (r, power) = reduce(d);
            let r2 = mul(r, r);
            let low = fmadd(r2, splat(Q[0]), r);
            let middle = fmadd(r, splat(Q[2]), splat(Q[1]));
            let high = fmadd(r, splat(Q[4]), splat(Q[3]));
            let p = fmadd(fmadd(r2, high, middle), mul(r2, r), low);
            fmadd(power, p, power)
        }

        /// `1 / (1 + e^-x)`, as `math::sigmoid_fast`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn sigmoid_v(x: V) -> V {
            // The bound first: `max` and `min` return their second operand when either is NaN,
            // so that NaN goes through, as in `clamp`.
            let y = min(splat(87.0), max(splat(-87.0), negate(x)));
            let (p, power) = exp_parts(y);
            div(splat(1.0), add(splat(1.0), fmadd(power, p, power)))
        }

        /// `tanh x`, as `math::tanh_fast`.
        #[target_feature(enable = $feature)]
        #[inline]
        fn tanh_v(x: V) -> V {
            let a = min(splat(9.1), abs(x));
            let (p, power) = exp_parts(add(a, a));
            let e = fmadd(power, p, sub(power, splat(1.0)));
            with_sign(div(e, add(e, splat(2.0))), x)
        }

        /// The logistic function of every value.
        #[target_feature(enable = $feature)]
        #[inline]
        pub fn sigmoid_lanes<const N: usize>(x: &mut [f32; N]) {
            let (vectors, tail) = x.as_chunks_mut::<L>();
            for v in vectors {
                store(v, sigmoid_v(load(v)));
            }
            if !tail.is_empty() {
                let v = sigmoid_v(load_tail(tail));
                store_tail(tail, v);
            }
        }

        /// One LSTM level's new state from its gates' input and recurrent projections `x` and
        /// `r` (gates `i, f, g, o`): `layers::recurrent::lstm::update`'s operations, in its
        /// order, lane by lane (so its bits), in one call rather than one a gate.
        ///
        /// In two passes: the gates' functions of every lane, gate by gate, then the cell's
        /// update and `tanh c'` of every lane. The first pass's vectors are independent of one
        /// another, and its first gate's projections are the first the product finishes, so
        /// the CPU overlaps them; lane by lane (all four gates, then `tanh c'`, then the next
        /// lanes) each lane's chain (about 100 cycles, by its operations' latencies) waited
        /// for most of the last's. On an AVX2 core the LSTM(32)'s step is faster in two passes
        /// than lane by lane (`nn-step` in bench/benches/rtneural.rs, alone in a scratch crate;
        /// BENCHMARKS.md, "Sequence networks, against RTNeural").
        #[target_feature(enable = $feature)]
        #[inline]
        pub fn lstm_update<const H: usize>(
            x: &[[f32; H]; 4],
            r: &[[f32; H]; 4],
            c: &mut [f32; H],
            h: &mut [f32; H],
        ) {
            let whole = H / L * L;
            // The activated gates, from the first pass to the second.
            let mut gates = crate::batch::Aligned([[0.0f32; H]; 4]);
            for k in 0..4 {
                let mut j = 0;
                while j < whole {
                    let v = add(
                        load(x[k][j..].first_chunk().expect("a vector")),
                        load(r[k][j..].first_chunk().expect("a vector")),
                    );
                    let v = if k == 2 { tanh_v(v) } else { sigmoid_v(v) };
                    store(gates.0[k][j..].first_chunk_mut().expect("a vector"), v);
                    j += L;
                }
            }
            let mut j = 0;
            while j < whole {
                let at = |k: usize| load(gates.0[k][j..].first_chunk().expect("a vector"));
                let (i, f, g, o) = (at(0), at(1), at(2), at(3));
                let c_next = add(
                    mul(f, load(c[j..].first_chunk().expect("a vector"))),
                    mul(i, g),
                );
                store(c[j..].first_chunk_mut().expect("a vector"), c_next);
                store(
                    h[j..].first_chunk_mut().expect("a vector"),
                    mul(o, tanh_v(c_next)),
                );
                j += L;
            }
            if whole < H {
                // The last lanes, through a vector's worth of copies.
                let [mut cs] = last_lanes(&[*c], whole);
                let mut hs = [0.0; L];
                lstm_update::<L>(
                    &last_lanes(x, whole),
                    &last_lanes(r, whole),
                    &mut cs,
                    &mut hs,
                );
                c[whole..].copy_from_slice(&cs[..H - whole]);
                h[whole..].copy_from_slice(&hs[..H - whole]);
            }
        }

        /// One GRU level's new `h` from its gates' input and recurrent projections `x` and `r`
        /// (gates `r, z, n`): `layers::recurrent::gru::update`'s operations, in its order, lane
        /// by lane, in two passes as [`lstm_update`]: the reset and update gates' sigmoids of
        /// every lane, then the candidate's `tanh` and the new `h` (faster for the GRU(32)'s
        /// step than lane by lane, measured the same way).
        #[target_feature(enable = $feature)]
        #[inline]
        pub fn gru_update<const H: usize>(x: &[[f32; H]; 3], r: &[[f32; H]; 3], h: &mut [f32; H]) {
            let whole = H / L * L;
            let mut gates = crate::batch::Aligned([[0.0f32; H]; 2]);
            for k in 0..2 {
                let mut j = 0;
                while j < whole {
                    let at = |v: &[f32; H]| load(v[j..].first_chunk().expect("a vector"));
                    let v = sigmoid_v(add(at(&x[k]), at(&r[k])));
                    store(gates.0[k][j..].first_chunk_mut().expect("a vector"), v);
                    j += L;
                }
            }
            let mut j = 0;
            while j < whole {
                let at = |v: &[f32; H]| load(v[j..].first_chunk().expect("a vector"));
                let (reset, keep) = (at(&gates.0[0]), at(&gates.0[1]));
                let new = tanh_v(add(at(&x[2]), mul(reset, at(&r[2]))));
                let old = at(h);
                store(
                    h[j..].first_chunk_mut().expect("a vector"),
                    add(new, mul(keep, sub(old, new))),
                );
                j += L;
            }
            if whole < H {
                // The last lanes, through a vector's worth of copies.
                let [mut hs] = last_lanes(&[*h], whole);
                gru_update::<L>(&last_lanes(x, whole), &last_lanes(r, whole), &mut hs);
                h[whole..].copy_from_slice(&hs[..H - whole]);
            }
        }

        /// The values from `from` on (fewer than a vector's) of each of `K` rows, zeros after
        /// them: the last lanes of the fused updates.
        fn last_lanes<const H: usize, const K: usize>(
            rows: &[[f32; H]; K],
            from: usize,
        ) -> [[f32; L]; K] {
            core::array::from_fn(|k| {
                let mut lanes = [0.0; L];
                lanes[..H - from].copy_from_slice(&rows[k][from..]);
                lanes
            })
        }

        /// The hyperbolic tangent of every value.
        #[target_feature(enable = $feature)]
        #[inline]
        pub fn tanh_lanes<const N: usize>(x: &mut [f32; N]) {
            let (vectors, tail) = x.as_chunks_mut::<L>();
            for v in vectors {
                store(v, tanh_v(load(v)));
            }
            if !tail.is_empty() {
                let v = tanh_v(load_tail(tail));
                store_tail(tail, v);
            }
        }
    };
}

pub(super) use activation_kernels;
