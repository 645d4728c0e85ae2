//! Batch normalisation in training mode (PyTorch's `nn.BatchNorm1d`/`2d` in `train()`): each
//! channel normalised with the statistics of the batch (every sample and every position of
//! the channel), the backward pass through those statistics, and the running statistics that
//! the batches move, kept in [`BatchNormGradients`] until [`Trainable::update_buffers`]
//! (super::Trainable::update_buffers) folds them into the layer (the network is borrowed
//! immutably while gradients accumulate).

use crate::Scalar;
use crate::layers::{BatchNorm, Shaped, exact};
use crate::tensor::{TensorInfo, Tensors};
use crate::zeroed::ZeroInit;
use core::borrow::Borrow;

/// Gradients of a loss with respect to one [`BatchNorm`]'s weight and bias, `[C]` each, and
/// the update of its running statistics that the batches since the last
/// [`zero`](BatchNormGradients::zero) make: `running = running * (1 - forgotten) + moved`, as
/// PyTorch's `running = (1 - momentum) running + momentum statistic` applied once per batch.
/// All zero (as built by `zeroed`) is no update.
#[derive(Clone, PartialEq)]
pub struct BatchNormGradients<const C: usize, T: Scalar = f32> {
    weight: [T; C],
    bias: [T; C],
    forgotten: T,
    mean: [T; C],
    var: [T; C],
    batches: T,
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `BatchNormGradients` holds nothing but `T`s.
#[allow(unsafe_code)]
unsafe impl<const C: usize, T: Scalar> ZeroInit for BatchNormGradients<C, T> {}

impl<const C: usize, T: Scalar> Default for BatchNormGradients<C, T> {
    fn default() -> Self {
        Self {
            weight: [T::ZERO; C],
            bias: [T::ZERO; C],
            forgotten: T::ZERO,
            mean: [T::ZERO; C],
            var: [T::ZERO; C],
            batches: T::ZERO,
        }
    }
}

/// Each channel's mean and biased variance over every sample and position, and the number of
/// values per channel. As layernorm's (`layers::norm::standardise`): the variance from the
/// centred values, the mean corrected by the centred values' own mean, so that a constant
/// channel has exactly its value as mean and 0 as variance.
fn statistics<X, S, const C: usize>(inputs: &[X]) -> ([S::Scalar; C], [S::Scalar; C], usize)
where
    X: Borrow<[S; C]>,
    S: Shaped,
{
    let values = inputs.len() * S::LEN;
    let count = <S::Scalar as Scalar>::from_f64(exact(values.max(1)));
    let mut mean = [S::Scalar::ZERO; C];
    for input in inputs {
        for (m, channel) in mean.iter_mut().zip(input.borrow()) {
            for &x in channel.values() {
                *m += x;
            }
        }
    }
    for m in &mut mean {
        *m = *m / count;
    }
    let mut correction = [S::Scalar::ZERO; C];
    for input in inputs {
        for ((d, &m), channel) in correction.iter_mut().zip(&mean).zip(input.borrow()) {
            for &x in channel.values() {
                *d += x - m;
            }
        }
    }
    for (m, d) in mean.iter_mut().zip(correction) {
        *m += d / count;
    }
    let mut var = [S::Scalar::ZERO; C];
    for input in inputs {
        for ((v, &m), channel) in var.iter_mut().zip(&mean).zip(input.borrow()) {
            for &x in channel.values() {
                *v += (x - m) * (x - m);
            }
        }
    }
    for v in &mut var {
        *v = *v / count;
    }
    (mean, var, values)
}

/// `1 / sqrt(var + eps)` per channel.
fn inverse<T: Scalar, const C: usize>(var: &[T; C], eps: f64) -> [T; C] {
    let eps = T::from_f64(eps);
    var.map(|v| T::ONE / (v + eps).sqrt())
}

/// The layer in training mode on a batch: each channel of `inputs` normalised with the batch's
/// mean and biased variance (over every sample and position), then scaled and shifted, into
/// `outputs` (as many rows).
pub fn batchnorm_train<X, S, const C: usize>(
    layer: &BatchNorm<C, S::Scalar>,
    inputs: &[X],
    outputs: &mut [[S; C]],
    eps: f64,
) where
    X: Borrow<[S; C]>,
    S: Shaped,
{
    let (mean, var, _) = statistics(inputs);
    let inverse = inverse(&var, eps);
    for (input, output) in inputs.iter().zip(outputs) {
        for (c, (channel, out)) in input.borrow().iter().zip(output.iter_mut()).enumerate() {
            let scale = inverse[c] * layer.weight()[c];
            for (o, &x) in out.values_mut().iter_mut().zip(channel.values()) {
                *o = (x - mean[c]) * scale + layer.bias()[c];
            }
        }
    }
}

/// `n` rows of `row`, on the heap: the locals of a generated `accumulate_batch` for a batch of a
/// network with batchnorm larger than its `TRAINING_CHUNK` (the batch's statistics need the whole
/// batch at once).
#[cfg(feature = "alloc")]
#[must_use]
pub fn rows<R: Copy>(row: R, n: usize) -> alloc::vec::Vec<R> {
    alloc::vec![row; n]
}

/// [`batchnorm_train`] on a batch of one sample (its statistics over the sample's positions).
pub fn batchnorm_train_one<S: Shaped, const C: usize>(
    layer: &BatchNorm<C, S::Scalar>,
    input: &[S; C],
    eps: f64,
) -> [S; C] {
    let mut output = [S::ZERO; C];
    batchnorm_train(
        layer,
        core::slice::from_ref(input),
        core::slice::from_mut(&mut output),
        eps,
    );
    output
}

/// The gradient of the loss with respect to the batch's inputs, from `inputs` and `deltas`
/// (the gradients with respect to the layer's outputs before the activation), into `below`.
/// With `g = delta * weight` and `x̂` the normalised input, per channel:
/// `dx = (g - mean(g) - x̂ mean(g x̂)) / sqrt(var + eps)`, the means over the batch and the
/// channel's positions (PyTorch's `batch_norm_backward` in training mode).
pub fn batchnorm_backward_input<X, S, const C: usize>(
    layer: &BatchNorm<C, S::Scalar>,
    inputs: &[X],
    deltas: &[[S; C]],
    below: &mut [[S; C]],
    eps: f64,
) where
    X: Borrow<[S; C]>,
    S: Shaped,
{
    let (mean, var, values) = statistics(inputs);
    let inverse = inverse(&var, eps);
    let count = <S::Scalar as Scalar>::from_f64(exact(values.max(1)));
    let (mut sum, mut dot) = ([S::Scalar::ZERO; C], [S::Scalar::ZERO; C]);
    for (input, delta) in inputs.iter().zip(deltas) {
        for (c, (channel, d)) in input.borrow().iter().zip(delta).enumerate() {
            let w = layer.weight()[c];
            for (&x, &d) in channel.values().iter().zip(d.values()) {
                let g = d * w;
                sum[c] += g;
                dot[c] += g * (x - mean[c]) * inverse[c];
            }
        }
    }
    for ((input, delta), row) in inputs.iter().zip(deltas).zip(below) {
        for (c, ((channel, d), out)) in input
            .borrow()
            .iter()
            .zip(delta)
            .zip(row.iter_mut())
            .enumerate()
        {
            let (w, m, p) = (layer.weight()[c], sum[c] / count, dot[c] / count);
            for ((o, &x), &d) in out
                .values_mut()
                .iter_mut()
                .zip(channel.values())
                .zip(d.values())
            {
                let standard = (x - mean[c]) * inverse[c];
                *o = (d * w - m - standard * p) * inverse[c];
            }
        }
    }
}

/// [`batchnorm_backward_input`] on a batch of one sample.
pub fn batchnorm_backward_one<S: Shaped, const C: usize>(
    layer: &BatchNorm<C, S::Scalar>,
    input: &[S; C],
    delta: &[S; C],
    eps: f64,
) -> [S; C] {
    let mut below = [S::ZERO; C];
    batchnorm_backward_input(
        layer,
        core::slice::from_ref(input),
        core::slice::from_ref(delta),
        core::slice::from_mut(&mut below),
        eps,
    );
    below
}

impl<const C: usize, T: Scalar> BatchNormGradients<C, T> {
    /// Gradients of the per-channel scale.
    pub fn weight(&self) -> &[T; C] {
        &self.weight
    }

    /// Gradients of the per-channel shift.
    pub fn bias(&self) -> &[T; C] {
        &self.bias
    }

    /// Batches folded into the running statistics since the last [`zero`](Self::zero).
    pub fn batches(&self) -> T {
        self.batches
    }

    /// Sets every gradient to zero and forgets the batches' statistics.
    pub fn zero(&mut self) {
        *self = Self::default();
    }

    /// Adds one batch's gradients, given the layer's `inputs` and `deltas` (the gradients with
    /// respect to its outputs before the activation): `weight += Σ delta x̂`, `bias += Σ
    /// delta`, over the batch and the channel's positions; and moves the running statistics by
    /// `momentum` towards the batch's mean and unbiased variance (`n / (n - 1)` times the biased
    /// one, `n` the values per channel). A batch of one value per channel, whose unbiased
    /// variance does not exist (PyTorch raises), leaves the running statistics as they are.
    pub fn accumulate<X, S>(&mut self, inputs: &[X], deltas: &[[S; C]], eps: f64, momentum: f64)
    where
        X: Borrow<[S; C]>,
        S: Shaped<Scalar = T>,
    {
        let (mean, var, values) = statistics(inputs);
        let inverse = inverse(&var, eps);
        for (input, delta) in inputs.iter().zip(deltas) {
            for (c, (channel, d)) in input.borrow().iter().zip(delta).enumerate() {
                for (&x, &d) in channel.values().iter().zip(d.values()) {
                    self.weight[c] += d * (x - mean[c]) * inverse[c];
                    self.bias[c] += d;
                }
            }
        }
        if values < 2 {
            return;
        }
        let m = T::from_f64(momentum);
        let correction = T::from_f64(exact(values)) / T::from_f64(exact(values - 1));
        self.forgotten = self.forgotten + m * (T::ONE - self.forgotten);
        for c in 0..C {
            self.mean[c] = (T::ONE - m) * self.mean[c] + m * mean[c];
            self.var[c] = (T::ONE - m) * self.var[c] + m * (var[c] * correction);
        }
        self.batches += T::ONE;
    }

    /// Folds the batches' statistics into `layer`'s running mean and variance, and adds the
    /// batches to its `num_batches_tracked`.
    pub fn update_buffers(&self, layer: &mut BatchNorm<C, T>) {
        layer.fold_statistics(T::ONE - self.forgotten, &self.mean, &self.var, self.batches);
    }
}

/// The tensors of [`BatchNorm`] that train, weight and bias, in the same layout.
impl<const C: usize, T: Scalar> Tensors for BatchNormGradients<C, T> {
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = {
        let all = <BatchNorm<C, T> as Tensors>::TENSORS;
        let (trained, _) = all.split_at(2);
        trained
    };

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two trained tensors of `BatchNorm`")
        };
        f(weight, &self.weight);
        f(bias, &self.bias);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two trained tensors of `BatchNorm`")
        };
        f(weight, &mut self.weight);
        f(bias, &mut self.bias);
    }
}

impl<const C: usize, T: Scalar> core::fmt::Debug for BatchNormGradients<C, T> {
    /// Shapes only, like [`BatchNorm`].
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BatchNormGradients<{C}, {}>", T::NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::statistics;

    /// A constant channel's statistics are exactly its value and 0, though the sum of its
    /// values rounds (its first mean a few ulps off): a variance of those ulps, divided by
    /// `sqrt(eps)`, would be all of its normalised output.
    #[test]
    fn a_constant_channel_has_its_value_as_mean_and_no_variance() {
        let inputs = [[1.1_f32, 100.1]; 768];
        let (mean, var, count) = statistics::<_, f32, 2>(&inputs);
        assert_eq!((mean, var, count), ([1.1, 100.1], [0.0, 0.0], 768));
    }
}
