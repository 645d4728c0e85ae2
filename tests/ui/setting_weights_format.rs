// `weights` names a file to bake in; a number format is `quantize`'s.
nn::network! {
    pub struct Net = 64 -> 32 relu -> 10 with weights = bf16;
}

fn main() {}
