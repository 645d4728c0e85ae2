//! Networks far too large for the stack they run on. 2048 -> 2048 relu -> 2048 relu -> 10 holds
//! 8.4 million f32 parameters (32 MiB, 16 times the thread's 2 MiB stack). `random` builds it
//! directly on the heap, and `forward` keeps only its 2048-wide locals on the stack. (Four times
//! as many parameters prove nothing more and took 46 s of a debug test run, drawing them.)

nn::network! {
    struct Big = 2048 -> 2048 relu -> 2048 relu -> 10;
}

#[test]
fn a_32_mib_network_runs_on_a_2_mib_stack() {
    let worker = std::thread::Builder::new()
        .name("2 MiB stack".to_owned())
        .stack_size(2 << 20)
        .spawn(|| {
            let net = Big::random(7);
            let input: [f32; 2048] = std::array::from_fn(|i| (i % 7) as f32 - 3.0);
            (Big::PARAMETERS, net.forward(&input))
        })
        .unwrap();
    let (parameters, output) = worker.join().expect("the 2 MiB thread completes");
    assert_eq!(parameters, 2 * (2048 * 2048 + 2048) + 2048 * 10 + 10);
    assert!(output.iter().all(|y| y.is_finite()));
    assert!(output.iter().any(|y| *y != 0.0));
}

nn::network! {
    /// 4.2 million parameters; a step's projections of 6 streams take 216 KiB of the stack.
    struct BigLstm = 8 -> lstm(1024) -> 1;
}

/// A wide recurrent layer steps 8 streams at once on a 2 MiB thread, the stack `cargo test`
/// gives each test, in this debug build too (where a step's copies of its 16 KiB gates had
/// taken it past 2 MiB).
#[test]
fn a_1024_wide_lstm_steps_streams_on_a_2_mib_stack() {
    let worker = std::thread::Builder::new()
        .name("2 MiB stack".to_owned())
        .stack_size(2 << 20)
        .spawn(|| {
            let net = BigLstm::random(7);
            let mut states = vec![BigLstmState::ZERO; 8];
            let inputs: Vec<[f32; 8]> = (0..8)
                .map(|s| std::array::from_fn(|i| ((s * 8 + i) % 5) as f32 / 4.0 - 0.5))
                .collect();
            let mut outputs = [[0.0_f32; 1]; 8];
            net.step_streams(&mut states, &inputs, &mut outputs)
                .unwrap();
            // The same bits as one stream's `step`.
            let mut alone = BigLstmState::ZERO;
            (outputs, net.step(&mut alone, &inputs[7]))
        })
        .unwrap();
    let (outputs, alone) = worker.join().expect("the 2 MiB thread completes");
    assert_eq!(outputs[7].map(f32::to_bits), alone.map(f32::to_bits));
    assert!(outputs.iter().all(|y| y[0].is_finite()));
    assert_ne!(outputs[0], outputs[1]);
}
