//! Tests of `nnc`: the command line, diagnostics, summaries and pictures, and the proof that it
//! generates exactly what `nn::network!` generates.

// expect-test writes its snapshots as `r#"..."#`, whether or not they contain a quote.
#![allow(clippy::needless_raw_string_hashes)]

mod check;
mod cli;
mod equivalence;
mod generated;
mod graph;
mod import;
mod readme;
mod standalone;
mod summary;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The workspace root, where `models/` and `examples/` are.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("nnc is a workspace member")
        .to_owned()
}

/// What one run of `nnc` did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `nnc args` in `dir`, with no terminal and so no colour.
fn nnc(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_nnc"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("nnc runs");
    Run {
        code: output.status.code().expect("nnc exits normally"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 output"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 diagnostics"),
    }
}

/// A new empty directory for one test.
fn scratch() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "nnc-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// A new directory holding `model.nn` with `text`.
fn with_model(text: &str) -> PathBuf {
    let dir = scratch();
    std::fs::write(dir.join("model.nn"), text).expect("write model.nn");
    dir
}
