// The weights file does not exist: the error is on the option's value.
nn::network! {
    pub struct Net = 5 -> 4 relu -> 3 softmax with weights = "missing.safetensors";
}

fn main() {
    // `BAKED` still exists (all zeros), so its uses add no errors of their own.
    static NET: Net = Net::BAKED;
    let _ = NET.forward(&[0.0; 5]);
}
