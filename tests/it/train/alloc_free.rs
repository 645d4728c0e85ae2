//! Backpropagation and optimizer steps allocate nothing: counted by the test binary's global
//! allocator (`crate::allocations`).

use crate::allocations::allocations;
use nn::Network;
use nn::train::{Adam, CrossEntropy, Optimizer, Sgd, sgd_step};

nn::network! {
    struct Mnist = 784 -> 128 relu as hidden -> 10 softmax as output;
}

#[test]
fn backpropagation_batches_and_optimizer_steps_do_not_allocate() {
    let net_before = allocations();
    let mut net = Mnist::random(5);
    let mut gradients = MnistGradients::zeroed();
    // The counter works: building the network and its gradients on the heap is counted.
    assert_eq!(allocations() - net_before, 2);

    let input: [f32; 784] = std::array::from_fn(|i| (i % 17) as f32 / 17.0);
    let target: [f32; 10] = std::array::from_fn(|i| if i == 3 { 1.0 } else { 0.0 });
    let mut sgd = Sgd::new(0.01).momentum(0.9);
    let mut adam = Adam::new(1e-3);
    // The optimizers size their state on the first step.
    sgd.step(&mut *net, &gradients);
    adam.step(&mut *net, &gradients);

    let before = allocations();
    let mut loss = 0.0;
    for _ in 0..20 {
        gradients.zero();
        for _ in 0..8 {
            loss += net
                .accumulate_gradients(&input, &target, &CrossEntropy, 0.125, &mut gradients)
                .loss;
        }
        let batch = [&input; 20];
        let targets = [&target; 20];
        net.accumulate_batch(
            &batch,
            &targets,
            &CrossEntropy,
            0.05,
            &mut gradients,
            |_, o| {
                loss += o.loss;
            },
        )
        .unwrap();
        sgd.step(&mut *net, &gradients);
        adam.step(&mut *net, &gradients);
    }
    assert_eq!(allocations() - before, 0);
    assert!(loss.is_finite() && loss > 0.0);
    assert!(gradients.output.bias().iter().any(|g| *g != 0.0));
}

/// `sgd_step`, the step for devices without an allocator, is `Sgd::new(rate)`'s step to the
/// bit, and allocates nothing.
#[test]
fn sgd_step_is_plain_sgd_and_allocates_nothing() {
    let (mut net, mut twin) = (Mnist::random(6), Mnist::random(6));
    let mut gradients = MnistGradients::zeroed();
    let input: [f32; 784] = std::array::from_fn(|i| (i % 13) as f32 / 13.0 - 0.3);
    let target: [f32; 10] = std::array::from_fn(|i| if i == 7 { 1.0 } else { 0.0 });
    net.accumulate_gradients(&input, &target, &CrossEntropy, 1.0, &mut gradients);
    let before = allocations();
    sgd_step(&mut *net, &gradients, 0.05);
    assert_eq!(allocations() - before, 0);
    Sgd::new(0.05).step(&mut *twin, &gradients);
    let values = |net: &Mnist| {
        let mut all = Vec::new();
        net.for_each_tensor(|_, _, v| all.extend(v.iter().map(|x| x.to_bits())));
        all
    };
    assert_eq!(values(&net), values(&twin));
    assert_ne!(values(&net), values(&Mnist::random(6)));
}

nn::network! {
    // Every kind that trains but dense, in a network whose chunks hold several samples.
    struct Cnn = [2, 9, 9] -> conv2d(4, 3, padding = 1) relu -> maxpool2d(2, stride = 1)
        -> avgpool2d(3, stride = 2, padding = 1) -> dropout(0.5) -> conv2d(6, 2, groups = 2) tanh
        -> global_maxpool -> 5 softmax;
}

nn::network! {
    struct Sequence = [3, 32] -> conv1d(8, 5, padding = 2) relu -> maxpool1d(2)
        -> avgpool1d(3, padding = 1) -> flatten -> 3 softmax;
}

#[test]
fn convolutional_networks_train_without_allocating() {
    const { assert!(Cnn::TRAINING_CHUNK > 1 && Sequence::TRAINING_CHUNK > 1) };
    let mut cnn = Cnn::random(1);
    let mut cnn_gradients = CnnGradients::zeroed();
    let mut sequence = Sequence::random(2);
    let mut sequence_gradients = SequenceGradients::zeroed();
    let image: [[[f32; 9]; 9]; 2] = std::array::from_fn(|c| {
        std::array::from_fn(|y| std::array::from_fn(|x| ((c + 2 * y + 3 * x) % 7) as f32 / 7.0))
    });
    let series: [[f32; 32]; 3] =
        std::array::from_fn(|c| std::array::from_fn(|t| ((c * 5 + t) % 9) as f32 / 9.0 - 0.5));
    let cnn_target: [f32; 5] = std::array::from_fn(|i| if i == 1 { 1.0 } else { 0.0 });
    let sequence_target = [0.0, 0.0, 1.0];
    let mut adam = Adam::new(1e-3);
    let mut sgd = Sgd::new(0.01);
    adam.step(&mut *cnn, &cnn_gradients);
    sgd.step(&mut *sequence, &sequence_gradients);

    let before = allocations();
    let mut loss = 0.0;
    for _ in 0..3 {
        cnn_gradients.zero();
        sequence_gradients.zero();
        loss += cnn
            .accumulate_gradients(&image, &cnn_target, &CrossEntropy, 0.5, &mut cnn_gradients)
            .loss;
        loss += sequence
            .accumulate_gradients(
                &series,
                &sequence_target,
                &CrossEntropy,
                0.5,
                &mut sequence_gradients,
            )
            .loss;
        let images = [&image; 20];
        let cnn_targets = [&cnn_target; 20];
        cnn.accumulate_batch(
            &images,
            &cnn_targets,
            &CrossEntropy,
            0.05,
            &mut cnn_gradients,
            |_, o| {
                loss += o.loss;
            },
        )
        .unwrap();
        let sequences = [&series; 20];
        let sequence_targets = [&sequence_target; 20];
        sequence
            .accumulate_batch(
                &sequences,
                &sequence_targets,
                &CrossEntropy,
                0.05,
                &mut sequence_gradients,
                |_, o| {
                    loss += o.loss;
                },
            )
            .unwrap();
        adam.step(&mut *cnn, &cnn_gradients);
        sgd.step(&mut *sequence, &sequence_gradients);
    }
    assert_eq!(allocations() - before, 0);
    assert!(loss.is_finite() && loss > 0.0);
}
