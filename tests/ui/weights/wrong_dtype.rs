// Integer weights are not converted.
nn::network! {
    pub struct Net = 5 -> 4 relu -> 3 softmax with weights = "weights-fixtures/int64.safetensors";
}

fn main() {}
