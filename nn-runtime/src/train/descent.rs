//! Plain gradient descent without an allocator ([`sgd_step`]), and the pairing of a network's
//! trained tensors with their gradients that the optimizers share.

use super::{Gradients, Parameters};
use crate::Scalar;
use crate::kernel::with_widest;

/// One step of plain gradient descent, `p -= learning_rate * g` for every trained value `p` of
/// `net` and its gradient `g`, without an allocator: the step of
/// [`Sgd::new(learning_rate)`](super::Sgd) (no momentum, no weight decay), with its bits, for
/// devices that train without a heap (the optimizers keep their state in a `Vec`). Subnormal
/// results become zero, as the optimizers' do.
pub fn sgd_step<N: Parameters>(net: &mut N, gradients: &N::Gradients, learning_rate: N::Scalar) {
    descend(net, gradients, learning_rate, N::Scalar::ZERO);
}

/// `p -= rate * (g + decay * p)` for every trained value `p` of `net` and its gradient `g`,
/// subnormal results zero: `Sgd`'s step without momentum, and [`sgd_step`]'s.
pub(super) fn descend<N: Parameters>(
    net: &mut N,
    gradients: &N::Gradients,
    rate: N::Scalar,
    decay: N::Scalar,
) {
    let smallest = smallest_normal::<N::Scalar>();
    for_each_parameter(net, gradients, |_, parameters, gradients| {
        // Compiled for the CPU's widest vectors (the same results at every width).
        with_widest(|| {
            for (p, &g) in parameters.iter_mut().zip(gradients) {
                let g = g + decay * *p;
                *p = flush(*p - rate * g, smallest);
            }
        });
    });
}

/// Trained tensors paired with their gradients per round of [`for_each_parameter`]: one round
/// for networks of up to 32 dense layers.
const ROUND: usize = 64;

/// Calls `f(offset, parameters, gradients)` for each trained tensor of `net` with its
/// gradients, `offset` being the position of its first value among the trained values, in the
/// order of [`Parameters::for_each_parameter_mut`].
///
/// Without allocating: the gradients' slices are gathered on the stack, [`ROUND`] at a time,
/// then the network is visited for writing and its trained tensors paired with them.
pub(super) fn for_each_parameter<N: Parameters>(
    net: &mut N,
    gradients: &N::Gradients,
    mut f: impl FnMut(usize, &mut [N::Scalar], &[N::Scalar]),
) {
    let (mut done, mut offset) = (0_usize, 0);
    loop {
        let mut round: [&[N::Scalar]; ROUND] = [&[]; ROUND];
        let (mut count, mut seen) = (0, 0);
        gradients.for_each_tensor(|_, values| {
            if seen >= done && count < ROUND {
                round[count] = values;
                count += 1;
            }
            seen += 1;
        });
        if count == 0 {
            return;
        }
        let mut index = 0_usize;
        net.for_each_parameter_mut(|_, parameters| {
            if let Some(gradients) = index.checked_sub(done).and_then(|k| round[..count].get(k)) {
                f(offset, parameters, gradients);
                offset += parameters.len();
            }
            index += 1;
        });
        done += count;
    }
}

/// The smallest positive normal value of `T`.
pub(super) fn smallest_normal<T: Scalar>() -> T {
    if T::NAME == "f32" {
        T::from_f64(f64::from(f32::MIN_POSITIVE))
    } else {
        T::from_f64(f64::MIN_POSITIVE)
    }
}

/// `x`, or zero if it is subnormal. Weights that weight decay drives towards zero, and Adam's
/// moments of gradients that are zero, end up subnormal, and arithmetic on subnormal numbers is
/// far slower on x86 (the training rate that `examples/train_digits.rs` prints, with Adam and
/// weight decay). Values below `1e-38` (`f32`) or `1e-308` (`f64`) change no result that
/// matters.
#[inline]
pub(super) fn flush<T: Scalar>(x: T, smallest: T) -> T {
    if x < smallest && -x < smallest {
        T::ZERO
    } else {
        x
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // flushing is exact
mod tests {
    use super::*;

    #[test]
    fn subnormals_are_flushed_and_normals_kept() {
        let smallest = smallest_normal::<f32>();
        assert_eq!(smallest, f32::MIN_POSITIVE);
        assert_eq!(flush(f32::MIN_POSITIVE / 2.0, smallest), 0.0);
        assert_eq!(flush(-f32::MIN_POSITIVE / 2.0, smallest), 0.0);
        assert_eq!(flush(f32::MIN_POSITIVE, smallest), f32::MIN_POSITIVE);
        assert_eq!(flush(-1.5_f32, smallest), -1.5);
        let smallest = smallest_normal::<f64>();
        assert_eq!(smallest, f64::MIN_POSITIVE);
        assert_eq!(flush(1e-310_f64, smallest), 0.0);
        assert_eq!(flush(1e-300_f64, smallest), 1e-300);
    }
}
