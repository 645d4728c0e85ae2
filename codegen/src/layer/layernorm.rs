//! `layernorm`: `LayerNorm<S>` in the runtime, `S` the sample's nested array type, `eps` a
//! literal; `LayerNormGradients<S>` in training, one sample at a time (its statistics are the
//! sample's own), chunks looping over their samples (`each`).

use super::{Kind, each, per_sample};
use crate::ir::{Layer, LayerNorm, Network};
use crate::shared::{array_type, count, describe, literal, zeros};
use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};

impl Kind for LayerNorm {
    fn field_type(&self, net: &Network) -> Option<TokenStream> {
        let runtime = &net.runtime;
        let sample = array_type(&net.scalar, &self.shape);
        Some(quote!(#runtime::layers::LayerNorm<#sample>))
    }

    fn field_doc(&self, layer: &Layer) -> String {
        format!(
            " Layer normalisation `{}`: over {} of shape `{}`, eps {:e}, `{}`.",
            layer.name,
            count(self.shape.elements(), "value"),
            self.shape,
            self.eps,
            describe(layer.activation)
        )
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        quote!(#runtime::LayerKind::LayerNorm)
    }

    fn forward(&self, _net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let field = &layer.field;
        let eps = Literal::f64_suffixed(self.eps);
        quote_spanned!(layer.span=> self.#field.forward(#input, #eps))
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

    fn gradients_type(&self, net: &Network) -> Option<TokenStream> {
        let runtime = &net.runtime;
        let sample = array_type(&net.scalar, &self.shape);
        Some(quote!(#runtime::train::LayerNormGradients<#sample>))
    }

    fn gradients_doc(&self, layer: &Layer) -> String {
        format!(
            " Gradients of layer normalisation `{}`: weight and bias, of the sample's shape.",
            layer.name
        )
    }

    fn backward_input(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        let eps = Literal::f64_suffixed(self.eps);
        quote_spanned! {layer.span=>
            #runtime::train::layernorm_backward_input(&self.#field, #input, &#delta, #eps)
        }
    }

    fn accumulate(
        &self,
        _net: &Network,
        layer: &Layer,
        gradients: &TokenStream,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        let eps = Literal::f64_suffixed(self.eps);
        quote_spanned!(layer.span=> #gradients.#field.accumulate(#input, &#delta, #eps);)
    }

    fn accumulate_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        gradients: &TokenStream,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        each::accumulate(net, layer, gradients, input, delta)
    }

    /// `LayerNorm::from_parts` of the weight and bias, each nested in the sample's shape.
    fn baked(&self, net: &Network, tensors: Option<&[Vec<f64>]>) -> TokenStream {
        let Network {
            scalar, runtime, ..
        } = net;
        let parts = if let Some([weight, bias]) = tensors {
            let dims = self.shape.dims();
            let (weight, bias) = (literal(scalar, weight, dims), literal(scalar, bias, dims));
            quote!(#weight, #bias)
        } else {
            let zero = zeros(scalar, &self.shape);
            quote!(#zero, #zero)
        };
        quote!(#runtime::layers::LayerNorm::from_parts(#parts))
    }
}

#[cfg(test)]
mod tests {
    use crate::layer::kind;
    use crate::lower;
    use proc_macro2::{Span, TokenStream};
    use quote::quote;

    #[test]
    fn field_type_forward_and_baked() {
        let net = nn_grammar::compile_item(
            "struct Net = [2, 3] -> layernorm(eps = 1e-6) gelu -> flatten -> 2;",
        )
        .unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let layer = &net.layers[0];
        let norm = kind(layer);
        assert_eq!(
            norm.field_type(&net).unwrap().to_string(),
            ":: nn :: __private :: layers :: LayerNorm < [[f32 ; 3usize] ; 2usize] >"
        );
        assert_eq!(
            norm.forward(&net, layer, &quote!(input)).to_string(),
            "self . layer0 . forward (input , 0.000001f64)"
        );
        assert_eq!(
            norm.runtime_kind(&net).to_string(),
            ":: nn :: __private :: LayerKind :: LayerNorm"
        );
        assert_eq!(
            norm.field_doc(layer),
            " Layer normalisation `layer0`: over 6 values of shape `[2, 3]`, eps 1e-6, `gelu`."
        );
        assert_eq!(
            norm.gradients_type(&net).unwrap().to_string(),
            ":: nn :: __private :: train :: LayerNormGradients < [[f32 ; 3usize] ; 2usize] >"
        );
        assert_eq!(
            norm.backward_input(&net, layer, &quote!(x), &quote!(d))
                .to_string(),
            ":: nn :: __private :: train :: layernorm_backward_input (& self . layer0 , x , & d , 0.000001f64)"
        );
        assert_eq!(
            norm.accumulate(&net, layer, &quote!(g), &quote!(x), &quote!(d))
                .to_string(),
            "g . layer0 . accumulate (x , & d , 0.000001f64) ;"
        );
        let tensors = [vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![0.0; 6]];
        assert_eq!(
            norm.baked(&net, Some(&tensors)).to_string(),
            ":: nn :: __private :: layers :: LayerNorm :: from_parts ([[1.0 , 2.0 , 3.0] , \
             [4.0 , 5.0 , 6.0]] , [[0.0 , 0.0 , 0.0] , [0.0 , 0.0 , 0.0]])"
        );
    }
}
