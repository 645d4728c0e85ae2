// An input shape has at most three sizes, [channels, height, width].
nn::network! {
    pub struct Net = [1, 1, 8, 8] -> flatten -> 2;
}

fn main() {}
