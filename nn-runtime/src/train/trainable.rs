//! What `network!` generates for training, as traits for generic code.

use super::{Loss, OutputActivation};
use crate::zeroed::ZeroInit;
use crate::{Error, Network, Scalar};
use core::borrow::Borrow;

/// The gradients of every weight and bias of a network: the `NetGradients` struct generated
/// next to each network `Net`, one [`DenseGradients`](super::DenseGradients) per layer.
pub trait Gradients: ZeroInit + 'static {
    /// Element type: `f32` or `f64`.
    type Scalar: Scalar;
    /// Number of layers.
    const LAYERS: usize;

    /// Layer `index`'s weight gradients (by column, `[IN][OUT]`, as the weights of
    /// [`Network::for_each_layer`]) and bias gradients, in the order of
    /// [`Network::for_each_layer`]; `None` past the last layer.
    #[allow(clippy::type_complexity)] // a pair of slices, named by the sentence above
    fn layer(&self, index: usize) -> Option<(&[Self::Scalar], &[Self::Scalar])>;

    /// Calls `f` with each layer's weight and bias gradients, for writing.
    fn for_each_layer_mut(&mut self, f: impl FnMut(&mut [Self::Scalar], &mut [Self::Scalar]));

    /// All gradients zero, built directly on the heap.
    #[cfg(feature = "alloc")]
    fn zeroed() -> alloc::boxed::Box<Self> {
        crate::zeroed::zeroed_box()
    }

    /// Sets every gradient to zero.
    fn zero(&mut self) {
        self.for_each_layer_mut(|weights, bias| {
            weights.fill(Self::Scalar::ZERO);
            bias.fill(Self::Scalar::ZERO);
        });
    }
}

/// What a forward pass with a loss gives: the loss of the sample and the network's output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome<T, O> {
    /// The loss of this sample.
    pub loss: T,
    /// The network's output (after the last activation).
    pub output: O,
}

impl<T, O> Outcome<T, O> {
    /// The outcome of one sample: its loss and the network's output.
    pub const fn new(loss: T, output: O) -> Self {
        Self { loss, output }
    }
}

/// A network that can be trained: implemented by every network `network!` generates.
pub trait Trainable: Network {
    /// One input, `[T; INPUTS]`.
    type Input: Copy + AsRef<[Self::Scalar]> + 'static;
    /// One output or target, `[T; OUTPUTS]`.
    type Output: Copy + AsRef<[Self::Scalar]> + 'static;
    /// The last layer's activation, as a type: it decides which losses fit.
    type OutputActivation: OutputActivation;
    /// The generated gradients struct.
    type Gradients: Gradients<Scalar = Self::Scalar>;

    /// The forward pass.
    fn predict(&self, input: &Self::Input) -> Self::Output;

    /// The forward pass and the loss against `target`.
    fn evaluate<L: Loss<Self::OutputActivation>>(
        &self,
        input: &Self::Input,
        target: &Self::Output,
        loss: &L,
    ) -> Outcome<Self::Scalar, Self::Output>;

    /// The forward pass, then backpropagation: adds `scale` times the gradient of the loss
    /// with respect to every weight and bias to `gradients`. No heap allocation.
    fn accumulate_gradients<L: Loss<Self::OutputActivation>>(
        &self,
        input: &Self::Input,
        target: &Self::Output,
        loss: &L,
        scale: Self::Scalar,
        gradients: &mut Self::Gradients,
    ) -> Outcome<Self::Scalar, Self::Output>;

    /// [`Trainable::accumulate_gradients`] for every sample of a batch, calling `observe` with
    /// each sample's index and outcome; in chunks, layer by layer, for speed, with the same
    /// gradients to the bit. No heap allocation.
    ///
    /// # Errors
    ///
    /// [`Error::Batch`] when `targets` does not have one row per input.
    fn accumulate_batch<X, Y, L, F>(
        &self,
        inputs: &[X],
        targets: &[Y],
        loss: &L,
        scale: Self::Scalar,
        gradients: &mut Self::Gradients,
        observe: F,
    ) -> Result<(), Error>
    where
        X: Borrow<Self::Input>,
        Y: Borrow<Self::Output>,
        L: Loss<Self::OutputActivation>,
        F: FnMut(usize, Outcome<Self::Scalar, Self::Output>);
}
