//! Networks far too large for the stack they run on. 2048 -> 2048 relu -> 2048 relu -> 10 holds
//! 8.4 million f32 parameters (32 MiB, 16 times the thread's 2 MiB stack). `random` builds it
//! directly on the heap, and `forward` keeps only its 2048-wide locals on the stack. (Four times
//! as many parameters prove nothing more and took 46 s of a debug test run, drawing them.)

nn::network! {
    struct Big = 2048 -> 2048 relu -> 2048 relu -> 10;
}

/// `f`'s result, run on a thread of 2 MiB of stack (what `cargo test` gives each test, and
/// rayon each worker).
fn on_a_2_mib_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .name("2 MiB stack".to_owned())
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the 2 MiB thread completes")
}

#[test]
fn a_32_mib_network_runs_on_a_2_mib_stack() {
    let result = on_a_2_mib_stack(|| {
        let net = Big::random(7);
        let input: [f32; 2048] = std::array::from_fn(|i| (i % 7) as f32 - 3.0);
        (Big::PARAMETERS, net.forward(&input))
    });
    let (parameters, output) = result;
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
    let result = on_a_2_mib_stack(|| {
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
    });
    let (outputs, alone) = result;
    assert_eq!(outputs[7].map(f32::to_bits), alone.map(f32::to_bits));
    assert!(outputs.iter().all(|y| y[0].is_finite()));
    assert_ne!(outputs[0], outputs[1]);
}

nn::network! {
    /// A padding of 100 around an 8x8 input: the convolution kernel's scratch (one padded copy
    /// of the 64 channels, 2.8 million values, 11 MiB) would not fit a stack, so the layer
    /// runs without it.
    struct FarPadded = [64, 8, 8] -> conv2d(1, 3, padding = 100);
}

#[test]
fn a_convolution_padded_far_beyond_its_input_runs_on_a_2_mib_stack() {
    let result = on_a_2_mib_stack(|| {
        let net = FarPadded::random(5);
        #[allow(clippy::cast_precision_loss)] // small integers
        let input: [[[f32; 8]; 8]; 64] = std::array::from_fn(|c| {
            std::array::from_fn(|y| {
                std::array::from_fn(|x| ((c * 64 + y * 8 + x) % 13) as f32 - 6.0)
            })
        });
        let output = net.forward(&input);
        // Output position `o` reads input rows and columns `o - 100 ..= o - 98`: the
        // window at (100, 100) is the input's top-left 3x3 of every channel.
        let weight = net.layer0.weight();
        let mut expected = f64::from(net.layer0.bias()[0]);
        for (c, channel) in input.iter().enumerate() {
            for ky in 0..3 {
                for kx in 0..3 {
                    expected += f64::from(weight[0][c][ky][kx]) * f64::from(channel[ky][kx]);
                }
            }
        }
        (output[0][0][0], output[0][100][100], expected)
    });
    let (corner, inside, expected) = result;
    assert_eq!(corner, 0.0, "all padding: the bias, 0");
    assert!(
        (f64::from(inside) - expected).abs() < 1e-4,
        "{inside} against {expected}"
    );
}
