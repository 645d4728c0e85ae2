// An argument a layer kind does not have.
nn::network! {
    pub struct Net = [1, 8, 8] -> maxpool2d(2, strid = 1) -> flatten -> 2;
}

fn main() {}
