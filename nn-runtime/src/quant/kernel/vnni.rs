//! `vpdpbusd` kernels: AVX-512 VNNI (16 neurons per instruction) and 256 bits (8), in AVX-VNNI's
//! encoding (`vex`) or AVX-512 VNNI's with AVX-512VL (`evex`), or built from AVX2's `vpmaddubsw`
//! for the weights it is exact on (`maddubs`).
//!
//! `vpdpbusd acc, x, w` adds to each `i32` lane of `acc` the dot product of the lane's four
//! unsigned bytes of `x` with its four signed bytes of `w`, exactly (the products and their sum
//! fit `i32`; the addition to `acc` wraps, as the portable kernel's). The layout `[G][OUT][4]`
//! makes a group's weights for 16 (or 8) consecutive neurons one contiguous vector, and the
//! group's four inputs, broadcast as one `i32`, the other operand.
//!
//! Every function has `#[target_feature]`: calling one is sound only on a CPU with the features,
//! which [`super::level`] checks. The arithmetic intrinsics are safe; the loads and stores
//! through pointers are `unsafe`, each after the check that makes it in bounds. Masked loads
//! read the neurons past the last multiple of the vector's width: AVX-512's `k` masks and
//! AVX2's `vpmaskmovd` neither read nor fault on masked-off lanes. Their sums are written in the
//! pieces of `kernel::pieces` (`avx2::store_sums` for 256 bits), which the loads that read them
//! next get their values from; a masked store would make them wait.

// The weights' groups of 4 bytes are read as `i32` lanes by loads that accept any alignment
// (`vmovdqu32`, `vpmaskmovd`).
#![allow(clippy::cast_ptr_alignment)]

use super::avx2::{mask8, store_sums};
use super::group_word;
use core::arch::x86_64::{
    __m256i, __mmask16, _mm256_add_epi32, _mm256_madd_epi16, _mm256_maddubs_epi16,
    _mm256_set1_epi16, _mm512_castsi512_ps, _mm512_dpbusd_epi32, _mm512_maskz_loadu_epi32,
    _mm512_set1_epi32, _mm512_setzero_si512,
};

/// `i32` lanes of a 512-bit vector.
const L512: usize = 16;
/// Vectors per panel of `accumulate_512`: 128 neurons, 8 independent chains of `vpdpbusd` in 8
/// of the 32 registers (784 -> 128 at batch 1 in bench/benches/quant.rs runs at the speed of
/// reading its 100 KB of weights).
const PANEL_512: usize = 8;
/// Vectors per tile of `accumulate_batch_512`; with [`ROWS_512`] samples, 16 accumulators, 4
/// weight vectors and a broadcast input fit the 32 registers, and each weight vector loaded
/// serves 4 samples (784 -> 128 at batch 256 in bench/benches/quant.rs, which also measures the
/// `vpdpbusd` peak: close to it on an AMD EPYC, further from it on an Intel Xeon without AMX,
/// where 8 samples by 3 vectors measured no better; BENCHMARKS.md, "Smaller numbers: the
/// kernels, LeNet in int8, bf16 and f16 weights").
const BATCH_PANEL_512: usize = 4;
/// Samples per tile of `accumulate_batch_512`.
const ROWS_512: usize = 4;
/// Bytes of a panel's weights per block of groups in `accumulate_batch_512`: half of a 48 KiB
/// first-level cache, so that a block read for the first tile of samples is still there for the
/// others, rather than 50 KB per panel of MNIST's 784 -> 128 streamed from the second-level
/// cache for every tile (784 -> 128 at batch 256 in bench/benches/quant.rs with `NN_NO_AMX` on
/// an Intel Xeon: nearer the `vpdpbusd` peak in blocks of 12 to 32 KiB than unblocked).
const BLOCK_BYTES_512: usize = 24 * 1024;
/// Samples per tile of `accumulate_batch_512` for layers of at most 16 neurons (one vector):
/// 8 independent accumulators instead of 4, faster than 4 samples a tile (128 -> 10 at batch 256
/// in bench/benches/quant.rs).
const NARROW_ROWS_512: usize = 8;

/// `i32` lanes of a 256-bit vector.
const L256: usize = 8;
/// Vectors per panel of `accumulate_256`: 64 neurons, 8 chains in 8 of the 16 registers.
const PANEL_256: usize = 8;
/// Vectors per tile of `accumulate_batch_256`; with [`ROWS_256`] samples, 8 accumulators, 2
/// weight vectors and a broadcast input fit the 16 registers.
const BATCH_PANEL_256: usize = 2;
/// Samples per tile of `accumulate_batch_256`.
const ROWS_256: usize = 4;
/// Samples per tile of `accumulate_batch_256` for layers of at most 8 neurons (one vector).
const NARROW_ROWS_256: usize = 8;

/// The mask of the first `min(lanes, 16)` lanes.
#[inline(always)]
fn mask16(lanes: usize) -> __mmask16 {
    if lanes >= L512 {
        u16::MAX
    } else {
        (1_u16 << lanes) - 1
    }
}

/// `offsets[o] + sum_i x[i] * w[o][i]` with AVX-512 VNNI, panel by panel of 128 neurons.
#[target_feature(enable = "avx512f,avx512vnni")]
pub(super) fn accumulate_512<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    x: &[u8; IN],
) -> [i32; OUT] {
    let mut sums = [0; OUT];
    let xs = core::slice::from_ref(x);
    let out = core::slice::from_mut(&mut sums);
    let mut o = 0;
    while o + PANEL_512 * L512 <= OUT {
        tile_512::<1, PANEL_512, IN, OUT, G>(w, offsets, xs, out, o, 0..G);
        o += PANEL_512 * L512;
    }
    match (OUT - o).div_ceil(L512) {
        0 => {}
        1 => tile_512::<1, 1, IN, OUT, G>(w, offsets, xs, out, o, 0..G),
        2 => tile_512::<1, 2, IN, OUT, G>(w, offsets, xs, out, o, 0..G),
        3 => tile_512::<1, 3, IN, OUT, G>(w, offsets, xs, out, o, 0..G),
        4 => tile_512::<1, 4, IN, OUT, G>(w, offsets, xs, out, o, 0..G),
        5 => tile_512::<1, 5, IN, OUT, G>(w, offsets, xs, out, o, 0..G),
        6 => tile_512::<1, 6, IN, OUT, G>(w, offsets, xs, out, o, 0..G),
        7 => tile_512::<1, 7, IN, OUT, G>(w, offsets, xs, out, o, 0..G),
        _ => tile_512::<1, PANEL_512, IN, OUT, G>(w, offsets, xs, out, o, 0..G),
    }
    sums
}

/// [`accumulate_512`] of each row: tiles of [`ROWS_512`] samples by [`BATCH_PANEL_512`]
/// vectors ([`NARROW_ROWS_512`] by 1 for a layer of one vector), the weight panels outermost
/// and each panel's groups in blocks of at most [`BLOCK_BYTES_512`], so that a block stays in
/// cache for every sample; the last rows one by one.
#[target_feature(enable = "avx512f,avx512vnni")]
pub(super) fn accumulate_batch_512<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) {
    if OUT <= L512 {
        batch_512::<NARROW_ROWS_512, 1, IN, OUT, G>(w, offsets, xs, sums);
    } else {
        batch_512::<ROWS_512, BATCH_PANEL_512, IN, OUT, G>(w, offsets, xs, sums);
    }
}

/// [`accumulate_batch_512`] with tiles of `R` samples by `P` vectors.
#[target_feature(enable = "avx512f,avx512vnni")]
#[inline]
fn batch_512<const R: usize, const P: usize, const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) {
    let n = xs.len().min(sums.len());
    let (xs, sums) = (&xs[..n], &mut sums[..n]);
    let (x_tiles, x_rest) = xs.as_chunks::<R>();
    let (s_tiles, s_rest) = sums.as_chunks_mut::<R>();
    // Blocks of groups as even as their count allows, each within `BLOCK_BYTES_512` of a panel.
    let blocks = (G * P * L512 * 4).div_ceil(BLOCK_BYTES_512).max(1);
    let block = G.div_ceil(blocks).max(1);
    let mut o = 0;
    while o + P * L512 <= OUT {
        for start in (0..G).step_by(block) {
            let groups = start..G.min(start + block);
            for (x, s) in x_tiles.iter().zip(s_tiles.iter_mut()) {
                tile_512::<R, P, IN, OUT, G>(w, offsets, x, s, o, groups.clone());
            }
        }
        o += P * L512;
    }
    if o < OUT {
        for start in (0..G).step_by(block) {
            let groups = start..G.min(start + block);
            for (x, s) in x_tiles.iter().zip(s_tiles.iter_mut()) {
                let groups = groups.clone();
                match (OUT - o).div_ceil(L512) {
                    1 => tile_512::<R, 1, IN, OUT, G>(w, offsets, x, s, o, groups),
                    2 => tile_512::<R, 2, IN, OUT, G>(w, offsets, x, s, o, groups),
                    3 => tile_512::<R, 3, IN, OUT, G>(w, offsets, x, s, o, groups),
                    _ => tile_512::<R, P, IN, OUT, G>(w, offsets, x, s, o, groups),
                }
            }
        }
    }
    for (x, s) in x_rest.iter().zip(s_rest) {
        *s = accumulate_512(w, offsets, x);
    }
}

/// Neurons `o..` (`V` vectors, the last one read masked and written in pieces at `OUT`) of `R`
/// samples over `groups`:
/// `R x V` accumulators, each weight vector loaded once per group for the `R` samples. The
/// accumulators start from `offsets` for the block of groups that starts at 0, from `sums` (the
/// blocks before) for the others.
///
/// # Panics
///
/// When the panel starts past `OUT` (`o + 16 (V - 1) >= OUT`), `R` exceeds the rows or
/// `groups` ends past `G`.
#[target_feature(enable = "avx512f,avx512vnni")]
#[inline]
fn tile_512<const R: usize, const V: usize, const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
    o: usize,
    groups: core::ops::Range<usize>,
) {
    // Every vector of the panel starts within `OUT`: the pointers below are in bounds, and
    // each mask (`mask16(OUT - start)`) covers only neurons below `OUT`.
    assert!(
        V > 0 && o + L512 * (V - 1) < OUT,
        "a panel within the layer"
    );
    let (xs, sums) = (&xs[..R], &mut sums[..R]);
    let mut masks = [0; V];
    for (v, mask) in masks.iter_mut().enumerate() {
        *mask = mask16(OUT - o - L512 * v);
    }
    let mut acc = [[_mm512_setzero_si512(); V]; R];
    for (row, sum) in acc.iter_mut().zip(&*sums) {
        let from = if groups.start == 0 { offsets } else { sum };
        for (v, acc) in row.iter_mut().enumerate() {
            // SAFETY: neuron `o + 16 v` is below `OUT` (asserted above) and the mask stops at
            // `OUT`, so every lane read lies in `from` (`OUT` values).
            #[allow(unsafe_code)]
            let loaded =
                unsafe { _mm512_maskz_loadu_epi32(masks[v], from.as_ptr().add(o + L512 * v)) };
            *acc = loaded;
        }
    }
    let first = groups.start;
    for (g, weights) in w[groups].iter().enumerate() {
        let g = first + g;
        let mut wv = [_mm512_setzero_si512(); V];
        for (v, wv) in wv.iter_mut().enumerate() {
            // SAFETY: neuron `o + 16 v` is below `OUT` (asserted above) and the mask stops at
            // `OUT`, so every lane read lies in `weights` (`OUT` groups of 4 bytes, one `i32`
            // each; `loadu` accepts any alignment).
            #[allow(unsafe_code)]
            let loaded = unsafe {
                _mm512_maskz_loadu_epi32(masks[v], weights.as_ptr().add(o + L512 * v).cast::<i32>())
            };
            *wv = loaded;
        }
        for (x, acc) in xs.iter().zip(&mut acc) {
            let x = _mm512_set1_epi32(group_word(x, g));
            for (acc, wv) in acc.iter_mut().zip(wv) {
                // Unsigned bytes (the inputs) second, signed (the weights) third.
                *acc = _mm512_dpbusd_epi32(*acc, x, wv);
            }
        }
    }
    for (sum, acc) in sums.iter_mut().zip(acc) {
        for (v, acc) in acc.into_iter().enumerate() {
            // Not a masked store, which no load gets its values from: the requantisation or
            // the dequantisation that reads the sums next would wait for it to reach the cache
            // (`forward` at batch 1). The pieces of `kernel::pieces` instead.
            let at = o + L512 * v;
            let end = OUT.min(at + L512);
            crate::kernel::avx512::store_pieces(&mut sum[at..end], _mm512_castsi512_ps(acc));
        }
    }
}

/// The 256-bit kernels, for one encoding of `vpdpbusd`: `$features` are the target features
/// that provide `$dpbusd`.
macro_rules! vnni_256 {
    ($(#[$doc:meta])* $name:ident, $features:literal, $dpbusd:path) => {
        $(#[$doc])*
        pub(super) mod $name {
            use super::{
                BATCH_PANEL_256, L256, NARROW_ROWS_256, PANEL_256, ROWS_256, group_word, mask8,
                store_sums,
            };
            use core::arch::x86_64::{
                _mm256_loadu_si256, _mm256_maskload_epi32,
                _mm256_set1_epi32, _mm256_setzero_si256,
            };

            /// `offsets[o] + sum_i x[i] * w[o][i]` with 256-bit `vpdpbusd`, panel by panel of 64
            /// neurons.
            #[target_feature(enable = $features)]
            pub(crate) fn accumulate_256<const IN: usize, const OUT: usize, const G: usize>(
                w: &[[[i8; 4]; OUT]; G],
                offsets: &[i32; OUT],
                x: &[u8; IN],
            ) -> [i32; OUT] {
                let mut sums = [0; OUT];
                let xs = core::slice::from_ref(x);
                let out = core::slice::from_mut(&mut sums);
                let mut o = 0;
                while o + PANEL_256 * L256 <= OUT {
                    tile_256::<1, PANEL_256, IN, OUT, G>(w, offsets, xs, out, o);
                    o += PANEL_256 * L256;
                }
                match (OUT - o).div_ceil(L256) {
                    0 => {}
                    1 => tile_256::<1, 1, IN, OUT, G>(w, offsets, xs, out, o),
                    2 => tile_256::<1, 2, IN, OUT, G>(w, offsets, xs, out, o),
                    3 => tile_256::<1, 3, IN, OUT, G>(w, offsets, xs, out, o),
                    4 => tile_256::<1, 4, IN, OUT, G>(w, offsets, xs, out, o),
                    5 => tile_256::<1, 5, IN, OUT, G>(w, offsets, xs, out, o),
                    6 => tile_256::<1, 6, IN, OUT, G>(w, offsets, xs, out, o),
                    7 => tile_256::<1, 7, IN, OUT, G>(w, offsets, xs, out, o),
                    _ => tile_256::<1, PANEL_256, IN, OUT, G>(w, offsets, xs, out, o),
                }
                sums
            }

            /// [`accumulate_256`] of each row, as [`super::accumulate_batch_512`] with tiles of
            /// [`ROWS_256`] samples by [`BATCH_PANEL_256`] vectors ([`NARROW_ROWS_256`] by 1 for a
            /// layer of one vector).
            #[target_feature(enable = $features)]
            pub(crate) fn accumulate_batch_256<
                const IN: usize,
                const OUT: usize,
                const G: usize,
            >(
                w: &[[[i8; 4]; OUT]; G],
                offsets: &[i32; OUT],
                xs: &[[u8; IN]],
                sums: &mut [[i32; OUT]],
            ) {
                if OUT <= L256 {
                    batch_256::<NARROW_ROWS_256, 1, IN, OUT, G>(w, offsets, xs, sums);
                } else {
                    batch_256::<ROWS_256, BATCH_PANEL_256, IN, OUT, G>(w, offsets, xs, sums);
                }
            }

            /// [`accumulate_batch_256`] with tiles of `R` samples by `P` vectors.
            #[target_feature(enable = $features)]
            #[inline]
            fn batch_256<
                const R: usize,
                const P: usize,
                const IN: usize,
                const OUT: usize,
                const G: usize,
            >(
                w: &[[[i8; 4]; OUT]; G],
                offsets: &[i32; OUT],
                xs: &[[u8; IN]],
                sums: &mut [[i32; OUT]],
            ) {
                let n = xs.len().min(sums.len());
                let (xs, sums) = (&xs[..n], &mut sums[..n]);
                let (x_tiles, x_rest) = xs.as_chunks::<R>();
                let (s_tiles, s_rest) = sums.as_chunks_mut::<R>();
                let mut o = 0;
                while o + P * L256 <= OUT {
                    for (x, s) in x_tiles.iter().zip(s_tiles.iter_mut()) {
                        tile_256::<R, P, IN, OUT, G>(w, offsets, x, s, o);
                    }
                    o += P * L256;
                }
                if o < OUT {
                    for (x, s) in x_tiles.iter().zip(s_tiles.iter_mut()) {
                        match (OUT - o).div_ceil(L256) {
                            1 => tile_256::<R, 1, IN, OUT, G>(w, offsets, x, s, o),
                            _ => tile_256::<R, P, IN, OUT, G>(w, offsets, x, s, o),
                        }
                    }
                }
                for (x, s) in x_rest.iter().zip(s_rest) {
                    *s = accumulate_256(w, offsets, x);
                }
            }

            /// [`super::tile_512`] with 256-bit vectors of 8 neurons.
            ///
            /// # Panics
            ///
            /// When the panel starts past `OUT` (`o + 8 (V - 1) >= OUT`) or `R` exceeds the rows.
            #[target_feature(enable = $features)]
            #[inline]
            fn tile_256<
                const R: usize,
                const V: usize,
                const IN: usize,
                const OUT: usize,
                const G: usize,
            >(
                w: &[[[i8; 4]; OUT]; G],
                offsets: &[i32; OUT],
                xs: &[[u8; IN]],
                sums: &mut [[i32; OUT]],
                o: usize,
            ) {
                // Every vector of the panel starts within `OUT`: the pointers below are in bounds,
                // and each mask (`mask8(OUT - start)`) covers only neurons below `OUT`.
                assert!(
                    V > 0 && o + L256 * (V - 1) < OUT,
                    "a panel within the layer"
                );
                let (xs, sums) = (&xs[..R], &mut sums[..R]);
                let mut masks = [_mm256_setzero_si256(); V];
                let mut full = [false; V];
                for (v, (mask, full)) in masks.iter_mut().zip(&mut full).enumerate() {
                    *mask = mask8(OUT - o - L256 * v);
                    *full = OUT - o - L256 * v >= L256;
                }
                let mut acc = [[_mm256_setzero_si256(); V]; R];
                for row in &mut acc {
                    for (v, acc) in row.iter_mut().enumerate() {
                        // SAFETY: neuron `o + 8 v` is below `OUT` (asserted above) and the mask
                        // stops at `OUT`, so every lane read lies in `offsets`.
                        #[allow(unsafe_code)]
                        let loaded = unsafe {
                            _mm256_maskload_epi32(offsets.as_ptr().add(o + L256 * v), masks[v])
                        };
                        *acc = loaded;
                    }
                }
                for (g, weights) in w.iter().enumerate() {
                    let mut wv = [_mm256_setzero_si256(); V];
                    for (v, wv) in wv.iter_mut().enumerate() {
                        let p = weights.as_ptr().wrapping_add(o + L256 * v);
                        #[allow(unsafe_code)]
                        let loaded = if full[v] {
                            // SAFETY: neurons `o + 8 v..o + 8 v + 8` are below `OUT`: 32 bytes of
                            // `weights` (`loadu` accepts any alignment).
                            unsafe { _mm256_loadu_si256(p.cast()) }
                        } else {
                            // SAFETY: neuron `o + 8 v` is below `OUT` (asserted above) and the mask
                            // stops at `OUT`, so every lane read lies in `weights`
                            // (`OUT` groups of 4 bytes, one `i32` each;
                            // `vpmaskmovd` accepts any alignment).
                            unsafe { _mm256_maskload_epi32(p.cast::<i32>(), masks[v]) }
                        };
                        *wv = loaded;
                    }
                    for (x, acc) in xs.iter().zip(&mut acc) {
                        let x = _mm256_set1_epi32(group_word(x, g));
                        for (acc, wv) in acc.iter_mut().zip(wv) {
                            // Unsigned bytes (the inputs) second, signed (the weights) third.
                            *acc = $dpbusd(*acc, x, wv);
                        }
                    }
                }
                for (sum, acc) in sums.iter_mut().zip(acc) {
                    for (v, acc) in acc.into_iter().enumerate() {
                        store_sums(sum, o + L256 * v, acc);
                    }
                }
            }
        }
    };
}

vnni_256!(
    /// AVX-VNNI's `vpdpbusd` (VEX-encoded): Alder Lake, Sapphire Rapids, Zen 5.
    vex,
    "avx2,avxvnni",
    core::arch::x86_64::_mm256_dpbusd_avx_epi32
);
vnni_256!(
    /// AVX-512 VNNI's `vpdpbusd` on 256 bits (EVEX-encoded, AVX-512VL): for the CPUs with
    /// AVX-512 VNNI but not AVX-VNNI (Cascade Lake, Ice Lake, Zen 4), so that the levels stay
    /// ordered.
    evex,
    "avx2,avx512f,avx512vl,avx512vnni",
    core::arch::x86_64::_mm256_dpbusd_epi32
);
vnni_256!(
    /// `vpdpbusd` built from AVX2's `vpmaddubsw` ([`dpbusd_maddubs`]), for the `Avx2` level's
    /// layers whose weights it is exact on ([`super::maddubs_exact`]).
    maddubs,
    "avx2",
    super::dpbusd_maddubs
);

/// `vpdpbusd acc, x, w` from AVX2, for weights on which it is exact ([`super::maddubs_exact`]):
/// each lane's two pairs of products summed in `i16` (`vpmaddubsw`, which saturates a pair
/// beyond `i16`), the pairs summed into `i32` (`vpmaddwd` by ones), and added to `acc`. Two
/// multiplying instructions for 32 multiply-adds and no widening, where the `Avx2` level's exact
/// kernel widens weights and inputs to `i16` first, so that MNIST's 784 -> 128 runs faster at
/// batch 1 and at batch 256 (`Avx2, 7-bit` in `bench/benches/quant.rs`, a Zen 4;
/// BENCHMARKS.md, "Smaller numbers: the kernels, LeNet in int8, bf16 and f16 weights").
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn dpbusd_maddubs(acc: __m256i, x: __m256i, w: __m256i) -> __m256i {
    let pairs = _mm256_maddubs_epi16(x, w);
    _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}
