// ReLU has no parameter.
nn::network! {
    pub struct Net = 784 -> 10 relu(0.1);
}

fn main() {}
