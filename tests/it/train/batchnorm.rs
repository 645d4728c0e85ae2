//! Training through `batchnorm`: PyTorch's training mode (the statistics of the batch), finite
//! differences of the training loss in f64 on `[C]`, `[C, L]` and `[C, H, W]`, the running
//! statistics that `update_buffers` folds in, eval mode after training, and the batch/chunk
//! rule.

use super::kinds::{one_hot, random};
use super::{Rng, flat_gradients};
use nn::train::{
    BinaryCrossEntropy, CrossEntropy, Gradients as _, Loss, Optimizer, Sgd, Trainable, Trainer,
};
use nn::{Network, Role};

/// Step of the fourth-order central differences (see `gradcheck.rs`).
const H: f64 = 1e-4;

nn::network! {
    /// `[C]`: a batchnorm on the features of a dense layer.
    struct Features = 4 -> 5 -> batchnorm tanh -> 3 softmax with scalar = f64;

    /// `[C, L]`: after a convolution, with its own momentum.
    struct Sequence = [2, 6] -> conv1d(3, 2) -> batchnorm(momentum = 0.2) tanh -> flatten
        -> 2 sigmoid with scalar = f64;

    /// `[C, H, W]`: first (on the input itself) and after a convolution, with its own `eps`.
    struct Image = [2, 5, 4] -> batchnorm -> conv2d(3, 3, padding = 1)
        -> batchnorm(eps = 0.01) elu -> flatten -> 3 softmax with scalar = f64;
}

/// The training loss of a batch (batch statistics) and its gradients, from fresh gradients.
fn training<N, L>(net: &N, loss: &L, inputs: &[N::Input], targets: &[N::Output]) -> (f64, Vec<f64>)
where
    N: Trainable<Scalar = f64>,
    L: Loss<N::OutputActivation>,
{
    let mut gradients = N::Gradients::zeroed();
    let scale = 1.0 / inputs.len() as f64;
    let mut total = 0.0;
    net.accumulate_batch(inputs, targets, loss, scale, &mut gradients, |_, o| {
        total += o.loss;
    })
    .expect("a batch within one chunk");
    (total * scale, flat_gradients(&*gradients))
}

/// Calls `f` on trained value number `k` of `net` (buffers skipped).
fn with_trained<N: Network>(net: &mut N, k: usize, mut f: impl FnMut(&mut N::Scalar)) {
    let mut offset = 0;
    net.for_each_tensor_mut(|_, tensor, values| {
        if tensor.role != Role::Parameter {
            return;
        }
        for p in values {
            if offset == k {
                f(p);
            }
            offset += 1;
        }
    });
}

/// Finite differences of the training loss on a batch of `batch` samples, every trained value
/// of `net` set from `seed` (`net` from `random`), for every `stride`-th of them; the running
/// statistics stay as they are (unit variance, zero mean), which the training loss does not
/// read.
fn check<N, L>(
    net: &mut N,
    loss: &L,
    seed: u64,
    target: impl Fn(&mut Rng) -> N::Output,
    (batch, stride): (usize, usize),
) where
    N: Trainable<Scalar = f64>,
    N::Input: nn::layers::Shaped<Scalar = f64>,
    L: Loss<N::OutputActivation>,
{
    let mut rng = Rng::new(seed);
    for k in 0..N::PARAMETERS {
        with_trained(net, k, |p| *p = rng.uniform_in(-1.0, 1.0));
    }
    let inputs: Vec<N::Input> = (0..batch).map(|_| random(&mut rng, -2.0, 2.0)).collect();
    let targets: Vec<N::Output> = (0..batch).map(|_| target(&mut rng)).collect();
    let (value, analytic) = training(&*net, loss, &inputs, &targets);
    assert_eq!(analytic.len(), N::PARAMETERS);
    // The training loss is not the inference loss: the statistics are the batch's.
    let inference = super::batch_loss(&*net, loss, &inputs, &targets);
    assert!(
        (value - inference).abs() > 1e-6,
        "{}: {value} {inference}",
        N::NAME
    );
    let mut worst = 0.0_f64;
    for (k, &g) in analytic.iter().enumerate().step_by(stride) {
        let mut original = 0.0;
        with_trained(net, k, |p| original = *p);
        let mut loss_at = |step: f64| {
            with_trained(net, k, |p| *p = original + step);
            training(&*net, loss, &inputs, &targets).0
        };
        let numeric = (loss_at(-2.0 * H) - 8.0 * loss_at(-H) + 8.0 * loss_at(H) - loss_at(2.0 * H))
            / (12.0 * H);
        with_trained(net, k, |p| *p = original);
        let scale = g.abs().max(numeric.abs());
        let error = if scale == 0.0 {
            0.0
        } else {
            (g - numeric).abs() / scale
        };
        assert!(
            error < 1e-6 || (g - numeric).abs() < 1e-10,
            "{}: parameter {k}: backprop {g:e}, finite differences {numeric:e}, relative error {error:e}",
            N::NAME
        );
        worst = worst.max(g.abs());
    }
    assert!(worst > 1e-3, "{}: no gradient", N::NAME);
}

#[test]
fn batchnorm_gradients_match_finite_differences() {
    check(
        &mut *Features::random(1),
        &CrossEntropy,
        31,
        one_hot::<3>,
        (4, 1),
    );
    check(
        &mut *Sequence::random(1),
        &BinaryCrossEntropy,
        32,
        |rng| random(rng, 0.0, 1.0),
        (4, 1),
    );
    check(
        &mut *Image::random(1),
        &CrossEntropy,
        33,
        one_hot::<3>,
        (4, 1),
    );
}

/// A batch of more chunks than one is one batch, on the heap: its gradients are those of the
/// whole batch's statistics (every fifth trained value against finite differences).
#[test]
fn a_batch_larger_than_a_chunk_matches_finite_differences() {
    assert_eq!(Tall::TRAINING_CHUNK, 2);
    check(
        &mut *Tall::random(1),
        &CrossEntropy,
        34,
        one_hot::<3>,
        (7, 5),
    );
}

/// `accumulate_gradients` is a batch of one: the bits of `accumulate_batch` on that sample.
#[test]
fn one_sample_is_a_batch_of_one() {
    let net = Image::random(3);
    let mut rng = Rng::new(4);
    let input: [[[f64; 4]; 5]; 2] = random(&mut rng, -1.0, 1.0);
    let target = one_hot::<3>(&mut rng);
    let mut one = ImageGradients::zeroed();
    let outcome = net.accumulate_gradients(&input, &target, &CrossEntropy, 1.0, &mut one);
    let mut batch = ImageGradients::zeroed();
    let mut seen = None;
    net.accumulate_batch(
        &[input],
        &[target],
        &CrossEntropy,
        1.0,
        &mut batch,
        |_, o| {
            seen = Some(o);
        },
    )
    .unwrap();
    assert_eq!(seen, Some(outcome));
    assert_eq!(flat_gradients(&*one), flat_gradients(&*batch));
    assert_eq!(one.layer0.batches(), 1.0);
}

/// A batch larger than a chunk is one batch: one set of statistics (the running ones move
/// once, by the whole batch's mean), every sample observed once, in order.
#[test]
fn a_batch_larger_than_a_chunk_is_one_batch() {
    let mut net = Tall::random(1);
    let mut rng = Rng::new(6);
    let batch = 2 * Tall::TRAINING_CHUNK + 1;
    let inputs: Vec<[[[f64; 10]; 10]; 2]> =
        (0..batch).map(|_| random(&mut rng, -1.0, 1.0)).collect();
    let targets: Vec<[f64; 3]> = (0..batch).map(|_| one_hot::<3>(&mut rng)).collect();
    let mut gradients = TallGradients::zeroed();
    let mut seen = Vec::new();
    net.accumulate_batch(
        &inputs,
        &targets,
        &CrossEntropy,
        1.0,
        &mut gradients,
        |k, outcome| seen.push((k, outcome.output)),
    )
    .unwrap();
    let indices: Vec<usize> = seen.iter().map(|(k, _)| *k).collect();
    assert_eq!(indices, (0..batch).collect::<Vec<_>>());
    assert_eq!(gradients.layer1.batches(), 1.0);
    // The convolution's outputs, channel by channel over the batch and the positions.
    let same = nn::layers::Conv2dGeometry {
        padding: [1, 1],
        ..nn::layers::Conv2dGeometry::DEFAULT
    };
    let outputs: Vec<[[[f64; 10]; 10]; 6]> =
        inputs.iter().map(|x| net.layer0.forward(x, same)).collect();
    // The outputs observed are the training ones (the batch's statistics), not `forward`'s
    // (the running statistics, not yet updated).
    assert!(
        seen.iter()
            .zip(&inputs)
            .all(|((_, output), x)| output != &net.forward(x)),
    );
    net.update_buffers(&gradients);
    for c in 0..6 {
        let values: Vec<f64> = outputs
            .iter()
            .flat_map(|o| o[c].as_flattened().to_vec())
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!(
            (net.layer1.running_mean()[c] - 0.1 * mean).abs() < 1e-12,
            "channel {c}: {} against {}",
            net.layer1.running_mean()[c],
            0.1 * mean
        );
    }
    assert_eq!(net.layer1.num_batches_tracked(), 1.0);
}

/// Two batches before one update: the running statistics move twice with momentum, as
/// PyTorch's two forward passes would; `zero` forgets them; the optimizer does not touch them;
/// eval mode then reads them.
#[test]
fn running_statistics_follow_the_batches() {
    let mut net = Features::random(2);
    let mut rng = Rng::new(5);
    let batches: Vec<Vec<[f64; 4]>> = (0..2)
        .map(|_| (0..5).map(|_| random(&mut rng, -2.0, 2.0)).collect())
        .collect();
    let targets = vec![[0.0, 1.0, 0.0]; 5];
    let mut gradients = FeaturesGradients::zeroed();
    let (mut mean, mut var) = ([0.0; 5], [1.0; 5]);
    for inputs in &batches {
        net.accumulate_batch(
            inputs,
            &targets,
            &CrossEntropy,
            0.2,
            &mut gradients,
            |_, _| {},
        )
        .unwrap();
        // The batch's statistics of the dense layer's outputs, by hand.
        let outputs: Vec<[f64; 5]> = inputs.iter().map(|x| net.layer0.forward(x)).collect();
        for c in 0..5 {
            let m = outputs.iter().map(|o| o[c]).sum::<f64>() / 5.0;
            let v = outputs.iter().map(|o| (o[c] - m).powi(2)).sum::<f64>() / 4.0;
            mean[c] = 0.9 * mean[c] + 0.1 * m;
            var[c] = 0.9 * var[c] + 0.1 * v;
        }
    }
    assert_eq!(gradients.layer1.batches(), 2.0);
    let weight = *net.layer1.weight();
    Sgd::new(0.1).step(&mut *net, &gradients);
    assert_ne!(*net.layer1.weight(), weight);
    assert_eq!(
        *net.layer1.running_mean(),
        [0.0; 5],
        "the optimizer moved a buffer"
    );
    assert_eq!(
        *net.layer1.running_var(),
        [1.0; 5],
        "the optimizer moved a buffer"
    );
    net.update_buffers(&gradients);
    for c in 0..5 {
        assert!((net.layer1.running_mean()[c] - mean[c]).abs() < 1e-14);
        assert!((net.layer1.running_var()[c] - var[c]).abs() < 1e-14);
    }
    assert_eq!(net.layer1.num_batches_tracked(), 2.0);
    // Eval mode: the running statistics, one multiply-add per value.
    let x = batches[0][0];
    let hidden = net.layer0.forward(&x);
    let normalised = net.layer1.forward(&hidden, 1e-5);
    for c in 0..5 {
        let expected = (hidden[c] - mean[c]) / (var[c] + 1e-5).sqrt() * net.layer1.weight()[c]
            + net.layer1.bias()[c];
        assert!((normalised[c] - expected).abs() < 1e-12);
    }
    let mut output = net.layer2.forward(&normalised.map(f64::tanh));
    nn::activation::softmax(&mut output);
    let forward = net.forward(&x);
    assert!(
        output
            .iter()
            .zip(&forward)
            .all(|(a, b)| (a - b).abs() < 1e-12),
        "{forward:?}"
    );
    gradients.zero();
    assert_eq!(gradients.layer1.batches(), 0.0);
    net.update_buffers(&gradients);
    assert_eq!(net.layer1.num_batches_tracked(), 2.0);
}

/// `evaluate`, and so `nn::train::evaluate` and `Trainer`'s validation, is inference: each
/// batchnorm normalises with its running statistics, as `forward` does, not with the sample's
/// own (which on `[C]` would make every normalised value 0, whatever the input).
#[test]
fn evaluate_is_inference() {
    macro_rules! check {
        ($net:ident, $loss:expr, $seed:literal, $target:expr, $expected_loss:expr) => {{
            let mut net = $net::random($seed);
            let mut rng = Rng::new($seed);
            // Running statistics no sample has: means in [-1, 1], variances in [0.5, 2].
            net.for_each_tensor_mut(|_, tensor, values| match tensor.name {
                "running_mean" => values.fill_with(|| rng.uniform_in(-1.0, 1.0)),
                "running_var" => values.fill_with(|| rng.uniform_in(0.5, 2.0)),
                _ => {}
            });
            let inputs: Vec<_> = (0..6).map(|_| random(&mut rng, -2.0, 2.0)).collect();
            let targets: Vec<_> = (0..6).map(|_| $target(&mut rng)).collect();
            let mut correct = 0;
            let mut outputs = Vec::new();
            for (x, y) in inputs.iter().zip(&targets) {
                let expected = net.forward(x);
                let outcome = net.evaluate(x, y, &$loss);
                assert_eq!(outcome.output, expected, "{}", $net::NAME);
                let expected_loss: f64 = $expected_loss(&expected, y);
                assert!(
                    (outcome.loss - expected_loss).abs() < 1e-12,
                    "{}: {} against {expected_loss}",
                    $net::NAME,
                    outcome.loss
                );
                correct += usize::from(Loss::<<$net as Trainable>::OutputActivation>::is_correct(
                    &$loss,
                    &expected[..],
                    &y[..],
                ));
                outputs.push(expected);
            }
            // Two inputs, two outputs: the normalised values depend on the input.
            assert_ne!(outputs[0], outputs[1], "{}", $net::NAME);
            let measured = nn::train::evaluate(&*net, &$loss, &inputs, &targets).unwrap();
            assert_eq!(measured.accuracy, correct as f64 / 6.0, "{}", $net::NAME);
        }};
    }
    // The losses from `forward`'s probabilities.
    let cross_entropy = |p: &[f64; 3], y: &[f64; 3]| -> f64 {
        -p.iter().zip(y).map(|(p, y)| y * p.ln()).sum::<f64>()
    };
    let binary = |p: &[f64; 2], y: &[f64; 2]| -> f64 {
        -p.iter()
            .zip(y)
            .map(|(p, y)| y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            .sum::<f64>()
            / 2.0
    };
    let probabilities = |rng: &mut Rng| random::<[f64; 2]>(rng, 0.0, 1.0);
    check!(Features, CrossEntropy, 11, one_hot::<3>, cross_entropy);
    check!(Sequence, BinaryCrossEntropy, 12, probabilities, binary);
    check!(Image, CrossEntropy, 13, one_hot::<3>, cross_entropy);
}

/// `Trainer` folds the running statistics after each step (one batch tracked per step), also
/// with its default batch size, larger than the network's chunk.
#[test]
fn the_trainer_updates_the_running_statistics() {
    let mut net = Features::random(3);
    let mut rng = Rng::new(8);
    let inputs: Vec<[f64; 4]> = (0..12).map(|_| random(&mut rng, -2.0, 2.0)).collect();
    let targets: Vec<[f64; 3]> = (0..12).map(|_| one_hot::<3>(&mut rng)).collect();
    let mut trainer = Trainer::new(CrossEntropy, Sgd::new(0.1))
        .epochs(2)
        .batch_size(4);
    trainer
        .fit(&mut *net, &inputs, &targets, |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(net.layer1.num_batches_tracked(), 6.0);
    assert_ne!(*net.layer1.running_mean(), [0.0; 5]);

    let mut net = Tall::random(4);
    let inputs: Vec<[[[f64; 10]; 10]; 2]> = (0..40).map(|_| random(&mut rng, -1.0, 1.0)).collect();
    let targets: Vec<[f64; 3]> = (0..40).map(|_| one_hot::<3>(&mut rng)).collect();
    let mut trainer = Trainer::new(CrossEntropy, Sgd::new(0.1));
    let history = trainer
        .fit(&mut *net, &inputs, &targets, |_| {
            std::ops::ControlFlow::Break(())
        })
        .unwrap();
    assert!(history.epochs[0].train.loss.is_finite());
    // The default batch of 32, then the 8 left: two batches, two steps.
    assert_eq!(net.layer1.num_batches_tracked(), 2.0);
    // The guide's example: images of CIFAR's size leave room for chunks of 2.
    assert_eq!(Cifar::TRAINING_CHUNK, 2);
}

nn::network! {
    /// Chunks of 2 samples: a convolution's 600 outputs three times over per sample, in f64
    /// (`train_cnn_step.py`'s `batchnorm_tall`, in `crosscheck.rs` too).
    pub struct Tall = [2, 10, 10] -> conv2d(6, 3, padding = 1) -> batchnorm tanh -> flatten
        -> 3 softmax with scalar = f64;
}

nn::network! {
    /// docs/training.md's batchnorm network on CIFAR-sized images.
    struct Cifar = [3, 32, 32] -> conv2d(16, 3, padding = 1) -> batchnorm relu -> maxpool2d(2)
        -> flatten -> 10 softmax;
}
