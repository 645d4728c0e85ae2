//! Code generation for nn: a checked [`nn_grammar::Network`] becomes Rust tokens.
//!
//! Plain library code on `proc_macro2`: the `network!` and `network_file!` macros, the `nnc`
//! compiler, build scripts and unit tests all call [`expand`] (or [`expand_file`]); nothing here
//! touches `proc_macro`. With the `pretty` feature, [`pretty`] formats the result as a Rust file
//! and [`build`] writes it from a build script.

#[cfg(feature = "pretty")]
pub mod build;
mod emit;
pub mod ir;
mod lower;
#[cfg(feature = "pretty")]
pub mod pretty;

pub use lower::lower;
use nn_grammar::{Diagnostic, Network, TextRange};
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

/// What the grammar accepts but this generator cannot do yet, located on the option.
pub fn unsupported(net: &Network) -> Option<Diagnostic> {
    net.weights.as_ref().map(|(_, range)| {
        Diagnostic::new(
            *range,
            "the `weights` option is not supported by this version of nn",
        )
    })
}

/// The Rust items for every network of a `.nn` file, all spanned at `span`.
///
/// This is the one path from a file to code: `nn::network_file!`, `nnc build` and
/// `nn_codegen::build::compile` all go through it, so they generate the same code as
/// `nn::network!` does for the same declarations.
///
/// ```
/// let tokens = nn_codegen::expand_file(
///     "/// Learns XOR.\npub struct Xor = 2 -> 2 tanh -> 1 sigmoid;",
///     proc_macro2::Span::call_site(),
/// )
/// .unwrap();
/// assert!(tokens.to_string().contains("pub struct Xor"));
/// ```
///
/// # Errors
///
/// The syntax error, or every semantic problem of every declaration.
pub fn expand_file(text: &str, span: Span) -> Result<TokenStream, Vec<Diagnostic>> {
    let networks = nn_grammar::compile_file(text)?;
    let problems: Vec<Diagnostic> = networks.iter().filter_map(unsupported).collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(networks
        .iter()
        .map(|net| expand(net, TokenStream::new(), &|_| span))
        .collect())
}
