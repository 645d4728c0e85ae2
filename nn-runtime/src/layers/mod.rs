//! Layer kinds beyond [`Dense`](crate::Dense), with PyTorch's semantics and defaults, at
//! inference: [`Conv2d`], [`Conv1d`], pools ([`maxpool2d`], [`avgpool2d`], [`maxpool1d`],
//! [`avgpool1d`], [`global_avgpool`], [`global_maxpool`]), [`flatten`], [`BatchNorm`],
//! [`LayerNorm`] and [`dropout`].
//!
//! A sample is a nested array in PyTorch's channel-first order: `[[T; L]; C]` for `[C, L]`,
//! `[[[T; W]; H]; C]` for `[C, H, W]`. Layers with tensors store them inline in PyTorch's order
//! and shape and implement [`Tensors`](crate::Tensors); layers without are functions. Every size
//! is a const parameter; the geometry (stride, padding, dilation, kernel of a pool) is a plain
//! value that generated code passes as literals, so that the compiler folds it, and whose
//! `output_size` is a `const fn` for the code generator. No allocation, no `unsafe` but the
//! [`ZeroInit`](crate::ZeroInit) impls.

mod conv;
mod norm;
mod pool;
mod reshape;
mod shape;
mod window;

pub use conv::{Conv1d, Conv1dGeometry, Conv2d, Conv2dGeometry};
pub use norm::{BatchNorm, DEFAULT_EPS, LayerNorm};
pub use pool::{
    Pool1dGeometry, Pool2dGeometry, avgpool1d, avgpool2d, global_avgpool, global_maxpool,
    maxpool1d, maxpool2d,
};
pub use reshape::{dropout, flatten};
pub use shape::Shaped;

use crate::Scalar;

/// Partial sums of a reduction: independent lanes that LLVM vectorises, and an error that grows
/// with `len / LANES` rather than `len`.
const LANES: usize = 8;

/// The sum of `values`, in [`LANES`] partial sums.
fn sum<T: Scalar>(values: &[T]) -> T {
    let mut lanes = [T::ZERO; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, value) in lanes.iter_mut().zip(chunk) {
            *lane += *value;
        }
    }
    for (lane, value) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane += *value;
    }
    lanes.iter().fold(T::ZERO, |total, lane| total + *lane)
}

/// A count as a float: exact, since counts of a sample's values are far below `2^53`.
#[allow(clippy::cast_precision_loss)]
const fn exact(count: usize) -> f64 {
    count as f64
}
