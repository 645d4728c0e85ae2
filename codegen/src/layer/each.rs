//! The chunked training methods of the kinds without a batched backward kernel (convolutions,
//! pools, flatten): a loop over the chunk's samples running the kind's per-sample tokens, so
//! that a sample gets the same bits alone (`accumulate_gradients`) or in a chunk
//! (`accumulate_batch`), in the same order.
//!
//! The chunk's first layer reads `&[X]` with `X: Borrow<Input>`: each sample is borrowed as the
//! layer's input type, named, so that inference never has to choose between `Borrow` impls.

use super::kind;
use crate::ir::{Layer, Network};
use crate::shared::{array_type, local};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

/// Statement: [`super::Kind::forward_train`] for each sample of `input` (a `&[In]` or `&[X]`)
/// into `output` (a `&mut [Out]`).
pub(super) fn forward(
    net: &Network,
    layer: &Layer,
    input: &TokenStream,
    output: &TokenStream,
) -> TokenStream {
    let (sample, row) = (local("sample"), local("row"));
    let input_type = array_type(&net.scalar, &layer.input);
    let forward = kind(layer).forward_train(net, layer, &quote!(#sample), true);
    quote_spanned! {layer.span=>
        for (#sample, #row) in (#input).iter().zip((#output).iter_mut()) {
            let #sample: &#input_type = ::core::borrow::Borrow::borrow(#sample);
            *#row = #forward;
        }
    }
}

/// Statement: [`super::Kind::backward_input`] for each sample, `input` a `&[In]`, `delta` a
/// `&[Out]`, into `below`, a `&mut [In]`.
pub(super) fn backward_input(
    net: &Network,
    layer: &Layer,
    input: &TokenStream,
    delta: &TokenStream,
    below: &TokenStream,
) -> TokenStream {
    let (sample, sample_delta, row) = (local("sample"), local("sample_delta"), local("row"));
    let input_type = array_type(&net.scalar, &layer.input);
    let gradient =
        kind(layer).backward_input(net, layer, &quote!(#sample), &quote!((*#sample_delta)));
    if !mentions(&gradient, &sample) {
        // Most kinds' gradients do not read the input (a maximum's does): without it, no
        // binding that a file written by `nnc build`, without the macro's hygiene, would
        // report as unused.
        return quote_spanned! {layer.span=>
            for (#sample_delta, #row) in (#delta).iter().zip((#below).iter_mut()) {
                *#row = #gradient;
            }
        };
    }
    quote_spanned! {layer.span=>
        for ((#sample, #sample_delta), #row) in (#input).iter().zip(#delta).zip((#below).iter_mut()) {
            let #sample: &#input_type = ::core::borrow::Borrow::borrow(#sample);
            *#row = #gradient;
        }
    }
}

/// Whether `tokens` use the local `name`.
fn mentions(tokens: &TokenStream, name: &proc_macro2::Ident) -> bool {
    tokens.clone().into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == *name,
        proc_macro2::TokenTree::Group(group) => mentions(&group.stream(), name),
        _ => false,
    })
}

/// Statement: [`super::Kind::accumulate`] for each sample, in order, `input` a `&[In]` or
/// `&[X]` and `delta` a `&[Out]`.
pub(super) fn accumulate(
    net: &Network,
    layer: &Layer,
    gradients: &TokenStream,
    input: &TokenStream,
    delta: &TokenStream,
) -> TokenStream {
    let (sample, sample_delta) = (local("sample"), local("sample_delta"));
    let input_type = array_type(&net.scalar, &layer.input);
    let add = kind(layer).accumulate(
        net,
        layer,
        gradients,
        &quote!(#sample),
        &quote!((*#sample_delta)),
    );
    quote_spanned! {layer.span=>
        for (#sample, #sample_delta) in (#input).iter().zip(#delta) {
            let #sample: &#input_type = ::core::borrow::Borrow::borrow(#sample);
            #add
        }
    }
}
