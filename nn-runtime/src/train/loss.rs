//! Loss functions: the value of one sample and its gradient with respect to the output layer's
//! pre-activations.

use super::derivative;
use super::output::{LogSoftmax, OutputActivation, Sigmoid, Softmax};
use crate::activation::softplus_one;
use crate::{Activation, Scalar};

/// A loss function for networks whose output activation is `A`.
///
/// Implemented only where it fits: [`Mse`] for every output, [`BinaryCrossEntropy`] for a
/// `sigmoid` output, [`CrossEntropy`] for a `softmax` or `log_softmax` output. The cross-entropies
/// are computed from the pre-activations (logits), so they stay finite where the output
/// saturates, and their gradient is the fused, exact `p - y`.
#[diagnostic::on_unimplemented(
    message = "the loss `{Self}` does not fit a network whose output activation is `{A}`",
    label = "`{Self}` cannot train a `{A}` output",
    note = "`CrossEntropy` fits a `softmax` or `log_softmax` output, `BinaryCrossEntropy` a `sigmoid` output, `Mse` any output"
)]
pub trait Loss<A: OutputActivation> {
    /// The loss of one sample, from the output layer's pre-activations `pre` and outputs
    /// `output` (`activation` is the layer's, with its parameters).
    fn value<T: Scalar>(&self, activation: Activation, pre: &[T], output: &[T], target: &[T]) -> T;

    /// The loss of one sample, and `scale` times its gradient with respect to the output
    /// layer's pre-activations, written to `delta`.
    fn gradient<T: Scalar>(
        &self,
        activation: Activation,
        pre: &[T],
        output: &[T],
        target: &[T],
        scale: T,
        delta: &mut [T],
    ) -> T;

    /// Whether `output` counts as a correct prediction of `target`, for accuracy: the largest
    /// output is the largest target (several outputs), or the output is within 0.5 of the
    /// target (one output).
    fn is_correct<T: Scalar>(&self, output: &[T], target: &[T]) -> bool {
        if output.len() == 1 && target.len() == 1 {
            let difference = output[0] - target[0];
            return difference < T::from_f64(0.5) && -difference < T::from_f64(0.5);
        }
        argmax(output) == argmax(target)
    }
}

/// Index of the largest value (the first of equals).
pub(crate) fn argmax<T: Scalar>(x: &[T]) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in x.iter().enumerate() {
        // NaN compares unordered with itself: it never becomes the best.
        let is_nan = v.partial_cmp(&v).is_none();
        let better = match best {
            None => !is_nan,
            Some((_, b)) => v > b,
        };
        if better {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// Mean squared error, averaged over the outputs: `mean((output - target)^2)`, as PyTorch's
/// `MSELoss`. Fits any output activation; its gradient goes through the activation's derivative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mse;

impl<A: OutputActivation> Loss<A> for Mse {
    fn value<T: Scalar>(&self, _: Activation, _: &[T], output: &[T], target: &[T]) -> T {
        let mut sum = T::ZERO;
        for (&a, &y) in output.iter().zip(target) {
            sum += (a - y) * (a - y);
        }
        sum / T::from_f64(output.len() as f64)
    }

    fn gradient<T: Scalar>(
        &self,
        activation: Activation,
        pre: &[T],
        output: &[T],
        target: &[T],
        scale: T,
        delta: &mut [T],
    ) -> T {
        let n = T::from_f64(output.len() as f64);
        let factor = T::from_f64(2.0) * scale / n;
        let mut sum = T::ZERO;
        for ((d, &a), &y) in delta.iter_mut().zip(output).zip(target) {
            sum += (a - y) * (a - y);
            *d = factor * (a - y);
        }
        derivative::apply(activation, pre, output, delta);
        sum / n
    }
}

/// Binary cross-entropy on a `sigmoid` output, averaged over the outputs, computed from the
/// logits `x` as `softplus(x) - y * x` (PyTorch's `BCEWithLogitsLoss`); its gradient with
/// respect to `x` is `sigmoid(x) - y`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinaryCrossEntropy;

impl Loss<Sigmoid> for BinaryCrossEntropy {
    fn value<T: Scalar>(&self, _: Activation, pre: &[T], _: &[T], target: &[T]) -> T {
        let mut sum = T::ZERO;
        for (&x, &y) in pre.iter().zip(target) {
            sum += softplus_one(x) - y * x;
        }
        sum / T::from_f64(pre.len() as f64)
    }

    fn gradient<T: Scalar>(
        &self,
        activation: Activation,
        pre: &[T],
        output: &[T],
        target: &[T],
        scale: T,
        delta: &mut [T],
    ) -> T {
        let factor = scale / T::from_f64(pre.len() as f64);
        for ((d, &p), &y) in delta.iter_mut().zip(output).zip(target) {
            *d = factor * (p - y);
        }
        <Self as Loss<Sigmoid>>::value(self, activation, pre, output, target)
    }

    /// Every output is on the same side of 0.5 as its target.
    fn is_correct<T: Scalar>(&self, output: &[T], target: &[T]) -> bool {
        let half = T::from_f64(0.5);
        output
            .iter()
            .zip(target)
            .all(|(&p, &y)| (p >= half) == (y >= half))
    }
}

/// Categorical cross-entropy on a `softmax` or `log_softmax` output: `-sum_i y_i ln p_i`, with
/// `ln p` computed from the logits (PyTorch's `CrossEntropyLoss` with probability targets). Its
/// gradient with respect to the logits is `p * sum(y) - y`, that is `p - y` for one-hot targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrossEntropy;

/// `ln(sum_i exp(x_i))`, shifted by the maximum.
fn log_sum_exp<T: Scalar>(x: &[T]) -> T {
    let Some(&first) = x.first() else {
        return T::ZERO;
    };
    let max = x.iter().fold(first, |m, &v| if v > m { v } else { m });
    let mut sum = T::ZERO;
    for &v in x {
        sum += (v - max).exp();
    }
    max + sum.ln()
}

/// `-sum_i y_i * log_p_i`, skipping zero targets (so that `0 * -inf` is not NaN).
fn cross_entropy<T: Scalar>(log_p: impl Iterator<Item = T>, target: &[T]) -> T {
    let mut sum = T::ZERO;
    for (lp, &y) in log_p.zip(target) {
        if y != T::ZERO {
            sum += y * lp;
        }
    }
    -sum
}

/// `scale * (p * sum(y) - y)`.
fn fused_gradient<T: Scalar>(p: impl Iterator<Item = T>, target: &[T], scale: T, delta: &mut [T]) {
    let mut mass = T::ZERO;
    for &y in target {
        mass += y;
    }
    for ((d, p), &y) in delta.iter_mut().zip(p).zip(target) {
        *d = scale * (p * mass - y);
    }
}

impl Loss<Softmax> for CrossEntropy {
    fn value<T: Scalar>(&self, _: Activation, pre: &[T], _: &[T], target: &[T]) -> T {
        let shift = log_sum_exp(pre);
        cross_entropy(pre.iter().map(|&x| x - shift), target)
    }

    fn gradient<T: Scalar>(
        &self,
        activation: Activation,
        pre: &[T],
        output: &[T],
        target: &[T],
        scale: T,
        delta: &mut [T],
    ) -> T {
        fused_gradient(output.iter().copied(), target, scale, delta);
        <Self as Loss<Softmax>>::value(self, activation, pre, output, target)
    }
}

impl Loss<LogSoftmax> for CrossEntropy {
    fn value<T: Scalar>(&self, _: Activation, _: &[T], output: &[T], target: &[T]) -> T {
        cross_entropy(output.iter().copied(), target)
    }

    fn gradient<T: Scalar>(
        &self,
        activation: Activation,
        pre: &[T],
        output: &[T],
        target: &[T],
        scale: T,
        delta: &mut [T],
    ) -> T {
        fused_gradient(output.iter().map(|&y| y.exp()), target, scale, delta);
        <Self as Loss<LogSoftmax>>::value(self, activation, pre, output, target)
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // the saturated cases are exact
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_stays_finite_where_softmax_saturates() {
        // softmax([1000, 0]) is exactly [1, 0]: ln(0) would be -inf, the logits give 1000.
        let pre = [1000.0_f64, 0.0];
        let output = [1.0, 0.0];
        let mut delta = [0.0; 2];
        let value = <CrossEntropy as Loss<Softmax>>::gradient(
            &CrossEntropy,
            Activation::Softmax,
            &pre,
            &output,
            &[0.0, 1.0],
            1.0,
            &mut delta,
        );
        assert_eq!(value, 1000.0);
        assert_eq!(delta, [1.0, -1.0]);
    }

    #[test]
    fn binary_cross_entropy_stays_finite_where_sigmoid_saturates() {
        let value = <BinaryCrossEntropy as Loss<Sigmoid>>::value(
            &BinaryCrossEntropy,
            Activation::Sigmoid,
            &[-800.0_f32, 800.0],
            &[0.0, 1.0],
            &[1.0, 1.0],
        );
        assert_eq!(value, 400.0);
    }

    #[test]
    fn argmax_takes_the_first_of_equals_and_skips_nan() {
        assert_eq!(argmax(&[1.0_f32, 3.0, 3.0]), Some(1));
        assert_eq!(argmax(&[f64::NAN, 2.0]), Some(1));
        assert_eq!(argmax::<f32>(&[]), None);
    }
}
