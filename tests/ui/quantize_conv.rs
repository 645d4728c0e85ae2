// int8 twins have dense layers only: the error is on the kind that cannot be quantised.
nn::network! {
    pub struct Net = [1, 8, 8] -> conv2d(4, 3) relu -> flatten -> 10 with quantize = int8;
}

fn main() {}
