// `quantize` is given once per format: a format twice is a mistake on its second value. The
// twins declared stay usable meanwhile.
nn::network! {
    pub struct Net = 64 -> 32 relu -> 10 with quantize = int8, quantize = bf16, quantize = int8;
}

fn main() {
    let net = Net::random(1);
    let _ = NetBf16::from_network(&net);
    let _ = NetInt8::calibrate(&net, &[[0.0; 64]], nn::quant::Calibration::MinMax);
}
