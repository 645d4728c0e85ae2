//! The backward pass of convolutions: [`Conv2dGradients`] and [`Conv1dGradients`] (the
//! gradients of the weights and biases, in the layer's layout), and the gradient with respect
//! to the layer's input.
//!
//! One sample at a time, in the loop order of the forward pass (output channel, input channel
//! of its group, kernel tap, then the outputs the tap reaches inside the input): a sample adds
//! the same bits whether it comes alone or in a chunk, which `accumulate_batch` relies on.
//! Each weight's gradient is summed over the outputs in a local and added once per sample.

use crate::Scalar;
use crate::layers::{Axis, Conv1d, Conv1dGeometry, Conv2d, Conv2dGeometry};
use crate::tensor::{TensorInfo, Tensors};
use crate::zeroed::ZeroInit;

/// The same compile-time check as the forward pass: `IN` input channels split into groups of
/// `IN_PER_GROUP`, and the groups split `OUT`; then every index below is in bounds.
const fn check_groups(inputs: usize, in_per_group: usize, outputs: usize) {
    assert!(
        inputs > 0 && in_per_group > 0 && inputs.is_multiple_of(in_per_group),
        "the input channels must be a multiple of the weight's `IN_PER_GROUP`"
    );
    assert!(
        outputs.is_multiple_of(inputs / in_per_group),
        "the output channels must be a multiple of the groups, `IN / IN_PER_GROUP`"
    );
}

/// Rows and columns of a 2-D geometry, as the forward pass reads them.
fn axes(geometry: Conv2dGeometry) -> [Axis; 2] {
    let Conv2dGeometry {
        stride,
        padding,
        dilation,
    } = geometry;
    [0, 1].map(|a| Axis {
        stride: stride[a],
        padding: padding[a],
        dilation: dilation[a],
    })
}

/// The axis of a 1-D geometry.
fn axis(geometry: Conv1dGeometry) -> Axis {
    let Conv1dGeometry {
        stride,
        padding,
        dilation,
    } = geometry;
    Axis {
        stride,
        padding,
        dilation,
    }
}

/// `sum(delta[start..end] * input[first], input[first + stride], ...)`: one tap's share of a
/// weight's gradient along one row.
#[inline]
fn tap_dot<T: Scalar>(
    delta: &[T],
    input: &[T],
    (start, end, first): (usize, usize, usize),
    stride: usize,
) -> T {
    let (Some(delta), Some(input)) = (delta.get(start..end), input.get(first..)) else {
        return T::ZERO;
    };
    delta
        .iter()
        .zip(input.iter().step_by(stride))
        .fold(T::ZERO, |sum, (&d, &x)| sum + d * x)
}

/// `input[first + k * stride] += weight * delta[start + k]` for the outputs `start..end`: one
/// tap's share of the input's gradient along one row.
#[inline]
fn tap_scatter<T: Scalar>(
    input: &mut [T],
    delta: &[T],
    weight: T,
    (start, end, first): (usize, usize, usize),
    stride: usize,
) {
    let (Some(delta), Some(input)) = (delta.get(start..end), input.get_mut(first..)) else {
        return;
    };
    for (x, &d) in input.iter_mut().step_by(stride).zip(delta) {
        *x += weight * d;
    }
}

/// Gradients of a loss with respect to one [`Conv2d`] layer's weights and biases, in the same
/// layout (PyTorch's `[OUT][IN_PER_GROUP][KH][KW]`, and `[OUT]`).
#[derive(Clone, PartialEq)]
pub struct Conv2dGradients<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    T: Scalar = f32,
> {
    weight: [[[[T; KW]; KH]; IN_PER_GROUP]; OUT],
    bias: [T; OUT],
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `Conv2dGradients` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    T: Scalar,
> ZeroInit for Conv2dGradients<OUT, IN_PER_GROUP, KH, KW, T>
{
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, T: Scalar>
    Default for Conv2dGradients<OUT, IN_PER_GROUP, KH, KW, T>
{
    fn default() -> Self {
        Self {
            weight: [[[[T::ZERO; KW]; KH]; IN_PER_GROUP]; OUT],
            bias: [T::ZERO; OUT],
        }
    }
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, T: Scalar>
    Conv2dGradients<OUT, IN_PER_GROUP, KH, KW, T>
{
    /// Gradients of the weights, `weight()[o][i][y][x]` as [`Conv2d::weight`].
    pub fn weight(&self) -> &[[[[T; KW]; KH]; IN_PER_GROUP]; OUT] {
        &self.weight
    }

    /// Gradients of the biases.
    pub fn bias(&self) -> &[T; OUT] {
        &self.bias
    }

    /// Sets every gradient to zero.
    pub fn zero(&mut self) {
        self.weight
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
            .fill(T::ZERO);
        self.bias.fill(T::ZERO);
    }

    /// Adds one sample's gradients, given the layer's `input` and `delta`, the gradient of the
    /// loss with respect to the layer's output before its activation. `OH` and `OW` must be
    /// [`Conv2dGeometry::output_size`]'s, as for [`Conv2d::forward`] (checked in debug builds;
    /// in release, wrong sizes give wrong values, never a panic).
    pub fn accumulate<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &mut self,
        input: &[[[T; W]; H]; IN],
        delta: &[[[T; OW]; OH]; OUT],
        geometry: Conv2dGeometry,
    ) {
        const { check_groups(IN, IN_PER_GROUP, OUT) };
        debug_assert_eq!(geometry.output_size([H, W], [KH, KW]), Some([OH, OW]));
        let [rows, columns] = axes(geometry);
        let out_per_group = OUT / (IN / IN_PER_GROUP);
        for (o, ((kernels, bias), plane)) in self
            .weight
            .iter_mut()
            .zip(&mut self.bias)
            .zip(delta)
            .enumerate()
        {
            *bias += plane.as_flattened().iter().fold(T::ZERO, |sum, &d| sum + d);
            let first = o / out_per_group * IN_PER_GROUP;
            for (channel, kernel) in input[first..first + IN_PER_GROUP].iter().zip(kernels) {
                for (y, taps) in kernel.iter_mut().enumerate() {
                    let (start, end, first_row) = rows.valid(y, H, OH);
                    for (x, gradient) in taps.iter_mut().enumerate() {
                        let run = columns.valid(x, W, OW);
                        let input_rows = channel[first_row.min(H)..].iter().step_by(rows.stride);
                        let mut sum = T::ZERO;
                        for (delta_row, input_row) in plane[start..end].iter().zip(input_rows) {
                            sum += tap_dot(delta_row, input_row, run, columns.stride);
                        }
                        *gradient += sum;
                    }
                }
            }
        }
    }
}

/// The tensors of [`Conv2d`], all of them trained, in the same layouts.
impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, T: Scalar>
    Tensors for Conv2dGradients<OUT, IN_PER_GROUP, KH, KW, T>
{
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] =
        <Conv2d<OUT, IN_PER_GROUP, KH, KW, T> as Tensors>::TENSORS;

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two tensors of `Conv2d`")
        };
        f(
            weight,
            self.weight.as_flattened().as_flattened().as_flattened(),
        );
        f(bias, &self.bias);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two tensors of `Conv2d`")
        };
        f(
            weight,
            self.weight
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut(),
        );
        f(bias, &mut self.bias);
    }
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, T: Scalar>
    core::fmt::Debug for Conv2dGradients<OUT, IN_PER_GROUP, KH, KW, T>
{
    /// Shapes only, as the layer's.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Conv2dGradients<{OUT}, {IN_PER_GROUP}, {KH}, {KW}, {}>",
            T::NAME
        )
    }
}

/// The gradient of the loss with respect to a [`Conv2d`] layer's input, from `delta`, the
/// gradient with respect to its output before the activation: each weight times the output
/// gradients of the positions its tap reaches (the transposed convolution). Sizes as
/// [`Conv2dGradients::accumulate`]'s.
pub fn conv2d_backward_input<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    T: Scalar,
    const IN: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    layer: &Conv2d<OUT, IN_PER_GROUP, KH, KW, T>,
    delta: &[[[T; OW]; OH]; OUT],
    geometry: Conv2dGeometry,
) -> [[[T; W]; H]; IN] {
    const { check_groups(IN, IN_PER_GROUP, OUT) };
    debug_assert_eq!(geometry.output_size([H, W], [KH, KW]), Some([OH, OW]));
    let [rows, columns] = axes(geometry);
    let out_per_group = OUT / (IN / IN_PER_GROUP);
    let mut below = [[[T::ZERO; W]; H]; IN];
    for (o, (kernels, plane)) in layer.weight().iter().zip(delta).enumerate() {
        let first = o / out_per_group * IN_PER_GROUP;
        for (channel, kernel) in below[first..first + IN_PER_GROUP].iter_mut().zip(kernels) {
            for (y, taps) in kernel.iter().enumerate() {
                let (start, end, first_row) = rows.valid(y, H, OH);
                for (x, &weight) in taps.iter().enumerate() {
                    let run = columns.valid(x, W, OW);
                    let input_rows = channel[first_row.min(H)..].iter_mut().step_by(rows.stride);
                    for (delta_row, input_row) in plane[start..end].iter().zip(input_rows) {
                        tap_scatter(input_row, delta_row, weight, run, columns.stride);
                    }
                }
            }
        }
    }
    below
}

/// Gradients of a loss with respect to one [`Conv1d`] layer's weights and biases, in the same
/// layout (PyTorch's `[OUT][IN_PER_GROUP][K]`, and `[OUT]`).
#[derive(Clone, PartialEq)]
pub struct Conv1dGradients<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    T: Scalar = f32,
> {
    weight: [[[T; K]; IN_PER_GROUP]; OUT],
    bias: [T; OUT],
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `Conv1dGradients` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar> ZeroInit
    for Conv1dGradients<OUT, IN_PER_GROUP, K, T>
{
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar> Default
    for Conv1dGradients<OUT, IN_PER_GROUP, K, T>
{
    fn default() -> Self {
        Self {
            weight: [[[T::ZERO; K]; IN_PER_GROUP]; OUT],
            bias: [T::ZERO; OUT],
        }
    }
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar>
    Conv1dGradients<OUT, IN_PER_GROUP, K, T>
{
    /// Gradients of the weights, `weight()[o][i][k]` as [`Conv1d::weight`].
    pub fn weight(&self) -> &[[[T; K]; IN_PER_GROUP]; OUT] {
        &self.weight
    }

    /// Gradients of the biases.
    pub fn bias(&self) -> &[T; OUT] {
        &self.bias
    }

    /// Sets every gradient to zero.
    pub fn zero(&mut self) {
        self.weight
            .as_flattened_mut()
            .as_flattened_mut()
            .fill(T::ZERO);
        self.bias.fill(T::ZERO);
    }

    /// The weights' and the biases' gradients, to add to.
    pub(super) fn parts_mut(&mut self) -> (&mut [[[T; K]; IN_PER_GROUP]; OUT], &mut [T; OUT]) {
        (&mut self.weight, &mut self.bias)
    }

    /// Adds one sample's gradients, as [`Conv2dGradients::accumulate`]. `OL` must be
    /// [`Conv1dGeometry::output_size`]'s.
    pub fn accumulate<const IN: usize, const L: usize, const OL: usize>(
        &mut self,
        input: &[[T; L]; IN],
        delta: &[[T; OL]; OUT],
        geometry: Conv1dGeometry,
    ) {
        const { check_groups(IN, IN_PER_GROUP, OUT) };
        debug_assert_eq!(geometry.output_size(L, K), Some(OL));
        let axis = axis(geometry);
        let out_per_group = OUT / (IN / IN_PER_GROUP);
        for (o, ((kernels, bias), row)) in self
            .weight
            .iter_mut()
            .zip(&mut self.bias)
            .zip(delta)
            .enumerate()
        {
            *bias += row.iter().fold(T::ZERO, |sum, &d| sum + d);
            let first = o / out_per_group * IN_PER_GROUP;
            for (channel, taps) in input[first..first + IN_PER_GROUP].iter().zip(kernels) {
                for (k, gradient) in taps.iter_mut().enumerate() {
                    *gradient += tap_dot(row, channel, axis.valid(k, L, OL), axis.stride);
                }
            }
        }
    }
}

/// The tensors of [`Conv1d`], all of them trained, in the same layouts.
impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar> Tensors
    for Conv1dGradients<OUT, IN_PER_GROUP, K, T>
{
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = <Conv1d<OUT, IN_PER_GROUP, K, T> as Tensors>::TENSORS;

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two tensors of `Conv1d`")
        };
        f(weight, self.weight.as_flattened().as_flattened());
        f(bias, &self.bias);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two tensors of `Conv1d`")
        };
        f(weight, self.weight.as_flattened_mut().as_flattened_mut());
        f(bias, &mut self.bias);
    }
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar> core::fmt::Debug
    for Conv1dGradients<OUT, IN_PER_GROUP, K, T>
{
    /// Shapes only, as the layer's.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Conv1dGradients<{OUT}, {IN_PER_GROUP}, {K}, {}>",
            T::NAME
        )
    }
}

/// The gradient of the loss with respect to a [`Conv1d`] layer's input, as
/// [`conv2d_backward_input`].
pub fn conv1d_backward_input<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    T: Scalar,
    const IN: usize,
    const L: usize,
    const OL: usize,
>(
    layer: &Conv1d<OUT, IN_PER_GROUP, K, T>,
    delta: &[[T; OL]; OUT],
    geometry: Conv1dGeometry,
) -> [[T; L]; IN] {
    const { check_groups(IN, IN_PER_GROUP, OUT) };
    debug_assert_eq!(geometry.output_size(L, K), Some(OL));
    let axis = axis(geometry);
    let out_per_group = OUT / (IN / IN_PER_GROUP);
    let mut below = [[T::ZERO; L]; IN];
    for (o, (kernels, row)) in layer.weight().iter().zip(delta).enumerate() {
        let first = o / out_per_group * IN_PER_GROUP;
        for (channel, taps) in below[first..first + IN_PER_GROUP].iter_mut().zip(kernels) {
            for (k, &weight) in taps.iter().enumerate() {
                tap_scatter(channel, row, weight, axis.valid(k, L, OL), axis.stride);
            }
        }
    }
    below
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradients of `sum(output * delta)` by central differences of the forward pass,
    /// which is linear in the weights and inputs: exact up to rounding.
    #[test]
    fn conv2d_matches_differences_of_the_forward_pass() {
        const H: usize = 5;
        const W: usize = 6;
        let geometry = Conv2dGeometry {
            stride: [2, 1],
            padding: [1, 2],
            dilation: [1, 2],
        };
        let [oh, ow] = geometry.output_size([H, W], [3, 2]).unwrap();
        assert_eq!([oh, ow], [3, 8]);
        let value = |k: usize| ((k * 37 + 11) % 17) as f64 / 8.0 - 1.0;
        let layer = Conv2d::<4, 1, 3, 2, f64>::from_parts(
            core::array::from_fn(|o| {
                [core::array::from_fn(|y| {
                    core::array::from_fn(|x| value(o * 6 + y * 2 + x))
                })]
            }),
            [0.5, -0.25, 0.0, 1.0],
        );
        let input: [[[f64; W]; H]; 2] = core::array::from_fn(|c| {
            core::array::from_fn(|y| core::array::from_fn(|x| value(100 + c * 30 + y * W + x)))
        });
        let delta: [[[f64; 8]; 3]; 4] = core::array::from_fn(|o| {
            core::array::from_fn(|y| core::array::from_fn(|x| value(200 + o * 24 + y * 8 + x)))
        });
        let objective = |layer: &Conv2d<4, 1, 3, 2, f64>, input: &[[[f64; W]; H]; 2]| {
            let output: [[[f64; 8]; 3]; 4] = layer.forward(input, geometry);
            output
                .as_flattened()
                .as_flattened()
                .iter()
                .zip(delta.as_flattened().as_flattened())
                .map(|(y, d)| y * d)
                .sum::<f64>()
        };
        let mut gradients = Conv2dGradients::<4, 1, 3, 2, f64>::default();
        gradients.accumulate(&input, &delta, geometry);
        let below: [[[f64; W]; H]; 2] = conv2d_backward_input(&layer, &delta, geometry);

        let mut numeric = std::vec::Vec::new();
        for k in 0..Conv2dGradients::<4, 1, 3, 2, f64>::TENSORS[0].len() + 4 {
            let at = |offset: f64| {
                let mut moved = layer.clone();
                let mut index = 0;
                moved.for_each_tensor_mut(|_, values| {
                    for v in values {
                        if index == k {
                            *v += offset;
                        }
                        index += 1;
                    }
                });
                objective(&moved, &input)
            };
            numeric.push((at(0.5) - at(-0.5)) / 1.0);
        }
        let mut analytic = std::vec::Vec::new();
        gradients.for_each_tensor(|_, values| analytic.extend_from_slice(values));
        assert_eq!(analytic.len(), numeric.len());
        for (a, n) in analytic.iter().zip(&numeric) {
            assert!((a - n).abs() < 1e-12, "{a} against {n}");
        }
        for c in 0..2 {
            for y in 0..H {
                for x in 0..W {
                    let at = |offset: f64| {
                        let mut moved = input;
                        moved[c][y][x] += offset;
                        objective(&layer, &moved)
                    };
                    let n = at(0.5) - at(-0.5);
                    assert!((below[c][y][x] - n).abs() < 1e-12, "[{c}, {y}, {x}]");
                }
            }
        }
        // Zeroing clears both tensors.
        gradients.zero();
        assert_eq!(gradients, Conv2dGradients::default());
    }

    /// Groups, stride and dilation in 1-D: the same check.
    #[test]
    fn conv1d_matches_differences_of_the_forward_pass() {
        const L: usize = 9;
        let geometry = Conv1dGeometry {
            stride: 2,
            padding: 1,
            dilation: 2,
        };
        assert_eq!(geometry.output_size(L, 3), Some(4));
        let value = |k: usize| ((k * 29 + 5) % 13) as f64 / 6.0 - 1.0;
        // 4 inputs in 2 groups, 6 outputs.
        let layer = Conv1d::<6, 2, 3, f64>::from_parts(
            core::array::from_fn(|o| {
                core::array::from_fn(|i| core::array::from_fn(|k| value(o * 6 + i * 3 + k)))
            }),
            [0.0; 6],
        );
        let input: [[f64; L]; 4] =
            core::array::from_fn(|c| core::array::from_fn(|x| value(50 + c * L + x)));
        let delta: [[f64; 4]; 6] =
            core::array::from_fn(|o| core::array::from_fn(|x| value(90 + o * 4 + x)));
        let objective = |layer: &Conv1d<6, 2, 3, f64>, input: &[[f64; L]; 4]| {
            let output: [[f64; 4]; 6] = layer.forward(input, geometry);
            output
                .as_flattened()
                .iter()
                .zip(delta.as_flattened())
                .map(|(y, d)| y * d)
                .sum::<f64>()
        };
        let mut gradients = Conv1dGradients::<6, 2, 3, f64>::default();
        gradients.accumulate(&input, &delta, geometry);
        let mut analytic = std::vec::Vec::new();
        gradients.for_each_tensor(|_, values| analytic.extend_from_slice(values));
        for (k, a) in analytic.iter().enumerate() {
            let at = |offset: f64| {
                let mut moved = layer.clone();
                let mut index = 0;
                moved.for_each_tensor_mut(|_, values| {
                    for v in values {
                        if index == k {
                            *v += offset;
                        }
                        index += 1;
                    }
                });
                objective(&moved, &input)
            };
            let n = at(0.5) - at(-0.5);
            assert!((a - n).abs() < 1e-12, "parameter {k}: {a} against {n}");
        }
        let below: [[f64; L]; 4] = conv1d_backward_input(&layer, &delta, geometry);
        for c in 0..4 {
            for x in 0..L {
                let at = |offset: f64| {
                    let mut moved = input;
                    moved[c][x] += offset;
                    objective(&layer, &moved)
                };
                let n = at(0.5) - at(-0.5);
                assert!((below[c][x] - n).abs() < 1e-12, "[{c}, {x}]");
            }
        }
    }
}
