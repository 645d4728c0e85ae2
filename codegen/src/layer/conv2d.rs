//! 2-D convolutions: `Conv2d<OUT, IN_PER_GROUP, KH, KW, T>` in the runtime, the geometry
//! (stride, padding, dilation) passed as a literal `Conv2dGeometry` that the compiler folds.
//! Training: `train::Conv2dGradients` and `train::conv2d_backward_input`, one sample at a time
//! (`each`).

use super::{Kind, convolution, each};
use crate::ir::{Conv2d, Layer, Network};
use crate::shared::{count, describe, literal};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

impl Conv2d {
    /// `Conv2d<OUT, IN_PER_GROUP, KH, KW, T>`.
    fn runtime_type(&self, net: &Network) -> TokenStream {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            out_channels,
            in_per_group,
            kernel: [kh, kw],
            ..
        } = *self;
        quote!(#runtime::layers::Conv2d<#out_channels, #in_per_group, #kh, #kw, #scalar>)
    }

    /// The geometry, a `Conv2dGeometry` literal.
    pub(crate) fn geometry(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        let Self {
            stride: [sh, sw],
            padding: [ph, pw],
            dilation: [dh, dw],
            ..
        } = *self;
        quote! {
            #runtime::layers::Conv2dGeometry {
                stride: [#sh, #sw],
                padding: [#ph, #pw],
                dilation: [#dh, #dw],
            }
        }
    }
}

impl Kind for Conv2d {
    fn field_type(&self, net: &Network) -> Option<TokenStream> {
        Some(self.runtime_type(net))
    }

    fn field_doc(&self, layer: &Layer) -> String {
        let [kh, kw] = self.kernel;
        format!(
            " Convolution `{}`: {}, kernels of {kh}x{kw} over {}, `{}`.",
            layer.name,
            count(self.out_channels, "output channel"),
            count(self.in_per_group, "input channel"),
            describe(layer.activation)
        )
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        quote!(#runtime::LayerKind::Conv2d)
    }

    /// Through `forward_with` and a stack scratch (the matrix product of `kernel::conv_wide`
    /// where the stride is 1).
    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let ty = self.runtime_type(net);
        convolution(net, layer, &ty, &self.geometry(net), input, None)
    }

    /// The chunk through `forward_batch_with`, one scratch for the chunk.
    fn forward_batch(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        let ty = self.runtime_type(net);
        convolution(net, layer, &ty, &self.geometry(net), input, Some(output))
    }

    /// `Conv2d::from_parts` of the weight, nested as PyTorch's `[OUT, IN_PER_GROUP, KH, KW]`,
    /// and the bias.
    fn baked(&self, net: &Network, tensors: Option<&[Vec<f64>]>) -> TokenStream {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            out_channels,
            in_per_group,
            kernel: [kh, kw],
            ..
        } = *self;
        let parts = if let Some([weight, bias]) = tensors {
            let weight = literal(scalar, weight, &[out_channels, in_per_group, kh, kw]);
            let bias = literal(scalar, bias, &[out_channels]);
            quote!(#weight, #bias)
        } else {
            quote!(
                [[[[0.0 as #scalar; #kw]; #kh]; #in_per_group]; #out_channels],
                [0.0 as #scalar; #out_channels]
            )
        };
        quote!(#runtime::layers::Conv2d::from_parts(#parts))
    }

    fn gradients_type(&self, net: &Network) -> Option<TokenStream> {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            out_channels,
            in_per_group,
            kernel: [kh, kw],
            ..
        } = *self;
        Some(quote!(
            #runtime::train::Conv2dGradients<#out_channels, #in_per_group, #kh, #kw, #scalar>
        ))
    }

    fn gradients_doc(&self, layer: &Layer) -> String {
        format!(
            " Gradients of convolution `{}`: weights and biases, as in the layer.",
            layer.name
        )
    }

    fn backward_input(
        &self,
        net: &Network,
        layer: &Layer,
        _input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        let geometry = self.geometry(net);
        quote_spanned! {layer.span=>
            #runtime::train::conv2d_backward_input(&self.#field, &#delta, #geometry)
        }
    }

    fn accumulate(
        &self,
        net: &Network,
        layer: &Layer,
        gradients: &TokenStream,
        input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        let geometry = self.geometry(net);
        quote_spanned!(layer.span=> #gradients.#field.accumulate(#input, &#delta, #geometry);)
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
}

#[cfg(test)]
mod tests {
    use crate::layer::kind;
    use crate::lower;
    use proc_macro2::{Span, TokenStream};
    use quote::quote;

    #[test]
    fn field_type_and_forward() {
        let net = nn_grammar::compile_item(
            "struct Net = [4, 8, 8] -> conv2d(6, (3, 5), stride = 2, padding = (1, 2), groups = 2) -> flatten -> 2;",
        )
        .unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let layer = &net.layers[0];
        let conv = kind(layer);
        assert_eq!(
            conv.field_type(&net).unwrap().to_string(),
            ":: nn :: __private :: layers :: Conv2d < 6usize , 2usize , 3usize , 5usize , f32 >"
        );
        assert_eq!(
            conv.forward(&net, layer, &quote!(input)).to_string(),
            "{ # [allow (clippy :: large_stack_arrays)] let mut scratch = [0f32 ; < :: nn :: __private :: layers :: Conv2d < 6usize , 2usize , 3usize , 5usize , f32 > > \
             :: scratch_len ([4usize , 8usize , 8usize] , :: nn :: __private :: layers :: Conv2dGeometry { \
             stride : [2usize , 2usize] , padding : [1usize , 2usize] , dilation : [1usize , 1usize] , })] ; \
             self . layer0 . forward_with (input , :: nn :: __private :: layers :: Conv2dGeometry { \
             stride : [2usize , 2usize] , padding : [1usize , 2usize] , dilation : [1usize , 1usize] , } , & mut scratch) }"
        );
        assert_eq!(
            conv.field_doc(layer),
            " Convolution `layer0`: 6 output channels, kernels of 3x5 over 2 input channels, `linear`."
        );
    }

    #[test]
    fn training_tokens() {
        let net = nn_grammar::compile_item(
            "struct Net = [2, 6, 6] -> conv2d(4, 3, dilation = 2, groups = 2) -> flatten -> 2 softmax;",
        )
        .unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        assert!(net.trains);
        let layer = &net.layers[0];
        let conv = kind(layer);
        assert_eq!(
            conv.gradients_type(&net).unwrap().to_string(),
            ":: nn :: __private :: train :: Conv2dGradients < 4usize , 1usize , 3usize , 3usize , f32 >"
        );
        let geometry = ":: nn :: __private :: layers :: Conv2dGeometry { stride : [1usize , 1usize] , \
                        padding : [0usize , 0usize] , dilation : [2usize , 2usize] , }";
        assert_eq!(
            conv.backward_input(&net, layer, &quote!(x), &quote!(delta))
                .to_string(),
            format!(
                ":: nn :: __private :: train :: conv2d_backward_input (& self . layer0 , & delta , {geometry})"
            )
        );
        assert_eq!(
            conv.accumulate(&net, layer, &quote!(g), &quote!(x), &quote!(delta))
                .to_string(),
            format!("g . layer0 . accumulate (x , & delta , {geometry}) ;")
        );
    }

    /// A network whose output is not a vector has no training half: the losses read vectors.
    #[test]
    fn shaped_outputs_do_not_train() {
        let net = nn_grammar::compile_item("struct Net = [2, 6, 6] -> conv2d(4, 3);").unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        assert!(!net.trains);
    }
}
