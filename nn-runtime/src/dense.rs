//! The fully connected layer and its kernels.

use crate::Scalar;
use crate::kernel::{self, Level};
use crate::tensor::{Init, Layout, Role, TensorInfo, Tensors};
use crate::zeroed::ZeroInit;

/// Fully connected layer: `OUT` neurons, each reading `IN` inputs.
///
/// The weight matrix `W` (`OUT` rows, one per neuron, as in PyTorch's `Linear.weight`) is
/// stored by columns, `[IN][OUT]`: column `i` holds the weights from input `i` to every neuron,
/// the layout of a Keras `Dense` kernel. The forward pass then adds `x[i]` times a whole
/// column to the outputs, lanes side by side, which needs no horizontal sums. Columns rather
/// than rows: `small_b1` in bench/benches/forward.rs (its `50 -> 64` layer). Build a layer from
/// PyTorch-ordered rows with [`Dense::from_parts`], read one weight with [`Dense::weight`]; the
/// loaders and savers convert to and from `[OUT][IN]` files.
///
/// The layer is aligned to 64 bytes, a cache line: then every column of a layer whose output
/// width is a multiple of 16 starts a line, and no vector load of its weights straddles two.
#[derive(Clone, PartialEq)]
#[repr(C, align(64))]
pub struct Dense<const IN: usize, const OUT: usize, T: Scalar = f32> {
    columns: [[T; OUT]; IN],
    bias: [T; OUT],
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `Dense` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<const IN: usize, const OUT: usize, T: Scalar> ZeroInit for Dense<IN, OUT, T> {}

impl<const IN: usize, const OUT: usize, T: Scalar> Dense<IN, OUT, T> {
    const NOT_EMPTY: () = assert!(IN > 0 && OUT > 0, "a Dense layer needs inputs and outputs");

    /// Number of inputs of each neuron.
    pub const INPUTS: usize = IN;
    /// Number of neurons.
    pub const OUTPUTS: usize = OUT;
    /// Weights plus biases.
    pub const PARAMETERS: usize = IN * OUT + OUT;

    /// A layer from its weights in PyTorch's layout, `[OUT][IN]` (row `o` = the weights of
    /// neuron `o`), and biases.
    ///
    /// `const`, so that weights known at compile time can make a `static` network. It transposes
    /// the rows into columns, which compile-time evaluation does slowly, one weight at a time;
    /// [`Dense::from_columns`] takes them already transposed.
    pub const fn from_parts(rows: [[T; IN]; OUT], bias: [T; OUT]) -> Self {
        let () = Self::NOT_EMPTY;
        let mut columns = [[T::ZERO; OUT]; IN];
        let mut o = 0;
        while o < OUT {
            let mut i = 0;
            while i < IN {
                columns[i][o] = rows[o][i];
                i += 1;
            }
            o += 1;
        }
        Self { columns, bias }
    }

    /// A layer from the columns of its weight matrix, `[IN][OUT]` (`columns[i][o]` is the weight
    /// from input `i` to neuron `o`), and biases.
    pub const fn from_columns(columns: [[T; OUT]; IN], bias: [T; OUT]) -> Self {
        let () = Self::NOT_EMPTY;
        Self { columns, bias }
    }

    /// The weight from input `input` to neuron `neuron`: `W[neuron][input]` in PyTorch's terms.
    ///
    /// # Panics
    ///
    /// When `neuron >= OUT` or `input >= IN`, like indexing an array.
    pub fn weight(&self, neuron: usize, input: usize) -> T {
        self.columns[input][neuron]
    }

    /// Weights by column: `columns()[i][o]` is the weight from input `i` to neuron `o`.
    pub fn columns(&self) -> &[[T; OUT]; IN] {
        &self.columns
    }

    /// Weights by column, for writing: `columns_mut()[i][o]` is the weight from input `i` to
    /// neuron `o`.
    pub fn columns_mut(&mut self) -> &mut [[T; OUT]; IN] {
        &mut self.columns
    }

    /// One bias per neuron.
    pub fn bias(&self) -> &[T; OUT] {
        &self.bias
    }

    /// One bias per neuron, for writing.
    pub fn bias_mut(&mut self) -> &mut [T; OUT] {
        &mut self.bias
    }

    /// Weights as one slice of `IN * OUT` values, by column (the weight from input `i` to
    /// neuron `o` at `i * OUT + o`; [`TensorInfo::storage_index`] maps PyTorch's order to it),
    /// and biases.
    pub fn parts(&self) -> (&[T], &[T]) {
        (self.columns.as_flattened(), &self.bias)
    }

    /// Weights as one slice of `IN * OUT` values, by column, and biases, for writing.
    pub fn parts_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.columns.as_flattened_mut(), &mut self.bias)
    }

    /// Computes `W x + bias`, without activation.
    ///
    /// Uses the fastest kernel this CPU supports (AVX-512, AVX2+FMA or portable, detected once
    /// per process with `std`); layers of at most [`kernel::SMALL`] weights use the portable
    /// kernel inlined, since a call would cost more than their arithmetic.
    #[inline]
    pub fn forward(&self, x: &[T; IN]) -> [T; OUT] {
        let () = Self::NOT_EMPTY;
        kernel::matvec(&self.columns, &self.bias, x)
    }

    /// Computes `W x + bias` for each input row into the matching output row.
    ///
    /// Each weight loaded from memory is used for several inputs at once, so large batches run
    /// near the CPU's multiply-add peak rather than its memory bandwidth.
    ///
    /// # Panics
    ///
    /// When `outputs` does not have one row per input (generated `forward_batch` methods
    /// return `Error::Batch` for it instead).
    #[inline]
    pub fn forward_batch(&self, inputs: &[[T; IN]], outputs: &mut [[T; OUT]]) {
        let () = Self::NOT_EMPTY;
        assert_eq!(inputs.len(), outputs.len(), "one output row per input row");
        kernel::matmul(&self.columns, &self.bias, inputs, outputs);
    }

    /// [`Dense::forward`] with the kernel of `level`, or `None` if this CPU lacks it. For
    /// tests and benchmarks that compare the kernels.
    #[doc(hidden)]
    pub fn forward_at(&self, level: Level, x: &[T; IN]) -> Option<[T; OUT]> {
        level
            .is_supported()
            .then(|| T::matvec(level, &self.columns, &self.bias, x))
    }

    /// [`Dense::forward_batch`] with the kernel of `level`; `false` (and nothing written) if
    /// this CPU lacks it. For tests and benchmarks that compare the kernels.
    #[doc(hidden)]
    pub fn forward_batch_at(
        &self,
        level: Level,
        inputs: &[[T; IN]],
        outputs: &mut [[T; OUT]],
    ) -> bool {
        let supported = level.is_supported();
        if supported {
            T::matmul(level, &self.columns, &self.bias, inputs, outputs);
        }
        supported
    }
}

/// `weight`, PyTorch's `[OUT, IN]` stored by column ([`Layout::Transposed`]), drawn by
/// [`Init::Uniform`]; `bias`, `[OUT]`, zero.
impl<const IN: usize, const OUT: usize, T: Scalar> Tensors for Dense<IN, OUT, T> {
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "weight",
            shape: &[OUT, IN],
            role: Role::Parameter,
            layout: Layout::Transposed,
            init: Init::Uniform,
        },
        TensorInfo {
            name: "bias",
            shape: &[OUT],
            role: Role::Parameter,
            layout: Layout::Contiguous,
            init: Init::Zeros,
        },
    ];

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("two tensors, above")
        };
        f(weight, self.columns.as_flattened());
        f(bias, &self.bias);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("two tensors, above")
        };
        f(weight, self.columns.as_flattened_mut());
        f(bias, &mut self.bias);
    }
}

impl<const IN: usize, const OUT: usize, T: Scalar> core::fmt::Debug for Dense<IN, OUT, T> {
    /// Shapes only: printing every weight of a real layer helps nobody.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Dense<{IN}, {OUT}, {}>", T::NAME)
    }
}

#[cfg(test)]
// The values compared are exact in binary floating point.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::dot;

    #[test]
    fn dot_ignores_the_pairs_beyond_the_shorter_slice() {
        let a: [f64; 20] = core::array::from_fn(|i| i as f64);
        let b = [1.0; 4];
        // a[0..4] . b = 0 + 1 + 2 + 3, whichever slice is the longer.
        assert_eq!(dot(&a, &b), 6.0);
        assert_eq!(dot(&b, &a), 6.0);
    }

    #[test]
    fn dot_matches_a_sequential_sum_on_exact_values() {
        // Small integers are exact in f32, so every summation order agrees.
        let a: [f32; 37] = core::array::from_fn(|i| i as f32);
        let b: [f32; 37] = core::array::from_fn(|i| (i % 5) as f32 - 2.0);
        let expected: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), expected);
    }

    #[test]
    fn forward_adds_bias_to_each_row() {
        let layer =
            Dense::<3, 2, f64>::from_parts([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]], [0.5, -0.5]);
        assert_eq!(layer.forward(&[1.0, 1.0, 2.0]), [9.5, 0.5]);
        assert_eq!(layer.parts().0, &[1.0, -1.0, 2.0, 0.0, 3.0, 1.0]);
        assert_eq!(layer.weight(1, 2), 1.0);
        let same = Dense::from_columns(*layer.columns(), *layer.bias());
        assert!(same == layer);
    }
}
