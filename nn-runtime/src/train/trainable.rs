//! What `network!` generates for training, as traits for generic code.

use super::{Loss, OutputActivation};
use crate::zeroed::ZeroInit;
use crate::{Error, Network, Role, Scalar, TensorInfo};
use core::borrow::Borrow;

/// The gradients of every trained tensor of a network (and, with dropout, where its masks come
/// from): the `NetGradients` struct generated
/// next to each network `Net`, one gradients field per layer with tensors
/// ([`DenseGradients`](super::DenseGradients), [`Conv2dGradients`](super::Conv2dGradients), ...).
///
/// Its tensors are the network's [`Role::Parameter`](crate::Role::Parameter) tensors, in the
/// order of [`Network::for_each_tensor`], with the same shapes and layouts: the `k`-th tensor
/// visited here is the gradient of the `k`-th trained tensor visited there.
pub trait Gradients: ZeroInit + 'static {
    /// Element type: `f32` or `f64`.
    type Scalar: Scalar;

    /// Calls `f` with each tensor's description and gradients, in storage order.
    fn for_each_tensor<'a>(&'a self, f: impl FnMut(&'static TensorInfo, &'a [Self::Scalar]));

    /// [`Gradients::for_each_tensor`], for writing.
    fn for_each_tensor_mut<'a>(
        &'a mut self,
        f: impl FnMut(&'static TensorInfo, &'a mut [Self::Scalar]),
    );

    /// All gradients zero, built directly on the heap.
    #[cfg(feature = "alloc")]
    fn zeroed() -> alloc::boxed::Box<Self> {
        crate::zeroed::zeroed_box()
    }

    /// Sets every gradient to zero. A generated struct of a network with batchnorm overrides it
    /// to forget the batches' running statistics as well (see [`Trainable::update_buffers`]),
    /// and one with a layer declared without bias (or affine) to clear the gradients of the
    /// tensors that the visits leave out.
    fn zero(&mut self) {
        self.for_each_tensor_mut(|_, values| values.fill(Self::Scalar::ZERO));
    }

    /// Where the network's dropout layers draw their masks in training, `None` for a network
    /// without dropout.
    fn dropout_masks(&mut self) -> Option<&mut super::Masks> {
        None
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
    /// One input: `[T; INPUTS]`, or a nested array for a shaped input (`[[[T; W]; H]; C]`).
    type Input: crate::layers::Shaped<Scalar = Self::Scalar>;
    /// One output or target, `[T; OUTPUTS]` (a network trains only when its output is a
    /// vector, which is what the losses read).
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
    /// gradients to the bit (but with batchnorm, which normalises with the batch's statistics:
    /// the batch is then one chunk). No heap allocation, but for a batch of a network with
    /// batchnorm larger than a chunk, whose values are then on the heap.
    ///
    /// # Errors
    ///
    /// [`Error::Targets`] when `targets` does not have one row per input;
    /// [`Error::BatchTooLarge`] without the `alloc` feature, when the network has batchnorm
    /// and the batch does not fit in one chunk.
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

    /// Folds what training moved besides the parameters into the network's buffers: the
    /// running statistics of each batchnorm layer, from the batches accumulated into
    /// `gradients` since its last `zero` (nothing for a network without batchnorm). Call it
    /// once per step, after the optimizer's `step` and before `gradients.zero()`, as
    /// [`Trainer`](super::Trainer) does.
    fn update_buffers(&mut self, gradients: &Self::Gradients) {
        let _ = gradients;
    }
}

/// What an optimizer updates: trained tensors, and the type of their gradients. Every
/// [`Trainable`] network is (the tensors of [`Role::Parameter`], in the order of
/// [`Network::for_each_tensor`]), and so is each recurrent layer, with its gradients type
/// ([`LstmGradients`](super::LstmGradients), ...).
pub trait Parameters {
    /// Element type: `f32` or `f64`.
    type Scalar: Scalar;
    /// The gradients of the trained tensors, visited in the same order.
    type Gradients: Gradients<Scalar = Self::Scalar>;
    /// Values of the trained tensors.
    const PARAMETERS: usize;

    /// Calls `f` with each trained tensor's description and values, in storage order.
    fn for_each_parameter_mut<'a>(
        &'a mut self,
        f: impl FnMut(&'static TensorInfo, &'a mut [Self::Scalar]),
    );
}

impl<N: Trainable> Parameters for N {
    type Scalar = <N as Network>::Scalar;
    type Gradients = <N as Trainable>::Gradients;
    const PARAMETERS: usize = <N as Network>::PARAMETERS;

    fn for_each_parameter_mut<'a>(
        &'a mut self,
        mut f: impl FnMut(&'static TensorInfo, &'a mut [Self::Scalar]),
    ) {
        self.for_each_tensor_mut(|_, info, values| {
            if info.role == Role::Parameter {
                f(info, values);
            }
        });
    }
}
