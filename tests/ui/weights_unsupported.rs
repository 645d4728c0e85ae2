// Baked-in weights are parsed but not generated yet.
nn::network! {
    pub struct Net = 2 -> 1 with weights = "net.safetensors";
}

fn main() {}
