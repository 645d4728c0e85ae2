//! `dropout(p)`: the identity at inference (the runtime's `dropout`); no field.

use super::{Kind, per_sample};
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
}
