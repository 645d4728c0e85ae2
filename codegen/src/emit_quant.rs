//! The int8 twin of a network (`with quantize = int8`): `<Name>Int8`, one runtime
//! `quant::QuantizedDense` per dense layer, made from a trained `<Name>` by `calibrate`, with
//! `forward` (`f32` in and out), `forward_quantized` (`u8` in and out), `forward_batch` and
//! quantised weight files. The scheme (and so every decision about activations) is the
//! runtime's `quant` module's; this module only writes the calls.

use crate::io::BakedWeights;
use crate::ir::{Layer, LayerKind, Network, Quantized};
use crate::shared::count;
use nn_grammar::Activation;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

/// The twin's struct and impls; nothing without `quantize`.
pub(crate) fn emit(net: &Network) -> TokenStream {
    let Some(quantized) = &net.quantized else {
        return TokenStream::new();
    };
    let Network {
        name: source,
        visibility,
        runtime,
        ..
    } = net;
    let name = &quantized.name;
    let dense = dense_layers(net);
    let fields = dense.iter().map(|(layer, inputs, outputs)| {
        let field = &layer.field;
        let groups = inputs.div_ceil(4);
        let doc = format!(
            " `{}`: {inputs} -> {outputs}{}, int8.",
            layer.name,
            activation_text(layer.activation)
        );
        quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #runtime::quant::QuantizedDense<#inputs, #outputs, #groups>
        }
    });
    let field_list = dense.iter().map(|(layer, inputs, outputs)| {
        let field = &layer.field;
        let groups = inputs.div_ceil(4);
        quote!(#field: #runtime::quant::QuantizedDense<#inputs, #outputs, #groups>)
    });
    let name_text = name.to_string();
    let field_texts: Vec<String> = dense.iter().map(|(l, _, _)| l.field.to_string()).collect();
    let field_idents: Vec<&Ident> = dense.iter().map(|(l, _, _)| &l.field).collect();
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let first = &dense[0].0.field;
    let last = &dense[dense.len() - 1].0.field;
    let doc = format!(
        " `{source}` in int8: `i8` weights with one scale per neuron, `u8` activations with a \
         scale and zero point per layer, `i32` sums (the scheme of `nn::quant`). Made from a \
         trained `{source}` by `{name}::calibrate`."
    );
    let steps = steps(net, &dense);
    let forward_batch = forward_batch(net, quantized, &dense);
    let calibrate = calibrate(net, &dense);
    let files = files(net, &dense);
    let forward_doc = format!(
        " Runs the network on one input of {} and returns its {}: the input quantised with \
         `input_quantization`, the layers in integers, the last one's sums dequantised and its \
         activation applied in `f32`.",
        count(inputs, "value"),
        count(outputs, "output")
    );
    quote! {
        #[doc = #doc]
        #[allow(dead_code)]
        #visibility struct #name {
            #(#fields,)*
        }

        #runtime::__zero_init!(#runtime::ZeroInit, #name { #(#field_list),* });

        /// Each layer's shape and quantisation (not its weights).
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name_text)
                    #(.field(#field_texts, &self.#field_idents))*
                    .finish()
            }
        }

        #[allow(dead_code)]
        impl #name {
            /// Width of the input.
            pub const INPUTS: usize = #inputs;
            /// Width of the output.
            pub const OUTPUTS: usize = #outputs;

            /// How `forward` quantises its input (`forward_quantized` takes these steps).
            #[must_use]
            pub fn input_quantization(&self) -> #runtime::quant::Quantization {
                self.#first.input()
            }

            /// How `forward_quantized` quantises its output.
            #[must_use]
            pub fn output_quantization(&self) -> #runtime::quant::Quantization {
                self.#last.output()
            }

            #[doc = #forward_doc]
            #[inline]
            #[must_use]
            #[allow(clippy::trivially_copy_pass_by_ref)]
            pub fn forward(&self, input: &[f32; #inputs]) -> [f32; #outputs] {
                self.dequantized_output(&self.#first.input().quantize_all(input))
            }

            /// Runs the network on quantised input steps (of `input_quantization`) and returns
            /// the output's steps (of `output_quantization`), for pipelines that stay in
            /// integers.
            #[inline]
            #[must_use]
            pub fn forward_quantized(&self, input: &[u8; #inputs]) -> [u8; #outputs] {
                self.#last.output().quantize_all(&self.dequantized_output(input))
            }

            #steps

            #forward_batch
        }

        #calibrate

        #files
    }
}

/// The dense layers, with their widths (`check` lets only dense layers and `dropout` into a
/// quantised network; dropout is the identity at inference and has no field).
fn dense_layers(net: &Network) -> Vec<(&Layer, usize, usize)> {
    net.layers
        .iter()
        .filter_map(|layer| match &layer.kind {
            LayerKind::Dense(dense) => Some((layer, dense.inputs, dense.outputs)),
            _ => None,
        })
        .collect()
}

/// ` relu`, ` softmax`, or nothing for `linear`.
fn activation_text(activation: Activation) -> String {
    if activation == Activation::Linear {
        String::new()
    } else {
        format!(" {}", crate::shared::describe(activation))
    }
}

/// The call applying `activation` in place to the `f32` slice `target`, if any.
fn apply(net: &Network, layer: &Layer, target: &TokenStream) -> Option<TokenStream> {
    crate::shared::apply_activation(net, layer, target)
}

/// The fixed output quantisation of an activation with a known range (TFLite's), if any.
fn fixed_output(runtime: &TokenStream, activation: Activation) -> Option<TokenStream> {
    match activation {
        Activation::Sigmoid | Activation::Softmax => {
            Some(quote!(#runtime::quant::Quantization::UNIT))
        }
        Activation::Tanh => Some(quote!(#runtime::quant::Quantization::SIGNED_UNIT)),
        _ => None,
    }
}

/// Statements computing hidden layer `layer` from `input` (a `&[u8; IN]` expression) into the
/// `u8` local of the layer's name: ReLU and `linear` fused into the requantisation, other
/// activations in `f32` at the layer's edge.
fn hidden_step(net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
    let runtime = &net.runtime;
    let field = &layer.field;
    match layer.activation {
        Activation::Linear => quote_spanned! {layer.span=>
            let #field = self.#field.forward(#input, #runtime::quant::Clamp::NONE);
        },
        Activation::Relu => quote_spanned! {layer.span=>
            let #field = self.#field.forward(
                #input,
                #runtime::quant::Clamp::relu(self.#field.output()),
            );
        },
        _ => {
            let apply = apply(net, layer, &quote!(&mut #field));
            quote_spanned! {layer.span=>
                let mut #field = self.#field.dequantize(&self.#field.accumulate(#input));
                #apply
                let #field = self.#field.output().quantize_all(&#field);
            }
        }
    }
}

/// `dequantized_output`: the layers from quantised input steps to the last layer's `f32`
/// output (its activation applied), which `forward` and `forward_quantized` share.
fn steps(net: &Network, dense: &[(&Layer, usize, usize)]) -> TokenStream {
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let input = format_ident!("input");
    let mut previous = quote!(#input);
    let mut body = TokenStream::new();
    let (last, hidden) = dense.split_last().expect("a network has a layer");
    for (layer, _, _) in hidden {
        body.extend(hidden_step(net, layer, &previous));
        let field = &layer.field;
        previous = quote!(&#field);
    }
    let layer = last.0;
    let field = &layer.field;
    let apply = apply(net, layer, &quote!(&mut #field));
    body.extend(quote_spanned! {layer.span=>
        let mut #field = self.#field.dequantize(&self.#field.accumulate(#previous));
        #apply
    });
    quote! {
        /// The layers from quantised input steps to the last layer's `f32` output.
        #[inline]
        fn dequantized_output(&self, #input: &[u8; #inputs]) -> [f32; #outputs] {
            #body
            #field
        }
    }
}

/// `forward_batch`: chunks of samples, each layer's sums for the whole chunk at once (every
/// weight loaded serves the chunk), then each row requantised as `forward` does it, so that a
/// sample gets the same output alone or in a batch.
fn forward_batch(
    net: &Network,
    quantized: &Quantized,
    dense: &[(&Layer, usize, usize)],
) -> TokenStream {
    let runtime = &net.runtime;
    let chunk = quantized.chunk;
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let last_name = &net.last_layer().name;
    let chunk_inputs = Ident::new("inputs", Span::mixed_site());
    let chunk_outputs = Ident::new("outputs", Span::mixed_site());
    let steps = Ident::new("steps", Span::mixed_site());
    let sums = Ident::new("sums", Span::mixed_site());
    let row = Ident::new("row", Span::mixed_site());
    let first = &dense[0].0.field;
    let mut body = quote! {
        #[allow(clippy::large_stack_arrays)]
        let mut #steps = [[0u8; #inputs]; #chunk];
        let #steps = &mut #steps[..#chunk_inputs.len()];
        for (#row, input) in #steps.iter_mut().zip(#chunk_inputs) {
            *#row = self.#first.input().quantize_all(input);
        }
    };
    let mut previous = quote!(#steps);
    let (last, hidden) = dense.split_last().expect("a network has a layer");
    for (layer, _, width) in hidden {
        let field = &layer.field;
        let requantize = match layer.activation {
            Activation::Linear => quote_spanned! {layer.span=>
                *out = self.#field.requantize(sum, #runtime::quant::Clamp::NONE);
            },
            Activation::Relu => quote_spanned! {layer.span=>
                *out = self.#field.requantize(
                    sum,
                    #runtime::quant::Clamp::relu(self.#field.output()),
                );
            },
            _ => {
                let apply = apply(net, layer, &quote!(&mut real));
                quote_spanned! {layer.span=>
                    let mut real = self.#field.dequantize(sum);
                    #apply
                    *out = self.#field.output().quantize_all(&real);
                }
            }
        };
        body.extend(quote_spanned! {layer.span=>
            #[allow(clippy::large_stack_arrays)]
            let mut #sums = [[0i32; #width]; #chunk];
            let #sums = &mut #sums[..#chunk_inputs.len()];
            self.#field.accumulate_batch(#previous, #sums);
            #[allow(clippy::large_stack_arrays)]
            let mut #field = [[0u8; #width]; #chunk];
            let #field = &mut #field[..#chunk_inputs.len()];
            for (out, sum) in #field.iter_mut().zip(#sums.iter()) {
                #requantize
            }
        });
        previous = quote!(#field);
    }
    let layer = last.0;
    let field = &layer.field;
    let apply = apply(net, layer, &quote!(out));
    body.extend(quote_spanned! {layer.span=>
        #[allow(clippy::large_stack_arrays)]
        let mut #sums = [[0i32; #outputs]; #chunk];
        let #sums = &mut #sums[..#chunk_inputs.len()];
        self.#field.accumulate_batch(#previous, #sums);
        for (out, sum) in #chunk_outputs.iter_mut().zip(#sums.iter()) {
            *out = self.#field.dequantize(sum);
            #apply
        }
    });
    quote! {
        /// Runs the network on every input, writing one output per input: the same outputs
        /// as `forward`, each layer's sums computed for a chunk of samples at once.
        ///
        /// # Errors
        ///
        /// `Error::Batch` when `outputs` does not have one row per input.
        pub fn forward_batch(
            &self,
            inputs: &[[f32; #inputs]],
            outputs: &mut [[f32; #outputs]],
        ) -> ::core::result::Result<(), #runtime::Error> {
            if inputs.len() != outputs.len() {
                return ::core::result::Result::Err(#runtime::Error::Batch {
                    layer: #last_name,
                    expected: inputs.len(),
                    found: outputs.len(),
                });
            }
            for (#chunk_inputs, #chunk_outputs) in inputs.chunks(#chunk).zip(outputs.chunks_mut(#chunk)) {
                #body
            }
            ::core::result::Result::Ok(())
        }
    }
}

/// `calibrate`: the `f32` network run on the samples, every layer's output observed, then each
/// layer quantised with the ranges chosen.
fn calibrate(net: &Network, dense: &[(&Layer, usize, usize)]) -> TokenStream {
    let Network {
        name: source,
        runtime,
        ..
    } = net;
    let name = &net.quantized.as_ref().expect("called with a twin").name;
    let inputs = net.input.elements();
    let mut names = vec![String::from("the input")];
    names.extend(
        dense
            .iter()
            .map(|(layer, _, _)| format!("the output of layer `{}`", layer.name)),
    );
    let sample = format_ident!("sample");
    let mut observe = TokenStream::new();
    let mut previous = quote!(#sample);
    for (index, (layer, _, _)) in dense.iter().enumerate() {
        let field = &layer.field;
        let apply = apply(net, layer, &quote!(&mut #field));
        let tensor = index + 1;
        observe.extend(quote_spanned! {layer.span=>
            let mut #field = net.#field.forward(#previous);
            #apply
            observer.observe(#tensor, &#field)?;
        });
        previous = quote!(&#field);
    }
    let mut quantize = quote! {
        let mut input = observer.quantization(0)?;
    };
    for (index, (layer, _, _)) in dense.iter().enumerate() {
        let field = &layer.field;
        let tensor = index + 1;
        let output = fixed_output(runtime, layer.activation)
            .unwrap_or_else(|| quote!(observer.quantization(#tensor)?));
        quantize.extend(quote_spanned! {layer.span=>
            let output = #output;
            quantized.#field.quantize_from(&net.#field, input, output);
            input = output;
        });
    }
    let names = names.iter().map(|n| Literal::string(n));
    let doc = format!(
        " An int8 `{name}` from a trained `{source}`: runs it on `samples` (inputs like the ones \
         it will see: a few hundred suffice), chooses each activation's range by `method`, and \
         quantises each layer's weights (symmetric, one scale per neuron) and biases."
    );
    quote! {
        #runtime::__with_alloc! {
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #name {
                #[doc = #doc]
                ///
                /// # Errors
                ///
                /// `Error::Calibration` for no samples, a value that is not finite in some
                /// layer's output, or a percentile outside `(50, 100]`.
                pub fn calibrate(
                    net: &#source,
                    samples: &[[f32; #inputs]],
                    method: #runtime::quant::Calibration,
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    let mut observer = #runtime::quant::Observer::new(method, &[#(#names),*])?;
                    for #sample in samples {
                        observer.observe(0, #sample)?;
                        #observe
                    }
                    // Built in place: a network can be larger than a stack.
                    let mut quantized = #runtime::zeroed_box::<Self>();
                    #quantize
                    let _ = input;
                    ::core::result::Result::Ok(quantized)
                }
            }
        }
    }
}

/// `from_safetensors`, `to_safetensors` and the file variants, in the runtime's
/// `quant::file` layout, each layer under its `f32` network's prefix.
fn files(net: &Network, dense: &[(&Layer, usize, usize)]) -> TokenStream {
    let Network {
        name: source,
        runtime,
        ..
    } = net;
    let name = &net.quantized.as_ref().expect("called with a twin").name;
    let (indices, fields, names): (Vec<usize>, Vec<&Ident>, Vec<&String>) = net
        .layers
        .iter()
        .enumerate()
        .filter(|(_, layer)| dense.iter().any(|(d, _, _)| std::ptr::eq(*d, *layer)))
        .map(|(index, layer)| (index, &layer.field, &layer.name))
        .collect();
    quote! {
        #runtime::__with_safetensors! {
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #name {
                /// Loads an int8 network from the bytes of a safetensors file that
                /// `to_safetensors` wrote, directly on the heap.
                ///
                /// # Errors
                ///
                /// Every problem with the file, naming the layer and tensor, what was expected
                /// and what was found.
                pub fn from_safetensors(
                    bytes: &[u8],
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    let prefixes = #runtime::io::safetensors::prefixes(
                        <#source as #runtime::Network>::LAYERS,
                    );
                    let mut reader = #runtime::quant::file::Reader::new(bytes)?;
                    let mut quantized = #runtime::zeroed_box::<Self>();
                    #(
                        reader.layer(#names, &prefixes[#indices], &mut quantized.#fields)?;
                    )*
                    reader.finish()?;
                    ::core::result::Result::Ok(quantized)
                }

                /// The network as a safetensors file: per layer, under the prefix of its
                /// `f32` network's file, `weight` (`I8`, `[outputs, inputs]`), `weight_scale`,
                /// `bias` (`I32`) and the input's and output's scale and zero point.
                #[must_use]
                pub fn to_safetensors(&self) -> #runtime::Vec<u8> {
                    let prefixes = #runtime::io::safetensors::prefixes(
                        <#source as #runtime::Network>::LAYERS,
                    );
                    let mut writer = #runtime::quant::file::Writer::new();
                    #(
                        writer.layer(&prefixes[#indices], &self.#fields);
                    )*
                    writer.finish()
                }
            }

            #runtime::__with_std! {
                #[allow(dead_code)]
                impl #name {
                    /// Loads an int8 network from a file that `save_safetensors` wrote.
                    ///
                    /// # Errors
                    ///
                    /// `Error::Io` when the file cannot be read, else as `from_safetensors`.
                    pub fn from_safetensors_file(
                        path: impl ::core::convert::AsRef<#runtime::io::Path>,
                    ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                        let path = path.as_ref();
                        let bytes = #runtime::io::read(path)?;
                        Self::from_safetensors(&bytes)
                    }

                    /// Writes `to_safetensors` to a file.
                    ///
                    /// # Errors
                    ///
                    /// `Error::Io` when the file cannot be written.
                    pub fn save_safetensors(
                        &self,
                        path: impl ::core::convert::AsRef<#runtime::io::Path>,
                    ) -> ::core::result::Result<(), #runtime::Error> {
                        #runtime::io::write(path.as_ref(), &self.to_safetensors())
                    }
                }
            }
        }
    }
}

/// `<Name>Int8::BAKED`, when the `weights` file is a quantised one: each layer a const
/// `QuantizedDense::from_parts` of the file's integers and scales, and an `include_bytes!` of
/// the file so that editing it rebuilds the crate. Nothing otherwise.
pub(crate) fn baked(net: &Network, weights: Option<&BakedWeights>) -> TokenStream {
    let (Some(quantized), Some(weights)) = (&net.quantized, weights) else {
        return TokenStream::new();
    };
    let Some(layers) = &weights.quantized else {
        return TokenStream::new();
    };
    let runtime = &net.runtime;
    let name = &quantized.name;
    let quantization = |(scale, zero_point): (f32, u8)| {
        let scale = Literal::f32_suffixed(scale);
        quote!(#runtime::quant::Quantization::new(#scale, #zero_point))
    };
    let fields = dense_layers(net)
        .into_iter()
        .zip(layers)
        .map(|((layer, inputs, _), parts)| {
            let field = &layer.field;
            let rows = parts.weights.chunks(inputs.max(1)).map(|row| {
                let row = row.iter().map(|w| Literal::i8_unsuffixed(*w));
                quote!([#(#row),*])
            });
            let scales = parts
                .weight_scales
                .iter()
                .map(|s| Literal::f32_unsuffixed(*s));
            let bias = parts.bias.iter().map(|b| Literal::i32_unsuffixed(*b));
            let (input, output) = (quantization(parts.input), quantization(parts.output));
            quote_spanned! {layer.span=>
                #field: #runtime::quant::QuantizedDense::from_parts(
                    &[#(#rows),*],
                    [#(#scales),*],
                    [#(#bias),*],
                    #input,
                    #output,
                )
            }
        });
    let doc = format!(
        " The int8 network of `{}`, baked in at compile time: `static NET: {name} = \
         {name}::BAKED;` needs no allocator.",
        weights.written
    );
    let path = Literal::string(&weights.path);
    quote! {
        #[allow(dead_code)]
        impl #name {
            #[doc = #doc]
            #[allow(clippy::large_stack_arrays)]
            pub const BAKED: Self = Self { #(#fields),* };
        }

        const _: &[u8] = ::core::include_bytes!(#path);
    }
}
