#![doc = include_str!("../README.md")]
#![no_std]

/// Declares a network; see the [language guide](guide::language).
pub use nn_macros::network;
/// Declares the networks of a `.nn` file (path relative to the crate root); see the
/// [`nnc` guide](guide::nnc).
pub use nn_macros::network_file;
/// Training: losses, optimizers, the mini-batch trainer and the traits generated code implements.
#[cfg(feature = "train")]
pub use nn_runtime::train;
pub use nn_runtime::{
    Activation, Bf16, Dense, Error, F16, HalfConv1d, HalfConv2d, HalfDense, Init, LayerInfo,
    LayerKind, Layout, Network, Role, Scalar, Summary, TensorInfo, Tensors, activation, io, layers,
    quant,
};

/// The guides of `docs/`, one module each, so that every Rust block in them is a doctest.
pub mod guide {
    #[doc = include_str!("../docs/language.md")]
    pub mod language {}
    #[doc = include_str!("../docs/weights.md")]
    pub mod weights {}
    #[doc = include_str!("../docs/training.md")]
    pub mod training {}
    #[doc = include_str!("../docs/sequences.md")]
    pub mod sequences {}
    #[doc = include_str!("../docs/quantization.md")]
    pub mod quantization {}
    #[doc = include_str!("../docs/nnc.md")]
    pub mod nnc {}
    #[doc = include_str!("../docs/onnx.md")]
    pub mod onnx {}
    #[doc = include_str!("../docs/embedded.md")]
    pub mod embedded {}
    #[doc = include_str!("../docs/performance.md")]
    pub mod performance {}
    #[doc = include_str!("../docs/guarantees.md")]
    pub mod guarantees {}
}

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use nn_runtime::*;
}
