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
