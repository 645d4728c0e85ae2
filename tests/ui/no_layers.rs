// An input and no layers.
nn::network! {
    pub struct Net = 784;
}

fn main() {}
