//! One past the width limit: 2^20 + 1 inputs.

nn::network! {
    pub struct Net = 1048577 -> 1;
}

fn main() {}
