// Leaky ReLU takes one slope.
nn::network! {
    pub struct Net = 784 -> 10 leaky_relu(1, 2);
}

fn main() {}
