// Every problem of an int8 twin at once: a kind it lacks, an activation a pool cannot take,
// and an ending that is not a dense layer.
nn::network! {
    pub struct Net = [2, 8, 8] -> conv2d(4, 3) -> batchnorm -> maxpool2d(2) tanh -> flatten
        with quantize = int8;
}

fn main() {}
