// An int8 twin ends with a dense layer, whose sums it dequantises; an activation other than
// `relu` goes on a dense layer.
nn::network! {
    pub struct Net = [1, 8, 8] -> conv2d(4, 3) sigmoid -> global_avgpool with quantize = int8;
}

fn main() {}
