//! The AVX2 kernel without VNNI, exact: `vpmaddubsw` (`u8 x i8`) would add its pairs of
//! products in saturating `i16` (`255 * 127 * 2` does not fit), so the weights are widened to
//! `i16` (`vpmovsxbw`) and multiplied by the inputs, also `i16`, with `vpmaddwd`, whose pairs
//! of products add exactly into `i32`.
//!
//! A group's weights for 4 neurons are 16 bytes, `[n0: w0 w1 w2 w3][n1 ..][n2 ..][n3 ..]`;
//! widened, against the group's inputs `x0 x1 x2 x3` repeated 4 times, `vpmaddwd` gives 8
//! `i32`s, two halves of each neuron's dot product: `n0: x0 w0 + x1 w1, x2 w2 + x3 w3, n1: ..`.
//! The halves are summed apart over all the groups and paired once at the end (`vphaddd`).
//!
//! Every function has `#[target_feature(enable = "avx2")]`: calling one is sound only on a CPU
//! with AVX2, which [`super::level`] checks. Loads and stores through pointers are `unsafe`,
//! each after the check that keeps it in bounds; the neurons past the last multiple of 4 are
//! read with `vpmaskmovd`, which neither reads nor faults on masked-off lanes, and written in
//! the pieces of `kernel::pieces` (`store_sums`: a masked store stalls the read that follows on
//! AMD's cores).

use super::group_word;
use core::arch::x86_64::{
    __m128i, __m256i, _mm_cmpgt_epi32, _mm_loadu_si128, _mm_maskload_epi32, _mm_set1_epi32,
    _mm_setr_epi32, _mm_setzero_si128, _mm256_add_epi32, _mm256_castsi256_ps, _mm256_cmpgt_epi32,
    _mm256_cvtepi8_epi16, _mm256_cvtepu8_epi16, _mm256_hadd_epi32, _mm256_loadu_si256,
    _mm256_madd_epi16, _mm256_maskload_epi32, _mm256_permute4x64_epi64, _mm256_set1_epi32,
    _mm256_setr_epi32, _mm256_setzero_si256, _mm256_storeu_si256,
};

/// Neurons per chunk: two vectors of pair sums, paired into one vector of 8 sums at the end.
const CHUNK: usize = 8;
/// Chunks per panel: 32 neurons, 8 accumulators (8 independent chains of `vpmaddwd` and
/// `vpaddd`) in the 16 registers.
const PANEL: usize = 4;

/// The `vpmaskmovd` mask of the first `min(lanes, 8)` lanes: all bits set in those.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn mask8(lanes: usize) -> __m256i {
    // At most 8, so exact in `i32`.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let lanes = lanes.min(8) as i32;
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(lanes),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// Writes `v` to the sums of neurons `start..start + 8` that lie below `OUT`: one store when
/// all 8 do, else in the pieces of `kernel::pieces`, from which the loads that read them next
/// get their values. `vpmaskmovd` to memory that is read again soon stalls the
/// read on AMD's cores (its store does not forward), and a layer of 6 neurons, whose sums a
/// call returns, spent much of its kernel's time there (LeNet's first convolution at the `Avx2`
/// level, `bench/benches/quant_conv.rs`; BENCHMARKS.md, "Smaller numbers: the kernels, LeNet in
/// int8, bf16 and f16 weights").
///
/// # Panics
///
/// When `start >= OUT`.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn store_sums<const OUT: usize>(sums: &mut [i32; OUT], start: usize, v: __m256i) {
    if start + 8 <= OUT {
        // SAFETY: neurons `start..start + 8` are below `OUT`: 8 `i32`s of `sums` (`storeu`
        // accepts any alignment).
        #[allow(unsafe_code)]
        unsafe {
            _mm256_storeu_si256(sums.as_mut_ptr().add(start).cast(), v);
        }
    } else {
        assert!(start < OUT, "sums within the layer");
        crate::kernel::pieces::store_below_8(&mut sums[start..], _mm256_castsi256_ps(v));
    }
}

/// The `vpmaskmovd` mask of the first `min(lanes, 4)` lanes of 128 bits.
#[target_feature(enable = "avx2")]
#[inline]
fn mask4(lanes: usize) -> __m128i {
    // At most 4, so exact in `i32`.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let lanes = lanes.min(4) as i32;
    _mm_cmpgt_epi32(_mm_set1_epi32(lanes), _mm_setr_epi32(0, 1, 2, 3))
}

/// `offsets[o] + sum_i x[i] * w[o][i]`, panel by panel of 32 neurons.
#[target_feature(enable = "avx2")]
pub(super) fn accumulate<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    x: &[u8; IN],
) -> [i32; OUT] {
    let mut sums = [0; OUT];
    let mut o = 0;
    while o + PANEL * CHUNK <= OUT {
        panel::<PANEL, IN, OUT, G>(w, offsets, x, &mut sums, o);
        o += PANEL * CHUNK;
    }
    match (OUT - o).div_ceil(CHUNK) {
        0 => {}
        1 => panel::<1, IN, OUT, G>(w, offsets, x, &mut sums, o),
        2 => panel::<2, IN, OUT, G>(w, offsets, x, &mut sums, o),
        3 => panel::<3, IN, OUT, G>(w, offsets, x, &mut sums, o),
        _ => panel::<PANEL, IN, OUT, G>(w, offsets, x, &mut sums, o),
    }
    sums
}

/// [`accumulate`] of each row: tiles of [`ROWS`] samples for layers of at least [`TILED`]
/// neurons, the last rows one by one.
#[target_feature(enable = "avx2")]
pub(super) fn accumulate_batch<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) {
    let n = xs.len().min(sums.len());
    let (xs, sums) = (&xs[..n], &mut sums[..n]);
    if OUT < TILED {
        for (x, sum) in xs.iter().zip(sums) {
            *sum = accumulate(w, offsets, x);
        }
        return;
    }
    let (x_tiles, x_rest) = xs.as_chunks::<ROWS>();
    let (s_tiles, s_rest) = sums.as_chunks_mut::<ROWS>();
    for (x, s) in x_tiles.iter().zip(s_tiles) {
        tile(w, offsets, x, s);
    }
    for (x, sum) in x_rest.iter().zip(s_rest) {
        *sum = accumulate(w, offsets, x);
    }
}

/// Samples per tile of [`accumulate_batch`]: 12 accumulators (two per sample), the two
/// widened weight vectors and a product fill 15 of the 16 registers, and each widened weight
/// vector serves 6 samples (784 -> 128 at batch 256 in bench/benches/quant.rs, where 4 samples
/// a tile measured about even, on a busy machine).
const ROWS: usize = 6;
/// Layers of fewer neurons go sample by sample: the inputs widened by [`tile`] serve too few
/// chunks to pay for their stores (at batch 256 in bench/benches/quant.rs, 128 -> 10 is faster
/// sample by sample, 784 -> 128 tiled).
const TILED: usize = 32;
/// Groups per block of [`tile`]: the inputs' widened groups take `6 * 64 * 32` bytes (12 KiB)
/// of stack.
const BLOCK: usize = 64;

/// [`accumulate`] of `ROWS` samples: for each block of [`BLOCK`] groups, the samples' inputs
/// widened once (`x0 x1 x2 x3` repeated, as `i16`), then for each chunk of 8 neurons, each
/// group's weights widened once for the `ROWS` samples; the block's pair sums are paired and
/// added to the sums.
#[target_feature(enable = "avx2")]
fn tile<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]; ROWS],
    sums: &mut [[i32; OUT]; ROWS],
) {
    for sum in sums.iter_mut() {
        *sum = *offsets;
    }
    let mut widened = [[_mm256_setzero_si256(); BLOCK]; ROWS];
    for (b, block) in w.chunks(BLOCK).enumerate() {
        for (x, widened) in xs.iter().zip(&mut widened) {
            for (j, v) in widened.iter_mut().take(block.len()).enumerate() {
                *v = _mm256_cvtepu8_epi16(_mm_set1_epi32(group_word(x, BLOCK * b + j)));
            }
        }
        for start in (0..OUT).step_by(CHUNK) {
            // The neurons of each half of the chunk below `OUT`, as in `panel`.
            let lanes: [usize; 2] =
                core::array::from_fn(|h| (OUT - start).saturating_sub(4 * h).min(4));
            let masks = [mask4(lanes[0]), mask4(lanes[1])];
            let mut acc = [[_mm256_setzero_si256(); 2]; ROWS];
            for (j, weights) in block.iter().enumerate() {
                let mut wv = [_mm256_setzero_si256(); 2];
                for (h, wv) in wv.iter_mut().enumerate() {
                    let p = weights.as_ptr().wrapping_add(start + 4 * h);
                    #[allow(unsafe_code)]
                    let bytes = match lanes[h] {
                        // SAFETY: neurons `start + 4 h..start + 4 h + 4` are below `OUT`: 16
                        // bytes of `weights` (`loadu` accepts any alignment).
                        4 => unsafe { _mm_loadu_si128(p.cast()) },
                        0 => _mm_setzero_si128(),
                        // SAFETY: `start + 4 h` is below `OUT` and the mask stops at `OUT`, so
                        // every lane read lies in `weights`.
                        _ => unsafe { _mm_maskload_epi32(p.cast(), masks[h]) },
                    };
                    *wv = _mm256_cvtepi8_epi16(bytes);
                }
                for (acc, widened) in acc.iter_mut().zip(&widened) {
                    for (acc, wv) in acc.iter_mut().zip(wv) {
                        *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(wv, widened[j]));
                    }
                }
            }
            let mask = mask8(OUT - start);
            let full = OUT - start >= CHUNK;
            for ([low, high], sum) in acc.into_iter().zip(sums.iter_mut()) {
                let paired =
                    _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(low, high));
                // SAFETY: `start` is below `OUT`, and either the 8 neurons from `start` are
                // (`full`) or the mask stops at `OUT`: every lane read lies in `sum` (`loadu`
                // accepts any alignment).
                #[allow(unsafe_code)]
                let before = unsafe {
                    let p = sum.as_ptr().add(start);
                    if full {
                        _mm256_loadu_si256(p.cast())
                    } else {
                        _mm256_maskload_epi32(p, mask)
                    }
                };
                store_sums(sum, start, _mm256_add_epi32(before, paired));
            }
        }
    }
}

/// Neurons `o..` of `P` chunks of 8, the last one cut at `OUT`.
///
/// # Panics
///
/// When the panel starts past `OUT` (`o + 8 (P - 1) >= OUT`).
#[target_feature(enable = "avx2")]
#[inline]
fn panel<const P: usize, const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    x: &[u8; IN],
    sums: &mut [i32; OUT],
    o: usize,
) {
    assert!(
        P > 0 && o + CHUNK * (P - 1) < OUT,
        "a panel within the layer"
    );
    // The neurons of each half-chunk of 4 that lie below `OUT`: 4, or fewer in the last chunk
    // (0 for a half wholly past `OUT`, which is neither read nor pointed to).
    let mut lanes = [[0; 2]; P];
    let mut masks = [[_mm_setzero_si128(); 2]; P];
    for (c, (lanes, masks)) in lanes.iter_mut().zip(&mut masks).enumerate() {
        for h in 0..2 {
            lanes[h] = OUT.saturating_sub(o + CHUNK * c + 4 * h).min(4);
            masks[h] = mask4(lanes[h]);
        }
    }
    let mut acc = [[_mm256_setzero_si256(); 2]; P];
    for (g, weights) in w.iter().enumerate() {
        let xv = _mm256_cvtepu8_epi16(_mm_set1_epi32(group_word(x, g)));
        for (c, acc) in acc.iter_mut().enumerate() {
            for (h, acc) in acc.iter_mut().enumerate() {
                let start = o + CHUNK * c + 4 * h;
                #[allow(unsafe_code)]
                let bytes = match lanes[c][h] {
                    // SAFETY: neurons `start..start + 4` are below `OUT`: 16 bytes of
                    // `weights` (`loadu` accepts any alignment).
                    4 => unsafe { _mm_loadu_si128(weights.as_ptr().add(start).cast()) },
                    0 => _mm_setzero_si128(),
                    // SAFETY: `start` is below `OUT` and the mask stops at `OUT`, so every
                    // lane read lies in `weights`.
                    _ => unsafe {
                        _mm_maskload_epi32(weights.as_ptr().add(start).cast(), masks[c][h])
                    },
                };
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(_mm256_cvtepi8_epi16(bytes), xv));
            }
        }
    }
    for (c, [low, high]) in acc.into_iter().enumerate() {
        let start = o + CHUNK * c;
        // `[n0 n1 n4 n5 | n2 n3 n6 n7]`, reordered to `n0..n7` by 64-bit lanes `0 2 1 3`.
        let paired = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(low, high));
        let mask = mask8(OUT - start);
        // SAFETY: `start` is below `OUT` (the assertion above) and the mask stops at `OUT`, so
        // every lane read lies in `offsets`.
        #[allow(unsafe_code)]
        let offsets = unsafe { _mm256_maskload_epi32(offsets.as_ptr().add(start), mask) };
        store_sums(sums, start, _mm256_add_epi32(paired, offsets));
    }
}
