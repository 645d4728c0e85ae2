//! The `digits` example's network, trained by scikit-learn (`examples/data/train_digits.py`):
//! Rust predicts exactly the classes scikit-learn predicted, with the same probabilities.

use std::path::Path;

nn::network! {
    /// 8x8 digits, as `examples/digits.rs` declares them.
    pub struct Digits = 64 -> 32 relu -> 10 softmax;
}

/// The lines of `examples/data/<name>` after the header, split at commas.
fn csv(name: &str) -> Vec<Vec<f64>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/data")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("vendored data");
    text.lines()
        .skip(1)
        .map(|line| {
            line.split(',')
                .map(|v| v.parse().expect("a number"))
                .collect()
        })
        .collect()
}

#[test]
fn rust_predicts_what_scikit_learn_predicted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits.safetensors");
    let net = Digits::from_safetensors_file(path).expect("trained weights");
    let data = csv("digits.csv");
    let predictions = csv("digits_predictions.csv");
    assert_eq!(data.len(), 1797);
    assert_eq!(predictions.len(), 297);
    for prediction in &predictions {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // row numbers
        let row = prediction[0] as usize;
        #[allow(clippy::cast_possible_truncation)] // pixels are k/16, exact in f32
        let pixels: [f32; 64] = std::array::from_fn(|i| data[row][i] as f32);
        let probabilities = net.forward(&pixels);
        let class = probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(class, _)| class as f64);
        assert_eq!(class, Some(prediction[1]), "row {row}");
        for (k, (rust, python)) in probabilities.iter().zip(&prediction[2..]).enumerate() {
            assert!(
                (f64::from(*rust) - python).abs() <= 1e-5,
                "row {row}, class {k}: {rust} vs {python}"
            );
        }
    }
}
