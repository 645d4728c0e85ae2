//! The backward pass of the layers without tensors: pools, global pools and flatten (dropout's
//! is in `dropout.rs`).
//!
//! Each function takes `delta`, the gradient of the loss with respect to the layer's output
//! (before its activation), and returns the gradient with respect to its input. A maximum
//! passes each output's gradient to the input it took, the first maximum in window order (rows,
//! then columns), as PyTorch's CPU kernels; a NaN in the window takes it, as in the forward
//! pass. An average spreads it evenly over the kernel, padding included
//! (`count_include_pad=True`): the padding's share goes nowhere. Output sizes must be the
//! geometry's, as for the forward pass (checked in debug builds; in release, wrong sizes give
//! wrong values, never a panic).

use crate::Scalar;
use crate::layers::{Pool1dGeometry, Pool2dGeometry, Shaped};

/// The index, along one axis, of tap `tap` of output `output`'s window, `None` in the padding.
#[inline]
fn inside(output: usize, tap: usize, stride: usize, padding: usize, len: usize) -> Option<usize> {
    (output * stride + tap)
        .checked_sub(padding)
        .filter(|&i| i < len)
}

/// Whether `value` replaces the maximum `max` so far: greater, or NaN (`value != value`, the
/// test `Scalar` offers), as the forward pass decides.
#[inline]
fn takes_over<T: Scalar>(value: T, max: T) -> bool {
    #[allow(clippy::eq_op)]
    let nan = value != value;
    value > max || nan
}

/// The gradient of [`maxpool2d`](crate::layers::maxpool2d) with respect to its `input`.
pub fn maxpool2d_backward<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    input: &[[[T; W]; H]; C],
    delta: &[[[T; OW]; OH]; C],
    geometry: Pool2dGeometry,
) -> [[[T; W]; H]; C] {
    let Pool2dGeometry {
        kernel: [kh, kw],
        stride: [sh, sw],
        padding: [ph, pw],
    } = geometry;
    debug_assert_eq!(geometry.output_size([H, W]), Some([OH, OW]), "{geometry:?}");
    let mut below = [[[T::ZERO; W]; H]; C];
    for ((channel, plane), gradients) in input.iter().zip(delta).zip(&mut below) {
        for (oy, row) in plane.iter().enumerate() {
            for (ox, &d) in row.iter().enumerate() {
                // PyTorch starts from the window's first input and a maximum of `-inf`.
                let mut best: Option<(usize, usize)> = None;
                let mut max = T::from_f64(f64::NEG_INFINITY);
                for y in (0..kh).filter_map(|k| inside(oy, k, sh, ph, H)) {
                    for x in (0..kw).filter_map(|k| inside(ox, k, sw, pw, W)) {
                        let value = channel[y][x];
                        if takes_over(value, max) {
                            max = value;
                            best = Some((y, x));
                        } else if best.is_none() {
                            best = Some((y, x));
                        }
                    }
                }
                if let Some((y, x)) = best {
                    gradients[y][x] += d;
                }
            }
        }
    }
    below
}

/// The gradient of [`avgpool2d`](crate::layers::avgpool2d) with respect to its input, which it
/// takes, unread, so that every pool's backward pass has the same signature.
pub fn avgpool2d_backward<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    _input: &[[[T; W]; H]; C],
    delta: &[[[T; OW]; OH]; C],
    geometry: Pool2dGeometry,
) -> [[[T; W]; H]; C] {
    let Pool2dGeometry {
        kernel: [kh, kw],
        stride: [sh, sw],
        padding: [ph, pw],
    } = geometry;
    debug_assert_eq!(geometry.output_size([H, W]), Some([OH, OW]), "{geometry:?}");
    let area = T::from_f64(count(kh * kw));
    let mut below = [[[T::ZERO; W]; H]; C];
    for (plane, gradients) in delta.iter().zip(&mut below) {
        for (oy, row) in plane.iter().enumerate() {
            for (ox, &d) in row.iter().enumerate() {
                let share = d / area;
                for y in (0..kh).filter_map(|k| inside(oy, k, sh, ph, H)) {
                    for x in (0..kw).filter_map(|k| inside(ox, k, sw, pw, W)) {
                        gradients[y][x] += share;
                    }
                }
            }
        }
    }
    below
}

/// The gradient of [`maxpool1d`](crate::layers::maxpool1d) with respect to its `input`.
pub fn maxpool1d_backward<T: Scalar, const C: usize, const L: usize, const OL: usize>(
    input: &[[T; L]; C],
    delta: &[[T; OL]; C],
    geometry: Pool1dGeometry,
) -> [[T; L]; C] {
    let Pool1dGeometry {
        kernel,
        stride,
        padding,
    } = geometry;
    debug_assert_eq!(geometry.output_size(L), Some(OL), "{geometry:?}");
    let mut below = [[T::ZERO; L]; C];
    for ((channel, row), gradients) in input.iter().zip(delta).zip(&mut below) {
        for (o, &d) in row.iter().enumerate() {
            let mut best: Option<usize> = None;
            let mut max = T::from_f64(f64::NEG_INFINITY);
            for i in (0..kernel).filter_map(|k| inside(o, k, stride, padding, L)) {
                let value = channel[i];
                if takes_over(value, max) {
                    max = value;
                    best = Some(i);
                } else if best.is_none() {
                    best = Some(i);
                }
            }
            if let Some(i) = best {
                gradients[i] += d;
            }
        }
    }
    below
}

/// The gradient of [`avgpool1d`](crate::layers::avgpool1d) with respect to its input (taken
/// unread, as [`avgpool2d_backward`]'s).
pub fn avgpool1d_backward<T: Scalar, const C: usize, const L: usize, const OL: usize>(
    _input: &[[T; L]; C],
    delta: &[[T; OL]; C],
    geometry: Pool1dGeometry,
) -> [[T; L]; C] {
    let Pool1dGeometry {
        kernel,
        stride,
        padding,
    } = geometry;
    debug_assert_eq!(geometry.output_size(L), Some(OL), "{geometry:?}");
    let size = T::from_f64(count(kernel));
    let mut below = [[T::ZERO; L]; C];
    for (row, gradients) in delta.iter().zip(&mut below) {
        for (o, &d) in row.iter().enumerate() {
            let share = d / size;
            for i in (0..kernel).filter_map(|k| inside(o, k, stride, padding, L)) {
                gradients[i] += share;
            }
        }
    }
    below
}

/// The gradient of [`global_avgpool`](crate::layers::global_avgpool): each channel's gradient
/// spread evenly over its values (the input taken unread, as [`avgpool2d_backward`]'s).
pub fn global_avgpool_backward<S: Shaped, const C: usize>(
    _input: &[S; C],
    delta: &[S::Scalar; C],
) -> [S; C] {
    let values = S::Scalar::from_f64(count(S::LEN));
    let mut below = [S::ZERO; C];
    for (channel, &d) in below.iter_mut().zip(delta) {
        channel.values_mut().fill(d / values);
    }
    below
}

/// The gradient of [`global_maxpool`](crate::layers::global_maxpool) with respect to its
/// `input`: each channel's gradient to its first maximum (or NaN).
pub fn global_maxpool_backward<S: Shaped, const C: usize>(
    input: &[S; C],
    delta: &[S::Scalar; C],
) -> [S; C] {
    let mut below = [S::ZERO; C];
    for ((channel, gradients), &d) in input.iter().zip(&mut below).zip(delta) {
        let mut best = 0;
        let mut max = S::Scalar::from_f64(f64::NEG_INFINITY);
        for (i, &value) in channel.values().iter().enumerate() {
            if takes_over(value, max) {
                max = value;
                best = i;
            }
        }
        if let Some(gradient) = gradients.values_mut().get_mut(best) {
            *gradient += d;
        }
    }
    below
}

/// The gradient of [`flatten`](crate::layers::flatten): the vector's gradient in the input's
/// shape.
pub fn flatten_backward<S: Shaped, const N: usize>(delta: &[S::Scalar; N]) -> S {
    const {
        assert!(
            N == S::LEN,
            "flatten's output length must be the sample's number of values"
        );
    };
    let mut below = S::ZERO;
    below.values_mut().copy_from_slice(delta);
    below
}

/// A count as a float: exact, since window sizes and a sample's values are far below `2^53`.
#[allow(clippy::cast_precision_loss)]
fn count(n: usize) -> f64 {
    n as f64
}

#[cfg(test)]
// The values compared are small integers and their quarters, exact in binary floating point.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::layers::{
        avgpool1d, avgpool2d, global_avgpool, global_maxpool, maxpool1d, maxpool2d,
    };

    /// `sum(f(input) * delta)` is linear in `input` for an average and piecewise linear for a
    /// maximum: its differences are the gradient exactly while no tie is crossed.
    fn difference<const N: usize>(
        objective: impl Fn(&[f64; N]) -> f64,
        input: &[f64; N],
        k: usize,
    ) -> f64 {
        let mut up = *input;
        up[k] += 1.0 / 64.0;
        let mut down = *input;
        down[k] -= 1.0 / 64.0;
        (objective(&up) - objective(&down)) * 32.0
    }

    #[test]
    fn pools_2d_match_differences() {
        let geometry = Pool2dGeometry {
            kernel: [3, 2],
            stride: [2, 1],
            padding: [1, 1],
        };
        assert_eq!(geometry.output_size([5, 4]), Some([3, 5]));
        // Distinct values, at least 1/8 apart: no tie within the differences' step.
        let input: [f64; 40] = core::array::from_fn(|k| ((k * 23 + 7) % 41) as f64 / 8.0 - 2.0);
        let delta: [[[f64; 5]; 3]; 2] = core::array::from_fn(|c| {
            core::array::from_fn(|y| {
                core::array::from_fn(|x| (c * 15 + y * 5 + x) as f64 / 4.0 - 3.0)
            })
        });
        let shaped = |flat: &[f64; 40]| -> [[[f64; 4]; 5]; 2] {
            let mut s = [[[0.0; 4]; 5]; 2];
            s.as_flattened_mut()
                .as_flattened_mut()
                .copy_from_slice(flat);
            s
        };
        let dot = |output: [[[f64; 5]; 3]; 2]| -> f64 {
            output
                .as_flattened()
                .as_flattened()
                .iter()
                .zip(delta.as_flattened().as_flattened())
                .map(|(y, d)| y * d)
                .sum()
        };
        let max = |x: &[f64; 40]| dot(maxpool2d(&shaped(x), geometry));
        let average = |x: &[f64; 40]| dot(avgpool2d(&shaped(x), geometry));
        let max_gradient = maxpool2d_backward(&shaped(&input), &delta, geometry);
        let average_gradient = avgpool2d_backward(&shaped(&input), &delta, geometry);
        for k in 0..40 {
            let (c, y, x) = (k / 20, k / 4 % 5, k % 4);
            assert_eq!(
                max_gradient[c][y][x],
                difference(max, &input, k),
                "max [{c}, {y}, {x}]"
            );
            let a = average_gradient[c][y][x];
            assert!(
                (a - difference(average, &input, k)).abs() < 1e-12,
                "average {k}"
            );
        }
    }

    #[test]
    fn pools_1d_match_differences() {
        let geometry = Pool1dGeometry {
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        let input: [f64; 14] = core::array::from_fn(|k| ((k * 5 + 3) % 15) as f64 / 8.0 - 1.0);
        let delta: [[f64; 4]; 2] =
            core::array::from_fn(|c| core::array::from_fn(|x| (c * 4 + x) as f64 / 4.0 - 1.0));
        let shaped = |flat: &[f64; 14]| -> [[f64; 7]; 2] {
            [
                core::array::from_fn(|x| flat[x]),
                core::array::from_fn(|x| flat[7 + x]),
            ]
        };
        let dot = |output: [[f64; 4]; 2]| -> f64 {
            output
                .as_flattened()
                .iter()
                .zip(delta.as_flattened())
                .map(|(y, d)| y * d)
                .sum()
        };
        let max = |x: &[f64; 14]| dot(maxpool1d(&shaped(x), geometry));
        let average = |x: &[f64; 14]| dot(avgpool1d(&shaped(x), geometry));
        let max_gradient = maxpool1d_backward(&shaped(&input), &delta, geometry);
        let average_gradient = avgpool1d_backward(&shaped(&input), &delta, geometry);
        for k in 0..14 {
            assert_eq!(
                max_gradient[k / 7][k % 7],
                difference(max, &input, k),
                "max {k}"
            );
            let a = average_gradient[k / 7][k % 7];
            assert!(
                (a - difference(average, &input, k)).abs() < 1e-12,
                "average {k}"
            );
        }
    }

    /// Ties go to the first maximum in window order, as PyTorch's; a window of `-inf` to its
    /// first input.
    #[test]
    fn ties_go_to_the_first_maximum() {
        let input = [[[1.0, 2.0], [2.0, 0.0]]];
        let below = maxpool2d_backward(&input, &[[[1.0]]], Pool2dGeometry::new([2, 2]));
        assert_eq!(below, [[[0.0, 1.0], [0.0, 0.0]]]);
        let below = maxpool1d_backward(&[[f64::NEG_INFINITY; 2]], &[[1.0]], Pool1dGeometry::new(2));
        assert_eq!(below, [[1.0, 0.0]]);
        let below = maxpool2d_backward(
            &[[[f64::NEG_INFINITY; 2]; 2]],
            &[[[1.0]]],
            Pool2dGeometry::new([2, 2]),
        );
        assert_eq!(below, [[[1.0, 0.0], [0.0, 0.0]]]);
        let below: [[f64; 3]; 1] = global_maxpool_backward(&[[3.0, 5.0, 5.0]], &[2.0]);
        assert_eq!(below, [[0.0, 2.0, 0.0]]);
        // A NaN takes the gradient, as it takes the forward pass's maximum.
        let below = maxpool1d_backward(&[[1.0, f64::NAN]], &[[1.0]], Pool1dGeometry::new(2));
        assert_eq!(below[0][0], 0.0);
        assert_eq!(below[0][1], 1.0);
    }

    #[test]
    fn global_pools_and_flatten() {
        let input: [[[f64; 3]; 2]; 2] = [[[1.0, 6.0, 3.0], [4.0, 5.0, 2.0]], [[-1.0; 3]; 2]];
        assert_eq!(global_maxpool(&input), [6.0, -1.0]);
        let below = global_maxpool_backward(&input, &[1.0, 2.0]);
        assert_eq!(below[0], [[0.0, 1.0, 0.0], [0.0; 3]]);
        assert_eq!(below[1], [[2.0, 0.0, 0.0], [0.0; 3]]);
        assert_eq!(global_avgpool(&input)[0], 3.5);
        let below = global_avgpool_backward(&input, &[3.0, -6.0]);
        assert_eq!(below, [[[0.5; 3]; 2], [[-1.0; 3]; 2]]);
        let flat: [f64; 12] = core::array::from_fn(|k| k as f64);
        let below: [[[f64; 3]; 2]; 2] = flatten_backward(&flat);
        assert_eq!(crate::layers::flatten::<_, 12>(&below), flat);
    }
}
