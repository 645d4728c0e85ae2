//! What `nnc build` writes is a file a user's crate can `include!`, and what `cargo expand`
//! shows is code a user can paste: both compile without a warning in a crate that depends on
//! `nn` alone (not on `nn-runtime`), and the expansion names only `::nn::__private`.
//!
//! The crates live in `CARGO_TARGET_TMPDIR/standalone` with a target directory of their own
//! (the workspace's is locked by the cargo running these tests), kept from run to run; the
//! first run builds `nn` and its dependencies there, offline, at the versions of the workspace's
//! `Cargo.lock`.

use crate::{nnc, root};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `.nn` files of the workspace, and the modules that include them.
const MODELS: [(&str, &str); 4] = [
    ("models/mnist.nn", "mnist"),
    ("nnc/tests/fixtures/kinds.nn", "kinds"),
    ("models/tiny.nn", "tiny"),
    ("examples/build-script/models/iris.nn", "iris"),
];

/// A binary crate `name` in `dir` depending on `nn` alone, with `main` as its `src/main.rs`.
fn crate_in(dir: &Path, name: &str, main: &str) {
    std::fs::create_dir_all(dir.join("src")).expect("crate directory");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nnn = {{ path = {:?} }}\n\n\
         # Not a member of nn's workspace, which it sits in.\n[workspace]\n",
        root().display().to_string()
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest);
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("the workspace's lock");
    if !dir.join("Cargo.lock").exists() {
        write_if_changed(&dir.join("Cargo.lock"), &lock);
    }
    write_if_changed(&dir.join("src/main.rs"), main);
}

/// Writes only a new content, so that cargo does not rebuild for nothing.
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    std::fs::write(path, text).expect("write a file of the crate");
}

/// `cargo args` in `dir`, offline, into the shared target directory: (success, stdout, stderr).
fn cargo(dir: &Path, target: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO"))
        .arg("--offline")
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        // `-Zunpretty=expanded` is what `cargo expand` runs; it needs this on a stable rustc.
        // Every call sets it, so that the dependencies are built once for all of them.
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The lines of `cargo build`'s output that are diagnostics.
fn diagnostics(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning") || l.starts_with("error"))
        .collect()
}

#[test]
fn nnc_output_and_its_expansion_compile_with_nn_alone_and_without_warnings() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("standalone");
    let target = base.join("target");

    // 1. The files `nnc build` writes, `include!`d, every item unused, in a crate that denies
    //    warnings and forbids `unsafe`; and a `network!` next to them.
    let included = base.join("included");
    let mut main = String::from(
        "//! Networks of nnc's files, and one declared with the macro, none of them used.\n\
         #![deny(warnings)]\n#![forbid(unsafe_code)]\n\n",
    );
    for (model, module) in MODELS {
        let run = nnc(&root(), &["build", model]);
        assert_eq!(run.code, 0, "{model}: {run:?}");
        std::fs::create_dir_all(included.join("src")).expect("crate directory");
        write_if_changed(&included.join(format!("src/{module}.rs")), &run.stdout);
        let _ = writeln!(main, "mod {module} {{\n    include!(\"{module}.rs\");\n}}");
    }
    main.push_str(
        "mod declared {\n    nn::network! {\n        /// Declared in source.\n        \
         pub struct Declared = 3 -> 4 relu as hidden -> 2 softmax;\n        \
         /// With an int8 twin.\n        \
         pub struct Small = 6 -> 8 tanh -> 5 relu -> 3 softmax with quantize = int8;\n        \
         /// With a bfloat16 twin.\n        \
         pub struct Half = 6 -> 8 relu -> 3 with quantize = bf16;\n    }\n}\n\nfn main() {}\n",
    );
    crate_in(&included, "included", &main);
    let (ok, _, stderr) = cargo(&included, &target, &["build"]);
    assert!(ok, "the included files do not compile:\n{stderr}");
    assert_eq!(diagnostics(&stderr), Vec::<&str>::new(), "{stderr}");

    // 2. The crate expanded, as `cargo expand` shows it: every macro (`network!` and the
    //    runtime's) replaced by what it produced.
    let (ok, expanded, stderr) = cargo(
        &included,
        &target,
        &["rustc", "--quiet", "--", "-Zunpretty=expanded"],
    );
    assert!(ok, "expansion failed:\n{stderr}");
    assert!(expanded.contains("pub struct Declared {"), "{expanded}");
    assert!(expanded.contains("pub struct SmallInt8 {"), "{expanded}");
    assert!(expanded.contains("pub struct HalfBf16 {"), "{expanded}");
    assert!(
        expanded.contains("unsafe impl ::nn::__private::ZeroInit for Mnist {}"),
        "{expanded}"
    );
    assert!(
        !expanded.contains("nn_runtime"),
        "the expansion names `nn_runtime`, which the crate does not depend on"
    );

    // 3. That expansion pasted into a crate of its own compiles, without a warning: the
    //    prelude lines that only the expansion prints are dropped, and so is
    //    `forbid(unsafe_code)`, since the expanded proof is an `unsafe impl`.
    let pasted_main: String = expanded
        .lines()
        .filter(|line| {
            ![
                "#![feature(prelude_import)]",
                "#![forbid(unsafe_code)]",
                "extern crate std;",
                "#[prelude_import]",
                "use std::prelude::rust_2024::*;",
            ]
            .contains(line)
        })
        .fold(String::new(), |text, line| text + line + "\n");
    let pasted = base.join("pasted");
    crate_in(&pasted, "pasted", &pasted_main);
    let (ok, _, stderr) = cargo(&pasted, &target, &["build"]);
    assert!(ok, "the pasted expansion does not compile:\n{stderr}");
    assert_eq!(diagnostics(&stderr), Vec::<&str>::new(), "{stderr}");
}
