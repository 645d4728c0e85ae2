// A width too large for any machine.
nn::network! {
    pub struct Net = 784 -> 99999999999999999999999 -> 10;
}

fn main() {}
