// More than 2^27 weights and biases: the error is on the width that crosses the limit.
nn::network! {
    pub struct Net = 784 -> 65536 relu -> 4096 relu -> 10;
}

fn main() {}
