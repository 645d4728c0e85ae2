//! [`super`]'s kernel on 256 bits, for the levels below AVX-512 VNNI: 8 output channels are the
//! lanes of a vector, each position's word of four input rows a broadcast from memory. The
//! 256-bit direct kernel's lanes are 8 neighbouring positions, which narrow planes leave partly
//! empty: LeNet's second convolution (6 -> 16 channels, rows of 10 positions) fills 10 of each
//! row's 16 lanes there. [`cheaper`] decides, layer by layer.
//!
//! The input's rows are interleaved once per call into words of four rows' bytes (for
//! `vpdpbusd` and `vpmaddubsw`), or, for two `vpmaddwd` on widened bytes (the `Avx2` level's
//! exact form for any weights), into two tables of `i16` pairs: rows `4 q` and `4 q + 2`, rows
//! `4 q + 1` and `4 q + 3`. The weights are repacked per call in the same form, 8 channels a
//! vector. Each row's sums (two blocks of 8 channels at a time) go to a buffer, from which the
//! steps (or 2x2 windows' maxima, requantised once) are stored channel by channel. The sums are
//! exact, so the steps are every kernel's.

use super::super::direct::Shape;
use super::super::direct::v256::{Bounds, Layer, load16, requantize, seven_bit};
use core::arch::x86_64::{
    __m128i, __m256i, _mm_setzero_si128, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpackhi_epi16,
    _mm_unpacklo_epi8, _mm_unpacklo_epi16, _mm256_and_si256, _mm256_loadu_si256, _mm256_or_si256,
    _mm256_set1_epi32, _mm256_setzero_si256, _mm256_slli_epi32, _mm256_sllv_epi32,
    _mm256_srai_epi32,
};

/// Lanes of a vector: output channels.
const L: usize = 8;
/// `u32` words of the interleaved input on the stack: 24 KiB.
const WORDS: usize = 6144;
/// Weight vectors of the repacked table on the stack: 16 KiB.
const TABLE: usize = 512;
/// Positions of an output row the sums buffer holds.
const MAX_WIDTH: usize = 32;
/// Blocks of 8 output channels whose sums a chunk holds at once.
const BLOCKS: usize = 2;
/// Positions a chunk's sums hold at once (`BLOCKS` of them each): 8 accumulators.
const POSITIONS: usize = 4;

/// The kernel's sizes for `shape`: fours of input rows, words of each four (a multiple of 16),
/// and groups (a four by a kernel column).
fn sizes(shape: &Shape) -> [usize; 3] {
    let quads = (shape.channels * shape.kernel[0]).div_ceil(4);
    let span = (shape.output[0] * shape.padded[1]).next_multiple_of(16);
    [quads, span, quads * shape.kernel[1]]
}

/// Whether the kernel fits its buffers for `shape` (with `tables` tables of words) and runs
/// fewer multiplying instructions than the 256-bit direct kernel with `groups` groups of four
/// taps: one per block of 8 neighbouring positions, group and output channel there, one per
/// position, group and block of 8 output channels here.
pub(crate) fn cheaper(shape: &Shape, groups: usize) -> bool {
    let [_, _, own_groups] = sizes(shape);
    let outputs = shape.outputs[1] - shape.outputs[0];
    let [output_height, output_width] = shape.output;
    let direct = output_height * output_width.div_ceil(L) * groups * outputs;
    let lanes = output_height * output_width * own_groups * outputs.div_ceil(L);
    fits(shape) && lanes < direct
}

/// Whether `shape`'s interleaved input, repacked weights and rows of sums fit the kernel's
/// buffers (two tables of words, which the widened form needs, and two rows).
pub(crate) fn fits(shape: &Shape) -> bool {
    let [quads, span, own_groups] = sizes(shape);
    let outputs = shape.outputs[1] - shape.outputs[0];
    2 * quads * span <= WORDS
        && 2 * own_groups * outputs.div_ceil(L) <= TABLE
        && shape.output[1] <= MAX_WIDTH
        && outputs > 0
}

/// `shape`'s steps as [`super::super::direct::forward`] computes them, with its arguments;
/// `false` (nothing written) where [`cheaper`] refuses `shape`'s sizes or the level is below
/// AVX2.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<const OUT: usize, const G: usize>(
    padded: &[u8],
    shape: Shape,
    weights: &[[[i8; 4]; OUT]; G],
    layer: Layer<'_, OUT>,
    maddubs_exact: bool,
    output: &mut [u8],
) -> bool {
    use super::super::QuantLevel;
    if !shape.matches(G, OUT, padded.len(), output.len()) || !cheaper(&shape, G) {
        return false;
    }
    // SAFETY (each arm): the level's features, which each kernel enables (AVX2; AVX-VNNI, or
    // AVX-512 VNNI and VL, for the VNNI levels, `vex_vnni` saying which); `matches` and
    // `cheaper` checked the sizes.
    #[allow(unsafe_code)]
    unsafe {
        match super::super::level() {
            QuantLevel::Portable => return false,
            // Its pairs of taps are not the dense packing's: see `seven_bit`.
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

/// Stores `v` as words `at .. at + 4` of `words`.
#[target_feature(enable = "avx2")]
#[inline]
fn store4(words: &mut [u32], at: usize, v: __m128i) {
    let words = &mut words[at..at + 4];
    // SAFETY: `words` is 16 writable bytes, and `storeu` accepts any alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm_storeu_si128(words.as_mut_ptr().cast(), v);
    }
}

/// The interleaved input: `tables` tables of `quads` fours of `span` words. Input row `k` is
/// kernel row `k % KH` of channel `k / KH`, from each output row; a four short of rows repeats
/// its first (whose weights there are zero). With one table, word `i` of four `q` holds byte
/// `i` of rows `4 q .. 4 q + 3`; with two, the first table's word holds rows `4 q` and `4 q +
/// 2`'s bytes as `u16`, the second's rows `4 q + 1` and `4 q + 3`'s.
#[target_feature(enable = "avx2")]
#[inline]
fn build_words(padded: &[u8], shape: &Shape, tables: usize, words: &mut [u32]) {
    let [quads, span, _] = sizes(shape);
    let zero = _mm_setzero_si128();
    for quad in 0..quads {
        let from = shape.quad_rows(quad);
        // The last load ends at `(channels - 1) plane + (KH - 1) width + span + 16 <= channels
        // plane + 31` (`span < OH width + 16`, `OH + KH - 1` rows a plane): within the slack.
        for i in (0..span).step_by(16) {
            let (a, b) = (load16(padded, from[0] + i), load16(padded, from[1] + i));
            let (c, d) = (load16(padded, from[2] + i), load16(padded, from[3] + i));
            let at = quad * span + i;
            if tables == 1 {
                let (ab, cd) = (_mm_unpacklo_epi8(a, b), _mm_unpacklo_epi8(c, d));
                store4(words, at, _mm_unpacklo_epi16(ab, cd));
                store4(words, at + 4, _mm_unpackhi_epi16(ab, cd));
                let (ab, cd) = (_mm_unpackhi_epi8(a, b), _mm_unpackhi_epi8(c, d));
                store4(words, at + 8, _mm_unpacklo_epi16(ab, cd));
                store4(words, at + 12, _mm_unpackhi_epi16(ab, cd));
            } else {
                let odd = quads * span;
                for (table, (x, y)) in [(0, (a, c)), (odd, (b, d))] {
                    let (x_low, y_low) = (_mm_unpacklo_epi8(x, zero), _mm_unpacklo_epi8(y, zero));
                    store4(words, table + at, _mm_unpacklo_epi16(x_low, y_low));
                    store4(words, table + at + 4, _mm_unpackhi_epi16(x_low, y_low));
                    let (x_high, y_high) = (_mm_unpackhi_epi8(x, zero), _mm_unpackhi_epi8(y, zero));
                    store4(words, table + at + 8, _mm_unpacklo_epi16(x_high, y_high));
                    store4(words, table + at + 12, _mm_unpackhi_epi16(x_high, y_high));
                }
            }
        }
    }
}

/// The weights of tap `tap` (of the flattened kernel; none past `taps`) for output channels
/// `channel .. channel + 8`, sign-extended to `i32` (0 for channels from `OUT`).
#[target_feature(enable = "avx2")]
#[inline]
fn tap_weights<const OUT: usize, const G: usize>(
    weights: &[[[i8; 4]; OUT]; G],
    tap: Option<usize>,
    channel: usize,
) -> __m256i {
    let Some(tap) = tap else {
        return _mm256_setzero_si256();
    };
    let group = &weights[tap / 4];
    let mut copy = [[0_i8; 4]; L];
    let words = if channel + L <= OUT {
        &group[channel..channel + L]
    } else {
        copy[..OUT - channel].copy_from_slice(&group[channel..]);
        &copy[..]
    };
    // SAFETY: `words` is 8 words, 32 readable bytes; `loadu` accepts any alignment.
    #[allow(unsafe_code)]
    let v = unsafe { _mm256_loadu_si256(words.as_ptr().cast()) };
    // Byte `tap % 4` of each word to the top, then back with its sign.
    #[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)] // 0..=24
    let shift = _mm256_set1_epi32((24 - 8 * (tap % 4)) as i32);
    _mm256_srai_epi32::<24>(_mm256_sllv_epi32(v, shift))
}

/// The weights of output channels `channel .. channel + 8` for the group of four `quad` and
/// kernel column `column`: one vector of four-byte words (`tables == 1`), or two of `i16`
/// pairs (taps of rows `4 q`, `4 q + 2`; rows `4 q + 1`, `4 q + 3`).
#[target_feature(enable = "avx2")]
#[inline]
fn repack<const OUT: usize, const G: usize>(
    weights: &[[[i8; 4]; OUT]; G],
    shape: &Shape,
    [quad, column, channel]: [usize; 3],
    tables: usize,
) -> [__m256i; 2] {
    let [kernel_height, kernel_width] = shape.kernel;
    let rows = shape.channels * kernel_height;
    // Written out, not in closures, which do not take the target features and so are calls.
    let tap = |j: usize| {
        let row = 4 * quad + j;
        (row < rows).then_some(row * kernel_width + column)
    };
    let w0 = tap_weights(weights, tap(0), channel);
    let w1 = tap_weights(weights, tap(1), channel);
    let w2 = tap_weights(weights, tap(2), channel);
    let w3 = tap_weights(weights, tap(3), channel);
    if tables == 1 {
        let byte = |w: __m256i| _mm256_and_si256(w, _mm256_set1_epi32(0xff));
        let v = _mm256_or_si256(
            _mm256_or_si256(byte(w0), _mm256_slli_epi32::<8>(byte(w1))),
            _mm256_or_si256(
                _mm256_slli_epi32::<16>(byte(w2)),
                _mm256_slli_epi32::<24>(w3),
            ),
        );
        [v, _mm256_setzero_si256()]
    } else {
        let pair = |low: __m256i, high: __m256i| {
            _mm256_or_si256(
                _mm256_and_si256(low, _mm256_set1_epi32(0xffff)),
                _mm256_slli_epi32::<16>(high),
            )
        };
        [pair(w0, w2), pair(w1, w3)]
    }
}

/// The channel-lanes kernel for one form of the products: `$features` enable `$dot`, the sum
/// `$acc` plus the broadcast input word `$x` times the weight vector `$w`, summed over
/// `$tables` tables of words and weights.
macro_rules! channel_lanes_256 {
    ($(#[$doc:meta])* $name:ident, $features:literal, $tables:literal,
     |$acc:ident, $x:ident, $w:ident| $dot:expr) => {
        $(#[$doc])*
        pub(in crate::quant::kernel) mod $name {
            use super::{
                BLOCKS, Bounds, L, Layer, MAX_WIDTH, POSITIONS, Shape, TABLE, WORDS, build_words,
                repack, requantize, sizes,
            };
            use crate::zeroed::filled_prefix;
            #[allow(unused_imports)]
            use core::arch::x86_64::{
                __m256, __m256i, _mm256_add_epi32, _mm256_castps_si256, _mm256_madd_epi16,
                _mm256_maddubs_epi16, _mm256_max_epi32, _mm256_set1_epi16, _mm256_set1_epi32,
                _mm256_setzero_si256, _mm256_loadu_ps, _mm256_loadu_si256,
            };
            use core::mem::MaybeUninit;

            /// Tables of words and weights.
            const TABLES: usize = $tables;

            /// What the sums of a block pair read.
            struct Lanes<'a> {
                /// The interleaved input, `TABLES` tables of `quads span` words.
                words: &'a [u32],
                /// Words between the tables.
                table: usize,
                /// Group `g`'s word from a position's: four `g / KW`, column `g % KW`.
                starts: &'a [usize],
                /// The weights, `[block][group][table]`.
                weights: &'a [[__m256i; 2]],
                groups: usize,
            }

            /// See [`super::forward`].
            ///
            /// # Safety
            ///
            /// The CPU has `$features`; `shape` passed `Shape::matches` and [`super::fits`]
            /// for these sizes.
            #[target_feature(enable = $features)]
            #[inline(never)]
            #[allow(unsafe_code, clippy::too_many_lines)]
            pub(in crate::quant::kernel) unsafe fn forward<
                const OUT: usize,
                const G: usize,
            >(
                padded: &[u8],
                shape: &Shape,
                weights: &[[[i8; 4]; OUT]; G],
                (offsets, multipliers, zero_point, clamp): Layer<'_, OUT>,
                output: &mut [u8],
            ) {
                let [quads, span, groups] = sizes(shape);
                let [first, end] = shape.outputs;
                let blocks = (end - first).div_ceil(L);
                let width = shape.padded[1];
                let kernel_width = shape.kernel[1];
                // Only the parts used are set: the whole buffers are 40 KiB.
                let mut words = MaybeUninit::<[u32; WORDS]>::uninit();
                let mut table = MaybeUninit::<[[__m256i; 2]; TABLE / 2]>::uninit();
                let mut sums = MaybeUninit::<[[__m256i; BLOCKS]; 2 * MAX_WIDTH]>::uninit();
                let rows = if shape.pooled { 2 } else { 1 };
                let [output_height, output_width] = shape.output;
                // SAFETY: `cheaper` bounded the lengths by the buffers'; zeros are valid words
                // and vectors.
                let (words, table, sums) = unsafe {
                    (
                        filled_prefix(&mut words, TABLES * quads * span, 0),
                        filled_prefix(&mut table, blocks * groups, 0),
                        filled_prefix(&mut sums, rows * output_width, 0),
                    )
                };
                build_words(padded, shape, TABLES, words);
                for (b, groups) in table.chunks_exact_mut(groups).enumerate() {
                    for (quad, columns) in groups.chunks_exact_mut(kernel_width).enumerate() {
                        for (column, to) in columns.iter_mut().enumerate() {
                            *to = repack(weights, shape, [quad, column, first + L * b], TABLES);
                        }
                    }
                }
                let mut starts = [0; TABLE];
                for (quad, starts) in starts[..groups].chunks_exact_mut(kernel_width).enumerate() {
                    for (column, start) in starts.iter_mut().enumerate() {
                        *start = quad * span + column;
                    }
                }
                let lanes = Lanes {
                    words,
                    table: quads * span,
                    starts: &starts[..groups],
                    weights: table,
                    groups,
                };
                // Each block's offsets and multipliers, 0 past the layer's channels.
                let block_of = |b: usize| {
                    let mut offset = [0_i32; L];
                    let mut multiplier = [0_f32; L];
                    for (lane, o) in (first + L * b..end.min(first + L * b + L)).enumerate() {
                        offset[lane] = offsets[o];
                        multiplier[lane] = multipliers[o];
                    }
                    // SAFETY: 8 readable values each; `loadu` accepts any alignment.
                    unsafe {
                        (
                            _mm256_loadu_si256(offset.as_ptr().cast()),
                            _mm256_loadu_ps(multiplier.as_ptr()),
                        )
                    }
                };
                let bounds = Bounds::new(zero_point, clamp);
                let plane = shape.plane();
                let mut b = 0;
                while b < blocks {
                    let pair = BLOCKS.min(blocks - b);
                    let parts: [(__m256i, __m256); BLOCKS] =
                        core::array::from_fn(|k| block_of((b + k).min(blocks - 1)));
                    let mut y = 0;
                    while y + rows <= output_height {
                        for (r, sums) in sums.chunks_exact_mut(output_width).enumerate() {
                            let from = (y + r) * width;
                            lanes.row(from, output_width, b, pair, &parts, sums);
                        }
                        for (k, &(_, multipliers)) in parts.iter().enumerate().take(pair) {
                            let channel = first + L * (b + k);
                            let count = L.min(end - channel);
                            let to = &mut output[channel * plane..];
                            if shape.pooled {
                                let pooled_width = output_width / 2;
                                let (top, bottom) = sums.split_at(output_width);
                                for x in 0..pooled_width {
                                    let window = _mm256_max_epi32(
                                        _mm256_max_epi32(top[2 * x][k], top[2 * x + 1][k]),
                                        _mm256_max_epi32(bottom[2 * x][k], bottom[2 * x + 1][k]),
                                    );
                                    let bytes = requantize(window, multipliers, &bounds);
                                    let at = y / 2 * pooled_width + x;
                                    scatter(to, plane, at, bytes, count);
                                }
                            } else {
                                for (x, sums) in sums.iter().enumerate() {
                                    let bytes = requantize(sums[k], multipliers, &bounds);
                                    scatter(to, plane, y * output_width + x, bytes, count);
                                }
                            }
                        }
                        y += rows;
                    }
                    b += BLOCKS;
                }
            }

            /// Byte `c` of `bytes` (lowest first) to `to[c plane + at]` for `c < count`.
            #[inline(always)]
            fn scatter(to: &mut [u8], plane: usize, at: usize, bytes: u64, count: usize) {
                for (c, byte) in bytes.to_le_bytes().into_iter().enumerate().take(count) {
                    to[c * plane + at] = byte;
                }
            }

            impl Lanes<'_> {
                /// The sums of blocks `b .. b + pair` (`parts` their offsets) at the `width`
                /// positions of the output row whose first word is `from`, into `sums`.
                #[target_feature(enable = $features)]
                #[inline]
                fn row(
                    &self,
                    from: usize,
                    width: usize,
                    b: usize,
                    pair: usize,
                    parts: &[(__m256i, __m256); BLOCKS],
                    sums: &mut [[__m256i; BLOCKS]],
                ) {
                    let mut x = 0;
                    while x < width {
                        let at = from + x;
                        let to = &mut sums[x..];
                        match (width - x, pair) {
                            (1, 1) => self.chunk::<1, 1>(at, b, parts, to),
                            (2, 1) => self.chunk::<2, 1>(at, b, parts, to),
                            (3, 1) => self.chunk::<3, 1>(at, b, parts, to),
                            (_, 1) => self.chunk::<POSITIONS, 1>(at, b, parts, to),
                            (1, _) => self.chunk::<1, BLOCKS>(at, b, parts, to),
                            (2, _) => self.chunk::<2, BLOCKS>(at, b, parts, to),
                            (3, _) => self.chunk::<3, BLOCKS>(at, b, parts, to),
                            _ => self.chunk::<POSITIONS, BLOCKS>(at, b, parts, to),
                        }
                        x += POSITIONS;
                    }
                }

                /// The sums of `P` positions from word `at` for blocks `b .. b + B` into
                /// `to[..P]`.
                #[target_feature(enable = $features)]
                #[inline]
                fn chunk<const P: usize, const B: usize>(
                    &self,
                    at: usize,
                    b: usize,
                    parts: &[(__m256i, __m256); BLOCKS],
                    to: &mut [[__m256i; BLOCKS]],
                ) {
                    let mut acc: [[__m256i; B]; P] =
                        [core::array::from_fn(|k| parts[k].0); P];
                    for (g, &start) in self.starts.iter().enumerate() {
                        let weights: [&[__m256i; 2]; B] =
                            core::array::from_fn(|k| &self.weights[(b + k) * self.groups + g]);
                        // Each table's `P` words of the group, checked once rather than word
                        // by word (`lenet conv2` in bench/benches/quant_conv.rs).
                        let words: [&[u32; P]; TABLES] = core::array::from_fn(|t| {
                            self.words[t * self.table + at + start..]
                                .first_chunk::<P>()
                                .expect("a group's words lie in their table")
                        });
                        for (p, acc) in acc.iter_mut().enumerate() {
                            for (t, words) in words.iter().enumerate() {
                                let word = words[p];
                                #[allow(clippy::cast_possible_wrap)] // the bits
                                let $x = _mm256_set1_epi32(word as i32);
                                for (sum, w) in acc.iter_mut().zip(&weights) {
                                    let ($acc, $w) = (*sum, w[t]);
                                    *sum = $dot;
                                }
                            }
                        }
                    }
                    for (to, acc) in to.iter_mut().zip(acc) {
                        to[..B].copy_from_slice(&acc);
                    }
                }
            }
        }
    };
}

channel_lanes_256!(
    /// AVX2's `vpmaddubsw`, for layers whose weights it is exact on.
    maddubs,
    "avx2",
    1,
    |acc, x, w| _mm256_add_epi32(
        acc,
        _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), _mm256_set1_epi16(1))
    )
);
channel_lanes_256!(
    /// AVX2's `vpmaddwd` on `i16` pairs, for any weights.
    widened,
    "avx2",
    2,
    |acc, x, w| _mm256_add_epi32(acc, _mm256_madd_epi16(x, w))
);
channel_lanes_256!(
    /// AVX-VNNI's `vpdpbusd` (VEX-encoded).
    vex,
    "avx2,avxvnni",
    1,
    |acc, x, w| core::arch::x86_64::_mm256_dpbusd_avx_epi32(acc, x, w)
);
channel_lanes_256!(
    /// AVX-512 VNNI's `vpdpbusd` on 256 bits (EVEX-encoded, AVX-512VL).
    evex,
    "avx2,avx512f,avx512vl,avx512vnni",
    1,
    |acc, x, w| core::arch::x86_64::_mm256_dpbusd_epi32(acc, x, w)
);
