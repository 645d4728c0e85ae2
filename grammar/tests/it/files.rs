//! `.nn` files: several declarations, comments and `///` docs.

use crate::{describe, render};
use expect_test::expect;

const FILE: &str = r"// Networks for the examples. A line comment.
/// Classifies 28x28 handwritten digits.
///Second line, no space.
pub struct Mnist = 784 /* pixels */ -> 128 relu as hidden // a comment after a layer
    -> 10 softmax; // and after the declaration

/* A block comment
   over two lines, with -> arrows and ; inside. */
//// Four slashes make a plain comment, not a doc.
struct Xor = 2 -> /* inline */ 2 relu -> 1 sigmoid with unroll = full;
";

#[test]
fn comments_are_skipped_and_docs_kept() {
    let items = nn_grammar::parse_file(FILE).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0].docs,
        [
            " Classifies 28x28 handwritten digits.",
            "Second line, no space."
        ]
    );
    assert!(items[1].docs.is_empty(), "{:?}", items[1].docs);
    // Ranges index the original text, comments included.
    assert_eq!(
        &FILE[items[1].name.range.start..items[1].name.range.end],
        "Xor"
    );
    let hidden = items[0].layers[0].name.as_ref().unwrap();
    assert_eq!(&FILE[hidden.range.start..hidden.range.end], "hidden");

    let networks = nn_grammar::compile_file(FILE).unwrap();
    let described: String = networks.iter().map(describe).collect();
    expect![[r#"
        pub Mnist F32 Loops inputs=784 outputs=10 parameters=101770
          hidden: 784 -> 128 Relu
          layer1 (default name): 128 -> 10 Softmax
        (private) Xor F32 Full inputs=2 outputs=1 parameters=9
          layer0 (default name): 2 -> 2 Relu
          layer1 (default name): 2 -> 1 Sigmoid
    "#]]
    .assert_eq(&described);
    assert_eq!(networks[0].docs, items[0].docs);
}

#[test]
fn an_empty_file_has_no_networks() {
    assert_eq!(nn_grammar::compile_file("").unwrap(), []);
    assert_eq!(
        nn_grammar::compile_file("// only a comment\n/* and a block */\n").unwrap(),
        []
    );
}

/// Block comments nest, as Rust's, so that commenting out a part that holds one works; an
/// unclosed one is an error.
#[test]
fn block_comments_nest() {
    let networks = nn_grammar::compile_file(
        "/* out: /* struct A = 2 -> 1; */ struct B = 3 -> 1; */
struct C = 4 -> /* a /* b */ c */ 1;
",
    )
    .unwrap();
    let names: Vec<&str> = networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["C"]);
    assert!(nn_grammar::compile_file("/* /* */ struct A = 2 -> 1;").is_err());
    // Unclosed openings fail at once: an opening inside a comment always opens one.
    let unclosed = "/* ".repeat(300);
    assert!(nn_grammar::compile_file(&unclosed).is_err());
    assert!(nn_grammar::compile_file("/* a / * b */ struct A = 2 -> 1;").is_ok());
}

#[test]
fn a_doc_comment_inside_a_chain_is_an_error() {
    let text = "struct A = 2\n    /// not here\n    -> 1;\n";
    expect![[r#"
        2:5: expected an activation such as `relu`, `with`, `->` or `;`, found `///`
              /// not here
              ^^^
    "#]]
    .assert_eq(&render(text, &nn_grammar::compile_file(text).unwrap_err()));
}

#[test]
fn an_attribute_in_a_file_is_an_error_that_says_where_attributes_go() {
    let text = "/// A doc.\n#[derive(Clone)]\npub struct A = 2 -> 1;\n";
    expect![[r#"
        2:1: expected a doc comment, `struct` or `pub`, found `#`: attributes such as `#[derive(Clone)]` are written in `network!` only, not in `.nn` files (implement the trait beside the generated struct instead)
          #[derive(Clone)]
          ^
    "#]]
    .assert_eq(&render(text, &nn_grammar::compile_file(text).unwrap_err()));
}

#[test]
fn an_unclosed_block_comment_is_an_error() {
    let text = "struct A = 2 -> 1; /* never closed\n";
    expect![[r#"
        1:20: unclosed block comment: expected `*/` before the end of the input, found none
          struct A = 2 -> 1; /* never closed
                             ^^
    "#]]
    .assert_eq(&render(text, &nn_grammar::compile_file(text).unwrap_err()));
}

#[test]
fn problems_of_every_declaration_are_reported_with_lines() {
    let text = "struct A = 2 -> 1 rleu;\n\nstruct B = 0 -> 1;\nstruct C = 2 -> 1;\n";
    expect![[r#"
        1:19: unknown activation `rleu`, did you mean `relu`? expected one of `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, `gelu_tanh`, `softplus`, `softmax` or `log_softmax`
          struct A = 2 -> 1 rleu;
                            ^^^^
        3:12: a layer width must be at least 1, found `0`
          struct B = 0 -> 1;
                     ^
    "#]].assert_eq(&render(text, &nn_grammar::compile_file(text).unwrap_err()));
}

#[test]
fn networks_whose_types_clash_are_errors_on_the_later_name() {
    let text = "struct Amp = 1 -> lstm(4) -> 1 with quantize = bf16;\n\
                struct AmpState = 2 -> 3;\n\
                struct AmpBf16 = 2 -> 3;\n\
                struct Digits = 2 -> 3;\n\
                struct Digits = 4 -> 3;\n\
                struct Distinct = 2 -> 3;\n\
                struct Distinct2State = 2 -> 3;\n\
                struct Distinct2 = 1 -> gru(2) -> 1;\n\
                struct Seg = [1, 4, 4] -> conv2d(2, 3);\n\
                struct SegGradients = 2 -> 1;\n\
                struct Dense = 2 -> 1;\n\
                struct DenseGradients = 2 -> 1;\n";
    // `Seg` has no training half (its output is not a vector), so no `SegGradients`.
    let problems = nn_grammar::compile_file(text).unwrap_err();
    expect![[r#"
        2:8: `AmpState` clashes with `Amp` above, which defines `AmpState`, its state: rename one of the two networks
          struct AmpState = 2 -> 3;
                 ^^^^^^^^
        3:8: `AmpBf16` clashes with `Amp` above, which defines `AmpBf16`, its bf16 twin: rename one of the two networks
          struct AmpBf16 = 2 -> 3;
                 ^^^^^^^
        5:8: a network named `Digits` is declared above: rename one of the two networks
          struct Digits = 4 -> 3;
                 ^^^^^^
        8:8: `Distinct2` defines `Distinct2State`, its state, and clashes with `Distinct2State` above, which defines the network `Distinct2State`: rename one of the two networks
          struct Distinct2 = 1 -> gru(2) -> 1;
                 ^^^^^^^^^
        12:8: `DenseGradients` clashes with `Dense` above, which defines `DenseGradients`, its gradients: rename one of the two networks
          struct DenseGradients = 2 -> 1;
                 ^^^^^^^^^^^^^^
    "#]]
    .assert_eq(&render(text, &problems));
}
