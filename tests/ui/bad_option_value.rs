// A scalar type the runtime does not have.
nn::network! {
    pub struct Net = 784 -> 10 softmax with scalar = f16;
}

fn main() {}
