// The file's first weight is `[inputs, outputs]`: the message names both shapes and the fix.
nn::network! {
    pub struct Net = 5 -> 4 relu -> 3 softmax
        with weights = "weights-fixtures/transposed.safetensors";
}

fn main() {}
