//! `global_avgpool` and `global_maxpool`: the runtime's functions of those names, `[C, ...]` to
//! `[C]`; no field. Training: the runtime's `train::<function>_backward`, one sample at a time.

use super::{Kind, per_sample};
use crate::ir::{GlobalPool, Layer, Network};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

impl Kind for GlobalPool {
    fn field_type(&self, _net: &Network) -> Option<TokenStream> {
        None
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        if self.function == "global_avgpool" {
            quote!(#runtime::LayerKind::GlobalAvgPool)
        } else {
            quote!(#runtime::LayerKind::GlobalMaxPool)
        }
    }

    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let runtime = &net.runtime;
        let function = Ident::new(self.function, Span::call_site());
        quote_spanned!(layer.span=> #runtime::layers::#function(#input))
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

    /// `train::<function>_backward(input, &delta)`: both global pools' have this signature.
    fn backward_input(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let runtime = &net.runtime;
        let function = format_ident!("{}_backward", self.function);
        quote_spanned!(layer.span=> #runtime::train::#function(#input, &#delta))
    }
}
