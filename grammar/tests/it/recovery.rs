//! `compile_item_recovering`: each problem is reported as `compile_item` reports it, and the
//! network the macro generates in the meantime is the declaration with that problem replaced
//! by something neutral, printed here in canonical form (`None` where nothing can be).

use nn_grammar::{Scalar, compile_item, compile_item_recovering};

/// The recovered network as canonical text, and the number of problems.
fn recovered(text: &str) -> (Option<String>, usize) {
    let recovered = compile_item_recovering(text);
    assert_eq!(
        recovered.problems,
        compile_item(text).unwrap_err(),
        "{text}: the same problems as compile_item"
    );
    (
        recovered.network.map(|net| net.to_string()),
        recovered.problems.len(),
    )
}

#[track_caller]
fn recovers(text: &str, expected: &str, problems: usize) {
    assert_eq!(
        recovered(text),
        (Some(expected.to_owned()), problems),
        "{text}"
    );
}

#[test]
fn activations_and_their_arguments() {
    recovers(
        "struct N = 4 -> 8 rleu -> 2 softmax;",
        "struct N = 4 -> 8 -> 2 softmax;",
        1,
    );
    recovers(
        "struct N = 4 -> 8 leaky_relu() -> 8 elu(-1) -> 8 leaky_relu(1, 2) -> 2 relu(0.5);",
        "struct N = 4 -> 8 leaky_relu(0.01) -> 8 elu(1) -> 8 leaky_relu(0.01) -> 2 relu;",
        4,
    );
    recovers(
        "struct N = 4 -> 8 softmax -> 2 sigmoid;",
        "struct N = 4 -> 8 -> 2 sigmoid;",
        1,
    );
    recovers(
        "struct N = 4 relu -> 2 leaky_relu(1e39) -> 2 elu(1e-50);",
        "struct N = 4 -> 2 leaky_relu(0.01) -> 2 elu(1);",
        3,
    );
}

#[test]
fn names_and_options() {
    recovers(
        "struct N = 4 -> 8 as a -> 8 as a -> 2 as fn;",
        "struct N = 4 -> 8 as a -> 8 -> 2;",
        2,
    );
    // `layer1` is the default name of the second layer: the first gets a fresh one.
    recovers(
        "struct N = 4 -> 8 as layer1 -> 2 -> 2 as layer0;",
        "struct N = 4 -> 8 as layer0_ -> 2 -> 2 as layer0;",
        1,
    );
    recovers(
        "struct N = 40 -> 200 -> 2 with unroll = full, scalar = f16, colour = red;",
        "struct N = 40 -> 200 -> 2;",
        3,
    );
    // Set twice: the first value counts.
    recovers(
        "struct N = 4 -> 2 with scalar = f64, scalar = f32;",
        "struct N = 4 -> 2 with scalar = f64;",
        1,
    );
    // `quantize` once per format: a repeated format is dropped, a format whose restrictions
    // the network breaks is dropped alone, the other twins kept.
    recovers(
        "struct N = 4 -> 2 with quantize = bf16, quantize = int8, quantize = bf16;",
        "struct N = 4 -> 2 with quantize = bf16, quantize = int8;",
        1,
    );
    recovers(
        "struct N = 4 -> lstm(8) -> 2 with quantize = int8, quantize = f16;",
        "struct N = 4 -> lstm(8) -> 2 with quantize = f16;",
        1,
    );
}

#[test]
fn widths() {
    // A hidden width is recovered as 1: nothing outside the network sees it.
    recovers(
        "struct N = 784 -> 12.5 relu -> 0 -> 10 softmax;",
        "struct N = 784 -> 1 relu -> 1 -> 10 softmax;",
        2,
    );
    // The input and output widths are what user code sees: no network, but what is known.
    for (text, inputs, outputs) in [
        (
            "struct N = 784 -> 128 relu -> 1e1 softmax;",
            Some(784),
            None,
        ),
        (
            "struct N = 0 -> 10 softmax with scalar = f64;",
            None,
            Some(10),
        ),
    ] {
        let recovered = compile_item_recovering(text);
        assert_eq!(recovered.network, None, "{text}");
        let widths = (
            recovered.input.and_then(|s| s.width()),
            recovered.output.and_then(|s| s.width()),
        );
        assert_eq!(widths, (inputs, outputs));
    }
    assert_eq!(
        compile_item_recovering("struct N = 0 -> 10 with scalar = f64;").scalar,
        Scalar::F64
    );
}

#[test]
fn what_cannot_be_recovered() {
    for text in [
        "struct N = 784;",
        "struct fn = 2 -> 1;",
        "struct f32 = 2 -> 1;",
        "struct N = 1048576 -> 1048576 -> 1;",
    ] {
        assert_eq!(recovered(text).0, None, "{text}");
    }
    let deep = format!("struct N = 2{};", " -> 2".repeat(257));
    assert_eq!(recovered(&deep).0, None);
}

#[test]
fn syntax_errors_repaired_by_one_edit() {
    for (text, expected) in [
        ("struct N = 4 -> 2 softmax", "struct N = 4 -> 2 softmax;"),
        ("struct N = 4 -> 8 relu 2;", "struct N = 4 -> 8 relu -> 2;"),
        ("struct N = 4 -> -> 2;", "struct N = 4 -> 2;"),
    ] {
        let recovered = compile_item_recovering(text);
        assert_eq!(recovered.problems.len(), 1, "{text}");
        assert_eq!(
            recovered.network.map(|net| net.to_string()).as_deref(),
            Some(expected),
            "{text}"
        );
    }
    // No single edit repairs these.
    for text in ["struct N = 4 -> -> relu 2;", "struct = 4 -> 2;", "4 -> 2"] {
        let recovered = compile_item_recovering(text);
        assert_eq!(recovered.problems.len(), 1, "{text}");
        assert_eq!(recovered.network, None, "{text}");
        assert_eq!((recovered.input, recovered.output), (None, None));
    }
}
