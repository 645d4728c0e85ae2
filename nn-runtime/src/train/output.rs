//! One marker type per activation, naming a network's output activation in the type system,
//! so that a [`Loss`](super::Loss) can be implemented for only the outputs it fits.

/// The activation of a network's last layer, as a type (see [`Trainable::OutputActivation`]).
///
/// [`Trainable::OutputActivation`]: super::Trainable::OutputActivation
pub trait OutputActivation: 'static {
    /// The activation's name in the network language.
    const NAME: &'static str;
}

macro_rules! markers {
    ($($(#[$doc:meta])* $name:ident = $text:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl OutputActivation for $name {
            const NAME: &'static str = $text;
        }
    )*};
}

markers! {
    /// A `linear` output (no activation).
    Linear = "linear";
    /// A `relu` output.
    Relu = "relu";
    /// A `leaky_relu` output.
    LeakyRelu = "leaky_relu";
    /// An `elu` output.
    Elu = "elu";
    /// A `sigmoid` output.
    Sigmoid = "sigmoid";
    /// A `tanh` output.
    Tanh = "tanh";
    /// A `silu` output.
    Silu = "silu";
    /// A `gelu` output.
    Gelu = "gelu";
    /// A `gelu_tanh` output.
    GeluTanh = "gelu_tanh";
    /// A `softplus` output.
    Softplus = "softplus";
    /// A `softmax` output.
    Softmax = "softmax";
    /// A `log_softmax` output.
    LogSoftmax = "log_softmax";
}
