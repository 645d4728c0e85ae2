// Networks declared together may not define the same type: `Amp`'s state type is `AmpState`.
nn::network! {
    pub struct Amp = 1 -> lstm(4) -> 1;
    pub struct AmpState = 2 -> 3;
}

fn main() {
    let _ = Amp::random(1);
}
