//! The inference half of a sequence network (one with a recurrent layer), in place of
//! `forward` and `forward_batch`: the state struct (`<Name>State`: every recurrent layer's
//! state, plain data separate from the weights, so that one network serves any number of
//! streams), `step` (one time step), `forward_sequence` (a block of steps of one stream, `step`
//! on each) and `step_streams` (one step of several streams, each layer on a chunk of
//! streams). The three give a step the same bits. `emit_half` writes its twin's through
//! [`methods_with`], with its own tokens for the layers it stores in half precision.

use crate::ir::{Layer, Network};
use crate::layer::kind;
use crate::shared::{apply_activation, array_type, check_rows, count, flat, local, zeros};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};

/// The state struct's identifier: `<Name>State`, spanned on the name.
pub(crate) fn state_name(net: &Network) -> Ident {
    format_ident!("{}State", net.name)
}

/// The state struct, and the methods of the network that run time steps.
pub(crate) fn emit(net: &Network) -> (TokenStream, TokenStream) {
    (state(net), methods(net))
}

/// `<Name>State`: one field per stateful layer (recurrent, or a causal `conv1d`'s history), named
/// as the layer.
fn state(net: &Network) -> TokenStream {
    let Network {
        visibility,
        runtime,
        ..
    } = net;
    let state = state_name(net);
    let name = net.name.to_string();
    let stateful: Vec<&Layer> = net
        .layers
        .iter()
        .filter(|l| kind(l).state_type(net).is_some())
        .collect();
    let fields = stateful.iter().map(|layer| {
        let field = &layer.field;
        let ty = kind(layer).state_type(net);
        let doc = format!(" The state of layer `{}`.", layer.name);
        quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #ty
        }
    });
    let (field_names, field_types): (Vec<&Ident>, Vec<TokenStream>) = stateful
        .iter()
        .filter_map(|layer| Some((&layer.field, kind(layer).state_type(net)?)))
        .unzip();
    let state_text = state.to_string();
    let field_texts = field_names.iter().map(ToString::to_string);
    let fresh = stateful.iter().map(|layer| {
        let field = &layer.field;
        let value = kind(layer).fresh_state(net);
        quote!(#field: #value)
    });
    let doc = format!(
        " One stream's state of [`{name}`]: the hidden (and cell) state of every recurrent \
         layer, carried from one time step to the next."
    );
    quote! {
        #[doc = #doc]
        ///
        /// Plain data, separate from the weights: one network serves any number of streams,
        /// each with its state. Copy it to fork a stream; a fresh stream starts from
        /// [`ZERO`](Self::ZERO) (also `Default`, and [`zeroed`](Self::zeroed) on the heap), as
        /// PyTorch's default initial state.
        #[allow(dead_code)]
        #visibility struct #state {
            #(#fields,)*
        }

        // Written out rather than derived: `cargo expand` shows derives as unstable internals,
        // which an expansion pasted into a crate could not compile.
        #[allow(clippy::expl_impl_clone_on_copy)]
        impl ::core::clone::Clone for #state {
            #[inline]
            fn clone(&self) -> Self {
                *self
            }
        }

        impl ::core::marker::Copy for #state {}

        impl ::core::default::Default for #state {
            /// [`ZERO`](Self::ZERO).
            fn default() -> Self {
                Self::ZERO
            }
        }

        impl ::core::cmp::PartialEq for #state {
            fn eq(&self, other: &Self) -> bool {
                #(self.#field_names == other.#field_names)&&*
            }
        }

        impl ::core::fmt::Debug for #state {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#state_text)
                    #(.field(#field_texts, &self.#field_names))*
                    .finish()
            }
        }

        #[allow(dead_code)]
        impl #state {
            /// A fresh stream: every state zero.
            pub const ZERO: Self = Self { #(#fresh),* };

            /// Starts the stream afresh: every state zero.
            pub fn reset(&mut self) {
                *self = Self::ZERO;
            }
        }

        #runtime::__with_alloc! {
            // As the network's `zeroed`, boxed whatever its size, so that the API is one.
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #state {
                /// A fresh stream's state built directly on the heap, for states too large
                /// for the stack (long histories of causal convolutions, many streams).
                #[must_use]
                pub fn zeroed() -> #runtime::Box<Self> {
                    #runtime::zeroed_box()
                }
            }
        }

        #runtime::__zero_init!(#runtime::ZeroInit, #state { #(#field_names: #field_types),* });
    }
}

/// `step`, `forward_sequence` and `step_streams`, each layer through its kind's tokens.
fn methods(net: &Network) -> TokenStream {
    methods_with(
        net,
        &|layer, state, input| kind(layer).step(net, layer, state, input),
        &|layer, states, input, output| kind(layer).step_streams(net, layer, states, input, output),
    )
}

/// A layer's value at one time step, from a `&mut` of its state and its input (as
/// `Kind::step`).
pub(crate) type StepTokens<'a> = &'a dyn Fn(&Layer, &TokenStream, &TokenStream) -> TokenStream;

/// A layer's statement for one time step of a chunk of streams, from the states, input and
/// output (as `Kind::step_streams`).
pub(crate) type StreamTokens<'a> =
    &'a dyn Fn(&Layer, &TokenStream, &TokenStream, &TokenStream) -> TokenStream;

/// `step`, `forward_sequence` and `step_streams` for `net`'s state type, each layer's part
/// from `step` and `streams`: the `f32` network's, and its half-precision twin's.
pub(crate) fn methods_with(
    net: &Network,
    step: StepTokens<'_>,
    streams: StreamTokens<'_>,
) -> TokenStream {
    let mut tokens = step_method(net, step);
    tokens.extend(forward_sequence(net));
    tokens.extend(step_streams(net, streams));
    tokens
}

/// `step`: one statement (or two, with an activation) per layer, as `forward`, the recurrent
/// layers reading and updating their state.
fn step_method(net: &Network, value_of: StepTokens<'_>) -> TokenStream {
    let scalar = &net.scalar;
    let input = format_ident!("input");
    let state = local("state");
    let mut previous = input.clone();
    let mut body = TokenStream::new();
    for (index, layer) in net.layers.iter().enumerate() {
        let out = &layer.field;
        let out_type = array_type(scalar, &layer.output);
        let activation = apply_activation(net, layer, &flat(&layer.output, &quote!(#out), true));
        let binding = if activation.is_some() {
            quote!(mut #out)
        } else {
            quote!(#out)
        };
        let argument = if index == 0 {
            quote!(#previous)
        } else {
            quote!(&#previous)
        };
        let value = value_of(layer, &quote!(&mut #state.#out), &argument);
        body.extend(quote_spanned! {layer.span=>
            let #binding: #out_type = #value;
            #activation
        });
        previous = out.clone();
    }
    let doc = format!(
        " Runs one time step: reads {} and the stream's state, updates the state and returns \
         the step's {}.",
        count(net.input.elements(), "value"),
        count(net.output.elements(), "output")
    );
    let state_type = state_name(net);
    let (input_type, output_type) = (
        array_type(scalar, &net.input),
        array_type(scalar, &net.output),
    );
    quote! {
        #[doc = #doc]
        ///
        /// Straight-line code through statically sized locals: no heap, no shape checks.
        #[inline]
        #[must_use]
        #[allow(clippy::trivially_copy_pass_by_ref)]
        pub fn step(&self, #state: &mut #state_type, #input: &#input_type) -> #output_type {
            #body
            #previous
        }
    }
}

/// The body of a chunk of streams: each layer on all of the chunk's rows
/// into one stack buffer per layer, the last into `outputs`; `run` gives a layer's statement.
fn chunk_body(
    net: &Network,
    inputs: &Ident,
    outputs: &Ident,
    run: impl Fn(&Layer, &TokenStream, &TokenStream) -> TokenStream,
) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let chunk = net.sequence.unwrap_or(1);
    let last_index = net.layers.len() - 1;
    let mut previous = quote!(#inputs);
    let mut body = TokenStream::new();
    for (index, layer) in net.layers.iter().enumerate() {
        let field = &layer.field;
        let row = local("row");
        let apply = apply_activation(net, layer, &quote!(#row));
        let target = if index == last_index {
            quote!(#outputs)
        } else {
            quote!(#field)
        };
        let activation = apply.map(|apply| {
            quote_spanned! {layer.span=>
                for #row in #target.iter_mut() {
                    #apply
                }
            }
        });
        let statement = run(layer, &previous, &target);
        if index != last_index {
            let zeros = zeros(scalar, &layer.output);
            body.extend(quote_spanned! {layer.span=>
                #[allow(clippy::large_stack_arrays)]
                let mut #field = #runtime::batch::Aligned([#zeros; #chunk]);
                let #field = &mut #field.0[..#inputs.len()];
            });
        }
        body.extend(quote_spanned! {layer.span=>
            #statement
            #activation
        });
        previous = quote!(#field);
    }
    body
}

/// `forward_sequence`: the block in chunks of time steps, each layer on a whole chunk.
fn forward_sequence(net: &Network) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let state = local("state");
    let (inputs, outputs) = (local("inputs"), local("outputs"));
    let last = &net.last_layer().name;
    let state_type = state_name(net);
    let (input_type, output_type) = (
        array_type(scalar, &net.input),
        array_type(scalar, &net.output),
    );
    let check_rows = check_rows(net, last, &quote!(#inputs), &quote!(#outputs));
    quote! {
        /// Runs consecutive time steps of one stream (an audio buffer, a sensor window),
        /// writing one output per input and carrying the state across: [`step`](Self::step)
        /// on each input in turn, so exactly its bits, with one call and one length check per
        /// block. Blocks of any lengths, one after another, give the bits of one long block.
        ///
        /// # Errors
        ///
        /// `Error::Batch` when `outputs` does not have one row per input (nothing is run).
        pub fn forward_sequence(
            &self,
            #state: &mut #state_type,
            #inputs: &[#input_type],
            #outputs: &mut [#output_type],
        ) -> ::core::result::Result<(), #runtime::Error> {
            #check_rows
            for (input, output) in #inputs.iter().zip(#outputs.iter_mut()) {
                *output = self.step(#state, input);
            }
            ::core::result::Result::Ok(())
        }
    }
}

/// `step_streams`: one time step of several streams, in chunks of streams, each layer on a
/// whole chunk.
fn step_streams(net: &Network, run: StreamTokens<'_>) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let chunk = net.sequence.unwrap_or(1);
    let states = local("states");
    let (inputs, outputs) = (local("inputs"), local("outputs"));
    let body = chunk_body(net, &inputs, &outputs, |layer, input, output| {
        run(layer, &quote!(#states), input, output)
    });
    let first = &net.first_layer().name;
    let last = &net.last_layer().name;
    let state_type = state_name(net);
    let (input_type, output_type) = (
        array_type(scalar, &net.input),
        array_type(scalar, &net.output),
    );
    let check_rows = check_rows(net, last, &quote!(#inputs), &quote!(#outputs));
    quote! {
        /// Runs one time step of several independent streams (voices, channels, sequences of
        /// a batch), `inputs[i]` with `states[i]` into `outputs[i]`: exactly the bits of
        /// [`step`](Self::step) on each stream (each layer runs on a chunk of streams at
        /// once).
        ///
        /// # Errors
        ///
        /// `Error::Streams` when `inputs` does not have one row per state, `Error::Batch` when
        /// `outputs` does not have one row per input (nothing is run).
        pub fn step_streams(
            &self,
            #states: &mut [#state_type],
            #inputs: &[#input_type],
            #outputs: &mut [#output_type],
        ) -> ::core::result::Result<(), #runtime::Error> {
            if #inputs.len() != #states.len() {
                return ::core::result::Result::Err(#runtime::Error::Streams {
                    layer: #first,
                    expected: #states.len(),
                    found: #inputs.len(),
                });
            }
            #check_rows
            for ((#states, #inputs), #outputs) in #states
                .chunks_mut(#chunk)
                .zip(#inputs.chunks(#chunk))
                .zip(#outputs.chunks_mut(#chunk))
            {
                #body
            }
            ::core::result::Result::Ok(())
        }
    }
}

/// `Network::forward_slice` of a sequence network: the input as consecutive time steps of a
/// fresh stream (`INPUTS` values each), the output one row of `OUTPUTS` values per step.
pub(crate) fn forward_slice(net: &Network) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let first = &net.first_layer().name;
    let last = &net.last_layer().name;
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let state_type = state_name(net);
    quote! {
        /// The input as consecutive time steps of a fresh stream, `INPUTS` values each; the
        /// output one row of `OUTPUTS` values per step.
        fn forward_slice(
            &self,
            input: &[#scalar],
            output: &mut [#scalar],
        ) -> ::core::result::Result<(), #runtime::Error> {
            let (steps, []) = input.as_chunks::<#inputs>() else {
                return ::core::result::Result::Err(#runtime::Error::Steps {
                    layer: #first,
                    width: #inputs,
                    found: input.len(),
                });
            };
            let found = output.len();
            let (rows, []) = output.as_chunks_mut::<#outputs>() else {
                return ::core::result::Result::Err(#runtime::Error::Output {
                    layer: #last,
                    expected: steps.len() * #outputs,
                    found,
                });
            };
            if rows.len() != steps.len() {
                return ::core::result::Result::Err(#runtime::Error::Output {
                    layer: #last,
                    expected: steps.len() * #outputs,
                    found,
                });
            }
            let mut fresh = #state_type::ZERO;
            self.forward_sequence(&mut fresh, steps, rows)
        }
    }
}
