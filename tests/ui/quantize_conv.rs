// int8 twins have no grouped convolutions yet: the error is on the kind.
nn::network! {
    pub struct Net = [4, 8, 8] -> conv2d(4, 3, groups = 2) relu -> flatten -> 10 with quantize = int8;
}

fn main() {}
