//! The nn network language: its pest grammar, a typed AST with byte ranges, and the semantic
//! checks that turn a declaration into a [`Network`] or a list of located [`Diagnostic`]s.
//!
//! ```
//! let item = nn_grammar::parse_item("pub struct Xor = 2 -> 2 relu -> 1 sigmoid;").unwrap();
//! let net = nn_grammar::check(&item).unwrap();
//! assert_eq!((net.input.elements(), net.output().elements(), net.parameters()), (2, 1, 9));
//! ```
//!
//! Both `ast::Item` and [`Network`] print as canonical `.nn` text with `Display`; parsing that
//! text gives back the same declaration:
//!
//! ```
//! let net = nn_grammar::compile_item("struct Net=4->3 relu as hidden->2 softmax;").unwrap();
//! assert_eq!(net.to_string(), "struct Net = 4 -> 3 relu as hidden -> 2 softmax;");
//! ```
//!
//! This crate depends on pest only: no `syn`, `quote` or `proc-macro2`. Its locations are
//! byte ranges; the macro and `nnc` map them to spans or `line:col`.

pub mod ast;
mod check;
mod diag;
mod kinds;
pub mod network;
mod parse;
mod print;

pub use ast::TextRange;
pub use check::{
    Recovered, SETTINGS, check, check_recovering, check_together, struct_name_problem,
};
pub use diag::{Diagnostic, line_col};
pub use kinds::KINDS;
pub use network::{
    Activation, Cell, Conv1d, Conv2d, Layer, LayerKind, MAX_HALF_CONV_WEIGHTS,
    MAX_QUANTIZED_INPUTS, MAX_RECURRENT_LEVELS, Network, Pool1d, Pool2d, Quantize, Recurrent,
    Scalar, Shape, Unroll,
};
pub use parse::{parse_file, parse_item};

/// Parses and checks one declaration (the macro's path).
///
/// # Errors
///
/// The syntax error, or every semantic problem.
pub fn compile_item(text: &str) -> Result<Network, Vec<Diagnostic>> {
    check(&parse_item(text)?)
}

/// Parses and checks one declaration, recovering from its problems where it can: what the macro
/// generates code from when the declaration is wrong, so that the uses of the network report
/// nothing more than the declaration's own errors.
///
/// A syntax error is reported alone, as [`parse_item`] reports it; the network is then the one
/// a single small edit at the error makes correct (a missing `;` or `->` added, a stray token
/// removed), if one does. Otherwise as [`check_recovering`].
///
/// ```
/// let recovered = nn_grammar::compile_item_recovering("struct Net = 4 -> 8 rleu -> 2 softmax;");
/// assert_eq!(recovered.problems.len(), 1);
/// let net = recovered.network.unwrap();
/// assert_eq!((net.input.width(), net.output().width()), (Some(4), Some(2)));
/// assert_eq!(net.layers[0].activation, nn_grammar::Activation::Linear);
///
/// let recovered = nn_grammar::compile_item_recovering("struct Net = 4 -> 8 relu 2 softmax;");
/// assert!(recovered.problems[0].message.starts_with("expected"));
/// assert_eq!(recovered.network.unwrap().to_string(), "struct Net = 4 -> 8 relu -> 2 softmax;");
/// ```
pub fn compile_item_recovering(text: &str) -> Recovered {
    match parse_item(text) {
        Ok(item) => check_recovering(&item),
        Err(problems) => {
            let network = problems.first().and_then(|error| repair(text, error));
            // Without a network, any word that names a recurrent kind makes one a sequence
            // network.
            let sequence = network.as_ref().map_or_else(
                || {
                    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                        .any(|word| kinds::STATEFUL_WORDS.contains(&word))
                },
                Network::is_sequence,
            );
            Recovered {
                input: network.as_ref().map(|n| n.input),
                output: network.as_ref().map(Network::output),
                scalar: network.as_ref().map_or(Scalar::F32, |n| n.scalar),
                network,
                problems,
                sequence,
            }
        }
    }
}

/// The network that one small edit at a syntax error makes correct, if one does.
fn repair(text: &str, error: &Diagnostic) -> Option<Network> {
    edits(text, error).iter().find_map(|candidate| {
        let recovered = check_recovering(&parse_item(candidate).ok()?);
        if recovered.problems.is_empty() {
            recovered.network
        } else {
            None
        }
    })
}

/// The declarations of a `.nn` file with a syntax error after the one small edit at the error
/// that makes every declaration of the file correct, if one does (see
/// [`compile_item_recovering`]): for `network_file!` to generate them while it reports the
/// error. Their ranges are in the edited text.
pub fn repair_file(text: &str, error: &Diagnostic) -> Option<Vec<ast::Item>> {
    edits(text, error).into_iter().find_map(|candidate| {
        let items = parse_file(&candidate).ok()?;
        items
            .iter()
            .all(|item| check(item).is_ok())
            .then_some(items)
    })
}

/// The texts that one small edit at a syntax error gives: `;` added at the end, the token at the
/// error removed, `->` inserted before it.
fn edits(text: &str, error: &Diagnostic) -> Vec<String> {
    let at = error.range.start.min(text.len());
    if !text.is_char_boundary(at) {
        return Vec::new();
    }
    // The token at the error: up to the next space, or the end.
    let end = text[at..]
        .find(char::is_whitespace)
        .map_or(text.len(), |length| at + length);
    vec![
        format!("{};", text.trim_end()),
        format!("{}{}", &text[..at], &text[end..]),
        format!("{}-> {}", &text[..at], &text[at..]),
    ]
}

/// Parses and checks every declaration of a `.nn` file, reporting the problems of all of them.
///
/// # Errors
///
/// The syntax error, or every semantic problem of every declaration.
pub fn compile_file(text: &str) -> Result<Vec<Network>, Vec<Diagnostic>> {
    let mut networks = Vec::new();
    let mut problems = Vec::new();
    for item in parse_file(text)? {
        match check(&item) {
            Ok(net) => networks.push(net),
            Err(mut ds) => problems.append(&mut ds),
        }
    }
    problems.extend(
        check_together(networks.iter().map(Some))
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
