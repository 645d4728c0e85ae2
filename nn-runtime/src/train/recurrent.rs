//! Backpropagation through time for the recurrent layers: [`LstmGradients`], [`GruGradients`],
//! [`RnnGradients`], and each layer's `backward_sequence` (feature `alloc` as well: a window's
//! activations are kept on the heap, its length being known only at run time).
//!
//! A window is truncated: no gradient flows into the state carried in from before it.

use super::{Gradients, Parameters};
use crate::layers::{Gru, Lstm, Rnn, Stack};
use crate::tensor::{TensorInfo, Tensors};
use crate::zeroed::ZeroInit;
use crate::{Role, Scalar};
#[cfg(feature = "alloc")]
use {
    crate::batch::Aligned,
    crate::layers::{
        HiddenState, LevelState, LstmLevel, LstmState, RecurrentLevel as Cell, gru_update,
        lstm_update, rnn_update,
    },
    alloc::vec::Vec,
};

/// Writes a gradients type: the layer's tensors (names, shapes, storage by column), `ZeroInit`,
/// `Default`, `Tensors`, `Gradients`, `Debug`, and `Parameters` for the layer.
macro_rules! gradients {
    (
        $(#[$doc:meta])*
        $name:ident, $layer:ident, $gates:literal, $text:literal $(, $relu:ident)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq)]
        pub struct $name<
            const I: usize,
            const H: usize,
            T: Scalar,
            const DEEPER: usize = 0,
            $(const $relu: bool = false,)?
        > {
            stack: Stack<I, $gates, H, T, DEEPER>,
        }

        // SAFETY: `T` is `f32` or `f64` (`Scalar` is sealed), for which all-zero bytes are
        // `0.0`, and the struct holds nothing but arrays of `T`.
        #[allow(unsafe_code)]
        unsafe impl<
            const I: usize,
            const H: usize,
            T: Scalar,
            const DEEPER: usize
            $(, const $relu: bool)?
        > ZeroInit for $name<I, H, T, DEEPER $(, $relu)?>
        {
        }

        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $relu: bool)?>
            $name<I, H, T, DEEPER $(, $relu)?>
        {
            /// Sets every gradient to zero.
            pub fn zero(&mut self) {
                Tensors::for_each_tensor_mut(self, |_, values| values.fill(T::ZERO));
            }
        }

        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $relu: bool)?>
            Default for $name<I, H, T, DEEPER $(, $relu)?>
        {
            fn default() -> Self {
                Self { stack: Stack::ZERO }
            }
        }

        /// The layer's tensors, in the same names, shapes and layouts.
        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $relu: bool)?>
            Tensors for $name<I, H, T, DEEPER $(, $relu)?>
        {
            type Scalar = T;
            const TENSORS: &'static [TensorInfo] = Stack::<I, $gates, H, T, DEEPER>::TENSORS;

            fn for_each_tensor<'a>(&'a self, f: impl FnMut(&'static TensorInfo, &'a [T])) {
                self.stack.for_each_tensor(f);
            }

            fn for_each_tensor_mut<'a>(
                &'a mut self,
                f: impl FnMut(&'static TensorInfo, &'a mut [T]),
            ) {
                self.stack.for_each_tensor_mut(f);
            }
        }

        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $relu: bool)?>
            Gradients for $name<I, H, T, DEEPER $(, $relu)?>
        {
            type Scalar = T;

            fn for_each_tensor<'a>(&'a self, f: impl FnMut(&'static TensorInfo, &'a [T])) {
                self.stack.for_each_tensor(f);
            }

            fn for_each_tensor_mut<'a>(
                &'a mut self,
                f: impl FnMut(&'static TensorInfo, &'a mut [T]),
            ) {
                self.stack.for_each_tensor_mut(f);
            }
        }

        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $relu: bool)?>
            core::fmt::Debug for $name<I, H, T, DEEPER $(, $relu)?>
        {
            /// Shapes only, as the layer's.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}<{I}, {H}, {}, {DEEPER}>", $text, T::NAME)
            }
        }

        /// A bare layer and its gradients, for the optimizers.
        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $relu: bool)?>
            Parameters for $layer<I, H, T, DEEPER $(, $relu)?>
        {
            type Scalar = T;
            type Gradients = $name<I, H, T, DEEPER $(, $relu)?>;
            const PARAMETERS: usize = Self::PARAMETERS;

            fn for_each_parameter_mut<'a>(
                &'a mut self,
                mut f: impl FnMut(&'static TensorInfo, &'a mut [T]),
            ) {
                Tensors::for_each_tensor_mut(self, |info, values| {
                    if info.role == Role::Parameter {
                        f(info, values);
                    }
                });
            }
        }
    };
}

gradients!(
    /// Gradients of a loss with respect to an [`Lstm`]'s tensors, stored as the layer stores
    /// them (weights by column, `[in][4][H]`, gates `i, f, g, o`).
    LstmGradients, Lstm, 4, "LstmGradients"
);
gradients!(
    /// Gradients of a loss with respect to a [`Gru`]'s tensors, stored as the layer stores them
    /// (weights by column, `[in][3][H]`, gates `r, z, n`).
    GruGradients, Gru, 3, "GruGradients"
);
gradients!(
    /// Gradients of a loss with respect to an [`Rnn`]'s tensors, stored as the layer stores them
    /// (weights by column, `[in][1][H]`).
    RnnGradients, Rnn, 1, "RnnGradients", RELU
);

/// One level's update at one step through the layer's own update (so with inference's bits),
/// keeping what its backward pass reads.
#[cfg(feature = "alloc")]
trait Update<const G: usize, const H: usize, T: Scalar> {
    /// A level's state: its `h` (and an LSTM's `c`).
    type Level: LevelState<H, T>;
    /// What the backward pass of one step needs, the previous `h` included.
    type Cache: Copy;

    /// The new state from the input projection `x` and the recurrent projection `r`.
    fn forward(
        x: &Aligned<[[T; H]; G]>,
        r: &Aligned<[[T; H]; G]>,
        level: &mut Self::Level,
    ) -> Self::Cache;

    /// The `h` the step read.
    fn previous(cache: &Self::Cache) -> &[T; H];

    /// From `dh`, the gradient with respect to the step's new `h` (and `dc`, an LSTM's with
    /// respect to its new `c`, replaced by the one with respect to the previous `c`): the
    /// gradients with respect to the input projection and the recurrent projection, and the
    /// part of the gradient with respect to the previous `h` that does not go through `W_hh`.
    fn backward(
        cache: &Self::Cache,
        dh: &[T; H],
        dc: &mut [T; H],
    ) -> ([[T; H]; G], [[T; H]; G], [T; H]);
}

/// Reaching each level's state of a stream.
#[cfg(feature = "alloc")]
trait Levels<L> {
    fn level_mut(&mut self, level: usize) -> &mut L;
}

#[cfg(feature = "alloc")]
impl<const H: usize, T: Scalar, const DEEPER: usize> Levels<LstmLevel<H, T>>
    for LstmState<H, T, DEEPER>
{
    fn level_mut(&mut self, level: usize) -> &mut LstmLevel<H, T> {
        LstmState::level_mut(self, level)
    }
}

#[cfg(feature = "alloc")]
impl<const H: usize, T: Scalar, const DEEPER: usize> Levels<[T; H]> for HiddenState<H, T, DEEPER> {
    fn level_mut(&mut self, level: usize) -> &mut [T; H] {
        self.hidden_mut(level)
    }
}

/// PyTorch's LSTM: gates `i, f, g, o`.
#[cfg(feature = "alloc")]
struct LstmUpdate;

#[cfg(feature = "alloc")]
#[derive(Clone, Copy)]
struct LstmCache<const H: usize, T> {
    h: [T; H],
    c: [T; H],
    /// `σ(i), σ(f), tanh(g), σ(o)`.
    gates: [[T; H]; 4],
    /// `tanh(c')`.
    tanh_c: [T; H],
}

#[cfg(feature = "alloc")]
#[allow(clippy::many_single_char_names)] // PyTorch's names
impl<const H: usize, T: Scalar> Update<4, H, T> for LstmUpdate {
    type Level = LstmLevel<H, T>;
    type Cache = LstmCache<H, T>;

    fn forward(
        x: &Aligned<[[T; H]; 4]>,
        r: &Aligned<[[T; H]; 4]>,
        level: &mut LstmLevel<H, T>,
    ) -> Self::Cache {
        let (h, c) = (level.h, level.c);
        let (gates, tanh_c) = lstm_update(x, r, level);
        LstmCache {
            h,
            c,
            gates: gates.0,
            tanh_c: tanh_c.0,
        }
    }

    fn previous(cache: &Self::Cache) -> &[T; H] {
        &cache.h
    }

    fn backward(
        cache: &Self::Cache,
        dh: &[T; H],
        dc: &mut [T; H],
    ) -> ([[T; H]; 4], [[T; H]; 4], [T; H]) {
        let mut d = [[T::ZERO; H]; 4];
        for j in 0..H {
            let [i, f, g, o] = cache.gates.map(|gate| gate[j]);
            let tanh_c = cache.tanh_c[j];
            let dcj = dc[j] + dh[j] * o * (T::ONE - tanh_c * tanh_c);
            dc[j] = dcj * f;
            d[0][j] = dcj * g * i * (T::ONE - i);
            d[1][j] = dcj * cache.c[j] * f * (T::ONE - f);
            d[2][j] = dcj * i * (T::ONE - g * g);
            d[3][j] = dh[j] * tanh_c * o * (T::ONE - o);
        }
        (d, d, [T::ZERO; H])
    }
}

/// PyTorch's GRU: gates `r, z, n`, `n = tanh(W_in x + b_in + r (W_hn h + b_hn))`.
#[cfg(feature = "alloc")]
struct GruUpdate;

#[cfg(feature = "alloc")]
#[derive(Clone, Copy)]
struct GruCache<const H: usize, T> {
    h: [T; H],
    /// `r, z, n`.
    gates: [[T; H]; 3],
    /// `W_hn h + b_hn`.
    hidden_n: [T; H],
}

#[cfg(feature = "alloc")]
impl<const H: usize, T: Scalar> Update<3, H, T> for GruUpdate {
    type Level = [T; H];
    type Cache = GruCache<H, T>;

    fn forward(x: &Aligned<[[T; H]; 3]>, r: &Aligned<[[T; H]; 3]>, h: &mut [T; H]) -> Self::Cache {
        let previous = *h;
        let gates = gru_update(x, r, h);
        GruCache {
            h: previous,
            gates: gates.0,
            hidden_n: r.0[2],
        }
    }

    fn previous(cache: &Self::Cache) -> &[T; H] {
        &cache.h
    }

    fn backward(
        cache: &Self::Cache,
        dh: &[T; H],
        _: &mut [T; H],
    ) -> ([[T; H]; 3], [[T; H]; 3], [T; H]) {
        let (mut dx, mut dr, mut direct) = ([[T::ZERO; H]; 3], [[T::ZERO; H]; 3], [T::ZERO; H]);
        for j in 0..H {
            let [reset, keep, new] = cache.gates.map(|gate| gate[j]);
            let dnew = dh[j] * (T::ONE - keep) * (T::ONE - new * new);
            let dreset = dnew * cache.hidden_n[j] * reset * (T::ONE - reset);
            let dkeep = dh[j] * (cache.h[j] - new) * keep * (T::ONE - keep);
            dx[0][j] = dreset;
            dx[1][j] = dkeep;
            dx[2][j] = dnew;
            dr[0][j] = dreset;
            dr[1][j] = dkeep;
            dr[2][j] = dnew * reset;
            direct[j] = dh[j] * keep;
        }
        (dx, dr, direct)
    }
}

/// PyTorch's RNN, `tanh` or ReLU.
#[cfg(feature = "alloc")]
struct RnnUpdate<const RELU: bool>;

#[cfg(feature = "alloc")]
#[derive(Clone, Copy)]
struct RnnCache<const H: usize, T> {
    h: [T; H],
    new: [T; H],
}

#[cfg(feature = "alloc")]
impl<const H: usize, T: Scalar, const RELU: bool> Update<1, H, T> for RnnUpdate<RELU> {
    type Level = [T; H];
    type Cache = RnnCache<H, T>;

    fn forward(x: &Aligned<[[T; H]; 1]>, r: &Aligned<[[T; H]; 1]>, h: &mut [T; H]) -> Self::Cache {
        let previous = *h;
        rnn_update::<H, T, RELU>(x, r, h);
        RnnCache {
            h: previous,
            new: *h,
        }
    }

    fn previous(cache: &Self::Cache) -> &[T; H] {
        &cache.h
    }

    fn backward(
        cache: &Self::Cache,
        dh: &[T; H],
        _: &mut [T; H],
    ) -> ([[T; H]; 1], [[T; H]; 1], [T; H]) {
        // PyTorch's ReLU passes the gradient where its output is positive.
        let d = [core::array::from_fn(|j| {
            let new = cache.new[j];
            if RELU {
                if new > T::ZERO { dh[j] } else { T::ZERO }
            } else {
                dh[j] * (T::ONE - new * new)
            }
        })];
        (d, d, [T::ZERO; H])
    }
}

/// One level over a window from `level`, pushing each step's cache and writing each new `h`.
#[cfg(feature = "alloc")]
fn level_forward<const IN: usize, const G: usize, const H: usize, T: Scalar, U>(
    cell: &Cell<IN, G, H, T>,
    level: &mut U::Level,
    inputs: &[[T; IN]],
    caches: &mut Vec<U::Cache>,
    outputs: &mut [[T; H]],
) where
    U: Update<G, H, T>,
{
    for (input, output) in inputs.iter().zip(outputs) {
        let (mut x, mut r) = (Aligned([[T::ZERO; H]; G]), Aligned([[T::ZERO; H]; G]));
        cell.projections(input, level.h(), &mut x, &mut r);
        caches.push(U::forward(&x, &r, level));
        *output = *level.h();
    }
}

/// One level's backpropagation through the window, last step first: `dhs[t]` is the gradient
/// with respect to its `h` after step `t` from above (the loss or the level above); adds
/// `scale` times its parameters' gradients to `gradients` and writes the gradient with respect
/// to each step's input into `dxs`.
#[cfg(feature = "alloc")]
#[allow(clippy::similar_names)] // PyTorch's names
fn level_backward<const IN: usize, const G: usize, const H: usize, T: Scalar, U>(
    cell: &Cell<IN, G, H, T>,
    gradients: &mut Cell<IN, G, H, T>,
    inputs: &[[T; IN]],
    caches: &[U::Cache],
    dhs: &[[T; H]],
    dxs: &mut [[T; IN]],
    scale: T,
) where
    U: Update<G, H, T>,
{
    let (weight_ih, weight_hh, _, _) = cell.parts();
    let (grad_ih, grad_hh, grad_bias_ih, grad_bias_hh) = gradients.parts_mut();
    let (mut dh_next, mut dc) = ([T::ZERO; H], [T::ZERO; H]);
    let steps = inputs.iter().zip(caches).zip(dhs).zip(dxs.iter_mut()).rev();
    for (((input, cache), dh), dx) in steps {
        let dh: [T; H] = core::array::from_fn(|j| dh[j] + dh_next[j]);
        let (gx, gh, direct) = U::backward(cache, &dh, &mut dc);
        for (dx, column) in dx.iter_mut().zip(weight_ih) {
            *dx = dot(column, &gx);
        }
        for ((next, &direct), column) in dh_next.iter_mut().zip(&direct).zip(weight_hh) {
            *next = direct + dot(column, &gh);
        }
        let gx = gx.map(|gate| gate.map(|v| v * scale));
        let gh = gh.map(|gate| gate.map(|v| v * scale));
        add(grad_bias_ih, &gx, T::ONE);
        add(grad_bias_hh, &gh, T::ONE);
        for (column, &x) in grad_ih.iter_mut().zip(input) {
            add(column, &gx, x);
        }
        for (column, &h) in grad_hh.iter_mut().zip(U::previous(cache)) {
            add(column, &gh, h);
        }
    }
}

/// `Σ column[g][h] d[g][h]`.
#[cfg(feature = "alloc")]
fn dot<const G: usize, const H: usize, T: Scalar>(column: &[[T; H]; G], d: &[[T; H]; G]) -> T {
    column
        .as_flattened()
        .iter()
        .zip(d.as_flattened())
        .fold(T::ZERO, |sum, (&w, &d)| sum + w * d)
}

/// `sum += x d`.
#[cfg(feature = "alloc")]
fn add<const G: usize, const H: usize, T: Scalar>(sum: &mut [[T; H]; G], d: &[[T; H]; G], x: T) {
    for (s, &d) in sum.as_flattened_mut().iter_mut().zip(d.as_flattened()) {
        *s += x * d;
    }
}

/// Every level forward over the window (level by level, as `forward_sequence` computes them:
/// the same bits), then backward, last level first.
#[cfg(feature = "alloc")]
#[allow(clippy::too_many_arguments)]
fn backward_stack<
    const I: usize,
    const G: usize,
    const H: usize,
    T: Scalar,
    const DEEPER: usize,
    U: Update<G, H, T>,
>(
    stack: &Stack<I, G, H, T, DEEPER>,
    gradients: &mut Stack<I, G, H, T, DEEPER>,
    state: &mut impl Levels<U::Level>,
    inputs: &[[T; I]],
    output_gradients: &[[T; H]],
    scale: T,
    input_gradients: &mut [[T; I]],
) {
    assert!(
        inputs.len() == output_gradients.len() && inputs.len() == input_gradients.len(),
        "backward_sequence: as many inputs, output gradients and input gradients"
    );
    let steps = inputs.len();
    let mut caches = Vec::with_capacity(steps * (DEEPER + 1));
    // Each level's `h` at each step: the inputs of the level above.
    let mut outputs = alloc::vec![[T::ZERO; H]; steps * (DEEPER + 1)];
    level_forward::<I, G, H, T, U>(
        &stack.first,
        state.level_mut(0),
        inputs,
        &mut caches,
        &mut outputs[..steps],
    );
    for (k, cell) in stack.deeper.iter().enumerate() {
        let (below, this) = outputs.split_at_mut((k + 1) * steps);
        level_forward::<H, G, H, T, U>(
            cell,
            state.level_mut(k + 1),
            &below[k * steps..],
            &mut caches,
            this,
        );
    }
    let mut dhs = output_gradients.to_vec();
    let mut dxs = alloc::vec![[T::ZERO; H]; if DEEPER > 0 { steps } else { 0 }];
    for k in (0..DEEPER).rev() {
        let (cell, cell_gradients) = (&stack.deeper[k], &mut gradients.deeper[k]);
        let caches = &caches[(k + 1) * steps..(k + 2) * steps];
        let inputs = &outputs[k * steps..(k + 1) * steps];
        level_backward::<H, G, H, T, U>(
            cell,
            cell_gradients,
            inputs,
            caches,
            &dhs,
            &mut dxs,
            scale,
        );
        core::mem::swap(&mut dhs, &mut dxs);
    }
    level_backward::<I, G, H, T, U>(
        &stack.first,
        &mut gradients.first,
        inputs,
        &caches[..steps],
        &dhs,
        input_gradients,
        scale,
    );
}

/// Writes a layer's `backward_sequence`.
macro_rules! backward_sequence {
    (
        $layer:ident, $gradients:ident, $state:ident, $gates:literal, $update:ty
        $(, $relu:ident)?
    ) => {
        #[cfg(feature = "alloc")]
        impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize $(, const $relu: bool)?>
            $layer<I, H, T, DEEPER $(, $relu)?>
        {
            /// Backpropagation through time over one window from `state`: recomputes the
            /// window's forward pass, leaving `state` at its end (the bits of
            /// `forward_sequence`), then, from `output_gradients[t]`, the gradient of the loss
            /// with respect to the last level's `h` after step `t`, adds `scale` times the
            /// gradient of every tensor to `gradients` and writes the gradient with respect to
            /// each step's input (unscaled) into `input_gradients`. Truncated: no gradient
            /// flows into the state from before the window.
            ///
            /// # Panics
            ///
            /// When `inputs`, `output_gradients` and `input_gradients` have different lengths.
            pub fn backward_sequence(
                &self,
                state: &mut $state<H, T, DEEPER>,
                inputs: &[[T; I]],
                output_gradients: &[[T; H]],
                scale: T,
                gradients: &mut $gradients<I, H, T, DEEPER $(, $relu)?>,
                input_gradients: &mut [[T; I]],
            ) {
                backward_stack::<I, $gates, H, T, DEEPER, $update>(
                    self.stack(),
                    &mut gradients.stack,
                    state,
                    inputs,
                    output_gradients,
                    scale,
                    input_gradients,
                );
            }
        }
    };
}

backward_sequence!(Lstm, LstmGradients, LstmState, 4, LstmUpdate);
backward_sequence!(Gru, GruGradients, HiddenState, 3, GruUpdate);
backward_sequence!(Rnn, RnnGradients, HiddenState, 1, RnnUpdate<RELU>, RELU);
