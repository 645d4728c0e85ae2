// Groups must divide the input and output channels.
nn::network! {
    pub struct Net = [3, 8, 8] -> conv2d(4, 3, groups = 2) -> flatten -> 2;
}

fn main() {}
