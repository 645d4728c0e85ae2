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

/// The bytes of the file at `path`.
///
/// # Errors
///
/// [`Error::Io`](crate::Error::Io) when it cannot be read.
#[cfg(all(feature = "std", feature = "safetensors"))]
#[doc(hidden)]
pub fn read(path: &Path) -> Result<alloc::vec::Vec<u8>, crate::Error> {
    std::fs::read(path).map_err(|e| crate::Error::io("read", path, &e))
}

/// Writes `bytes` to the file at `path`.
///
/// # Errors
///
/// [`Error::Io`](crate::Error::Io) when it cannot be written.
#[cfg(all(feature = "std", feature = "safetensors"))]
#[doc(hidden)]
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), crate::Error> {
    std::fs::write(path, bytes).map_err(|e| crate::Error::io("write", path, &e))
}
