//! One declaration per test: what the checker accepts, and what it says about mistakes.

use crate::check;
use expect_test::expect;
use nn_grammar::Quantize;

#[test]
fn valid_mnist() {
    check(
        "pub struct Mnist = 784 -> 128 relu -> 10 softmax;",
        &expect![[r#"
        pub Mnist F32 Loops inputs=784 outputs=10 parameters=101770
          layer0 (default name): 784 -> 128 Relu
          layer1 (default name): 128 -> 10 Softmax
    "#]],
    );
}

#[test]
fn valid_named_options() {
    check(
        "pub(crate) struct Net = 4 -> 8 leaky_relu(0.2) as a -> 8 elu as b -> 2 log_softmax with scalar = f64, unroll = full;",
        &expect![[r#"
        pub(crate) Net F64 Full inputs=4 outputs=2 parameters=130
          a: 4 -> 8 LeakyRelu { alpha: 0.2 }
          b: 8 -> 8 Elu { alpha: 1.0 }
          layer2 (default name): 8 -> 2 LogSoftmax
    "#]],
    );
}

#[test]
fn valid_defaults() {
    check(
        "struct D = 3 -> 2 leaky_relu -> 2 elu(0.5) -> 1 linear with crate = ::my::nn;",
        &expect![[r#"
        (private) D F32 Loops inputs=3 outputs=1 parameters=17
          layer0 (default name): 3 -> 2 LeakyRelu { alpha: 0.01 }
          layer1 (default name): 2 -> 2 Elu { alpha: 0.5 }
          layer2 (default name): 2 -> 1 Linear
          crate = ::my::nn
    "#]],
    );
}

#[test]
fn valid_underscores() {
    check(
        "struct U = 1_024 -> 10 sigmoid;",
        &expect![[r#"
        (private) U F32 Loops inputs=1024 outputs=10 parameters=10250
          layer0 (default name): 1024 -> 10 Sigmoid
    "#]],
    );
}

#[test]
fn valid_weights() {
    check(
        "struct W = 2 -> 1 with weights = \"w.safetensors\";",
        &expect![[r#"
        (private) W F32 Loops inputs=2 outputs=1 parameters=3
          layer0 (default name): 2 -> 1 Linear
          weights = w.safetensors
    "#]],
    );
}

#[test]
fn module_paths_name_layers() {
    check(
        "struct N = 6 -> 8 relu as encoder.0.0 -> 4 as encoder . 1 -> 3 as final.0;",
        &expect![[r#"
            (private) N F32 Loops inputs=6 outputs=3 parameters=107
              encoder.0.0: 6 -> 8 Relu
              encoder.1: 8 -> 4 Linear
              final.0: 4 -> 3 Linear
        "#]],
    );
    check(
        "struct N = 4 -> 3 as a.01 -> 2 as enc.0 -> 2 as enc_0;",
        &expect![[r#"
            1:22: expected a layer name such as `hidden` or a module path such as `encoder.0`, found `a.01`: `01` is neither a name nor a number without leading zeros
              struct N = 4 -> 3 as a.01 -> 2 as enc.0 -> 2 as enc_0;
                                   ^^^^
            1:49: layer name `enc_0` makes the field `enc_0`, as `-> 2 as enc.0` does: choose another name
              struct N = 4 -> 3 as a.01 -> 2 as enc.0 -> 2 as enc_0;
                                                              ^^^^^
        "#]],
    );
}

#[test]
fn pytorch_s_argument_names_are_explained() {
    check(
        "struct A = 3 -> lstm(8, num_layers = 2, batch_first = 1) -> conv1d(2, 1, bias = 0) -> 1;",
        &expect![[r#"
            1:25: unknown argument `num_layers` of `lstm`, nn calls PyTorch's `num_layers` `layers`; expected one of `hidden`, `layers` or `bias`
              struct A = 3 -> lstm(8, num_layers = 2, batch_first = 1) -> conv1d(2, 1, bias = 0) -> 1;
                                      ^^^^^^^^^^
            1:41: unknown argument `batch_first` of `lstm`, a sequence network reads one time step at a time, so PyTorch's batch layout does not apply (the weights are the same either way); expected one of `hidden`, `layers` or `bias`
              struct A = 3 -> lstm(8, num_layers = 2, batch_first = 1) -> conv1d(2, 1, bias = 0) -> 1;
                                                      ^^^^^^^^^^^
            1:81: expected `true` or `false` for `bias`, as PyTorch's `bias=False`, found `0`
              struct A = 3 -> lstm(8, num_layers = 2, batch_first = 1) -> conv1d(2, 1, bias = 0) -> 1;
                                                                                              ^
        "#]],
    );
    // Only for the kinds whose PyTorch modules take them: a pool has no bias.
    check(
        "struct P = [1, 8, 8] -> maxpool2d(2, bias = 0, ceil_mode = 1, kernel_size = 2) -> flatten -> 2;",
        &expect![[r#"
            1:38: unknown argument `bias` of `maxpool2d`, expected one of `kernel`, `stride` or `padding`
              struct P = [1, 8, 8] -> maxpool2d(2, bias = 0, ceil_mode = 1, kernel_size = 2) -> flatten -> 2;
                                                   ^^^^
            1:48: unknown argument `ceil_mode` of `maxpool2d`, nn's pools round their output size down, as PyTorch's default; expected one of `kernel`, `stride` or `padding`
              struct P = [1, 8, 8] -> maxpool2d(2, bias = 0, ceil_mode = 1, kernel_size = 2) -> flatten -> 2;
                                                             ^^^^^^^^^
            1:63: unknown argument `kernel_size` of `maxpool2d`, nn calls PyTorch's `kernel_size` `kernel`; expected one of `kernel`, `stride` or `padding`
              struct P = [1, 8, 8] -> maxpool2d(2, bias = 0, ceil_mode = 1, kernel_size = 2) -> flatten -> 2;
                                                                            ^^^^^^^^^^^
        "#]],
    );
}

#[test]
fn unknown_activation() {
    check(
        "struct A = 784 -> 10 rleu;",
        &expect![[r#"
            1:22: unknown activation `rleu`, did you mean `relu`? expected one of `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, `gelu_tanh`, `softplus`, `softmax` or `log_softmax`
              struct A = 784 -> 10 rleu;
                                   ^^^^
        "#]],
    );
}

#[test]
fn unknown_activation_far() {
    check(
        "struct A = 784 -> 10 banana;",
        &expect![[r#"
            1:22: unknown activation `banana`, expected one of `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, `gelu_tanh`, `softplus`, `softmax` or `log_softmax`
              struct A = 784 -> 10 banana;
                                   ^^^^^^
        "#]],
    );
}

#[test]
fn unknown_activation_softmx() {
    check(
        "struct A = 784 -> 10 softmx;",
        &expect![[r#"
            1:22: unknown activation `softmx`, did you mean `softmax`? expected one of `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, `gelu_tanh`, `softplus`, `softmax` or `log_softmax`
              struct A = 784 -> 10 softmx;
                                   ^^^^^^
        "#]],
    );
}

#[test]
fn zero_width() {
    check(
        "struct A = 784 -> 0 relu -> 10;",
        &expect![[r#"
        1:19: a layer width must be at least 1, found `0`
          struct A = 784 -> 0 relu -> 10;
                            ^
    "#]],
    );
}

#[test]
fn zero_input() {
    check(
        "struct A = 0 -> 10;",
        &expect![[r#"
        1:12: a layer width must be at least 1, found `0`
          struct A = 0 -> 10;
                     ^
    "#]],
    );
}

#[test]
fn missing_width() {
    check(
        "struct A = 784 -> relu -> 10;",
        &expect![[r#"
        1:19: `relu` is an activation, not a layer: write it after a layer, as in `-> 128 relu`
          struct A = 784 -> relu -> 10;
                            ^^^^
    "#]],
    );
}

#[test]
fn missing_width_end() {
    check(
        "struct A = 784 -> ;",
        &expect![[r#"
        1:19: expected a layer width such as `128`, found `;`
          struct A = 784 -> ;
                            ^
    "#]],
    );
}

#[test]
fn fractional_width() {
    check(
        "struct A = 784 -> 12.5 relu -> 10;",
        &expect![[r#"
        1:19: a layer width must be a whole number of neurons, found `12.5`
          struct A = 784 -> 12.5 relu -> 10;
                            ^^^^
    "#]],
    );
}

#[test]
fn exponent_width() {
    check(
        "struct A = 784 -> 1e3 relu -> 10;",
        &expect![[r#"
        1:19: a layer width must be a whole number of neurons, found `1e3`
          struct A = 784 -> 1e3 relu -> 10;
                            ^^^
    "#]],
    );
}

#[test]
fn suffixed_width() {
    check(
        "struct A = 784 -> 128usize relu -> 10;",
        &expect![[r#"
        1:19: expected a layer width such as `128`, found `128usize`
          struct A = 784 -> 128usize relu -> 10;
                            ^^^^^^^^
    "#]],
    );
}

#[test]
fn overflowing_width() {
    check(
        "struct A = 784 -> 99999999999999999999999 -> 10;",
        &expect![[r#"
        1:19: layer width `99999999999999999999999` is too large, the limit is 1048576
          struct A = 784 -> 99999999999999999999999 -> 10;
                            ^^^^^^^^^^^^^^^^^^^^^^^
    "#]],
    );
}

#[test]
fn too_wide() {
    check(
        "struct A = 784 -> 2000000 -> 10;",
        &expect![[r#"
        1:19: layer width `2000000` is too large, the limit is 1048576
          struct A = 784 -> 2000000 -> 10;
                            ^^^^^^^
    "#]],
    );
}

#[test]
fn no_layers() {
    check(
        "struct A = 784;",
        &expect![[r#"
        1:12: expected at least one layer after the input width, as in `784 -> 10 softmax`
          struct A = 784;
                     ^^^
    "#]],
    );
}

#[test]
fn input_activation() {
    check(
        "struct A = 784 relu -> 10;",
        &expect![[r#"
        1:16: the input cannot have an activation, found `relu`: activations belong to layers, as in `784 -> 10 relu`
          struct A = 784 relu -> 10;
                         ^^^^
    "#]],
    );
}

#[test]
fn softmax_not_last() {
    check(
        "struct A = 784 -> 128 softmax -> 10;",
        &expect![[r#"
        1:23: `softmax` is only allowed on the last layer, where it normalises the network's outputs, found it with 1 layer after it
          struct A = 784 -> 128 softmax -> 10;
                                ^^^^^^^
    "#]],
    );
}

#[test]
fn log_softmax_not_last() {
    check(
        "struct A = 784 -> 128 log_softmax -> 10 -> 3;",
        &expect![[r#"
        1:23: `log_softmax` is only allowed on the last layer, where it normalises the network's outputs, found it with 2 layers after it
          struct A = 784 -> 128 log_softmax -> 10 -> 3;
                                ^^^^^^^^^^^
    "#]],
    );
}

#[test]
fn relu_with_argument() {
    check(
        "struct A = 784 -> 10 relu(0.1);",
        &expect![[r#"
        1:27: `relu` takes no arguments, found `relu(0.1)`
          struct A = 784 -> 10 relu(0.1);
                                    ^^^
    "#]],
    );
}

#[test]
fn relu_empty_parens() {
    check(
        "struct A = 784 -> 10 relu();",
        &expect![[r#"
        1:22: `relu` takes no arguments, found `relu()`
          struct A = 784 -> 10 relu();
                               ^^^^^^
    "#]],
    );
}

#[test]
fn leaky_relu_empty() {
    check(
        "struct A = 784 -> 10 leaky_relu();",
        &expect![[r#"
        1:22: `leaky_relu()` needs a value, as in `leaky_relu(0.1)`, or no parentheses for the default
          struct A = 784 -> 10 leaky_relu();
                               ^^^^^^^^^^^^
    "#]],
    );
}

#[test]
fn elu_negative() {
    check(
        "struct A = 784 -> 10 elu(-1);",
        &expect![[r#"
        1:26: `elu` needs a positive alpha, found `-1`
          struct A = 784 -> 10 elu(-1);
                                   ^^
    "#]],
    );
}

#[test]
fn elu_zero() {
    check(
        "struct A = 784 -> 10 elu(0);",
        &expect![[r#"
        1:26: `elu` needs a positive alpha, found `0`
          struct A = 784 -> 10 elu(0);
                                   ^
    "#]],
    );
}

#[test]
fn leaky_relu_two() {
    check(
        "struct A = 784 -> 10 leaky_relu(1, 2);",
        &expect![[r#"
        1:36: `leaky_relu` takes one argument, found 2
          struct A = 784 -> 10 leaky_relu(1, 2);
                                             ^
    "#]],
    );
}

#[test]
fn leaky_relu_huge() {
    check(
        "struct A = 784 -> 10 leaky_relu(1e999);",
        &expect![[r#"
        1:33: expected a finite number such as `0.01`, found `1e999`
          struct A = 784 -> 10 leaky_relu(1e999);
                                          ^^^^^
    "#]],
    );
}

#[test]
fn leaky_relu_word() {
    check(
        "struct A = 784 -> 10 leaky_relu(x);",
        &expect![[r#"
        1:33: expected a number or `)`, found `x`
          struct A = 784 -> 10 leaky_relu(x);
                                          ^
    "#]],
    );
}

#[test]
fn trailing_tokens() {
    check(
        "struct A = 784 -> 10 relu; extra",
        &expect![[r#"
        1:28: expected the end of the input, found `extra`
          struct A = 784 -> 10 relu; extra
                                     ^^^^^
    "#]],
    );
}

#[test]
fn trailing_after_activation() {
    check(
        "struct A = 784 -> 10 relu relu;",
        &expect![[r#"
        1:27: expected `as`, `with`, `->`, `;` or `(`, found `relu`
          struct A = 784 -> 10 relu relu;
                                    ^^^^
    "#]],
    );
}

#[test]
fn missing_semicolon() {
    check(
        "struct A = 784 -> 10",
        &expect![[r#"
            1:21: expected an activation such as `relu`, `as`, `with`, `->` or `;`, found end of input after `10`
              struct A = 784 -> 10
                                  ^
        "#]],
    );
}

#[test]
fn missing_struct() {
    check(
        "pub A = 784 -> 10;",
        &expect![[r#"
        1:5: expected `struct`, found `A`
          pub A = 784 -> 10;
              ^
    "#]],
    );
}

#[test]
fn missing_equals() {
    check(
        "struct A 784 -> 10;",
        &expect![[r#"
        1:10: expected `=`, found `784`
          struct A 784 -> 10;
                   ^^^
    "#]],
    );
}

#[test]
fn bad_visibility() {
    check(
        "pub(foo) struct A = 784 -> 10;",
        &expect![[r#"
        1:5: expected `crate`, `super` or `self`, found `foo`
          pub(foo) struct A = 784 -> 10;
              ^^^
    "#]],
    );
}

#[test]
fn duplicate_names() {
    check(
        "struct A = 784 -> 128 relu as h -> 64 relu as h -> 10;",
        &expect![[r#"
        1:47: duplicate layer name `h`, already used by `-> 128 relu as h`
          struct A = 784 -> 128 relu as h -> 64 relu as h -> 10;
                                                        ^
    "#]],
    );
}

#[test]
fn keyword_name() {
    check(
        "struct A = 784 -> 10 as fn;",
        &expect![[r#"
        1:25: expected a layer name such as `hidden`, found `fn`, which Rust reserves (layer names become fields)
          struct A = 784 -> 10 as fn;
                                  ^^
    "#]],
    );
}

#[test]
fn names_of_generated_fields_are_reserved() {
    check(
        "struct A = [1, 4] -> dropout(0.5) -> flatten -> 2 as __dropout_masks;",
        &expect![[r#"
            1:54: expected a layer name such as `hidden`, found `__dropout_masks`: fields that start with `__` are reserved for the fields nn adds (such as `__dropout_masks`)
              struct A = [1, 4] -> dropout(0.5) -> flatten -> 2 as __dropout_masks;
                                                                   ^^^^^^^^^^^^^^^
        "#]],
    );
}

#[test]
fn reserved_and_prelude_names() {
    check(
        "struct A = 4 -> 3 as yield -> 2 as None -> 1 as _.dropout_masks;",
        &expect![[r#"
            1:22: expected a layer name such as `hidden`, found `yield`, which Rust reserves (layer names become fields)
              struct A = 4 -> 3 as yield -> 2 as None -> 1 as _.dropout_masks;
                                   ^^^^^
            1:36: expected a layer name such as `hidden`, found `None`, which names a variant of Rust's prelude (layer names become locals, which cannot shadow it)
              struct A = 4 -> 3 as yield -> 2 as None -> 1 as _.dropout_masks;
                                                 ^^^^
            1:49: expected a layer name such as `hidden`, found `_.dropout_masks`: fields that start with `__` are reserved for the fields nn adds (such as `__dropout_masks`)
              struct A = 4 -> 3 as yield -> 2 as None -> 1 as _.dropout_masks;
                                                              ^^^^^^^^^^^^^^^
        "#]],
    );
}

#[test]
fn a_pool_whose_padding_grows_past_the_output_limit() {
    check(
        "struct A = [1, 1024, 1024] -> maxpool2d(2, stride = 1, padding = 1) -> flatten -> 1;",
        &expect![[r#"
            1:31: the output of `maxpool2d`, `[1, 1025, 1025]`, is too large: a layer's output may hold at most 1048576 values
              struct A = [1, 1024, 1024] -> maxpool2d(2, stride = 1, padding = 1) -> flatten -> 1;
                                            ^^^^^^^^^
        "#]],
    );
    check(
        "struct A = [1, 1048576] -> avgpool1d(2, stride = 1, padding = 1) -> flatten -> 1;",
        &expect![[r#"
            1:28: the output of `avgpool1d`, `[1, 1048577]`, is too large: a layer's output may hold at most 1048576 values
              struct A = [1, 1048576] -> avgpool1d(2, stride = 1, padding = 1) -> flatten -> 1;
                                         ^^^^^^^^^
        "#]],
    );
}

#[test]
fn a_crate_path_of_keywords() {
    check(
        "struct A = 2 -> 1 with crate = ::nn::type;",
        &expect![[r#"
        1:32: expected a path such as `::nn` for option `crate`, found `::nn::type`
          struct A = 2 -> 1 with crate = ::nn::type;
                                         ^^^^^^^^^^
    "#]],
    );
    check(
        "struct A = 2 -> 1 with crate = _;",
        &expect![[r#"
        1:32: expected a path such as `::nn` for option `crate`, found `_`
          struct A = 2 -> 1 with crate = _;
                                         ^
    "#]],
    );
    assert!(nn_grammar::compile_item("struct A = 2 -> 1 with crate = crate::nn;").is_ok());
    assert!(nn_grammar::compile_item("struct A = 2 -> 1 with crate = super::super::nn;").is_ok());
    assert!(nn_grammar::compile_item("struct A = 2 -> 1 with crate = self::super::nn;").is_ok());
    for path in ["::nn::super", "::crate::nn", "nn::self", "crate::crate"] {
        let text = format!("struct A = 2 -> 1 with crate = {path};");
        assert!(nn_grammar::compile_item(&text).is_err(), "{path}");
    }
    assert_eq!(
        nn_grammar::struct_name_problem("f32").as_deref(),
        Some("`f32` names a primitive type")
    );
}

#[test]
fn the_examples_for_a_map_input_flatten_it() {
    check(
        "struct A = [1, 28, 28];",
        &expect![[r#"
        1:12: expected at least one layer after the input width, as in `[1, 28, 28] -> flatten -> 10 softmax`
          struct A = [1, 28, 28];
                     ^^^^^^^^^^^
    "#]],
    );
    check(
        "struct A = [1, 28, 28] relu -> flatten -> 10;",
        &expect![[r#"
        1:24: the input cannot have an activation, found `relu`: activations belong to layers, as in `[1, 28, 28] -> flatten -> 10 relu`
          struct A = [1, 28, 28] relu -> flatten -> 10;
                                 ^^^^
    "#]],
    );
    check(
        "struct A = [784];",
        &expect![[r#"
        1:12: expected at least one layer after the input width, as in `[784] -> 10 softmax`
          struct A = [784];
                     ^^^^^
    "#]],
    );
}

#[test]
fn default_name_clash() {
    check(
        "struct A = 784 -> 128 as layer1 -> 10;",
        &expect![[r#"
        1:26: layer name `layer1` is already the default name of the unnamed layer `-> 10`: choose another name
          struct A = 784 -> 128 as layer1 -> 10;
                                   ^^^^^^
    "#]],
    );
}

#[test]
fn unknown_option() {
    check(
        "struct A = 784 -> 10 with scaler = f64;",
        &expect![[r#"
            1:27: unknown option `scaler`, did you mean `scalar`? expected one of `scalar`, `unroll`, `crate`, `weights` or `quantize`
              struct A = 784 -> 10 with scaler = f64;
                                        ^^^^^^
        "#]],
    );
}

#[test]
fn unknown_option_far() {
    check(
        "struct A = 784 -> 10 with colour = red;",
        &expect![[r#"
            1:27: unknown option `colour`, expected one of `scalar`, `unroll`, `crate`, `weights` or `quantize`
              struct A = 784 -> 10 with colour = red;
                                        ^^^^^^
        "#]],
    );
}

#[test]
fn bad_scalar() {
    check(
        "struct A = 784 -> 10 with scalar = f16;",
        &expect![[r#"
        1:36: expected `f32` or `f64` for option `scalar`, found `f16`
          struct A = 784 -> 10 with scalar = f16;
                                             ^^^
    "#]],
    );
}

#[test]
fn bad_unroll() {
    check(
        "struct A = 784 -> 10 with unroll = some;",
        &expect![[r#"
        1:36: expected `loops` or `full` for option `unroll`, found `some`
          struct A = 784 -> 10 with unroll = some;
                                             ^^^^
    "#]],
    );
}

#[test]
fn bad_crate() {
    check(
        "struct A = 784 -> 10 with crate = \"nn\";",
        &expect![[r#"
        1:35: expected a path such as `::nn` for option `crate`, found `"nn"`
          struct A = 784 -> 10 with crate = "nn";
                                            ^^^^
    "#]],
    );
}

#[test]
fn bad_weights() {
    check(
        "struct A = 784 -> 10 with weights = file;",
        &expect![[r#"
        1:37: expected a file path in quotes, such as `"mnist.safetensors"`, for option `weights`, found `file`
          struct A = 784 -> 10 with weights = file;
                                              ^^^^
    "#]],
    );
}

#[test]
fn option_twice() {
    check(
        "struct A = 784 -> 10 with scalar = f64, scalar = f32;",
        &expect![[r#"
        1:41: option `scalar` is set twice
          struct A = 784 -> 10 with scalar = f64, scalar = f32;
                                                  ^^^^^^
    "#]],
    );
}

#[test]
fn full_unroll_too_big() {
    check(
        "struct A = 784 -> 128 relu -> 10 with unroll = full;",
        &expect![[r#"
            1:48: `unroll = full` writes one statement per multiply-add of a dense layer and is limited to 4096, this network's dense layers have 101632: use `unroll = loops`
              struct A = 784 -> 128 relu -> 10 with unroll = full;
                                                             ^^^^
        "#]],
    );
    // Only dense layers are written out: a wide recurrent layer's 160,800 multiply-adds a step
    // do not count, nor a convolution's.
    check(
        "struct A = 4 -> lstm(200) -> 2 with unroll = full;",
        &expect![[r#"
            (private) A F32 Full inputs=4 outputs=2 parameters=165202
              layer0 (default name): 4 -> 200 Linear
              layer1 (default name): 200 -> 2 Linear
        "#]],
    );
    check(
        "struct A = [1, 28, 28] -> conv2d(6, 5) -> maxpool2d(4) -> flatten -> 2 with unroll = full;",
        &expect![[r#"
            (private) A F32 Full inputs=784 outputs=2 parameters=590
              layer0 (default name): 784 -> 3456 Linear
              layer1 (default name): 3456 -> 216 Linear
              layer2 (default name): 216 -> 216 Linear
              layer3 (default name): 216 -> 2 Linear
        "#]],
    );
}

#[test]
fn too_many_parameters() {
    check(
        "struct A = 100000 -> 10000 -> 10;",
        &expect![[r#"
        1:22: too many parameters: expected at most 134217728 weights and biases in `A`, found 1000010000 up to this layer
          struct A = 100000 -> 10000 -> 10;
                               ^^^^^
    "#]],
    );
}

#[test]
fn parameter_overflow() {
    check(
        "struct A = 1000000 -> 1000000 -> 1000000 -> 1000000;",
        &expect![[r#"
        1:23: too many parameters: expected at most 134217728 weights and biases in `A`, found 1000001000000 up to this layer
          struct A = 1000000 -> 1000000 -> 1000000 -> 1000000;
                                ^^^^^^^
    "#]],
    );
}

#[test]
fn several_problems() {
    check(
        "struct A = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;",
        &expect![[r#"
            1:16: the input cannot have an activation, found `relu`: activations belong to layers, as in `784 -> 10 relu`
              struct A = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;
                             ^^^^
            1:24: a layer width must be at least 1, found `0`
              struct A = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;
                                     ^
            1:26: unknown activation `rleu`, did you mean `relu`? expected one of `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, `gelu_tanh`, `softplus`, `softmax` or `log_softmax`
              struct A = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;
                                       ^^^^
            1:34: a layer width must be a whole number of neurons, found `12.5`
              struct A = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;
                                               ^^^^
            1:39: `softmax` is only allowed on the last layer, where it normalises the network's outputs, found it with 1 layer after it
              struct A = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;
                                                    ^^^^^^^
            1:61: duplicate layer name `x`, already used by `-> 12.5 softmax as x`
              struct A = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;
                                                                          ^
            1:68: unknown option `scaler`, did you mean `scalar`? expected one of `scalar`, `unroll`, `crate`, `weights` or `quantize`
              struct A = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;
                                                                                 ^^^^^^
        "#]],
    );
}

#[test]
fn empty() {
    check(
        "",
        &expect![[r#"
        1:1: expected a declaration such as `struct Net = 2 -> 1`, found end of input
  
          ^
    "#]],
    );
}

#[test]
fn dangling_arrow() {
    check(
        "struct A = 784 -> 10 ->;",
        &expect![[r#"
        1:24: expected a layer width such as `128`, found `;`
          struct A = 784 -> 10 ->;
                                 ^
    "#]],
    );
}

#[test]
fn double_arrow() {
    check(
        "struct A = 784 -> -> 10;",
        &expect![[r#"
        1:19: expected a layer width such as `128`, found `->`
          struct A = 784 -> -> 10;
                            ^^
    "#]],
    );
}

#[test]
fn negative_width() {
    check(
        "struct A = 784 -> -10;",
        &expect![[r#"
        1:19: expected a layer width such as `128`, found `-`
          struct A = 784 -> -10;
                            ^
    "#]],
    );
}

#[test]
fn missing_name() {
    check(
        "struct = 784 -> 10;",
        &expect![[r#"
        1:8: expected a name, found `=`
          struct = 784 -> 10;
                 ^
    "#]],
    );
}

#[test]
fn lowercase_keyword_as_name() {
    check(
        "struct with = 784 -> 10;",
        &expect![[r#"
        1:8: expected a name, found `with`
          struct with = 784 -> 10;
                 ^^^^
    "#]],
    );
}

#[test]
fn as_without_name() {
    check(
        "struct A = 784 -> 10 as;",
        &expect![[r#"
        1:24: expected a name, found `;`
          struct A = 784 -> 10 as;
                                 ^
    "#]],
    );
}

#[test]
fn options_without_setting() {
    check(
        "struct A = 784 -> 10 with;",
        &expect![[r#"
        1:26: expected a name, found `;`
          struct A = 784 -> 10 with;
                                   ^
    "#]],
    );
}

#[test]
fn unclosed_paren() {
    check(
        "struct A = 784 -> 10 leaky_relu(0.1;",
        &expect![[r#"
        1:36: expected `)`, found `;`
          struct A = 784 -> 10 leaky_relu(0.1;
                                             ^
    "#]],
    );
}

#[test]
fn underscore_name() {
    check(
        "struct A = 784 -> 10 as _;",
        &expect![[r#"
        1:25: expected a layer name such as `hidden`, found `_`, which Rust reserves (layer names become fields)
          struct A = 784 -> 10 as _;
                                  ^
    "#]],
    );
}

#[test]
fn keyword_struct_name() {
    check(
        "struct Self = 784 -> 10;",
        &expect![[r#"
        1:8: expected a struct name such as `Mnist`, found `Self`, which Rust reserves
          struct Self = 784 -> 10;
                 ^^^^
    "#]],
    );
}

#[test]
fn leaky_relu_negative_slope_is_allowed() {
    check(
        "struct A = 2 -> 2 leaky_relu(-0.5) -> 1;",
        &expect![[r#"
        (private) A F32 Loops inputs=2 outputs=1 parameters=9
          layer0 (default name): 2 -> 2 LeakyRelu { alpha: -0.5 }
          layer1 (default name): 2 -> 1 Linear
    "#]],
    );
}

#[test]
fn too_many_layers() {
    let text = format!("struct Deep = 4{};", " -> 4".repeat(257));
    let diagnostics = nn_grammar::compile_item(&text).unwrap_err();
    // One diagnostic, on the 257th arrow.
    let arrow = text.match_indices("->").nth(256).map(|(at, _)| at);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(Some(diagnostics[0].range.start), arrow);
    assert_eq!(diagnostics[0].range.end - diagnostics[0].range.start, 2);
    expect!["too many layers: expected at most 256, found 257"].assert_eq(&diagnostics[0].message);
}

#[test]
fn exactly_the_limits() {
    let deep = format!("struct Deep = 4{};", " -> 4".repeat(256));
    assert_eq!(
        nn_grammar::compile_item(&deep).map(|n| n.layers.len()),
        Ok(256)
    );
    // 8191 * 16384 + 16384 = 2^27 parameters: allowed; one more input is not.
    check(
        "struct Big = 8191 -> 16384;",
        &expect![[r#"
        (private) Big F32 Loops inputs=8191 outputs=16384 parameters=134217728
          layer0 (default name): 8191 -> 16384 Linear
    "#]],
    );
    check(
        "struct Bigger = 8192 -> 16384;",
        &expect![[r#"
        1:25: too many parameters: expected at most 134217728 weights and biases in `Bigger`, found 134234112 up to this layer
          struct Bigger = 8192 -> 16384;
                                  ^^^^^
    "#]],
    );
}

#[test]
fn crate_paths_as_the_macro_renders_them() {
    check(
        "struct A = 2 -> 1 with crate = :: nn;",
        &expect![[r#"
        (private) A F32 Loops inputs=2 outputs=1 parameters=3
          layer0 (default name): 2 -> 1 Linear
          crate = ::nn
    "#]],
    );
    check(
        "struct A = 2 -> 1 with crate = my :: nn;",
        &expect![[r#"
        (private) A F32 Loops inputs=2 outputs=1 parameters=3
          layer0 (default name): 2 -> 1 Linear
          crate = my::nn
    "#]],
    );
    check(
        "struct A = 2 -> 1 with crate = ::;",
        &expect![[r#"
        1:34: expected a name, found `;`
          struct A = 2 -> 1 with crate = ::;
                                           ^
    "#]],
    );
    check(
        "struct A = 2 -> 1 with crate = ::nn::;",
        &expect![[r#"
        1:38: expected a name, found `;`
          struct A = 2 -> 1 with crate = ::nn::;
                                               ^
    "#]],
    );
}

#[test]
fn arguments_beyond_f32() {
    check(
        "struct A = 2 -> 2 leaky_relu(1e300) -> 1 elu(-1e39);",
        &expect![[r#"
            1:30: expected an argument of `leaky_relu` that fits in `f32`, at most 3.4028235e38 in size, found `1e300`: use `scalar = f64`
              struct A = 2 -> 2 leaky_relu(1e300) -> 1 elu(-1e39);
                                           ^^^^^
            1:46: `elu` needs a positive alpha, found `-1e39`
              struct A = 2 -> 2 leaky_relu(1e300) -> 1 elu(-1e39);
                                                           ^^^^^
        "#]],
    );
    check(
        "struct A = 2 -> 2 leaky_relu(1e300) -> 1 elu(1e39) with scalar = f64;",
        &expect![[r#"
            (private) A F64 Loops inputs=2 outputs=1 parameters=9
              layer0 (default name): 2 -> 2 LeakyRelu { alpha: 1e300 }
              layer1 (default name): 2 -> 1 Elu { alpha: 1e39 }
        "#]],
    );
    check(
        "struct A = 2 -> 2 leaky_relu(-3e38) -> 1 elu(1e-300);",
        &expect![[r#"
            1:46: `elu` needs a positive alpha, found `1e-300`, which is 0 as an `f32`
              struct A = 2 -> 2 leaky_relu(-3e38) -> 1 elu(1e-300);
                                                           ^^^^^^
        "#]],
    );
}

#[test]
fn half_twins_take_every_kind_and_int8_no_sequence() {
    check(
        "struct A = [2, 16] -> conv1d(4, 3, groups = 2) relu -> batchnorm -> maxpool1d(2) -> layernorm -> flatten -> 3 with quantize = bf16;",
        &expect![[r#"
            (private) A F32 Loops inputs=32 outputs=3 parameters=167
              layer0 (default name): 32 -> 56 Relu
              layer1 (default name): 56 -> 56 Linear
              layer2 (default name): 56 -> 28 Linear
              layer3 (default name): 28 -> 28 Linear
              layer4 (default name): 28 -> 28 Linear
              layer5 (default name): 28 -> 3 Linear
        "#]],
    );
    check(
        "struct A = 4 -> lstm(8) -> gru(8, layers = 2) -> rnn(4) -> 2 with quantize = f16;",
        &expect![[r#"
            (private) A F32 Loops inputs=4 outputs=2 parameters=1378
              layer0 (default name): 4 -> 8 Linear
              layer1 (default name): 8 -> 8 Linear
              layer2 (default name): 8 -> 4 Linear
              layer3 (default name): 4 -> 2 Linear
        "#]],
    );
    check(
        "struct A = 2 -> conv1d(4, 3, causal) -> 2 with quantize = bf16;",
        &expect![[r#"
            (private) A F32 Loops inputs=2 outputs=2 parameters=38
              layer0 (default name): 2 -> 4 Linear
              layer1 (default name): 4 -> 2 Linear
        "#]],
    );
    check(
        "struct A = 4 -> lstm(8) -> 2 with quantize = int8;",
        &expect![[r#"
            1:17: `lstm` cannot be quantised: `quantize = int8` supports dense layers, `conv2d`, `conv1d`, the 2-D, 1-D and global pools, `flatten` and `dropout` for now
              struct A = 4 -> lstm(8) -> 2 with quantize = int8;
                              ^^^^
        "#]],
    );
}

#[test]
fn quantize_once_per_format() {
    let text = "struct A = 4 -> 8 relu -> 2 with quantize = int8, quantize = bf16, quantize = f16;";
    let net = nn_grammar::compile_item(text).expect("three twins");
    let twins: Vec<(Quantize, &str)> = net
        .quantize
        .iter()
        .map(|&(format, range)| (format, &text[range.start..range.end]))
        .collect();
    assert_eq!(
        twins,
        [
            (Quantize::Int8, "int8"),
            (Quantize::Bf16, "bf16"),
            (Quantize::F16, "f16")
        ]
    );
    // Printed back in the order written, each occurrence.
    assert_eq!(net.to_string(), text);
    check(
        "struct A = 4 -> 2 with quantize = bf16, quantize = int8, quantize = bf16;",
        &expect![[r#"
            1:69: `quantize = bf16` is set twice
              struct A = 4 -> 2 with quantize = bf16, quantize = int8, quantize = bf16;
                                                                                  ^^^^
        "#]],
    );
    check(
        "struct A = 4 -> 2 with quantize = f16, quantize = f16, scalar = f64, scalar = f32;",
        &expect![[r#"
            1:35: `quantize = f16` makes a twin of an `f32` network, this one is `f64`: remove `scalar = f64`
              struct A = 4 -> 2 with quantize = f16, quantize = f16, scalar = f64, scalar = f32;
                                                ^^^
            1:51: `quantize = f16` is set twice
              struct A = 4 -> 2 with quantize = f16, quantize = f16, scalar = f64, scalar = f32;
                                                                ^^^
            1:70: option `scalar` is set twice
              struct A = 4 -> 2 with quantize = f16, quantize = f16, scalar = f64, scalar = f32;
                                                                                   ^^^^^^
        "#]],
    );
    // Each format's restrictions, located on its own value.
    check(
        "struct A = 4 -> lstm(8) -> 2 with quantize = bf16, quantize = int8;",
        &expect![[r#"
            1:17: `lstm` cannot be quantised: `quantize = int8` supports dense layers, `conv2d`, `conv1d`, the 2-D, 1-D and global pools, `flatten` and `dropout` for now
              struct A = 4 -> lstm(8) -> 2 with quantize = bf16, quantize = int8;
                              ^^^^
        "#]],
    );
    check(
        "struct A = 4 -> 2 with quantize = int8, scalar = f64, quantize = f16;",
        &expect![[r#"
            1:35: `quantize = int8` makes a twin of an `f32` network, this one is `f64`: remove `scalar = f64`
              struct A = 4 -> 2 with quantize = int8, scalar = f64, quantize = f16;
                                                ^^^^
            1:66: `quantize = f16` makes a twin of an `f32` network, this one is `f64`: remove `scalar = f64`
              struct A = 4 -> 2 with quantize = int8, scalar = f64, quantize = f16;
                                                                               ^^^
        "#]],
    );
}
