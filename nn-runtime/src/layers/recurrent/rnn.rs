//! The plain recurrent layer, PyTorch's `nn.RNN`.

// `#[inline(always)]`: compiled inside `kernel::with_widest` (see the module's doc).
#![allow(clippy::inline_always)]

use super::{Cell, HiddenState, Stack, Update, Weight, debug, levels};
use crate::Scalar;
use crate::batch::Aligned;
use crate::kernel;
use crate::tensor::{TensorInfo, Tensors};

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
    W = T,
> {
    stack: Stack<I, 1, H, T, DEEPER, W>,
}

layer!(Rnn, gates = 1, state = HiddenState, generics = [RELU: bool], label = if RELU { "Rnn(relu)" } else { "Rnn" });

/// The update of one level from its input projection `x` and recurrent projection `r`.
#[inline(always)]
pub(crate) fn update<const H: usize, T: Scalar, const RELU: bool>(
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

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, const RELU: bool, W>
    Update<1, H, T> for Rnn<I, H, T, DEEPER, RELU, W>
{
    type Level = [T; H];

    #[inline(always)]
    fn update(x: &mut Aligned<[[T; H]; 1]>, r: &Aligned<[[T; H]; 1]>, state: &mut [T; H]) {
        update::<H, T, RELU>(x, r, state);
    }
}
