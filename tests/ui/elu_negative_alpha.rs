// ELU's alpha must be positive.
nn::network! {
    pub struct Net = 784 -> 10 elu(-1);
}

fn main() {}
