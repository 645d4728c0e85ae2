//! The two kernels of a dense layer's backward pass.

use crate::tensor::{TensorInfo, Tensors};
use crate::zeroed::ZeroInit;
use crate::{Dense, Scalar};
use core::borrow::Borrow;

/// Gradients of a loss with respect to one [`Dense`] layer's weights and biases, in the same
/// layout, by column: `columns()[i][o]` belongs to the weight from input `i` to neuron `o`.
#[derive(Clone, PartialEq)]
#[repr(C)]
pub struct DenseGradients<const IN: usize, const OUT: usize, T: Scalar = f32> {
    columns: [[T; OUT]; IN],
    bias: [T; OUT],
}

// SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are `0.0`, and
// `DenseGradients` holds nothing but arrays of `T`.
#[allow(unsafe_code)]
unsafe impl<const IN: usize, const OUT: usize, T: Scalar> ZeroInit for DenseGradients<IN, OUT, T> {}

impl<const IN: usize, const OUT: usize, T: Scalar> Default for DenseGradients<IN, OUT, T> {
    fn default() -> Self {
        Self {
            columns: [[T::ZERO; OUT]; IN],
            bias: [T::ZERO; OUT],
        }
    }
}

impl<const IN: usize, const OUT: usize, T: Scalar> DenseGradients<IN, OUT, T> {
    /// The gradient of the weight from input `input` to neuron `neuron`.
    ///
    /// # Panics
    ///
    /// When `neuron >= OUT` or `input >= IN`, like indexing an array.
    pub fn weight(&self, neuron: usize, input: usize) -> T {
        self.columns[input][neuron]
    }

    /// Gradients of the weights by column, like [`Dense::columns`].
    pub fn columns(&self) -> &[[T; OUT]; IN] {
        &self.columns
    }

    /// Gradients of the biases.
    pub fn bias(&self) -> &[T; OUT] {
        &self.bias
    }

    /// Weight gradients as one slice of `IN * OUT` values, by column like [`Dense::parts`], and
    /// bias gradients.
    pub fn parts(&self) -> (&[T], &[T]) {
        (self.columns.as_flattened(), &self.bias)
    }

    /// Weight gradients as one slice of `IN * OUT` values, by column, and bias gradients, for
    /// writing.
    pub fn parts_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.columns.as_flattened_mut(), &mut self.bias)
    }

    /// Sets every gradient to zero.
    pub fn zero(&mut self) {
        self.columns.as_flattened_mut().fill(T::ZERO);
        self.bias.fill(T::ZERO);
    }

    /// Adds one sample's gradients: `columns[i] += input[i] * delta` and `bias += delta`, where
    /// `delta` is the gradient of the loss with respect to the layer's pre-activations.
    #[inline]
    pub fn accumulate(&mut self, input: &[T; IN], delta: &[T; OUT]) {
        self.accumulate_chunk(core::slice::from_ref(input), core::slice::from_ref(delta));
    }

    /// [`DenseGradients::accumulate`] for several samples at once, with the same result to the
    /// bit: each column of gradients is updated by every sample while it is in registers,
    /// instead of the whole matrix once per sample. Uses the kernel chosen for this CPU, like
    /// [`Dense::forward`].
    #[inline]
    pub fn accumulate_chunk<X: Borrow<[T; IN]>>(&mut self, inputs: &[X], deltas: &[[T; OUT]]) {
        let n = inputs.len().min(deltas.len());
        for delta in &deltas[..n] {
            for (bias, &d) in self.bias.iter_mut().zip(delta) {
                *bias += d;
            }
        }
        crate::kernel::accumulate(&mut self.columns, &inputs[..n], &deltas[..n]);
    }
}

/// The tensors of [`Dense`], all of them trained, in the same layouts.
impl<const IN: usize, const OUT: usize, T: Scalar> Tensors for DenseGradients<IN, OUT, T> {
    type Scalar = T;
    const TENSORS: &'static [TensorInfo] = <Dense<IN, OUT, T> as Tensors>::TENSORS;

    fn for_each_tensor<'a>(&'a self, mut f: impl FnMut(&'static TensorInfo, &'a [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two tensors of `Dense`")
        };
        f(weight, self.columns.as_flattened());
        f(bias, &self.bias);
    }

    fn for_each_tensor_mut<'a>(&'a mut self, mut f: impl FnMut(&'static TensorInfo, &'a mut [T])) {
        let [weight, bias] = Self::TENSORS else {
            unreachable!("the two tensors of `Dense`")
        };
        f(weight, self.columns.as_flattened_mut());
        f(bias, &mut self.bias);
    }
}

impl<const IN: usize, const OUT: usize, T: Scalar> core::fmt::Debug for DenseGradients<IN, OUT, T> {
    /// Shapes only, like [`Dense`].
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DenseGradients<{IN}, {OUT}, {}>", T::NAME)
    }
}

/// The gradient of the loss with respect to a layer's input, `W^T delta`, from the gradient
/// `delta` with respect to its pre-activations: one dot product per column.
#[inline]
pub fn backward_input<const IN: usize, const OUT: usize, T: Scalar>(
    layer: &Dense<IN, OUT, T>,
    delta: &[T; OUT],
) -> [T; IN] {
    let mut input = [T::ZERO; IN];
    for (x, column) in input.iter_mut().zip(layer.columns()) {
        *x = if OUT < 32 {
            // A short sum: one chain per input, the inputs' chains side by side; the 16
            // partial sums of `dot` cost more than they save on a short column.
            column
                .iter()
                .zip(delta)
                .fold(T::ZERO, |sum, (&w, &d)| sum + w * d)
        } else {
            crate::dot(column, delta)
        };
    }
    input
}

/// [`Dense::forward`] of one sample as training computes it: the same result to the bit as the
/// sample's row in [`forward_chunk`], whatever the other samples of the chunk. May differ from
/// `Dense::forward` in the last bits (the sums go in another order).
#[inline]
pub fn forward_one<const IN: usize, const OUT: usize, T: Scalar>(
    layer: &Dense<IN, OUT, T>,
    input: &[T; IN],
) -> [T; OUT] {
    let mut output = [[T::ZERO; OUT]];
    forward_chunk(layer, core::slice::from_ref(input), &mut output);
    output[0]
}

/// [`Dense::forward`] for several samples, in the batched kernels (each weight loaded serves
/// several samples), with each sample's sums in the same order whatever the others: the same
/// result to the bit as [`forward_one`] on each sample, so that chunked training gives the same
/// bits as training one sample at a time.
#[inline]
pub fn forward_chunk<const IN: usize, const OUT: usize, T: Scalar, X: Borrow<[T; IN]>>(
    layer: &Dense<IN, OUT, T>,
    inputs: &[X],
    outputs: &mut [[T; OUT]],
) {
    crate::kernel::matmul_stable(layer.columns(), layer.bias(), inputs, outputs);
}

/// [`backward_input`] for several samples at once, with the same result to the bit.
#[inline]
pub fn backward_input_chunk<const IN: usize, const OUT: usize, T: Scalar>(
    layer: &Dense<IN, OUT, T>,
    deltas: &[[T; OUT]],
    input_deltas: &mut [[T; IN]],
) {
    let mut chunk = || {
        for (delta, input_delta) in deltas.iter().zip(input_deltas.iter_mut()) {
            *input_delta = backward_input(layer, delta);
        }
    };
    if IN * OUT <= crate::kernel::SMALL {
        chunk();
    } else {
        // Compiled for the CPU's widest vectors: the same operations, so the same bits.
        crate::kernel::with_widest(chunk);
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // small integers: every result is exact
mod tests {
    use super::*;

    #[test]
    fn accumulate_adds_outer_products() {
        let mut g = DenseGradients::<2, 2, f64>::default();
        g.accumulate(&[1.0, 2.0], &[3.0, 0.0]);
        g.accumulate(&[1.0, -1.0], &[1.0, 2.0]);
        assert_eq!(g.columns(), &[[4.0, 2.0], [5.0, -2.0]]);
        assert_eq!(g.weight(0, 1), 5.0);
        assert_eq!(g.bias(), &[4.0, 2.0]);
        g.zero();
        assert_eq!(g.parts().0, &[0.0; 4]);
    }

    #[test]
    fn chunks_match_one_sample_at_a_time_to_the_bit() {
        let layer =
            Dense::<3, 2, f64>::from_parts([[0.1, -0.7, 0.3], [1.3, 0.0, -2.1]], [0.5, -0.25]);
        let inputs = [[0.3, -1.1, 2.7], [-0.9, 0.4, 0.05], [1e-3, 7.0, -3.3]];
        let deltas = [[0.2, -1.5], [0.0, 0.7], [3.1, 0.01]];
        let mut outputs = [[0.0; 2]; 3];
        forward_chunk(&layer, &inputs, &mut outputs);
        let mut input_deltas = [[9.0; 3]; 3];
        backward_input_chunk(&layer, &deltas, &mut input_deltas);
        let mut chunked = DenseGradients::<3, 2, f64>::default();
        chunked.accumulate_chunk(&inputs.each_ref(), &deltas);
        let mut single = DenseGradients::<3, 2, f64>::default();
        for k in 0..3 {
            let alone = forward_one(&layer, &inputs[k]);
            assert_eq!(outputs[k].map(f64::to_bits), alone.map(f64::to_bits));
            assert_eq!(input_deltas[k], backward_input(&layer, &deltas[k]));
            single.accumulate(&inputs[k], &deltas[k]);
        }
        assert_eq!(chunked, single);
    }

    #[test]
    fn chunks_match_one_sample_at_a_time_on_a_layer_with_dispatched_kernels() {
        // 40 * 30 weights: more than `kernel::ACCUMULATE_SMALL`, so `f32` gradients go through
        // the kernel chosen for this CPU; columns of 30 take `backward_input`'s short sums.
        let mut rng = crate::init::SplitMix64::new(9);
        let mut value = || {
            #[allow(clippy::cast_possible_truncation)]
            let v = rng.uniform(1.0) as f32;
            v
        };
        let layer = Dense::<40, 30, f32>::from_columns(
            core::array::from_fn(|_| core::array::from_fn(|_| value())),
            core::array::from_fn(|_| value()),
        );
        let inputs: [[f32; 40]; 15] = core::array::from_fn(|s| {
            core::array::from_fn(|i| if (s + i) % 4 == 0 { 0.0 } else { value() })
        });
        let deltas: [[f32; 30]; 15] = core::array::from_fn(|_| core::array::from_fn(|_| value()));
        let mut input_deltas = [[0.0; 40]; 15];
        backward_input_chunk(&layer, &deltas, &mut input_deltas);
        let mut chunked = DenseGradients::<40, 30, f32>::default();
        chunked.accumulate_chunk(&inputs.each_ref(), &deltas);
        let mut single = DenseGradients::<40, 30, f32>::default();
        // 15 samples: full register tiles, a pair and one alone, each the same as alone, and
        // within rounding of `Dense::forward`.
        let mut outputs = [[0.0; 30]; 15];
        forward_chunk(&layer, &inputs, &mut outputs);
        for k in 0..15 {
            let alone = forward_one(&layer, &inputs[k]);
            assert_eq!(outputs[k].map(f32::to_bits), alone.map(f32::to_bits));
            for (chunked, alone) in outputs[k].iter().zip(layer.forward(&inputs[k])) {
                assert!((chunked - alone).abs() <= 1e-5, "{chunked} against {alone}");
            }
            let alone = backward_input(&layer, &deltas[k]);
            assert_eq!(input_deltas[k].map(f32::to_bits), alone.map(f32::to_bits));
            single.accumulate(&inputs[k], &deltas[k]);
        }
        let (chunked_bits, single_bits) = (chunked.parts().0, single.parts().0);
        assert!(
            chunked_bits
                .iter()
                .map(|v| v.to_bits())
                .eq(single_bits.iter().map(|v| v.to_bits()))
        );
        // And the sums are the right ones.
        let expected: f64 = (0..15)
            .map(|k| f64::from(inputs[k][7]) * f64::from(deltas[k][3]))
            .sum();
        assert!((f64::from(chunked.weight(3, 7)) - expected).abs() < 1e-5);
    }

    #[test]
    fn backward_input_is_the_transposed_product() {
        let layer =
            Dense::<3, 2, f64>::from_parts([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]], [0.5, -0.5]);
        assert_eq!(backward_input(&layer, &[2.0, 1.0]), [1.0, 4.0, 7.0]);
    }
}
