//! One past the parameter limit: 1539 neurons of 87210 weights and a bias are 2^27 + 1.

nn::network! {
    pub struct Net = 87210 -> 1539;
}

fn main() {}
