// int8 twins have grouped and 1-D convolutions but no normalisation: the error is on the kind.
nn::network! {
    pub struct Net = [4, 8, 8] -> conv2d(4, 3, groups = 2) relu -> batchnorm -> flatten -> 10 with quantize = int8;
}

fn main() {}
