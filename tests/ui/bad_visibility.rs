// A visibility Rust does not have.
nn::network! {
    pub(everyone) struct Net = 784 -> 10;
}

fn main() {}
