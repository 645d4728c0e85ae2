//! The generated training code names everything by absolute path and keeps its own locals
//! apart from layer names, even names that collide with its parameters and locals.

#![deny(warnings)]

use nn::train::{CrossEntropy, Trainable};

#[allow(dead_code)]
mod shadowing {
    // Everything generated code might name without a path.
    pub struct Result;
    pub struct Ok;
    pub struct Err;
    pub struct Option;
    pub struct Some;
    pub struct None;
    pub struct Box;
    pub struct Vec;
    pub struct Outcome;
    pub struct Loss;

    // Layers named like the generated methods' parameters and like their locals.
    nn::network! {
        pub struct Tricky = 3 -> 64 relu as input -> 64 tanh as input_pre -> 3 elu(1.0) as n
            -> 3 as k -> 3 silu as loss -> 2 softmax as gradients with scalar = f64;

        /// Convolutions and pools, chunked, with layers named like the locals of their
        /// per-sample loops in chunks.
        pub struct TrickyCnn = [2, 8, 8] -> conv2d(8, 3) relu as sample -> maxpool2d(2) as row
            -> conv2d(4, 1) as sample_delta -> flatten as chunk_inputs -> 3 softmax as observe;

        /// A sequence network with layers named like the locals of `accumulate_sequence`.
        pub struct TrickySequence = 3 -> 4 tanh as steps -> lstm(4) as t -> layernorm as total
            -> dropout(0.1) as copy -> gru(3) as window_key -> 2 softmax as state
            with scalar = f64;
    }
}

nn::network! {
    struct PlainCnn = [2, 8, 8] -> conv2d(8, 3) relu -> maxpool2d(2) -> conv2d(4, 1) -> flatten
        -> 3 softmax;
}

#[test]
fn cnn_layer_names_do_not_capture_generated_locals() {
    use nn::Network;
    const { assert!(shadowing::TrickyCnn::TRAINING_CHUNK > 1) };
    let mut tricky = shadowing::TrickyCnn::zeroed();
    let plain = PlainCnn::random(4);
    let mut tensors = Vec::new();
    plain.for_each_tensor(|_, _, values| tensors.push(values.to_vec()));
    let mut tensors = tensors.into_iter();
    tricky.for_each_tensor_mut(|_, _, values| values.copy_from_slice(&tensors.next().unwrap()));
    let inputs: Vec<[[[f32; 8]; 8]; 2]> = (0..3u8)
        .map(|k| [[[f32::from(k) * 0.25 - 0.3; 8]; 8], [[0.5; 8]; 8]])
        .collect();
    let targets = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let mut a = shadowing::TrickyCnnGradients::zeroed();
    let mut b = PlainCnnGradients::zeroed();
    let mut found = Vec::new();
    let mut expected = Vec::new();
    tricky
        .accumulate_batch(&inputs, &targets, &CrossEntropy, 1.0, &mut a, |_, o| {
            found.push(o);
        })
        .unwrap();
    plain
        .accumulate_batch(&inputs, &targets, &CrossEntropy, 1.0, &mut b, |_, o| {
            expected.push(o);
        })
        .unwrap();
    assert_eq!(found, expected);
    assert_eq!(super::flat_gradients(&*a), super::flat_gradients(&*b));
    assert!(super::flat_gradients(&*a).iter().any(|g| *g != 0.0));
}

nn::network! {
    struct Plain = 3 -> 64 relu -> 64 tanh -> 3 elu(1.0) -> 3 -> 3 silu -> 2 softmax
        with scalar = f64;
}

#[test]
fn layer_names_do_not_capture_generated_locals() {
    use nn::Network;
    // Large enough for the chunked path, whose locals are named `k` and `n`.
    assert_eq!(shadowing::Tricky::TRAINING_CHUNK, 19);
    let mut tricky = shadowing::Tricky::zeroed();
    let plain = Plain::random(9);
    // Same weights in both.
    let mut tensors = Vec::new();
    plain.for_each_tensor(|_, _, values| tensors.push(values.to_vec()));
    let mut tensors = tensors.into_iter();
    tricky.for_each_tensor_mut(|_, _, values| values.copy_from_slice(&tensors.next().unwrap()));
    let input = [0.3, -0.8, 1.1];
    let target = [0.25, 0.75];
    let mut a = shadowing::TrickyGradients::zeroed();
    let mut b = PlainGradients::zeroed();
    let found = tricky.accumulate_gradients(&input, &target, &CrossEntropy, 1.0, &mut a);
    let expected = plain.accumulate_gradients(&input, &target, &CrossEntropy, 1.0, &mut b);
    assert_eq!(found, expected);
    assert_eq!(super::flat_gradients(&*a), super::flat_gradients(&*b));
    let mut batched = shadowing::TrickyGradients::zeroed();
    tricky
        .accumulate_batch(
            &[input],
            &[target],
            &CrossEntropy,
            1.0,
            &mut batched,
            |_, outcome| {
                assert_eq!(outcome, expected);
            },
        )
        .unwrap();
    assert_eq!(super::flat_gradients(&*batched), super::flat_gradients(&*b));
    assert_eq!(
        <shadowing::Tricky as Trainable>::predict(&tricky, &input),
        expected.output
    );
}

#[test]
fn sequence_layer_names_do_not_capture_generated_locals() {
    let net = shadowing::TrickySequence::random(1);
    let mut gradients = shadowing::TrickySequenceGradients::zeroed();
    let mut state = shadowing::TrickySequenceState::ZERO;
    let loss = net
        .accumulate_sequence(
            &mut state,
            &[[0.5, -0.5, 1.0]; 4],
            &[[1.0, 0.0]; 4],
            &CrossEntropy,
            0.25,
            &mut gradients,
        )
        .expect("as many targets as inputs");
    assert!(loss.is_finite() && loss > 0.0);
}
