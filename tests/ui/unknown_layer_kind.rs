// A misspelt layer kind.
nn::network! {
    pub struct Net = [1, 8, 8] -> conv2(2, 3) -> flatten -> 2;
}

fn main() {}
