//! The arithmetic of a dense layer, chosen once per process for the CPU it runs on.
//!
//! Every kernel reads the weights by column, `[IN][OUT]` (see [`Dense`](crate::Dense)), and
//! adds `x[i]` times column `i` to the outputs, whose lanes are independent: no horizontal sum,
//! and several partial outputs where a layer is too narrow to keep the multiply-add units busy.
//! (A single running sum per neuron cannot be vectorised, since float addition is not
//! associative: it is the `naive` loop of `mnist_b1` in bench/benches/forward.rs.)
//!
//! - [`portable`]: plain Rust, for every target, `f64`, and layers too small to be worth a call.
//! - `avx512` and `avx2` (x86_64 only): `f32` kernels written with intrinsics, compiled with
//!   `#[target_feature]` so that a default build (no `-C target-cpu`) still uses AVX-512 or
//!   AVX2+FMA where the CPU has them. [`level`] detects the CPU once, with `std`; without `std`
//!   only the features the build enables at compile time are used.
//! - [`conv_wide`]: the convolutions' kernel (stride 1), `f32` on the x86_64 levels, a matrix
//!   product over the padded input (`wide.rs`).
//! - [`with_widest`]: any element-wise loop (the optimizers' updates) compiled for the same level.

// `w`, `b`, `x`, `y`: the notation of `y = w * x + b`.
#![allow(clippy::many_single_char_names)]
// The recurrent layers' helpers are `#[inline(always)]`, so that `with_widest` compiles them for
// its level (see its doc).
#![allow(clippy::inline_always)]

use crate::Scalar;
use crate::batch::Aligned;
use core::borrow::Borrow;

#[cfg(target_arch = "x86_64")]
mod activations;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "x86_64")]
mod columns;
#[cfg(target_arch = "x86_64")]
pub(crate) mod gates;
#[cfg(target_arch = "x86_64")]
pub(crate) mod pieces;
pub mod portable;
#[cfg(target_arch = "x86_64")]
mod wide;

/// The widest recurrent layers (hidden values) whose update runs as one fused kernel
/// ([`lstm_update`], [`gru_update`]): on an AVX-512 core it made the 32-wide LSTM's and GRU's
/// steps faster, the 64-wide LSTM's slower, whose gate-by-gate update keeps four vectors of
/// each function in flight (`nn-step` in bench/benches/rtneural.rs). On an AVX2 core, now that
/// the fused kernels also go pass by pass, the two take about the same time for the 32-wide
/// layers, and the fused one longer for the LSTM(64) (scratch harnesses; BENCHMARKS.md,
/// "Sequence networks, against RTNeural").
pub const FUSED_UPDATE: usize = 32;

/// Layers with at most this many weights always use the portable kernel, inlined into the
/// caller: for a 2 -> 2 layer a call through the dispatcher costs more than the arithmetic
/// (`xor_b1` in bench/benches/forward.rs).
pub const SMALL: usize = 256;

/// Layers with at most this many weights accumulate gradients with the portable kernel, inlined
/// into the caller: for them a call costs more than the arithmetic.
pub const ACCUMULATE_SMALL: usize = 1024;

/// An instruction set a kernel can be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Plain Rust, whatever the build's target features allow.
    Portable,
    /// AVX2 and FMA, 8 lanes of `f32`.
    Avx2,
    /// AVX-512F, 16 lanes of `f32`.
    Avx512,
}

impl Level {
    /// Every level, from the most portable.
    pub const ALL: [Level; 3] = [Level::Portable, Level::Avx2, Level::Avx512];

    /// Whether this CPU (or, without `std`, this build) supports the level.
    pub fn is_supported(self) -> bool {
        self <= level()
    }

    /// This level if the CPU supports it, else the best one it does: what a public kernel entry
    /// point taking a level runs at (`Half`'s), so that none runs instructions the CPU lacks,
    /// whatever level its caller names (one relaxed load and a compare).
    #[inline(always)]
    #[must_use]
    pub fn or_supported(self) -> Self {
        self.min(level())
    }
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod detect {
    use super::Level;
    use core::sync::atomic::{AtomicU8, Ordering};

    /// `0` until the first call to [`level`], then `1 + level as u8`.
    static LEVEL: AtomicU8 = AtomicU8::new(0);

    /// The best level this CPU supports, detected on the first call and cached: later calls
    /// are one relaxed load and a compare.
    #[inline]
    pub fn level() -> Level {
        match LEVEL.load(Ordering::Relaxed) {
            1 => Level::Portable,
            2 => Level::Avx2,
            3 => Level::Avx512,
            _ => detect(),
        }
    }

    #[cold]
    fn detect() -> Level {
        // `is_x86_feature_detected!` also checks that the OS saves the wider registers.
        // The levels are ordered: a CPU at `Avx512` must also run the AVX2+FMA kernels, so the
        // AVX-512 level requires those features too (a virtual machine may mask one of them).
        let avx2_fma =
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        let level = if avx2_fma && std::is_x86_feature_detected!("avx512f") {
            Level::Avx512
        } else if avx2_fma {
            Level::Avx2
        } else {
            Level::Portable
        };
        // Racing first calls all store the same value.
        LEVEL.store(level as u8 + 1, Ordering::Relaxed);
        level
    }
}

/// The best level available: detected once per process with `std` on x86_64; otherwise what
/// the build's target features enable (e.g. `-C target-cpu=native`).
#[inline]
pub fn level() -> Level {
    if cfg!(all(target_arch = "x86_64", target_feature = "avx512f")) {
        return Level::Avx512;
    }
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        detect::level()
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        if cfg!(all(
            target_arch = "x86_64",
            target_feature = "avx2",
            target_feature = "fma"
        )) {
            Level::Avx2
        } else {
            Level::Portable
        }
    }
}

/// The kernels of one element type. Implemented for `f32` and `f64` only; generated code
/// reaches it through [`Dense`](crate::Dense). Private to the crate: its methods take a
/// [`Level`] their callers have checked (they run its instructions unchecked, for the speed of
/// one-sample calls), which only this crate's callers promise.
pub(crate) trait Kernel: Sized + Copy {
    /// Whether [`Kernel::conv_wide`] has vector kernels (at the x86_64 levels): `f32` only.
    const WIDE: bool = false;

    /// `y = W x + b` at `level`, from the columns of `W`, which the caller has checked is
    /// supported.
    fn matvec<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[Self; OUT],
        x: &[Self; IN],
    ) -> [Self; OUT];

    /// `y[s] = W x[s] + b` for every pair of rows, from the columns of `W`, at `level`, which the
    /// caller has checked is supported.
    fn matmul<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[Self; OUT],
        x: &[[Self; IN]],
        y: &mut [[Self; OUT]],
    );

    /// `g[i] += x[s][i] * d[s]` for every pair of rows, sample after sample, at `level`, which
    /// the caller has checked is supported.
    fn accumulate<const IN: usize, const OUT: usize, X: Borrow<[Self; IN]>>(
        level: Level,
        g: &mut [[Self; OUT]; IN],
        x: &[X],
        d: &[[Self; OUT]],
    );

    /// [`conv_wide`] at `level`, which the caller has checked is supported; `false` (and nothing
    /// written) where there is no vector kernel: `f64`, and the portable level.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn conv_wide(
        _level: Level,
        _weights: &[Self],
        _bias: &[Self],
        _taps: Taps,
        _x: &[Self],
        _y: &mut [Self],
        _ldy: usize,
        _len: usize,
    ) -> bool {
        false
    }

    /// [`place_rows`] at `level`, which the caller has checked is supported, on the bounds that
    /// function checks; `false` (and nothing written) where there is no vector kernel: `f64`,
    /// and the portable level.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn place_rows(
        _level: Level,
        _src: &[Self],
        _width: usize,
        _dst: &mut [Self],
        _line: usize,
        _first: usize,
        _end: usize,
    ) -> bool {
        false
    }

    /// [`max_pool_2x2`] at `level`, which the caller has checked is supported; `false` (and
    /// nothing written) where there is no vector kernel: `f64`, and the portable level.
    #[inline]
    fn max_pool_2x2(
        _level: Level,
        _x: &[Self],
        _width: usize,
        _y: &mut [Self],
        _out_width: usize,
    ) -> bool {
        false
    }

    /// A recurrent layer's gates, `y = W x + b` with `W` by column (`w[i]` is column `i`), at
    /// `level`, which the caller has checked is supported; by default the portable kernel.
    /// `reverse` asks for the columns' blocks to be read last to first, where the kernel sweeps
    /// them (the bits are the same either way).
    #[inline(always)]
    fn gates<const IN: usize, const G: usize, const H: usize>(
        _level: Level,
        w: &[[[Self; H]; G]; IN],
        b: &[[Self; H]; G],
        x: &[Self; IN],
        y: &mut [[Self; H]; G],
        _reverse: bool,
    ) where
        Self: Scalar,
    {
        portable::gates(w, b, x, y);
    }

    /// [`Kernel::gates`] of each stream, `ys[s] = W xs[s] + b`, at `level`, which the caller
    /// has checked is supported: the same bits as `gates` on each; by default `gates` on each.
    #[inline(always)]
    fn gates_streams<const IN: usize, const G: usize, const H: usize, X: Borrow<[Self; IN]>>(
        level: Level,
        w: &[[[Self; H]; G]; IN],
        b: &[[Self; H]; G],
        xs: &[X],
        ys: &mut [Aligned<[[Self; H]; G]>],
    ) where
        Self: Scalar,
    {
        for (x, y) in xs.iter().zip(ys) {
            Self::gates(level, w, b, x.borrow(), &mut y.0, false);
        }
    }

    /// The logistic function for the recurrent layers' gates: `f32`'s is the vectorisable
    /// `math::sigmoid_fast`, within 5 ulps from -87 up; `f64`'s is [`Scalar::sigmoid`].
    #[must_use]
    fn gate_sigmoid(self) -> Self;

    /// The hyperbolic tangent for the recurrent layers: `f32`'s is the vectorisable
    /// `math::tanh_fast`, within 5 ulps; `f64`'s is [`Scalar::tanh`] (`libm`).
    #[must_use]
    fn gate_tanh(self) -> Self;

    /// [`Kernel::gate_sigmoid`] of every value, at `level` (checked supported by the caller):
    /// `f32`'s vector kernels use fused multiply-adds, so their bits differ from the portable
    /// ones, within the same bound.
    #[inline(always)]
    fn sigmoid_lanes<const N: usize>(_level: Level, x: &mut [Self; N]) {
        for v in x {
            *v = v.gate_sigmoid();
        }
    }

    /// [`Kernel::gate_tanh`] of every value, at `level`, as [`Kernel::sigmoid_lanes`].
    #[inline(always)]
    fn tanh_lanes<const N: usize>(_level: Level, x: &mut [Self; N]) {
        for v in x {
            *v = v.gate_tanh();
        }
    }

    /// One LSTM level's new `c` and `h` from its gates' input and recurrent projections `x`
    /// and `r` (gates `i, f, g, o`), at `level`: `c = σ(f) c + σ(i) tanh(g)`, `h = σ(o) tanh(c)`
    /// with the functions of [`Kernel::sigmoid_lanes`] and [`Kernel::tanh_lanes`] at `level`
    /// and their bits; `false` (nothing written) where there is no fused kernel, whose caller
    /// then goes gate by gate.
    #[inline(always)]
    fn lstm_update<const H: usize>(
        _level: Level,
        _x: &[[Self; H]; 4],
        _r: &[[Self; H]; 4],
        _c: &mut [Self; H],
        _h: &mut [Self; H],
    ) -> bool {
        false
    }

    /// One GRU level's new `h` from its gates' projections `x` and `r` (gates `r, z, n`), at
    /// `level`, as [`Kernel::lstm_update`]: `false` where there is no fused kernel.
    #[inline(always)]
    fn gru_update<const H: usize>(
        _level: Level,
        _x: &[[Self; H]; 3],
        _r: &[[Self; H]; 3],
        _h: &mut [Self; H],
    ) -> bool {
        false
    }

    /// `activation::softmax` of `x` with a vector kernel at `level` (checked supported by the
    /// caller), if there is one (`f32` at AVX-512 and AVX2): whether it ran.
    #[inline(always)]
    fn softmax_lanes(_level: Level, _x: &mut [Self]) -> bool {
        false
    }

    /// `activation::softmax_rows` with a vector kernel at `level` (checked supported by the
    /// caller), if there is one (`f32` at AVX-512): whether it ran.
    #[inline(always)]
    fn softmax_rows_lanes<const N: usize>(_level: Level, _rows: &mut [[Self; N]]) -> bool {
        false
    }

    /// [`Kernel::matmul`] with each row summed in the same order whatever the other rows, so
    /// that a row gives the same bits alone or among others; by default [`Kernel::matvec`] on
    /// each row.
    #[inline]
    fn matmul_stable<const IN: usize, const OUT: usize, X: Borrow<[Self; IN]>>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[Self; OUT],
        x: &[X],
        y: &mut [[Self; OUT]],
    ) {
        for (x, y) in x.iter().zip(y) {
            *y = Self::matvec(level, w, b, x.borrow());
        }
    }
}

impl Kernel for f32 {
    const WIDE: bool = cfg!(target_arch = "x86_64");

    #[inline(always)]
    fn gate_sigmoid(self) -> Self {
        crate::math::sigmoid_fast(self)
    }

    #[inline(always)]
    fn gate_tanh(self) -> Self {
        crate::math::tanh_fast(self)
    }

    #[inline(always)]
    fn sigmoid_lanes<const N: usize>(level: Level, x: &mut [f32; N]) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::sigmoid_lanes(x) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::sigmoid_lanes(x) },
            _ => {
                for v in x {
                    *v = crate::math::sigmoid_fast(*v);
                }
            }
        }
    }

    #[inline(always)]
    fn softmax_lanes(level: Level, x: &mut [f32]) -> bool {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe {
                avx512::softmax(x);
                true
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe {
                avx2::softmax(x);
                true
            },
            // No vector kernel: `activation::softmax` keeps `x` for its scalar loop.
            _ => {
                let _ = x;
                false
            }
        }
    }

    #[inline(always)]
    fn softmax_rows_lanes<const N: usize>(level: Level, rows: &mut [[f32; N]]) -> bool {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe {
                avx512::softmax_rows(rows);
                true
            },
            // No vector kernel: `activation::softmax_rows` runs `softmax` on each row.
            _ => {
                let _ = rows;
                false
            }
        }
    }

    #[inline(always)]
    fn lstm_update<const H: usize>(
        level: Level,
        x: &[[f32; H]; 4],
        r: &[[f32; H]; 4],
        c: &mut [f32; H],
        h: &mut [f32; H],
    ) -> bool {
        debug_assert!(level.is_supported());
        if H > FUSED_UPDATE {
            return false;
        }
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => {
                unsafe { avx512::lstm_update(x, r, c, h) };
                true
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => {
                unsafe { avx2::lstm_update(x, r, c, h) };
                true
            }
            _ => {
                let _ = (x, r, c, h);
                false
            }
        }
    }

    #[inline(always)]
    fn gru_update<const H: usize>(
        level: Level,
        x: &[[f32; H]; 3],
        r: &[[f32; H]; 3],
        h: &mut [f32; H],
    ) -> bool {
        debug_assert!(level.is_supported());
        if H > FUSED_UPDATE {
            return false;
        }
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => {
                unsafe { avx512::gru_update(x, r, h) };
                true
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => {
                unsafe { avx2::gru_update(x, r, h) };
                true
            }
            _ => {
                let _ = (x, r, h);
                false
            }
        }
    }

    #[inline(always)]
    fn tanh_lanes<const N: usize>(level: Level, x: &mut [f32; N]) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::tanh_lanes(x) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::tanh_lanes(x) },
            _ => {
                for v in x {
                    *v = crate::math::tanh_fast(*v);
                }
            }
        }
    }

    #[inline(always)]
    fn gates<const IN: usize, const G: usize, const H: usize>(
        level: Level,
        w: &[[[f32; H]; G]; IN],
        b: &[[f32; H]; G],
        x: &[f32; IN],
        y: &mut [[f32; H]; G],
        reverse: bool,
    ) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::gates(w, b, x, y, reverse) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::gates(w, b, x, y, reverse) },
            _ => {
                let _ = reverse;
                portable::gates(w, b, x, y);
            }
        }
    }

    #[inline(always)]
    fn gates_streams<const IN: usize, const G: usize, const H: usize, X: Borrow<[f32; IN]>>(
        level: Level,
        w: &[[[f32; H]; G]; IN],
        b: &[[f32; H]; G],
        xs: &[X],
        ys: &mut [Aligned<[[f32; H]; G]>],
    ) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::gates_streams(w, b, xs, ys) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::gates_streams(w, b, xs, ys) },
            _ => {
                for (x, y) in xs.iter().zip(ys) {
                    portable::gates(w, b, x.borrow(), &mut y.0);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn place_rows(
        level: Level,
        src: &[f32],
        width: usize,
        dst: &mut [f32],
        line: usize,
        first: usize,
        end: usize,
    ) -> bool {
        debug_assert!(level.is_supported());
        // Off x86_64 there is no vector kernel: every argument goes unused.
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (src, width, dst, line, first, end);
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe {
                avx512::place_rows(src, width, dst, line, first, end);
                true
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe {
                avx2::place_rows(src, width, dst, line, first, end);
                true
            },
            _ => false,
        }
    }

    #[inline]
    fn max_pool_2x2(
        level: Level,
        x: &[f32],
        width: usize,
        y: &mut [f32],
        out_width: usize,
    ) -> bool {
        debug_assert!(level.is_supported());
        // Off x86_64 there is no vector kernel: every argument goes unused.
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (x, width, y, out_width);
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe {
                avx512::max_pool_2x2(x, width, y, out_width);
                true
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe {
                avx2::max_pool_2x2(x, width, y, out_width);
                true
            },
            _ => false,
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn conv_wide(
        level: Level,
        weights: &[f32],
        bias: &[f32],
        taps: Taps,
        x: &[f32],
        y: &mut [f32],
        ldy: usize,
        len: usize,
    ) -> bool {
        debug_assert!(level.is_supported());
        let rows = bias.len();
        // Off x86_64 there is no vector kernel: every argument goes unused.
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (weights, taps, x, y, ldy, len, rows);
        match level {
            // Tiles of 8 channels by 3 vectors, or 6 by 4 (fewer channels computed in vain when
            // the channels are not a multiple of 8): 24 accumulators, the input's vectors and a
            // broadcast weight fit the 32 registers. A last single vector goes in panels of 16
            // channels where they divide the channels.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe {
                if rows.is_multiple_of(16) {
                    avx512::conv_wide::<8, 3, 16>(weights, bias, taps, x, y, ldy, len);
                } else if rows.is_multiple_of(8) {
                    avx512::conv_wide::<8, 3, 8>(weights, bias, taps, x, y, ldy, len);
                } else {
                    avx512::conv_wide::<6, 4, 6>(weights, bias, taps, x, y, ldy, len);
                }
                true
            },
            // Tiles of 2 channels by 4 vectors: 8 accumulators, the 4 input vectors and a
            // broadcast weight take 13 of the 16 registers (4 by 3 took all 16, and LLVM kept an
            // accumulator on the stack across the taps: LeNet-5's `forward` took a third longer
            // on the AVX2 Zen 4, BENCHMARKS.md). 6 by 2 where 4 does not divide the channels; a last
            // single vector in panels of 8 channels where they divide the channels.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe {
                if rows.is_multiple_of(8) {
                    avx2::conv_wide::<2, 4, 8>(weights, bias, taps, x, y, ldy, len);
                } else if rows.is_multiple_of(4) {
                    avx2::conv_wide::<2, 4, 4>(weights, bias, taps, x, y, ldy, len);
                } else {
                    avx2::conv_wide::<6, 2, 6>(weights, bias, taps, x, y, ldy, len);
                }
                true
            },
            _ => false,
        }
    }

    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[f32; OUT]; IN],
        b: &[f32; OUT],
        x: &[f32; IN],
    ) -> [f32; OUT] {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::matvec(w, b, x) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::matvec(w, b, x) },
            _ => portable::matvec(w, b, x),
        }
    }

    #[inline]
    fn matmul<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[f32; OUT]; IN],
        b: &[f32; OUT],
        x: &[[f32; IN]],
        y: &mut [[f32; OUT]],
    ) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::matmul(w, b, x, y) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::matmul(w, b, x, y) },
            _ => portable::matmul(w, b, x, y),
        }
    }

    #[inline]
    fn accumulate<const IN: usize, const OUT: usize, X: Borrow<[f32; IN]>>(
        level: Level,
        g: &mut [[f32; OUT]; IN],
        x: &[X],
        d: &[[f32; OUT]],
    ) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::accumulate(g, x, d) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::accumulate(g, x, d) },
            _ => portable::accumulate(g, x, d),
        }
    }

    #[inline]
    fn matmul_stable<const IN: usize, const OUT: usize, X: Borrow<[f32; IN]>>(
        level: Level,
        w: &[[f32; OUT]; IN],
        b: &[f32; OUT],
        x: &[X],
        y: &mut [[f32; OUT]],
    ) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::matmul_stable(w, b, x, y) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::matmul_stable(w, b, x, y) },
            _ => portable::matmul(w, b, x, y),
        }
    }
}

impl Kernel for f64 {
    #[inline(always)]
    fn gate_sigmoid(self) -> Self {
        Scalar::sigmoid(self)
    }

    #[inline(always)]
    fn gate_tanh(self) -> Self {
        Scalar::tanh(self)
    }

    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[f64; OUT]; IN],
        b: &[f64; OUT],
        x: &[f64; IN],
    ) -> [f64; OUT] {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::matvec_auto(w, b, x) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::matvec_auto(w, b, x) },
            _ => portable::matvec(w, b, x),
        }
    }

    #[inline]
    fn matmul<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[f64; OUT]; IN],
        b: &[f64; OUT],
        x: &[[f64; IN]],
        y: &mut [[f64; OUT]],
    ) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::matmul_auto(w, b, x, y) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::matmul_auto(w, b, x, y) },
            _ => portable::matmul(w, b, x, y),
        }
    }

    #[inline]
    fn accumulate<const IN: usize, const OUT: usize, X: Borrow<[f64; IN]>>(
        level: Level,
        g: &mut [[f64; OUT]; IN],
        x: &[X],
        d: &[[f64; OUT]],
    ) {
        debug_assert!(level.is_supported());
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX-512F (`Level::Avx512`).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::accumulate_auto(g, x, d) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller checked that the CPU supports AVX2 and FMA (`Level::Avx2`).
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::accumulate_auto(g, x, d) },
            _ => portable::accumulate(g, x, d),
        }
    }
}

/// `y = W x + b`, from the columns of `W`, with the best kernel for this CPU (the portable one,
/// inlined, for layers of at most [`SMALL`] weights).
#[inline]
pub fn matvec<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    if IN * OUT <= SMALL {
        portable::matvec(w, b, x)
    } else {
        T::matvec(level(), w, b, x)
    }
}

/// A recurrent layer's gates, `y = W x + b` for `G` gates of `H` values, `W` by column (`w[i]`
/// is column `i`), with the best kernel for this CPU (the portable one, inlined, for layers of at
/// most [`SMALL`] weights). The sums' order depends only on the shapes and the CPU.
///
/// With `std`, the vector kernels read a matrix somewhat larger than the first-level cache in
/// alternating directions, from call to call on each thread, so that each call starts with what
/// the last one left in the cache (see `kernel/gates.rs`); the bits do not depend on it.
#[inline(always)]
pub fn gates<T: Scalar, const IN: usize, const G: usize, const H: usize>(
    w: &[[[T; H]; G]; IN],
    b: &[[T; H]; G],
    x: &[T; IN],
    y: &mut [[T; H]; G],
) {
    if IN * G * H <= SMALL {
        portable::gates(w, b, x, y);
    } else {
        #[cfg(target_arch = "x86_64")]
        let reverse = const { gates::swept(IN, G * H) } && sweep_backwards();
        #[cfg(not(target_arch = "x86_64"))]
        let reverse = false;
        T::gates(level(), w, b, x, y, reverse);
    }
}

/// [`gates`] at `level` (the vector kernel, whatever the layer's size, read front to back),
/// for tests that compare the levels; `false`, writing nothing, where this CPU does not
/// support `level`.
#[doc(hidden)]
#[inline]
pub fn gates_at<T: Scalar, const IN: usize, const G: usize, const H: usize>(
    level: Level,
    w: &[[[T; H]; G]; IN],
    b: &[[T; H]; G],
    x: &[T; IN],
    y: &mut [[T; H]; G],
) -> bool {
    if !level.is_supported() {
        return false;
    }
    T::gates(level, w, b, x, y, false);
    true
}

/// Whether this thread's next swept matrix is read last block first: the opposite of its
/// last one. Without `std` (no thread-local storage), always forwards.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sweep_backwards() -> bool {
    #[cfg(feature = "std")]
    {
        std::thread_local! {
            static BACKWARDS: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
        }
        BACKWARDS.with(|backwards| backwards.replace(!backwards.get()))
    }
    #[cfg(not(feature = "std"))]
    false
}

/// [`gates`](fn@gates) of each stream, `ys[s] = W xs[s] + b`, with the same bits as `gates` on each
/// (`xs` and `ys` as long): the vector kernels compute several streams at once, so that each
/// weight loaded serves them all.
#[inline(always)]
pub fn gates_streams<
    T: Scalar,
    const IN: usize,
    const G: usize,
    const H: usize,
    X: Borrow<[T; IN]>,
>(
    w: &[[[T; H]; G]; IN],
    b: &[[T; H]; G],
    xs: &[X],
    ys: &mut [Aligned<[[T; H]; G]>],
) {
    debug_assert_eq!(xs.len(), ys.len());
    if IN * G * H <= SMALL {
        for (x, y) in xs.iter().zip(ys) {
            portable::gates(w, b, x.borrow(), &mut y.0);
        }
    } else {
        T::gates_streams(level(), w, b, xs, ys);
    }
}

/// The recurrent layers' logistic function of every value (`f32`: within 5 ulps from -87 up,
/// below it a value under `2e-38`, vector kernels with fused multiply-adds where the CPU has
/// them; `f64`: `libm`'s).
#[inline(always)]
pub fn sigmoid_lanes<T: Scalar, const N: usize>(x: &mut [T; N]) {
    T::sigmoid_lanes(level(), x);
}

/// The recurrent layers' hyperbolic tangent of every value, as [`sigmoid_lanes`].
#[inline(always)]
pub fn tanh_lanes<T: Scalar, const N: usize>(x: &mut [T; N]) {
    T::tanh_lanes(level(), x);
}

/// One LSTM level's new `c` and `h` from its gates' projections, in one vector kernel where
/// there is one (`f32` at AVX2 and AVX-512, up to [`FUSED_UPDATE`] wide: the bits of [`sigmoid_lanes`] and [`tanh_lanes`]
/// gate by gate, with the gates in registers and one dispatch instead of five, `nn-step` of
/// the LSTMs in bench/benches/rtneural.rs); `false`, nothing written, elsewhere.
#[inline(always)]
pub fn lstm_update<T: Scalar, const H: usize>(
    x: &[[T; H]; 4],
    r: &[[T; H]; 4],
    c: &mut [T; H],
    h: &mut [T; H],
) -> bool {
    T::lstm_update(level(), x, r, c, h)
}

/// One GRU level's new `h` from its gates' projections, in one vector kernel where there is
/// one, as [`lstm_update`]; `false`, nothing written, elsewhere.
#[inline(always)]
pub fn gru_update<T: Scalar, const H: usize>(
    x: &[[T; H]; 3],
    r: &[[T; H]; 3],
    h: &mut [T; H],
) -> bool {
    T::gru_update(level(), x, r, h)
}

/// `y[s] = W x[s] + b` for every pair of rows, from the columns of `W`, with the best kernel for
/// this CPU.
#[inline]
pub fn matmul<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[[T; IN]],
    y: &mut [[T; OUT]],
) {
    if IN * OUT <= SMALL {
        portable::matmul(w, b, x, y);
    } else {
        T::matmul(level(), w, b, x, y);
    }
}

/// `y[s] = W x[s] + b` for every pair of rows, each row summed in the same order whatever the
/// other rows: a chunk of samples gives the same bits as one sample at a time (training relies
/// on it), with the best kernel for this CPU. Slower than [`matmul`] on fewer rows than a
/// register tile holds.
#[inline]
pub fn matmul_stable<T: Scalar, const IN: usize, const OUT: usize, X: Borrow<[T; IN]>>(
    w: &[[T; OUT]; IN],
    b: &[T; OUT],
    x: &[X],
    y: &mut [[T; OUT]],
) {
    if IN * OUT <= SMALL {
        portable::matmul(w, b, x, y);
    } else {
        T::matmul_stable(level(), w, b, x, y);
    }
}

/// The taps of a convolution as offsets into its padded input, for [`conv_wide`]: tap
/// `(c, ky, kx)` reads `c plane + ky row_step + kx column_step` values after the position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taps {
    /// Input channels read.
    pub channels: usize,
    /// Distance between two channels.
    pub plane: usize,
    /// Taps along the height (1 for a 1-D convolution).
    pub rows: usize,
    /// Distance between two rows of taps: the padded width times the dilation.
    pub row_step: usize,
    /// Taps along the width (or the length).
    pub columns: usize,
    /// Distance between two taps of a row: the dilation.
    pub column_step: usize,
}

impl Taps {
    /// Taps per output channel: the weights of one.
    #[inline]
    pub const fn len(self) -> usize {
        self.channels * self.rows * self.columns
    }

    /// Whether there are no taps.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// [`Taps::len`], or `None` when it does not fit a `usize`.
    #[inline]
    pub const fn checked_len(self) -> Option<usize> {
        match self.channels.checked_mul(self.rows) {
            Some(plane) => plane.checked_mul(self.columns),
            None => None,
        }
    }

    /// [`Taps::reach`], or `None` when it does not fit a `usize`.
    #[inline]
    pub const fn checked_reach(self) -> Option<usize> {
        match self.checked_len() {
            None => None,
            Some(0) => Some(0),
            Some(_) => {
                let (Some(a), Some(b), Some(c)) = (
                    (self.channels - 1).checked_mul(self.plane),
                    (self.rows - 1).checked_mul(self.row_step),
                    (self.columns - 1).checked_mul(self.column_step),
                ) else {
                    return None;
                };
                match a.checked_add(b) {
                    Some(ab) => ab.checked_add(c),
                    None => None,
                }
            }
        }
    }

    /// The offset of the last tap (0 when there are none).
    #[inline]
    pub const fn reach(self) -> usize {
        if self.is_empty() {
            return 0;
        }
        (self.channels - 1) * self.plane
            + (self.rows - 1) * self.row_step
            + (self.columns - 1) * self.column_step
    }
}

/// Whether [`conv_wide`] has a kernel for `T` on this CPU.
#[inline]
pub fn has_conv_wide<T: Scalar>() -> bool {
    T::WIDE && level() > Level::Portable
}

/// A stride-1 convolution as a matrix product over its padded input `x`, with the best kernel
/// for this CPU: for the `rows = bias.len()` output channels and every position `q < len`,
/// `y[m ldy + q] = bias[m] + sum over taps t of weights[m taps.len() + t] x[q + offset(t)]`
/// (`weights` in PyTorch's order, `[OUT][IN_PER_GROUP][KH][KW]`, the taps in the same order;
/// offsets as [`Taps`] says). `len <= ldy`; `x` holds at least `taps.reach()` values and
/// `len` rounded up to a multiple of 16 more, and `y` `(rows - 1) ldy + len`. Returns
/// `false`, writing nothing, when this CPU or `T` has no such kernel (the caller then loops
/// directly).
///
/// # Panics
///
/// If a slice is shorter than that.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn conv_wide<T: Scalar>(
    weights: &[T],
    bias: &[T],
    taps: Taps,
    x: &[T],
    y: &mut [T],
    ldy: usize,
    len: usize,
) -> bool {
    // Checked: the kernels' pointer arithmetic rests on these sizes, which a wrapped product
    // (of a `Taps` or an `ldy` far beyond any slice) would let through.
    let weights_read = taps.checked_len().and_then(|k| bias.len().checked_mul(k));
    let x_read = taps
        .checked_reach()
        .and_then(|reach| reach.checked_add(len.next_multiple_of(16)));
    let y_written = bias
        .len()
        .saturating_sub(1)
        .checked_mul(ldy)
        .and_then(|start| start.checked_add(len));
    assert!(
        weights_read.is_some_and(|n| weights.len() >= n)
            && len <= ldy
            && x_read.is_some_and(|n| x.len() >= n)
            && (bias.is_empty() || y_written.is_some_and(|n| y.len() >= n)),
        "conv_wide: slices shorter than the shapes"
    );
    T::conv_wide(level(), weights, bias, taps, x, y, ldy, len)
}

/// Rows of `line` values in `dst`, each zeros but for `dst[r line + first .. r line + end]`,
/// which is `src[r width ..][.. end - first]`: the rows of a convolution's input as
/// [`conv_wide`] reads them (padded, or shifted), in vectors, without a call per short row.
/// Returns `false`, writing nothing, when this CPU or `T` has no such kernel.
///
/// # Panics
///
/// If `line` is 0, `first > end` or `end > line`, or `src` is shorter than the rows read.
#[inline]
pub fn place_rows<T: Scalar>(
    src: &[T],
    width: usize,
    dst: &mut [T],
    line: usize,
    first: usize,
    end: usize,
) -> bool {
    // The bounds the vector kernels' pointer arithmetic relies on: `Kernel::place_rows` is the
    // crate's, and this its one caller.
    let rows = dst.len() / line.max(1);
    assert!(
        line > 0
            && first <= end
            && end <= line
            && (rows == 0
                || (rows - 1)
                    .checked_mul(width)
                    .and_then(|start| start.checked_add(end - first))
                    .is_some_and(|read| src.len() >= read)),
        "place_rows: rows shorter than the shapes"
    );
    T::place_rows(level(), src, width, dst, line, first, end)
}

/// A max-pool of 2 by 2 windows with stride 2 over rows of `width` values, with the best kernel
/// for this CPU: for every output row `r < y.len() / out_width` and `i < out_width`,
/// `y[r out_width + i]` is the maximum of `x[2 r width + 2 i + {0, 1}]` and
/// `x[(2 r + 1) width + 2 i + {0, 1}]`, chosen in that order as `layers::maxpool2d` does (a
/// value replaces the maximum when greater or NaN), so that every level gives the same bits.
/// Returns `false`, writing nothing, when this CPU or `T` has no such kernel.
///
/// # Panics
///
/// If `2 out_width > width` or `x` is shorter than the rows read.
#[inline]
pub fn max_pool_2x2<T: Scalar>(x: &[T], width: usize, y: &mut [T], out_width: usize) -> bool {
    // Checked, as `conv_wide`'s sizes: a wrapped product would pass for short rows.
    let read = (y.len() / out_width.max(1))
        .checked_mul(2)
        .and_then(|rows| rows.checked_mul(width));
    assert!(
        out_width > 0
            && out_width.checked_mul(2).is_some_and(|pair| pair <= width)
            && read.is_some_and(|read| x.len() >= read),
        "max_pool_2x2: rows shorter than the shapes"
    );
    T::max_pool_2x2(level(), x, width, y, out_width)
}

/// Runs `f` inside a function compiled for the best level this CPU has, so that the loops `f`
/// inlines are vectorised for its widest registers (LLVM may inline a function compiled for fewer
/// features into one compiled for more; give `f` one call site and `#[inline(always)]` helpers).
/// For element-wise loops such as the optimizers' updates: each element gets the same scalar
/// operations (Rust never fuses a multiply and an add), so the results are the same to the bit at
/// every level.
#[inline]
pub fn with_widest<R>(f: impl FnOnce() -> R) -> R {
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` found AVX-512F (and AVX2 and FMA) on this CPU.
        #[allow(unsafe_code)]
        Level::Avx512 => unsafe { avx512::run(f) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` found AVX2 and FMA on this CPU.
        #[allow(unsafe_code)]
        Level::Avx2 => unsafe { avx2::run(f) },
        _ => run_portable(f),
    }
}

/// [`with_widest`]'s portable arm, out of line: `f` inlined into `with_widest` itself would put
/// its locals in `with_widest`'s frame too, below which `avx512::run` or `avx2::run` holds them
/// again (a recurrent step's buffers and temporaries twice on the stack, in release builds as
/// in debug ones). The same code, compiled with the same features: the same bits.
#[cfg_attr(target_arch = "x86_64", inline(never))]
fn run_portable<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `g[i] += x[s][i] * d[s]` for each pair of rows in order (the portable kernel skips the terms
/// whose input is zero, the others do not: with an infinite `d`, `0 * inf` makes NaN only in
/// the latter), with the best kernel for this CPU: the gradient of a layer's weights (by
/// column) over a chunk of samples. One sample at a time or a whole chunk, every gradient gets
/// the same additions in the same order, so the results agree to the bit.
#[inline]
pub fn accumulate<T: Scalar, const IN: usize, const OUT: usize, X: Borrow<[T; IN]>>(
    g: &mut [[T; OUT]; IN],
    x: &[X],
    d: &[[T; OUT]],
) {
    if IN * OUT <= ACCUMULATE_SMALL {
        portable::accumulate(g, x, d);
    } else {
        T::accumulate(level(), g, x, d);
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    //! Every kernel this CPU supports against an `f64` reference computed here with a plain
    //! sequential sum, on shapes that exercise full blocks, partial blocks, tails and tiles.

    use super::{Level, Taps, conv_wide, has_conv_wide};
    use crate::batch::Aligned;
    use crate::init::SplitMix64;
    use crate::{Dense, Scalar, zeroed_box};
    use std::boxed::Box;
    use std::vec::Vec;

    /// `or_supported` (the `Half` kernels' public entry points) runs at most the levels this
    /// CPU has: a level it lacks falls to the best it has.
    #[test]
    fn a_level_falls_to_one_this_cpu_supports() {
        for level in Level::ALL {
            let runs = level.or_supported();
            assert!(runs.is_supported() && runs <= level, "{level:?}");
            assert_eq!(runs == level, level.is_supported(), "{level:?}");
        }
        assert_eq!(Level::Portable.or_supported(), Level::Portable);
    }

    /// `place_rows` checks the bounds its vector kernels' pointers rely on: rows read past
    /// `src` panic, for either element type.
    #[test]
    fn place_rows_refuses_rows_past_its_source() {
        let f32_refused = std::panic::catch_unwind(|| {
            super::place_rows::<f32>(&[], 0, &mut [0.0; 16], 16, 1, 16)
        });
        let f64_refused = std::panic::catch_unwind(|| {
            super::place_rows::<f64>(&[], 0, &mut [0.0; 16], 16, 1, 16)
        });
        assert!(f32_refused.is_err() && f64_refused.is_err());
    }

    // A 784 -> 128 layer is 400 KB: too much for a test thread's stack.
    #[allow(clippy::unnecessary_box_returns)]
    fn random_layer<const IN: usize, const OUT: usize, T: Scalar>(
        seed: u64,
    ) -> Box<Dense<IN, OUT, T>> {
        let mut rng = SplitMix64::new(seed);
        let mut layer = zeroed_box::<Dense<IN, OUT, T>>();
        let (weights, bias) = layer.parts_mut();
        for w in weights.iter_mut().chain(bias) {
            *w = T::from_f64(rng.uniform(1.0));
        }
        layer
    }

    /// Rows that start one scalar past a cache line.
    #[repr(C)]
    struct Shifted<T, const IN: usize> {
        _pad: T,
        rows: [[T; IN]; ROWS],
    }

    fn random_rows<const IN: usize, T: Scalar>(seed: u64, n: usize) -> Vec<[T; IN]> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|_| core::array::from_fn(|_| T::from_f64(rng.uniform(1.0))))
            .collect()
    }

    /// `w * x + b` in `f64`, summed in order.
    fn reference<const IN: usize, const OUT: usize, T: Scalar>(
        layer: &Dense<IN, OUT, T>,
        x: &[T; IN],
    ) -> [f64; OUT] {
        core::array::from_fn(|o| {
            (0..IN).fold(layer.bias()[o].to_f64(), |s, i| {
                s + layer.weight(o, i).to_f64() * x[i].to_f64()
            })
        })
    }

    /// The bits of every value (as `f64`, which keeps the sign of zero), for comparisons to the
    /// bit.
    fn bits<T: Scalar>(values: &[T]) -> Vec<u64> {
        values.iter().map(|v| v.to_f64().to_bits()).collect()
    }

    fn assert_close<T: Scalar>(found: &[T], expected: &[f64], tolerance: f64, what: &str) {
        for (o, (f, e)) in found.iter().zip(expected).enumerate() {
            let error = (f.to_f64() - e).abs();
            assert!(
                error <= tolerance * e.abs().max(1.0),
                "{what}: output {o}: found {f}, expected {e}"
            );
        }
    }

    /// Input rows per shape: two tiles of 12 samples, a pair and one more.
    const ROWS: usize = 27;

    fn check<const IN: usize, const OUT: usize, T: Scalar>(tolerance: f64) -> usize {
        let layer = random_layer::<IN, OUT, T>(IN as u64 * 1000 + OUT as u64);
        let inputs = random_rows::<IN, T>(7, ROWS);
        let mut checked = 0;
        for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
            let what = std::format!("{IN} -> {OUT} {} at {level:?}", T::NAME);
            for x in &inputs {
                let y = layer.forward_at(level, x).expect("supported level");
                assert_close(&y, &reference(&layer, x), tolerance, &what);
            }
            // Batches around the tile sizes (6 samples, 12 for the narrowest panels, then pairs,
            // then one), so that every kind of partial tile is covered; inputs starting on a
            // cache line and off one.
            let mut aligned = Box::new(Aligned([[T::ZERO; IN]; ROWS]));
            let mut shifted = Box::new(Aligned(Shifted {
                _pad: T::ZERO,
                rows: [[T::ZERO; IN]; ROWS],
            }));
            aligned.0.copy_from_slice(&inputs);
            shifted.0.rows.copy_from_slice(&inputs);
            for rows in [&inputs[..], &aligned.0[..], &shifted.0.rows[..]] {
                for n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 23, 25, 27] {
                    let mut outputs = std::vec![[T::ZERO; OUT]; n];
                    assert!(layer.forward_batch_at(level, &rows[..n], &mut outputs));
                    for (x, y) in rows.iter().zip(&outputs) {
                        assert_close(y, &reference(&layer, x), tolerance, &what);
                    }
                }
            }
            // The stable product (training's): each row the same bits among others as alone,
            // in every kind of tile, with rows borrowed rather than contiguous.
            let alone: Vec<[T; OUT]> = inputs
                .iter()
                .map(|x| {
                    let mut y = [[T::ZERO; OUT]];
                    T::matmul_stable(level, layer.columns(), layer.bias(), &[x], &mut y);
                    y[0]
                })
                .collect();
            for (x, y) in inputs.iter().zip(&alone) {
                assert_close(y, &reference(&layer, x), tolerance, &what);
            }
            let borrowed: Vec<&[T; IN]> = inputs.iter().collect();
            for n in [2, 5, 6, 7, 13, 27] {
                let mut outputs = std::vec![[T::ZERO; OUT]; n];
                T::matmul_stable(
                    level,
                    layer.columns(),
                    layer.bias(),
                    &borrowed[..n],
                    &mut outputs,
                );
                assert!(
                    bits(outputs.as_flattened()) == bits(alone[..n].as_flattened()),
                    "{what}: {n} rows differ from each alone"
                );
            }
            checked += 1;
        }
        // The public entry points pick a level themselves.
        let mut outputs = std::vec![[T::ZERO; OUT]; inputs.len()];
        layer.forward_batch(&inputs, &mut outputs);
        for (x, y) in inputs.iter().zip(&outputs) {
            assert_close(
                &layer.forward(x),
                &reference(&layer, x),
                tolerance,
                "forward",
            );
            assert_close(y, &reference(&layer, x), tolerance, "forward_batch");
        }
        checked
    }

    fn shapes<T: Scalar>(tolerance: f64) -> usize {
        // MNIST's two layers, the small benchmark network, and sizes one off every block,
        // tile and register width.
        check::<784, 128, T>(tolerance)
            + check::<128, 10, T>(tolerance)
            + check::<50, 64, T>(tolerance)
            + check::<64, 1, T>(tolerance)
            + check::<2, 2, T>(tolerance)
            + check::<17, 33, T>(tolerance)
            + check::<15, 7, T>(tolerance)
            + check::<33, 3, T>(tolerance)
            + check::<8, 16, T>(tolerance)
            + check::<31, 21, T>(tolerance)
            // Remainders of 3 to 7 output vectors after the panels of `matvec` and `matmul`,
            // and a first block of columns followed by a short one.
            + check::<129, 56, T>(tolerance)
            + check::<65, 120, T>(tolerance)
            + check::<127, 90, T>(tolerance)
            + check::<3, 100, T>(tolerance)
            + check::<40, 30, T>(tolerance)
    }

    #[test]
    fn every_supported_f32_kernel_matches_an_f64_reference() {
        let checked = shapes::<f32>(1e-5);
        // The portable kernel always runs; on x86_64 the detected levels add to it.
        assert!(checked >= 15);
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            let expected =
                1 + usize::from(
                    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
                ) + usize::from(std::is_x86_feature_detected!("avx512f"));
            assert_eq!(checked, 15 * expected, "a supported level was not tested");
        }
    }

    /// `matvec`'s order of summation at a vector level of `lanes` lanes, panels of at most
    /// `panel` output vectors and `accumulators` partial sums, in scalar `f32`: each output of
    /// a panel of `p` vectors (the outputs after the last whole vector: a panel of one) sums each
    /// block of `BLOCK` columns in `streams(p)` partial sums, column `i` of the block to partial
    /// `i % s` by fused multiply-adds; the partials added pairwise, halves onto halves; the
    /// blocks' sums added in order to a total from 0; the bias plus the total.
    fn matvec_in_order<const IN: usize, const OUT: usize>(
        layer: &Dense<IN, OUT, f32>,
        x: &[f32; IN],
        (lanes, panel, accumulators): (usize, usize, usize),
    ) -> [f32; OUT] {
        let streams = |vectors: usize| {
            let mut s = 1;
            while 2 * s * vectors <= accumulators {
                s *= 2;
            }
            s
        };
        let vectors = OUT / lanes;
        let whole_panels = vectors / panel * panel * lanes;
        core::array::from_fn(|o| {
            let s = if o < whole_panels {
                streams(panel)
            } else if o < vectors * lanes {
                streams(vectors % panel)
            } else {
                streams(1)
            };
            let mut total = 0.0_f32;
            for start in (0..IN).step_by(super::portable::BLOCK) {
                let mut partial = std::vec![0.0_f32; s];
                for i in start..IN.min(start + super::portable::BLOCK) {
                    let p = &mut partial[(i - start) % s];
                    *p = layer.weight(o, i).mul_add(x[i], *p);
                }
                let mut width = s;
                while width > 1 {
                    width /= 2;
                    for k in 0..width {
                        partial[k] += partial[k + width];
                    }
                }
                total += partial[0];
            }
            layer.bias()[o] + total
        })
    }

    /// [`matvec_in_order`] against each vector level's `matvec`, to the bit, for one shape.
    fn check_order<const IN: usize, const OUT: usize>() -> usize {
        let layer = random_layer::<IN, OUT, f32>(IN as u64 * 1000 + OUT as u64);
        let x = random_rows::<IN, f32>(7, 1)[0];
        let mut checked = 0;
        #[cfg(target_arch = "x86_64")]
        for (level, shape) in [
            (Level::Avx2, super::avx2::MATVEC_SHAPE),
            (Level::Avx512, super::avx512::MATVEC_SHAPE),
        ] {
            if let Some(found) = layer.forward_at(level, &x) {
                let expected = matvec_in_order(&layer, &x, shape);
                assert_eq!(bits(&found), bits(&expected), "{IN} -> {OUT} at {level:?}");
                checked += 1;
            }
        }
        checked
    }

    /// The vector levels' `matvec` sums in the order `matvec_in_order` writes out, to the bit:
    /// the order is what the half-precision twins mirror, and a change to it (tiles, partial
    /// sums, how inputs reach the lanes) must be a decision, not an accident. Shapes with tails
    /// of every kind, panels of each width, inputs not a multiple of the lanes or of the
    /// partial sums, and more than one block of columns.
    #[test]
    fn the_vector_matvec_sums_in_its_documented_order() {
        let checked = check_order::<3, 2>()
            + check_order::<9, 7>()
            + check_order::<33, 10>()
            + check_order::<64, 32>()
            + check_order::<130, 17>()
            + check_order::<300, 40>()
            + check_order::<257, 129>()
            + check_order::<784, 10>()
            + check_order::<20, 72>()
            + check_order::<5, 200>()
            + check_order::<131, 50>()
            + check_order::<17, 16>()
            // Every count of last outputs at each level, written in pieces of 8, 4, 2 and 1.
            + check_order::<4, 9>()
            + check_order::<10, 27>()
            + check_order::<9, 12>()
            + check_order::<7, 29>()
            + check_order::<12, 22>()
            + check_order::<6, 31>()
            + check_order::<5, 19>()
            + check_order::<6, 20>()
            + check_order::<3, 21>()
            + check_order::<8, 30>();
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            let levels = usize::from(
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
            ) + usize::from(std::is_x86_feature_detected!("avx512f"));
            assert_eq!(checked, 22 * levels, "a supported level was not tested");
        }
        #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
        let _ = checked;
    }

    #[test]
    fn every_supported_f64_kernel_matches_an_f64_reference() {
        assert!(shapes::<f64>(1e-12) >= 15);
    }

    /// Gradient accumulation at `level` on a chunk of 13 samples with zero inputs among them:
    /// within tolerance of an `f64` reference, and identical to the bit to adding the samples
    /// one at a time.
    fn check_accumulate<const IN: usize, const OUT: usize, T: Scalar>(level: Level) {
        let mut inputs = random_rows::<IN, T>(3, 13);
        for (s, x) in inputs.iter_mut().enumerate() {
            for (i, x) in x.iter_mut().enumerate() {
                if (s + i) % 3 == 0 {
                    *x = T::ZERO;
                }
            }
        }
        let deltas = random_rows::<OUT, T>(4, 13);
        let start = random_layer::<IN, OUT, T>(5);
        let mut chunked = start.clone();
        T::accumulate(level, chunked.columns_mut(), &inputs, &deltas);
        let mut single = start.clone();
        for (x, d) in inputs.iter().zip(&deltas) {
            T::accumulate(
                level,
                single.columns_mut(),
                core::slice::from_ref(x),
                core::slice::from_ref(d),
            );
        }
        assert!(
            bits(chunked.parts().0) == bits(single.parts().0),
            "{IN} -> {OUT} at {level:?}: chunk and single differ"
        );
        for i in 0..IN {
            let expected: std::vec::Vec<f64> = (0..OUT)
                .map(|o| {
                    inputs
                        .iter()
                        .zip(&deltas)
                        .fold(start.weight(o, i).to_f64(), |g, (x, d)| {
                            g + x[i].to_f64() * d[o].to_f64()
                        })
                })
                .collect();
            assert_close(&chunked.columns()[i], &expected, 1e-5, "accumulate");
        }
    }

    #[test]
    fn every_supported_accumulate_kernel_matches_a_reference_and_itself_one_sample_at_a_time() {
        for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
            check_accumulate::<100, 100, f32>(level);
            check_accumulate::<33, 17, f32>(level);
            check_accumulate::<9, 300, f32>(level);
            check_accumulate::<13, 117, f32>(level);
            check_accumulate::<31, 5, f64>(level);
        }
    }

    /// Products then sums, where a fused multiply-add would round differently, and a division:
    /// the same operations whatever the vector width. Only optimised builds vectorise (CI also
    /// runs these tests with `--release`), where this compares the widest vectors with plain
    /// code.
    #[test]
    fn with_widest_gives_the_same_bits_as_plain_code() {
        // Inlined into both callers, so that `with_widest` compiles it for the widest vectors.
        #[inline(always)]
        #[allow(clippy::inline_always)]
        fn update(a: &[f32; 1000], b: &[f32; 1000]) -> Vec<u32> {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| (x * 0.3 + y * y - x / (y + 2.0)).to_bits())
                .collect()
        }
        let a = random_rows::<1000, f32>(11, 1)[0];
        let b = random_rows::<1000, f32>(12, 1)[0];
        assert_eq!(super::with_widest(|| update(&a, &b)), update(&a, &b));
    }

    /// The panels of `gates` and `gates_streams` at both vector levels (whatever this CPU
    /// runs): the widest panels while at least `2 GATES_PANEL` vectors remain, then
    /// `narrow_panels`, are at each step the widest that fit, by the rule written out here
    /// (the kernels' choice when it was one `match` in a loop).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn gates_panels_are_the_widest_that_fit() {
        type Plan = fn(usize) -> [usize; 2];
        let levels: [(usize, usize, Plan); 2] = [
            (
                super::avx2::GATES_PANEL,
                super::avx2::WIDEST_PANEL,
                super::avx2::narrow_panels,
            ),
            (
                super::avx512::GATES_PANEL,
                super::avx512::WIDEST_PANEL,
                super::avx512::narrow_panels,
            ),
        ];
        for (panel, widest, narrow) in levels {
            let rule = |n: usize| match n {
                1..4 => n,
                4..6 => 4,
                6..8 => 6,
                n if n < panel + panel / 2 || panel == 4 => panel,
                n if n < 2 * panel => panel + panel / 2,
                _ => 2 * panel,
            };
            for vectors in 0..300 {
                let mut expected = std::vec::Vec::new();
                let mut n = vectors;
                while n > 0 {
                    expected.push(rule(n));
                    n -= rule(n);
                }
                let mut found = std::vec::Vec::new();
                let mut n = vectors;
                while n >= 2 * panel {
                    found.push(widest);
                    n -= widest;
                }
                found.extend(narrow(vectors).into_iter().filter(|&w| w > 0));
                assert_eq!(found, expected, "{vectors} vectors, panels of {panel}");
            }
        }
    }

    /// `Kernel::gates` at `level` into outputs that start as NaN, so that any it leaves
    /// unwritten shows.
    fn gates_at<const IN: usize, const G: usize, const H: usize>(
        level: Level,
        w: &[[[f32; H]; G]; IN],
        b: &[[f32; H]; G],
        x: &[f32; IN],
        reverse: bool,
    ) -> [[f32; H]; G] {
        let mut y = [[f32::NAN; H]; G];
        <f32 as super::Kernel>::gates(level, w, b, x, &mut y, reverse);
        y
    }

    /// The recurrent layers' gates at every supported level against an `f64` reference, on
    /// shapes with every panel width, a tail of outputs that fills no vector, and two blocks of
    /// columns.
    fn check_gates<const IN: usize, const G: usize, const H: usize>() {
        let mut rng = SplitMix64::new((IN * 100 + G * 10 + H) as u64);
        let mut w = Box::new([[[0.0f32; H]; G]; IN]);
        for v in w.as_flattened_mut().as_flattened_mut() {
            *v = f32::from_f64(rng.uniform(1.0));
        }
        let b: [[f32; H]; G] =
            core::array::from_fn(|_| core::array::from_fn(|_| f32::from_f64(rng.uniform(1.0))));
        let x: [f32; IN] = core::array::from_fn(|_| f32::from_f64(rng.uniform(1.0)));
        let expected: std::vec::Vec<f64> = (0..G * H)
            .map(|o| {
                (0..IN).fold(f64::from(b.as_flattened()[o]), |s, i| {
                    s + f64::from(w[i].as_flattened()[o]) * f64::from(x[i])
                })
            })
            .collect();
        for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
            let y = gates_at(level, &w, &b, &x, false);
            let what = std::format!("gates {IN} x {G} x {H} at {level:?}");
            assert_close(y.as_flattened(), &expected, 1e-5, &what);
            // Read in reverse (what a swept matrix gets every other call), the same bits.
            let reversed = gates_at(level, &w, &b, &x, true);
            assert_eq!(
                bits(reversed.as_flattened()),
                bits(y.as_flattened()),
                "{what}: reversed"
            );
            // Every stream of `gates_streams` (full and partial tiles) gets the bits of `gates`.
            for streams in [1, 5, 6, 7, 13] {
                let xs: std::vec::Vec<[f32; IN]> = (0..streams)
                    .map(|_| core::array::from_fn(|_| f32::from_f64(rng.uniform(1.0))))
                    .collect();
                let mut ys = std::vec![Aligned([[f32::NAN; H]; G]); streams];
                <f32 as super::Kernel>::gates_streams(level, &w, &b, &xs, &mut ys);
                for (x, y) in xs.iter().zip(&ys) {
                    let alone = gates_at(level, &w, &b, x, false);
                    assert!(
                        y.0.as_flattened()
                            .iter()
                            .map(|v| v.to_bits())
                            .eq(alone.as_flattened().iter().map(|v| v.to_bits())),
                        "{what}: {streams} streams"
                    );
                }
            }
        }
    }

    /// `update` of `layers::recurrent::lstm` at `level`, gate by gate, for the fused kernel's
    /// reference.
    fn lstm_by_gates<const H: usize>(
        level: Level,
        x: &[[f32; H]; 4],
        r: &[[f32; H]; 4],
        c: &mut [f32; H],
        h: &mut [f32; H],
    ) {
        let mut gates = *x;
        for (gate, r) in gates.iter_mut().zip(r) {
            for (g, &r) in gate.iter_mut().zip(r) {
                *g += r;
            }
        }
        let [input, forget, cell, output] = &mut gates;
        <f32 as super::Kernel>::sigmoid_lanes(level, input);
        <f32 as super::Kernel>::sigmoid_lanes(level, forget);
        <f32 as super::Kernel>::tanh_lanes(level, cell);
        <f32 as super::Kernel>::sigmoid_lanes(level, output);
        for j in 0..H {
            c[j] = forget[j] * c[j] + input[j] * cell[j];
        }
        let mut squashed = *c;
        <f32 as super::Kernel>::tanh_lanes(level, &mut squashed);
        for j in 0..H {
            h[j] = output[j] * squashed[j];
        }
    }

    /// The fused LSTM update gives the bits of the update gate by gate at every level that has
    /// it (AVX2 and AVX-512, up to `FUSED_UPDATE` wide: asserted, so that a broken dispatch
    /// fails), for widths with and without a partial vector and projections from saturating to
    /// small.
    fn check_lstm_update<const H: usize>() {
        let mut rng = SplitMix64::new(H as u64);
        let mut draw = |scale: f64| -> [[f32; H]; 4] {
            core::array::from_fn(|_| core::array::from_fn(|_| f32::from_f64(rng.uniform(scale))))
        };
        for scale in [0.1, 3.0, 200.0] {
            let (x, r) = (draw(scale), draw(scale));
            let c0 = draw(2.0)[0];
            for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
                let (mut c, mut h) = (c0, [0.0; H]);
                let fused = <f32 as super::Kernel>::lstm_update(level, &x, &r, &mut c, &mut h);
                assert_eq!(
                    fused,
                    level != Level::Portable && H <= super::FUSED_UPDATE,
                    "{level:?}"
                );
                if !fused {
                    continue;
                }
                let (mut c_ref, mut h_ref) = (c0, [0.0; H]);
                lstm_by_gates(level, &x, &r, &mut c_ref, &mut h_ref);
                let what = std::format!("lstm update of {H} at {level:?}, scale {scale}");
                assert_eq!(bits(&c), bits(&c_ref), "{what}: c");
                assert_eq!(bits(&h), bits(&h_ref), "{what}: h");
            }
        }
    }

    /// `update` of `layers::recurrent::gru` at `level`, gate by gate.
    fn gru_by_gates<const H: usize>(
        level: Level,
        x: &[[f32; H]; 3],
        r: &[[f32; H]; 3],
        h: &mut [f32; H],
    ) {
        let (mut reset, mut keep, mut new) = ([0.0; H], [0.0; H], [0.0; H]);
        for j in 0..H {
            reset[j] = x[0][j] + r[0][j];
            keep[j] = x[1][j] + r[1][j];
        }
        <f32 as super::Kernel>::sigmoid_lanes(level, &mut reset);
        <f32 as super::Kernel>::sigmoid_lanes(level, &mut keep);
        for j in 0..H {
            new[j] = x[2][j] + reset[j] * r[2][j];
        }
        <f32 as super::Kernel>::tanh_lanes(level, &mut new);
        for j in 0..H {
            h[j] = new[j] + keep[j] * (h[j] - new[j]);
        }
    }

    /// The fused GRU update gives the bits of the update gate by gate, as the LSTM's.
    fn check_gru_update<const H: usize>() {
        let mut rng = SplitMix64::new(100 + H as u64);
        let mut draw = |scale: f64| -> [[f32; H]; 3] {
            core::array::from_fn(|_| core::array::from_fn(|_| f32::from_f64(rng.uniform(scale))))
        };
        for scale in [0.1, 3.0, 200.0] {
            let (x, r) = (draw(scale), draw(scale));
            let h0 = draw(1.0)[0];
            for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
                let mut h = h0;
                let fused = <f32 as super::Kernel>::gru_update(level, &x, &r, &mut h);
                assert_eq!(
                    fused,
                    level != Level::Portable && H <= super::FUSED_UPDATE,
                    "{level:?}"
                );
                if !fused {
                    continue;
                }
                let mut h_ref = h0;
                gru_by_gates(level, &x, &r, &mut h_ref);
                assert_eq!(
                    bits(&h),
                    bits(&h_ref),
                    "gru update of {H} at {level:?}, {scale}"
                );
            }
        }
    }

    #[test]
    fn the_fused_gru_update_gives_the_bits_gate_by_gate() {
        check_gru_update::<1>();
        check_gru_update::<16>();
        check_gru_update::<20>();
        check_gru_update::<31>();
        check_gru_update::<32>();
        check_gru_update::<64>();
    }

    #[test]
    fn the_fused_lstm_update_gives_the_bits_gate_by_gate() {
        check_lstm_update::<1>();
        check_lstm_update::<16>();
        check_lstm_update::<20>();
        check_lstm_update::<31>();
        check_lstm_update::<32>();
        check_lstm_update::<64>();
    }

    /// `kernel::gates` on a swept matrix (the 64-wide LSTM's recurrent one, 64 KiB) alternates
    /// its direction from call to call: every call gives the same bits.
    #[test]
    fn a_swept_matrix_gives_the_same_bits_in_either_direction() {
        const { assert!(super::gates::swept(64, 256)) };
        let mut rng = SplitMix64::new(64);
        let mut w: Box<[[[f32; 64]; 4]; 64]> = std::vec![[[0.0f32; 64]; 4]; 64]
            .into_boxed_slice()
            .try_into()
            .expect("64 columns");
        for v in w.as_flattened_mut().as_flattened_mut() {
            *v = f32::from_f64(rng.uniform(1.0));
        }
        let b = [[0.5f32; 64]; 4];
        let x: [f32; 64] = core::array::from_fn(|_| f32::from_f64(rng.uniform(1.0)));
        let mut y = [[f32::NAN; 64]; 4];
        super::gates(&w, &b, &x, &mut y);
        let first = bits(y.as_flattened());
        for _ in 0..3 {
            let mut y = [[f32::NAN; 64]; 4];
            super::gates(&w, &b, &x, &mut y);
            assert_eq!(bits(y.as_flattened()), first);
        }
    }

    #[test]
    fn every_supported_gates_kernel_matches_an_f64_reference() {
        check_gates::<1, 4, 32>();
        check_gates::<32, 4, 32>();
        check_gates::<64, 4, 64>();
        check_gates::<17, 3, 17>();
        check_gates::<33, 3, 64>();
        check_gates::<5, 1, 70>();
        check_gates::<130, 4, 20>();
        check_gates::<3, 3, 5>();
        check_gates::<9, 2, 56>();
        check_gates::<7, 1, 120>();
        check_gates::<200, 4, 16>();
        check_gates::<8, 1, 16>();
        check_gates::<8, 1, 32>();
    }

    /// The error of `found` against `expected` in units in the last place of the `f32` nearest
    /// `expected`.
    #[allow(clippy::float_cmp, clippy::cast_possible_truncation)]
    fn ulps(found: f32, expected: f64) -> f64 {
        let rounded = expected as f32;
        if found == rounded {
            return 0.0;
        }
        let magnitude = rounded.abs().max(f32::MIN_POSITIVE);
        let ulp = f64::from(f32::from_bits(magnitude.to_bits() + 1) - magnitude);
        (f64::from(found) - expected).abs() / ulp
    }

    /// The recurrent layers' sigmoid and tanh at every supported level within the bound their
    /// docs state (5 ulps) of `libm` in `f64`, over every 991st `f32` from -87 to 87 (most of them
    /// near zero, as the bit patterns are), in arrays with a tail that fills no vector.
    #[test]
    fn every_supported_activation_kernel_is_within_5_ulps() {
        const N: usize = 1003;
        let low = (-87.0f32).to_bits();
        let high = 87.0f32.to_bits();
        // Negative patterns count down from `-0.0`'s: walk them, then the positive ones.
        let values: Vec<f32> = (0x8000_0000..=low)
            .rev()
            .step_by(991)
            .chain((0..=high).step_by(991))
            .map(f32::from_bits)
            .collect();
        for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
            let (mut worst_sigmoid, mut worst_tanh) = (0.0f64, 0.0f64);
            for chunk in values.chunks(N) {
                let mut sigmoid = [0.0f32; N];
                sigmoid[..chunk.len()].copy_from_slice(chunk);
                let mut tanh = sigmoid;
                <f32 as super::Kernel>::sigmoid_lanes(level, &mut sigmoid);
                <f32 as super::Kernel>::tanh_lanes(level, &mut tanh);
                for ((&x, &s), &t) in chunk.iter().zip(&sigmoid).zip(&tanh) {
                    let v = f64::from(x);
                    let exact = if v >= 0.0 {
                        1.0 / (1.0 + libm::exp(-v))
                    } else {
                        libm::exp(v) / (1.0 + libm::exp(v))
                    };
                    worst_sigmoid = worst_sigmoid.max(ulps(s, exact));
                    worst_tanh = worst_tanh.max(ulps(t, libm::tanh(v)));
                }
            }
            std::println!("{level:?}: sigmoid {worst_sigmoid:.2} ulps, tanh {worst_tanh:.2} ulps");
            // NaN goes through, in a vector and in the tail.
            let mut sigmoid = [f32::NAN; 19];
            let mut tanh = sigmoid;
            <f32 as super::Kernel>::sigmoid_lanes(level, &mut sigmoid);
            <f32 as super::Kernel>::tanh_lanes(level, &mut tanh);
            assert!(
                sigmoid.iter().chain(&tanh).all(|v| v.is_nan()),
                "NaN at {level:?}"
            );
            assert!(
                worst_sigmoid <= 5.0,
                "sigmoid at {level:?}: {worst_sigmoid} ulps"
            );
            assert!(worst_tanh <= 5.0, "tanh at {level:?}: {worst_tanh} ulps");
        }
    }

    /// The largest error in ulps of the softmax kernel at `level` on `logits` against the softmax
    /// in `f64` (of the `f32` differences where the kernel shifts by the maximum, as the scalar
    /// softmax does), or `None` where the level has no kernel; probabilities below `f32`'s
    /// smallest normal number must be 0 or within 4 ulps.
    fn softmax_ulps(level: Level, logits: &[f32]) -> Option<f64> {
        let mut found = logits.to_vec();
        if !<f32 as super::Kernel>::softmax_lanes(level, &mut found) {
            return None;
        }
        let largest = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let direct = logits.iter().all(|v| v.abs() <= 80.0);
        let exps: Vec<f64> = logits
            .iter()
            .map(|&v| {
                libm::exp(if direct {
                    v.into()
                } else {
                    (v - largest).into()
                })
            })
            .collect();
        let sum: f64 = exps.iter().sum();
        let mut worst = 0.0f64;
        for (&p, e) in found.iter().zip(&exps) {
            let exact = e / sum;
            if exact >= f64::from(f32::MIN_POSITIVE) {
                worst = worst.max(ulps(p, exact));
            } else {
                assert!(p == 0.0 || ulps(p, exact) <= 4.0, "{p} for {exact}");
            }
        }
        Some(worst)
    }

    /// The softmax kernels (where a level has one) within 4 ulps of the softmax in `f64` (of
    /// the `f32` differences where the kernel shifts by the maximum), for every length from 1
    /// to 70 (one vector, whole vectors, a tail) and long rows, logits within the direct range,
    /// at its ends and beyond it (first, middle and last), the maximum anywhere; the extremes
    /// exact, and NaN or `+inf` first, in the middle or last making every output NaN.
    #[test]
    #[allow(clippy::float_cmp)] // the extremes are exact
    fn every_softmax_kernel_is_within_4_ulps() {
        for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
            let mut worst = 0.0f64;
            let mut ran = false;
            for len in 1..=70 {
                for (seed, spread) in
                    (1..200u64).zip([8.0f32, 70.0, 400.0, 1.0].into_iter().cycle())
                {
                    let mut logits: Vec<f32> = random_rows::<70, f32>(seed * 100 + len as u64, 1)
                        [0][..len]
                        .iter()
                        .map(|v| v * spread)
                        .collect();
                    // The direct range's ends, ±80, and just past them, in the first rows: last,
                    // first, then in the middle.
                    let past = f32::from_bits(80.0_f32.to_bits() + 1);
                    let ends = [80.0, -80.0, past, -past];
                    if let Some(k) = usize::try_from(seed - 1).ok().filter(|k| *k < 12) {
                        logits[[len - 1, 0, len / 2][k / 4]] = ends[k % 4];
                    }
                    if let Some(ulps) = softmax_ulps(level, &logits) {
                        ran = true;
                        worst = worst.max(ulps);
                    }
                }
                let mut extremes = std::vec![-1000.0f32; len];
                extremes[len / 2] = 1000.0;
                if <f32 as super::Kernel>::softmax_lanes(level, &mut extremes) {
                    for (i, &p) in extremes.iter().enumerate() {
                        assert_eq!(
                            p,
                            if i == len / 2 { 1.0 } else { 0.0 },
                            "{len} at {level:?}"
                        );
                    }
                }
                for bad in [f32::NAN, f32::INFINITY] {
                    for at in [0, len / 2, len - 1] {
                        let mut x = std::vec![1.0f32; len];
                        x[at] = bad;
                        if <f32 as super::Kernel>::softmax_lanes(level, &mut x) {
                            assert!(x.iter().all(|v| v.is_nan()), "{bad} at {level:?}: {x:?}");
                        }
                    }
                }
            }
            // Long rows within the direct range: beyond about 1,550 values near 80 their `e^x`
            // sum past `2^126`, whose inverse is subnormal (about 6 ulps at 100,000 values),
            // so the kernels shift rows longer than `SOFTMAX_DIRECT_LEN` by their maximum.
            for len in [1024, 1025, 100_000] {
                #[allow(clippy::cast_precision_loss)] // small integers
                let logits: Vec<f32> = (0..len).map(|i| 79.0 + (i % 97) as f32 / 96.0).collect();
                if let Some(ulps) = softmax_ulps(level, &logits) {
                    worst = worst.max(ulps);
                }
            }
            std::println!("{level:?}: softmax {worst:.2} ulps (ran: {ran})");
            // The dispatch itself: AVX-512 and AVX2 have the kernel, the others say they have
            // none.
            assert_eq!(
                ran,
                matches!(level, Level::Avx512 | Level::Avx2),
                "softmax kernel at {level:?}"
            );
            assert!(worst <= 4.0, "softmax at {level:?}: {worst} ulps");
        }
    }

    /// The softmax kernels write their row and nothing around it, at every length from 1 to 40
    /// and every offset in a vector, with the bits of the same row alone.
    #[test]
    fn softmax_kernels_write_only_their_row() {
        for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
            let mut ran = false;
            for len in 1..=40 {
                let row = random_rows::<40, f32>(len as u64, 1)[0];
                let logits = &row[..len];
                let mut alone = logits.to_vec();
                if !<f32 as super::Kernel>::softmax_lanes(level, &mut alone) {
                    continue;
                }
                ran = true;
                for offset in 0..16 {
                    let mut buffer = std::vec![f32::NAN; len + 32];
                    buffer[offset..offset + len].copy_from_slice(logits);
                    let _ = <f32 as super::Kernel>::softmax_lanes(
                        level,
                        &mut buffer[offset..offset + len],
                    );
                    assert_eq!(
                        bits(&buffer[offset..offset + len]),
                        bits(&alone),
                        "{len} at {offset}, {level:?}"
                    );
                    let around = buffer[..offset].iter().chain(&buffer[offset + len..]);
                    assert!(
                        around.copied().all(f32::is_nan),
                        "{len} at {offset}, {level:?}"
                    );
                }
            }
            // Where a level has a kernel, it ran (the other test checks which levels do).
            assert_eq!(
                ran,
                matches!(level, Level::Avx512 | Level::Avx2),
                "{level:?}"
            );
        }
    }

    /// The convolution kernel at every level gives the bits of one fused multiply-add per tap in
    /// the taps' order, for channel counts that fill tiles or not and positions ending inside a
    /// vector (stored up to `len`, nothing after it); `place_rows` places rows as it says.
    /// Sizes whose products wrap do not pass for short slices: a `Taps` whose reach wraps to
    /// 0 (the kernel would read `2^63` values past `x`), and an `ldy` whose rows wrap.
    #[test]
    fn conv_wide_refuses_sizes_that_wrap() {
        let wrapping = Taps {
            channels: 2,
            plane: 1 << 63,
            rows: 2,
            row_step: 1 << 63,
            columns: 1,
            column_step: 1,
        };
        assert_eq!(wrapping.checked_reach(), None);
        let fine = Taps {
            channels: 1,
            plane: 16,
            rows: 1,
            row_step: 16,
            columns: 1,
            column_step: 1,
        };
        let (weights, bias, x) = ([1.0_f32; 4], [0.0_f32; 3], [1.0_f32; 64]);
        let mut y = [0.0_f32; 64];
        for (taps, ldy) in [(wrapping, 16), (fine, 1 << 63)] {
            let run = std::panic::catch_unwind(move || {
                let mut y = y;
                conv_wide(&weights, &bias, taps, &x, &mut y, ldy, 16)
            });
            assert!(run.is_err(), "{taps:?} with ldy {ldy} must be refused");
        }
        assert!(
            conv_wide(&weights, &bias[..1], fine, &x, &mut y, 16, 16) || !has_conv_wide::<f32>()
        );
    }

    #[test]
    fn conv_wide_and_place_rows_at_every_level() {
        let mut rng = SplitMix64::new(13);
        #[allow(clippy::cast_possible_truncation)]
        let mut random =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform(1.0) as f32).collect() };
        let taps = super::Taps {
            channels: 3,
            plane: 90,
            rows: 2,
            row_step: 9,
            columns: 3,
            column_step: 1,
        };
        let x = random(taps.reach() + 112);
        for (rows, len, ldy) in [
            (6, 100, 100),
            (16, 37, 40),
            (7, 16, 16),
            (5, 1, 3),
            (16, 100, 100),
            (8, 20, 20),
            (32, 33, 40),
            // Channels that 8 does not divide but 4 does; 10 that 4 does not; tiles of 4
            // vectors followed by 1, 2 and 3 more, and fewer vectors than a tile.
            (12, 50, 56),
            (8, 44, 48),
            (10, 112, 112),
            (4, 24, 24),
        ] {
            let weights = random(rows * taps.len());
            let bias = random(rows);
            let expected: Vec<f32> = (0..rows * ldy)
                .map(|i| {
                    let (m, q) = (i / ldy, i % ldy);
                    if q >= len {
                        return -1.0;
                    }
                    let mut t = 0;
                    let mut acc = bias[m];
                    for c in 0..taps.channels {
                        for ky in 0..taps.rows {
                            for kx in 0..taps.columns {
                                let offset = c * taps.plane + ky * taps.row_step + kx;
                                acc = x[q + offset].mul_add(weights[m * taps.len() + t], acc);
                                t += 1;
                            }
                        }
                    }
                    acc
                })
                .collect();
            for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
                let mut y = std::vec![-1.0_f32; rows * ldy];
                if <f32 as super::Kernel>::conv_wide(
                    level, &weights, &bias, taps, &x, &mut y, ldy, len,
                ) {
                    assert_eq!(
                        bits(&y),
                        bits(&expected),
                        "{rows} channels, {len} positions at {level:?}"
                    );
                }
            }
        }
        // Sources that end where the last row does, and rows after a remainder of `dst` that
        // no row fills: the whole vectors of the first rows spill neither past them nor into
        // the remainder; rows of one vector, of one to two (each level's masked loads), longer.
        for rows in [4, 9] {
            for (line, first, end) in [
                (32, 2, 30),
                (10, 0, 10),
                (21, 3, 20),
                (8, 8, 8),
                (5, 1, 4),
                (16, 5, 12),
                (28, 0, 27),
                (40, 1, 40),
            ] {
                let src = random((rows - 1) * 11 + end - first);
                let expected: Vec<f32> = (0..rows * line + 3)
                    .map(|i| {
                        let (r, j) = (i / line, i % line);
                        if r == rows {
                            f32::NAN
                        } else if (first..end).contains(&j) {
                            src[r * 11 + j - first]
                        } else {
                            0.0
                        }
                    })
                    .collect();
                for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
                    let mut dst = std::vec![f32::NAN; rows * line + 3];
                    if <f32 as super::Kernel>::place_rows(
                        level, &src, 11, &mut dst, line, first, end,
                    ) {
                        assert_eq!(
                            bits(&dst),
                            bits(&expected),
                            "{rows} rows of {line}, {first}..{end} at {level:?}"
                        );
                    }
                }
            }
        }
    }

    /// The max-pool kernel at every level gives the bits of the scalar choice (a value replaces
    /// the maximum when greater or NaN), on rows of full vectors and tails, with NaNs, zeros of
    /// both signs and ties.
    #[test]
    fn max_pool_2x2_is_the_scalar_choice_at_every_level() {
        let mut rng = SplitMix64::new(22);
        let specials = [f32::NAN, -0.0, 0.0, 1.0, f32::NEG_INFINITY];
        for (width, out_width, rows) in [(28, 14, 12), (10, 5, 3), (67, 33, 4), (2, 1, 1)] {
            let x: Vec<f32> = (0..2 * rows * width)
                .map(|i| {
                    if i % 7 == 3 {
                        specials[(i / 7) % specials.len()]
                    } else {
                        // Few distinct values, so that windows hold ties.
                        #[allow(clippy::cast_possible_truncation)]
                        let v = (rng.uniform(3.0) as i32) as f32;
                        v
                    }
                })
                .collect();
            let expected: Vec<f32> = (0..rows * out_width)
                .map(|o| {
                    let (r, i) = (o / out_width, o % out_width);
                    let top = &x[2 * r * width + 2 * i..];
                    let bottom = &x[(2 * r + 1) * width + 2 * i..];
                    [top[1], bottom[0], bottom[1]]
                        .into_iter()
                        .fold(top[0], |m, v| if v > m || v.is_nan() { v } else { m })
                })
                .collect();
            for level in Level::ALL.into_iter().filter(|l| l.is_supported()) {
                let mut y = std::vec![7.5_f32; rows * out_width];
                if <f32 as super::Kernel>::max_pool_2x2(level, &x, width, &mut y, out_width) {
                    assert_eq!(
                        y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "{width} by {out_width} at {level:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn level_is_stable_and_ordered() {
        let first = super::level();
        assert_eq!(super::level(), first);
        assert!(Level::Portable.is_supported());
        assert!(first.is_supported());
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        assert_eq!(
            Level::Avx512.is_supported(),
            std::is_x86_feature_detected!("avx512f")
        );
    }
}
