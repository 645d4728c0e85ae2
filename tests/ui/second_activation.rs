// Two activations on one layer.
nn::network! {
    pub struct Net = 784 -> 10 softmax relu;
}

fn main() {}
