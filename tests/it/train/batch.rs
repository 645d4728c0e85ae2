//! `accumulate_batch` (chunks of samples, layer by layer) gives the same bits as
//! `accumulate_gradients` one sample at a time.

use super::{Rng, flat_gradients};
use nn::Scalar;
use nn::train::{BinaryCrossEntropy, CrossEntropy, Gradients, Loss, Mse, Outcome, Trainable};

fn same_bits<N, L>(net: &N, loss: &L, samples: usize, seed: u64)
where
    N: Trainable,
    N::Input: TryFrom<Vec<N::Scalar>>,
    N::Output: TryFrom<Vec<N::Scalar>>,
    L: Loss<N::OutputActivation>,
{
    let mut rng = Rng::new(seed);
    let mut vector = |width: usize, lo: f64| -> Vec<N::Scalar> {
        (0..width)
            .map(|_| N::Scalar::from_f64(rng.uniform_in(lo, 1.0)))
            .collect()
    };
    let inputs: Vec<N::Input> = (0..samples)
        .map(|_| N::Input::try_from(vector(N::INPUTS, -1.0)).ok().unwrap())
        .collect();
    let targets: Vec<N::Output> = (0..samples)
        .map(|_| N::Output::try_from(vector(N::OUTPUTS, 0.0)).ok().unwrap())
        .collect();
    let scale = N::Scalar::from_f64(0.37);

    let mut one_by_one = N::Gradients::zeroed();
    let expected: Vec<Outcome<N::Scalar, N::Output>> = inputs
        .iter()
        .zip(&targets)
        .map(|(x, y)| net.accumulate_gradients(x, y, loss, scale, &mut one_by_one))
        .collect();

    let mut batched = N::Gradients::zeroed();
    let mut observed = Vec::new();
    net.accumulate_batch(
        &inputs,
        &targets,
        loss,
        scale,
        &mut batched,
        |k, outcome| {
            observed.push((k, outcome));
        },
    )
    .unwrap();

    let bits = |values: &[N::Scalar]| -> Vec<u64> {
        values.iter().map(|v| v.to_f64().to_bits()).collect()
    };
    assert_eq!(observed.len(), samples);
    for (k, ((index, found), wanted)) in observed.iter().zip(&expected).enumerate() {
        assert_eq!(*index, k);
        assert_eq!(
            found.loss.to_f64().to_bits(),
            wanted.loss.to_f64().to_bits()
        );
        assert_eq!(bits(found.output.as_ref()), bits(wanted.output.as_ref()));
    }
    let gradients = flat_gradients(&*batched);
    assert_eq!(bits(&gradients), bits(&flat_gradients(&*one_by_one)));
    assert!(gradients.iter().any(|g| g.to_f64() != 0.0));
}

nn::network! {
    struct Mnist = 784 -> 128 relu -> 10 softmax;
}

nn::network! {
    struct Mixed = 5 -> 64 linear -> 48 leaky_relu(0.2) -> 16 elu(1.0) -> 16 silu -> 8 gelu
        -> 8 softplus -> 2 sigmoid with scalar = f64;
}

nn::network! {
    struct Small = 4 -> 8 tanh -> 3 softmax;
}

nn::network! {
    struct Wide = 3 -> 1000 tanh -> 1000 -> 3 log_softmax;
}

#[test]
fn mnist_in_chunks_is_bit_identical() {
    // 72 samples: two full chunks of 32 and a partial one.
    assert_eq!(Mnist::TRAINING_CHUNK, 32);
    same_bits(&*Mnist::random(1), &CrossEntropy, 72, 1);
}

#[test]
fn every_activation_in_chunks_is_bit_identical() {
    assert_eq!(Mixed::TRAINING_CHUNK, 16);
    let net = Mixed::random(2);
    same_bits(&*net, &BinaryCrossEntropy, 21, 2);
    same_bits(&*net, &Mse, 3, 3);
}

#[test]
fn wide_layers_get_small_chunks_that_stay_bit_identical() {
    // Three locals of 1000 + 1000 + 3 floats per sample, 24 KB: 64 KiB hold 2 samples.
    assert_eq!(Wide::TRAINING_CHUNK, 2);
    same_bits(&*Wide::random(3), &CrossEntropy, 5, 4);
    same_bits(&*Wide::random(3), &Mse, 1, 5);
}

#[test]
fn a_target_missing_is_a_typed_error() {
    let net = Mnist::random(1);
    let mut gradients = MnistGradients::zeroed();
    let inputs = [[0.5_f32; 784]; 3];
    let targets = [[0.1_f32; 10]; 2];
    let result = net.accumulate_batch(
        &inputs,
        &targets,
        &CrossEntropy,
        1.0,
        &mut gradients,
        |_, _| {},
    );
    assert_eq!(
        result.unwrap_err().to_string(),
        "layer `layer1`: expected 3 target rows, one per input, found 2"
    );
    assert!(flat_gradients(&*gradients).iter().all(|g| *g == 0.0));
}

#[test]
fn networks_that_fit_in_cache_go_one_sample_at_a_time() {
    // The code generator's threshold for a small layer is the runtime's.
    assert_eq!(nn::__private::kernel::ACCUMULATE_SMALL, 1024);
    assert_eq!(Small::TRAINING_CHUNK, 1);
    same_bits(&*Small::random(4), &CrossEntropy, 7, 6);
}
