// A `#[cfg]` on one declaration would remove its struct and leave its impls; the macro call
// takes it instead. So does a `#[cfg_attr]` that may become one; other `cfg_attr`s pass. The
// networks are still generated, so that their uses report nothing more.
nn::network! {
    /// Kept.
    #[cfg(any())]
    pub struct Net = 2 -> 1;

    #[cfg_attr(all(), cfg(any()))]
    pub struct Maybe = 2 -> 1;

    #[cfg_attr(all(), derive(Clone))]
    pub struct Cloned = 2 -> 1;
}

fn main() {
    let _ = Net::random(1).forward(&[1.0, 2.0]);
    let _ = Maybe::random(1).forward(&[1.0, 2.0]);
    let _ = Cloned::random(1).clone();
}
