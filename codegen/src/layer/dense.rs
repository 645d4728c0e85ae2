//! Dense layers: `Dense<IN, OUT, T>` in the runtime, `DenseGradients` in training, the
//! runtime's kernels or (`unroll = full`) one multiply-add per term.

use super::Kind;
use crate::ir::{Dense, DenseForward, Layer, Network};
use crate::shared::{count, describe};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

impl Kind for Dense {
    fn field_type(&self, net: &Network) -> Option<TokenStream> {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            inputs, outputs, ..
        } = *self;
        Some(quote!(#runtime::Dense<#inputs, #outputs, #scalar>))
    }

    fn field_doc(&self, layer: &Layer) -> String {
        format!(
            " Dense layer `{}`: {}, {}, `{}`.",
            layer.name,
            count(self.inputs, "input"),
            count(self.outputs, "neuron"),
            describe(layer.activation)
        )
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        quote!(#runtime::LayerKind::Dense)
    }

    fn forward(&self, _net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let field = &layer.field;
        match self.forward {
            DenseForward::Kernel => quote_spanned!(layer.span=> self.#field.forward(#input)),
            DenseForward::Unrolled => self.unrolled(layer, input, None),
        }
    }

    fn forward_batch(
        &self,
        _net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        quote_spanned!(layer.span=> self.#field.forward_batch(#input, #output);)
    }

    fn gradients_type(&self, net: &Network) -> Option<TokenStream> {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            inputs, outputs, ..
        } = *self;
        Some(quote!(#runtime::train::DenseGradients<#inputs, #outputs, #scalar>))
    }

    fn gradients_doc(&self, layer: &Layer) -> String {
        let Self {
            inputs, outputs, ..
        } = *self;
        format!(
            " Gradients of layer `{}` (`{inputs} -> {outputs}`): weights by column, as in the \
             layer, and biases.",
            layer.name
        )
    }

    fn forward_train(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        stable: bool,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        if stable {
            quote_spanned!(layer.span=> #runtime::train::forward_one(&self.#field, #input))
        } else {
            // Inference's, unrolled or not: a sequence network's training leaves the state
            // with `forward_sequence`'s bits.
            self.forward(net, layer, input)
        }
    }

    fn forward_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        quote_spanned!(layer.span=> #runtime::train::forward_chunk(&self.#field, #input, #output);)
    }

    fn backward_input(
        &self,
        net: &Network,
        layer: &Layer,
        _input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        quote_spanned!(layer.span=> #runtime::train::backward_input(&self.#field, &#delta))
    }

    fn backward_input_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        _input: &TokenStream,
        delta: &TokenStream,
        below: &TokenStream,
    ) -> TokenStream {
        let (runtime, field) = (&net.runtime, &layer.field);
        quote_spanned! {layer.span=>
            #runtime::train::backward_input_chunk(
                &self.#field,
                #delta,
                #below,
            );
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
        quote_spanned!(layer.span=> #gradients.#field.accumulate(#input, &#delta);)
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
        quote_spanned!(layer.span=> #gradients.#field.accumulate_chunk(#input, #delta);)
    }

    /// `Dense::from_columns` of the transposed weights, so that compile-time evaluation need
    /// not transpose them.
    fn baked(&self, net: &Network, tensors: Option<&[Vec<f64>]>) -> TokenStream {
        let Network {
            scalar, runtime, ..
        } = net;
        let Self {
            inputs, outputs, ..
        } = *self;
        let parts = if let Some([w, b]) = tensors {
            // Column `i` of the row-major `w`: every `inputs`-th weight from `i` on.
            let columns = (0..inputs).map(|i| {
                let column = w
                    .iter()
                    .skip(i)
                    .step_by(inputs)
                    .map(|v| scalar.unsuffixed(*v));
                quote!([#(#column),*])
            });
            let bias = b.iter().map(|v| scalar.unsuffixed(*v));
            quote!([#(#columns),*], [#(#bias),*])
        } else {
            quote!([[0.0 as #scalar; #outputs]; #inputs], [0.0 as #scalar; #outputs])
        };
        quote!(#runtime::Dense::from_columns(#parts))
    }
}

impl Dense {
    /// `[b[0] + w[0][0] * x[0] + w[1][0] * x[1] + ..., ...]`, `w` being the layer's columns
    /// (`w[i][o]` from input `i` to neuron `o`): one multiply-add per term, for tiny layers.
    ///
    /// `input` is bound to `x` before `w` and `b` are, so that a previous layer called `w` or
    /// `b` is not shadowed. `widen`: the runtime path of a half-precision twin's layer
    /// (`HalfDense`), whose weights each term widens (`Half::to_f32`, exact), so that the twin
    /// gives the bits of the `f32` network holding the rounded weights.
    pub(crate) fn unrolled(
        &self,
        layer: &Layer,
        input: &TokenStream,
        widen: Option<&TokenStream>,
    ) -> TokenStream {
        let field = &layer.field;
        let rows = (0..self.outputs).map(|o| {
            let terms = (0..self.inputs).map(|i| match widen {
                None => quote!(+ w[#i][#o] * x[#i]),
                Some(runtime) => quote!(+ #runtime::Half::to_f32(w[#i][#o]) * x[#i]),
            });
            quote!(b[#o] #(#terms)*)
        });
        quote_spanned! {layer.span=> {
            let x = #input;
            let w = self.#field.columns();
            let b = self.#field.bias();
            [#(#rows),*]
        }}
    }
}

#[cfg(test)]
mod tests {
    use crate::layer::kind;
    use crate::lower;
    use proc_macro2::{Span, TokenStream};
    use quote::quote;

    /// The lowered network of `declaration`, every span the call site.
    fn lowered(declaration: &str) -> crate::ir::Network {
        let net = nn_grammar::compile_item(declaration).unwrap();
        lower(&net, TokenStream::new(), &|_| Span::call_site())
    }

    #[test]
    fn field_and_gradients_types() {
        let net = lowered("struct Net = 3 -> 2 relu;");
        let dense = kind(&net.layers[0]);
        assert_eq!(
            dense.field_type(&net).unwrap().to_string(),
            ":: nn :: __private :: Dense < 3usize , 2usize , f32 >"
        );
        assert_eq!(
            dense.gradients_type(&net).unwrap().to_string(),
            ":: nn :: __private :: train :: DenseGradients < 3usize , 2usize , f32 >"
        );
        assert_eq!(
            dense.field_doc(&net.layers[0]),
            " Dense layer `layer0`: 3 inputs, 2 neurons, `relu`."
        );
    }

    #[test]
    fn forward_through_the_kernel_or_unrolled() {
        let net = lowered("struct Net = 2 -> 1;");
        let layer = &net.layers[0];
        assert_eq!(
            kind(layer).forward(&net, layer, &quote!(input)).to_string(),
            "self . layer0 . forward (input)"
        );
        let net = lowered("struct Net = 2 -> 1 with unroll = full;");
        let layer = &net.layers[0];
        let unrolled = "{ let x = input ; let w = self . layer0 . columns () ; let b = self . layer0 . bias () ; \
             [b [0usize] + w [0usize] [0usize] * x [0usize] + w [1usize] [0usize] * x [1usize]] }";
        assert_eq!(
            kind(layer).forward(&net, layer, &quote!(input)).to_string(),
            unrolled
        );
        // Training's forward pass without chunks is unrolled too (a sequence network's training
        // then leaves the state with `forward_sequence`'s bits); with chunks, the kernel's.
        assert_eq!(
            kind(layer)
                .forward_train(&net, layer, &quote!(input), false)
                .to_string(),
            unrolled
        );
        assert_eq!(
            kind(layer)
                .forward_train(&net, layer, &quote!(input), true)
                .to_string(),
            ":: nn :: __private :: train :: forward_one (& self . layer0 , input)"
        );
    }

    #[test]
    fn baked_weights_by_column() {
        let net = lowered("struct Net = 2 -> 2 with scalar = f64;");
        let layer = &net.layers[0];
        let tensors = [vec![1.0, 2.0, 3.0, 4.0], vec![0.5, -0.5]];
        assert_eq!(
            kind(layer).baked(&net, Some(&tensors)).to_string(),
            ":: nn :: __private :: Dense :: from_columns ([[1.0 , 3.0] , [2.0 , 4.0]] , [0.5 , - 0.5])"
        );
        assert_eq!(
            kind(layer).baked(&net, None).to_string(),
            ":: nn :: __private :: Dense :: from_columns ([[0.0 as f64 ; 2usize] ; 2usize] , [0.0 as f64 ; 2usize])"
        );
    }
}
