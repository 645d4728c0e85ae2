// Empty parentheses: either a slope or no parentheses.
nn::network! {
    pub struct Net = 784 -> 10 leaky_relu();
}

fn main() {}
