//! Layer kinds beyond [`Dense`](crate::Dense), with PyTorch's semantics and defaults, at
//! inference: [`Conv2d`], [`Conv1d`], pools ([`maxpool2d`], [`avgpool2d`], [`maxpool1d`],
//! [`avgpool1d`], [`global_avgpool`], [`global_maxpool`]), [`flatten`], [`BatchNorm`],
//! [`LayerNorm`], [`dropout`], and the recurrent [`Lstm`], [`Gru`] and [`Rnn`] (each stream's
//! state a separate [`LstmState`] or [`HiddenState`]).
//!
//! A sample is a nested array in PyTorch's channel-first order: `[[T; L]; C]` for `[C, L]`,
//! `[[[T; W]; H]; C]` for `[C, H, W]`. Layers with tensors store them inline in PyTorch's order
//! and shape and implement [`Tensors`](crate::Tensors); layers without are functions. Every size
//! is a const parameter; the geometry (stride, padding, dilation, kernel of a pool) is a plain
//! value that generated code passes as literals, so that the compiler folds it, and whose
//! `output_size` is a `const fn` for the code generator. No allocation, no `unsafe` but the
//! [`ZeroInit`](crate::ZeroInit) impls.
//!
//! ```
//! use nn_runtime::layers::{Conv2d, Conv2dGeometry, Pool2dGeometry, flatten, maxpool2d};
//!
//! // Two 3x3 kernels, inline: a network of them can be a `static`.
//! static CONV: Conv2d<2, 1, 3, 3> = Conv2d::from_parts(
//!     [
//!         [[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]], // identity
//!         [[[1.0; 3]; 3]],                                       // sum of the window
//!     ],
//!     [0.0, 0.5],
//! );
//! const SAME: Conv2dGeometry = Conv2dGeometry { padding: [1, 1], ..Conv2dGeometry::DEFAULT };
//! // What a code generator computes at compile time (and rejects when `None`).
//! const SIZE: [usize; 2] = match SAME.output_size([6, 6], [3, 3]) {
//!     Some(size) => size,
//!     None => panic!("the kernel does not fit"),
//! };
//!
//! let image = [[[1.0f32; 6]; 6]]; // [C, H, W] = [1, 6, 6]
//! let features: [[[f32; SIZE[1]]; SIZE[0]]; 2] = CONV.forward(&image, SAME);
//! let pooled: [[[f32; 3]; 3]; 2] = maxpool2d(&features, Pool2dGeometry::new([2, 2]));
//! let flat: [f32; 18] = flatten(&pooled); // torch.flatten(x, 1)'s order
//! assert_eq!(flat[0], 1.0);
//! assert_eq!(flat[9], 9.5); // channel 1, window [0..2, 0..2]: at [1, 1], 9 ones + 0.5
//! ```

mod causal;
mod conv;
mod norm;
mod pool;
mod recurrent;
mod reshape;
mod shape;
mod window;

pub use causal::ConvHistory;
pub use conv::{Conv1d, Conv1dGeometry, Conv2d, Conv2dGeometry};
#[cfg(feature = "train")]
pub(crate) use norm::standardise;
pub use norm::{BatchNorm, DEFAULT_EPS, LayerNorm};
pub use pool::{
    Pool1dGeometry, Pool2dGeometry, avgpool1d, avgpool2d, global_avgpool, global_maxpool,
    maxpool1d, maxpool2d,
};
#[cfg(feature = "train")]
pub(crate) use recurrent::Stack;
pub use recurrent::{
    Cell as RecurrentLevel, Gru, HiddenState, Lstm, LstmState, MAX_LEVELS, Recurrent, Rnn, Weight,
};
#[cfg(all(feature = "train", feature = "alloc"))]
pub(crate) use recurrent::{LevelState, LstmLevel, gru_update, lstm_update, rnn_update};
pub use reshape::{dropout, flatten};
pub use shape::Shaped;
// The window arithmetic, for the backward passes in `train`.
#[cfg(feature = "train")]
pub(crate) use window::Axis;

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
pub(crate) const fn exact(count: usize) -> f64 {
    count as f64
}
