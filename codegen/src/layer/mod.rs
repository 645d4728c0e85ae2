//! One module per layer kind, each implementing [`Kind`]: the tokens that differ from one kind
//! to another (the field's type, the forward pass, the batched forward pass, the backward pass,
//! baked weights, the runtime's `LayerKind`). `emit`, `emit_train` and `io` compose them with
//! what all layers share (activations, locals, losses, chunks), and [`kind`] is the one place
//! that dispatches on [`ir::LayerKind`].
//!
//! Adding a kind: its rule in the grammar and `check` (with its shapes), a variant of
//! `ir::LayerKind` and its case in `lower`, a module here and its case in [`kind`], and the
//! runtime's type (implementing `Tensors`), gradients type and kernels.

mod dense;

use crate::ir::{self, Layer, Network};
use proc_macro2::TokenStream;

/// What generated code needs from one layer kind. `layer` is always the layer whose kind is
/// `self`; the methods that return statements end them with `;`, the others return
/// expressions. Every piece is spanned on the layer, so that type errors point at it.
pub(crate) trait Kind {
    /// The type of the layer's field in the network struct (`Dense<784, 128, f32>`).
    fn field_type(&self, net: &Network) -> TokenStream;

    /// The field's documentation, one sentence with a leading space.
    fn field_doc(&self, layer: &Layer) -> String;

    /// The runtime's `LayerKind` value for `LayerInfo`.
    fn runtime_kind(&self, net: &Network) -> TokenStream;

    /// The layer's output before its activation, for one sample; `input` is a reference to the
    /// layer's input.
    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream;

    /// Statement: the layer on a chunk of samples, `input` a `&[In]` and `output` a
    /// `&mut [Out]` of as many rows, before the activation.
    fn forward_batch(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream;

    /// The type of the layer's field in the gradients struct.
    fn gradients_type(&self, net: &Network) -> TokenStream;

    /// The gradients field's documentation, one sentence with a leading space.
    fn gradients_doc(&self, layer: &Layer) -> String;

    /// The layer's output before its activation, for one sample in training: `stable`, the
    /// bits of the same sample in [`Kind::forward_chunk`] (training with chunks); otherwise
    /// through the runtime's kernel, as inference's `forward` by default (never unrolled).
    fn forward_train(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        stable: bool,
    ) -> TokenStream;

    /// Statement: as [`Kind::forward_batch`], giving each sample the bits of
    /// [`Kind::forward_train`] when `stable`.
    fn forward_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream;

    /// The gradient of the loss with respect to the layer's input, given `delta`, the gradient
    /// with respect to its output before the activation (a place of the output's type).
    fn backward_input(&self, net: &Network, layer: &Layer, delta: &TokenStream) -> TokenStream;

    /// Statement: [`Kind::backward_input`] for a chunk, `delta` a `&[Out]` into `below`, a
    /// `&mut [In]`.
    fn backward_input_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        delta: &TokenStream,
        below: &TokenStream,
    ) -> TokenStream;

    /// Statement: adds the gradients of the layer's parameters for one sample to
    /// `gradients.<field>`, `input` being a reference to the layer's input.
    fn accumulate(
        &self,
        layer: &Layer,
        gradients: &TokenStream,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream;

    /// Statement: [`Kind::accumulate`] for a chunk, `input` a `&[In]` and `delta` a `&[Out]`.
    fn accumulate_chunk(
        &self,
        layer: &Layer,
        gradients: &TokenStream,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream;

    /// A const expression of the layer's field holding `tensors` (its tensors in the order of
    /// its `Tensors::TENSORS`, each in PyTorch's order and shape, flattened), or zeros.
    fn baked(&self, net: &Network, tensors: Option<&[Vec<f64>]>) -> TokenStream;
}

/// The module that emits `layer`'s kind.
pub(crate) fn kind(layer: &Layer) -> &dyn Kind {
    match &layer.kind {
        ir::LayerKind::Dense(dense) => dense,
    }
}
