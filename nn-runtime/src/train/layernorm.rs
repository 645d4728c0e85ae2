//! The backward pass of a layernorm ([`LayerNorm`]), one sample at a time: its statistics are
//! the sample's own, so a chunk is its samples one by one.

use crate::Scalar;
use crate::layers::{LayerNorm, Shaped, standardise};
use crate::tensor::{TensorInfo, Tensors};
use crate::zeroed::ZeroInit;

/// Gradients of a loss with respect to one [`LayerNorm`]'s weight and bias, each of the
/// sample's shape `S`, as the layer's.
#[derive(Clone, PartialEq)]
pub struct LayerNormGradients<S: Shaped> {
    weight: S,
    bias: S,
}

// SAFETY: `S` is a `Shaped` (sealed): an `f32`, an `f64` or nested arrays of them, for which
// all-zero bytes are `0.0`; `LayerNormGradients` holds nothing else.
#[allow(unsafe_code)]
unsafe impl<S: Shaped> ZeroInit for LayerNormGradients<S> {}

impl<S: Shaped> Default for LayerNormGradients<S> {
    fn default() -> Self {
        Self {
            weight: S::ZERO,
            bias: S::ZERO,
        }
    }
}

impl<S: Shaped> LayerNormGradients<S> {
    /// Gradients of the elementwise scale.
    pub fn weight(&self) -> &S {
        &self.weight
    }

    /// Gradients of the elementwise shift.
    pub fn bias(&self) -> &S {
        &self.bias
    }

    /// Sets every gradient to zero.
    pub fn zero(&mut self) {
        self.weight = S::ZERO;
        self.bias = S::ZERO;
    }

    /// Adds one sample's gradients, given the layer's `input` and `delta`, the gradient of the
    /// loss with respect to its output before the activation: `weight += delta * x̂` and
    /// `bias += delta`, `x̂` the standardised input (with the layer's `eps`).
    pub fn accumulate(&mut self, input: &S, delta: &S, eps: f64) {
        let mut standard = *input;
        standardise(standard.values_mut(), eps);
        for (((weight, bias), &x), &d) in self
            .weight
            .values_mut()
            .iter_mut()
            .zip(self.bias.values_mut())
            .zip(standard.values())
            .zip(delta.values())
        {
            *weight += d * x;
            *bias += d;
        }
    }
}

/// The tensors of [`LayerNorm`], both trained, in the same layout.
impl<S: Shaped> Tensors for LayerNormGradients<S> {
    type Scalar = S::Scalar;
    const TENSORS: &'static [TensorInfo] = <LayerNorm<S> as Tensors>::TENSORS;

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [S::Scalar])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two tensors of `LayerNorm`")
        };
        f(weight, self.weight.values());
        f(bias, self.bias.values());
    }

    fn for_each_tensor_mut<'a>(
        &'a mut self,
        mut f: impl FnMut(&'static TensorInfo, &'a mut [S::Scalar]),
    ) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two tensors of `LayerNorm`")
        };
        f(weight, self.weight.values_mut());
        f(bias, self.bias.values_mut());
    }
}

impl<S: Shaped> core::fmt::Debug for LayerNormGradients<S> {
    /// Shapes only, like [`LayerNorm`].
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "LayerNormGradients<{:?}, {}>",
            S::SHAPE,
            <S::Scalar as Scalar>::NAME
        )
    }
}

/// The gradient of the loss with respect to a layernorm's input, from its `input` and `delta`,
/// the gradient with respect to its output before the activation. With `g = delta * weight`
/// and `x̂` the standardised input, over the sample's `N` values:
/// `dx = (g - mean(g) - x̂ * mean(g * x̂)) / sqrt(var + eps)`, the mean and variance being
/// part of the function (PyTorch's `native_layer_norm_backward`).
pub fn layernorm_backward_input<S: Shaped>(
    layer: &LayerNorm<S>,
    input: &S,
    delta: &S,
    eps: f64,
) -> S {
    let mut standard = *input;
    let inverse = standardise(standard.values_mut(), eps);
    let count = S::Scalar::from_f64(crate::layers::exact(S::LEN));
    let (mut sum, mut dot) = (S::Scalar::ZERO, S::Scalar::ZERO);
    for ((&d, &w), &x) in delta
        .values()
        .iter()
        .zip(layer.weight().values())
        .zip(standard.values())
    {
        let g = d * w;
        sum += g;
        dot += g * x;
    }
    let (mean, projection) = (sum / count, dot / count);
    let mut gradient = S::ZERO;
    for (((out, &d), &w), &x) in gradient
        .values_mut()
        .iter_mut()
        .zip(delta.values())
        .zip(layer.weight().values())
        .zip(standard.values())
    {
        *out = (d * w - mean - x * projection) * inverse;
    }
    gradient
}

#[cfg(test)]
// The values compared exactly are sums of ones, or compared with a tolerance.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    /// Deterministic values in `[lo, hi)`.
    fn values<const N: usize>(seed: u64, lo: f64, hi: f64) -> [f64; N] {
        let mut state = seed;
        core::array::from_fn(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            #[allow(clippy::cast_precision_loss)] // 53 bits, exact in f64
            let unit = (state >> 11) as f64 / (1_u64 << 53) as f64;
            lo + (hi - lo) * unit
        })
    }

    /// `sum(c * layer(x))`, the loss whose gradient with respect to the output is `c`.
    fn loss(
        layer: &LayerNorm<[[f64; 3]; 2]>,
        x: &[[f64; 3]; 2],
        c: &[[f64; 3]; 2],
        eps: f64,
    ) -> f64 {
        let y = layer.forward(x, eps);
        y.as_flattened()
            .iter()
            .zip(c.as_flattened())
            .map(|(y, c)| y * c)
            .sum()
    }

    fn shaped(flat: [f64; 6]) -> [[f64; 3]; 2] {
        [[flat[0], flat[1], flat[2]], [flat[3], flat[4], flat[5]]]
    }

    /// Both gradients against central differences of the loss, in `f64`.
    #[test]
    fn gradients_match_finite_differences() {
        const H: f64 = 1e-6;
        for (seed, eps) in [(1, 1e-5), (2, 0.5), (3, 1e-3)] {
            let weight = shaped(values(seed, 0.5, 1.5));
            let bias = shaped(values(seed + 10, -0.5, 0.5));
            let layer = LayerNorm::from_parts(weight, bias);
            let x = shaped(values(seed + 20, -2.0, 3.0));
            let c = shaped(values(seed + 30, -1.0, 1.0));
            let dx = layernorm_backward_input(&layer, &x, &c, eps);
            let mut gradients = LayerNormGradients::default();
            gradients.accumulate(&x, &c, eps);
            let close = |analytic: f64, numeric: f64, what: &str| {
                assert!(
                    (analytic - numeric).abs() <= 1e-7 * numeric.abs().max(1.0),
                    "{what}: {analytic} vs {numeric} (eps {eps})"
                );
            };
            for i in 0..6 {
                let (r, k) = (i / 3, i % 3);
                let nudge = |delta: f64| {
                    let mut moved = x;
                    moved[r][k] += delta;
                    loss(&layer, &moved, &c, eps)
                };
                close(dx[r][k], (nudge(H) - nudge(-H)) / (2.0 * H), "input");
                let nudge = |delta: f64| {
                    let mut moved = weight;
                    moved[r][k] += delta;
                    loss(&LayerNorm::from_parts(moved, bias), &x, &c, eps)
                };
                close(
                    gradients.weight()[r][k],
                    (nudge(H) - nudge(-H)) / (2.0 * H),
                    "weight",
                );
                let nudge = |delta: f64| {
                    let mut moved = bias;
                    moved[r][k] += delta;
                    loss(&LayerNorm::from_parts(weight, moved), &x, &c, eps)
                };
                close(
                    gradients.bias()[r][k],
                    (nudge(H) - nudge(-H)) / (2.0 * H),
                    "bias",
                );
            }
        }
    }

    #[test]
    fn gradients_add_up_and_reset() {
        let layer = LayerNorm::<[f32; 4]>::from_parts([1.0; 4], [0.0; 4]);
        let x = [1.0, 2.0, 3.0, 6.0];
        let mut gradients = LayerNormGradients::default();
        gradients.accumulate(&x, &[1.0; 4], 0.0);
        gradients.accumulate(&x, &[1.0; 4], 0.0);
        assert_eq!(gradients.bias(), &[2.0; 4]);
        // The standardised values sum to 0: so do the weight's gradients for a constant delta.
        assert!(gradients.weight().iter().sum::<f32>().abs() < 1e-5);
        // A constant delta through a unit weight moves every output alike, which the
        // standardisation cancels: no gradient reaches the input.
        let dx = layernorm_backward_input(&layer, &x, &[1.0; 4], 0.0);
        assert!(dx.iter().all(|d| d.abs() < 1e-6), "{dx:?}");
        let mut names = std::vec::Vec::new();
        gradients.for_each_tensor(|info, values| names.push((info.name, values.len())));
        assert_eq!(names, [("weight", 4), ("bias", 4)]);
        gradients.zero();
        assert_eq!(gradients, LayerNormGradients::default());
    }
}
