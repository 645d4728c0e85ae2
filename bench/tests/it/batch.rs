use nn::Network as _;
use nn_bench::{Mnist, Small, Xor, error, inputs, layers};

nn::network! {
    /// Wide enough that a chunk of `forward_batch` holds only twelve samples.
    struct Wide = 33 -> 1100 tanh -> 7 linear;
}

nn::network! {
    /// `f64`, with a layer small enough for the inlined portable kernel.
    struct Double = 20 -> 9 leaky_relu(0.1) -> 3 softmax with scalar = f64;
}

/// `forward_batch` equals `forward` row by row (to a few ulps: the batched kernels sum in
/// another order) and stays within `tolerance` of the `f64` reference.
fn check<N, const IN: usize, const OUT: usize>(
    net: &N,
    forward: impl Fn(&[f32; IN]) -> [f32; OUT],
    forward_batch: impl Fn(&[[f32; IN]], &mut [[f32; OUT]]) -> Result<(), nn::Error>,
) where
    N: nn::Network<Scalar = f32>,
{
    let layers = layers(net);
    let all = inputs::<IN>(150);
    for n in [0, 1, 5, 6, 7, 11, 12, 13, 47, 48, 49, 97, 150] {
        let x = &all[..n];
        let mut y = vec![[f32::NAN; OUT]; n];
        forward_batch(x, &mut y).expect("one output row per input");
        for (x, y) in x.iter().zip(&y) {
            let single = forward(x);
            for (a, b) in y.iter().zip(&single) {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "batch {n}: {a} against {b}"
                );
            }
            let e = error(&layers, x, y);
            assert!(
                e <= 1e-5,
                "batch {n}: error {e:e} against the f64 reference"
            );
        }
    }
}

#[test]
fn mnist_batches_match_single_samples() {
    let net = Mnist::random(5);
    check(&*net, |x| net.forward(x), |x, y| net.forward_batch(x, y));
}

#[test]
fn small_batches_match_single_samples() {
    let net = Small::random(6);
    check(&*net, |x| net.forward(x), |x, y| net.forward_batch(x, y));
}

#[test]
fn unrolled_xor_batches_match_single_samples() {
    let net = Xor::random(7);
    check(&*net, |x| net.forward(x), |x, y| net.forward_batch(x, y));
}

#[test]
fn wide_batches_match_single_samples() {
    let net = Wide::random(8);
    check(&*net, |x| net.forward(x), |x, y| net.forward_batch(x, y));
}

#[test]
fn f64_batches_match_single_samples() {
    let net = Double::random(9);
    let x: Vec<[f64; 20]> = inputs::<20>(30)
        .iter()
        .map(|row| row.map(f64::from))
        .collect();
    let mut y = vec![[0.0; 3]; 30];
    net.forward_batch(&x, &mut y)
        .expect("one output row per input");
    for (x, y) in x.iter().zip(&y) {
        let single = net.forward(x);
        for (a, b) in y.iter().zip(&single) {
            assert!((a - b).abs() <= 1e-12, "{a} against {b}");
        }
    }
}

#[test]
fn a_batch_with_the_wrong_number_of_output_rows_is_an_error() {
    let net = Small::random(10);
    let x = inputs::<50>(4);
    let mut y = vec![[0.0_f32; 1]; 3];
    assert_eq!(
        net.forward_batch(&x, &mut y),
        Err(nn::Error::Batch {
            layer: "output",
            expected: 4,
            found: 3
        })
    );
    assert_eq!(Small::LAYERS.len(), 2);
}
