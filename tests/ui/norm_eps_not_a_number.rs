// `eps` is a number.
nn::network! {
    pub struct Net = 16 -> batchnorm(eps = small) -> 2;
}

fn main() {}
