// A weight of 70,000 baked into a binary16 twin would be an infinity: an error on the path.
nn::network! {
    pub struct Net = 5 -> 4 relu -> 3 softmax
        with quantize = f16, weights = "weights-fixtures/f16_overflow.safetensors";
}

fn main() {}
