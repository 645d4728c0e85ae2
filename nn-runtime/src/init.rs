//! Random initialisation: He for the ReLU family, Xavier (Glorot) for the rest.

use crate::{Init, Network, Scalar};

/// SplitMix64: a tiny, fast, well-studied generator. Initialisation needs reproducible,
/// well-spread numbers, not cryptographic ones, and this keeps `no_std` builds free of
/// dependencies.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`; equal seeds give equal sequences on every platform.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[-bound, bound)`.
    pub fn uniform(&mut self, bound: f64) -> f64 {
        (2.0 * self.next_f64() - 1.0) * bound
    }
}

/// Fills every tensor of `net` as its [`Init`] says, drawing from `seed`: weights uniform,
/// biases zero, normalisations' scales and running variances one; a recurrent layer's tensors
/// uniform in `[-1 / sqrt(H), 1 / sqrt(H))`, as PyTorch's.
///
/// Weights are uniform in `[-b, b)`: `b = sqrt(6 / fan_in)` (He) for the ReLU family, so their
/// variance is `2 / fan_in`; `b = sqrt(6 / (fan_in + fan_out))` (Xavier) otherwise. They are
/// drawn in PyTorch's order, whatever the storage order, tensor after tensor in the order of
/// [`Network::for_each_tensor`].
pub fn randomize<N: Network>(net: &mut N, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    net.for_each_tensor_mut(|layer, tensor, values| match tensor.init {
        Init::Zeros => values.fill(N::Scalar::ZERO),
        Init::Ones => values.fill(N::Scalar::ONE),
        Init::Uniform => {
            let (fan_in, fan_out) = tensor.fans();
            let bound = if layer.activation.is_relu_like() {
                libm::sqrt(6.0 / fan_in as f64)
            } else {
                libm::sqrt(6.0 / (fan_in + fan_out) as f64)
            };
            for index in tensor.storage_indices() {
                let value = N::Scalar::from_f64(rng.uniform(bound));
                if let Some(slot) = values.get_mut(index) {
                    *slot = value;
                }
            }
        }
        Init::UniformHidden { hidden } => {
            let bound = 1.0 / libm::sqrt(hidden.max(1) as f64);
            for index in tensor.storage_indices() {
                let value = N::Scalar::from_f64(rng.uniform(bound));
                if let Some(slot) = values.get_mut(index) {
                    *slot = value;
                }
            }
        }
    });
}

#[cfg(test)]
// These tests check results that must be exact, and name values as the formulas do.
#[allow(clippy::float_cmp, clippy::many_single_char_names)]
mod tests {
    use super::*;

    #[test]
    fn uniform_stays_in_bounds_and_is_centred() {
        let mut rng = SplitMix64::new(7);
        let samples: [f64; 10_000] = core::array::from_fn(|_| rng.uniform(0.5));
        assert!(samples.iter().all(|x| (-0.5..0.5).contains(x)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        // Variance of U(-b, b) is b^2 / 3.
        let variance = samples.iter().map(|x| x * x).sum::<f64>() / samples.len() as f64;
        assert!((variance - 0.25 / 3.0).abs() < 0.005, "variance {variance}");
    }

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let mut c = SplitMix64::new(43);
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
    }
}
