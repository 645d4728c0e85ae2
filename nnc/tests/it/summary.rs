//! `nnc summary`: the numbers per layer, checked against hand counts.

use crate::{nnc, root};
use expect_test::expect;

#[test]
fn mnist() {
    let run = nnc(&root(), &["summary", "models/mnist.nn"]);
    assert_eq!(run.code, 0, "{run:?}");
    // 784 * 128 + 128 = 100,480 and 128 * 10 + 10 = 1,290 parameters; 101,770 * 4 bytes =
    // 407,080 bytes = 397.5 KiB; 784 * 128 + 128 * 10 = 101,632 multiply-adds.
    expect![[r#"
        Mnist (f32, unroll = loops): 784 inputs, 10 outputs
        layer   activation  output  parameters  multiply-adds     memory
        ----------------------------------------------------------------
        input               [784]
        hidden  relu        [128]      100,480        100,352  392.5 KiB
        output  softmax     [10]         1,290          1,280    5.0 KiB
        ----------------------------------------------------------------
        total                          101,770        101,632  397.5 KiB
    "#]]
    .assert_eq(&run.stdout);
}

#[test]
fn several_networks_and_one_of_them() {
    let all = nnc(&root(), &["summary", "models/tiny.nn"]);
    assert_eq!(all.code, 0, "{all:?}");
    // Iris is f64: 243 parameters of 8 bytes are 1,944 bytes = 1.9 KiB.
    expect![[r#"
        Xor (f32, unroll = full): 2 inputs, 1 output
        layer   activation  output  parameters  multiply-adds  memory
        -------------------------------------------------------------
        input               [2]
        hidden  tanh        [4]             12              8    48 B
        output  sigmoid     [1]              5              4    20 B
        -------------------------------------------------------------
        total                               17             12    68 B

        Iris (f64, unroll = loops): 4 inputs, 3 outputs
        layer     activation       output  parameters  multiply-adds   memory
        ---------------------------------------------------------------------
        input                      [4]
        features  leaky_relu(0.1)  [16]            80             64    640 B
        layer1    elu(1)           [8]            136            128  1.1 KiB
        layer2    log_softmax      [3]             27             24    216 B
        ---------------------------------------------------------------------
        total                                     243            216  1.9 KiB

        Zoo (f32, unroll = loops): 3 inputs, 2 outputs
        layer   activation  output  parameters  multiply-adds  memory
        -------------------------------------------------------------
        input               [3]
        layer0  gelu        [5]             20             15    80 B
        layer1  silu        [5]             30             25   120 B
        layer2  softplus    [5]             30             25   120 B
        layer3  relu        [4]             24             20    96 B
        layer4  linear      [2]             10              8    40 B
        layer5  linear      [2]              6              4    24 B
        -------------------------------------------------------------
        total                              120             97   480 B
    "#]]
    .assert_eq(&all.stdout);
    let one = nnc(&root(), &["summary", "models/tiny.nn", "--network", "Iris"]);
    assert_eq!(one.code, 0, "{one:?}");
    assert!(all.stdout.contains(&one.stdout));
    assert!(one.stdout.starts_with("Iris (f64"), "{one:?}");
}
