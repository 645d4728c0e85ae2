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

#[test]
fn lenet_shows_each_kind_with_its_arguments_and_shapes() {
    let run = nnc(&root(), &["summary", "models/lenet.nn"]);
    assert_eq!(run.code, 0, "{run:?}");
    // conv 6x1x5x5 + 6 = 156 and 16x6x5x5 + 16 = 2,416 parameters; its multiply-adds are
    // 150 per value of [6, 28, 28] (117,600) and 150 per value of [16, 10, 10] (240,000).
    expect![[r#"
        LeNet (f32, unroll = loops): input [1, 28, 28] (784 values), 10 outputs
        layer   kind                       activation  output        parameters  multiply-adds     memory
        -------------------------------------------------------------------------------------------------
        input                                          [1, 28, 28]
        layer0  conv2d(6, 5, padding = 2)  relu        [6, 28, 28]          156        117,600      624 B
        layer1  maxpool2d(2)               linear      [6, 14, 14]            0              0        0 B
        layer2  conv2d(16, 5)              relu        [16, 10, 10]       2,416        240,000    9.4 KiB
        layer3  maxpool2d(2)               linear      [16, 5, 5]             0              0        0 B
        layer4  flatten                    linear      [400]                  0              0        0 B
        layer5  dense                      relu        [120]             48,120         48,000  188.0 KiB
        layer6  dense                      relu        [84]              10,164         10,080   39.7 KiB
        layer7  dense                      softmax     [10]                 850            840    3.3 KiB
        -------------------------------------------------------------------------------------------------
        total                                                            61,706        416,520  241.0 KiB
    "#]]
    .assert_eq(&run.stdout);
}

#[test]
fn a_sequence_network_counts_one_time_step_and_its_state() {
    let run = nnc(&root(), &["summary", "models/amp.nn"]);
    assert_eq!(run.code, 0, "{run:?}");
    // nn.LSTM(1, 32): 4 * 32 * (1 + 32) weights and 2 * 4 * 32 biases = 4,480 parameters,
    // 4,224 multiply-adds a step; its state is h and c, 2 * 32 values of 4 bytes.
    expect![[r#"
        Amp (f32, unroll = loops): 1 input, 1 output
        layer  kind      activation  output  parameters  multiply-adds    memory
        ------------------------------------------------------------------------
        input                        [1]
        lstm   lstm(32)  linear      [32]         4,480          4,224  17.5 KiB
        head   dense     linear      [1]             33             32     132 B
        ------------------------------------------------------------------------
        total                                     4,513          4,256  17.6 KiB
        a sequence network: input, output and multiply-adds are one time step's; a stream's state holds 64 values (256 B)
    "#]]
    .assert_eq(&run.stdout);
}
