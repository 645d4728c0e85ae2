//! `nn::network_file!`: the networks of a `.nn` file, compiled in source, are the networks
//! `nn::network!` declares from the same text; its errors are spanned on the path.

use nn::Network as _;

mod from_file {
    nn::network_file!("models/mnist.nn");
}

mod from_macro {
    nn::network! {
        /// Classifies 28x28 handwritten digits.
        pub struct Mnist = 784 -> 128 relu as hidden -> 10 softmax as output;
    }
}

/// Several declarations, docs and comments in one file.
mod tiny {
    nn::network_file!("models/tiny.nn");

    /// The name of the file's private network, seen from inside the module.
    pub(super) fn zoo_name() -> &'static str {
        <Zoo as nn::Network>::NAME
    }

    /// The private network of the file, seen from inside the module.
    pub(super) fn zoo(seed: u64, input: &[f32; 3]) -> [f32; 2] {
        Zoo::random(seed).forward(input)
    }
}

/// A `.nn` file as Rust reads its sources: a byte order mark, nested block comments.
mod marked {
    nn::network_file!("tests/fixtures/bom.nn");
}

#[test]
fn a_file_with_a_byte_order_mark_and_nested_comments_compiles() {
    assert_eq!(marked::Marked::PARAMETERS, 3 * 2 + 2 + 2 + 1);
    let output = marked::Marked::random(1).forward(&[0.5, -1.0, 2.0]);
    assert!(output[0].is_finite());
}

#[test]
fn mnist_from_the_file_is_the_declared_network() {
    assert_eq!(from_file::Mnist::LAYERS, from_macro::Mnist::LAYERS);
    assert_eq!(
        (
            from_file::Mnist::INPUTS,
            from_file::Mnist::OUTPUTS,
            from_file::Mnist::PARAMETERS
        ),
        (784, 10, 101_770)
    );
    assert_eq!(
        from_file::Mnist::summary().to_string(),
        from_macro::Mnist::summary().to_string()
    );
    let pixels: [f32; 784] = std::array::from_fn(|i| (i % 28) as f32 / 28.0);
    for seed in [1, 2] {
        let file = from_file::Mnist::random(seed).forward(&pixels);
        let declared = from_macro::Mnist::random(seed).forward(&pixels);
        assert_eq!(file.map(f32::to_bits), declared.map(f32::to_bits));
        assert!((file.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn every_network_of_a_file_is_declared() {
    assert_eq!(
        [tiny::Xor::NAME, tiny::Iris::NAME, tiny::zoo_name()],
        ["Xor", "Iris", "Zoo"]
    );
    // Options are honoured: `Iris` is f64, `Xor` is unrolled (and still computes).
    let iris: [f64; 3] = tiny::Iris::random(3).forward(&[5.1, 3.5, 1.4, 0.2]);
    let log_sum: f64 = iris.iter().map(|x| x.exp()).sum();
    assert!((log_sum - 1.0).abs() < 1e-12, "{iris:?}");
    let xor = tiny::Xor::random(3).forward(&[1.0, 0.0])[0];
    assert!(xor > 0.0 && xor < 1.0);
    assert!(
        tiny::zoo(3, &[0.3, -0.7, 2.0])
            .iter()
            .all(|x| x.is_finite())
    );
}
