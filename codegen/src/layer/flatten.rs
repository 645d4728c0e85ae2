//! `flatten`: the runtime's `flatten` function, `torch.flatten(x, 1)`'s order; no field.

use super::{Kind, per_sample};
use crate::ir::{Flatten, Layer, Network};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

impl Kind for Flatten {
    fn field_type(&self, _net: &Network) -> Option<TokenStream> {
        None
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        quote!(#runtime::LayerKind::Flatten)
    }

    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let runtime = &net.runtime;
        quote_spanned!(layer.span=> #runtime::layers::flatten(#input))
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

    fn backward_input(
        &self,
        net: &Network,
        layer: &Layer,
        _input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let runtime = &net.runtime;
        quote_spanned!(layer.span=> #runtime::train::flatten_backward(&#delta))
    }
}
