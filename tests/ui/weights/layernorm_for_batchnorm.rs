// A layernorm where the file has a BatchNorm1d: its running statistics are left over.
nn::network! {
    pub struct Net = 6 -> 16 -> layernorm relu -> 3 softmax
        with weights = "weights-fixtures/norm_features.safetensors";
}

fn main() {}
