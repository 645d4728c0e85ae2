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
    let docs = net.docs.iter().map(|d| quote!(#[doc = #d]));
    let runtime = net.runtime.as_ref().map_or_else(
        || quote!(::nn::__private),
        |path| {
            let path: TokenStream = path.parse().unwrap_or_else(|_| quote!(::nn));
            quote!(#path::__private)
        },
    );
    let mut docs_then_attributes = quote!(#(#docs)*);
    docs_then_attributes.extend(attributes);
    let scalar = match net.scalar {
        Scalar::F32 => "f32",
        Scalar::F64 => "f64",
    };
    ir::Network {
        name: Ident::new(&net.name, span_of(net.name_range)),
        // The checker only lets through `pub`, `pub(crate)`, `pub(super)` and `pub(self)`.
        visibility: net.visibility.parse().unwrap_or_default(),
        attributes: docs_then_attributes,
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
                inputs: layer.inputs,
                outputs: layer.outputs,
                activation: layer.activation,
                span: span_of(layer.range),
            })
            .collect(),
        unroll: net.unroll,
        span: span_of(net.range),
    }
}
