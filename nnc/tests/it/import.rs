//! `nnc import`: an ONNX model to a `.nn` file that `nnc check` accepts and its weights, the
//! guide's output, and the error that lists every problem.

use crate::{nnc, root, scratch};
use expect_test::expect;
use std::path::PathBuf;

/// `onnx/tests/fixtures/<name>`.
fn fixture(name: &str) -> PathBuf {
    root().join("onnx/tests/fixtures").join(name)
}

/// The ONNX guide's first text block after the line that mentions `command`.
fn guide_block_after(command: &str) -> String {
    let guide = std::fs::read_to_string(root().join("docs/onnx.md")).expect("docs/onnx.md");
    let at = guide
        .find(&format!("`{command}`"))
        .unwrap_or_else(|| panic!("docs/onnx.md shows `{command}`"));
    let rest = &guide[at..];
    let start = rest.find("```text\n").expect("a text block") + "```text\n".len();
    let end = rest[start..].find("```").expect("a closed block");
    rest[start..start + end].to_owned()
}

#[test]
fn import_writes_a_declaration_that_nnc_checks_and_the_weights() {
    let dir = scratch();
    std::fs::copy(fixture("mlp.onnx"), dir.join("mlp.onnx")).unwrap();
    let run = nnc(&dir, &["import", "mlp.onnx"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "mlp.onnx: wrote `mlp.nn` (Mlp, 6 layers) and `mlp.safetensors`\n"
    );
    // What nn-onnx's tests check is the import, and tests/it/onnx.rs runs against onnxruntime.
    let text = std::fs::read_to_string(dir.join("mlp.nn")).unwrap();
    assert_eq!(text, std::fs::read_to_string(fixture("mlp.nn")).unwrap());
    let weights = std::fs::read(dir.join("mlp.safetensors")).unwrap();
    assert!(weights == std::fs::read(fixture("mlp.safetensors")).unwrap());
    let check = nnc(&dir, &["check", "mlp.nn"]);
    assert_eq!(
        (check.code, check.stdout.as_str()),
        (0, "mlp.nn: ok, 1 network: Mlp\n")
    );
    // The same again: the same bytes.
    assert_eq!(nnc(&dir, &["import", "mlp.onnx"]).code, 0);
    assert_eq!(std::fs::read_to_string(dir.join("mlp.nn")).unwrap(), text);
    assert!(std::fs::read(dir.join("mlp.safetensors")).unwrap() == weights);
}

#[test]
fn output_weights_and_name_can_be_chosen() {
    let dir = scratch();
    let model = fixture("function.onnx");
    let model = model.to_str().unwrap();
    let run = nnc(
        &dir,
        &[
            "import",
            model,
            "-o",
            "net.nn",
            "--weights",
            "w.safetensors",
            "--name",
            "Tiny",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let text = std::fs::read_to_string(dir.join("net.nn")).unwrap();
    assert!(
        text.contains("pub struct Tiny = 4 -> 6 leaky_relu(0.1) as first"),
        "{text}"
    );
    assert!(dir.join("w.safetensors").exists());
    let printed = nnc(
        &dir,
        &["import", model, "-o", "-", "--weights", "w2.safetensors"],
    );
    assert_eq!(printed.code, 0, "{printed:?}");
    assert!(
        printed
            .stdout
            .starts_with("/// Imported from ONNX `function.onnx`"),
        "{printed:?}"
    );
    assert!(dir.join("w2.safetensors").exists());
    // Where the weights went is said on standard error.
    assert!(
        printed
            .stderr
            .ends_with("function.onnx: wrote `w2.safetensors`\n"),
        "{printed:?}"
    );
}

#[test]
fn check_shows_what_would_be_imported_as_the_guide_does() {
    let dir = scratch();
    let run = nnc(
        &root(),
        &["import", "--check", "onnx/tests/fixtures/torch_lenet.onnx"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        guide_block_after("nnc import --check onnx/tests/fixtures/torch_lenet.onnx")
    );
    // Nothing is written.
    let copy = dir.join("torch_lenet.onnx");
    std::fs::copy(fixture("torch_lenet.onnx"), &copy).unwrap();
    assert_eq!(
        nnc(&dir, &["import", "--check", "torch_lenet.onnx"]).code,
        0
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn a_recurrent_model_imports_and_a_bidirectional_one_is_refused_as_the_guide_shows() {
    let run = nnc(
        &root(),
        &["import", "--check", "onnx/tests/fixtures/torch_gru.onnx"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        guide_block_after("nnc import --check onnx/tests/fixtures/torch_gru.onnx")
    );
    // A model returning its last step's output imports, and its declaration says so.
    assert_eq!(
        std::fs::read_to_string(fixture("lstm_last_step.nn")).unwrap(),
        guide_block_after("head(y[:, -1])")
    );
    let dir = scratch();
    std::fs::copy(
        fixture("lstm_bidirectional.onnx"),
        dir.join("lstm_bidirectional.onnx"),
    )
    .unwrap();
    let run = nnc(&dir, &["import", "--check", "lstm_bidirectional.onnx"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        format!("{}\n", run.stderr.trim_end()),
        guide_block_after("nnc import --check lstm_bidirectional.onnx")
    );
}

#[test]
fn every_problem_is_listed_and_nothing_is_written() {
    let dir = scratch();
    std::fs::copy(fixture("unsupported.onnx"), dir.join("unsupported.onnx")).unwrap();
    let run = nnc(&dir, &["import", "unsupported.onnx"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "");
    expect![[r#"
        error: `unsupported.onnx`: the model cannot be imported, 5 problems:
          node 0 `/conv/Conv` (Conv, reads `x`, `w1`): pads [0, 0, 1, 1] unevenly (begins, then ends): nn pads both sides alike
          node 2 `/scale/Mul` (Mul, reads `r1`, `k`): operator `Mul` is understood on constants only, not on the input's flow
          node 3 `/abs/Abs` (Abs, reads `m`): operator `Abs` is not supported
          node 4 `/custom/Custom` (com.example.Custom, reads `a`): operator `Custom` of domain `com.example` is not supported
          node 8 `/residual/Add` (Add, reads `g`, `f`): joins 2 values computed from the input (a residual or a concatenation): only chains of layers can be imported

    "#]].assert_eq(&run.stderr);
    assert_eq!(
        format!("{}\n", run.stderr.trim_end()),
        guide_block_after("onnx/tests/fixtures/unsupported.onnx")
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "nothing written"
    );
    let missing = nnc(&dir, &["import", "missing.onnx"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .starts_with("error: cannot read `missing.onnx`: "),
        "{missing:?}"
    );
}

/// A model named by its bare file name reads its external data from the current directory.
#[test]
fn external_data_beside_a_model_named_by_its_file_name() {
    let dir = scratch();
    let fixtures = root().join("onnx/tests/fixtures/external");
    for file in ["mlp_external.onnx", "mlp_data.bin"] {
        std::fs::copy(fixtures.join(file), dir.join(file)).unwrap();
    }
    let run = nnc(&dir, &["import", "mlp_external.onnx", "--check"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with("mlp_external.onnx: ok, 10 tensors"),
        "{run:?}"
    );
    // Its data file is an input too: neither output may replace it.
    let data = std::fs::read(dir.join("mlp_data.bin")).unwrap();
    for args in [
        ["import", "mlp_external.onnx", "--weights", "mlp_data.bin"],
        ["import", "mlp_external.onnx", "-o", "./mlp_data.bin"],
    ] {
        let run = nnc(&dir, &args);
        assert_eq!(run.code, 1, "{args:?}");
        assert!(
            run.stderr.contains(
                "is the model's external data this reads: writing there would replace it"
            ),
            "{run:?}"
        );
    }
    assert!(std::fs::read(dir.join("mlp_data.bin")).unwrap() == data);
}

/// Outputs that would replace each other or the model are refused before anything is written.
#[test]
fn import_refuses_to_overwrite_the_model_or_its_own_outputs() {
    let dir = scratch();
    std::fs::copy(fixture("mlp.onnx"), dir.join("mlp.onnx")).unwrap();
    let model = std::fs::read(dir.join("mlp.onnx")).unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["import", "mlp.onnx", "-o", "out.safetensors"],
            "error: the declaration and its weights would both be written to \
             `out.safetensors`: give `--weights` another file",
        ),
        (
            &["import", "mlp.onnx", "-o", "a.nn", "--weights", "./a.nn"],
            "error: the declaration and its weights would both be written to `./a.nn`: give \
             `--weights` another file",
        ),
        (
            &["import", "mlp.onnx", "--weights", "mlp.onnx"],
            "error: `mlp.onnx` is the model this reads: writing there would replace it, give \
             another file",
        ),
        (
            &[
                "import",
                "mlp.onnx",
                "-o",
                "./mlp.onnx",
                "--weights",
                "w.safetensors",
            ],
            "error: `./mlp.onnx` is the model this reads: writing there would replace it, give \
             another file",
        ),
    ];
    for (args, message) in cases {
        let run = nnc(&dir, args);
        assert_eq!((run.code, run.stderr.trim_end()), (1, message), "{args:?}");
    }
    assert!(std::fs::read(dir.join("mlp.onnx")).unwrap() == model);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["mlp.onnx"], "nothing written");
}

/// A declaration that cannot be written leaves no weights behind.
#[test]
fn a_declaration_that_cannot_be_written_leaves_no_weights() {
    let dir = scratch();
    std::fs::copy(fixture("mlp.onnx"), dir.join("mlp.onnx")).unwrap();
    let run = nnc(
        &dir,
        &[
            "import",
            "mlp.onnx",
            "-o",
            "no/such/dir/mlp.nn",
            "--weights",
            "w.safetensors",
        ],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .starts_with("error: cannot write `no/such/dir/mlp.nn`"),
        "{run:?}"
    );
    assert!(!dir.join("w.safetensors").exists());
}

/// `--name` must be a struct name; a file's name always gives one.
#[test]
fn names_that_cannot_name_a_struct_are_refused() {
    let dir = scratch();
    std::fs::copy(fixture("mlp.onnx"), dir.join("Self.onnx")).unwrap();
    let cases: [(&str, &str); 4] = [
        (
            "my-net",
            "error: `--name`: `my-net` is not a struct name: one is ASCII letters, digits and \
             `_`, not starting with a digit, such as `Mnist` or `Lenet5`",
        ),
        (
            "a b",
            "error: `--name`: `a b` is not a struct name: one is ASCII letters, digits and `_`, \
             not starting with a digit, such as `Mnist` or `Lenet5`",
        ),
        (
            "Self",
            "error: `--name`: `Self` is a word Rust or the language reserves",
        ),
        (
            "",
            "error: `--name` is empty: give a struct name such as `Mnist`, or leave `--name` \
             out to name the network after the file",
        ),
    ];
    for (name, message) in cases {
        let run = nnc(&dir, &["import", "Self.onnx", "--check", "--name", name]);
        assert_eq!((run.code, run.stderr.trim_end()), (1, message), "{name:?}");
    }
    let run = nnc(&dir, &["import", "Self.onnx", "--check"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("pub struct NetSelf = "),
        "{}",
        run.stdout
    );
}
