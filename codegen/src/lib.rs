//! Code generation for nn: a checked [`nn_grammar::Network`] becomes Rust tokens.
//!
//! Plain library code on `proc_macro2`: the `network!` and `network_file!` macros, the `nnc`
//! compiler, build scripts and unit tests all call [`expand`] (or [`expand_file`]); nothing here
//! touches `proc_macro`. With the `pretty` feature, [`pretty`] formats the result as a Rust file
//! and [`build`] writes it from a build script.

#[cfg(feature = "pretty")]
pub mod build;
mod emit;
mod emit_half;
mod emit_quant;
mod emit_sequence;
mod emit_train;
mod io;
pub mod ir;
mod layer;
mod lower;
#[cfg(feature = "pretty")]
pub mod pretty;
mod shared;
mod stub;

pub use io::{BakedWeights, QuantizedLayer};
pub use lower::lower;
use nn_grammar::{Diagnostic, Network, TextRange};
use proc_macro2::{Span, TokenStream};
pub use stub::{Stub, stub};

/// The Rust items for `net`: the struct, its inherent impl and its `Network` impl.
///
/// `attributes` are emitted on the struct (the macro passes the user's `///` docs and
/// `#[derive]`s here); `span_of` maps a byte range of the declaration to a span.
pub fn expand(
    net: &Network,
    attributes: TokenStream,
    span_of: &dyn Fn(TextRange) -> Span,
) -> TokenStream {
    items(&lower(net, attributes, span_of))
}

/// Everything generated for a lowered network, with plain sizes: inference (`emit`), weight
/// I/O (`io`), then training (`emit_train`), each composing the layers' kinds (`layer`).
fn items(net: &ir::Network) -> TokenStream {
    let fields = net.layers.iter().map(|l| l.field.to_string()).collect();
    shared::with_fields(fields, || {
        let mut tokens = emit::emit(net);
        tokens.extend(io::methods(net));
        tokens.extend(emit_train::emit(net));
        tokens.extend(emit_quant::emit(net));
        tokens.extend(emit_half::emit(net));
        shared::plain_sizes(tokens)
    })
}

/// What `.nn` files cannot do that `network!` can, located on the option: baking weights in
/// (`weights = "file"`) needs the macro, which reads the file while compiling.
pub fn unsupported(net: &Network) -> Option<Diagnostic> {
    net.weights.as_ref().map(|(_, range)| {
        Diagnostic::new(
            *range,
            "the `weights` option bakes weights in and needs `network!`; with a `.nn` file, load them at run time with `from_safetensors_file`",
        )
    })
}

/// Parses and checks every network of a `.nn` file, as [`nn_grammar::compile_file`] does, and
/// also reports what this generator does not support yet ([`unsupported`]).
///
/// # Errors
///
/// The syntax error, or every problem of every declaration.
pub fn check_file(text: &str) -> Result<Vec<Network>, Vec<Diagnostic>> {
    let mut networks = Vec::new();
    let mut problems = Vec::new();
    for item in nn_grammar::parse_file(text)? {
        match nn_grammar::check(&item) {
            Ok(net) => match unsupported(&net) {
                Some(problem) => problems.push(problem),
                None => networks.push(net),
            },
            Err(mut found) => problems.append(&mut found),
        }
    }
    problems.extend(
        nn_grammar::check_together(networks.iter().map(Some))
            .into_iter()
            .flatten(),
    );
    // In the file's order, the clashes among the rest.
    problems.sort_by_key(|d| d.range.start);
    if problems.is_empty() {
        Ok(networks)
    } else {
        Err(problems)
    }
}

/// The Rust items for every network of a `.nn` file, all spanned at `span`.
///
/// This is the one path from a file to code: `nn::network_file!`, `nnc build` and
/// `nn_codegen::build::compile` all go through [`check_file`] and [`expand`], so they generate
/// the same code as `nn::network!` does for the same declarations.
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
/// The syntax error, or every problem of every declaration.
pub fn expand_file(text: &str, span: Span) -> Result<TokenStream, Vec<Diagnostic>> {
    Ok(check_file(text)?
        .iter()
        .map(|net| expand(net, TokenStream::new(), &|_| span))
        .collect())
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
    let mut tokens = items(&net);
    tokens.extend(shared::plain_sizes(io::baked(&net, weights)));
    tokens.extend(shared::plain_sizes(emit_quant::baked(&net, weights)));
    tokens.extend(shared::plain_sizes(emit_half::baked(&net, weights)));
    tokens
}

#[cfg(test)]
mod tests {
    use proc_macro2::{Span, TokenStream};

    /// Everything generated for `declaration`, as text.
    fn expanded(declaration: &str) -> String {
        let net = nn_grammar::compile_item(declaration).unwrap();
        super::expand(&net, TokenStream::new(), &|_| Span::call_site()).to_string()
    }

    /// A declaration with several twins generates the network, then each twin's tokens as a
    /// declaration with that format alone generates them: after the network's, the int8
    /// twin's, then the half twins' in the order written.
    #[test]
    fn several_twins_are_each_twin_alone() {
        let net = "struct Net = 6 -> 5 relu -> 4 tanh -> dropout(0.5) -> 3 softmax";
        let alone = |options: &str| expanded(&format!("{net} {options};"));
        let plain = alone("");
        let twin = |format: &str| {
            let tokens = alone(&format!("with quantize = {format}"));
            assert!(
                tokens.starts_with(&plain),
                "{format}: the network's tokens first"
            );
            tokens[plain.len()..].to_owned()
        };
        let (int8, bf16, f16) = (twin("int8"), twin("bf16"), twin("f16"));
        assert_eq!(
            alone("with quantize = bf16, quantize = int8"),
            format!("{plain}{int8}{bf16}")
        );
        assert_eq!(
            alone("with quantize = f16, quantize = int8, quantize = bf16"),
            format!("{plain}{int8}{f16}{bf16}")
        );
        assert_eq!(
            alone("with quantize = bf16, quantize = f16"),
            format!("{plain}{bf16}{f16}")
        );
    }
}
