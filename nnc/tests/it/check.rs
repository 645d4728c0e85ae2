//! `nnc check`: rustc-style diagnostics, one snapshot per class of error (bless with
//! `UPDATE_EXPECT=1`).

use crate::{nnc, root, with_model};
use expect_test::{Expect, expect};

/// `nnc check model.nn` on `text`: exit code, then standard output and error.
fn check(text: &str, expected: &Expect) {
    let run = nnc(&with_model(text), &["check", "model.nn"]);
    expected.assert_eq(&format!("exit {}\n{}{}", run.code, run.stdout, run.stderr));
}

#[test]
fn a_good_file_lists_its_networks() {
    let run = nnc(&root(), &["check", "models/tiny.nn"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "models/tiny.nn: ok, 3 networks: Xor, Iris, Zoo\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn an_empty_file_declares_nothing() {
    check(
        "// nothing yet\n",
        &expect![[r#"
            exit 0
            model.nn: ok, 0 networks
        "#]],
    );
}

#[test]
fn syntax_error() {
    check(
        "pub struct Mnist = 784 -> 128 relu\n    -> 10 softmax\npub struct Next = 1 -> 1;\n",
        &expect![[r#"
            exit 1
            error: expected `as`, `with`, `->`, `;` or `(`, found `pub`
              --> model.nn:3:1
              |
            3 | pub struct Next = 1 -> 1;
              | ^^^

            error: aborting due to 1 previous error

        "#]],
    );
}

#[test]
fn unknown_activation_suggests_the_closest() {
    check(
        "struct Net = 784 -> 128 rleu -> 10 softmx;",
        &expect![[r#"
            exit 1
            error: unknown activation `rleu`, did you mean `relu`? expected one of `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, `gelu_tanh`, `softplus`, `softmax` or `log_softmax`
              --> model.nn:1:25
              |
            1 | struct Net = 784 -> 128 rleu -> 10 softmx;
              |                         ^^^^

            error: unknown activation `softmx`, did you mean `softmax`? expected one of `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, `gelu_tanh`, `softplus`, `softmax` or `log_softmax`
              --> model.nn:1:36
              |
            1 | struct Net = 784 -> 128 rleu -> 10 softmx;
              |                                    ^^^^^^

            error: aborting due to 2 previous errors

        "#]],
    );
}

#[test]
fn widths() {
    check(
        "struct Net = 0 -> 12.5 -> 99999999999999999999 -> 10;",
        &expect![[r#"
            exit 1
            error: a layer width must be at least 1, found `0`
              --> model.nn:1:14
              |
            1 | struct Net = 0 -> 12.5 -> 99999999999999999999 -> 10;
              |              ^

            error: a layer width must be a whole number of neurons, found `12.5`
              --> model.nn:1:19
              |
            1 | struct Net = 0 -> 12.5 -> 99999999999999999999 -> 10;
              |                   ^^^^

            error: layer width `99999999999999999999` is too large, the limit is 1048576
              --> model.nn:1:27
              |
            1 | struct Net = 0 -> 12.5 -> 99999999999999999999 -> 10;
              |                           ^^^^^^^^^^^^^^^^^^^^

            error: aborting due to 3 previous errors

        "#]],
    );
}

#[test]
fn input_activation_and_missing_layers() {
    check(
        "struct Net = 784 relu;",
        &expect![[r#"
        exit 1
        error: expected at least one layer after the input width, as in `784 -> 10 softmax`
          --> model.nn:1:14
          |
        1 | struct Net = 784 relu;
          |              ^^^

        error: the input cannot have an activation, found `relu`: activations belong to layers, as in `784 -> 10 relu`
          --> model.nn:1:18
          |
        1 | struct Net = 784 relu;
          |                  ^^^^

        error: aborting due to 2 previous errors

    "#]],
    );
}

#[test]
fn softmax_only_last() {
    check(
        "struct Net = 4 -> 8 softmax -> 2;",
        &expect![[r#"
            exit 1
            error: `softmax` is only allowed on the last layer, where it normalises the network's outputs, found it with 1 layer after it
              --> model.nn:1:21
              |
            1 | struct Net = 4 -> 8 softmax -> 2;
              |                     ^^^^^^^

            error: aborting due to 1 previous error

        "#]],
    );
}

#[test]
fn activation_arguments() {
    check(
        "struct Net = 4 -> 8 leaky_relu() -> 8 relu(1) -> 8 elu(-1) -> 2 leaky_relu(0.1, 0.2);",
        &expect![[r#"
            exit 1
            error: `leaky_relu()` needs a value, as in `leaky_relu(0.1)`, or no parentheses for the default
              --> model.nn:1:21
              |
            1 | struct Net = 4 -> 8 leaky_relu() -> 8 relu(1) -> 8 elu(-1) -> 2 leaky_relu(0.1, 0.2);
              |                     ^^^^^^^^^^^^

            error: `relu` takes no arguments, found `relu(1)`
              --> model.nn:1:44
              |
            1 | struct Net = 4 -> 8 leaky_relu() -> 8 relu(1) -> 8 elu(-1) -> 2 leaky_relu(0.1, 0.2);
              |                                            ^

            error: `elu` needs a positive alpha, found `-1`
              --> model.nn:1:56
              |
            1 | struct Net = 4 -> 8 leaky_relu() -> 8 relu(1) -> 8 elu(-1) -> 2 leaky_relu(0.1, 0.2);
              |                                                        ^^

            error: `leaky_relu` takes one argument, found 2
              --> model.nn:1:81
              |
            1 | struct Net = 4 -> 8 leaky_relu() -> 8 relu(1) -> 8 elu(-1) -> 2 leaky_relu(0.1, 0.2);
              |                                                                                 ^^^

            error: aborting due to 4 previous errors

        "#]],
    );
}

#[test]
fn layer_and_network_names() {
    check(
        "struct fn = 4 -> 8 as a -> 8 as a -> 8 as type -> 8 as layer4 -> 2;",
        &expect![[r#"
            exit 1
            error: expected a struct name such as `Mnist`, found `fn`, which Rust reserves
              --> model.nn:1:8
              |
            1 | struct fn = 4 -> 8 as a -> 8 as a -> 8 as type -> 8 as layer4 -> 2;
              |        ^^

            error: duplicate layer name `a`, already used by `-> 8 as a`
              --> model.nn:1:33
              |
            1 | struct fn = 4 -> 8 as a -> 8 as a -> 8 as type -> 8 as layer4 -> 2;
              |                                 ^

            error: expected a layer name such as `hidden`, found `type`, which Rust reserves (layer names become fields)
              --> model.nn:1:43
              |
            1 | struct fn = 4 -> 8 as a -> 8 as a -> 8 as type -> 8 as layer4 -> 2;
              |                                           ^^^^

            error: layer name `layer4` is already the default name of the unnamed layer `-> 2`: choose another name
              --> model.nn:1:56
              |
            1 | struct fn = 4 -> 8 as a -> 8 as a -> 8 as type -> 8 as layer4 -> 2;
              |                                                        ^^^^^^

            error: aborting due to 4 previous errors

        "#]],
    );
}

#[test]
fn options() {
    check(
        "struct Net = 4 -> 2 with scalr = f32, unroll = fast, scalar = f16, unroll = loops;",
        &expect![[r#"
            exit 1
            error: unknown option `scalr`, did you mean `scalar`? expected one of `scalar`, `unroll`, `crate`, `weights` or `quantize`
              --> model.nn:1:26
              |
            1 | struct Net = 4 -> 2 with scalr = f32, unroll = fast, scalar = f16, unroll = loops;
              |                          ^^^^^

            error: expected `loops` or `full` for option `unroll`, found `fast`
              --> model.nn:1:48
              |
            1 | struct Net = 4 -> 2 with scalr = f32, unroll = fast, scalar = f16, unroll = loops;
              |                                                ^^^^

            error: expected `f32` or `f64` for option `scalar`, found `f16`
              --> model.nn:1:63
              |
            1 | struct Net = 4 -> 2 with scalr = f32, unroll = fast, scalar = f16, unroll = loops;
              |                                                               ^^^

            error: option `unroll` is set twice
              --> model.nn:1:68
              |
            1 | struct Net = 4 -> 2 with scalr = f32, unroll = fast, scalar = f16, unroll = loops;
              |                                                                    ^^^^^^

            error: aborting due to 4 previous errors

        "#]],
    );
}

#[test]
fn full_unroll_is_for_tiny_networks() {
    check(
        "struct Net = 784 -> 128 relu -> 10 with unroll = full;",
        &expect![[r#"
            exit 1
            error: `unroll = full` writes one statement per multiply-add of a dense layer and is limited to 4096, this network's dense layers have 101632: use `unroll = loops`
              --> model.nn:1:50
              |
            1 | struct Net = 784 -> 128 relu -> 10 with unroll = full;
              |                                                  ^^^^

            error: aborting due to 1 previous error

        "#]],
    );
}

#[test]
fn too_many_parameters() {
    check(
        "struct Huge = 1048576 -> 1048576;",
        &expect![[r#"
            exit 1
            error: too many parameters: expected at most 134217728 weights and biases in `Huge`, found 1099512676352 up to this layer
              --> model.nn:1:26
              |
            1 | struct Huge = 1048576 -> 1048576;
              |                          ^^^^^^^

            error: aborting due to 1 previous error

        "#]],
    );
}

#[test]
fn unsupported_weights() {
    check(
        "struct Net = 4 -> 2 with weights = \"net.safetensors\";",
        &expect![[r#"
            exit 1
            error: the `weights` option bakes weights in and needs `network!`; with a `.nn` file, load them at run time with `from_safetensors_file`
              --> model.nn:1:36
              |
            1 | struct Net = 4 -> 2 with weights = "net.safetensors";
              |                                    ^^^^^^^^^^^^^^^^^

            error: aborting due to 1 previous error

        "#]],
    );
}

#[test]
fn every_problem_of_every_network_at_once_on_the_right_lines() {
    check(
        "// Two networks, one problem each, and comments that shift the lines.\n\
         /* a block\n   comment */\n\
         /// Docs.\n\
         pub struct A = 784 -> 128 rleu -> 10;\n\
         \n\
         pub struct B = 3\n    -> 0 // no neurons\n    -> 1 sigmoid;\n",
        &expect![[r#"
            exit 1
            error: unknown activation `rleu`, did you mean `relu`? expected one of `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, `gelu_tanh`, `softplus`, `softmax` or `log_softmax`
              --> model.nn:5:27
              |
            5 | pub struct A = 784 -> 128 rleu -> 10;
              |                           ^^^^

            error: a layer width must be at least 1, found `0`
              --> model.nn:8:8
              |
            8 |     -> 0 // no neurons
              |        ^

            error: aborting due to 2 previous errors

        "#]],
    );
}

#[test]
fn build_fails_exactly_as_check_does() {
    let dir = with_model("struct A = 2 -> 0 rleu;\nstruct B = 2 -> 1 with weights = \"w.st\";\n");
    let check = nnc(&dir, &["check", "model.nn"]);
    let build = nnc(&dir, &["build", "model.nn", "-o", "model.rs"]);
    assert_eq!((check.code, build.code), (1, 1));
    assert_eq!(check.stderr, build.stderr);
    assert!(
        check.stderr.contains("aborting due to 3 previous errors"),
        "{check:?}"
    );
    assert_eq!(build.stdout, "");
    assert!(!dir.join("model.rs").exists());
}

#[test]
fn colour_only_when_asked() {
    let dir = with_model("struct A = 2 -> 1 rleu;");
    let plain = nnc(&dir, &["check", "model.nn"]);
    let always = nnc(&dir, &["check", "--color", "always", "model.nn"]);
    let never = nnc(&dir, &["--color=never", "check", "model.nn"]);
    assert!(!plain.stderr.contains('\u{1b}'), "{plain:?}");
    assert!(always.stderr.contains("\u{1b}["), "{always:?}");
    assert_eq!(never.stderr, plain.stderr);
}

#[test]
fn a_missing_semicolon_points_after_the_last_word() {
    check(
        "struct Net = 2 -> 1 sigmoid\n\n",
        &expect![[r#"
            exit 1
            error: expected `as`, `with`, `->`, `;` or `(`, found end of input after `sigmoid`
              --> model.nn:1:28
              |
            1 | struct Net = 2 -> 1 sigmoid
              |                            ^

            error: aborting due to 1 previous error

        "#]],
    );
}
