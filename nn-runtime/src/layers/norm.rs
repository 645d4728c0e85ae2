//! Normalisation at inference: batchnorm with its running statistics (PyTorch's
//! `nn.BatchNorm1d`/`2d` in eval mode) and layernorm over a whole sample (`nn.LayerNorm(shape)`).

use super::{Shaped, exact, sum};
use crate::Scalar;
use crate::tensor::{Init, Layout, Role, TensorInfo, Tensors};
use crate::zeroed::ZeroInit;

/// PyTorch's default `eps` of both normalisations, added to the variance.
pub const DEFAULT_EPS: f64 = 1e-5;

/// Batch normalisation in eval mode, as `nn.BatchNorm1d(C)` or `nn.BatchNorm2d(C)`: each
/// value of channel `c` becomes `(x - running_mean[c]) / sqrt(running_var[c] + eps) *
/// weight[c] + bias[c]`.
///
/// The running statistics are buffers: loaded and saved with the parameters, never touched by
/// an optimizer; training moves them (`train::BatchNormGradients::update_buffers`).
/// PyTorch's `num_batches_tracked` is kept too, as a [`Role::Counter`]: inference does not read
/// it, but a file saved from the layer has every tensor of PyTorch's `state_dict`, so that
/// `load_state_dict` in strict mode accepts it. The count is held in the scalar type, so a
/// loaded count is saved back unchanged up to `2^24` in `f32` (`2^53` in `f64`), and rounded
/// to that type beyond.
#[derive(Clone, PartialEq)]
pub struct BatchNorm<const C: usize, T: Scalar = f32> {
    weight: [T; C],
    bias: [T; C],
    running_mean: [T; C],
    running_var: [T; C],
    num_batches_tracked: T,
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `BatchNorm` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<const C: usize, T: Scalar> ZeroInit for BatchNorm<C, T> {}

impl<const C: usize, T: Scalar> BatchNorm<C, T> {
    /// Trained values: weight and bias.
    pub const PARAMETERS: usize = 2 * C;

    /// A layer from PyTorch's `weight`, `bias`, `running_mean` and `running_var`, having
    /// tracked no batch. `const`, so that values known at compile time can make a `static`
    /// network.
    pub const fn from_parts(
        weight: [T; C],
        bias: [T; C],
        running_mean: [T; C],
        running_var: [T; C],
    ) -> Self {
        Self::from_state(weight, bias, running_mean, running_var, T::ZERO)
    }

    /// [`BatchNorm::from_parts`] with PyTorch's `num_batches_tracked` as well: every tensor of
    /// the layer's `state_dict`.
    pub const fn from_state(
        weight: [T; C],
        bias: [T; C],
        running_mean: [T; C],
        running_var: [T; C],
        num_batches_tracked: T,
    ) -> Self {
        Self {
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
        }
    }

    /// The scale `weight` per channel.
    pub fn weight(&self) -> &[T; C] {
        &self.weight
    }

    /// The shift `bias` per channel.
    pub fn bias(&self) -> &[T; C] {
        &self.bias
    }

    /// The mean subtracted from each channel.
    pub fn running_mean(&self) -> &[T; C] {
        &self.running_mean
    }

    /// The variance each channel is divided by (its square root, after adding `eps`).
    pub fn running_var(&self) -> &[T; C] {
        &self.running_var
    }

    /// How many batches training has folded into the running statistics (PyTorch's
    /// `num_batches_tracked`), as loaded: inference does not read it.
    pub fn num_batches_tracked(&self) -> T {
        self.num_batches_tracked
    }

    /// Training's update of the running statistics: `running = kept * running + moved` for the
    /// mean and the variance, and `batches` more batches tracked.
    #[cfg(feature = "train")]
    pub(crate) fn fold_statistics(&mut self, kept: T, mean: &[T; C], var: &[T; C], batches: T) {
        for c in 0..C {
            self.running_mean[c] = kept * self.running_mean[c] + mean[c];
            self.running_var[c] = kept * self.running_var[c] + var[c];
        }
        self.num_batches_tracked += batches;
    }

    /// Normalises one sample of `C` channels, each a scalar (`[C]`, `nn.BatchNorm1d` on
    /// features), a `[T; L]` or a `[[T; W]; H]`; `eps` is [`DEFAULT_EPS`] unless the model
    /// says otherwise.
    ///
    /// As PyTorch's CPU kernel, it folds the statistics into one multiply-add per value,
    /// `x * a + b` with `a = weight / sqrt(running_var + eps)` and `b = bias - running_mean * a`.
    #[inline]
    pub fn forward<S: Shaped<Scalar = T>>(&self, input: &[S; C], eps: f64) -> [S; C] {
        let mut output = *input;
        self.forward_in_place(&mut output, eps);
        output
    }

    /// [`BatchNorm::forward`] in place.
    pub fn forward_in_place<S: Shaped<Scalar = T>>(&self, values: &mut [S; C], eps: f64) {
        let eps = T::from_f64(eps);
        for (c, channel) in values.iter_mut().enumerate() {
            let scale = self.weight[c] / (self.running_var[c] + eps).sqrt();
            let shift = self.bias[c] - self.running_mean[c] * scale;
            for value in channel.values_mut() {
                *value = *value * scale + shift;
            }
        }
    }
}

/// `weight` (ones) and `bias` (zeros), `[C]`, trained; `running_mean` (zeros) and
/// `running_var` (ones), `[C]`, buffers; `num_batches_tracked` (zero), of no axes, a counter:
/// PyTorch's tensors and initial values, in the order of its `state_dict`.
impl<const C: usize, T: Scalar> Tensors for BatchNorm<C, T> {
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "weight",
            shape: &[C],
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Ones,
        },
        TensorInfo {
            name: "bias",
            shape: &[C],
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Zeros,
        },
        TensorInfo {
            name: "running_mean",
            shape: &[C],
            role: Role::Buffer,
            layout: Layout::Contiguous,
            init: Init::Zeros,
        },
        TensorInfo {
            name: "running_var",
            shape: &[C],
            role: Role::Buffer,
            layout: Layout::Contiguous,
            init: Init::Ones,
        },
        TensorInfo {
            name: "num_batches_tracked",
            shape: &[],
            role: Role::Counter,
            layout: Layout::Contiguous,
            init: Init::Zeros,
        },
    ];

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias, mean, var, count] = Self::TENSORS else {
            unreachable!("five tensors, above")
        };
        f(weight, &self.weight);
        f(bias, &self.bias);
        f(mean, &self.running_mean);
        f(var, &self.running_var);
        f(count, core::slice::from_ref(&self.num_batches_tracked));
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias, mean, var, count] = Self::TENSORS else {
            unreachable!("five tensors, above")
        };
        f(weight, &mut self.weight);
        f(bias, &mut self.bias);
        f(mean, &mut self.running_mean);
        f(var, &mut self.running_var);
        f(count, core::slice::from_mut(&mut self.num_batches_tracked));
    }
}

impl<const C: usize, T: Scalar> core::fmt::Debug for BatchNorm<C, T> {
    /// Shapes only, as `Dense`'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BatchNorm<{C}, {}>", T::NAME)
    }
}

/// Layer normalisation over a whole sample of shape `S` (`[T; N]`, `[[T; L]; C]` or
/// `[[[T; W]; H]; C]`), as `nn.LayerNorm(S's shape)`: `(x - mean) / sqrt(var + eps) * weight +
/// bias`, the mean and the biased variance taken over all of the sample's values, the weight
/// and bias elementwise, of the sample's shape.
#[derive(Clone, PartialEq)]
pub struct LayerNorm<S: Shaped> {
    weight: S,
    bias: S,
}

// SAFETY: `S` is a `Shaped` (sealed): an `f32`, an `f64` or nested arrays of them, for which
// all-zero bytes are `0.0`; `LayerNorm` holds nothing else.
#[allow(unsafe_code)]
unsafe impl<S: Shaped> ZeroInit for LayerNorm<S> {}

impl<S: Shaped> LayerNorm<S> {
    /// Trained values: weight and bias.
    pub const PARAMETERS: usize = 2 * S::LEN;

    /// A layer from PyTorch's `weight` and `bias`, each of the sample's shape. `const`, so that
    /// values known at compile time can make a `static` network.
    pub const fn from_parts(weight: S, bias: S) -> Self {
        Self { weight, bias }
    }

    /// The elementwise scale.
    pub fn weight(&self) -> &S {
        &self.weight
    }

    /// The elementwise shift.
    pub fn bias(&self) -> &S {
        &self.bias
    }

    /// Normalises one sample; `eps` is [`DEFAULT_EPS`] unless the model says otherwise.
    #[inline]
    pub fn forward(&self, input: &S, eps: f64) -> S {
        let mut output = *input;
        self.forward_in_place(&mut output, eps);
        output
    }

    /// [`LayerNorm::forward`] in place: the sample standardised, `(x - mean) / sqrt(var +
    /// eps)` (the backward pass standardises alike), then scaled and shifted elementwise.
    pub fn forward_in_place(&self, sample: &mut S, eps: f64) {
        let values = sample.values_mut();
        standardise(values, eps);
        for ((value, weight), bias) in values
            .iter_mut()
            .zip(self.weight.values())
            .zip(self.bias.values())
        {
            *value = *value * *weight + *bias;
        }
    }
}

/// Replaces `values` by `(x - mean) / sqrt(var + eps)`, the mean and the biased variance taken
/// over all of them, and returns `1 / sqrt(var + eps)`: layernorm's forward pass and its
/// backward pass (which needs the standardised values again) compute them alike. The variance
/// comes from the centred values (no cancellation when the mean is large), centred twice: the
/// rounding of the first mean, a few ulps of the values, would otherwise be all that is left of
/// a constant sample, and divided by `sqrt(eps)` (0.69 for `[1.1; 768]` with `eps = 1e-12`,
/// where PyTorch gives exactly the bias); the centred values' own mean takes it away.
pub(crate) fn standardise<T: Scalar>(values: &mut [T], eps: f64) -> T {
    let count = T::from_f64(exact(values.len()));
    let mean = sum(values) / count;
    for value in values.iter_mut() {
        *value = *value - mean;
    }
    // The second centring in the variance's pass.
    let correction = sum(values) / count;
    let mut squares = [T::ZERO; super::LANES];
    let mut chunks = values.chunks_exact_mut(super::LANES);
    for chunk in &mut chunks {
        for (square, value) in squares.iter_mut().zip(chunk) {
            *value = *value - correction;
            *square += *value * *value;
        }
    }
    for (square, value) in squares.iter_mut().zip(chunks.into_remainder()) {
        *value = *value - correction;
        *square += *value * *value;
    }
    let variance = sum(&squares) / count;
    let inverse = T::ONE / (variance + T::from_f64(eps)).sqrt();
    for value in values.iter_mut() {
        *value *= inverse;
    }
    inverse
}

/// `weight` (ones) and `bias` (zeros), each of the sample's shape, trained.
impl<S: Shaped> Tensors for LayerNorm<S> {
    type Scalar = S::Scalar;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "weight",
            shape: S::SHAPE,
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Ones,
        },
        TensorInfo {
            name: "bias",
            shape: S::SHAPE,
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Zeros,
        },
    ];

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [S::Scalar])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("two tensors, above")
        };
        f(weight, self.weight.values());
        f(bias, self.bias.values());
    }

    fn for_each_tensor_mut<'a>(
        &'a mut self,
        mut f: impl FnMut(&'static TensorInfo, &'a mut [S::Scalar]),
    ) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("two tensors, above")
        };
        f(weight, self.weight.values_mut());
        f(bias, self.bias.values_mut());
    }
}

impl<S: Shaped> core::fmt::Debug for LayerNorm<S> {
    /// Shapes only, as `Dense`'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "LayerNorm<{:?}, {}>", S::SHAPE, S::Scalar::NAME)
    }
}

#[cfg(test)]
// The values compared are exact in binary floating point, or compared with a tolerance.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn batchnorm_normalises_each_channel() {
        // Channel 0: mean 1, variance 4 - eps, so that sqrt(var + eps) = 2.
        let layer = BatchNorm::<2, f64>::from_parts(
            [3.0, 1.0],
            [0.5, 0.0],
            [1.0, -2.0],
            [4.0 - DEFAULT_EPS, 1.0 - DEFAULT_EPS],
        );
        let features = layer.forward(&[5.0, 0.0], DEFAULT_EPS);
        assert_eq!(features, [6.5, 2.0]);
        let rows = layer.forward(&[[1.0, 3.0], [-2.0, -1.0]], DEFAULT_EPS);
        assert_eq!(rows, [[0.5, 3.5], [0.0, 1.0]]);
    }

    #[test]
    fn layernorm_normalises_the_whole_sample() {
        let layer = LayerNorm::<[[f64; 2]; 2]>::from_parts(
            [[1.0, 2.0], [1.0, 1.0]],
            [[0.0; 2], [0.0, 10.0]],
        );
        // Mean 2.5, variance 1.25.
        let output = layer.forward(&[[1.0, 2.0], [3.0, 4.0]], 0.0);
        let s = libm::sqrt(1.25);
        let expected = [[-1.5 / s, -1.0 / s], [0.5 / s, 10.0 + 1.5 / s]];
        for (got, expected) in output.as_flattened().iter().zip(expected.as_flattened()) {
            assert!((got - expected).abs() < 1e-15, "{got} {expected}");
        }
        // A constant sample: zero variance, then eps keeps it finite; the output is the bias.
        let constant =
            LayerNorm::<[f32; 3]>::from_parts([1.0; 3], [0.25; 3]).forward(&[7.0; 3], DEFAULT_EPS);
        assert_eq!(constant, [0.25; 3]);
        // Also where the values' sum rounds: the first mean of `[1.1; 768]` is a few ulps off
        // 1.1, which `eps = 1e-12` would magnify to 0.69.
        for eps in [DEFAULT_EPS, 1e-12] {
            for sample in [&mut [1.1_f32; 768][..], &mut [100.1_f32; 10][..]] {
                standardise(sample, eps);
                assert!(
                    sample.iter().all(|v| *v == 0.0),
                    "eps {eps}: {:?}",
                    &sample[..4]
                );
            }
        }
        // A large mean: the variance comes from centred values, without cancellation.
        let large = LayerNorm::<[f32; 2]>::from_parts([1.0; 2], [0.0; 2])
            .forward(&[1e4 - 1.0, 1e4 + 1.0], 0.0);
        assert_eq!(large, [-1.0, 1.0]);
    }

    #[test]
    fn tensors_are_pytorchs() {
        type Norm = LayerNorm<[[[f64; 5]; 4]; 3]>;
        let names: std::vec::Vec<_> = BatchNorm::<3, f32>::TENSORS
            .iter()
            .map(|t| (t.name, t.shape, t.role, t.init))
            .collect();
        assert_eq!(
            names,
            [
                ("weight", &[3][..], Role::Parameter, Init::Ones),
                ("bias", &[3][..], Role::Parameter, Init::Zeros),
                ("running_mean", &[3][..], Role::Buffer, Init::Zeros),
                ("running_var", &[3][..], Role::Buffer, Init::Ones),
                ("num_batches_tracked", &[][..], Role::Counter, Init::Zeros),
            ]
        );
        assert_eq!(Norm::TENSORS[0].shape, &[3, 4, 5]);
        assert_eq!(Norm::TENSORS[1].name, "bias");
        assert_eq!(Norm::PARAMETERS, 120);
        let mut layer = Norm::from_parts(Shaped::ZERO, Shaped::ZERO);
        let mut lengths = std::vec::Vec::new();
        layer.for_each_tensor_mut(|info, values| {
            values.fill(1.0);
            lengths.push((info.name, values.len()));
        });
        assert_eq!(lengths, [("weight", 60), ("bias", 60)]);
        assert_eq!(layer.bias()[2][3][4], 1.0);
    }
}
