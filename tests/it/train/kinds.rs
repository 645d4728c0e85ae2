//! Training through every layer kind beyond dense: finite differences in f64 against the
//! generated backward pass (convolutions with stride, padding, dilation and groups, odd sizes,
//! every pool, global pools, flatten, dropout), chunks against one sample at a time, and a
//! small CNN that learns.

use super::{Rng, batch_gradients, batch_loss, flat_gradients, parameters, with_parameter};
use nn::layers::Shaped;
use nn::train::{
    BinaryCrossEntropy, CrossEntropy, Gradients as _, Loss, Mse, Sgd, Trainable, Trainer,
};

/// Step of the fourth-order central differences (see `gradcheck.rs`).
const H: f64 = 1e-4;

/// Largest relative error allowed between the two gradients.
const TOLERANCE: f64 = 1e-6;

/// A value of any shape, uniform in `[lo, hi)`.
pub(super) fn random<S: Shaped<Scalar = f64>>(rng: &mut Rng, lo: f64, hi: f64) -> S {
    let mut value = S::ZERO;
    for v in value.values_mut() {
        *v = rng.uniform_in(lo, hi);
    }
    value
}

/// Checks every parameter of `net` (set from `seed`, uniform in `[-1, 1)`) on a batch of three
/// inputs; `target` makes each target.
pub(super) fn check<N, L>(net: &mut N, loss: &L, seed: u64, target: impl Fn(&mut Rng) -> N::Output)
where
    N: Trainable<Scalar = f64>,
    N::Input: Shaped<Scalar = f64>,
    L: Loss<N::OutputActivation>,
{
    let mut rng = Rng::new(seed);
    net.for_each_tensor_mut(|_, _, values| {
        for p in values {
            *p = rng.uniform_in(-1.0, 1.0);
        }
    });
    let inputs: Vec<N::Input> = (0..3).map(|_| random(&mut rng, -2.0, 2.0)).collect();
    let targets: Vec<N::Output> = (0..3).map(|_| target(&mut rng)).collect();

    let (value, analytic) = batch_gradients(&*net, loss, &inputs, &targets);
    // The chunked path (`accumulate_batch`, whatever `TRAINING_CHUNK` is) gives the same bits
    // as one sample at a time, loss and gradients, dropout's masks included.
    let mut chunked = N::Gradients::zeroed();
    let mut chunked_loss = 0.0;
    let scale = 1.0 / inputs.len() as f64;
    net.accumulate_batch(&inputs, &targets, loss, scale, &mut chunked, |_, o| {
        chunked_loss += o.loss;
    })
    .expect("one target per input");
    assert_eq!(
        (chunked_loss * scale).to_bits(),
        value.to_bits(),
        "{}",
        N::NAME
    );
    let chunked = flat_gradients(&*chunked);
    assert!(
        chunked
            .iter()
            .zip(&analytic)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "{}: accumulate_batch differs from accumulate_gradients",
        N::NAME
    );
    // Dropout draws its masks in training only: then the loss differs from `evaluate`'s. The
    // differences below are of the training loss, each batch from fresh gradients, so with the
    // same masks (seed 0, samples 0 to 2).
    let dropout = N::LAYERS.iter().any(|l| l.kind == nn::LayerKind::Dropout);
    let inference = batch_loss(&*net, loss, &inputs, &targets);
    assert_eq!(
        (value - inference).abs() < 1e-15,
        !dropout,
        "{value} {inference}"
    );
    assert_eq!(analytic.len(), N::PARAMETERS);
    // Every tensor gets a gradient: no layer is skipped.
    let mut offset = 0;
    net.for_each_tensor(|layer, tensor, values| {
        let gradients = &analytic[offset..offset + values.len()];
        assert!(
            gradients.iter().any(|g| g.abs() > 1e-6),
            "{}: {}.{} gets no gradient",
            N::NAME,
            layer.name,
            tensor.name
        );
        offset += values.len();
    });

    let original = parameters(&*net);
    for (k, &g) in analytic.iter().enumerate() {
        let mut loss_at = |step: f64| {
            with_parameter(net, k, |p| *p = original[k] + step);
            batch_gradients(&*net, loss, &inputs, &targets).0
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
            error < TOLERANCE || (g - numeric).abs() < 1e-10,
            "{}: parameter {k}: backprop {g:e}, finite differences {numeric:e}, relative error {error:e}",
            N::NAME
        );
    }
}

pub(super) fn one_hot<const N: usize>(rng: &mut Rng) -> [f64; N] {
    let hot = rng.below(N);
    std::array::from_fn(|i| if i == hot { 1.0 } else { 0.0 })
}

nn::network! {
    /// Stride 2 and padding on odd sizes, then dilation 2 with groups 2 and padding on one axis.
    struct Convolutions = [2, 7, 6] -> conv2d(4, 3, stride = 2, padding = 1) tanh
        -> conv2d(4, 2, dilation = 2, groups = 2, padding = (1, 0)) elu(0.5) -> flatten
        -> 3 softmax with scalar = f64;

    /// Both 2-D pools with stride and padding, and a global maximum.
    struct Pools = [2, 7, 7] -> conv2d(4, 2) tanh -> maxpool2d(3, stride = 2, padding = 1)
        -> avgpool2d(2, stride = 1, padding = 1) -> global_maxpool -> 3 with scalar = f64;

    /// 1-D: stride, dilation, groups, `same` padding, both pools, dropout and a global mean.
    struct Sequence = [4, 11] -> conv1d(6, 3, stride = 2, dilation = 2, padding = 1, groups = 2)
        sigmoid -> conv1d(4, 3, padding = same, groups = 2) -> maxpool1d(2, stride = 1)
        -> avgpool1d(3, stride = 2, padding = 1) -> dropout(0.3) -> global_avgpool
        -> 2 sigmoid with scalar = f64;

    /// A convolution as the last layer but one, straight into a global mean.
    struct Global = [3, 5, 4] -> conv2d(5, (3, 2), padding = (1, 0)) gelu -> global_avgpool
        -> 4 log_softmax with scalar = f64;
}

#[test]
fn convolutions_with_stride_padding_dilation_and_groups() {
    check(
        &mut *Convolutions::zeroed(),
        &CrossEntropy,
        11,
        one_hot::<3>,
    );
}

#[test]
fn two_dimensional_pools() {
    check(&mut *Pools::zeroed(), &Mse, 12, |rng| {
        random(rng, -1.0, 1.0)
    });
}

#[test]
fn one_dimensional_layers_dropout_and_global_mean() {
    check(&mut *Sequence::zeroed(), &BinaryCrossEntropy, 13, |rng| {
        random(rng, 0.0, 1.0)
    });
}

#[test]
fn convolution_into_a_global_mean() {
    check(&mut *Global::zeroed(), &CrossEntropy, 14, one_hot::<4>);
}

nn::network! {
    /// LeNet's shape at a small size, in f32: its convolution is large enough for chunks.
    struct Small = [1, 12, 12] -> conv2d(4, 3) relu -> maxpool2d(2) -> conv2d(6, 3, padding = 1)
        relu -> flatten -> 10 softmax;
}

nn::network! {
    /// `Small` with dropout after a pool and before the dense layer.
    struct SmallDropout = [1, 12, 12] -> conv2d(4, 3) relu -> maxpool2d(2) -> dropout(0.5)
        -> conv2d(6, 3, padding = 1) relu -> flatten -> dropout(0.25) -> 10 softmax;
}

/// `accumulate_batch` (chunks, layer by layer) gives the bits of `accumulate_gradients`, dropout
/// masks included (each sample draws the same masks either way).
fn chunks_give_the_bits_of_one_sample_at_a_time<N>(net: &N)
where
    N: Trainable<Scalar = f32, Input = [[[f32; 12]; 12]; 1], Output = [f32; 10]>,
    CrossEntropy: Loss<N::OutputActivation>,
{
    let mut rng = Rng::new(6);
    #[allow(clippy::cast_possible_truncation)] // values in [0, 1), as f32
    let inputs: Vec<[[[f32; 12]; 12]; 1]> = (0..35)
        .map(|_| [[[(); 12]; 12]].map(|c| c.map(|r| r.map(|()| rng.uniform() as f32))))
        .collect();
    let targets: Vec<[f32; 10]> = (0..inputs.len())
        .map(|_| {
            let hot = rng.below(10);
            std::array::from_fn(|i| if i == hot { 1.0 } else { 0.0 })
        })
        .collect();
    let mut one_by_one = N::Gradients::zeroed();
    let losses: Vec<f32> = inputs
        .iter()
        .zip(&targets)
        .map(|(x, y)| {
            net.accumulate_gradients(x, y, &CrossEntropy, 0.25, &mut one_by_one)
                .loss
        })
        .collect();
    let mut batched = N::Gradients::zeroed();
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
    assert!(gradients.iter().filter(|g| **g != 0.0).count() > gradients.len() / 2);
    // Both drew one mask per sample.
    assert_eq!(
        batched.dropout_masks().map(|m| m.samples()),
        one_by_one.dropout_masks().map(|m| m.samples())
    );
}

#[test]
fn chunks_give_the_bits_of_one_sample_at_a_time_with_and_without_dropout() {
    const { assert!(Small::TRAINING_CHUNK > 1 && SmallDropout::TRAINING_CHUNK > 1) };
    assert!(SmallGradients::zeroed().dropout_masks().is_none());
    chunks_give_the_bits_of_one_sample_at_a_time(&*Small::random(5));
    let net = SmallDropout::random(5);
    chunks_give_the_bits_of_one_sample_at_a_time(&*net);
    let mut gradients = SmallDropoutGradients::zeroed();
    let image = [[[0.5; 12]; 12]];
    let target = [0.1; 10];
    let first = net.accumulate_gradients(&image, &target, &CrossEntropy, 1.0, &mut gradients);
    let second = net.accumulate_gradients(&image, &target, &CrossEntropy, 1.0, &mut gradients);
    assert_eq!(gradients.dropout_masks().map(|m| m.samples()), Some(2));
    // Another sample, other masks; the same sample number, the same masks.
    assert_ne!(first.loss, second.loss);
    let mut again = SmallDropoutGradients::zeroed();
    let replay = net.accumulate_gradients(&image, &target, &CrossEntropy, 1.0, &mut again);
    assert_eq!(replay, first);
}

/// The trainer fits a CNN: a task only the image's layout tells (is the bright bar vertical or
/// horizontal?), learnt well within a few epochs.
#[test]
fn a_cnn_learns_with_the_trainer() {
    let mut rng = Rng::new(7);
    let mut inputs = Vec::new();
    let mut targets = Vec::new();
    for k in 0..96 {
        let vertical = k % 2 == 0;
        let at = rng.below(12);
        #[allow(clippy::cast_possible_truncation)]
        let image: [[[f32; 12]; 12]; 1] = [std::array::from_fn(|y| {
            std::array::from_fn(|x| {
                let on = if vertical { x == at } else { y == at };
                (if on { 1.0 } else { 0.0 }) + 0.1 * rng.uniform() as f32
            })
        })];
        inputs.push(image);
        let class = usize::from(!vertical);
        targets.push(std::array::from_fn(|i| if i == class { 1.0 } else { 0.0 }));
    }
    let mut net = Small::random(8);
    let before = nn::train::evaluate(&*net, &CrossEntropy, &inputs, &targets).unwrap();
    let mut trainer = Trainer::new(CrossEntropy, Sgd::new(0.1).momentum(0.9))
        .epochs(8)
        .batch_size(16)
        .seed(9);
    let history = trainer
        .fit(&mut *net, &inputs, &targets, |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let after = nn::train::evaluate(&*net, &CrossEntropy, &inputs, &targets).unwrap();
    assert_eq!(history.epochs.len(), 8);
    assert!(after.loss < 0.5 * before.loss, "{before:?} to {after:?}");
    assert!(after.accuracy > 0.95, "{after:?}");
}

/// A network whose output is not a vector has no training half (the losses read vectors);
/// one with only tensorless layers has an empty gradients struct and still trains.
#[test]
fn tensorless_networks_train() {
    nn::network! {
        struct Reshape = [2, 3] -> maxpool1d(3) -> flatten -> dropout(0.5) with scalar = f64;
    }
    let net = Reshape::zeroed();
    let mut gradients = <Reshape as Trainable>::Gradients::zeroed();
    let outcome = net.accumulate_gradients(
        &[[1.0, 5.0, 2.0], [-1.0, -3.0, -2.0]],
        &[4.0, 0.0],
        &Mse,
        1.0,
        &mut gradients,
    );
    // The maxima 5 and -1, each dropped or doubled by dropout(0.5).
    let [a, b] = outcome.output;
    assert!(
        (a == 0.0 || a == 10.0) && (b == 0.0 || b == -2.0),
        "{a} {b}"
    );
    assert_eq!(outcome.loss, 0.5 * ((a - 4.0) * (a - 4.0) + b * b));
    assert!(flat_gradients(&*gradients).is_empty());
    // At inference, dropout is the identity.
    let outcome = net.evaluate(&[[1.0, 5.0, 2.0], [-1.0, -3.0, -2.0]], &[4.0, 0.0], &Mse);
    assert_eq!(outcome.output, [5.0, -1.0]);
}

/// LeNet-5 trains: its `accumulate_batch` (one sample at a time: its locals are too large for
/// chunks) runs on the test thread's stack, and a few SGD steps lower the loss on a batch.
#[test]
fn lenet_trains() {
    use crate::lenet::{LeNet, LeNetGradients};
    use nn::train::Optimizer as _;
    const { assert!(LeNet::TRAINING_CHUNK == 1) };
    let mut rng = Rng::new(10);
    #[allow(clippy::cast_possible_truncation)] // values in [0, 1), as f32
    let images: Vec<[[[f32; 28]; 28]; 1]> = (0..4)
        .map(|_| [[[(); 28]; 28]].map(|c| c.map(|r| r.map(|()| rng.uniform() as f32))))
        .collect();
    let targets: Vec<[f32; 10]> = (0..4)
        .map(|k| std::array::from_fn(|i| if i == k { 1.0 } else { 0.0 }))
        .collect();
    let mut net = LeNet::random(11);
    let mut gradients = LeNetGradients::zeroed();
    let mut sgd = Sgd::new(0.05);
    let mut losses = Vec::new();
    for _ in 0..5 {
        gradients.zero();
        let mut total = 0.0;
        net.accumulate_batch(
            &images,
            &targets,
            &CrossEntropy,
            0.25,
            &mut gradients,
            |_, o| {
                total += o.loss;
            },
        )
        .unwrap();
        losses.push(total / 4.0);
        sgd.step(&mut *net, &gradients);
    }
    assert!(losses[4] < 0.8 * losses[0], "{losses:?}");
    // Every tensor of every layer gets gradients.
    let mut tensors = 0;
    nn::train::Gradients::for_each_tensor(&*gradients, |info, values| {
        assert!(values.iter().any(|g| *g != 0.0), "{}", info.name);
        tensors += 1;
    });
    assert_eq!(tensors, 10);
}

/// `Trainer` seeds dropout's masks with its seed: without shuffling, only the masks tell two
/// seeds apart.
#[test]
fn the_trainer_seeds_dropout() {
    let inputs: Vec<[[[f32; 12]; 12]; 1]> = (0..16u8)
        .map(|k| [[[f32::from(k) / 16.0; 12]; 12]])
        .collect();
    let targets: Vec<[f32; 10]> = (0..16)
        .map(|k| std::array::from_fn(|i| if i == k % 10 { 1.0 } else { 0.0 }))
        .collect();
    let train = |seed: u64| {
        let mut net = SmallDropout::random(1);
        let mut trainer = Trainer::new(CrossEntropy, Sgd::new(0.1))
            .epochs(2)
            .batch_size(8)
            .shuffle(false)
            .seed(seed);
        trainer
            .fit(&mut *net, &inputs, &targets, |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        parameters(&*net)
    };
    let first = train(1);
    assert_eq!(train(1), first);
    assert_ne!(train(2), first);
}
