//! int8 convolutions of stride 1 with 16 output channels as the lanes of a `vpdpbusd`, each
//! input word a broadcast from memory: nothing is gathered or shuffled per position.
//!
//! Input row `k` is input channel `k / KH` from kernel row `k % KH` on (`KH` the kernel's
//! height). These rows are interleaved four at a time once per call (`words`, by VBMI's byte
//! permutations where the CPU has them, faster than shuffles: `lenet` in
//! bench/benches/quant_conv.rs): word `i` of four `q` holds byte `i` of rows `4 q .. 4 q +
//! 3`, so that a position's taps are, for each
//! four and kernel column, the one word at a fixed distance from the position's own. Each is
//! broadcast from memory into a `vpdpbusd` against a register of 16 output channels' weights
//! for those four rows and that column (repacked once per call). The sums of a position are
//! one vector of 16 channels, requantised as the other kernels requantise
//! (`requantize_vector`), and 16 positions' steps are transposed into 16 channels' rows of the
//! output planes.
//!
//! This suits layers of many output channels on small planes, where the lanes of
//! [`super::direct`] (16 neighbouring positions) are partly empty: LeNet's second convolution
//! (6 -> 16, 5x5, 14x14). [`cheaper`] decides, layer by layer. The sums are exact, so the
//! steps are every kernel's.

use super::super::Clamp;
use super::direct::{
    Shape, avx512::fill_words, avx512::interleave, avx512::load16, avx512::tap_indices,
};
use super::quantize::avx512::Bounds;
use super::tables::{Tables, Vector};
use crate::zeroed::filled_prefix;
use core::arch::x86_64::{
    __m128i, __m512i, _mm_load_ss, _mm_mask_storeu_epi8, _mm_setr_epi32, _mm512_add_epi32,
    _mm512_broadcast_i32x4, _mm512_broadcastss_ps, _mm512_castps_si512, _mm512_castsi128_si512,
    _mm512_castsi512_si128, _mm512_dpbusd_epi32, _mm512_extracti32x4_epi32, _mm512_inserti32x4,
    _mm512_mask_blend_epi32, _mm512_maskz_loadu_epi8, _mm512_maskz_loadu_epi32,
    _mm512_maskz_loadu_ps, _mm512_max_epi32, _mm512_permutex2var_epi32, _mm512_permutexvar_epi32,
    _mm512_set1_epi32, _mm512_setr_epi32, _mm512_setzero_si512, _mm512_shuffle_epi8,
    _mm512_storeu_si512,
};
use core::mem::MaybeUninit;

pub(crate) mod v256;

/// Lanes of a vector: output channels of a block, positions of a transposed block.
const L: usize = 16;
/// Words of the interleaved input on the stack: 24 KiB.
const WORDS: usize = 6144;
/// Groups of four taps (fours of input rows times kernel columns) the kernel holds weights
/// for: 8 KiB.
const MAX_GROUPS: usize = 128;

/// The kernel's sizes for `shape`: its groups (four input rows by one kernel column), the
/// fours of input rows, and the words of each four.
fn sizes(shape: &Shape) -> [usize; 3] {
    let [_, width] = shape.padded;
    let quads = (shape.channels * shape.kernel[0]).div_ceil(4);
    // A multiple of 32: the words are built 32 at a time.
    let span = (shape.output[0] * width + L).next_multiple_of(2 * L);
    [quads * shape.kernel[1], quads, span]
}

/// Whether this kernel fits its buffers and runs fewer `vpdpbusd` than [`super::direct`]: one
/// per block of 16 neighbouring positions, group of four taps and output channel there, one
/// per position (rounded up to 2 in a row), group and block of 16 output channels here. Their
/// count is what the time follows: the direct kernel's shuffles run alongside them (LeNet's
/// convolutions, `lenet` in bench/benches/quant_conv.rs: the first is faster there, 2,352
/// against 7,840 `vpdpbusd`; the second here, 6,080 against 4,000).
pub(crate) fn cheaper(shape: &Shape, groups: usize) -> bool {
    let [own_groups, _, _] = sizes(shape);
    let outputs = shape.outputs[1] - shape.outputs[0];
    let [output_height, output_width] = shape.output;
    let blocks = output_height * output_width.div_ceil(L);
    let gathered = blocks * groups * outputs;
    let positions = output_height * (output_width / L * L + (output_width % L).next_multiple_of(2));
    let broadcast = positions * own_groups * outputs.div_ceil(L);
    // Pooled rows go two at a time, which the kernel does for rows of at most 12 positions.
    let pooled_fits = !shape.pooled || output_width <= PAIRED_WIDTH;
    fits(shape) && broadcast < gathered && pooled_fits
}

/// Rows of at most this many positions go two at a time: up to 24 chains of sums in flight.
const PAIRED_WIDTH: usize = 12;

/// Whether `shape`'s interleaved rows and repacked weights fit this kernel's stack buffers.
fn fits(shape: &Shape) -> bool {
    let [own_groups, quads, span] = sizes(shape);
    own_groups <= MAX_GROUPS && quads * span <= WORDS
}

/// The steps of output channels `shape.outputs` into `output`, as [`super::direct::forward`]
/// computes them and with its arguments but `maddubs_exact`, from the same `padded` input (with
/// [`super::direct::SLACK`] bytes after it); `false` (nothing written) where the sizes do not
/// fit this kernel's buffers (more than [`super::direct::MAX_GROUPS`] groups of four taps among
/// them), `shape.outputs` is empty, or the CPU lacks AVX-512 VNNI, BW or VL.
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
    output: &mut [u8],
) -> bool {
    let permute = super::has_avx512vbmi();
    let requantize = (offsets, multipliers, zero_point, clamp);
    let prepared = tables.and_then(|tables| tables.lanes(shape.outputs));
    run(
        padded, shape, weights, prepared, requantize, output, permute,
    )
}

/// Builds the groups of every block of 16 output channels of a layer (`shape`'s channels
/// and kernel, all `OUT` output channels), block after block, into `to`, as the kernel builds
/// them per call; returns the groups per block, or 0 (nothing built) where the CPU lacks the
/// kernel or `to` is too short.
pub(crate) fn prepare<const OUT: usize, const G: usize>(
    weights: &[[[i8; 4]; OUT]; G],
    shape: &Shape,
    to: &mut [Vector],
) -> usize {
    let [groups, _, _] = sizes(shape);
    let blocks = OUT.div_ceil(L);
    if !super::direct::avx512_available(G) || groups > MAX_GROUPS || blocks * groups > to.len() {
        return 0;
    }
    let mut taps = [0; 4 * L * super::direct::MAX_GROUPS + L];
    for (b, to) in to.chunks_exact_mut(groups).take(blocks).enumerate() {
        let block = L * b;
        let channels = [block, L.min(OUT - block)];
        let (to, taps) = (vectors(to), &mut taps[..4 * L * G + L]);
        // SAFETY: `available` found AVX-512 F, BW and VL, VBMI checked; `block + channels <=
        // OUT`.
        #[allow(unsafe_code)]
        unsafe {
            repack_block(weights, shape, channels, taps, to, super::has_avx512vbmi());
        }
    }
    groups
}

/// The groups of output channels `channels` (`[block, count]`) into `to`: [`repack_vbmi`]
/// where `permute`, else [`repack`] with its buffer of taps.
///
/// # Safety
///
/// The CPU has AVX-512 F, BW and VL, and VBMI where `permute`; `block + count <= OUT`, `count
/// <= 16`; `taps` is `repack`'s (its last 16 bytes zero) where not `permute`.
#[allow(unsafe_code)]
#[inline]
unsafe fn repack_block<const OUT: usize, const G: usize>(
    weights: &[[[i8; 4]; OUT]; G],
    shape: &Shape,
    channels: [usize; 2],
    taps: &mut [u8],
    to: &mut [__m512i],
    permute: bool,
) {
    // SAFETY: the caller's.
    unsafe {
        if permute {
            repack_vbmi(weights, shape, channels, to);
        } else {
            repack(weights, shape, channels, taps, to);
        }
    }
}

/// The 512-bit vectors of `vectors`' bytes.
fn vectors(vectors: &mut [Vector]) -> &mut [__m512i] {
    // SAFETY: a `Vector` is 64 bytes aligned to 64, as a `__m512i`, and any bytes are valid
    // as either.
    #[allow(unsafe_code)]
    unsafe {
        core::slice::from_raw_parts_mut(vectors.as_mut_ptr().cast(), vectors.len())
    }
}

/// [`forward`], building the words with VBMI's permutations where `permute` (which the CPU
/// must then have), else with shuffles.
#[allow(clippy::type_complexity)]
fn run<const OUT: usize, const G: usize>(
    padded: &[u8],
    shape: Shape,
    weights: &[[[i8; 4]; OUT]; G],
    prepared: Option<&[Vector]>,
    requantize: (&[i32; OUT], &[f32; OUT], u8, Clamp),
    output: &mut [u8],
    permute: bool,
) -> bool {
    let sizes = shape.matches(G, OUT, padded.len(), output.len())
        && shape.outputs[0] < shape.outputs[1]
        && fits(&shape)
        && (!shape.pooled || shape.output[1] <= PAIRED_WIDTH);
    if !sizes || !super::direct::avx512_available(G) || (permute && !super::has_avx512vbmi()) {
        return false;
    }
    // SAFETY: `available` found AVX-512 VNNI, F, BW and VL, VBMI where `permute`; `sizes`
    // checked the sizes.
    #[allow(unsafe_code)]
    unsafe {
        kernel(
            padded, &shape, weights, prepared, requantize, output, permute,
        );
    }
    true
}

/// What each output channel's steps need beyond its sums.
struct Requantize<'a, const OUT: usize> {
    offsets: &'a [i32; OUT],
    multipliers: &'a [f32; OUT],
    bounds: Bounds,
}

/// See [`forward`], whose checks this relies on.
///
/// # Safety
///
/// The CPU has AVX-512 F, BW, VL and VNNI, and VBMI where `permute`; the sizes are as
/// [`forward`] checks.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn kernel<const OUT: usize, const G: usize>(
    padded: &[u8],
    shape: &Shape,
    weights: &[[[i8; 4]; OUT]; G],
    prepared: Option<&[Vector]>,
    (offsets, multipliers, zero_point, clamp): (&[i32; OUT], &[f32; OUT], u8, Clamp),
    output: &mut [u8],
    permute: bool,
) {
    let requantize = &Requantize {
        offsets,
        multipliers,
        bounds: Bounds::new(zero_point, clamp),
    };
    let width = shape.padded[1];
    let kernel_width = shape.kernel[1];
    let [groups, _, span] = sizes(shape);
    let mut words = MaybeUninit::<[__m512i; WORDS / L]>::uninit();
    let words = words.as_mut_ptr().cast::<u32>();
    // SAFETY: the caller's sizes (`fits`) and VBMI where `permute`.
    unsafe { build_words(padded, shape, words, permute) };
    // Group `g` (four `g / KW`, kernel column `g % KW`) reads the word `starts[g]` words from
    // a position's.
    let mut starts = [0; MAX_GROUPS];
    // By fours and columns: a division per group took a tenth of LeNet's second convolution.
    for (quad, starts) in starts[..groups].chunks_mut(kernel_width).enumerate() {
        for (column, start) in starts.iter_mut().enumerate() {
            *start = quad * span + column;
        }
    }
    let starts = &starts[..groups];
    // Only the parts used are zeroed: both whole buffers (12 KiB) took a tenth of LeNet's
    // second convolution. Tap `t`'s 16 channels at `16 t ..`, 16 zeros at `64 G` (`repack`'s
    // without VBMI, kept across blocks).
    let mut repacked = MaybeUninit::<[__m512i; MAX_GROUPS]>::uninit();
    let mut taps = MaybeUninit::<[u8; 4 * L * super::direct::MAX_GROUPS + L]>::uninit();
    // SAFETY: `groups <= MAX_GROUPS` (`fits`), `G <= direct::MAX_GROUPS` (`available`); zeros
    // are valid vectors and bytes.
    // Prepared groups are every block's (`Tables::lanes`); neither buffer is then used.
    let [first, end] = shape.outputs;
    let prepared = prepared.filter(|tables| tables.len() == (end - first).div_ceil(L) * groups);
    let built = if prepared.is_some() { 0 } else { groups };
    let (repacked, taps) = unsafe {
        (
            filled_prefix(&mut repacked, built, 0),
            if permute || prepared.is_some() {
                &mut []
            } else {
                filled_prefix(&mut taps, 4 * L * G + L, 0)
            },
        )
    };
    // A block's sums, the positions past the stored ones never read as steps.
    let mut sums = [[_mm512_setzero_si512(); L]; 2];
    for (b, block) in (first..end).step_by(L).enumerate() {
        let channels = L.min(end - block);
        // The prepared groups of the block (a call computing every channel), or built here.
        let prepared = prepared.and_then(|tables| tables.get(b * groups..(b + 1) * groups));
        let repacked: &[__m512i] = if let Some(prepared) = prepared {
            // SAFETY: as in `vectors`, read only.
            unsafe { core::slice::from_raw_parts(prepared.as_ptr().cast(), groups) }
        } else {
            // SAFETY: the caller's CPU features; `taps` as `repack` needs it without VBMI.
            unsafe { repack_block(weights, shape, [block, channels], taps, repacked, permute) };
            repacked
        };
        let lanes = u16::MAX >> (L - channels);
        // SAFETY: the enabled lanes are channels `block .. block + channels`, within `OUT`.
        let (offsets, multipliers) = unsafe {
            (
                _mm512_maskz_loadu_epi32(lanes, requantize.offsets.as_ptr().add(block).cast()),
                _mm512_maskz_loadu_ps(lanes, requantize.multipliers.as_ptr().add(block)),
            )
        };
        let block_of = Block {
            words,
            starts,
            weights: repacked,
            offsets,
        };
        let pairs = shape.output[1] <= PAIRED_WIDTH;
        // A pooled layer's rows are paired (`cheaper`); an odd last one is in no window.
        let height = if shape.pooled {
            shape.output[0] / 2 * 2
        } else {
            shape.output[0]
        };
        let mut y = 0;
        while y < height {
            let rows = if pairs && y + 1 < height { 2 } else { 1 };
            for x in (0..shape.output[1]).step_by(L) {
                let count = L.min(shape.output[1] - x);
                let first = y * width + x;
                // Sums of `count` positions rounded up to 2 (the others are not stored) in
                // each of the `rows` rows.
                // SAFETY: within a four, the largest word read is `(OH - 1) width + x + p +
                // KW - 1` with `p < P <= count + 1` and `x + count <= OW`, so at most `(OH - 1)
                // width + OW + KW + 1 <= OH width + 2 < span` (`OW + KW <= width + 1`): every
                // word read was built, in its own four.
                unsafe {
                    block_of.sums_of(count, rows, first, width, &mut sums);
                }
                store_rows(
                    &sums,
                    [y, rows],
                    [x, count],
                    multipliers,
                    requantize,
                    [block, channels],
                    shape,
                    output,
                );
            }
            y += rows;
        }
    }
}

/// The interleaved input into `words`: input row `k` is kernel row `k % KH` of channel `k /
/// KH`, from each output row, and word `i` of four `q` (at `q span + i`) holds byte `i` of
/// input rows `4 q .. 4 q + 3` (a four short of rows repeats its first, whose weights there
/// are zero).
///
/// # Safety
///
/// As [`kernel`]'s: `words` is `WORDS` writable words, the shape [`fits`], the CPU has
/// AVX-512 F and BW, and VBMI where `permute`.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn build_words(padded: &[u8], shape: &Shape, words: *mut u32, permute: bool) {
    let [_, quads, span] = sizes(shape);
    for quad in 0..quads {
        let from = shape.quad_rows(quad);
        // The loads end at most at `(channels - 1) plane + (KH - 1 + OH) width + 15 + 31 <=
        // channels plane + 46` (`span <= OH width + 47`), within `padded` (`SLACK`).
        // SAFETY: words `quad span .. + span`, within `quads span <= WORDS`; VBMI where
        // `permute`.
        unsafe {
            fill_words(padded, from, true, span, words.add(quad * span), permute);
        }
    }
}

/// One block of output channels' tables for [`Block::sums`].
struct Block<'a> {
    words: *const u32,
    starts: &'a [usize],
    weights: &'a [__m512i],
    offsets: __m512i,
}

impl Block<'_> {
    /// [`Block::sums`] of `count` positions (rounded up to 2) in each of `rows` rows (2 only
    /// for rows of at most 12 positions).
    ///
    /// # Safety
    ///
    /// As [`Block::sums`], with `P` the rounded count.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn sums_of(
        &self,
        count: usize,
        rows: usize,
        first: usize,
        width: usize,
        sums: &mut [[__m512i; L]; 2],
    ) {
        debug_assert!(
            rows == 1 || count <= PAIRED_WIDTH,
            "rows of {count} go one at a time"
        );
        // SAFETY: the caller's.
        unsafe {
            match (count.div_ceil(2), rows) {
                (1, 1) => self.sums::<2, 1>(first, width, sums),
                (1, _) => self.sums::<2, 2>(first, width, sums),
                (2, 1) => self.sums::<4, 1>(first, width, sums),
                (2, _) => self.sums::<4, 2>(first, width, sums),
                (3, 1) => self.sums::<6, 1>(first, width, sums),
                (3, _) => self.sums::<6, 2>(first, width, sums),
                (4, 1) => self.sums::<8, 1>(first, width, sums),
                (4, _) => self.sums::<8, 2>(first, width, sums),
                (5, 1) => self.sums::<10, 1>(first, width, sums),
                (5, _) => self.sums::<10, 2>(first, width, sums),
                (6, 1) => self.sums::<12, 1>(first, width, sums),
                (6, _) => self.sums::<12, 2>(first, width, sums),
                (7, _) => self.sums::<14, 1>(first, width, sums),
                _ => self.sums::<16, 1>(first, width, sums),
            }
        }
    }

    /// The sums of `P` positions from word `first` in each of `R` rows (`width` words
    /// apart), into `sums[row][..P]`.
    ///
    /// # Safety
    ///
    /// Every word `first + r width + p + starts[g]` (`r < R`, `p < P`) was built.
    #[allow(unsafe_code)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn sums<const P: usize, const R: usize>(
        &self,
        first: usize,
        width: usize,
        sums: &mut [[__m512i; L]; 2],
    ) {
        let mut rows = [[self.offsets; P]; R];
        for (&start, &weights) in self.starts.iter().zip(self.weights) {
            for (r, row) in rows.iter_mut().enumerate() {
                // SAFETY: see the caller.
                let at = unsafe { self.words.add(first + r * width + start) };
                for (p, sum) in row.iter_mut().enumerate() {
                    // A broadcast from memory (a load, no shuffle), not a load into a general
                    // register then a broadcast from it, which took a shuffle port's cycle
                    // per `vpdpbusd`.
                    // SAFETY: as above.
                    let word = unsafe {
                        _mm512_castps_si512(_mm512_broadcastss_ps(_mm_load_ss(
                            at.add(p).cast::<f32>(),
                        )))
                    };
                    *sum = _mm512_dpbusd_epi32(*sum, word, weights);
                }
            }
        }
        for (row, to) in rows.iter().zip(sums.iter_mut()) {
            to[..P].copy_from_slice(row);
        }
    }
}

/// The weights of output channels `block .. block + channels` in the kernel's groups: lane
/// `o` of group `g` (four `q = g / KW`, kernel column `g % KW`) holds channel `block + o`'s
/// weights of input rows `4 q .. 4 q + 3` in that column (0 past the rows and the block). Each
/// packed group's 64 bytes become four taps' rows of 16 channels (`taps`), and four taps' rows
/// one group.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn repack<const OUT: usize, const G: usize>(
    weights: &[[[i8; 4]; OUT]; G],
    shape: &Shape,
    [block, channels]: [usize; 2],
    taps: &mut [u8],
    to: &mut [__m512i],
) {
    let [kernel_height, kernel_width] = shape.kernel;
    let rows = shape.channels * kernel_height;
    let lanes = u64::MAX >> (64 - 4 * channels);
    // Tap `t`'s 16 channels at bytes `16 t ..`; the bytes after the `G` groups stay zero.
    let zero_row = 4 * L * G;
    for (g, group) in weights.iter().enumerate() {
        // SAFETY: the enabled bytes are channels `block .. block + channels` of the group,
        // within it; a masked load reads nothing else.
        #[allow(unsafe_code)]
        let v = unsafe { _mm512_maskz_loadu_epi8(lanes, group.as_ptr().add(block).cast()) };
        // Four channels' four taps per 128-bit lane become tap `j`'s 16 channels at bytes
        // `16 j ..`.
        taps[64 * g..64 * g + 64].copy_from_slice(&to_bytes(transpose_fours(v)));
    }
    // Input row `row`'s tap in kernel column `column`: tap `row KW + column` of the flattened
    // kernel (`row` is `channel KH + kernel row`).
    let tap = |row: usize, column: usize| -> __m128i {
        let at = if row < rows {
            16 * (row * kernel_width + column)
        } else {
            zero_row
        };
        load16(taps, at)
    };
    for (quad, to) in to.chunks_mut(kernel_width).enumerate() {
        for (column, to) in to.iter_mut().enumerate() {
            *to = interleave(
                tap(4 * quad, column),
                tap(4 * quad + 1, column),
                tap(4 * quad + 2, column),
                tap(4 * quad + 3, column),
            );
        }
    }
}

/// [`repack`] by VBMI's byte permutations, with no buffer of taps: byte `j` of a group's
/// four-byte words is one masked permutation of the packed group holding tap `(4 q + j) KW +
/// column`, four loads and four permutations per group where [`repack`] takes about a dozen
/// shuffles. The direct kernel's `taps_vbmi` does the same for one group; called here for
/// each, with its indices rebuilt per group and its taps as `Option`s, it made LeNet's second
/// convolution slower (`lenet` in bench/benches/quant_conv.rs), so the indices are built once
/// here.
///
/// # Safety
///
/// The CPU has AVX-512 VBMI (with F and BW); `block + channels <= OUT`, `channels <= 16`.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
pub(super) unsafe fn repack_vbmi<const OUT: usize, const G: usize>(
    weights: &[[[i8; 4]; OUT]; G],
    shape: &Shape,
    [block, channels]: [usize; 2],
    to: &mut [__m512i],
) {
    use core::arch::x86_64::_mm512_mask_permutexvar_epi8;
    let [kernel_height, kernel_width] = shape.kernel;
    let rows = shape.channels * kernel_height;
    let lanes = u64::MAX >> (64 - 4 * channels);
    let by_tap = tap_indices();
    // By fours and columns: a division per group took a tenth of LeNet's second convolution.
    for (quad, to) in to.chunks_mut(kernel_width).enumerate() {
        for (column, to) in to.iter_mut().enumerate() {
            let mut v = _mm512_setzero_si512();
            for j in 0..4 {
                let row = 4 * quad + j;
                if row >= rows {
                    break;
                }
                let t = row * kernel_width + column;
                // SAFETY: the enabled bytes are channels `block .. block + channels` of
                // packed group `t / 4 < G` (`t` is a tap of the kernel); a masked load reads
                // nothing else.
                let group = unsafe {
                    _mm512_maskz_loadu_epi8(lanes, weights[t / 4].as_ptr().add(block).cast())
                };
                let bytes = 0x1111_1111_1111_1111 << j;
                v = _mm512_mask_permutexvar_epi8(v, bytes, by_tap[t % 4], group);
            }
            *to = v;
        }
    }
}

/// The 4 by 4 transpose of four-byte words: byte `m` of word `4 l + k` (word `k` of 128-bit
/// lane `l`) moves to byte `l` of word `4 k + m`, so that, for 16 items of four bytes each,
/// lane `m` holds byte `m` of every item. `repack` turns 16 channels' four taps into four
/// taps' 16 channels with it, `store` 16 positions' four channels into four channels' 16
/// positions.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn transpose_fours(v: __m512i) -> __m512i {
    // Within each lane, byte `4 m + k` from byte `4 k + m`: byte `m` of the lane's four words.
    let bytes = _mm512_shuffle_epi8(
        v,
        _mm512_broadcast_i32x4(_mm_setr_epi32(
            0x0c08_0400,
            0x0d09_0501,
            0x0e0a_0602,
            0x0f0b_0703,
        )),
    );
    // Word `4 m + l` from word `4 l + m`: the lanes' words `m` together.
    _mm512_permutexvar_epi32(
        _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15),
        bytes,
    )
}

/// The 64 bytes of a register.
#[target_feature(enable = "avx512f")]
#[inline]
fn to_bytes(v: __m512i) -> [u8; 64] {
    let mut bytes = [0; 64];
    // SAFETY: 64 writable bytes.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_storeu_si512(bytes.as_mut_ptr().cast(), v);
    }
    bytes
}

/// Stores the steps of a block's `rows` rows of sums (`count` positions from `(y, x)`), or,
/// for a pooled shape, of the maxima of their 2x2 windows (`x` is then 0, the rows `y` and
/// `y + 1`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[allow(clippy::too_many_arguments)]
fn store_rows<const OUT: usize>(
    sums: &[[__m512i; L]; 2],
    [y, rows]: [usize; 2],
    [x, count]: [usize; 2],
    multipliers: core::arch::x86_64::__m512,
    requantize: &Requantize<'_, OUT>,
    channels: [usize; 2],
    shape: &Shape,
    output: &mut [u8],
) {
    let plane = shape.plane();
    if shape.pooled {
        let windows = count / 2;
        let [top, bottom] = sums;
        let maxima: [__m512i; L] = core::array::from_fn(|k| {
            if k < windows {
                _mm512_max_epi32(
                    _mm512_max_epi32(top[2 * k], top[2 * k + 1]),
                    _mm512_max_epi32(bottom[2 * k], bottom[2 * k + 1]),
                )
            } else {
                _mm512_setzero_si512()
            }
        });
        let at = y / 2 * (shape.output[1] / 2);
        store(
            &maxima,
            multipliers,
            requantize,
            channels,
            at,
            windows,
            plane,
            output,
        );
        return;
    }
    for (row, sums) in sums.iter().enumerate().take(rows) {
        let at = (y + row) * shape.output[1] + x;
        store(
            sums,
            multipliers,
            requantize,
            channels,
            at,
            count,
            plane,
            output,
        );
    }
}

/// Requantises 16 positions' sums (lanes: the block's channels) and stores the first `count`
/// positions' steps into each of the block's `channels` planes, from position `at`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[allow(clippy::too_many_arguments)]
fn store<const OUT: usize>(
    sums: &[__m512i; L],
    multipliers: core::arch::x86_64::__m512,
    requantize: &Requantize<'_, OUT>,
    [block, channels]: [usize; 2],
    at: usize,
    count: usize,
    plane: usize,
    output: &mut [u8],
) {
    use super::quantize::avx512::requantize_vector;
    // Only the positions stored are requantised; the others' bytes are never written.
    let steps: [__m128i; L] = core::array::from_fn(|p| {
        if p < count {
            requantize_vector(sums[p], multipliers, &requantize.bounds)
        } else {
            _mm512_castsi512_si128(_mm512_setzero_si512())
        }
    });
    // Positions 4k .. 4k + 3 in register k, one per 128-bit lane.
    let quarters: [__m512i; 4] = core::array::from_fn(|k| {
        let v = _mm512_castsi128_si512(steps[4 * k]);
        let v = _mm512_inserti32x4::<1>(v, steps[4 * k + 1]);
        let v = _mm512_inserti32x4::<2>(v, steps[4 * k + 2]);
        _mm512_inserti32x4::<3>(v, steps[4 * k + 3])
    });
    let mask = if count >= L {
        u16::MAX
    } else {
        (1 << count) - 1
    };
    // Word `r` of `quarters[r / 4]`'s lanes: `4 r + quad` for positions 0 to 7 (the first
    // two quarters), the same for 8 to 15 (the other two).
    let words_of_positions =
        _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    for quad in 0..channels.div_ceil(4) {
        // Word `r` = position `r`'s steps of channels `4 quad ..`: word `quad` of each
        // position's lane.
        #[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)] // below 4
        let pick = _mm512_add_epi32(words_of_positions, _mm512_set1_epi32(quad as i32));
        let low = _mm512_permutex2var_epi32(quarters[0], pick, quarters[1]);
        let high = _mm512_permutex2var_epi32(quarters[2], pick, quarters[3]);
        // Lane `k`: channel `4 quad + k`'s 16 positions.
        let by_channel = transpose_fours(_mm512_mask_blend_epi32(0xff00, low, high));
        let rows: [__m128i; 4] = [
            _mm512_extracti32x4_epi32::<0>(by_channel),
            _mm512_extracti32x4_epi32::<1>(by_channel),
            _mm512_extracti32x4_epi32::<2>(by_channel),
            _mm512_extracti32x4_epi32::<3>(by_channel),
        ];
        for (k, row) in rows.into_iter().enumerate() {
            let c = 4 * quad + k;
            if c >= channels {
                break;
            }
            let to = &mut output[(block + c) * plane + at..(block + c) * plane + at + count];
            // SAFETY: only the first `count <= 16` bytes are enabled, and they lie in `to`.
            #[allow(unsafe_code)]
            unsafe {
                _mm_mask_storeu_epi8(to.as_mut_ptr().cast(), mask, row);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::direct::{self, SLACK, Shape};
    use super::super::tables::Tables;
    use super::{Clamp, cheaper, fits, forward, run};
    use crate::init::SplitMix64;
    use std::vec;
    use std::vec::Vec;

    /// Random layers of `$channels` input channels, a `$kh` by `$kw` kernel and `$out` output
    /// channels, on outputs of every size from 1x1 to 5x20 and for several ranges of output
    /// channels: the steps are [`direct::forward`]'s, byte for byte, and where the CPU has
    /// AVX-512 VNNI this kernel ran (`forward` returned `true`) wherever its buffers hold the
    /// layer; elsewhere it refuses.
    macro_rules! agrees {
        ($rng:expr, $channels:literal, $kh:literal, $kw:literal, $out:literal) => {{
            const G: usize = ($channels * $kh * $kw as usize).div_ceil(4);
            let rng: &mut SplitMix64 = $rng;
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
            let mut byte = || rng.next_u64() as u8;
            let weights: [[[i8; 4]; $out]; G] = core::array::from_fn(|g| {
                core::array::from_fn(|_| {
                    core::array::from_fn(|k| {
                        // Zero past the kernel's taps, as the packed layout keeps them.
                        if 4 * g + k < $channels * $kh * $kw {
                            byte().cast_signed()
                        } else {
                            0
                        }
                    })
                })
            });
            let offsets: [i32; $out] = core::array::from_fn(|_| i32::from(byte()) * 997 - 120_000);
            let multipliers: [f32; $out] = core::array::from_fn(|o| 0.0005 + 0.0003 * o as f32);
            let (zero_point, clamp) = (byte(), Clamp { low: 3, high: 251 });
            for output_height in 1..=5 {
                for output_width in 1..=20 {
                    let padded_size = [output_height + $kh - 1, output_width + $kw - 1];
                    let plane = padded_size[0] * padded_size[1];
                    let padded: Vec<u8> = (0..$channels * plane + SLACK).map(|_| byte()).collect();
                    let end = $out;
                    for outputs in [[0, end], [1, end], [0, end - 1], [end / 2, end]] {
                        let shape = Shape {
                            channels: $channels,
                            padded: padded_size,
                            kernel: [$kh, $kw],
                            output: [output_height, output_width],
                            outputs,
                            pooled: false,
                        };
                        let positions = $out * output_height * output_width;
                        let (mut expected, mut got) = (vec![7; positions], vec![7; positions]);
                        let ran = forward(
                            &padded,
                            shape,
                            &weights,
                            None,
                            &offsets,
                            &multipliers,
                            zero_point,
                            clamp,
                            &mut got,
                        );
                        assert_eq!(
                            ran,
                            direct::avx512_available(G) && fits(&shape),
                            "{shape:?}"
                        );
                        // And with the words built by shuffles, where VBMI would be used.
                        let mut shuffled = vec![7; positions];
                        let requantize = (&offsets, &multipliers, zero_point, clamp);
                        let ran_shuffled = run(
                            &padded,
                            shape,
                            &weights,
                            None,
                            requantize,
                            &mut shuffled,
                            false,
                        );
                        assert_eq!(ran_shuffled, ran, "{shape:?}");
                        assert_eq!(shuffled, got, "{shape:?}");
                        // And with the groups prepared (for every output channel only).
                        let tables = Tables::new(&weights, $channels, [$kh, $kw]);
                        let prepared = tables.lanes(outputs);
                        if outputs != [0, end] || !direct::avx512_available(G) {
                            assert!(prepared.is_none(), "{shape:?}");
                        } else if ran {
                            assert!(prepared.is_some(), "{shape:?}");
                        }
                        let mut from_tables = vec![7; positions];
                        let ran_prepared = forward(
                            &padded,
                            shape,
                            &weights,
                            Some(&tables),
                            &offsets,
                            &multipliers,
                            zero_point,
                            clamp,
                            &mut from_tables,
                        );
                        assert_eq!(ran_prepared, ran, "{shape:?}");
                        assert_eq!(from_tables, got, "{shape:?}");
                        if ran {
                            assert!(direct::forward(
                                &padded,
                                shape,
                                &weights,
                                None,
                                &offsets,
                                &multipliers,
                                zero_point,
                                clamp,
                                false,
                                &mut expected,
                            ));
                            assert_eq!(got, expected, "{shape:?}");
                        }
                    }
                }
            }
        }};
    }

    #[test]
    fn gives_the_direct_kernels_steps() {
        let mut rng = SplitMix64::new(25);
        let rng = &mut rng;
        // LeNet's second convolution; a kernel one column wide (15 input rows, blocks of 16
        // and 5 output channels); one row high (7 channels); one input channel; many input
        // rows (the most groups of four taps the direct kernels take; beyond its buffers from
        // 5 rows of 17).
        agrees! { rng, 6, 5, 5, 16 }
        agrees! { rng, 5, 3, 1, 21 }
        agrees! { rng, 7, 1, 3, 21 }
        agrees! { rng, 1, 2, 2, 33 }
        agrees! { rng, 85, 3, 1, 16 }
    }

    #[test]
    fn is_picked_where_it_runs_fewer_instructions() {
        let lenet = |channels, size, kernel, outputs| Shape {
            channels,
            padded: [size, size],
            kernel: [kernel, kernel],
            output: [size - kernel + 1, size - kernel + 1],
            outputs: [0, outputs],
            pooled: false,
        };
        // LeNet's second convolution: 4,000 `vpdpbusd` here against 6,080; its first: 7,840
        // against 2,352.
        assert!(cheaper(&lenet(6, 14, 5, 16), 38));
        assert!(!cheaper(&lenet(1, 32, 5, 6), 7));
    }
}
