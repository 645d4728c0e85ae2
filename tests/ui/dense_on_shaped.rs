// A dense layer reads a vector: a shaped output needs `flatten` first.
nn::network! {
    pub struct Net = [1, 8, 8] -> conv2d(2, 3) relu -> 10 softmax;
}

fn main() {}
