// An activation on the input, which has no neurons.
nn::network! {
    pub struct Net = 784 relu -> 10;
}

fn main() {}
