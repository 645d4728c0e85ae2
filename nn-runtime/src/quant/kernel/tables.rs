//! A convolution's weights in the direct kernels' own layouts, built once for many calls.
//!
//! Each call of [`super::direct`]'s rows grouping and of [`super::channel_lanes`] rebuilds its
//! layout of the weights from the packed ones (the dense layer's `[groups][OUT][4]`): 5 to 10
//! percent of each of LeNet's convolutions. A batch runs the same layers on every sample, so
//! `QuantizedConv2d::prepare` builds them once into [`Tables`], and the kernels read them
//! from there (`lenet` in bench/benches/quant_conv.rs). The tables hold the same bytes the
//! kernels would build, so the steps are the same.

#[cfg(target_arch = "x86_64")]
pub(crate) use avx512::{Tables, Vector};

/// Off x86_64 there are no direct kernels, so nothing to build. (The 256-bit kernels build
/// their layouts per call.)
#[cfg(not(target_arch = "x86_64"))]
#[derive(Clone)]
pub(crate) struct Tables<const OUT: usize, const G: usize>;

#[cfg(not(target_arch = "x86_64"))]
impl<const OUT: usize, const G: usize> Tables<OUT, G> {
    /// No tables.
    pub(crate) fn new(_: &[[[i8; 4]; OUT]; G], _: usize, _: [usize; 2]) -> Self {
        Self
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::super::direct::{self, RowGroups, Shape};

    /// Words of the rows grouping's weights the tables hold (8 KiB): the kernel's own bound.
    const ROW_WORDS: usize = 2048;
    /// The channel-lanes kernel's groups the tables hold, every block of 16 output channels'
    /// (8 KiB).
    const LANE_GROUPS: usize = 128;

    /// 64 bytes, aligned as a 512-bit vector.
    #[derive(Clone, Copy)]
    #[repr(C, align(64))]
    pub(crate) struct Vector(pub(crate) [u8; 64]);

    /// The weights of a convolution of `OUT` output channels and `G` groups of four taps in
    /// the direct kernels' layouts, where they apply to its shape and fit.
    #[derive(Clone)]
    pub(crate) struct Tables<const OUT: usize, const G: usize> {
        /// The rows grouping's words, `[G][OUT]` flattened (`direct::row_words`), for every
        /// output channel, where `rows`.
        row_words: [i32; ROW_WORDS],
        rows: bool,
        /// The channel-lanes kernel's groups of each block of 16 output channels from
        /// channel 0, block after block, `lane_groups` each; none where 0.
        lanes: [Vector; LANE_GROUPS],
        lane_groups: usize,
    }

    impl<const OUT: usize, const G: usize> Tables<OUT, G> {
        /// The tables of a layer of `channels` input channels (per group) and a kernel of
        /// `kernel`, from its packed `weights`: those of the kernels this CPU runs.
        pub(crate) fn new(
            weights: &[[[i8; 4]; OUT]; G],
            channels: usize,
            kernel: [usize; 2],
        ) -> Self {
            let mut tables = Self {
                row_words: [0; ROW_WORDS],
                rows: false,
                lanes: [Vector([0; 64]); LANE_GROUPS],
                lane_groups: 0,
            };
            if !direct::avx512_available(G) {
                return tables;
            }
            // Only the channels and the kernel matter to the weights' layouts.
            let shape = Shape {
                channels,
                padded: kernel,
                kernel,
                output: [1, 1],
                outputs: [0, OUT],
                pooled: false,
            };
            if RowGroups::of(channels, kernel).groups == G && G * OUT <= ROW_WORDS {
                let (words, _) = tables.row_words[..G * OUT].as_chunks_mut::<OUT>();
                if let Ok(words) = <&mut [[i32; OUT]; G]>::try_from(words) {
                    direct::row_words(weights, &shape, [0, OUT], words);
                    tables.rows = true;
                }
            }
            tables.lane_groups =
                super::super::channel_lanes::prepare(weights, &shape, &mut tables.lanes);
            tables
        }

        /// The rows grouping's words, if built.
        pub(crate) fn rows(&self) -> Option<&[[i32; OUT]; G]> {
            if !self.rows {
                return None;
            }
            let (words, _) = self.row_words[..G * OUT].as_chunks::<OUT>();
            words.try_into().ok()
        }

        /// The channel-lanes kernel's groups for a call computing output channels `outputs`,
        /// if built for them: every block of 16 from channel 0 (a layer without groups).
        pub(crate) fn lanes(&self, outputs: [usize; 2]) -> Option<&[Vector]> {
            let blocks = OUT.div_ceil(16);
            (self.lane_groups > 0 && outputs == [0, OUT])
                .then(|| &self.lanes[..blocks * self.lane_groups])
        }
    }
}
