// An activation where the layer's width should be.
nn::network! {
    pub struct Net = 784 -> relu;
}

fn main() {}
