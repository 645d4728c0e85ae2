// The file is another network's: the error is on the path, and every `BAKED` (the network's
// and its twins') still exists, as zeros, so that their uses add no errors of their own.
nn::network! {
    pub struct Net = 5 -> 4 relu -> 2 -> 3 softmax
        with quantize = int8, quantize = bf16, weights = "weights-fixtures/tiny_f32.safetensors";
}

static NET: Net = Net::BAKED;
static INT8: NetInt8 = NetInt8::BAKED;
static HALF: NetBf16 = NetBf16::BAKED;

fn main() {
    let _ = (NET.forward(&[0.0; 5]), INT8.forward(&[0.0; 5]), HALF.forward(&[0.0; 5]));
}
