//! One past the `unroll = full` limit: 4097 multiply-adds.

nn::network! {
    pub struct Net = 4097 -> 1 with unroll = full;
}

fn main() {}
