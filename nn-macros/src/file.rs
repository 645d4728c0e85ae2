//! `network_file!`: the networks of a `.nn` file, compiled at build time.
//!
//! A file's text arrives as one string literal, and stable Rust cannot point inside a literal
//! (`Literal::subspan` is nightly-only), so every error is spanned on the path and names
//! `file:line:col`.

use nn_grammar::{Diagnostic, line_col};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use std::path::Path;

/// Expands `network_file!("path")`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let path: syn::LitStr = match syn::parse2(input) {
        Ok(path) => path,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "expected the path of a `.nn` file relative to the crate root, such as `\"models/mnist.nn\"`",
            )
            .into_compile_error();
        }
    };
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => expand_in(&path, Path::new(&dir)),
        None => syn::Error::new(
            path.span(),
            "`CARGO_MANIFEST_DIR` is not set: build with Cargo to use `network_file!`",
        )
        .into_compile_error(),
    }
}

/// Expands `network_file!(path)` for a crate whose root is `manifest_dir`.
pub(crate) fn expand_in(path: &syn::LitStr, manifest_dir: &Path) -> TokenStream {
    let relative = path.value();
    let span = path.span();
    let file = manifest_dir.join(&relative);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) => {
            return syn::Error::new(
                span,
                format!("cannot read `{relative}` (relative to `CARGO_MANIFEST_DIR`): {e}"),
            )
            .into_compile_error();
        }
    };
    // Reading the file makes it an input of the build: cargo rebuilds when it changes.
    let absolute = file.to_string_lossy();
    let track = quote_spanned!(span=> const _: &str = ::core::include_str!(#absolute););

    let items = match nn_grammar::parse_file(&text) {
        Ok(items) => items,
        Err(diagnostics) => {
            let errors = errors(&relative, &text, &diagnostics, span);
            return quote!(#errors #track);
        }
    };
    let mut out = track;
    for item in &items {
        let checked = nn_grammar::check(item).and_then(|net| match nn_codegen::unsupported(&net) {
            Some(problem) => Err(vec![problem]),
            None => Ok(net),
        });
        match checked {
            Ok(net) => out.extend(nn_codegen::expand(&net, TokenStream::new(), &|_| span)),
            Err(diagnostics) => {
                out.extend(errors(&relative, &text, &diagnostics, span));
                // As `network!` does: a bare struct, so that uses of it do not cascade.
                let visibility: TokenStream = item
                    .visibility
                    .as_ref()
                    .and_then(|v| v.text.parse().ok())
                    .unwrap_or_default();
                let name = syn::parse_str::<syn::Ident>(&item.name.text)
                    .map(|mut name| {
                        name.set_span(span);
                        quote!(#[allow(dead_code)] #visibility struct #name;)
                    })
                    .unwrap_or_default();
                out.extend(name);
            }
        }
    }
    out
}

/// One `compile_error!` per diagnostic, on the path, with `file:line:col` in the message.
fn errors(relative: &str, text: &str, diagnostics: &[Diagnostic], span: Span) -> TokenStream {
    diagnostics
        .iter()
        .map(|d| {
            let (line, col) = line_col(text, d.range.start);
            syn::Error::new(span, format!("{relative}:{line}:{col}: {}", d.message))
                .into_compile_error()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A crate root holding `name` with `text`, unique to the test.
    fn crate_with(case: &str, name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nn-macros-{}-{case}", std::process::id()));
        std::fs::create_dir_all(dir.join("models")).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
        dir
    }

    fn expand_text(case: &str, text: &str) -> String {
        let dir = crate_with(case, "models/net.nn", text);
        let path = syn::LitStr::new("models/net.nn", Span::call_site());
        let out = expand_in(&path, &dir).to_string();
        std::fs::remove_dir_all(dir).unwrap();
        out
    }

    #[test]
    fn expands_every_network_and_tracks_the_file() {
        let out = expand_text(
            "ok",
            "// two networks\n/// Doc.\npub struct A = 2 -> 1;\nstruct B = 3 -> 2 relu -> 1;\n",
        );
        assert!(out.contains("include_str !"), "{out}");
        assert!(out.contains("models/net.nn"), "{out}");
        assert!(out.contains("pub struct A"), "{out}");
        assert!(out.contains("struct B"), "{out}");
        assert!(out.contains("# [doc = \" Doc.\"]"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn errors_name_file_line_and_column_and_leave_a_stub() {
        let out = expand_text(
            "check",
            "pub struct A = 2 -> 1;\n\npub(crate) struct B = 3 -> 2 rleu -> 0;\n",
        );
        assert!(
            out.contains("models/net.nn:3:30: unknown activation `rleu`, did you mean `relu`?"),
            "{out}"
        );
        assert!(
            out.contains("models/net.nn:3:38: a layer width must be at least 1, found `0`"),
            "{out}"
        );
        // The good network is still generated, the bad one is a stub.
        assert!(out.contains("pub struct A {"), "{out}");
        assert!(
            out.contains("# [allow (dead_code)] pub (crate) struct B ;"),
            "{out}"
        );
    }

    #[test]
    fn a_syntax_error_names_its_position() {
        let out = expand_text("syntax", "struct A = 2 -> 1\nstruct B = 1 -> 1;");
        assert!(out.contains("models/net.nn:2:1: expected"), "{out}");
    }

    #[test]
    fn unsupported_weights_are_an_error_on_the_file() {
        let out = expand_text(
            "weights",
            "struct A = 2 -> 1 with weights = \"a.safetensors\";",
        );
        assert!(
            out.contains(
                "models/net.nn:1:34: the `weights` option bakes weights in and needs `network!`"
            ),
            "{out}"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_not_a_panic() {
        let path = syn::LitStr::new("models/missing.nn", Span::call_site());
        let out = expand_in(&path, &std::env::temp_dir()).to_string();
        assert!(
            out.contains("cannot read `models/missing.nn` (relative to `CARGO_MANIFEST_DIR`)"),
            "{out}"
        );
        assert!(!out.contains("include_str"), "{out}");
    }

    #[test]
    fn anything_but_a_string_is_explained() {
        let out = expand(quote!(models / mnist)).to_string();
        assert!(out.contains("expected the path of a `.nn` file"), "{out}");
    }
}
