//! Integration tests of the network language: many one-line declarations, each with its
//! rendered diagnostics (or a summary of the checked network), as expect-test snapshots.
//! Bless with `UPDATE_EXPECT=1 cargo test -p nn-grammar`.

// expect-test blesses snapshots as `r#"..."#` whether or not they hold a quote.
#![allow(clippy::needless_raw_string_hashes)]

mod diagnostics;
mod files;
mod generators;
mod kinds;
mod properties;
mod recovery;

use nn_grammar::{Diagnostic, Network};
use std::fmt::Write as _;

/// Renders diagnostics under the source, rustc-style: the line, then carets under the range.
fn render(text: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let (line, column) = nn_grammar::line_col(text, d.range.start);
        let source = text.lines().nth(line - 1).unwrap_or("");
        let width = text[d.range.start.min(text.len())..d.range.end.min(text.len())]
            .lines()
            .next()
            .map_or(1, |l| l.chars().count().max(1));
        let source = format!("  {source}");
        let _ = writeln!(out, "{line}:{column}: {}", d.message);
        let _ = writeln!(out, "{}", source.trim_end());
        let _ = writeln!(out, "  {}{}", " ".repeat(column - 1), "^".repeat(width));
    }
    out
}

/// One line per layer: the shape, activation and name the checker settled on.
fn describe(net: &Network) -> String {
    let mut out = format!(
        "{} {} {:?} {:?} inputs={} outputs={} parameters={}\n",
        if net.visibility.is_empty() {
            "(private)"
        } else {
            &net.visibility
        },
        net.name,
        net.scalar,
        net.unroll,
        net.input.elements(),
        net.output().elements(),
        net.parameters()
    );
    for layer in &net.layers {
        let _ = writeln!(
            out,
            "  {}{}: {} -> {} {:?}",
            layer.name,
            if layer.named { "" } else { " (default name)" },
            layer.input.elements(),
            layer.output.elements(),
            layer.activation
        );
    }
    if let Some(runtime) = &net.runtime {
        let _ = writeln!(out, "  crate = {runtime}");
    }
    if let Some((weights, _)) = &net.weights {
        let _ = writeln!(out, "  weights = {weights}");
    }
    out
}

/// Compiles one declaration and renders the result.
fn compile(text: &str) -> String {
    match nn_grammar::compile_item(text) {
        Ok(net) => describe(&net),
        Err(diagnostics) => render(text, &diagnostics),
    }
}

/// Checks `text` against a snapshot of its diagnostics or checked network.
#[track_caller]
fn check(text: &str, expect: &expect_test::Expect) {
    expect.assert_eq(&compile(text));
}
