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
//! The input comes padded (at its zero point) in a buffer with [`SLACK`] bytes after it: the
//! last positions of a row load past its end, into the next row or the slack, for lanes beyond
//! the output's width, whose results are never stored. The sums are exact, so they are those of
//! the dense kernels; the requantisation is `requantize_step`'s: the same steps at every level.

use super::super::Clamp;

/// Bytes after the padded input that the kernel may read (never use).
pub(crate) const SLACK: usize = 64;
/// The most groups of four taps (`IN * KH * KW / 4`, rounded up) the kernel holds for a block
/// of positions: 64 bytes each, on the stack.
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
}

impl Shape {
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
        let taps = self.channels * self.kernel[0] * self.kernel[1];
        groups == taps.div_ceil(4)
            && padded >= self.channels * height * width + SLACK
            && output >= outputs * self.output[0] * self.output[1]
            && self.outputs[0] <= self.outputs[1]
            && self.outputs[1] <= outputs
            && self.output[0] + self.kernel[0] <= height + 1
            && self.output[1] + self.kernel[1] <= width + 1
    }
}

/// Whether [`forward`] runs on this CPU, for `groups` groups of four taps: AVX-512 VNNI (whose
/// level also requires AVX-512VL, for the 128-bit masked stores), and AVX-512BW for the byte
/// stores.
#[inline]
pub(crate) fn available(groups: usize) -> bool {
    groups <= MAX_GROUPS && super::level() == super::QuantLevel::Avx512Vnni && super::has_avx512bw()
}

/// The steps of every output channel (`output`, `OUT` planes of `shape.output`), from `padded`
/// (`shape.channels` planes of `shape.padded`, then at least [`SLACK`] more bytes), with the
/// dense layer's packed weights, offsets and multipliers; `false` (nothing written) where
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
    output: &mut [u8],
) -> bool {
    if !shape.matches(G, OUT, padded.len(), output.len()) || !available(G) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `available` found AVX-512 VNNI, F, BW and VL on this CPU, and
        // `matches` checked the sizes the kernel's loads and stores rely on.
        #[allow(unsafe_code)]
        unsafe {
            avx512::forward(
                padded,
                shape,
                weights,
                offsets,
                multipliers,
                zero_point,
                clamp,
                output,
            );
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (weights, offsets, multipliers, zero_point, clamp);
        false
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx512 {
    use super::super::quantize::avx512::{Bounds, requantize_vector};
    use super::{Clamp, MAX_GROUPS, Shape};
    use core::arch::x86_64::{
        __m128i, __m512i, __mmask16, _mm_loadu_si128, _mm_mask_storeu_epi8, _mm_storeu_si128,
        _mm_unpackhi_epi8, _mm_unpackhi_epi16, _mm_unpacklo_epi8, _mm_unpacklo_epi16,
        _mm512_castsi128_si512, _mm512_dpbusd_epi32, _mm512_inserti32x4, _mm512_set1_epi32,
        _mm512_set1_ps,
    };

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

    /// See [`super::forward`], whose checks this relies on.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward<const OUT: usize, const G: usize>(
        padded: &[u8],
        shape: Shape,
        weights: &[[[i8; 4]; OUT]; G],
        offsets: &[i32; OUT],
        multipliers: &[f32; OUT],
        zero_point: u8,
        clamp: Clamp,
        output: &mut [u8],
    ) {
        let [height, width] = shape.padded;
        let [kernel_height, kernel_width] = shape.kernel;
        let [output_height, output_width] = shape.output;
        let taps = shape.channels * kernel_height * kernel_width;
        // Where each tap reads, from a position's first byte; taps past the kernel (zero
        // weights) read the first tap's bytes.
        let mut tap_offsets = [0; 4 * MAX_GROUPS];
        let mut t = 0;
        for channel in 0..shape.channels {
            for y in 0..kernel_height {
                for x in 0..kernel_width {
                    tap_offsets[t] = (channel * height + y) * width + x;
                    t += 1;
                }
            }
        }
        debug_assert_eq!(t, taps);
        let layer = Layer {
            weights,
            offsets,
            multipliers,
            bounds: Bounds::new(zero_point, clamp),
            plane: output_height * output_width,
        };
        let mut block = [_mm512_set1_epi32(0); G];
        for y in 0..output_height {
            let mut x = 0;
            while x < output_width {
                let first = y * width + x;
                for (g, v) in block.iter_mut().enumerate() {
                    let at = &tap_offsets[4 * g..4 * g + 4];
                    *v = interleave(
                        load16(padded, first + at[0]),
                        load16(padded, first + at[1]),
                        load16(padded, first + at[2]),
                        load16(padded, first + at[3]),
                    );
                }
                let at = y * output_width + x;
                let count = L.min(output_width - x);
                let [mut o, end] = shape.outputs;
                while o < end {
                    let to = &mut output[o * layer.plane + at..];
                    match end - o {
                        1 => channels::<1, OUT, G>(&layer, &block, o, to, count),
                        2 => channels::<2, OUT, G>(&layer, &block, o, to, count),
                        3 => channels::<3, OUT, G>(&layer, &block, o, to, count),
                        4 => channels::<4, OUT, G>(&layer, &block, o, to, count),
                        5 => channels::<5, OUT, G>(&layer, &block, o, to, count),
                        6 => channels::<6, OUT, G>(&layer, &block, o, to, count),
                        7 => channels::<7, OUT, G>(&layer, &block, o, to, count),
                        _ => channels::<CHANNELS, OUT, G>(&layer, &block, o, to, count),
                    }
                    o += CHANNELS;
                }
                x += L;
            }
        }
    }

    /// A weight's four bytes as the `i32` that `vpdpbusd` broadcasts.
    #[inline]
    #[allow(clippy::cast_sign_loss)] // the bit patterns
    fn word(bytes: [i8; 4]) -> i32 {
        i32::from_le_bytes(bytes.map(|b| b as u8))
    }

    /// The layer, and its requantisation's zero point and bounds.
    struct Layer<'a, const OUT: usize, const G: usize> {
        weights: &'a [[[i8; 4]; OUT]; G],
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
        layer: &Layer<'_, OUT, G>,
        block: &[__m512i; G],
        o: usize,
        to: &mut [u8],
        count: usize,
    ) {
        let lanes: __mmask16 = if count >= L { !0 } else { (1 << count) - 1 };
        let mut sums: [__m512i; C] =
            core::array::from_fn(|c| _mm512_set1_epi32(layer.offsets[o + c]));
        for (v, row) in block.iter().zip(layer.weights) {
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
