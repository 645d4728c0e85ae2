// A negative `eps` can make the variance plus `eps` negative.
nn::network! {
    pub struct Net = [4, 8] -> layernorm(-1e-3) -> flatten -> 2;
}

fn main() {}
