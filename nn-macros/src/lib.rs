//! The `network!` procedural macro. A thin shim: it splits off outer attributes, renders the
//! declaration to text with a `SourceMap`, and hands the text to `nn-grammar` and the checked
//! network to `nn-codegen`. Diagnostics come back as byte ranges and leave as spanned
//! `compile_error!`s, all of them at once.

mod bake;
mod file;
mod source_map;

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
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
    let checked: Vec<(RawItem, SourceMap, nn_grammar::Recovered)> = items
        .into_iter()
        .map(|item| {
            let map = SourceMap::new(item.body.clone(), item.end);
            let recovered = nn_grammar::compile_item_recovering(map.text());
            (item, map, recovered)
        })
        .collect();
    let clashes = nn_grammar::check_together(
        checked
            .iter()
            .map(|(_, _, recovered)| recovered.network.as_ref()),
    );
    checked
        .into_iter()
        .zip(clashes)
        .map(|((item, map, recovered), clash)| match clash {
            // The error alone: the code would repeat the earlier network's definitions.
            Some(problem) => map.error(&problem).into_compile_error(),
            None => expand_item(item, &map, &recovered),
        })
        .collect()
}

/// `attributes` without their `#[cfg(..)]`s, and an error on each: the attribute would reach
/// the struct alone, leaving the impls and companion types generated beside it behind (errors
/// that name the missing type, not the attribute). The macro call takes it instead.
fn without_cfg(attributes: TokenStream) -> (TokenStream, TokenStream) {
    let mut kept = TokenStream::new();
    let mut errors = TokenStream::new();
    let mut tokens = attributes.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let is_cfg = matches!(
            (&token, tokens.peek()),
            (TokenTree::Punct(hash), Some(TokenTree::Group(attribute)))
                if hash.as_char() == '#' && removes(attribute)
        );
        if is_cfg {
            if let Some(TokenTree::Group(group)) = tokens.next() {
                errors.extend(
                    syn::Error::new(
                        group.span(),
                        "expected the `#[cfg]` on the macro call, as in `#[cfg(test)] \
                         nn::network! { ... }` (with the declarations it covers): on a \
                         declaration it would remove the struct and leave the code generated \
                         beside it",
                    )
                    .into_compile_error(),
                );
            }
        } else {
            kept.extend([token]);
        }
    }
    (kept, errors)
}

/// Whether an attribute's `[..]` may remove what it is on: `cfg(..)`, or a
/// `cfg_attr(.., cfg(..))` that may become one.
fn removes(attribute: &Group) -> bool {
    let mut inside = attribute.stream().into_iter();
    match inside.next() {
        Some(TokenTree::Ident(name)) if name == "cfg" => true,
        Some(TokenTree::Ident(name)) if name == "cfg_attr" => matches!(
            inside.next(),
            Some(TokenTree::Group(arguments)) if mentions_cfg(arguments.stream())
        ),
        _ => false,
    }
}

/// Whether `arguments` (a `cfg_attr`'s, after its predicate) hold a `cfg(..)` attribute.
fn mentions_cfg(arguments: TokenStream) -> bool {
    let mut tokens = arguments.into_iter().peekable();
    // The predicate, up to the first comma at this level, may itself mention `cfg`-like names.
    for token in tokens.by_ref() {
        if matches!(&token, TokenTree::Punct(p) if p.as_char() == ',') {
            break;
        }
    }
    while let Some(token) = tokens.next() {
        if matches!(&token, TokenTree::Ident(name) if name == "cfg")
            && matches!(tokens.peek(), Some(TokenTree::Group(_)))
        {
            return true;
        }
    }
    false
}

fn expand_item(item: RawItem, map: &SourceMap, recovered: &nn_grammar::Recovered) -> TokenStream {
    let (attributes, cfg_errors) = without_cfg(item.attributes);
    let item = RawItem { attributes, ..item };
    let expanded = expand_checked(item, map, recovered);
    quote!(#cfg_errors #expanded)
}

fn expand_checked(
    item: RawItem,
    map: &SourceMap,
    recovered: &nn_grammar::Recovered,
) -> TokenStream {
    let names = fallback_names(&item.body);
    let span_of = |range: nn_grammar::TextRange| map.span_at(range.start);
    if recovered.problems.is_empty()
        && let Some(net) = &recovered.network
    {
        let Some((file, range)) = &net.weights else {
            return nn_codegen::expand(net, item.attributes, &span_of);
        };
        return match bake::read(net, file) {
            Ok(weights) => nn_codegen::expand_baked(net, item.attributes, &span_of, Some(&weights)),
            Err(message) => {
                let error = map
                    .error(&nn_grammar::Diagnostic::new(*range, message))
                    .into_compile_error();
                let items = nn_codegen::expand_baked(net, item.attributes, &span_of, None);
                quote!(#error #items)
            }
        };
    }
    let errors = map.errors(&recovered.problems).into_compile_error();
    // The declaration's errors, and code that keeps every use of the network from adding its
    // own: the network as recovered (the weights file is not read: `BAKED` is zeros), else a
    // stub with the whole API.
    let code = match &recovered.network {
        Some(net) if net.weights.is_some() => {
            nn_codegen::expand_baked(net, item.attributes, &span_of, None)
        }
        Some(net) => nn_codegen::expand(net, item.attributes, &span_of),
        None => names.map_or_else(TokenStream::new, |(name, visibility)| {
            nn_codegen::stub(nn_codegen::Stub {
                name,
                visibility,
                attributes: item.attributes,
                input: recovered.input,
                output: recovered.output,
                scalar: recovered.scalar,
                sequence: recovered.sequence,
            })
        }),
    };
    quote!(#errors #code)
}

/// The name and visibility of a broken declaration, read from its tokens, for the stub that
/// stands in for it; `None` when there is no usable name.
fn fallback_names(body: &TokenStream) -> Option<(proc_macro2::Ident, TokenStream)> {
    let tokens: Vec<TokenTree> = body.clone().into_iter().collect();
    let at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i == "struct"))?;
    let Some(TokenTree::Ident(name)) = tokens.get(at + 1) else {
        return None;
    };
    // A keyword or `_` cannot name a struct: the grammar reports it, the fallback must not.
    syn::parse2::<syn::Ident>(TokenTree::Ident(name.clone()).into()).ok()?;
    // Nor can a primitive type: code naming it means the primitive.
    if PRIMITIVE_TYPES.contains(&name.to_string().as_str()) {
        return None;
    }
    Some((name.clone(), fallback_visibility(&tokens[..at])))
}

/// Primitive types, which a stub struct must not shadow.
const PRIMITIVE_TYPES: [&str; 17] = [
    "bool", "char", "str", "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16",
    "u32", "u64", "u128", "usize",
];

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
