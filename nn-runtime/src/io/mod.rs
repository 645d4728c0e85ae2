//! Weights in and out, and data in other shapes: each format behind its own feature.
//!
//! - `safetensors` (feature `safetensors`): the files PyTorch writes with
//!   `safetensors.torch.save_file(model.state_dict(), path)`, and the same layout back.
//! - `serde` (feature `serde`): the JSON layout
//!   `{"layers": [{"name", "weights": [[...]], "bias": [...]}]}`, or any serde format.
//! - `ndarray` (feature `ndarray`): batches as `ArrayView2`, one sample a row.
//!
//! Every loader builds the network directly on the heap (a zeroed `Box`, then filled) and
//! checks every shape: a bad file is an [`Error`](crate::Error), never a panic.

#[cfg(feature = "ndarray")]
pub mod ndarray;
#[cfg(feature = "safetensors")]
pub mod safetensors;
#[cfg(feature = "serde")]
pub mod serde;

/// Generated file methods take `impl AsRef<Path>`; generated code names it through here.
#[cfg(feature = "std")]
#[doc(hidden)]
pub use std::path::Path;
