//! Layers that move values without arithmetic: flatten, and dropout at inference.

use super::Shaped;

/// A sample as one vector in PyTorch's row-major order, as `torch.flatten(x, 1)` on a batch:
/// `[[[T; W]; H]; C]` to `[T; C * H * W]` (`N` must be the sample's length: checked at compile
/// time).
#[inline]
pub fn flatten<S: Shaped, const N: usize>(input: &S) -> [S::Scalar; N] {
    const {
        assert!(
            N == S::LEN,
            "flatten's output length must be the sample's number of values"
        );
    };
    let mut output = [<S::Scalar as crate::Scalar>::ZERO; N];
    output.copy_from_slice(input.values());
    output
}

/// Dropout at inference, as `nn.Dropout(p)` in eval mode: the identity, whatever `p`.
#[inline]
pub fn dropout<S: Shaped>(input: &S) -> S {
    *input
}

#[cfg(test)]
// The values compared are copies.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn flatten_is_row_major() {
        let sample: [[[f32; 3]; 2]; 2] = core::array::from_fn(|c| {
            core::array::from_fn(|y| core::array::from_fn(|x| (c * 100 + y * 10 + x) as f32))
        });
        let flat: [f32; 12] = flatten(&sample);
        assert_eq!(flat[..4], [0.0, 1.0, 2.0, 10.0]);
        assert_eq!(flat[11], 112.0);
        assert_eq!(dropout(&sample), sample);
    }
}
