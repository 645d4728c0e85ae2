//! What a baked network takes in flash: a `static` of its type, `size_of` bytes (no heap, no
//! pointers), for the int8 twins of the benchmark's networks against their `f32` networks.

use nn_bench::{LeNet, LeNetInt8, Mnist, MnistInt8};
use std::mem::size_of;

/// The twin's bytes over its `f32` network's, printed with both for the quantisation guide.
fn ratio<F, Q>(name: &str) -> f64 {
    let (twin, network) = (size_of::<Q>(), size_of::<F>());
    let ratio = twin as f64 / network as f64;
    println!("{name}: int8 twin {twin} B, f32 network {network} B: {ratio:.4}");
    ratio
}

/// An `i8` weight is a quarter of an `f32` one; each neuron or output channel adds an `i32`
/// bias and offset and three `f32` scales (20 bytes), which MNIST's 138 neurons of 784 and 128
/// inputs hardly feel: the twin is within a point of a quarter of the network.
#[test]
fn the_int8_twin_of_mnist_takes_a_quarter_of_its_bytes() {
    assert!(size_of::<Mnist>() >= 4 * Mnist::PARAMETERS);
    let ratio = ratio::<Mnist, MnistInt8>("784 -> 128 relu -> 10 softmax");
    assert!((0.25..0.26).contains(&ratio), "{ratio}");
}

/// LeNet's convolutions have few weights per output channel (25 and 150), so the values per
/// channel weigh more there; most of its weights are in its dense layers.
#[test]
fn the_int8_twin_of_lenet_takes_under_three_tenths_of_its_bytes() {
    assert!(size_of::<LeNet>() >= 4 * LeNet::PARAMETERS);
    let ratio = ratio::<LeNet, LeNetInt8>("LeNet-5");
    assert!((0.25..0.3).contains(&ratio), "{ratio}");
}
