//! Integration tests of the network language: many one-line declarations, each with its
//! rendered diagnostics (or a summary of the checked network), as expect-test snapshots.
//! Bless with `UPDATE_EXPECT=1 cargo test -p nn-grammar`.

mod diagnostics;
mod files;

use nn_grammar::{Diagnostic, Network};

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
        out.push_str(&format!("{line}:{column}: {}\n", d.message));
        out.push_str(format!("  {source}").trim_end());
        out.push('\n');
        out.push_str(&format!(
            "  {}{}\n",
            " ".repeat(column - 1),
            "^".repeat(width)
        ));
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
        net.inputs,
        net.outputs(),
        net.parameters()
    );
    for layer in &net.layers {
        out.push_str(&format!(
            "  {}{}: {} -> {} {:?}\n",
            layer.name,
            if layer.named { "" } else { " (default name)" },
            layer.inputs,
            layer.outputs,
            layer.activation
        ));
    }
    if let Some(runtime) = &net.runtime {
        out.push_str(&format!("  crate = {runtime}\n"));
    }
    if let Some((weights, _)) = &net.weights {
        out.push_str(&format!("  weights = {weights}\n"));
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
