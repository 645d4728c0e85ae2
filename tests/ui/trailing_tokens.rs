// Tokens after the declaration's `;` that do not start another declaration.
nn::network! {
    pub struct Net = 784 -> 10 softmax; 42
}

fn main() {}
