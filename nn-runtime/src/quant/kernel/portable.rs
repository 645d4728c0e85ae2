//! Plain Rust: group by group, neuron by neuron.

use super::group;

/// `offsets[o] + sum_i x[i] * w[o][i]`, wrapping.
#[inline]
pub(crate) fn accumulate<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    x: &[u8; IN],
) -> [i32; OUT] {
    let mut sums = *offsets;
    for (g, weights) in w.iter().enumerate() {
        let x = group(x, g);
        for (sum, w) in sums.iter_mut().zip(weights) {
            let dot: i32 = (0..4).map(|k| i32::from(x[k]) * i32::from(w[k])).sum();
            *sum = sum.wrapping_add(dot);
        }
    }
    sums
}

/// [`accumulate`] of each row.
#[inline]
pub(crate) fn accumulate_batch<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) {
    for (x, sum) in xs.iter().zip(sums) {
        *sum = accumulate(w, offsets, x);
    }
}
