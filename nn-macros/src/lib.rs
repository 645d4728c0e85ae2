//! The `network!` procedural macro. A thin shim: it splits off outer attributes, renders the
//! declaration to text with a `SourceMap`, and hands the text to `nn-grammar` and the checked
//! network to `nn-codegen`. Diagnostics come back as byte ranges and leave as spanned
//! `compile_error!`s, all of them at once.

mod bake;
mod file;
mod source_map;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;
use source_map::SourceMap;

/// Declares one or more networks; see the `nn` crate for the language.
///
/// ```text
/// nn::network! {
///     /// Classifies 28x28 handwritten digits.
///     pub struct Mnist = 784 -> 128 relu -> 10 softmax;
/// }
/// ```
#[proc_macro]
pub fn network(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand(input.into()).into()
}

/// Declares the networks of a `.nn` file, whose path is relative to the crate root
/// (`CARGO_MANIFEST_DIR`); the crate is rebuilt when the file changes.
///
/// The file holds any number of declarations in the language of `network!`, with `///` docs
/// and `//` or `/* */` comments. Errors are reported on the path as `file:line:col: message`.
///
/// ```text
/// nn::network_file!("models/mnist.nn");
/// ```
#[proc_macro]
pub fn network_file(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    file::expand(input.into()).into()
}

/// One declaration as the macro received it.
struct RawItem {
    /// Outer attributes, `///` docs included, passed through unchanged.
    attributes: TokenStream,
    /// Everything from the visibility to the `;`.
    body: TokenStream,
    /// Where to point when the body ends too early: its last token.
    end: Span,
}

/// Splits the input into declarations: attributes, then tokens up to and including `;`.
fn split_items(input: TokenStream) -> Vec<RawItem> {
    let mut items = Vec::new();
    let mut tokens = input.into_iter().peekable();
    let mut end = Span::call_site();
    while tokens.peek().is_some() {
        let mut attributes = TokenStream::new();
        while let Some(TokenTree::Punct(p)) = tokens.peek() {
            if p.as_char() != '#' {
                break;
            }
            let hash = tokens.next();
            match tokens.peek() {
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
                    let group = tokens.next();
                    attributes.extend(hash);
                    attributes.extend(group);
                }
                // A stray `#`: leave it to the grammar to reject, on its own token.
                _ => {
                    let mut body: TokenStream = hash.into_iter().collect();
                    body.extend(tokens.by_ref());
                    items.push(RawItem {
                        attributes,
                        body,
                        end,
                    });
                    return items;
                }
            }
        }
        let mut body = TokenStream::new();
        for token in tokens.by_ref() {
            end = token.span();
            let is_semicolon = matches!(&token, TokenTree::Punct(p) if p.as_char() == ';');
            body.extend([token]);
            if is_semicolon {
                break;
            }
        }
        items.push(RawItem {
            attributes,
            body,
            end,
        });
    }
    items
}

fn expand(input: TokenStream) -> TokenStream {
    let items = split_items(input);
    if items.is_empty() {
        return syn::Error::new(
            Span::call_site(),
            "expected a network declaration, such as `pub struct Net = 2 -> 1 sigmoid;`",
        )
        .into_compile_error();
    }
    items.into_iter().map(expand_item).collect()
}

fn expand_item(item: RawItem) -> TokenStream {
    let fallback = fallback_struct(&item.body);
    let map = SourceMap::new(item.body, item.end);
    match nn_grammar::compile_item(map.text()) {
        Ok(net) => {
            let span_of = |range: nn_grammar::TextRange| map.span_at(range.start);
            let Some((file, range)) = &net.weights else {
                return nn_codegen::expand(&net, item.attributes, &span_of);
            };
            match bake::read(&net, file) {
                Ok(weights) => {
                    nn_codegen::expand_baked(&net, item.attributes, &span_of, Some(&weights))
                }
                Err(message) => {
                    let error = map
                        .error(&nn_grammar::Diagnostic::new(*range, message))
                        .into_compile_error();
                    let items = nn_codegen::expand_baked(&net, item.attributes, &span_of, None);
                    quote!(#error #items)
                }
            }
        }
        Err(diagnostics) => {
            let errors = map.errors(&diagnostics).into_compile_error();
            quote!(#errors #fallback)
        }
    }
}

/// `pub struct Name;`, so that code using a network with a broken declaration reports the
/// declaration's errors instead of a cascade of "cannot find type".
fn fallback_struct(body: &TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = body.clone().into_iter().collect();
    let struct_at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i == "struct"));
    let Some(at) = struct_at else {
        return TokenStream::new();
    };
    let Some(TokenTree::Ident(name)) = tokens.get(at + 1) else {
        return TokenStream::new();
    };
    // A keyword or `_` cannot name a struct: the grammar reports it, the fallback must not.
    if syn::parse2::<syn::Ident>(TokenTree::Ident(name.clone()).into()).is_err() {
        return TokenStream::new();
    }
    let visibility = fallback_visibility(&tokens[..at]);
    quote!(#[allow(dead_code)] #visibility struct #name;)
}

/// The written visibility if it is certainly valid Rust, else `pub` if it starts so, else none:
/// the fallback must not add errors of its own.
fn fallback_visibility(tokens: &[TokenTree]) -> TokenStream {
    let is_pub = |t: &TokenTree| matches!(t, TokenTree::Ident(i) if i == "pub");
    let Some(first) = tokens.first().filter(|t| is_pub(t)) else {
        return TokenStream::new();
    };
    let certain = match tokens {
        [_] => true,
        [_, TokenTree::Group(scope)] if scope.delimiter() == Delimiter::Parenthesis => {
            let scope = scope.stream().to_string();
            ["crate", "self", "super"].contains(&scope.as_str())
        }
        _ => false,
    };
    if certain {
        tokens.iter().cloned().collect()
    } else {
        TokenStream::from(first.clone())
    }
}
