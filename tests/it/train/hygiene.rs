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
    }
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
