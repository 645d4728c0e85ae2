//! The gated recurrent unit layer, PyTorch's `nn.GRU`.

// `#[inline(always)]`: compiled inside `kernel::with_widest` (see the module's doc).
#![allow(clippy::inline_always)]

use super::{Cell, HiddenState, Stack, Update, Weight, debug, levels};
use crate::Scalar;
use crate::batch::Aligned;
use crate::kernel;
use crate::tensor::{TensorInfo, Tensors};

/// A gated recurrent unit layer, as `nn.GRU(I, H, num_layers = DEEPER + 1, batch_first =
/// True)`: at each step, for each level, with the gates `r, z, n` in PyTorch's order, `r =
/// σ(W_ir x + b_ir + W_hr h + b_hr)`, `z` alike, `n = tanh(W_in x + b_in + r (W_hn h + b_hn))`
/// and `h' = (1 - z) n + z h` (computed as `n + z (h - n)`, as PyTorch's CPU kernel); level 0
/// reads the input `x`, each level above the new `h` of the level below.
///
/// Tensors: `weight_ih_l{k}` (`[3H, in]`, `in` = `I` at level 0, else `H`), `weight_hh_l{k}`
/// (`[3H, H]`), `bias_ih_l{k}`, `bias_hh_l{k}` (`[3H]`), level by level; the weights stored by
/// column. The state of a stream is a [`HiddenState`].
#[derive(Clone, PartialEq)]
pub struct Gru<const I: usize, const H: usize, T: Scalar, const DEEPER: usize = 0, W = T> {
    stack: Stack<I, 3, H, T, DEEPER, W>,
}

layer!(
    Gru,
    gates = 3,
    state = HiddenState,
    generics = [],
    label = "Gru"
);

/// The update of one level from its gates' input projection `x` and recurrent projection `r`,
/// each function over a whole gate (`kernel::sigmoid_lanes`, vector kernels). Returns the
/// activated gates `r, z, n`, which inference drops and training's backward pass reads.
// Training's (inference runs `update_in_place`).
#[cfg(any(test, all(feature = "train", feature = "alloc")))]
#[inline(always)]
pub(crate) fn update<const H: usize, T: Scalar>(
    x: &Aligned<[[T; H]; 3]>,
    r: &Aligned<[[T; H]; 3]>,
    h: &mut [T; H],
) -> Aligned<[[T; H]; 3]> {
    let mut gates = *x;
    update_in_place(&mut gates, r, h);
    gates
}

/// [`update`] computing the gates in place of `x`'s projections (inference's, which need not
/// keep them; a copy of them is a large temporary in a debug build).
#[inline(always)]
fn update_in_place<const H: usize, T: Scalar>(
    gates: &mut Aligned<[[T; H]; 3]>,
    r: &Aligned<[[T; H]; 3]>,
    h: &mut [T; H],
) {
    let r = &r.0;
    // On entry `x`'s projections, each replaced by its gate.
    let [reset, keep, new] = &mut gates.0;
    for j in 0..H {
        reset[j] += r[0][j];
        keep[j] += r[1][j];
    }
    kernel::sigmoid_lanes(reset);
    kernel::sigmoid_lanes(keep);
    for j in 0..H {
        new[j] += reset[j] * r[2][j];
    }
    kernel::tanh_lanes(new);
    for j in 0..H {
        h[j] = new[j] + keep[j] * (h[j] - new[j]);
    }
}

impl<const I: usize, const H: usize, T: Scalar, const DEEPER: usize, W> Update<3, H, T>
    for Gru<I, H, T, DEEPER, W>
{
    type Level = [T; H];

    #[inline(always)]
    fn update(x: &mut Aligned<[[T; H]; 3]>, r: &Aligned<[[T; H]; 3]>, state: &mut [T; H]) {
        // The fused kernel where there is one: `update`'s bits, without its gates' memory.
        if !kernel::gru_update(&x.0, &r.0, state) {
            update_in_place(x, r, state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Gru, Update, update};
    use crate::batch::Aligned;
    use crate::init::SplitMix64;

    /// A level's update through `Update` (the fused kernel where there is one) gives the bits
    /// of `update` gate by gate, which training's backward pass recomputes.
    fn fused_is_update<const H: usize>() {
        const { assert!(H <= crate::kernel::FUSED_UPDATE) };
        let mut rng = SplitMix64::new(100 + H as u64);
        #[allow(clippy::cast_possible_truncation)]
        let mut draw =
            |scale: f64| -> [f32; H] { core::array::from_fn(|_| rng.uniform(scale) as f32) };
        for scale in [0.5, 4.0, 100.0] {
            let x = Aligned([draw(scale), draw(scale), draw(scale)]);
            let r = Aligned([draw(scale), draw(scale), draw(scale)]);
            let start = draw(1.0);
            let (mut by_gates, mut fused) = (start, start);
            let _ = update(&x, &r, &mut by_gates);
            <Gru<1, H, f32> as Update<3, H, f32>>::update(&mut { x }, &r, &mut fused);
            let bits = |v: &[f32; H]| v.map(f32::to_bits);
            assert_eq!(bits(&fused), bits(&by_gates), "h of {H}, scale {scale}");
            assert_ne!(bits(&fused), bits(&start));
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
