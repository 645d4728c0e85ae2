//! Bytes that must not change: networks drawn by `random(seed)`, written as safetensors files
//! and as JSON, and one training step, pinned by an FNV-1a hash of the bytes. The hashes were
//! taken before layers became lists of tensors; a change here changes users' files or their
//! seeded runs.

use nn::train::{Mse, Optimizer, Sgd, Trainable};

nn::network! {
    /// The README's network: He then Xavier, unnamed layers (`0.*`, `2.*`).
    struct Mnist = 784 -> 128 relu -> 10 softmax;

    /// Named and unnamed layers, linear ones (which shift the `nn.Sequential` indices), f64.
    struct Mixed = 5 -> 7 leaky_relu as first -> 6 -> 4 tanh -> 3 elu(0.5) as last
        with scalar = f64;
}

/// FNV-1a, 64 bits.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn random_networks_write_the_same_bytes() {
    let mnist = Mnist::random(42);
    let mixed = Mixed::random(7);
    let found = [
        fnv(&mnist.to_safetensors()),
        fnv(serde_json::to_string(&*mnist).expect("JSON").as_bytes()),
        fnv(&mixed.to_safetensors()),
        fnv(serde_json::to_string(&*mixed).expect("JSON").as_bytes()),
    ];
    assert_eq!(found, PINNED, "{found:#x?}");
}

#[test]
fn a_training_step_gives_the_same_bits() {
    let mut net = Mixed::random(3);
    let mut gradients = <Mixed as Trainable>::Gradients::zeroed();
    let inputs = [[0.5, -1.0, 0.25, 2.0, -0.75], [1.0, 0.0, -0.5, 0.5, 0.125]];
    let targets = [[0.1, 0.2, 0.3], [-0.5, 0.0, 0.5]];
    for (input, target) in inputs.iter().zip(&targets) {
        net.accumulate_gradients(input, target, &Mse, 0.5, &mut gradients);
    }
    let mut sgd = Sgd::new(0.1).momentum(0.9).weight_decay(0.01);
    sgd.step(&mut *net, &gradients);
    sgd.step(&mut *net, &gradients);
    let mut adam = nn::train::Adam::new(0.01);
    adam.step(&mut *net, &gradients);
    assert_eq!(
        fnv(&net.to_safetensors()),
        STEP,
        "{:#x}",
        fnv(&net.to_safetensors())
    );
}

const PINNED: [u64; 4] = [
    0x44ce_0fbe_1442_0023,
    0x1d3f_31f3_d31f_a27e,
    0xa1ad_7bfc_a9bc_c747,
    0xce21_b817_fc9c_8769,
];
const STEP: u64 = 0x7797_3747_b97b_eb91;
