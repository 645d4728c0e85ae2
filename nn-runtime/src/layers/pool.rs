//! Pooling, as PyTorch's `nn.MaxPool1d`/`2d`, `nn.AvgPool1d`/`2d` (`count_include_pad=True`,
//! `ceil_mode=False`) and global average and maximum pooling
//! (`nn.AdaptiveAvgPool2d(1)`/`AdaptiveMaxPool2d(1)` flattened: one value per channel).

use super::window::{Axis, Run};
use super::{Shaped, exact, sum};
use crate::Scalar;
use crate::kernel;

/// Kernel, stride and padding of a 2-D pool, each `[height, width]`, with the meaning of
/// `nn.MaxPool2d`'s arguments; see [`Conv2dGeometry`](super::Conv2dGeometry) for why a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeometry {
    /// Window size.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Padding before the first and after the last value: `-inf` for a maximum, zeros counted
    /// in the divisor for an average.
    pub padding: [usize; 2],
}

impl Pool2dGeometry {
    /// PyTorch's defaults for a kernel: stride equal to the kernel, no padding.
    pub const fn new(kernel: [usize; 2]) -> Self {
        Self {
            kernel,
            stride: kernel,
            padding: [0, 0],
        }
    }

    /// The output's `[height, width]` for an input of `input`, as PyTorch computes it, or
    /// `None` when PyTorch would refuse the geometry: a zero kernel or stride, a padding above
    /// half the kernel, or a window larger than the padded input. `const`, for code generators.
    pub const fn output_size(self, input: [usize; 2]) -> Option<[usize; 2]> {
        let [rows, columns] = self.axes();
        match (
            pool_output_size(rows, input[0], self.kernel[0]),
            pool_output_size(columns, input[1], self.kernel[1]),
        ) {
            (Some(height), Some(width)) => Some([height, width]),
            _ => None,
        }
    }

    const fn axes(self) -> [Axis; 2] {
        [
            Axis {
                stride: self.stride[0],
                padding: self.padding[0],
                dilation: 1,
            },
            Axis {
                stride: self.stride[1],
                padding: self.padding[1],
                dilation: 1,
            },
        ]
    }
}

/// Kernel, stride and padding of a 1-D pool, with the meaning of `nn.MaxPool1d`'s arguments;
/// see [`Pool2dGeometry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool1dGeometry {
    /// Window size.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Padding before the first and after the last value.
    pub padding: usize,
}

impl Pool1dGeometry {
    /// PyTorch's defaults for a kernel: stride equal to the kernel, no padding.
    pub const fn new(kernel: usize) -> Self {
        Self {
            kernel,
            stride: kernel,
            padding: 0,
        }
    }

    /// The output's length for an input of `input` values, or `None` as
    /// [`Pool2dGeometry::output_size`].
    pub const fn output_size(self, input: usize) -> Option<usize> {
        pool_output_size(self.axis(), input, self.kernel)
    }

    const fn axis(self) -> Axis {
        Axis {
            stride: self.stride,
            padding: self.padding,
            dilation: 1,
        }
    }
}

/// PyTorch refuses a padding above half the kernel, which would make windows of padding only.
const fn pool_output_size(axis: Axis, input: usize, kernel: usize) -> Option<usize> {
    if axis.padding > kernel / 2 {
        return None;
    }
    axis.output_size(input, kernel)
}

/// The maximum, propagating NaN as PyTorch does: once a window holds a NaN, its maximum is NaN.
#[inline]
fn take_max<T: Scalar>(max: &mut T, value: T) {
    #[allow(clippy::eq_op)] // `value != value` is the test for NaN that `Scalar` offers
    if value > *max || value != value {
        *max = value;
    }
}

/// [`take_max`] without branches (both comparisons evaluated, then a select), so that LLVM
/// vectorises the loops that use it.
#[inline]
fn select_max<T: Scalar>(max: T, value: T) -> T {
    // `value != value` is the test for NaN that `Scalar` offers; `|` rather than `||`, so that
    // there is no branch.
    #[allow(clippy::eq_op, clippy::needless_bitwise_bool)]
    let take = (value > max) | (value != value);
    if take { value } else { max }
}

/// `-inf`, the padding of a maximum.
fn negative_infinity<T: Scalar>() -> T {
    T::from_f64(f64::NEG_INFINITY)
}

/// Visits, for one channel, every output row with every input row and kernel column of its
/// window (padding excluded), with the run of a kernel column: `f(output_row, input_row, run)`.
fn for_each_window_row<
    T: Scalar,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    plane: &mut [[T; OW]; OH],
    channel: &[[T; W]; H],
    geometry: Pool2dGeometry,
    mut f: impl FnMut(&mut [T; OW], &[T; W], Run),
) {
    let [rows, columns] = geometry.axes();
    for y in 0..geometry.kernel[0] {
        let (start, end, first_row) = rows.valid(y, H, OH);
        for x in 0..geometry.kernel[1] {
            let run = columns.run(x, W, OW);
            let input_rows = channel[first_row..].iter().step_by(rows.stride);
            for (output_row, input_row) in plane[start..end].iter_mut().zip(input_rows) {
                f(output_row, input_row, run);
            }
        }
    }
}

/// 2-D maximum pooling of one sample, as `nn.MaxPool2d`: each of the `C` channels separately.
/// `OH` and `OW` must be [`Pool2dGeometry::output_size`]'s (checked in debug builds; in
/// release, wrong sizes give wrong values, never a panic).
pub fn maxpool2d<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    input: &[[[T; W]; H]; C],
    geometry: Pool2dGeometry,
) -> [[[T; OW]; OH]; C] {
    debug_assert_eq!(geometry.output_size([H, W]), Some([OH, OW]), "{geometry:?}");
    let mut output = [[[negative_infinity(); OW]; OH]; C];
    if geometry == Pool2dGeometry::new([2, 2]) && OH * 2 <= H && OW * 2 <= W {
        // LeNet's pool: whole windows of 2 by 2, each output from two pairs of neighbours, in
        // vectors of outputs with `f32` on x86_64 (`lenet_b1` in bench/benches/onnx.rs). Same
        // maxima, compared in the same order, as the general loop below.
        let vectors = if OH * 2 == H {
            // The rows of every channel are one run of pairs of rows.
            kernel::max_pool_2x2(
                input.as_flattened().as_flattened(),
                W,
                output.as_flattened_mut().as_flattened_mut(),
                OW,
            )
        } else {
            output.iter_mut().zip(input).all(|(plane, channel)| {
                kernel::max_pool_2x2(channel.as_flattened(), W, plane.as_flattened_mut(), OW)
            })
        };
        if vectors {
            return output;
        }
        for (plane, channel) in output.iter_mut().zip(input) {
            for (out, [top, bottom]) in plane.iter_mut().zip(channel.as_chunks::<2>().0) {
                let (top, bottom) = (top.as_chunks::<2>().0, bottom.as_chunks::<2>().0);
                for ((max, top), bottom) in out.iter_mut().zip(top).zip(bottom) {
                    // `max` starts at `-inf`, so the first comparison always gives `top[0]`.
                    let mut m = top[0];
                    for value in [top[1], bottom[0], bottom[1]] {
                        m = select_max(m, value);
                    }
                    *max = m;
                }
            }
        }
        return output;
    }
    for (plane, channel) in output.iter_mut().zip(input) {
        for_each_window_row(plane, channel, geometry, |output_row, input_row, run| {
            run.apply(output_row, input_row, take_max);
        });
    }
    output
}

/// 2-D average pooling of one sample, as `nn.AvgPool2d` with `count_include_pad=True`: every
/// window's sum divided by the kernel's area, padding included. (Without `ceil_mode`, no window
/// reaches past the padding, so the divisor is always the area.)
pub fn avgpool2d<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    input: &[[[T; W]; H]; C],
    geometry: Pool2dGeometry,
) -> [[[T; OW]; OH]; C] {
    debug_assert_eq!(geometry.output_size([H, W]), Some([OH, OW]), "{geometry:?}");
    let area = T::from_f64(exact(geometry.kernel[0] * geometry.kernel[1]));
    let mut output = [[[T::ZERO; OW]; OH]; C];
    for (plane, channel) in output.iter_mut().zip(input) {
        for_each_window_row(plane, channel, geometry, |output_row, input_row, run| {
            run.apply(output_row, input_row, |sum, value| *sum += value);
        });
        for value in plane.as_flattened_mut() {
            *value = *value / area;
        }
    }
    output
}

/// 1-D maximum pooling of one sample, as `nn.MaxPool1d`: each of the `C` channels separately.
/// `OL` must be [`Pool1dGeometry::output_size`]'s (checked in debug builds).
pub fn maxpool1d<T: Scalar, const C: usize, const L: usize, const OL: usize>(
    input: &[[T; L]; C],
    geometry: Pool1dGeometry,
) -> [[T; OL]; C] {
    debug_assert_eq!(geometry.output_size(L), Some(OL), "{geometry:?}");
    let axis = geometry.axis();
    let mut output = [[negative_infinity(); OL]; C];
    for (row, channel) in output.iter_mut().zip(input) {
        for k in 0..geometry.kernel {
            axis.for_each_tap(k, row, channel, take_max);
        }
    }
    output
}

/// 1-D average pooling of one sample, as `nn.AvgPool1d` with `count_include_pad=True`: every
/// window's sum divided by the kernel's size.
pub fn avgpool1d<T: Scalar, const C: usize, const L: usize, const OL: usize>(
    input: &[[T; L]; C],
    geometry: Pool1dGeometry,
) -> [[T; OL]; C] {
    debug_assert_eq!(geometry.output_size(L), Some(OL), "{geometry:?}");
    let axis = geometry.axis();
    let size = T::from_f64(exact(geometry.kernel));
    let mut output = [[T::ZERO; OL]; C];
    for (row, channel) in output.iter_mut().zip(input) {
        for k in 0..geometry.kernel {
            axis.for_each_tap(k, row, channel, |sum, value| *sum += value);
        }
        for value in row {
            *value = *value / size;
        }
    }
    output
}

/// The mean of each channel: `[C, L]` or `[C, H, W]` (`S` being `[T; L]` or `[[T; W]; H]`) to
/// `[C]`, as `nn.AdaptiveAvgPool2d(1)` followed by a flatten.
pub fn global_avgpool<S: Shaped, const C: usize>(input: &[S; C]) -> [S::Scalar; C] {
    let count = S::Scalar::from_f64(exact(S::LEN));
    core::array::from_fn(|c| sum(input[c].values()) / count)
}

/// The maximum of each channel, `[C, ...]` to `[C]`, propagating NaN as
/// [`maxpool2d`].
pub fn global_maxpool<S: Shaped, const C: usize>(input: &[S; C]) -> [S::Scalar; C] {
    core::array::from_fn(|c| {
        let mut max = negative_infinity();
        for &value in input[c].values() {
            take_max(&mut max, value);
        }
        max
    })
}

#[cfg(test)]
// The values compared are small integers and halves, exact in binary floating point.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    /// Windows reach into the padding: a maximum ignores it (`-inf`), an average counts it as
    /// zeros, dividing by the whole kernel.
    #[test]
    fn windows_over_the_padding() {
        let geometry = Pool1dGeometry {
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        let input = [[1.0, 2.0, 3.0]];
        assert_eq!(
            maxpool1d::<f64, 1, 3, 3>(&input, geometry),
            [[2.0, 3.0, 3.0]]
        );
        let average: [[f64; 3]; 1] = avgpool1d(&input, geometry);
        assert_eq!(average, [[1.0, 2.0, 5.0 / 3.0]]);
        // Negative values: a maximum never sees a padded zero.
        let negative = [[[-5.0f32, -6.0], [-7.0, -8.0]]];
        let geometry = Pool2dGeometry {
            kernel: [2, 2],
            stride: [1, 1],
            padding: [1, 1],
        };
        let max: [[[f32; 3]; 3]; 1] = maxpool2d(&negative, geometry);
        assert_eq!(
            max,
            [[[-5.0, -5.0, -6.0], [-5.0, -5.0, -6.0], [-7.0, -7.0, -8.0]]]
        );
        let average: [[[f32; 3]; 3]; 1] = avgpool2d(&negative, geometry);
        assert_eq!(average[0][0], [-1.25, -2.75, -1.5]);
        assert_eq!(average[0][1][1], -6.5);
    }

    /// A stride larger than the kernel skips values; the last incomplete window is dropped.
    #[test]
    fn stride_beyond_the_kernel() {
        let geometry = Pool1dGeometry {
            kernel: 2,
            stride: 3,
            padding: 0,
        };
        let input = [core::array::from_fn::<f64, 9, _>(|i| i as f64)];
        assert_eq!(geometry.output_size(9), Some(3));
        assert_eq!(
            maxpool1d::<f64, 1, 9, 3>(&input, geometry),
            [[1.0, 4.0, 7.0]]
        );
        assert_eq!(
            avgpool1d::<f64, 1, 9, 3>(&input, geometry),
            [[0.5, 3.5, 6.5]]
        );
    }

    #[test]
    fn maxima_propagate_nan() {
        let input = [[1.0, f64::NAN, 3.0, 4.0]];
        let max: [[f64; 2]; 1] = maxpool1d(&input, Pool1dGeometry::new(2));
        assert!(max[0][0].is_nan());
        assert_eq!(max[0][1], 4.0);
        assert!(global_maxpool(&input)[0].is_nan());
        assert!(global_maxpool(&[[f64::NAN, 1.0]])[0].is_nan());
    }

    #[test]
    fn output_sizes_follow_pytorchs_rules() {
        assert_eq!(
            Pool2dGeometry::new([2, 2]).output_size([7, 8]),
            Some([3, 4])
        );
        // PyTorch refuses a padding above half the kernel.
        let geometry = Pool1dGeometry {
            padding: 2,
            ..Pool1dGeometry::new(3)
        };
        assert_eq!(geometry.output_size(10), None);
        assert_eq!(Pool1dGeometry::new(4).output_size(3), None);
    }

    #[test]
    fn global_pools_reduce_each_channel() {
        let input: [[[f64; 3]; 2]; 2] = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[-1.0; 3]; 2]];
        assert_eq!(global_avgpool(&input), [3.5, -1.0]);
        assert_eq!(global_maxpool(&input), [6.0, -1.0]);
        let long = [[0.5f32; 1000]];
        assert_eq!(global_avgpool(&long), [0.5]);
    }
}
