// An unknown activation: the error suggests the closest name.
nn::network! {
    pub struct Net = 784 -> 128 rleu -> 10 softmax;
}

fn main() {}
