//! Weights baked in at compile time, for a device without an allocator: the `digits`
//! network's trained weights become a `static` in flash.
//!
//! `cargo check -p nn-example-no-std` builds this crate on its own, so `nn` has no `std` and
//! no `alloc` feature: the generated code needs neither. The weights file is read by the
//! `network!` macro while compiling (relative to this crate's `Cargo.toml`); editing it
//! rebuilds the crate.

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
    /// A sensor classifier with batchnorm. With `nn/train` it trains on the device: without an
    /// allocator, a batch is at most `Sensor::TRAINING_CHUNK` samples (the stack holds them),
    /// and a larger one is `Error::BatchTooLarge`.
    pub struct Sensor = 6 -> 16 -> batchnorm relu -> 3 softmax;
}
