//! A file `nnc` produced compiles and runs: `generated/tiny.rs` is `nnc build models/tiny.nn`,
//! committed. It must behave exactly as `nn::network!` on the same declarations, and be what
//! `nnc` produces today.

use crate::{nnc, root};
use nn::Network as _;

/// The outputs of every network of `models/tiny.nn` with random weights from `seed`, and their
/// layer tables; the same code runs on both sides.
macro_rules! probe {
    () => {
        pub(super) fn outputs(seed: u64) -> Vec<f64> {
            let mut all: Vec<f64> = Vec::new();
            all.extend(Xor::random(seed).forward(&[0.5, -1.0]).map(f64::from));
            all.extend(Iris::random(seed).forward(&[5.1, 3.5, 1.4, 0.2]));
            all.extend(Zoo::random(seed).forward(&[0.3, -0.7, 2.0]).map(f64::from));
            all
        }

        pub(super) fn layers() -> [&'static [nn::LayerInfo]; 3] {
            use nn::Network as _;
            [Xor::LAYERS, Iris::LAYERS, <Zoo as nn::Network>::LAYERS]
        }
    };
}

// No `allow(dead_code)`: the generated items allow it themselves, so that the items a crate
// does not use do not warn.
mod from_nnc {
    include!("generated/tiny.rs");
    probe!();
}

mod from_macro {
    nn::network! {
        /// Learns XOR: two inputs, one probability.
        pub struct Xor = 2 -> 4 tanh as hidden -> 1 sigmoid as output with unroll = full;

        /// Classifies iris flowers.
        ///
        /// Outputs log-probabilities of the three species.
        pub(crate) struct Iris = 4 -> 16 leaky_relu(0.1) as features -> 8 elu -> 3 log_softmax
            with scalar = f64;

        /// Every other activation once; no visibility, so private to the module.
        struct Zoo = 3 -> 5 gelu -> 5 silu -> 5 softplus -> 4 relu -> 2 linear -> 2;
    }
    probe!();
}

#[test]
fn the_committed_file_is_what_nnc_builds_today() {
    let run = nnc(&root(), &["build", "models/tiny.nn"]);
    assert_eq!(run.code, 0, "{run:?}");
    let committed = include_str!("generated/tiny.rs");
    assert!(
        run.stdout == committed,
        "nnc/tests/it/generated/tiny.rs is stale: regenerate it from the workspace root with\n\
         cargo run -p nnc -- build models/tiny.nn -o nnc/tests/it/generated/tiny.rs"
    );
}

#[test]
fn it_runs_exactly_as_the_macro_does() {
    assert_eq!(from_nnc::layers(), from_macro::layers());
    for seed in [0, 1, 42] {
        let (file, macro_) = (from_nnc::outputs(seed), from_macro::outputs(seed));
        assert_eq!(file.len(), 1 + 3 + 2);
        // Same code, same weights, same arithmetic: equal to the bit.
        assert_eq!(
            file.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            macro_.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            "seed {seed}"
        );
        assert!(file.iter().all(|x| x.is_finite()));
    }
}

#[test]
#[allow(clippy::cast_possible_truncation)] // the network is f32, the reference f64
fn the_unrolled_xor_computes_its_formula() {
    // Weights set by hand; the reference is the formula in f64 with the standard library.
    let mut net = from_nnc::Xor::zeroed();
    let w1 = [[1.0, -2.0], [0.5, 0.25], [-1.5, 1.0], [2.0, 2.0]];
    let b1 = [0.1, -0.2, 0.3, 0.0];
    let w2 = [0.7, -1.1, 0.4, 0.9];
    let b2 = -0.3;
    net.for_each_tensor_mut(|layer, tensor, values| {
        let source: &[f64] = match (layer.name, tensor.name) {
            ("hidden", "weight") => w1.as_flattened(),
            ("hidden", _) => &b1,
            (_, "weight") => &w2,
            _ => &[b2],
        };
        // The slice holds the weights by column: `storage_index` places PyTorch's rows.
        for (k, w) in source.iter().enumerate() {
            values[tensor.storage_index(k)] = *w as f32;
        }
    });
    for x in [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.3, -0.8]] {
        let hidden: Vec<f64> = w1
            .iter()
            .zip(b1)
            .map(|(w, b)| (b + w[0] * x[0] + w[1] * x[1]).tanh())
            .collect();
        let z: f64 = b2 + w2.iter().zip(&hidden).map(|(w, h)| w * h).sum::<f64>();
        let expected = 1.0 / (1.0 + (-z).exp());
        let got = f64::from(net.forward(&x.map(|v: f64| v as f32))[0]);
        assert!((got - expected).abs() < 1e-6, "{x:?}: {got} vs {expected}");
    }
}
