//! 2-D maximum pooling: the runtime's `maxpool2d` function, its geometry a literal
//! `Pool2dGeometry`; no field, no tensors. Inference only.

use super::{Kind, per_sample};
use crate::ir::{Layer, Network, Pool2d};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

impl Kind for Pool2d {
    fn field_type(&self, _net: &Network) -> Option<TokenStream> {
        None
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        quote!(#runtime::LayerKind::MaxPool2d)
    }

    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let runtime = &net.runtime;
        let Self {
            kernel: [kh, kw],
            stride: [sh, sw],
            padding: [ph, pw],
        } = *self;
        quote_spanned! {layer.span=>
            #runtime::layers::maxpool2d(#input, #runtime::layers::Pool2dGeometry {
                kernel: [#kh, #kw],
                stride: [#sh, #sw],
                padding: [#ph, #pw],
            })
        }
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

#[cfg(test)]
mod tests {
    use crate::layer::kind;
    use crate::lower;
    use proc_macro2::{Span, TokenStream};
    use quote::quote;

    #[test]
    fn no_field_and_a_function() {
        let net = nn_grammar::compile_item(
            "struct Net = [2, 8, 8] -> maxpool2d(2, padding = 1) -> flatten -> 2;",
        )
        .unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let layer = &net.layers[0];
        assert!(kind(layer).field_type(&net).is_none());
        assert_eq!(
            kind(layer).forward(&net, layer, &quote!(input)).to_string(),
            ":: nn :: __private :: layers :: maxpool2d (input , :: nn :: __private :: layers :: Pool2dGeometry { \
             kernel : [2usize , 2usize] , stride : [2usize , 2usize] , padding : [1usize , 1usize] , })"
        );
    }
}
