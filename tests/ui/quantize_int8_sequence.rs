// The int8 twin has no sequence kinds (half-precision twins have them, see tests/it/half_sequence.rs):
// the error is on the recurrent layer.
nn::network! {
    pub struct Net = 4 -> lstm(8) -> 2 with quantize = int8;
}

fn main() {}
