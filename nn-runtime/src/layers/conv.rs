//! Convolutions, as PyTorch's `nn.Conv1d` and `nn.Conv2d` (cross-correlation, zero padding on
//! both ends of each axis, dilation, groups).

use super::window::Axis;
use crate::Scalar;
use crate::kernel::{self, Taps};
use crate::tensor::{Init, Layout, Role, TensorInfo, Tensors};
use crate::zeroed::ZeroInit;

/// Stride, padding and dilation of a [`Conv2d`], each `[height, width]`, with the meaning of
/// `nn.Conv2d`'s arguments.
///
/// A plain value rather than const parameters: generated code passes literals, which the
/// compiler folds into the loops. Groups are not part of it: they are the layer's
/// `IN / IN_PER_GROUP`, so they cannot disagree with its weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Step between windows.
    pub stride: [usize; 2],
    /// Zeros added before the first and after the last value.
    pub padding: [usize; 2],
    /// Step between the taps of a window.
    pub dilation: [usize; 2],
}

impl Conv2dGeometry {
    /// PyTorch's defaults: stride 1, no padding, no dilation.
    pub const DEFAULT: Self = Self {
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
    };

    /// The output's `[height, width]` for an input of `input` and a kernel of `kernel`, as
    /// PyTorch computes it, or `None` when a stride or dilation is 0, the kernel is empty, the
    /// window does not fit the padded input, or the padded input does not fit a `usize`.
    /// `const`, for code generators.
    #[inline]
    pub const fn output_size(self, input: [usize; 2], kernel: [usize; 2]) -> Option<[usize; 2]> {
        let [rows, columns] = self.axes();
        match (
            rows.output_size(input[0], kernel[0]),
            columns.output_size(input[1], kernel[1]),
        ) {
            (Some(height), Some(width)) => Some([height, width]),
            _ => None,
        }
    }

    #[inline]
    const fn axes(self) -> [Axis; 2] {
        [
            Axis {
                stride: self.stride[0],
                padding: self.padding[0],
                dilation: self.dilation[0],
            },
            Axis {
                stride: self.stride[1],
                padding: self.padding[1],
                dilation: self.dilation[1],
            },
        ]
    }
}

impl Default for Conv2dGeometry {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Stride, padding and dilation of a [`Conv1d`], with the meaning of `nn.Conv1d`'s arguments;
/// see [`Conv2dGeometry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dGeometry {
    /// Step between windows.
    pub stride: usize,
    /// Zeros added before the first and after the last value.
    pub padding: usize,
    /// Step between the taps of a window.
    pub dilation: usize,
}

impl Conv1dGeometry {
    /// PyTorch's defaults: stride 1, no padding, no dilation.
    pub const DEFAULT: Self = Self {
        stride: 1,
        padding: 0,
        dilation: 1,
    };

    /// The output's length for an input of `input` values and a kernel of `kernel` taps, or
    /// `None` as [`Conv2dGeometry::output_size`].
    #[inline]
    pub const fn output_size(self, input: usize, kernel: usize) -> Option<usize> {
        self.axis().output_size(input, kernel)
    }

    #[inline]
    const fn axis(self) -> Axis {
        Axis {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }
}

impl Default for Conv1dGeometry {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A convolution of stride 1 through [`kernel::conv_wide`], all sizes plain values: `input` and
/// `output` as `[channels, height, width]` (height 1 for 1-D), `kernel`, `padding` and
/// `dilation` as `[height, width]`.
///
/// The input is copied into the scratch with its padding (so that every tap of every position
/// is a plain load), and the product writes the "wide" rows of the padded width into the
/// scratch, whose first `OW` values of each row are copied out, or, with [`Wide::shifted`]
/// copies or a single row, the output's positions straight into it: the kernel then needs no
/// test for the padding, nor an im2col matrix (`lenet_b1`, `lenet_b64` and `conv1d_b64` in
/// bench/benches/onnx.rs).
#[derive(Clone, Copy, Debug)]
struct Wide {
    input: [usize; 3],
    output: [usize; 3],
    in_per_group: usize,
    kernel: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    /// [`Wide::shifted`].
    shifted: bool,
}

/// The product of three sizes, saturating.
#[inline]
const fn product([a, b, c]: [usize; 3]) -> usize {
    a.saturating_mul(b).saturating_mul(c)
}

/// Scratch values (1 MiB of `f32`) a convolution may always take, however small its input and
/// output: LeNet's take under 6,000, a 7x7 layer of 512 channels on a 7x7 map about 71,000.
const MIN_SCRATCH: usize = 1 << 18;

impl Wide {
    /// The convolution of these sizes through the kernel, or `None` when its scratch would
    /// exceed twice its input and output together (and [`MIN_SCRATCH`]): generated code keeps
    /// the scratch on the stack beside them, and a padding much larger than the input (or a
    /// shifted copy per kernel column of a large input) would otherwise grow it without bound.
    /// Shifted copies ([`Wide::shift_pays`]) only within that budget. Inlined, so that a
    /// literal geometry folds into [`Wide::run`] (`lenet_b1` in bench/benches/onnx.rs).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    const fn new(
        input: [usize; 3],
        output: [usize; 3],
        in_per_group: usize,
        kernel: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> Option<Self> {
        let mut wide = Wide {
            input,
            output,
            in_per_group,
            kernel,
            padding,
            dilation,
            shifted: false,
        };
        // An input without rows or columns is all padding: the plain loops write it.
        if input[1] == 0 || input[2] == 0 {
            return None;
        }
        // Every product of the sizes below fits: the padded planes of all channels, in and out,
        // once per kernel column, with slack.
        let [height, width] = wide.padded();
        let (Some(area), Some(channels), Some(data)) = (
            height.checked_mul(width),
            input[0].checked_add(output[0]),
            product(input).checked_add(product(output)),
        ) else {
            return None;
        };
        let bound = match (area.checked_mul(channels + 1), kernel[1].checked_add(1)) {
            (Some(planes), Some(copies)) => planes.checked_mul(copies),
            _ => None,
        };
        match bound {
            Some(bound) if bound <= usize::MAX / 2 => {}
            _ => return None,
        }
        let budget = {
            let twice = data.saturating_mul(2);
            if twice > MIN_SCRATCH {
                twice
            } else {
                MIN_SCRATCH
            }
        };
        wide.shifted = wide.shift_pays() && {
            let mut shifted = wide;
            shifted.shifted = true;
            shifted.scratch_len() <= budget
        };
        if wide.scratch_len() <= budget {
            Some(wide)
        } else {
            None
        }
    }

    /// The padded input's `[height, width]`.
    #[inline]
    const fn padded(self) -> [usize; 2] {
        [
            self.input[1] + 2 * self.padding[0],
            self.input[2] + 2 * self.padding[1],
        ]
    }

    /// Whether the input is copied once per kernel column, shifted by it and cut to the
    /// output's width (`block`), rather than padded once: then the output's positions are
    /// numbered `y OW + x`, none thrown away, and the kernel writes them straight into the
    /// output, at the cost of `KW` copies of the input. [`Wide::new`] decides it.
    #[inline]
    const fn shifted(self) -> bool {
        self.shifted
    }

    /// Whether shifted copies pay: when the multiply-adds (about 32 a cycle) and the copy of
    /// the wide rows out (about 8 values a cycle) saved outweigh the extra copies, as for both
    /// of LeNet's convolutions (`lenet_b1` and `lenet_conv_b64` in bench/benches/onnx.rs).
    #[inline]
    const fn shift_pays(self) -> bool {
        let [height, width] = self.padded();
        let [out_channels, out_height, out_width] = self.output;
        let k = self.in_per_group * self.kernel[0] * self.kernel[1];
        let wide = ((out_height - 1) * width + out_width).next_multiple_of(16);
        let compact = (out_height * out_width).next_multiple_of(16);
        // A single row is written straight into the output either way.
        let copied_out = if out_height > 1 {
            out_channels * out_height * out_width
        } else {
            0
        };
        // Saturating: `Wide::new`'s bound covers the planes, not their products with the taps.
        let saved = out_channels
            .saturating_mul(wide - compact)
            .saturating_mul(k)
            / 32
            + copied_out / 8;
        let copies = (self.kernel[1] * out_width)
            .saturating_sub(width)
            .saturating_mul(self.input[0])
            .saturating_mul(height);
        saved > copies / 8
    }

    /// Whether the kernel writes the output's positions straight into it: their numbering is
    /// the output's (shifted copies, or a single row).
    #[inline]
    const fn direct(self) -> bool {
        self.shifted() || self.output[1] == 1
    }

    /// Distance between two rows of the output in the product's rows.
    #[inline]
    const fn line(self) -> usize {
        if self.shifted() {
            self.output[2]
        } else {
            self.padded()[1]
        }
    }

    /// One copy of the input as the kernel reads it: all channels, padded rows of
    /// [`Wide::line`] values.
    #[inline]
    const fn block(self) -> usize {
        self.input[0] * self.padded()[0] * self.line()
    }

    /// Taps of one output channel.
    #[inline]
    const fn taps(self) -> Taps {
        let [height, _] = self.padded();
        let line = self.line();
        Taps {
            channels: self.in_per_group,
            plane: height * line,
            rows: self.kernel[0],
            row_step: line * self.dilation[0],
            columns: self.kernel[1],
            column_step: if self.shifted() {
                self.block()
            } else {
                self.dilation[1]
            },
        }
    }

    /// Output channels per group.
    #[inline]
    const fn out_per_group(self) -> usize {
        self.output[0] / (self.input[0] / self.in_per_group)
    }

    /// Positions of one output channel the kernel computes: the output's `y line + x`, whole
    /// vectors of 16 unless [`Wide::direct`], which stores only the output's.
    #[inline]
    const fn row(self) -> usize {
        let positions = (self.output[1] - 1) * self.line() + self.output[2];
        if self.direct() {
            positions
        } else {
            positions.next_multiple_of(16)
        }
    }

    /// The input as the kernel reads it (and the slack the last vectors read past it), in
    /// values.
    #[inline]
    const fn input_len(self) -> usize {
        let copies = if self.shifted() { self.kernel[1] } else { 1 };
        copies * self.block() + self.row().next_multiple_of(16)
    }

    /// Scratch values [`Wide::run`] needs: the input as the kernel reads it, and the product
    /// unless it goes straight into the output.
    #[inline]
    const fn scratch_len(self) -> usize {
        let product = if self.direct() {
            0
        } else {
            self.output[0] * self.row()
        };
        self.input_len() + product
    }

    /// The convolution of `input` (flat, channel-first) into `output` (flat), or `false` when
    /// this CPU or `T` has no kernel or the scratch is too short (nothing written then).
    ///
    /// Inlined into each layer's method, where the shapes are constants: the copies of short
    /// rows then need no call and the row numbers no division (`lenet_b1` in
    /// bench/benches/onnx.rs).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn run<T: Scalar>(
        self,
        weight: &[T],
        bias: &[T],
        input: &[T],
        scratch: &mut [T],
        output: &mut [T],
    ) -> bool {
        if !kernel::has_conv_wide::<T>() || scratch.len() < self.scratch_len() {
            return false;
        }
        let [channels, height, width] = self.input;
        let [out_channels, out_height, out_width] = self.output;
        let taps = self.taps();
        let row = self.row();
        let groups = channels / self.in_per_group;
        let (x, rest) = scratch.split_at_mut(self.input_len());
        // The input as the kernel reads it, every value the valid outputs read written (so the
        // scratch may hold anything; the slack after it only reaches positions thrown away).
        let [top, left] = self.padding;
        let line = self.line();
        let padded_height = height + 2 * top;
        let shifted = self.shifted();
        let copies = if shifted { self.kernel[1] } else { 1 };
        for (kx, copy) in x.chunks_exact_mut(self.block()).take(copies).enumerate() {
            // Output `x` reads input column `x + shift - left`: the valid run of outputs.
            let (shift, first, end) = if shifted {
                let shift = kx * self.dilation[1];
                let first = left.saturating_sub(shift).min(out_width);
                let end = (width + left).saturating_sub(shift).clamp(first, out_width);
                (shift, first, end)
            } else {
                (0, left, left + width)
            };
            if top == 0 && first < end {
                // No rows of padding: the channels' rows follow one another in the input as in
                // the copy, one run of rows.
                let from = first + shift - left;
                let placed = kernel::place_rows(&input[from..], width, copy, line, first, end);
                debug_assert!(placed, "has_conv_wide said there is a kernel");
                continue;
            }
            let planes = copy.chunks_exact_mut(padded_height * line).take(channels);
            for (c, plane) in planes.enumerate() {
                let (above, rest) = plane.split_at_mut(top * line);
                let (rows, below) = rest.split_at_mut(height * line);
                above.fill(T::ZERO);
                below.fill(T::ZERO);
                if first == end {
                    rows.fill(T::ZERO);
                    continue;
                }
                let from = c * height * width + first + shift - left;
                let placed = kernel::place_rows(&input[from..], width, rows, line, first, end);
                debug_assert!(placed, "has_conv_wide said there is a kernel");
            }
        }
        let out_per_group = self.out_per_group();
        let k = taps.len();
        let plane = out_height * out_width;
        // The product goes straight into the output, or into the scratch's wide rows, of which
        // the first `OW` values of each are copied out after.
        let direct = self.direct();
        let (y, ldy) = if direct {
            (&mut *output, plane)
        } else {
            (&mut rest[..out_channels * row], row)
        };
        for g in 0..groups {
            let rows = g * out_per_group..(g + 1) * out_per_group;
            let done = kernel::conv_wide(
                &weight[rows.start * k..rows.end * k],
                &bias[rows.clone()],
                taps,
                &x[g * self.in_per_group * taps.plane..],
                &mut y[rows.start * ldy..rows.end * ldy],
                ldy,
                row,
            );
            debug_assert!(done, "has_conv_wide said there is a kernel");
        }
        if !direct {
            for (plane, wide) in output.chunks_exact_mut(plane).zip(rest.chunks_exact(row)) {
                for (to, from) in plane.chunks_exact_mut(out_width).zip(wide.chunks(line)) {
                    to.copy_from_slice(&from[..out_width]);
                }
            }
        }
        true
    }
}

/// Checks at compile time that `IN` input channels split into groups of `IN_PER_GROUP` and
/// that the groups split `OUT` evenly: then every index of the forward pass is in bounds.
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

/// 2-D convolution, as `nn.Conv2d`: `OUT` output channels, each reading `IN_PER_GROUP` input
/// channels (the input's `IN` channels are `IN / IN_PER_GROUP` groups, output channel `o`
/// reading group `o / (OUT / groups)`) through a `KH` by `KW` kernel, plus a bias.
///
/// The weight is stored in PyTorch's order and shape, `[OUT][IN_PER_GROUP][KH][KW]`, inline, so
/// that a network with baked weights can be a `static`.
#[derive(Clone, PartialEq)]
pub struct Conv2d<
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
// `Conv2d` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    T: Scalar,
> ZeroInit for Conv2d<OUT, IN_PER_GROUP, KH, KW, T>
{
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, T: Scalar>
    Conv2d<OUT, IN_PER_GROUP, KH, KW, T>
{
    const NOT_EMPTY: () = assert!(
        OUT > 0 && IN_PER_GROUP > 0 && KH > 0 && KW > 0,
        "a Conv2d layer needs channels and a kernel"
    );

    /// Weights plus biases.
    pub const PARAMETERS: usize = OUT * IN_PER_GROUP * KH * KW + OUT;

    /// A layer from PyTorch's `weight` (`[OUT][IN_PER_GROUP][KH][KW]`) and `bias`. `const`, so
    /// that weights known at compile time can make a `static` network.
    pub const fn from_parts(weight: [[[[T; KW]; KH]; IN_PER_GROUP]; OUT], bias: [T; OUT]) -> Self {
        let () = Self::NOT_EMPTY;
        Self { weight, bias }
    }

    /// The weights, `weight()[o][i][y][x]` as PyTorch's `weight[o, i, y, x]`.
    pub fn weight(&self) -> &[[[[T; KW]; KH]; IN_PER_GROUP]; OUT] {
        &self.weight
    }

    /// The weights, for writing.
    pub fn weight_mut(&mut self) -> &mut [[[[T; KW]; KH]; IN_PER_GROUP]; OUT] {
        &mut self.weight
    }

    /// One bias per output channel.
    pub fn bias(&self) -> &[T; OUT] {
        &self.bias
    }

    /// One bias per output channel, for writing.
    pub fn bias_mut(&mut self) -> &mut [T; OUT] {
        &mut self.bias
    }

    /// The convolution of one sample of `IN` channels of `H` by `W`, giving `OUT` channels of
    /// `OH` by `OW`. `OH` and `OW` must be [`Conv2dGeometry::output_size`]'s (checked in debug
    /// builds; in release, wrong sizes give wrong values, never a panic).
    #[inline]
    pub fn forward<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[T; W]; H]; IN],
        geometry: Conv2dGeometry,
    ) -> [[[T; OW]; OH]; OUT] {
        let mut output = [[[T::ZERO; OW]; OH]; OUT];
        self.forward_into(input, geometry, &mut output);
        output
    }

    /// The shape of the convolution through [`kernel::conv_wide`] for an input of `input`
    /// (`[IN, H, W]`), or `None` when it does not apply: a stride other than 1, a geometry that
    /// does not fit, or a scalar without the kernel (`f64`).
    const fn wide(input: [usize; 3], geometry: Conv2dGeometry) -> Option<Wide> {
        let kernel = [KH, KW];
        if !T::WIDE || geometry.stride[0] != 1 || geometry.stride[1] != 1 {
            return None;
        }
        match geometry.output_size([input[1], input[2]], kernel) {
            Some([height, width]) => Wide::new(
                input,
                [OUT, height, width],
                IN_PER_GROUP,
                kernel,
                geometry.padding,
                geometry.dilation,
            ),
            None => None,
        }
    }

    /// The scratch values [`Conv2d::forward_with`] uses for an input of `input` (`[IN, H, W]`):
    /// 0 where it computes as [`Conv2d::forward`] does. `const`, so that generated code sizes
    /// a stack array with it.
    pub const fn scratch_len(input: [usize; 3], geometry: Conv2dGeometry) -> usize {
        match Self::wide(input, geometry) {
            Some(wide) => wide.scratch_len(),
            None => 0,
        }
    }

    /// [`Conv2d::forward`], faster with `scratch` of at least
    /// [`scratch_len`](Self::scratch_len) values (whatever they hold): with a stride of 1,
    /// `f32` and AVX2 or AVX-512, a matrix product over the padded input
    /// ([`kernel::conv_wide`]); otherwise, or with a shorter scratch, as `forward`. The result
    /// is the same but for the order of the sums (within the tolerance of the layer tests).
    #[inline]
    pub fn forward_with<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[T; W]; H]; IN],
        geometry: Conv2dGeometry,
        scratch: &mut [T],
    ) -> [[[T; OW]; OH]; OUT] {
        let mut output = [[[T::ZERO; OW]; OH]; OUT];
        self.forward_into_with(input, geometry, &mut output, scratch);
        output
    }

    /// [`Conv2d::forward_with`] into `output`. Inlined, so that the geometry, a literal in
    /// generated code, is a constant in the copies of the input (`lenet_b1` in
    /// bench/benches/onnx.rs).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn forward_into_with<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[T; W]; H]; IN],
        geometry: Conv2dGeometry,
        output: &mut [[[T; OW]; OH]; OUT],
        scratch: &mut [T],
    ) {
        let () = Self::NOT_EMPTY;
        const { check_groups(IN, IN_PER_GROUP, OUT) };
        let done = match Self::wide([IN, H, W], geometry) {
            Some(wide) if wide.output == [OUT, OH, OW] => wide.run(
                self.weight.as_flattened().as_flattened().as_flattened(),
                &self.bias,
                input.as_flattened().as_flattened(),
                scratch,
                output.as_flattened_mut().as_flattened_mut(),
            ),
            _ => false,
        };
        if !done {
            self.forward_into(input, geometry, output);
        }
    }

    /// [`Conv2d::forward_into_with`] for each pair of samples, with one scratch (the geometry's
    /// tests once for all of them). Inlined, as [`Conv2d::forward_into_with`].
    ///
    /// # Panics
    ///
    /// When `outputs` does not have one sample per input.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn forward_batch_with<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        inputs: &[[[[T; W]; H]; IN]],
        geometry: Conv2dGeometry,
        outputs: &mut [[[[T; OW]; OH]; OUT]],
        scratch: &mut [T],
    ) {
        let () = Self::NOT_EMPTY;
        const { check_groups(IN, IN_PER_GROUP, OUT) };
        assert_eq!(inputs.len(), outputs.len(), "one output sample per input");
        let wide = match Self::wide([IN, H, W], geometry) {
            Some(wide) if wide.output == [OUT, OH, OW] => Some(wide),
            _ => None,
        };
        for (input, output) in inputs.iter().zip(outputs.iter_mut()) {
            let done = wide.is_some_and(|wide| {
                wide.run(
                    self.weight.as_flattened().as_flattened().as_flattened(),
                    &self.bias,
                    input.as_flattened().as_flattened(),
                    scratch,
                    output.as_flattened_mut().as_flattened_mut(),
                )
            });
            if !done {
                self.forward_into(input, geometry, output);
            }
        }
    }

    /// [`Conv2d::forward`] into `output`.
    ///
    /// Loop order: for each output channel, input channel and kernel tap, every output row
    /// that the tap reaches gains the tap's weight times a run of an input row, the padding's
    /// bounds computed once per tap: a contiguous multiply-add over the row when the stride
    /// is 1.
    pub fn forward_into<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[T; W]; H]; IN],
        geometry: Conv2dGeometry,
        output: &mut [[[T; OW]; OH]; OUT],
    ) {
        let () = Self::NOT_EMPTY;
        const { check_groups(IN, IN_PER_GROUP, OUT) };
        debug_assert_eq!(
            geometry.output_size([H, W], [KH, KW]),
            Some([OH, OW]),
            "output size of {geometry:?}"
        );
        let [rows, columns] = geometry.axes();
        let out_per_group = OUT / (IN / IN_PER_GROUP);
        for (o, (plane, (kernels, bias))) in output
            .iter_mut()
            .zip(self.weight.iter().zip(&self.bias))
            .enumerate()
        {
            *plane = [[*bias; OW]; OH];
            let first = o / out_per_group * IN_PER_GROUP;
            for (channel, kernel) in input[first..first + IN_PER_GROUP].iter().zip(kernels) {
                for (y, taps) in kernel.iter().enumerate() {
                    let (start, end, first_row) = rows.valid(y, H, OH);
                    for (x, &weight) in taps.iter().enumerate() {
                        let run = columns.run(x, W, OW);
                        let input_rows = channel[first_row..].iter().step_by(rows.stride);
                        for (output_row, input_row) in plane[start..end].iter_mut().zip(input_rows)
                        {
                            run.apply(output_row, input_row, |out, value| *out += weight * value);
                        }
                    }
                }
            }
        }
    }
}

/// `weight`, `[OUT, IN_PER_GROUP, KH, KW]` in PyTorch's order, drawn by [`Init::Uniform`]
/// (fans as PyTorch's, the kernel's area times the channels); `bias`, `[OUT]`, zero.
impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, T: Scalar>
    Tensors for Conv2d<OUT, IN_PER_GROUP, KH, KW, T>
{
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "weight",
            shape: &[OUT, IN_PER_GROUP, KH, KW],
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Uniform,
        },
        TensorInfo {
            name: "bias",
            shape: &[OUT],
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Zeros,
        },
    ];

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("two tensors, above")
        };
        f(
            weight,
            self.weight.as_flattened().as_flattened().as_flattened(),
        );
        f(bias, &self.bias);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("two tensors, above")
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
    core::fmt::Debug for Conv2d<OUT, IN_PER_GROUP, KH, KW, T>
{
    /// Shapes only, as `Dense`'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Conv2d<{OUT}, {IN_PER_GROUP}, {KH}, {KW}, {}>", T::NAME)
    }
}

/// 1-D convolution, as `nn.Conv1d`: `OUT` output channels, each reading `IN_PER_GROUP` input
/// channels through a kernel of `K` taps, plus a bias; groups as in [`Conv2d`].
///
/// The weight is stored in PyTorch's order and shape, `[OUT][IN_PER_GROUP][K]`, inline.
#[derive(Clone, PartialEq)]
pub struct Conv1d<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar = f32> {
    weight: [[[T; K]; IN_PER_GROUP]; OUT],
    bias: [T; OUT],
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `Conv1d` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar> ZeroInit
    for Conv1d<OUT, IN_PER_GROUP, K, T>
{
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar>
    Conv1d<OUT, IN_PER_GROUP, K, T>
{
    const NOT_EMPTY: () = assert!(
        OUT > 0 && IN_PER_GROUP > 0 && K > 0,
        "a Conv1d layer needs channels and a kernel"
    );

    /// Weights plus biases.
    pub const PARAMETERS: usize = OUT * IN_PER_GROUP * K + OUT;

    /// A layer from PyTorch's `weight` (`[OUT][IN_PER_GROUP][K]`) and `bias`. `const`, so that
    /// weights known at compile time can make a `static` network.
    pub const fn from_parts(weight: [[[T; K]; IN_PER_GROUP]; OUT], bias: [T; OUT]) -> Self {
        let () = Self::NOT_EMPTY;
        Self { weight, bias }
    }

    /// The weights, `weight()[o][i][k]` as PyTorch's `weight[o, i, k]`.
    pub fn weight(&self) -> &[[[T; K]; IN_PER_GROUP]; OUT] {
        &self.weight
    }

    /// The weights, for writing.
    pub fn weight_mut(&mut self) -> &mut [[[T; K]; IN_PER_GROUP]; OUT] {
        &mut self.weight
    }

    /// One bias per output channel.
    pub fn bias(&self) -> &[T; OUT] {
        &self.bias
    }

    /// One bias per output channel, for writing.
    pub fn bias_mut(&mut self) -> &mut [T; OUT] {
        &mut self.bias
    }

    /// The convolution of one sample of `IN` channels of `L` values, giving `OUT` channels of
    /// `OL`. `OL` must be [`Conv1dGeometry::output_size`]'s (checked in debug builds).
    #[inline]
    pub fn forward<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[T; L]; IN],
        geometry: Conv1dGeometry,
    ) -> [[T; OL]; OUT] {
        let mut output = [[T::ZERO; OL]; OUT];
        self.forward_into(input, geometry, &mut output);
        output
    }

    /// As [`Conv2d::wide`], for an input of `IN` channels of `length`.
    const fn wide(channels: usize, length: usize, geometry: Conv1dGeometry) -> Option<Wide> {
        if !T::WIDE || geometry.stride != 1 {
            return None;
        }
        match geometry.output_size(length, K) {
            Some(out) => Wide::new(
                [channels, 1, length],
                [OUT, 1, out],
                IN_PER_GROUP,
                [1, K],
                [0, geometry.padding],
                [1, geometry.dilation],
            ),
            None => None,
        }
    }

    /// The scratch values [`Conv1d::forward_with`] uses for an input of `input` (`[IN, L]`),
    /// as [`Conv2d::scratch_len`].
    pub const fn scratch_len(input: [usize; 2], geometry: Conv1dGeometry) -> usize {
        match Self::wide(input[0], input[1], geometry) {
            Some(wide) => wide.scratch_len(),
            None => 0,
        }
    }

    /// [`Conv1d::forward`], faster with a scratch, as [`Conv2d::forward_with`].
    #[inline]
    pub fn forward_with<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[T; L]; IN],
        geometry: Conv1dGeometry,
        scratch: &mut [T],
    ) -> [[T; OL]; OUT] {
        let mut output = [[T::ZERO; OL]; OUT];
        self.forward_into_with(input, geometry, &mut output, scratch);
        output
    }

    /// [`Conv1d::forward_with`] into `output`.
    pub fn forward_into_with<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[T; L]; IN],
        geometry: Conv1dGeometry,
        output: &mut [[T; OL]; OUT],
        scratch: &mut [T],
    ) {
        let () = Self::NOT_EMPTY;
        const { check_groups(IN, IN_PER_GROUP, OUT) };
        let done = match Self::wide(IN, L, geometry) {
            Some(wide) if wide.output == [OUT, 1, OL] => wide.run(
                self.weight.as_flattened().as_flattened(),
                &self.bias,
                input.as_flattened(),
                scratch,
                output.as_flattened_mut(),
            ),
            _ => false,
        };
        if !done {
            self.forward_into(input, geometry, output);
        }
    }

    /// [`Conv1d::forward_into_with`] for each pair of samples, with one scratch.
    ///
    /// # Panics
    ///
    /// When `outputs` does not have one sample per input.
    pub fn forward_batch_with<const IN: usize, const L: usize, const OL: usize>(
        &self,
        inputs: &[[[T; L]; IN]],
        geometry: Conv1dGeometry,
        outputs: &mut [[[T; OL]; OUT]],
        scratch: &mut [T],
    ) {
        let () = Self::NOT_EMPTY;
        const { check_groups(IN, IN_PER_GROUP, OUT) };
        assert_eq!(inputs.len(), outputs.len(), "one output sample per input");
        let wide = match Self::wide(IN, L, geometry) {
            Some(wide) if wide.output == [OUT, 1, OL] => Some(wide),
            _ => None,
        };
        for (input, output) in inputs.iter().zip(outputs.iter_mut()) {
            let done = wide.is_some_and(|wide| {
                wide.run(
                    self.weight.as_flattened().as_flattened(),
                    &self.bias,
                    input.as_flattened(),
                    scratch,
                    output.as_flattened_mut(),
                )
            });
            if !done {
                self.forward_into(input, geometry, output);
            }
        }
    }

    /// [`Conv1d::forward`] into `output`, in the loop order of [`Conv2d::forward_into`].
    pub fn forward_into<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[T; L]; IN],
        geometry: Conv1dGeometry,
        output: &mut [[T; OL]; OUT],
    ) {
        let () = Self::NOT_EMPTY;
        const { check_groups(IN, IN_PER_GROUP, OUT) };
        debug_assert_eq!(
            geometry.output_size(L, K),
            Some(OL),
            "output size of {geometry:?}"
        );
        let axis = geometry.axis();
        let out_per_group = OUT / (IN / IN_PER_GROUP);
        for (o, (row, (kernels, bias))) in output
            .iter_mut()
            .zip(self.weight.iter().zip(&self.bias))
            .enumerate()
        {
            *row = [*bias; OL];
            let first = o / out_per_group * IN_PER_GROUP;
            for (channel, taps) in input[first..first + IN_PER_GROUP].iter().zip(kernels) {
                for (k, &weight) in taps.iter().enumerate() {
                    axis.for_each_tap(k, row, channel, |out, value| *out += weight * value);
                }
            }
        }
    }
}

/// `weight`, `[OUT, IN_PER_GROUP, K]` in PyTorch's order, drawn by [`Init::Uniform`]; `bias`,
/// `[OUT]`, zero.
impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar> Tensors
    for Conv1d<OUT, IN_PER_GROUP, K, T>
{
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "weight",
            shape: &[OUT, IN_PER_GROUP, K],
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Uniform,
        },
        TensorInfo {
            name: "bias",
            shape: &[OUT],
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Zeros,
        },
    ];

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("two tensors, above")
        };
        f(weight, self.weight.as_flattened().as_flattened());
        f(bias, &self.bias);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("two tensors, above")
        };
        f(weight, self.weight.as_flattened_mut().as_flattened_mut());
        f(bias, &mut self.bias);
    }
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, T: Scalar> core::fmt::Debug
    for Conv1d<OUT, IN_PER_GROUP, K, T>
{
    /// Shapes only, as `Dense`'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Conv1d<{OUT}, {IN_PER_GROUP}, {K}, {}>", T::NAME)
    }
}

#[cfg(test)]
// The values compared are small integers or sums of them, exact in binary floating point.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::Dense;

    /// A 1x1 convolution is a dense layer applied at every position.
    #[test]
    fn one_by_one_is_dense_at_every_pixel() {
        let weight: [[[[f64; 1]; 1]; 4]; 3] =
            core::array::from_fn(|o| core::array::from_fn(|i| [[(o * 4 + i) as f64 * 0.25 - 1.0]]));
        let bias = [0.5, -1.0, 2.0];
        let conv = Conv2d::from_parts(weight, bias);
        let dense = Dense::<4, 3, f64>::from_parts(
            core::array::from_fn(|o| core::array::from_fn(|i| weight[o][i][0][0])),
            bias,
        );
        let input: [[[f64; 5]; 3]; 4] = core::array::from_fn(|c| {
            core::array::from_fn(|y| core::array::from_fn(|x| (c * 15 + y * 5 + x) as f64 - 20.0))
        });
        let output: [[[f64; 5]; 3]; 3] = conv.forward(&input, Conv2dGeometry::DEFAULT);
        for y in 0..3 {
            for x in 0..5 {
                let pixel = core::array::from_fn(|c| input[c][y][x]);
                let expected = dense.forward(&pixel);
                for o in 0..3 {
                    assert_eq!(output[o][y][x], expected[o], "[{o}, {y}, {x}]");
                }
            }
        }
    }

    /// With groups, output channel `o` sees only its group's inputs: a block-diagonal dense
    /// layer at every position.
    #[test]
    fn groups_are_block_diagonal() {
        // 4 inputs in 2 groups of 2, 4 outputs (2 per group).
        let conv = Conv2d::<4, 2, 1, 1, f32>::from_parts(
            [
                [[[1.0]], [[2.0]]],
                [[[3.0]], [[4.0]]],
                [[[5.0]], [[6.0]]],
                [[[7.0]], [[8.0]]],
            ],
            [0.0; 4],
        );
        let input = [[[1.0f32]], [[10.0]], [[100.0]], [[1000.0]]];
        let output: [[[f32; 1]; 1]; 4] = conv.forward(&input, Conv2dGeometry::DEFAULT);
        assert_eq!(
            output.map(|plane| plane[0][0]),
            [21.0, 43.0, 6500.0, 8700.0]
        );
    }

    /// A kernel of ones over ones counts the window's values inside the input: padding is zero.
    #[test]
    fn padding_is_zero() {
        let conv = Conv2d::<1, 1, 3, 3, f64>::from_parts([[[[1.0; 3]; 3]]], [0.0]);
        let geometry = Conv2dGeometry {
            padding: [1, 1],
            ..Conv2dGeometry::DEFAULT
        };
        let output: [[[f64; 4]; 3]; 1] = conv.forward(&[[[1.0; 4]; 3]], geometry);
        assert_eq!(
            output,
            [[
                [4.0, 6.0, 6.0, 4.0],
                [6.0, 9.0, 9.0, 6.0],
                [4.0, 6.0, 6.0, 4.0]
            ]]
        );
    }

    /// Stride larger than the kernel skips inputs; dilation spreads the taps.
    #[test]
    fn stride_beyond_the_kernel_and_dilation() {
        let conv = Conv1d::<1, 1, 2, f64>::from_parts([[[1.0, 10.0]]], [0.0]);
        let input = [core::array::from_fn::<f64, 8, _>(|i| i as f64)];
        let strided: [[f64; 3]; 1] = conv.forward(
            &input,
            Conv1dGeometry {
                stride: 3,
                ..Conv1dGeometry::DEFAULT
            },
        );
        // Windows [0, 1], [3, 4], [6, 7].
        assert_eq!(strided, [[10.0, 43.0, 76.0]]);
        let dilated: [[f64; 5]; 1] = conv.forward(
            &input,
            Conv1dGeometry {
                dilation: 3,
                ..Conv1dGeometry::DEFAULT
            },
        );
        // Windows [i, i + 3].
        assert_eq!(dilated, [[30.0, 41.0, 52.0, 63.0, 74.0]]);
    }

    /// The kernel's scratch stays within twice a layer's input and output (or
    /// `MIN_SCRATCH`): shifted copies only within that, and no kernel where even one padded
    /// copy exceeds it.
    #[test]
    fn scratch_stays_within_twice_the_input_and_output() {
        let padded = |padding: usize| Conv2dGeometry {
            padding: [padding, padding],
            ..Conv2dGeometry::DEFAULT
        };
        // LeNet's convolutions: shifted copies, well within the budget.
        let first = Conv2d::<6, 1, 5, 5, f32>::wide([1, 28, 28], padded(2)).expect("a kernel");
        let second = Conv2d::<16, 6, 5, 5, f32>::wide([6, 14, 14], Conv2dGeometry::DEFAULT)
            .expect("a kernel");
        assert!(first.shifted() && second.shifted());
        // 7x7 over [32, 64, 64]: shifted copies would take 4 MiB (1,007,616 values), twice
        // the input and output 2 MiB; one padded copy takes 1.2 MiB.
        let large = Conv2d::<32, 32, 7, 7, f32>::wide([32, 64, 64], padded(3)).expect("a kernel");
        assert!(large.shift_pays() && !large.shifted());
        let data = 2 * 32 * 64 * 64;
        assert!(large.scratch_len() <= 2 * data);
        // A padding of 100 around 8x8: one padded copy of the 64 channels would be 2.8
        // million values, against 46,532 of input and output.
        assert!(Conv2d::<1, 64, 3, 3, f32>::wide([64, 8, 8], padded(100)).is_none());
        assert_eq!(
            Conv2d::<1, 64, 3, 3, f32>::scratch_len([64, 8, 8], padded(100)),
            0
        );
        let long = Conv1dGeometry {
            padding: 100_000,
            ..Conv1dGeometry::DEFAULT
        };
        assert_eq!(Conv1d::<1, 64, 3, f32>::scratch_len([64, 8], long), 0);
        // An input without rows is all padding: the plain loops write it.
        let rows = Conv2dGeometry {
            padding: [2, 0],
            ..Conv2dGeometry::DEFAULT
        };
        assert!(Conv2d::<64, 1, 3, 3, f32>::wide([1, 0, 32], rows).is_none());
        let conv = Conv2d::<2, 1, 3, 3, f32>::from_parts([[[[1.0; 3]; 3]]; 2], [0.5, -1.0]);
        let empty: [[[f32; 32]; 0]; 1] = [[]];
        let mut scratch = [0.0; 4096];
        let output: [[[f32; 30]; 2]; 2] = conv.forward_with(&empty, rows, &mut scratch);
        assert_eq!(output, [[[0.5; 30]; 2], [[-1.0; 30]; 2]]);
    }

    #[test]
    fn output_sizes_are_pytorchs() {
        let geometry = Conv2dGeometry {
            stride: [2, 3],
            padding: [1, 2],
            dilation: [2, 1],
        };
        assert_eq!(geometry.output_size([11, 13], [3, 2]), Some([5, 6]));
        assert_eq!(Conv2dGeometry::DEFAULT.output_size([2, 5], [3, 3]), None);
        assert_eq!(Conv1dGeometry::DEFAULT.output_size(10, 3), Some(8));
    }

    #[test]
    fn tensors_are_pytorchs() {
        type Layer = Conv2d<6, 2, 3, 5, f32>;
        let [weight, bias] = Layer::TENSORS else {
            panic!("two tensors")
        };
        assert_eq!((weight.name, weight.shape), ("weight", &[6, 2, 3, 5][..]));
        assert_eq!(weight.fans(), (30, 90));
        assert_eq!(
            (bias.name, bias.shape, bias.init),
            ("bias", &[6][..], Init::Zeros)
        );
        let mut layer = Layer::from_parts([[[[0.0; 5]; 3]; 2]; 6], [0.0; 6]);
        layer.weight_mut()[1][0][2][4] = 1.0;
        layer.bias_mut()[5] = 2.0;
        let mut seen = std::vec::Vec::new();
        layer.for_each_tensor(|info, values| {
            assert_eq!(values.len(), info.len());
            seen.push(values.iter().position(|v| *v != 0.0));
        });
        // PyTorch's row-major index of weight[1, 0, 2, 4].
        assert_eq!(seen, [Some(30 + 2 * 5 + 4), Some(5)]);
        let [weight, _] = Conv1d::<4, 1, 3, f64>::TENSORS else {
            panic!("two tensors")
        };
        assert_eq!(weight.shape, &[4, 1, 3]);
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn zeroed_layers_are_zero() {
        let layer = crate::zeroed_box::<Conv2d<8, 4, 3, 3, f64>>();
        assert!(
            layer
                .weight()
                .as_flattened()
                .as_flattened()
                .as_flattened()
                .iter()
                .all(|w| *w == 0.0)
        );
        assert_eq!(layer.bias(), &[0.0; 8]);
    }
}
