//! [`ir::Network`](crate::ir::Network) to the inference half of the generated code: the
//! struct, its inherent consts, `forward`, `forward_batch`, the summary, the heap constructors
//! and the `Network` impl. Each layer's own tokens come from its kind (`layer::kind`).

use crate::emit_sequence;
use crate::ir::{Layer, Network};
use crate::layer::kind;
use crate::shared::{
    activation_on_rows, apply_activation, array_type, check_rows, count, flat, local, zeros,
};
use nn_grammar::{Activation, Shape};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

/// The struct and its impls, as `quote` writes them (sizes with their suffix: see
/// `shared::plain_sizes`).
pub(crate) fn emit(net: &Network) -> TokenStream {
    let Network {
        name,
        visibility,
        attributes,
        runtime,
        parameters,
        ..
    } = net;
    // A normalisation declared `affine = false` scales by one, which zeros are not.
    let (zeroed, zeroed_doc) = if net.layers.iter().any(|layer| !layer.affine) {
        let zeroed = quote! {
            let mut net: #runtime::Box<Self> = #runtime::zeroed_box();
            #runtime::Network::fill_fixed(&mut *net);
            net
        };
        let doc = " A network whose weights and biases are all zero (but the scale of one of a \
                   normalisation declared `affine = false`), built directly on the heap.";
        (zeroed, doc)
    } else {
        let doc = " A network whose weights and biases are all zero, built directly on the heap.";
        (quote!(#runtime::zeroed_box()), doc)
    };
    // Layers of kinds without tensors (pools, `flatten`) have no field.
    let fields = net.layers.iter().filter_map(|layer| {
        let kind = kind(layer);
        let field = &layer.field;
        let doc = kind.field_doc(layer);
        let field_type = kind.field_type(net)?;
        Some(quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #field_type
        })
    });
    let (field_names, field_types): (Vec<&Ident>, Vec<TokenStream>) = net
        .layers
        .iter()
        .filter_map(|l| Some((&l.field, kind(l).field_type(net)?)))
        .unzip();
    let training_doc = (!net.trains).then(|| {
        quote! {
            ///
            /// Inference only: nn generates no backward pass (no gradients type, no
            /// `Trainable`) for a network whose output is not a vector (the losses read
            /// vectors).
        }
    });
    let network_impl = network_impl(net);
    // A sequence network runs time steps with a state instead.
    let (state, forward, forward_batch) = if net.sequence.is_some() {
        let (state, methods) = emit_sequence::emit(net);
        (state, methods, TokenStream::new())
    } else {
        (TokenStream::new(), forward(net), forward_batch(net))
    };
    let name_text = name.to_string();
    let summary_doc = format!(
        " The layers of `{name_text}` as a table: names, activations, output shapes and parameters."
    );
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let inputs_doc = format!(" Width of the input: {inputs}.");
    let outputs_doc = format!(" Width of the output: {outputs}.");
    let parameters_doc = format!(" Weights plus biases over all layers: {parameters}.");
    let parameters = *parameters;
    quote! {
        #attributes
        #training_doc
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

                #[doc = #zeroed_doc]
                #[must_use]
                pub fn zeroed() -> #runtime::Box<Self> {
                    #zeroed
                }
            }
        }

        #runtime::__zero_init!(#runtime::ZeroInit, #name { #(#field_names: #field_types),* });

        #network_impl

        #state
    }
}

/// `forward`: one statement (or two, with an activation) per layer, through named locals.
fn forward(net: &Network) -> TokenStream {
    let scalar = &net.scalar;
    let input = format_ident!("input");
    let body = forward_body(net, &|layer, input| kind(layer).forward(net, layer, input));
    let doc = format!(
        " Runs the network on one input of {} and returns its {}.",
        count(net.input.elements(), "value"),
        count(net.output.elements(), "output")
    );
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
        // The input is borrowed whatever its width, even when a copy would be as cheap.
        #[allow(clippy::trivially_copy_pass_by_ref)]
        pub fn forward(&self, #input: &#input_type) -> #output_type {
            #body
        }
    }
}

/// `forward`'s statements and value, from its argument `input`: one named local per layer,
/// typed by its shape, holding `value(layer, input)` (`input` a reference to the layer's input;
/// the kind's `forward`, or a twin's tokens for its own fields), then its activation.
pub(crate) fn forward_body(
    net: &Network,
    value: &dyn Fn(&Layer, &TokenStream) -> TokenStream,
) -> TokenStream {
    let scalar = &net.scalar;
    let input = format_ident!("input");
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
        // The input is already a reference; every later local is an array.
        let argument = if index == 0 {
            quote!(#previous)
        } else {
            quote!(&#previous)
        };
        let value = value(layer, &argument);
        body.extend(quote_spanned! {layer.span=>
            let #binding: #out_type = #value;
            #activation
        });
        previous = out.clone();
    }
    quote! {
        #body
        #previous
    }
}

/// `forward_batch`: the batch in chunks of samples; within a chunk, each layer runs on all the
/// chunk's samples at once (so each weight loaded serves several samples), into one named
/// stack local per layer, as in `forward`.
fn forward_batch(net: &Network) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let last = &net.last_layer().name;
    let chunks = forward_batch_body(net, &|layer, input, output| {
        kind(layer).forward_batch(net, layer, input, output)
    });
    let (input_type, output_type) = (
        array_type(scalar, &net.input),
        array_type(scalar, &net.output),
    );
    let check_rows = check_rows(net, last, &quote!(inputs), &quote!(outputs));
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
            inputs: &[#input_type],
            outputs: &mut [#output_type],
        ) -> ::core::result::Result<(), #runtime::Error> {
            #check_rows
            #chunks
            ::core::result::Result::Ok(())
        }
    }
}

/// `forward_batch`'s statement over `inputs` and `outputs`, slices of as many rows: the chunks
/// through `batch::for_each_chunk`, each layer's statement `run(layer, input, output)` (the
/// kind's `forward_batch`, or a twin's tokens for its own fields) into a stack buffer, then its
/// activation.
pub(crate) fn forward_batch_body(
    net: &Network,
    run: &dyn Fn(&Layer, &TokenStream, &TokenStream) -> TokenStream,
) -> TokenStream {
    let Network {
        scalar,
        runtime,
        batch_chunk: chunk,
        multiply_adds: work,
        ..
    } = net;
    let last_index = net.layers.len() - 1;
    // The chunk's buffers get mixed-site hygiene, so that layers named `inputs`, `outputs` or
    // `row` (whose locals carry the user's spans) cannot shadow them.
    let chunk_inputs = local("inputs");
    let chunk_outputs = local("outputs");
    let mut previous = quote!(#chunk_inputs);
    let mut body = TokenStream::new();
    for (index, layer) in net.layers.iter().enumerate() {
        let field = &layer.field;
        let row = local("row");
        // `row` is a `&mut` of the output's array type: a vector's coerces to a slice.
        let target = if layer.output.rank() == 1 {
            quote!(#row)
        } else {
            flat(&layer.output, &quote!(#row), true)
        };
        let rows = if index == last_index {
            quote!(#chunk_outputs)
        } else {
            quote!(#field)
        };
        let activation = activation_on_rows(net, layer, &rows, &row, &target);
        if index == last_index {
            let run = run(layer, &previous, &quote!(#chunk_outputs));
            body.extend(quote_spanned! {layer.span=>
                #run
                #activation
            });
        } else {
            let zeros = zeros(scalar, &layer.output);
            let run = run(layer, &previous, &quote!(#field));
            body.extend(quote_spanned! {layer.span=>
                // A few tens of KiB: the chunk is sized to keep it so.
                #[allow(clippy::large_stack_arrays)]
                let mut #field = #runtime::batch::Aligned([#zeros; #chunk]);
                let #field = &mut #field.0[..#chunk_inputs.len()];
                #run
                #activation
            });
            previous = quote!(#field);
        }
    }
    quote! {
        #runtime::batch::for_each_chunk(inputs, outputs, #chunk, #work, |#chunk_inputs, #chunk_outputs| {
            #body
        });
    }
}

/// Statement: `value`, a reference to a vector of `shape`'s length, rebound as a reference to
/// `shape`'s nested array (rows cut with `as_chunks`, innermost first); nothing for a vector.
/// The lengths agree, so `error` is never returned: it only spares a panic path.
fn nested(
    net: &Network,
    shape: &Shape,
    value: &Ident,
    error: &TokenStream,
    mutable: bool,
) -> TokenStream {
    if shape.rank() == 1 {
        return TokenStream::new();
    }
    let ty = array_type(&net.scalar, shape);
    let cuts = shape.dims()[1..].iter().rev().map(|size| {
        if mutable {
            quote!(.as_chunks_mut::<#size>().0)
        } else {
            quote!(.as_chunks::<#size>().0)
        }
    });
    let reference = if mutable { quote!(&mut) } else { quote!(&) };
    quote! {
        let #value: #reference #ty = #value #(#cuts)* .try_into().map_err(|_| #error)?;
    }
}

/// A layer's `LayerInfo`, as a constant: the layer type declares its tensors (names, shapes,
/// layouts), less those its declaration hides (`bias = false`, `affine = false`).
fn layer_info(net: &Network, layer: &Layer) -> TokenStream {
    let runtime = &net.runtime;
    let (layer_name, named) = (&layer.name, layer.named);
    let kind = kind(layer);
    let layer_kind = kind.runtime_kind(net);
    let tensors = kind.field_type(net).map_or_else(
        || quote!(&[]),
        |layer_type| {
            let all = quote!(<#layer_type as #runtime::Tensors>::TENSORS);
            match layer.hidden(runtime) {
                None => all,
                Some(hidden) => quote! {
                    &#runtime::kept::<{ #runtime::kept_count(#all, #hidden) }>(#all, #hidden)
                },
            }
        },
    );
    let (input, output) = (layer.input.dims(), layer.output.dims());
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
            kind: #layer_kind,
            input: &[#(#input),*],
            output: &[#(#output),*],
            activation: #runtime::Activation::#activation,
            tensors: #tensors,
        }
    }
}

/// The `Network` trait: layer descriptions, tensor visitors and the slice forward pass.
fn network_impl(net: &Network) -> TokenStream {
    let Network {
        name,
        scalar,
        runtime,
        parameters,
        ..
    } = net;
    let name_text = name.to_string();
    let infos = net.layers.iter().map(|layer| layer_info(net, layer));
    let (indices, fields): (Vec<usize>, Vec<&Ident>) = net
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| kind(l).field_type(net).is_some())
        .map(|(index, l)| (index, &l.field))
        .unzip();
    // A layer declared with `bias = false` or `affine = false` visits what its `LayerInfo`
    // lists.
    let visit = |index: &usize| {
        let visit = quote!(f(&layers[#index], tensor, values));
        match net.layers[*index].hidden(runtime) {
            None => visit,
            Some(hidden) => quote!(if !#hidden.hides(tensor) { #visit; }),
        }
    };
    let visits: Vec<TokenStream> = indices.iter().map(visit).collect();
    let fill_fixed = fill_fixed(net);
    let (inputs, outputs, parameters) = (net.input.elements(), net.output.elements(), *parameters);
    let forward_slice = if net.sequence.is_some() {
        emit_sequence::forward_slice(net)
    } else {
        forward_slice(net)
    };
    // A network of layers without tensors visits nothing.
    let unused = fields.is_empty().then(|| quote!(let _ = (&mut f, layers);));
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

            #fill_fixed

            fn for_each_tensor<'a>(
                &'a self,
                mut f: impl FnMut(&'static #runtime::LayerInfo, &'static #runtime::TensorInfo, &'a [#scalar]),
            ) {
                let layers = <Self as #runtime::Network>::LAYERS;
                #unused
                #(
                    #runtime::Tensors::for_each_tensor(&self.#fields, |tensor, values| {
                        #visits
                    });
                )*
            }

            fn for_each_tensor_mut<'a>(
                &'a mut self,
                mut f: impl FnMut(&'static #runtime::LayerInfo, &'static #runtime::TensorInfo, &'a mut [#scalar]),
            ) {
                let layers = <Self as #runtime::Network>::LAYERS;
                #unused
                #(
                    #runtime::Tensors::for_each_tensor_mut(&mut self.#fields, |tensor, values| {
                        #visits
                    });
                )*
            }

            #forward_slice
        }
    }
}

/// `Network::fill_fixed`: the weight of each normalisation declared `affine = false`, one;
/// nothing (the trait's default) without one.
fn fill_fixed(net: &Network) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let fields: Vec<&Ident> = net
        .layers
        .iter()
        .filter(|layer| !layer.affine)
        .map(|layer| &layer.field)
        .collect();
    if fields.is_empty() {
        return TokenStream::new();
    }
    quote! {
        fn fill_fixed(&mut self) {
            #(
                #runtime::Tensors::for_each_tensor_mut(&mut self.#fields, |tensor, values| {
                    if tensor.role == #runtime::Role::Parameter
                        && tensor.init == #runtime::Init::Ones
                    {
                        values.fill(<#scalar as #runtime::Scalar>::ONE);
                    }
                });
            )*
        }
    }
}

/// `Network::forward_slice`: the flat slices as the input's and output's arrays, then `forward`.
fn forward_slice(net: &Network) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let first = &net.first_layer().name;
    let last = &net.last_layer().name;
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    // `forward_slice` converts the flat slices with `try_into`, which gives a vector's array;
    // an input or output of a higher rank then has its rows cut (`as_chunks`), no copy.
    let (input_type, output_type) = (
        array_type(scalar, &Shape::vector(inputs)),
        array_type(scalar, &Shape::vector(outputs)),
    );
    let input_error = quote! {
        #runtime::Error::Input {
            layer: #first,
            expected: #inputs,
            found: input.len(),
        }
    };
    let output_error = quote! {
        #runtime::Error::Output {
            layer: #last,
            expected: #outputs,
            found,
        }
    };
    let nested_input = nested(
        net,
        &net.input,
        &format_ident!("input"),
        &input_error,
        false,
    );
    let nested_output = nested(
        net,
        &net.output,
        &format_ident!("output"),
        &output_error,
        true,
    );
    quote! {
        fn forward_slice(
            &self,
            input: &[#scalar],
            output: &mut [#scalar],
        ) -> ::core::result::Result<(), #runtime::Error> {
            let input: &#input_type = input.try_into().map_err(|_| #input_error)?;
            #nested_input
            let found = output.len();
            let output: &mut #output_type = output.try_into().map_err(|_| #output_error)?;
            #nested_output
            *output = self.forward(input);
            ::core::result::Result::Ok(())
        }
    }
}
