//! Macro tokens to DSL text, remembering which token made which bytes.
//!
//! Stable Rust cannot map a byte offset to a span, nor join spans, so the macro renders its
//! tokens itself (separated by spaces, none after a joint punctuation such as the `-` of `->`)
//! and maps pest's byte ranges back to the token that produced them.

use nn_grammar::{Diagnostic, TextRange};
use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use std::ops::Range;

/// DSL text handed to pest, and the span of the token behind each byte range.
pub(crate) struct SourceMap {
    text: String,
    pieces: Vec<(Range<usize>, Span)>,
    end: Span,
}

impl SourceMap {
    /// Renders `tokens`; `end` is where problems at the end of the input point.
    pub(crate) fn new(tokens: TokenStream, end: Span) -> Self {
        let mut map = Self {
            text: String::new(),
            pieces: Vec::new(),
            end,
        };
        map.render(tokens);
        map
    }

    fn push(&mut self, text: &str, span: Span, space_after: bool) {
        let start = self.text.len();
        self.text.push_str(text);
        self.pieces.push((start..self.text.len(), span));
        if space_after {
            self.text.push(' ');
        }
    }

    fn render(&mut self, tokens: TokenStream) {
        for token in tokens {
            match token {
                TokenTree::Group(group) => {
                    let (open, close) = match group.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    if !open.is_empty() {
                        self.push(open, group.span_open(), true);
                    }
                    self.render(group.stream());
                    if !close.is_empty() {
                        self.push(close, group.span_close(), true);
                    }
                }
                TokenTree::Punct(punct) => {
                    let joint = punct.spacing() == proc_macro2::Spacing::Joint;
                    self.push(&punct.as_char().to_string(), punct.span(), !joint);
                }
                TokenTree::Ident(ident) => self.push(&ident.to_string(), ident.span(), true),
                TokenTree::Literal(literal) => {
                    self.push(&literal.to_string(), literal.span(), true);
                }
            }
        }
    }

    /// The text pest parses.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The token containing `byte`, else the next token, else the end of the input.
    pub(crate) fn span_at(&self, byte: usize) -> Span {
        self.pieces
            .iter()
            .find(|(r, _)| byte < r.end)
            .map_or(self.end, |(_, s)| *s)
    }

    /// The span of the last token starting before `byte`.
    fn span_before(&self, byte: usize) -> Span {
        self.pieces
            .iter()
            .rev()
            .find(|(r, _)| r.start < byte)
            .map_or(self.end, |(_, s)| *s)
    }

    /// One error per diagnostic, underlining every token of its range.
    pub(crate) fn error(&self, diagnostic: &Diagnostic) -> syn::Error {
        let TextRange { start, end } = diagnostic.range;
        let first = self.span_at(start);
        let last = if end > start {
            self.span_before(end)
        } else {
            first
        };
        // `new_spanned` takes the start of the first token and the end of the last one: on
        // stable this is the only way to underline several tokens.
        let mut first_token = proc_macro2::Ident::new("x", first);
        first_token.set_span(first);
        let last_token = proc_macro2::Ident::new("x", last);
        syn::Error::new_spanned(quote::quote!(#first_token #last_token), &diagnostic.message)
    }

    /// All diagnostics as one combined error.
    pub(crate) fn errors(&self, diagnostics: &[Diagnostic]) -> syn::Error {
        let mut errors = diagnostics.iter().map(|d| self.error(d));
        let mut combined = errors
            .next()
            .unwrap_or_else(|| syn::Error::new(self.end, "invalid network declaration"));
        for error in errors {
            combined.combine(error);
        }
        combined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn renders_arrows_joined_and_words_apart() {
        let map = SourceMap::new(
            quote!(pub(crate) struct A = 784 -> 10 leaky_relu(-0.1);),
            Span::call_site(),
        );
        assert_eq!(
            map.text(),
            "pub ( crate ) struct A = 784 -> 10 leaky_relu ( - 0.1 ) ; "
        );
        assert_eq!(map.pieces.len(), 17);
    }
}
