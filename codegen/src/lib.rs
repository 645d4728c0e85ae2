//! Code generation for nn: a checked [`nn_grammar::Network`] becomes Rust tokens.
//!
//! Plain library code on `proc_macro2`: the `network!` macro, the `nnc` compiler, build scripts
//! and unit tests all call [`expand`]; nothing here touches `proc_macro`.

mod emit;
mod io;
pub mod ir;
mod lower;

pub use io::BakedWeights;
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

/// [`expand`], plus `pub const BAKED: Self` holding `weights` (the `weights = "file"` option,
/// read by the caller) and an `include_bytes!` of the file, so that editing it rebuilds.
///
/// `weights` must have one entry per layer of `net`, each of the layer's shape: the caller
/// checked the file against the declaration. `None` when the file could not be used: the
/// caller reports why, and `BAKED` is all zeros so that its uses add no errors.
pub fn expand_baked(
    net: &Network,
    attributes: TokenStream,
    span_of: &dyn Fn(TextRange) -> Span,
    weights: Option<&BakedWeights>,
) -> TokenStream {
    let net = lower(net, attributes, span_of);
    let mut tokens = emit::emit(&net);
    tokens.extend(io::baked(&net, weights));
    tokens
}
