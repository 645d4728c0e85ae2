//! One module per layer kind, each implementing [`Kind`]: the tokens that differ from one kind
//! to another (the field's type, the forward pass, the batched forward pass, the backward pass,
//! baked weights, the runtime's `LayerKind`). `emit`, `emit_train` and `io` compose them with
//! what all layers share (activations, locals, losses, chunks), and [`kind`] is the one place
//! that dispatches on [`ir::LayerKind`].
//!
//! Adding a kind: its rule in the grammar and `check` (with its shapes), a variant of
//! `ir::LayerKind` and its case in `lower`, a module here and its case in [`kind`], and the
//! runtime's type (implementing `Tensors`), gradients type and kernels.

mod batchnorm;
mod causal;
mod conv1d;
mod conv2d;
mod dense;
mod dropout;
mod each;
mod flatten;
mod global_pool;
mod layernorm;
mod pool;
mod recurrent;

use crate::ir::{self, Layer, Network};
use crate::shared::local;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

/// What generated code needs from one layer kind. `layer` is always the layer whose kind is
/// `self`; the methods that return statements end them with `;`, the others return
/// expressions. Every piece is spanned on the layer, so that type errors point at it.
pub(crate) trait Kind {
    /// The type of the layer's field in the network struct (`Dense<784, 128, f32>`); `None`
    /// for a kind without tensors (a pool, `flatten`), which has no field: `emit` and `io`
    /// skip it, and its forward pass calls a runtime function.
    fn field_type(&self, net: &Network) -> Option<TokenStream>;

    /// The field's documentation, one sentence with a leading space (kinds with a field).
    fn field_doc(&self, _layer: &Layer) -> String {
        String::new()
    }

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

    /// The type of the layer's part of a stream's state in a sequence network (`None`: the kind
    /// keeps no state between time steps).
    fn state_type(&self, _net: &Network) -> Option<TokenStream> {
        None
    }

    /// A const expression of [`Kind::state_type`]'s fresh state (zeros).
    fn fresh_state(&self, _net: &Network) -> TokenStream {
        TokenStream::new()
    }

    /// The layer's output before its activation at one time step of a sequence network,
    /// `state` a `&mut` of its state (kinds with a state); by default [`Kind::forward`].
    fn step(
        &self,
        net: &Network,
        layer: &Layer,
        _state: &TokenStream,
        input: &TokenStream,
    ) -> TokenStream {
        self.forward(net, layer, input)
    }

    /// Statement: one time step of several streams, `states` a `&mut [<Net>State]` (the
    /// layer's part is its field), `input` a `&[In]` and `output` a `&mut [Out]` of as many
    /// rows, before the activation, with each stream's bits those of [`Kind::step`]; by
    /// default [`Kind::forward`] on each stream.
    fn step_streams(
        &self,
        net: &Network,
        layer: &Layer,
        _states: &TokenStream,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        per_sample(net, layer, input, output)
    }

    /// Statement: a kind with a state (training a sequence network) over a window of one
    /// stream, `inputs` a `&[In]` and `outputs` a `&mut [Out]` of as many rows, before the
    /// activation, from `state`, a shared reference to its state, which it leaves as it is;
    /// each step's bits those of [`Kind::step`]. Every kind with a state has it (the default
    /// is a compile error in the generated code).
    fn forward_window(
        &self,
        _net: &Network,
        layer: &Layer,
        _state: &TokenStream,
        _inputs: &TokenStream,
        _outputs: &TokenStream,
    ) -> TokenStream {
        quote_spanned!(layer.span=> ::core::compile_error!("nn: this layer kind has no training window");)
    }

    /// Statement: truncated backpropagation through [`Kind::forward_window`]'s window from
    /// `state` (left at the window's end): from `deltas`, a `&[Out]` of the gradients with
    /// respect to the outputs before the activation, adds the parameters' gradients to
    /// `gradients.<field>` and writes the gradients with respect to the inputs into `below`, a
    /// `&mut [In]`. Every kind with a state has it, as [`Kind::forward_window`].
    fn backward_window(
        &self,
        _net: &Network,
        layer: &Layer,
        _window: Window<'_>,
        _gradients: &TokenStream,
    ) -> TokenStream {
        quote_spanned!(layer.span=> ::core::compile_error!("nn: this layer kind has no training window");)
    }

    /// The type of the layer's field in the gradients struct; `None` for a kind without
    /// tensors, which has no such field. Whether a kind has a backward pass is the grammar's
    /// `LayerKind::trains` (`ir::Network::trains`): a network with a kind that does not train
    /// has no training half at all, and the training methods below keep their empty defaults.
    fn gradients_type(&self, _net: &Network) -> Option<TokenStream> {
        None
    }

    /// Whether the kind draws random masks in training (dropout): the gradients struct then
    /// holds a `train::Masks`, and the training methods bind `shared::dropout_key`.
    fn draws_masks(&self) -> bool {
        false
    }

    /// Whether the kind normalises with the statistics of the batch in training (batchnorm):
    /// `accumulate_batch` then runs the whole batch as one chunk, on the heap when larger than
    /// `TRAINING_CHUNK`.
    fn batch_statistics(&self) -> bool {
        false
    }

    /// Statements of `Trainable::update_buffers`: folds what `gradients.<field>` holds besides
    /// gradients into the layer's buffers (batchnorm's running statistics).
    fn update_buffers(
        &self,
        _net: &Network,
        _layer: &Layer,
        _gradients: &TokenStream,
    ) -> TokenStream {
        TokenStream::new()
    }

    /// The gradients field's documentation, one sentence with a leading space.
    fn gradients_doc(&self, _layer: &Layer) -> String {
        String::new()
    }

    /// The layer's output before its activation, for one sample in training: `stable`, the
    /// bits of the same sample in [`Kind::forward_chunk`] (training with chunks); otherwise
    /// inference's bits (those of [`Kind::forward`] or [`Kind::step`]), apart from dropout's
    /// masks. By default inference's [`Kind::forward`], which gives a sample the same bits
    /// wherever it is.
    fn forward_train(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        _stable: bool,
    ) -> TokenStream {
        self.forward(net, layer, input)
    }

    /// Statement: as [`Kind::forward_batch`], giving each sample the bits of
    /// [`Kind::forward_train`] when `stable`. By default a loop over the chunk's samples
    /// (`each`), for the kinds without a batched training kernel.
    fn forward_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        each::forward(net, layer, input, output)
    }

    /// The gradient of the loss with respect to the layer's input, given `input`, a reference
    /// to the layer's input (what a maximum needs), and `delta`, the gradient with respect to
    /// its output before the activation (a place of the output's type).
    fn backward_input(
        &self,
        _net: &Network,
        _layer: &Layer,
        _input: &TokenStream,
        _delta: &TokenStream,
    ) -> TokenStream {
        TokenStream::new()
    }

    /// Statement: [`Kind::backward_input`] for a chunk, `input` a `&[In]` and `delta` a
    /// `&[Out]`, into `below`, a `&mut [In]`; by default a loop over the chunk's samples.
    fn backward_input_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        delta: &TokenStream,
        below: &TokenStream,
    ) -> TokenStream {
        each::backward_input(net, layer, input, delta, below)
    }

    /// Statement: adds the gradients of the layer's parameters for one sample to
    /// `gradients.<field>`, `input` being a reference to the layer's input.
    fn accumulate(
        &self,
        _net: &Network,
        _layer: &Layer,
        _gradients: &TokenStream,
        _input: &TokenStream,
        _delta: &TokenStream,
    ) -> TokenStream {
        TokenStream::new()
    }

    /// Statement: [`Kind::accumulate`] for a chunk, `input` a `&[In]` and `delta` a `&[Out]`.
    fn accumulate_chunk(
        &self,
        _net: &Network,
        _layer: &Layer,
        _gradients: &TokenStream,
        _input: &TokenStream,
        _delta: &TokenStream,
    ) -> TokenStream {
        TokenStream::new()
    }

    /// A const expression of the layer's field holding `tensors` (its tensors in the order of
    /// its `Tensors::TENSORS`, each in PyTorch's order and shape, flattened), or zeros (kinds
    /// with a field).
    fn baked(&self, _net: &Network, _tensors: Option<&[Vec<f64>]>) -> TokenStream {
        TokenStream::new()
    }
}

/// The places [`Kind::backward_window`] reads and writes: a `&mut` of the layer's state, the
/// window's inputs (`&[In]`), the gradients with respect to its outputs (`&[Out]`) and those
/// with respect to its inputs (`&mut [In]`).
#[derive(Clone, Copy)]
pub(crate) struct Window<'a> {
    pub state: &'a TokenStream,
    pub inputs: &'a TokenStream,
    pub deltas: &'a TokenStream,
    pub below: &'a TokenStream,
}

/// The module that emits `layer`'s kind.
pub(crate) fn kind(layer: &Layer) -> &dyn Kind {
    match &layer.kind {
        ir::LayerKind::Dense(dense) => dense,
        ir::LayerKind::Conv2d(conv) => conv,
        ir::LayerKind::Conv1d(conv) => conv,
        ir::LayerKind::Pool(pool) => pool,
        ir::LayerKind::GlobalPool(pool) => pool,
        ir::LayerKind::Flatten(flatten) => flatten,
        ir::LayerKind::Dropout(dropout) => dropout,
        ir::LayerKind::BatchNorm(norm) => norm,
        ir::LayerKind::LayerNorm(norm) => norm,
        ir::LayerKind::Recurrent(recurrent) => recurrent,
        ir::LayerKind::CausalConv1d(conv) => conv,
    }
}

/// A convolution's forward pass through its runtime type's `forward_with`: a stack scratch of
/// `scratch_len` values (a const expression of the layer's shapes and `geometry`), given to one
/// sample (`input` some `&In`; an expression) or to a chunk through `forward_batch_with`
/// (`input` a `&[In]`, `output` a `&mut [Out]`; a statement), one scratch for the chunk.
fn convolution(
    net: &Network,
    layer: &Layer,
    field_type: &TokenStream,
    geometry: &TokenStream,
    input: &TokenStream,
    output: Option<&TokenStream>,
) -> TokenStream {
    let field = &layer.field;
    let scratch = local("scratch");
    let zero = net.scalar.literal(0.0);
    let dims = layer.input.dims();
    let declare = quote_spanned! {layer.span=>
        // The padded input and the product of one sample: about the size of the layer's input
        // and output, which `forward` holds as locals anyway.
        #[allow(clippy::large_stack_arrays)]
        let mut #scratch = [#zero; <#field_type>::scratch_len([#(#dims),*], #geometry)];
    };
    let Some(output) = output else {
        return quote_spanned! {layer.span=> {
            #declare
            self.#field.forward_with(#input, #geometry, &mut #scratch)
        }};
    };
    quote_spanned! {layer.span=>
        #declare
        self.#field.forward_batch_with(#input, #geometry, #output, &mut #scratch);
    }
}

/// Statement: `forward` on each sample of a chunk, for the kinds without a batched kernel:
/// `input` a `&[In]`, `output` a `&mut [Out]` of as many rows.
fn per_sample(
    net: &Network,
    layer: &Layer,
    input: &TokenStream,
    output: &TokenStream,
) -> TokenStream {
    let sample = local("sample");
    let row = local("row");
    let forward = kind(layer).forward(net, layer, &quote!(#sample));
    quote_spanned! {layer.span=>
        for (#sample, #row) in #input.iter().zip(#output.iter_mut()) {
            *#row = #forward;
        }
    }
}
