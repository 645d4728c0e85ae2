//! `dropout(p)`: the identity at inference and, for now, in training too (`docs/training.md`);
//! no field.

use super::{Kind, each, per_sample};
use crate::ir::{Dropout, Layer, Network};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

impl Kind for Dropout {
    fn field_type(&self, _net: &Network) -> Option<TokenStream> {
        None
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        quote!(#runtime::LayerKind::Dropout)
    }

    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let runtime = &net.runtime;
        quote_spanned!(layer.span=> #runtime::layers::dropout(#input))
    }

    fn forward_batch(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        per_sample(net, layer, input, output)
    }
    fn forward_train(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        _stable: bool,
    ) -> TokenStream {
        self.forward(net, layer, input)
    }

    fn forward_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        each::forward(net, layer, input, output)
    }

    /// The identity, as the forward pass in training (see `docs/training.md`).
    fn backward_input(
        &self,
        _net: &Network,
        layer: &Layer,
        _input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        quote_spanned!(layer.span=> #delta)
    }

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
}
