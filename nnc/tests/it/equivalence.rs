//! One language, one generator: for every example network, `nnc build` prints exactly what
//! `nn::network!` expands to, formatted.
//!
//! The macro's side follows the macro's own path in-process: the declaration's tokens (as rustc
//! would hand them over: comments gone, `///` docs turned into `#[doc]` attributes), split into
//! attributes and body, the body rendered to text, `nn_grammar::compile_item`, then
//! `nn_codegen::expand` with the attributes. `nnc` reads the same text as a `.nn` file, where
//! the grammar itself parses docs and comments.

use crate::{nnc, root, scratch};
use proc_macro2::{Span, TokenStream, TokenTree};
use std::path::Path;

/// What `nn::network! { body }` expands to, formatted.
fn macro_expansion(body: &str) -> String {
    let tokens: TokenStream = body.parse().expect("a declaration is Rust tokens");
    let mut expansion = TokenStream::new();
    for (attributes, item) in split_items(tokens) {
        let net =
            nn_grammar::compile_item(&item.to_string()).unwrap_or_else(|e| panic!("{body}: {e:?}"));
        assert!(nn_codegen::unsupported(&net).is_none());
        expansion.extend(nn_codegen::expand(&net, attributes, &|_| Span::call_site()));
    }
    // The formatter is shared: what is compared is the code.
    nn_codegen::pretty::format(&expansion)
}

/// Splits macro input into (outer attributes, tokens up to and including `;`), as the macro does.
fn split_items(tokens: TokenStream) -> Vec<(TokenStream, TokenStream)> {
    let mut items = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while tokens.peek().is_some() {
        let mut attributes = TokenStream::new();
        while matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '#') {
            attributes.extend(tokens.next());
            attributes.extend(tokens.next());
        }
        let mut item = TokenStream::new();
        for token in tokens.by_ref() {
            let end = matches!(&token, TokenTree::Punct(p) if p.as_char() == ';');
            item.extend([token]);
            if end {
                break;
            }
        }
        items.push((attributes, item));
    }
    items
}

/// The bodies of the `network! { ... }` invocations in Rust source text.
fn network_bodies(source: &str) -> Vec<&str> {
    let mut bodies = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("network!") {
        rest = rest[at + "network!".len()..].trim_start();
        let Some(open) = rest.chars().next() else {
            break;
        };
        let close = match open {
            '{' => '}',
            '(' => ')',
            '[' => ']',
            _ => continue,
        };
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == open {
                    depth += 1;
                } else if c == close {
                    depth -= 1;
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a closed invocation");
        bodies.push(&rest[1..end]);
        rest = &rest[end..];
    }
    bodies
}

/// `nnc build` on the file `name` in `dir`, and the header it should start with.
fn build(dir: &Path, name: &str) -> (String, String) {
    let run = nnc(dir, &["build", name]);
    assert_eq!(run.code, 0, "{name}: {run:?}");
    (run.stdout, nn_codegen::pretty::header(name))
}

/// Files in `dir` whose name ends with `extension`, sorted.
fn files(dir: &Path, extension: &str) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    found.sort();
    found
}

#[test]
fn every_network_of_the_examples() {
    let mut compared = Vec::new();
    for example in files(&root().join("examples"), "rs") {
        let source = std::fs::read_to_string(&example).expect("read example");
        for body in network_bodies(&source) {
            let dir = scratch();
            std::fs::write(dir.join("example.nn"), body).expect("write example.nn");
            let (built, header) = build(&dir, "example.nn");
            assert_eq!(
                built,
                header + &macro_expansion(body),
                "{}",
                example.display()
            );
            compared.push(example.clone());
        }
    }
    // The README's network, at least.
    assert!(
        compared.iter().any(|p| p.ends_with("examples/mnist.rs")),
        "{compared:?}"
    );
}

#[test]
fn every_model_file() {
    let mut models = files(&root().join("models"), "nn");
    models.extend(files(&root().join("examples/build-script/models"), "nn"));
    assert!(models.len() >= 3, "{models:?}");
    for model in models {
        let name = model
            .strip_prefix(root())
            .expect("inside the workspace")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&model).expect("read model");
        let (built, header) = build(&root(), &name);
        assert_eq!(built, header + &macro_expansion(&text), "{name}");
    }
}

#[test]
fn docs_and_comments_mean_the_same_in_both() {
    // `///` lines, blank `///` lines, comments between docs and inside the chain.
    let text = "// a comment\n/// First line.\n///\n/// Third line.\n/* block */ pub(crate) struct Net = 4 // four\n    -> 3 relu /* three */ -> 2 leaky_relu(-0.5)\n    with scalar = f64, crate = ::nn;\n";
    let dir = scratch();
    std::fs::write(dir.join("net.nn"), text).expect("write net.nn");
    let (built, header) = build(&dir, "net.nn");
    let expected = header + &macro_expansion(text);
    assert_eq!(built, expected);
    assert!(
        built.contains(
            "/// First line.\n///\n/// Third line.\n#[allow(dead_code)]\npub(crate) struct Net {"
        ),
        "{built}"
    );
}

#[test]
fn the_scanner_finds_invocations() {
    let source =
        "nn::network! { struct A = 1 -> 1; }\nnn::network!(struct B = 2 -> 1 leaky_relu(0.1););";
    assert_eq!(
        network_bodies(source),
        [" struct A = 1 -> 1; ", "struct B = 2 -> 1 leaky_relu(0.1);"]
    );
}
