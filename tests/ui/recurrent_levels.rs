// PyTorch's `num_layers` as `layers`, at most 8 levels.
nn::network! {
    pub struct Net = 4 -> gru(16, layers = 12) -> 2;
}

fn main() {}
