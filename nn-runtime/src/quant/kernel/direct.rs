//! int8 convolutions of stride 1 without gathering windows: 16 neighbouring output positions are
//! the 16 lanes of a `vpdpbusd`, each weight a broadcast.
//!
//! For one tap of the kernel, 16 neighbouring positions read 16 neighbouring input bytes: one
//! load. Four taps' loads, interleaved byte by byte (two rounds of unpacking), are the four
//! inputs that each lane of a `vpdpbusd` multiplies by four weights, so a group of four taps
//! costs 4 loads and a few shuffles for 16 positions, then one `vpdpbusd` per output channel.
//! The sums of a channel's 16 positions are requantised together and stored as 16 contiguous
//! bytes of its plane. The im2col route (windows gathered into rows for the dense kernel) spent
//! most of LeNet's int8 time copying 5-byte rows and writing sums channel by channel (`lenet`
//! in bench/benches/quant_conv.rs).
//!
//! Where a layer's taps make as many groups by fours of input rows as in their own order (a
//! first layer of one channel), the groups' words are built once per call instead and each
//! block's groups are loads (`Rows`).
//!
//! That is the AVX-512 VNNI level's kernel (`avx512`). The levels below run the same on 256 bits,
//! 8 positions a vector, the rows grouping included (`v256`).
//!
//! The input comes padded (at its zero point) in a buffer with [`SLACK`] bytes after it: the
//! last positions of a row load past its end, into the next row or the slack, for lanes beyond
//! the output's width, whose results are never stored. The sums are exact, so they are those of
//! the dense kernels; the requantisation is `requantize_step`'s: the same steps at every level.

use super::super::Clamp;
use super::tables::Tables;

#[cfg(target_arch = "x86_64")]
pub(crate) mod v256;

/// Bytes after the padded input that the kernel may read (never use).
pub(crate) const SLACK: usize = 64;
/// The most groups of four taps (`IN * KH * KW / 4`, rounded up) the kernels hold for a block
/// of positions: a vector each (64 bytes at AVX-512, 32 below), on the stack.
#[cfg(target_arch = "x86_64")]
pub(crate) const MAX_GROUPS: usize = 64;

/// The sizes of a direct convolution, all plain values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    /// Input channels.
    pub channels: usize,
    /// The padded input's `[height, width]`.
    pub padded: [usize; 2],
    /// The kernel's `[height, width]`.
    pub kernel: [usize; 2],
    /// The output's `[height, width]`.
    pub output: [usize; 2],
    /// The output channels computed, `outputs[0]..outputs[1]`, from the `channels` planes of
    /// the input: all of them, or a grouped convolution's group.
    pub outputs: [usize; 2],
    /// Whether the steps stored are those of 2x2 max windows of stride 2 (`nn.MaxPool2d(2)`),
    /// planes of `[output[0] / 2, output[1] / 2]`: the maximum of four positions' sums,
    /// requantised once, which is the maximum of their steps (the requantisation is
    /// monotone), for a quarter of the requantisations and no pass over the unpooled steps.
    pub pooled: bool,
}

impl Shape {
    /// Where input row `k` starts in the padded input: kernel row `k % KH` of channel `k /
    /// KH`, the rows that the kernels' groups of four taps are made of.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    pub(crate) fn row_start(&self, k: usize) -> usize {
        let [height, width] = self.padded;
        let kernel_height = self.kernel[0];
        k / kernel_height * height * width + k % kernel_height * width
    }

    /// Where input rows `4 quad .. 4 quad + 3` start ([`Shape::row_start`]); a four short of
    /// rows repeats its first, whose weights there are zero.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    pub(crate) fn quad_rows(&self, quad: usize) -> [usize; 4] {
        let rows = self.channels * self.kernel[0];
        core::array::from_fn(|j| {
            let k = 4 * quad + j;
            self.row_start(if k < rows { k } else { 4 * quad })
        })
    }

    /// Steps stored per output channel: the output's, or the pooled output's.
    pub(crate) fn plane(&self) -> usize {
        let [height, width] = self.output;
        if self.pooled {
            (height / 2) * (width / 2)
        } else {
            height * width
        }
    }

    /// Whether a padded input of `padded` bytes, an output of `output` bytes and a layer of
    /// `outputs` output channels and `groups` groups of four taps are this shape's: the sizes
    /// every direct kernel's loads and stores rely on (`padded` with [`SLACK`] bytes after the
    /// planes, every output plane, a kernel within the padded input).
    pub(crate) fn matches(
        &self,
        groups: usize,
        outputs: usize,
        padded: usize,
        output: usize,
    ) -> bool {
        let [height, width] = self.padded;
        // Checked: sizes whose products overflow are not this shape's (a wrapped product
        // would pass the comparisons below).
        let product = |a: usize, b: usize, c: usize| a.checked_mul(b)?.checked_mul(c);
        let (Some(taps), Some(planes), Some(_)) = (
            product(self.channels, self.kernel[0], self.kernel[1]),
            product(self.channels, height, width),
            product(1, self.output[0], self.output[1]),
        ) else {
            return false;
        };
        let Some(planes_out) = outputs.checked_mul(self.plane()) else {
            return false;
        };
        groups == taps.div_ceil(4)
            && padded >= planes.saturating_add(SLACK)
            && output >= planes_out
            && self.outputs[0] <= self.outputs[1]
            && self.outputs[1] <= outputs
            && self.output[0] + self.kernel[0] <= height + 1
            && self.output[1] + self.kernel[1] <= width + 1
    }
}

/// Whether [`forward`] runs on this CPU, for a layer of `groups` groups of four taps and
/// `outputs` output channels: the AVX-512 kernel ([`avx512_available`]), or the 256-bit one
/// (`v256`) at the `Avx2` level and above where its weights' table fits.
#[inline]
pub(crate) fn available(groups: usize, outputs: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512_available(groups) || v256::available(groups, outputs)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (groups, outputs);
        false
    }
}

/// Whether the AVX-512 kernel runs on this CPU, for `groups` groups of four taps: AVX-512 VNNI
/// (whose level also requires AVX-512VL, for the 128-bit masked stores), and AVX-512BW for the
/// byte stores. [`super::channel_lanes`] and the prepared [`Tables`] need the same.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn avx512_available(groups: usize) -> bool {
    groups <= MAX_GROUPS && super::level() == super::QuantLevel::Avx512Vnni && super::has_avx512bw()
}

/// Where each tap reads, from a position's first byte of the padded input, in the flattened
/// kernel's order: `(channel * height + y) * width + x`. Taps past the kernel (zero weights)
/// read the first tap's bytes.
#[cfg(target_arch = "x86_64")]
fn tap_offsets(shape: &Shape) -> [usize; 4 * MAX_GROUPS] {
    let [height, width] = shape.padded;
    let [kernel_height, kernel_width] = shape.kernel;
    let mut offsets = [0; 4 * MAX_GROUPS];
    let taps = (0..shape.channels).flat_map(|channel| {
        (0..kernel_height)
            .flat_map(move |y| (0..kernel_width).map(move |x| (channel * height + y) * width + x))
    });
    for (offset, tap) in offsets.iter_mut().zip(taps) {
        *offset = tap;
    }
    offsets
}

/// How the rows grouping (`avx512::Rows`) groups the taps of a kernel over `channels` input
/// channels: input row `k` is kernel row `k % KH` of channel `k / KH`; rows `4 q .. 4 q + 3`
/// at one kernel column are a group, and the rows left over (fewer than four) are either one
/// more four, padded with zero weights, or, when that makes no fewer groups, each its own
/// source, grouped by fours of kernel columns.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowGroups {
    /// Fours of input rows taken whole.
    pub quads: usize,
    /// Rows left over, `0..=3`.
    pub rest: usize,
    /// Whether the rows left over are each a source (else one more four, padded).
    pub horizontal: bool,
    /// Sources of words.
    pub sources: usize,
    /// Groups of four taps.
    pub groups: usize,
}

#[cfg(target_arch = "x86_64")]
impl RowGroups {
    /// The grouping of a kernel of `[height, width]` over `channels` input channels.
    pub(crate) fn of(channels: usize, [kernel_height, kernel_width]: [usize; 2]) -> Self {
        let rows = channels * kernel_height;
        let (quads, rest) = (rows / 4, rows % 4);
        let horizontal = rest * kernel_width.div_ceil(4) <= kernel_width;
        let (extra_groups, extra_sources) = match (rest, horizontal) {
            (0, _) => (0, 0),
            (_, true) => (rest * kernel_width.div_ceil(4), rest),
            (_, false) => (kernel_width, 1),
        };
        Self {
            quads,
            rest,
            horizontal,
            sources: quads + extra_sources,
            groups: quads * kernel_width + extra_groups,
        }
    }

    /// Where source `source`'s four byte sequences start in `shape`'s padded input: a four of
    /// input rows ([`Shape::quad_rows`]), or a row left over from its bytes `0, 1, 2, 3`.
    #[inline]
    pub(crate) fn source_rows(&self, shape: &Shape, source: usize) -> [usize; 4] {
        if self.vertical(source) {
            shape.quad_rows(source)
        } else {
            let first = shape.row_start(4 * self.quads + source - self.quads);
            [first, first + 1, first + 2, first + 3]
        }
    }

    /// Whether source `source` is a four of input rows (else a row left over).
    #[inline]
    pub(crate) fn vertical(&self, source: usize) -> bool {
        source < self.quads || !self.horizontal
    }

    /// Calls `f(source, column, taps)` for each group in order: its source of words, the
    /// column of its first word from a position's, and the flattened kernel's tap each of its
    /// four bytes holds (`None` for a zero weight). Input row `k`'s tap in kernel column `c`
    /// is `k KW + c` (`KW` is `kernel_width`; `k` is `channel KH + kernel row`).
    #[inline]
    pub(crate) fn each(
        &self,
        kernel_width: usize,
        mut f: impl FnMut(usize, usize, [Option<usize>; 4]),
    ) {
        let rows = 4 * self.quads + self.rest;
        let tap = |k: usize, column: usize| (k < rows).then_some(k * kernel_width + column);
        for quad in 0..self.quads + usize::from(self.rest > 0 && !self.horizontal) {
            for column in 0..kernel_width {
                let k = 4 * quad;
                let taps = [
                    tap(k, column),
                    tap(k + 1, column),
                    tap(k + 2, column),
                    tap(k + 3, column),
                ];
                f(quad, column, taps);
            }
        }
        if self.horizontal {
            for row in 0..self.rest {
                for four in 0..kernel_width.div_ceil(4) {
                    let column = |j: usize| {
                        let column = 4 * four + j;
                        if column < kernel_width {
                            tap(4 * self.quads + row, column)
                        } else {
                            None
                        }
                    };
                    let taps = [column(0), column(1), column(2), column(3)];
                    f(self.quads + row, 4 * four, taps);
                }
            }
        }
    }
}

/// The rows grouping's weights for output channels `outputs` of a layer (`weights` packed
/// as the dense layer's) of `shape`'s channels and kernel, whose groups must be `G`: word `o`
/// of group `g` holds channel `o`'s weights of the group's four taps, byte `j` tap `j`'s.
/// Each word is written whole, so that the kernel's broadcasts can read it from the store.
/// Byte by byte in plain Rust: `avx512::row_words_vbmi` is the kernel's where the CPU has
/// VBMI.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn row_words<const OUT: usize, const G: usize>(
    weights: &[[[i8; 4]; OUT]; G],
    shape: &Shape,
    [first, end]: [usize; 2],
    words: &mut [[i32; OUT]; G],
) {
    let groups = RowGroups::of(shape.channels, shape.kernel);
    debug_assert_eq!(groups.groups, G);
    // Tap `t` of channel `o` is byte `(t / 4) 4 OUT + 4 o + t % 4`; a missing tap reads byte
    // 0 and keeps none of it.
    let bytes = weights.as_flattened().as_flattened();
    let mut g = 0;
    groups.each(shape.kernel[1], |_, _, taps| {
        let at = taps.map(|t| t.map_or(0, |t| t / 4 * 4 * OUT + t % 4));
        let keep = taps.map(|t| if t.is_some() { 0xff } else { 0 });
        for (o, word) in words[g].iter_mut().enumerate().take(end).skip(first) {
            let byte = |j: usize| u32::from(bytes[at[j] + 4 * o].cast_unsigned()) & keep[j];
            let bits = byte(0) | byte(1) << 8 | byte(2) << 16 | byte(3) << 24;
            *word = bits.cast_signed();
        }
        g += 1;
    });
}

/// The steps of every output channel (`output`, `OUT` planes of `shape.output`), from `padded`
/// (`shape.channels` planes of `shape.padded`, then at least [`SLACK`] more bytes), with the
/// dense layer's packed weights, offsets and multipliers, the weights' `tables` where prepared,
/// and whether `vpmaddubsw` is exact on the weights; `false` (nothing written) where
/// [`available`] is not.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<const OUT: usize, const G: usize>(
    padded: &[u8],
    shape: Shape,
    weights: &[[[i8; 4]; OUT]; G],
    tables: Option<&Tables<OUT, G>>,
    offsets: &[i32; OUT],
    multipliers: &[f32; OUT],
    zero_point: u8,
    clamp: Clamp,
    maddubs_exact: bool,
    output: &mut [u8],
) -> bool {
    if !shape.matches(G, OUT, padded.len(), output.len()) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if avx512_available(G) {
            // SAFETY: `avx512_available` found AVX-512 VNNI, F, BW and VL on this CPU, and
            // `matches` checked the sizes the kernel's loads and stores rely on.
            #[allow(unsafe_code)]
            unsafe {
                return avx512::forward(
                    padded,
                    shape,
                    weights,
                    tables,
                    offsets,
                    multipliers,
                    zero_point,
                    clamp,
                    output,
                    avx512::Grouping::Best,
                );
            }
        }
        v256::forward(
            padded,
            shape,
            weights,
            offsets,
            multipliers,
            zero_point,
            clamp,
            maddubs_exact,
            output,
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (
            weights,
            tables,
            offsets,
            multipliers,
            zero_point,
            clamp,
            maddubs_exact,
        );
        false
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx512 {
    use super::super::quantize::avx512::{Bounds, requantize_vector};
    use super::{Clamp, MAX_GROUPS, RowGroups, Shape, Tables, row_words, tap_offsets};
    use core::arch::x86_64::{
        __m128i, __m512i, __mmask16, _mm_loadu_si128, _mm_mask_storeu_epi8, _mm_srli_si128,
        _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpackhi_epi16, _mm_unpacklo_epi8,
        _mm_unpacklo_epi16, _mm256_loadu_si256, _mm512_add_epi8, _mm512_castsi128_si512,
        _mm512_castsi256_si512, _mm512_dpbusd_epi32, _mm512_inserti32x4, _mm512_inserti64x4,
        _mm512_loadu_si512, _mm512_mask_blend_ps, _mm512_maskz_loadu_epi8, _mm512_max_epi32,
        _mm512_permutex2var_epi8, _mm512_permutex2var_epi32, _mm512_permutexvar_epi8,
        _mm512_set1_epi8, _mm512_set1_epi32, _mm512_set1_ps, _mm512_setr_epi32,
        _mm512_storeu_si512,
    };
    use core::mem::MaybeUninit;

    /// Positions per block: the lanes of a vector.
    const L: usize = 16;
    /// Output channels whose sums are held at once.
    const CHANNELS: usize = 8;

    /// 16 bytes of `bytes` from `at`, which the caller keeps within it.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(in crate::quant::kernel) fn load16(bytes: &[u8], at: usize) -> __m128i {
        let bytes = &bytes[at..at + L];
        // SAFETY: `bytes` is 16 readable bytes, and `loadu` accepts any alignment.
        #[allow(unsafe_code)]
        unsafe {
            _mm_loadu_si128(bytes.as_ptr().cast())
        }
    }

    /// Four taps' 16 bytes interleaved: lane `j` holds byte `j` of `a`, `b`, `c` and `d`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(in crate::quant::kernel) fn interleave(
        a: __m128i,
        b: __m128i,
        c: __m128i,
        d: __m128i,
    ) -> __m512i {
        let (ab_low, ab_high) = (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b));
        let (cd_low, cd_high) = (_mm_unpacklo_epi8(c, d), _mm_unpackhi_epi8(c, d));
        let v = _mm512_castsi128_si512(_mm_unpacklo_epi16(ab_low, cd_low));
        let v = _mm512_inserti32x4::<1>(v, _mm_unpackhi_epi16(ab_low, cd_low));
        let v = _mm512_inserti32x4::<2>(v, _mm_unpacklo_epi16(ab_high, cd_high));
        _mm512_inserti32x4::<3>(v, _mm_unpackhi_epi16(ab_high, cd_high))
    }

    /// Words of the input interleaved for the rows grouping ([`Rows`]), on the stack: 24 KiB.
    const ROW_WORDS: usize = 6144;
    /// Bytes of weights repacked for the rows grouping, on the stack.
    const ROW_WEIGHT_BYTES: usize = 8192;

    /// The rows grouping of a layer's taps ([`RowGroups`]), where it has as many groups as the
    /// taps' order (`G`): no shuffles per block of positions, only loads. The 16 neighbouring
    /// positions' words of a group are 16 neighbouring words of its source, built once per
    /// call: four rows interleaved, or a row left over whose word `i` holds its bytes `i .. i +
    /// 3`. LeNet's first convolution (one channel, 5x5) has seven groups either way, and its
    /// gathering's shuffles took more than half of its time (a scratch harness timing
    /// `QuantizedConv2d::forward`; BENCHMARKS.md, "Smaller numbers").
    #[derive(Clone, Copy)]
    struct Rows {
        /// The grouping.
        groups: RowGroups,
        /// Words of a source: every position's, and a block's past the last.
        span: usize,
    }

    impl Rows {
        /// The grouping for `shape`, if it has `groups` groups and fits the buffers.
        fn plan(shape: &Shape, groups: usize, outputs: usize) -> Option<Self> {
            let own = RowGroups::of(shape.channels, shape.kernel);
            let span = (shape.output[0] * shape.padded[1] + L).next_multiple_of(2 * L);
            let fits = own.sources * span <= ROW_WORDS && groups * outputs * 4 <= ROW_WEIGHT_BYTES;
            (own.groups == groups && fits).then_some(Self { groups: own, span })
        }
    }

    /// Where a block's groups come from.
    enum Source<'a> {
        /// Gathered from the padded input: tap `t` at `offsets[t]` from a position's byte.
        Gathered {
            padded: &'a [u8],
            offsets: &'a [usize; 4 * MAX_GROUPS],
        },
        /// Group `g` is the 16 words at `starts[g]` from a position's word.
        Words {
            words: *const u32,
            starts: &'a [usize],
        },
    }

    /// How [`forward`] takes a block's groups of four taps.
    #[derive(Clone, Copy, Debug)]
    #[cfg_attr(not(test), allow(dead_code))] // the tests take each grouping
    pub(super) enum Grouping {
        /// By rows where [`Rows::plan`] takes the layer (VBMI's permutations where the CPU has
        /// them), else gathered: what [`super::forward`] runs.
        Best,
        /// Gathered from the padded input.
        Gathered,
        /// By rows, the words built with VBMI's permutations or with shuffles.
        Rows { permute: bool },
    }

    /// See [`super::forward`], whose checks this relies on; `false`, nothing written, where
    /// `grouping` asks for rows that [`Rows::plan`] refuses, or for VBMI the CPU lacks.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward<const OUT: usize, const G: usize>(
        padded: &[u8],
        shape: Shape,
        weights: &[[[i8; 4]; OUT]; G],
        tables: Option<&Tables<OUT, G>>,
        offsets: &[i32; OUT],
        multipliers: &[f32; OUT],
        zero_point: u8,
        clamp: Clamp,
        output: &mut [u8],
        grouping: Grouping,
    ) -> bool {
        let layer = Layer {
            offsets,
            multipliers,
            bounds: Bounds::new(zero_point, clamp),
            plane: shape.plane(),
        };
        let vbmi = super::super::has_avx512vbmi();
        let rows = match (grouping, Rows::plan(&shape, G, OUT)) {
            (Grouping::Gathered, _) | (Grouping::Best, None) => None,
            (Grouping::Best, Some(plan)) => Some((plan, vbmi)),
            (Grouping::Rows { permute }, Some(plan)) if vbmi || !permute => Some((plan, permute)),
            (Grouping::Rows { .. }, _) => return false,
        };
        match rows {
            // SAFETY: as this function's; `plan` checked the buffers' sizes, and VBMI is used
            // only where the CPU has it.
            #[allow(unsafe_code)]
            Some((plan, permute)) => unsafe {
                let prepared = tables.and_then(Tables::rows);
                by_rows(
                    padded, &shape, plan, permute, weights, prepared, &layer, output,
                );
            },
            None => gathered(padded, &shape, weights, &layer, output),
        }
        true
    }

    /// [`forward`] with each block's groups gathered from the padded input.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    fn gathered<const OUT: usize, const G: usize>(
        padded: &[u8],
        shape: &Shape,
        weights: &[[[i8; 4]; OUT]; G],
        layer: &Layer<'_, OUT>,
        output: &mut [u8],
    ) {
        let tap_offsets = tap_offsets(shape);
        let source = Source::Gathered {
            padded,
            offsets: &tap_offsets,
        };
        blocks(shape, &source, weights, layer, output);
    }

    /// [`forward`] by the rows grouping.
    ///
    /// # Safety
    ///
    /// As [`forward`]'s; `rows` is `Rows::plan(shape, G, OUT)`; the CPU has AVX-512 VBMI
    /// where `permute`.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn by_rows<const OUT: usize, const G: usize>(
        padded: &[u8],
        shape: &Shape,
        rows: Rows,
        permute: bool,
        weights: &[[[i8; 4]; OUT]; G],
        prepared: Option<&[[i32; OUT]; G]>,
        layer: &Layer<'_, OUT>,
        output: &mut [u8],
    ) {
        let kernel_width = shape.kernel[1];
        let Rows { groups, span } = rows;
        let mut words = MaybeUninit::<[__m512i; ROW_WORDS / L]>::uninit();
        let words = words.as_mut_ptr().cast::<u32>();
        for source in 0..groups.sources {
            let (from, vertical) = (groups.source_rows(shape, source), groups.vertical(source));
            // SAFETY: words `source span + i .. + 32`, within `sources span <= ROW_WORDS`
            // (`span` is a multiple of 32); the loads end at most at `(channels - 1) plane +
            // (KH - 1 + OH) width + 15 + 35 <= channels plane + 50` (`span <= OH width +
            // 47`), within `padded` (`SLACK`); VBMI where `permute`.
            unsafe {
                fill_words(
                    padded,
                    from,
                    vertical,
                    span,
                    words.add(source * span),
                    permute,
                );
            }
        }
        // Each group's first word, from a position's, and its weights (prepared, or built
        // here for the channels computed).
        let mut starts = [0; G];
        let mut g = 0;
        groups.each(kernel_width, |source, column, _| {
            starts[g] = source * span + column;
            g += 1;
        });
        debug_assert_eq!(g, G);
        let mut built: Built<OUT, G>;
        let words_of = if let Some(words_of) = prepared {
            words_of
        } else {
            built = Built {
                words: [[0_i32; OUT]; G],
                spare: [0; L],
            };
            if permute {
                // SAFETY: VBMI where `permute`; `built` is `G OUT + 16` words.
                unsafe { row_words_vbmi(weights, rows.groups, shape, &mut built) };
            } else {
                row_words(weights, shape, shape.outputs, &mut built.words);
            }
            &built.words
        };
        // SAFETY: `[i32; OUT]` and `[[i8; 4]; OUT]` have the same size, every byte of an `i32`
        // is a valid `i8`, and the bytes' alignment (1) is below the words'.
        let repacked = unsafe { &*core::ptr::from_ref(words_of).cast::<[[[i8; 4]; OUT]; G]>() };
        let source = Source::Words {
            words,
            starts: &starts,
        };
        blocks(shape, &source, repacked, layer, output);
    }

    /// A rows grouping's words (`words`) with room after them for a vector's store.
    #[repr(C)]
    struct Built<const OUT: usize, const G: usize> {
        words: [[i32; OUT]; G],
        spare: [i32; L],
    }

    /// [`row_words`] for `shape.outputs`, by VBMI's byte permutations ([`taps_vbmi`]),
    /// each 16 channels of a group one 64-byte store (the next group's, or the spare words,
    /// take what passes the group's end), where the scalar build took a tenth of LeNet's first
    /// convolution (`lenet` in bench/benches/quant_conv.rs).
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512 VBMI (with F and BW); `groups` has `G` groups.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
    unsafe fn row_words_vbmi<const OUT: usize, const G: usize>(
        weights: &[[[i8; 4]; OUT]; G],
        groups: RowGroups,
        shape: &Shape,
        to: &mut Built<OUT, G>,
    ) {
        debug_assert_eq!(groups.groups, G);
        let [first, end] = shape.outputs;
        let to = core::ptr::from_mut(to).cast::<i32>();
        let mut g = 0;
        groups.each(shape.kernel[1], |_, _, taps| {
            for block in (first..end).step_by(L) {
                // SAFETY: the CPU's VBMI; channels `block .. end` within `OUT`, the kernel's
                // taps; the store's 16 words from word `g OUT + block <= (G - 1) OUT + OUT - 1`
                // lie within `G OUT + 16`.
                unsafe {
                    let v = taps_vbmi(weights, [block, L.min(end - block)], taps);
                    _mm512_storeu_si512(to.add(g * OUT + block).cast(), v);
                }
            }
            g += 1;
        });
    }

    /// `vpermb` indices for each tap `s < 4`: byte `4 o + j` of the result from byte `4 o + s`,
    /// tap `s` of each channel's four weights in all four bytes of its word (the VBMI repacks of
    /// the weights, here and in `channel_lanes`).
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(in crate::quant::kernel) fn tap_indices() -> [__m512i; 4] {
        use core::arch::x86_64::{_mm512_and_si512, _mm512_or_si512};
        const IOTA: [u8; 64] = {
            let mut iota = [0; 64];
            let mut b = 0;
            while b < 64 {
                #[allow(clippy::cast_possible_truncation)] // below 64
                {
                    iota[b] = b as u8;
                }
                b += 1;
            }
            iota
        };
        // SAFETY: `IOTA` is 64 readable bytes, and `loadu` accepts any alignment.
        #[allow(unsafe_code)]
        let iota = unsafe { _mm512_loadu_si512(IOTA.as_ptr().cast()) };
        // Byte `4 o + j` from byte `4 o`, plus the tap.
        let words = _mm512_and_si512(iota, _mm512_set1_epi32(!0x0303_0303));
        core::array::from_fn(|s| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // below 4
            _mm512_or_si512(words, _mm512_set1_epi8(s as i8))
        })
    }

    /// Four taps' weights for channels `block .. block + channels` (at most 16) as 16 four-byte
    /// words: byte `j` of channel `o`'s word is tap `taps[j]`'s weight (0 for none), from the
    /// packed groups (`weights[t / 4][o][t % 4]`) by one masked byte permutation each.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512 VBMI (with F and BW), the caller compiled with it (this inlines);
    /// `block + channels <= OUT`, every tap below `4 G`.
    #[allow(unsafe_code)]
    #[inline(always)]
    unsafe fn taps_vbmi<const OUT: usize, const G: usize>(
        weights: &[[[i8; 4]; OUT]; G],
        [block, channels]: [usize; 2],
        taps: [Option<usize>; 4],
    ) -> __m512i {
        use core::arch::x86_64::{_mm512_mask_permutexvar_epi8, _mm512_setzero_si512};
        let lanes = u64::MAX >> (64 - 4 * channels);
        // SAFETY: the caller's CPU features; `IOTA` is 64 readable bytes; each masked load's
        // enabled bytes are channels `block .. block + channels` of packed group `t / 4 < G`,
        // and it reads nothing else.
        unsafe {
            let by_tap = tap_indices();
            let mut v = _mm512_setzero_si512();
            for (j, tap) in taps.into_iter().enumerate() {
                let Some(t) = tap else { continue };
                let group =
                    _mm512_maskz_loadu_epi8(lanes, weights[t / 4].as_ptr().add(block).cast());
                v = _mm512_mask_permutexvar_epi8(
                    v,
                    0x1111_1111_1111_1111 << j,
                    by_tap[t % 4],
                    group,
                );
            }
            v
        }
    }

    /// `span` words into `to`: word `i` holds byte `i` of the four rows from `from[j]`
    /// (`vertical`), or bytes `i .. i + 3` of the row from `from[0]` (whose `from[j]` are
    /// `from[0] + j`); with VBMI's permutations where `permute`, else with shuffles. The loads
    /// (bounds-checked) end before byte `from[j] + span` of four rows, `from[0] + span + 3` of
    /// one.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512 F and BW, and VBMI where `permute`; `span` is a multiple of 32 and
    /// `to` is `span` writable words.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(in crate::quant::kernel) unsafe fn fill_words(
        padded: &[u8],
        from: [usize; 4],
        vertical: bool,
        span: usize,
        to: *mut u32,
        permute: bool,
    ) {
        if permute {
            // SAFETY: the caller's, VBMI included.
            unsafe { fill_words_vbmi(padded, from, vertical, span, to) };
            return;
        }
        for i in (0..span).step_by(2 * L) {
            for half in [0, L] {
                let v = interleave(
                    load16(padded, from[0] + i + half),
                    load16(padded, from[1] + i + half),
                    load16(padded, from[2] + i + half),
                    load16(padded, from[3] + i + half),
                );
                // SAFETY: the caller's `to`.
                unsafe { _mm512_storeu_si512(to.add(i + half).cast(), v) };
            }
        }
    }

    /// [`fill_words`] with VBMI's permutations, compiled with VBMI so that they inline.
    ///
    /// # Safety
    ///
    /// As [`fill_words`]'s, and the CPU has AVX-512 VBMI.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn fill_words_vbmi(
        padded: &[u8],
        from: [usize; 4],
        vertical: bool,
        span: usize,
        to: *mut u32,
    ) {
        for i in (0..span).step_by(2 * L) {
            // SAFETY: the caller's `to`; VBMI.
            unsafe {
                if vertical {
                    rows_vbmi(padded, from, i, to.add(i));
                } else {
                    row_vbmi(padded, from[0], i, to.add(i));
                }
            }
        }
    }

    /// Words `i .. i + 32` of four rows (from bytes `from[j] + i`) interleaved, into `to`: two
    /// byte permutations of two registers, each two rows' 32 bytes, where four loads and
    /// eleven shuffles make 16 words.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512 VBMI; `to` is 32 writable words.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[inline]
    unsafe fn rows_vbmi(padded: &[u8], from: [usize; 4], i: usize, to: *mut u32) {
        // Byte `4 w + j` of the words `w` and `16 + w` is row `j`'s byte `w` and `16 + w`:
        // rows 0 and 1 are bytes `0 .. 64` of the two registers' 128, rows 2 and 3 the rest.
        const LOW: [u8; 64] = {
            let mut index = [0; 64];
            let mut b = 0;
            while b < 64 {
                #[allow(clippy::cast_possible_truncation)] // below 128
                {
                    index[b] = (32 * (b % 4) + b / 4) as u8;
                }
                b += 1;
            }
            index
        };
        let pair = |a: usize, b: usize| {
            let (a, b) = (&padded[a + i..a + i + 32], &padded[b + i..b + i + 32]);
            // SAFETY: 32 readable bytes each, and `loadu` accepts any alignment.
            unsafe {
                _mm512_inserti64x4::<1>(
                    _mm512_castsi256_si512(_mm256_loadu_si256(a.as_ptr().cast())),
                    _mm256_loadu_si256(b.as_ptr().cast()),
                )
            }
        };
        let (low, high) = (pair(from[0], from[1]), pair(from[2], from[3]));
        // SAFETY: `LOW` is 64 readable bytes.
        let index = unsafe { _mm512_loadu_si512(LOW.as_ptr().cast()) };
        let sixteen = _mm512_add_epi8(index, _mm512_set1_epi8(16));
        // SAFETY: the caller's `to`.
        unsafe {
            _mm512_storeu_si512(to.cast(), _mm512_permutex2var_epi8(low, index, high));
            _mm512_storeu_si512(
                to.add(L).cast(),
                _mm512_permutex2var_epi8(low, sixteen, high),
            );
        }
    }

    /// Words `i .. i + 32` of one row from byte `from` (word `w`: its bytes `w .. w + 3`), into
    /// `to`: two byte permutations of one load.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512 VBMI; `to` is 32 writable words.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[inline]
    unsafe fn row_vbmi(padded: &[u8], from: usize, i: usize, to: *mut u32) {
        const LOW: [u8; 64] = {
            let mut index = [0; 64];
            let mut b = 0;
            while b < 64 {
                #[allow(clippy::cast_possible_truncation)] // below 20
                {
                    index[b] = (b / 4 + b % 4) as u8;
                }
                b += 1;
            }
            index
        };
        let bytes = &padded[from + i..from + i + 35];
        // SAFETY: the 35 bytes enabled are readable; a masked load neither reads nor faults on
        // the others. `LOW` is 64 readable bytes.
        let (row, index) = unsafe {
            (
                _mm512_maskz_loadu_epi8(u64::MAX >> (64 - 35), bytes.as_ptr().cast()),
                _mm512_loadu_si512(LOW.as_ptr().cast()),
            )
        };
        let sixteen = _mm512_add_epi8(index, _mm512_set1_epi8(16));
        // SAFETY: the caller's `to`.
        unsafe {
            _mm512_storeu_si512(to.cast(), _mm512_permutexvar_epi8(index, row));
            _mm512_storeu_si512(to.add(L).cast(), _mm512_permutexvar_epi8(sixteen, row));
        }
    }

    /// Output channels `shape.outputs` of a block, in runs of at most [`CHANNELS`], each
    /// through `$kernel::<C, OUT, G>(layer, weights, block, o, to, count)` with `to` the
    /// output from run `o`'s plane at `at`.
    macro_rules! each_channel_run {
        ($kernel:ident, $shape:expr, $layer:expr, $weights:expr, $block:expr, $at:expr,
         $count:expr, $output:expr) => {{
            let [mut o, end] = $shape.outputs;
            while o < end {
                let to = &mut $output[o * $layer.plane + $at..];
                match end - o {
                    1 => $kernel::<1, OUT, G>($layer, $weights, $block, o, to, $count),
                    2 => $kernel::<2, OUT, G>($layer, $weights, $block, o, to, $count),
                    3 => $kernel::<3, OUT, G>($layer, $weights, $block, o, to, $count),
                    4 => $kernel::<4, OUT, G>($layer, $weights, $block, o, to, $count),
                    5 => $kernel::<5, OUT, G>($layer, $weights, $block, o, to, $count),
                    6 => $kernel::<6, OUT, G>($layer, $weights, $block, o, to, $count),
                    7 => $kernel::<7, OUT, G>($layer, $weights, $block, o, to, $count),
                    _ => $kernel::<CHANNELS, OUT, G>($layer, $weights, $block, o, to, $count),
                }
                o += CHANNELS;
            }
        }};
    }

    /// Every block of 16 neighbouring positions of a row: its groups from `source`, then its
    /// output channels' steps.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn blocks<const OUT: usize, const G: usize>(
        shape: &Shape,
        source: &Source<'_>,
        weights: &[[[i8; 4]; OUT]; G],
        layer: &Layer<'_, OUT>,
        output: &mut [u8],
    ) {
        if shape.pooled {
            blocks_pooled(shape, source, weights, layer, output);
            return;
        }
        let width = shape.padded[1];
        let [output_height, output_width] = shape.output;
        let mut block = [_mm512_set1_epi32(0); G];
        for y in 0..output_height {
            let mut x = 0;
            while x < output_width {
                let first = y * width + x;
                load_block(source, first, &mut block);
                let at = y * output_width + x;
                let count = L.min(output_width - x);
                each_channel_run!(channels, shape, layer, weights, &block, at, count, output);
                x += L;
            }
        }
    }

    /// The groups of the block of 16 positions from the one at `first` (`y * width + x`, in
    /// the padded input's numbering; `x` below the output's width) into `block`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn load_block<const G: usize>(source: &Source<'_>, first: usize, block: &mut [__m512i; G]) {
        match *source {
            Source::Gathered { padded, offsets } => {
                for (g, v) in block.iter_mut().enumerate() {
                    let at = &offsets[4 * g..4 * g + 4];
                    *v = interleave(
                        load16(padded, first + at[0]),
                        load16(padded, first + at[1]),
                        load16(padded, first + at[2]),
                        load16(padded, first + at[3]),
                    );
                }
            }
            Source::Words { words, starts } => {
                for (v, start) in block.iter_mut().zip(starts) {
                    // SAFETY: the last word read is `(OH - 1) width + x + 15 + start` with
                    // `x < OW` and `start <= KW - 1`, so at most `OH width + 15 - 1 < span`
                    // (`OW + KW <= width + 1`), within its source.
                    #[allow(unsafe_code)]
                    unsafe {
                        *v = _mm512_loadu_si512(words.add(start + first).cast());
                    }
                }
            }
        }
    }

    /// [`blocks`] of a pooled shape: the blocks of output rows `2 y` and `2 y + 1` at once,
    /// each channel's two rows of sums reduced to the maxima of their 2x2 windows, which are
    /// requantised and stored (an odd last row, outside every window, is not computed; an odd
    /// last column is a lane of its block, never stored).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn blocks_pooled<const OUT: usize, const G: usize>(
        shape: &Shape,
        source: &Source<'_>,
        weights: &[[[i8; 4]; OUT]; G],
        layer: &Layer<'_, OUT>,
        output: &mut [u8],
    ) {
        let width = shape.padded[1];
        let [output_height, output_width] = shape.output;
        let pooled_width = output_width / 2;
        let mut block = [[_mm512_set1_epi32(0); G]; 2];
        for y in 0..output_height / 2 {
            let mut x = 0;
            // Blocks start at even columns, so that windows do not straddle them.
            while x + 1 < output_width {
                for (row, groups) in block.iter_mut().enumerate() {
                    load_block(source, (2 * y + row) * width + x, groups);
                }
                let at = y * pooled_width + x / 2;
                let count = L.min(output_width - x) / 2;
                each_channel_run!(pooled, shape, layer, weights, &block, at, count, output);
                x += L;
            }
        }
    }

    /// Output channels `o .. o + C` of two rows' blocks: their sums, the maximum of each 2x2
    /// window (lanes `2 k`, `2 k + 1` of both rows), requantised two channels to a vector, and
    /// the first `count <= 8` of each channel's 8 steps stored from `to` (a plane apart).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn pooled<const C: usize, const OUT: usize, const G: usize>(
        layer: &Layer<'_, OUT>,
        weights: &[[[i8; 4]; OUT]; G],
        block: &[[__m512i; G]; 2],
        o: usize,
        to: &mut [u8],
        count: usize,
    ) {
        // `vpermt2d` indices of the even lanes of two vectors (lanes 0, 2, .. 14 of the first,
        // then of the second), and of their odd lanes.
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let lanes: __mmask16 = (1 << count) - 1;
        // Two channels at a time, each pair's sums then its steps, so that a pair's
        // requantisation runs beside the next pair's sums; with every sum of the block first,
        // every step waited for the last sums (`lenet` in bench/benches/quant_conv.rs).
        let mut c = 0;
        while c < C {
            let next = (c + 1).min(C - 1);
            let pair = [c, next];
            let mut sums: [[__m512i; 2]; 2] =
                [pair.map(|c| _mm512_set1_epi32(layer.offsets[o + c])); 2];
            for g in 0..G {
                for (row, sums) in sums.iter_mut().enumerate() {
                    for (sum, c) in sums.iter_mut().zip(pair).take(next + 1 - c) {
                        let weight = _mm512_set1_epi32(word(weights[g][o + c]));
                        *sum = _mm512_dpbusd_epi32(*sum, block[row][g], weight);
                    }
                }
            }
            if next == c {
                sums[0][1] = sums[0][0];
                sums[1][1] = sums[1][0];
            }
            // The two channels' 8 windows each from their rows' maxima: the even lanes of both
            // in one vector, the odd lanes in another (a permutation each), and their maximum.
            // That is 5 instructions a pair of channels, where shifting each channel's odd
            // lanes onto its even ones and narrowing took 11 (the same bench).
            let rows = [0, 1].map(|k| _mm512_max_epi32(sums[0][k], sums[1][k]));
            let both = _mm512_max_epi32(
                _mm512_permutex2var_epi32(rows[0], even, rows[1]),
                _mm512_permutex2var_epi32(rows[0], odd, rows[1]),
            );
            let multipliers = _mm512_mask_blend_ps(
                0xff00,
                _mm512_set1_ps(layer.multipliers[o + c]),
                _mm512_set1_ps(layer.multipliers[o + next]),
            );
            let bytes = requantize_vector(both, multipliers, &layer.bounds);
            for (k, bytes) in [bytes, _mm_srli_si128::<8>(bytes)]
                .into_iter()
                .enumerate()
                .take(if next > c { 2 } else { 1 })
            {
                let to = &mut to[(c + k) * layer.plane..(c + k) * layer.plane + count];
                // SAFETY: only the first `count <= 8` bytes are enabled, and they lie in `to`;
                // a masked store neither writes nor faults on the others.
                #[allow(unsafe_code)]
                unsafe {
                    _mm_mask_storeu_epi8(to.as_mut_ptr().cast(), lanes, bytes);
                }
            }
            c += 2;
        }
    }

    /// A weight's four bytes as the `i32` that `vpdpbusd` broadcasts.
    #[inline]
    #[allow(clippy::cast_sign_loss)] // the bit patterns
    fn word(bytes: [i8; 4]) -> i32 {
        i32::from_le_bytes(bytes.map(|b| b as u8))
    }

    /// The layer's requantisation: offsets, multipliers, zero point and bounds.
    struct Layer<'a, const OUT: usize> {
        offsets: &'a [i32; OUT],
        multipliers: &'a [f32; OUT],
        bounds: Bounds,
        /// Bytes of an output channel.
        plane: usize,
    }

    /// Output channels `o .. o + C` of a block: their sums from the block's groups, requantised,
    /// the first `count` of each channel's 16 steps stored from `to` (channel after channel,
    /// a plane apart).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    fn channels<const C: usize, const OUT: usize, const G: usize>(
        layer: &Layer<'_, OUT>,
        weights: &[[[i8; 4]; OUT]; G],
        block: &[__m512i; G],
        o: usize,
        to: &mut [u8],
        count: usize,
    ) {
        let lanes: __mmask16 = if count >= L { !0 } else { (1 << count) - 1 };
        let mut sums: [__m512i; C] =
            core::array::from_fn(|c| _mm512_set1_epi32(layer.offsets[o + c]));
        for (v, row) in block.iter().zip(weights) {
            for (c, sum) in sums.iter_mut().enumerate() {
                *sum = _mm512_dpbusd_epi32(*sum, *v, _mm512_set1_epi32(word(row[o + c])));
            }
        }
        for (c, sum) in sums.into_iter().enumerate() {
            let bytes =
                requantize_vector(sum, _mm512_set1_ps(layer.multipliers[o + c]), &layer.bounds);
            let to = &mut to[c * layer.plane..c * layer.plane + count];
            // A whole block is a plain 16-byte store, the rest a 128-bit masked one: a 512-bit
            // masked store took a fifth of LeNet's int8 time (`lenet` in
            // bench/benches/quant_conv.rs).
            if count >= L {
                // SAFETY: `to` is 16 writable bytes, and `storeu` accepts any alignment.
                #[allow(unsafe_code)]
                unsafe {
                    _mm_storeu_si128(to.as_mut_ptr().cast(), bytes);
                }
            } else {
                // SAFETY: only the first `count < 16` bytes are enabled, and they lie in `to`;
                // a masked store neither writes nor faults on the others.
                #[allow(unsafe_code)]
                unsafe {
                    _mm_mask_storeu_epi8(to.as_mut_ptr().cast(), lanes, bytes);
                }
            }
        }
    }
}

#[cfg(test)]
mod shape_tests {
    use super::{SLACK, Shape};

    /// Sizes whose products overflow are no shape's: wrapped, they would pass the comparisons
    /// that the kernels' loads rely on.
    #[test]
    fn overflowing_sizes_match_nothing() {
        let shape = |padded: [usize; 2], output: [usize; 2]| Shape {
            channels: 1,
            padded,
            kernel: [1, 1],
            output,
            outputs: [0, 1],
            pooled: false,
        };
        let fits = shape([8, 3], [8, 3]);
        assert!(fits.matches(1, 1, 24 + SLACK, 24));
        assert!(!fits.matches(1, 1, 23 + SLACK, 24));
        // 2^61 + 1 columns of 8 rows wrap to 8 bytes.
        let wide = (1 << 61) + 1;
        assert!(!shape([8, wide], [8, 1]).matches(1, 1, 8 + SLACK, 8));
        assert!(!shape([8, 3], [1 << 62, 8]).matches(1, 1, 24 + SLACK, 0));
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::super::super::{Clamp, requantize_step};
    use super::super::channel_lanes::v256 as lanes;
    use super::super::tables::Tables;
    use super::avx512::Grouping;
    use super::{SLACK, Shape, available, avx512, avx512_available, v256};
    use crate::init::SplitMix64;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;

    /// Random layers of `$channels` input channels, a `$kh` by `$kw` kernel and `$out` output
    /// channels, on outputs from 1x1 to 4x35: each grouping's steps (gathered; by rows with
    /// VBMI's permutations where the CPU has them, and without) are those of `i64` sums and
    /// `requantize_step`, and the rows grouping runs exactly where `$rows` says.
    macro_rules! groupings_agree {
        ($rng:expr, $channels:literal, $kh:literal, $kw:literal, $out:literal, $rows:literal) => {{
            const TAPS: usize = $channels * $kh * $kw;
            const G: usize = TAPS.div_ceil(4);
            let rng: &mut SplitMix64 = $rng;
            #[allow(clippy::cast_possible_truncation)]
            let mut byte = || rng.next_u64() as u8;
            let weights: [[[i8; 4]; $out]; G] = core::array::from_fn(|g| {
                core::array::from_fn(|_| {
                    core::array::from_fn(|k| {
                        if 4 * g + k < TAPS {
                            byte().cast_signed()
                        } else {
                            0
                        }
                    })
                })
            });
            let offsets: [i32; $out] = core::array::from_fn(|_| i32::from(byte()) * 997 - 120_000);
            #[allow(clippy::cast_precision_loss)]
            let multipliers: [f32; $out] = core::array::from_fn(|o| 0.0005 + 0.0003 * o as f32);
            let (zero_point, clamp) = (byte(), Clamp { low: 3, high: 251 });
            let vbmi = std::is_x86_feature_detected!("avx512vbmi");
            for output_height in 1..=4 {
                for output_width in 1..=35 {
                    let size = [output_height + $kh - 1, output_width + $kw - 1];
                    let plane = size[0] * size[1];
                    let padded: Vec<u8> = (0..$channels * plane + SLACK).map(|_| byte()).collect();
                    for outputs in [[0, $out], [1, $out]] {
                        let shape = Shape {
                            channels: $channels,
                            padded: size,
                            kernel: [$kh, $kw],
                            output: [output_height, output_width],
                            outputs,
                            pooled: false,
                        };
                        let positions = output_height * output_width;
                        let mut expected = vec![7; $out * positions];
                        for o in outputs[0]..outputs[1] {
                            for p in 0..positions {
                                let (y, x) = (p / output_width, p % output_width);
                                let mut sum = i64::from(offsets[o]);
                                for t in 0..TAPS {
                                    let (c, ky, kx) = (t / ($kh * $kw), t / $kw % $kh, t % $kw);
                                    let input = padded[c * plane + (y + ky) * size[1] + x + kx];
                                    sum += i64::from(input) * i64::from(weights[t / 4][o][t % 4]);
                                }
                                let sum = i32::try_from(sum).expect("within i32");
                                expected[o * positions + p] = requantize_step(
                                    sum,
                                    multipliers[o],
                                    f32::from(zero_point),
                                    f32::from(clamp.low),
                                    f32::from(clamp.high),
                                );
                            }
                        }
                        // The dispatch: the AVX-512 kernel, or the 256-bit one.
                        let mut got = vec![7; $out * positions];
                        let ran = super::forward(
                            &padded,
                            shape,
                            &weights,
                            None,
                            &offsets,
                            &multipliers,
                            zero_point,
                            clamp,
                            false,
                            &mut got,
                        );
                        assert_eq!(ran, available(G, $out), "{shape:?}");
                        if ran {
                            assert_eq!(got, expected, "{shape:?}");
                        }
                        if !avx512_available(G) {
                            continue;
                        }
                        // The weights' tables built once for every output channel, read
                        // for any range of them.
                        let tables = Tables::new(&weights, $channels, [$kh, $kw]);
                        assert_eq!(tables.rows().is_some(), $rows, "{shape:?}");
                        let groupings = [
                            Grouping::Best,
                            Grouping::Gathered,
                            Grouping::Rows { permute: false },
                            Grouping::Rows { permute: true },
                        ];
                        let runs = groupings
                            .into_iter()
                            .flat_map(|g| [(g, None), (g, Some(&tables))]);
                        for (grouping, tables) in runs {
                            let mut got = vec![7; $out * positions];
                            // SAFETY: `available` found AVX-512 VNNI, F, BW and VL; the sizes
                            // are `forward`'s.
                            #[allow(unsafe_code)]
                            let ran = unsafe {
                                avx512::forward(
                                    &padded,
                                    shape,
                                    &weights,
                                    tables,
                                    &offsets,
                                    &multipliers,
                                    zero_point,
                                    clamp,
                                    &mut got,
                                    grouping,
                                )
                            };
                            let rows = matches!(grouping, Grouping::Rows { .. });
                            let vbmi_needed = matches!(grouping, Grouping::Rows { permute: true });
                            let expected_to_run = !rows || ($rows && (vbmi || !vbmi_needed));
                            let case = (grouping, tables.is_some());
                            assert_eq!(ran, expected_to_run, "{shape:?} {case:?}");
                            if ran {
                                assert_eq!(got, expected, "{shape:?} {case:?}");
                            }
                        }
                    }
                }
            }
        }};
    }

    #[test]
    #[allow(clippy::modulo_one)] // kernels one tap high or wide
    fn every_grouping_gives_the_steps_of_the_sums() {
        let rng = &mut SplitMix64::new(11);
        // Rows: a four and one row left over, in fours of columns (LeNet's first layer); with
        // more output channels than a vector's 16 (the words built 16 channels at a time).
        groupings_agree!(rng, 1, 5, 5, 6, true);
        groupings_agree!(rng, 1, 5, 5, 21, true);
        // Rows left over only, three of them, a four of columns each.
        groupings_agree!(rng, 1, 3, 3, 4, true);
        // Fours of rows across channels, one row left over.
        groupings_agree!(rng, 3, 3, 3, 5, true);
        // Fours of rows only (48 rows).
        groupings_agree!(rng, 16, 3, 3, 2, true);
        // One-dimensional: one row, or two, in fours of columns.
        groupings_agree!(rng, 1, 1, 5, 3, true);
        groupings_agree!(rng, 2, 1, 7, 3, true);
        // Rows left over as one more four, padded: a kernel one column wide, and three rows
        // left over of a kernel two columns wide (three fours of columns would be more).
        groupings_agree!(rng, 2, 3, 1, 3, true);
        groupings_agree!(rng, 1, 3, 2, 3, true);
        groupings_agree!(rng, 3, 1, 1, 4, true);
        // More groups by rows than in the taps' order (14 against 13): gathered only.
        groupings_agree!(rng, 2, 5, 5, 3, false);
    }

    /// A 256-bit kernel's entry.
    type Kernel256<const OUT: usize, const G: usize> = unsafe fn(
        &[u8],
        &Shape,
        &[[[i8; 4]; OUT]; G],
        (&[i32; OUT], &[f32; OUT], u8, Clamp),
        &mut [u8],
    );

    /// A layer of `channels` input channels, a `kernel` and `OUT` output channels, `G` groups
    /// of four taps, with random inputs, offsets and weights (within `-64..=64` where
    /// `seven_bit`; and at once the largest sums' corner, every input 255 and every weight -128,
    /// where `corner`), on outputs from 1x1 to 4x19 and 4x32 (the channel-lanes kernel's widest
    /// rows), pooled and not, for ranges of output channels: each 256-bit kernel this CPU runs
    /// gives the steps of `i64` sums and `requantize_step` (of each 2x2 window's largest sum
    /// where pooled).
    #[allow(clippy::too_many_lines)]
    fn check_256<const OUT: usize, const G: usize>(
        rng: &mut SplitMix64,
        channels: usize,
        kernel: [usize; 2],
        seven_bit: bool,
        corner: bool,
        [ran, skipped]: &mut [BTreeSet<&'static str>; 2],
    ) {
        #[allow(clippy::cast_possible_truncation)]
        let mut byte = || rng.next_u64() as u8;
        let taps = channels * kernel[0] * kernel[1];
        assert_eq!(taps.div_ceil(4), G);
        let weights: [[[i8; 4]; OUT]; G] = core::array::from_fn(|g| {
            core::array::from_fn(|_| {
                core::array::from_fn(|k| match (4 * g + k < taps, corner, seven_bit) {
                    (false, ..) => 0,
                    (true, true, _) => -128,
                    (true, false, true) => (byte() % 129).cast_signed().wrapping_sub(64),
                    (true, false, false) => byte().cast_signed(),
                })
            })
        });
        assert_eq!(
            super::super::maddubs_exact(&weights),
            seven_bit,
            "7-bit weights take vpmaddubsw"
        );
        let offsets: [i32; OUT] = core::array::from_fn(|_| i32::from(byte()) * 997 - 120_000);
        // At the corner, one step per 8,192 of the sum (about -100 steps from 200), so that a
        // pair of products saturated in `i16` (32,512 short) moves the steps.
        #[allow(clippy::cast_precision_loss)]
        let multipliers: [f32; OUT] = core::array::from_fn(|o| {
            if corner {
                1.0 / 8192.0
            } else {
                0.0005 + 0.0003 * o as f32
            }
        });
        let zero_point = if corner { 200 } else { byte() };
        let clamp = Clamp { low: 3, high: 251 };
        let avx2 = std::is_x86_feature_detected!("avx2");
        let vex = avx2 && std::is_x86_feature_detected!("avxvnni");
        let evex = avx2
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni");
        for output_height in 1..=4 {
            for output_width in (1..=19).chain([31, 32]) {
                let size = [output_height + kernel[0] - 1, output_width + kernel[1] - 1];
                let plane = size[0] * size[1];
                let padded: Vec<u8> = (0..channels * plane + SLACK)
                    .map(|_| if corner { 255 } else { byte() })
                    .collect();
                let positions = output_height * output_width;
                let sum = |o: usize, y: usize, x: usize| {
                    let mut sum = i64::from(offsets[o]);
                    for t in 0..taps {
                        let (c, ky, kx) = (
                            t / (kernel[0] * kernel[1]),
                            t / kernel[1] % kernel[0],
                            t % kernel[1],
                        );
                        let input = padded[c * plane + (y + ky) * size[1] + x + kx];
                        sum += i64::from(input) * i64::from(weights[t / 4][o][t % 4]);
                    }
                    i32::try_from(sum).expect("within i32")
                };
                let step = |o: usize, sum: i32| {
                    requantize_step(
                        sum,
                        multipliers[o],
                        f32::from(zero_point),
                        f32::from(clamp.low),
                        f32::from(clamp.high),
                    )
                };
                // Every output channel, all but the first, and (a group's, in a grouped
                // convolution) neither the first nor the last.
                let ranges = [[0, OUT], [1, OUT], [1, OUT.saturating_sub(1).max(2)]];
                for (outputs, pooled) in ranges
                    .into_iter()
                    .filter(|&[first, end]| first < end)
                    .flat_map(|outputs| [(outputs, false), (outputs, true)])
                {
                    let shape = Shape {
                        channels,
                        padded: size,
                        kernel,
                        output: [output_height, output_width],
                        outputs,
                        pooled,
                    };
                    let mut expected = vec![7; OUT * shape.plane()];
                    for o in outputs[0]..outputs[1] {
                        if pooled {
                            let width = output_width / 2;
                            for p in 0..shape.plane() {
                                let (y, x) = (2 * (p / width), 2 * (p % width));
                                let largest = (0..4)
                                    .map(|k| sum(o, y + k / 2, x + k % 2))
                                    .max()
                                    .expect("four");
                                expected[o * shape.plane() + p] = step(o, largest);
                            }
                        } else {
                            for p in 0..positions {
                                let sum = sum(o, p / output_width, p % output_width);
                                expected[o * positions + p] = step(o, sum);
                            }
                        }
                    }
                    let layer = (&offsets, &multipliers, zero_point, clamp);
                    let kernels: [(&str, bool, Kernel256<OUT, G>); 8] = [
                        ("widened", avx2, v256::widened::forward::<OUT, G>),
                        (
                            "maddubs",
                            avx2 && seven_bit,
                            v256::maddubs::forward::<OUT, G>,
                        ),
                        ("vex", vex, v256::vex::forward::<OUT, G>),
                        ("evex", evex, v256::evex::forward::<OUT, G>),
                        ("lanes widened", avx2, lanes::widened::forward::<OUT, G>),
                        (
                            "lanes maddubs",
                            avx2 && seven_bit,
                            lanes::maddubs::forward::<OUT, G>,
                        ),
                        ("lanes vex", vex, lanes::vex::forward::<OUT, G>),
                        ("lanes evex", evex, lanes::evex::forward::<OUT, G>),
                    ];
                    assert!(lanes::fits(&shape), "{shape:?}");
                    for (name, runs, kernel) in kernels {
                        if !runs {
                            skipped.insert(name);
                            continue;
                        }
                        ran.insert(name);
                        let mut got = vec![7; OUT * shape.plane()];
                        assert!(shape.matches(G, OUT, padded.len(), got.len()));
                        // SAFETY: the CPU has the kernel's features (detected above), and the
                        // sizes match.
                        #[allow(unsafe_code)]
                        unsafe {
                            kernel(&padded, &shape, &weights, layer, &mut got);
                        }
                        assert_eq!(got, expected, "{name} {shape:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_256_bit_kernels_give_the_steps_of_the_sums() {
        let rng = &mut SplitMix64::new(12);
        // The kernels run, and those this CPU lacks.
        let mut sets = [BTreeSet::new(), BTreeSet::new()];
        for seven_bit in [false, true] {
            // LeNet's two convolutions' kernels and channels (a run of 6, runs of 8; the first
            // by the rows grouping, the second gathered).
            check_256::<6, 7>(rng, 1, [5, 5], seven_bit, false, &mut sets);
            check_256::<16, 38>(rng, 6, [5, 5], seven_bit, false, &mut sets);
            // Runs of 8 and 4 (two blocks of channels, the second partial); a kernel one tap
            // wide; one tap high (one-dimensional).
            check_256::<12, 3>(rng, 3, [3, 1], seven_bit, false, &mut sets);
            check_256::<3, 2>(rng, 2, [1, 3], seven_bit, false, &mut sets);
            // The rows grouping with rows left over as one more four, padded (a kernel one
            // column wide); and gathered, with more groups by rows than in the taps' order.
            check_256::<3, 2>(rng, 2, [3, 1], seven_bit, false, &mut sets);
            check_256::<3, 13>(rng, 2, [5, 5], seven_bit, false, &mut sets);
        }
        // The largest sums, exact through the widened products.
        check_256::<2, 7>(rng, 1, [5, 5], false, true, &mut sets);
        // The CPU runs AVX2's forms at least (CI's do); the others are where it has them.
        let [ran, mut skipped] = sets;
        skipped.retain(|name| !ran.contains(name));
        std::eprintln!("256-bit kernels checked: {ran:?}; not on this CPU: {skipped:?}");
        assert!(
            ran.contains("widened") && ran.contains("lanes maddubs"),
            "{ran:?}"
        );
    }

    /// A layer that `maddubs_exact` flags with 8-bit weights (120 at the flattened kernel's
    /// even taps, 0 at the odd ones, so each of its packing's pairs fits `i16`), whose rows
    /// pair two weights of 120 (a kernel 4 wide: rows `4 q` and `4 q + 1` at a column are taps
    /// 4 apart): on inputs of 255, the kernels the dispatch picks (the rows grouping, the
    /// channel-lanes kernel, or AVX-512's) give the exact sums' steps, not `vpmaddubsw`'s
    /// saturated ones.
    #[test]
    fn flagged_eight_bit_weights_stay_exact_in_every_grouping() {
        const OUT: usize = 16;
        const G: usize = 5;
        let weights: [[[i8; 4]; OUT]; G] =
            core::array::from_fn(|_| core::array::from_fn(|_| [120, 0, 120, 0]));
        assert!(super::super::maddubs_exact(&weights));
        let offsets = [0; OUT];
        let multipliers = [1.0 / 8192.0; OUT];
        let (zero_point, clamp) = (100, Clamp { low: 0, high: 255 });
        // 10 taps of 120 on 255 each: 306,000.
        let expected_step =
            requantize_step(306_000, multipliers[0], f32::from(zero_point), 0.0, 255.0);
        for output in [[3, 3], [4, 12]] {
            let size = [output[0] + 4, output[1] + 3];
            let padded = vec![255; size[0] * size[1] + SLACK];
            let shape = Shape {
                channels: 1,
                padded: size,
                kernel: [5, 4],
                output,
                outputs: [0, OUT],
                pooled: false,
            };
            let expected = vec![expected_step; OUT * shape.plane()];
            let mut got = vec![7; OUT * shape.plane()];
            let layer = (&offsets, &multipliers, zero_point, clamp);
            if lanes::forward(&padded, shape, &weights, layer, true, &mut got) {
                assert_eq!(got, expected, "channel lanes {shape:?}");
            }
            let mut got = vec![7; OUT * shape.plane()];
            let ran = super::forward(
                &padded,
                shape,
                &weights,
                None,
                &offsets,
                &multipliers,
                zero_point,
                clamp,
                true,
                &mut got,
            );
            assert_eq!(ran, available(G, OUT));
            if ran {
                assert_eq!(got, expected, "direct {shape:?}");
            }
        }
    }
}
