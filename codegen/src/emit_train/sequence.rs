//! The training half of a sequence network: `<Name>Gradients` (the recurrent layers' from the
//! runtime's `LstmGradients`, ..., causal convolutions' `Conv1dGradients`),
//! `accumulate_sequence` (a window of one stream, layer by layer: the per-step layers step by
//! step through their kinds' per-sample methods, the layers with a state through their kinds'
//! `forward_window` and `backward_window`, truncated backpropagation through time) and `impl
//! Parameters`, so that `Sgd` and `Adam` step the network. No `Trainable`: a sample of a
//! sequence network is a window with a state, not one input.
//!
//! `accumulate_sequence` keeps every layer's activations of the window in `Vec`s, so it is in
//! `__with_alloc!` as well.

use super::{
    derivative, gradients_name, gradients_struct, output_activation, output_marker, signature_types,
};
use crate::ir::{Layer, Network};
use crate::layer::{Window, kind};
use crate::shared::{apply_activation, check_targets, dropout_key, local, zeros};
use nn_grammar::Activation;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};

/// The gradients struct, `accumulate_sequence` and `impl Parameters`, in `__with_train!`.
pub(super) fn emit(net: &Network) -> TokenStream {
    let runtime = &net.runtime;
    let gradients = gradients_struct(net, "accumulate_sequence");
    let method = accumulate_sequence(net);
    let parameters = parameters_impl(net);
    quote! {
        #runtime::__with_train! {
            #gradients
            #runtime::__with_alloc! {
                #method
            }
            #parameters
        }
    }
}

/// Whether `layer` keeps a state between time steps (a recurrent layer, a causal convolution).
fn stateful(net: &Network, layer: &Layer) -> bool {
    kind(layer).state_type(net).is_some()
}

/// `vec![zeros; steps]` of `shape`'s array type, as the runtime's `Vec`.
fn buffer(net: &Network, shape: &nn_grammar::Shape, steps: &Ident) -> TokenStream {
    let runtime = &net.runtime;
    let zeros = zeros(&net.scalar, shape);
    quote!(::core::iter::repeat_n(#zeros, #steps).collect::<#runtime::Vec<_>>())
}

/// The locals of one layer over the window.
struct Locals {
    /// Each step's pre-activations (the outputs themselves for a linear layer).
    pre: Ident,
    /// Each step's outputs.
    out: Ident,
    /// Each step's gradient with respect to the pre-activations.
    delta: Ident,
}

#[allow(clippy::too_many_lines)] // one method, written in order: forward, loss, backward
fn accumulate_sequence(net: &Network) -> TokenStream {
    let Network {
        name,
        scalar,
        runtime,
        ..
    } = net;
    let state_type = format_ident!("{}State", name);
    let (input_type, output_type, gradients_type, bound) = signature_types(net);
    let marker = output_marker(net);
    let activation = output_activation(net);
    let (state, inputs, targets, loss, scale, gradients) = (
        local("state"),
        local("inputs"),
        local("targets"),
        local("loss"),
        local("scale"),
        local("gradients"),
    );
    let (steps, t, total, row, window_key) = (
        local("steps"),
        local("t"),
        local("total"),
        local("row"),
        local("window_key"),
    );
    let masks = super::draws_masks(net);
    let key = dropout_key();
    // Each step is a sample of the dropout masks: step `t` draws the window's key `at(t)`.
    let (take_key, step_key) = if masks {
        let field = super::masks_field();
        (
            quote! {
                let #window_key = #gradients.#field.take(#steps);
            },
            quote! {
                let #key = #window_key.at(#t);
            },
        )
    } else {
        (TokenStream::new(), TokenStream::new())
    };

    let windows: Vec<Locals> = net
        .layers
        .iter()
        .map(|layer| Locals {
            pre: local(&format!("{}_pre", layer.field)),
            out: local(&format!("{}_out", layer.field)),
            delta: local(&format!("{}_delta", layer.field)),
        })
        .collect();

    // A layer's outputs: its pre-activations themselves when it is linear.
    let read = |index: usize| -> &Ident {
        if net.layers[index].activation == Activation::Linear {
            &windows[index].pre
        } else {
            &windows[index].out
        }
    };

    // Forward, layer by layer over the window.
    let mut forward = TokenStream::new();
    for (index, layer) in net.layers.iter().enumerate() {
        let Locals { pre, out, .. } = &windows[index];
        let below = if index == 0 {
            quote!(#inputs)
        } else {
            let below = read(index - 1);
            quote!(#below)
        };
        let pre_buffer = buffer(net, &layer.output, &steps);
        let field = &layer.field;
        if stateful(net, layer) {
            // The forward pass from the state, left as it is: the backward pass starts from it
            // too, and leaves it at the window's end.
            let run = kind(layer).forward_window(
                net,
                layer,
                &quote!(&#state.#field),
                &quote!(&#below),
                &quote!(&mut #pre),
            );
            forward.extend(quote_spanned! {layer.span=>
                let mut #pre = #pre_buffer;
                #run
            });
        } else {
            let product = kind(layer).forward_train(net, layer, &quote!(&#below[#t]), false);
            let step_key = kind(layer).draws_masks().then_some(&step_key);
            forward.extend(quote_spanned! {layer.span=>
                let mut #pre = #pre_buffer;
                for #t in 0..#steps {
                    #step_key
                    #pre[#t] = #product;
                }
            });
        }
        if let Some(apply) = apply_activation(net, layer, &quote!(#row)) {
            forward.extend(quote_spanned! {layer.span=>
                let mut #out = #pre.clone();
                for #row in &mut #out {
                    #apply
                }
            });
        }
    }

    // The loss of each step, and its gradient.
    let last_index = net.layers.len() - 1;
    let (last_pre, last_out, last_delta) = (
        &windows[last_index].pre,
        read(last_index),
        &windows[last_index].delta,
    );
    let last_buffer = buffer(net, &net.output, &steps);
    let mut backward = quote! {
        let mut #total = <#scalar as #runtime::Scalar>::ZERO;
        let mut #last_delta = #last_buffer;
        for #t in 0..#steps {
            #total += <L as #runtime::train::Loss<#marker>>::gradient(
                #loss, #activation, &#last_pre[#t], &#last_out[#t], &#targets[#t], #scale,
                &mut #last_delta[#t],
            );
        }
    };
    // Backward, last layer first.
    for (index, layer) in net.layers.iter().enumerate().rev() {
        let delta = &windows[index].delta;
        let below = if index == 0 {
            quote!(#inputs)
        } else {
            let below = read(index - 1);
            quote!(#below)
        };
        let field = &layer.field;
        let below_derivative = (index > 0).then(|| {
            let below_layer = &net.layers[index - 1];
            let Locals {
                pre,
                delta: below_delta,
                ..
            } = &windows[index - 1];
            let out = read(index - 1);
            derivative(
                net,
                below_layer,
                layer.span,
                [
                    &quote!(#pre[#t]),
                    &quote!(#out[#t]),
                    &quote!(#below_delta[#t]),
                ],
            )
        });
        if stateful(net, layer) {
            let below_delta = if index == 0 {
                local("input_gradients")
            } else {
                windows[index - 1].delta.clone()
            };
            let below_buffer = buffer(net, &layer.input, &steps);
            let derivative = below_derivative.flatten().map(|call| {
                quote! {
                    for #t in 0..#steps {
                        #call
                    }
                }
            });
            // The deltas carry the scale already.
            let run = kind(layer).backward_window(
                net,
                layer,
                Window {
                    state: &quote!(&mut #state.#field),
                    inputs: &quote!(&#below),
                    deltas: &quote!(&#delta),
                    below: &quote!(&mut #below_delta),
                },
                &quote!(#gradients),
            );
            backward.extend(quote_spanned! {layer.span=>
                let mut #below_delta = #below_buffer;
                #run
                #derivative
            });
        } else {
            let input = quote!(&#below[#t]);
            let accumulate = kind(layer).accumulate(
                net,
                layer,
                &quote!(#gradients),
                &input,
                &quote!(#delta[#t]),
            );
            let pass_down = below_derivative.map(|call| {
                let below_delta = &windows[index - 1].delta;
                let below_buffer = buffer(net, &layer.input, &steps);
                let gradient = kind(layer).backward_input(net, layer, &input, &quote!(#delta[#t]));
                (
                    quote!(let mut #below_delta = #below_buffer;),
                    quote! {
                        #below_delta[#t] = #gradient;
                        #call
                    },
                )
            });
            let (declare, pass) = pass_down.unzip();
            let step_key = kind(layer).draws_masks().then_some(&step_key);
            backward.extend(quote_spanned! {layer.span=>
                #declare
                for #t in 0..#steps {
                    #step_key
                    #pass
                    #accumulate
                }
            });
        }
    }

    let last_name = &net.last_layer().name;
    let check_rows = check_targets(net, last_name, &quote!(#inputs), &quote!(#targets));
    quote! {
        #[allow(dead_code)]
        impl #name {
            /// Truncated backpropagation through time over a window of one stream, from
            /// `state`: runs `inputs` (one row per time step) as `forward_sequence` does, adds
            /// up the loss of each step's output against `targets`, and adds `scale` times the
            /// gradient of that sum with respect to every weight and bias to `gradients`.
            /// Returns the summed loss and leaves `state` at the window's end, as
            /// `forward_sequence` would (the same bits, unless a `dropout` below a layer with a
            /// state changes what it reads); no gradient flows into the state from before the
            /// window. Keeps the window's activations on the heap.
            ///
            /// # Errors
            ///
            /// `Error::Targets` when `targets` does not have one row per input (nothing is run).
            #[allow(clippy::too_many_lines, clippy::similar_names, unused_mut)]
            pub fn accumulate_sequence<#bound>(
                &self,
                #state: &mut #state_type,
                #inputs: &[#input_type],
                #targets: &[#output_type],
                #loss: &L,
                #scale: #scalar,
                #gradients: &mut #gradients_type,
            ) -> ::core::result::Result<#scalar, #runtime::Error> {
                #check_rows
                let #steps = #inputs.len();
                #take_key
                #forward
                #backward
                ::core::result::Result::Ok(#total)
            }
        }
    }
}

/// `impl Parameters`: the network's trained tensors and its gradients type, for the
/// optimizers.
fn parameters_impl(net: &Network) -> TokenStream {
    let Network {
        name,
        scalar,
        runtime,
        ..
    } = net;
    let gradients_type = gradients_name(net);
    quote! {
        impl #runtime::train::Parameters for #name {
            type Scalar = #scalar;
            type Gradients = #gradients_type;
            const PARAMETERS: usize = <Self as #runtime::Network>::PARAMETERS;

            fn for_each_parameter_mut<'a>(
                &'a mut self,
                mut f: impl ::core::ops::FnMut(&'static #runtime::TensorInfo, &'a mut [#scalar]),
            ) {
                #runtime::Network::for_each_tensor_mut(self, |_, info, values| {
                    if info.role == #runtime::Role::Parameter {
                        f(info, values);
                    }
                });
            }
        }
    }
}
