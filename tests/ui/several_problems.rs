// Every problem of a declaration is reported at once, each on its token.
nn::network! {
    pub struct Net = 784 relu -> 0 rleu -> 12.5 softmax as x -> 10 as x with scaler = f64;
}

fn main() {}
