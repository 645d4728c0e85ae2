// An int8 twin is made from an f32 network.
nn::network! {
    pub struct Net = 64 -> 32 relu -> 10 with scalar = f64, quantize = int8;
}

fn main() {}
