//! `lstm`, `gru` and `rnn`: `Lstm<I, H, T, DEEPER>`, `Gru<I, H, T, DEEPER>` and
//! `Rnn<I, H, T, DEEPER, RELU>` in the runtime, each with its state type (`LstmState`: hidden
//! and cell state; `HiddenState`: hidden state only), which the network's state struct holds
//! one of per recurrent layer. A time step, a block of steps (`forward_sequence`, `step` on
//! each) and a step of several streams are the runtime's, each giving a step the same bits; so
//! is training's window (`backward_sequence`).

use super::{Kind, Window, per_sample};
use crate::ir::{Layer, Network, Recurrent};
use crate::shared::{count, describe, literal, local};
use nn_grammar::Cell;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};

impl Recurrent {
    /// The runtime's type name: `Lstm`, `Gru` or `Rnn`.
    fn type_name(&self) -> &'static str {
        match self.cell {
            Cell::Lstm => "Lstm",
            Cell::Gru => "Gru",
            Cell::Rnn { .. } => "Rnn",
        }
    }

    /// The runtime's type of the layer, its matrices stored as `weights` (a half-precision
    /// format, for `emit_half`), or as the network's scalar when `None`.
    pub(crate) fn layer_type(&self, net: &Network, weights: Option<&TokenStream>) -> TokenStream {
        let Network {
            runtime, scalar, ..
        } = net;
        let (inputs, hidden, deeper) = (self.inputs, self.hidden, self.deeper);
        let name = Ident::new(self.type_name(), Span::call_site());
        let weights = weights.map(|weights| quote!(, #weights));
        if let Cell::Rnn { relu } = self.cell {
            quote!(#runtime::layers::Rnn<#inputs, #hidden, #scalar, #deeper, #relu #weights>)
        } else {
            quote!(#runtime::layers::#name<#inputs, #hidden, #scalar, #deeper #weights>)
        }
    }

    /// [`Kind::baked`] for a layer of type `field_type`, each matrix's literal from
    /// `matrix(values by column, dims)`: the network's scalars, or `emit_half`'s rounded ones.
    #[allow(clippy::similar_names)] // PyTorch's tensor names
    pub(crate) fn baked_with(
        &self,
        net: &Network,
        tensors: Option<&[Vec<f64>]>,
        field_type: &TokenStream,
        matrix: &dyn Fn(&[f64], &[usize]) -> TokenStream,
    ) -> TokenStream {
        let Network {
            scalar, runtime, ..
        } = net;
        let Some(tensors) = tensors else {
            return quote!(<#field_type>::zeroed());
        };
        let (gates, hidden) = (self.cell.gates(), self.hidden);
        let columns = |values: &[f64], reads: usize| -> TokenStream {
            let rows = gates * hidden;
            let transposed: Vec<f64> = (0..reads * rows)
                .map(|k| values[(k % rows) * reads + k / rows])
                .collect();
            matrix(&transposed, &[reads, gates, hidden])
        };
        let levels: Vec<TokenStream> = tensors
            .chunks(4)
            .enumerate()
            .map(|(level, level_tensors)| {
                let reads = if level == 0 { self.inputs } else { hidden };
                let [weight_ih, weight_hh, bias_ih, bias_hh] = level_tensors else {
                    return quote!(::core::compile_error!("a recurrent level has four tensors"));
                };
                let weight_ih = columns(weight_ih, reads);
                let weight_hh = columns(weight_hh, hidden);
                let bias_ih = literal(scalar, bias_ih, &[gates, hidden]);
                let bias_hh = literal(scalar, bias_hh, &[gates, hidden]);
                quote! {
                    #runtime::layers::RecurrentLevel::from_columns(
                        #weight_ih, #weight_hh, #bias_ih, #bias_hh
                    )
                }
            })
            .collect();
        let (first, deeper) = levels
            .split_first()
            .map_or((TokenStream::new(), &[][..]), |(f, d)| (f.clone(), d));
        quote!(<#field_type>::from_levels(#first, [#(#deeper),*]))
    }
}

impl Kind for Recurrent {
    fn field_type(&self, net: &Network) -> Option<TokenStream> {
        Some(self.layer_type(net, None))
    }

    fn field_doc(&self, layer: &Layer) -> String {
        let levels = if self.deeper == 0 {
            String::new()
        } else {
            format!(", {} levels", self.deeper + 1)
        };
        let cell = match self.cell {
            Cell::Lstm => "LSTM",
            Cell::Gru => "GRU",
            Cell::Rnn { relu: false } => "RNN (tanh)",
            Cell::Rnn { relu: true } => "RNN (relu)",
        };
        format!(
            " {cell} `{}`: {} a step to {}{levels}, `{}`.",
            layer.name,
            count(self.inputs, "input"),
            count(self.hidden, "hidden value"),
            describe(layer.activation)
        )
    }

    fn gradients_type(&self, net: &Network) -> Option<TokenStream> {
        let Network {
            runtime, scalar, ..
        } = net;
        let (inputs, hidden, deeper) = (self.inputs, self.hidden, self.deeper);
        let name = Ident::new(&format!("{}Gradients", self.type_name()), Span::call_site());
        Some(if let Cell::Rnn { relu } = self.cell {
            quote!(#runtime::train::RnnGradients<#inputs, #hidden, #scalar, #deeper, #relu>)
        } else {
            quote!(#runtime::train::#name<#inputs, #hidden, #scalar, #deeper>)
        })
    }

    fn gradients_doc(&self, layer: &Layer) -> String {
        format!(
            " Gradients of recurrent layer `{}`: every level's tensors, as the layer stores them.",
            layer.name
        )
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        let name = match self.cell {
            Cell::Rnn { relu: true } => "RnnRelu",
            _ => self.type_name(),
        };
        let name = Ident::new(name, Span::call_site());
        quote!(#runtime::LayerKind::#name)
    }

    /// One step from a fresh state (what a sequence of one step computes); sequence networks
    /// call [`Kind::step`] instead.
    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let field = &layer.field;
        let fresh = self.fresh_state(net);
        quote_spanned!(layer.span=> self.#field.step(&mut #fresh, #input))
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
        let (hidden, deeper) = (self.hidden, self.deeper);
        Some(if self.cell == Cell::Lstm {
            quote!(#runtime::layers::LstmState<#hidden, #scalar, #deeper>)
        } else {
            quote!(#runtime::layers::HiddenState<#hidden, #scalar, #deeper>)
        })
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
        quote_spanned!(layer.span=> self.#field.step(#state, #input))
    }

    /// The streams' states of this layer gathered into a stack buffer, stepped together, then
    /// put back: a few hundred bytes a stream, against the step's thousands of multiply-adds.
    fn step_streams(
        &self,
        net: &Network,
        layer: &Layer,
        states: &TokenStream,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        let field = &layer.field;
        let chunk = net.sequence.unwrap_or(1);
        let fresh = self.fresh_state(net);
        let gathered = local("gathered");
        let (mine, whole) = (local("mine"), local("whole"));
        quote_spanned! {layer.span=>
            #[allow(clippy::large_stack_arrays)]
            let mut #gathered = [#fresh; #chunk];
            let #gathered = &mut #gathered[..#states.len()];
            for (#mine, #whole) in #gathered.iter_mut().zip(#states.iter()) {
                *#mine = #whole.#field;
            }
            self.#field.step_streams(#gathered, #input, #output);
            for (#mine, #whole) in #gathered.iter().zip(#states.iter_mut()) {
                #whole.#field = *#mine;
            }
        }
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
        let copy = local("copy");
        // On a copy (a few hundred bytes): `backward_sequence` runs the window again from the
        // state, which it leaves at the window's end.
        quote_spanned! {layer.span=>
            let mut #copy = *#state;
            self.#field.forward_sequence(&mut #copy, #inputs, #outputs);
        }
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
        let Window {
            state,
            inputs,
            deltas,
            below,
        } = window;
        quote_spanned! {layer.span=>
            self.#field.backward_sequence(
                #state, #inputs, #deltas, <#scalar as #runtime::Scalar>::ONE,
                &mut #gradients.#field, #below,
            );
        }
    }

    /// The runtime type's `from_levels` of each level's `RecurrentLevel::from_columns`, the
    /// file's matrices (PyTorch's `[G * H, in]`) transposed here to columns (`[in][G][H]`) so
    /// that const evaluation does not have to; or zeros.
    fn baked(&self, net: &Network, tensors: Option<&[Vec<f64>]>) -> TokenStream {
        let field_type = self.layer_type(net, None);
        self.baked_with(net, tensors, &field_type, &|values, dims| {
            literal(&net.scalar, values, dims)
        })
    }
}
