// A misspelt option: the error suggests the closest one.
nn::network! {
    pub struct Net = 784 -> 10 softmax with scaler = f64;
}

fn main() {}
