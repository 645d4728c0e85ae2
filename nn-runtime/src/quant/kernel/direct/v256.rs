//! The direct convolution on 256-bit vectors, for the levels below AVX-512 VNNI: 8 neighbouring
//! output positions are the 8 lanes of a `vpdpbusd`, each weight word a broadcast, as the
//! AVX-512 kernel's 16 (see [`super`]). Each block's groups of four taps are gathered from the
//! padded input (four 8-byte loads and two rounds of unpacking), or, where the taps make as
//! many groups by fours of input rows ([`RowGroups`]: LeNet's first convolution), loaded from
//! those rows' words, built once per call; so nothing is copied per position, where the im2col
//! route it replaces spent most of LeNet's first convolution at the `Avx2` level copying 5-byte
//! rows (`lenet conv1` in bench/benches/quant_conv.rs).
//!
//! `vpdpbusd` is, by level and layer:
//!
//! - `Avx2`, for layers whose weights `vpmaddubsw` is exact on ([`super::super::maddubs_exact`])
//!   in every pairing the kernel makes ([`seven_bit`]):
//!   built from it ([`super::super::vnni::dpbusd_maddubs`]).
//! - `Avx2`, other layers: two `vpmaddwd` of the inputs' and the weights' bytes widened to
//!   `i16`, even bytes and odd bytes ([`dpbusd_widened`]); the weights are widened once per call.
//! - `AvxVnni` (and the AVX-512 VNNI level on a CPU without AVX-512BW): `vpdpbusd` itself, in
//!   AVX-VNNI's encoding or AVX-512VL's.
//!
//! The sums are exact, so the steps are every kernel's. The weights are copied per call into a
//! table on the stack in the form the kernel multiplies (for [`dpbusd_widened`], split into
//! words of two `i16`), which bounds the layers taken ([`available`]).

use super::super::super::Clamp;
use super::{MAX_GROUPS, RowGroups, Shape, row_words as row_words_of, tap_offsets};
use core::arch::x86_64::{
    __m128i, __m256, __m256i, _mm_cvtsi128_si64, _mm_loadl_epi64, _mm_loadu_si128, _mm_packs_epi32,
    _mm_packus_epi16, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpackhi_epi16, _mm_unpacklo_epi8,
    _mm_unpacklo_epi16, _mm256_add_epi32, _mm256_and_si256, _mm256_castsi256_si128,
    _mm256_cvtepi32_ps, _mm256_cvtps_epi32, _mm256_extracti128_si256, _mm256_madd_epi16,
    _mm256_max_ps, _mm256_min_ps, _mm256_mul_ps, _mm256_set_m128i, _mm256_set1_epi16,
    _mm256_set1_epi32, _mm256_set1_ps, _mm256_srli_epi16,
};

/// Positions per block: the lanes of a vector.
const L: usize = 8;
/// Bytes of the weights' table on the stack: 16 KiB.
const TABLE_BYTES: usize = 16_384;

/// Whether a layer of `outputs` output channels and `groups` groups of four taps fits the
/// kernel's buffers, on a CPU whose level runs it (AVX2 or better).
#[inline]
pub(crate) fn available(groups: usize, outputs: usize) -> bool {
    groups <= MAX_GROUPS
        && groups * outputs * core::mem::size_of::<[i32; 2]>() <= TABLE_BYTES
        && super::super::level() >= super::super::QuantLevel::Avx2
}

/// See [`super::forward`], whose checks this relies on: `false`, nothing written, where
/// [`available`] is not.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<const OUT: usize, const G: usize>(
    padded: &[u8],
    shape: Shape,
    weights: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    multipliers: &[f32; OUT],
    zero_point: u8,
    clamp: Clamp,
    maddubs_exact: bool,
    output: &mut [u8],
) -> bool {
    use super::super::QuantLevel;
    if !available(G, OUT) {
        return false;
    }
    let layer = (offsets, multipliers, zero_point, clamp);
    // SAFETY (each arm): `available` found the level, whose features the kernel enables: AVX2
    // for `Avx2`; AVX-VNNI, or AVX-512 VNNI and VL, for the VNNI levels (`vex_vnni` says
    // which); `super::forward` checked the sizes, `available` the table's.
    #[allow(unsafe_code)]
    unsafe {
        match super::super::level() {
            QuantLevel::Portable => return false,
            QuantLevel::Avx2 if maddubs_exact && seven_bit(weights) => {
                maddubs::forward(padded, &shape, weights, layer, output);
            }
            QuantLevel::Avx2 => widened::forward(padded, &shape, weights, layer, output),
            QuantLevel::AvxVnni | QuantLevel::Avx512Vnni if super::super::vex_vnni() => {
                vex::forward(padded, &shape, weights, layer, output);
            }
            QuantLevel::AvxVnni | QuantLevel::Avx512Vnni => {
                evex::forward(padded, &shape, weights, layer, output);
            }
        }
    }
    true
}

/// Whether every weight is within `-64..=64`, so that `vpmaddubsw` is exact on any two of them
/// (`255 * 64 * 2` fits `i16`). `maddubs_exact` checks the pairs of the dense layer's packing
/// (taps `2 k`, `2 k + 1` of the flattened kernel), which the gathered blocks keep; the rows
/// grouping and the channel-lanes kernel pair other taps (rows `4 q` and `4 q + 1` at one
/// column), so they take `vpmaddubsw` only on 7-bit weights, as `WeightRange::Int7` makes them;
/// a layer flagged with larger weights runs the exact widened form. One pass over the weights
/// per call, in vectors (LeNet's second convolution: 2,432 bytes).
pub(in crate::quant::kernel) fn seven_bit<const OUT: usize, const G: usize>(
    weights: &[[[i8; 4]; OUT]; G],
) -> bool {
    weights
        .as_flattened()
        .as_flattened()
        .iter()
        .fold(0, |largest, w| largest.max(w.unsigned_abs()))
        <= 64
}

/// A layer's offsets, multipliers, output zero point and clamp.
pub(in crate::quant::kernel) type Layer<'a, const OUT: usize> =
    (&'a [i32; OUT], &'a [f32; OUT], u8, Clamp);

/// 8 bytes of `bytes` from `at`, which the caller keeps within it, in the low half.
#[target_feature(enable = "avx2")]
#[inline]
fn load8(bytes: &[u8], at: usize) -> __m128i {
    let bytes = &bytes[at..at + L];
    // SAFETY: `bytes` is 8 readable bytes, and `vmovq` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm_loadl_epi64(bytes.as_ptr().cast())
    }
}

/// Four taps' 8 bytes interleaved: lane `j` holds byte `j` of `a`, `b`, `c` and `d`.
///
/// The result passes through an empty `asm!`, so that LLVM cannot see it as two 128-bit halves
/// joined: it then stores such a join into the block as two 128-bit stores, which the
/// kernel's 256-bit load of the block cannot take from the store buffer, and waits: twice the
/// time of LeNet's first convolution with its pool (`lenet conv1` in
/// bench/benches/quant_conv.rs).
#[target_feature(enable = "avx2")]
#[inline]
fn interleave(a: __m128i, b: __m128i, c: __m128i, d: __m128i) -> __m256i {
    let (ab, cd) = (_mm_unpacklo_epi8(a, b), _mm_unpacklo_epi8(c, d));
    let mut v = _mm256_set_m128i(_mm_unpackhi_epi16(ab, cd), _mm_unpacklo_epi16(ab, cd));
    // SAFETY: an empty template: it reads and writes nothing but `v`'s register.
    #[allow(unsafe_code)]
    unsafe {
        core::arch::asm!("/* {v} */", v = inout(ymm_reg) v, options(pure, nomem, nostack, preserves_flags));
    }
    v
}

/// `vpdpbusd acc, x, w` from AVX2, exact for every weight: each lane's even bytes (`x0 w0 + x2
/// w2`) and odd bytes (`x1 w1 + x3 w3`) as `i16` pairs through `vpmaddwd`, whose pairs of
/// products add exactly into `i32`. `w` is the weight word split by [`split_word`].
#[target_feature(enable = "avx2")]
#[inline]
#[allow(clippy::trivially_copy_pass_by_ref)] // a reference into the table: see `direct_256!`
fn dpbusd_widened(acc: __m256i, x: __m256i, w: &[i32; 2]) -> __m256i {
    let even = _mm256_and_si256(x, _mm256_set1_epi16(0xff));
    let odd = _mm256_srli_epi16::<8>(x);
    let even = _mm256_madd_epi16(even, _mm256_set1_epi32(w[0]));
    let odd = _mm256_madd_epi16(odd, _mm256_set1_epi32(w[1]));
    _mm256_add_epi32(acc, _mm256_add_epi32(even, odd))
}

/// A weight's four bytes as two words of two `i16`: bytes 0 and 2, then bytes 1 and 3,
/// sign-extended, as [`dpbusd_widened`] multiplies them.
#[inline]
fn split_word(bytes: [i8; 4]) -> [i32; 2] {
    let pair = |low: i8, high: i8| {
        let widened = |byte: i8| u32::from(i16::from(byte).cast_unsigned());
        (widened(low) | widened(high) << 16).cast_signed()
    };
    [pair(bytes[0], bytes[2]), pair(bytes[1], bytes[3])]
}

/// A weight's four bytes as the `i32` that `vpdpbusd` broadcasts.
#[inline]
fn word(bytes: [i8; 4]) -> i32 {
    i32::from_le_bytes(bytes.map(i8::cast_unsigned))
}

/// A requantisation's zero point and bounds in every lane: the bounds as real values
/// (`clamp.low - zero_point` and `clamp.high - zero_point`, whole numbers), as AVX-512's.
#[derive(Clone, Copy)]
pub(in crate::quant::kernel) struct Bounds {
    zero: __m256i,
    low: __m256,
    high: __m256,
}

impl Bounds {
    /// The bounds of `requantize_step(_, _, zero_point, clamp.low, clamp.high)`.
    #[target_feature(enable = "avx2")]
    #[inline]
    #[allow(clippy::cast_precision_loss)] // within ±255
    pub(in crate::quant::kernel) fn new(zero_point: u8, clamp: Clamp) -> Self {
        let real = |step: u8| (i32::from(step) - i32::from(zero_point)) as f32;
        Self {
            zero: _mm256_set1_epi32(i32::from(zero_point)),
            low: _mm256_set1_ps(real(clamp.low)),
            high: _mm256_set1_ps(real(clamp.high)),
        }
    }
}

/// `requantize_step` of 8 sums, each with its multiplier, as the 8 bytes of a `u64` (lane 0
/// lowest): the product clamped to the bounds, then rounded half to even (`vcvtps2dq` rounds
/// as the default rounding mode, which Rust code runs under), as AVX-512's `requantize_vector`.
#[target_feature(enable = "avx2")]
#[inline]
#[allow(clippy::cast_sign_loss)] // the bytes' bits
pub(in crate::quant::kernel) fn requantize(
    sums: __m256i,
    multipliers: __m256,
    bounds: &Bounds,
) -> u64 {
    let real = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), multipliers);
    let real = _mm256_min_ps(_mm256_max_ps(real, bounds.low), bounds.high);
    let steps = _mm256_add_epi32(_mm256_cvtps_epi32(real), bounds.zero);
    // Within 0..=255, so the packs do not saturate.
    let words = _mm_packs_epi32(
        _mm256_castsi256_si128(steps),
        _mm256_extracti128_si256::<1>(steps),
    );
    _mm_cvtsi128_si64(_mm_packus_epi16(words, words)) as u64
}

/// The first `count <= 8` bytes of `bytes` (lowest first) into `to`: whole stores of 4, 2 and 1
/// bytes, so that a block cut at a row's end is neither a call nor a masked store.
#[inline(always)]
fn store_prefix(to: &mut [u8], bytes: u64, count: usize) {
    let bytes = bytes.to_le_bytes();
    if count >= L {
        to[..L].copy_from_slice(&bytes);
        return;
    }
    let mut at = 0;
    if count & 4 != 0 {
        to[..4].copy_from_slice(&bytes[..4]);
        at = 4;
    }
    if count & 2 != 0 {
        to[at..at + 2].copy_from_slice(&bytes[at..at + 2]);
        at += 2;
    }
    if count & 1 != 0 {
        to[at] = bytes[at];
    }
}

/// Where a block's groups of four taps come from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Gathered from the padded input: tap `t` at `taps[t]` from a position's byte.
    Gathered {
        padded: &'a [u8],
        taps: &'a [usize; 4 * MAX_GROUPS],
    },
    /// The rows grouping ([`RowGroups`]): group `g`'s 8 words at `starts[g]` from a position's
    /// word of `words`, built once per call.
    Rows {
        words: &'a [u32],
        starts: &'a [usize; MAX_GROUPS],
    },
}

/// Words of the rows grouping's sources on the stack: 24 KiB.
const ROW_WORDS: usize = 6144;

/// The rows grouping's sources of words for `shape`, `span` words each (`(OH width + 8)`
/// rounded up to 16: a block's last word from the last position's, at the farthest kernel
/// column), into `words`: source `s` interleaves four byte sequences, its word `i` holding byte
/// `i` of each. A four of input rows is four rows (a four short of rows repeats its first,
/// whose weights are zero); a row left over is its bytes from `0, 1, 2, 3`, so that word `i`
/// holds its bytes `i .. i + 3`. Input row `k` is kernel row `k % KH` of channel `k / KH`.
#[target_feature(enable = "avx2")]
#[inline]
fn build_rows(padded: &[u8], shape: &Shape, rows: &RowGroups, span: usize, words: &mut [u32]) {
    for (source, words) in words.chunks_exact_mut(span).take(rows.sources).enumerate() {
        let from = rows.source_rows(shape, source);
        // The loads end at most at `(channels - 1) plane + (KH - 1) width + 3 + span + 16 <=
        // channels plane + 42`: within the slack.
        for (i, words) in words.as_chunks_mut::<16>().0.iter_mut().enumerate() {
            let at = 16 * i;
            let (a, b) = (load16(padded, from[0] + at), load16(padded, from[1] + at));
            let (c, d) = (load16(padded, from[2] + at), load16(padded, from[3] + at));
            let (ab, cd) = (_mm_unpacklo_epi8(a, b), _mm_unpacklo_epi8(c, d));
            let (ab_high, cd_high) = (_mm_unpackhi_epi8(a, b), _mm_unpackhi_epi8(c, d));
            let quarters = [
                _mm_unpacklo_epi16(ab, cd),
                _mm_unpackhi_epi16(ab, cd),
                _mm_unpacklo_epi16(ab_high, cd_high),
                _mm_unpackhi_epi16(ab_high, cd_high),
            ];
            for (to, v) in words.as_chunks_mut::<4>().0.iter_mut().zip(quarters) {
                // SAFETY: `to` is 4 writable words, and `storeu` accepts any alignment.
                #[allow(unsafe_code)]
                unsafe {
                    _mm_storeu_si128(to.as_mut_ptr().cast(), v);
                }
            }
        }
    }
}

/// 16 bytes of `bytes` from `at`, which the caller keeps within it.
#[target_feature(enable = "avx2")]
#[inline]
pub(in crate::quant::kernel) fn load16(bytes: &[u8], at: usize) -> __m128i {
    let bytes = &bytes[at..at + 16];
    // SAFETY: `bytes` is 16 readable bytes, and `loadu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm_loadu_si128(bytes.as_ptr().cast())
    }
}

/// The 256-bit direct kernel for one form of `vpdpbusd`: `$features` are the target features
/// that provide `$dpbusd`, the sum `$acc` plus `$x`'s bytes times a weight word `$w` (a
/// reference to a `$word`, which `$word_of` makes from the weight's four bytes; read from the
/// table by reference, so that each broadcast is one `vpbroadcastd` from memory).
macro_rules! direct_256 {
    ($(#[$doc:meta])* $name:ident, $features:literal, $word:ty, $word_of:path,
     |$acc:ident, $x:ident, $w:ident| $dpbusd:expr) => {
        $(#[$doc])*
        pub(super) mod $name {
            use super::{
                Bounds, L, Layer, MAX_GROUPS, ROW_WORDS, RowGroups, Shape, Source, build_rows,
                interleave, load8, requantize, row_words_of, store_prefix, tap_offsets,
            };
            use crate::zeroed::filled_prefix;
            use core::mem::MaybeUninit;
            use core::arch::x86_64::{
                __m256i, _mm256_blend_epi32, _mm256_blend_ps, _mm256_loadu_si256, _mm256_max_epi32,
                _mm256_permutevar8x32_epi32, _mm256_set1_epi32, _mm256_set1_ps,
                _mm256_setr_epi32, _mm256_setzero_si256, _mm256_srli_epi64,
            };

            /// Output channels whose sums a block holds at once (8 chains of `vpdpbusd`).
            const CHANNELS: usize = 8;

            /// What every block reads: the layer's weights in `$dpbusd`'s form and its
            /// requantisation.
            struct Kernel<'a, const OUT: usize, const G: usize> {
                words: &'a [[$word; OUT]; G],
                offsets: &'a [i32; OUT],
                multipliers: &'a [f32; OUT],
                bounds: Bounds,
                /// Bytes of an output channel.
                plane: usize,
            }

            /// See [`super::forward`].
            ///
            /// # Safety
            ///
            /// The CPU has `$features`; `shape` passed `Shape::matches` for these sizes.
            #[target_feature(enable = $features)]
            #[inline(never)]
            #[allow(unsafe_code)]
            pub(in crate::quant::kernel::direct) unsafe fn forward<const OUT: usize, const G: usize>(
                padded: &[u8],
                shape: &Shape,
                weights: &[[[i8; 4]; OUT]; G],
                (offsets, multipliers, zero_point, clamp): Layer<'_, OUT>,
                output: &mut [u8],
            ) {
                let [first, end] = shape.outputs;
                // The rows grouping where the taps make as many groups so (LeNet's first
                // convolution) and its words fit: a load per group and block, no shuffles.
                let rows = RowGroups::of(shape.channels, shape.kernel);
                let span = (shape.output[0] * shape.padded[1] + L).next_multiple_of(16);
                let by_rows = rows.groups == G && rows.sources * span <= ROW_WORDS;
                // The weights in `$dpbusd`'s form, in the rows grouping's order where it runs.
                let mut words = [[<$word>::default(); OUT]; G];
                if by_rows {
                    let mut row_words = [[0_i32; OUT]; G];
                    row_words_of(weights, shape, [first, end], &mut row_words);
                    for (words, row) in words.iter_mut().zip(&row_words) {
                        for (word, bits) in words[first..end].iter_mut().zip(&row[first..end]) {
                            *word = $word_of(bits.to_le_bytes().map(u8::cast_signed));
                        }
                    }
                } else {
                    for (words, weights) in words.iter_mut().zip(weights) {
                        for (word, bytes) in words[first..end].iter_mut().zip(&weights[first..end])
                        {
                            *word = $word_of(*bytes);
                        }
                    }
                }
                let kernel = Kernel {
                    words: &words,
                    offsets,
                    multipliers,
                    bounds: Bounds::new(zero_point, clamp),
                    plane: shape.plane(),
                };
                let taps;
                let mut buffer = MaybeUninit::<[u32; ROW_WORDS]>::uninit();
                let mut starts = [0; MAX_GROUPS];
                let source = if by_rows {
                    // SAFETY: `rows.sources * span <= ROW_WORDS`; zeros are valid words.
                    let words = unsafe { filled_prefix(&mut buffer, rows.sources * span, 0) };
                    build_rows(padded, shape, &rows, span, words);
                    let mut g = 0;
                    rows.each(shape.kernel[1], |source, column, _| {
                        starts[g] = source * span + column;
                        g += 1;
                    });
                    Source::Rows {
                        words,
                        starts: &starts,
                    }
                } else {
                    taps = tap_offsets(shape);
                    Source::Gathered {
                        padded,
                        taps: &taps,
                    }
                };
                if shape.pooled {
                    blocks_pooled(&source, shape, &kernel, output);
                } else {
                    blocks(&source, shape, &kernel, output);
                }
            }

            /// The groups of the block of 8 positions from the one at `first` (`y * width +
            /// x` in the padded input's numbering) into `block`.
            #[target_feature(enable = $features)]
            #[inline]
            fn load_block<const G: usize>(
                source: &Source<'_>,
                first: usize,
                block: &mut [__m256i; G],
            ) {
                match *source {
                    Source::Gathered { padded, taps } => {
                        for (v, at) in block.iter_mut().zip(taps.as_chunks::<4>().0) {
                            *v = interleave(
                                load8(padded, first + at[0]),
                                load8(padded, first + at[1]),
                                load8(padded, first + at[2]),
                                load8(padded, first + at[3]),
                            );
                        }
                    }
                    Source::Rows { words, starts } => {
                        for (v, start) in block.iter_mut().zip(starts) {
                            let words = &words[start + first..start + first + L];
                            // SAFETY: 8 readable words; `loadu` accepts any alignment.
                            #[allow(unsafe_code)]
                            unsafe {
                                *v = _mm256_loadu_si256(words.as_ptr().cast());
                            }
                        }
                    }
                }
            }

            /// Output channels `shape.outputs` in runs of at most `$most`, each through
            /// `$run::<C, OUT, G>(kernel, block, o, to, count)` with `to` the output from run
            /// `o`'s plane at `at`.
            macro_rules! each_run {
                ($run:ident, $most:ident, $shape:expr, $kernel:expr, $block:expr, $at:expr,
                 $count:expr, $output:expr) => {{
                    let [mut o, end] = $shape.outputs;
                    while o < end {
                        let to = &mut $output[o * $kernel.plane + $at..];
                        match (end - o).min($most) {
                            1 => $run::<1, OUT, G>($kernel, $block, o, to, $count),
                            2 => $run::<2, OUT, G>($kernel, $block, o, to, $count),
                            3 => $run::<3, OUT, G>($kernel, $block, o, to, $count),
                            4 => $run::<4, OUT, G>($kernel, $block, o, to, $count),
                            5 => $run::<5, OUT, G>($kernel, $block, o, to, $count),
                            6 => $run::<6, OUT, G>($kernel, $block, o, to, $count),
                            7 => $run::<7, OUT, G>($kernel, $block, o, to, $count),
                            _ => $run::<8, OUT, G>($kernel, $block, o, to, $count),
                        }
                        o += $most;
                    }
                }};
            }

            /// Every block of 8 neighbouring positions of each output row: its groups, then
            /// its output channels' steps.
            #[target_feature(enable = $features)]
            #[inline(never)]
            fn blocks<const OUT: usize, const G: usize>(
                source: &Source<'_>,
                shape: &Shape,
                kernel: &Kernel<'_, OUT, G>,
                output: &mut [u8],
            ) {
                let width = shape.padded[1];
                let [output_height, output_width] = shape.output;
                let mut block = [_mm256_setzero_si256(); G];
                for y in 0..output_height {
                    let mut x = 0;
                    while x < output_width {
                        load_block(source, y * width + x, &mut block);
                        let at = y * output_width + x;
                        let count = L.min(output_width - x);
                        each_run!(channels, CHANNELS, shape, kernel, &block, at, count, output);
                        x += L;
                    }
                }
            }

            /// The sums of output channels `o .. o + C` over a block's groups.
            #[target_feature(enable = $features)]
            #[inline]
            fn sums<const C: usize, const OUT: usize, const G: usize>(
                kernel: &Kernel<'_, OUT, G>,
                block: &[__m256i; G],
                o: usize,
            ) -> [__m256i; C] {
                let mut sums: [__m256i; C] =
                    core::array::from_fn(|c| _mm256_set1_epi32(kernel.offsets[o + c]));
                for (x, words) in block.iter().zip(kernel.words) {
                    for (sum, word) in sums.iter_mut().zip(&words[o..o + C]) {
                        let ($acc, $x, $w) = (*sum, *x, word);
                        *sum = $dpbusd;
                    }
                }
                sums
            }

            /// Output channels `o .. o + C` of a block: their sums, requantised, the first
            /// `count` of each channel's 8 steps stored from `to` (a plane apart).
            #[target_feature(enable = $features)]
            #[inline]
            fn channels<const C: usize, const OUT: usize, const G: usize>(
                kernel: &Kernel<'_, OUT, G>,
                block: &[__m256i; G],
                o: usize,
                to: &mut [u8],
                count: usize,
            ) {
                for (c, sum) in sums::<C, OUT, G>(kernel, block, o).into_iter().enumerate() {
                    let multipliers = _mm256_set1_ps(kernel.multipliers[o + c]);
                    let bytes = requantize(sum, multipliers, &kernel.bounds);
                    store_prefix(&mut to[c * kernel.plane..], bytes, count);
                }
            }

            /// [`blocks`] of a pooled shape: the blocks of output rows `2 y` and `2 y + 1` at
            /// once, each channel's two rows of sums reduced to the maxima of their 2x2
            /// windows, which are requantised and stored (an odd last row, outside every
            /// window, is not computed; an odd last column is a lane of its block, never
            /// stored).
            #[target_feature(enable = $features)]
            #[inline(never)]
            fn blocks_pooled<const OUT: usize, const G: usize>(
                source: &Source<'_>,
                shape: &Shape,
                kernel: &Kernel<'_, OUT, G>,
                output: &mut [u8],
            ) {
                let width = shape.padded[1];
                let [output_height, output_width] = shape.output;
                let pooled_width = output_width / 2;
                let mut block = [[_mm256_setzero_si256(); G]; 2];
                for y in 0..output_height / 2 {
                    let mut x = 0;
                    // Blocks start at even columns, so that windows do not straddle them.
                    while x + 1 < output_width {
                        for (row, groups) in block.iter_mut().enumerate() {
                            load_block(source, (2 * y + row) * width + x, groups);
                        }
                        let at = y * pooled_width + x / 2;
                        let count = L.min(output_width - x) / 2;
                        each_run!(
                            pooled, CHANNELS, shape, kernel, &block, at, count, output
                        );
                        x += L;
                    }
                }
            }

            /// Output channels `o .. o + C` of two rows' blocks: their sums, the maximum of
            /// each 2x2 window (lanes `2 k`, `2 k + 1` of both rows), requantised two channels
            /// to a vector, and the first `count <= 4` of each channel's 4 steps stored from
            /// `to` (a plane apart).
            #[target_feature(enable = $features)]
            #[inline]
            fn pooled<const C: usize, const OUT: usize, const G: usize>(
                kernel: &Kernel<'_, OUT, G>,
                block: &[[__m256i; G]; 2],
                o: usize,
                to: &mut [u8],
                count: usize,
            ) {
                // Row by row: both rows' sums at once would not fit the registers.
                let sums = [
                    sums::<C, OUT, G>(kernel, &block[0], o),
                    sums::<C, OUT, G>(kernel, &block[1], o),
                ];
                // Each channel's 4 windows in lanes 0..4: the rows' maximum, then each pair of
                // lanes' (the odd lane shifted onto the even one), the even lanes gathered.
                let even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
                let windows: [__m256i; C] = core::array::from_fn(|c| {
                    let rows = _mm256_max_epi32(sums[0][c], sums[1][c]);
                    let pairs = _mm256_max_epi32(rows, _mm256_srli_epi64::<32>(rows));
                    _mm256_permutevar8x32_epi32(pairs, even)
                });
                let mut c = 0;
                while c < C {
                    let next = (c + 1).min(C - 1);
                    let both = _mm256_blend_epi32::<0xf0>(windows[c], windows[next]);
                    let multipliers = _mm256_blend_ps::<0xf0>(
                        _mm256_set1_ps(kernel.multipliers[o + c]),
                        _mm256_set1_ps(kernel.multipliers[o + next]),
                    );
                    let bytes = requantize(both, multipliers, &kernel.bounds);
                    store_prefix(&mut to[c * kernel.plane..], bytes, count);
                    if next > c {
                        store_prefix(&mut to[next * kernel.plane..], bytes >> 32, count);
                    }
                    c += 2;
                }
            }
        }
    };
}

direct_256!(
    /// AVX2's `vpmaddubsw`, for layers whose weights it is exact on.
    maddubs,
    "avx2",
    i32,
    super::word,
    |acc, x, w| super::super::super::vnni::dpbusd_maddubs(acc, x, _mm256_set1_epi32(*w))
);
direct_256!(
    /// AVX2's `vpmaddwd` on bytes widened to `i16`, for any weights.
    widened,
    "avx2",
    [i32; 2],
    super::split_word,
    |acc, x, w| super::dpbusd_widened(acc, x, w)
);
direct_256!(
    /// AVX-VNNI's `vpdpbusd` (VEX-encoded).
    vex,
    "avx2,avxvnni",
    i32,
    super::word,
    |acc, x, w| core::arch::x86_64::_mm256_dpbusd_avx_epi32(acc, x, _mm256_set1_epi32(*w))
);
direct_256!(
    /// AVX-512 VNNI's `vpdpbusd` on 256 bits (EVEX-encoded, AVX-512VL).
    evex,
    "avx2,avx512f,avx512vl,avx512vnni",
    i32,
    super::word,
    |acc, x, w| core::arch::x86_64::_mm256_dpbusd_epi32(acc, x, _mm256_set1_epi32(*w))
);
