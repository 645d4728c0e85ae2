//! The plain recurrent layer, PyTorch's `nn.RNN`.

// `#[inline(always)]`: compiled inside `kernel::with_widest` (see the module's doc).
#![allow(clippy::inline_always)]

use super::{HiddenState, Recurrent, Stack, Update, debug, levels};
use crate::Scalar;
use crate::batch::Aligned;
use crate::kernel;
use crate::tensor::{TensorInfo, Tensors};
use crate::zeroed::ZeroInit;

/// A plain recurrent layer, as `nn.RNN(I, H, num_layers = DEEPER + 1, nonlinearity = 'tanh'`
/// (or `'relu'` when `RELU`)`, batch_first = True)`: at each step, for each level, `h' =
/// tanh(W_ih x + b_ih + W_hh h + b_hh)` (or its ReLU); level 0 reads the input `x`, each level
/// above the new `h` of the level below.
///
/// Tensors: `weight_ih_l{k}` (`[H, in]`, `in` = `I` at level 0, else `H`), `weight_hh_l{k}`
/// (`[H, H]`), `bias_ih_l{k}`, `bias_hh_l{k}` (`[H]`), level by level; the weights stored by
/// column. The state of a stream is a [`HiddenState`].
#[derive(Clone, PartialEq)]
pub struct Rnn<
    const I: usize,
    const H: usize,
    T: Scalar,
    const DEEPER: usize = 0,
    const RELU: bool = false,
> {
    stack: Stack<I, 1, H, T, DEEPER>,
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `Rnn` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, const RELU: bool>
    ZeroInit for Rnn<I, H, T, DEEPER, RELU>
{
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, const RELU: bool> Recurrent
    for Rnn<I, H, T, DEEPER, RELU>
{
    type State = HiddenState<H, T, DEEPER>;
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, const RELU: bool>
    Rnn<I, H, T, DEEPER, RELU>
{
    /// Levels: `DEEPER + 1` (a compile-time error past [`MAX_LEVELS`](super::MAX_LEVELS)).
    pub const LEVELS: usize = levels(DEEPER);
    /// Trained values: every tensor's.
    pub const PARAMETERS: usize = H * (I + H + 2) + DEEPER * H * (2 * H + 2);

    /// A layer whose tensors are all zero, to be filled through
    /// [`Tensors::for_each_tensor_mut`]. [`zeroed_box`](crate::zeroed_box) builds a large one
    /// on the heap.
    pub const fn zeroed() -> Self {
        let () = Self::CHECK;
        Self { stack: Stack::ZERO }
    }

    /// A layer from its levels' tensors by column (see [`RecurrentLevel::from_columns`]),
    /// level 0 first: the const constructor of baked weights.
    ///
    /// [`RecurrentLevel::from_columns`]: super::Cell::from_columns
    pub const fn from_levels(
        first: super::Cell<I, 1, H, T>,
        deeper: [super::Cell<H, 1, H, T>; DEEPER],
    ) -> Self {
        let () = Self::CHECK;
        Self {
            stack: Stack { first, deeper },
        }
    }

    /// One time step of one stream: updates every level of `state`, returns the last level's
    /// new `h`.
    #[inline]
    pub fn step(&self, state: &mut HiddenState<H, T, DEEPER>, input: &[T; I]) -> [T; H] {
        let () = Self::CHECK;
        self.stack
            .step::<Self>((&mut state.first, &mut state.deeper), input)
    }

    /// Consecutive time steps of one stream, `outputs[t]` the last level's `h` after
    /// `inputs[t]`: the same bits as [`step`](Self::step) on each; the dispatch is paid once
    /// per call and each chunk's input projections are computed ahead of its recurrence.
    ///
    /// # Panics
    ///
    /// When `inputs` and `outputs` have different lengths.
    #[inline]
    pub fn forward_sequence(
        &self,
        state: &mut HiddenState<H, T, DEEPER>,
        inputs: &[[T; I]],
        outputs: &mut [[T; H]],
    ) {
        let () = Self::CHECK;
        assert_eq!(
            inputs.len(),
            outputs.len(),
            "forward_sequence: as many outputs as inputs"
        );
        kernel::with_widest(
            // Inlined into `with_widest`'s function for the level, so compiled with its features.
            #[inline(always)]
            || {
                self.stack
                    .sequence::<Self>((&mut state.first, &mut state.deeper), inputs, outputs);
            },
        );
    }

    /// One time step of independent streams, `states[s]` reading `inputs[s]` into
    /// `outputs[s]`: the same bits as [`step`](Self::step) on each.
    ///
    /// # Panics
    ///
    /// When the three slices have different lengths.
    #[inline]
    pub fn step_streams(
        &self,
        states: &mut [HiddenState<H, T, DEEPER>],
        inputs: &[[T; I]],
        outputs: &mut [[T; H]],
    ) {
        assert!(
            states.len() == inputs.len() && inputs.len() == outputs.len(),
            "step_streams: as many states, inputs and outputs"
        );
        kernel::with_widest(
            // Inlined into `with_widest`'s function for the level, so compiled with its features.
            #[inline(always)]
            || {
                for ((state, input), output) in states.iter_mut().zip(inputs).zip(outputs) {
                    *output = self
                        .stack
                        .step::<Self>((&mut state.first, &mut state.deeper), input);
                }
            },
        );
    }

    /// Every level's tensors, for training.
    #[cfg(all(feature = "train", feature = "alloc"))]
    pub(crate) fn stack(&self) -> &Stack<I, 1, H, T, DEEPER> {
        &self.stack
    }

    /// A compile-time error for a layer of more than [`MAX_LEVELS`](super::MAX_LEVELS).
    const CHECK: () = {
        levels(DEEPER);
    };
}

/// The update of one level from its input projection `x` and recurrent projection `r`.
#[inline(always)]
fn update<const H: usize, T: Scalar, const RELU: bool>(
    x: &Aligned<[[T; H]; 1]>,
    r: &Aligned<[[T; H]; 1]>,
    h: &mut [T; H],
) {
    for ((h, &x), &r) in h.iter_mut().zip(&x.0[0]).zip(&r.0[0]) {
        let sum = x + r;
        // `max` would turn NaN into 0; PyTorch's ReLU keeps it.
        *h = if RELU && sum < T::ZERO { T::ZERO } else { sum };
    }
    if !RELU {
        kernel::tanh_lanes(h);
    }
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, const RELU: bool>
    Update<1, H, T> for Rnn<I, H, T, DEEPER, RELU>
{
    type Level = [T; H];

    #[inline(always)]
    fn update(x: &Aligned<[[T; H]; 1]>, r: &Aligned<[[T; H]; 1]>, state: &mut [T; H]) {
        update::<H, T, RELU>(x, r, state);
    }
}

/// PyTorch's `state_dict` of `nn.RNN`, level by level.
impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, const RELU: bool> Tensors
    for Rnn<I, H, T, DEEPER, RELU>
{
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = Stack::<I, 1, H, T, DEEPER>::TENSORS;

    fn for_each_tensor<'a>(&'a self, f: impl FnMut(&'static TensorInfo, &'a [T])) {
        self.stack.for_each_tensor(f);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        self.stack.for_each_tensor_mut(f);
    }
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, const RELU: bool>
    core::fmt::Debug for Rnn<I, H, T, DEEPER, RELU>
{
    /// Shapes only, as `Dense`'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        debug::<T>(f, if RELU { "Rnn(relu)" } else { "Rnn" }, I, H, DEEPER)
    }
}
