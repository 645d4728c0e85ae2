// A layer name that Rust reserves: names become fields.
nn::network! {
    pub struct Net = 784 -> 128 relu as type -> 10;
}

fn main() {}
