//! Code generation for nn: a checked [`nn_grammar::Network`] becomes Rust tokens.
//!
//! Plain library code on `proc_macro2`: the `network!` macro, the `nnc` compiler, build scripts
//! and unit tests all call [`expand`]; nothing here touches `proc_macro`.

mod emit;
mod emit_train;
pub mod ir;
mod lower;

pub use lower::lower;
use nn_grammar::{Network, TextRange};
use proc_macro2::{Span, TokenStream};

/// The Rust items for `net`: the struct, its inherent impl and its `Network` impl.
///
/// `attributes` are emitted on the struct (the macro passes the user's `///` docs and
/// `#[derive]`s here); `span_of` maps a byte range of the declaration to a span.
pub fn expand(
    net: &Network,
    attributes: TokenStream,
    span_of: &dyn Fn(TextRange) -> Span,
) -> TokenStream {
    emit::emit(&lower(net, attributes, span_of))
}
