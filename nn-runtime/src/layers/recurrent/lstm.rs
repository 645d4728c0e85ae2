//! The long short-term memory layer, PyTorch's `nn.LSTM`.

// `#[inline(always)]`: compiled inside `kernel::with_widest` (see the module's doc).
#![allow(clippy::inline_always)]

use super::{LstmLevel, LstmState, Recurrent, Stack, Update, debug, levels};
use crate::Scalar;
use crate::batch::Aligned;
use crate::kernel;
use crate::tensor::{TensorInfo, Tensors};
use crate::zeroed::ZeroInit;

/// A long short-term memory layer, as `nn.LSTM(I, H, num_layers = DEEPER + 1, batch_first =
/// True)`: at each step, for each level, the gates `i, f, g, o` (PyTorch's order) are `W_ih x +
/// b_ih + W_hh h + b_hh`, then `c' = σ(f) c + σ(i) tanh(g)` and `h' = σ(o) tanh(c')`; level 0
/// reads the input `x`, each level above the new `h` of the level below.
///
/// Tensors: `weight_ih_l{k}` (`[4H, in]`, `in` = `I` at level 0, else `H`), `weight_hh_l{k}`
/// (`[4H, H]`), `bias_ih_l{k}`, `bias_hh_l{k}` (`[4H]`), level by level; the weights stored by
/// column. The state of a stream is an [`LstmState`].
///
/// ```
/// use nn_runtime::Tensors;
/// use nn_runtime::layers::{Lstm, LstmState};
///
/// // Two levels of 8 units reading one input: PyTorch's `nn.LSTM(1, 8, num_layers=2)`.
/// let mut layer = Lstm::<1, 8, f32, 1>::zeroed();
/// layer.for_each_tensor_mut(|info, values| {
///     // PyTorch's tensors by name; here the input gate's bias of level 0 only.
///     if info.name == "bias_ih_l0" {
///         values.fill(0.5);
///     }
/// });
/// let mut state = LstmState::ZERO;
/// let h = layer.step(&mut state, &[1.0]);
/// let mut outputs = [[0.0; 8]; 100];
/// layer.forward_sequence(&mut state, &[[0.0]; 100], &mut outputs);
/// assert_eq!(state.hidden(1), &outputs[99]);
/// assert!(h.iter().all(|h| h.abs() < 1.0));
/// ```
#[derive(Clone, PartialEq)]
pub struct Lstm<const I: usize, const H: usize, T: Scalar, const DEEPER: usize = 0> {
    stack: Stack<I, 4, H, T, DEEPER>,
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `Lstm` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize> ZeroInit
    for Lstm<I, H, T, DEEPER>
{
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize> Recurrent
    for Lstm<I, H, T, DEEPER>
{
    type State = LstmState<H, T, DEEPER>;
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize> Lstm<I, H, T, DEEPER> {
    /// Levels: `DEEPER + 1` (a compile-time error past [`MAX_LEVELS`](super::MAX_LEVELS)).
    pub const LEVELS: usize = levels(DEEPER);
    /// Trained values: every tensor's.
    pub const PARAMETERS: usize = 4 * H * (I + H + 2) + DEEPER * 4 * H * (2 * H + 2);

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
        first: super::Cell<I, 4, H, T>,
        deeper: [super::Cell<H, 4, H, T>; DEEPER],
    ) -> Self {
        let () = Self::CHECK;
        Self {
            stack: Stack { first, deeper },
        }
    }

    /// One time step of one stream: updates every level of `state`, returns the last level's
    /// new `h`.
    #[inline]
    pub fn step(&self, state: &mut LstmState<H, T, DEEPER>, input: &[T; I]) -> [T; H] {
        let () = Self::CHECK;
        kernel::with_widest(
            // Inlined into `with_widest`'s function for the level, so compiled with its features.
            #[inline(always)]
            || {
                self.stack
                    .step::<Self>((&mut state.first, &mut state.deeper), input)
            },
        )
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
        state: &mut LstmState<H, T, DEEPER>,
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
        states: &mut [LstmState<H, T, DEEPER>],
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
    pub(crate) fn stack(&self) -> &Stack<I, 4, H, T, DEEPER> {
        &self.stack
    }

    /// A compile-time error for a layer of more than [`MAX_LEVELS`](super::MAX_LEVELS).
    const CHECK: () = {
        levels(DEEPER);
    };
}

/// The update of one level from its gates' input projection `x` and recurrent projection `r`:
/// the gates' sums, then each function over a whole gate (`kernel::sigmoid_lanes`, vector
/// kernels), then the states.
#[inline(always)]
fn update<const H: usize, T: Scalar>(
    x: &Aligned<[[T; H]; 4]>,
    r: &Aligned<[[T; H]; 4]>,
    state: &mut LstmLevel<H, T>,
) {
    let mut gates = *x;
    for (gate, r) in gates.0.iter_mut().zip(&r.0) {
        for (g, &r) in gate.iter_mut().zip(r) {
            *g += r;
        }
    }
    let [input, forget, cell, output] = &mut gates.0;
    kernel::sigmoid_lanes(input);
    kernel::sigmoid_lanes(forget);
    kernel::tanh_lanes(cell);
    kernel::sigmoid_lanes(output);
    for j in 0..H {
        state.c[j] = forget[j] * state.c[j] + input[j] * cell[j];
    }
    let mut squashed = Aligned(state.c);
    kernel::tanh_lanes(&mut squashed.0);
    // `tanh c'` through memory: kept in registers, the kernels' dispatch arms joined with
    // shuffles in `forward_sequence`'s loop (rtneural bench: lstm32 block512 107 -> 102 ns).
    core::hint::black_box(&mut squashed);
    // Indexed, as the cell's update: the zipped iterators were compiled to scalar products,
    // whose 4-byte stores the next step's vector loads of `h` cannot forward from.
    #[allow(clippy::needless_range_loop)]
    for j in 0..H {
        state.h[j] = output[j] * squashed.0[j];
    }
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize> Update<4, H, T>
    for Lstm<I, H, T, DEEPER>
{
    type Level = LstmLevel<H, T>;

    #[inline(always)]
    fn update(x: &Aligned<[[T; H]; 4]>, r: &Aligned<[[T; H]; 4]>, state: &mut LstmLevel<H, T>) {
        update(x, r, state);
    }
}

/// PyTorch's `state_dict` of `nn.LSTM`, level by level.
impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize> Tensors
    for Lstm<I, H, T, DEEPER>
{
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = Stack::<I, 4, H, T, DEEPER>::TENSORS;

    fn for_each_tensor<'a>(&'a self, f: impl FnMut(&'static TensorInfo, &'a [T])) {
        self.stack.for_each_tensor(f);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        self.stack.for_each_tensor_mut(f);
    }
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize> core::fmt::Debug
    for Lstm<I, H, T, DEEPER>
{
    /// Shapes only, as `Dense`'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        debug::<T>(f, "Lstm", I, H, DEEPER)
    }
}
