//! The layer kinds beyond LeNet's (`conv1d`, `avgpool2d`, `maxpool1d`, `avgpool1d`,
//! `global_avgpool`, `global_maxpool`, `dropout`): each generated network computes what a hand
//! composition of the runtime's calls computes, bit for bit (the runtime's kernels are checked
//! against onnxruntime in nn-runtime/tests/it/layers.rs).

use nn::layers::{
    Conv1dGeometry, Pool1dGeometry, Pool2dGeometry, avgpool1d, avgpool2d, dropout, global_avgpool,
    global_maxpool, maxpool1d,
};

nn::network! {
    /// A 1-D network over 4 channels of 20 values.
    pub struct Sequence = [4, 20] -> conv1d(6, 3, padding = 1) relu -> maxpool1d(2)
        -> avgpool1d(3, stride = 1, padding = 1) -> dropout(0.5) -> global_avgpool -> 3 softmax;

    /// A 2-D network of the other pools.
    pub struct Image = [2, 9, 9] -> avgpool2d(3, stride = 2, padding = 1) -> global_maxpool
        -> 2 tanh;

    /// No layer with tensors at all: a struct without fields.
    pub struct Reshape = [2, 3] -> flatten -> dropout(0.1);

    /// Grouped, strided and dilated 1-D convolutions, ending on a shaped output.
    pub struct Grouped = [4, 16] -> conv1d(8, 3, stride = 2, dilation = 2, groups = 2)
        -> conv1d(2, 1, padding = same) sigmoid;
}

/// Deterministic values in [-1, 1).
fn values<const N: usize>(seed: u32) -> [f32; N] {
    let mut state = seed;
    std::array::from_fn(|_| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        #[allow(clippy::cast_precision_loss)] // 24 bits, exact in f32
        let unit = (state >> 8) as f32 / (1 << 24) as f32;
        2.0 * unit - 1.0
    })
}

/// A scratch for a convolution's `forward_with`, longer than any here needs.
fn scratch() -> Vec<f32> {
    vec![0.0; 1 << 14]
}

#[test]
fn sequence_is_the_composition_of_its_layers() {
    let net = Sequence::random(3);
    let flat: [f32; 80] = values(1);
    let mut input = [[0.0_f32; 20]; 4];
    input.as_flattened_mut().copy_from_slice(&flat);

    // `forward_with`, as generated code calls it (the sums in the kernel's order).
    let mut conv: [[f32; 20]; 6] = net.layer0.forward_with(
        &input,
        Conv1dGeometry {
            padding: 1,
            ..Conv1dGeometry::DEFAULT
        },
        &mut scratch(),
    );
    for v in conv.as_flattened_mut() {
        *v = v.max(0.0);
    }
    let pooled: [[f32; 10]; 6] = maxpool1d(&conv, Pool1dGeometry::new(2));
    let averaged: [[f32; 10]; 6] = avgpool1d(
        &pooled,
        Pool1dGeometry {
            kernel: 3,
            stride: 1,
            padding: 1,
        },
    );
    let dropped = dropout(&averaged);
    let channels: [f32; 6] = global_avgpool(&dropped);
    let mut expected = net.layer5.forward(&channels);
    nn::Activation::Softmax.apply(&mut expected);

    assert_eq!(net.forward(&input), expected);
    let mut batch = [[0.0; 3]; 2];
    net.forward_batch(&[input, input], &mut batch)
        .expect("two rows");
    assert_eq!(batch, [expected, expected]);
    let mut output = [0.0; 3];
    nn::Network::forward_slice(&*net, &flat, &mut output).expect("sizes match");
    assert_eq!(output, expected);
}

#[test]
fn image_is_the_composition_of_its_layers() {
    let net = Image::random(4);
    let flat: [f32; 162] = values(2);
    let mut x = [[[0.0_f32; 9]; 9]; 2];
    x.as_flattened_mut()
        .as_flattened_mut()
        .copy_from_slice(&flat);
    let a: [[[f32; 5]; 5]; 2] = avgpool2d(
        &x,
        Pool2dGeometry {
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
        },
    );
    let b: [f32; 2] = global_maxpool(&a);
    let mut y = net.layer2.forward(&b);
    nn::Activation::Tanh.apply(&mut y);
    assert_eq!(net.forward(&x), y);
}

#[test]
fn grouped_convolutions_end_on_a_shaped_output() {
    let net = Grouped::random(5);
    let flat: [f32; 64] = values(3);
    let mut x = [[0.0_f32; 16]; 4];
    x.as_flattened_mut().copy_from_slice(&flat);
    let a: [[f32; 6]; 8] = net.layer0.forward_with(
        &x,
        Conv1dGeometry {
            stride: 2,
            padding: 0,
            dilation: 2,
        },
        &mut scratch(),
    );
    let mut b: [[f32; 6]; 2] = net
        .layer1
        .forward_with(&a, Conv1dGeometry::DEFAULT, &mut scratch());
    nn::Activation::Sigmoid.apply(b.as_flattened_mut());
    assert_eq!(net.forward(&x), b);
    // The flat output slice is cut into the output's rows.
    let mut output = [0.0; 12];
    nn::Network::forward_slice(&*net, &flat, &mut output).expect("sizes match");
    assert_eq!(output, *b.as_flattened());
}

#[test]
fn a_network_without_tensors() {
    let net = Reshape::zeroed();
    assert_eq!(
        net.forward(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    assert_eq!(Reshape::PARAMETERS, 0);
    let mut visited = 0;
    nn::Network::for_each_tensor(&*net, |_, _, _| visited += 1);
    assert_eq!(visited, 0);
}

#[test]
fn summaries_name_every_kind() {
    expect_test::expect![[r#"
        Sequence (f32, input [4, 20])
        -------------------------------------------------------------------------
        Layer (type)            Activation        Output shape            Param #
        =========================================================================
        layer0 (Conv1d)         relu              [6, 20]                      78
        layer1 (MaxPool1d)      linear            [6, 10]                       0
        layer2 (AvgPool1d)      linear            [6, 10]                       0
        layer3 (Dropout)        linear            [6, 10]                       0
        layer4 (GlobalAvgPool)  linear            [6]                           0
        layer5 (Dense)          softmax           [3]                          21
        =========================================================================
        Total params: 99 (396 B of weights)
        -------------------------------------------------------------------------
        Image (f32, input [2, 9, 9])
        -------------------------------------------------------------------------
        Layer (type)            Activation        Output shape            Param #
        =========================================================================
        layer0 (AvgPool2d)      linear            [2, 5, 5]                     0
        layer1 (GlobalMaxPool)  linear            [2]                           0
        layer2 (Dense)          tanh              [2]                           6
        =========================================================================
        Total params: 6 (24 B of weights)
        -------------------------------------------------------------------------"#]]
    .assert_eq(&format!("{}\n{}", Sequence::summary(), Image::summary()));
}
