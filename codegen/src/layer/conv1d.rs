//! 1-D convolutions: `Conv1d<OUT, IN_PER_GROUP, K, T>` in the runtime, the geometry a literal
//! `Conv1dGeometry`. Training: `train::Conv1dGradients` and `train::conv1d_backward_input`,
//! one sample at a time (`each`).

use super::{Kind, convolution, each};
use crate::ir::{Conv1d, Layer, Network};
use crate::shared::{count, describe, literal};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

impl Conv1d {
    /// `Conv1d<OUT, IN_PER_GROUP, K, T>`.
    fn runtime_type(&self, net: &Network) -> TokenStream {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            out_channels,
            in_per_group,
            kernel,
            ..
        } = *self;
        quote!(#runtime::layers::Conv1d<#out_channels, #in_per_group, #kernel, #scalar>)
    }

    /// The geometry, a `Conv1dGeometry` literal.
    fn geometry(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        let Self {
            stride,
            padding,
            dilation,
            ..
        } = *self;
        quote! {
            #runtime::layers::Conv1dGeometry {
                stride: #stride,
                padding: #padding,
                dilation: #dilation,
            }
        }
    }
}

impl Kind for Conv1d {
    fn field_type(&self, net: &Network) -> Option<TokenStream> {
        Some(self.runtime_type(net))
    }

    fn field_doc(&self, layer: &Layer) -> String {
        format!(
            " Convolution `{}`: {}, kernels of {} over {}, `{}`.",
            layer.name,
            count(self.out_channels, "output channel"),
            count(self.kernel, "tap"),
            count(self.in_per_group, "input channel"),
            describe(layer.activation)
        )
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        quote!(#runtime::LayerKind::Conv1d)
    }

    /// Through `forward_with` and a stack scratch, as a 2-D convolution's.
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

    /// `Conv1d::from_parts` of the weight, nested as PyTorch's `[OUT, IN_PER_GROUP, K]`, and
    /// the bias.
    fn baked(&self, net: &Network, tensors: Option<&[Vec<f64>]>) -> TokenStream {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            out_channels,
            in_per_group,
            kernel,
            ..
        } = *self;
        let parts = if let Some([weight, bias]) = tensors {
            let weight = literal(scalar, weight, &[out_channels, in_per_group, kernel]);
            let bias = literal(scalar, bias, &[out_channels]);
            quote!(#weight, #bias)
        } else {
            quote!(
                [[[0.0 as #scalar; #kernel]; #in_per_group]; #out_channels],
                [0.0 as #scalar; #out_channels]
            )
        };
        quote!(#runtime::layers::Conv1d::from_parts(#parts))
    }

    fn gradients_type(&self, net: &Network) -> Option<TokenStream> {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            out_channels,
            in_per_group,
            kernel,
            ..
        } = *self;
        Some(quote!(
            #runtime::train::Conv1dGradients<#out_channels, #in_per_group, #kernel, #scalar>
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
            #runtime::train::conv1d_backward_input(&self.#field, &#delta, #geometry)
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
