// A pool whose window is larger than its input leaves nothing.
nn::network! {
    pub struct Net = [1, 3, 3] -> maxpool2d(4) -> flatten -> 2;
}

fn main() {}
