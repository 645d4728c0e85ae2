//! Weights baked in at compile time, for a device without an allocator: the `digits`
//! network's trained weights become a `static` in flash, an LSTM effect pedal streams audio,
//! and a batchnorm classifier is fine-tuned on the device (`fine_tune`).
//!
//! `cargo check -p nn-example-no-std` builds this crate on its own, so `nn` has no `std` and
//! no `alloc` feature: the generated code needs neither, training included (`--no-default-features`
//! leaves training out). The weights files are read by the `network!` macro while compiling
//! (relative to this crate's `Cargo.toml`); editing one rebuilds the crate.

#![no_std]

nn::network! {
    /// Classifies 8x8 handwritten digits (pixels scaled to 0..1).
    pub struct Digits = 64 -> 32 relu -> 10 softmax
        with weights = "../data/digits.safetensors";
}

/// The network, initialised at compile time: no allocator, no loading at run time.
pub static NET: Digits = Digits::BAKED;

/// The most likely digit for an 8x8 image.
pub fn classify(pixels: &[f32; 64]) -> usize {
    let probabilities = NET.forward(pixels);
    let mut best = 0;
    for (digit, p) in probabilities.iter().enumerate() {
        if *p > probabilities[best] {
            best = digit;
        }
    }
    best
}

nn::network! {
    /// An effect pedal: a PyTorch LSTM (`self.lstm = nn.LSTM(1, 32)`, `self.head =
    /// nn.Linear(32, 1)`) run on each audio sample, its weights baked in.
    pub struct Pedal = 1 -> lstm(32) as lstm -> 1 as head
        with weights = "../../tests/fixtures/recurrent_amp.safetensors";
}

/// The pedal's weights, in flash; each stream's state is the caller's value (`PedalState`,
/// 256 bytes).
pub static PEDAL: Pedal = Pedal::BAKED;

/// Processes one audio buffer in place, carrying `state` from the previous buffer.
pub fn process(state: &mut PedalState, buffer: &mut [[f32; 1]; 64]) {
    let input = *buffer;
    // The lengths are equal by type: this cannot fail.
    let _ = PEDAL.forward_sequence(state, &input, buffer);
}

nn::network! {
    /// A sensor classifier with batchnorm, trained in PyTorch (`batchnorm.safetensors`: five
    /// readings, three classes), its weights baked in and fine-tuned on the device.
    pub struct Sensor = 5 -> 4 -> batchnorm relu -> 3 softmax
        with weights = "../../tests/fixtures/batchnorm.safetensors";
}

/// One step of fine-tuning on the device, with this crate's `train` feature (on by default):
/// the mean cross-entropy gradients of a batch of readings and their classes (one-hot),
/// batchnorm taking the batch's statistics, then a step of plain gradient descent, and the
/// batch's statistics folded into batchnorm's running ones (PyTorch's training mode). No
/// allocator: `gradients` is the caller's (from `SensorGradients::ZERO`), zeroed here. Returns
/// the batch's mean loss (0 for an empty batch, which changes nothing).
///
/// # Errors
///
/// Without an allocator a batch is at most `Sensor::TRAINING_CHUNK` samples (the stack holds
/// them): a larger one is `Error::BatchTooLarge`, and `net` is left as it was. With `nn`'s
/// `alloc` feature it runs as one chunk on the heap. `Error::Targets` when the lengths differ.
#[cfg(feature = "train")]
pub fn fine_tune(
    net: &mut Sensor,
    gradients: &mut SensorGradients,
    readings: &[[f32; 5]],
    classes: &[[f32; 3]],
    learning_rate: f32,
) -> Result<f32, nn::Error> {
    gradients.zero();
    #[allow(clippy::cast_precision_loss)] // a batch's length
    let scale = 1.0 / readings.len().max(1) as f32;
    let mut loss = 0.0;
    net.accumulate_batch(
        readings,
        classes,
        &nn::train::CrossEntropy,
        scale,
        gradients,
        |_, outcome| loss += outcome.loss,
    )?;
    nn::train::sgd_step(net, gradients, learning_rate);
    nn::train::Trainable::update_buffers(net, gradients);
    Ok(loss * scale)
}
