// In a sequence network every layer runs once per time step: a convolution over time steps is
// written `causal`.
nn::network! {
    pub struct Net = 4 -> lstm(16) -> conv1d(8, 3) -> 2;
}

fn main() {}
