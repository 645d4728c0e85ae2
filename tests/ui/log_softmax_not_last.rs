// Log-softmax normalises the outputs, so it can only be on the last layer.
nn::network! {
    pub struct Net = 784 -> 128 relu -> 64 log_softmax -> 10 -> 2;
}

fn main() {}
