// An int8 file baked into a network whose only twin is bf16: nothing could take its weights.
nn::network! {
    pub struct Net = 64 -> 32 relu -> 10 softmax
        with quantize = bf16, weights = "weights-fixtures/digits_int8.safetensors";
}

fn main() {}
