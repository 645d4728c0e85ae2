//! Finite differences in f64 against the generated backward pass, on every parameter of small
//! networks that use every activation (hidden and output) and every loss.

use super::{Rng, batch_gradients, batch_loss, parameters, with_parameter};
use nn::train::{BinaryCrossEntropy, CrossEntropy, Loss, Mse, Trainable};

/// Step of the finite differences. With the fourth-order central formula the truncation error
/// is about `h^4 = 1e-16` and the rounding error about `1e-16 / h = 1e-12`.
const H: f64 = 1e-4;

/// Largest relative error allowed between the two gradients.
const TOLERANCE: f64 = 1e-6;

/// Checks every parameter of `net` (weights and biases set from `seed`, uniform in `[-1, 1)`).
fn check<N, L>(net: &mut N, loss: &L, seed: u64, make_target: impl Fn(&mut Rng) -> N::Output)
where
    N: Trainable<Scalar = f64>,
    N::Input: From<[f64; 3]>,
    L: Loss<N::OutputActivation>,
{
    let mut rng = Rng::new(seed);
    net.for_each_tensor_mut(|_, _, values| {
        for p in values {
            *p = rng.uniform_in(-1.0, 1.0);
        }
    });
    let inputs: Vec<N::Input> = (0..4)
        .map(|_| N::Input::from([(); 3].map(|()| rng.uniform_in(-2.0, 2.0))))
        .collect();
    let targets: Vec<N::Output> = (0..4).map(|_| make_target(&mut rng)).collect();

    let (value, analytic) = batch_gradients(&*net, loss, &inputs, &targets);
    assert!((value - batch_loss(&*net, loss, &inputs, &targets)).abs() < 1e-15);
    assert_eq!(analytic.len(), N::PARAMETERS);
    assert!(
        analytic.iter().any(|g| g.abs() > 1e-3),
        "{}: gradients vanish",
        N::NAME
    );

    let original = parameters(&*net);
    for (k, &g) in analytic.iter().enumerate() {
        let mut loss_at = |offset: f64| {
            with_parameter(net, k, |p| *p = original[k] + offset);
            batch_loss(&*net, loss, &inputs, &targets)
        };
        let numeric = (loss_at(-2.0 * H) - 8.0 * loss_at(-H) + 8.0 * loss_at(H) - loss_at(2.0 * H))
            / (12.0 * H);
        with_parameter(net, k, |p| *p = original[k]);
        let scale = g.abs().max(numeric.abs());
        let error = if scale == 0.0 {
            0.0
        } else {
            (g - numeric).abs() / scale
        };
        assert!(
            error < TOLERANCE,
            "{}: parameter {k}: backprop {g:e}, finite differences {numeric:e}, relative error {error:e}",
            N::NAME
        );
    }
    assert_eq!(parameters(&*net), original);
}

/// A random probability vector (soft labels exercise the full cross-entropy gradient).
fn distribution<const N: usize>(rng: &mut Rng) -> [f64; N] {
    let raw = [(); N].map(|()| rng.uniform_in(0.05, 1.0));
    let sum: f64 = raw.iter().sum();
    raw.map(|v| v / sum)
}

fn one_hot<const N: usize>(rng: &mut Rng) -> [f64; N] {
    let hot = usize::try_from(rng.next_u64() % N as u64).expect("below N");
    std::array::from_fn(|i| if i == hot { 1.0 } else { 0.0 })
}

fn uniform<const N: usize>(rng: &mut Rng) -> [f64; N] {
    [(); N].map(|()| rng.uniform_in(-1.0, 1.0))
}

fn unit<const N: usize>(rng: &mut Rng) -> [f64; N] {
    [(); N].map(|()| rng.uniform_in(0.0, 1.0))
}

nn::network! {
    struct ReluFamily = 3 -> 5 relu -> 4 leaky_relu(0.1) -> 4 elu(0.7) -> 2 with scalar = f64;
}

nn::network! {
    struct Smooth = 3 -> 4 sigmoid -> 4 tanh -> 3 silu -> 3 gelu -> 3 gelu_tanh -> 3 softplus
        -> 3 softmax with scalar = f64;
}

nn::network! {
    struct LogSoft = 3 -> 5 tanh -> 4 log_softmax with scalar = f64;
}

nn::network! {
    struct Binary = 3 -> 4 gelu -> 2 sigmoid with scalar = f64;
}

#[test]
fn relu_family_and_linear_output_with_mse() {
    check(&mut *ReluFamily::zeroed(), &Mse, 1, uniform::<2>);
}

#[test]
fn smooth_activations_and_softmax_with_cross_entropy() {
    check(&mut *Smooth::zeroed(), &CrossEntropy, 2, distribution::<3>);
    check(&mut *Smooth::zeroed(), &CrossEntropy, 3, one_hot::<3>);
}

#[test]
fn softmax_with_mse_goes_through_the_jacobian() {
    check(&mut *Smooth::zeroed(), &Mse, 4, distribution::<3>);
}

#[test]
fn log_softmax_with_cross_entropy_and_with_mse() {
    check(&mut *LogSoft::zeroed(), &CrossEntropy, 5, distribution::<4>);
    check(&mut *LogSoft::zeroed(), &Mse, 6, uniform::<4>);
}

#[test]
fn sigmoid_with_binary_cross_entropy_and_with_mse() {
    check(&mut *Binary::zeroed(), &BinaryCrossEntropy, 7, unit::<2>);
    check(&mut *Binary::zeroed(), &Mse, 8, unit::<2>);
}

/// Every elementwise activation as the output layer, with MSE: the derivative the loss applies.
macro_rules! output_cases {
    ($($test:ident: $name:ident = $activation:ident $(($alpha:literal))?;)*) => {$(
        #[test]
        fn $test() {
            nn::network! {
                struct $name = 3 -> 4 tanh -> 3 $activation $(($alpha))? with scalar = f64;
            }
            check(&mut *$name::zeroed(), &Mse, 9, uniform::<3>);
        }
    )*};
}

output_cases! {
    relu_output: ReluOut = relu;
    leaky_relu_output: LeakyOut = leaky_relu(0.2);
    elu_output: EluOut = elu(1.5);
    sigmoid_output: SigmoidOut = sigmoid;
    tanh_output: TanhOut = tanh;
    silu_output: SiluOut = silu;
    gelu_output: GeluOut = gelu;
    gelu_tanh_output: GeluTanhOut = gelu_tanh;
    softplus_output: SoftplusOut = softplus;
}
