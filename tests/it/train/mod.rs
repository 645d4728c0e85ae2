//! Training: gradient checks, the cross-check against autograd, determinism, the trainer,
//! allocation-free backpropagation and the loss/activation compile error.

// Exact comparisons of floats are the point where the tests use them (bit-identical runs,
// values that are exact by construction).
#![allow(clippy::float_cmp)]

mod alloc_free;
mod batch;
mod batchnorm;
mod crosscheck;
mod gradcheck;
mod hygiene;
mod kinds;
mod layernorm;
mod trainer;

use nn::Network;
use nn::train::{Gradients, Loss, Trainable};

pub use crate::generated::Rng;

/// Every weight and bias of `net`, in the `Network::for_each_tensor` order (weights by column).
pub fn parameters<N: Network>(net: &N) -> Vec<N::Scalar> {
    let mut all = Vec::new();
    net.for_each_tensor(|_, _, values| all.extend_from_slice(values));
    all
}

/// Every gradient, in the same order as [`parameters`].
pub fn flat_gradients<G: Gradients>(gradients: &G) -> Vec<G::Scalar> {
    let mut all = Vec::new();
    gradients.for_each_tensor(|_, values| all.extend_from_slice(values));
    all
}

/// Calls `f` on parameter number `k` of `net`.
pub fn with_parameter<N: Network>(net: &mut N, k: usize, mut f: impl FnMut(&mut N::Scalar)) {
    let mut offset = 0;
    net.for_each_tensor_mut(|_, _, values| {
        for p in values {
            if offset == k {
                f(p);
            }
            offset += 1;
        }
    });
}

/// Mean loss over a batch.
pub fn batch_loss<N: Trainable<Scalar = f64>, L: Loss<N::OutputActivation>>(
    net: &N,
    loss: &L,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> f64 {
    let sum: f64 = inputs
        .iter()
        .zip(targets)
        .map(|(x, y)| net.evaluate(x, y, loss).loss)
        .sum();
    sum / inputs.len() as f64
}

/// Mean loss and the mean gradient of every parameter over a batch, from the generated
/// backward pass.
pub fn batch_gradients<N: Trainable<Scalar = f64>, L: Loss<N::OutputActivation>>(
    net: &N,
    loss: &L,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> (f64, Vec<f64>) {
    let mut gradients = N::Gradients::zeroed();
    let scale = 1.0 / inputs.len() as f64;
    let mut total = 0.0;
    for (x, y) in inputs.iter().zip(targets) {
        total += net
            .accumulate_gradients(x, y, loss, scale, &mut gradients)
            .loss;
    }
    (total * scale, flat_gradients(&*gradients))
}
