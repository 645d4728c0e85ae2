// A sequence network that cannot be generated (a hidden size of 0) is stood in for by a stub
// with a sequence network's API (`AmpState`, `step`, `forward_sequence`, `step_streams`), so
// that only the declaration's error is reported.
nn::network! {
    pub struct Amp = 1 -> lstm(0) -> 1;
}

fn main() -> Result<(), nn::Error> {
    let amp = Amp::random(7);
    let mut state = AmpState::ZERO;
    let out: [f32; 1] = amp.step(&mut state, &[0.5]);
    let mut outputs = [[0.0_f32]; 4];
    amp.forward_sequence(&mut state, &[[0.5]; 4], &mut outputs)?;
    let mut voices = [AmpState::default(); 2];
    amp.step_streams(&mut voices, &[[0.5]; 2], &mut outputs[..2])?;
    state.reset();
    println!("{out:?}");
    Ok(())
}
