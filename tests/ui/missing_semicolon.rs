// The declaration must end with `;`.
nn::network! {
    pub struct Net = 784 -> 10 softmax
}

fn main() {}
