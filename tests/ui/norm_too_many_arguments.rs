// `layernorm` takes `eps` only (its shape is the input's).
nn::network! {
    pub struct Net = 16 -> layernorm(1e-5, 0.1) -> 2;
}

fn main() {}
