// An `eps` of 0 divides by 0 on a channel of constant values.
nn::network! {
    pub struct Net = [4, 8] -> batchnorm(eps = 0) -> flatten -> 2;
}

fn main() {}
