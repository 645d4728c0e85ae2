//! Declarations that compile, used the way the README shows, from outside the crate (as every
//! module of this test binary is): visibilities, a derive, `unroll`, `scalar` and `crate`.

nn::network! {
    /// Classifies 28x28 handwritten digits.
    #[derive(Debug)]
    pub struct Mnist = 784 -> 128 relu as hidden -> 10 softmax;

    pub(crate) struct Xor = 2 -> 2 relu -> 1 sigmoid with unroll = full;

    struct Wide = 3 -> 4 leaky_relu(0.2) -> 4 elu(1.5) -> 2 log_softmax with scalar = f64, crate = ::nn;
}

#[test]
fn declarations_compile_and_run() {
    let net: Box<Mnist> = Mnist::random(42);
    let probabilities: [f32; 10] = net.forward(&[0.5; Mnist::INPUTS]);
    assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert!(Mnist::summary().to_string().contains("hidden (Dense)"));
    assert!(format!("{net:?}").starts_with("Mnist {"));

    let xor = Xor::zeroed();
    assert_eq!(xor.forward(&[1.0, 0.0]), [0.5]);

    let wide = Wide::random(7);
    let log_probabilities: [f64; 2] = wide.forward(&[1.0, -2.0, 3.0]);
    let total: f64 = log_probabilities.iter().map(|l| l.exp()).sum();
    assert!((total - 1.0).abs() < 1e-12);
}
