//! A [`Conv1d`] run over time steps: `conv1d(..., causal)` in a sequence network. The output
//! at step `t` is PyTorch's `nn.Conv1d` over the stream padded with `(K - 1) * dilation` steps
//! of zeros before its first: tap `k` reads the input of step `t - (K - 1 - k) * dilation`. The
//! stream's last `(K - 1) * dilation` inputs are its state, a [`ConvHistory`], apart from the
//! weights as a recurrent layer's.

use super::Conv1d;
use crate::Scalar;

/// The last `FRAMES` inputs of `C` channels of one stream of a causal [`Conv1d`]
/// (`FRAMES = (K - 1) * dilation`), zeros when the stream starts, as PyTorch's padding.
/// Two histories are equal when they hold the same inputs in the same order (a stream's
/// future steps depend on nothing else), wherever the ring starts.
#[derive(Clone, Copy, Debug)]
pub struct ConvHistory<const C: usize, const FRAMES: usize, T: Scalar> {
    /// A ring: `frames[next]` is the oldest input, `frames[next - 1]` the newest.
    frames: [[T; C]; FRAMES],
    next: usize,
}

impl<const C: usize, const FRAMES: usize, T: Scalar> PartialEq for ConvHistory<C, FRAMES, T> {
    fn eq(&self, other: &Self) -> bool {
        (1..=FRAMES).all(|lag| self.ago(lag) == other.ago(lag))
    }
}

impl<const C: usize, const FRAMES: usize, T: Scalar> ConvHistory<C, FRAMES, T> {
    /// A fresh stream: the padding's zeros.
    pub const ZERO: Self = Self {
        frames: [[T::ZERO; C]; FRAMES],
        next: 0,
    };

    /// The input of `lag` steps ago (`1..=FRAMES`).
    #[inline]
    pub(crate) fn ago(&self, lag: usize) -> &[T; C] {
        &self.frames[(self.next + FRAMES - lag) % FRAMES]
    }

    /// The input of `lag` steps before step `t` of a block of `inputs` that follows this
    /// history (`lag - t` at most `FRAMES`): the block's own, or one kept here.
    #[inline]
    pub(crate) fn input_before<'a>(
        &'a self,
        inputs: &'a [[T; C]],
        t: usize,
        lag: usize,
    ) -> &'a [T; C] {
        match t.checked_sub(lag) {
            Some(s) => &inputs[s],
            None => self.ago(lag - t),
        }
    }

    /// Keeps `input` as the newest, forgetting the oldest.
    #[inline]
    pub(crate) fn push(&mut self, input: &[T; C]) {
        if FRAMES > 0 {
            self.frames[self.next] = *input;
            self.next = (self.next + 1) % FRAMES;
        }
    }

    /// [`ConvHistory::push`] of each of `inputs`, in order: the history after the block.
    #[inline]
    pub(crate) fn advance(&mut self, inputs: &[[T; C]]) {
        for input in inputs {
            self.push(input);
        }
    }
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `next` is a `usize`, for which they are 0: all-zero bytes are `ZERO`.
#[allow(unsafe_code)]
unsafe impl<const C: usize, const FRAMES: usize, T: Scalar> crate::zeroed::ZeroInit
    for ConvHistory<C, FRAMES, T>
{
}

impl<const C: usize, const FRAMES: usize, T: Scalar> Default for ConvHistory<C, FRAMES, T> {
    fn default() -> Self {
        Self::ZERO
    }
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar>
    Conv1d<OUT, IN_PER_GROUP, K, T>
{
    /// One time step of the convolution as a causal one over a stream: reads `input` (the
    /// step's `C` channels) and the stream's `history` of its last `FRAMES = (K - 1) *
    /// dilation` inputs, then keeps `input` in it. Groups as in `forward`: `C / IN_PER_GROUP`
    /// of them.
    ///
    /// # Panics
    ///
    /// Unless `FRAMES` is `(K - 1) * dilation` and `C` a multiple of `IN_PER_GROUP` (generated
    /// code writes them so, and the checks fold away there).
    #[inline]
    pub fn step_causal<const C: usize, const FRAMES: usize>(
        &self,
        history: &mut ConvHistory<C, FRAMES, T>,
        dilation: usize,
        input: &[T; C],
    ) -> [T; OUT] {
        assert_eq!(FRAMES, (K - 1) * dilation, "the history of a causal Conv1d");
        let output = self.causal_output(
            dilation,
            |lag| {
                if lag == 0 { input } else { history.ago(lag) }
            },
        );
        history.push(input);
        output
    }

    /// One step's output from `input_ago(lag)`, the input of `lag` steps before it (up to
    /// `(K - 1) * dilation`; 0, the step's own): [`Conv1d::step_causal`]'s sums, in its order,
    /// from wherever the inputs are kept.
    #[inline]
    fn causal_output<'a, const C: usize>(
        &self,
        dilation: usize,
        input_ago: impl Fn(usize) -> &'a [T; C],
    ) -> [T; OUT]
    where
        T: 'a,
    {
        assert_eq!(C % IN_PER_GROUP, 0, "the channels of a grouped Conv1d");
        let groups = C / IN_PER_GROUP;
        let per_group = OUT / groups.max(1);
        let mut output = *self.bias();
        for (o, (out, kernels)) in output.iter_mut().zip(self.weight()).enumerate() {
            let first = (o / per_group.max(1)) * IN_PER_GROUP;
            let mut sum = T::ZERO;
            for (c, taps) in kernels.iter().enumerate() {
                for (k, &w) in taps.iter().enumerate() {
                    sum += w * input_ago((K - 1 - k) * dilation)[first + c];
                }
            }
            *out += sum;
        }
        output
    }

    /// [`Conv1d::step_causal`] on each of a block of steps, `outputs[t]` from `inputs[t]`: the
    /// bits of stepping them one by one ([`Conv1d::forward_causal_from`], then the history
    /// moved past the block).
    ///
    /// # Panics
    ///
    /// When `inputs` and `outputs` have different lengths, or as [`Conv1d::step_causal`].
    pub fn forward_causal<const C: usize, const FRAMES: usize>(
        &self,
        history: &mut ConvHistory<C, FRAMES, T>,
        dilation: usize,
        inputs: &[[T; C]],
        outputs: &mut [[T; OUT]],
    ) {
        self.forward_causal_from(history, dilation, inputs, outputs);
        history.advance(inputs);
    }

    /// [`Conv1d::forward_causal`] from `history` without changing it (nor copying it): the
    /// same outputs, bit for bit, each step's earlier inputs read from `inputs` or, before the
    /// block, from `history`. Training's forward pass, which leaves the state to the backward
    /// pass.
    ///
    /// # Panics
    ///
    /// When `inputs` and `outputs` have different lengths, or as [`Conv1d::step_causal`].
    pub fn forward_causal_from<const C: usize, const FRAMES: usize>(
        &self,
        history: &ConvHistory<C, FRAMES, T>,
        dilation: usize,
        inputs: &[[T; C]],
        outputs: &mut [[T; OUT]],
    ) {
        assert_eq!(
            inputs.len(),
            outputs.len(),
            "forward_causal: as many outputs as inputs"
        );
        assert_eq!(FRAMES, (K - 1) * dilation, "the history of a causal Conv1d");
        for (t, output) in outputs.iter_mut().enumerate() {
            *output = self.causal_output(dilation, |lag| history.input_before(inputs, t, lag));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn histories_are_equal_by_their_inputs_not_where_the_ring_starts() {
        // Two frames: [1], [2], [3] leave the ring's start at 1, [2], [3] at 0; both keep the
        // inputs [2], [3].
        let mut three = ConvHistory::<1, 2, f32>::ZERO;
        three.advance(&[[1.0], [2.0], [3.0]]);
        let mut two = ConvHistory::<1, 2, f32>::ZERO;
        two.advance(&[[2.0], [3.0]]);
        assert_ne!(three.next, two.next);
        assert_eq!(three, two);
        let mut other = two;
        other.push(&[4.0]);
        assert_ne!(other, two);
        // The same inputs in another order differ.
        let mut swapped = ConvHistory::<1, 2, f32>::ZERO;
        swapped.advance(&[[3.0], [2.0]]);
        assert_ne!(swapped, two);
    }

    /// The direct definition: the whole stream padded with zeros, then each output's taps.
    fn reference<const OUT: usize, const IPG: usize, const K: usize, const C: usize>(
        layer: &Conv1d<OUT, IPG, K, f64>,
        dilation: usize,
        stream: &[[f64; C]],
    ) -> Vec<[f64; OUT]> {
        let pad = (K - 1) * dilation;
        let per_group = OUT / (C / IPG);
        (0..stream.len())
            .map(|t| {
                core::array::from_fn(|o| {
                    let first = (o / per_group) * IPG;
                    let mut y = layer.bias()[o];
                    for c in 0..IPG {
                        for k in 0..K {
                            let at = (t + k * dilation).checked_sub(pad);
                            let x = at.map_or(0.0, |at| stream[at][first + c]);
                            y += layer.weight()[o][c][k] * x;
                        }
                    }
                    y
                })
            })
            .collect()
    }

    #[test]
    fn steps_are_the_padded_convolution() {
        let mut layer =
            Conv1d::<4, 3, 3, f64>::from_parts([[[0.0; 3]; 3]; 4], [0.1, -0.2, 0.3, 0.0]);
        for (i, w) in layer
            .weight_mut()
            .as_flattened_mut()
            .as_flattened_mut()
            .iter_mut()
            .enumerate()
        {
            *w = ((i * 7 % 11) as f64 - 5.0) / 8.0;
        }
        let stream: Vec<[f64; 6]> = (0..40)
            .map(|t| core::array::from_fn(|c| ((t * 6 + c) as f64 * 0.37).sin()))
            .collect();
        let expected = reference(&layer, 2, &stream);
        let mut history = ConvHistory::<6, 4, f64>::ZERO;
        for (input, expected) in stream.iter().zip(&expected) {
            let output = layer.step_causal(&mut history, 2, input);
            for (a, e) in output.iter().zip(expected) {
                assert!((a - e).abs() < 1e-14, "{a} vs {e}");
            }
        }
        // From a history, without changing it: the bits of stepping.
        let mut stepped = history;
        let mut outputs = [[0.0; 4]; 11];
        layer.forward_causal_from(&history, 2, &stream[..11], &mut outputs);
        for (input, output) in stream[..11].iter().zip(&outputs) {
            let expected = layer.step_causal(&mut stepped, 2, input);
            assert_eq!(output.map(f64::to_bits), expected.map(f64::to_bits));
        }
        // As a block: the same outputs, and the history where stepping leaves it.
        let mut blocked = history;
        let mut block_outputs = [[0.0; 4]; 11];
        layer.forward_causal(&mut blocked, 2, &stream[..11], &mut block_outputs);
        assert_eq!(block_outputs, outputs);
        assert_eq!(blocked, stepped);
        // A kernel of one tap keeps nothing.
        let one = Conv1d::<2, 2, 1, f64>::from_parts([[[1.0], [2.0]], [[3.0], [4.0]]], [0.0; 2]);
        let mut none = ConvHistory::<2, 0, f64>::ZERO;
        let output = one.step_causal(&mut none, 5, &[1.0, 1.0]);
        assert_eq!(output.map(f64::to_bits), [3.0, 7.0].map(f64::to_bits));
    }
}
