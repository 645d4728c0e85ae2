//! `conv1d(..., causal)`: the runtime's `Conv1d` (its weights a 1-D convolution's, baked as
//! one), stepped over a stream by `step_causal` with the stream's `ConvHistory`, the last
//! `(kernel - 1) * dilation` inputs. Blocks of steps and several streams run it step by step:
//! a step reads the history the previous one left.

use super::{Kind, Window, per_sample};
use crate::ir::{CausalConv1d, Layer, Network};
use crate::shared::{count, describe, local};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

impl Kind for CausalConv1d {
    fn field_type(&self, net: &Network) -> Option<TokenStream> {
        self.conv.field_type(net)
    }

    fn field_doc(&self, layer: &Layer) -> String {
        format!(
            " Causal convolution `{}` over time steps: {}, kernels of {} {} steps apart over {}, `{}`.",
            layer.name,
            count(self.conv.out_channels, "output channel"),
            count(self.conv.kernel, "tap"),
            self.conv.dilation,
            count(self.conv.in_per_group, "input channel"),
            describe(layer.activation)
        )
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        self.conv.runtime_kind(net)
    }

    /// One step of a fresh stream; sequence networks call [`Kind::step`] instead.
    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let fresh = self.fresh_state(net);
        self.step(net, layer, &quote!(&mut #fresh), input)
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

    fn state_type(&self, net: &Network) -> Option<TokenStream> {
        let Network {
            runtime, scalar, ..
        } = net;
        let (channels, frames) = (self.channels, self.frames);
        Some(quote!(#runtime::layers::ConvHistory<#channels, #frames, #scalar>))
    }

    fn fresh_state(&self, net: &Network) -> TokenStream {
        let state = self.state_type(net);
        quote!(<#state>::ZERO)
    }

    fn step(
        &self,
        _net: &Network,
        layer: &Layer,
        state: &TokenStream,
        input: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        let dilation = self.conv.dilation;
        quote_spanned!(layer.span=> self.#field.step_causal(#state, #dilation, #input))
    }

    fn step_streams(
        &self,
        net: &Network,
        layer: &Layer,
        states: &TokenStream,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        let (whole, sample, row) = (local("whole"), local("sample"), local("row"));
        let step = self.step(net, layer, &quote!(&mut #whole.#field), &quote!(#sample));
        quote_spanned! {layer.span=>
            for ((#whole, #sample), #row) in #states
                .iter_mut()
                .zip(#input.iter())
                .zip(#output.iter_mut())
            {
                *#row = #step;
            }
        }
    }

    fn baked(&self, net: &Network, tensors: Option<&[Vec<f64>]>) -> TokenStream {
        self.conv.baked(net, tensors)
    }
    fn gradients_type(&self, net: &Network) -> Option<TokenStream> {
        self.conv.gradients_type(net)
    }

    fn gradients_doc(&self, layer: &Layer) -> String {
        self.conv.gradients_doc(layer)
    }

    fn forward_window(
        &self,
        _net: &Network,
        layer: &Layer,
        state: &TokenStream,
        inputs: &TokenStream,
        outputs: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        let dilation = self.conv.dilation;
        quote_spanned!(layer.span=> self.#field.forward_causal_from(#state, #dilation, #inputs, #outputs);)
    }

    fn backward_window(
        &self,
        net: &Network,
        layer: &Layer,
        window: Window<'_>,
        gradients: &TokenStream,
    ) -> TokenStream {
        let Network {
            runtime, scalar, ..
        } = net;
        let field = &layer.field;
        let dilation = self.conv.dilation;
        let Window {
            state,
            inputs,
            deltas,
            below,
        } = window;
        quote_spanned! {layer.span=>
            self.#field.backward_causal(
                #state, #dilation, #inputs, #deltas, <#scalar as #runtime::Scalar>::ONE,
                &mut #gradients.#field, #below,
            );
        }
    }
}
