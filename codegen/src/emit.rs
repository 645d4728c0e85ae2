//! [`ir::Network`](crate::ir::Network) to Rust tokens.

use crate::ir::{Layer, Network};
use nn_grammar::{Activation, Unroll};
use proc_macro2::{Group, Ident, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};

/// Everything generated for one network: the struct and its impls, with plain sizes.
pub fn emit(net: &Network) -> TokenStream {
    plain_sizes(items(net))
}

/// `784usize` as `784`, and `101770usize` as `101_770`: every size in generated code is a
/// `usize` by its context, and the suffix `quote` gives a `usize` is noise to whoever reads the
/// code (`cargo expand`, `nnc build`); clippy's `unreadable_literal` asks for the `_`.
pub(crate) fn plain_sizes(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut plain = Group::new(group.delimiter(), plain_sizes(group.stream()));
                plain.set_span(group.span());
                TokenTree::Group(plain)
            }
            TokenTree::Literal(literal) => {
                match literal
                    .to_string()
                    .strip_suffix("usize")
                    .map(str::parse::<usize>)
                {
                    Some(Ok(n)) => {
                        let mut plain = grouped(n);
                        plain.set_span(literal.span());
                        TokenTree::Literal(plain)
                    }
                    _ => TokenTree::Literal(literal),
                }
            }
            other => other,
        })
        .collect()
}

/// `101770` as `101_770`; numbers under five digits as they are.
fn grouped(n: usize) -> Literal {
    let digits = n.to_string();
    if digits.len() < 5 {
        return Literal::usize_unsuffixed(n);
    }
    let mut text = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push('_');
        }
        text.push(digit);
    }
    text.parse()
        .unwrap_or_else(|_| Literal::usize_unsuffixed(n))
}

/// The struct and its impls, as `quote` writes them.
fn items(net: &Network) -> TokenStream {
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
            " Dense layer `{}`: {}, {}, `{}`.",
            layer.name,
            count(*inputs, "input"),
            count(*outputs, "neuron"),
            describe(layer.activation)
        );
        let (inputs, outputs) = (*inputs, *outputs);
        quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #runtime::Dense<#inputs, #outputs, #scalar>
        }
    });
    let field_names: Vec<&Ident> = net.layers.iter().map(|l| &l.field).collect();
    let field_types = net.layers.iter().map(|l| {
        let (inputs, outputs) = (l.inputs, l.outputs);
        quote!(#runtime::Dense<#inputs, #outputs, #scalar>)
    });
    let forward = forward(net);
    let network_impl = network_impl(net);
    let io = crate::io::methods(net);
    let forward_batch = forward_batch(net);
    let train = crate::emit_train::emit(net);
    let name_text = name.to_string();
    let summary_doc = format!(
        " The layers of `{name_text}` as a table: names, activations, output shapes and parameters."
    );
    let inputs_doc = format!(" Width of the input: {inputs}.");
    let outputs_doc = format!(" Width of the output: {outputs}.");
    let parameters_doc = format!(" Weights plus biases over all layers: {parameters}.");
    let (inputs, outputs, parameters) = (*inputs, *outputs, *parameters);
    quote! {
        #attributes
        // Every generated item allows `dead_code`: a crate uses the part of the API it needs,
        // and the rest must not warn where `nnc build`'s file is `include!`d (the macro's
        // expansion never warns).
        #[allow(dead_code)]
        #visibility struct #name {
            #(#fields,)*
        }

        #[allow(dead_code)]
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
            #[must_use]
            pub fn summary() -> #runtime::Summary {
                <Self as #runtime::Network>::summary()
            }
        }

        #runtime::__with_alloc! {
            // Every network is boxed, whatever its size, so that the API is one; clippy's
            // pedantic `unnecessary_box_returns` would flag small private ones in user code.
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #name {
                /// A network with random weights from `seed` (He initialisation for the `relu`
                /// family, Xavier for the rest) and zero biases, built directly on the heap.
                #[must_use]
                pub fn random(seed: u64) -> #runtime::Box<Self> {
                    let mut net = Self::zeroed();
                    #runtime::init::randomize(&mut *net, seed);
                    net
                }

                /// A network whose weights and biases are all zero, built directly on the heap.
                #[must_use]
                pub fn zeroed() -> #runtime::Box<Self> {
                    #runtime::zeroed_box()
                }
            }
        }

        #runtime::__zero_init!(#runtime::ZeroInit, #name { #(#field_names: #field_types),* });

        #network_impl

        #io

        #train
    }
}

/// `1 neuron`, `128 neurons`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
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
pub(crate) fn float(scalar: &Ident, value: f64) -> Literal {
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
            Unroll::Full => unrolled(layer, &argument),
        };
        body.extend(quote_spanned! {layer.span=>
            let #binding: [#scalar; #width] = #value;
            #activation
        });
        previous = out.clone();
    }
    let doc = format!(
        " Runs the network on one input of {} and returns its {}.",
        count(*inputs, "value"),
        count(*outputs, "output")
    );
    let (inputs, outputs) = (*inputs, *outputs);
    quote! {
        #[doc = #doc]
        ///
        /// Straight-line code through statically sized locals: no heap, no shape checks.
        #[inline]
        #[must_use]
        // The input is borrowed whatever its width, even when a copy would be as cheap.
        #[allow(clippy::trivially_copy_pass_by_ref)]
        pub fn forward(&self, #input: &[#scalar; #inputs]) -> [#scalar; #outputs] {
            #body
            #previous
        }
    }
}

/// Bytes of stack each intermediate of `forward_batch` aims to use for one chunk of samples.
const CHUNK_BYTES: usize = 32 * 1024;

/// Samples per chunk are a multiple of this, so that the kernels' tiles of 6 or 12 samples divide
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
    let last = &net.last_layer().name;
    // Samples per chunk: as many as fit the widest intermediate in `CHUNK_BYTES`, in steps of
    // `CHUNK_STEP`, from one step to four.
    let scalar_bytes = net.scalar_bytes();
    let widest = net.layers[..last_index]
        .iter()
        .map(|layer| layer.outputs)
        .max()
        .unwrap_or(1);
    let steps = CHUNK_BYTES / (widest * scalar_bytes * CHUNK_STEP);
    let chunk = steps.clamp(1, 4) * CHUNK_STEP;
    let work: usize = net.layers.iter().map(|l| l.inputs * l.outputs).sum();
    let zero = float(scalar, 0.0);
    // The chunk's buffers get mixed-site hygiene, so that layers named `inputs`, `outputs` or
    // `row` (whose locals carry the user's spans) cannot shadow them.
    let chunk_inputs = Ident::new("inputs", Span::mixed_site());
    let chunk_outputs = Ident::new("outputs", Span::mixed_site());
    let mut previous = quote!(#chunk_inputs);
    let mut body = TokenStream::new();
    for (index, layer) in net.layers.iter().enumerate() {
        let field = &layer.field;
        let width = layer.outputs;
        let row = Ident::new("row", Span::mixed_site());
        let activation = apply_activation(net, layer, &quote!(#row)).map(|apply| {
            let target = if index == last_index {
                quote!(#chunk_outputs)
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
                self.#field.forward_batch(#previous, #chunk_outputs);
                #activation
            });
        } else {
            body.extend(quote_spanned! {layer.span=>
                // A few tens of KiB: the chunk is sized to keep it so.
                #[allow(clippy::large_stack_arrays)]
                let mut #field = #runtime::batch::Aligned([[#zero; #width]; #chunk]);
                let #field = &mut #field.0[..#chunk_inputs.len()];
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
            #runtime::batch::for_each_chunk(inputs, outputs, #chunk, #work, |#chunk_inputs, #chunk_outputs| {
                #body
            });
            ::core::result::Result::Ok(())
        }
    }
}

/// `[b[0] + w[0][0] * x[0] + w[1][0] * x[1] + ..., ...]`, `w` being the layer's columns
/// (`w[i][o]` from input `i` to neuron `o`): one multiply-add per term, for tiny layers.
///
/// `input` is bound to `x` before `w` and `b` are, so that a previous layer called `w` or `b`
/// is not shadowed.
fn unrolled(layer: &Layer, input: &TokenStream) -> TokenStream {
    let field = &layer.field;
    let rows = (0..layer.outputs).map(|o| {
        let terms = (0..layer.inputs).map(|i| quote!(+ w[#i][#o] * x[#i]));
        quote!(b[#o] #(#terms)*)
    });
    quote_spanned! {layer.span=> {
        let x = #input;
        let w = self.#field.columns();
        let b = self.#field.bias();
        [#(#rows),*]
    }}
}

/// The `Network` trait: layer descriptions, tensor visitors and the slice forward pass.
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
        let (layer_name, named) = (&layer.name, layer.named);
        let (layer_inputs, layer_outputs) = (layer.inputs, layer.outputs);
        let variant = Ident::new(layer.activation.type_name(), Span::call_site());
        let activation = match layer.activation {
            Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => {
                let alpha = Literal::f64_suffixed(alpha);
                quote!(#variant(#alpha))
            }
            _ => quote!(#variant),
        };
        // The layer type declares its tensors: names, shapes, layouts.
        quote! {
            #runtime::LayerInfo {
                name: #layer_name,
                named: #named,
                kind: #runtime::LayerKind::Dense,
                input: &[#layer_inputs],
                output: &[#layer_outputs],
                activation: #runtime::Activation::#activation,
                tensors: <#runtime::Dense<#layer_inputs, #layer_outputs, #scalar> as #runtime::Tensors>::TENSORS,
            }
        }
    });
    let indices: Vec<usize> = (0..net.layers.len()).collect();
    let fields: Vec<&Ident> = net.layers.iter().map(|l| &l.field).collect();
    let first = &net.first_layer().name;
    let last = &net.last_layer().name;
    let (inputs, outputs, parameters) = (*inputs, *outputs, *parameters);
    quote! {
        impl #runtime::Network for #name {
            type Scalar = #scalar;
            const NAME: &'static str = #name_text;
            const INPUTS: usize = #inputs;
            const OUTPUTS: usize = #outputs;
            const PARAMETERS: usize = #parameters;
            // A constant, in static memory: clippy's pedantic `large_stack_arrays` takes the
            // array of a network of a few hundred layers for a local.
            #[allow(clippy::large_stack_arrays)]
            const LAYERS: &'static [#runtime::LayerInfo] = &[#(#infos),*];

            fn for_each_tensor<'a>(
                &'a self,
                mut f: impl FnMut(&'static #runtime::LayerInfo, &'static #runtime::TensorInfo, &'a [#scalar]),
            ) {
                let layers = <Self as #runtime::Network>::LAYERS;
                #(
                    #runtime::Tensors::for_each_tensor(&self.#fields, |tensor, values| {
                        f(&layers[#indices], tensor, values)
                    });
                )*
            }

            fn for_each_tensor_mut<'a>(
                &'a mut self,
                mut f: impl FnMut(&'static #runtime::LayerInfo, &'static #runtime::TensorInfo, &'a mut [#scalar]),
            ) {
                let layers = <Self as #runtime::Network>::LAYERS;
                #(
                    #runtime::Tensors::for_each_tensor_mut(&mut self.#fields, |tensor, values| {
                        f(&layers[#indices], tensor, values)
                    });
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
