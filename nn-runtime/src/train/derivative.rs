//! Derivatives of the activations, applied to a gradient in place.
//!
//! Each function turns `delta`, the gradient of the loss with respect to a layer's outputs,
//! into the gradient with respect to its pre-activations, given the pre-activations `pre` and
//! the outputs `output` of the forward pass (each uses whichever gives the more accurate
//! formula). Softmax and log-softmax mix the layer, so theirs are Jacobian-vector products.
//! At a kink (ReLU at 0) the derivative is PyTorch's choice: that of the left side.

use crate::activation::{GELU_TANH, sigmoid_one};
use crate::{Activation, Scalar};

/// Applies the derivative of `activation`, dispatching at run time (the losses use it for the
/// output layer; generated code calls the functions below directly for hidden layers).
pub fn apply<T: Scalar>(activation: Activation, pre: &[T], output: &[T], delta: &mut [T]) {
    match activation {
        Activation::Linear => linear(pre, output, delta),
        Activation::Relu => relu(pre, output, delta),
        Activation::LeakyRelu(alpha) => leaky_relu(pre, output, delta, T::from_f64(alpha)),
        Activation::Elu(alpha) => elu(pre, output, delta, T::from_f64(alpha)),
        Activation::Sigmoid => sigmoid(pre, output, delta),
        Activation::Tanh => tanh(pre, output, delta),
        Activation::Silu => silu(pre, output, delta),
        Activation::Gelu => gelu(pre, output, delta),
        Activation::GeluTanh => gelu_tanh(pre, output, delta),
        Activation::Softplus => softplus(pre, output, delta),
        Activation::Softmax => softmax(pre, output, delta),
        Activation::LogSoftmax => log_softmax(pre, output, delta),
    }
}

/// `1`: leaves `delta` unchanged.
#[inline]
pub fn linear<T: Scalar>(_pre: &[T], _output: &[T], _delta: &mut [T]) {}

/// `1` where `pre > 0`, else `0`.
#[inline]
pub fn relu<T: Scalar>(pre: &[T], _output: &[T], delta: &mut [T]) {
    for (d, &z) in delta.iter_mut().zip(pre) {
        if z <= T::ZERO {
            *d = T::ZERO;
        }
    }
}

/// `1` where `pre > 0`, else `alpha`.
#[inline]
pub fn leaky_relu<T: Scalar>(pre: &[T], _output: &[T], delta: &mut [T], alpha: T) {
    for (d, &z) in delta.iter_mut().zip(pre) {
        if z <= T::ZERO {
            *d *= alpha;
        }
    }
}

/// `1` where `pre > 0`, else `alpha * exp(pre)` (not `output + alpha`, which cancels).
#[inline]
pub fn elu<T: Scalar>(pre: &[T], _output: &[T], delta: &mut [T], alpha: T) {
    for (d, &z) in delta.iter_mut().zip(pre) {
        if z <= T::ZERO {
            *d *= alpha * z.exp();
        }
    }
}

/// `s * (1 - s)` with `s` the output.
#[inline]
pub fn sigmoid<T: Scalar>(_pre: &[T], output: &[T], delta: &mut [T]) {
    for (d, &s) in delta.iter_mut().zip(output) {
        *d *= s * (T::ONE - s);
    }
}

/// `1 - t^2` with `t` the output.
#[inline]
pub fn tanh<T: Scalar>(_pre: &[T], output: &[T], delta: &mut [T]) {
    for (d, &t) in delta.iter_mut().zip(output) {
        *d *= T::ONE - t * t;
    }
}

/// `s * (1 + x * (1 - s))` with `s = sigmoid(x)`.
#[inline]
pub fn silu<T: Scalar>(pre: &[T], _output: &[T], delta: &mut [T]) {
    for (d, &x) in delta.iter_mut().zip(pre) {
        let s = sigmoid_one(x);
        *d *= s * (T::ONE + x * (T::ONE - s));
    }
}

/// `Phi(x) + x * phi(x)`: the normal CDF plus `x` times the normal density.
#[inline]
pub fn gelu<T: Scalar>(pre: &[T], _output: &[T], delta: &mut [T]) {
    let half = T::from_f64(0.5);
    let inv_sqrt2 = T::from_f64(core::f64::consts::FRAC_1_SQRT_2);
    // 1 / sqrt(2 pi).
    let inv_sqrt_2pi = T::from_f64(0.398_942_280_401_432_7);
    for (d, &x) in delta.iter_mut().zip(pre) {
        let cdf = half * (T::ONE + (x * inv_sqrt2).erf());
        let density = inv_sqrt_2pi * (-half * x * x).exp();
        *d *= cdf + x * density;
    }
}

/// `(1 + t) / 2 + x / 2 * (1 - t^2) * sqrt(2 / pi) * (1 + 3 * 0.044715 * x^2)`, with `t =
/// tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))`: as PyTorch's backward of `nn.GELU(approximate=
/// "tanh")`.
#[inline]
pub fn gelu_tanh<T: Scalar>(pre: &[T], _output: &[T], delta: &mut [T]) {
    let half = T::from_f64(0.5);
    let (beta, kappa) = GELU_TANH;
    let (beta, kappa, three_kappa) = (
        T::from_f64(beta),
        T::from_f64(kappa),
        T::from_f64(3.0 * kappa),
    );
    for (d, &x) in delta.iter_mut().zip(pre) {
        let square = x * x;
        let t = (beta * (x + kappa * square * x)).tanh();
        let slope = beta * (T::ONE + three_kappa * square);
        *d *= half * (T::ONE + t) + half * x * (T::ONE - t * t) * slope;
    }
}

/// `sigmoid(x)`.
#[inline]
pub fn softplus<T: Scalar>(pre: &[T], _output: &[T], delta: &mut [T]) {
    for (d, &x) in delta.iter_mut().zip(pre) {
        *d *= sigmoid_one(x);
    }
}

/// `J^T delta` for `p = softmax(x)`: `p_i * (delta_i - sum_j delta_j p_j)`.
#[inline]
pub fn softmax<T: Scalar>(_pre: &[T], output: &[T], delta: &mut [T]) {
    let mut dot = T::ZERO;
    for (&d, &p) in delta.iter().zip(output) {
        dot += d * p;
    }
    for (d, &p) in delta.iter_mut().zip(output) {
        *d = p * (*d - dot);
    }
}

/// `J^T delta` for `y = log_softmax(x)`: `delta_i - exp(y_i) * sum_j delta_j`.
#[inline]
pub fn log_softmax<T: Scalar>(_pre: &[T], output: &[T], delta: &mut [T]) {
    let mut sum = T::ZERO;
    for &d in delta.iter() {
        sum += d;
    }
    for (d, &y) in delta.iter_mut().zip(output) {
        *d = *d - y.exp() * sum;
    }
}
