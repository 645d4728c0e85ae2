//! The int8 twin of a network (`with quantize = int8`): `<Name>Int8`, one runtime
//! `quant::QuantizedDense` per dense layer (`QuantizedConv2d`, `QuantizedConv1d` per
//! convolution), made from a trained `<Name>` by `calibrate`, with
//! `forward` (`f32` in and out), `forward_quantized` (`u8` in and out), `forward_batch` and
//! quantised weight files. The scheme (and so every decision about activations) is the
//! runtime's `quant` module's; this module only writes the calls.

use crate::io::BakedWeights;
use crate::ir::{Conv1d, Conv2d, GlobalPool, Layer, LayerKind, Network, Pool, Quantized, Shape};
use crate::layer::kind;
use crate::shared::{array_type, check_rows, count, flat, local, twin_counts};
use nn_grammar::{Activation, Quantize};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};

/// One layer of the twin: what it computes in integers.
#[derive(Clone, Copy)]
enum Part<'a> {
    /// A `QuantizedDense` field.
    Dense(&'a Layer, usize, usize),
    /// A `QuantizedConv2d` field.
    Conv(&'a Layer, &'a Conv2d),
    /// A `QuantizedConv1d` field.
    Conv1d(&'a Layer, &'a Conv1d),
    /// A windowed pool on `u8` steps.
    Pool(&'a Layer, &'a Pool),
    /// A global pool on `u8` steps.
    Global(&'a Layer, &'a GlobalPool),
    /// `flatten` of `u8` steps.
    Flatten(&'a Layer),
    /// `dropout`: the identity.
    Dropout(&'a Layer),
}

impl<'a> Part<'a> {
    fn layer(self) -> &'a Layer {
        match self {
            Self::Dense(layer, ..)
            | Self::Conv(layer, _)
            | Self::Conv1d(layer, _)
            | Self::Pool(layer, _)
            | Self::Global(layer, _)
            | Self::Flatten(layer)
            | Self::Dropout(layer) => layer,
        }
    }

    /// Whether the layer has weights (a field of the twin).
    fn weighted(self) -> bool {
        matches!(self, Self::Dense(..) | Self::Conv(..) | Self::Conv1d(..))
    }

    /// The twin's field type, for the layers with weights.
    fn field_type(self, runtime: &TokenStream) -> Option<TokenStream> {
        match self {
            Self::Dense(_, inputs, outputs) => {
                let groups = inputs.div_ceil(4);
                Some(quote!(#runtime::quant::QuantizedDense<#inputs, #outputs, #groups>))
            }
            Self::Conv(_, conv) => {
                let (out, in_per_group) = (conv.out_channels, conv.in_per_group);
                let [kh, kw] = conv.kernel;
                let patch = in_per_group * kh * kw;
                let groups = patch.div_ceil(4);
                Some(quote!(
                    #runtime::quant::QuantizedConv2d<#out, #in_per_group, #kh, #kw, #patch, #groups>
                ))
            }
            Self::Conv1d(_, conv) => {
                let (out, in_per_group, k) = (conv.out_channels, conv.in_per_group, conv.kernel);
                let patch = in_per_group * k;
                let groups = patch.div_ceil(4);
                Some(quote!(
                    #runtime::quant::QuantizedConv1d<#out, #in_per_group, #k, #patch, #groups>
                ))
            }
            _ => None,
        }
    }
}

/// The twin's layers (`check` lets only these kinds into a quantised network).
fn parts(layers: &[Layer]) -> Vec<Part<'_>> {
    layers
        .iter()
        .filter_map(|layer| match &layer.kind {
            LayerKind::Dense(dense) => Some(Part::Dense(layer, dense.inputs, dense.outputs)),
            LayerKind::Conv2d(conv) => Some(Part::Conv(layer, conv)),
            LayerKind::Conv1d(conv) => Some(Part::Conv1d(layer, conv)),
            LayerKind::Pool(pool) => Some(Part::Pool(layer, pool)),
            LayerKind::GlobalPool(global) => Some(Part::Global(layer, global)),
            LayerKind::Flatten(_) => Some(Part::Flatten(layer)),
            LayerKind::Dropout(_) => Some(Part::Dropout(layer)),
            _ => None,
        })
        .collect()
}

/// The layers with weights, in order: the twin's fields.
fn weighted<'a>(parts: &[Part<'a>]) -> Vec<Part<'a>> {
    parts
        .iter()
        .copied()
        .filter(|part| part.weighted())
        .collect()
}

/// The twin's struct and impls; nothing without `quantize`.
#[allow(clippy::too_many_lines)] // one `quote!` of the items, in the order a reader meets them
pub(crate) fn emit(net: &Network) -> TokenStream {
    let Some(quantized) = net.twin(Quantize::Int8) else {
        return TokenStream::new();
    };
    let Network {
        name: source,
        visibility,
        runtime,
        ..
    } = net;
    let name = &quantized.name;
    let parts = parts(&net.layers);
    let weighted = weighted(&parts);
    let fields = weighted.iter().map(|part| {
        let layer = part.layer();
        let field = &layer.field;
        let field_type = part.field_type(runtime);
        let doc = format!(
            " `{}`: {} -> {}{}, int8.",
            layer.name,
            layer.input,
            layer.output,
            activation_text(layer.activation)
        );
        quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #field_type
        }
    });
    let field_list = weighted.iter().map(|part| {
        let field = &part.layer().field;
        let field_type = part.field_type(runtime);
        quote!(#field: #field_type)
    });
    let name_text = name.to_string();
    let field_texts: Vec<String> = weighted
        .iter()
        .map(|p| p.layer().field.to_string())
        .collect();
    let field_idents: Vec<&Ident> = weighted.iter().map(|p| &p.layer().field).collect();
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let first = &weighted[0].layer().field;
    let last = &weighted[weighted.len() - 1].layer().field;
    let doc = format!(
        " `{source}` in int8: `i8` weights with one scale per output channel, `u8` activations \
         with a scale and zero point per layer, `i32` sums (the scheme of `nn::quant`). Made \
         from a trained `{source}` by `{name}::calibrate`."
    );
    let steps = steps(net, &parts);
    let forward_batch = forward_batch(net, quantized);
    let calibrate = calibrate(net, &weighted);
    let observe = observe(net, &parts);
    let files = files(net, &weighted);
    let (input_type, steps_type) = (
        array_type(&net.scalar, &net.input),
        nested_type(&quote!(u8), &net.input),
    );
    let forward_doc = format!(
        " Runs the network on one input of {} and returns its {}: the input quantised with \
         `input_quantization`, the layers in integers, the last one's sums dequantised and its \
         activation applied in `f32`. An input holding NaN anywhere gives NaN outputs, as the \
         `f32` network's wherever a layer reads it (quantised, NaN would be the zero point).",
        count(inputs, "value"),
        count(outputs, "output")
    );
    let input_flat = flat(&net.input, &quote!((*input)), false);
    let steps_flat = flat(&net.input, &quote!(steps), true);
    let steps_zeros = nested_zeros(&quote!(0u8), &net.input);
    // The layers whose weights are `i8`, by their names in `LAYERS`.
    let quantized_names: Vec<String> = weighted.iter().map(|p| p.layer().name.clone()).collect();
    let counts = twin_counts(net, name, ("int8", "int8"), &quantized_names, 1);
    let ndarray = crate::io::ndarray(net, name);
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
            /// Values of the input.
            pub const INPUTS: usize = #inputs;
            /// Width of the output.
            pub const OUTPUTS: usize = #outputs;
            #counts

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
            pub fn forward(&self, input: &#input_type) -> [f32; #outputs] {
                let mut steps = #steps_zeros;
                if self.#first.input().quantize_slice_any_nan(#input_flat, #steps_flat) {
                    return [f32::NAN; #outputs];
                }
                self.dequantized_output(&steps)
            }

            /// Runs the network on quantised input steps (of `input_quantization`) and returns
            /// the output's steps (of `output_quantization`), for pipelines that stay in
            /// integers.
            #[inline]
            #[must_use]
            pub fn forward_quantized(&self, input: &#steps_type) -> [u8; #outputs] {
                self.#last.output().quantize_all(&self.dequantized_output(input))
            }

            #steps

            #forward_batch
        }

        #observe

        #calibrate

        #files

        #ndarray
    }
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

/// The clamp of a fused activation: ReLU's at the output's zero point, or none (`check` lets
/// only `relu` and `linear` onto the layers other than dense ones).
fn clamp(net: &Network, layer: &Layer) -> TokenStream {
    let runtime = &net.runtime;
    let field = &layer.field;
    if layer.activation == Activation::Relu {
        quote!(#runtime::quant::Clamp::relu(self.#field.output()))
    } else {
        quote!(#runtime::quant::Clamp::NONE)
    }
}

/// Statements computing hidden layer `part` from `input` (a reference to its input's steps)
/// into the `u8` local of the layer's name; `current` is the quantisation of those steps.
fn hidden_step(
    net: &Network,
    part: Part<'_>,
    input: &TokenStream,
    current: &TokenStream,
    prepared: bool,
) -> TokenStream {
    let runtime = &net.runtime;
    let layer = part.layer();
    let field = &layer.field;
    // ReLU on a kind without weights: the steps below the zero point raised to it.
    let relu = (layer.activation == Activation::Relu).then(|| {
        let target = flat(&layer.output, &quote!(#field), true);
        quote!(#runtime::quant::relu_steps(#target, #current.zero_point);)
    });
    let ty = nested_type(&quote!(u8), &layer.output);
    let binding = if relu.is_some() {
        quote!(mut #field)
    } else {
        quote!(#field)
    };
    match part {
        Part::Dense(..) => match layer.activation {
            Activation::Linear | Activation::Relu => {
                let clamp = clamp(net, layer);
                quote_spanned! {layer.span=>
                    let #field: #ty = self.#field.forward(#input, #clamp);
                }
            }
            _ => {
                let apply = apply(net, layer, &quote!(&mut #field));
                quote_spanned! {layer.span=>
                    let mut #field = self.#field.dequantize(&self.#field.accumulate(#input));
                    #apply
                    let #field: #ty = self.#field.output().quantize_all(&#field);
                }
            }
        },
        Part::Conv(_, conv) => {
            let geometry = conv.geometry(net);
            let clamp = clamp(net, layer);
            let conv = conv_receiver(layer, prepared);
            quote_spanned! {layer.span=>
                let #field: #ty = #conv.forward(#input, #geometry, #clamp);
            }
        }
        Part::Conv1d(_, conv) => {
            let Conv1d {
                stride,
                padding,
                dilation,
                ..
            } = conv;
            let clamp = clamp(net, layer);
            let conv = conv_receiver(layer, prepared);
            quote_spanned! {layer.span=>
                let #field: #ty = #conv.forward(
                    #input,
                    #runtime::layers::Conv1dGeometry {
                        stride: #stride,
                        padding: #padding,
                        dilation: #dilation,
                    },
                    #clamp,
                );
            }
        }
        Part::Pool(_, pool) => {
            let geometry = pool.geometry(net);
            // `maxpool2d_u8`, `avgpool1d_u8`, ...: an average also takes the zero point.
            let function = format_ident!("{}_u8", pool.function);
            let call = if pool.function.starts_with("max") {
                quote!(#runtime::quant::#function(#input, #geometry))
            } else {
                quote!(#runtime::quant::#function(#input, #geometry, #current.zero_point))
            };
            quote_spanned! {layer.span=>
                let #binding: #ty = #call;
                #relu
            }
        }
        Part::Global(_, global) => {
            let call = if global.function == "global_maxpool" {
                quote!(#runtime::quant::global_maxpool_u8(#input))
            } else {
                quote!(#runtime::quant::global_avgpool_u8(#input, #current.zero_point))
            };
            quote_spanned! {layer.span=>
                let #binding: #ty = #call;
                #relu
            }
        }
        Part::Flatten(_) => quote_spanned! {layer.span=>
            let #binding: #ty = #runtime::quant::flatten_u8(#input);
            #relu
        },
        Part::Dropout(_) => quote_spanned! {layer.span=>
            let #binding: #ty = *#input;
            #relu
        },
    }
}

/// The convolution `layer` to call: the field, or, where `prepared` (in `forward_batch`), the
/// local holding it prepared once for the batch (`prepared_layers`).
fn conv_receiver(layer: &Layer, prepared: bool) -> TokenStream {
    let field = &layer.field;
    if prepared {
        let prepared = local(&format!("prepared_{field}"));
        quote!(#prepared)
    } else {
        quote!(self.#field)
    }
}

/// Statements binding the locals of `conv_receiver`: each convolution of `parts` prepared
/// (`QuantizedConv2d::prepare`, `QuantizedConv1d::prepare`), its weights' tables built once
/// for a batch.
fn prepared_layers(parts: &[Part<'_>]) -> TokenStream {
    parts
        .iter()
        .filter_map(|part| match part {
            Part::Conv(layer, _) | Part::Conv1d(layer, _) => {
                let (field, local) = (&layer.field, conv_receiver(layer, true));
                Some(quote_spanned! {layer.span=> let #local = self.#field.prepare(); })
            }
            _ => None,
        })
        .collect()
}

/// Statements computing a 2-D convolution (`layers[0]`) and the max pool after it
/// (`layers[1]`) in one call, into the pool's local; `None` for shapes that `check` refuses.
fn conv_max_pooled(
    net: &Network,
    [conv_layer, pool_layer]: [&Layer; 2],
    conv: &Conv2d,
    pool: &Pool,
    input: &TokenStream,
    prepared: bool,
) -> Option<TokenStream> {
    let runtime = &net.runtime;
    let (conv_field, field) = (&conv_layer.field, &pool_layer.field);
    let conv_geometry = conv.geometry(net);
    let pool_geometry = pool.geometry(net);
    let clamp = clamp(net, conv_layer);
    let ty = nested_type(&quote!(u8), &pool_layer.output);
    // The convolution's output size, which the call cannot infer (`[C, H, W]`, by `check`).
    let &[_, height, width] = conv_layer.output.dims() else {
        return None;
    };
    // ReLU on the pool: its steps below the zero point raised to it.
    let relu = (pool_layer.activation == Activation::Relu).then(|| {
        let target = flat(&pool_layer.output, &quote!(#field), true);
        quote!(#runtime::quant::relu_steps(#target, self.#conv_field.output().zero_point);)
    });
    let binding = if relu.is_some() {
        quote!(mut #field)
    } else {
        quote!(#field)
    };
    let receiver = conv_receiver(conv_layer, prepared);
    Some(quote_spanned! {pool_layer.span=>
        let #binding: #ty = #receiver.forward_max_pooled::<_, _, _, #height, #width, _, _>(
            #input,
            #conv_geometry,
            #clamp,
            #pool_geometry,
        );
        #relu
    })
}

/// Statements computing the layers `parts` (none the last) from `input`, a reference to
/// steps of the quantisation `current`, each into the local of its name; and a reference to
/// the last one's steps. Where `prepared`, the convolutions are `prepared_layers`' locals.
fn hidden_steps(
    net: &Network,
    parts: &[Part<'_>],
    input: &TokenStream,
    mut current: TokenStream,
    prepared: bool,
) -> (TokenStream, TokenStream) {
    let mut previous = input.clone();
    let mut body = TokenStream::new();
    let mut parts = parts.iter().peekable();
    while let Some(part) = parts.next() {
        // A convolution followed by a 2-D max pool is one call (`forward_max_pooled`): the same
        // steps, without returning the convolution's.
        if let (Part::Conv(conv_layer, conv), Some(Part::Pool(pool_layer, pool))) =
            (part, parts.peek())
            && pool.function == "maxpool2d"
            && let Some(fused) = conv_max_pooled(
                net,
                [conv_layer, pool_layer],
                conv,
                pool,
                &previous,
                prepared,
            )
        {
            body.extend(fused);
            let (conv_field, field) = (&conv_layer.field, &pool_layer.field);
            previous = quote!(&#field);
            current = quote!(self.#conv_field.output());
            parts.next();
            continue;
        }
        body.extend(hidden_step(net, *part, &previous, &current, prepared));
        let field = &part.layer().field;
        previous = quote!(&#field);
        if part.weighted() {
            current = quote!(self.#field.output());
        }
    }
    (body, previous)
}

/// `dequantized_output`: the layers from quantised input steps to the last layer's `f32`
/// output (its activation applied), which `forward` and `forward_quantized` share. The last
/// layer is a dense one (`check`).
fn steps(net: &Network, parts: &[Part<'_>]) -> TokenStream {
    let outputs = net.output.elements();
    let steps_type = nested_type(&quote!(u8), &net.input);
    let input = format_ident!("input");
    let (last, hidden) = parts.split_last().expect("a network has a layer");
    let first = &weighted(parts)[0].layer().field;
    let (mut body, previous) = hidden_steps(
        net,
        hidden,
        &quote!(#input),
        quote!(self.#first.input()),
        false,
    );
    let layer = last.layer();
    let field = &layer.field;
    let apply = apply(net, layer, &quote!(&mut #field));
    let mutable = apply.is_some().then(|| quote!(mut));
    body.extend(quote_spanned! {layer.span=>
        let #mutable #field = self.#field.dequantize(&self.#field.accumulate(#previous));
        #apply
    });
    quote! {
        /// The layers from quantised input steps to the last layer's `f32` output.
        #[inline]
        fn dequantized_output(&self, #input: &#steps_type) -> [f32; #outputs] {
            #body
            #field
        }
    }
}

/// `forward_batch`: chunks of samples, each dense layer's sums for the whole chunk at once
/// (every weight loaded serves the chunk), then each row requantised as `forward` does it, so
/// that a sample gets the same output alone or in a batch. The layers before the dense ones
/// (convolutions, which already run their kernels over many positions at once, pools,
/// `flatten`) run sample by sample into the chunk's rows.
fn forward_batch(net: &Network, quantized: &Quantized) -> TokenStream {
    let runtime = &net.runtime;
    let outputs = net.output.elements();
    let input_type = array_type(&net.scalar, &net.input);
    let last_name = &net.last_layer().name;
    // `lower` decides which layers run on chunks (`Quantized::batched`).
    let (prefix, tail) = net.layers.split_at(quantized.batched);
    let (prefix, tail) = (parts(prefix), parts(tail));
    let dense: Vec<(&Layer, usize, usize)> = tail
        .iter()
        .filter_map(|part| match part {
            Part::Dense(layer, inputs, outputs) => Some((*layer, *inputs, *outputs)),
            _ => None,
        })
        .collect();
    let body = dense_chunks(net, quantized, &dense, &prefix);
    let check_rows = check_rows(net, last_name, &quote!(inputs), &quote!(outputs));
    quote! {
        /// Runs the network on every input, writing one output per input: the same outputs
        /// as `forward` (NaN for an input holding NaN).
        ///
        /// # Errors
        ///
        /// `Error::Batch` when `outputs` does not have one row per input.
        pub fn forward_batch(
            &self,
            inputs: &[#input_type],
            outputs: &mut [[f32; #outputs]],
        ) -> ::core::result::Result<(), #runtime::Error> {
            #check_rows
            #body
            ::core::result::Result::Ok(())
        }
    }
}

/// Statements binding `steps` to the chunk's rows of the first dense layer's input steps
/// (in `buffer`): the chunk's inputs quantised, or, after `prefix` (the layers before the
/// dense ones), each sample's steps as `forward` computes them, its convolutions those that
/// `prepared_layers` binds; and `nan` to whether any of the chunk's inputs is NaN.
fn chunk_steps(
    net: &Network,
    prefix: &[Part<'_>],
    buffer: &Ident,
    chunk_inputs: &Ident,
    steps: &Ident,
    first: &Ident,
) -> TokenStream {
    let nan = local("nan");
    if prefix.is_empty() {
        return quote! {
            let #steps = &mut #buffer[..#chunk_inputs.len()];
            let #nan = self.#first
                .input()
                .quantize_slice_any_nan(#chunk_inputs.as_flattened(), #steps.as_flattened_mut());
        };
    }
    let input = local("input");
    let quantized_input = local("quantized_input");
    let input_flat = flat(&net.input, &quote!((*#input)), false);
    let steps_flat = flat(&net.input, &quote!(#quantized_input), true);
    let steps_zeros = nested_zeros(&quote!(0u8), &net.input);
    // The network's input quantisation: its first layer with weights' (the first dense layer's
    // when the layers before it have none, as `flatten` or a pool).
    let first_weighted = weighted(prefix)
        .first()
        .map_or(first, |part| &part.layer().field);
    let (layers, last) = hidden_steps(
        net,
        prefix,
        &quote!(&#quantized_input),
        quote!(self.#first_weighted.input()),
        true,
    );
    let row = local("row");
    quote! {
        let #steps = &mut #buffer[..#chunk_inputs.len()];
        let mut #nan = false;
        for (#row, #input) in #steps.iter_mut().zip(#chunk_inputs) {
            let mut #quantized_input = #steps_zeros;
            #nan |= self.#first_weighted.input().quantize_slice_any_nan(#input_flat, #steps_flat);
            #layers
            *#row = *#last;
        }
    }
}

/// `forward_batch`'s body: the chunks, through `chunk_steps` and then the dense layers.
fn dense_chunks(
    net: &Network,
    quantized: &Quantized,
    dense: &[(&Layer, usize, usize)],
    prefix: &[Part<'_>],
) -> TokenStream {
    let chunk = quantized.chunk;
    let (inputs, outputs) = (dense[0].1, net.output.elements());
    let chunk_inputs = local("inputs");
    let chunk_outputs = local("outputs");
    // An input holding NaN gets NaN outputs, as from `forward`: the quantisation of a chunk's
    // inputs says whether it met any (`chunk_steps`), and only then are its rows looked at.
    let runtime = &net.runtime;
    let nan = local("nan");
    let (input, output) = (local("input"), local("output"));
    let input_flat = flat(&net.input, &quote!((*#input)), false);
    let nan_rows = quote! {
        if #nan {
            for (#input, #output) in #chunk_inputs.iter().zip(#chunk_outputs.iter_mut()) {
                if #runtime::quant::any_nan(#input_flat) {
                    *#output = [f32::NAN; #outputs];
                }
            }
        }
    };
    let steps = local("steps");
    let sums = local("sums");
    let first = &dense[0].0.field;
    // The buffers are declared (zeroed) once for the whole batch, not once per chunk: every
    // chunk overwrites the rows it uses.
    let steps_buffer = local(&format!("{steps}_buffer"));
    // So are the convolutions' weights' tables (`QuantizedConv2d::prepare`, and 1-D).
    let prepared = prepared_layers(prefix);
    let mut buffers = quote! {
        #[allow(clippy::large_stack_arrays)]
        let mut #steps_buffer = [[0u8; #inputs]; #chunk];
        #prepared
    };
    let mut body = chunk_steps(net, prefix, &steps_buffer, &chunk_inputs, &steps, first);
    let mut previous = quote!(#steps);
    let (last, hidden) = dense.split_last().expect("a network has a layer");
    for (layer, _, width) in hidden {
        let field = &layer.field;
        let requantize = match layer.activation {
            Activation::Linear | Activation::Relu => {
                let clamp = clamp(net, layer);
                quote_spanned! {layer.span=>
                    self.#field.requantize_batch(#sums, #field, #clamp);
                }
            }
            _ => {
                let apply = apply(net, layer, &quote!(&mut real));
                quote_spanned! {layer.span=>
                    for (out, sum) in #field.iter_mut().zip(#sums.iter()) {
                        let mut real = self.#field.dequantize(sum);
                        #apply
                        *out = self.#field.output().quantize_all(&real);
                    }
                }
            }
        };
        let sums_buffer = local(&format!("{field}_sums_buffer"));
        let steps_buffer = local(&format!("{field}_steps_buffer"));
        buffers.extend(quote_spanned! {layer.span=>
            #[allow(clippy::large_stack_arrays)]
            let mut #sums_buffer = [[0i32; #width]; #chunk];
            #[allow(clippy::large_stack_arrays)]
            let mut #steps_buffer = [[0u8; #width]; #chunk];
        });
        body.extend(quote_spanned! {layer.span=>
            let #sums = &mut #sums_buffer[..#chunk_inputs.len()];
            self.#field.accumulate_batch(#previous, #sums);
            let #field = &mut #steps_buffer[..#chunk_inputs.len()];
            #requantize
        });
        previous = quote!(#field);
    }
    let layer = last.0;
    let field = &layer.field;
    let out = local("out");
    let activation =
        crate::shared::activation_on_rows(net, layer, &quote!(#chunk_outputs), &out, &quote!(#out));
    let sums_buffer = local(&format!("{field}_sums_buffer"));
    buffers.extend(quote_spanned! {layer.span=>
        #[allow(clippy::large_stack_arrays)]
        let mut #sums_buffer = [[0i32; #outputs]; #chunk];
    });
    // Every row dequantised before the activation reads any: a row's vector loads right after
    // its stores would wait for them to reach the cache, which slowed the softmax of 10
    // outputs (`mnist_b256` in bench/benches/quantized.rs).
    body.extend(quote_spanned! {layer.span=>
        let #sums = &mut #sums_buffer[..#chunk_inputs.len()];
        self.#field.accumulate_batch(#previous, #sums);
        for (out, sum) in #chunk_outputs.iter_mut().zip(#sums.iter()) {
            *out = self.#field.dequantize(sum);
        }
        #activation
    });
    quote! {
        #buffers
        for (#chunk_inputs, #chunk_outputs) in inputs.chunks(#chunk).zip(outputs.chunks_mut(#chunk)) {
            #body
            #nan_rows
        }
    }
}

/// A private method of the `f32` network, `__nn_observe_int8`: its forward pass, through the
/// same tokens as its `forward` (each kind's), recording each layer with weights' output (after
/// its activation) in a calibration `Observer`, tensor 0 being the input.
fn observe(net: &Network, parts: &[Part<'_>]) -> TokenStream {
    let Network {
        name: source,
        runtime,
        scalar,
        ..
    } = net;
    let input_type = array_type(scalar, &net.input);
    // Hygienic locals, apart from the layers' outputs (a layer may be named `observer`).
    let (input, observer_local) = (local("input"), local("observer"));
    let input_flat = flat(&net.input, &quote!((*#input)), false);
    let mut previous = quote!(#input);
    let mut body = quote!(#observer_local.observe(0, #input_flat)?;);
    let mut tensor = 0_usize;
    for (index, part) in parts.iter().enumerate() {
        let layer = part.layer();
        let out = &layer.field;
        let argument = if index == 0 {
            quote!(#previous)
        } else {
            quote!(&#previous)
        };
        let value = kind(layer).forward(net, layer, &argument);
        let activation = apply(net, layer, &flat(&layer.output, &quote!(#out), true));
        let observed = part.weighted().then(|| {
            tensor += 1;
            let values = flat(&layer.output, &quote!(#out), false);
            quote!(#observer_local.observe(#tensor, #values)?;)
        });
        let out_type = array_type(scalar, &layer.output);
        body.extend(quote_spanned! {layer.span=>
            #[allow(unused_mut)]
            let mut #out: #out_type = #value;
            #activation
            #observed
        });
        previous = quote!(#out);
    }
    quote! {
        #runtime::__with_alloc! {
            #[allow(dead_code)]
            impl #source {
                /// The forward pass, observing what calibrating an int8 twin needs.
                fn __nn_observe_int8(
                    &self,
                    #input: &#input_type,
                    #observer_local: &mut #runtime::quant::Observer,
                ) -> ::core::result::Result<(), #runtime::Error> {
                    #body
                    let _ = #previous;
                    ::core::result::Result::Ok(())
                }
            }
        }
    }
}

/// `calibrate`: the `f32` network run on the samples (`__nn_observe_int8`), then each layer
/// with weights quantised with the ranges chosen.
fn calibrate(net: &Network, weighted: &[Part<'_>]) -> TokenStream {
    let Network {
        name: source,
        runtime,
        ..
    } = net;
    let name = &net.twin(Quantize::Int8).expect("called with a twin").name;
    let input_type = array_type(&net.scalar, &net.input);
    let mut names = vec![String::from("the input")];
    names.extend(
        weighted
            .iter()
            .map(|part| format!("the output of layer `{}`", part.layer().name)),
    );
    let mut quantize = quote! {
        let mut input = observer.quantization(0)?;
    };
    for (index, part) in weighted.iter().enumerate() {
        let layer = part.layer();
        let field = &layer.field;
        let tensor = index + 1;
        let output = fixed_output(runtime, layer.activation)
            .unwrap_or_else(|| quote!(observer.quantization(#tensor)?));
        quantize.extend(quote_spanned! {layer.span=>
            let output = #output;
            quantized.#field.quantize_from_with(&net.#field, input, output, weights);
            input = output;
        });
    }
    let names = names.iter().map(|n| Literal::string(n));
    let doc = format!(
        " An int8 `{name}` from a trained `{source}`: runs it on `samples` (inputs like the ones \
         it will see: a few hundred suffice), chooses each activation's range by `method`, and \
         quantises each layer's weights (symmetric, one scale per output channel, \
         `-127..=127`) and biases."
    );
    let doc_with = format!(
        " [`{name}::calibrate`] with each layer's weights quantised to `weights`: \
         `WeightRange::Int7` (`-64..=64`) for CPUs with AVX2 and no VNNI, which multiply \
         those twice as fast."
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
                    samples: &[#input_type],
                    method: #runtime::quant::Calibration,
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    Self::calibrate_with(net, samples, method, #runtime::quant::WeightRange::Int8)
                }

                #[doc = #doc_with]
                ///
                /// # Errors
                ///
                /// As `calibrate`.
                pub fn calibrate_with(
                    net: &#source,
                    samples: &[#input_type],
                    method: #runtime::quant::Calibration,
                    weights: #runtime::quant::WeightRange,
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    let mut observer = #runtime::quant::Observer::for_samples(
                        method,
                        &[#(#names),*],
                        samples.len(),
                    )?;
                    for sample in samples {
                        net.__nn_observe_int8(sample, &mut observer)?;
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

/// `[[[T; W]; H]; C]` of `element` for `shape`.
fn nested_type(element: &TokenStream, shape: &Shape) -> TokenStream {
    shape
        .dims()
        .iter()
        .rev()
        .fold(element.clone(), |inner, size| quote!([#inner; #size]))
}

/// The array of `shape` filled with `zero`.
fn nested_zeros(zero: &TokenStream, shape: &Shape) -> TokenStream {
    shape
        .dims()
        .iter()
        .rev()
        .fold(zero.clone(), |inner, size| quote!([#inner; #size]))
}

/// `from_safetensors`, `to_safetensors` and the file variants, in the runtime's
/// `quant::file` layout, each layer under its `f32` network's prefix.
fn files(net: &Network, weighted: &[Part<'_>]) -> TokenStream {
    let Network {
        name: source,
        runtime,
        ..
    } = net;
    let name = &net.twin(Quantize::Int8).expect("called with a twin").name;
    let index_of = |layer: &Layer| {
        net.layers
            .iter()
            .position(|l| std::ptr::eq(l, layer))
            .expect("a layer of the network")
    };
    // `Reader::layer`/`Writer::layer` for a dense layer, `conv2d`/`conv1d` for a convolution
    // (its weight has PyTorch's 4-D or 3-D shape).
    let method = |part: &Part<'_>| match part {
        Part::Conv(..) => quote!(conv2d),
        Part::Conv1d(..) => quote!(conv1d),
        _ => quote!(layer),
    };
    let read = weighted.iter().map(|part| {
        let layer = part.layer();
        let (field, layer_name, index) = (&layer.field, &layer.name, index_of(layer));
        let method = method(part);
        let fixed = fixed_output(runtime, layer.activation).map(|fixed| {
            let activation = crate::shared::describe(layer.activation);
            quote!(reader.expect_output(#layer_name, &prefixes[#index], #activation, #fixed)?;)
        });
        let no_bias = (!layer.bias).then(|| {
            quote!(reader.expect_no_bias(#layer_name, &prefixes[#index], quantized.#field.bias())?;)
        });
        quote! {
            reader.#method(#layer_name, &prefixes[#index], &mut quantized.#field)?;
            #fixed
            #no_bias
        }
    });
    let write = weighted.iter().map(|part| {
        let layer = part.layer();
        let (field, index) = (&layer.field, index_of(layer));
        let method = method(part);
        quote!(writer.#method(&prefixes[#index], &self.#field);)
    });
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
                    #(#read)*
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
                    #(#write)*
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
    let Some(quantized) = net.twin(Quantize::Int8) else {
        return TokenStream::new();
    };
    let Some(weights) = weights else {
        return crate::shared::zeroed_baked(net, &quantized.name);
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
    let parts = parts(&net.layers);
    let fields = weighted(&parts)
        .into_iter()
        .zip(layers)
        .map(|(part, file)| {
            let layer = part.layer();
            let field = &layer.field;
            let field_type = part.field_type(runtime);
            let row_length = match part {
                Part::Dense(_, inputs, _) => inputs,
                Part::Conv(_, conv) => conv.in_per_group * conv.kernel[0] * conv.kernel[1],
                Part::Conv1d(_, conv) => conv.in_per_group * conv.kernel,
                _ => 1,
            };
            let rows = file.weights.chunks(row_length.max(1)).map(|row| {
                let row = row.iter().map(|w| Literal::i8_unsuffixed(*w));
                quote!([#(#row),*])
            });
            let scales = file
                .weight_scales
                .iter()
                .map(|s| Literal::f32_unsuffixed(*s));
            let bias = file.bias.iter().map(|b| Literal::i32_unsuffixed(*b));
            let (input, output) = (quantization(file.input), quantization(file.output));
            quote_spanned! {layer.span=>
                #field: <#field_type>::from_parts(
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
