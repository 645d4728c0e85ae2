//! Backpropagation and optimizer steps allocate nothing: counted by the test binary's global
//! allocator (`crate::allocations`).

use crate::allocations::allocations;
use nn::train::{Adam, CrossEntropy, Optimizer, Sgd};

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
