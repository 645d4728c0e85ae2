//! [`nn_grammar::Network`] to [`ir::Network`](crate::ir::Network).

use crate::ir;
use nn_grammar::{Network, Scalar, TextRange};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// Lowers a checked network. `span_of` maps a byte range of the declaration to a span (the
/// macro's tokens; `Span::call_site()` for `.nn` files).
pub fn lower(
    net: &Network,
    attributes: TokenStream,
    span_of: &dyn Fn(TextRange) -> Span,
) -> ir::Network {
    // `.nn` docs first, then the macro's attributes (which hold its `///` docs).
    let mut all_attributes: TokenStream = net.docs.iter().map(|d| quote!(#[doc = #d])).collect();
    all_attributes.extend(attributes);
    // The checker only lets through paths such as `::nn` or `my::nn`, which always parse.
    let path = net.runtime.as_deref().unwrap_or("::nn");
    let path: TokenStream = path.parse().unwrap_or_else(|_| quote!(::nn));
    let runtime = quote!(#path::__private);
    let scalar = match net.scalar {
        Scalar::F32 => "f32",
        Scalar::F64 => "f64",
    };
    ir::Network {
        name: Ident::new(&net.name, span_of(net.name_range)),
        // The checker only lets through `pub`, `pub(crate)`, `pub(super)` and `pub(self)`.
        visibility: net.visibility.parse().unwrap_or_default(),
        attributes: all_attributes,
        scalar: Ident::new(scalar, span_of(net.range)),
        runtime,
        inputs: net.inputs,
        outputs: net.outputs(),
        parameters: net.parameters(),
        layers: net
            .layers
            .iter()
            .map(|layer| ir::Layer {
                field: Ident::new(&layer.name, span_of(layer.range)),
                name: layer.name.clone(),
                named: layer.named,
                inputs: layer.inputs,
                outputs: layer.outputs,
                activation: layer.activation,
                // Where the layer was written, but resolving names like the rest of the
                // expansion: `self` and the locals the code binds must mean the same thing in
                // every token, even when `network!` is called from a `macro_rules!` macro, whose
                // tokens carry another hygiene context.
                span: Span::call_site().located_at(span_of(layer.range)),
            })
            .collect(),
        unroll: net.unroll,
        span: span_of(net.range),
    }
}
