// `unroll = full` writes one statement per multiply-add: too many here.
nn::network! {
    pub struct Net = 784 -> 128 relu -> 10 softmax with unroll = full;
}

fn main() {}
