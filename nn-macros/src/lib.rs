//! The `network!` procedural macro. A thin shim: it splits off outer attributes, renders the
//! declaration to text with a `SourceMap`, and hands the text to `nn-grammar` and the checked
//! network to `nn-codegen`. Diagnostics come back as byte ranges and leave as spanned
//! `compile_error!`s, all of them at once.

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
            if let Some((_, range)) = &net.weights {
                let problem = nn_grammar::Diagnostic::new(
                    *range,
                    "the `weights` option is not supported by this version of nn",
                );
                let error = map.error(&problem).into_compile_error();
                return quote!(#error #fallback);
            }
            nn_codegen::expand(&net, item.attributes, &|range| map.span_at(range.start))
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
    let visibility: TokenStream = tokens[..at].iter().cloned().collect();
    // Only reuse what is certainly a visibility, to not add errors of our own.
    let visibility = if visibility.to_string().starts_with("pub") {
        visibility
    } else {
        TokenStream::new()
    };
    quote!(#[allow(dead_code)] #visibility struct #name;)
}
