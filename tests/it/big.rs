//! A network too large for any stack: 4096 -> 4096 relu -> 4096 relu -> 10 holds 33.6 million
//! f32 parameters (128 MiB). `random` builds it directly on the heap, and `forward` keeps only
//! its 4096-wide locals on the stack, so both run on a thread with a 2 MiB stack.

nn::network! {
    struct Big = 4096 -> 4096 relu -> 4096 relu -> 10;
}

#[test]
fn a_128_mib_network_runs_on_a_2_mib_stack() {
    let worker = std::thread::Builder::new()
        .name("2 MiB stack".to_owned())
        .stack_size(2 << 20)
        .spawn(|| {
            let net = Big::random(7);
            let input: [f32; 4096] = std::array::from_fn(|i| (i % 7) as f32 - 3.0);
            (Big::PARAMETERS, net.forward(&input))
        })
        .unwrap();
    let (parameters, output) = worker.join().expect("the 2 MiB thread completes");
    assert_eq!(parameters, 2 * (4096 * 4096 + 4096) + 4096 * 10 + 10);
    assert!(output.iter().all(|y| y.is_finite()));
    assert!(output.iter().any(|y| *y != 0.0));
}
