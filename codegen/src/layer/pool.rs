//! Pools: the runtime's `maxpool2d`, `avgpool2d`, `maxpool1d` and `avgpool1d` functions, the
//! geometry a literal `Pool2dGeometry` or `Pool1dGeometry`; no field, no tensors. Training:
//! the runtime's `train::<function>_backward`, one sample at a time (`each`).

use super::{Kind, per_sample};
use crate::ir::{Layer, Network, Pool, PoolGeometry};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

impl Kind for Pool {
    fn field_type(&self, _net: &Network) -> Option<TokenStream> {
        None
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        let variant = Ident::new(
            match self.function {
                "maxpool2d" => "MaxPool2d",
                "avgpool2d" => "AvgPool2d",
                "maxpool1d" => "MaxPool1d",
                _ => "AvgPool1d",
            },
            Span::call_site(),
        );
        quote!(#runtime::LayerKind::#variant)
    }

    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let runtime = &net.runtime;
        let function = Ident::new(self.function, Span::call_site());
        let geometry = self.geometry(net);
        quote_spanned!(layer.span=> #runtime::layers::#function(#input, #geometry))
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

    /// `train::<function>_backward(input, &delta, geometry)`: every pool's has this signature.
    fn backward_input(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let runtime = &net.runtime;
        let function = format_ident!("{}_backward", self.function);
        let geometry = self.geometry(net);
        quote_spanned!(layer.span=> #runtime::train::#function(#input, &#delta, #geometry))
    }
}

impl Pool {
    /// The literal `Pool2dGeometry` or `Pool1dGeometry` of the layer.
    pub(crate) fn geometry(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        match self.geometry {
            PoolGeometry::Two([kh, kw], [sh, sw], [ph, pw]) => quote! {
                #runtime::layers::Pool2dGeometry {
                    kernel: [#kh, #kw],
                    stride: [#sh, #sw],
                    padding: [#ph, #pw],
                }
            },
            PoolGeometry::One(kernel, stride, padding) => quote! {
                #runtime::layers::Pool1dGeometry {
                    kernel: #kernel,
                    stride: #stride,
                    padding: #padding,
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layer::kind;
    use crate::lower;
    use proc_macro2::{Span, TokenStream};
    use quote::quote;

    fn forward(declaration: &str) -> String {
        let net = nn_grammar::compile_item(declaration).unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let layer = &net.layers[0];
        assert!(kind(layer).field_type(&net).is_none());
        kind(layer).forward(&net, layer, &quote!(input)).to_string()
    }

    #[test]
    fn no_field_and_a_function() {
        assert_eq!(
            forward("struct Net = [2, 8, 8] -> maxpool2d(2, padding = 1) -> flatten -> 2;"),
            ":: nn :: __private :: layers :: maxpool2d (input , :: nn :: __private :: layers :: Pool2dGeometry { \
             kernel : [2usize , 2usize] , stride : [2usize , 2usize] , padding : [1usize , 1usize] , })"
        );
        assert_eq!(
            forward("struct Net = [2, 8] -> avgpool1d(3, stride = 1) -> flatten -> 2;"),
            ":: nn :: __private :: layers :: avgpool1d (input , :: nn :: __private :: layers :: Pool1dGeometry { \
             kernel : 3usize , stride : 1usize , padding : 0usize , })"
        );
    }

    #[test]
    fn backward_through_the_runtime_with_the_input() {
        let net = nn_grammar::compile_item("struct Net = [2, 5] -> avgpool1d(3) -> flatten -> 2;")
            .unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let layer = &net.layers[0];
        assert!(kind(layer).gradients_type(&net).is_none());
        assert_eq!(
            kind(layer)
                .backward_input(&net, layer, &quote!(x), &quote!(delta))
                .to_string(),
            ":: nn :: __private :: train :: avgpool1d_backward (x , & delta , \
             :: nn :: __private :: layers :: Pool1dGeometry { kernel : 3usize , stride : 3usize , padding : 0usize , })"
        );
        // A pool has no gradients to accumulate.
        let accumulate = kind(layer).accumulate(&net, layer, &quote!(g), &quote!(x), &quote!(d));
        assert!(accumulate.is_empty());
    }
}
