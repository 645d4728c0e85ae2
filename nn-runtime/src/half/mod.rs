//! Dense layers whose weights are stored in half precision, bfloat16 or IEEE binary16, and
//! computed in `f32`: half the memory and half the bandwidth of [`Dense`], the same arithmetic.
//!
//! - [`Bf16`] and [`F16`]: the two formats, as `u16` newtypes, rounded from `f32` to nearest
//!   (ties to even) and widened to `f32` exactly.
//! - [`HalfDense`]: the layer. Its kernels load half-precision weights and widen them in
//!   registers, then sum exactly as [`Dense`]'s `f32` kernels do, in the same order at each
//!   level: its outputs are the bits of a `Dense<IN, OUT, f32>` holding the widened weights.
//! - [`HalfConv2d`] and [`HalfConv1d`] (`conv.rs`): convolutions, widened into a stack copy of
//!   the `f32` layer at each call and run through its code.
//! - The recurrent layers' matrices: [`Lstm`](crate::layers::Lstm), [`Gru`](crate::layers::Gru)
//!   and [`Rnn`](crate::layers::Rnn) with `Bf16` or `F16` as their
//!   [`Weight`](crate::layers::Weight), whose gates are `kernel::gates`' vector kernel expanded
//!   with the formats' widening loads (`kernel.rs`): the bits of the `f32` layer.
//!
//! Only the weights are rounded: inputs, biases, products and sums stay `f32`. The AVX-512
//! instruction that multiplies bfloat16 pairs (`vdpbf16ps`) was rejected for that reason: it
//! would round the inputs to bfloat16 as well, and sum pairs of products in its own order, so
//! the results would no longer be those of the `f32` layer (and would lose 16 bits of each
//! input).

mod conv;
mod kernel;

pub use conv::{HalfConv1d, HalfConv2d};

use crate::Dense;
use crate::batch::Aligned;
use crate::kernel::{Level, SMALL, level};
use crate::zeroed::ZeroInit;
use core::borrow::Borrow;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Bf16 {}
    impl Sealed for super::F16 {}
}

/// A bfloat16 value: the upper 16 bits of an `f32` (sign, 8 exponent bits, 7 fraction bits).
///
/// The range of `f32` with 8 significant bits: `to_f32` is a shift. Equality and hashing
/// compare the bits (`-0.0 != 0.0`, a NaN equals itself).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Bf16(u16);

/// An IEEE 754 binary16 value (sign, 5 exponent bits, 10 fraction bits), as `f16` in PyTorch
/// and numpy: 11 significant bits, finite values up to 65504, subnormals down to 2^-24.
///
/// Equality and hashing compare the bits (`-0.0 != 0.0`, a NaN equals itself).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct F16(u16);

impl Bf16 {
    /// `0.0`.
    pub const ZERO: Self = Self(0);

    /// The bfloat16 nearest `x`, ties to even (the conversion of PyTorch, ml_dtypes and the
    /// `half` crate). Values beyond the largest finite bfloat16 by half an ulp or more become
    /// infinities; a NaN stays a NaN of the same sign, quiet, with the top of its payload.
    #[inline]
    pub const fn from_f32(x: f32) -> Self {
        let bits = x.to_bits();
        if bits & 0x7fff_ffff > 0x7f80_0000 {
            // The upper half of a NaN, with the quiet bit set: truncating alone could leave an
            // infinity (a payload only in the low bits).
            #[allow(clippy::cast_possible_truncation)] // the upper 16 bits
            return Self((bits >> 16) as u16 | 0x0040);
        }
        // Adding just under half of the dropped part's unit, plus the kept part's lowest bit,
        // rounds to nearest with ties to even; a carry out of the fraction raises the exponent
        // (up to infinity), as it should. No overflow: below 0xff80_0000 + 0x8000.
        let rounded = bits + 0x7fff + ((bits >> 16) & 1);
        #[allow(clippy::cast_possible_truncation)] // the upper 16 bits
        Self((rounded >> 16) as u16)
    }

    /// The value as an `f32`, exactly.
    #[inline]
    pub const fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }

    /// The 16 bits.
    pub const fn to_bits(self) -> u16 {
        self.0
    }

    /// The value with these 16 bits.
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }
}

impl F16 {
    /// `0.0`.
    pub const ZERO: Self = Self(0);

    /// The binary16 nearest `x`, ties to even (numpy's `astype(np.float16)`): subnormals
    /// rounded at 2^-24, values from 65520 on (half an ulp beyond 65504, the largest finite)
    /// to infinity. A NaN stays a NaN of the same sign, quiet, with the top of its payload.
    #[inline]
    pub const fn from_f32(x: f32) -> Self {
        let bits = x.to_bits();
        #[allow(clippy::cast_possible_truncation)] // the sign bit, moved to bit 15
        let sign = ((bits >> 16) & 0x8000) as u16;
        let a = bits & 0x7fff_ffff;
        let magnitude = if a > 0x7f80_0000 {
            // NaN: quiet, with the top 10 bits of the payload.
            0x7e00 | ((a >> 13) & 0x3ff)
        } else if a >= 0x477f_f000 {
            // From 65520 on (the tie between 65504 and 2^16 goes to the even one, 2^16, which
            // overflows), and infinity.
            0x7c00
        } else if a >= 0x3880_0000 {
            // Normal (from 2^-14): rebias the exponent from 127 to 15, then round the 13
            // dropped bits to nearest, ties to even; a carry out of the fraction raises the
            // exponent, up to 0x7c00 (infinity) just below 65520.
            let r = a - (112 << 23);
            (r + 0x0fff + ((r >> 13) & 1)) >> 13
        } else {
            // Subnormal or zero: `x * 2^24` rounded to an integer, ties to even (1024, the
            // carry from the largest subnormal, is the smallest normal's bits).
            let exponent = a >> 23;
            let shift = 126 - exponent; // at least 14: the exponent is at most 112 here
            if shift > 24 {
                // Below 2^-25, half the smallest subnormal: zero (and 2^-25 itself, the tie,
                // goes to the even one, zero, at `shift == 24` below).
                0
            } else {
                let m = (a & 0x7f_ffff) | 0x80_0000;
                let q = m >> shift;
                let rest = m & ((1 << shift) - 1);
                let half = 1 << (shift - 1);
                if rest > half || (rest == half && q & 1 == 1) {
                    q + 1
                } else {
                    q
                }
            }
        };
        #[allow(clippy::cast_possible_truncation)] // at most 0x7fff
        Self(sign | magnitude as u16)
    }

    /// The value as an `f32`, exactly (subnormals become normal `f32`s; infinities and NaNs
    /// keep their sign and payload).
    ///
    /// Exponent and fraction shifted into place, then multiplied by 2^112 to rebias the
    /// exponent: exact, subnormals included (an `f32` subnormal times a power of two that lands
    /// in the normal range). Always inlined into the portable kernel's loops, which LLVM
    /// vectorises. The multiplication makes the portable `f16` layer faster than integer
    /// arithmetic with a separate case for subnormals (`Portable` in
    /// bench/benches/half.rs); its cost is that a subnormal binary16 weight (below 2^-14 in
    /// magnitude) is a subnormal `f32` operand, which some x86 CPUs multiply slowly. The vector
    /// kernels use `vcvtph2ps` instead.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub const fn to_f32(self) -> f32 {
        let h = self.0 as u32;
        let scaled = f32::from_bits((h & 0x7fff) << 13) * f32::from_bits((127 + 112) << 23);
        // Infinity and NaN land on 2^16 and beyond: their exponent becomes all ones, the
        // payload stays.
        let bits = if scaled >= 65536.0 {
            scaled.to_bits() | 0x7f80_0000
        } else {
            scaled.to_bits()
        };
        f32::from_bits(bits | (h & 0x8000) << 16)
    }

    /// The 16 bits.
    pub const fn to_bits(self) -> u16 {
        self.0
    }

    /// The value with these 16 bits.
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }
}

impl core::fmt::Debug for Bf16 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.to_f32(), f)
    }
}

impl core::fmt::Debug for F16 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.to_f32(), f)
    }
}

impl From<Bf16> for f32 {
    fn from(x: Bf16) -> f32 {
        x.to_f32()
    }
}

impl From<F16> for f32 {
    fn from(x: F16) -> f32 {
        x.to_f32()
    }
}

/// A half-precision format: [`Bf16`] or [`F16`] (sealed).
///
/// The hidden methods are the layer's kernels for the format, chosen by level (at most the
/// best this CPU has: [`Level::or_supported`](crate::kernel::Level::or_supported)), as the
/// crate's `f32` kernels are.
pub trait Half:
    sealed::Sealed + Copy + Default + PartialEq + core::fmt::Debug + Send + Sync + 'static
{
    /// The format's usual name, `"bf16"` or `"f16"`.
    const NAME: &'static str;
    /// The format's dtype in a safetensors file, `"BF16"` or `"F16"`.
    const DTYPE: &'static str;
    /// `0.0`.
    const ZERO: Self;

    /// The value of this format nearest `x`, ties to even.
    fn from_f32(x: f32) -> Self;

    /// The value as an `f32`, exactly: what the portable kernel does to each weight it loads.
    fn to_f32(self) -> f32;

    /// The value's 16 bits, as files store them.
    fn to_bits(self) -> u16;

    /// Whether the portable kernel widens a panel's weights into a buffer before multiplying
    /// them, rather than each as it multiplies: for binary16 the separate loop runs faster, for
    /// bfloat16 (a shift) slower (MNIST's layers, `Portable` in bench/benches/half.rs).
    /// The products and sums are the same either way.
    #[doc(hidden)]
    const WIDEN_FIRST: bool;

    /// Whether this CPU has the kernel of `level` for this format: [`Level::is_supported`],
    /// and for [`F16`] at [`Level::Avx2`] also F16C.
    #[doc(hidden)]
    fn has_level(level: Level) -> bool;

    /// `y = W x + b` at `level`, from the columns of `W`; a level this CPU lacks falls to
    /// the best it has, and to the portable kernel where that level has none for this format
    /// (see [`Half::has_level`]).
    #[doc(hidden)]
    fn matvec<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[f32; OUT],
        x: &[f32; IN],
    ) -> [f32; OUT];

    /// `y[s] = W x[s] + b` for every pair of rows at `level`, as [`Half::matvec`].
    #[doc(hidden)]
    fn matmul<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[f32; OUT],
        x: &[[f32; IN]],
        y: &mut [[f32; OUT]],
    );

    /// A recurrent layer's gates, `y = W x + b` from the columns of `W` (`w[i]` is column `i`), at
    /// `level`: the operations of `f32`'s [`gates`](crate::kernel::gates) kernel at
    /// that level on the widened weights; a level this CPU lacks falls to the best it
    /// has, and to the portable kernel where that level has none for this format (see
    /// [`Half::has_level`]).
    #[doc(hidden)]
    fn gates<const IN: usize, const G: usize, const H: usize>(
        level: Level,
        w: &[[[Self; H]; G]; IN],
        b: &[[f32; H]; G],
        x: &[f32; IN],
        y: &mut [[f32; H]; G],
    );

    /// [`Half::gates`] of each stream, `ys[s] = W xs[s] + b`, at `level`: its bits on each.
    #[doc(hidden)]
    fn gates_streams<const IN: usize, const G: usize, const H: usize, X: Borrow<[f32; IN]>>(
        level: Level,
        w: &[[[Self; H]; G]; IN],
        b: &[[f32; H]; G],
        xs: &[X],
        ys: &mut [Aligned<[[f32; H]; G]>],
    );
}

// `to_f32` is inlined into the portable kernel, which the x86_64 kernels inline into
// `#[target_feature]` functions (for `OUT == 1`): only inlining compiles it with those features.
#[allow(clippy::inline_always)]
impl Half for Bf16 {
    const NAME: &'static str = "bf16";
    const DTYPE: &'static str = "BF16";
    const ZERO: Self = Self::ZERO;
    const WIDEN_FIRST: bool = false;

    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        Self::from_f32(x)
    }

    #[inline(always)]
    fn to_f32(self) -> f32 {
        self.to_f32()
    }

    fn to_bits(self) -> u16 {
        self.0
    }

    fn has_level(level: Level) -> bool {
        level.is_supported()
    }

    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[f32; OUT],
        x: &[f32; IN],
    ) -> [f32; OUT] {
        let level = level.or_supported();
        kernel::matvec_bf16(level, w, b, x)
    }

    #[inline]
    fn matmul<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[f32; OUT],
        x: &[[f32; IN]],
        y: &mut [[f32; OUT]],
    ) {
        let level = level.or_supported();
        kernel::matmul_bf16(level, w, b, x, y);
    }

    #[inline(always)]
    fn gates<const IN: usize, const G: usize, const H: usize>(
        level: Level,
        w: &[[[Self; H]; G]; IN],
        b: &[[f32; H]; G],
        x: &[f32; IN],
        y: &mut [[f32; H]; G],
    ) {
        let level = level.or_supported();
        kernel::gates_bf16(level, w, b, x, y);
    }

    #[inline(always)]
    fn gates_streams<const IN: usize, const G: usize, const H: usize, X: Borrow<[f32; IN]>>(
        level: Level,
        w: &[[[Self; H]; G]; IN],
        b: &[[f32; H]; G],
        xs: &[X],
        ys: &mut [Aligned<[[f32; H]; G]>],
    ) {
        let level = level.or_supported();
        kernel::gates_streams_bf16(level, w, b, xs, ys);
    }
}

// `to_f32` is inlined into the portable kernel, which the x86_64 kernels inline into
// `#[target_feature]` functions (for `OUT == 1`): only inlining compiles it with those features.
#[allow(clippy::inline_always)]
impl Half for F16 {
    const NAME: &'static str = "f16";
    const DTYPE: &'static str = "F16";
    const ZERO: Self = Self::ZERO;
    const WIDEN_FIRST: bool = true;

    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        Self::from_f32(x)
    }

    #[inline(always)]
    fn to_f32(self) -> f32 {
        self.to_f32()
    }

    fn to_bits(self) -> u16 {
        self.0
    }

    fn has_level(level: Level) -> bool {
        level.is_supported() && (level != Level::Avx2 || kernel::has_f16c())
    }

    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[f32; OUT],
        x: &[f32; IN],
    ) -> [f32; OUT] {
        let level = level.or_supported();
        kernel::matvec_f16(level, w, b, x)
    }

    #[inline]
    fn matmul<const IN: usize, const OUT: usize>(
        level: Level,
        w: &[[Self; OUT]; IN],
        b: &[f32; OUT],
        x: &[[f32; IN]],
        y: &mut [[f32; OUT]],
    ) {
        let level = level.or_supported();
        kernel::matmul_f16(level, w, b, x, y);
    }

    #[inline(always)]
    fn gates<const IN: usize, const G: usize, const H: usize>(
        level: Level,
        w: &[[[Self; H]; G]; IN],
        b: &[[f32; H]; G],
        x: &[f32; IN],
        y: &mut [[f32; H]; G],
    ) {
        let level = level.or_supported();
        kernel::gates_f16(level, w, b, x, y);
    }

    #[inline(always)]
    fn gates_streams<const IN: usize, const G: usize, const H: usize, X: Borrow<[f32; IN]>>(
        level: Level,
        w: &[[[Self; H]; G]; IN],
        b: &[[f32; H]; G],
        xs: &[X],
        ys: &mut [Aligned<[[f32; H]; G]>],
    ) {
        let level = level.or_supported();
        kernel::gates_streams_f16(level, w, b, xs, ys);
    }
}

/// A recurrent layer's gates with the portable kernel: `kernel::portable::gates` on the
/// widened weights (for matrices of at most [`SMALL`] weights, inlined, as the `f32` layer's).
#[allow(clippy::inline_always)] // inlined into the layer's step, as the `f32` kernel
#[inline(always)]
pub(crate) fn portable_gates<F: Half, const IN: usize, const G: usize, const H: usize>(
    w: &[[[F; H]; G]; IN],
    b: &[[f32; H]; G],
    x: &[f32; IN],
    y: &mut [[f32; H]; G],
) {
    kernel::portable::gates(w, b, x, y);
}

/// A fully connected layer whose weights are stored in half precision ([`Bf16`] or [`F16`])
/// and computed in `f32`: half the memory and bandwidth of a [`Dense`] of the same shape.
///
/// The weights are stored by columns, `[IN][OUT]`, as in [`Dense`] (`columns[i][o]` is the
/// weight from input `i` to neuron `o`); the `OUT` biases stay `f32`. The kernels widen each
/// weight to `f32` as they load it (a shift or a byte shuffle for bfloat16; `vcvtph2ps` for
/// binary16), then multiply and add in `f32` exactly as [`Dense`]'s `f32` kernels do, in the
/// same order at each level: [`HalfDense::forward`] gives the bits of [`Dense::forward`] on a
/// `Dense<IN, OUT, f32>` holding the widened weights and the same biases, on the same CPU (the
/// tests check it at every level, batches included, with finite weights: a NaN weight gives NaNs
/// in both, whose payloads were not compared). The error of a half-precision layer is
/// therefore that of its rounded weights, nothing more; [`HalfDense::assign_from`] rounds each
/// weight of an `f32` layer to nearest.
///
/// Levels as for [`Dense`]: AVX-512F, AVX2+FMA, portable, detected once per process; layers of
/// at most [`SMALL`](crate::kernel::SMALL) weights use the portable kernel, inlined. For
/// [`F16`], the AVX2 kernel also needs F16C (`vcvtph2ps`): every CPU with AVX2 has had it
/// since both appeared (F16C came first), but a virtual machine may mask it; there, an `F16`
/// layer falls back to the portable kernel, still exact for its own order but no longer the
/// bits of the `f32` layer at the AVX2 level. `forward_at(Level::Avx2, ..)` then says `None`.
///
/// Speed, MNIST's two layers on one core of an AVX-512 machine (an AMD EPYC, 1 MiB of L2 per
/// core, so that even the `f32` weights stay in cache; bench/benches/half.rs): one sample at a
/// time, where the weights' bandwidth counts, half precision is faster than `f32` with AVX-512
/// and with AVX2; batches of 256, bound by the multiply-adds, take about the same time. The
/// portable kernel widens `Bf16` for free but `F16` with a few integer and float operations per
/// weight, several times slower than `f32` there. The figures are in BENCHMARKS.md, "Smaller
/// numbers: the kernels, LeNet in int8, bf16 and f16 weights".
///
/// Aligned to 64 bytes, a cache line, as [`Dense`]: every column of a layer whose output width
/// is a multiple of 32 starts a line.
#[derive(Clone, PartialEq)]
#[repr(C, align(64))]
pub struct HalfDense<const IN: usize, const OUT: usize, H: Half> {
    columns: [[H; OUT]; IN],
    bias: [f32; OUT],
}

// SAFETY: `H` is `Bf16` or `F16` (`Half` is sealed), `repr(transparent)` over `u16`, whose
// all-zero bits are `+0.0` in both formats; all-zero bytes of an `f32` are `+0.0`; and the
// layer holds nothing but arrays of those.
#[allow(unsafe_code)]
unsafe impl<const IN: usize, const OUT: usize, H: Half> ZeroInit for HalfDense<IN, OUT, H> {}

impl<const IN: usize, const OUT: usize, H: Half> HalfDense<IN, OUT, H> {
    const NOT_EMPTY: () = assert!(
        IN > 0 && OUT > 0,
        "a HalfDense layer needs inputs and outputs"
    );

    /// Number of inputs of each neuron.
    pub const INPUTS: usize = IN;
    /// Number of neurons.
    pub const OUTPUTS: usize = OUT;
    /// Weights plus biases.
    pub const PARAMETERS: usize = IN * OUT + OUT;

    /// A layer from the columns of its weight matrix, `[IN][OUT]` (`columns[i][o]` is the
    /// weight from input `i` to neuron `o`), and biases.
    pub const fn from_columns(columns: [[H; OUT]; IN], bias: [f32; OUT]) -> Self {
        let () = Self::NOT_EMPTY;
        Self { columns, bias }
    }

    /// Sets this layer to `dense`, each weight rounded to the nearest value of `H` (ties to
    /// even), the biases copied.
    ///
    /// In place, so that a layer larger than a stack can be converted into one made by
    /// `zeroed_box` (feature `alloc`).
    pub fn assign_from(&mut self, dense: &Dense<IN, OUT, f32>) {
        let () = Self::NOT_EMPTY;
        round(
            dense.columns().as_flattened(),
            self.columns.as_flattened_mut(),
        );
        self.bias = *dense.bias();
    }

    /// Sets `dense` to this layer, each weight widened to `f32` (exactly), the biases copied:
    /// the inverse of [`assign_from`](Self::assign_from), in place as it is.
    pub fn widen_into(&self, dense: &mut Dense<IN, OUT, f32>) {
        let () = Self::NOT_EMPTY;
        widen(
            self.columns.as_flattened(),
            dense.columns_mut().as_flattened_mut(),
        );
        *dense.bias_mut() = self.bias;
    }

    /// The weight from input `input` to neuron `neuron`, widened to `f32`: `W[neuron][input]`
    /// in PyTorch's terms.
    ///
    /// # Panics
    ///
    /// When `neuron >= OUT` or `input >= IN`, like indexing an array.
    pub fn weight(&self, neuron: usize, input: usize) -> f32 {
        self.columns[input][neuron].to_f32()
    }

    /// Weights by column: `columns()[i][o]` is the weight from input `i` to neuron `o`.
    pub fn columns(&self) -> &[[H; OUT]; IN] {
        &self.columns
    }

    /// Weights by column, for writing.
    pub fn columns_mut(&mut self) -> &mut [[H; OUT]; IN] {
        &mut self.columns
    }

    /// One bias per neuron.
    pub fn bias(&self) -> &[f32; OUT] {
        &self.bias
    }

    /// One bias per neuron, for writing.
    pub fn bias_mut(&mut self) -> &mut [f32; OUT] {
        &mut self.bias
    }

    /// Computes `W x + b`, without activation: the bits of [`Dense::forward`] on the widened
    /// weights.
    #[inline]
    pub fn forward(&self, x: &[f32; IN]) -> [f32; OUT] {
        let () = Self::NOT_EMPTY;
        if IN * OUT <= SMALL {
            kernel::portable::matvec(&self.columns, &self.bias, x)
        } else {
            H::matvec(level(), &self.columns, &self.bias, x)
        }
    }

    /// Computes `W x + b` for each input row into the matching output row, as
    /// [`Dense::forward_batch`] (whose bits it gives, on the widened weights).
    ///
    /// # Panics
    ///
    /// When `outputs` does not have one row per input.
    #[inline]
    pub fn forward_batch(&self, inputs: &[[f32; IN]], outputs: &mut [[f32; OUT]]) {
        let () = Self::NOT_EMPTY;
        assert_eq!(inputs.len(), outputs.len(), "one output row per input row");
        if IN * OUT <= SMALL {
            kernel::portable::matmul(&self.columns, &self.bias, inputs, outputs);
        } else {
            H::matmul(level(), &self.columns, &self.bias, inputs, outputs);
        }
    }

    /// [`HalfDense::forward`] with the kernel of `level`, or `None` if this CPU lacks it (for
    /// [`F16`] at [`Level::Avx2`], F16C too). For tests and benchmarks that compare the
    /// kernels.
    #[doc(hidden)]
    pub fn forward_at(&self, level: Level, x: &[f32; IN]) -> Option<[f32; OUT]> {
        let () = Self::NOT_EMPTY;
        H::has_level(level).then(|| H::matvec(level, &self.columns, &self.bias, x))
    }

    /// [`HalfDense::forward_batch`] with the kernel of `level`; `false` (and nothing written)
    /// if this CPU lacks it. For tests and benchmarks that compare the kernels.
    #[doc(hidden)]
    pub fn forward_batch_at(
        &self,
        level: Level,
        inputs: &[[f32; IN]],
        outputs: &mut [[f32; OUT]],
    ) -> bool {
        let () = Self::NOT_EMPTY;
        let supported = H::has_level(level);
        if supported {
            H::matmul(level, &self.columns, &self.bias, inputs, outputs);
        }
        supported
    }
}

impl<const IN: usize, const OUT: usize, H: Half> core::fmt::Debug for HalfDense<IN, OUT, H> {
    /// Shapes only, as [`Dense`]'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "HalfDense<{IN}, {OUT}, {}>", H::NAME)
    }
}

/// Each of `half` widened into the matching place of `wide` (the same number of values).
fn widen<H: Half>(half: &[H], wide: &mut [f32]) {
    for (w, &h) in wide.iter_mut().zip(half) {
        *w = h.to_f32();
    }
}

/// Each of `wide` rounded into the matching place of `half`, ties to even.
fn round<H: Half>(wide: &[f32], half: &mut [H]) {
    for (h, &w) in half.iter_mut().zip(wide) {
        *h = H::from_f32(w);
    }
}

/// Checks that every weight of the layers named in `rounded` (those a twin stores in `H`: their
/// tensors named `weight*`) stays finite when rounded to `H`: binary16's largest finite value is
/// 65504, so a weight of 70,000 would become an infinity and every output NaN (and bfloat16's
/// is just under `f32::MAX`). A twin's `from_network` calls it before rounding, so every way
/// into a twin (its loaders, serde) refuses such a network.
///
/// # Errors
///
/// `Error::QuantizedValue` naming the layer, the tensor (as a safetensors file names it:
/// `0.weight`) and the value.
#[cfg(feature = "alloc")]
pub fn check_range<H: Half, N: crate::Network<Scalar = f32>>(
    net: &N,
    rounded: &[&str],
) -> Result<(), crate::Error> {
    let mut problem = None;
    net.for_each_tensor(|layer, tensor, values| {
        if problem.is_some() || !rounded.contains(&layer.name) || !tensor.name.starts_with("weight")
        {
            return;
        }
        let at = |index| values[tensor.storage_index(index)];
        if let Some(found) = first_out_of_range::<H>(tensor.shape, at) {
            let prefixes = crate::network::prefixes(N::LAYERS);
            let position = N::LAYERS.iter().position(|l| l.name == layer.name);
            let prefix = position.and_then(|p| prefixes.get(p));
            let name = alloc::format!("{}.{}", prefix.map_or("", |p| p.as_str()), tensor.name);
            problem = Some(out_of_range::<H>(layer.name, name, tensor.shape, found));
        }
    });
    problem.map_or(Ok(()), Err)
}

/// [`check_range`] of one tensor named `tensor` of `shape`, its value at index `i` in
/// PyTorch's order `value_at(i)`. The macro checks a baked file's weights with it.
///
/// # Errors
///
/// `Error::QuantizedValue` naming `layer`, `tensor`, the value and its coordinates.
#[cfg(feature = "alloc")]
pub fn check_tensor_range<H: Half>(
    layer: &'static str,
    tensor: alloc::string::String,
    shape: &[usize],
    value_at: impl Fn(usize) -> f32,
) -> Result<(), crate::Error> {
    first_out_of_range::<H>(shape, value_at).map_or(Ok(()), |found| {
        Err(out_of_range::<H>(layer, tensor, shape, found))
    })
}

/// The first finite value of a tensor of `shape` that rounds to an infinity in `H`, and its
/// index in PyTorch's order (`value_at(i)` is the value at index `i`).
#[cfg(feature = "alloc")]
fn first_out_of_range<H: Half>(
    shape: &[usize],
    value_at: impl Fn(usize) -> f32,
) -> Option<(usize, f32)> {
    let count = shape.iter().product();
    (0..count)
        .map(|index| (index, value_at(index)))
        .find(|&(_, v)| v.is_finite() && !H::from_f32(v).to_f32().is_finite())
}

/// The error for `value`, at `index` of tensor `tensor` of `shape`, that rounds to an infinity.
#[cfg(feature = "alloc")]
fn out_of_range<H: Half>(
    layer: &'static str,
    tensor: alloc::string::String,
    shape: &[usize],
    (index, value): (usize, f32),
) -> crate::Error {
    crate::Error::QuantizedValue {
        layer,
        tensor,
        problem: alloc::format!(
            "holds {value:e} at {:?}, which rounds to an infinity in {}",
            crate::tensor::coordinates(index, shape),
            H::NAME
        ),
    }
}

#[cfg(test)]
// The values compared are exact in binary floating point.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    /// `Half`'s kernels are public: a level this CPU lacks runs the best it has (the bits of
    /// `or_supported`'s level), never instructions the CPU lacks.
    #[test]
    fn a_level_this_cpu_lacks_runs_the_best_it_has() {
        fn check<H: Half>() {
            let w: [[H; 24]; 40] = core::array::from_fn(|i| {
                core::array::from_fn(|o| H::from_f32(((i * 24 + o) as f32 * 0.37).sin()))
            });
            let b: [f32; 24] = core::array::from_fn(|o| o as f32 * 0.01);
            let x: [f32; 40] = core::array::from_fn(|i| (i as f32 * 0.11).cos());
            for level in Level::ALL {
                let named = H::matvec(level, &w, &b, &x).map(f32::to_bits);
                let runs = H::matvec(level.or_supported(), &w, &b, &x).map(f32::to_bits);
                assert_eq!(named, runs, "{} at {level:?}", H::NAME);
            }
        }
        check::<Bf16>();
        check::<F16>();
    }

    #[cfg(feature = "safetensors")]
    #[test]
    fn every_half_widens_as_the_safetensors_reader_does() {
        use crate::io::safetensors::{bf16_to_f64, f16_to_f64};
        for bits in 0..=u16::MAX {
            let found = Bf16::from_bits(bits).to_f32();
            assert_eq!(f64::from(found).to_bits(), bf16_to_f64(bits).to_bits());
            let expected = f16_to_f64(bits);
            let found = F16::from_bits(bits).to_f32();
            if expected.is_nan() {
                assert!(found.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(
                    f64::from(found).to_bits(),
                    expected.to_bits(),
                    "{bits:#06x}"
                );
            }
        }
    }

    #[test]
    fn every_finite_half_round_trips_through_f32() {
        for bits in 0..=u16::MAX {
            let h = F16::from_bits(bits);
            if h.to_f32().is_finite() {
                assert_eq!(F16::from_f32(h.to_f32()), h, "f16 {bits:#06x}");
            }
            let b = Bf16::from_bits(bits);
            if b.to_f32().is_finite() {
                assert_eq!(Bf16::from_f32(b.to_f32()), b, "bf16 {bits:#06x}");
            }
        }
    }

    #[test]
    fn conversions_are_const() {
        const ONE: Bf16 = Bf16::from_f32(1.0);
        const HALF: F16 = F16::from_f32(0.5);
        const LAYER: HalfDense<2, 1, F16> = HalfDense::from_columns([[HALF], [HALF]], [1.0]);
        assert_eq!(ONE.to_bits(), 0x3f80);
        assert_eq!(HALF.to_bits(), 0x3800);
        assert_eq!(LAYER.forward(&[2.0, 4.0]), [4.0]);
        assert_eq!(LAYER.weight(0, 1), 0.5);
        assert_eq!(
            std::format!("{LAYER:?} {ONE:?}"),
            "HalfDense<2, 1, f16> 1.0"
        );
    }
}
