// Half-precision twins have every feed-forward kind but no sequence network: the error is on
// the recurrent layer.
nn::network! {
    pub struct Net = 4 -> lstm(8) -> 2 with quantize = bf16;
}

fn main() {}
