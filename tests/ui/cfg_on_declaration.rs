// A `#[cfg]` on one declaration would remove its struct and leave its impls; the macro call
// takes it instead. The network is still generated, so that its uses report nothing more.
nn::network! {
    /// Kept.
    #[cfg(any())]
    pub struct Net = 2 -> 1;
}

fn main() {
    let _ = Net::random(1).forward(&[1.0, 2.0]);
}
