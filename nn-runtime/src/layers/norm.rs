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
/// The running statistics are buffers: loaded and saved with the parameters, never trained.
/// PyTorch's `num_batches_tracked` is not stored (inference does not read it).
#[derive(Clone, PartialEq)]
pub struct BatchNorm<const C: usize, T: Scalar = f32> {
    weight: [T; C],
    bias: [T; C],
    running_mean: [T; C],
    running_var: [T; C],
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `BatchNorm` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<const C: usize, T: Scalar> ZeroInit for BatchNorm<C, T> {}

impl<const C: usize, T: Scalar> BatchNorm<C, T> {
    /// Trained values: weight and bias.
    pub const PARAMETERS: usize = 2 * C;

    /// A layer from PyTorch's `weight`, `bias`, `running_mean` and `running_var`. `const`, so
    /// that values known at compile time can make a `static` network.
    pub const fn from_parts(
        weight: [T; C],
        bias: [T; C],
        running_mean: [T; C],
        running_var: [T; C],
    ) -> Self {
        Self {
            weight,
            bias,
            running_mean,
            running_var,
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
/// `running_var` (ones), `[C]`, buffers: PyTorch's initial values.
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
    ];

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias, mean, var] = Self::TENSORS else {
            unreachable!("four tensors, above")
        };
        f(weight, &self.weight);
        f(bias, &self.bias);
        f(mean, &self.running_mean);
        f(var, &self.running_var);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias, mean, var] = Self::TENSORS else {
            unreachable!("four tensors, above")
        };
        f(weight, &mut self.weight);
        f(bias, &mut self.bias);
        f(mean, &mut self.running_mean);
        f(var, &mut self.running_var);
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

    /// [`LayerNorm::forward`] in place. Two passes, the variance from the centred values, as
    /// PyTorch's CPU kernel: no cancellation when the mean is large.
    pub fn forward_in_place(&self, sample: &mut S, eps: f64) {
        let values = sample.values_mut();
        let count = S::Scalar::from_f64(exact(S::LEN));
        let mean = sum(values) / count;
        for value in values.iter_mut() {
            *value = *value - mean;
        }
        let mut squares = [S::Scalar::ZERO; super::LANES];
        let mut chunks = values.chunks_exact(super::LANES);
        for chunk in &mut chunks {
            for (square, value) in squares.iter_mut().zip(chunk) {
                *square += *value * *value;
            }
        }
        for (square, value) in squares.iter_mut().zip(chunks.remainder()) {
            *square += *value * *value;
        }
        let variance = sum(&squares) / count;
        let inverse = S::Scalar::ONE / (variance + S::Scalar::from_f64(eps)).sqrt();
        for ((value, weight), bias) in values
            .iter_mut()
            .zip(self.weight.values())
            .zip(self.bias.values())
        {
            *value = *value * inverse * *weight + *bias;
        }
    }
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
