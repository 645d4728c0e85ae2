//! The scikit-learn snippet of `docs/weights.md`: `tests/fixtures/sklearn_snippet.py` runs it
//! (and exports three more models the same way); here each file loads into the network the
//! docs say to declare and computes what scikit-learn computed, and the docs show the snippet
//! exactly as the script ran it.

use serde_json::Value;
use std::path::Path;

use crate::fixtures::{floats, path};

nn::network! {
    /// The snippet's `MLPClassifier(hidden_layer_sizes=(8,))` on the iris data, as the docs
    /// declare it.
    pub struct Iris = 4 -> 8 relu -> 3 softmax;
}

nn::network! {
    /// `MLPClassifier(hidden_layer_sizes=(6,), activation="tanh")` on two classes: one logistic
    /// output.
    pub struct Binary = 4 -> 6 tanh -> 1 sigmoid;
}

nn::network! {
    /// `MLPRegressor(hidden_layer_sizes=(5, 4), activation="logistic")`: a linear output.
    pub struct Regressor = 3 -> 5 sigmoid -> 4 sigmoid -> 1;
}

nn::network! {
    /// `MLPClassifier(hidden_layer_sizes=(6,), activation="identity")`.
    pub struct Identity = 4 -> 6 linear -> 3 softmax;
}

/// How far `f32` inference may be from scikit-learn's `f64` on these models.
const TOLERANCE: f64 = 1e-5;

/// `sklearn_expected.json`.
fn expected() -> Value {
    let text = std::fs::read_to_string(path("sklearn_expected.json")).expect("the fixture");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The inputs, every fifth iris flower, in `f32`.
fn inputs<const N: usize>(expected: &Value) -> Vec<[f32; N]> {
    let rows = expected["inputs"].as_array().expect("rows");
    assert_eq!(rows.len(), 30);
    rows.iter()
        .map(|row| {
            let row = floats(row);
            #[allow(clippy::cast_possible_truncation)] // measurements with one decimal
            std::array::from_fn(|i| row[i] as f32)
        })
        .collect()
}

/// The rows of `expected[name]`.
fn rows(expected: &Value, name: &str) -> Vec<Vec<f64>> {
    let rows = expected[name].as_array().expect("rows");
    rows.iter().map(floats).collect()
}

/// The largest difference between what Rust and scikit-learn computed.
fn largest_difference<'a>(rust: impl IntoIterator<Item = &'a f32>, python: &[f64]) -> f64 {
    let rust: Vec<f64> = rust.into_iter().copied().map(f64::from).collect();
    assert_eq!(rust.len(), python.len());
    rust.iter()
        .zip(python)
        .map(|(r, p)| (r - p).abs())
        .fold(0.0, f64::max)
}

#[test]
fn the_snippets_file_computes_predict_proba() {
    let expected = expected();
    let net = Iris::from_safetensors_file(path("iris.safetensors")).expect("the snippet's file");
    let classes = floats(&expected["iris_classes"]);
    for ((x, probabilities), class) in inputs::<4>(&expected)
        .iter()
        .zip(rows(&expected, "iris"))
        .zip(classes)
    {
        let output = net.forward(x);
        let difference = largest_difference(&output, &probabilities);
        assert!(
            difference <= TOLERANCE,
            "{x:?}: {output:?} vs {probabilities:?}"
        );
        // `model.predict`: index k of the output is `classes_[k]`, here k.
        let best = (0..3).max_by(|&a, &b| output[a].total_cmp(&output[b]));
        assert_eq!(best.map(|k| k as f64), Some(class), "{x:?}");
    }
}

#[test]
fn a_binary_classifier_is_one_sigmoid_output() {
    let expected = expected();
    let net = Binary::from_safetensors_file(path("sklearn_binary.safetensors")).expect("file");
    for (x, probabilities) in inputs::<4>(&expected).iter().zip(rows(&expected, "binary")) {
        // `predict_proba` is [1 - p, p]: the output is its second column.
        let [p] = net.forward(x);
        let difference = largest_difference(&[1.0 - p, p], &probabilities);
        assert!(difference <= TOLERANCE, "{x:?}: {p} vs {probabilities:?}");
    }
}

#[test]
fn a_regressor_has_a_linear_output_and_logistic_is_sigmoid() {
    let expected = expected();
    let net =
        Regressor::from_safetensors_file(path("sklearn_regressor.safetensors")).expect("file");
    let predictions = floats(&expected["regressor"]);
    for (x, prediction) in inputs::<4>(&expected).iter().zip(predictions) {
        // The regressor reads the first three measurements and predicts the fourth.
        let output = net.forward(&[x[0], x[1], x[2]]);
        let difference = largest_difference(&output, &[prediction]);
        assert!(difference <= TOLERANCE, "{x:?}: {output:?} vs {prediction}");
    }
}

#[test]
fn identity_is_linear() {
    let expected = expected();
    let net = Identity::from_safetensors_file(path("sklearn_identity.safetensors")).expect("file");
    for (x, probabilities) in inputs::<4>(&expected)
        .iter()
        .zip(rows(&expected, "identity"))
    {
        let output = net.forward(x);
        let difference = largest_difference(&output, &probabilities);
        assert!(
            difference <= TOLERANCE,
            "{x:?}: {output:?} vs {probabilities:?}"
        );
    }
}

/// Why the snippet copies `coefs_[k].T`: saved as the view itself, the file has the right names
/// and shapes and loads without complaint, but its weights are in the untransposed order, and
/// the network computes something else.
#[test]
fn a_transposed_view_loads_but_computes_something_else() {
    let expected = expected();
    let right = Iris::from_safetensors_file(path("iris.safetensors")).expect("the right file");
    let wrong = Iris::from_safetensors_file(path("iris_transposed_view.safetensors"))
        .expect("the wrong file loads: names, shapes and dtype are all valid");
    // The same numbers in both files (F32 here, F64 there), in another order.
    let sorted = |net: &Iris| {
        let mut weights: Vec<f32> = net.layer0.columns().as_flattened().to_vec();
        weights.sort_by(f32::total_cmp);
        weights
    };
    assert_eq!(sorted(&right), sorted(&wrong));
    let mut wrong_classes = 0;
    let mut largest = 0.0_f64;
    for (x, probabilities) in inputs::<4>(&expected).iter().zip(rows(&expected, "iris")) {
        let output = wrong.forward(x);
        largest = largest.max(largest_difference(&output, &probabilities));
        let best = (0..3).max_by(|&a, &b| output[a].total_cmp(&output[b]));
        let theirs = (0..3).max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
        wrong_classes += usize::from(best != theirs);
    }
    assert!(largest > 0.5, "largest difference only {largest}");
    assert!(
        wrong_classes >= 10,
        "only {wrong_classes} of 30 classes wrong"
    );
}

/// The lines strictly between `# snippet: begin` and `# snippet: end` of the script.
fn snippet() -> String {
    let script = std::fs::read_to_string(path("sklearn_snippet.py")).expect("the script");
    let begin = script.find("# snippet: begin\n").expect("a begin marker") + 17;
    let end = script.find("# snippet: end\n").expect("an end marker");
    script[begin..end].to_owned()
}

#[test]
fn the_snippet_in_docs_is_the_one_the_fixtures_ran() {
    let snippet = snippet();
    assert!(
        snippet.contains("np.ascontiguousarray(weight.T"),
        "{snippet}"
    );
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/weights.md");
    let text = std::fs::read_to_string(&docs).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; it must show the snippet of \
             tests/fixtures/sklearn_snippet.py (between its marker lines) in a ```python block",
            docs.display()
        )
    });
    assert!(
        in_python_block(&text, &snippet),
        "no ```python block of {} holds the snippet of tests/fixtures/sklearn_snippet.py \
         (the lines between `# snippet: begin` and `# snippet: end`, verbatim):\n{snippet}",
        docs.display()
    );
}

/// Whether a ```python block of the Markdown `text` holds `snippet`.
fn in_python_block(text: &str, snippet: &str) -> bool {
    text.split("```python\n")
        .skip(1)
        .filter_map(|block| block.split("\n```").next())
        .any(|block| format!("{block}\n").contains(snippet))
}

#[test]
fn the_snippet_check_reads_python_blocks_only() {
    let snippet = "import numpy as np\nsave_file(tensors, path)\n";
    let block = format!("Text.\n\n```python\n# before\n{snippet}```\n\nMore text.\n");
    assert!(in_python_block(&block, snippet));
    assert!(in_python_block(
        &format!("```python\n{snippet}```\n"),
        snippet
    ));
    // Elsewhere, or changed, it does not count.
    assert!(!in_python_block(
        &format!("```text\n{snippet}```\n"),
        snippet
    ));
    assert!(!in_python_block(snippet, snippet));
    let edited = block.replace("np\n", "numpy\n");
    assert!(!in_python_block(&edited, snippet));
    let split = "```python\nimport numpy as np\n```\n```python\nsave_file(tensors, path)\n```\n";
    assert!(!in_python_block(split, snippet));
}
