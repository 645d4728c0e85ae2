//! Mini-batch training: epochs, seeded shuffling, a validation split and a callback per epoch.

use super::{Gradients, Loss, Optimizer, Trainable};
use crate::Scalar;
use crate::init::SplitMix64;
use alloc::vec::Vec;
use core::ops::ControlFlow;

/// Why training could not start or had to stop.
///
/// As [`Error`](crate::Error), `{:?}` prints the message (what `fn main() -> Result<(),
/// TrainError>` and `unwrap` show) and `{:#?}` the variant and its fields.
#[derive(Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Inputs and targets differ in number.
    #[error("expected one target per input: {inputs} inputs, found {targets} targets")]
    Samples {
        /// Inputs given.
        inputs: usize,
        /// Targets given.
        targets: usize,
    },
    /// Nothing to train on once the validation samples are set aside.
    #[error(
        "expected at least one training sample, found {samples} samples of which {validation} are for validation"
    )]
    Empty {
        /// Samples given.
        samples: usize,
        /// Samples set aside for validation.
        validation: usize,
    },
    /// A positive validation split that holds out no sample, as Keras refuses it too: a split
    /// of `1e-17` of 10 samples (`1 - 1e-17` rounds to 1).
    #[error(
        "expected at least one validation sample: a validation split of {split} of {samples} samples holds out none"
    )]
    NoValidation {
        /// Samples given.
        samples: usize,
        /// The split.
        split: f64,
    },
    /// A batch size of zero.
    #[error("expected a batch size of at least 1, found 0")]
    BatchSize,
    /// [`evaluate`] got no samples: a mean over none is no number.
    #[error("expected at least one sample to evaluate, found none")]
    NoSamples,
    /// A validation fraction outside `[0, 1)`.
    #[error("expected a validation split in [0, 1), found {split}")]
    ValidationSplit {
        /// The fraction given.
        split: f64,
    },
    /// The network refused a batch with [`Error::BatchTooLarge`](crate::Error::BatchTooLarge):
    /// a hand-written [`Trainable`] that takes batches of a limited size (generated networks
    /// take any batch wherever the `Trainer` exists, with `alloc`).
    #[error("{error}: give the `Trainer` a `batch_size` of at most that")]
    Batch {
        /// The network's error.
        error: crate::Error,
    },
    /// The loss became infinite or NaN (a learning rate too high, usually: the data were
    /// checked finite before); the network keeps the weights of the step before.
    #[error("the loss diverged in epoch {epoch}: found {loss}")]
    Diverged {
        /// The epoch, from 1.
        epoch: usize,
        /// The mean loss of the batch that diverged.
        loss: f64,
    },
    /// A step left weights that are not finite, though the loss before it was (a learning
    /// rate too high, usually); the network holds them: load or train it again.
    #[error(
        "a step in epoch {epoch} left weights that are not finite (the loss before it was {loss}): the network holds them"
    )]
    NonFiniteWeights {
        /// The epoch, from 1.
        epoch: usize,
        /// The mean loss of the batch whose step it was.
        loss: f64,
    },
    /// The optimizer's settings cannot train (`Optimizer::check`).
    #[error("the optimizer's settings cannot train: {reason}")]
    Settings {
        /// What is wrong.
        reason: alloc::string::String,
    },
    /// A sample's input or target holds a value that is not finite, which would make the loss
    /// NaN or infinite from the first batch that holds it; nothing is trained.
    #[error("{tensor} of sample {sample} is not finite: found {value} at {at}")]
    NonFiniteSample {
        /// The sample's index in the slice given (`fit_with_validation`: in the validation
        /// slice for a validation sample's).
        sample: usize,
        /// `"the input"`, `"the target"`, `"the validation input"` or `"the validation
        /// target"`.
        tensor: &'static str,
        /// The value's index in the sample's values, flattened in row-major order.
        at: usize,
        /// The value.
        value: f64,
    },
}

impl core::fmt::Debug for TrainError {
    /// The message with `{:?}`, the variant and its fields with `{:#?}`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if !f.alternate() {
            return core::fmt::Display::fmt(self, f);
        }
        match self {
            Self::Samples { inputs, targets } => f
                .debug_struct("Samples")
                .field("inputs", inputs)
                .field("targets", targets)
                .finish(),
            Self::Empty {
                samples,
                validation,
            } => f
                .debug_struct("Empty")
                .field("samples", samples)
                .field("validation", validation)
                .finish(),
            Self::NoValidation { samples, split } => f
                .debug_struct("NoValidation")
                .field("samples", samples)
                .field("split", split)
                .finish(),
            Self::BatchSize => f.write_str("BatchSize"),
            Self::NoSamples => f.write_str("NoSamples"),
            Self::Batch { error } => f.debug_struct("Batch").field("error", error).finish(),
            Self::ValidationSplit { split } => f
                .debug_struct("ValidationSplit")
                .field("split", split)
                .finish(),
            Self::Diverged { epoch, loss } => f
                .debug_struct("Diverged")
                .field("epoch", epoch)
                .field("loss", loss)
                .finish(),
            Self::NonFiniteWeights { epoch, loss } => f
                .debug_struct("NonFiniteWeights")
                .field("epoch", epoch)
                .field("loss", loss)
                .finish(),
            Self::Settings { reason } => {
                f.debug_struct("Settings").field("reason", reason).finish()
            }
            Self::NonFiniteSample {
                sample,
                tensor,
                at,
                value,
            } => f
                .debug_struct("NonFiniteSample")
                .field("sample", sample)
                .field("tensor", tensor)
                .field("at", at)
                .field("value", value)
                .finish(),
        }
    }
}

/// How the learning rate changes from epoch to epoch, as a factor of the optimizer's rate when
/// [`Trainer::fit`] starts (which `fit` restores when it returns).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Schedule {
    /// The same rate every epoch.
    #[default]
    Constant,
    /// Cosine annealing towards zero over the planned epochs, stepped once per epoch: factor
    /// `(1 + cos(pi * e / epochs)) / 2` in epoch `e` counted from 0 (PyTorch's
    /// `CosineAnnealingLR` with `T_max = epochs`).
    Cosine,
    /// Multiplied by `factor` after every `every` epochs (PyTorch's `StepLR`).
    Step {
        /// Epochs between two decays (0 never decays).
        every: usize,
        /// The decay.
        factor: f64,
    },
}

impl Schedule {
    /// The factor in epoch `epoch` (from 0) of `epochs`.
    pub fn factor(self, epoch: usize, epochs: usize) -> f64 {
        match self {
            Self::Constant | Self::Step { every: 0, .. } => 1.0,
            Self::Cosine => {
                0.5 * (1.0 + libm::cos(core::f64::consts::PI * epoch as f64 / epochs.max(1) as f64))
            }
            Self::Step { every, factor } => {
                let decays = i32::try_from(epoch / every).unwrap_or(i32::MAX);
                libm::pow(factor, f64::from(decays))
            }
        }
    }

    /// Whether the schedule keeps the rate finite and at least 0: a `Step`'s factor must be.
    fn check(self) -> Result<(), alloc::string::String> {
        match self {
            Self::Step { factor, .. } if !(factor.is_finite() && factor >= 0.0) => {
                Err(alloc::format!(
                    "the schedule's factor must be finite and at least 0, found {factor}"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Loss and accuracy over a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss per sample.
    pub loss: f64,
    /// Fraction of samples predicted correctly (see [`Loss::is_correct`]).
    pub accuracy: f64,
    /// Number of samples.
    pub samples: usize,
}

/// What the trainer reports after each epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epoch {
    /// This epoch, from 1.
    pub epoch: usize,
    /// Epochs planned.
    pub epochs: usize,
    /// The learning rate used in this epoch.
    pub learning_rate: f64,
    /// Mean loss and accuracy over the training samples during the epoch (each measured
    /// before the update of its batch).
    pub train: Evaluation,
    /// Loss and accuracy on the validation samples after the epoch, if a split was asked for.
    pub validation: Option<Evaluation>,
}

/// Every epoch's report, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One report per completed epoch.
    pub epochs: Vec<Epoch>,
}

/// Trains networks with mini-batch gradient descent.
///
/// Each epoch shuffles the training samples with a generator seeded from [`Trainer::seed`],
/// splits them into batches, and for each batch averages the gradients of its samples and
/// lets the optimizer update the network. Runs are deterministic: the same seed, data and
/// settings give bit-identical weights.
#[derive(Clone, Debug)]
pub struct Trainer<L, O> {
    loss: L,
    optimizer: O,
    epochs: usize,
    batch_size: usize,
    seed: u64,
    shuffle: bool,
    validation_split: f64,
    schedule: Schedule,
}

impl<L, O> Trainer<L, O> {
    /// A trainer with this loss and optimizer, 10 epochs, batches of 32, seed 0, shuffling on
    /// no validation split and a constant learning rate.
    pub fn new(loss: L, optimizer: O) -> Self {
        Self {
            loss,
            optimizer,
            epochs: 10,
            batch_size: 32,
            seed: 0,
            shuffle: true,
            validation_split: 0.0,
            schedule: Schedule::Constant,
        }
    }

    /// With this many passes over the training samples.
    #[must_use]
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// With this many samples per gradient step (the last batch of an epoch may be smaller).
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// With this seed for shuffling and for dropout's masks.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// With or without shuffling the training samples before each epoch.
    #[must_use]
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// With this fraction of the samples, taken from the end before any shuffling, held out for
    /// validation after each epoch. As Keras: `floor(n * (1 - split))` samples train, the rest
    /// validate, and a positive split that leaves either part empty is an error.
    #[must_use]
    pub fn validation_split(mut self, split: f64) -> Self {
        self.validation_split = split;
        self
    }

    /// With this learning-rate schedule.
    #[must_use]
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// The loss.
    pub fn loss(&self) -> &L {
        &self.loss
    }

    /// The optimizer (to read or change its learning rate between runs).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Trains `net` on `inputs` and `targets`, calling `on_epoch` after each epoch; training
    /// stops early when it returns [`ControlFlow::Break`].
    ///
    /// # Errors
    ///
    /// [`TrainError`] when the data or the settings do not make sense (nothing is trained; a
    /// value of a sample that is not finite is [`TrainError::NonFiniteSample`]),
    /// when the loss diverges (the network keeps the weights of the step before), or when a
    /// step leaves weights that are not finite (the network holds them).
    pub fn fit<N>(
        &mut self,
        net: &mut N,
        inputs: &[N::Input],
        targets: &[N::Output],
        mut on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
    ) -> Result<History, TrainError>
    where
        N: Trainable,
        L: Loss<N::OutputActivation>,
        O: Optimizer<N::Scalar>,
    {
        if inputs.len() != targets.len() {
            return Err(TrainError::Samples {
                inputs: inputs.len(),
                targets: targets.len(),
            });
        }
        check_finite::<N>(inputs, targets, ["the input", "the target"])?;
        if self.batch_size == 0 {
            return Err(TrainError::BatchSize);
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return Err(TrainError::ValidationSplit {
                split: self.validation_split,
            });
        }
        // Keras's rounding (`train_validation_split`): `floor(n * (1 - split))` samples train
        // (the cast truncates, the floor of a value that is not negative), the rest, from the
        // end, validate.
        let samples = inputs.len();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let training = (samples as f64 * (1.0 - self.validation_split)) as usize;
        let validation = samples - training;
        if training == 0 {
            return Err(TrainError::Empty {
                samples,
                validation,
            });
        }
        if validation == 0 && self.validation_split > 0.0 {
            return Err(TrainError::NoValidation {
                samples,
                split: self.validation_split,
            });
        }
        let base_rate = self.optimizer.learning_rate();
        let result = self.run(
            net,
            inputs.split_at(training),
            targets.split_at(training),
            &mut on_epoch,
        );
        self.optimizer.set_learning_rate(base_rate);
        result
    }

    /// Like [`Trainer::fit`], but validates after each epoch on the given samples instead of
    /// a split of the training samples (the validation split setting is ignored); with none,
    /// validates nothing (each [`Epoch::validation`] is `None`).
    ///
    /// # Errors
    ///
    /// As [`Trainer::fit`]; [`TrainError::Samples`] also when the validation inputs and
    /// targets differ in number.
    pub fn fit_with_validation<N>(
        &mut self,
        net: &mut N,
        (inputs, targets): (&[N::Input], &[N::Output]),
        (validation_inputs, validation_targets): (&[N::Input], &[N::Output]),
        mut on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
    ) -> Result<History, TrainError>
    where
        N: Trainable,
        L: Loss<N::OutputActivation>,
        O: Optimizer<N::Scalar>,
    {
        for (inputs, targets) in [
            (inputs.len(), targets.len()),
            (validation_inputs.len(), validation_targets.len()),
        ] {
            if inputs != targets {
                return Err(TrainError::Samples { inputs, targets });
            }
        }
        check_finite::<N>(inputs, targets, ["the input", "the target"])?;
        check_finite::<N>(
            validation_inputs,
            validation_targets,
            ["the validation input", "the validation target"],
        )?;
        if self.batch_size == 0 {
            return Err(TrainError::BatchSize);
        }
        if inputs.is_empty() {
            return Err(TrainError::Empty {
                samples: 0,
                validation: validation_inputs.len(),
            });
        }
        let base_rate = self.optimizer.learning_rate();
        let result = self.run(
            net,
            (inputs, validation_inputs),
            (targets, validation_targets),
            &mut on_epoch,
        );
        self.optimizer.set_learning_rate(base_rate);
        result
    }

    /// Why the optimizer's and the schedule's settings cannot train, if they cannot: among
    /// others, a schedule that grows the rate beyond `T` in some epoch, which would make every
    /// weight infinite at its first step.
    fn check_settings<T: Scalar>(&self) -> Result<(), alloc::string::String>
    where
        O: Optimizer<T>,
    {
        self.optimizer.check()?;
        self.schedule.check()?;
        // Every schedule's factor is at most 1 in the first epoch and largest in the first or
        // the last (a `Step` factor above 1 only grows it): those two say it all.
        let base_rate = self.optimizer.learning_rate().to_f64();
        let epochs = self.epochs;
        let factor = |epoch: usize| self.schedule.factor(epoch - 1, epochs);
        let finite = |epoch: usize| {
            factor(epoch).is_finite() && T::from_f64(base_rate * factor(epoch)).is_finite()
        };
        match [1, epochs].into_iter().find(|&e| e > 0 && !finite(e)) {
            Some(epoch) if !factor(epoch).is_finite() => Err(alloc::format!(
                "the schedule's factor is {} in epoch {epoch}",
                factor(epoch)
            )),
            Some(epoch) => Err(alloc::format!(
                "the schedule makes the learning rate {:e} in epoch {epoch}, beyond {}",
                base_rate * factor(epoch),
                T::NAME
            )),
            None => Ok(()),
        }
    }

    /// The epochs of [`Trainer::fit`], on checked data.
    fn run<N>(
        &mut self,
        net: &mut N,
        (train_inputs, validation_inputs): (&[N::Input], &[N::Input]),
        (train_targets, validation_targets): (&[N::Output], &[N::Output]),
        on_epoch: &mut impl FnMut(&Epoch) -> ControlFlow<()>,
    ) -> Result<History, TrainError>
    where
        N: Trainable,
        L: Loss<N::OutputActivation>,
        O: Optimizer<N::Scalar>,
    {
        // Before any step: settings that cannot train change nothing.
        self.check_settings::<N::Scalar>()
            .map_err(|reason| TrainError::Settings { reason })?;
        let training = train_inputs.len();
        let base_rate = self.optimizer.learning_rate().to_f64();

        let mut gradients = N::Gradients::zeroed();
        if let Some(masks) = gradients.dropout_masks() {
            *masks = super::Masks::new(self.seed);
        }
        // The batch's samples, by reference: filled for each batch, allocated once.
        // A batch is never larger than the training set, whatever `batch_size` asks for.
        let capacity = self.batch_size.min(training);
        let mut batch_inputs: Vec<&N::Input> = Vec::with_capacity(capacity);
        let mut batch_targets: Vec<&N::Output> = Vec::with_capacity(capacity);
        let mut order: Vec<usize> = (0..training).collect();
        let mut rng = SplitMix64::new(self.seed);
        let mut history = History::default();
        for epoch in 1..=self.epochs {
            let learning_rate = base_rate * self.schedule.factor(epoch - 1, self.epochs);
            self.optimizer
                .set_learning_rate(N::Scalar::from_f64(learning_rate));
            if self.shuffle {
                shuffle(&mut order, &mut rng);
            }
            let mut loss_sum = 0.0;
            let mut correct = 0_usize;
            for batch in order.chunks(self.batch_size) {
                gradients.zero();
                let scale = N::Scalar::ONE / N::Scalar::from_f64(batch.len() as f64);
                let mut batch_loss = 0.0;
                batch_inputs.clear();
                batch_targets.clear();
                for &i in batch {
                    batch_inputs.push(&train_inputs[i]);
                    batch_targets.push(&train_targets[i]);
                }
                let loss = &self.loss;
                net.accumulate_batch(
                    &batch_inputs,
                    &batch_targets,
                    loss,
                    scale,
                    &mut gradients,
                    |k, outcome| {
                        batch_loss += outcome.loss.to_f64();
                        if loss.is_correct(outcome.output.as_ref(), batch_targets[k].as_ref()) {
                            correct += 1;
                        }
                    },
                )
                .map_err(|error| match error {
                    crate::Error::BatchTooLarge { .. } => TrainError::Batch { error },
                    _ => TrainError::Samples {
                        inputs: batch_inputs.len(),
                        targets: batch_targets.len(),
                    },
                })?;
                if !batch_loss.is_finite() {
                    return Err(TrainError::Diverged {
                        epoch,
                        loss: batch_loss / batch.len() as f64,
                    });
                }
                loss_sum += batch_loss;
                self.optimizer.step(net, &gradients);
                net.update_buffers(&gradients);
                let mut finite = true;
                net.for_each_tensor(|_, _, values| {
                    finite &= values.iter().all(|v| v.is_finite());
                });
                if !finite {
                    return Err(TrainError::NonFiniteWeights {
                        epoch,
                        loss: batch_loss / batch.len() as f64,
                    });
                }
            }
            let report = Epoch {
                epoch,
                epochs: self.epochs,
                learning_rate,
                train: Evaluation {
                    loss: loss_sum / training as f64,
                    accuracy: correct as f64 / training as f64,
                    samples: training,
                },
                validation: (!validation_inputs.is_empty())
                    .then(|| measure(&*net, &self.loss, validation_inputs, validation_targets)),
            };
            history.epochs.push(report);
            if on_epoch(&report).is_break() {
                break;
            }
        }
        Ok(history)
    }
}

/// Fisher-Yates, each index drawn by Lemire's multiply-shift without its rejection step: an
/// index's probability is off by at most `n / 2^64`.
fn shuffle(order: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..order.len()).rev() {
        let bound = (i + 1) as u128;
        #[allow(clippy::cast_possible_truncation)] // the product shifted by 64 is below `bound`
        let j = ((u128::from(rng.next_u64()) * bound) >> 64) as usize;
        order.swap(i, j);
    }
}

/// The first value of `inputs` or `targets` that is not finite, as an error naming its sample
/// and which of the two (`names`) holds it.
fn check_finite<N: Trainable>(
    inputs: &[N::Input],
    targets: &[N::Output],
    names: [&'static str; 2],
) -> Result<(), TrainError> {
    use crate::layers::Shaped as _;
    for (sample, (input, target)) in inputs.iter().zip(targets).enumerate() {
        for (tensor, values) in names.into_iter().zip([input.values(), target.as_ref()]) {
            if let Some((at, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(TrainError::NonFiniteSample {
                    sample,
                    tensor,
                    at,
                    value: value.to_f64(),
                });
            }
        }
    }
    Ok(())
}

fn measure<N: Trainable, L: Loss<N::OutputActivation>>(
    net: &N,
    loss: &L,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> Evaluation {
    let mut loss_sum = 0.0;
    let mut correct = 0_usize;
    for (input, target) in inputs.iter().zip(targets) {
        let outcome = net.evaluate(input, target, loss);
        loss_sum += outcome.loss.to_f64();
        if loss.is_correct(outcome.output.as_ref(), target.as_ref()) {
            correct += 1;
        }
    }
    let samples = inputs.len();
    let denominator = if samples == 0 { 1.0 } else { samples as f64 };
    Evaluation {
        loss: loss_sum / denominator,
        accuracy: correct as f64 / denominator,
        samples,
    }
}

/// Mean loss and accuracy of `net` on `inputs` and `targets`.
///
/// # Errors
///
/// [`TrainError::Samples`] when inputs and targets differ in number, [`TrainError::NoSamples`]
/// when there are none (rather than a perfect loss of 0 over nothing).
pub fn evaluate<N: Trainable, L: Loss<N::OutputActivation>>(
    net: &N,
    loss: &L,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> Result<Evaluation, TrainError> {
    if inputs.len() != targets.len() {
        return Err(TrainError::Samples {
            inputs: inputs.len(),
            targets: targets.len(),
        });
    }
    if inputs.is_empty() {
        return Err(TrainError::NoSamples);
    }
    Ok(measure(net, loss, inputs, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<usize> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut a, &mut SplitMix64::new(1));
        shuffle(&mut b, &mut SplitMix64::new(1));
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn debug_is_the_message_and_alternate_debug_the_fields() {
        use alloc::string::ToString;
        use std::format;
        let error = TrainError::Diverged {
            epoch: 3,
            loss: f64::INFINITY,
        };
        assert_eq!(
            format!("{error:?}"),
            "the loss diverged in epoch 3: found inf"
        );
        assert_eq!(
            format!("{error:#?}"),
            "Diverged {\n    epoch: 3,\n    loss: inf,\n}"
        );
        assert_eq!(
            format!("{:?}", TrainError::BatchSize),
            "expected a batch size of at least 1, found 0"
        );
        assert_eq!(format!("{:#?}", TrainError::BatchSize), "BatchSize");
        let split = TrainError::ValidationSplit { split: 1.0 };
        assert_eq!(
            format!("{split:#?}"),
            "ValidationSplit {\n    split: 1.0,\n}"
        );
        let samples = TrainError::Samples {
            inputs: 4,
            targets: 3,
        };
        assert_eq!(format!("{samples:?}"), samples.to_string());
        assert!(format!("{samples:#?}").starts_with("Samples {\n    inputs: 4,"));
        let empty = TrainError::Empty {
            samples: 0,
            validation: 0,
        };
        assert!(format!("{empty:#?}").contains("validation: 0,"));
    }
}
