// Softmax normalises the outputs, so it can only be on the last layer.
nn::network! {
    pub struct Net = 784 -> 128 softmax -> 10;
}

fn main() {}
