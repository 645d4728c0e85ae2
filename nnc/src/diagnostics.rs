//! The grammar's byte-range diagnostics, rendered as rustc renders its own (codespan-reporting).

use clap::ValueEnum;
use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::termcolor::Buffer;
use codespan_reporting::term::{self, Chars, Config};
use std::io::{IsTerminal as _, Write as _};

/// When to colour diagnostics.
#[derive(Clone, Copy, ValueEnum)]
pub enum Color {
    /// When standard error is a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Color {
    /// Whether to colour this run's diagnostics.
    pub fn enabled(self) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// A `.nn` file's name and text.
pub struct Source {
    /// The name diagnostics show, as given on the command line.
    pub name: String,
    /// The whole file.
    pub text: String,
}

impl Source {
    /// Prints every diagnostic to standard error, then how many there were.
    pub fn report(&self, problems: &[nn_grammar::Diagnostic], color: bool) -> crate::Failed {
        let file = SimpleFile::new(self.name.as_str(), self.text.as_str());
        let mut buffer = buffer(color);
        for problem in problems {
            let range = problem.range.start..problem.range.end;
            let diagnostic = Diagnostic::error()
                .with_message(&problem.message)
                .with_labels(vec![Label::primary((), range)]);
            // Ranges come from this very text, so rendering cannot fail; if it did, the message
            // alone still reaches the user below.
            if term::emit_to_write_style(&mut buffer, &config(), &file, &diagnostic).is_err() {
                let _ = writeln!(buffer, "error: {}", problem.message);
            }
        }
        let count = problems.len();
        let summary = if count == 1 {
            "aborting due to 1 previous error".to_owned()
        } else {
            format!("aborting due to {count} previous errors")
        };
        let _ = term::emit_to_write_style(
            &mut buffer,
            &config(),
            &file,
            &Diagnostic::error().with_message(summary),
        );
        flush(&buffer);
        crate::Failed
    }
}

/// Prints `error: message` to standard error.
pub fn error(message: &str, color: bool) {
    let mut buffer = buffer(color);
    let file = SimpleFile::new("", "");
    if term::emit_to_write_style(
        &mut buffer,
        &config(),
        &file,
        &Diagnostic::error().with_message(message),
    )
    .is_err()
    {
        let _ = writeln!(buffer, "error: {message}");
    }
    flush(&buffer);
}

/// rustc's look: `-->`, `|` and `^`.
fn config() -> Config {
    Config {
        chars: Chars::ascii(),
        ..Config::default()
    }
}

fn buffer(color: bool) -> Buffer {
    if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    }
}

fn flush(buffer: &Buffer) {
    let mut stderr = std::io::stderr().lock();
    // Nothing sensible is left to do when standard error is gone.
    let _ = stderr.write_all(buffer.as_slice());
    let _ = stderr.flush();
}
