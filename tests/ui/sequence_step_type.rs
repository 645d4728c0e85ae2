// A sequence network's `step` takes its state and one time step's input.
nn::network! {
    pub struct Amp = 1 -> lstm(8) -> 1;
}

fn main() {
    let net = Amp::random(0);
    let mut state = AmpState::ZERO;
    let _ = net.step(&mut state, &[0.5, 0.5]);
}
