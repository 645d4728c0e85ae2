//! Training through `layernorm`: finite differences in f64 against the generated backward pass
//! (its statistics are part of the function, so every input's gradient depends on the whole
//! sample), and chunks against one sample at a time.

use super::kinds::{check, one_hot, random};
use super::{Rng, flat_gradients};
use nn::train::{CrossEntropy, Mse};

nn::network! {
    /// A layernorm on a sequence between a convolution and the head, with its own `eps`.
    struct Sequence = [2, 6] -> conv1d(3, 2) tanh -> layernorm(eps = 0.01) relu -> flatten
        -> 3 softmax with scalar = f64;

    /// Layernorms on vectors, first and last.
    struct Vectors = 5 -> layernorm tanh -> 4 -> layernorm(0.5) with scalar = f64;
}

#[test]
fn layernorm_gradients_match_finite_differences() {
    check(&mut *Sequence::zeroed(), &CrossEntropy, 21, one_hot::<3>);
    check(&mut *Vectors::zeroed(), &Mse, 22, |rng| {
        random(rng, -1.0, 1.0)
    });
}

nn::network! {
    /// Large enough a convolution for chunks, in f32.
    struct Small = [1, 12, 12] -> conv2d(4, 3) relu -> layernorm -> maxpool2d(2) -> flatten
        -> 10 softmax;
}

/// `accumulate_batch` (chunks, layer by layer) gives the bits of `accumulate_gradients`.
#[test]
fn chunks_give_the_bits_of_one_sample_at_a_time() {
    const { assert!(Small::TRAINING_CHUNK > 1) };
    let net = Small::random(5);
    let mut rng = Rng::new(7);
    #[allow(clippy::cast_possible_truncation)] // values in [0, 1), as f32
    let inputs: Vec<[[[f32; 12]; 12]; 1]> = (0..Small::TRAINING_CHUNK + 3)
        .map(|_| [[[(); 12]; 12]].map(|c| c.map(|r| r.map(|()| rng.uniform() as f32))))
        .collect();
    let targets: Vec<[f32; 10]> = (0..inputs.len())
        .map(|_| {
            let hot = rng.below(10);
            std::array::from_fn(|i| if i == hot { 1.0 } else { 0.0 })
        })
        .collect();
    let mut one_by_one = SmallGradients::zeroed();
    let losses: Vec<f32> = inputs
        .iter()
        .zip(&targets)
        .map(|(x, y)| {
            net.accumulate_gradients(x, y, &CrossEntropy, 0.25, &mut one_by_one)
                .loss
        })
        .collect();
    let mut batched = SmallGradients::zeroed();
    let mut observed = vec![f32::NAN; inputs.len()];
    net.accumulate_batch(
        &inputs,
        &targets,
        &CrossEntropy,
        0.25,
        &mut batched,
        |k, o| {
            observed[k] = o.loss;
        },
    )
    .unwrap();
    let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&observed), bits(&losses));
    let gradients = flat_gradients(&*batched);
    assert_eq!(bits(&gradients), bits(&flat_gradients(&*one_by_one)));
    // The layernorm's weight and bias get gradients.
    let norm = &batched.layer1;
    assert!(
        norm.weight()
            .as_flattened()
            .as_flattened()
            .iter()
            .any(|g| *g != 0.0)
    );
    assert!(
        norm.bias()
            .as_flattened()
            .as_flattened()
            .iter()
            .any(|g| *g != 0.0)
    );
}
