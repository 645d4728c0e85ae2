//! The nn network language: its pest grammar, a typed AST with byte ranges, and the semantic
//! checks that turn a declaration into a [`Network`] or a list of located [`Diagnostic`]s.
//!
//! ```
//! let item = nn_grammar::parse_item("pub struct Xor = 2 -> 2 relu -> 1 sigmoid;").unwrap();
//! let net = nn_grammar::check(&item).unwrap();
//! assert_eq!((net.inputs, net.outputs(), net.parameters()), (2, 1, 9));
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
pub mod network;
mod parse;
mod print;

pub use ast::TextRange;
pub use check::{SETTINGS, check};
pub use diag::{Diagnostic, line_col};
pub use network::{Activation, Layer, Network, Scalar, Unroll};
pub use parse::{parse_file, parse_item};

/// Parses and checks one declaration (the macro's path).
///
/// # Errors
///
/// The syntax error, or every semantic problem.
pub fn compile_item(text: &str) -> Result<Network, Vec<Diagnostic>> {
    check(&parse_item(text)?)
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
    if problems.is_empty() {
        Ok(networks)
    } else {
        Err(problems)
    }
}
