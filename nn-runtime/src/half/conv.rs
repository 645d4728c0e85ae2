//! Convolutions whose weights are stored in half precision: [`HalfConv2d`] and [`HalfConv1d`].
//!
//! A convolution reuses each weight at every output position, so its weights are few beside its
//! multiply-adds: each call widens them once into a stack copy of the `f32` layer
//! ([`Conv2d`]/[`Conv1d`]) and runs that layer's code. The outputs are then the bits of the
//! `f32` layer holding the widened weights by construction, at every level and geometry, for
//! no new kernel; the copy costs one pass over the weights per call (per chunk in a batch).

use super::{Half, round, widen};
use crate::layers::{Conv1d, Conv1dGeometry, Conv2d, Conv2dGeometry};
use crate::zeroed::ZeroInit;

/// A 2-D convolution (as [`Conv2d`]) whose weights are stored in half precision ([`Bf16`] or
/// [`F16`]) and computed in `f32`; the biases stay `f32`, as in [`HalfDense`].
///
/// The weight is in PyTorch's order and shape, `[OUT][IN_PER_GROUP][KH][KW]`. Every forward
/// call widens the weights into a stack copy of a `Conv2d<OUT, IN_PER_GROUP, KH, KW, f32>` and
/// runs it: the bits of that layer, whatever the geometry. The copy takes
/// `4 * OUT * IN_PER_GROUP * KH * KW` bytes of stack during the call, beside the activations
/// that a network's `forward` holds there anyway (a declaration's twin is refused beyond 1 MiB:
/// `MAX_HALF_CONV_WEIGHTS` in nn-grammar).
///
/// [`Bf16`]: super::Bf16
/// [`F16`]: super::F16
/// [`HalfDense`]: super::HalfDense
#[derive(Clone, PartialEq)]
pub struct HalfConv2d<
    const OUT: usize,
    const IN_PER_GROUP: usize,
    const KH: usize,
    const KW: usize,
    H: Half,
> {
    weight: [[[[H; KW]; KH]; IN_PER_GROUP]; OUT],
    bias: [f32; OUT],
}

// SAFETY: `H` is `Bf16` or `F16` (`Half` is sealed), `repr(transparent)` over `u16`, whose
// all-zero bits are `+0.0`; all-zero bytes of an `f32` are `+0.0`; the layer holds nothing but
// arrays of those.
#[allow(unsafe_code)]
unsafe impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, H: Half>
    ZeroInit for HalfConv2d<OUT, IN_PER_GROUP, KH, KW, H>
{
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, H: Half>
    HalfConv2d<OUT, IN_PER_GROUP, KH, KW, H>
{
    /// Weights plus biases.
    pub const PARAMETERS: usize = OUT * IN_PER_GROUP * KH * KW + OUT;

    /// A layer from PyTorch's `weight` (`[OUT][IN_PER_GROUP][KH][KW]`), already in the format,
    /// and `bias`. `const`, for baked networks.
    pub const fn from_parts(
        weight: [[[[H; KW]; KH]; IN_PER_GROUP]; OUT],
        bias: [f32; OUT],
    ) -> Self {
        Self { weight, bias }
    }

    /// Sets this layer to `conv`, each weight rounded to the nearest value of `H` (ties to
    /// even), the biases copied.
    pub fn assign_from(&mut self, conv: &Conv2d<OUT, IN_PER_GROUP, KH, KW, f32>) {
        let wide = conv.weight().as_flattened().as_flattened().as_flattened();
        let half = self.weight.as_flattened_mut().as_flattened_mut();
        round(wide, half.as_flattened_mut());
        self.bias = *conv.bias();
    }

    /// Sets `conv` to this layer, each weight widened to `f32` (exactly), the biases copied:
    /// the inverse of [`assign_from`](Self::assign_from), in place as it is.
    pub fn widen_into(&self, conv: &mut Conv2d<OUT, IN_PER_GROUP, KH, KW, f32>) {
        let half = self.weight.as_flattened().as_flattened().as_flattened();
        let wide = conv.weight_mut().as_flattened_mut().as_flattened_mut();
        widen(half, wide.as_flattened_mut());
        *conv.bias_mut() = self.bias;
    }

    /// The weights, `weight()[o][i][y][x]` as PyTorch's `weight[o, i, y, x]`.
    pub fn weight(&self) -> &[[[[H; KW]; KH]; IN_PER_GROUP]; OUT] {
        &self.weight
    }

    /// The weights, for writing.
    pub fn weight_mut(&mut self) -> &mut [[[[H; KW]; KH]; IN_PER_GROUP]; OUT] {
        &mut self.weight
    }

    /// One bias per output channel.
    pub fn bias(&self) -> &[f32; OUT] {
        &self.bias
    }

    /// One bias per output channel, for writing.
    pub fn bias_mut(&mut self) -> &mut [f32; OUT] {
        &mut self.bias
    }

    /// The `f32` layer holding the widened weights and the biases (on the stack).
    #[inline]
    pub fn widened(&self) -> Conv2d<OUT, IN_PER_GROUP, KH, KW, f32> {
        let mut weight = [[[[0.0; KW]; KH]; IN_PER_GROUP]; OUT];
        widen(
            self.weight.as_flattened().as_flattened().as_flattened(),
            weight
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut(),
        );
        Conv2d::from_parts(weight, self.bias)
    }

    /// The scratch [`HalfConv2d::forward_with`] uses: [`Conv2d::scratch_len`]'s.
    pub const fn scratch_len(input: [usize; 3], geometry: Conv2dGeometry) -> usize {
        Conv2d::<OUT, IN_PER_GROUP, KH, KW, f32>::scratch_len(input, geometry)
    }

    /// [`Conv2d::forward_with`] on the widened weights (its bits).
    #[inline]
    pub fn forward_with<
        const IN: usize,
        const HEIGHT: usize,
        const WIDTH: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        input: &[[[f32; WIDTH]; HEIGHT]; IN],
        geometry: Conv2dGeometry,
        scratch: &mut [f32],
    ) -> [[[f32; OW]; OH]; OUT] {
        self.widened().forward_with(input, geometry, scratch)
    }

    /// [`Conv2d::forward_batch_with`] on the widened weights, widened once for all the samples.
    #[inline]
    pub fn forward_batch_with<
        const IN: usize,
        const HEIGHT: usize,
        const WIDTH: usize,
        const OH: usize,
        const OW: usize,
    >(
        &self,
        inputs: &[[[[f32; WIDTH]; HEIGHT]; IN]],
        geometry: Conv2dGeometry,
        outputs: &mut [[[[f32; OW]; OH]; OUT]],
        scratch: &mut [f32],
    ) {
        self.widened()
            .forward_batch_with(inputs, geometry, outputs, scratch);
    }
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const KH: usize, const KW: usize, H: Half>
    core::fmt::Debug for HalfConv2d<OUT, IN_PER_GROUP, KH, KW, H>
{
    /// Shapes only, as [`Conv2d`]'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "HalfConv2d<{OUT}, {IN_PER_GROUP}, {KH}, {KW}, {}>",
            H::NAME
        )
    }
}

/// A 1-D convolution (as [`Conv1d`]) whose weights are stored in half precision and computed
/// in `f32`, as [`HalfConv2d`]: the weight in PyTorch's `[OUT][IN_PER_GROUP][K]`, the biases
/// `f32`, every call the bits of the `Conv1d<OUT, IN_PER_GROUP, K, f32>` holding the widened
/// weights.
#[derive(Clone, PartialEq)]
pub struct HalfConv1d<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, H: Half> {
    weight: [[[H; K]; IN_PER_GROUP]; OUT],
    bias: [f32; OUT],
}

// SAFETY: as `HalfConv2d`'s: arrays of `u16` formats and `f32`, all zero bits `+0.0`.
#[allow(unsafe_code)]
unsafe impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, H: Half> ZeroInit
    for HalfConv1d<OUT, IN_PER_GROUP, K, H>
{
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, H: Half>
    HalfConv1d<OUT, IN_PER_GROUP, K, H>
{
    /// Weights plus biases.
    pub const PARAMETERS: usize = OUT * IN_PER_GROUP * K + OUT;

    /// A layer from PyTorch's `weight` (`[OUT][IN_PER_GROUP][K]`), already in the format, and
    /// `bias`. `const`, for baked networks.
    pub const fn from_parts(weight: [[[H; K]; IN_PER_GROUP]; OUT], bias: [f32; OUT]) -> Self {
        Self { weight, bias }
    }

    /// Sets this layer to `conv`, each weight rounded to the nearest value of `H` (ties to
    /// even), the biases copied.
    pub fn assign_from(&mut self, conv: &Conv1d<OUT, IN_PER_GROUP, K, f32>) {
        let wide = conv.weight().as_flattened().as_flattened();
        round(wide, self.weight.as_flattened_mut().as_flattened_mut());
        self.bias = *conv.bias();
    }

    /// Sets `conv` to this layer, each weight widened to `f32` (exactly), the biases copied:
    /// the inverse of [`assign_from`](Self::assign_from), in place as it is.
    pub fn widen_into(&self, conv: &mut Conv1d<OUT, IN_PER_GROUP, K, f32>) {
        let half = self.weight.as_flattened().as_flattened();
        widen(
            half,
            conv.weight_mut().as_flattened_mut().as_flattened_mut(),
        );
        *conv.bias_mut() = self.bias;
    }

    /// The weights, `weight()[o][i][k]` as PyTorch's `weight[o, i, k]`.
    pub fn weight(&self) -> &[[[H; K]; IN_PER_GROUP]; OUT] {
        &self.weight
    }

    /// The weights, for writing.
    pub fn weight_mut(&mut self) -> &mut [[[H; K]; IN_PER_GROUP]; OUT] {
        &mut self.weight
    }

    /// One bias per output channel.
    pub fn bias(&self) -> &[f32; OUT] {
        &self.bias
    }

    /// One bias per output channel, for writing.
    pub fn bias_mut(&mut self) -> &mut [f32; OUT] {
        &mut self.bias
    }

    /// The `f32` layer holding the widened weights and the biases (on the stack).
    #[inline]
    pub fn widened(&self) -> Conv1d<OUT, IN_PER_GROUP, K, f32> {
        let mut weight = [[[0.0; K]; IN_PER_GROUP]; OUT];
        widen(
            self.weight.as_flattened().as_flattened(),
            weight.as_flattened_mut().as_flattened_mut(),
        );
        Conv1d::from_parts(weight, self.bias)
    }

    /// The scratch [`HalfConv1d::forward_with`] uses: [`Conv1d::scratch_len`]'s.
    pub const fn scratch_len(input: [usize; 2], geometry: Conv1dGeometry) -> usize {
        Conv1d::<OUT, IN_PER_GROUP, K, f32>::scratch_len(input, geometry)
    }

    /// [`Conv1d::forward_with`] on the widened weights (its bits).
    #[inline]
    pub fn forward_with<const IN: usize, const L: usize, const OL: usize>(
        &self,
        input: &[[f32; L]; IN],
        geometry: Conv1dGeometry,
        scratch: &mut [f32],
    ) -> [[f32; OL]; OUT] {
        self.widened().forward_with(input, geometry, scratch)
    }

    /// [`Conv1d::forward_batch_with`] on the widened weights, widened once for all the samples.
    #[inline]
    pub fn forward_batch_with<const IN: usize, const L: usize, const OL: usize>(
        &self,
        inputs: &[[[f32; L]; IN]],
        geometry: Conv1dGeometry,
        outputs: &mut [[[f32; OL]; OUT]],
        scratch: &mut [f32],
    ) {
        self.widened()
            .forward_batch_with(inputs, geometry, outputs, scratch);
    }
}

impl<const OUT: usize, const IN_PER_GROUP: usize, const K: usize, H: Half> core::fmt::Debug
    for HalfConv1d<OUT, IN_PER_GROUP, K, H>
{
    /// Shapes only, as [`Conv1d`]'s.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "HalfConv1d<{OUT}, {IN_PER_GROUP}, {K}, {}>", H::NAME)
    }
}
