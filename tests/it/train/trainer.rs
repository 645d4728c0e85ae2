//! The mini-batch trainer: determinism, validation split, early stop, errors, and learning
//! real tasks (XOR, the digits).

use super::parameters;
use nn::train::{
    Adam, BinaryCrossEntropy, CrossEntropy, Epoch, Mse, Optimizer, Schedule, Sgd, TrainError,
    Trainer, evaluate,
};
use std::ops::ControlFlow;

nn::network! {
    struct Xor = 2 -> 4 tanh -> 1 sigmoid;
}

nn::network! {
    struct Line = 2 -> 1;
}

nn::network! {
    struct Digits = 64 -> 32 relu -> 10 softmax;
}

const XOR_INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const XOR_TARGETS: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

fn keep_going(_: &Epoch) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// The digits as (inputs, one-hot targets, labels), rows in file order.
fn digits() -> (Vec<[f32; 64]>, Vec<[f32; 10]>) {
    let text = include_str!("../../../examples/data/digits.csv");
    let mut inputs = Vec::new();
    let mut targets = Vec::new();
    for line in text.lines().skip(1) {
        let values: Vec<f32> = line
            .split(',')
            .map(|v| v.parse().expect("a number"))
            .collect();
        assert_eq!(values.len(), 65);
        inputs.push(std::array::from_fn(|i| values[i]));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // labels are 0..9
        let label = values[64] as usize;
        targets.push(std::array::from_fn(|i| if i == label { 1.0 } else { 0.0 }));
    }
    (inputs, targets)
}

#[test]
fn xor_is_learned_from_random_weights() {
    let mut net = Xor::random(3);
    let before = evaluate(&*net, &BinaryCrossEntropy, &XOR_INPUTS, &XOR_TARGETS).unwrap();
    let mut trainer = Trainer::new(BinaryCrossEntropy, Adam::new(0.05))
        .epochs(400)
        .batch_size(4);
    let history = trainer
        .fit(&mut *net, &XOR_INPUTS, &XOR_TARGETS, keep_going)
        .unwrap();
    assert_eq!(history.epochs.len(), 400);
    let after = evaluate(&*net, &BinaryCrossEntropy, &XOR_INPUTS, &XOR_TARGETS).unwrap();
    assert!(
        before.accuracy < 1.0,
        "random weights already solve XOR: {before:?}"
    );
    assert_eq!(after.accuracy, 1.0, "{after:?}");
    assert!(after.loss < 0.05, "{after:?}");
    for (x, y) in XOR_INPUTS.iter().zip(XOR_TARGETS) {
        assert!((net.forward(x)[0] - y[0]).abs() < 0.1);
    }
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let (inputs, targets) = digits();
    let train = |seed: u64| {
        let mut net = Digits::random(7);
        let mut trainer = Trainer::new(CrossEntropy, Sgd::new(0.1).momentum(0.9))
            .epochs(2)
            .batch_size(16)
            .seed(seed);
        trainer
            .fit(&mut *net, &inputs[..300], &targets[..300], keep_going)
            .unwrap();
        parameters(&*net)
            .into_iter()
            .map(f32::to_bits)
            .collect::<Vec<_>>()
    };
    let first = train(11);
    assert_eq!(first, train(11));
    assert_ne!(first, train(12), "the seed does not change the shuffle");
}

#[test]
/// Without the distortions of `examples/train_digits.rs` this network tops out near 92% on the
/// test rows (as scikit-learn's `MLPClassifier(32)` does); eight epochs get past 85%.
fn digits_are_learned_in_a_few_epochs() {
    let (inputs, targets) = digits();
    let (train_x, test_x) = inputs.split_at(1500);
    let (train_y, test_y) = targets.split_at(1500);
    let mut net = Digits::random(1);
    let mut trainer = Trainer::new(CrossEntropy, Adam::new(0.01))
        .epochs(8)
        .batch_size(32)
        .seed(1)
        .validation_split(0.1);
    let history = trainer
        .fit(&mut *net, train_x, train_y, keep_going)
        .unwrap();
    let last = history.epochs.last().unwrap();
    let validation = last.validation.unwrap();
    assert_eq!((last.train.samples, validation.samples), (1350, 150));
    // The validation samples are the last 150 of the training rows, never trained on.
    assert_eq!(
        validation,
        evaluate(&*net, &CrossEntropy, &train_x[1350..], &train_y[1350..]).unwrap()
    );
    assert!(history.epochs[0].train.loss > last.train.loss);
    let test = evaluate(&*net, &CrossEntropy, test_x, test_y).unwrap();
    assert!(test.accuracy > 0.85, "{test:?}");
}

/// Keras's split: `floor(n * (1 - split))` samples train and the rest validate, and a split
/// that holds out nothing is refused (Keras raises).
#[test]
fn the_validation_split_rounds_as_keras() {
    let inputs: Vec<[f32; 2]> = (0..10).map(|k| XOR_INPUTS[k % 4]).collect();
    let targets: Vec<[f32; 1]> = (0..10).map(|k| XOR_TARGETS[k % 4]).collect();
    let mut net = Xor::random(1);
    let split = |split: f64, n: usize, net: &mut Xor| {
        Trainer::new(Mse, Sgd::new(0.1))
            .epochs(1)
            .validation_split(split)
            .fit(net, &inputs[..n], &targets[..n], keep_going)
            .map(|history| {
                let epoch = history.epochs[0];
                (epoch.train.samples, epoch.validation.map(|v| v.samples))
            })
    };
    // 10 * 0.75 = 7.5: 7 train, 3 validate.
    assert_eq!(split(0.25, 10, &mut net), Ok((7, Some(3))));
    assert_eq!(split(0.1, 10, &mut net), Ok((9, Some(1))));
    assert_eq!(split(0.0, 10, &mut net), Ok((10, None)));
    // 5 * 0.9 = 4.5: 4 train, 1 validates.
    assert_eq!(split(0.1, 5, &mut net), Ok((4, Some(1))));
    // 9 * 0.95 = 8.55: 8 and 1; 9 * 0.99 = 8.91: 8 and 1 too.
    assert_eq!(split(0.05, 9, &mut net), Ok((8, Some(1))));
    assert_eq!(split(0.01, 9, &mut net), Ok((8, Some(1))));
    // `1 - 1e-17` rounds to 1: every sample trains, none validates.
    let refused = split(1e-17, 10, &mut net).unwrap_err();
    assert_eq!(
        refused,
        TrainError::NoValidation {
            samples: 10,
            split: 1e-17
        }
    );
    assert_eq!(
        refused.to_string(),
        "expected at least one validation sample: a validation split of 0.00000000000000001 of 10 samples holds out none"
    );
    // 1 * 0.5 = 0.5: nothing to train on.
    assert_eq!(
        split(0.5, 1, &mut net),
        Err(TrainError::Empty {
            samples: 1,
            validation: 1
        })
    );
    let none = split(0.1, 0, &mut net).unwrap_err();
    assert_eq!(
        none,
        TrainError::Empty {
            samples: 0,
            validation: 0
        }
    );
}

#[test]
fn the_callback_can_stop_training() {
    let mut net = Xor::random(1);
    let mut seen = Vec::new();
    let history = Trainer::new(Mse, Sgd::new(0.5))
        .epochs(50)
        .fit(&mut *net, &XOR_INPUTS, &XOR_TARGETS, |epoch| {
            seen.push(epoch.epoch);
            if epoch.epoch == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(history.epochs.len(), 3);
    assert!(
        history
            .epochs
            .iter()
            .all(|e| e.epochs == 50 && e.validation.is_none())
    );
}

#[test]
fn bad_settings_and_data_are_typed_errors() {
    let mut net = Xor::random(1);
    let fit = |trainer: Trainer<Mse, Sgd<f32>>, net: &mut Xor, targets: &[[f32; 1]]| {
        let mut trainer = trainer;
        trainer.fit(net, &XOR_INPUTS, targets, keep_going)
    };
    let plain = || Trainer::new(Mse, Sgd::new(0.1));
    assert_eq!(
        fit(plain(), &mut net, &XOR_TARGETS[..3]),
        Err(TrainError::Samples {
            inputs: 4,
            targets: 3
        })
    );
    assert_eq!(
        fit(plain().batch_size(0), &mut net, &XOR_TARGETS),
        Err(TrainError::BatchSize)
    );
    // A mean over no samples is no number, not a perfect loss.
    assert_eq!(evaluate(&*net, &Mse, &[], &[]), Err(TrainError::NoSamples));
    assert_eq!(
        fit(plain().validation_split(1.0), &mut net, &XOR_TARGETS),
        Err(TrainError::ValidationSplit { split: 1.0 })
    );
    assert_eq!(
        Trainer::new(Mse, Sgd::new(0.1))
            .fit(&mut *net, &[], &[], keep_going)
            .unwrap_err()
            .to_string(),
        "expected at least one training sample, found 0 samples of which 0 are for validation"
    );
    // A sample that is not finite is named before any step, not blamed on the training.
    let before = parameters(&*net);
    let mut inputs = XOR_INPUTS;
    inputs[2][1] = f32::NAN;
    let refused = plain()
        .fit(&mut *net, &inputs, &XOR_TARGETS, keep_going)
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the input of sample 2 is not finite: found NaN at 1"
    );
    let mut targets = XOR_TARGETS;
    targets[3][0] = f32::INFINITY;
    assert_eq!(
        fit(plain(), &mut net, &targets),
        Err(TrainError::NonFiniteSample {
            sample: 3,
            tensor: "the target",
            at: 0,
            value: f64::INFINITY
        })
    );
    let refused = plain()
        .fit_with_validation(
            &mut *net,
            (&XOR_INPUTS, &XOR_TARGETS),
            (&inputs[1..], &XOR_TARGETS[1..]),
            keep_going,
        )
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the validation input of sample 1 is not finite: found NaN at 1"
    );
    assert_eq!(parameters(&*net), before);
    // A linear output and a huge step: the second sample's loss overflows f32.
    let mut line = Line::random(1);
    let before = parameters(&*line);
    let diverged = Trainer::new(Mse, Sgd::new(1e30))
        .batch_size(1)
        .shuffle(false)
        .fit(&mut *line, &XOR_INPUTS, &XOR_TARGETS, keep_going);
    assert!(
        matches!(diverged, Err(TrainError::Diverged { epoch: 1, .. })),
        "{diverged:?}"
    );
    assert_ne!(parameters(&*line), before);
}

#[test]
fn settings_that_cannot_train_are_refused_before_any_step() {
    // Settings PyTorch refuses, and NaN.
    let mut line = Line::random(2);
    let before = parameters(&*line);
    for (sgd, reason) in [
        (
            Sgd::new(f32::NAN),
            "the learning rate must be finite and at least 0, found NaN",
        ),
        (
            Sgd::new(0.1).momentum(-0.5),
            "the momentum must be finite and at least 0, found -0.5",
        ),
        (
            Sgd::new(0.1).weight_decay(f32::INFINITY),
            "the weight decay must be finite and at least 0, found inf",
        ),
        (
            Sgd::new(0.1).nesterov(true),
            "Nesterov momentum needs a momentum above 0",
        ),
    ] {
        let refused = Trainer::new(Mse, sgd).fit(&mut *line, &XOR_INPUTS, &XOR_TARGETS, keep_going);
        assert_eq!(
            refused,
            Err(TrainError::Settings {
                reason: reason.to_owned()
            })
        );
    }
    let refused = Trainer::new(Mse, Adam::new(0.1).betas(1.0, 0.999))
        .fit_with_validation(
            &mut *line,
            (&XOR_INPUTS, &XOR_TARGETS),
            (&[], &[]),
            keep_going,
        )
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the optimizer's settings cannot train: beta1 must be in [0, 1), found 1"
    );
    for epsilon in [-1e-8, 0.0] {
        let refused = Trainer::new(Mse, Adam::new(0.1).epsilon(epsilon))
            .fit(&mut *line, &XOR_INPUTS, &XOR_TARGETS, keep_going)
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "the optimizer's settings cannot train: the epsilon must be finite and above 0 (a \
                 parameter whose gradients are all 0 would take 0 / 0), found {epsilon}"
            )
        );
    }
    let refused = Trainer::new(Mse, Sgd::new(0.1))
        .schedule(Schedule::Step {
            every: 1,
            factor: -0.5,
        })
        .fit(&mut *line, &XOR_INPUTS, &XOR_TARGETS, keep_going)
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the optimizer's settings cannot train: the schedule's factor must be finite and at \
         least 0, found -0.5"
    );
    assert_eq!(parameters(&*line), before);

    // A finite loss whose step overflows the weights: the error says the network holds them.
    let overflowing = Trainer::new(Mse, Sgd::new(f32::MAX)).batch_size(1).fit(
        &mut *line,
        &[[1.0, 1.0]],
        &[[1000.0]],
        keep_going,
    );
    assert!(
        matches!(
            overflowing,
            Err(TrainError::NonFiniteWeights { epoch: 1, loss }) if loss.is_finite()
        ),
        "{overflowing:?}"
    );
    assert!(parameters(&*line).iter().any(|w| !w.is_finite()));
}

/// A schedule whose rate leaves the scalar type in some epoch is refused before any step,
/// however many epochs are planned.
#[test]
fn schedules_that_grow_the_rate_beyond_the_scalar_type_are_refused() {
    let mut line = Line::random(3);
    let before = parameters(&*line);
    let cases = [
        // A factor that is finite but grows the rate beyond `f32` in a later epoch.
        (
            0.5,
            3,
            1e20,
            "the schedule makes the learning rate 5e39 in epoch 3, beyond f32".to_owned(),
        ),
        // Checked at once however many epochs are planned (a callback may stop them), and
        // with a rate of zero, which an infinite factor would make NaN.
        (
            0.5,
            usize::MAX,
            2.0,
            format!("the schedule's factor is inf in epoch {}", usize::MAX),
        ),
        (
            0.0,
            usize::MAX,
            2.0,
            format!("the schedule's factor is inf in epoch {}", usize::MAX),
        ),
    ];
    for (rate, epochs, factor, reason) in cases {
        let refused = Trainer::new(Mse, Sgd::new(rate))
            .epochs(epochs)
            .schedule(Schedule::Step { every: 1, factor })
            .fit(&mut *line, &XOR_INPUTS, &XOR_TARGETS, keep_going)
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!("the optimizer's settings cannot train: {reason}")
        );
    }
    assert_eq!(parameters(&*line), before);
}

#[test]
fn schedules_set_each_epochs_rate_and_fit_restores_it() {
    assert_eq!(Schedule::Constant.factor(7, 10), 1.0);
    assert_eq!(Schedule::Cosine.factor(0, 4), 1.0);
    assert!((Schedule::Cosine.factor(2, 4) - 0.5).abs() < 1e-15);
    let step = Schedule::Step {
        every: 2,
        factor: 0.5,
    };
    assert_eq!(
        [0, 1, 2, 5].map(|e| step.factor(e, 10)),
        [1.0, 1.0, 0.5, 0.25]
    );

    let mut net = Xor::random(2);
    let mut trainer = Trainer::new(Mse, Sgd::new(0.5_f32))
        .epochs(4)
        .schedule(Schedule::Cosine);
    let history = trainer
        .fit(&mut *net, &XOR_INPUTS, &XOR_TARGETS, keep_going)
        .unwrap();
    let rates: Vec<f64> = history.epochs.iter().map(|e| e.learning_rate).collect();
    let expected = [0.0, 1.0, 2.0, 3.0]
        .map(|e: f64| 0.5 * 0.5 * (1.0 + (std::f64::consts::PI * e / 4.0).cos()));
    for (rate, expected) in rates.iter().zip(expected) {
        assert!((rate - expected).abs() < 1e-15, "{rates:?}");
    }
    assert_eq!(trainer.optimizer_mut().learning_rate(), 0.5);
}

#[test]
fn explicit_validation_data_is_evaluated_after_each_epoch() {
    let mut net = Xor::random(4);
    let mut trainer = Trainer::new(BinaryCrossEntropy, Adam::new(0.05)).epochs(3);
    let validation = (&XOR_INPUTS[1..3], &XOR_TARGETS[1..3]);
    let history = trainer
        .fit_with_validation(
            &mut *net,
            (&XOR_INPUTS, &XOR_TARGETS),
            validation,
            keep_going,
        )
        .unwrap();
    let last = history.epochs.last().unwrap();
    assert_eq!(
        last.validation,
        Some(evaluate(&*net, &BinaryCrossEntropy, validation.0, validation.1).unwrap())
    );
    assert_eq!(last.train.samples, 4);
    assert_eq!(
        trainer.fit_with_validation(
            &mut *net,
            (&XOR_INPUTS, &XOR_TARGETS),
            (&XOR_INPUTS, &XOR_TARGETS[..1]),
            keep_going
        ),
        Err(TrainError::Samples {
            inputs: 4,
            targets: 1
        })
    );
}

#[test]
fn a_batch_larger_than_the_data_is_the_whole_data() {
    // `usize::MAX` reads as "one batch of everything"; it must not try to reserve that much.
    let mut whole = Xor::random(3);
    let mut exact = Xor::random(3);
    for (net, batch) in [(&mut whole, usize::MAX), (&mut exact, 4)] {
        Trainer::new(BinaryCrossEntropy, Sgd::new(0.5))
            .epochs(3)
            .batch_size(batch)
            .fit(&mut **net, &XOR_INPUTS, &XOR_TARGETS, keep_going)
            .unwrap();
    }
    assert_eq!(parameters(&*whole), parameters(&*exact));
}

nn::network! {
    /// 40 layers, 80 trained tensors: more than an optimizer pairs with their gradients in one
    /// round.
    struct Deep = 2 -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh
        -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh
        -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh
        -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh
        -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 2 tanh -> 1
        with scalar = f64;
}

#[test]
fn an_optimizer_updates_every_tensor_with_its_own_gradients() {
    use nn::train::Gradients;
    let mut net = Deep::random(4);
    let mut gradients = DeepGradients::zeroed();
    // Gradients that name their place: value `k` is `k`.
    let mut k = 0.0;
    gradients.for_each_tensor_mut(|_, values| {
        for g in values {
            *g = k;
            k += 1.0;
        }
    });
    let before = parameters(&*net);
    assert_eq!(before.len(), Deep::PARAMETERS);
    Sgd::new(0.5).step(&mut *net, &gradients);
    let after = parameters(&*net);
    for (k, (a, b)) in after.iter().zip(&before).enumerate() {
        assert_eq!(*a, b - 0.5 * k as f64, "parameter {k}");
    }
}
