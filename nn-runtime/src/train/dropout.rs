//! Dropout in training, as `nn.Dropout(p)` in training mode: each value is zeroed with
//! probability `p` and the others are scaled by `1 / (1 - p)`.
//!
//! The mask is a counter-based hash of (seed, sample number, layer, element): nothing is stored
//! between the forward and the backward pass (which recomputes it), and a sample's mask is the
//! same whether it is trained alone or in a chunk. [`Masks`], in the gradients struct of a
//! network with dropout, holds the seed and the number of samples that have drawn masks so far.

use crate::Scalar;
use crate::layers::Shaped;
use crate::zeroed::ZeroInit;

/// Where dropout's masks come from: a seed and the number of samples that have drawn masks,
/// advanced by every `accumulate_gradients` (one sample) and `accumulate_batch` (each sample in
/// turn). The generated gradients struct of a network with dropout holds one; `Trainer` seeds
/// it with its own seed ([`Gradients::dropout_masks`](super::Gradients::dropout_masks)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Masks {
    seed: u64,
    samples: u64,
}

// SAFETY: `Masks` holds two `u64`s, for which all-zero bytes are `0`.
#[allow(unsafe_code)]
unsafe impl ZeroInit for Masks {}

impl Masks {
    /// Masks drawn from `seed`, from the first sample on.
    pub const fn new(seed: u64) -> Self {
        Self { seed, samples: 0 }
    }

    /// The seed.
    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// Samples that have drawn masks so far.
    pub const fn samples(&self) -> u64 {
        self.samples
    }

    /// The masks of the next `n` samples: the key of the first (`key.at(k)` is sample `k`'s).
    pub fn take(&mut self, n: usize) -> MaskKey {
        let key = MaskKey {
            seed: self.seed,
            sample: self.samples,
        };
        self.samples = self.samples.wrapping_add(n as u64);
        key
    }
}

/// One sample's masks: what [`dropout_train`] hashes with the layer and the element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskKey {
    seed: u64,
    sample: u64,
}

impl MaskKey {
    /// The key of the `k`-th sample after this one's.
    #[must_use]
    pub const fn at(self, k: usize) -> Self {
        Self {
            seed: self.seed,
            sample: self.sample.wrapping_add(k as u64),
        }
    }
}

/// SplitMix64's finaliser: every bit of the result depends on every bit of `z`.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `values` times the mask of layer `layer` for `key` and `1 / (1 - p)`: dropout's forward
/// pass in training, and its backward pass (the same linear map) on the output's gradient.
/// Value `e` is kept when the hash of (seed, sample, layer, `e`) is at least `p` times `2^64`.
pub fn dropout_train<S: Shaped>(values: &S, p: f64, layer: u64, key: MaskKey) -> S {
    // `p` is in [0, 1), which the checker guarantees; the float-to-int cast saturates anyway.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let threshold = (p * 18_446_744_073_709_551_616.0) as u64;
    let scale = S::Scalar::from_f64(1.0 / (1.0 - p));
    let base = mix(mix(mix(key.seed) ^ key.sample) ^ layer);
    let mut output = *values;
    for (e, value) in output.values_mut().iter_mut().enumerate() {
        *value = if mix(base ^ e as u64) >= threshold {
            *value * scale
        } else {
            S::Scalar::ZERO
        };
    }
    output
}

#[cfg(test)]
// Kept values are exact multiples, and dropped ones exact zeros.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn a_fraction_p_is_dropped_and_the_rest_scaled() {
        let mut masks = Masks::new(7);
        let key = masks.take(3);
        assert_eq!(masks.samples(), 3);
        let ones = [[1.0f32; 100]; 40];
        let out = dropout_train(&ones, 0.25, 1, key);
        let kept = out.as_flattened().iter().filter(|v| **v != 0.0).count();
        // 4,000 draws of probability 0.75: within five standard deviations (27.4).
        assert!((2863..=3137).contains(&kept), "{kept}");
        let scaled = f32::from_f64(1.0 / 0.75);
        assert!(out.as_flattened().iter().all(|v| *v == 0.0 || *v == scaled));
        // The same key gives the same mask; another sample, layer or seed another.
        assert_eq!(dropout_train(&ones, 0.25, 1, key), out);
        assert_ne!(dropout_train(&ones, 0.25, 1, key.at(1)), out);
        assert_ne!(dropout_train(&ones, 0.25, 2, key), out);
        assert_ne!(dropout_train(&ones, 0.25, 1, Masks::new(8).take(1)), out);
        // `p = 0` keeps everything.
        assert_eq!(dropout_train(&ones, 0.0, 1, key), ones);
    }
}
