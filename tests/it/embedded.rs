//! The data of the Cortex-M firmware (`examples/cortex-m`), made and checked on the host.
//!
//! The firmware classifies the 297 test rows of `examples/data/digits.csv` with the baked
//! `digits` network and fails unless every class equals the host's. Its two inputs are committed
//! files, written here from the CSV and from the same declaration, with the same weights, baked
//! the same way, run on the host:
//!
//! - `examples/cortex-m/data/test_rows.bin`: 65 bytes a row, the 64 pixels as the integers
//!   0..=16 that the CSV's values k/16 were made from, then the label;
//! - `examples/cortex-m/data/host_predictions.bin`: one byte a row, the class predicted from
//!   those bytes (pixels k/16 in `f32`, the first of the largest probabilities).
//!
//! - `examples/cortex-m/data/pedal_signal.bin`: the amplifier LSTM's 300 input samples and
//!   PyTorch's float64 outputs (`tests/fixtures/recurrent_expected.json`, model `amp`), as
//!   little-endian `f32` inputs then `f64` outputs, for the firmware's effect pedal.
//!
//! The test fails when any file differs from what it computes; bless a change with
//! `UPDATE_EXPECT=1 cargo test --test it embedded`. It also checks that the host predicts the
//! class scikit-learn predicted (`examples/data/digits_predictions.csv`) for every test row.

use std::path::{Path, PathBuf};

nn::network! {
    /// The firmware's declaration; weights relative to this crate's `Cargo.toml`.
    pub struct Digits = 64 -> 32 relu -> 10 softmax
        with weights = "examples/data/digits.safetensors";
}

/// Baked at compile time, as on the device.
static NET: Digits = Digits::BAKED;

nn::network! {
    /// The int8 twin of `Digits`, as the firmware bakes it.
    pub struct DigitsQ = 64 -> 32 relu -> 10 softmax
        with quantize = int8, weights = "tests/fixtures/digits_int8.safetensors";
}

/// The int8 twin, baked from the file `tests/it/quant.rs` pins.
static QUANTIZED: DigitsQInt8 = DigitsQInt8::BAKED;

/// The first test row; rows 0..1500 trained the network.
const FIRST_TEST_ROW: usize = 1500;
/// Rows in `digits.csv`.
const ROWS: usize = 1797;
/// Bytes per row of `test_rows.bin`: 64 pixels and the label.
const ROW_BYTES: usize = 65;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lines of a CSV file after its header, as fields.
fn csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("vendored data");
    text.lines()
        .skip(1)
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

/// A pixel `k / 16` of the CSV as its integer `k`, which must be exact.
fn pixel_byte(value: &str) -> u8 {
    let v: f64 = value.parse().expect("a number");
    let k = v * 16.0;
    assert!(
        k.fract() == 0.0 && (0.0..=16.0).contains(&k),
        "pixel {value} is not k/16 with k in 0..=16"
    );
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked just above
    let k = k as u8;
    k
}

/// The test rows, 65 bytes each.
fn test_rows() -> Vec<u8> {
    let data = csv(&root().join("examples/data/digits.csv"));
    assert_eq!(data.len(), ROWS);
    let mut bytes = Vec::with_capacity((ROWS - FIRST_TEST_ROW) * ROW_BYTES);
    for fields in &data[FIRST_TEST_ROW..] {
        assert_eq!(fields.len(), ROW_BYTES);
        bytes.extend(fields[..64].iter().map(|v| pixel_byte(v)));
        let label: u8 = fields[64].parse().expect("a digit");
        assert!(label < 10);
        bytes.push(label);
    }
    bytes
}

/// The first of the largest probabilities, as the firmware chooses.
fn classify(pixels: &[f32; 64]) -> u8 {
    best(&NET.forward(pixels))
}

/// The first of the largest probabilities, as the firmware breaks ties.
fn best(probabilities: &[f32; 10]) -> u8 {
    let mut best = 0;
    for (digit, p) in probabilities.iter().enumerate() {
        if *p > probabilities[best] {
            best = digit;
        }
    }
    u8::try_from(best).expect("ten classes")
}

/// The host's class for each row of `test_rows.bin`, from its bytes as the firmware reads them.
fn host_predictions(rows: &[u8]) -> Vec<u8> {
    rows.chunks_exact(ROW_BYTES)
        .map(|row| classify(&std::array::from_fn(|i| f32::from(row[i]) / 16.0)))
        .collect()
}

/// The int8 twin's class for each row.
fn host_predictions_int8(rows: &[u8]) -> Vec<u8> {
    rows.chunks_exact(ROW_BYTES)
        .map(|row| best(&QUANTIZED.forward(&std::array::from_fn(|i| f32::from(row[i]) / 16.0))))
        .collect()
}

/// Compares a committed file with what it should hold, or writes it with `UPDATE_EXPECT`.
fn assert_file(path: &Path, expected: &[u8]) {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, expected).expect("writable checkout");
        return;
    }
    let found = std::fs::read(path).unwrap_or_default();
    assert!(
        found == expected,
        "{} is stale ({} bytes, expected {}): bless with `UPDATE_EXPECT=1 cargo test --test it embedded`",
        path.display(),
        found.len(),
        expected.len()
    );
}

fn data_dir() -> PathBuf {
    root().join("examples/cortex-m/data")
}

#[test]
fn firmware_data_is_current() {
    let rows = test_rows();
    assert_eq!(rows.len(), 297 * ROW_BYTES);
    let predictions = host_predictions(&rows);
    assert_file(&data_dir().join("test_rows.bin"), &rows);
    assert_file(&data_dir().join("host_predictions.bin"), &predictions);
    let int8 = host_predictions_int8(&rows);
    let agree = int8
        .iter()
        .zip(&predictions)
        .filter(|(a, b)| a == b)
        .count();
    assert!(
        agree >= 294,
        "the int8 twin agrees with f32 on {agree} of 297 rows"
    );
    assert_file(&data_dir().join("host_predictions_int8.bin"), &int8);
}

/// The pedal's signal: the inputs as `f32` bytes, then PyTorch's outputs as `f64` bytes.
fn pedal_signal() -> Vec<u8> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/recurrent_expected.json"))
        .expect("fixture");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let column = |key: &str| -> Vec<f64> {
        json["amp"][key]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| row[0].as_f64().expect("a number"))
            .collect()
    };
    let (inputs, outputs) = (column("inputs"), column("outputs"));
    assert_eq!((inputs.len(), outputs.len()), (300, 300));
    let mut bytes = Vec::new();
    for x in inputs {
        // The inputs are `f32` values, written exactly.
        #[allow(clippy::cast_possible_truncation)]
        bytes.extend((x as f32).to_le_bytes());
    }
    for y in outputs {
        bytes.extend(y.to_le_bytes());
    }
    bytes
}

#[test]
fn pedal_data_is_current() {
    assert_file(&data_dir().join("pedal_signal.bin"), &pedal_signal());
}

#[test]
fn host_predicts_what_scikit_learn_predicted() {
    let rows = test_rows();
    let predictions = host_predictions(&rows);
    // `digits_predictions.csv`: `row,predicted,p0..p9`, one line for each test row.
    let sklearn = csv(&root().join("examples/data/digits_predictions.csv"));
    assert_eq!(sklearn.len(), ROWS - FIRST_TEST_ROW);
    let mut agree = 0;
    for fields in &sklearn {
        let row: usize = fields[0].parse().expect("a row number");
        let class: u8 = fields[1].parse().expect("a class");
        assert!((FIRST_TEST_ROW..ROWS).contains(&row));
        assert_eq!(predictions[row - FIRST_TEST_ROW], class, "row {row}");
        agree += 1;
    }
    assert_eq!(agree, 297);

    // So the accuracy the firmware prints is scikit-learn's.
    let correct = rows
        .chunks_exact(ROW_BYTES)
        .zip(&predictions)
        .filter(|(row, predicted)| row[64] == **predicted)
        .count();
    let sklearn_correct = sklearn
        .iter()
        .filter(|fields| {
            let row: usize = fields[0].parse().expect("a row number");
            rows[(row - FIRST_TEST_ROW) * ROW_BYTES + 64].to_string() == fields[1]
        })
        .count();
    assert_eq!(correct, sklearn_correct);
    // The firmware prints this: 272 of 297, 91.58%.
    assert_eq!(correct, 272);
}
