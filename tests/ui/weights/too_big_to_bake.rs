// Baking writes one literal per parameter: past 2^21 parameters, load the file at run time.
nn::network! {
    pub struct Net = 2048 -> 1024 relu -> 10 with weights = "big.safetensors";
}

fn main() {}
