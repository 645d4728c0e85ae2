//! Property tests of the numerics, in `f32` and `f64`: for any finite input, softmax gives
//! probabilities that sum to 1, no activation gives NaN, and every result is the same, bit for
//! bit, however often and on whichever thread it is computed.
//!
//! Inputs range over every finite float (huge magnitudes, subnormals, signed zeros), values of
//! one huge magnitude (where differences overflow), and ordinary values.

use nn_runtime::activation::{
    elu, gelu, gelu_tanh, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus, tanh,
};
use nn_runtime::{Activation, Dense, Scalar, dot};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// `cases` cases from a fixed seed, so CI checks the same ones every run; `PROPTEST_CASES` and
/// `PROPTEST_RNG_SEED` ask for more, or others.
fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x6e75_6d65_7269_6373);
    }
    config.failure_persistence = None;
    config
}

/// Any finite `f32`: every magnitude, near the largest, or ordinary.
fn finite_f32() -> impl Strategy<Value = f32> + Clone {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
        (0.5f32..=1.0).prop_flat_map(|m| prop_oneof![Just(m * f32::MAX), Just(-m * f32::MAX)]),
        -100.0f32..100.0,
    ]
}

/// Any finite `f64`: every magnitude, near the largest, or ordinary.
fn finite_f64() -> impl Strategy<Value = f64> + Clone {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
        (0.5f64..=1.0).prop_flat_map(|m| prop_oneof![Just(m * f64::MAX), Just(-m * f64::MAX)]),
        -1000.0f64..1000.0,
    ]
}

/// A layer's worth of values: up to 64 of any kind, or up to 8192 of one.
fn vector<T: Scalar + 'static>(
    element: impl Strategy<Value = T> + Clone + 'static,
) -> impl Strategy<Value = Vec<T>> {
    let long = (element.clone(), 1usize..=8192).prop_map(|(x, n)| vec![x; n]);
    prop_oneof![4 => prop::collection::vec(element, 1..=64), 1 => long]
}

/// Many values of the same order, where a sum in `f32` drifts.
fn close_values<T: Scalar>() -> impl Strategy<Value = Vec<T>> {
    (1usize..=8192, any::<u64>()).prop_map(|(n, seed)| {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                T::from_f64((state >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
            })
            .collect()
    })
}

/// The 12 activations, with finite alphas (positive for `elu`, of any sign for `leaky_relu`).
fn activation<T: Scalar>(
    alpha: impl Strategy<Value = T> + Clone + 'static,
) -> impl Strategy<Value = Activation> {
    let positive = alpha.clone().prop_filter_map("a positive alpha", |a| {
        let a = a.to_f64().abs();
        (a > 0.0).then_some(a)
    });
    prop_oneof![
        Just(Activation::Linear),
        Just(Activation::Relu),
        alpha.prop_map(|a| Activation::LeakyRelu(a.to_f64())),
        positive.prop_map(Activation::Elu),
        Just(Activation::Sigmoid),
        Just(Activation::Tanh),
        Just(Activation::Silu),
        Just(Activation::Gelu),
        Just(Activation::GeluTanh),
        Just(Activation::Softplus),
        Just(Activation::Softmax),
        Just(Activation::LogSoftmax),
    ]
}

/// The bits of each value, to compare results exactly (NaN included).
fn bits<T: Scalar>(x: &[T]) -> Vec<u64> {
    x.iter().map(|v| v.to_f64().to_bits()).collect()
}

/// The direct function behind `activation`, as generated code calls it.
fn direct<T: Scalar>(activation: Activation, x: &mut [T]) {
    match activation {
        Activation::Linear => {}
        Activation::Relu => relu(x),
        Activation::LeakyRelu(alpha) => leaky_relu(x, T::from_f64(alpha)),
        Activation::Elu(alpha) => elu(x, T::from_f64(alpha)),
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => tanh(x),
        Activation::Silu => silu(x),
        Activation::Gelu => gelu(x),
        Activation::GeluTanh => gelu_tanh(x),
        Activation::Softplus => softplus(x),
        Activation::Softmax => softmax(x),
        Activation::LogSoftmax => log_softmax(x),
    }
}

fn assert_probabilities<T: Scalar>(input: &[T]) {
    let mut p = input.to_vec();
    softmax(&mut p);
    let mut sum = 0.0f64;
    for v in &p {
        let v = v.to_f64();
        assert!((0.0..=1.0).contains(&v), "softmax gave {v} for {input:?}");
        sum += v;
    }
    assert!(
        (sum - 1.0).abs() <= 1e-6,
        "softmax sums to {sum} for {input:?}"
    );

    let mut l = input.to_vec();
    log_softmax(&mut l);
    for (v, p) in l.iter().zip(&p) {
        let v = v.to_f64();
        assert!(v <= 0.0, "log_softmax gave {v} for {input:?}");
        // Where softmax is a normal number, log_softmax is its logarithm.
        let p = p.to_f64();
        if p > 1e-30 {
            assert!(
                (v.exp() - p).abs() <= 1e-5 * p.max(1e-3),
                "{} vs {p}",
                v.exp()
            );
        }
    }
}

/// No NaN, the documented ranges, the same bits every time and on every path.
fn assert_sound<T: Scalar>(activation: Activation, input: &[T]) {
    let mut y = input.to_vec();
    direct(activation, &mut y);
    for (x, v) in input.iter().zip(&y) {
        let (x, v) = (x.to_f64(), v.to_f64());
        assert!(!v.is_nan(), "{activation} turned {x} into NaN");
        let in_range = match activation {
            Activation::Relu => v >= 0.0,
            Activation::Sigmoid | Activation::Softmax => (0.0..=1.0).contains(&v),
            Activation::Tanh => (-1.0..=1.0).contains(&v),
            Activation::Softplus => v >= x.max(0.0),
            Activation::LogSoftmax => v <= 0.0,
            Activation::Elu(alpha) => v >= -alpha * (1.0 + 1e-6),
            _ => true,
        };
        assert!(in_range, "{activation} of {x} gave {v}");
    }
    let mut again = input.to_vec();
    direct(activation, &mut again);
    assert_eq!(bits(&y), bits(&again), "{activation} changed between runs");
    let mut dynamic = input.to_vec();
    activation.apply(&mut dynamic);
    assert_eq!(bits(&y), bits(&dynamic), "{activation}: `apply` differs");
    let owned = input.to_vec();
    let other_thread = std::thread::spawn(move || {
        let mut y = owned;
        direct(activation, &mut y);
        bits(&y)
    })
    .join()
    .expect("the thread finishes");
    assert_eq!(
        bits(&y),
        other_thread,
        "{activation} differs on another thread"
    );
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn softmax_gives_probabilities_f32(x in vector(finite_f32()), y in close_values::<f32>()) {
        assert_probabilities(&x);
        assert_probabilities(&y);
    }

    #[test]
    fn softmax_gives_probabilities_f64(x in vector(finite_f64()), y in close_values::<f64>()) {
        assert_probabilities(&x);
        assert_probabilities(&y);
    }

    #[test]
    fn activations_are_sound_f32(a in activation(finite_f32()), x in vector(finite_f32())) {
        assert_sound(a, &x);
    }

    #[test]
    fn activations_are_sound_f64(a in activation(finite_f64()), x in vector(finite_f64())) {
        assert_sound(a, &x);
    }

    /// The dot product and the dense layer give the same bits every time.
    #[test]
    fn dense_layers_are_deterministic(
        w in prop::collection::vec(-10.0f32..10.0, 37 * 5),
        x in prop::collection::vec(-10.0f32..10.0, 37),
    ) {
        let weights: [[f32; 37]; 5] =
            std::array::from_fn(|o| std::array::from_fn(|i| w[o * 37 + i]));
        let input: [f32; 37] = std::array::from_fn(|i| x[i]);
        let layer = Dense::from_parts(weights, [0.5; 5]);
        let first = layer.forward(&input);
        let second = std::thread::spawn(move || layer.forward(&input)).join().expect("joined");
        prop_assert_eq!(bits(&first), bits(&second));
        prop_assert_eq!(dot(&w[..37], &x).to_bits(), dot(&w[..37], &x).to_bits());
    }
}
