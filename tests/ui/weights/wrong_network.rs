// A file written for another network: three layers in the declaration, two in the file.
nn::network! {
    pub struct Net = 5 -> 4 relu -> 3 relu -> 3 softmax
        with weights = "weights-fixtures/tiny_f32.safetensors";
}

fn main() {}
