// Two layers with one name: names become fields.
nn::network! {
    pub struct Net = 784 -> 128 relu as hidden -> 64 relu as hidden -> 10;
}

fn main() {}
