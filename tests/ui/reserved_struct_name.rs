// A struct name that Rust reserves: one error, on the name, and no cascade from the fallback.
nn::network! {
    pub struct Self = 784 -> 10;
}

fn main() {}
