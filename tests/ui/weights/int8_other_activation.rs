// An int8 file calibrated for `relu` baked into a `tanh` twin: tanh's outputs have a fixed
// quantisation, which the file's first layer does not have.
nn::network! {
    pub struct Net = 64 -> 32 tanh -> 10 softmax
        with quantize = int8, weights = "weights-fixtures/digits_int8.safetensors";
}

fn main() {}
