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
        // Without a leading byte order mark, which a Rust source file may have too.
        Ok(text) => match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_owned(),
            None => text,
        },
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
            // As `network!` does: the error alone, and the networks as one small edit at the
            // error makes them correct, if one does, so that their uses add no errors.
            let errors = errors(&relative, &text, &diagnostics, span);
            let repaired: TokenStream = diagnostics
                .first()
                .and_then(|error| nn_grammar::repair_file(&text, error))
                .iter()
                .flatten()
                .filter_map(|item| nn_grammar::check(item).ok())
                .map(|net| nn_codegen::expand(&net, TokenStream::new(), &|_| span))
                .collect();
            return quote!(#errors #track #repaired);
        }
    };
    let mut out = track;
    let checked: Vec<nn_grammar::Recovered> = items
        .iter()
        .map(|item| {
            let mut recovered = nn_grammar::check_recovering(item);
            if let Some(problem) = recovered.network.as_ref().and_then(nn_codegen::unsupported) {
                recovered.problems.push(problem);
            }
            if let Some(net) = &mut recovered.network {
                // Files cannot bake weights: the option is reported above, and dropped.
                net.weights = None;
            }
            recovered
        })
        .collect();
    let clashes = nn_grammar::check_together(checked.iter().map(|r| r.network.as_ref()));
    for ((item, recovered), clash) in items.iter().zip(&checked).zip(clashes) {
        if let Some(problem) = clash {
            // The error alone, as `network!` does: the code would repeat the earlier
            // network's definitions.
            out.extend(errors(&relative, &text, &[problem], span));
            continue;
        }
        if recovered.problems.is_empty() {
            if let Some(net) = &recovered.network {
                out.extend(nn_codegen::expand(net, TokenStream::new(), &|_| span));
            }
            continue;
        }
        out.extend(errors(&relative, &text, &recovered.problems, span));
        // As `network!` does: the network as recovered, else a stub with the whole API, so
        // that its uses report nothing more.
        match &recovered.network {
            Some(net) => out.extend(nn_codegen::expand(net, TokenStream::new(), &|_| span)),
            None => out.extend(stub(item, recovered, span)),
        }
    }
    out
}

/// The stand-in for a declaration that cannot be generated, if its name is a usable identifier.
fn stub(
    item: &nn_grammar::ast::Item,
    recovered: &nn_grammar::Recovered,
    span: Span,
) -> TokenStream {
    let visibility: TokenStream = item
        .visibility
        .as_ref()
        .and_then(|v| v.text.parse().ok())
        .unwrap_or_default();
    let Ok(mut name) = syn::parse_str::<syn::Ident>(&item.name.text) else {
        return TokenStream::new();
    };
    if crate::PRIMITIVE_TYPES.contains(&item.name.text.as_str()) {
        return TokenStream::new();
    }
    name.set_span(span);
    nn_codegen::stub(nn_codegen::Stub {
        name,
        visibility,
        attributes: TokenStream::new(),
        input: recovered.input,
        output: recovered.output,
        scalar: recovered.scalar,
        sequence: recovered.sequence,
    })
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
        // The good network is still generated, the bad one too: its output width is wrong,
        // so as a stub with the whole API.
        assert!(out.contains("pub struct A {"), "{out}");
        assert!(
            out.contains("# [allow (dead_code)] pub (crate) struct B ;"),
            "{out}"
        );
        assert!(out.contains("pub fn forward < O ,"), "{out}");
        assert!(out.contains("input : & [f32 ; 3]"), "{out}");
        assert!(out.contains("pub (crate) struct BGradients ;"), "{out}");
    }

    #[test]
    fn a_network_whose_types_clash_with_an_earlier_ones_is_one_error() {
        let out = expand_text(
            "clash",
            "pub struct Amp = 1 -> lstm(4) -> 1;\npub struct AmpState = 2 -> 3;\n",
        );
        assert!(
            out.contains(
                "models/net.nn:2:12: `AmpState` clashes with `Amp` above, which defines \
                 `AmpState`, its state: rename one of the two networks"
            ),
            "{out}"
        );
        // `Amp` is generated, the clashing declaration not (its struct would be `Amp`'s state).
        assert!(out.contains("pub struct Amp {"), "{out}");
        assert_eq!(out.matches("pub struct AmpState").count(), 1, "{out}");
        assert!(!out.contains("AmpStateGradients"), "{out}");
    }

    #[test]
    fn a_recoverable_problem_still_generates_the_network() {
        let out = expand_text(
            "recovered",
            "struct A = 3 -> 2 rleu as fn -> 1 sigmoid with unroll = everything;\n",
        );
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        // `rleu` as `linear`, `fn` renamed, the option at its default: the whole network.
        assert!(out.contains("struct A {"), "{out}");
        assert!(out.contains("pub layer0 :"), "{out}");
        assert!(out.contains("fn accumulate_gradients"), "{out}");
    }

    #[test]
    fn a_syntax_error_one_edit_repairs_still_generates_the_networks() {
        let out = expand_text(
            "repaired",
            "struct A = 2 -> 1;\nstruct B = 3 -> 2 relu 1 sigmoid;\n",
        );
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(out.contains("models/net.nn:2:24: expected"), "{out}");
        assert!(out.contains("struct A {"), "{out}");
        assert!(out.contains("struct B {"), "{out}");
        // Beyond repair: the error alone.
        let out = expand_text("unrepaired", "struct A = 2 -> -> relu 1;\n");
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(!out.contains("struct A"), "{out}");
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
