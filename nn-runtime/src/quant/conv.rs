//! The int8 convolutions, 2-D and 1-D: patches of the input through a [`QuantizedDense`].

#[cfg(target_arch = "x86_64")]
use super::kernel::channel_lanes;
use super::kernel::tables::Tables;
use super::kernel::{self, direct};
use super::pool::maxpool2d_u8_into;
use super::{Clamp, Quantization, QuantizedDense, WeightRange, requantize_step};
use crate::Error;
use crate::layers::{Conv1d, Conv1dGeometry, Conv2d, Conv2dGeometry, Pool2dGeometry};
use crate::zeroed::{ZeroInit, filled_prefix};
use core::mem::MaybeUninit;

/// Bytes of patches gathered at once by [`QuantizedConv2d::accumulate`] (at most
/// [`CHUNK_ROWS`]): LeNet's second convolution's 150-value patches go 27 at a time.
const CHUNK_BYTES: usize = 4096;
/// Sums of a chunk held at once, `rows * OUT`.
const CHUNK_SUMS: usize = 1024;

/// Bytes of the stack copy of a padded input (the input with its padding at the zero point), so
/// that every window is gathered by plain copies: the windows of LeNet's first convolution
/// that touch its padding of 2 are a quarter of them, and tap by tap they took most of its time
/// (`lenet` in bench/benches/quant_conv.rs). Larger inputs gather the border tap by tap.
const PADDED_BYTES: usize = 4096;
/// The most positions of a chunk: beyond it, the kernels gain nothing more from reading each
/// weight once for several rows.
const CHUNK_ROWS: usize = 64;

/// An int8 2-D convolution, as `nn.Conv2d` in the scheme of the [module](super): `OUT` output
/// channels each reading `IN_PER_GROUP` `u8` input channels through a `KH` by `KW` kernel of
/// `i8` weights, one scale per output channel, `i32` biases.
///
/// `PATCH` is `IN_PER_GROUP * KH * KW` and `GROUPS` `PATCH.div_ceil(4)` (stable Rust cannot
/// compute them in a type; generated code writes them out; both checked at compile time). The
/// layer is a [`QuantizedDense<PATCH, OUT, GROUPS>`] whose row `o` is output channel `o`'s
/// kernel flattened in PyTorch's order, `[IN_PER_GROUP][KH][KW]`. With a stride and dilation
/// of 1 from AVX2 on, `forward` runs a direct kernel on the padded input with the dense
/// layer's packed weights: neighbouring positions as the lanes (`quant::kernel::direct`), or
/// output channels (`quant::kernel::channel_lanes`), whichever runs fewer products (16 lanes
/// on AVX-512 VNNI, 8 below);
/// otherwise the forward pass gathers each output position's patch (im2col, a few dozen
/// positions at a time on the stack) and runs the dense layer's batch kernels over them. The
/// sums are exact, so all give the same steps.
///
/// Groups are not a parameter: they are the input's `IN / IN_PER_GROUP` (as for
/// [`Conv2d`]), output channel `o` of `OUT / groups` per group reading its group's input
/// channels (checked at compile time). A grouped convolution (depthwise included) of stride
/// and dilation 1 from AVX2 on runs a direct kernel on each group (its input planes, its
/// output channels); otherwise it gathers windows, group by group, and sums only the group's
/// output channels, in plain Rust (the dense kernels sum every output channel over one patch).
/// The sums are exact either way.
///
/// Padding reads the input's zero point, the real value 0, as ONNX's `QLinearConv` pads:
/// padded taps add exactly nothing to the sums.
#[derive(Clone, PartialEq)]
pub struct QuantizedConv2d<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    const PATCH: usize,
    const GROUPS: usize,
> {
    dense: QuantizedDense<PATCH, OUT, GROUPS>,
}

// SAFETY: a `QuantizedDense`, which is `ZeroInit`.
#[allow(unsafe_code)]
unsafe impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    const PATCH: usize,
    const GROUPS: usize,
> ZeroInit for QuantizedConv2d<OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS>
{
}

impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    const PATCH: usize,
    const GROUPS: usize,
> QuantizedConv2d<OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS>
{
    const VALID: () = assert!(
        OUT > 0
            && IN_PER_GROUP > 0
            && KH > 0
            && KW > 0
            && PATCH == IN_PER_GROUP * KH * KW
            && GROUPS == PATCH.div_ceil(4),
        "a QuantizedConv2d layer needs channels and a kernel, PATCH = IN_PER_GROUP * KH * KW \
         and GROUPS = PATCH.div_ceil(4)"
    );

    /// Positions gathered at once: as many patches and sums as [`CHUNK_BYTES`] and
    /// [`CHUNK_SUMS`] hold, at most [`CHUNK_ROWS`]; 0 when not even one fits.
    const ROWS: usize = {
        let rows = if CHUNK_BYTES / PATCH < CHUNK_SUMS / OUT {
            CHUNK_BYTES / PATCH
        } else {
            CHUNK_SUMS / OUT
        };
        if rows < CHUNK_ROWS { rows } else { CHUNK_ROWS }
    };

    /// Weights plus biases.
    pub const PARAMETERS: usize = OUT * PATCH + OUT;

    /// A layer from its quantised parts, as [`QuantizedDense::from_parts`]: `rows[o]` is output
    /// channel `o`'s kernel flattened in PyTorch's order (`[IN_PER_GROUP][KH][KW]`), one scale
    /// per output channel, biases in units of `input.scale * weight_scales[o]`, and the
    /// quantisation of the input and the output. `const`, for baked networks.
    ///
    /// # Panics
    ///
    /// As [`QuantizedDense::from_parts`], on parts that break the scheme.
    pub const fn from_parts(
        rows: &[[i8; PATCH]; OUT],
        weight_scales: [f32; OUT],
        bias: [i32; OUT],
        input: Quantization,
        output: Quantization,
    ) -> Self {
        let () = Self::VALID;
        Self {
            dense: QuantizedDense::from_parts(rows, weight_scales, bias, input, output),
        }
    }

    /// Quantises `conv` into `self`, in place (a layer can be larger than a stack), as
    /// [`QuantizedDense::quantize_from`] quantises a dense layer: weights symmetric per output
    /// channel, biases in the accumulator's units.
    pub fn quantize_from(
        &mut self,
        conv: &Conv2d<OUT, IN_PER_GROUP, KH, KW, f32>,
        input: Quantization,
        output: Quantization,
    ) {
        self.quantize_from_with(conv, input, output, WeightRange::Int8);
    }

    /// [`QuantizedConv2d::quantize_from`] with the weights in `range`.
    pub fn quantize_from_with(
        &mut self,
        conv: &Conv2d<OUT, IN_PER_GROUP, KH, KW, f32>,
        input: Quantization,
        output: Quantization,
        range: WeightRange,
    ) {
        let () = Self::VALID;
        let rows = conv.weight().as_flattened().as_flattened().as_flattened();
        self.dense
            .quantize_rows_with(rows, conv.bias(), input, output, range);
    }

    /// Sets the layer from its quantised parts, as [`QuantizedDense::assign`]: `rows` is
    /// `[OUT][PATCH]` row-major, PyTorch's `[OUT][IN_PER_GROUP][KH][KW]` flattened.
    ///
    /// # Errors
    ///
    /// As [`QuantizedDense::assign`].
    pub fn assign(
        &mut self,
        rows: &[i8],
        weight_scales: &[f32],
        bias: &[i32],
        input: Quantization,
        output: Quantization,
    ) -> Result<(), Error> {
        let () = Self::VALID;
        self.dense.assign(rows, weight_scales, bias, input, output)
    }

    /// The layer as a dense layer over patches: row `o` is output channel `o`'s kernel.
    pub fn dense(&self) -> &QuantizedDense<PATCH, OUT, GROUPS> {
        &self.dense
    }

    /// The quantised weight `[out][channel][y][x]`, as PyTorch's `weight[out, channel, y, x]`.
    ///
    /// # Panics
    ///
    /// When an index is out of its range, like indexing an array.
    pub fn weight(&self, out: usize, channel: usize, y: usize, x: usize) -> i8 {
        assert!(
            channel < IN_PER_GROUP && y < KH && x < KW,
            "weight [{out}][{channel}][{y}][{x}] of [{OUT}][{IN_PER_GROUP}][{KH}][{KW}]"
        );
        self.dense.weight(out, (channel * KH + y) * KW + x)
    }

    /// One scale per output channel.
    pub fn weight_scales(&self) -> &[f32; OUT] {
        self.dense.weight_scales()
    }

    /// The biases, in units of `input().scale * weight_scales()[o]`.
    pub fn bias(&self) -> &[i32; OUT] {
        self.dense.bias()
    }

    /// The quantisation of the input.
    pub fn input(&self) -> Quantization {
        self.dense.input()
    }

    /// The quantisation of the output.
    pub fn output(&self) -> Quantization {
        self.dense.output()
    }

    /// Each output's exact sum, `sum (x - input.zero_point) * w + bias` over its window
    /// (padding adding nothing), for one sample of `IN` channels of `H` by `W`. `OH` and `OW`
    /// must be [`Conv2dGeometry::output_size`]'s (checked in debug builds; in release, wrong
    /// sizes give wrong values, never a panic).
    pub fn accumulate<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
    ) -> [[[i32; OW]; OH]; OUT] {
        let mut sums = [[[0; OW]; OH]; OUT];
        self.accumulate_into(input, geometry, &mut sums);
        sums
    }

    /// [`QuantizedConv2d::accumulate`] into `sums`.
    #[inline]
    pub fn accumulate_into<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
        sums: &mut [[[i32; OW]; OH]; OUT],
    ) {
        self.accumulate_rows::<IN, H, W, OH, OW>(
            input.as_flattened(),
            geometry,
            sums.as_flattened_mut().as_flattened_mut(),
        );
    }

    /// [`QuantizedConv2d::accumulate_into`] on the input's `IN * H` rows, into `OUT` planes of
    /// `OH * OW` sums: the one body of the 2-D and 1-D layers.
    #[inline]
    fn accumulate_rows<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        rows: &[[u8; W]],
        geometry: Conv2dGeometry,
        sums: &mut [i32],
    ) {
        let positions = OH * OW;
        self.for_each_chunk::<IN, H, W, OH, OW>(rows, geometry, |first, chunk| {
            // Channel by channel: contiguous writes.
            for (o, plane) in sums.chunks_exact_mut(positions).enumerate() {
                for (to, row) in plane[first..].iter_mut().zip(chunk) {
                    *to = row[o];
                }
            }
        });
    }

    /// The output's steps from [`QuantizedConv2d::accumulate`]'s sums, as
    /// [`QuantizedDense::requantize`] computes them: `saturate(round(sum * m[o]) +
    /// output.zero_point)` within `clamp`.
    pub fn requantize<const OH: usize, const OW: usize>(
        &self,
        sums: &[[[i32; OW]; OH]; OUT],
        clamp: Clamp,
    ) -> [[[u8; OW]; OH]; OUT] {
        let mut output = [[[0; OW]; OH]; OUT];
        self.requantize_planes(
            sums.as_flattened().as_flattened(),
            clamp,
            output.as_flattened_mut().as_flattened_mut(),
        );
        output
    }

    /// [`QuantizedConv2d::requantize`] of `OUT` planes of sums into `OUT` planes of steps.
    fn requantize_planes(&self, sums: &[i32], clamp: Clamp, output: &mut [u8]) {
        let positions = sums.len() / OUT;
        for p in 0..positions {
            let steps = self
                .dense
                .requantize(&core::array::from_fn(|o| sums[o * positions + p]), clamp);
            for (o, step) in steps.into_iter().enumerate() {
                output[o * positions + p] = step;
            }
        }
    }

    /// The real values of the sums, as [`QuantizedDense::dequantize`]: `sum * input.scale *
    /// weight_scales[o]`. For an activation computed in `f32` at the layer's edge, and for a
    /// convolution that ends a network.
    pub fn dequantize<const OH: usize, const OW: usize>(
        &self,
        sums: &[[[i32; OW]; OH]; OUT],
    ) -> [[[f32; OW]; OH]; OUT] {
        let mut output = [[[0.0; OW]; OH]; OUT];
        self.dequantize_planes(
            sums.as_flattened().as_flattened(),
            output.as_flattened_mut().as_flattened_mut(),
        );
        output
    }

    /// [`QuantizedConv2d::dequantize`] of `OUT` planes of sums.
    fn dequantize_planes(&self, sums: &[i32], output: &mut [f32]) {
        let positions = sums.len() / OUT;
        for p in 0..positions {
            let values = self
                .dense
                .dequantize(&core::array::from_fn(|o| sums[o * positions + p]));
            for (o, value) in values.into_iter().enumerate() {
                output[o * positions + p] = value;
            }
        }
    }

    /// The layer with requantisation: [`QuantizedConv2d::accumulate`] then
    /// [`QuantizedConv2d::requantize`], position by position (the sums never stored whole).
    #[inline]
    pub fn forward<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
        clamp: Clamp,
    ) -> [[[u8; OW]; OH]; OUT] {
        let mut output = [[[0; OW]; OH]; OUT];
        self.forward_into(input, geometry, clamp, &mut output);
        output
    }

    /// [`QuantizedConv2d::forward`] then [`maxpool2d_u8`](super::maxpool2d_u8) with `pool`:
    /// the same steps, in one call. Where the direct kernels run (stride 1, from AVX2 on) and
    /// the pool is 2x2 of stride 2, they take each window's maximum of four sums and requantise
    /// only that (a quarter of the requantisations, no pass over the convolution's steps);
    /// elsewhere the convolution's steps stay in a buffer of their own rather than being
    /// returned and copied. `PH` and `PW` are the pool's output size, as
    /// [`maxpool2d_u8`](super::maxpool2d_u8) requires.
    #[inline]
    pub fn forward_max_pooled<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const PH: usize,
        const PW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
        clamp: Clamp,
        pool: Pool2dGeometry,
    ) -> [[[u8; PW]; PH]; OUT] {
        self.max_pooled::<IN, H, W, OH, OW, PH, PW>(input, geometry, clamp, pool, None)
    }

    /// [`QuantizedConv2d::forward_max_pooled`] with the weights' `tables` where prepared.
    #[inline]
    fn max_pooled<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const PH: usize,
        const PW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
        clamp: Clamp,
        pool: Pool2dGeometry,
        tables: Option<&Tables<OUT, GROUPS>>,
    ) -> [[[u8; PW]; PH]; OUT] {
        let mut output = [[[0; PW]; PH]; OUT];
        // The kernels pool the sums, which gives the pool of the steps where the requantisation
        // is monotone: multipliers of no sign (NaN) or positive, as positive scales make them
        // (a layer quantised with a negative scale pools its steps instead).
        let monotone = self
            .dense
            .multipliers()
            .iter()
            .all(|&m| m >= 0.0 || m.is_nan());
        let pooled_by_kernel = pool == Pool2dGeometry::new([2, 2])
            && [PH, PW] == [OH / 2, OW / 2]
            && monotone
            && self.forward_direct::<IN, H, W, OH, OW>(
                input.as_flattened(),
                geometry,
                clamp,
                (true, tables),
                output.as_flattened_mut().as_flattened_mut(),
            );
        if !pooled_by_kernel {
            let mut steps = [[[0; OW]; OH]; OUT];
            self.forward_rows::<IN, H, W, OH, OW>(
                input.as_flattened(),
                geometry,
                clamp,
                tables,
                steps.as_flattened_mut().as_flattened_mut(),
            );
            maxpool2d_u8_into(&steps, pool, &mut output);
        }
        output
    }

    /// [`QuantizedConv2d::forward`] into `output`.
    #[inline]
    pub fn forward_into<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
        clamp: Clamp,
        output: &mut [[[u8; OW]; OH]; OUT],
    ) {
        self.forward_rows::<IN, H, W, OH, OW>(
            input.as_flattened(),
            geometry,
            clamp,
            None,
            output.as_flattened_mut().as_flattened_mut(),
        );
    }

    /// [`QuantizedConv2d::forward_into`] on the input's `IN * H` rows, into `OUT` planes of
    /// `OH * OW` steps, with the weights' `tables` where prepared: the one body of the 2-D
    /// and 1-D layers.
    #[inline]
    fn forward_rows<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        rows: &[[u8; W]],
        geometry: Conv2dGeometry,
        clamp: Clamp,
        tables: Option<&Tables<OUT, GROUPS>>,
        output: &mut [u8],
    ) {
        if self.forward_direct::<IN, H, W, OH, OW>(rows, geometry, clamp, (false, tables), output) {
            return;
        }
        let positions = OH * OW;
        let zero_point = self.output().zero_point;
        // The dense layer's multipliers and formula: the same steps as its `requantize`.
        let multipliers = self.dense.multipliers();
        let zero = f32::from(zero_point);
        let (low, high) = (f32::from(clamp.low), f32::from(clamp.high));
        self.for_each_chunk::<IN, H, W, OH, OW>(rows, geometry, |first, chunk| {
            // Compiled for the widest vectors this CPU has: the same operations at every level.
            crate::kernel::with_widest(
                #[inline(always)]
                || {
                    let planes = output.chunks_exact_mut(positions);
                    for ((o, plane), m) in planes.enumerate().zip(multipliers) {
                        for (to, row) in plane[first..].iter_mut().zip(chunk) {
                            *to = requantize_step(row[o], *m, zero, low, high);
                        }
                    }
                },
            );
        });
    }

    /// [`QuantizedConv2d::forward_rows`] through a direct kernel for a stride and dilation of 1
    /// when the CPU has it and a group's padded input fits [`PADDED_BYTES`], group by group:
    /// `quant::kernel::channel_lanes` where it runs fewer products, `quant::kernel::direct`
    /// otherwise (AVX-512 VNNI's kernels, or their 256-bit forms from AVX2 on); `false`, nothing written, where neither runs. Where `pooled`, `output` gets
    /// the steps of 2x2 max windows of stride 2 (see `direct::Shape::pooled`).
    #[inline]
    fn forward_direct<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        rows: &[[u8; W]],
        geometry: Conv2dGeometry,
        clamp: Clamp,
        (pooled, tables): (bool, Option<&Tables<OUT, GROUPS>>),
        output: &mut [u8],
    ) -> bool {
        // The kernels' bounds rest on sizes that agree with the geometry (which `output_size`
        // also keeps from overflowing): others, which give wrong values, take the other path.
        if geometry.output_size([H, W], [KH, KW]) != Some([OH, OW]) || H == 0 || W == 0 {
            return false;
        }
        let padding = geometry.padding;
        let size = [H + 2 * padding[0], W + 2 * padding[1]];
        let groups = IN.checked_div(IN_PER_GROUP).unwrap_or(0);
        // One group's padded planes at a time (all of them without groups).
        let length = size[0]
            .checked_mul(size[1])
            .and_then(|plane| plane.checked_mul(IN_PER_GROUP))
            .unwrap_or(usize::MAX);
        if geometry.stride != [1, 1]
            || geometry.dilation != [1, 1]
            || length > PADDED_BYTES
            || groups == 0
            || !IN.is_multiple_of(IN_PER_GROUP)
            || !OUT.is_multiple_of(groups)
            || !direct::available(GROUPS, OUT)
        {
            return false;
        }
        // Only the bytes used are set to the zero point: the whole buffer (4 KiB) twice per
        // LeNet took more than the rest of its `memset`s.
        let mut buffer = MaybeUninit::<[u8; PADDED_BYTES + direct::SLACK]>::uninit();
        let zero_point = self.dense.input().zero_point;
        // SAFETY: `length <= PADDED_BYTES` (above), so the bytes used lie in the buffer.
        #[allow(unsafe_code)]
        let padded = unsafe { filled_prefix(&mut buffer, length + direct::SLACK, zero_point) };
        let kernel::Packed {
            weights,
            offsets,
            maddubs_exact,
        } = self.dense.packed();
        // A grouped convolution (depthwise included) is the kernel on each group: its input
        // planes, its output channels (the dense layer's rows of its taps). The border stays
        // at the zero point from one group to the next; only the planes' insides are copied.
        let per_group = OUT / groups;
        rows.chunks_exact(IN_PER_GROUP * H)
            .enumerate()
            .all(|(group, group_rows)| {
                place_padded::<H, W>(group_rows, padding, &mut padded[..length]);
                let shape = direct::Shape {
                    channels: IN_PER_GROUP,
                    padded: size,
                    kernel: [KH, KW],
                    output: [OH, OW],
                    outputs: [group * per_group, (group + 1) * per_group],
                    pooled,
                };
                let multipliers = self.dense.multipliers();
                let zero_point = self.output().zero_point;
                // The channel-lanes kernel where it runs fewer `vpdpbusd`; it refuses what
                // the direct one refuses, and sizes beyond its buffers, which `cheaper` checks.
                #[cfg(target_arch = "x86_64")]
                if direct::avx512_available(GROUPS) && channel_lanes::cheaper(&shape, GROUPS) {
                    return channel_lanes::forward::<OUT, GROUPS>(
                        &padded[..length + direct::SLACK],
                        shape,
                        weights,
                        tables,
                        offsets,
                        multipliers,
                        zero_point,
                        clamp,
                        output,
                    );
                }
                // Below AVX-512 VNNI, its 256-bit form where it runs fewer products than the
                // direct kernel's.
                #[cfg(target_arch = "x86_64")]
                if !direct::avx512_available(GROUPS)
                    && channel_lanes::v256::forward::<OUT, GROUPS>(
                        &padded[..length + direct::SLACK],
                        shape,
                        weights,
                        (offsets, multipliers, zero_point, clamp),
                        maddubs_exact,
                        output,
                    )
                {
                    return true;
                }
                direct::forward::<OUT, GROUPS>(
                    &padded[..length + direct::SLACK],
                    shape,
                    weights,
                    tables,
                    offsets,
                    multipliers,
                    zero_point,
                    clamp,
                    maddubs_exact,
                    output,
                )
            })
    }

    /// Calls `f(first, sums)` for consecutive chunks of the output's positions (numbered
    /// `y * OW + x`), `sums[k]` being position `first + k`'s, every position once, in order.
    /// `rows` are the input's `IN` channels of `H` rows.
    #[inline]
    fn for_each_chunk<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        rows: &[[u8; W]],
        geometry: Conv2dGeometry,
        mut f: impl FnMut(usize, &[[i32; OUT]]),
    ) {
        let () = Self::VALID;
        const {
            assert!(
                IN.is_multiple_of(IN_PER_GROUP) && OUT.is_multiple_of(IN / IN_PER_GROUP),
                "QuantizedConv2d's groups, IN / IN_PER_GROUP, must divide both the input's \
                 channels IN and the output's OUT"
            );
        };
        debug_assert_eq!(
            geometry.output_size([H, W], [KH, KW]),
            Some([OH, OW]),
            "output size of {geometry:?}"
        );
        debug_assert_eq!(rows.len(), IN * H, "the input's rows");
        let groups = IN / IN_PER_GROUP;
        // One group's input rows.
        let group_rows = |g: usize| &rows[g * IN_PER_GROUP * H..(g + 1) * IN_PER_GROUP * H];
        let positions = OH * OW;
        if Self::ROWS == 0 {
            // Patches or sums too large for the chunk's budget: one position at a time.
            let mut patch = [[0; PATCH]; 1];
            let mut sums = [[0; OUT]; 1];
            for p in 0..positions {
                for g in 0..groups {
                    self.gather::<H, W>(group_rows(g), geometry, [p / OW, p % OW], &mut patch[0]);
                    self.sum_group(g, groups, &patch, &mut sums);
                }
                f(p, &sums);
            }
            return;
        }
        // The padded input, when it is padded, fits the budget and the taps are spread (and
        // the sizes agree with the geometry, whose padded sizes then do not overflow).
        let agrees = geometry.output_size([H, W], [KH, KW]) == Some([OH, OW]);
        let padded_size = [
            H.saturating_add(geometry.padding[0].saturating_mul(2)),
            W.saturating_add(geometry.padding[1].saturating_mul(2)),
        ];
        let plane = padded_size[0].saturating_mul(padded_size[1]);
        let padded_len = plane.saturating_mul(IN);
        if agrees
            && H > 0
            && geometry.padding != [0, 0]
            && padded_len <= PADDED_BYTES
            && geometry.dilation[0] > 0
            && geometry.dilation[1] > 0
        {
            let mut padded = [self.dense.input().zero_point; PADDED_BYTES];
            let padded = &mut padded[..padded_len];
            place_padded::<H, W>(rows, geometry.padding, padded);
            let padded = &*padded;
            self.in_chunks::<OW>(positions, groups, f, |g, position, patch| {
                let group = &padded[g * IN_PER_GROUP * plane..];
                gather_padded::<KH, KW, PATCH>(group, padded_size, geometry, position, patch);
            });
        } else {
            self.in_chunks::<OW>(positions, groups, f, |g, position, patch| {
                self.gather::<H, W>(group_rows(g), geometry, position, patch);
            });
        }
    }

    /// The sums of group `group`'s output channels (of `groups`) over `patches`, its input
    /// channels' windows, into the matching rows of `sums`: every output channel through the
    /// dense kernels without groups.
    #[inline(always)]
    fn sum_group(
        &self,
        group: usize,
        groups: usize,
        patches: &[[u8; PATCH]],
        sums: &mut [[i32; OUT]],
    ) {
        if groups == 1 {
            self.dense.accumulate_batch(patches, sums);
        } else {
            let per_group = OUT / groups;
            self.dense.accumulate_neurons(
                group * per_group..(group + 1) * per_group,
                patches,
                sums,
            );
        }
    }

    /// Calls `f(first, sums)` for chunks of `positions` output positions, each position's
    /// window in each of the `groups` groups gathered by `gather(group, position, patch)`.
    #[inline(always)]
    fn in_chunks<const OW: usize>(
        &self,
        positions: usize,
        groups: usize,
        mut f: impl FnMut(usize, &[[i32; OUT]]),
        mut gather: impl FnMut(usize, [usize; 2], &mut [u8; PATCH]),
    ) {
        let mut bytes = [0_u8; CHUNK_BYTES];
        let mut sums = [0_i32; CHUNK_SUMS];
        let patches = &mut bytes.as_chunks_mut::<PATCH>().0[..Self::ROWS];
        let sums = &mut sums.as_chunks_mut::<OUT>().0[..Self::ROWS];
        let mut first = 0;
        while first < positions {
            let rows = Self::ROWS.min(positions - first);
            for g in 0..groups {
                for (k, patch) in patches[..rows].iter_mut().enumerate() {
                    let p = first + k;
                    gather(g, [p / OW, p % OW], patch);
                }
                self.sum_group(g, groups, &patches[..rows], &mut sums[..rows]);
            }
            f(first, &sums[..rows]);
            first += rows;
        }
    }

    /// The patch of output position `[y, x]` from `rows` (`IN_PER_GROUP` channels of `H`
    /// rows), in PyTorch's order `[IN_PER_GROUP][KH][KW]`, the input's zero point where the
    /// window reaches into the padding (or, with sizes that disagree with the geometry, past
    /// the input).
    // Inlined into the chunk loop, where a literal geometry folds into it (the branches on the
    // padding and dilation go): a third less time for LeNet's first convolution's 784 patches
    // and sums (bench/benches/quant_conv.rs, the kernel left out).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn gather<const H: usize, const W: usize>(
        &self,
        rows: &[[u8; W]],
        geometry: Conv2dGeometry,
        [y, x]: [usize; 2],
        patch: &mut [u8; PATCH],
    ) {
        let zero = self.dense.input().zero_point;
        if H == 0 {
            // No rows: every tap is padding.
            *patch = [zero; PATCH];
            return;
        }
        let Conv2dGeometry {
            stride,
            padding,
            dilation,
        } = geometry;
        // The window's first row and column in padded coordinates. Saturating: sizes that
        // disagree with a huge geometry then find every tap outside, rather than overflowing.
        let (top, left) = (y.saturating_mul(stride[0]), x.saturating_mul(stride[1]));
        let reach = |first: usize, dilation: usize, kernel: usize| {
            first.saturating_add(dilation.saturating_mul(kernel - 1))
        };
        // The window's columns are all inside the input (a dilation of 0, which
        // `output_size` refuses, takes the tested path rather than panicking).
        let inside = left >= padding[1]
            && reach(left, dilation[1], KW) < W.saturating_add(padding[1])
            && dilation[0] > 0
            && dilation[1] > 0;
        if inside && top >= padding[0] && reach(top, dilation[0], KH) < H.saturating_add(padding[0])
        {
            // The whole window inside: plain copies (the common case).
            let (first_row, first_column) = (top - padding[0], left - padding[1]);
            for (taps, channel) in patch
                .as_chunks_mut::<KW>()
                .0
                .chunks_exact_mut(KH)
                .zip(rows.chunks_exact(H))
            {
                let rows = channel[first_row..].iter().step_by(dilation[0]);
                for (row, source) in taps.iter_mut().zip(rows) {
                    if dilation[1] == 1 {
                        row.copy_from_slice(&source[first_column..first_column + KW]);
                    } else {
                        let columns = source[first_column..].iter().step_by(dilation[1]);
                        for (tap, value) in row.iter_mut().zip(columns) {
                            *tap = *value;
                        }
                    }
                }
            }
            return;
        }
        for (taps, channel) in patch
            .as_chunks_mut::<KW>()
            .0
            .chunks_exact_mut(KH)
            .zip(rows.chunks_exact(H))
        {
            for (ky, row) in taps.iter_mut().enumerate() {
                let Some(source) = reach(top, dilation[0], ky + 1)
                    .checked_sub(padding[0])
                    .and_then(|iy| channel.get(iy))
                else {
                    *row = [zero; KW];
                    continue;
                };
                if inside && dilation[1] == 1 {
                    let start = left - padding[1];
                    row.copy_from_slice(&source[start..start + KW]);
                } else {
                    for (kx, tap) in row.iter_mut().enumerate() {
                        *tap = reach(left, dilation[1], kx + 1)
                            .checked_sub(padding[1])
                            .and_then(|ix| source.get(ix))
                            .copied()
                            .unwrap_or(zero);
                    }
                }
            }
        }
    }
}

/// Copies the input's channels (`rows`, channels of `H` rows) into `padded` (planes of
/// `H + 2 * padding[0]` rows of `W + 2 * padding[1]`, already holding the zero point), each
/// row at the padding's offsets.
#[inline]
fn place_padded<const H: usize, const W: usize>(
    rows: &[[u8; W]],
    padding: [usize; 2],
    padded: &mut [u8],
) {
    let size = [H + 2 * padding[0], W + 2 * padding[1]];
    for (plane, channel) in padded
        .chunks_exact_mut(size[0] * size[1])
        .zip(rows.chunks_exact(H))
    {
        let rows = plane.chunks_exact_mut(size[1]).skip(padding[0]);
        for (row, source) in rows.zip(channel) {
            row[padding[1]..padding[1] + W].copy_from_slice(source);
        }
    }
}

/// The window of output position `[y, x]` from `padded` (the input's channels, each
/// `size[0]` rows of `size[1]`, padding included), into `patch` in PyTorch's order: plain copies
/// of each kernel row. Taps past `padded`'s end (which a geometry that `output_size` accepts
/// never reaches) are left as they were.
#[inline]
fn gather_padded<const KH: usize, const KW: usize, const PATCH: usize>(
    padded: &[u8],
    size: [usize; 2],
    geometry: Conv2dGeometry,
    [y, x]: [usize; 2],
    patch: &mut [u8; PATCH],
) {
    let Conv2dGeometry {
        stride, dilation, ..
    } = geometry;
    let (top, left) = (y * stride[0], x * stride[1]);
    let planes = padded.chunks_exact(size[0] * size[1]);
    for (taps, plane) in patch
        .as_chunks_mut::<KW>()
        .0
        .chunks_exact_mut(KH)
        .zip(planes)
    {
        for (ky, row) in taps.iter_mut().enumerate() {
            let start = (top + ky * dilation[0]) * size[1] + left;
            if dilation[1] == 1 {
                if let Some(source) = plane.get(start..start + KW) {
                    row.copy_from_slice(source);
                }
            } else {
                let columns = plane.iter().skip(start).step_by(dilation[1]);
                for (tap, value) in row.iter_mut().zip(columns) {
                    *tap = *value;
                }
            }
        }
    }
}

impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    const PATCH: usize,
    const GROUPS: usize,
> core::fmt::Debug for QuantizedConv2d<OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS>
{
    /// Shapes and quantisation only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "QuantizedConv2d<{OUT}, {IN_PER_GROUP}, {KH}, {KW}> {{ input: {:?}, output: {:?} }}",
            self.input(),
            self.output()
        )
    }
}

impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    const PATCH: usize,
    const GROUPS: usize,
> QuantizedConv2d<OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS>
{
    /// The layer prepared for many calls, as a batch makes them: the direct kernels' layouts
    /// of its weights, which each call of [`QuantizedConv2d::forward`] otherwise builds from
    /// the packed weights, built once (on AVX-512 VNNI; elsewhere there is nothing to build).
    /// [`PreparedConv2d`]'s calls give the same steps, 5 to 10 percent sooner for LeNet's
    /// convolutions (`lenet` in bench/benches/quant_conv.rs), which a twin's `forward_batch`
    /// prepares once per batch. The tables take 16 KiB.
    #[must_use]
    pub fn prepare(&self) -> PreparedConv2d<'_, OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS> {
        let () = Self::VALID;
        let weights = self.dense.packed().weights;
        PreparedConv2d {
            layer: self,
            tables: Tables::new(weights, IN_PER_GROUP, [KH, KW]),
        }
    }
}

/// A [`QuantizedConv2d`] with its weights' tables built once for many calls
/// ([`QuantizedConv2d::prepare`]): the layer's `forward`, `forward_into` and
/// `forward_max_pooled`, with the same steps, without rebuilding them at every call.
#[derive(Clone)]
pub struct PreparedConv2d<
    'a,
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    const PATCH: usize,
    const GROUPS: usize,
> {
    layer: &'a QuantizedConv2d<OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS>,
    tables: Tables<OUT, GROUPS>,
}

impl<
    'a,
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    const PATCH: usize,
    const GROUPS: usize,
> PreparedConv2d<'a, OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS>
{
    /// The layer prepared.
    #[must_use]
    pub fn layer(&self) -> &'a QuantizedConv2d<OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS> {
        self.layer
    }

    /// [`QuantizedConv2d::forward`].
    #[inline]
    pub fn forward<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
        clamp: Clamp,
    ) -> [[[u8; OW]; OH]; OUT] {
        let mut output = [[[0; OW]; OH]; OUT];
        self.forward_into(input, geometry, clamp, &mut output);
        output
    }

    /// [`QuantizedConv2d::forward_into`].
    #[inline]
    pub fn forward_into<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
        clamp: Clamp,
        output: &mut [[[u8; OW]; OH]; OUT],
    ) {
        self.layer.forward_rows::<IN, H, W, OH, OW>(
            input.as_flattened(),
            geometry,
            clamp,
            Some(&self.tables),
            output.as_flattened_mut().as_flattened_mut(),
        );
    }

    /// [`QuantizedConv2d::forward_max_pooled`].
    #[inline]
    pub fn forward_max_pooled<
        const IN: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const PH: usize,
        const PW: usize,
    >(
        &self,
        input: &[[[u8; W]; H]; IN],
        geometry: Conv2dGeometry,
        clamp: Clamp,
        pool: Pool2dGeometry,
    ) -> [[[u8; PW]; PH]; OUT] {
        self.layer.max_pooled::<IN, H, W, OH, OW, PH, PW>(
            input,
            geometry,
            clamp,
            pool,
            Some(&self.tables),
        )
    }
}

impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    const PATCH: usize,
    const GROUPS: usize,
> core::fmt::Debug for PreparedConv2d<'_, OUT, IN_PER_GROUP, KH, KW, PATCH, GROUPS>
{
    /// The layer's shapes and quantisation only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("PreparedConv2d").field(self.layer).finish()
    }
}

/// An int8 1-D convolution, as `nn.Conv1d` (any stride, padding, dilation and groups) in the
/// scheme of the [module](super): a [`QuantizedConv2d`] of kernel height 1 over an input of
/// height 1, its `u8` channels of `L` read as planes of one row, so that both run the same
/// code (the direct kernel included). `PATCH` is `IN_PER_GROUP * K` and `GROUPS`
/// `PATCH.div_ceil(4)`, as there.
#[derive(Clone, PartialEq)]
pub struct QuantizedConv1d<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    const PATCH: usize,
    const GROUPS: usize,
> {
    conv: QuantizedConv2d<OUT, IN_PER_GROUP, 1, K, PATCH, GROUPS>,
}

// SAFETY: a `QuantizedConv2d`, which is `ZeroInit`.
#[allow(unsafe_code)]
unsafe impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    const PATCH: usize,
    const GROUPS: usize,
> ZeroInit for QuantizedConv1d<OUT, IN_PER_GROUP, K, PATCH, GROUPS>
{
}

/// The 2-D geometry of a 1-D one: one row, the 1-D values along the width.
const fn planar(geometry: Conv1dGeometry) -> Conv2dGeometry {
    Conv2dGeometry {
        stride: [1, geometry.stride],
        padding: [0, geometry.padding],
        dilation: [1, geometry.dilation],
    }
}

impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    const PATCH: usize,
    const GROUPS: usize,
> QuantizedConv1d<OUT, IN_PER_GROUP, K, PATCH, GROUPS>
{
    /// Weights plus biases.
    pub const PARAMETERS: usize = OUT * PATCH + OUT;

    /// A layer from its quantised parts, as [`QuantizedConv2d::from_parts`]: `rows[o]` is
    /// output channel `o`'s kernel in PyTorch's order (`[IN_PER_GROUP][K]`). `const`, for baked
    /// networks.
    ///
    /// # Panics
    ///
    /// As [`QuantizedDense::from_parts`], on parts that break the scheme.
    pub const fn from_parts(
        rows: &[[i8; PATCH]; OUT],
        weight_scales: [f32; OUT],
        bias: [i32; OUT],
        input: Quantization,
        output: Quantization,
    ) -> Self {
        Self {
            conv: QuantizedConv2d::from_parts(rows, weight_scales, bias, input, output),
        }
    }

    /// Quantises `conv` into `self`, in place, as [`QuantizedConv2d::quantize_from`].
    pub fn quantize_from(
        &mut self,
        conv: &Conv1d<OUT, IN_PER_GROUP, K, f32>,
        input: Quantization,
        output: Quantization,
    ) {
        self.quantize_from_with(conv, input, output, WeightRange::Int8);
    }

    /// [`QuantizedConv1d::quantize_from`] with the weights in `range`.
    pub fn quantize_from_with(
        &mut self,
        conv: &Conv1d<OUT, IN_PER_GROUP, K, f32>,
        input: Quantization,
        output: Quantization,
        range: WeightRange,
    ) {
        let () = QuantizedConv2d::<OUT, IN_PER_GROUP, 1, K, PATCH, GROUPS>::VALID;
        let rows = conv.weight().as_flattened().as_flattened();
        self.conv
            .dense
            .quantize_rows_with(rows, conv.bias(), input, output, range);
    }

    /// Sets the layer from its quantised parts, as [`QuantizedConv2d::assign`]: `rows` is
    /// PyTorch's `[OUT][IN_PER_GROUP][K]` flattened.
    ///
    /// # Errors
    ///
    /// As [`QuantizedDense::assign`].
    pub fn assign(
        &mut self,
        rows: &[i8],
        weight_scales: &[f32],
        bias: &[i32],
        input: Quantization,
        output: Quantization,
    ) -> Result<(), Error> {
        self.conv.assign(rows, weight_scales, bias, input, output)
    }

    /// The layer as a dense layer over patches: row `o` is output channel `o`'s kernel.
    pub fn dense(&self) -> &QuantizedDense<PATCH, OUT, GROUPS> {
        self.conv.dense()
    }

    /// The quantised weight `[out][channel][x]`, as PyTorch's `weight[out, channel, x]`.
    ///
    /// # Panics
    ///
    /// When an index is out of its range, like indexing an array.
    pub fn weight(&self, out: usize, channel: usize, x: usize) -> i8 {
        self.conv.weight(out, channel, 0, x)
    }

    /// One scale per output channel.
    pub fn weight_scales(&self) -> &[f32; OUT] {
        self.conv.weight_scales()
    }

    /// The biases, in units of `input().scale * weight_scales()[o]`.
    pub fn bias(&self) -> &[i32; OUT] {
        self.conv.bias()
    }

    /// The quantisation of the input.
    pub fn input(&self) -> Quantization {
        self.conv.input()
    }

    /// The quantisation of the output.
    pub fn output(&self) -> Quantization {
        self.conv.output()
    }

    /// Each output's exact sum over its window, as [`QuantizedConv2d::accumulate`], for one
    /// sample of `IN` channels of `L` values; `OL` must be [`Conv1dGeometry::output_size`]'s.
    pub fn accumulate<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[u8; L]; IN],
        geometry: Conv1dGeometry,
    ) -> [[i32; OL]; OUT] {
        let mut sums = [[0; OL]; OUT];
        self.accumulate_into(input, geometry, &mut sums);
        sums
    }

    /// [`QuantizedConv1d::accumulate`] into `sums`.
    #[inline]
    pub fn accumulate_into<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[u8; L]; IN],
        geometry: Conv1dGeometry,
        sums: &mut [[i32; OL]; OUT],
    ) {
        self.conv.accumulate_rows::<IN, 1, L, 1, OL>(
            input,
            planar(geometry),
            sums.as_flattened_mut(),
        );
    }

    /// The output's steps from the sums, as [`QuantizedConv2d::requantize`].
    pub fn requantize<const OL: usize>(
        &self,
        sums: &[[i32; OL]; OUT],
        clamp: Clamp,
    ) -> [[u8; OL]; OUT] {
        let mut output = [[0; OL]; OUT];
        self.conv
            .requantize_planes(sums.as_flattened(), clamp, output.as_flattened_mut());
        output
    }

    /// The real values of the sums, as [`QuantizedConv2d::dequantize`].
    pub fn dequantize<const OL: usize>(&self, sums: &[[i32; OL]; OUT]) -> [[f32; OL]; OUT] {
        let mut output = [[0.0; OL]; OUT];
        self.conv
            .dequantize_planes(sums.as_flattened(), output.as_flattened_mut());
        output
    }

    /// The layer with requantisation, as [`QuantizedConv2d::forward`].
    #[inline]
    pub fn forward<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[u8; L]; IN],
        geometry: Conv1dGeometry,
        clamp: Clamp,
    ) -> [[u8; OL]; OUT] {
        let mut output = [[0; OL]; OUT];
        self.forward_into(input, geometry, clamp, &mut output);
        output
    }

    /// [`QuantizedConv1d::forward`] into `output`.
    #[inline]
    pub fn forward_into<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[u8; L]; IN],
        geometry: Conv1dGeometry,
        clamp: Clamp,
        output: &mut [[u8; OL]; OUT],
    ) {
        self.conv.forward_rows::<IN, 1, L, 1, OL>(
            input,
            planar(geometry),
            clamp,
            None,
            output.as_flattened_mut(),
        );
    }
}

impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    const PATCH: usize,
    const GROUPS: usize,
> QuantizedConv1d<OUT, IN_PER_GROUP, K, PATCH, GROUPS>
{
    /// The layer prepared for many calls, as [`QuantizedConv2d::prepare`].
    #[must_use]
    pub fn prepare(&self) -> PreparedConv1d<'_, OUT, IN_PER_GROUP, K, PATCH, GROUPS> {
        let () = QuantizedConv2d::<OUT, IN_PER_GROUP, 1, K, PATCH, GROUPS>::VALID;
        let weights = self.conv.dense.packed().weights;
        PreparedConv1d {
            layer: self,
            tables: Tables::new(weights, IN_PER_GROUP, [1, K]),
        }
    }
}

/// A [`QuantizedConv1d`] with its weights' tables built once for many calls
/// ([`QuantizedConv1d::prepare`]): the layer's `forward` and `forward_into`, with the same
/// steps.
#[derive(Clone)]
pub struct PreparedConv1d<
    'a,
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    const PATCH: usize,
    const GROUPS: usize,
> {
    layer: &'a QuantizedConv1d<OUT, IN_PER_GROUP, K, PATCH, GROUPS>,
    tables: Tables<OUT, GROUPS>,
}

impl<
    'a,
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    const PATCH: usize,
    const GROUPS: usize,
> PreparedConv1d<'a, OUT, IN_PER_GROUP, K, PATCH, GROUPS>
{
    /// The layer prepared.
    #[must_use]
    pub fn layer(&self) -> &'a QuantizedConv1d<OUT, IN_PER_GROUP, K, PATCH, GROUPS> {
        self.layer
    }

    /// [`QuantizedConv1d::forward`].
    #[inline]
    pub fn forward<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[u8; L]; IN],
        geometry: Conv1dGeometry,
        clamp: Clamp,
    ) -> [[u8; OL]; OUT] {
        let mut output = [[0; OL]; OUT];
        self.forward_into(input, geometry, clamp, &mut output);
        output
    }

    /// [`QuantizedConv1d::forward_into`].
    #[inline]
    pub fn forward_into<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[u8; L]; IN],
        geometry: Conv1dGeometry,
        clamp: Clamp,
        output: &mut [[u8; OL]; OUT],
    ) {
        self.layer.conv.forward_rows::<IN, 1, L, 1, OL>(
            input,
            planar(geometry),
            clamp,
            Some(&self.tables),
            output.as_flattened_mut(),
        );
    }
}

impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    const PATCH: usize,
    const GROUPS: usize,
> core::fmt::Debug for PreparedConv1d<'_, OUT, IN_PER_GROUP, K, PATCH, GROUPS>
{
    /// The layer's shapes and quantisation only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("PreparedConv1d").field(self.layer).finish()
    }
}

impl<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const K: usize,
    const PATCH: usize,
    const GROUPS: usize,
> core::fmt::Debug for QuantizedConv1d<OUT, IN_PER_GROUP, K, PATCH, GROUPS>
{
    /// Shapes and quantisation only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "QuantizedConv1d<{OUT}, {IN_PER_GROUP}, {K}> {{ input: {:?}, output: {:?} }}",
            self.input(),
            self.output()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Clamp, Conv2dGeometry, Quantization, QuantizedConv2d};

    /// A geometry that disagrees with the sizes never reaches the direct kernels, whose bounds
    /// rest on sizes that agree: here a padding whose padded width, `2^61 + 1`, wraps the
    /// padded plane of a `[1, 8, 1]` input to 8 bytes (the kernel read far out of bounds).
    #[test]
    fn sizes_that_disagree_take_no_direct_kernel() {
        let q = Quantization::new(0.1, 3);
        let layer = QuantizedConv2d::<1, 1, 1, 1, 1, 1>::from_parts(&[[1]], [0.5], [0], q, q);
        let rows = [[7_u8; 1]; 8];
        let mut output = [0_u8; 8];
        let huge = Conv2dGeometry {
            stride: [1, 1],
            padding: [0, 1 << 60],
            dilation: [1, 1],
        };
        assert_eq!(huge.output_size([8, 1], [1, 1]), Some([8, (1 << 61) + 1]));
        let ran = layer.forward_direct::<1, 8, 1, 8, 1>(
            &rows,
            huge,
            Clamp::NONE,
            (false, None),
            &mut output,
        );
        assert!(!ran);
        assert_eq!(output, [0; 8], "nothing written");
    }
}
