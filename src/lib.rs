#![doc = include_str!("../README.md")]
#![no_std]

/// Declares a network; see the [crate documentation](crate) for the language.
pub use nn_macros::network;
/// Training: losses, optimizers, the mini-batch trainer and the traits generated code implements.
pub use nn_runtime::train;
pub use nn_runtime::{Activation, Dense, Error, LayerInfo, Network, Scalar, Summary, activation};

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use nn_runtime::*;
}
