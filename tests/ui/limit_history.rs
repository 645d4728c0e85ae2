//! One past the history limit: a causal convolution keeping (18 - 1) * 61681 = 2^20 + 1 steps of
//! one channel.

nn::network! {
    pub struct Net = 1 -> conv1d(1, 18, dilation = 61681, causal) -> 1;
}

fn main() {}
