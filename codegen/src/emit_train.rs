//! The training half of the generated code: the gradients struct, the backward pass and the
//! `Trainable` impl.
//!
//! Locals that the macro invents (pre-activations, gradients, the method's parameters) get
//! `Span::mixed_site()`, so they can never capture or shadow a layer's output local, which
//! carries the layer's own span and name.
//!
//! It all sits in the runtime's `__with_train!`, so that the runtime's `train` feature decides
//! whether it exists. Each layer's own tokens come from its kind (`layer::kind`); this module
//! depends on `shared` and `layer`, not on `emit`.

use crate::ir::{Layer, Network};
use crate::layer::kind;
use crate::shared::{alpha, array_type, check_targets, dropout_key, flat, local, respan, zeros};
use nn_grammar::Activation;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

mod sequence;

/// The gradients struct, its impls, `accumulate_gradients`, `evaluate` and `Trainable`, in
/// `__with_train!`.
/// Nothing for a network with a layer whose kind has no backward pass yet (`Network::trains`).
pub(crate) fn emit(net: &Network) -> TokenStream {
    if !net.trains {
        return TokenStream::new();
    }
    if net.sequence.is_some() {
        return sequence::emit(net);
    }
    let runtime = &net.runtime;
    let gradients = gradients_struct(net, "accumulate_gradients");
    let methods = methods(net);
    let trainable = trainable_impl(net);
    quote! {
        #runtime::__with_train! {
            #gradients
            #methods
            #trainable
        }
    }
}

/// `MnistGradients`, for a network `Mnist`.
fn gradients_name(net: &Network) -> Ident {
    format_ident!("{}Gradients", net.name)
}

/// The marker type of `activation` in `train::output`.
fn marker(net: &Network, activation: Activation) -> TokenStream {
    let runtime = &net.runtime;
    let name = Ident::new(activation.type_name(), Span::call_site());
    quote!(#runtime::train::output::#name)
}

/// The output activation's marker type.
fn output_marker(net: &Network) -> TokenStream {
    marker(net, net.last_layer().activation)
}

/// The types a training method's signature names: one input's and one output's array types,
/// `<Name>Gradients`, and the bound `L: Loss<marker>` on the loss, with the output layer's span
/// (a loss that does not fit points there).
fn signature_types(net: &Network) -> (TokenStream, TokenStream, Ident, TokenStream) {
    let runtime = &net.runtime;
    let marker = output_marker(net);
    (
        array_type(&net.scalar, &net.input),
        array_type(&net.scalar, &net.output),
        gradients_name(net),
        respan(
            quote!(L: #runtime::train::Loss<#marker>),
            net.last_layer().span,
        ),
    )
}

/// The struct with one gradients field per layer with tensors (`DenseGradients` for a dense
/// layer; a pool has none), and its impls; `method` is what adds to it.
fn gradients_struct(net: &Network, method: &str) -> TokenStream {
    let Network {
        name,
        visibility,
        scalar,
        runtime,
        ..
    } = net;
    let gradients = gradients_name(net);
    let trained: Vec<(&Layer, TokenStream)> = net
        .layers
        .iter()
        .filter_map(|layer| Some((layer, kind(layer).gradients_type(net)?)))
        .collect();
    let fields = trained.iter().map(|(layer, field_type)| {
        let field = &layer.field;
        let doc = kind(layer).gradients_doc(layer);
        quote_spanned! {layer.span=>
            #[doc = #doc]
            pub #field: #field_type
        }
    });
    let doc = format!(
        " Gradients of a loss with respect to every weight and bias of [`{name}`], with the same \
         shapes: what `{name}::{method}` adds to and an optimizer reads."
    );
    let field_names: Vec<&Ident> = trained.iter().map(|(l, _)| &l.field).collect();
    let (visits, visits_mut) = (gradient_visits(net, false), gradient_visits(net, true));
    let masks_name = masks_field();
    let mut zero_init: Vec<TokenStream> = trained
        .iter()
        .map(|(l, field_type)| {
            let field = &l.field;
            quote!(#field: #field_type)
        })
        .collect();
    // A network with dropout also holds where its masks come from.
    let (masks_field, masks_method) = if draws_masks(net) {
        zero_init.push(quote!(#masks_name: #runtime::train::Masks));
        (
            quote!(#masks_name: #runtime::train::Masks,),
            quote! {
                fn dropout_masks(&mut self) -> ::core::option::Option<&mut #runtime::train::Masks> {
                    ::core::option::Option::Some(&mut self.#masks_name)
                }
            },
        )
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    let zero_method = zero_override(net, &gradients);
    quote! {
        #[doc = #doc]
        #[allow(dead_code)]
        #visibility struct #gradients {
            #(#fields,)*
            #masks_field
        }

        #runtime::__zero_init!(#runtime::ZeroInit, #gradients { #(#zero_init),* });

        #runtime::__with_alloc! {
            // Gradients are as large as the network: built on the heap, never on the stack.
            #[allow(dead_code, clippy::unnecessary_box_returns)]
            impl #gradients {
                /// All gradients zero, built directly on the heap.
                pub fn zeroed() -> #runtime::Box<Self> {
                    #runtime::zeroed_box()
                }
            }
        }

        #[allow(dead_code)]
        impl #gradients {
            /// All gradients zero, as a constant: where there is no allocator, a local for a
            /// small network or the initial value of a `static` (a large one on the stack may
            /// overflow it: with `alloc`, prefer `zeroed`).
            pub const ZERO: Self = #runtime::__zeroed_const();

            /// Sets every gradient to zero (before each mini-batch).
            pub fn zero(&mut self) {
                #(self.#field_names.zero();)*
            }
        }

        impl #runtime::train::Gradients for #gradients {
            type Scalar = #scalar;

            fn for_each_tensor<'a>(
                &'a self,
                mut f: impl ::core::ops::FnMut(&'static #runtime::TensorInfo, &'a [#scalar]),
            ) {
                #(#visits)*
            }

            fn for_each_tensor_mut<'a>(
                &'a mut self,
                mut f: impl ::core::ops::FnMut(&'static #runtime::TensorInfo, &'a mut [#scalar]),
            ) {
                #(#visits_mut)*
            }

            #masks_method
            #zero_method
        }
    }
}

/// The gradients struct's `Gradients::zero`, where the trait's default (which clears the
/// visited tensors) is not enough: batchnorm's gradients also hold the batches' statistics,
/// which `zero` forgets too, and a layer without bias (or affine) has gradients that the visits
/// leave out. The inherent `zero` clears every field, so that none of them grows from batch to
/// batch.
fn zero_override(net: &Network, gradients: &Ident) -> TokenStream {
    let hides = net
        .layers
        .iter()
        .any(|layer| layer.hidden(&net.runtime).is_some());
    if batch_statistics(net) || hides {
        quote! {
            fn zero(&mut self) {
                #gradients::zero(self);
            }
        }
    } else {
        TokenStream::new()
    }
}

/// The gradients struct's `for_each_tensor` (or `_mut`) calls, one per layer with gradients.
/// A layer declared with `bias = false` (`affine = false`) computes gradients of its bias
/// (weight) that nothing visits, as the network's visitors leave them out: optimizers pair the
/// two visits.
fn gradient_visits(net: &Network, mutable: bool) -> Vec<TokenStream> {
    let runtime = &net.runtime;
    net.layers
        .iter()
        .filter(|layer| kind(layer).gradients_type(net).is_some())
        .map(|layer| {
            let field = &layer.field;
            let (method, field) = if mutable {
                (quote!(for_each_tensor_mut), quote!(&mut self.#field))
            } else {
                (quote!(for_each_tensor), quote!(&self.#field))
            };
            match layer.hidden(runtime) {
                None => quote!(#runtime::Tensors::#method(#field, &mut f);),
                Some(hidden) => quote! {
                    #runtime::Tensors::#method(#field, |tensor, values| {
                        if !#hidden.hides(tensor) {
                            f(tensor, values);
                        }
                    });
                },
            }
        })
        .collect()
}

/// Whether a layer draws dropout masks in training: then the gradients struct holds a
/// `train::Masks` and the training methods bind `shared::dropout_key`.
fn draws_masks(net: &Network) -> bool {
    net.layers.iter().any(|layer| kind(layer).draws_masks())
}

/// Whether a layer normalises with the batch's statistics in training (batchnorm): then
/// `accumulate_batch` runs the whole batch as one chunk, on the heap beyond `TRAINING_CHUNK`.
fn batch_statistics(net: &Network) -> bool {
    net.layers
        .iter()
        .any(|layer| kind(layer).batch_statistics())
}

/// The gradients struct's field of `train::Masks`, named so as not to meet a layer's.
fn masks_field() -> Ident {
    Ident::new("__dropout_masks", Span::call_site())
}

/// The statement binding `shared::dropout_key` to the key of `samples` samples (an expression)
/// drawn from `gradients`; nothing for a network without dropout.
fn bind_dropout_key(net: &Network, gradients: &Ident, samples: &TokenStream) -> TokenStream {
    if !draws_masks(net) {
        return TokenStream::new();
    }
    let key = dropout_key();
    let masks = masks_field();
    quote! {
        let #key = #gradients.#masks.take(#samples);
    }
}

/// Names of the locals of one layer in the forward pass that keeps what backpropagation needs.
struct Locals {
    /// Pre-activations (the output itself for a linear layer).
    pre: Ident,
    /// Outputs, named after the layer as in `forward`.
    out: Ident,
}

/// Which forward pass [`forward_keeping`] writes.
#[derive(Clone, Copy)]
enum Pass {
    /// Training's: each layer's [`Kind::forward_train`] (dropout's masks, batchnorm's
    /// statistics of the sample), `stable` as there.
    ///
    /// [`Kind::forward_train`]: crate::layer::Kind::forward_train
    Training { stable: bool },
    /// Inference's: each layer's [`Kind::forward`] (no masks, batchnorm's running statistics),
    /// the bits of `forward`'s layers.
    ///
    /// [`Kind::forward`]: crate::layer::Kind::forward
    Inference,
}

/// The forward pass into named locals, keeping each layer's pre-activations (for the gradients,
/// or the loss of `evaluate`).
fn forward_keeping(net: &Network, input: &Ident, pass: Pass) -> (TokenStream, Vec<Locals>) {
    let Network {
        scalar, runtime, ..
    } = net;
    let mut body = TokenStream::new();
    let mut locals: Vec<Locals> = Vec::new();
    for layer in &net.layers {
        let out = layer.field.clone();
        let out_type = array_type(scalar, &layer.output);
        let argument = match locals.last() {
            None => quote!(#input),
            Some(previous) => {
                let previous = &previous.out;
                quote!(&#previous)
            }
        };
        let product = match pass {
            Pass::Training { stable } => kind(layer).forward_train(net, layer, &argument, stable),
            Pass::Inference => kind(layer).forward(net, layer, &argument),
        };
        let pre = if layer.activation == Activation::Linear {
            body.extend(quote_spanned! {layer.span=>
                let #out: #out_type = #product;
            });
            out.clone()
        } else {
            let pre = local(&format!("{}_pre", layer.field));
            let function = format_ident!("{}", layer.activation.name());
            let alpha = alpha(scalar, layer.activation).map(|a| quote!(, #a));
            let target = flat(&layer.output, &quote!(#out), true);
            body.extend(quote_spanned! {layer.span=>
                let #pre: #out_type = #product;
                let mut #out: #out_type = #pre;
                #runtime::activation::#function(#target #alpha);
            });
            pre
        };
        locals.push(Locals { pre, out });
    }
    (body, locals)
}

/// The parameters and result of the generated methods, hygienic.
struct Names {
    input: Ident,
    target: Ident,
    loss: Ident,
    scale: Ident,
    gradients: Ident,
    value: Ident,
}

impl Names {
    fn new() -> Self {
        Self {
            input: local("input"),
            target: local("target"),
            loss: local("loss"),
            scale: local("scale"),
            gradients: local("gradients"),
            value: local("value"),
        }
    }
}

/// The activation of the last layer, as the `Activation` value the losses read.
fn output_activation(net: &Network) -> TokenStream {
    let runtime = &net.runtime;
    let last_index = net.layers.len() - 1;
    quote!(<Self as #runtime::Network>::LAYERS[#last_index].activation)
}

/// After the forward pass: the loss's gradient, then each layer from the last to the first,
/// accumulating its gradients and passing the gradient down through the activation below.
fn backward(net: &Network, locals: &[Locals], names: &Names) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let Names {
        input,
        target,
        loss,
        scale,
        gradients,
        value,
    } = names;
    let marker = output_marker(net);
    let activation = output_activation(net);
    let last_index = net.layers.len() - 1;
    let Locals {
        pre: last_pre,
        out: last_out,
    } = &locals[last_index];
    let deltas: Vec<Ident> = net
        .layers
        .iter()
        .map(|layer| local(&format!("{}_delta", layer.field)))
        .collect();
    let last_delta = &deltas[last_index];
    let (output_type, output_zeros) = (array_type(scalar, &net.output), zeros(scalar, &net.output));
    let mut backward = quote! {
        let mut #last_delta: #output_type = #output_zeros;
        let #value = <L as #runtime::train::Loss<#marker>>::gradient(
            #loss, #activation, &#last_pre, &#last_out, #target, #scale, &mut #last_delta,
        );
    };
    for (index, layer) in net.layers.iter().enumerate().rev() {
        let delta = &deltas[index];
        let layer_input = if index == 0 {
            quote!(#input)
        } else {
            let previous = &locals[index - 1].out;
            quote!(&#previous)
        };
        if index > 0 {
            let below = &net.layers[index - 1];
            let below_delta = &deltas[index - 1];
            let below_type = array_type(scalar, &below.output);
            let gradient = kind(layer).backward_input(net, layer, &layer_input, &quote!(#delta));
            if below.activation == Activation::Linear {
                backward.extend(quote_spanned! {layer.span=>
                    let #below_delta: #below_type =
                        #gradient;
                });
            } else {
                let Locals { pre, out } = &locals[index - 1];
                let call = derivative(
                    net,
                    below,
                    layer.span,
                    [&quote!(#pre), &quote!(#out), &quote!(#below_delta)],
                );
                backward.extend(quote_spanned! {layer.span=>
                    let mut #below_delta: #below_type =
                        #gradient;
                    #call
                });
            }
        }
        backward.extend(kind(layer).accumulate(
            net,
            layer,
            &quote!(#gradients),
            &layer_input,
            &quote!(#delta),
        ));
    }
    backward
}

/// The statement that multiplies `delta` by the derivative of `layer`'s activation, given its
/// pre-activations and outputs (`[pre, out, delta]`, places of the layer's output type); `None`
/// for `linear`.
fn derivative(
    net: &Network,
    layer: &Layer,
    span: Span,
    [pre, out, delta]: [&TokenStream; 3],
) -> Option<TokenStream> {
    if layer.activation == Activation::Linear {
        return None;
    }
    let runtime = &net.runtime;
    let function = format_ident!("{}", layer.activation.name());
    let alpha = alpha(&net.scalar, layer.activation).map(|a| quote!(, #a));
    let shape = &layer.output;
    let (pre, out, delta) = (
        flat(shape, pre, false),
        flat(shape, out, false),
        flat(shape, delta, true),
    );
    Some(quote_spanned! {span=>
        #runtime::train::derivative::#function(#pre, #out, #delta #alpha);
    })
}

/// `accumulate_gradients` and `evaluate`, as inherent methods.
fn methods(net: &Network) -> TokenStream {
    let Network {
        name,
        scalar,
        runtime,
        ..
    } = net;
    let (input_type, output_type, gradients_type, bound) = signature_types(net);
    let marker = output_marker(net);
    let names = Names::new();
    let Names {
        input,
        target,
        loss,
        scale,
        gradients,
        value,
    } = &names;
    let last_index = net.layers.len() - 1;

    // With chunks, `accumulate_gradients` must give the same bits as a sample of a chunk.
    let stable = net.training_chunk > 1;
    let (forward, locals) = forward_keeping(net, input, Pass::Training { stable });
    let backward = backward(net, &locals, &names);
    let last_out = &locals[last_index].out;

    // Inference's pass, as `forward`: dropout off, batchnorm's running statistics.
    let (evaluate_forward, evaluate_locals) = forward_keeping(net, input, Pass::Inference);
    let Locals {
        pre: evaluate_pre,
        out: evaluate_out,
    } = &evaluate_locals[last_index];
    let activation = output_activation(net);

    let accumulate_doc = format!(
        " Runs `{name}` on `input` keeping every layer's pre-activations, then backpropagates \
         the loss against `target`: adds `scale` times the gradient of every weight and bias to \
         `gradients` (`scale = 1 / batch size` makes a mini-batch mean), and returns the loss \
         and the output."
    );
    let one_doc = if batch_statistics(net) {
        quote! {
            ///
            /// Batchnorm normalises with the statistics of this one sample, a batch of one
            /// (over its positions); with one value per channel, the normalised value is zero
            /// and the running statistics do not move (PyTorch raises).
        }
    } else {
        TokenStream::new()
    };
    let (batch, beside) = batch_method(net);
    let draw = bind_dropout_key(net, gradients, &quote!(1));
    // The layers' outputs and deltas are locals, as in `forward`: `lower` sizes a chunk to
    // keep each within clippy's pedantic `large_stack_arrays` limit, but for one sample of a
    // wider layer, or batchnorm's two, which the lint would report in users' crates.
    let largest = net
        .layers
        .iter()
        .map(|layer| layer.output.elements())
        .max()
        .unwrap_or(0);
    let large = (largest * net.training_chunk * net.scalar.bytes > crate::ir::LARGE_STACK_ARRAY)
        .then(|| quote!(clippy::large_stack_arrays,));
    quote! {
        #[allow(dead_code, #large)]
        impl #name {
            #batch

            #[doc = #accumulate_doc]
            #one_doc
            ///
            /// Statically sized locals only: no heap allocation. The loss must fit the output
            /// activation, or this does not compile.
            // The input is borrowed whatever its width, as in `forward`.
            #[allow(clippy::trivially_copy_pass_by_ref)]
            pub fn accumulate_gradients<#bound>(
                &self,
                #input: &#input_type,
                #target: &#output_type,
                #loss: &L,
                #scale: #scalar,
                #gradients: &mut #gradients_type,
            ) -> #runtime::train::Outcome<#scalar, #output_type> {
                #draw
                #forward
                #backward
                #runtime::train::Outcome::new(#value, #last_out)
            }

            /// Runs the network on `input` as `forward` does (in inference mode: dropout off,
            /// batchnorm with its running statistics) and returns the loss against `target` and
            /// the output.
            #[allow(clippy::trivially_copy_pass_by_ref)]
            pub fn evaluate<#bound>(
                &self,
                #input: &#input_type,
                #target: &#output_type,
                #loss: &L,
            ) -> #runtime::train::Outcome<#scalar, #output_type> {
                #evaluate_forward
                let #value = <L as #runtime::train::Loss<#marker>>::value(
                    #loss, #activation, &#evaluate_pre, &#evaluate_out, #target,
                );
                #runtime::train::Outcome::new(#value, #evaluate_out)
            }
        }

        #beside
    }
}

/// The locals of `accumulate_batch`'s chunked loop, hygienic.
struct ChunkNames {
    observe: Ident,
    inputs: Ident,
    targets: Ident,
    index: Ident,
    k: Ident,
    n: Ident,
    sample: Ident,
}

impl ChunkNames {
    fn new() -> Self {
        Self {
            observe: local("observe"),
            inputs: local("chunk_inputs"),
            targets: local("chunk_targets"),
            index: local("index"),
            k: local("k"),
            n: local("n"),
            sample: local("sample"),
        }
    }
}

/// Where `accumulate_batch` keeps a chunk's locals (every layer's pre-activations, outputs and
/// deltas).
#[derive(Clone, Copy)]
enum Rows {
    /// Arrays of `TRAINING_CHUNK` rows on the stack.
    Stack(usize),
    /// One heap buffer of a row per sample: a batch of a network with batchnorm larger than
    /// `TRAINING_CHUNK` runs as one chunk, since batchnorm needs the whole batch's statistics.
    Heap,
}

impl Rows {
    /// The expression of a local holding a row of `zeros` for each of the chunk's `n` samples.
    fn declare(self, runtime: &TokenStream, zeros: &TokenStream, n: &Ident) -> TokenStream {
        match self {
            Self::Stack(chunk) => quote!([#zeros; #chunk]),
            Self::Heap => quote!(#runtime::train::rows(#zeros, #n)),
        }
    }
}

/// The chunk's forward pass, layer by layer, keeping every layer's pre-activations.
fn chunk_forward(net: &Network, rows: Rows, c: &ChunkNames) -> (TokenStream, Vec<Locals>) {
    let Network {
        scalar, runtime, ..
    } = net;
    let ChunkNames {
        inputs: chunk_inputs,
        n,
        sample,
        ..
    } = c;
    let mut body = TokenStream::new();
    let mut previous = quote!(#chunk_inputs);
    let mut locals: Vec<Locals> = Vec::new();
    for layer in &net.layers {
        let zeros = zeros(scalar, &layer.output);
        let out = layer.field.clone();
        let declare = rows.declare(runtime, &zeros, n);
        let pre = if layer.activation == Activation::Linear {
            let run = kind(layer).forward_chunk(net, layer, &previous, &quote!(&mut #out[..#n]));
            body.extend(quote_spanned! {layer.span=>
                let mut #out = #declare;
                #run
            });
            out.clone()
        } else {
            let pre = local(&format!("{}_pre", layer.field));
            let function = format_ident!("{}", layer.activation.name());
            let alpha = alpha(scalar, layer.activation).map(|a| quote!(, #a));
            let run = kind(layer).forward_chunk(net, layer, &previous, &quote!(&mut #pre[..#n]));
            let target = row(&layer.output, sample, true);
            // The outputs start as a copy of the pre-activations, which backpropagation keeps.
            let copy = match rows {
                Rows::Stack(_) => quote!(let mut #out = #pre;),
                Rows::Heap => quote! {
                    let mut #out = #declare;
                    #out.copy_from_slice(&#pre);
                },
            };
            body.extend(quote_spanned! {layer.span=>
                let mut #pre = #declare;
                #run
                #copy
                for #sample in &mut #out[..#n] {
                    #runtime::activation::#function(#target #alpha);
                }
            });
            pre
        };
        previous = quote!(&#out[..#n]);
        locals.push(Locals { pre, out });
    }

    (body, locals)
}

/// The chunk's loss, sample by sample, then backpropagation layer by layer.
fn chunk_backward(
    net: &Network,
    rows: Rows,
    c: &ChunkNames,
    names: &Names,
    locals: &[Locals],
) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let ChunkNames {
        observe,
        inputs: chunk_inputs,
        targets: chunk_targets,
        index,
        k,
        n,
        ..
    } = c;
    let Names {
        loss,
        scale,
        gradients,
        value,
        ..
    } = names;
    let marker = output_marker(net);
    let activation = output_activation(net);
    let mut body = TokenStream::new();
    let deltas: Vec<Ident> = net
        .layers
        .iter()
        .map(|layer| local(&format!("{}_delta", layer.field)))
        .collect();
    let last_index = net.layers.len() - 1;
    let Locals {
        pre: last_pre,
        out: last_out,
    } = &locals[last_index];
    let last_delta = &deltas[last_index];
    let output_zeros = zeros(scalar, &net.output);
    let declare = rows.declare(runtime, &output_zeros, n);
    // Sample `k` of chunk `index` is the batch's sample `index * TRAINING_CHUNK + k`; on the
    // heap, the one chunk is the batch.
    let sample_index = match rows {
        Rows::Stack(chunk) => quote!(#index * #chunk + #k),
        Rows::Heap => quote!(#k),
    };
    body.extend(quote! {
        let mut #last_delta = #declare;
        for #k in 0..#n {
            let #value = <L as #runtime::train::Loss<#marker>>::gradient(
                #loss,
                #activation,
                &#last_pre[#k],
                &#last_out[#k],
                ::core::borrow::Borrow::borrow(&#chunk_targets[#k]),
                #scale,
                &mut #last_delta[#k],
            );
            #observe(
                #sample_index,
                #runtime::train::Outcome::new(#value, #last_out[#k]),
            );
        }
    });
    for (position, layer) in net.layers.iter().enumerate().rev() {
        let delta = &deltas[position];
        let layer_inputs = if position == 0 {
            quote!(#chunk_inputs)
        } else {
            let below_out = &locals[position - 1].out;
            quote!(&#below_out[..#n])
        };
        if position > 0 {
            let below = &net.layers[position - 1];
            let below_delta = &deltas[position - 1];
            let below_zeros = zeros(scalar, &below.output);
            let Locals { pre, out } = &locals[position - 1];
            let run = kind(layer).backward_input_chunk(
                net,
                layer,
                &layer_inputs,
                &quote!(&#delta[..#n]),
                &quote!(&mut #below_delta[..#n]),
            );
            let declare = rows.declare(runtime, &below_zeros, n);
            body.extend(quote_spanned! {layer.span=>
                let mut #below_delta = #declare;
                #run
            });
            let places = [quote!(#pre[#k]), quote!(#out[#k]), quote!(#below_delta[#k])];
            if let Some(call) = derivative(net, below, layer.span, places.each_ref()) {
                body.extend(quote_spanned! {layer.span=>
                    for #k in 0..#n {
                        #call
                    }
                });
            }
        }
        body.extend(kind(layer).accumulate_chunk(
            net,
            layer,
            &quote!(#gradients),
            &layer_inputs,
            &quote!(&#delta[..#n]),
        ));
    }
    body
}

/// `accumulate_batch`: `accumulate_gradients` over chunks of samples, layer by layer, so that
/// each weight gradient is read and written once per chunk. Same arithmetic in the same order:
/// bit-identical. With the items to emit beside the `impl` (for batchnorm, `whole_batch`'s).
fn batch_method(net: &Network) -> (TokenStream, TokenStream) {
    let chunk = net.training_chunk;
    let names = Names::new();
    let Names {
        input,
        target,
        loss,
        scale,
        gradients,
        ..
    } = &names;
    let c = ChunkNames::new();
    let ChunkNames {
        observe,
        inputs: chunk_inputs,
        targets: chunk_targets,
        index,
        n,
        ..
    } = &c;
    let last_name = &net.last_layer().name;
    let (forward, locals) = chunk_forward(net, Rows::Stack(chunk), &c);
    let backward = chunk_backward(net, Rows::Stack(chunk), &c, &names, &locals);
    let body = quote! {
        #forward
        #backward
    };

    // One sample per chunk: the per-sample code, whose locals are all statically sized, is
    // faster than a chunk of one.
    let draw = bind_dropout_key(net, gradients, &quote!(#n));
    let signature = batch_signature(net, &names, &c);
    let [whole, whole_doc, whole_method] = whole_batch(net, chunk, &signature);
    let loop_ = if chunk == 1 {
        quote! {
            for (#index, (#input, #target)) in inputs.iter().zip(targets).enumerate() {
                #observe(#index, self.accumulate_gradients(
                    ::core::borrow::Borrow::borrow(#input),
                    ::core::borrow::Borrow::borrow(#target),
                    #loss,
                    #scale,
                    #gradients,
                ));
            }
        }
    } else {
        quote! {
            let chunks = inputs.chunks(#chunk).zip(targets.chunks(#chunk));
            for (#index, (#chunk_inputs, #chunk_targets)) in chunks.enumerate() {
                let #n = #chunk_inputs.len();
                #draw
                #body
            }
        }
    };

    let check_rows = check_targets(net, last_name, &quote!(inputs), &quote!(targets));
    // With batchnorm the statistics are the batch's: neither the bits of one sample at a time
    // nor, beyond a chunk, free of the heap (`whole_doc`).
    let same_bits = if batch_statistics(net) {
        quote! {
            /// by layer, so that each weight gradient is updated once per chunk.
        }
    } else {
        quote! {
            /// by layer, so that each weight gradient is updated once per chunk; the gradients are the same to
            /// the bit as one sample at a time. No heap allocation.
        }
    };
    let method = quote! {
        /// Samples per chunk in `accumulate_batch`.
        pub const TRAINING_CHUNK: usize = #chunk;

        /// [`Self::accumulate_gradients`] for every sample of a batch, calling `observe` with
        /// each sample's index and outcome. Works in chunks of `TRAINING_CHUNK` samples, layer
        #same_bits
        ///
        /// # Errors
        ///
        /// `Error::Targets` when `targets` does not have one row per input.
        #whole_doc
        pub fn accumulate_batch #signature {
            #check_rows
            #whole
            #loop_
            ::core::result::Result::Ok(())
        }
    };
    (method, whole_method)
}

/// `accumulate_batch`'s generic parameters, arguments and result, after its name.
fn batch_signature(net: &Network, names: &Names, c: &ChunkNames) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    let (input_type, output_type, gradients_type, bound) = signature_types(net);
    let Names {
        loss,
        scale,
        gradients,
        ..
    } = names;
    let observe = &c.observe;
    quote! {
        <X, Y, #bound, F>(
            &self,
            inputs: &[X],
            targets: &[Y],
            #loss: &L,
            #scale: #scalar,
            #gradients: &mut #gradients_type,
            mut #observe: F,
        ) -> ::core::result::Result<(), #runtime::Error>
        where
            X: ::core::borrow::Borrow<#input_type>,
            Y: ::core::borrow::Borrow<#output_type>,
            F: ::core::ops::FnMut(usize, #runtime::train::Outcome<#scalar, #output_type>),
    }
}

/// For a network with batchnorm (its training statistics are those of the chunk), the
/// `accumulate_batch` branch of a batch larger than a chunk, its lines of doc, and the method
/// it calls: with the runtime's `alloc`, `__nn_accumulate_whole_batch`, the batch as one chunk
/// whose locals are on the heap, in an `impl` of its own inside `__with_alloc!` (item-level, so
/// that `nnc build` formats it); without, `Error::BatchTooLarge`. Nothing for other networks.
fn whole_batch(net: &Network, chunk: usize, signature: &TokenStream) -> [TokenStream; 3] {
    let Network { runtime, name, .. } = net;
    let Some(first) = net.layers.iter().find(|l| kind(l).batch_statistics()) else {
        return [TokenStream::new(), TokenStream::new(), TokenStream::new()];
    };
    let names = Names::new();
    let c = ChunkNames::new();
    let ChunkNames {
        observe,
        inputs: chunk_inputs,
        targets: chunk_targets,
        n,
        ..
    } = &c;
    let Names {
        loss,
        scale,
        gradients,
        ..
    } = &names;
    let draw = bind_dropout_key(net, gradients, &quote!(#n));
    let (forward, locals) = chunk_forward(net, Rows::Heap, &c);
    let backward = chunk_backward(net, Rows::Heap, &c, &names, &locals);
    let layer = &first.name;
    let whole = format_ident!("__nn_accumulate_whole_batch");
    let branch = quote! {
        if inputs.len() > #chunk {
            #runtime::__alloc_or! {
                {
                    return self.#whole(inputs, targets, #loss, #scale, #gradients, #observe);
                } else {
                    return ::core::result::Result::Err(#runtime::Error::BatchTooLarge {
                        layer: #layer,
                        batch: inputs.len(),
                        chunk: #chunk,
                    });
                }
            }
        }
    };
    let doc = quote! {
        ///
        /// Batchnorm normalises with the statistics of the whole batch, so a batch of more
        /// than `TRAINING_CHUNK` samples runs as one chunk whose values are on the heap
        /// (`nn`'s `alloc` feature, a default); without `alloc` it is
        /// `Error::BatchTooLarge`. A sample's gradients are therefore not those of
        /// `accumulate_gradients`, a batch of one.
    };
    let method = quote! {
        #runtime::__with_alloc! {
            // Each buffer is filled from one row of zeros, a temporary as large as a sample's
            // output of the layer.
            #[allow(dead_code, clippy::large_stack_arrays)]
            impl #name {
                /// `accumulate_batch` of a batch larger than `TRAINING_CHUNK`: one chunk, each
                /// layer's values in a heap buffer of a row per sample.
                #[doc(hidden)]
                fn #whole #signature {
                    let #chunk_inputs = inputs;
                    let #chunk_targets = targets;
                    let #n = inputs.len();
                    #draw
                    #forward
                    #backward
                    ::core::result::Result::Ok(())
                }
            }
        }
    };
    [branch, doc, method]
}

/// `impl Trainable`, delegating to the inherent methods.
fn trainable_impl(net: &Network) -> TokenStream {
    let Network {
        name,
        scalar,
        runtime,
        ..
    } = net;
    let (input_type, output_type) = (
        array_type(scalar, &net.input),
        array_type(scalar, &net.output),
    );
    let gradients_type = gradients_name(net);
    let marker = output_marker(net);
    let gradients = local("gradients");
    let updates: TokenStream = net
        .layers
        .iter()
        .map(|layer| kind(layer).update_buffers(net, layer, &quote!(#gradients)))
        .collect();
    let update_buffers = if updates.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            fn update_buffers(&mut self, #gradients: &#gradients_type) {
                #updates
            }
        }
    };
    quote! {
        impl #runtime::train::Trainable for #name {
            type Input = #input_type;
            type Output = #output_type;
            type OutputActivation = #marker;
            type Gradients = #gradients_type;

            fn predict(&self, input: &Self::Input) -> Self::Output {
                self.forward(input)
            }

            fn evaluate<L: #runtime::train::Loss<#marker>>(
                &self,
                input: &Self::Input,
                target: &Self::Output,
                loss: &L,
            ) -> #runtime::train::Outcome<#scalar, Self::Output> {
                Self::evaluate(self, input, target, loss)
            }

            fn accumulate_gradients<L: #runtime::train::Loss<#marker>>(
                &self,
                input: &Self::Input,
                target: &Self::Output,
                loss: &L,
                scale: #scalar,
                gradients: &mut #gradients_type,
            ) -> #runtime::train::Outcome<#scalar, Self::Output> {
                Self::accumulate_gradients(self, input, target, loss, scale, gradients)
            }

            fn accumulate_batch<X, Y, L, F>(
                &self,
                inputs: &[X],
                targets: &[Y],
                loss: &L,
                scale: #scalar,
                gradients: &mut #gradients_type,
                observe: F,
            ) -> ::core::result::Result<(), #runtime::Error>
            where
                X: ::core::borrow::Borrow<Self::Input>,
                Y: ::core::borrow::Borrow<Self::Output>,
                L: #runtime::train::Loss<#marker>,
                F: ::core::ops::FnMut(usize, #runtime::train::Outcome<#scalar, Self::Output>),
            {
                Self::accumulate_batch(self, inputs, targets, loss, scale, gradients, observe)
            }

            #update_buffers
        }
    }
}

/// `sample` (a `&mut` of `shape`'s array type, one row of a chunk) as a `&mut [T]`: a vector's
/// coerces as it is.
fn row(shape: &nn_grammar::Shape, sample: &Ident, mutable: bool) -> TokenStream {
    if shape.rank() == 1 {
        quote!(#sample)
    } else {
        flat(shape, &quote!(#sample), mutable)
    }
}
