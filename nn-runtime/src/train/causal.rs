//! Backpropagation through a window of a causal [`Conv1d`] (`conv1d(..., causal)` in a sequence
//! network): `Conv1d::backward_causal`, into the layer's [`Conv1dGradients`]. Truncated as the
//! recurrent layers' windows are: the inputs from before the window, which the history holds,
//! are constants, and no gradient flows into them.

use super::Conv1dGradients;
use crate::Scalar;
use crate::layers::{Conv1d, ConvHistory};

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar>
    Conv1d<OUT, IN_PER_GROUP, K, T>
{
    /// Backpropagation through a window of one stream from `history`: steps `history` through
    /// `inputs` (leaving it as [`Conv1d::forward_causal`] would), then, from
    /// `output_gradients[t]`, the gradient of the loss with respect to the output of step `t`
    /// before its activation, adds `scale` times the gradient of the weights and biases to
    /// `gradients` and writes the gradient with respect to each step's input (unscaled) into
    /// `input_gradients`. The window's first steps read inputs from before it, out of the
    /// history: their gradients are not computed (truncation).
    ///
    /// # Panics
    ///
    /// When `inputs`, `output_gradients` and `input_gradients` have different lengths.
    #[allow(clippy::too_many_arguments)] // the recurrent layers' `backward_sequence`, plus the dilation
    pub fn backward_causal<const C: usize, const FRAMES: usize>(
        &self,
        history: &mut ConvHistory<C, FRAMES, T>,
        dilation: usize,
        inputs: &[[T; C]],
        output_gradients: &[[T; OUT]],
        scale: T,
        gradients: &mut Conv1dGradients<OUT, IN_PER_GROUP, K, T>,
        input_gradients: &mut [[T; C]],
    ) {
        assert!(
            inputs.len() == output_gradients.len() && inputs.len() == input_gradients.len(),
            "backward_causal: as many inputs, output gradients and input gradients"
        );
        debug_assert_eq!(FRAMES, (K - 1) * dilation, "the history of a causal Conv1d");
        debug_assert_eq!(C % IN_PER_GROUP, 0, "the channels of a grouped Conv1d");
        let steps = inputs.len();
        let before: &ConvHistory<C, FRAMES, T> = history;
        let per_group = OUT / (C / IN_PER_GROUP).max(1);
        input_gradients.fill([T::ZERO; C]);
        let (weight_gradients, bias_gradients) = gradients.parts_mut();
        for (o, ((kernels, kernel_gradients), bias_gradient)) in self
            .weight()
            .iter()
            .zip(weight_gradients.iter_mut())
            .zip(bias_gradients.iter_mut())
            .enumerate()
        {
            let first = (o / per_group.max(1)) * IN_PER_GROUP;
            *bias_gradient += scale
                * output_gradients
                    .iter()
                    .fold(T::ZERO, |sum, delta| sum + delta[o]);
            for (c, (taps, tap_gradients)) in kernels.iter().zip(kernel_gradients).enumerate() {
                for (k, (&w, gradient)) in taps.iter().zip(tap_gradients).enumerate() {
                    let lag = (K - 1 - k) * dilation;
                    let mut sum = T::ZERO;
                    for (t, delta) in output_gradients.iter().enumerate() {
                        sum += delta[o] * before.input_before(inputs, t, lag)[first + c];
                    }
                    *gradient += scale * sum;
                    // Step `s`'s input is tap `k`'s at step `s + lag`.
                    let later = &output_gradients[lag.min(steps)..];
                    for (below, delta) in input_gradients.iter_mut().zip(later) {
                        below[first + c] += w * delta[o];
                    }
                }
            }
        }
        // The history only now moves to the window's end: no copy of it, however long.
        history.advance(inputs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every gradient against central differences of the window's forward pass (linear in the
    /// weights, biases and inputs, so exact up to rounding), from a history that is not zero,
    /// with groups and a dilation, and the history left as stepping leaves it.
    #[test]
    fn gradients_are_differences_of_the_forward_pass() {
        const C: usize = 4;
        const OUT: usize = 6;
        const IPG: usize = 2;
        const K: usize = 3;
        const DILATION: usize = 2;
        const FRAMES: usize = (K - 1) * DILATION;
        const STEPS: usize = 7;
        let value = |k: usize| ((k * 37 + 11) % 23) as f64 / 11.0 - 1.0;
        let mut layer = Conv1d::<OUT, IPG, K, f64>::from_parts(
            core::array::from_fn(|o| {
                core::array::from_fn(|c| core::array::from_fn(|k| value(o * 17 + c * 5 + k)))
            }),
            core::array::from_fn(|o| value(o + 100)),
        );
        let mut start = ConvHistory::<C, FRAMES, f64>::ZERO;
        for t in 0..9 {
            layer.step_causal(
                &mut start,
                DILATION,
                &core::array::from_fn(|c| value(t * 3 + c)),
            );
        }
        let mut inputs: [[f64; C]; STEPS] =
            core::array::from_fn(|t| core::array::from_fn(|c| value(t * 7 + c + 50)));
        let deltas: [[f64; OUT]; STEPS] =
            core::array::from_fn(|t| core::array::from_fn(|o| value(t * 11 + o + 200)));
        // The loss `Σ_t deltas[t] · outputs[t]`.
        let loss = |layer: &Conv1d<OUT, IPG, K, f64>, inputs: &[[f64; C]; STEPS]| -> f64 {
            let mut history = start;
            let mut outputs = [[0.0; OUT]; STEPS];
            layer.forward_causal(&mut history, DILATION, inputs, &mut outputs);
            outputs
                .iter()
                .zip(&deltas)
                .map(|(y, d)| y.iter().zip(d).map(|(y, d)| y * d).sum::<f64>())
                .sum()
        };

        let mut history = start;
        let mut gradients = Conv1dGradients::<OUT, IPG, K, f64>::default();
        let mut below = [[9.0; C]; STEPS];
        layer.backward_causal(
            &mut history,
            DILATION,
            &inputs,
            &deltas,
            0.5,
            &mut gradients,
            &mut below,
        );
        let mut stepped = start;
        let mut outputs = [[0.0; OUT]; STEPS];
        layer.forward_causal(&mut stepped, DILATION, &inputs, &mut outputs);
        assert_eq!(history, stepped, "the history at the window's end");

        let h = 1e-3;
        let difference = |plus: f64, minus: f64| (plus - minus) / (2.0 * h);
        for o in 0..OUT {
            for c in 0..IPG {
                for k in 0..K {
                    let w = layer.weight()[o][c][k];
                    layer.weight_mut()[o][c][k] = w + h;
                    let plus = loss(&layer, &inputs);
                    layer.weight_mut()[o][c][k] = w - h;
                    let minus = loss(&layer, &inputs);
                    layer.weight_mut()[o][c][k] = w;
                    let expected = 0.5 * difference(plus, minus);
                    let found = gradients.weight()[o][c][k];
                    assert!(
                        (found - expected).abs() < 1e-9,
                        "weight {o} {c} {k}: {found} vs {expected}"
                    );
                }
            }
            let b = layer.bias()[o];
            layer.bias_mut()[o] = b + h;
            let plus = loss(&layer, &inputs);
            layer.bias_mut()[o] = b - h;
            let minus = loss(&layer, &inputs);
            layer.bias_mut()[o] = b;
            let expected = 0.5 * difference(plus, minus);
            assert!((gradients.bias()[o] - expected).abs() < 1e-9, "bias {o}");
        }
        for t in 0..STEPS {
            for c in 0..C {
                let x = inputs[t][c];
                inputs[t][c] = x + h;
                let plus = loss(&layer, &inputs);
                inputs[t][c] = x - h;
                let minus = loss(&layer, &inputs);
                inputs[t][c] = x;
                let expected = difference(plus, minus);
                assert!(
                    (below[t][c] - expected).abs() < 1e-9,
                    "input {t} {c}: {} vs {expected}",
                    below[t][c]
                );
            }
        }
    }
}
