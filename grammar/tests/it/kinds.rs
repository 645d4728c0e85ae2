//! Layer kinds other than dense: shapes through a network, and each class of mistake.

use super::render;
use expect_test::{Expect, expect};
use std::fmt::Write as _;

/// The checked network's shapes and kinds, or the diagnostics.
#[track_caller]
fn check(text: &str, expected: &Expect) {
    let actual = match nn_grammar::compile_item(text) {
        Ok(net) => {
            let mut out = format!("{} parameters={}\n", net.input, net.parameters());
            for layer in &net.layers {
                let _ = writeln!(
                    out,
                    "  {} {}: {} -> {} {} parameters={} multiply_adds={}",
                    layer.name,
                    layer.kind.name(),
                    layer.input,
                    layer.output,
                    layer.activation,
                    layer.parameters(),
                    layer.multiply_adds()
                );
            }
            let _ = writeln!(out, "  {net}");
            out
        }
        Err(diagnostics) => render(text, &diagnostics),
    };
    expected.assert_eq(&actual);
}

#[test]
fn lenet() {
    check(
        "pub struct LeNet = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2) \
         -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax;",
        &expect![[r#"
            [1, 28, 28] parameters=61706
              layer0 conv2d: [1, 28, 28] -> [6, 28, 28] relu parameters=156 multiply_adds=117600
              layer1 maxpool2d: [6, 28, 28] -> [6, 14, 14] linear parameters=0 multiply_adds=0
              layer2 conv2d: [6, 14, 14] -> [16, 10, 10] relu parameters=2416 multiply_adds=240000
              layer3 maxpool2d: [16, 10, 10] -> [16, 5, 5] linear parameters=0 multiply_adds=0
              layer4 flatten: [16, 5, 5] -> [400] linear parameters=0 multiply_adds=0
              layer5 dense: [400] -> [120] relu parameters=48120 multiply_adds=48000
              layer6 dense: [120] -> [84] relu parameters=10164 multiply_adds=10080
              layer7 dense: [84] -> [10] softmax parameters=850 multiply_adds=840
              pub struct LeNet = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2) -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax;
        "#]],
    );
}

#[test]
fn arguments_as_pairs_named_and_same() {
    check(
        "struct A = [4, 9, 10] -> conv2d(out_channels = 8, kernel = (3, 5), stride = (2, 1), padding = (1, 2), groups = 2) \
         -> maxpool2d((2, 3), stride = 1, padding = 1) -> conv2d(2, 3, padding = same, dilation = 2) -> flatten -> 3;",
        &expect![[r#"
            [4, 9, 10] parameters=757
              layer0 conv2d: [4, 9, 10] -> [8, 5, 10] linear parameters=248 multiply_adds=12000
              layer1 maxpool2d: [8, 5, 10] -> [8, 6, 10] linear parameters=0 multiply_adds=0
              layer2 conv2d: [8, 6, 10] -> [2, 6, 10] linear parameters=146 multiply_adds=8640
              layer3 flatten: [2, 6, 10] -> [120] linear parameters=0 multiply_adds=0
              layer4 dense: [120] -> [3] linear parameters=363 multiply_adds=360
              struct A = [4, 9, 10] -> conv2d(8, (3, 5), stride = (2, 1), padding = (1, 2), groups = 2) -> maxpool2d((2, 3), stride = 1, padding = 1) -> conv2d(2, 3, padding = 2, dilation = 2) -> flatten -> 3;
        "#]],
    );
}

#[test]
fn kernel_larger_than_padded_input() {
    check(
        "struct A = [1, 4, 4] -> conv2d(2, 5) -> flatten -> 2;",
        &expect![[r#"
            1:25: the kernel of `conv2d` spans 5x5 but its input, `[4, 4]` padded by [0, 0], is only 4x4: use a smaller kernel or dilation, or more padding
              struct A = [1, 4, 4] -> conv2d(2, 5) -> flatten -> 2;
                                      ^^^^^^
        "#]],
    );
}

#[test]
fn stride_zero() {
    check(
        "struct A = [1, 8, 8] -> conv2d(2, 3, stride = 0) -> flatten -> 2;",
        &expect![[r#"
            1:47: `stride` must be at least 1, found `0`
              struct A = [1, 8, 8] -> conv2d(2, 3, stride = 0) -> flatten -> 2;
                                                            ^
        "#]],
    );
}

#[test]
fn groups_not_dividing_channels() {
    check(
        "struct A = [3, 8, 8] -> conv2d(4, 3, groups = 2) -> flatten -> 2;",
        &expect![[r#"
            1:25: `conv2d` with 2 groups needs input and output channels divisible by 2, found 3 input and 4 output channels
              struct A = [3, 8, 8] -> conv2d(4, 3, groups = 2) -> flatten -> 2;
                                      ^^^^^^
        "#]],
    );
}

#[test]
fn pool_leaves_nothing() {
    check(
        "struct A = [1, 3, 3] -> maxpool2d(4) -> flatten -> 2;",
        &expect![[r#"
            1:25: `maxpool2d` leaves nothing: its window of 4x4 is larger than its input, `[3, 3]` padded by [0, 0]
              struct A = [1, 3, 3] -> maxpool2d(4) -> flatten -> 2;
                                      ^^^^^^^^^
        "#]],
    );
}

#[test]
fn unknown_kind() {
    check(
        "struct A = [1, 8, 8] -> conv2 (2, 3) -> flatten -> 2;",
        &expect![[r#"
            1:25: unknown layer kind `conv2`, did you mean `conv2d`? expected a width such as `128` or one of `dense`, `conv2d`, `conv1d`, `maxpool2d`, `avgpool2d`, `maxpool1d`, `avgpool1d`, `global_avgpool`, `global_maxpool`, `flatten`, `dropout`, `batchnorm`, `layernorm`, `lstm`, `gru` or `rnn`
              struct A = [1, 8, 8] -> conv2 (2, 3) -> flatten -> 2;
                                      ^^^^^
        "#]],
    );
}

#[test]
fn missing_and_unknown_arguments() {
    check(
        "struct A = [1, 8, 8] -> conv2d(2) -> maxpool2d(2, strid = 1) -> flatten -> 2;",
        &expect![[r#"
            1:25: `conv2d` needs `kernel`, as in `conv2d(6, 5)`
              struct A = [1, 8, 8] -> conv2d(2) -> maxpool2d(2, strid = 1) -> flatten -> 2;
                                      ^^^^^^
            1:51: unknown argument `strid` of `maxpool2d`, did you mean `stride`? expected one of `kernel`, `stride` or `padding`
              struct A = [1, 8, 8] -> conv2d(2) -> maxpool2d(2, strid = 1) -> flatten -> 2;
                                                                ^^^^^
        "#]],
    );
}

#[test]
fn dense_on_a_shaped_input() {
    check(
        "struct A = [1, 8, 8] -> conv2d(2, 3) -> 10 softmax;",
        &expect![[r#"
            1:41: a dense layer reads a vector, found `[2, 6, 6]`: insert `-> flatten` before `-> 10`
              struct A = [1, 8, 8] -> conv2d(2, 3) -> 10 softmax;
                                                      ^^
        "#]],
    );
}

#[test]
fn softmax_on_a_shaped_output() {
    check(
        "struct A = [1, 8, 8] -> conv2d(2, 3) softmax;",
        &expect![[r#"
            1:38: `softmax` normalises a vector of scores, found an output of shape `[2, 6, 6]`: end with `-> flatten -> 10 softmax` (a dense layer of one output per class)
              struct A = [1, 8, 8] -> conv2d(2, 3) softmax;
                                                   ^^^^^^^
        "#]],
    );
}

#[test]
fn input_of_rank_four() {
    check(
        "struct A = [1, 2, 8, 8] -> flatten -> 2;",
        &expect![[r#"
        1:12: an input shape has at most 3 sizes, `[channels, height, width]`, found 4
          struct A = [1, 2, 8, 8] -> flatten -> 2;
                     ^^^^^^^^^^^^
    "#]],
    );
}

#[test]
fn conv_on_a_vector() {
    check(
        "struct A = 64 -> conv2d(2, 3) -> flatten -> 2;",
        &expect![[r#"
        1:18: `conv2d` reads images of shape `[channels, height, width]`, found `[64]`: declare the input as a shape such as `[1, 28, 28]`
          struct A = 64 -> conv2d(2, 3) -> flatten -> 2;
                           ^^^^^^
    "#]],
    );
}

#[test]
fn sequences_pools_and_dropout() {
    check(
        "struct A = [8, 128] -> conv1d(16, 5, padding = 2) relu -> maxpool1d(2) -> avgpool1d(3, stride = 1, padding = 1) \
         -> dropout(0.25) -> conv1d(16, 5, padding = same, groups = 4) relu -> global_avgpool -> 4 softmax;",
        &expect![[r#"
            [8, 128] parameters=1060
              layer0 conv1d: [8, 128] -> [16, 128] relu parameters=656 multiply_adds=81920
              layer1 maxpool1d: [16, 128] -> [16, 64] linear parameters=0 multiply_adds=0
              layer2 avgpool1d: [16, 64] -> [16, 64] linear parameters=0 multiply_adds=0
              layer3 dropout: [16, 64] -> [16, 64] linear parameters=0 multiply_adds=0
              layer4 conv1d: [16, 64] -> [16, 64] relu parameters=336 multiply_adds=20480
              layer5 global_avgpool: [16, 64] -> [16] linear parameters=0 multiply_adds=0
              layer6 dense: [16] -> [4] softmax parameters=68 multiply_adds=64
              struct A = [8, 128] -> conv1d(16, 5, padding = 2) relu -> maxpool1d(2) -> avgpool1d(3, stride = 1, padding = 1) -> dropout(0.25) -> conv1d(16, 5, padding = 2, groups = 4) relu -> global_avgpool -> 4 softmax;
        "#]],
    );
    check(
        "struct A = [3, 16, 16] -> avgpool2d(2) -> global_maxpool -> dropout(0) -> 2;",
        &expect![[r#"
            [3, 16, 16] parameters=8
              layer0 avgpool2d: [3, 16, 16] -> [3, 8, 8] linear parameters=0 multiply_adds=0
              layer1 global_maxpool: [3, 8, 8] -> [3] linear parameters=0 multiply_adds=0
              layer2 dropout: [3] -> [3] linear parameters=0 multiply_adds=0
              layer3 dense: [3] -> [2] linear parameters=8 multiply_adds=6
              struct A = [3, 16, 16] -> avgpool2d(2) -> global_maxpool -> dropout(0) -> 2;
        "#]],
    );
}

#[test]
fn mistakes_of_the_other_kinds() {
    check(
        "struct A = [1, 8, 8] -> conv1d(2, 3) -> global_avgpool -> dropout(1) -> 2;",
        &expect![[r#"
            1:25: `conv1d` reads sequences of shape `[channels, length]`, found `[1, 8, 8]`
              struct A = [1, 8, 8] -> conv1d(2, 3) -> global_avgpool -> dropout(1) -> 2;
                                      ^^^^^^
            1:67: `dropout` needs a probability `p` with 0 <= p < 1, found `1`
              struct A = [1, 8, 8] -> conv1d(2, 3) -> global_avgpool -> dropout(1) -> 2;
                                                                                ^
        "#]],
    );
    check(
        "struct A = 16 -> global_maxpool -> 2;",
        &expect![[r#"
            1:18: `global_maxpool` reads channels, `[channels, length]` or `[channels, height, width]`, found the vector `[16]`
              struct A = 16 -> global_maxpool -> 2;
                               ^^^^^^^^^^^^^^
        "#]],
    );
    check(
        "struct A = [2, 4] -> maxpool1d(3, padding = 2) -> flatten -> 2;",
        &expect![[r#"
            1:22: the padding of `maxpool1d` must be at most half its kernel, found padding 2 for a kernel of 3
              struct A = [2, 4] -> maxpool1d(3, padding = 2) -> flatten -> 2;
                                   ^^^^^^^^^
        "#]],
    );
    check(
        "struct A = [2, 4] -> avgpool1d(5) -> flatten -> 2;",
        &expect![[r#"
            1:22: `avgpool1d` leaves nothing: its window of 5 is longer than its input, 4 padded by 0
              struct A = [2, 4] -> avgpool1d(5) -> flatten -> 2;
                                   ^^^^^^^^^
        "#]],
    );
}

#[test]
fn normalisations_keep_the_shape() {
    check(
        "struct A = [3, 12, 12] -> conv2d(8, 3) -> batchnorm relu -> maxpool2d(2) -> layernorm \
         -> flatten -> 10 softmax;",
        &expect![[r#"
            [3, 12, 12] parameters=2650
              layer0 conv2d: [3, 12, 12] -> [8, 10, 10] linear parameters=224 multiply_adds=21600
              layer1 batchnorm: [8, 10, 10] -> [8, 10, 10] relu parameters=16 multiply_adds=800
              layer2 maxpool2d: [8, 10, 10] -> [8, 5, 5] linear parameters=0 multiply_adds=0
              layer3 layernorm: [8, 5, 5] -> [8, 5, 5] linear parameters=400 multiply_adds=400
              layer4 flatten: [8, 5, 5] -> [200] linear parameters=0 multiply_adds=0
              layer5 dense: [200] -> [10] softmax parameters=2010 multiply_adds=2000
              struct A = [3, 12, 12] -> conv2d(8, 3) -> batchnorm relu -> maxpool2d(2) -> layernorm -> flatten -> 10 softmax;
        "#]],
    );
    // On sequences and on vectors, with arguments positional and named.
    check(
        "struct A = [4, 32] -> batchnorm(1e-3) -> conv1d(8, 3) -> batchnorm(eps = 0.01, momentum = 0.2) \
         relu -> global_avgpool -> batchnorm(momentum = 0.1) -> layernorm(1e-6) -> 3;",
        &expect![[r#"
            [4, 32] parameters=187
              layer0 batchnorm: [4, 32] -> [4, 32] linear parameters=8 multiply_adds=128
              layer1 conv1d: [4, 32] -> [8, 30] linear parameters=104 multiply_adds=2880
              layer2 batchnorm: [8, 30] -> [8, 30] relu parameters=16 multiply_adds=240
              layer3 global_avgpool: [8, 30] -> [8] linear parameters=0 multiply_adds=0
              layer4 batchnorm: [8] -> [8] linear parameters=16 multiply_adds=8
              layer5 layernorm: [8] -> [8] linear parameters=16 multiply_adds=16
              layer6 dense: [8] -> [3] linear parameters=27 multiply_adds=24
              struct A = [4, 32] -> batchnorm(eps = 0.001) -> conv1d(8, 3) -> batchnorm(eps = 0.01, momentum = 0.2) relu -> global_avgpool -> batchnorm -> layernorm(eps = 0.000001) -> 3;
        "#]],
    );
    check(
        "struct A = 6 -> batchnorm(1e-5, 0.5) -> layernorm(eps = 1e-5) tanh;",
        &expect![[r#"
        [6] parameters=24
          layer0 batchnorm: [6] -> [6] linear parameters=12 multiply_adds=6
          layer1 layernorm: [6] -> [6] tanh parameters=12 multiply_adds=12
          struct A = 6 -> batchnorm(momentum = 0.5) -> layernorm tanh;
    "#]],
    );
}

#[test]
fn mistakes_of_the_normalisations() {
    check(
        "struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) \
         -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) \
         -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));",
        &expect![[r#"
            1:32: `eps` of `batchnorm` must be positive (it keeps the division by the standard deviation finite), found `0`
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                             ^
            1:54: `eps` of `layernorm` must be positive (it keeps the division by the standard deviation finite), found `-1e-3`
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                                                   ^^^^^
            1:74: unknown argument `epsilon` of `batchnorm`, expected one of `eps`, `momentum` or `affine`
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                                                                       ^^^^^^^
            1:106: `layernorm` takes at most 1 argument, found 2
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                                                                                                       ^^^
            1:135: `batchnorm` needs a `momentum` from 0 to 1, found `2`
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                                                                                                                                    ^
            1:157: expected a number such as `1e-5` for `eps`
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                                                                                                                                                          ^^^^^
            1:177: `eps` of `batchnorm` must be a positive number that an `f32` holds, from 1e-45 to 3.4028235e38, found `1e-50`
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                                                                                                                                                                              ^^^^^
            1:203: `eps` of `layernorm` must be a positive number that an `f32` holds, from 1e-45 to 3.4028235e38, found `1e400`
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                                                                                                                                                                                                        ^^^^^
            1:223: expected a number such as `1e-5` for `eps`
              struct A = [2, 4] -> batchnorm(0) -> layernorm(eps = -1e-3) -> batchnorm(epsilon = 1) -> layernorm(1e-5, 0.1) -> batchnorm(momentum = 2) -> layernorm(eps = small) -> batchnorm(1e-50) -> layernorm(eps = 1e400) -> batchnorm((1, 2));
                                                                                                                                                                                                                                            ^^^^^^
        "#]],
    );
}

proptest::proptest! {
    #![proptest_config(crate::generators::config(256))]

    /// Any valid `eps` and `momentum`, written positionally or by name in any numeral form,
    /// compile to their values, and the canonical text compiles to the same network.
    #[test]
    fn normalisation_arguments_round_trip(
        mantissa in 1u32..10_000,
        exponent in -40i32..30,
        momentum in 0.0..=1.0f64,
        positional in proptest::bool::ANY,
        channels in 1usize..5,
    ) {
        let eps_text = format!("{mantissa}e{exponent}");
        let eps: f64 = eps_text.parse().expect("a numeral");
        let arguments = if positional {
            format!("{eps_text}, {momentum}")
        } else {
            format!("momentum = {momentum}, eps = {eps_text}")
        };
        let text = format!(
            "struct A = [{channels}, 3] -> batchnorm({arguments}) relu -> layernorm(eps = {eps_text}) -> flatten -> 2;"
        );
        let net = nn_grammar::compile_item(&text).unwrap_or_else(|ds| panic!("{text}: {ds:?}"));
        proptest::prop_assert_eq!(
            net.layers[0].kind,
            nn_grammar::LayerKind::BatchNorm { eps, momentum }
        );
        proptest::prop_assert_eq!(net.layers[1].kind, nn_grammar::LayerKind::LayerNorm { eps });
        let printed = net.to_string();
        let again = nn_grammar::compile_item(&printed).unwrap_or_else(|ds| panic!("{printed}: {ds:?}"));
        proptest::prop_assert_eq!(
            crate::generators::unranged_network(&again),
            crate::generators::unranged_network(&net)
        );
    }
}

#[test]
fn recurrent_layers_and_their_parameters() {
    // As PyTorch counts them: nn.LSTM(1, 32) has 4*32*(1+32) + 2*4*32 = 4480 parameters,
    // nn.GRU(8, 16, num_layers=2) 3*16*(8+16+2) + 3*16*(16+16+2) = 2880, nn.RNN(16, 5)
    // 5*(16+5+2) = 115.
    check(
        "pub struct Amp = 1 -> lstm(32) -> 1;",
        &expect![[r#"
            [1] parameters=4513
              layer0 lstm: [1] -> [32] linear parameters=4480 multiply_adds=4224
              layer1 dense: [32] -> [1] linear parameters=33 multiply_adds=32
              pub struct Amp = 1 -> lstm(32) -> 1;
        "#]],
    );
    check(
        "struct S = 8 -> gru(16, layers = 2) as gru -> rnn(5, relu) -> rnn(hidden = 4, nonlinearity = tanh) \
         -> dropout(0.1) -> layernorm -> 3 softmax;",
        &expect![[r#"
            [8] parameters=3062
              gru gru: [8] -> [16] linear parameters=2880 multiply_adds=2688
              layer1 rnn: [16] -> [5] linear parameters=115 multiply_adds=105
              layer2 rnn: [5] -> [4] linear parameters=44 multiply_adds=36
              layer3 dropout: [4] -> [4] linear parameters=0 multiply_adds=0
              layer4 layernorm: [4] -> [4] linear parameters=8 multiply_adds=8
              layer5 dense: [4] -> [3] softmax parameters=15 multiply_adds=12
              struct S = 8 -> gru(16, layers = 2) as gru -> rnn(5, relu) -> rnn(4) -> dropout(0.1) -> layernorm -> 3 softmax;
        "#]],
    );
}

#[test]
fn recurrent_mistakes() {
    check(
        "struct A = 4 -> lstm -> gru(0) -> rnn(4, sigmoid) -> lstm(4, layers = 9) -> gru(2, 3, 4);",
        &expect![[r#"
            1:17: `lstm` needs `hidden`, as in `lstm(32)`
              struct A = 4 -> lstm -> gru(0) -> rnn(4, sigmoid) -> lstm(4, layers = 9) -> gru(2, 3, 4);
                              ^^^^
            1:29: `hidden` must be at least 1, found `0`
              struct A = 4 -> lstm -> gru(0) -> rnn(4, sigmoid) -> lstm(4, layers = 9) -> gru(2, 3, 4);
                                          ^
            1:42: expected `tanh` or `relu` for the `nonlinearity` of `rnn`, as PyTorch's `nn.RNN`, found `sigmoid`
              struct A = 4 -> lstm -> gru(0) -> rnn(4, sigmoid) -> lstm(4, layers = 9) -> gru(2, 3, 4);
                                                       ^^^^^^^
            1:71: a recurrent layer has at most 8 stacked `layers`, found 9
              struct A = 4 -> lstm -> gru(0) -> rnn(4, sigmoid) -> lstm(4, layers = 9) -> gru(2, 3, 4);
                                                                                    ^
            1:87: `gru` takes at most 2 arguments, found 3
              struct A = 4 -> lstm -> gru(0) -> rnn(4, sigmoid) -> lstm(4, layers = 9) -> gru(2, 3, 4);
                                                                                                    ^
        "#]],
    );
    check(
        "struct A = [1, 8, 8] -> lstm(4) -> 2;",
        &expect![[r#"
            1:25: `lstm` reads a vector of features at each time step, found `[1, 8, 8]`: a sequence network's input is the width of one time step, and each layer runs once per step
              struct A = [1, 8, 8] -> lstm(4) -> 2;
                                      ^^^^
        "#]],
    );
    // Without the `flatten`, the `lstm` reads a map: the convolution is still named.
    check(
        "struct A = [4, 16] -> conv1d(8, 3) -> lstm(8) -> 2;",
        &expect![[r#"
            1:23: `conv1d` cannot be part of a network with `lstm`: such a network runs one time step at a time on vectors, and only dense layers, `lstm`, `gru`, `rnn`, causal `conv1d`, `dropout` and `layernorm` run per step; a convolution over time steps is written `causal`, as in `conv1d(16, 3, causal)`
              struct A = [4, 16] -> conv1d(8, 3) -> lstm(8) -> 2;
                                    ^^^^^^
            1:39: `lstm` reads a vector of features at each time step, found `[8, 14]`: a sequence network's input is the width of one time step, and each layer runs once per step
              struct A = [4, 16] -> conv1d(8, 3) -> lstm(8) -> 2;
                                                    ^^^^
        "#]],
    );
    check(
        "struct A = [1, 8] -> conv1d(4, 3) -> flatten -> lstm(4) -> 2;",
        &expect![[r#"
            1:22: `conv1d` cannot be part of a network with `lstm`: such a network runs one time step at a time on vectors, and only dense layers, `lstm`, `gru`, `rnn`, causal `conv1d`, `dropout` and `layernorm` run per step; a convolution over time steps is written `causal`, as in `conv1d(16, 3, causal)`
              struct A = [1, 8] -> conv1d(4, 3) -> flatten -> lstm(4) -> 2;
                                   ^^^^^^
            1:38: `flatten` cannot be part of a network with `lstm`: such a network runs one time step at a time on vectors, and only dense layers, `lstm`, `gru`, `rnn`, causal `conv1d`, `dropout` and `layernorm` run per step
              struct A = [1, 8] -> conv1d(4, 3) -> flatten -> lstm(4) -> 2;
                                                   ^^^^^^^
        "#]],
    );
}

#[test]
fn causal_convolutions_make_a_sequence_network() {
    // nn.Conv1d(2, 8, 3, dilation=2): 8 * 2 * 3 + 8 = 56 parameters; it keeps (3 - 1) * 2 = 4
    // inputs of 2 channels.
    check(
        "struct Tcn = 2 -> conv1d(8, 3, dilation = 2, causal) tanh -> conv1d(8, kernel = 2, causal, groups = 2) -> 1;",
        &expect![[r#"
            [2] parameters=137
              layer0 conv1d: [2] -> [8] tanh parameters=56 multiply_adds=48
              layer1 conv1d: [8] -> [8] linear parameters=72 multiply_adds=64
              layer2 dense: [8] -> [1] linear parameters=9 multiply_adds=8
              struct Tcn = 2 -> conv1d(8, 3, dilation = 2, causal) tanh -> conv1d(8, 2, groups = 2, causal) -> 1;
        "#]],
    );
    check(
        "struct A = 2 -> conv1d(8, 3, stride = 2, causal) -> conv1d(4, 3, padding = 1, causal) -> 1;",
        &expect![[r#"
            1:39: a `causal` convolution takes no `stride`: it reads one time step at a time, after `(kernel - 1) * dilation` steps of zeros
              struct A = 2 -> conv1d(8, 3, stride = 2, causal) -> conv1d(4, 3, padding = 1, causal) -> 1;
                                                    ^
            1:76: a `causal` convolution takes no `padding`: it reads one time step at a time, after `(kernel - 1) * dilation` steps of zeros
              struct A = 2 -> conv1d(8, 3, stride = 2, causal) -> conv1d(4, 3, padding = 1, causal) -> 1;
                                                                                         ^
        "#]],
    );
    check(
        "struct A = 2 -> conv1d(8, 3, causal, causal) -> rnn(4, tanh, relu) -> 1;",
        &expect![[r#"
            1:38: `causal` is written twice: once makes the convolution causal
              struct A = 2 -> conv1d(8, 3, causal, causal) -> rnn(4, tanh, relu) -> 1;
                                                   ^^^^^^
            1:62: expected a whole number from 1 to 8 for `layers`, found `relu`
              struct A = 2 -> conv1d(8, 3, causal, causal) -> rnn(4, tanh, relu) -> 1;
                                                                           ^^^^
        "#]],
    );
    check(
        "struct A = [2, 16] -> conv1d(8, 3, causal) -> 1;",
        &expect![[r#"
        1:23: a `causal` `conv1d` reads a vector of channels at each time step, found `[2, 16]`
          struct A = [2, 16] -> conv1d(8, 3, causal) -> 1;
                                ^^^^^^
    "#]],
    );
    check(
        "struct A = [2, 16] -> conv1d(8, 3) -> flatten -> lstm(4) -> 1;",
        &expect![[r#"
            1:23: `conv1d` cannot be part of a network with `lstm`: such a network runs one time step at a time on vectors, and only dense layers, `lstm`, `gru`, `rnn`, causal `conv1d`, `dropout` and `layernorm` run per step; a convolution over time steps is written `causal`, as in `conv1d(16, 3, causal)`
              struct A = [2, 16] -> conv1d(8, 3) -> flatten -> lstm(4) -> 1;
                                    ^^^^^^
            1:39: `flatten` cannot be part of a network with `lstm`: such a network runs one time step at a time on vectors, and only dense layers, `lstm`, `gru`, `rnn`, causal `conv1d`, `dropout` and `layernorm` run per step
              struct A = [2, 16] -> conv1d(8, 3) -> flatten -> lstm(4) -> 1;
                                                    ^^^^^^^
        "#]],
    );
    // The history lives in each stream's state: at most `MAX_HISTORY` values, reported on the
    // dilation (or, without one, on the layer).
    check(
        "struct A = 64 -> conv1d(64, 3, dilation = 1000000, causal) -> 1;",
        &expect![[r#"
            1:43: this causal `conv1d` would keep 128000000 values of each stream ((kernel - 1) * dilation = 2000000 steps of 64 channels), the limit is 1048576
              struct A = 64 -> conv1d(64, 3, dilation = 1000000, causal) -> 1;
                                                        ^^^^^^^
        "#]],
    );
    check(
        "struct A = 64 -> conv1d(8, 20000, causal) -> 1;",
        &expect![[r#"
            1:18: this causal `conv1d` would keep 1279936 values of each stream ((kernel - 1) * dilation = 19999 steps of 64 channels), the limit is 1048576
              struct A = 64 -> conv1d(8, 20000, causal) -> 1;
                               ^^^^^^
        "#]],
    );
    check(
        "struct A = 64 -> conv1d(64, 3, dilation = 8192, causal) -> 1;",
        &expect![[r#"
            [64] parameters=12417
              layer0 conv1d: [64] -> [64] linear parameters=12352 multiply_adds=12288
              layer1 dense: [64] -> [1] linear parameters=65 multiply_adds=64
              struct A = 64 -> conv1d(64, 3, dilation = 8192, causal) -> 1;
        "#]],
    );
}

/// A layer that failed to build is reported once, on what is wrong with it, and does not make
/// the layers around it wrong in a sequence network.
#[test]
fn a_bad_argument_of_a_stateful_layer_is_its_only_error() {
    check(
        "struct A = 1 -> conv1d(8, 3, dilation = 2, causal) -> lstm(32, layers = 9) -> 1;",
        &expect![[r#"
            1:73: a recurrent layer has at most 8 stacked `layers`, found 9
              struct A = 1 -> conv1d(8, 3, dilation = 2, causal) -> lstm(32, layers = 9) -> 1;
                                                                                      ^
        "#]],
    );
    check(
        "struct A = 4 -> gru(8) -> lstm(0) -> lstm(4) -> 2;",
        &expect![[r#"
            1:32: `hidden` must be at least 1, found `0`
              struct A = 4 -> gru(8) -> lstm(0) -> lstm(4) -> 2;
                                             ^
        "#]],
    );
    check(
        "struct A = 4 -> conv1d(8, 0, causal) -> gru(4) -> 2;",
        &expect![[r#"
            1:27: `kernel` must be at least 1, found `0`
              struct A = 4 -> conv1d(8, 0, causal) -> gru(4) -> 2;
                                        ^
        "#]],
    );
}

#[test]
fn int8_twins_of_grouped_and_one_d_convolutions() {
    // Grouped, depthwise and 1-D convolutions and the 1-D pools are quantised; a grouped
    // layer's sums read its group's channels only (4,096 * 9 = 36,864 products, within the
    // `i32` bound, where all 8,192 channels' 73,728 would pass it); a causal one is not.
    check(
        "struct Kws = [16, 40] -> conv1d(32, 3, padding = 1, groups = 4) relu -> maxpool1d(2) -> conv1d(32, 3, groups = 32) relu -> avgpool1d(3, stride = 2, padding = 1) -> flatten -> 4 softmax with quantize = int8;",
        &expect![[r#"
            [16, 40] parameters=1700
              layer0 conv1d: [16, 40] -> [32, 40] relu parameters=416 multiply_adds=15360
              layer1 maxpool1d: [32, 40] -> [32, 20] linear parameters=0 multiply_adds=0
              layer2 conv1d: [32, 20] -> [32, 18] relu parameters=128 multiply_adds=1728
              layer3 avgpool1d: [32, 18] -> [32, 9] linear parameters=0 multiply_adds=0
              layer4 flatten: [32, 9] -> [288] linear parameters=0 multiply_adds=0
              layer5 dense: [288] -> [4] softmax parameters=1156 multiply_adds=1152
              struct Kws = [16, 40] -> conv1d(32, 3, padding = 1, groups = 4) relu -> maxpool1d(2) -> conv1d(32, 3, groups = 32) relu -> avgpool1d(3, stride = 2, padding = 1) -> flatten -> 4 softmax with quantize = int8;
        "#]],
    );
    check(
        "struct Wide = [8192, 3, 3] -> conv2d(16, 3, groups = 2) relu -> flatten -> 2 with quantize = int8;",
        &expect![[r#"
            [8192, 3, 3] parameters=589874
              layer0 conv2d: [8192, 3, 3] -> [16, 1, 1] relu parameters=589840 multiply_adds=589824
              layer1 flatten: [16, 1, 1] -> [16] linear parameters=0 multiply_adds=0
              layer2 dense: [16] -> [2] linear parameters=34 multiply_adds=32
              struct Wide = [8192, 3, 3] -> conv2d(16, 3, groups = 2) relu -> flatten -> 2 with quantize = int8;
        "#]],
    );
    check(
        "struct Wide = [8192, 3, 3] -> conv2d(16, 3) relu -> flatten -> 2 with quantize = int8;",
        &expect![[r#"
            1:31: a quantised layer's output sums at most 65536 products (more could overflow its `i32` sums), this one sums 73728
              struct Wide = [8192, 3, 3] -> conv2d(16, 3) relu -> flatten -> 2 with quantize = int8;
                                            ^^^^^^
        "#]],
    );
    check(
        "struct Tcn = 2 -> conv1d(8, 3, causal) -> 1 with quantize = int8;",
        &expect![[r#"
            1:19: a causal `conv1d` cannot be quantised: `quantize = int8` supports dense layers, `conv2d`, `conv1d`, the 2-D, 1-D and global pools, `flatten` and `dropout` for now
              struct Tcn = 2 -> conv1d(8, 3, causal) -> 1 with quantize = int8;
                                ^^^^^^
        "#]],
    );
}

#[test]
fn layers_without_a_bias() {
    check(
        "struct NoBias = [3, 8, 8] -> conv2d(4, 3, bias = false) -> batchnorm -> flatten \
         -> dense(10, bias = false) relu -> dense(5) -> 2;",
        &expect![[r#"
            [3, 8, 8] parameters=1623
              layer0 conv2d: [3, 8, 8] -> [4, 6, 6] linear parameters=108 multiply_adds=3888
              layer1 batchnorm: [4, 6, 6] -> [4, 6, 6] linear parameters=8 multiply_adds=144
              layer2 flatten: [4, 6, 6] -> [144] linear parameters=0 multiply_adds=0
              layer3 dense: [144] -> [10] relu parameters=1440 multiply_adds=1440
              layer4 dense: [10] -> [5] linear parameters=55 multiply_adds=50
              layer5 dense: [5] -> [2] linear parameters=12 multiply_adds=10
              struct NoBias = [3, 8, 8] -> conv2d(4, 3, bias = false) -> batchnorm -> flatten -> dense(10, bias = false) relu -> 5 -> 2;
        "#]],
    );
    check(
        "struct Voice = 2 -> conv1d(3, 2, causal, bias = false) -> lstm(4, layers = 2, bias = false) \
         -> gru(3, bias = true) -> rnn(2, relu, bias = false) -> 1;",
        &expect![[r#"
            [2] parameters=346
              layer0 conv1d: [2] -> [3] linear parameters=12 multiply_adds=12
              layer1 lstm: [3] -> [4] linear parameters=240 multiply_adds=240
              layer2 gru: [4] -> [3] linear parameters=81 multiply_adds=63
              layer3 rnn: [3] -> [2] linear parameters=10 multiply_adds=10
              layer4 dense: [2] -> [1] linear parameters=3 multiply_adds=2
              struct Voice = 2 -> conv1d(3, 2, causal, bias = false) -> lstm(4, layers = 2, bias = false) -> gru(3) -> rnn(2, relu, bias = false) -> 1;
        "#]],
    );
}

#[test]
fn mistakes_with_bias() {
    check(
        "struct A = 4 -> dense(8, bias = 0) -> conv2d(2, 1, bias = false, bias = true) \
         -> maxpool2d(2, bias = false) -> linear(3, bias = false) -> dense(relu) -> dense;",
        &expect![[r#"
            1:33: expected `true` or `false` for `bias`, as PyTorch's `bias=False`, found `0`
              struct A = 4 -> dense(8, bias = 0) -> conv2d(2, 1, bias = false, bias = true) -> maxpool2d(2, bias = false) -> linear(3, bias = false) -> dense(relu) -> dense;
                                              ^
            1:39: `conv2d` reads images of shape `[channels, height, width]`, found `[8]`: declare the input as a shape such as `[1, 28, 28]`
              struct A = 4 -> dense(8, bias = 0) -> conv2d(2, 1, bias = false, bias = true) -> maxpool2d(2, bias = false) -> linear(3, bias = false) -> dense(relu) -> dense;
                                                    ^^^^^^
            1:66: argument `bias` of `conv2d` is given twice
              struct A = 4 -> dense(8, bias = 0) -> conv2d(2, 1, bias = false, bias = true) -> maxpool2d(2, bias = false) -> linear(3, bias = false) -> dense(relu) -> dense;
                                                                               ^^^^^^^^^^^
            1:95: unknown argument `bias` of `maxpool2d`, expected one of `kernel`, `stride` or `padding`
              struct A = 4 -> dense(8, bias = 0) -> conv2d(2, 1, bias = false, bias = true) -> maxpool2d(2, bias = false) -> linear(3, bias = false) -> dense(relu) -> dense;
                                                                                                            ^^^^
            1:112: PyTorch's `nn.Linear` is a dense layer, written as its width (`-> 128`), or as `-> dense(128, bias = false)` for `bias=False`
              struct A = 4 -> dense(8, bias = 0) -> conv2d(2, 1, bias = false, bias = true) -> maxpool2d(2, bias = false) -> linear(3, bias = false) -> dense(relu) -> dense;
                                                                                                                             ^^^^^^
            1:145: expected the number of outputs of `dense`, such as `128`, found `relu`
              struct A = 4 -> dense(8, bias = 0) -> conv2d(2, 1, bias = false, bias = true) -> maxpool2d(2, bias = false) -> linear(3, bias = false) -> dense(relu) -> dense;
                                                                                                                                                              ^^^^
            1:154: `dense` needs `outputs`, as in `dense(128, bias = false)`
              struct A = 4 -> dense(8, bias = 0) -> conv2d(2, 1, bias = false, bias = true) -> maxpool2d(2, bias = false) -> linear(3, bias = false) -> dense(relu) -> dense;
                                                                                                                                                                       ^^^^^
        "#]],
    );
    check(
        "struct C = [1, 8, 8] -> conv2d(4, bias = true, 3) -> conv2d(4, 3, bias = False) -> flatten -> 2;",
        &expect![[r#"
            1:48: a positional argument of `conv2d` cannot follow a named one: name it, as in `stride = 2`
              struct C = [1, 8, 8] -> conv2d(4, bias = true, 3) -> conv2d(4, 3, bias = False) -> flatten -> 2;
                                                             ^
            1:74: write `false` in lower case: expected `true` or `false` for `bias`, as PyTorch's `bias=False`, found `False`
              struct C = [1, 8, 8] -> conv2d(4, bias = true, 3) -> conv2d(4, 3, bias = False) -> flatten -> 2;
                                                                                       ^^^^^
        "#]],
    );
    check(
        "struct B = [2, 4] -> dense(3, bias = false);",
        &expect![[r#"
            1:22: a dense layer reads a vector, found `[2, 4]`: insert `-> flatten` before `-> dense`
              struct B = [2, 4] -> dense(3, bias = false);
                                   ^^^^^
        "#]],
    );
}

#[test]
fn normalisations_without_affine_parameters() {
    check(
        "struct Norms = [3, 4, 4] -> batchnorm(affine = false) -> batchnorm(1e-3, affine = false) \
         -> layernorm(affine = false) -> layernorm(bias = false) -> layernorm(eps = 0.5, bias = false) \
         -> layernorm(bias = false, affine = false) -> flatten -> 2;",
        &expect![[r#"
            [3, 4, 4] parameters=194
              layer0 batchnorm: [3, 4, 4] -> [3, 4, 4] linear parameters=0 multiply_adds=48
              layer1 batchnorm: [3, 4, 4] -> [3, 4, 4] linear parameters=0 multiply_adds=48
              layer2 layernorm: [3, 4, 4] -> [3, 4, 4] linear parameters=0 multiply_adds=96
              layer3 layernorm: [3, 4, 4] -> [3, 4, 4] linear parameters=48 multiply_adds=96
              layer4 layernorm: [3, 4, 4] -> [3, 4, 4] linear parameters=48 multiply_adds=96
              layer5 layernorm: [3, 4, 4] -> [3, 4, 4] linear parameters=0 multiply_adds=96
              layer6 flatten: [3, 4, 4] -> [48] linear parameters=0 multiply_adds=0
              layer7 dense: [48] -> [2] linear parameters=98 multiply_adds=96
              struct Norms = [3, 4, 4] -> batchnorm(affine = false) -> batchnorm(eps = 0.001, affine = false) -> layernorm(affine = false) -> layernorm(bias = false) -> layernorm(eps = 0.5, bias = false) -> layernorm(bias = false, affine = false) -> flatten -> 2;
        "#]],
    );
    check(
        "struct A = [3, 4, 4] -> batchnorm(affine = 0) -> layernorm(elementwise_affine = false) \
         -> batchnorm(bias = false) -> conv2d(2, 1, affine = false) -> flatten -> 2;",
        &expect![[r#"
            1:44: expected `true` or `false` for `affine`, as PyTorch's `affine=False`, found `0`
              struct A = [3, 4, 4] -> batchnorm(affine = 0) -> layernorm(elementwise_affine = false) -> batchnorm(bias = false) -> conv2d(2, 1, affine = false) -> flatten -> 2;
                                                         ^
            1:60: unknown argument `elementwise_affine` of `layernorm`, nn calls PyTorch's `elementwise_affine` `affine`: `layernorm(affine = false)`; expected one of `eps`, `bias` or `affine`
              struct A = [3, 4, 4] -> batchnorm(affine = 0) -> layernorm(elementwise_affine = false) -> batchnorm(bias = false) -> conv2d(2, 1, affine = false) -> flatten -> 2;
                                                                         ^^^^^^^^^^^^^^^^^^
            1:101: unknown argument `bias` of `batchnorm`, expected one of `eps`, `momentum` or `affine`
              struct A = [3, 4, 4] -> batchnorm(affine = 0) -> layernorm(elementwise_affine = false) -> batchnorm(bias = false) -> conv2d(2, 1, affine = false) -> flatten -> 2;
                                                                                                                  ^^^^
            1:131: unknown argument `affine` of `conv2d`, expected one of `out_channels`, `kernel`, `stride`, `padding`, `dilation`, `groups` or `bias`
              struct A = [3, 4, 4] -> batchnorm(affine = 0) -> layernorm(elementwise_affine = false) -> batchnorm(bias = false) -> conv2d(2, 1, affine = false) -> flatten -> 2;
                                                                                                                                                ^^^^^^
        "#]],
    );
}

/// A misspelt `bias` or `affine` is suggested and listed as any other argument.
#[test]
fn misspelt_flags_are_suggested() {
    check(
        "struct A = [3, 8, 8] -> conv2d(8, 3, bais = false) -> batchnorm(afine = false) -> flatten -> dense(4, baias = false);",
        &expect![[r#"
            1:38: unknown argument `bais` of `conv2d`, did you mean `bias`? expected one of `out_channels`, `kernel`, `stride`, `padding`, `dilation`, `groups` or `bias`
              struct A = [3, 8, 8] -> conv2d(8, 3, bais = false) -> batchnorm(afine = false) -> flatten -> dense(4, baias = false);
                                                   ^^^^
            1:65: unknown argument `afine` of `batchnorm`, did you mean `affine`? expected one of `eps`, `momentum` or `affine`
              struct A = [3, 8, 8] -> conv2d(8, 3, bais = false) -> batchnorm(afine = false) -> flatten -> dense(4, baias = false);
                                                                              ^^^^^
            1:103: unknown argument `baias` of `dense`, did you mean `bias`? expected one of `outputs` or `bias`
              struct A = [3, 8, 8] -> conv2d(8, 3, bais = false) -> batchnorm(afine = false) -> flatten -> dense(4, baias = false);
                                                                                                                    ^^^^^
        "#]],
    );
}

#[test]
fn dropout_alone_drops_half_as_pytorch() {
    check(
        "struct A = [2, 8] -> dropout -> flatten -> 2;",
        &expect![[r#"
            [2, 8] parameters=34
              layer0 dropout: [2, 8] -> [2, 8] linear parameters=0 multiply_adds=0
              layer1 flatten: [2, 8] -> [16] linear parameters=0 multiply_adds=0
              layer2 dense: [16] -> [2] linear parameters=34 multiply_adds=32
              struct A = [2, 8] -> dropout(0.5) -> flatten -> 2;
        "#]],
    );
}

#[test]
fn same_padding_of_an_even_kernel_names_it_as_written() {
    check(
        "struct A = [2, 8] -> conv1d(3, 4, padding = same) -> flatten -> 2;",
        &expect![[r#"
            1:45: `padding = same` with a kernel of 4 would pad one end more than the other, which nn does not support: use an odd kernel
              struct A = [2, 8] -> conv1d(3, 4, padding = same) -> flatten -> 2;
                                                          ^^^^
        "#]],
    );
    check(
        "struct A = [2, 8, 8] -> conv2d(3, (3, 4), padding = same) -> flatten -> 2;",
        &expect![[r#"
            1:53: `padding = same` with a kernel of (3, 4) would pad one end more than the other, which nn does not support: use an odd kernel
              struct A = [2, 8, 8] -> conv2d(3, (3, 4), padding = same) -> flatten -> 2;
                                                                  ^^^^
        "#]],
    );
}

#[test]
fn a_half_twin_s_convolutions_fit_the_stack() {
    check(
        "struct A = [512, 4, 4] -> conv2d(512, 3, padding = 1) -> flatten -> 2 with quantize = bf16;",
        &expect![[r#"
            1:27: a `bf16` twin widens each convolution's weights on the stack at every call, at most 262144 of them (1 MiB), this one has 2359296: keep the network `f32`, or use smaller convolutions
              struct A = [512, 4, 4] -> conv2d(512, 3, padding = 1) -> flatten -> 2 with quantize = bf16;
                                        ^^^^^^
        "#]],
    );
    check(
        "struct A = [256, 8] -> conv1d(128, 8) -> flatten -> 2 with quantize = f16;",
        &expect![[r#"
            [256, 8] parameters=262530
              layer0 conv1d: [256, 8] -> [128, 1] linear parameters=262272 multiply_adds=262144
              layer1 flatten: [128, 1] -> [128] linear parameters=0 multiply_adds=0
              layer2 dense: [128] -> [2] linear parameters=258 multiply_adds=256
              struct A = [256, 8] -> conv1d(128, 8) -> flatten -> 2 with quantize = f16;
        "#]],
    );
}
