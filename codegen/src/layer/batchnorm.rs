//! `batchnorm`: `BatchNorm<C, T>` in the runtime, in eval mode (the running statistics) at
//! inference, `eps` a literal. In training, PyTorch's training mode: the statistics of the
//! chunk (`accumulate_batch` runs the whole batch as one) or of the one sample
//! (`accumulate_gradients`), through the runtime's `train::batchnorm_*`; `BatchNormGradients`
//! also carries the running statistics' update, which `Trainable::update_buffers` applies.

use super::{Kind, per_sample};
use crate::ir::{BatchNorm, Layer, Network};
use crate::shared::{count, describe, literal};
use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};

impl Kind for BatchNorm {
    fn field_type(&self, net: &Network) -> Option<TokenStream> {
        let Network {
            scalar, runtime, ..
        } = net;
        let channels = self.channels;
        Some(quote!(#runtime::layers::BatchNorm<#channels, #scalar>))
    }

    fn field_doc(&self, layer: &Layer) -> String {
        format!(
            " Batch normalisation `{}`: {}, running statistics, eps {:e}, `{}`.",
            layer.name,
            count(self.channels, "channel"),
            self.eps,
            describe(layer.activation)
        )
    }

    /// `BatchNorm2d` on images, `BatchNorm1d` on vectors and sequences, as PyTorch names them.
    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        if self.image {
            quote!(#runtime::LayerKind::BatchNorm2d)
        } else {
            quote!(#runtime::LayerKind::BatchNorm1d)
        }
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
        let Network {
            scalar, runtime, ..
        } = net;
        let channels = self.channels;
        Some(quote!(#runtime::train::BatchNormGradients<#channels, #scalar>))
    }

    fn gradients_doc(&self, layer: &Layer) -> String {
        format!(
            " Gradients of batch normalisation `{}`: weight and bias, and the batches' running \
             statistics.",
            layer.name
        )
    }

    fn batch_statistics(&self) -> bool {
        true
    }

    fn forward_train(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        _stable: bool,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        let eps = Literal::f64_suffixed(self.eps);
        quote_spanned!(layer.span=> #runtime::train::batchnorm_train_one(&self.#field, #input, #eps))
    }

    fn forward_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        let eps = Literal::f64_suffixed(self.eps);
        quote_spanned! {layer.span=>
            #runtime::train::batchnorm_train(&self.#field, #input, #output, #eps);
        }
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
            #runtime::train::batchnorm_backward_one(&self.#field, #input, &#delta, #eps)
        }
    }

    fn backward_input_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        delta: &TokenStream,
        below: &TokenStream,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        let eps = Literal::f64_suffixed(self.eps);
        quote_spanned! {layer.span=>
            #runtime::train::batchnorm_backward_input(&self.#field, #input, #delta, #below, #eps);
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
        let (eps, momentum) = (
            Literal::f64_suffixed(self.eps),
            Literal::f64_suffixed(self.momentum),
        );
        quote_spanned! {layer.span=>
            #gradients.#field.accumulate(
                ::core::slice::from_ref(#input),
                ::core::slice::from_ref(&#delta),
                #eps,
                #momentum,
            );
        }
    }

    fn accumulate_chunk(
        &self,
        _net: &Network,
        layer: &Layer,
        gradients: &TokenStream,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        let (eps, momentum) = (
            Literal::f64_suffixed(self.eps),
            Literal::f64_suffixed(self.momentum),
        );
        quote_spanned! {layer.span=>
            #gradients.#field.accumulate(#input, #delta, #eps, #momentum);
        }
    }

    fn update_buffers(
        &self,
        _net: &Network,
        layer: &Layer,
        gradients: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        quote_spanned!(layer.span=> #gradients.#field.update_buffers(&mut self.#field);)
    }

    /// `BatchNorm::from_state` of the weight, bias, running mean and variance, each `[C]`, and
    /// `num_batches_tracked`.
    fn baked(&self, net: &Network, tensors: Option<&[Vec<f64>]>) -> TokenStream {
        let Network {
            scalar, runtime, ..
        } = net;
        let channels = self.channels;
        let parts = if let Some([weight, bias, mean, var, tracked]) = tensors {
            let [weight, bias, mean, var] =
                [weight, bias, mean, var].map(|values| literal(scalar, values, &[channels]));
            let tracked = scalar.unsuffixed(tracked.first().copied().unwrap_or(0.0));
            quote!(#weight, #bias, #mean, #var, #tracked)
        } else {
            let zero = quote!([0.0 as #scalar; #channels]);
            quote!(#zero, #zero, #zero, #zero, 0.0 as #scalar)
        };
        quote!(#runtime::layers::BatchNorm::from_state(#parts))
    }
}

#[cfg(test)]
mod tests {
    use crate::layer::kind;
    use crate::lower;
    use proc_macro2::{Span, TokenStream};
    use quote::quote;

    #[test]
    fn field_type_forward_and_kind() {
        let net = nn_grammar::compile_item(
            "struct Net = [4, 6, 6] -> batchnorm(eps = 1e-3) relu -> flatten -> batchnorm -> 2;",
        )
        .unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let (image, vector) = (&net.layers[0], &net.layers[2]);
        assert_eq!(
            kind(image).field_type(&net).unwrap().to_string(),
            ":: nn :: __private :: layers :: BatchNorm < 4usize , f32 >"
        );
        assert_eq!(
            kind(image).forward(&net, image, &quote!(input)).to_string(),
            "self . layer0 . forward (input , 0.001f64)"
        );
        assert_eq!(
            kind(vector).forward(&net, vector, &quote!(x)).to_string(),
            "self . layer2 . forward (x , 0.00001f64)"
        );
        assert_eq!(
            kind(image).runtime_kind(&net).to_string(),
            ":: nn :: __private :: LayerKind :: BatchNorm2d"
        );
        assert_eq!(
            kind(vector).runtime_kind(&net).to_string(),
            ":: nn :: __private :: LayerKind :: BatchNorm1d"
        );
        assert_eq!(
            kind(image).field_doc(image),
            " Batch normalisation `layer0`: 4 channels, running statistics, eps 1e-3, `relu`."
        );
        assert_eq!(
            kind(image).gradients_type(&net).unwrap().to_string(),
            ":: nn :: __private :: train :: BatchNormGradients < 4usize , f32 >"
        );
        assert!(kind(image).batch_statistics() && !kind(&net.layers[1]).batch_statistics());
        assert_eq!(
            kind(vector)
                .accumulate(&net, vector, &quote!(g), &quote!(x), &quote!(d))
                .to_string(),
            "g . layer2 . accumulate (:: core :: slice :: from_ref (x) , :: core :: slice :: \
             from_ref (& d) , 0.00001f64 , 0.1f64 ,) ;"
        );
        assert_eq!(
            kind(image)
                .update_buffers(&net, image, &quote!(g))
                .to_string(),
            "g . layer0 . update_buffers (& mut self . layer0) ;"
        );
        let baked = [
            vec![1.0, 2.0],
            vec![0.5; 2],
            vec![0.0; 2],
            vec![1.0; 2],
            vec![7.0],
        ];
        let net = lower(
            &nn_grammar::compile_item("struct Net = 2 -> batchnorm;").unwrap(),
            TokenStream::new(),
            &|_| Span::call_site(),
        );
        assert_eq!(
            kind(&net.layers[0]).baked(&net, Some(&baked)).to_string(),
            ":: nn :: __private :: layers :: BatchNorm :: from_state ([1.0 , 2.0] , [0.5 , 0.5] , \
             [0.0 , 0.0] , [1.0 , 1.0] , 7.0)"
        );
    }
}
