// The option names the twin's numbers.
nn::network! {
    pub struct Net = 64 -> 32 relu -> 10 with quantize = int4;
}

fn main() {}
