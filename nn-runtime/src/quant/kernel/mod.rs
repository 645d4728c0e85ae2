//! The int8 layers' sums, `offsets[o] + sum_i x[i] * w[o][i]` over `u8` inputs and `i8`
//! weights, exact in `i32`, chosen once per process for the CPU it runs on.
//!
//! Every level gives the same integers (the sums are exact, and wrap on overflow at every level;
//! the products alone cannot overflow below 65,536 inputs, `|x w| <= 255 * 128`), so the choice
//! changes speed only. The weights are `[groups][OUT][4]` (see [`QuantizedDense`](super::QuantizedDense)):
//!
//! - [`portable`]: plain Rust, for every target and for layers too small to be worth a call.
//! - `avx2` (x86_64): AVX2 without VNNI. `vpmaddubsw`, the obvious `u8 x i8` product, saturates
//!   its pairs of products in `i16`, so it is not exact on every layer; the kernel widens the
//!   weights to `i16` instead and multiplies with `vpmaddwd`, whose pairs are exact in `i32`.
//!   A layer whose weights `vpmaddubsw` is exact on ([`maddubs_exact`]: 7-bit weights, as
//!   [`WeightRange::Int7`](super::WeightRange::Int7) quantises them) runs `vnni`'s 256-bit
//!   kernels with `vpdpbusd` built from `vpmaddubsw` instead, twice as many multiply-adds an
//!   instruction and no widening.
//! - `vnni` (x86_64): `vpdpbusd`, the 4-way `u8 x i8` dot product accumulated in `i32`, 256 bits
//!   wide with AVX-VNNI (or AVX-512 VNNI's EVEX encoding with AVX-512VL), 512 with AVX-512
//!   VNNI: one broadcast of four inputs and one load of weights feed 8 or 16 neurons.
//! - [`amx`] (x86_64): the AVX-512 VNNI level's batches on Intel AMX (`tdpbusd`, 16,384
//!   multiply-adds an instruction) where the CPU and the OS allow it, in blocks of 32 samples.
//! - [`direct`] and [`channel_lanes`] (x86_64): convolutions of stride 1 without gathering
//!   windows, from AVX2 on (512 bits wide with AVX-512 VNNI, 256 below: `v256` in each).
//!
//! [`level`] detects the CPU once, with `std`; without `std` only the features the build enables
//! at compile time are used.

// `w`, `x`: the notation of `y = w x + b`.
#![allow(clippy::many_single_char_names)]
// The vector kernels' helpers are `#[inline(always)]`, so that they compile for the kernel's
// target features.
#![allow(clippy::inline_always)]

#[cfg(target_arch = "x86_64")]
pub(crate) mod amx;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod channel_lanes;
pub(crate) mod direct;
pub(crate) mod portable;
pub(crate) mod quantize;
pub(crate) mod tables;
#[cfg(target_arch = "x86_64")]
mod vnni;

/// Layers with at most this many weights always use the portable kernel, inlined into the
/// caller, where a call through the dispatcher costs more than the arithmetic. Lower than the
/// `f32` kernels' 256: the portable int8 kernel is scalar (one multiply-add per cycle), and the
/// `small` lines of bench/benches/quant.rs put the crossing between a 4 -> 4 layer (portable
/// faster) and an 8 -> 8 one (AVX-512 VNNI faster).
pub const SMALL: usize = 32;

/// An instruction set an int8 kernel can be compiled for. The levels are ordered: a CPU at one
/// level runs the kernels of every level below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuantLevel {
    /// Plain Rust.
    Portable,
    /// AVX2: `i16` products (`vpmaddwd`), or `vpmaddubsw` for layers it is exact on.
    Avx2,
    /// `vpdpbusd` on 256 bits, 8 neurons per instruction: AVX-VNNI, or AVX-512 VNNI with
    /// AVX-512VL on the CPUs that have those but not AVX-VNNI.
    AvxVnni,
    /// AVX-512 VNNI: `vpdpbusd` on 512 bits, 16 neurons per instruction.
    Avx512Vnni,
}

impl QuantLevel {
    /// Every level, from the most portable.
    pub const ALL: [QuantLevel; 4] = [
        QuantLevel::Portable,
        QuantLevel::Avx2,
        QuantLevel::AvxVnni,
        QuantLevel::Avx512Vnni,
    ];

    /// Whether this CPU (or, without `std`, this build) supports the level.
    pub fn is_supported(self) -> bool {
        self <= level()
    }
}

/// What the build's target features enable, for `no_std` builds and for those compiled for a
/// CPU (e.g. `-C target-cpu=native`).
mod compiled {
    pub const AVX2: bool = cfg!(all(target_arch = "x86_64", target_feature = "avx2"));
    /// `vpdpbusd` on 256 bits, VEX-encoded (AVX-VNNI).
    pub const VEX_VNNI: bool = AVX2 && cfg!(target_feature = "avxvnni");
    /// `vpdpbusd` on 512 and 256 bits, EVEX-encoded (AVX-512 VNNI and VL).
    pub const EVEX_VNNI: bool = AVX2
        && cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512vl",
            target_feature = "avx512vnni"
        ));
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod detect {
    use super::QuantLevel;
    use core::sync::atomic::{AtomicU8, Ordering};

    /// `0` until the first call to [`level`], then `1 + level as u8`, plus [`VEX`] if the CPU
    /// has AVX-VNNI.
    static LEVEL: AtomicU8 = AtomicU8::new(0);
    /// The bit of [`LEVEL`] that says the CPU has AVX-VNNI.
    const VEX: u8 = 8;

    /// The best level this CPU supports, detected on the first call and cached: later calls
    /// are one relaxed load and a compare.
    #[inline]
    pub fn level() -> QuantLevel {
        match LEVEL.load(Ordering::Relaxed) & !VEX {
            1 => QuantLevel::Portable,
            2 => QuantLevel::Avx2,
            3 => QuantLevel::AvxVnni,
            4 => QuantLevel::Avx512Vnni,
            _ => detect().0,
        }
    }

    /// Whether the CPU has AVX-VNNI (the VEX encoding of 256-bit `vpdpbusd`), detected with
    /// the level.
    #[inline]
    pub fn vex_vnni() -> bool {
        match LEVEL.load(Ordering::Relaxed) {
            0 => detect().1,
            bits => bits & VEX != 0,
        }
    }

    #[cold]
    fn detect() -> (QuantLevel, bool) {
        // `is_x86_feature_detected!` also checks that the OS saves the wider registers.
        // The levels are ordered, so each requires the features of those below it. The
        // `AvxVnni` level's 256-bit `vpdpbusd` exists in two encodings: AVX-VNNI's (VEX) and
        // AVX-512 VNNI's with AVX-512VL (EVEX); a CPU with AVX-512 VNNI but not AVX-VNNI
        // (Cascade Lake, Ice Lake, Zen 4) runs the `AvxVnni` kernels in the EVEX encoding, and
        // so has both VNNI levels.
        let avx2 = std::is_x86_feature_detected!("avx2");
        let vex = avx2 && std::is_x86_feature_detected!("avxvnni");
        let evex = avx2
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni");
        let level = if evex {
            QuantLevel::Avx512Vnni
        } else if vex {
            QuantLevel::AvxVnni
        } else if avx2 {
            QuantLevel::Avx2
        } else {
            QuantLevel::Portable
        };
        // Racing first calls all store the same value.
        LEVEL.store(
            level as u8 + 1 + if vex { VEX } else { 0 },
            Ordering::Relaxed,
        );
        (level, vex)
    }
}

/// The best level available: detected once per process with `std` on x86_64; otherwise what
/// the build's target features enable (e.g. `-C target-cpu=native`).
#[inline]
pub fn level() -> QuantLevel {
    if compiled::EVEX_VNNI {
        return QuantLevel::Avx512Vnni;
    }
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        detect::level()
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        if compiled::VEX_VNNI {
            QuantLevel::AvxVnni
        } else if compiled::AVX2 {
            QuantLevel::Avx2
        } else {
            QuantLevel::Portable
        }
    }
}

/// Whether the AVX-512 VNNI level runs batches on Intel AMX where a layer's shape allows it:
/// the CPU has AMX-INT8, Linux gave the process its tiles, and `NN_NO_AMX` is not set (see
/// docs/quantization.md). Detected once.
#[inline]
pub fn amx_enabled() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        level() == QuantLevel::Avx512Vnni && amx::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has AVX-512BW (the byte and word instructions: the direct convolution's
/// byte stores, quantising four vectors into one register): detected with `std` (the standard
/// library caches it), else what the build enables.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx512bw() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx512bw")
    }
}

/// Whether this CPU has AVX-512 VBMI (byte permutations across a register: the direct
/// convolution's interleaving of rows), detected as [`has_avx512bw`] is.
#[inline]
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx512vbmi() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::is_x86_feature_detected!("avx512vbmi")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        cfg!(all(target_arch = "x86_64", target_feature = "avx512vbmi"))
    }
}

/// Whether the `AvxVnni` kernels use AVX-VNNI's encoding (`true`) or AVX-512 VNNI's (`false`;
/// meaningful only where [`QuantLevel::AvxVnni`] is supported).
#[cfg(target_arch = "x86_64")]
#[inline]
fn vex_vnni() -> bool {
    if compiled::VEX_VNNI {
        return true;
    }
    #[cfg(feature = "std")]
    {
        detect::vex_vnni()
    }
    #[cfg(not(feature = "std"))]
    {
        false
    }
}

/// Whether `vpmaddubsw` is exact on the weights `w` for any `u8` inputs: it sums the products
/// of each pair of neighbouring inputs (`2k` and `2k + 1`) in `i16`, saturating, so each pair of
/// a neuron's weights needs its positive parts and its negative parts each to sum to at most
/// 128 (`255 * 128 = 32,640`). Every layer of 7-bit weights (`-64..=64`) passes; one quantised
/// to `-127..=127` rarely does, since each neuron's largest weight is `±127`.
pub(crate) const fn maddubs_exact<const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
) -> bool {
    let mut g = 0;
    while g < G {
        let mut o = 0;
        while o < OUT {
            let [a, b, c, d] = w[g][o];
            if !pair_fits_i16(a, b) || !pair_fits_i16(c, d) {
                return false;
            }
            o += 1;
        }
        g += 1;
    }
    true
}

/// Whether `x0 a + x1 b` fits `i16` for every `u8` `x0` and `x1`: see [`maddubs_exact`].
const fn pair_fits_i16(a: i8, b: i8) -> bool {
    let (a, b) = (a as i32, b as i32);
    let positive = if a > 0 { a } else { 0 } + if b > 0 { b } else { 0 };
    let negative = if a < 0 { -a } else { 0 } + if b < 0 { -b } else { 0 };
    positive <= 128 && negative <= 128
}

/// A layer's packed weights, `[groups][OUT][4]`, with what the kernels need besides: the
/// offsets each neuron's sum starts from, and whether `vpmaddubsw` is exact on the weights
/// ([`maddubs_exact`], computed where the weights are set).
#[derive(Clone, Copy)]
pub(crate) struct Packed<'a, const OUT: usize, const G: usize> {
    pub(crate) weights: &'a [[[i8; 4]; OUT]; G],
    pub(crate) offsets: &'a [i32; OUT],
    // Read by the `Avx2` level's dispatch, on x86_64 only.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) maddubs_exact: bool,
}

/// `offsets[o] + sum_i x[i] * w[o][i]` for every neuron, at the best level; layers of at most
/// [`SMALL`] weights inlined with the portable kernel.
#[inline]
pub(crate) fn accumulate<const IN: usize, const OUT: usize, const G: usize>(
    layer: Packed<'_, OUT, G>,
    x: &[u8; IN],
) -> [i32; OUT] {
    if IN * OUT <= SMALL {
        return portable::accumulate(layer.weights, layer.offsets, x);
    }
    at(level(), layer, x)
}

/// [`accumulate`] of every input row into the matching row of `sums` (`min` of the lengths).
#[inline]
pub(crate) fn accumulate_batch<const IN: usize, const OUT: usize, const G: usize>(
    layer: Packed<'_, OUT, G>,
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) {
    if IN * OUT <= SMALL {
        portable::accumulate_batch(layer.weights, layer.offsets, xs, sums);
    } else {
        batch_at(level(), layer, xs, sums);
    }
}

/// [`accumulate`] at `level`, `None` where unsupported.
pub(crate) fn accumulate_at<const IN: usize, const OUT: usize, const G: usize>(
    level: QuantLevel,
    layer: Packed<'_, OUT, G>,
    x: &[u8; IN],
) -> Option<[i32; OUT]> {
    level.is_supported().then(|| at(level, layer, x))
}

/// [`accumulate_batch`] at `level`, `false` (nothing written) where unsupported.
pub(crate) fn accumulate_batch_at<const IN: usize, const OUT: usize, const G: usize>(
    level: QuantLevel,
    layer: Packed<'_, OUT, G>,
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) -> bool {
    let supported = level.is_supported();
    if supported {
        batch_at(level, layer, xs, sums);
    }
    supported
}

/// The kernel of `level`, which the caller has checked is supported.
#[inline]
fn at<const IN: usize, const OUT: usize, const G: usize>(
    level: QuantLevel,
    layer: Packed<'_, OUT, G>,
    x: &[u8; IN],
) -> [i32; OUT] {
    let Packed {
        weights: w,
        offsets,
        ..
    } = layer;
    debug_assert!(level.is_supported());
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX-512F and AVX-512 VNNI
        // (`QuantLevel::Avx512Vnni`).
        #[allow(unsafe_code)]
        QuantLevel::Avx512Vnni => unsafe { vnni::accumulate_512(w, offsets, x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX2 and a 256-bit `vpdpbusd`
        // (`QuantLevel::AvxVnni`): AVX-VNNI where `vex_vnni()` says so, otherwise AVX-512F, VL
        // and VNNI (see `detect`).
        #[allow(unsafe_code)]
        QuantLevel::AvxVnni => unsafe {
            if vex_vnni() {
                vnni::vex::accumulate_256(w, offsets, x)
            } else {
                vnni::evex::accumulate_256(w, offsets, x)
            }
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX2 (`QuantLevel::Avx2`).
        #[allow(unsafe_code)]
        QuantLevel::Avx2 => unsafe {
            if layer.maddubs_exact {
                vnni::maddubs::accumulate_256(w, offsets, x)
            } else {
                avx2::accumulate(w, offsets, x)
            }
        },
        _ => portable::accumulate(w, offsets, x),
    }
}

/// The batch kernel of `level`, which the caller has checked is supported.
#[inline]
fn batch_at<const IN: usize, const OUT: usize, const G: usize>(
    level: QuantLevel,
    layer: Packed<'_, OUT, G>,
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) {
    let Packed {
        weights: w,
        offsets,
        ..
    } = layer;
    debug_assert!(level.is_supported());
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX-512F and AVX-512 VNNI
        // (`QuantLevel::Avx512Vnni`); `amx::available` checked AMX and the permission to use
        // it, which `amx::accumulate_batch` requires.
        #[allow(unsafe_code)]
        QuantLevel::Avx512Vnni => unsafe {
            // Blocks of 32 samples on AMX where the CPU has it, the rest on VNNI.
            let done = if amx::fits(IN, OUT) && amx::available() {
                amx::accumulate_batch(w, offsets, xs, sums)
            } else {
                0
            };
            vnni::accumulate_batch_512(w, offsets, &xs[done..], &mut sums[done..]);
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX2 and a 256-bit `vpdpbusd`
        // (`QuantLevel::AvxVnni`): AVX-VNNI where `vex_vnni()` says so, otherwise AVX-512F, VL
        // and VNNI (see `detect`).
        #[allow(unsafe_code)]
        QuantLevel::AvxVnni => unsafe {
            if vex_vnni() {
                vnni::vex::accumulate_batch_256(w, offsets, xs, sums);
            } else {
                vnni::evex::accumulate_batch_256(w, offsets, xs, sums);
            }
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller checked that the CPU supports AVX2 (`QuantLevel::Avx2`).
        #[allow(unsafe_code)]
        QuantLevel::Avx2 => unsafe {
            if layer.maddubs_exact {
                vnni::maddubs::accumulate_batch_256(w, offsets, xs, sums);
            } else {
                avx2::accumulate_batch(w, offsets, xs, sums);
            }
        },
        _ => portable::accumulate_batch(w, offsets, xs, sums),
    }
}

/// Four inputs of group `g`, zero past `IN`.
#[inline(always)]
pub(crate) fn group<const IN: usize>(x: &[u8; IN], g: usize) -> [u8; 4] {
    match x.get(4 * g..4 * g + 4) {
        Some(&[a, b, c, d]) => [a, b, c, d],
        _ => core::array::from_fn(|k| x.get(4 * g + k).copied().unwrap_or(0)),
    }
}

/// The four inputs of group `g` as one little-endian `i32`: byte `k` is input `4 g + k`, the
/// byte of the weights' `[4]` it multiplies.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn group_word<const IN: usize>(x: &[u8; IN], g: usize) -> i32 {
    i32::from_le_bytes(group(x, g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// The sums with `i64` arithmetic, from `[OUT][IN]` rows, wrapped to `i32` at the end (the
    /// kernels' wrapping additions are additions modulo 2^32).
    #[allow(clippy::cast_possible_truncation)]
    fn reference<const IN: usize, const OUT: usize, const G: usize>(
        w: &[[[i8; 4]; OUT]; G],
        offsets: &[i32; OUT],
        x: &[u8; IN],
    ) -> [i32; OUT] {
        core::array::from_fn(|o| {
            let sum: i64 = (0..IN)
                .map(|i| i64::from(x[i]) * i64::from(w[i / 4][o][i % 4]))
                .sum();
            (sum + i64::from(offsets[o])) as i32
        })
    }

    /// Every supported level, alone and in batches, and the dispatching functions, against
    /// [`reference`]; the unsupported levels refuse.
    fn check<const IN: usize, const OUT: usize, const G: usize>(
        weights: &[i8],
        offsets: &[i32],
        inputs: &[u8],
    ) {
        let mut w = [[[0_i8; 4]; OUT]; G];
        for (i, &v) in weights.iter().enumerate().take(IN * OUT) {
            let (o, i) = (i / IN, i % IN);
            w[i / 4][o][i % 4] = v;
        }
        let offsets: [i32; OUT] = core::array::from_fn(|o| offsets[o]);
        let xs: Vec<[u8; IN]> = inputs
            .chunks_exact(IN)
            .map(|x| x.try_into().unwrap())
            .collect();
        let expected: Vec<[i32; OUT]> = xs.iter().map(|x| reference(&w, &offsets, x)).collect();
        let layer = Packed {
            weights: &w,
            offsets: &offsets,
            maddubs_exact: maddubs_exact(&w),
        };
        for level in QuantLevel::ALL {
            for (x, e) in xs.iter().zip(&expected) {
                let got = accumulate_at(level, layer, x);
                if level.is_supported() {
                    assert_eq!(got.as_ref(), Some(e), "{level:?} {IN} -> {OUT}");
                } else {
                    assert_eq!(got, None);
                }
            }
            // One row more in `sums` than in `xs`: it stays as it was.
            let mut sums = vec![[7; OUT]; xs.len() + 1];
            let done = accumulate_batch_at(level, layer, &xs, &mut sums);
            assert_eq!(done, level.is_supported());
            if done {
                assert_eq!(
                    sums[..xs.len()],
                    expected[..],
                    "{level:?} {IN} -> {OUT} batch"
                );
            }
            assert_eq!(sums[xs.len()], [7; OUT]);
        }
        encodings_256(&w, &offsets, &xs, &expected);
        if layer.maddubs_exact {
            maddubs_256(&w, &offsets, &xs, &expected);
        }
        vnni_512_batch(&w, &offsets, &xs, &expected);
        amx_blocks(&w, &offsets, &xs, &expected);
        for (x, e) in xs.iter().zip(&expected) {
            assert_eq!(&accumulate(layer, x), e);
        }
        let mut sums = vec![[0; OUT]; xs.len()];
        accumulate_batch(layer, &xs, &mut sums);
        assert_eq!(sums, expected);
    }

    /// The `vpmaddubsw` kernels alone, where the CPU has AVX2, for weights they are exact on
    /// (the dispatch takes them only at the `Avx2` level).
    #[allow(unsafe_code)]
    fn maddubs_256<const IN: usize, const OUT: usize, const G: usize>(
        w: &[[[i8; 4]; OUT]; G],
        offsets: &[i32; OUT],
        xs: &[[u8; IN]],
        expected: &[[i32; OUT]],
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            assert!(maddubs_exact(w));
            for (x, e) in xs.iter().zip(expected) {
                // SAFETY: the CPU has AVX2, checked above.
                let got = unsafe { vnni::maddubs::accumulate_256(w, offsets, x) };
                assert_eq!(&got, e, "vpmaddubsw {IN} -> {OUT}");
            }
            let mut sums = vec![[7; OUT]; xs.len()];
            // SAFETY: as above.
            unsafe { vnni::maddubs::accumulate_batch_256(w, offsets, xs, &mut sums) };
            assert_eq!(sums, expected, "vpmaddubsw batch {IN} -> {OUT}");
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (w, offsets, xs, expected);
    }

    /// Both encodings of the 256-bit `vpdpbusd` kernels, where the CPU has them: the dispatch
    /// picks one per CPU.
    #[allow(unsafe_code)]
    fn encodings_256<const IN: usize, const OUT: usize, const G: usize>(
        w: &[[[i8; 4]; OUT]; G],
        offsets: &[i32; OUT],
        xs: &[[u8; IN]],
        expected: &[[i32; OUT]],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::is_x86_feature_detected!("avx2");
            let vex = avx2 && std::is_x86_feature_detected!("avxvnni");
            let evex = avx2
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512vnni");
            let mut sums = vec![[0; OUT]; xs.len()];
            if vex {
                for (x, e) in xs.iter().zip(expected) {
                    // SAFETY: the CPU has AVX2 and AVX-VNNI, checked above.
                    assert_eq!(&unsafe { vnni::vex::accumulate_256(w, offsets, x) }, e);
                }
                // SAFETY: as above.
                unsafe { vnni::vex::accumulate_batch_256(w, offsets, xs, &mut sums) };
                assert_eq!(sums, expected, "VEX batch");
            }
            if evex {
                for (x, e) in xs.iter().zip(expected) {
                    // SAFETY: the CPU has AVX2, AVX-512F, VL and VNNI, checked above.
                    assert_eq!(&unsafe { vnni::evex::accumulate_256(w, offsets, x) }, e);
                }
                sums.fill([0; OUT]);
                // SAFETY: as above.
                unsafe { vnni::evex::accumulate_batch_256(w, offsets, xs, &mut sums) };
                assert_eq!(sums, expected, "EVEX batch");
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (w, offsets, xs, expected);
    }

    /// The 512-bit VNNI batch kernel alone on every row, where the CPU has it: on a CPU with
    /// AMX the dispatch gives it only the rows after AMX's blocks of 32.
    #[allow(unsafe_code)]
    fn vnni_512_batch<const IN: usize, const OUT: usize, const G: usize>(
        w: &[[[i8; 4]; OUT]; G],
        offsets: &[i32; OUT],
        xs: &[[u8; IN]],
        expected: &[[i32; OUT]],
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vnni") {
            let mut sums = vec![[7; OUT]; xs.len()];
            // SAFETY: the CPU has AVX-512F and VNNI, checked above.
            unsafe { vnni::accumulate_batch_512(w, offsets, xs, &mut sums) };
            assert_eq!(sums, expected, "512-bit VNNI batch {IN} -> {OUT}");
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (w, offsets, xs, expected);
    }

    /// The AMX kernel alone, where the CPU has it and takes the shape: the blocks of 32 rows
    /// (the dispatch runs the rest on VNNI).
    #[allow(unsafe_code)]
    fn amx_blocks<const IN: usize, const OUT: usize, const G: usize>(
        w: &[[[i8; 4]; OUT]; G],
        offsets: &[i32; OUT],
        xs: &[[u8; IN]],
        expected: &[[i32; OUT]],
    ) {
        #[cfg(target_arch = "x86_64")]
        if amx::fits(IN, OUT) && amx::available() {
            let mut sums = vec![[0; OUT]; xs.len() + 1];
            // SAFETY: `available` checked the CPU and the permission.
            let done = unsafe { amx::accumulate_batch(w, offsets, xs, &mut sums) };
            assert_eq!(done, xs.len() / amx::BLOCK * amx::BLOCK);
            assert_eq!(sums[..done], expected[..done], "AMX {IN} -> {OUT}");
            assert!(sums[done..].iter().all(|s| *s == [0; OUT]));
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (w, offsets, xs, expected);
    }

    /// Weights, offsets and `rows` input rows for `IN -> OUT`.
    fn case(
        rows: core::ops::RangeInclusive<usize>,
        inputs: usize,
        outputs: usize,
    ) -> impl Strategy<Value = (Vec<i8>, Vec<i32>, Vec<u8>)> {
        rows.prop_flat_map(move |rows| {
            (
                prop::collection::vec(any::<i8>(), inputs * outputs),
                prop::collection::vec(any::<i32>(), outputs),
                prop::collection::vec(any::<u8>(), rows * inputs),
            )
        })
    }

    /// [`case`] with 7-bit weights, `-64..=64`, on which `vpmaddubsw` is exact.
    fn case_7_bits(
        rows: core::ops::RangeInclusive<usize>,
        inputs: usize,
        outputs: usize,
    ) -> impl Strategy<Value = (Vec<i8>, Vec<i32>, Vec<u8>)> {
        rows.prop_flat_map(move |rows| {
            (
                prop::collection::vec(-64_i8..=64, inputs * outputs),
                prop::collection::vec(any::<i32>(), outputs),
                prop::collection::vec(any::<u8>(), rows * inputs),
            )
        })
    }

    /// A property test per shape: `cases` cases of `rows` rows each, any weights; then (the
    /// `vpmaddubsw` kernels) 7-bit weights.
    macro_rules! shapes {
        ($cases:literal cases of $rows:expr; $($name:ident: $in:literal -> $out:literal,)*) => {
            proptest! {
                #![proptest_config(ProptestConfig::with_cases($cases))]
                $(
                    #[test]
                    fn $name(
                        (w, offsets, x) in case($rows, $in, $out),
                        (w7, offsets7, x7) in case_7_bits($rows, $in, $out),
                    ) {
                        check::<$in, $out, { ($in as usize).div_ceil(4) }>(&w, &offsets, &x);
                        check::<$in, $out, { ($in as usize).div_ceil(4) }>(&w7, &offsets7, &x7);
                    }
                )*
            }
        };
    }

    // 1 to 9 rows: the kernels' tiles of rows and the rows after them.
    shapes! {
        24 cases of 1..=9;
        s1_1: 1 -> 1,
        s2_3: 2 -> 3,
        s3_17: 3 -> 17,
        s4_16: 4 -> 16,
        s5_8: 5 -> 8,
        s7_9: 7 -> 9,
        s8_40: 8 -> 40,
        s9_5: 9 -> 5,
        s13_31: 13 -> 31,
        s16_33: 16 -> 33,
        s17_15: 17 -> 15,
        s23_24: 23 -> 24,
        s31_2: 31 -> 2,
        s32_32: 32 -> 32,
        s33_7: 33 -> 7,
        s47_39: 47 -> 39,
        s64_10: 64 -> 10,
        s65_17: 65 -> 17,
        s69_1: 69 -> 1,
        s70_40: 70 -> 40,
        s70_48: 70 -> 48,
        s37_64: 37 -> 64,
        s21_100: 21 -> 100,
        s18_128: 18 -> 128,
        s11_143: 11 -> 143,
        s6_200: 6 -> 200,
        s5_127: 5 -> 127,
        s9_60: 9 -> 60,
        s3_255: 3 -> 255,
        s300_40: 300 -> 40,
    }

    // Inputs within one tile's 64 bytes, on it, past it, many tiles with a remainder
    // (MNIST's 784); neurons in one and several blocks of 32, past the last block (one narrow
    // tile or two), fewer than a block (one narrow tile or two); inputs
    // not in whole groups (VNNI only); 31 to 97 rows: AMX's blocks of 32 samples and the rows
    // after them; layers of one vector of neurons whose weights VNNI's batch kernel sums in
    // blocks (more than 384 groups).
    shapes! {
        6 cases of 31..=97;
        b4_32: 4 -> 32,
        b60_64: 60 -> 64,
        b64_32: 64 -> 32,
        b68_96: 68 -> 96,
        b784_128: 784 -> 128,
        b64_40: 64 -> 40,
        b784_100: 784 -> 100,
        b400_120: 400 -> 120,
        b120_84: 120 -> 84,
        b30_32: 30 -> 32,
        b64_16: 64 -> 16,
        b64_24: 64 -> 24,
        b64_48: 64 -> 48,
        b2000_10: 2000 -> 10,
        b1600_16: 1600 -> 16,
    }

    /// The largest products: inputs 255 against weights -128 and 127, and the largest offsets.
    #[test]
    fn extreme_values() {
        fn all<const IN: usize, const OUT: usize, const G: usize>() {
            let n = IN * OUT;
            for (w, b) in [(-128_i8, i32::MAX), (127, i32::MIN), (-128, 0), (127, -1)] {
                let weights: Vec<i8> = (0..n)
                    .map(|i| if i % 3 == 0 { w.saturating_neg() } else { w })
                    .collect();
                check::<IN, OUT, G>(&vec![w; n], &vec![b; OUT], &vec![255; 9 * IN]);
                check::<IN, OUT, G>(&weights, &vec![b; OUT], &vec![255; 5 * IN]);
                check::<IN, OUT, G>(&weights, &vec![b; OUT], &vec![255; 40 * IN]);
            }
        }
        all::<70, 40, 18>();
        all::<1, 17, 1>();
        all::<129, 33, 33>();
        all::<4096, 20, 1024>();
        all::<1001, 40, 251>();
        all::<784, 128, 196>();
    }

    /// The largest sums `vpmaddubsw` is exact on: inputs 255 against pairs of weights whose
    /// positive or negative parts add up to 128, in every position of a group; and pairs one
    /// step beyond, which it would saturate, turn it off.
    #[test]
    fn maddubs_at_its_limits() {
        fn all<const IN: usize, const OUT: usize, const G: usize>() {
            for pair in [
                [64_i8, 64],
                [-64, -64],
                [127, 1],
                [1, 127],
                [-127, -1],
                [127, -127],
            ] {
                let weights: Vec<i8> = (0..IN * OUT).map(|i| pair[i % 2]).collect();
                let mut w = [[[0_i8; 4]; OUT]; G];
                for (i, &v) in weights.iter().enumerate() {
                    let (o, i) = (i / IN, i % IN);
                    w[i / 4][o][i % 4] = v;
                }
                assert!(maddubs_exact(&w), "{pair:?}");
                check::<IN, OUT, G>(&weights, &vec![0; OUT], &vec![255; 7 * IN]);
                for beyond in [[127_i8, 2], [-127, -2], [65, 64], [-64, -65]] {
                    let mut w = w;
                    w[G - 1][OUT - 1][((IN - 1) % 4) & !1] = beyond[0];
                    w[G - 1][OUT - 1][((IN - 1) % 4) | 1] = beyond[1];
                    assert!(!maddubs_exact(&w), "{beyond:?}");
                }
            }
        }
        all::<784, 128, 196>();
        all::<64, 10, 16>();
        all::<70, 40, 18>();
    }

    /// `pair_fits_i16` against the pair's largest and smallest sums over every `u8` input,
    /// which are at the corners (0 or 255 for each input), for every pair of weights.
    #[test]
    fn pairs_fit_i16_exactly_when_their_sums_do() {
        for a in i8::MIN..=i8::MAX {
            for b in i8::MIN..=i8::MAX {
                let corners = [[0, 0], [0, 255], [255, 0], [255, 255]]
                    .map(|[x0, x1]| x0 * i32::from(a) + x1 * i32::from(b));
                let fits = corners.iter().all(|&s| i16::try_from(s).is_ok());
                assert_eq!(pair_fits_i16(a, b), fits, "{a} {b}");
            }
        }
    }

    #[test]
    fn levels_are_ordered_and_detected_once() {
        assert_eq!(level(), level());
        assert!(QuantLevel::Portable.is_supported());
        for pair in QuantLevel::ALL.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(!pair[1].is_supported() || pair[0].is_supported());
        }
    }
}
