//! [`ir::Network`](crate::ir::Network) to Rust tokens.

use crate::ir::{Layer, Network};
use nn_grammar::{Activation, Unroll};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};

/// Everything generated for one network.
pub fn emit(net: &Network) -> TokenStream {
    let Network {
        name,
        visibility,
        attributes,
        scalar,
        runtime,
        inputs,
        outputs,
        parameters,
        ..
    } = net;
    let fields = net.layers.iter().map(|layer| {
        let Layer {
            field,
            inputs,
            outputs,
            ..
        } = layer;
        let doc = format!(
            " Dense layer `{}`: {inputs} inputs, {outputs} neurons, `{}`.",
            layer.name,
            describe(layer.activation)
        );
        quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #runtime::Dense<#inputs, #outputs, #scalar>
        }
    });
    let forward = forward(net);
    let network_impl = network_impl(net);
    let forward_batch = forward_batch(net);
    let name_text = name.to_string();
    let summary_doc = format!(
        " The layers of `{name_text}` as a table: names, activations, output shapes and parameters."
    );
    let inputs_doc = format!(" Width of the input: {inputs}.");
    let outputs_doc = format!(" Width of the output: {outputs}.");
    let parameters_doc = format!(" Weights plus biases over all layers: {parameters}.");
    quote! {
        #attributes
        #visibility struct #name {
            #(#fields,)*
        }

        impl #name {
            #[doc = #inputs_doc]
            pub const INPUTS: usize = #inputs;
            #[doc = #outputs_doc]
            pub const OUTPUTS: usize = #outputs;
            #[doc = #parameters_doc]
            pub const PARAMETERS: usize = #parameters;

            #forward

            #forward_batch

            #[doc = #summary_doc]
            pub fn summary() -> #runtime::Summary {
                <Self as #runtime::Network>::summary()
            }
        }

        #runtime::__with_alloc! {
            impl #name {
                /// A network with random weights from `seed` (He initialisation for the ReLU
                /// family, Xavier for the rest) and zero biases, built directly on the heap.
                pub fn random(seed: u64) -> #runtime::Box<Self> {
                    let mut net = Self::zeroed();
                    #runtime::init::randomize(&mut *net, seed);
                    net
                }

                /// A network whose weights and biases are all zero, built directly on the heap.
                pub fn zeroed() -> #runtime::Box<Self> {
                    #runtime::zeroed_box()
                }
            }
        }

        // SAFETY: every field is a `Dense` layer of floats, for which all-zero bytes are valid.
        #[allow(unsafe_code)]
        unsafe impl #runtime::ZeroInit for #name {}

        #network_impl
    }
}

/// `relu`, `leaky_relu(0.1)`: the activation as the language writes it.
fn describe(activation: Activation) -> String {
    match activation {
        Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => {
            format!("{}({alpha})", activation.name())
        }
        _ => activation.name().to_owned(),
    }
}

/// A float literal of the network's scalar type.
fn float(scalar: &Ident, value: f64) -> Literal {
    if scalar == "f32" {
        #[allow(clippy::cast_possible_truncation)] // the user asked for an f32 network
        Literal::f32_suffixed(value as f32)
    } else {
        Literal::f64_suffixed(value)
    }
}

/// The call that applies the layer's activation in place to `target` (a `&mut [T]`), if any.
fn apply_activation(net: &Network, layer: &Layer, target: &TokenStream) -> Option<TokenStream> {
    let runtime = &net.runtime;
    let function = match layer.activation {
        Activation::Linear => return None,
        Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => {
            let function = format_ident!("{}", layer.activation.name());
            let alpha = float(&net.scalar, alpha);
            return Some(quote_spanned! {layer.span=>
                #runtime::activation::#function(#target, #alpha);
            });
        }
        other => format_ident!("{}", other.name()),
    };
    Some(quote_spanned! {layer.span=>
        #runtime::activation::#function(#target);
    })
}

/// `forward`: one statement (or two, with an activation) per layer, through named locals.
fn forward(net: &Network) -> TokenStream {
    let Network {
        scalar,
        inputs,
        outputs,
        ..
    } = net;
    let input = format_ident!("input");
    let mut previous = input.clone();
    let mut body = TokenStream::new();
    for (index, layer) in net.layers.iter().enumerate() {
        let out = &layer.field;
        let width = layer.outputs;
        let activation = apply_activation(net, layer, &quote!(&mut #out));
        let binding = if activation.is_some() {
            quote!(mut #out)
        } else {
            quote!(#out)
        };
        // The input is already a reference; every later local is an array.
        let argument = if index == 0 {
            quote!(#previous)
        } else {
            quote!(&#previous)
        };
        let value = match net.unroll {
            Unroll::Loops => quote_spanned!(layer.span=> self.#out.forward(#argument)),
            Unroll::Full => unrolled(layer, &previous),
        };
        body.extend(quote_spanned! {layer.span=>
            let #binding: [#scalar; #width] = #value;
            #activation
        });
        previous = out.clone();
    }
    let doc = format!(
        " Runs the network on one input of {inputs} values and returns its {outputs} outputs."
    );
    quote! {
        #[doc = #doc]
        ///
        /// Straight-line code through statically sized locals: no heap, no shape checks.
        #[inline]
        pub fn forward(&self, #input: &[#scalar; #inputs]) -> [#scalar; #outputs] {
            #body
            #previous
        }
    }
}

/// Bytes of stack each intermediate of `forward_batch` aims to use for one chunk of samples.
const CHUNK_BYTES: usize = 32 * 1024;

/// Samples per chunk are a multiple of this, so that the kernels' tiles of 4 or 6 samples divide
/// every full chunk.
const CHUNK_STEP: usize = 12;

/// `forward_batch`: the batch in chunks of samples; within a chunk, each layer runs on all the
/// chunk's samples at once (so each weight loaded serves several samples), into one named
/// stack local per layer, as in `forward`.
fn forward_batch(net: &Network) -> TokenStream {
    let Network {
        scalar,
        runtime,
        inputs,
        outputs,
        ..
    } = net;
    let last_index = net.layers.len() - 1;
    let last = &net.layers[last_index].name;
    // Samples per chunk: as many as fit the widest intermediate in `CHUNK_BYTES`, in steps of
    // `CHUNK_STEP`, from one step to four.
    let scalar_bytes = if scalar == "f32" { 4 } else { 8 };
    let widest = net.layers[..last_index]
        .iter()
        .map(|layer| layer.outputs)
        .max()
        .unwrap_or(1);
    let steps = CHUNK_BYTES / (widest * scalar_bytes * CHUNK_STEP);
    let chunk = steps.clamp(1, 4) * CHUNK_STEP;
    let work: usize = net.layers.iter().map(|l| l.inputs * l.outputs).sum();
    let zero = float(scalar, 0.0);
    let mut previous = quote!(inputs);
    let mut body = TokenStream::new();
    for (index, layer) in net.layers.iter().enumerate() {
        let field = &layer.field;
        let width = layer.outputs;
        let row = format_ident!("row");
        let activation = apply_activation(net, layer, &quote!(#row)).map(|apply| {
            let target = if index == last_index {
                quote!(outputs)
            } else {
                quote!(#field)
            };
            quote_spanned! {layer.span=>
                for #row in #target.iter_mut() {
                    #apply
                }
            }
        });
        if index == last_index {
            body.extend(quote_spanned! {layer.span=>
                self.#field.forward_batch(#previous, outputs);
                #activation
            });
        } else {
            body.extend(quote_spanned! {layer.span=>
                // A few tens of KiB: the chunk is sized to keep it so.
                #[allow(clippy::large_stack_arrays)]
                let mut #field = #runtime::batch::Aligned([[#zero; #width]; #chunk]);
                let #field = &mut #field.0[..inputs.len()];
                self.#field.forward_batch(#previous, #field);
                #activation
            });
            previous = quote!(#field);
        }
    }
    quote! {
        /// Runs the network on every input, writing one output per input.
        ///
        /// Samples go through the layers in chunks, each layer on a whole chunk at once so that
        /// every weight loaded serves several samples; with the runtime's `rayon` feature, large
        /// batches use every core.
        ///
        /// # Errors
        ///
        /// `Error::Batch` when `outputs` does not have one row per input.
        pub fn forward_batch(
            &self,
            inputs: &[[#scalar; #inputs]],
            outputs: &mut [[#scalar; #outputs]],
        ) -> ::core::result::Result<(), #runtime::Error> {
            if inputs.len() != outputs.len() {
                return ::core::result::Result::Err(#runtime::Error::Batch {
                    layer: #last,
                    expected: inputs.len(),
                    found: outputs.len(),
                });
            }
            #runtime::batch::for_each_chunk(inputs, outputs, #chunk, #work, |inputs, outputs| {
                #body
            });
            ::core::result::Result::Ok(())
        }
    }
}

/// `[b[0] + w[0][0] * x[0] + ..., ...]`: one multiply-add per term, for tiny layers.
fn unrolled(layer: &Layer, input: &Ident) -> TokenStream {
    let field = &layer.field;
    let rows = (0..layer.outputs).map(|o| {
        let terms = (0..layer.inputs).map(|i| quote!(+ w[#o][#i] * #input[#i]));
        quote!(b[#o] #(#terms)*)
    });
    quote_spanned! {layer.span=> {
        let w = self.#field.weights();
        let b = self.#field.bias();
        [#(#rows),*]
    }}
}

/// The `Network` trait: layer descriptions, weight visitors and the slice forward pass.
fn network_impl(net: &Network) -> TokenStream {
    let Network {
        name,
        scalar,
        runtime,
        inputs,
        outputs,
        parameters,
        ..
    } = net;
    let name_text = name.to_string();
    let infos = net.layers.iter().map(|layer| {
        let layer_name = &layer.name;
        let (layer_inputs, layer_outputs) = (layer.inputs, layer.outputs);
        let activation = match layer.activation {
            Activation::Linear => quote!(Linear),
            Activation::Relu => quote!(Relu),
            Activation::LeakyRelu { alpha } => {
                let alpha = Literal::f64_suffixed(alpha);
                quote!(LeakyRelu(#alpha))
            }
            Activation::Elu { alpha } => {
                let alpha = Literal::f64_suffixed(alpha);
                quote!(Elu(#alpha))
            }
            Activation::Sigmoid => quote!(Sigmoid),
            Activation::Tanh => quote!(Tanh),
            Activation::Silu => quote!(Silu),
            Activation::Gelu => quote!(Gelu),
            Activation::Softplus => quote!(Softplus),
            Activation::Softmax => quote!(Softmax),
            Activation::LogSoftmax => quote!(LogSoftmax),
        };
        quote! {
            #runtime::LayerInfo {
                name: #layer_name,
                inputs: #layer_inputs,
                outputs: #layer_outputs,
                activation: #runtime::Activation::#activation,
            }
        }
    });
    let indices: Vec<usize> = (0..net.layers.len()).collect();
    let fields: Vec<&Ident> = net.layers.iter().map(|l| &l.field).collect();
    let first = &net.layers[0].name;
    let last = &net.layers[net.layers.len() - 1].name;
    quote! {
        impl #runtime::Network for #name {
            type Scalar = #scalar;
            const NAME: &'static str = #name_text;
            const INPUTS: usize = #inputs;
            const OUTPUTS: usize = #outputs;
            const PARAMETERS: usize = #parameters;
            const LAYERS: &'static [#runtime::LayerInfo] = &[#(#infos),*];

            fn for_each_layer<'a>(
                &'a self,
                mut f: impl FnMut(&#runtime::LayerInfo, &'a [#scalar], &'a [#scalar]),
            ) {
                let layers = <Self as #runtime::Network>::LAYERS;
                #(
                    let (weights, bias) = self.#fields.parts();
                    f(&layers[#indices], weights, bias);
                )*
            }

            fn for_each_layer_mut(
                &mut self,
                mut f: impl FnMut(&#runtime::LayerInfo, &mut [#scalar], &mut [#scalar]),
            ) {
                let layers = <Self as #runtime::Network>::LAYERS;
                #(
                    let (weights, bias) = self.#fields.parts_mut();
                    f(&layers[#indices], weights, bias);
                )*
            }

            fn forward_slice(
                &self,
                input: &[#scalar],
                output: &mut [#scalar],
            ) -> ::core::result::Result<(), #runtime::Error> {
                let input: &[#scalar; #inputs] =
                    input.try_into().map_err(|_| #runtime::Error::Input {
                        layer: #first,
                        expected: #inputs,
                        found: input.len(),
                    })?;
                let found = output.len();
                let output: &mut [#scalar; #outputs] =
                    output.try_into().map_err(|_| #runtime::Error::Output {
                        layer: #last,
                        expected: #outputs,
                        found,
                    })?;
                *output = self.forward(input);
                ::core::result::Result::Ok(())
            }
        }
    }
}
