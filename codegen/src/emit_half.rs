//! The half-precision twin of a network (`with quantize = bf16` or `f16`): `<Name>Bf16` or
//! `<Name>F16`, one runtime `HalfDense` per dense layer, weights stored in 16 bits and computed
//! in `f32` (widened as they load), made from a trained `<Name>` by rounding each weight.

use crate::io::BakedWeights;
use crate::ir::{Layer, LayerKind, Network, Quantized};
use crate::shared::{apply_activation, count};
use nn_grammar::Quantize;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned};

/// The twin's dense layers with their widths (`check` lets only dense layers and `dropout`, the
/// identity at inference, into a half-precision twin).
fn dense_layers(net: &Network) -> Vec<(&Layer, usize, usize)> {
    net.layers
        .iter()
        .filter_map(|layer| match &layer.kind {
            LayerKind::Dense(dense) => Some((layer, dense.inputs, dense.outputs)),
            _ => None,
        })
        .collect()
}

/// The twin, if the network has a half-precision one, and its format's runtime type.
fn twin(net: &Network) -> Option<(&Quantized, TokenStream)> {
    let quantized = net.quantized.as_ref()?;
    let runtime = &net.runtime;
    let format = match quantized.kind {
        Quantize::Bf16 => quote!(#runtime::Bf16),
        Quantize::F16 => quote!(#runtime::F16),
        Quantize::Int8 => return None,
    };
    Some((quantized, format))
}

/// The twin's struct and impls; nothing without `quantize = bf16` or `f16`.
#[allow(clippy::too_many_lines)] // one `quote!` of the items, in the order a reader meets them
pub(crate) fn emit(net: &Network) -> TokenStream {
    let Some((quantized, format)) = twin(net) else {
        return TokenStream::new();
    };
    let Network {
        name: source,
        visibility,
        runtime,
        ..
    } = net;
    let name = &quantized.name;
    let format_name = quantized.kind.name();
    let dense = dense_layers(net);
    let field_type =
        |inputs: usize, outputs: usize| quote!(#runtime::HalfDense<#inputs, #outputs, #format>);
    let fields = dense.iter().map(|(layer, inputs, outputs)| {
        let field = &layer.field;
        let ty = field_type(*inputs, *outputs);
        let doc = format!(
            " `{}`: {inputs} -> {outputs}, {format_name} weights.",
            layer.name
        );
        quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #ty
        }
    });
    let field_list: Vec<TokenStream> = dense
        .iter()
        .map(|(layer, inputs, outputs)| {
            let field = &layer.field;
            let ty = field_type(*inputs, *outputs);
            quote!(#field: #ty)
        })
        .collect();
    let field_names: Vec<&Ident> = dense.iter().map(|(layer, ..)| &layer.field).collect();
    let field_texts: Vec<String> = field_names.iter().map(ToString::to_string).collect();
    let name_text = name.to_string();
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let doc = format!(
        " `{source}` with {format_name} weights (half the memory of `f32`), computed in `f32`: \
         made from a trained `{source}` by `{name}::from_network`, or loaded from its file."
    );
    let forward = forward(net, &dense);
    let forward_batch = forward_batch(net, quantized, &dense);
    let forward_doc = format!(
        " Runs the network on one input of {} and returns its {}: each layer's weights widened \
         to `f32` as they load; the bits of the `f32` network holding the rounded weights.",
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

        /// Each layer's shape (not its weights).
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name_text)
                    #(.field(#field_texts, &self.#field_names))*
                    .finish()
            }
        }

        #[allow(dead_code)]
        impl #name {
            /// Width of the input.
            pub const INPUTS: usize = #inputs;
            /// Width of the output.
            pub const OUTPUTS: usize = #outputs;

            #[doc = #forward_doc]
            #[inline]
            #[must_use]
            #[allow(clippy::trivially_copy_pass_by_ref)]
            pub fn forward(&self, input: &[f32; #inputs]) -> [f32; #outputs] {
                #forward
            }

            #forward_batch
        }

        #runtime::__with_alloc! {
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #name {
                /// The network with each weight of `net` rounded to the nearest value of the
                /// format (ties to even) and its biases as they are, built on the heap.
                #[must_use]
                pub fn from_network(net: &#source) -> #runtime::Box<Self> {
                    let mut half = #runtime::zeroed_box::<Self>();
                    #(half.#field_names.assign_from(&net.#field_names);)*
                    half
                }
            }
        }

        #runtime::__with_safetensors! {
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #name {
                /// Loads the network from a safetensors file of `#source` (any float dtype,
                /// `BF16` and `F16` included), rounding each weight to the format.
                ///
                /// # Errors
                ///
                /// As `#source::from_safetensors`.
                pub fn from_safetensors(
                    bytes: &[u8],
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    ::core::result::Result::Ok(Self::from_network(&*#source::from_safetensors(bytes)?))
                }
            }

            #runtime::__with_std! {
                #[allow(dead_code)]
                impl #name {
                    /// Loads the network from a safetensors file, as `from_safetensors`.
                    ///
                    /// # Errors
                    ///
                    /// `Error::Io` when the file cannot be read, else as `from_safetensors`.
                    pub fn from_safetensors_file(
                        path: impl ::core::convert::AsRef<#runtime::io::Path>,
                    ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                        ::core::result::Result::Ok(Self::from_network(
                            &*#source::from_safetensors_file(path)?,
                        ))
                    }
                }
            }
        }
    }
}

/// `forward`'s body: each layer's `forward`, then its activation, through named locals.
fn forward(net: &Network, dense: &[(&Layer, usize, usize)]) -> TokenStream {
    let mut previous = quote!(input);
    let mut body = TokenStream::new();
    let mut last = None;
    for (layer, _, _) in dense {
        let field = &layer.field;
        let apply = apply_activation(net, layer, &quote!(&mut #field));
        body.extend(quote_spanned! {layer.span=>
            #[allow(unused_mut)]
            let mut #field = self.#field.forward(#previous);
            #apply
        });
        previous = quote!(&#field);
        last = Some(field);
    }
    quote! {
        #body
        #last
    }
}

/// `forward_batch`: chunks of samples, each layer through its batched kernel for the chunk.
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
    let row = Ident::new("row", Span::mixed_site());
    let mut previous = quote!(#chunk_inputs);
    let mut body = TokenStream::new();
    let (last, hidden) = dense.split_last().expect("a network has a layer");
    for (layer, _, width) in hidden {
        let field = &layer.field;
        let apply = apply_activation(net, layer, &quote!(#row))
            .map(|apply| quote!(for #row in #field.iter_mut() { #apply }));
        body.extend(quote_spanned! {layer.span=>
            #[allow(clippy::large_stack_arrays)]
            let mut #field = [[0f32; #width]; #chunk];
            let #field = &mut #field[..#chunk_inputs.len()];
            self.#field.forward_batch(#previous, #field);
            #apply
        });
        previous = quote!(#field);
    }
    let layer = last.0;
    let field = &layer.field;
    let apply = apply_activation(net, layer, &quote!(#row))
        .map(|apply| quote!(for #row in #chunk_outputs.iter_mut() { #apply }));
    body.extend(quote_spanned! {layer.span=>
        self.#field.forward_batch(#previous, #chunk_outputs);
        #apply
    });
    quote! {
        /// Runs the network on every input, writing one output per input, each layer on a
        /// chunk of samples at once (as the `f32` network's `forward_batch`, whose bits it
        /// gives on the rounded weights).
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

/// `<Name>Bf16::BAKED` (or `F16`), when the network bakes a file of `f32` weights: each weight
/// rounded by the format's const `from_f32` while compiling. Nothing otherwise.
pub(crate) fn baked(net: &Network, weights: Option<&BakedWeights>) -> TokenStream {
    let (Some((quantized, format)), Some(weights)) = (twin(net), weights) else {
        return TokenStream::new();
    };
    let runtime = &net.runtime;
    let name = &quantized.name;
    let fields = dense_layers(net)
        .into_iter()
        .map(|(layer, inputs, outputs)| {
            let field = &layer.field;
            let index = net
                .layers
                .iter()
                .position(|l| std::ptr::eq(l, layer))
                .expect("a layer of the network");
            let tensors = &weights.layers[index];
            // The file's rows, `[OUT][IN]`, as the runtime's columns, `[IN][OUT]`.
            let columns = (0..inputs).map(|i| {
                let column = (0..outputs).map(|o| {
                    #[allow(clippy::cast_possible_truncation)] // the file's f32 values, exact
                    let value = Literal::f32_suffixed(tensors[0][o * inputs + i] as f32);
                    quote!(#format::from_f32(#value))
                });
                quote!([#(#column),*])
            });
            #[allow(clippy::cast_possible_truncation)]
            let bias = tensors[1]
                .iter()
                .map(|b| Literal::f32_unsuffixed(*b as f32));
            quote_spanned! {layer.span=>
                #field: #runtime::HalfDense::from_columns([#(#columns),*], [#(#bias),*])
            }
        });
    let doc = format!(
        " The weights of `{}`, rounded and baked in at compile time: `static NET: {name} = \
         {name}::BAKED;` needs no allocator.",
        weights.written
    );
    quote! {
        #[allow(dead_code)]
        impl #name {
            #[doc = #doc]
            #[allow(clippy::large_stack_arrays)]
            pub const BAKED: Self = Self { #(#fields),* };
        }
    }
}
