//! Pooling and flattening on `u8` steps, the output keeping the input's quantisation (as
//! TFLite's int8 pools and ONNX's `MaxPool` on `uint8`).

use crate::layers::{Pool1dGeometry, Pool2dGeometry};

mod sealed {
    pub trait Sealed {}
    impl<const N: usize> Sealed for [u8; N] {}
    impl<const H: usize, const W: usize> Sealed for [[u8; W]; H] {}
    impl<const C: usize, const H: usize, const W: usize> Sealed for [[[u8; W]; H]; C] {}
}

/// A nested array of `u8` steps of rank 1 to 3 (`[u8; L]`, `[[u8; W]; H]`,
/// `[[[u8; W]; H]; C]`): one channel of a quantised layer's input, or a whole sample. The
/// `u8` counterpart of [`Shaped`](crate::layers::Shaped); sealed.
pub trait Steps: Copy + sealed::Sealed + Send + Sync + 'static {
    /// Number of values: the product of the shape.
    const LEN: usize;

    /// The values in row-major order.
    fn steps(&self) -> &[u8];
}

impl<const N: usize> Steps for [u8; N] {
    const LEN: usize = N;

    fn steps(&self) -> &[u8] {
        self
    }
}

impl<const H: usize, const W: usize> Steps for [[u8; W]; H] {
    const LEN: usize = H * W;

    fn steps(&self) -> &[u8] {
        self.as_flattened()
    }
}

impl<const C: usize, const H: usize, const W: usize> Steps for [[[u8; W]; H]; C] {
    const LEN: usize = C * H * W;

    fn steps(&self) -> &[u8] {
        self.as_flattened().as_flattened()
    }
}

/// The input row or column that output `o`'s tap `k` reads along an axis of `len` values, or
/// `None` in the padding (or, with sizes that disagree with the geometry, past the input).
#[inline]
fn tap(o: usize, k: usize, stride: usize, padding: usize, len: usize) -> Option<usize> {
    (o * stride + k).checked_sub(padding).filter(|&i| i < len)
}

/// `zero_point + round(sum / count)`, rounding half to even, exactly, saturated to a step.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn average(sum: i64, count: i64, zero_point: u8) -> u8 {
    let (mut q, r) = (sum.div_euclid(count), sum.rem_euclid(count));
    // `r` in `0..count`: past half, or at half with `q` odd, rounds up.
    if 2 * r > count || (2 * r == count && q % 2 != 0) {
        q += 1;
    }
    // A mean of values within `-zero_point..=255 - zero_point` stays within them.
    (q + i64::from(zero_point)).clamp(0, 255) as u8
}

/// 2-D maximum pooling of one sample of `u8` steps, as `nn.MaxPool2d`: exact, the maximum
/// commuting with the (increasing) quantisation; the padding never wins (PyTorch pads with
/// `-inf`). `OH` and `OW` must be [`Pool2dGeometry::output_size`]'s (checked in debug builds;
/// in release, wrong sizes give wrong values, never a panic).
pub fn maxpool2d_u8<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    input: &[[[u8; W]; H]; C],
    geometry: Pool2dGeometry,
) -> [[[u8; OW]; OH]; C] {
    let mut output = [[[0; OW]; OH]; C];
    maxpool2d_u8_into(input, geometry, &mut output);
    output
}

/// [`maxpool2d_u8`] into `output`, every step of which it sets.
pub(crate) fn maxpool2d_u8_into<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    input: &[[[u8; W]; H]; C],
    geometry: Pool2dGeometry,
    output: &mut [[[u8; OW]; OH]; C],
) {
    debug_assert_eq!(geometry.output_size([H, W]), Some([OH, OW]), "{geometry:?}");
    if geometry == Pool2dGeometry::new([2, 2]) && OH * 2 <= H && OW * 2 <= W {
        // LeNet's pool: whole windows of 2 by 2, which LLVM vectorises.
        for (plane, channel) in output.iter_mut().zip(input) {
            for (out, [top, bottom]) in plane.iter_mut().zip(channel.as_chunks::<2>().0) {
                let (top, bottom) = (top.as_chunks::<2>().0, bottom.as_chunks::<2>().0);
                for ((max, top), bottom) in out.iter_mut().zip(top).zip(bottom) {
                    *max = top[0].max(top[1]).max(bottom[0].max(bottom[1]));
                }
            }
        }
        return;
    }
    for (plane, channel) in output.iter_mut().zip(input) {
        *plane = [[0; OW]; OH];
        max_plane(channel, plane, geometry);
    }
}

/// The maximum of each window of one channel (`H` rows) into `plane` (`OH` rows).
#[inline]
fn max_plane<const W: usize, const OW: usize>(
    channel: &[[u8; W]],
    plane: &mut [[u8; OW]],
    geometry: Pool2dGeometry,
) {
    let Pool2dGeometry {
        kernel,
        stride,
        padding,
    } = geometry;
    for (oy, out) in plane.iter_mut().enumerate() {
        for (ox, max) in out.iter_mut().enumerate() {
            for ky in 0..kernel[0] {
                let Some(row) = tap(oy, ky, stride[0], padding[0], channel.len()) else {
                    continue;
                };
                for kx in 0..kernel[1] {
                    if let Some(x) = tap(ox, kx, stride[1], padding[1], W) {
                        *max = (*max).max(channel[row][x]);
                    }
                }
            }
        }
    }
}

/// 2-D average pooling of one sample of `u8` steps, as `nn.AvgPool2d` with
/// `count_include_pad=True`: padded taps count as the real value 0 (the zero point), and each
/// output is `zero_point + round(sum (x - zero_point) / (KH * KW))`, computed exactly in
/// integers, rounding half to even as every requantisation here does. `OH` and `OW` as
/// [`maxpool2d_u8`].
pub fn avgpool2d_u8<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    input: &[[[u8; W]; H]; C],
    geometry: Pool2dGeometry,
    zero_point: u8,
) -> [[[u8; OW]; OH]; C] {
    debug_assert_eq!(geometry.output_size([H, W]), Some([OH, OW]), "{geometry:?}");
    let mut output = [[[zero_point; OW]; OH]; C];
    for (plane, channel) in output.iter_mut().zip(input) {
        average_plane(channel, plane, geometry, zero_point);
    }
    output
}

/// The average of each window of one channel (`H` rows) into `plane` (`OH` rows), padding
/// counted in the divisor.
#[inline]
fn average_plane<const W: usize, const OW: usize>(
    channel: &[[u8; W]],
    plane: &mut [[u8; OW]],
    geometry: Pool2dGeometry,
    zero_point: u8,
) {
    let Pool2dGeometry {
        kernel,
        stride,
        padding,
    } = geometry;
    let count = i64::try_from(kernel[0] * kernel[1])
        .unwrap_or(i64::MAX)
        .max(1);
    let zero = i64::from(zero_point);
    for (oy, out) in plane.iter_mut().enumerate() {
        for (ox, value) in out.iter_mut().enumerate() {
            let mut sum = 0_i64;
            for ky in 0..kernel[0] {
                let Some(row) = tap(oy, ky, stride[0], padding[0], channel.len()) else {
                    continue;
                };
                for kx in 0..kernel[1] {
                    if let Some(x) = tap(ox, kx, stride[1], padding[1], W) {
                        sum += i64::from(channel[row][x]) - zero;
                    }
                }
            }
            *value = average(sum, count, zero_point);
        }
    }
}

/// The 2-D geometry of a 1-D pool: windows of one row, the 1-D values along the width.
const fn planar(geometry: Pool1dGeometry) -> Pool2dGeometry {
    Pool2dGeometry {
        kernel: [1, geometry.kernel],
        stride: [1, geometry.stride],
        padding: [0, geometry.padding],
    }
}

/// 1-D maximum pooling of one sample of `u8` steps, as `nn.MaxPool1d`: [`maxpool2d_u8`]'s
/// loop on each channel as a plane of one row. `OL` must be [`Pool1dGeometry::output_size`]'s
/// (checked in debug builds).
pub fn maxpool1d_u8<const C: usize, const L: usize, const OL: usize>(
    input: &[[u8; L]; C],
    geometry: Pool1dGeometry,
) -> [[u8; OL]; C] {
    debug_assert_eq!(geometry.output_size(L), Some(OL), "{geometry:?}");
    let mut output = [[0; OL]; C];
    for (row, channel) in output.iter_mut().zip(input) {
        max_plane(
            core::slice::from_ref(channel),
            core::slice::from_mut(row),
            planar(geometry),
        );
    }
    output
}

/// 1-D average pooling of one sample of `u8` steps, as `nn.AvgPool1d` with
/// `count_include_pad=True`: [`avgpool2d_u8`]'s exact mean on each channel as a plane of one
/// row. `OL` as [`maxpool1d_u8`].
pub fn avgpool1d_u8<const C: usize, const L: usize, const OL: usize>(
    input: &[[u8; L]; C],
    geometry: Pool1dGeometry,
    zero_point: u8,
) -> [[u8; OL]; C] {
    debug_assert_eq!(geometry.output_size(L), Some(OL), "{geometry:?}");
    let mut output = [[zero_point; OL]; C];
    for (row, channel) in output.iter_mut().zip(input) {
        average_plane(
            core::slice::from_ref(channel),
            core::slice::from_mut(row),
            planar(geometry),
            zero_point,
        );
    }
    output
}

/// The mean of each channel of `u8` steps, `[C, ...]` to `[C]`, as `nn.AdaptiveAvgPool2d(1)`
/// followed by a flatten: `zero_point + round(sum (x - zero_point) / LEN)`, exactly, half to
/// even.
pub fn global_avgpool_u8<S: Steps, const C: usize>(input: &[S; C], zero_point: u8) -> [u8; C] {
    let count = i64::try_from(S::LEN).unwrap_or(i64::MAX).max(1);
    let zero = i64::from(zero_point);
    core::array::from_fn(|c| {
        let sum = input[c].steps().iter().map(|&x| i64::from(x) - zero).sum();
        average(sum, count, zero_point)
    })
}

/// The maximum of each channel of `u8` steps, `[C, ...]` to `[C]` (0 for an empty channel).
pub fn global_maxpool_u8<S: Steps, const C: usize>(input: &[S; C]) -> [u8; C] {
    core::array::from_fn(|c| input[c].steps().iter().copied().max().unwrap_or(0))
}

/// A sample of `u8` steps as one vector in PyTorch's row-major order, as
/// [`flatten`](crate::layers::flatten): `[[[u8; W]; H]; C]` to `[u8; C * H * W]` (`N` must be
/// the sample's length: checked at compile time).
#[inline]
pub fn flatten_u8<S: Steps, const N: usize>(input: &S) -> [u8; N] {
    const {
        assert!(
            N == S::LEN,
            "flatten_u8's output length must be the sample's number of values"
        );
    };
    let mut output = [0; N];
    output.copy_from_slice(input.steps());
    output
}
