//! The int8 layers' sums, `offsets[o] + sum_i x[i] * w[o][i]` over `u8` inputs and `i8`
//! weights, exact in `i32`, chosen once per process for the CPU it runs on.
//!
//! Every level gives the same integers (the sums are exact), so the choice changes speed only.

// `w`, `x`: the notation of `y = w x + b`.
#![allow(clippy::many_single_char_names)]
// The vector kernels' helpers are `#[inline(always)]`, so that they compile for the kernel's
// target features.
#![allow(clippy::inline_always)]

/// An instruction set an int8 kernel can be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuantLevel {
    /// Plain Rust.
    Portable,
}

impl QuantLevel {
    /// Every level, from the most portable.
    pub const ALL: [QuantLevel; 1] = [QuantLevel::Portable];

    /// Whether this CPU (or, without `std`, this build) supports the level.
    pub fn is_supported(self) -> bool {
        self <= level()
    }
}

/// The best level available.
#[inline]
pub fn level() -> QuantLevel {
    QuantLevel::Portable
}

/// `offsets[o] + sum_i x[i] * w[o][i]` for every neuron, at the best level.
#[inline]
pub(crate) fn accumulate<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    x: &[u8; IN],
) -> [i32; OUT] {
    portable(w, offsets, x)
}

/// [`accumulate`] of every input row into the matching row of `sums`.
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

/// [`accumulate`] at `level`, `None` where unsupported.
#[allow(clippy::unnecessary_wraps)] // `None` once a level has vector kernels
pub(crate) fn accumulate_at<const IN: usize, const OUT: usize, const G: usize>(
    level: QuantLevel,
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    x: &[u8; IN],
) -> Option<[i32; OUT]> {
    match level {
        QuantLevel::Portable => Some(portable(w, offsets, x)),
    }
}

/// [`accumulate_batch`] at `level`, `false` (nothing written) where unsupported.
pub(crate) fn accumulate_batch_at<const IN: usize, const OUT: usize, const G: usize>(
    level: QuantLevel,
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) -> bool {
    match level {
        QuantLevel::Portable => {
            for (x, sum) in xs.iter().zip(sums) {
                *sum = portable(w, offsets, x);
            }
            true
        }
    }
}

/// Four inputs of group `g`, zero past `IN`.
#[inline(always)]
pub(crate) fn group<const IN: usize>(x: &[u8; IN], g: usize) -> [u8; 4] {
    core::array::from_fn(|k| x.get(4 * g + k).copied().unwrap_or(0))
}

/// Plain Rust: group by group, neuron by neuron.
fn portable<const IN: usize, const OUT: usize, const G: usize>(
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
