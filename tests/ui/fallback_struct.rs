// A broken declaration still defines its struct, so code naming the type reports only the
// declaration's error, not "cannot find type `Net`".
nn::network! {
    pub struct Net = 784 -> 10 rleu;
}

fn takes(_: &Net) {}

fn main() {
    takes(&Net);
}
