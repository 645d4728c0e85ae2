// A stride of 0 never moves the window.
nn::network! {
    pub struct Net = [1, 8, 8] -> conv2d(2, 3, stride = 0) -> flatten -> 2;
}

fn main() {}
