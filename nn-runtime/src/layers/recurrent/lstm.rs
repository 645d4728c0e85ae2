//! The long short-term memory layer, PyTorch's `nn.LSTM`.

// `#[inline(always)]`: compiled inside `kernel::with_widest` (see the module's doc).
#![allow(clippy::inline_always)]

use super::{Cell, LstmLevel, LstmState, Stack, Update, Weight, debug, levels};
use crate::Scalar;
use crate::batch::Aligned;
use crate::kernel;
use crate::tensor::{TensorInfo, Tensors};

/// A long short-term memory layer, as `nn.LSTM(I, H, num_layers = DEEPER + 1, batch_first =
/// True)`: at each step, for each level, the gates `i, f, g, o` (PyTorch's order) are `W_ih x +
/// b_ih + W_hh h + b_hh`, then `c' = σ(f) c + σ(i) tanh(g)` and `h' = σ(o) tanh(c')`; level 0
/// reads the input `x`, each level above the new `h` of the level below.
///
/// Tensors: `weight_ih_l{k}` (`[4H, in]`, `in` = `I` at level 0, else `H`), `weight_hh_l{k}`
/// (`[4H, H]`), `bias_ih_l{k}`, `bias_hh_l{k}` (`[4H]`), level by level; the weights stored by
/// column. The state of a stream is an [`LstmState`].
///
/// ```
/// use nn_runtime::Tensors;
/// use nn_runtime::layers::{Lstm, LstmState};
///
/// // Two levels of 8 units reading one input: PyTorch's `nn.LSTM(1, 8, num_layers=2)`.
/// let mut layer = Lstm::<1, 8, f32, 1>::zeroed();
/// layer.for_each_tensor_mut(|info, values| {
///     // PyTorch's tensors by name; here the input gate's bias of level 0 only.
///     if info.name == "bias_ih_l0" {
///         values.fill(0.5);
///     }
/// });
/// let mut state = LstmState::ZERO;
/// let h = layer.step(&mut state, &[1.0]);
/// let mut outputs = [[0.0; 8]; 100];
/// layer.forward_sequence(&mut state, &[[0.0]; 100], &mut outputs);
/// assert_eq!(state.hidden(1), &outputs[99]);
/// assert!(h.iter().all(|h| h.abs() < 1.0));
/// ```
#[derive(Clone, PartialEq)]
pub struct Lstm<const I: usize, const H: usize, T: Scalar, const DEEPER: usize = 0, W = T> {
    stack: Stack<I, 4, H, T, DEEPER, W>,
}

layer!(
    Lstm,
    gates = 4,
    state = LstmState,
    generics = [],
    label = "Lstm"
);

/// The update of one level from its gates' input projection `x` and recurrent projection `r`:
/// the gates' sums, then each function over a whole gate (`kernel::sigmoid_lanes`, vector
/// kernels), then the states. Returns the activated gates `σ(i), σ(f), tanh(g), σ(o)` and
/// `tanh(c')`, which inference drops and training's backward pass reads (so that training
/// recomputes the forward pass with these very bits).
// Training's (inference runs `update_in_place`).
#[cfg(any(test, all(feature = "train", feature = "alloc")))]
#[inline(always)]
pub(crate) fn update<const H: usize, T: Scalar>(
    x: &Aligned<[[T; H]; 4]>,
    r: &Aligned<[[T; H]; 4]>,
    state: &mut LstmLevel<H, T>,
) -> (Aligned<[[T; H]; 4]>, Aligned<[T; H]>) {
    let mut gates = *x;
    let squashed = update_in_place(&mut gates, r, state);
    (gates, squashed)
}

/// [`update`] computing the gates in place of `x`'s projections (inference's, which need not
/// keep them; a copy of them is a large temporary in a debug build); returns `tanh(c')`.
#[inline(always)]
fn update_in_place<const H: usize, T: Scalar>(
    gates: &mut Aligned<[[T; H]; 4]>,
    r: &Aligned<[[T; H]; 4]>,
    state: &mut LstmLevel<H, T>,
) -> Aligned<[T; H]> {
    for (gate, r) in gates.0.iter_mut().zip(&r.0) {
        for (g, &r) in gate.iter_mut().zip(r) {
            *g += r;
        }
    }
    let [input, forget, cell, output] = &mut gates.0;
    kernel::sigmoid_lanes(input);
    kernel::sigmoid_lanes(forget);
    kernel::tanh_lanes(cell);
    kernel::sigmoid_lanes(output);
    for j in 0..H {
        state.c[j] = forget[j] * state.c[j] + input[j] * cell[j];
    }
    let mut squashed = Aligned(state.c);
    kernel::tanh_lanes(&mut squashed.0);
    // `tanh c'` through memory: kept in registers, the kernels' dispatch arms were joined with
    // shuffles in `forward_sequence`'s loop, which ran slower (`lstm32` `nn-block512` in
    // bench/benches/rtneural.rs).
    core::hint::black_box(&mut squashed);
    // Indexed, as the cell's update: the zipped iterators were compiled to scalar products,
    // whose 4-byte stores the next step's vector loads of `h` cannot forward from.
    #[allow(clippy::needless_range_loop)]
    for j in 0..H {
        state.h[j] = output[j] * squashed.0[j];
    }
    squashed
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, W> Update<4, H, T>
    for Lstm<I, H, T, DEEPER, W>
{
    type Level = LstmLevel<H, T>;

    #[inline(always)]
    fn update(x: &mut Aligned<[[T; H]; 4]>, r: &Aligned<[[T; H]; 4]>, state: &mut LstmLevel<H, T>) {
        // The fused kernel where there is one: `update`'s bits, without its gates' memory.
        if !kernel::lstm_update(&x.0, &r.0, &mut state.c, &mut state.h) {
            let _ = update_in_place(x, r, state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Lstm, LstmLevel, Update, update};
    use crate::batch::Aligned;
    use crate::init::SplitMix64;

    /// A level's update through `Update` (the fused kernel where there is one) gives the bits
    /// of `update` gate by gate, which training's backward pass recomputes.
    fn fused_is_update<const H: usize>() {
        const { assert!(H <= crate::kernel::FUSED_UPDATE) };
        let mut rng = SplitMix64::new(H as u64);
        #[allow(clippy::cast_possible_truncation)]
        let mut draw =
            |scale: f64| -> [f32; H] { core::array::from_fn(|_| rng.uniform(scale) as f32) };
        for scale in [0.5, 4.0, 100.0] {
            let x = Aligned([draw(scale), draw(scale), draw(scale), draw(scale)]);
            let r = Aligned([draw(scale), draw(scale), draw(scale), draw(scale)]);
            let start = LstmLevel {
                h: draw(1.0),
                c: draw(3.0),
            };
            let (mut by_gates, mut fused) = (start, start);
            let _ = update(&x, &r, &mut by_gates);
            <Lstm<1, H, f32> as Update<4, H, f32>>::update(&mut { x }, &r, &mut fused);
            let bits = |v: &[f32; H]| v.map(f32::to_bits);
            assert_eq!(bits(&fused.h), bits(&by_gates.h), "h of {H}, scale {scale}");
            assert_eq!(bits(&fused.c), bits(&by_gates.c), "c of {H}, scale {scale}");
            assert_ne!(bits(&fused.h), bits(&start.h));
        }
    }

    #[test]
    fn the_fused_update_gives_the_bits_of_update() {
        // Widths the fused kernel takes (up to `kernel::FUSED_UPDATE`): a wider level runs
        // `update` itself, so comparing it would compare `update` with itself.
        fused_is_update::<5>();
        fused_is_update::<16>();
        fused_is_update::<32>();
    }
}
