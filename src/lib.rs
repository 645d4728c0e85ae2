#![doc = include_str!("../README.md")]
#![no_std]

/// Declares a network; see the [crate documentation](crate) for the language.
pub use nn_macros::network;
/// Declares the networks of a `.nn` file (path relative to the crate root); see the
/// [crate documentation](crate).
pub use nn_macros::network_file;
/// Training: losses, optimizers, the mini-batch trainer and the traits generated code implements.
pub use nn_runtime::train;
pub use nn_runtime::{
    Activation, Dense, Error, LayerInfo, Network, Scalar, Summary, activation, io,
};

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use nn_runtime::*;
}
