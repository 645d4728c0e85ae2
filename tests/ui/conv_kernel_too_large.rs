// A convolution whose kernel is larger than its padded input.
nn::network! {
    pub struct Net = [1, 4, 4] -> conv2d(2, 5, padding = 0) -> flatten -> 2;
}

fn main() {}
