//! A network far too large for the stack it runs on: 2048 -> 2048 relu -> 2048 relu -> 10 holds
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
