// A width that is not a whole number.
nn::network! {
    pub struct Net = 784 -> 12.5 relu -> 10;
}

fn main() {}
