// A layer kind without its required arguments.
nn::network! {
    pub struct Net = [1, 8, 8] -> conv2d(2) -> flatten -> 2;
}

fn main() {}
