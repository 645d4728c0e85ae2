//! The half-precision twins of a network (`with quantize = bf16`, `f16`, or both: each twin
//! the tokens it has alone): `<Name>Bf16` or `<Name>F16`, the `f32` network with each dense layer's and convolution's weights stored in 16
//! bits (`HalfDense`, `HalfConv2d`, `HalfConv1d`), and each recurrent layer's matrices (the
//! runtime's `Lstm`, `Gru` or `Rnn` with a half-precision `Weight`), computed in `f32` (widened
//! as they load), made from a trained `<Name>` by rounding each weight. `forward` and
//! `forward_batch` are the `f32` network's (`emit::forward_body`, `emit::forward_batch_body`);
//! a sequence network's `step`, `forward_sequence` and `step_streams` are too
//! (`emit_sequence::methods_with`), with the `f32` network's state type (the state is `f32`
//! either way, so one type serves both networks and a stream can move between them). Each
//! kind's own tokens but a dense layer's (`half_dense`: the runtime's `HalfDense`, or the `f32`
//! layer's unrolled sums of widened weights where the `f32` network unrolls): the half layers
//! answer the `f32` layers' methods, so the bits are those of the `f32` network holding the
//! rounded weights.

use crate::emit::{forward_batch_body, forward_body};
use crate::emit_sequence::{methods_with, state_name};
use crate::io::BakedWeights;
use crate::ir::{DenseForward, Layer, LayerKind, Network, Quantized};
use crate::layer::kind;
use crate::shared::{array_type, check_rows, count, literal, local, twin_counts};
use nn_grammar::Quantize;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{quote, quote_spanned};

/// The network's half-precision twins, in the order written (one per format), each with its
/// format's runtime type.
fn twins(net: &Network) -> impl Iterator<Item = (&Quantized, TokenStream)> {
    let runtime = &net.runtime;
    net.quantized.iter().filter_map(move |quantized| {
        let format = match quantized.kind {
            Quantize::Bf16 => quote!(#runtime::Bf16),
            Quantize::F16 => quote!(#runtime::F16),
            Quantize::Int8 => return None,
        };
        Some((quantized, format))
    })
}

/// Whether the twin stores `layer`'s weights in half precision (dense layers, convolutions,
/// recurrent layers' matrices). Normalisation keeps its `f32` layer: a few parameters per
/// channel (or per value, for `layernorm`), where rounding would save little and change the
/// statistics' arithmetic. So does a causal convolution, the runtime's `Conv1d` stepped with
/// its history: a sequence network's few taps, small beside its recurrent matrices, where a
/// half `step_causal` would be another kernel to keep exact.
fn rounded(layer: &Layer) -> bool {
    matches!(
        layer.kind,
        LayerKind::Dense(_) | LayerKind::Conv2d(_) | LayerKind::Conv1d(_) | LayerKind::Recurrent(_)
    )
}

/// The type of `layer`'s field in the twin: a half layer for [`rounded`] kinds, else the `f32`
/// network's (`None` for kinds without tensors).
fn field_type(net: &Network, layer: &Layer, format: &TokenStream) -> Option<TokenStream> {
    let runtime = &net.runtime;
    Some(match &layer.kind {
        LayerKind::Dense(dense) => {
            let (inputs, outputs) = (dense.inputs, dense.outputs);
            quote!(#runtime::HalfDense<#inputs, #outputs, #format>)
        }
        LayerKind::Conv2d(conv) => {
            let (out, per_group, [kh, kw]) = (conv.out_channels, conv.in_per_group, conv.kernel);
            quote!(#runtime::HalfConv2d<#out, #per_group, #kh, #kw, #format>)
        }
        LayerKind::Conv1d(conv) => {
            let (out, per_group, k) = (conv.out_channels, conv.in_per_group, conv.kernel);
            quote!(#runtime::HalfConv1d<#out, #per_group, #k, #format>)
        }
        LayerKind::Recurrent(recurrent) => recurrent.layer_type(net, Some(format)),
        _ => kind(layer).field_type(net)?,
    })
}

/// Each half-precision twin's struct and impls; nothing without `quantize = bf16` or `f16`.
pub(crate) fn emit(net: &Network) -> TokenStream {
    twins(net)
        .map(|(quantized, format)| emit_twin(net, quantized, &format))
        .collect()
}

/// One twin's struct and impls, the same whichever other twins the network has.
#[allow(clippy::too_many_lines)] // one `quote!` of the items, in the order a reader meets them
fn emit_twin(net: &Network, quantized: &Quantized, format: &TokenStream) -> TokenStream {
    let Network {
        name: source,
        visibility,
        runtime,
        ..
    } = net;
    let name = &quantized.name;
    let format_name = quantized.kind.name();
    let with_fields: Vec<(&Layer, TokenStream)> = net
        .layers
        .iter()
        .filter_map(|layer| Some((layer, field_type(net, layer, format)?)))
        .collect();
    let fields = with_fields.iter().map(|(layer, ty)| {
        let field = &layer.field;
        let doc = if rounded(layer) {
            format!("{} Weights in {format_name}.", kind(layer).field_doc(layer))
        } else {
            format!(
                "{} In `f32`, as in `{source}`.",
                kind(layer).field_doc(layer)
            )
        };
        quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #ty
        }
    });
    let field_list = with_fields.iter().map(|(layer, ty)| {
        let field = &layer.field;
        quote!(#field: #ty)
    });
    let field_names: Vec<&Ident> = with_fields.iter().map(|(layer, _)| &layer.field).collect();
    let field_texts: Vec<String> = field_names.iter().map(ToString::to_string).collect();
    let assign = with_fields.iter().map(|(layer, _)| {
        let field = &layer.field;
        if rounded(layer) {
            quote!(half.#field.assign_from(&net.#field);)
        } else {
            quote!(::core::clone::Clone::clone_from(&mut half.#field, &net.#field);)
        }
    });
    let widen = with_fields.iter().map(|(layer, _)| {
        let field = &layer.field;
        if rounded(layer) {
            quote!(self.#field.widen_into(&mut net.#field);)
        } else {
            quote!(::core::clone::Clone::clone_from(&mut net.#field, &self.#field);)
        }
    });
    let name_text = name.to_string();
    // The layers whose weights are rounded, by the names their errors give.
    let rounded_names: Vec<String> = with_fields
        .iter()
        .filter(|(layer, _)| rounded(layer))
        .map(|(layer, _)| layer.name.clone())
        .collect();
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let scalar_text = format!("f32, {format_name} weights");
    let load_doc = format!(
        " Loads the network from a safetensors file of `{source}` (any float dtype, `BF16` and \
         `F16` included), rounding each weight to the format (`from_network`).\n\n # Errors\n\n \
         As `{source}::from_safetensors`, and a weight that rounds to an infinity in the format."
    );
    let counts = twin_counts(net, name, (&scalar_text, format_name), &rounded_names, 2);
    let state = net.sequence.map(|_| {
        format!(
            " Its streams' state is `{}`, the `f32` network's (the state stays `f32`).",
            state_name(net)
        )
    });
    let doc = format!(
        " `{source}` with {format_name} weights (half the memory of `f32`), computed in `f32`: \
         made from a trained `{source}` by `{name}::from_network`, or loaded from its file.{}",
        state.unwrap_or_default()
    );
    let inference = if net.sequence.is_some() {
        sequence_methods(net)
    } else {
        feed_forward_methods(net)
    };
    let to_network_doc = format!(
        " The `{source}` holding this network's weights, widened to `f32` (exactly), built on \
         the heap: the inverse of `from_network`."
    );
    let save_doc = format!(
        " The network as a safetensors file in `{source}`'s layout, its {format_name} weights \
         stored as `{}` (half the bytes of `f32`, exactly these values; biases, normalisation \
         and causal convolutions in `F32`). `from_safetensors` reads it back to the same \
         network, and PyTorch's `load_state_dict` into the same model in any dtype. Built \
         through `to_network`, so it needs as much memory again as the `f32` network.",
        format_name.to_uppercase()
    );
    let serialize_doc = format!(
        " `{source}`'s layout (`{{\"layers\": [{{\"name\", \"weights\", \"bias\"}}]}}`), \
         the weights widened to `f32` (exactly): `to_network()` serialised, so it needs as much \
         memory again as the `f32` network."
    );
    let deserialize_doc = format!(
        " `{source}`'s layout, checked as `Box<{source}>`'s `Deserialize` checks it, then each \
         weight rounded to the format by `from_network` (and refused where one would round to \
         an infinity). Reads the `f32` network first, so it needs as much memory again."
    );
    let (torch, limit) = match quantized.kind {
        Quantize::F16 => ("float16", "in binary16, 65520 or more in magnitude"),
        _ => ("bfloat16", "in bfloat16, within 0.2% of `f32::MAX`"),
    };
    let from_network_doc = format!(
        " The network with each weight of `net` rounded to the nearest value of the format \
         (ties to even, as PyTorch's `.to(torch.{torch})`) and its biases (and normalisation \
         layers) as they are, built on the heap.\n\n # Errors\n\n `Error::QuantizedValue` \
         when a weight would round to an infinity ({limit}), naming the layer, the tensor and \
         the value: nothing is rounded silently to a value the network cannot compute with.",
    );
    let ndarray = crate::io::ndarray(net, name);
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
            #counts

            #inference
        }

        #runtime::__with_alloc! {
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #name {
                #[doc = #from_network_doc]
                pub fn from_network(
                    net: &#source,
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    #runtime::check_half_range::<#format, #source>(net, &[#(#rounded_names),*])?;
                    let mut half = #runtime::zeroed_box::<Self>();
                    #(#assign)*
                    ::core::result::Result::Ok(half)
                }

                #[doc = #to_network_doc]
                #[must_use]
                pub fn to_network(&self) -> #runtime::Box<#source> {
                    let mut net = #runtime::zeroed_box::<#source>();
                    #(#widen)*
                    net
                }
            }
        }

        #runtime::__with_safetensors! {
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #name {
                #[doc = #load_doc]
                pub fn from_safetensors(
                    bytes: &[u8],
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    let net = #source::from_safetensors(bytes)?;
                    Self::from_network(&net)
                }

                #[doc = #save_doc]
                pub fn to_safetensors(&self) -> #runtime::Vec<u8> {
                    #runtime::io::safetensors::save_half::<#format, #source>(
                        &self.to_network(),
                        &[#(#rounded_names),*],
                    )
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
                        let net = #source::from_safetensors_file(path)?;
                        Self::from_network(&net)
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
                        #runtime::io::safetensors::save_half_file::<#format, #source>(
                            &self.to_network(),
                            &[#(#rounded_names),*],
                            path,
                        )
                    }
                }
            }
        }

        #runtime::__with_serde! {
            #[doc = #serialize_doc]
            impl #runtime::serde::Serialize for #name {
                fn serialize<S: #runtime::serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    #runtime::io::serde::serialize(&*self.to_network(), serializer)
                }
            }

            #[doc = #deserialize_doc]
            impl<'de> #runtime::serde::Deserialize<'de> for #runtime::Box<#name> {
                fn deserialize<D: #runtime::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    // The `f32` network's type, from `from_network`'s parameter: not named here,
                    // where `D` is the deserializer (a network may be called `D`).
                    let net = #runtime::io::serde::deserialize(deserializer)?;
                    #name::from_network(&*net).map_err(|error| {
                        #runtime::serde::de::Error::custom(
                            #runtime::io::serde::named_as_field(error),
                        )
                    })
                }
            }
        }

        #ndarray
    }
}

/// One sample through a dense layer of a twin (`None` for other kinds): `HalfDense`'s kernel,
/// or, where the `f32` network unrolls, its unrolled sums with each weight widened, so that
/// the bits are the `f32` network's on the rounded weights either way.
fn half_dense(net: &Network, layer: &Layer, input: &TokenStream) -> Option<TokenStream> {
    let LayerKind::Dense(dense) = &layer.kind else {
        return None;
    };
    let field = &layer.field;
    Some(match dense.forward {
        DenseForward::Kernel => quote_spanned!(layer.span=> self.#field.forward(#input)),
        DenseForward::Unrolled => dense.unrolled(layer, input, Some(&net.runtime)),
    })
}

/// `forward` and `forward_batch` of a feed-forward twin: the `f32` network's bodies, a dense
/// layer through [`half_dense`] in `forward` and its runtime kernel in `forward_batch` (as the
/// `f32` network's, which unrolls only `forward`).
fn feed_forward_methods(net: &Network) -> TokenStream {
    let runtime = &net.runtime;
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let (input_type, output_type) = (
        array_type(&net.scalar, &net.input),
        array_type(&net.scalar, &net.output),
    );
    let forward = forward_body(net, &|layer, input| {
        half_dense(net, layer, input).unwrap_or_else(|| kind(layer).forward(net, layer, input))
    });
    let chunks = forward_batch_body(net, &|layer, input, output| {
        if let LayerKind::Dense(_) = layer.kind {
            let field = &layer.field;
            quote_spanned!(layer.span=> self.#field.forward_batch(#input, #output);)
        } else {
            kind(layer).forward_batch(net, layer, input, output)
        }
    });
    let last_name = &net.last_layer().name;
    let forward_doc = format!(
        " Runs the network on one input of {} and returns its {}: each layer's weights widened \
         to `f32` as they load; the bits of the `f32` network holding the rounded weights.",
        count(inputs, "value"),
        count(outputs, "output")
    );
    let check_rows = check_rows(net, last_name, &quote!(inputs), &quote!(outputs));
    quote! {
        #[doc = #forward_doc]
        #[inline]
        #[must_use]
        #[allow(clippy::trivially_copy_pass_by_ref)]
        pub fn forward(&self, input: &#input_type) -> #output_type {
            #forward
        }

        /// Runs the network on every input, writing one output per input, in chunks of
        /// samples as the `f32` network's `forward_batch` (whose bits it gives on the
        /// rounded weights).
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

/// `step`, `forward_sequence` and `step_streams` of a sequence network's twin, on the `f32`
/// network's state type: `emit_sequence`'s, a dense layer through [`half_dense`] (one sample
/// at a time in a chunk of streams, as the `f32` network's `step_streams`).
fn sequence_methods(net: &Network) -> TokenStream {
    methods_with(
        net,
        &|layer, state, input| {
            half_dense(net, layer, input)
                .unwrap_or_else(|| kind(layer).step(net, layer, state, input))
        },
        &|layer, states, input, output| {
            if let LayerKind::Dense(_) = layer.kind {
                let (sample, row) = (local("sample"), local("row"));
                let forward = half_dense(net, layer, &quote!(#sample));
                quote_spanned! {layer.span=>
                    for (#sample, #row) in #input.iter().zip(#output.iter_mut()) {
                        *#row = #forward;
                    }
                }
            } else {
                kind(layer).step_streams(net, layer, states, input, output)
            }
        },
    )
}

/// `<Name>Bf16::BAKED` (or `F16`), when the network bakes a file of `f32` weights: each weight
/// rounded by the format's const `from_f32` while compiling, for each half twin. Nothing
/// otherwise.
pub(crate) fn baked(net: &Network, weights: Option<&BakedWeights>) -> TokenStream {
    let Some(weights) = weights else {
        return twins(net)
            .map(|(quantized, _)| crate::shared::zeroed_baked(net, &quantized.name))
            .collect();
    };
    if weights.quantized.is_some() {
        // An int8 file holds no `f32` weights to round.
        return TokenStream::new();
    }
    twins(net)
        .map(|(quantized, format)| baked_twin(net, quantized, &format, weights))
        .collect()
}

/// One twin's `BAKED`.
fn baked_twin(
    net: &Network,
    quantized: &Quantized,
    format: &TokenStream,
    weights: &BakedWeights,
) -> TokenStream {
    let runtime = &net.runtime;
    let name = &quantized.name;
    let fields = net.layers.iter().enumerate().filter_map(|(index, layer)| {
        field_type(net, layer, format)?;
        let field = &layer.field;
        let tensors = weights.layers.get(index).map(Vec::as_slice);
        let value = match (&layer.kind, tensors) {
            (LayerKind::Dense(dense), Some([weight, bias])) => {
                let (inputs, outputs) = (dense.inputs, dense.outputs);
                // The file's rows, `[OUT][IN]`, as the runtime's columns, `[IN][OUT]`.
                let columns: Vec<f64> = (0..inputs)
                    .flat_map(|i| (0..outputs).map(move |o| weight[o * inputs + i]))
                    .collect();
                let columns = half_literal(format, &columns, &[inputs, outputs]);
                let bias = literal(&net.scalar, bias, &[outputs]);
                quote!(#runtime::HalfDense::from_columns(#columns, #bias))
            }
            (LayerKind::Conv2d(conv), Some([weight, bias])) => {
                let [kh, kw] = conv.kernel;
                let dims = [conv.out_channels, conv.in_per_group, kh, kw];
                let weight = half_literal(format, weight, &dims);
                let bias = literal(&net.scalar, bias, &[conv.out_channels]);
                quote!(#runtime::HalfConv2d::from_parts(#weight, #bias))
            }
            (LayerKind::Conv1d(conv), Some([weight, bias])) => {
                let dims = [conv.out_channels, conv.in_per_group, conv.kernel];
                let weight = half_literal(format, weight, &dims);
                let bias = literal(&net.scalar, bias, &[conv.out_channels]);
                quote!(#runtime::HalfConv1d::from_parts(#weight, #bias))
            }
            (LayerKind::Recurrent(recurrent), tensors) => {
                let field_type = recurrent.layer_type(net, Some(format));
                recurrent.baked_with(net, tensors, &field_type, &|values, dims| {
                    half_literal(format, values, dims)
                })
            }
            // Kinds the twin keeps in `f32`; `io` has checked the file's shapes, so a rounded
            // kind always has its two tensors.
            _ => kind(layer).baked(net, tensors),
        };
        Some(quote_spanned! {layer.span=>
            #field: #value
        })
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

/// `values`, in PyTorch's row-major order, as a nested array literal of `dims` whose elements
/// are `format::from_f32(value)`: rounded by const evaluation.
fn half_literal(format: &TokenStream, values: &[f64], dims: &[usize]) -> TokenStream {
    if let [_, inner @ ..] = dims
        && !inner.is_empty()
    {
        let size = inner.iter().product::<usize>().max(1);
        let parts = values
            .chunks(size)
            .map(|part| half_literal(format, part, inner));
        quote!([#(#parts),*])
    } else {
        let values = values.iter().map(|v| {
            #[allow(clippy::cast_possible_truncation)] // the file's f32 values, exact
            let value = Literal::f32_suffixed(*v as f32);
            quote!(#format::from_f32(#value))
        });
        quote!([#(#values),*])
    }
}

#[cfg(test)]
mod tests {
    use crate::lower;
    use proc_macro2::{Span, TokenStream};

    /// The field types of `declaration`'s twin, as tokens.
    fn twin_fields(declaration: &str, twin: &str) -> Vec<String> {
        let net = nn_grammar::compile_item(declaration).unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let tokens = super::emit(&net).to_string();
        let fields = tokens
            .split(&format!("struct {twin} {{"))
            .nth(1)
            .and_then(|rest| rest.split("} ").next())
            .expect("the struct")
            .to_owned();
        fields
            .split("pub ")
            .skip(1)
            .map(|field| field.split(" #").next().unwrap_or(field).trim().to_owned())
            .collect()
    }

    /// Recurrent layers get their runtime type with the format as the matrices' storage;
    /// causal convolutions and `layernorm` keep the `f32` network's types; the sequence
    /// methods are there, on the `f32` network's state type, and `forward` is not.
    #[test]
    fn sequence_twins_store_recurrent_matrices_in_half() {
        let declaration = "struct Net = 2 -> conv1d(4, 2, causal) -> lstm(8, layers = 2) \
                           -> rnn(5, relu) -> layernorm -> 3 with quantize = f16;";
        assert_eq!(
            twin_fields(declaration, "NetF16"),
            [
                "layer0 : :: nn :: __private :: layers :: Conv1d < 4usize , 2usize , 2usize , f32 > ,",
                "layer1 : :: nn :: __private :: layers :: Lstm < 4usize , 8usize , f32 , 1usize , :: nn :: __private :: F16 > ,",
                "layer2 : :: nn :: __private :: layers :: Rnn < 8usize , 5usize , f32 , 0usize , true , :: nn :: __private :: F16 > ,",
                "layer3 : :: nn :: __private :: layers :: LayerNorm < [f32 ; 5usize] > ,",
                "layer4 : :: nn :: __private :: HalfDense < 5usize , 3usize , :: nn :: __private :: F16 > ,",
            ]
        );
        let net = nn_grammar::compile_item(declaration).unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let tokens = super::emit(&net).to_string();
        for method in ["fn step (", "fn forward_sequence (", "fn step_streams ("] {
            assert!(tokens.contains(method), "{method}");
        }
        assert!(tokens.contains("state : & mut NetState"));
        assert!(!tokens.contains("fn forward ("));
    }

    /// Convolutions get half layers, normalisation keeps the `f32` network's type, pools and
    /// `flatten` have no field.
    #[test]
    fn field_types_per_kind() {
        let net = nn_grammar::compile_item(
            "struct Net = [2, 8, 8] -> conv2d(4, 3, groups = 2) relu -> batchnorm -> maxpool2d(2) \
             -> flatten -> 5 with quantize = bf16;",
        )
        .unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let tokens = super::emit(&net).to_string();
        let fields = tokens
            .split("struct NetBf16 {")
            .nth(1)
            .and_then(|rest| rest.split("} ").next())
            .expect("the struct");
        let types: Vec<&str> = fields
            .split("pub ")
            .skip(1)
            .map(|field| field.split(" #").next().unwrap_or(field).trim())
            .collect();
        assert_eq!(
            types,
            [
                "layer0 : :: nn :: __private :: HalfConv2d < 4usize , 1usize , 3usize , 3usize , :: nn :: __private :: Bf16 > ,",
                "layer1 : :: nn :: __private :: layers :: BatchNorm < 4usize , f32 > ,",
                "layer4 : :: nn :: __private :: HalfDense < 36usize , 5usize , :: nn :: __private :: Bf16 > ,",
            ]
        );
    }
}
