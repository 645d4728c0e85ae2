//! Recurrent layers at inference, as PyTorch's `nn.LSTM`, `nn.GRU` and `nn.RNN` (`batch_first`,
//! biases on, one direction): [`Lstm`], [`Gru`], [`Rnn`], stacked `DEEPER + 1` levels deep
//! (PyTorch's `num_layers`).
//!
//! The weights are the layer; the state of a stream (its `h`, and an LSTM's `c`, at every
//! level) is a separate plain value, [`LstmState`] or [`HiddenState`], so that one layer serves
//! any number of streams. Each level's matrices are stored by column, `[in][G * H]` (`G` gates
//! of `H` values, in PyTorch's gate order), as [`Dense`](crate::Dense) stores its weight, and
//! read as [`Layout::Transposed`]; the tensors are PyTorch's `state_dict`, level by level. An
//! `f32` layer may store its matrices in half precision instead ([`Weight`]: `Lstm<I, H, f32,
//! DEEPER, Bf16>`), made from an `f32` layer by `assign_from`, with the same state type.
//!
//! `step`, `forward_sequence` and `step_streams` give the same bits for the same stream: every
//! product sums its columns in one order, whatever the number of steps or streams computed
//! together. No allocation.
//!
//! Speed (bench/benches/recurrent.rs): the products are `kernel::gates` (fused multiply-adds,
//! AVX-512 or AVX2 where the CPU has them), the activations `kernel::sigmoid_lanes` and
//! `tanh_lanes` over whole gates (`f32`: vector kernels within 5 ulps; `f64` keeps `libm`'s);
//! each call runs inside `kernel::with_widest`, so that the element-wise updates run on the
//! widest vectors (the helpers are `#[inline(always)]` to be compiled there); weights, states
//! and temporaries are aligned to cache lines. `forward_sequence` calls `step` once a step,
//! and so does `step_streams` for each stream when its matrices are small: with one copy of
//! `step`'s code (one `with_widest` closure) LLVM inlines the kernels into it, where with a
//! copy for each of the three it called `gates` and `lstm_update` out of line, a slower step
//! (`lstm32`/`gru32` `nn-step` in bench/benches/rtneural.rs, in whose binary the three are
//! compiled). One loop over the steps inside a single `with_widest` call kept
//! the polynomials' constants in registers and spilled the state instead, slower than `step`
//! (`lstm32`/`gru32` `nn-block512` in bench/benches/rtneural.rs); computing a
//! chunk's input projections ahead measured no faster either (a projection ahead must sum in
//! `step`'s order, so it is the same work). `step_streams` multiplies a
//! recurrent matrix of at least [`STREAMED_MATRIX`] bytes for several streams at once
//! (`kernel::gates_streams`, each stream's sums in `kernel::gates`'s order), so that the
//! matrix is read once for them all rather than once a stream.
// `#[inline(always)]` is the point: see above.
#![allow(clippy::inline_always)]

/// Everything the three layer types share, written once: `ZeroInit`, `Recurrent`, the inherent
/// API (`LEVELS`, `PARAMETERS`, `zeroed`, `from_levels`, `step`, `forward_sequence`,
/// `step_streams`, `assign_from`), `Tensors` (PyTorch's `state_dict`, level by level, for
/// matrices stored as `T`) and `Debug`. `$name` holds `stack: Stack<I, $gates, H, T, DEEPER, W>`
/// and implements `Update` (its level's update) for every `W`;
/// `[$($extra)*]` are its generics after `DEEPER` (the RNN's `RELU`), `$label` the name `Debug`
/// shows.
macro_rules! layer {
    ($name:ident, gates = $gates:literal, state = $state:ident,
     generics = [$($extra:ident: $extra_type:ty),*], label = $label:expr) => {
        // SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), and `W` is `T`, `Bf16` or `F16`
        // (`Weight` is sealed), for all of which all-zero bytes are `+0.0`; the layer holds
        // nothing but arrays of `T` and `W`.
        #[allow(unsafe_code)]
        unsafe impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $extra: $extra_type)*, W: Weight<T>>
            $crate::zeroed::ZeroInit for $name<I, H, T, DEEPER $(, $extra)*, W>
        {
        }

        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $extra: $extra_type)*, W: Weight<T>>
            $crate::layers::Recurrent for $name<I, H, T, DEEPER $(, $extra)*, W>
        {
            type State = $state<H, T, DEEPER>;
        }

        // `#[inline(always)]`: compiled inside `kernel::with_widest` (see the module's doc).
        #[allow(clippy::inline_always)]
        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $extra: $extra_type)*, W: Weight<T>>
            $name<I, H, T, DEEPER $(, $extra)*, W>
        {
            /// Levels: `DEEPER + 1` (a compile-time error past
            /// [`MAX_LEVELS`](crate::layers::MAX_LEVELS)).
            pub const LEVELS: usize = levels(DEEPER);
            /// Trained values: every tensor's.
            pub const PARAMETERS: usize =
                $gates * H * (I + H + 2) + DEEPER * $gates * H * (2 * H + 2);

            /// A layer whose tensors are all zero, to be filled through
            /// [`Tensors::for_each_tensor_mut`]. `zeroed_box` (feature `alloc`) builds a
            /// large one on the heap.
            pub const fn zeroed() -> Self {
                let () = Self::CHECK;
                Self { stack: Stack::ZERO }
            }

            /// A layer from its levels' tensors by column (see
            /// [`RecurrentLevel::from_columns`](crate::layers::RecurrentLevel::from_columns)),
            /// level 0 first: the const constructor of baked weights.
            pub const fn from_levels(
                first: Cell<I, $gates, H, T, W>,
                deeper: [Cell<H, $gates, H, T, W>; DEEPER],
            ) -> Self {
                let () = Self::CHECK;
                Self {
                    stack: Stack { first, deeper },
                }
            }

            /// One time step of one stream: updates every level of `state`, returns the last
            /// level's new `h`.
            #[inline]
            pub fn step(&self, state: &mut $state<H, T, DEEPER>, input: &[T; I]) -> [T; H] {
                let () = Self::CHECK;
                kernel::with_widest(
                    // Inlined into `with_widest`'s function for the level, so compiled with
                    // its features.
                    #[inline(always)]
                    || {
                        self.stack
                            .step::<Self>((&mut state.first, &mut state.deeper), input)
                    },
                )
            }

            /// Consecutive time steps of one stream, `outputs[t]` the last level's `h` after
            /// `inputs[t]`: [`step`](Self::step) on each, so its bits (see the module's doc for
            /// why one step a call).
            ///
            /// # Panics
            ///
            /// When `inputs` and `outputs` have different lengths.
            #[inline]
            pub fn forward_sequence(
                &self,
                state: &mut $state<H, T, DEEPER>,
                inputs: &[[T; I]],
                outputs: &mut [[T; H]],
            ) {
                let () = Self::CHECK;
                assert_eq!(
                    inputs.len(),
                    outputs.len(),
                    "forward_sequence: as many outputs as inputs"
                );
                for (input, output) in inputs.iter().zip(outputs) {
                    *output = self.step(state, input);
                }
            }

            /// One time step of independent streams, `states[s]` reading `inputs[s]` into
            /// `outputs[s]`: the same bits as [`step`](Self::step) on each. Each level's
            /// products run for several streams at once, so that a weight loaded serves them
            /// all.
            ///
            /// # Panics
            ///
            /// When the three slices have different lengths.
            #[inline]
            pub fn step_streams(
                &self,
                states: &mut [$state<H, T, DEEPER>],
                inputs: &[[T; I]],
                outputs: &mut [[T; H]],
            ) {
                assert!(
                    states.len() == inputs.len() && inputs.len() == outputs.len(),
                    "step_streams: as many states, inputs and outputs"
                );
                // Smaller recurrent matrices stay in the first-level cache: each stream's
                // `step` in turn, through `step`'s own code (so one copy of its kernels,
                // which LLVM then inlines; see the module's doc).
                if const { !Stack::<I, $gates, H, T, DEEPER, W>::STREAMED } {
                    for (state, (input, output)) in
                        states.iter_mut().zip(inputs.iter().zip(outputs))
                    {
                        *output = self.step(state, input);
                    }
                    return;
                }
                kernel::with_widest(
                    // Inlined into `with_widest`'s function for the level, so compiled with
                    // its features.
                    #[inline(always)]
                    || self.stack.step_streams::<Self, _>(states, inputs, outputs),
                );
            }

            /// Sets this layer to `layer`, each weight of its matrices rounded to the nearest
            /// `W` (ties to even; copied when `W` is `T`), the biases copied: how a half-precision
            /// twin is made from a trained `f32` layer. In place, so that a layer larger than a
            /// stack can be converted into one made by `zeroed_box` (feature `alloc`).
            pub fn assign_from(&mut self, layer: &$name<I, H, T, DEEPER $(, $extra)*>) {
                self.stack.assign_from(&layer.stack);
            }

            /// Sets `layer` to this one, each weight of its matrices widened back to `T`
            /// (exactly), the biases copied: the inverse of
            /// [`assign_from`](Self::assign_from), in place as it is.
            pub fn widen_into(&self, layer: &mut $name<I, H, T, DEEPER $(, $extra)*>) {
                self.stack.widen_into(&mut layer.stack);
            }

            /// Every level's tensors, for training.
            #[cfg(all(feature = "train", feature = "alloc"))]
            pub(crate) fn stack(&self) -> &Stack<I, $gates, H, T, DEEPER, W> {
                &self.stack
            }

            /// A compile-time error for a layer of more than
            /// [`MAX_LEVELS`](crate::layers::MAX_LEVELS).
            const CHECK: () = {
                levels(DEEPER);
            };
        }

        /// PyTorch's `state_dict` of the module, level by level.
        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $extra: $extra_type)*>
            Tensors for $name<I, H, T, DEEPER $(, $extra)*>
        {
            type Scalar = T;
            const TENSORS: &'static [TensorInfo] = Stack::<I, $gates, H, T, DEEPER>::TENSORS;

            fn for_each_tensor<'a>(&'a self, f: impl FnMut(&'static TensorInfo, &'a [T])) {
                self.stack.for_each_tensor(f);
            }

            fn for_each_tensor_mut<'a>(
                &'a mut self,
                f: impl FnMut(&'static TensorInfo, &'a mut [T]),
            ) {
                self.stack.for_each_tensor_mut(f);
            }
        }

        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $extra: $extra_type)*, W: Weight<T>>
            core::fmt::Debug for $name<I, H, T, DEEPER $(, $extra)*, W>
        {
            /// Shapes only, as `Dense`'s (and the matrices' format when it is not `T`).
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                debug::<T>(f, $label, I, H, DEEPER, W::NAME)
            }
        }
    };
}

mod gru;
mod lstm;
mod rnn;

pub use gru::Gru;
pub use lstm::Lstm;
pub use rnn::Rnn;

/// Each level's update, which training's backward pass recomputes with the same bits.
#[cfg(all(feature = "train", feature = "alloc"))]
pub(crate) use {
    gru::update as gru_update, lstm::update as lstm_update, rnn::update as rnn_update,
};

use crate::Scalar;
use crate::batch::Aligned;
use crate::half::{Bf16, F16, Half};
use crate::kernel::{self, SMALL, level};
use crate::tensor::{Init, Layout, Role, TensorInfo};
use core::borrow::Borrow;
use core::fmt;

mod sealed {
    pub trait Sealed {}
    impl<T: crate::Scalar> Sealed for T {}
    impl Sealed for super::Bf16 {}
    impl Sealed for super::F16 {}
}

/// How a recurrent layer of scalar `T` stores its matrices (`weight_ih`, `weight_hh`): as `T`
/// itself, the default, or for an `f32` layer in half precision, [`Bf16`] or [`F16`] (sealed).
///
/// A half-precision layer (`Lstm<I, H, f32, DEEPER, Bf16>`) holds half the bytes of matrices,
/// widened to `f32` as the products load them; the biases, the state and all arithmetic stay
/// `f32`. Its products are `kernel::gates`' very operations at each level, in the same order
/// (the same vector kernels, expanded with the format's widening loads), so its outputs are
/// the bits of the `f32` layer holding the widened weights; as for
/// [`HalfDense`](crate::HalfDense), an `F16` layer on an AVX2 CPU without F16C runs the
/// portable kernel instead.
pub trait Weight<T: Scalar>: sealed::Sealed + Copy + PartialEq + fmt::Debug + 'static {
    /// `0.0`.
    const ZERO: Self;
    /// The format's name in `Debug` text; `None` for `T` itself.
    const NAME: Option<&'static str>;

    /// The weight nearest `x` (ties to even): `x` itself for `T`.
    fn round(x: T) -> Self;

    /// The weight as a `T`, exactly: itself for `T`.
    fn widen(self) -> T;

    /// `y = W x + b` for `G` gates of `H` values, from the columns of `W`, with the best kernel for
    /// this CPU (the portable one, inlined, for matrices of at most
    /// [`SMALL`](crate::kernel::SMALL) weights).
    #[doc(hidden)]
    fn gates<const IN: usize, const G: usize, const H: usize>(
        w: &[[[Self; H]; G]; IN],
        b: &[[T; H]; G],
        x: &[T; IN],
        y: &mut [[T; H]; G],
    );

    /// [`Weight::gates`] of each stream, `ys[s] = W xs[s] + b`: its bits on each.
    #[doc(hidden)]
    fn gates_streams<const IN: usize, const G: usize, const H: usize, X: Borrow<[T; IN]>>(
        w: &[[[Self; H]; G]; IN],
        b: &[[T; H]; G],
        xs: &[X],
        ys: &mut [Aligned<[[T; H]; G]>],
    );
}

/// Each of `from` converted by `f` into the matching place of `to` (as many values): a
/// matrix's weights rounded to a [`Weight`], or widened back.
fn convert<A: Copy, B>(from: &[A], to: &mut [B], f: impl Fn(A) -> B) {
    for (to, &from) in to.iter_mut().zip(from) {
        *to = f(from);
    }
}

/// A scalar's matrices as themselves: its own kernels.
impl<T: Scalar> Weight<T> for T {
    const ZERO: Self = T::ZERO;
    const NAME: Option<&'static str> = None;

    #[inline(always)]
    fn round(x: T) -> Self {
        x
    }

    #[inline(always)]
    fn widen(self) -> T {
        self
    }

    #[inline(always)]
    fn gates<const IN: usize, const G: usize, const H: usize>(
        w: &[[[Self; H]; G]; IN],
        b: &[[T; H]; G],
        x: &[T; IN],
        y: &mut [[T; H]; G],
    ) {
        kernel::gates(w, b, x, y);
    }

    #[inline(always)]
    fn gates_streams<const IN: usize, const G: usize, const H: usize, X: Borrow<[T; IN]>>(
        w: &[[[Self; H]; G]; IN],
        b: &[[T; H]; G],
        xs: &[X],
        ys: &mut [Aligned<[[T; H]; G]>],
    ) {
        kernel::gates_streams(w, b, xs, ys);
    }
}

/// `Weight<f32>` for a half-precision format: its gates kernels, chosen as `kernel::gates`
/// chooses (the same threshold for the portable one), so that the order is the `f32` layer's.
macro_rules! half_weight {
    ($($F:ty),*) => {$(
        impl Weight<f32> for $F {
            const ZERO: Self = <$F>::ZERO;
            const NAME: Option<&'static str> = Some(<$F as Half>::NAME);

            #[inline(always)]
            fn round(x: f32) -> Self {
                <$F>::from_f32(x)
            }

            #[inline(always)]
            fn widen(self) -> f32 {
                self.to_f32()
            }

            #[inline(always)]
            fn gates<const IN: usize, const G: usize, const H: usize>(
                w: &[[[Self; H]; G]; IN],
                b: &[[f32; H]; G],
                x: &[f32; IN],
                y: &mut [[f32; H]; G],
            ) {
                if IN * G * H <= SMALL {
                    crate::half::portable_gates(w, b, x, y);
                } else {
                    <$F as Half>::gates(level(), w, b, x, y);
                }
            }

            #[inline(always)]
            fn gates_streams<const IN: usize, const G: usize, const H: usize, X: Borrow<[f32; IN]>>(
                w: &[[[Self; H]; G]; IN],
                b: &[[f32; H]; G],
                xs: &[X],
                ys: &mut [Aligned<[[f32; H]; G]>],
            ) {
                debug_assert_eq!(xs.len(), ys.len());
                if IN * G * H <= SMALL {
                    for (x, y) in xs.iter().zip(ys) {
                        crate::half::portable_gates(w, b, x.borrow(), &mut y.0);
                    }
                } else {
                    <$F as Half>::gates_streams(level(), w, b, xs, ys);
                }
            }
        }
    )*};
}

half_weight!(Bf16, F16);

/// Levels a recurrent layer may stack (PyTorch's `num_layers`): `DEEPER` is at most
/// `MAX_LEVELS - 1`, checked at compile time.
///
/// ```compile_fail
/// // Nine levels: "a recurrent layer has at most 8 levels".
/// let layer = nn_runtime::layers::Lstm::<1, 4, f32, 8>::zeroed();
/// ```
pub const MAX_LEVELS: usize = 8;

/// Streams per stack buffer of `step_streams`: one of the vector kernels' tiles of streams
/// (`kernel::gates_streams`; twice as many measured no faster, `nn-streams64` of the LSTM(64) in
/// bench/benches/rtneural.rs); its buffers are two projections and an `h` a stream.
const STREAMS: usize = 6;

/// Recurrent matrices of at least this many bytes are multiplied for [`STREAMS`] streams at
/// once by `step_streams`: a matrix that fits the first-level cache is no faster so (the
/// products' throughput is the same, and the streams' steps in turn overlap in the CPU),
/// a larger one is read once for all of them instead of once a stream (`nn-streams64` of the
/// 32- and 64-wide LSTMs in bench/benches/rtneural.rs).
const STREAMED_MATRIX: usize = 32 * 1024;

/// What the three recurrent layer types share, for code that names their state:
/// `<Lstm<1, 32, f32> as Recurrent>::State` is [`LstmState<32, f32>`].
pub trait Recurrent {
    /// The state of one stream at every level, zeros by default.
    type State: Copy + Default + PartialEq + fmt::Debug;
}

/// The state of one stream of an [`Lstm`]: the hidden state `h` and the cell state `c` of
/// every level, level 0 first (PyTorch's `h_n[k]` and `c_n[k]`). Read and write a level's
/// with [`hidden`](Self::hidden) and [`cell`](Self::cell) (`_mut` to write); zeros by default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LstmState<const H: usize, T: Scalar, const DEEPER: usize = 0> {
    first: LstmLevel<H, T>,
    deeper: [LstmLevel<H, T>; DEEPER],
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// the state holds nothing but arrays of `T` (and alignment padding): all-zero bytes are `ZERO`.
#[allow(unsafe_code)]
unsafe impl<const H: usize, T: Scalar, const DEEPER: usize> crate::zeroed::ZeroInit
    for LstmState<H, T, DEEPER>
{
}

/// One level's `h` and `c`, aligned to a cache line (as the gates' temporaries, so that vector
/// loads of them neither straddle lines nor miss a store's forwarding).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub(crate) struct LstmLevel<const H: usize, T: Scalar> {
    pub(crate) h: [T; H],
    pub(crate) c: [T; H],
}

impl<const H: usize, T: Scalar> LstmLevel<H, T> {
    const ZERO: Self = Self {
        h: [T::ZERO; H],
        c: [T::ZERO; H],
    };
}

impl<const H: usize, T: Scalar, const DEEPER: usize> LstmState<H, T, DEEPER> {
    /// Every `h` and `c` zero: PyTorch's state when none is given.
    pub const ZERO: Self = Self {
        first: LstmLevel::ZERO,
        deeper: [LstmLevel::ZERO; DEEPER],
    };
    /// Levels: `DEEPER + 1`.
    pub const LEVELS: usize = levels(DEEPER);

    /// The hidden state `h` of `level` (0 reads the input).
    ///
    /// # Panics
    ///
    /// When `level > DEEPER`.
    pub fn hidden(&self, level: usize) -> &[T; H] {
        &self.level(level).h
    }

    /// The hidden state `h` of `level`, for writing.
    ///
    /// # Panics
    ///
    /// When `level > DEEPER`.
    pub fn hidden_mut(&mut self, level: usize) -> &mut [T; H] {
        &mut self.level_mut(level).h
    }

    /// The cell state `c` of `level`.
    ///
    /// # Panics
    ///
    /// When `level > DEEPER`.
    pub fn cell(&self, level: usize) -> &[T; H] {
        &self.level(level).c
    }

    /// The cell state `c` of `level`, for writing.
    ///
    /// # Panics
    ///
    /// When `level > DEEPER`.
    pub fn cell_mut(&mut self, level: usize) -> &mut [T; H] {
        &mut self.level_mut(level).c
    }

    pub(crate) fn level(&self, level: usize) -> &LstmLevel<H, T> {
        match level {
            0 => &self.first,
            _ => &self.deeper[level - 1],
        }
    }

    pub(crate) fn level_mut(&mut self, level: usize) -> &mut LstmLevel<H, T> {
        match level {
            0 => &mut self.first,
            _ => &mut self.deeper[level - 1],
        }
    }
}

impl<const H: usize, T: Scalar, const DEEPER: usize> Default for LstmState<H, T, DEEPER> {
    fn default() -> Self {
        Self::ZERO
    }
}

/// The state of one stream of a [`Gru`] or an [`Rnn`]: the hidden state `h` of every level,
/// level 0 first (PyTorch's `h_n[k]`). Read and write a level's with
/// [`hidden`](Self::hidden) and [`hidden_mut`](Self::hidden_mut); zeros by default.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct HiddenState<const H: usize, T: Scalar, const DEEPER: usize = 0> {
    first: [T; H],
    deeper: [[T; H]; DEEPER],
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// the state holds nothing but arrays of `T` (and alignment padding): all-zero bytes are `ZERO`.
#[allow(unsafe_code)]
unsafe impl<const H: usize, T: Scalar, const DEEPER: usize> crate::zeroed::ZeroInit
    for HiddenState<H, T, DEEPER>
{
}

impl<const H: usize, T: Scalar, const DEEPER: usize> HiddenState<H, T, DEEPER> {
    /// Every `h` zero: PyTorch's state when none is given.
    pub const ZERO: Self = Self {
        first: [T::ZERO; H],
        deeper: [[T::ZERO; H]; DEEPER],
    };
    /// Levels: `DEEPER + 1`.
    pub const LEVELS: usize = levels(DEEPER);

    /// The hidden state `h` of `level` (0 reads the input).
    ///
    /// # Panics
    ///
    /// When `level > DEEPER`.
    pub fn hidden(&self, level: usize) -> &[T; H] {
        match level {
            0 => &self.first,
            _ => &self.deeper[level - 1],
        }
    }

    /// The hidden state `h` of `level`, for writing.
    ///
    /// # Panics
    ///
    /// When `level > DEEPER`.
    pub fn hidden_mut(&mut self, level: usize) -> &mut [T; H] {
        match level {
            0 => &mut self.first,
            _ => &mut self.deeper[level - 1],
        }
    }
}

impl<const H: usize, T: Scalar, const DEEPER: usize> Default for HiddenState<H, T, DEEPER> {
    fn default() -> Self {
        Self::ZERO
    }
}

/// `deeper + 1`, or a compile-time error past [`MAX_LEVELS`].
const fn levels(deeper: usize) -> usize {
    assert!(
        deeper < MAX_LEVELS,
        "a recurrent layer has at most 8 levels: `DEEPER` at most 7"
    );
    deeper + 1
}

/// A stream's state as its levels, for `step_streams`.
pub(crate) trait Levels<L, const DEEPER: usize> {
    fn levels(&mut self) -> (&mut L, &mut [L; DEEPER]);
}

impl<const H: usize, T: Scalar, const DEEPER: usize> Levels<LstmLevel<H, T>, DEEPER>
    for LstmState<H, T, DEEPER>
{
    #[inline(always)]
    fn levels(&mut self) -> (&mut LstmLevel<H, T>, &mut [LstmLevel<H, T>; DEEPER]) {
        (&mut self.first, &mut self.deeper)
    }
}

impl<const H: usize, T: Scalar, const DEEPER: usize> Levels<[T; H], DEEPER>
    for HiddenState<H, T, DEEPER>
{
    #[inline(always)]
    fn levels(&mut self) -> (&mut [T; H], &mut [[T; H]; DEEPER]) {
        (&mut self.first, &mut self.deeper)
    }
}

/// How one level's state moves from its input projection `x` and recurrent projection `r`: one
/// implementation per layer type, a static call that inlines (a function passed as a value
/// did not, and then ran on narrow vectors). `x` is the caller's scratch, which the update may
/// overwrite (with its gates, rather than copying them to a temporary).
pub(crate) trait Update<const G: usize, const H: usize, T: Scalar> {
    /// The state of one level.
    type Level: LevelState<H, T>;
    fn update(x: &mut Aligned<[[T; H]; G]>, r: &Aligned<[[T; H]; G]>, state: &mut Self::Level);
}

/// A level's hidden state, which its recurrent product reads.
pub(crate) trait LevelState<const H: usize, T> {
    fn h(&self) -> &[T; H];
}

impl<const H: usize, T: Scalar> LevelState<H, T> for [T; H] {
    #[inline(always)]
    fn h(&self) -> &[T; H] {
        self
    }
}

impl<const H: usize, T: Scalar> LevelState<H, T> for LstmLevel<H, T> {
    #[inline(always)]
    fn h(&self) -> &[T; H] {
        &self.h
    }
}

/// One level's tensors: `G` gates of `H` values reading `IN` inputs, both matrices by column
/// (`weight_ih[i]` is column `i`, PyTorch's `weight_ih[.., i]`, gate by gate), stored as `W`
/// (see [`Weight`]), the biases as `T`. Built with
/// [`from_columns`](Self::from_columns) for a layer's const constructor (`from_levels`), which
/// baked weights use.
///
/// Aligned to a cache line, the recurrent matrix first, as `Dense`: then when `G H` is a
/// multiple of 16 every column starts a line and no vector load straddles two (`step` in
/// bench/benches/recurrent.rs).
#[derive(Clone, PartialEq)]
#[repr(C, align(64))]
pub struct Cell<const IN: usize, const G: usize, const H: usize, T: Scalar, W = T> {
    weight_hh: [[[W; H]; G]; H],
    weight_ih: [[[W; H]; G]; IN],
    bias_ih: [[T; H]; G],
    bias_hh: [[T; H]; G],
}

impl<const IN: usize, const G: usize, const H: usize, T: Scalar, W: Weight<T>>
    Cell<IN, G, H, T, W>
{
    /// A level from its tensors by column: `weight_ih[i][g][h]` is PyTorch's
    /// `weight_ih[g * H + h][i]`, `weight_hh` likewise, and the biases' `[g][h]` their
    /// `[g * H + h]`.
    #[allow(clippy::similar_names)] // PyTorch's names
    pub const fn from_columns(
        weight_ih: [[[W; H]; G]; IN],
        weight_hh: [[[W; H]; G]; H],
        bias_ih: [[T; H]; G],
        bias_hh: [[T; H]; G],
    ) -> Self {
        Self {
            weight_hh,
            weight_ih,
            bias_ih,
            bias_hh,
        }
    }

    const ZERO: Self = Self {
        weight_hh: [[[W::ZERO; H]; G]; H],
        weight_ih: [[[W::ZERO; H]; G]; IN],
        bias_ih: [[T::ZERO; H]; G],
        bias_hh: [[T::ZERO; H]; G],
    };

    /// `cell`'s tensors, each weight rounded to `W`.
    fn assign_from(&mut self, cell: &Cell<IN, G, H, T>) {
        let ih = self.weight_ih.as_flattened_mut().as_flattened_mut();
        convert(cell.weight_ih.as_flattened().as_flattened(), ih, W::round);
        let hh = self.weight_hh.as_flattened_mut().as_flattened_mut();
        convert(cell.weight_hh.as_flattened().as_flattened(), hh, W::round);
        self.bias_ih = cell.bias_ih;
        self.bias_hh = cell.bias_hh;
    }

    /// Sets `cell` to these tensors, each weight widened back to `T`.
    fn widen_into(&self, cell: &mut Cell<IN, G, H, T>) {
        let ih = cell.weight_ih.as_flattened_mut().as_flattened_mut();
        convert(self.weight_ih.as_flattened().as_flattened(), ih, W::widen);
        let hh = cell.weight_hh.as_flattened_mut().as_flattened_mut();
        convert(self.weight_hh.as_flattened().as_flattened(), hh, W::widen);
        cell.bias_ih = self.bias_ih;
        cell.bias_hh = self.bias_hh;
    }

    /// Both projections of a step, `(W_ih x + b_ih, W_hh h + b_hh)`, written into `x` and `r`
    /// (the kernels overwrite every value: their zeros are the only initial values Rust
    /// allows without `unsafe`, and cost less than the copies a returned array can take).
    #[inline(always)]
    pub(crate) fn projections(
        &self,
        input: &[T; IN],
        h: &[T; H],
        x: &mut Aligned<[[T; H]; G]>,
        r: &mut Aligned<[[T; H]; G]>,
    ) {
        W::gates(&self.weight_ih, &self.bias_ih, input, &mut x.0);
        W::gates(&self.weight_hh, &self.bias_hh, h, &mut r.0);
    }
}

impl<const IN: usize, const G: usize, const H: usize, T: Scalar> Cell<IN, G, H, T> {
    /// The four tensors by column: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    #[cfg(all(feature = "train", feature = "alloc"))]
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        &self,
    ) -> (
        &[[[T; H]; G]; IN],
        &[[[T; H]; G]; H],
        &[[T; H]; G],
        &[[T; H]; G],
    ) {
        (
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        )
    }

    /// [`parts`](Self::parts), for writing.
    #[cfg(all(feature = "train", feature = "alloc"))]
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts_mut(
        &mut self,
    ) -> (
        &mut [[[T; H]; G]; IN],
        &mut [[[T; H]; G]; H],
        &mut [[T; H]; G],
        &mut [[T; H]; G],
    ) {
        (
            &mut self.weight_ih,
            &mut self.weight_hh,
            &mut self.bias_ih,
            &mut self.bias_hh,
        )
    }

    /// The four tensors in PyTorch's order, by column, with `infos` (theirs, in order).
    fn for_each<'a>(
        &'a self,
        infos: &'static [TensorInfo],
        f: &mut impl FnMut(&'static TensorInfo, &'a [T]),
    ) {
        let [ih, hh, bih, bhh] = infos else {
            unreachable!("four tensors a level")
        };
        f(ih, self.weight_ih.as_flattened().as_flattened());
        f(hh, self.weight_hh.as_flattened().as_flattened());
        f(bih, self.bias_ih.as_flattened());
        f(bhh, self.bias_hh.as_flattened());
    }

    fn for_each_mut<'a>(
        &'a mut self,
        infos: &'static [TensorInfo],
        f: &mut impl FnMut(&'static TensorInfo, &'a mut [T]),
    ) {
        let [ih, hh, bih, bhh] = infos else {
            unreachable!("four tensors a level")
        };
        f(ih, self.weight_ih.as_flattened_mut().as_flattened_mut());
        f(hh, self.weight_hh.as_flattened_mut().as_flattened_mut());
        f(bih, self.bias_ih.as_flattened_mut());
        f(bhh, self.bias_hh.as_flattened_mut());
    }
}

/// Every level's tensors: level 0 reads `I` inputs, the `DEEPER` others the `H` of the level
/// below.
#[derive(Clone, PartialEq)]
pub(crate) struct Stack<
    const I: usize,
    const G: usize,
    const H: usize,
    T: Scalar,
    const DEEPER: usize,
    W = T,
> {
    pub(crate) first: Cell<I, G, H, T, W>,
    pub(crate) deeper: [Cell<H, G, H, T, W>; DEEPER],
}

impl<const I: usize, const G: usize, const H: usize, T: Scalar, const DEEPER: usize>
    Stack<I, G, H, T, DEEPER>
{
    /// `G * H` and `in` of level 0 and of the others, `H` and `G * H` as shapes.
    const SHAPE_IH0: &'static [usize] = &[G * H, I];
    const SHAPE_IH: &'static [usize] = &[G * H, H];
    const SHAPE_BIAS: &'static [usize] = &[G * H];
    const ALL: [TensorInfo; 4 * MAX_LEVELS] =
        table(Self::SHAPE_IH0, Self::SHAPE_IH, Self::SHAPE_BIAS, H);

    /// The tensors of `DEEPER + 1` levels.
    pub(crate) const TENSORS: &'static [TensorInfo] = {
        let all: &'static [TensorInfo; 4 * MAX_LEVELS] = &Self::ALL;
        all.split_at(4 * levels(DEEPER)).0
    };

    pub(crate) fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let (infos, rest) = Self::TENSORS.split_at(4);
        self.first.for_each(infos, &mut f);
        for (cell, infos) in self.deeper.iter().zip(rest.chunks_exact(4)) {
            cell.for_each(infos, &mut f);
        }
    }

    pub(crate) fn for_each_tensor_mut<'a>(
        &'a mut self,
        mut f: impl FnMut(&'static TensorInfo, &'a mut [T]),
    ) {
        let (infos, rest) = Self::TENSORS.split_at(4);
        self.first.for_each_mut(infos, &mut f);
        for (cell, infos) in self.deeper.iter_mut().zip(rest.chunks_exact(4)) {
            cell.for_each_mut(infos, &mut f);
        }
    }
}

impl<const I: usize, const G: usize, const H: usize, T: Scalar, const DEEPER: usize, W: Weight<T>>
    Stack<I, G, H, T, DEEPER, W>
{
    /// Whether `step_streams` multiplies the recurrent matrices for several streams at once
    /// (matrices of at least [`STREAMED_MATRIX`] bytes), rather than running `step` on each.
    pub(crate) const STREAMED: bool = size_of::<[[[W; H]; G]; H]>() >= STREAMED_MATRIX;

    pub(crate) const ZERO: Self = Self {
        first: Cell::ZERO,
        deeper: [Cell::ZERO; DEEPER],
    };

    /// `stack`'s tensors, each weight rounded to `W`.
    fn assign_from(&mut self, stack: &Stack<I, G, H, T, DEEPER>) {
        self.first.assign_from(&stack.first);
        for (mine, theirs) in self.deeper.iter_mut().zip(&stack.deeper) {
            mine.assign_from(theirs);
        }
    }

    /// Sets `stack` to these tensors, each weight widened back to `T`.
    fn widen_into(&self, stack: &mut Stack<I, G, H, T, DEEPER>) {
        self.first.widen_into(&mut stack.first);
        for (mine, theirs) in self.deeper.iter().zip(&mut stack.deeper) {
            mine.widen_into(theirs);
        }
    }

    /// One step of every level, `U` turning a level's input and recurrent projections into its
    /// new state; returns the last level's new `h`.
    #[inline(always)]
    pub(crate) fn step<U: Update<G, H, T>>(
        &self,
        state: (&mut U::Level, &mut [U::Level; DEEPER]),
        input: &[T; I],
    ) -> [T; H] {
        let (first, deeper) = state;
        let (mut x, mut r) = (Aligned([[T::ZERO; H]; G]), Aligned([[T::ZERO; H]; G]));
        self.first.projections(input, first.h(), &mut x, &mut r);
        U::update(&mut x, &r, first);
        let mut h = *first.h();
        // Constant conditions here and in `step_streams`: a debug build leaves out the code
        // not run (here the levels above of a single-level layer), whose inlined temporaries
        // would otherwise take their own places in the frame.
        if const { DEEPER > 0 } {
            for (cell, state) in self.deeper.iter().zip(deeper) {
                cell.projections(&h, state.h(), &mut x, &mut r);
                U::update(&mut x, &r, state);
                h = *state.h();
            }
        }
        h
    }

    /// One step of independent streams, for recurrent matrices of at least [`STREAMED_MATRIX`]
    /// bytes ([`Self::STREAMED`]; the layers run `step` on each stream otherwise): [`STREAMS`]
    /// at a time, level by level, each product for all of them at once
    /// (`kernel::gates_streams`, the bits of `kernel::gates`), then each stream's update, as
    /// [`step`](Self::step).
    #[inline(always)]
    pub(crate) fn step_streams<U: Update<G, H, T>, S: Levels<U::Level, DEEPER>>(
        &self,
        states: &mut [S],
        inputs: &[[T; I]],
        outputs: &mut [[T; H]],
    ) {
        // Zeros repeated from constants: a debug build builds no temporary to copy.
        let mut x = [const { Aligned([[T::ZERO; H]; G]) }; STREAMS];
        let mut r = [const { Aligned([[T::ZERO; H]; G]) }; STREAMS];
        // The `h` of each stream: the level's before its update, then its new one, which the
        // level above reads.
        let mut h = [const { [T::ZERO; H] }; STREAMS];
        for ((states, inputs), outputs) in states
            .chunks_mut(STREAMS)
            .zip(inputs.chunks(STREAMS))
            .zip(outputs.chunks_mut(STREAMS))
        {
            let n = states.len();
            let (x, r, h) = (&mut x[..n], &mut r[..n], &mut h[..n]);
            let first = &self.first;
            W::gates_streams(&first.weight_ih, &first.bias_ih, inputs, x);
            for (h, state) in h.iter_mut().zip(states.iter_mut()) {
                *h = *state.levels().0.h();
            }
            W::gates_streams(&first.weight_hh, &first.bias_hh, h, r);
            for (((state, x), r), h) in states
                .iter_mut()
                .zip(x.iter_mut())
                .zip(&*r)
                .zip(h.iter_mut())
            {
                let level = state.levels().0;
                U::update(x, r, level);
                *h = *level.h();
            }
            if const { DEEPER > 0 } {
                for (k, cell) in self.deeper.iter().enumerate() {
                    W::gates_streams(&cell.weight_ih, &cell.bias_ih, h, x);
                    for (h, state) in h.iter_mut().zip(states.iter_mut()) {
                        *h = *state.levels().1[k].h();
                    }
                    W::gates_streams(&cell.weight_hh, &cell.bias_hh, h, r);
                    for (((state, x), r), h) in states
                        .iter_mut()
                        .zip(x.iter_mut())
                        .zip(&*r)
                        .zip(h.iter_mut())
                    {
                        let level = &mut state.levels().1[k];
                        U::update(x, r, level);
                        *h = *level.h();
                    }
                }
            }
            outputs.copy_from_slice(h);
        }
    }
}

/// PyTorch's names of the tensors of [`MAX_LEVELS`] levels, in the order of its `state_dict`.
const NAMES: [&str; 4 * MAX_LEVELS] = [
    "weight_ih_l0",
    "weight_hh_l0",
    "bias_ih_l0",
    "bias_hh_l0",
    "weight_ih_l1",
    "weight_hh_l1",
    "bias_ih_l1",
    "bias_hh_l1",
    "weight_ih_l2",
    "weight_hh_l2",
    "bias_ih_l2",
    "bias_hh_l2",
    "weight_ih_l3",
    "weight_hh_l3",
    "bias_ih_l3",
    "bias_hh_l3",
    "weight_ih_l4",
    "weight_hh_l4",
    "bias_ih_l4",
    "bias_hh_l4",
    "weight_ih_l5",
    "weight_hh_l5",
    "bias_ih_l5",
    "bias_hh_l5",
    "weight_ih_l6",
    "weight_hh_l6",
    "bias_ih_l6",
    "bias_hh_l6",
    "weight_ih_l7",
    "weight_hh_l7",
    "bias_ih_l7",
    "bias_hh_l7",
];

/// The tensors of [`MAX_LEVELS`] levels: weights by column ([`Layout::Transposed`]), all
/// trained, all drawn as PyTorch draws them ([`Init::UniformHidden`]).
const fn table(
    ih0: &'static [usize],
    hh: &'static [usize],
    bias: &'static [usize],
    hidden: usize,
) -> [TensorInfo; 4 * MAX_LEVELS] {
    let init = Init::UniformHidden { hidden };
    let mut all = [TensorInfo {
        name: "",
        shape: &[],
        role: Role::Parameter,
        layout: Layout::Contiguous,
        init,
    }; 4 * MAX_LEVELS];
    let mut k = 0;
    while k < 4 * MAX_LEVELS {
        let (shape, layout) = match k % 4 {
            0 if k == 0 => (ih0, Layout::Transposed),
            0 | 1 => (hh, Layout::Transposed),
            _ => (bias, Layout::Contiguous),
        };
        all[k] = TensorInfo {
            name: NAMES[k],
            shape,
            role: Role::Parameter,
            layout,
            init,
        };
        k += 1;
    }
    all
}

/// The same type's debug text for the three layers: shapes only, as `Dense`'s.
pub(crate) fn debug<T: Scalar>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    input: usize,
    hidden: usize,
    deeper: usize,
    weights: Option<&str>,
) -> fmt::Result {
    write!(f, "{name}<{input}, {hidden}, {}, {deeper}", T::NAME)?;
    if let Some(weights) = weights {
        write!(f, ", {weights}")?;
    }
    f.write_str(">")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes codegen's `lower` counts for a chunk of streams' states: an LSTM's levels each a
    /// whole number of cache lines, the others' levels together.
    #[test]
    fn state_sizes_are_whole_lines() {
        use core::mem::size_of;
        assert_eq!(size_of::<LstmState<2, f32, 7>>(), 8 * 64);
        assert_eq!(size_of::<LstmState<32, f32>>(), 256);
        assert_eq!(size_of::<LstmState<20, f64, 1>>(), 2 * 320);
        assert_eq!(size_of::<HiddenState<5, f64, 2>>(), 128);
        assert_eq!(size_of::<HiddenState<64, f32>>(), 256);
    }
}
