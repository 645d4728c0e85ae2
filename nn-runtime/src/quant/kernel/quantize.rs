//! [`Quantization::quantize`] over a slice with AVX-512F or AVX2, without a division.
//!
//! `x / scale` is `x * (1 / scale)` corrected once by Markstein's step: with `inverse` the
//! correctly rounded `1 / scale` and `q = x * inverse`, the residual `x - q * scale` is exact
//! in one fused multiply-add, and `q + residual * inverse` is the correctly rounded quotient.
//! So the steps are those of the division, at every level; `vdivps` alone limited the loop
//! (`quantize` of `mnist_b256` in bench/benches/quantized.rs). The step needs the residual not
//! to underflow, which holds for scales within `2^±60` (a calibrated scale is far inside;
//! others take the division): inputs small enough to underflow it are then far below half a
//! step, and round to the zero point either way.
//!
//! [`requantize_rows`] is `requantize_step` over rows of sums, the same operations in integer
//! form where they are exact. Both pack their bytes in a register and store them whole:
//! `vpmovdb` straight to memory, which LLVM picks for the plain loops, is several times slower
//! on AMD's cores.

use super::super::{Clamp, Quantization};

/// The scales the division-free path accepts, `2^-60 ..= 2^60`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // the tests read it too
const SCALES: core::ops::RangeInclusive<f32> = 8.673_617e-19..=1.152_921_5e18;

/// `steps[i] = quantization.quantize(x[i])` for the common length, with AVX-512F or AVX2 and
/// FMA when this CPU has them and `quantization`'s scale allows, and whether any of those
/// values is NaN (the lanes' ordered comparison, which the steps need anyway, folded as they
/// go: one pass over `x`, where a separate check read it twice); else `None`, nothing written.
#[inline]
pub(crate) fn quantize_slice(
    quantization: Quantization,
    x: &[f32],
    steps: &mut [u8],
) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    if SCALES.contains(&quantization.scale) {
        match crate::kernel::level() {
            crate::kernel::Level::Avx512 => {
                // SAFETY: `level` found AVX-512F on this CPU, `avx512bw` AVX-512BW for
                // `packing`.
                #[allow(unsafe_code)]
                return Some(unsafe {
                    avx512::quantize_slice(quantization, x, steps, super::has_avx512bw())
                });
            }
            crate::kernel::Level::Avx2 => {
                // SAFETY: `level` found AVX2 and FMA on this CPU.
                #[allow(unsafe_code)]
                return Some(unsafe { avx2::quantize_slice(quantization, x, steps) });
            }
            crate::kernel::Level::Portable => {}
        }
    }
    let _ = (quantization, x, steps);
    None
}

/// `steps[r][o] = requantize_step(sums[r][o], multipliers[o], zero_point, clamp)` for every row
/// of the common length (rows of `multipliers.len()` values), with AVX-512F when this CPU has
/// it; else `false`, nothing written.
#[inline]
pub(crate) fn requantize_rows(
    sums: &[i32],
    multipliers: &[f32],
    zero_point: u8,
    clamp: Clamp,
    steps: &mut [u8],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::kernel::level() == crate::kernel::Level::Avx512 {
        // SAFETY: `level` found AVX-512F on this CPU.
        #[allow(unsafe_code)]
        unsafe {
            avx512::requantize_rows(sums, multipliers, zero_point, clamp, steps);
        }
        return true;
    }
    let _ = (sums, multipliers, zero_point, clamp, steps);
    false
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx512 {
    use super::{Clamp, Quantization};
    use core::arch::x86_64::{
        __m128i, __m512, __m512i, __mmask16, _CMP_ORD_Q, _MM_FROUND_NO_EXC,
        _MM_FROUND_TO_NEAREST_INT, _mm_storeu_si128, _mm512_add_epi32, _mm512_cmp_ps_mask,
        _mm512_cvt_roundps_epi32, _mm512_cvtepi32_epi8, _mm512_cvtepi32_ps, _mm512_cvtusepi32_epi8,
        _mm512_fmadd_ps, _mm512_fnmadd_ps, _mm512_loadu_ps, _mm512_loadu_si512,
        _mm512_maskz_cvt_roundps_epi32, _mm512_max_epi32, _mm512_max_ps, _mm512_min_ps,
        _mm512_mul_ps, _mm512_packs_epi32, _mm512_packus_epi16, _mm512_permutexvar_epi32,
        _mm512_set1_epi32, _mm512_set1_ps, _mm512_setr_epi32, _mm512_setzero_si512,
        _mm512_storeu_si512,
    };

    /// Lanes of a vector.
    const L: usize = 16;
    /// Beyond this many steps above the zero point every input saturates alike: inputs are
    /// clamped to it (in units of the scale) first, so that no positive input overflows and
    /// `+inf` stays finite (below, see `shifted_steps`).
    const FAR: f32 = 1_048_576.0;

    /// See the module's documentation; NaN becomes the zero point, as in `quantize`, and the
    /// result says whether there was any. With `packing` (sound only on a CPU with
    /// AVX-512BW), 64 values at a time by `quantize_quad`.
    ///
    /// # Safety
    ///
    /// `packing` only where the CPU has AVX-512BW.
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    pub(super) unsafe fn quantize_slice(
        quantization: Quantization,
        x: &[f32],
        steps: &mut [u8],
        packing: bool,
    ) -> bool {
        let n = x.len().min(steps.len());
        // The lanes that held only numbers so far.
        let mut ordered: __mmask16 = !0;
        let scale = quantization.scale;
        let parameters = Parameters {
            scale: _mm512_set1_ps(scale),
            inverse: _mm512_set1_ps(1.0 / scale),
            // Exact: a power of two times the scale, which `SCALES` keeps finite.
            bound: FAR * scale,
            zero: _mm512_set1_epi32(i32::from(quantization.zero_point)),
        };
        let (mut x, mut steps) = (&x[..n], &mut steps[..n]);
        if packing {
            // Four vectors at a time, packed into one register of bytes.
            let (x_quads, x_rest) = x.as_chunks::<{ 4 * L }>();
            let (step_quads, steps_rest) = steps.as_chunks_mut::<{ 4 * L }>();
            // SAFETY: the caller checked AVX-512BW for `packing`.
            #[allow(unsafe_code)]
            unsafe {
                ordered = quantize_quads(&parameters, x_quads, step_quads);
            }
            (x, steps) = (x_rest, steps_rest);
        }
        let (x_vectors, x_rest) = x.as_chunks::<L>();
        let (step_vectors, step_rest) = steps.as_chunks_mut::<L>();
        for (x, steps) in x_vectors.iter().zip(step_vectors) {
            *steps = quantize_vector(&parameters, x, &mut ordered);
        }
        if !x_rest.is_empty() {
            let mut last = [0.0; L];
            last[..x_rest.len()].copy_from_slice(x_rest);
            let last = quantize_vector(&parameters, &last, &mut ordered);
            step_rest.copy_from_slice(&last[..step_rest.len()]);
        }
        ordered != !0
    }

    /// See [`super::requantize_rows`].
    #[target_feature(enable = "avx512f")]
    pub(super) fn requantize_rows(
        sums: &[i32],
        multipliers: &[f32],
        zero_point: u8,
        clamp: Clamp,
        steps: &mut [u8],
    ) {
        let width = multipliers.len();
        if width == 0 {
            return;
        }
        let bounds = Bounds::new(zero_point, clamp);
        let step = |sums: &[i32; L], multipliers: &[f32; L]| -> [u8; L] {
            // SAFETY: both are 16 readable values, and `loadu` accepts any alignment.
            #[allow(unsafe_code)]
            let (sums, multipliers) = unsafe {
                (
                    _mm512_loadu_si512(sums.as_ptr().cast()),
                    _mm512_loadu_ps(multipliers.as_ptr()),
                )
            };
            store_bytes(requantize_vector(sums, multipliers, &bounds))
        };
        for (sums, steps) in sums.chunks_exact(width).zip(steps.chunks_exact_mut(width)) {
            let (sum_vectors, sum_rest) = sums.as_chunks::<L>();
            let (multiplier_vectors, multiplier_rest) = multipliers.as_chunks::<L>();
            let (step_vectors, step_rest) = steps.as_chunks_mut::<L>();
            for ((sums, multipliers), steps) in
                sum_vectors.iter().zip(multiplier_vectors).zip(step_vectors)
            {
                *steps = step(sums, multipliers);
            }
            if !sum_rest.is_empty() {
                let (mut last_sums, mut last_multipliers) = ([0; L], [0.0; L]);
                last_sums[..sum_rest.len()].copy_from_slice(sum_rest);
                last_multipliers[..multiplier_rest.len()].copy_from_slice(multiplier_rest);
                let last = step(&last_sums, &last_multipliers);
                step_rest.copy_from_slice(&last[..step_rest.len()]);
            }
        }
    }

    /// A requantisation's zero point and bounds in every lane: the bounds as real values
    /// (`clamp.low - zero_point` and `clamp.high - zero_point`, whole numbers).
    #[derive(Clone, Copy)]
    pub(in crate::quant::kernel) struct Bounds {
        zero: __m512i,
        low: __m512,
        high: __m512,
    }

    impl Bounds {
        /// The bounds of `requantize_step(_, _, zero_point, clamp.low, clamp.high)`.
        #[target_feature(enable = "avx512f")]
        #[inline]
        #[allow(clippy::cast_precision_loss)] // within ±255
        pub(in crate::quant::kernel) fn new(zero_point: u8, clamp: Clamp) -> Self {
            let real = |step: u8| (i32::from(step) - i32::from(zero_point)) as f32;
            Self {
                zero: _mm512_set1_epi32(i32::from(zero_point)),
                low: _mm512_set1_ps(real(clamp.low)),
                high: _mm512_set1_ps(real(clamp.high)),
            }
        }
    }

    /// `requantize_step` of 16 sums, each with its multiplier, as bytes.
    ///
    /// The product is clamped to the bounds before it is rounded, not the step after: the
    /// bounds are whole numbers within `requantize_step`'s 512, and rounding is monotone and
    /// keeps whole numbers, so the steps are the same, with two instructions fewer (LeNet's
    /// first convolution in bench/benches/quant_conv.rs requantises 4,704 steps).
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(in crate::quant::kernel) fn requantize_vector(
        sums: __m512i,
        multipliers: __m512,
        bounds: &Bounds,
    ) -> __m128i {
        // The product (the conversion rounds as `as f32` does), clamped, rounded half to even,
        // the zero point added.
        let real = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), multipliers);
        let real = _mm512_min_ps(_mm512_max_ps(real, bounds.low), bounds.high);
        let rounded =
            _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(real);
        _mm512_cvtepi32_epi8(_mm512_add_epi32(rounded, bounds.zero))
    }

    /// The 16 bytes of a register.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn store_bytes(bytes: __m128i) -> [u8; L] {
        let mut steps = [0; L];
        // SAFETY: `steps` is 16 writable bytes, and `storeu` accepts any alignment.
        #[allow(unsafe_code)]
        unsafe {
            _mm_storeu_si128(steps.as_mut_ptr().cast(), bytes);
        }
        steps
    }

    /// What every vector shares.
    struct Parameters {
        scale: __m512,
        inverse: __m512,
        bound: f32,
        zero: __m512i,
    }

    /// 16 values as `i32` steps from the zero point, before the clamp to `0..=255`; the lanes
    /// that hold NaN cleared from `ordered`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn shifted_steps(p: &Parameters, x: &[f32; L], ordered: &mut __mmask16) -> __m512i {
        // SAFETY: `x` is 16 readable `f32`s, and `loadu` accepts any alignment.
        #[allow(unsafe_code)]
        let x = unsafe { _mm512_loadu_ps(x.as_ptr()) };
        let numbers = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(x, x);
        *ordered &= numbers;
        // Only the positive side is bounded: below, every value ends as step 0 unbounded too
        // (a negative quotient; for `-inf` and quotients beyond `i32`, the correction's
        // `inf - inf` is NaN, which the conversion turns into `i32::MIN`). One instruction
        // fewer of the nine a vector takes, on a core whose two 512-bit ports they fill, so
        // faster on an Intel Xeon (a scratch harness timing what `int8_quantize_inputs` of
        // `mnist_b256` in bench/benches/quantized.rs times).
        let x = _mm512_min_ps(x, _mm512_set1_ps(p.bound));
        let quotient = _mm512_mul_ps(x, p.inverse);
        let residual = _mm512_fnmadd_ps(quotient, p.scale, x);
        let quotient = _mm512_fmadd_ps(residual, p.inverse, quotient);
        // Rounded half to even; NaN lanes 0, which the zero point then makes its step.
        let rounded = _mm512_maskz_cvt_roundps_epi32::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(numbers, quotient);
        _mm512_add_epi32(rounded, p.zero)
    }

    /// [`quantize_quad`] of each 64 values; the lanes that held only numbers.
    #[target_feature(enable = "avx512f,avx512bw")]
    fn quantize_quads(p: &Parameters, x: &[[f32; 4 * L]], steps: &mut [[u8; 4 * L]]) -> __mmask16 {
        let mut ordered = !0;
        for (x, steps) in x.iter().zip(steps) {
            *steps = quantize_quad(p, x, &mut ordered);
        }
        ordered
    }

    /// 64 values: [`shifted_steps`] of four vectors, clamped to `0..=255` by the saturation of
    /// two packing steps (`i32` to `i16`, then `i16` to `u8`, each within 128-bit lanes) and put back
    /// in order by one permutation, in place of a `vpmovusdb` and a maximum each
    /// (`int8_quantize_inputs` of `mnist_b256` in bench/benches/quantized.rs).
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn quantize_quad(p: &Parameters, x: &[f32; 4 * L], ordered: &mut __mmask16) -> [u8; 4 * L] {
        let (x, _) = x.as_chunks::<L>();
        let [a, b, c, d] = [0, 1, 2, 3].map(|k| shifted_steps(p, &x[k], ordered));
        // Lane `l` of the packed bytes holds values `4l..4l + 4` of `a`, `b`, `c` and `d`, as
        // its four 32-bit words; word `4j + l` of the result is word `4l + j` of them.
        let packed = _mm512_packus_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        let bytes = _mm512_permutexvar_epi32(order, packed);
        let mut steps = [0; 4 * L];
        // SAFETY: `steps` is 64 writable bytes, and `storeu` accepts any alignment.
        #[allow(unsafe_code)]
        unsafe {
            _mm512_storeu_si512(steps.as_mut_ptr().cast(), bytes);
        }
        steps
    }

    /// 16 values: [`shifted_steps`] clamped to `0..=255`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn quantize_vector(p: &Parameters, x: &[f32; L], ordered: &mut __mmask16) -> [u8; L] {
        let shifted = _mm512_max_epi32(shifted_steps(p, x, ordered), _mm512_setzero_si512());
        // `vpmovusdb` saturates above 255.
        store_bytes(_mm512_cvtusepi32_epi8(shifted))
    }
}

/// The AVX-512 path's operations on 8 lanes, for CPUs with AVX2 and FMA: the generic loop
/// divided, and packed its bytes one lane at a time, a large share of the 7-bit twin's
/// `forward_batch` on a Zen 4 without AVX-512 (`int8_quantize_inputs` of `mnist_b256` in
/// bench/benches/quantized.rs; BENCHMARKS.md, "Smaller numbers: the kernels, LeNet in int8,
/// bf16 and f16 weights").
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Quantization;
    use core::arch::x86_64::{
        __m256, __m256i, _CMP_ORD_Q, _mm256_add_epi32, _mm256_and_si256, _mm256_castps_si256,
        _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_cvtps_epi32, _mm256_fmadd_ps, _mm256_fnmadd_ps,
        _mm256_loadu_ps, _mm256_min_ps, _mm256_movemask_ps, _mm256_mul_ps, _mm256_packs_epi32,
        _mm256_packus_epi16, _mm256_permutevar8x32_epi32, _mm256_set1_epi32, _mm256_set1_ps,
        _mm256_setr_epi32, _mm256_storeu_si256,
    };

    /// Lanes of a vector.
    const L: usize = 8;
    /// As the AVX-512 path's `FAR`.
    const FAR: f32 = 1_048_576.0;

    /// What every vector shares.
    struct Parameters {
        scale: __m256,
        inverse: __m256,
        bound: __m256,
        zero: __m256i,
    }

    /// See the module's documentation; NaN becomes the zero point, as in `quantize`, and the
    /// result says whether there was any. Four vectors at a time, packed into one register of
    /// bytes; the last values from a copy padded with zeros.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn quantize_slice(quantization: Quantization, x: &[f32], steps: &mut [u8]) -> bool {
        let n = x.len().min(steps.len());
        let scale = quantization.scale;
        let p = Parameters {
            scale: _mm256_set1_ps(scale),
            inverse: _mm256_set1_ps(1.0 / scale),
            // Exact: a power of two times the scale, which `SCALES` keeps finite.
            bound: _mm256_set1_ps(FAR * scale),
            zero: _mm256_set1_epi32(i32::from(quantization.zero_point)),
        };
        let (x_quads, x_rest) = x[..n].as_chunks::<{ 4 * L }>();
        let (step_quads, step_rest) = steps[..n].as_chunks_mut::<{ 4 * L }>();
        // All ones in the lanes that held only numbers so far.
        let mut ordered = _mm256_set1_epi32(-1);
        for (x, steps) in x_quads.iter().zip(step_quads) {
            *steps = quantize_quad(&p, x, &mut ordered);
        }
        if !x_rest.is_empty() {
            let mut last = [0.0; 4 * L];
            last[..x_rest.len()].copy_from_slice(x_rest);
            let last = quantize_quad(&p, &last, &mut ordered);
            step_rest.copy_from_slice(&last[..step_rest.len()]);
        }
        _mm256_movemask_ps(_mm256_castsi256_ps(ordered)) != 0xff
    }

    /// 8 values as `i32` steps from the zero point, before the clamp to `0..=255`: the AVX-512
    /// path's `shifted_steps`, NaN lanes set to 0 by a mask after the conversion (which rounds
    /// half to even, the default rounding mode), and cleared from `ordered`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn shifted_steps(p: &Parameters, x: &[f32; L], ordered: &mut __m256i) -> __m256i {
        // SAFETY: `x` is 8 readable `f32`s, and `loadu` accepts any alignment.
        #[allow(unsafe_code)]
        let x = unsafe { _mm256_loadu_ps(x.as_ptr()) };
        let numbers = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_ORD_Q>(x, x));
        *ordered = _mm256_and_si256(*ordered, numbers);
        // Below, every value ends as step 0 unbounded (a negative quotient, or NaN from `-inf`,
        // which the conversion turns into `i32::MIN`).
        let x = _mm256_min_ps(x, p.bound);
        let quotient = _mm256_mul_ps(x, p.inverse);
        let residual = _mm256_fnmadd_ps(quotient, p.scale, x);
        let quotient = _mm256_fmadd_ps(residual, p.inverse, quotient);
        let rounded = _mm256_and_si256(_mm256_cvtps_epi32(quotient), numbers);
        _mm256_add_epi32(rounded, p.zero)
    }

    /// 32 values: [`shifted_steps`] of four vectors, clamped to `0..=255` by the saturation of
    /// two packing steps (`i32` to `i16`, then `i16` to `u8`, each within 128-bit lanes) and put
    /// back in order by one permutation.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn quantize_quad(p: &Parameters, x: &[f32; 4 * L], ordered: &mut __m256i) -> [u8; 4 * L] {
        let (x, _) = x.as_chunks::<L>();
        let [a, b, c, d] = [0, 1, 2, 3].map(|k| shifted_steps(p, &x[k], ordered));
        // Lane `l` (of two) of the packed bytes holds values `4l..4l + 4` of `a`, `b`, `c` and
        // `d`, as its four 32-bit words: word `2j + l` of the result is word `4l + j` of them.
        let packed = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
        let bytes = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        let mut steps = [0; 4 * L];
        // SAFETY: `steps` is 32 writable bytes, and `storeu` accepts any alignment.
        #[allow(unsafe_code)]
        unsafe {
            _mm256_storeu_si256(steps.as_mut_ptr().cast(), bytes);
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::{Clamp, Quantization};
    use super::SCALES;
    use std::vec;
    use std::vec::Vec;

    /// A small xorshift, so that the test needs no dependency.
    struct Bits(u64);

    impl Bits {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            #[allow(clippy::cast_possible_truncation)] // the high half
            let high = (self.0 >> 32) as u32;
            high
        }
    }

    /// The slice path (AVX-512F or AVX2 where this CPU has it) gives `quantize`'s step for inputs of
    /// every kind: any bit pattern, ties between two steps, values near the saturation, the
    /// infinities, NaN, subnormals; over scales from `SCALES`' ends to calibrated ones.
    #[test]
    fn the_slice_path_gives_the_steps_of_the_division() {
        let mut bits = Bits(0x9E37_79B9_7F4A_7C15);
        let mut scales = vec![
            1.0 / 255.0,
            1.0 / 256.0,
            0.1,
            3.0,
            *SCALES.start(),
            *SCALES.end(),
            f32::from_bits(SCALES.start().to_bits() - 1),
            1e-30,
            1e30,
        ];
        for _ in 0..60 {
            // Exponents 2^-40 .. 2^20, any significand.
            let exponent = 87 + bits.next() % 60;
            scales.push(f32::from_bits(
                (exponent << 23) | (bits.next() & 0x007F_FFFF),
            ));
        }
        let mut checked = 0;
        for &scale in &scales {
            for zero_point in [0_u8, 1, 128, 200, 255] {
                let q = Quantization::new(scale, zero_point);
                let mut x: Vec<f32> = vec![
                    0.0,
                    -0.0,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::NAN,
                    f32::MAX,
                    f32::MIN,
                    f32::MIN_POSITIVE,
                    1e-45,
                    -1e-45,
                ];
                for k in -300_i16..300 {
                    let step = f32::from(k);
                    for offset in [0.5, -0.5, 0.499_999_97, 0.500_000_06, 0.0] {
                        x.push((step + offset) * scale);
                    }
                }
                for _ in 0..3000 {
                    x.push(f32::from_bits(bits.next()));
                    #[allow(clippy::cast_precision_loss)] // a random value in about ±400 steps
                    let near = (f64::from(bits.next()) / f64::from(u32::MAX) - 0.5) * 800.0;
                    #[allow(clippy::cast_possible_truncation)]
                    x.push((near * f64::from(scale)) as f32);
                }
                // Lengths that leave every remainder of a vector.
                for length in [x.len(), x.len() - 1, 33, 31, 15, 1, 0] {
                    let mut steps = vec![0_u8; length];
                    q.quantize_slice(&x[..length], &mut steps);
                    for (value, step) in x.iter().zip(&steps) {
                        assert_eq!(
                            *step,
                            q.quantize(*value),
                            "scale {scale:e}, zero point {zero_point}, x {value:e}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1_000_000);
    }

    /// `quantize_slice_any_nan` (the slice path where this CPU has one) finds a NaN wherever
    /// it is: in the packed groups of 64, the whole vectors after them and the last values,
    /// for every length up to 200, and nothing in rows of numbers (infinities included). Each
    /// vector kernel this CPU can run is called too, whichever `level` picks: AVX-512 with and
    /// without packing, AVX2.
    #[test]
    fn the_slice_path_finds_every_nan() {
        let q = Quantization::new(0.02, 7);
        let numbers: Vec<f32> = (0..200_u16)
            .map(|k| match k % 5 {
                0 => f32::INFINITY,
                1 => f32::NEG_INFINITY,
                _ => f32::from(k) * 0.37 - 30.0,
            })
            .collect();
        for length in 0..=200 {
            let mut steps = vec![0_u8; length];
            assert!(
                !q.quantize_slice_any_nan(&numbers[..length], &mut steps),
                "{length}"
            );
            for at in 0..length {
                let mut x = numbers[..length].to_vec();
                x[at] = f32::NAN;
                assert!(q.quantize_slice_any_nan(&x, &mut steps), "{at} of {length}");
                assert_eq!(steps[at], 7, "NaN's step is the zero point");
                for (kernel, nan) in kernels(q, &x, &mut steps) {
                    assert!(nan, "{kernel}: {at} of {length}");
                    assert_eq!(steps[at], 7, "{kernel}");
                }
            }
            for (kernel, nan) in kernels(q, &numbers[..length], &mut steps) {
                assert!(!nan, "{kernel}: {length}");
            }
        }
    }

    /// What each vector kernel this CPU runs says of `x`'s NaNs, by name.
    fn kernels(q: Quantization, x: &[f32], steps: &mut [u8]) -> Vec<(&'static str, bool)> {
        let mut found = Vec::new();
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, and no packing is asked for.
                #[allow(unsafe_code)]
                found.push(("avx512", unsafe {
                    super::avx512::quantize_slice(q, x, steps, false)
                }));
                if std::is_x86_feature_detected!("avx512bw") {
                    // SAFETY: the CPU has AVX-512F and AVX-512BW, which packing needs.
                    #[allow(unsafe_code)]
                    found.push(("avx512 packing", unsafe {
                        super::avx512::quantize_slice(q, x, steps, true)
                    }));
                }
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA.
                #[allow(unsafe_code)]
                found.push(("avx2", unsafe { super::avx2::quantize_slice(q, x, steps) }));
            }
        }
        #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
        let _ = (q, x, steps);
        found
    }

    /// The rows path (AVX-512F where this CPU has it) gives `requantize_step`'s steps, for
    /// widths that leave every remainder of a vector, sums from the whole `i32` range and
    /// multipliers from tiny to large, with and without ReLU's clamp.
    #[test]
    fn the_rows_path_gives_requantize_steps() {
        let mut bits = Bits(0xD1B5_4A32_D192_ED03);
        let mut checked = 0;
        for width in [1_usize, 10, 15, 16, 17, 33, 128] {
            let multipliers: Vec<f32> = (0..width)
                .map(|_| {
                    // 2^-40 .. 2^8, any significand.
                    let exponent = 87 + bits.next() % 48;
                    f32::from_bits((exponent << 23) | (bits.next() & 0x007F_FFFF))
                })
                .collect();
            #[allow(clippy::cast_possible_wrap)] // any bit pattern
            let mut sums: Vec<i32> = (0..width * 50).map(|_| bits.next() as i32).collect();
            for (k, sum) in sums.iter_mut().enumerate().take(width * 20) {
                // Sums near whole and half steps of their multiplier.
                #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                let near = ((k % 700) as f32 - 350.0) / 2.0 / multipliers[k % width];
                #[allow(clippy::cast_possible_truncation)]
                {
                    *sum = near as i32;
                }
            }
            sums[..4].copy_from_slice(&[i32::MIN, i32::MAX, 0, -1]);
            for zero_point in [0_u8, 77, 128, 255] {
                for clamp in [
                    Clamp::NONE,
                    Clamp {
                        low: zero_point,
                        high: 255,
                    },
                    Clamp { low: 3, high: 250 },
                ] {
                    let mut steps = vec![0_u8; sums.len()];
                    if !super::requantize_rows(&sums, &multipliers, zero_point, clamp, &mut steps) {
                        continue;
                    }
                    let (zero, low, high) = (
                        f32::from(zero_point),
                        f32::from(clamp.low),
                        f32::from(clamp.high),
                    );
                    for (k, (sum, step)) in sums.iter().zip(&steps).enumerate() {
                        let expected = super::super::super::requantize_step(
                            *sum,
                            multipliers[k % width],
                            zero,
                            low,
                            high,
                        );
                        assert_eq!(
                            *step,
                            expected,
                            "sum {sum}, multiplier {:e}",
                            multipliers[k % width]
                        );
                        checked += 1;
                    }
                }
            }
        }
        // Without AVX-512F there is nothing to compare (the layers use `requantize_step`
        // itself); with it, every row was checked.
        if crate::kernel::level() == crate::kernel::Level::Avx512 {
            assert!(checked > 100_000);
        }
    }
}
