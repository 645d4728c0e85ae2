// Softmax normalises a vector of scores, not feature maps.
nn::network! {
    pub struct Net = [1, 8, 8] -> conv2d(2, 3) softmax;
}

fn main() {}
