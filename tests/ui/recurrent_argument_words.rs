// Words where numbers go: a nonlinearity for `gru` (which has none), a fractional `layers`,
// and a misspelt `causal`, whose network still has `step` (the use adds no error).
nn::network! {
    pub struct Gated = 4 -> gru(8, relu) -> 2;
}

nn::network! {
    pub struct Levels = 4 -> lstm(8, layers = 2.5) -> 2;
}

nn::network! {
    pub struct Tcn = 1 -> conv1d(4, 3, casual) -> 1;
}

fn main() {
    let net = Tcn::zeroed();
    let mut state = TcnState::ZERO;
    let _ = net.step(&mut state, &[0.0]);
}
