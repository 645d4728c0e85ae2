//! A sliding window along one axis: the index arithmetic every convolution and pool shares.

use crate::Scalar;

/// Stride, padding (on both ends, as PyTorch's) and dilation along one spatial axis.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Axis {
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
}

impl Axis {
    /// PyTorch's output length, `(input + 2 padding - dilation (kernel - 1) - 1) / stride + 1`
    /// (rounded down, `ceil_mode=False`), or `None` when the stride or dilation is 0, the
    /// kernel is empty, the window does not fit the padded input, or the padded input or the
    /// window's span does not fit a `usize` (so that an accepted geometry's padded sizes can
    /// be computed without overflow, which the kernels' bounds rely on).
    #[inline]
    pub const fn output_size(self, input: usize, kernel: usize) -> Option<usize> {
        if self.stride == 0 || self.dilation == 0 || kernel == 0 {
            return None;
        }
        let (Some(span), Some(padded)) = (
            checked_mul_add(self.dilation, kernel - 1, 1),
            checked_mul_add(self.padding, 2, input),
        ) else {
            return None;
        };
        if padded < span {
            return None;
        }
        Some((padded - span) / self.stride + 1)
    }

    /// The outputs `start..end` (within `0..output`) whose tap `tap` reads an input inside
    /// `0..input` rather than padding, and the input the first of them reads.
    ///
    /// Output `o` reads input `o * stride + tap * dilation - padding`; computing the range once
    /// keeps the padding tests out of the inner loops. A stride of 0, which
    /// [`output_size`](Self::output_size) refuses, reaches nothing rather than dividing by 0.
    #[inline]
    pub fn valid(self, tap: usize, input: usize, output: usize) -> (usize, usize, usize) {
        if self.stride == 0 {
            return (0, 0, 0);
        }
        let offset = tap * self.dilation;
        let start = if offset >= self.padding {
            0
        } else {
            (self.padding - offset).div_ceil(self.stride)
        };
        let end = if input + self.padding > offset {
            ((input + self.padding - offset - 1) / self.stride + 1).min(output)
        } else {
            0
        };
        if start >= end {
            return (0, 0, 0);
        }
        (start, end, start * self.stride + offset - self.padding)
    }

    /// The run of outputs that tap `tap` reaches inside the input: see [`Run::apply`].
    #[inline]
    pub fn run(self, tap: usize, input: usize, output: usize) -> Run {
        let (start, end, first) = self.valid(tap, input, output);
        Run {
            start,
            end,
            first,
            stride: self.stride,
        }
    }

    /// [`Run::apply`] for tap `tap` of `outputs` over `inputs`.
    #[inline]
    pub fn for_each_tap<T: Scalar>(
        self,
        tap: usize,
        outputs: &mut [T],
        inputs: &[T],
        f: impl FnMut(&mut T, T),
    ) {
        self.run(tap, inputs.len(), outputs.len())
            .apply(outputs, inputs, f);
    }
}

/// The outputs `start..end` that one tap of a window reaches inside the input, reading from
/// input `first` on, `stride` apart: computed once per tap, applied to every row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    start: usize,
    end: usize,
    first: usize,
    stride: usize,
}

impl Run {
    /// Calls `f(output, input)` for each output of the run with the input it reads: a zip of
    /// two contiguous slices of equal length when the stride is 1, which LLVM vectorises.
    /// Outputs or inputs out of range are skipped, never a panic.
    #[inline]
    pub fn apply<T: Scalar>(self, outputs: &mut [T], inputs: &[T], mut f: impl FnMut(&mut T, T)) {
        let Some(outputs) = outputs.get_mut(self.start..self.end) else {
            return;
        };
        if self.stride == 1 {
            let Some(inputs) = inputs.get(self.first..self.first + outputs.len()) else {
                return;
            };
            for (y, x) in outputs.iter_mut().zip(inputs) {
                f(y, *x);
            }
        } else if let Some(inputs) = inputs.get(self.first..) {
            for (y, x) in outputs.iter_mut().zip(inputs.iter().step_by(self.stride)) {
                f(y, *x);
            }
        }
    }
}

/// `a * b + c`, or `None` on overflow.
const fn checked_mul_add(a: usize, b: usize, c: usize) -> Option<usize> {
    match a.checked_mul(b) {
        Some(product) => product.checked_add(c),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output and tap, checked against the definition.
    #[test]
    fn valid_ranges_match_the_definition() {
        for stride in 1..4 {
            for padding in 0..4 {
                for dilation in 1..3 {
                    for kernel in 1..5 {
                        for input in 1..9 {
                            let axis = Axis {
                                stride,
                                padding,
                                dilation,
                            };
                            let Some(output) = axis.output_size(input, kernel) else {
                                assert!(input + 2 * padding < dilation * (kernel - 1) + 1);
                                continue;
                            };
                            for tap in 0..kernel {
                                let (start, end, first) = axis.valid(tap, input, output);
                                for o in 0..output {
                                    let at = (o * stride + tap * dilation).checked_sub(padding);
                                    let inside = at.is_some_and(|i| i < input);
                                    assert_eq!((start..end).contains(&o), inside, "{axis:?}");
                                    if o == start && inside {
                                        assert_eq!(at, Some(first));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn output_size_is_pytorchs() {
        let axis = |stride, padding, dilation| Axis {
            stride,
            padding,
            dilation,
        };
        assert_eq!(axis(1, 0, 1).output_size(7, 3), Some(5));
        assert_eq!(axis(2, 1, 1).output_size(9, 3), Some(5));
        assert_eq!(axis(3, 0, 1).output_size(10, 2), Some(3));
        assert_eq!(axis(1, 2, 2).output_size(9, 3), Some(9));
        assert_eq!(axis(1, 0, 1).output_size(2, 3), None);
        assert_eq!(axis(0, 0, 1).output_size(2, 1), None);
    }

    /// A padding or dilation whose sizes do not fit a `usize` has no output, rather than a
    /// wrapped one (the direct int8 kernels read by such sizes).
    #[test]
    fn sizes_beyond_usize_have_no_output() {
        let axis = |stride, padding, dilation| Axis {
            stride,
            padding,
            dilation,
        };
        assert_eq!(axis(1, 1 << 62, 1).output_size(8, 1), Some((1 << 63) + 8));
        assert_eq!(axis(1, 1 << 63, 1).output_size(8, 1), None);
        assert_eq!(axis(1, usize::MAX / 2, 1).output_size(2, 1), None);
        assert_eq!(axis(1, 0, 1 << 63).output_size(8, 3), None);
        assert_eq!(axis(1, 0, usize::MAX).output_size(8, 2), None);
    }
}
