//! int8 twins (`with quantize = int8`): the digits network quantised with calibration on its
//! training rows keeps its accuracy on the test rows; batches, quantised steps and files agree
//! with `forward`; bad files and bad calibration are typed errors. Twins of a 1-D network and
//! of a depthwise one run as their `f32` networks and bake from pinned files.

use crate::fixtures::with_tensor;
use nn::quant::{Calibration, QuantLevel, Quantization, WeightRange};
use std::path::Path;

nn::network! {
    /// 8x8 digits, as `examples/digits.rs` declares them, with an int8 twin.
    pub struct Digits = 64 -> 32 relu -> 10 softmax with quantize = int8;
}

nn::network! {
    /// Every way a hidden layer can end: fused ReLU, `linear`, and activations in `f32`.
    pub struct Mixed = 12 -> 9 tanh -> 7 -> 6 sigmoid -> 5 gelu -> dropout(0.5) -> 3 with quantize = int8;
}

/// `examples/data/digits.csv`: 1797 rows of 64 pixels (0..16) and the digit.
fn digits() -> Vec<([f32; 64], usize)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits.csv");
    let text = std::fs::read_to_string(path).expect("vendored data");
    text.lines()
        .skip(1)
        .map(|line| {
            let values: Vec<f32> = line
                .split(',')
                .map(|v| v.parse().expect("a number"))
                .collect();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            (std::array::from_fn(|i| values[i]), values[64] as usize)
        })
        .collect()
}

fn class(output: &[f32]) -> usize {
    (0..output.len())
        .max_by(|&a, &b| output[a].total_cmp(&output[b]))
        .expect("outputs")
}

fn trained() -> Box<Digits> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits.safetensors");
    Digits::from_safetensors_file(path).expect("trained weights")
}

/// The trained network, its int8 twin and the digits.
type Calibrated = (Box<Digits>, Box<DigitsInt8>, Vec<([f32; 64], usize)>);

fn calibrated(method: Calibration) -> Calibrated {
    let net = trained();
    let rows = digits();
    let samples: Vec<[f32; 64]> = rows[..1500].iter().map(|(x, _)| *x).collect();
    let quantized = DigitsInt8::calibrate(&net, &samples, method).expect("calibration");
    (net, quantized, rows)
}

#[test]
fn int8_digits_keep_their_accuracy_and_classes() {
    let (net, quantized, rows) = calibrated(Calibration::MinMax);
    let test = &rows[1500..];
    let (mut right_f32, mut right_int8, mut agree) = (0, 0, 0);
    for (pixels, digit) in test {
        let (f, q) = (
            class(&net.forward(pixels)),
            class(&quantized.forward(pixels)),
        );
        right_f32 += usize::from(f == *digit);
        right_int8 += usize::from(q == *digit);
        agree += usize::from(f == q);
    }
    let n = test.len();
    println!("f32 {right_f32}/{n}, int8 {right_int8}/{n}, same class {agree}/{n}");
    // The issue's goals: within half a point of f32's accuracy, f32's class on 99% of rows.
    assert!(
        2 * right_f32.abs_diff(right_int8) * 100 <= n,
        "{right_f32} vs {right_int8} of {n}"
    );
    assert!(agree * 100 >= 99 * n, "{agree} of {n}");
}

/// An input holding NaN gives NaN outputs, as the `f32` network's: quantised as it is, NaN
/// would be the zero point, and the twin would answer for another input. Infinities saturate,
/// as ONNX's `QuantizeLinear` does.
#[test]
fn an_input_holding_nan_gives_nan_outputs() {
    let (net, quantized, rows) = calibrated(Calibration::MinMax);
    let mut broken = rows[0].0;
    broken[17] = f32::NAN;
    assert!(net.forward(&broken).iter().all(|p| p.is_nan()));
    assert!(quantized.forward(&broken).iter().all(|p| p.is_nan()));
    let inputs = [rows[1].0, broken, rows[2].0, broken];
    let mut outputs = [[0.0; 10]; 4];
    quantized.forward_batch(&inputs, &mut outputs).unwrap();
    for (input, output) in inputs.iter().zip(&outputs) {
        if input[17].is_nan() {
            assert!(output.iter().all(|p| p.is_nan()));
        } else {
            assert_eq!(*output, quantized.forward(input));
        }
    }
    let mut infinite = rows[0].0;
    infinite[17] = f32::INFINITY;
    assert!(quantized.forward(&infinite).iter().all(|p| p.is_finite()));
}

#[test]
fn int7_weights_keep_the_accuracy_and_every_kernel_s_sums() {
    let net = trained();
    let rows = digits();
    let samples: Vec<[f32; 64]> = rows[..1500].iter().map(|(x, _)| *x).collect();
    let int7 = DigitsInt8::calibrate_with(&net, &samples, Calibration::MinMax, WeightRange::Int7)
        .expect("calibration");
    let (_, int8, _) = calibrated(Calibration::MinMax);
    // Every weight within -64..=64, the largest of each neuron at ±64; the activations'
    // quantisation is int8's (the same calibration).
    for o in 0..32 {
        let row: Vec<i8> = (0..64).map(|i| int7.layer0.weight(o, i)).collect();
        assert!(row.iter().all(|w| (-64..=64).contains(w)), "neuron {o}");
        assert_eq!(row.iter().map(|w| w.unsigned_abs()).max(), Some(64));
    }
    assert_eq!(int7.layer0.input(), int8.layer0.input());
    assert_eq!(int7.layer0.output(), int8.layer0.output());
    // Both layers take `vpmaddubsw` at the `Avx2` level; the 8-bit twin's hidden layer does not.
    assert!(int7.layer0.maddubs_exact() && int7.layer1.maddubs_exact());
    assert!(!int8.layer0.maddubs_exact());
    let test = &rows[1500..];
    let (mut right_f32, mut right_int7, mut agree) = (0, 0, 0);
    for (pixels, digit) in test {
        let (f, q) = (class(&net.forward(pixels)), class(&int7.forward(pixels)));
        right_f32 += usize::from(f == *digit);
        right_int7 += usize::from(q == *digit);
        agree += usize::from(f == q);
        // The `Avx2` level runs these weights with `vpmaddubsw`: the same exact sums as every
        // other level's.
        let steps = int7.input_quantization().quantize_all(pixels);
        let expected = int7.layer0.accumulate_at(QuantLevel::Portable, &steps);
        for level in QuantLevel::ALL.into_iter().filter(|l| l.is_supported()) {
            assert_eq!(
                int7.layer0.accumulate_at(level, &steps),
                expected,
                "{level:?}"
            );
        }
    }
    let n = test.len();
    println!("f32 {right_f32}/{n}, int7 {right_int7}/{n}, same class {agree}/{n}");
    assert!(
        2 * right_f32.abs_diff(right_int7) * 100 <= n,
        "{right_f32} vs {right_int7} of {n}"
    );
    assert!(agree * 100 >= 99 * n, "{agree} of {n}");
}

#[test]
fn percentile_calibration_clips_the_rare_largest_values() {
    let (_, minmax, _) = calibrated(Calibration::MinMax);
    // 99.99, the quantisation guide's example, and a tighter 99.
    for p in [99.99, 99.0] {
        let (net, percentile, rows) = calibrated(Calibration::Percentile(p));
        // The hidden layer's range is narrower than the largest value seen, so its steps finer.
        assert!(percentile.layer0.output().scale < minmax.layer0.output().scale);
        let agree = rows[1500..]
            .iter()
            .filter(|(x, _)| class(&net.forward(x)) == class(&percentile.forward(x)))
            .count();
        assert!(agree * 100 >= 95 * 297, "{p}: {agree} of 297");
    }
}

#[test]
fn batches_and_quantized_steps_agree_with_forward() {
    let (_, quantized, rows) = calibrated(Calibration::MinMax);
    let inputs: Vec<[f32; 64]> = rows.iter().map(|(x, _)| *x).collect();
    let mut outputs = vec![[0.0; 10]; inputs.len()];
    quantized.forward_batch(&inputs, &mut outputs).unwrap();
    let input_q = quantized.input_quantization();
    let output_q = quantized.output_quantization();
    assert_eq!(output_q, Quantization::UNIT, "softmax's fixed quantisation");
    for (x, batched) in inputs.iter().zip(&outputs) {
        let alone = quantized.forward(x);
        assert_eq!(alone.map(f32::to_bits), batched.map(f32::to_bits));
        let steps = quantized.forward_quantized(&input_q.quantize_all(x));
        assert_eq!(steps, output_q.quantize_all(&alone));
    }
    let error = quantized
        .forward_batch(&inputs[..3], &mut outputs[..2])
        .unwrap_err();
    assert!(
        matches!(
            error,
            nn::Error::Batch {
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn the_twin_counts_summarises_and_runs_ndarray_rows() {
    let (_, quantized, rows) = calibrated(Calibration::MinMax);
    assert_eq!(DigitsInt8::PARAMETERS, Digits::PARAMETERS);
    let summary = DigitsInt8::summary();
    assert_eq!((summary.name, summary.scalar), ("DigitsInt8", "int8"));
    assert_eq!(summary.layers, Digits::summary().layers);
    // A byte per weight and 4 per (`i32`) bias, against 4 each in `f32`.
    assert_eq!(summary.bytes, 2368 + 4 * 42);
    assert_eq!(Digits::summary().bytes, 4 * Digits::PARAMETERS);
    let text = summary.to_string();
    assert!(text.starts_with("DigitsInt8 (int8, 64 inputs)"), "{text}");
    assert!(text.contains("(2.5 KiB of weights)"), "{text}");

    let matrix = ndarray::Array2::from_shape_fn((7, 64), |(r, c)| rows[r].0[c]);
    let outputs = quantized.forward_ndarray(matrix.view()).unwrap();
    assert_eq!(outputs.dim(), (7, 10));
    for (r, output) in outputs.rows().into_iter().enumerate() {
        assert_eq!(output.to_vec(), quantized.forward(&rows[r].0).to_vec());
    }
    let narrow = ndarray::Array2::<f32>::zeros((1, 65));
    assert!(matches!(
        quantized.forward_ndarray(narrow.view()),
        Err(nn::Error::Columns {
            expected: 64,
            found: 65,
            ..
        })
    ));
}

#[test]
fn every_activation_path_matches_the_f32_network_closely() {
    let net = Mixed::random(7);
    let samples: Vec<[f32; 12]> = (0..200_u16)
        .map(|s| std::array::from_fn(|i| (f32::from(s) * 0.37 + i as f32 * 1.3).sin()))
        .collect();
    let quantized = MixedInt8::calibrate(&net, &samples, Calibration::MinMax).unwrap();
    assert_eq!(quantized.layer0.output(), Quantization::SIGNED_UNIT);
    assert_eq!(quantized.layer2.output(), Quantization::UNIT);
    let mut worst = 0.0_f32;
    for x in &samples {
        let (f, q) = (net.forward(x), quantized.forward(x));
        for (f, q) in f.iter().zip(q) {
            worst = worst.max((f - q).abs());
        }
    }
    let largest = samples
        .iter()
        .flat_map(|x| net.forward(x))
        .fold(0.0_f32, |m, v| m.max(v.abs()));
    println!("worst difference {worst} for outputs up to {largest}");
    assert!(worst <= 0.05 * largest, "{worst} against {largest}");
    let mut outputs = vec![[0.0; 3]; samples.len()];
    quantized.forward_batch(&samples, &mut outputs).unwrap();
    for (x, batched) in samples.iter().zip(&outputs) {
        assert_eq!(
            quantized.forward(x).map(f32::to_bits),
            batched.map(f32::to_bits)
        );
    }
}

#[test]
fn calibration_errors_are_typed() {
    let net = trained();
    let error = DigitsInt8::calibrate(&net, &[], Calibration::MinMax).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot calibrate: no sample reached the input: calibrate with at least one"
    );
    let mut bad = [0.0_f32; 64];
    bad[3] = f32::NAN;
    let error =
        DigitsInt8::calibrate(&net, &[[0.0; 64], [1.0; 64], bad], Calibration::MinMax).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot calibrate: the input holds NaN on sample 2 (value 3 of 64)"
    );
    let error =
        DigitsInt8::calibrate(&net, &[[0.0; 64]], Calibration::Percentile(10.0)).unwrap_err();
    assert!(error.to_string().contains("(50, 100]"), "{error}");
}

#[test]
fn an_int8_file_is_the_reference_writer_s() {
    let (_, quantized, _) = calibrated(Calibration::MinMax);
    let bytes = quantized.to_safetensors();
    // Byte for byte what the reference writer writes of the same tensors and metadata (its
    // order: its dtypes' order reversed, `F32` scales, `I32` biases, `I8` weights, `U8` zero
    // points).
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).expect("a header");
    let reference = safetensors::tensor::serialize(file.tensors(), metadata.metadata().clone())
        .expect("serialisable");
    assert_eq!(bytes, reference);
}

#[test]
fn files_round_trip_and_name_what_is_wrong() {
    let (_, quantized, rows) = calibrated(Calibration::MinMax);
    let bytes = quantized.to_safetensors();
    let loaded = DigitsInt8::from_safetensors(&bytes).expect("own file");
    for (x, _) in &rows[1500..] {
        assert_eq!(
            quantized.forward(x).map(f32::to_bits),
            loaded.forward(x).map(f32::to_bits)
        );
    }
    assert_eq!(loaded.to_safetensors(), bytes);

    // The f32 network's file is not a quantised one.
    let f32_file = trained().to_safetensors();
    let error = DigitsInt8::from_safetensors(&f32_file).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.weight` has dtype F32, expected I8"
    );
    // Rewrite one header entry's dtype or name, same length, so the file stays well formed.
    let edit = |from: &str, to: &str| {
        let mut edited = bytes.clone();
        let at = edited
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .expect("in the header");
        edited[at..at + to.len()].copy_from_slice(to.as_bytes());
        edited
    };
    // Scales each positive and finite, whose product underflows: every output would be constant.
    let tiny: Vec<u8> = [1e-45_f32; 32]
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let error =
        DigitsInt8::from_safetensors(&with_tensor(&bytes, "0.weight_scale", &tiny)).unwrap_err();
    assert!(
        error.to_string().starts_with(
            "layer `layer0`: tensor `0.weight_scale` holds 1e-45 at index 0: times the input scale"
        ),
        "{error}"
    );
    // A subnormal input scale whose products with the weight scales underflow: the error
    // names it, not them.
    let error = DigitsInt8::from_safetensors(&with_tensor(
        &bytes,
        "0.input_scale",
        &1e-44_f32.to_le_bytes(),
    ))
    .unwrap_err();
    assert!(
        error.to_string().starts_with(
            "layer `layer0`: tensor `0.input_scale` holds 1e-44, below the smallest normal f32: \
             the weight scale"
        ),
        "{error}"
    );
    let mut one_nan = [0.5_f32; 32];
    one_nan[7] = f32::NAN;
    let one_nan: Vec<u8> = one_nan.iter().flat_map(|s| s.to_le_bytes()).collect();
    let error =
        DigitsInt8::from_safetensors(&with_tensor(&bytes, "0.weight_scale", &one_nan)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.weight_scale` holds NaN at index 7, expected a positive, \
         finite scale"
    );
    let error = DigitsInt8::from_safetensors(&edit(r#""2.bias""#, r#""2.bIas""#)).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("layer `layer1`: missing tensor `2.bias`"),
        "{error}"
    );
    // The second layer's input no longer matches the first layer's output.
    let mut first = loaded.layer0.clone();
    let (input, output) = (first.input(), first.output());
    let rows: Vec<i8> = (0..32)
        .flat_map(|o| (0..64).map(move |i| (o, i)))
        .map(|(o, i)| first.weight(o, i))
        .collect();
    let (scales, bias) = (*first.weight_scales(), *first.bias());
    first
        .assign(
            &rows,
            &scales,
            &bias,
            input,
            Quantization::new(output.scale * 2.0, 0),
        )
        .expect("valid parts");
    let file = {
        let mut writer = nn::quant::file::Writer::new();
        writer.layer("0", &first);
        writer.layer("2", &loaded.layer1);
        writer.finish()
    };
    let error = DigitsInt8::from_safetensors(&file).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("layer `layer1`: tensor `2.input_scale` and its zero point are"),
        "{error}"
    );
}

nn::network! {
    /// The digits twin baked from a quantised file (`calibration_gives_the_pinned_twin` writes
    /// it).
    pub struct BakedDigits = 64 -> 32 relu -> 10 softmax
        with quantize = int8, weights = "tests/fixtures/digits_int8.safetensors";
}

/// Baked at compile time: no allocator, no file at run time.
static BAKED: BakedDigitsInt8 = BakedDigitsInt8::BAKED;

/// The layout of a safetensors file: each tensor's name, dtype and shape, sorted.
fn layout(bytes: &[u8]) -> Vec<(String, String, Vec<usize>)> {
    let file = safetensors::SafeTensors::deserialize(bytes).expect("a safetensors file");
    let mut layout: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, format!("{:?}", view.dtype()), view.shape().to_vec()))
        .collect();
    layout.sort();
    layout
}

/// Two quantised dense layers from calibrations of the same `f32` layer: the same weights and
/// weight scales, and the same input quantisation when `exact_input`; otherwise scales within
/// `1e-6` relative, zero points and biases within one step.
fn same_calibration<const IN: usize, const OUT: usize, const GROUPS: usize>(
    pinned: &nn::quant::QuantizedDense<IN, OUT, GROUPS>,
    here: &nn::quant::QuantizedDense<IN, OUT, GROUPS>,
    exact_input: bool,
) {
    for o in 0..OUT {
        for i in 0..IN {
            assert_eq!(pinned.weight(o, i), here.weight(o, i), "weight [{o}, {i}]");
        }
    }
    assert_eq!(pinned.weight_scales(), here.weight_scales());
    let close = |a: Quantization, b: Quantization, what: &str| {
        assert!(
            (a.scale - b.scale).abs() <= 1e-6 * a.scale,
            "{what} scale: {} against {}",
            a.scale,
            b.scale
        );
        assert!(
            a.zero_point.abs_diff(b.zero_point) <= 1,
            "{what} zero point"
        );
    };
    if exact_input {
        assert_eq!(pinned.input(), here.input());
    } else {
        close(pinned.input(), here.input(), "input");
    }
    close(pinned.output(), here.output(), "output");
    for (a, b) in pinned.bias().iter().zip(here.bias()) {
        assert!(a.abs_diff(*b) <= 1, "bias {a} against {b}");
    }
}

#[test]
fn calibration_gives_the_pinned_twin() {
    // The committed file is calibration's output on the machine that wrote it;
    // `NN_BLESS=1 cargo test --test it quant` rewrites it after a deliberate change. Its weights,
    // weight scales and input quantisation come from the `f32` weights and the pixels alone:
    // the same on every CPU. The hidden layer's range is the `f32` network's largest output,
    // whose last bits depend on the CPU's kernel (docs/quantization.md): the scales that
    // follow from it agree within a few ulps, zero points and biases within one step.
    let (_, quantized, _) = calibrated(Calibration::MinMax);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits_int8.safetensors");
    let bytes = quantized.to_safetensors();
    if std::env::var_os("NN_BLESS").is_some() {
        std::fs::write(&path, &bytes).expect("fixture written");
    }
    let file = std::fs::read(&path).expect("fixture");
    assert_eq!(layout(&file), layout(&bytes), "rerun with NN_BLESS=1");
    let pinned = DigitsInt8::from_safetensors(&file).expect("the pinned twin");
    same_calibration(&pinned.layer0, &quantized.layer0, true);
    same_calibration(&pinned.layer1, &quantized.layer1, false);
    // The twin's arithmetic is integer: two twins this close classify the test rows alike.
    let rows = digits();
    let agree = rows[1500..]
        .iter()
        .filter(|(x, _)| class(&pinned.forward(x)) == class(&quantized.forward(x)))
        .count();
    assert!(agree >= 296, "{agree} of 297 rows");
}

#[test]
fn a_baked_twin_computes_what_its_file_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits_int8.safetensors");
    let loaded = BakedDigitsInt8::from_safetensors_file(path).expect("the pinned twin");
    for (x, _) in &digits() {
        assert_eq!(
            BAKED.forward(x).map(f32::to_bits),
            loaded.forward(x).map(f32::to_bits)
        );
    }
    assert_eq!(BAKED.input_quantization(), loaded.input_quantization());
}

#[test]
fn the_twin_computes_what_numpy_computes_with_the_documented_scheme() {
    // tests/fixtures/make_quant_reference.py: the scheme of `nn::quant` written in numpy, run
    // on the pinned file and the 297 test rows.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant_reference.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("JSON");
    let rows = digits();
    assert_eq!(cases.len(), 297);
    let numbers = |value: &serde_json::Value| -> Vec<f64> {
        value
            .as_array()
            .expect("a list")
            .iter()
            .map(|v| v.as_f64().expect("a number"))
            .collect()
    };
    let mut worst = 0.0_f64;
    for ((x, _), case) in rows[1500..].iter().zip(&cases) {
        let steps = BAKED.input_quantization().quantize_all(x);
        let hidden = BAKED
            .layer0
            .forward(&steps, nn::quant::Clamp::relu(BAKED.layer0.output()));
        let expected: Vec<f64> = numbers(&case["hidden"]);
        assert_eq!(hidden.map(f64::from).to_vec(), expected);
        let sums = BAKED.layer1.accumulate(&hidden);
        assert_eq!(sums.map(f64::from).to_vec(), numbers(&case["sums"]));
        for (p, q) in BAKED.forward(x).iter().zip(numbers(&case["probabilities"])) {
            worst = worst.max((f64::from(*p) - q).abs());
        }
    }
    assert!(worst <= 1e-6, "probabilities differ by {worst}");
}

nn::network! {
    /// `examples/train_digits_cnn.rs`'s network, with an int8 twin.
    pub struct DigitsCnn = [1, 8, 8] -> conv2d(8, 3, padding = 1) relu -> maxpool2d(2)
        -> conv2d(16, 3, padding = 1) relu -> flatten -> 64 relu -> 10 softmax as output
        with quantize = int8;
}

#[test]
fn an_int8_convolutional_network_keeps_its_accuracy() {
    // `tests/fixtures/digits_cnn.safetensors`: the weights `cargo run --release --example
    // train_digits_cnn` (seed 0) trains in Rust, 294 of 297 test digits right.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits_cnn.safetensors");
    let net = DigitsCnn::from_safetensors_file(path).expect("trained weights");
    let image = |pixels: &[f32; 64]| -> [[[f32; 8]; 8]; 1] {
        let mut image = [[[0.0; 8]; 8]; 1];
        image
            .as_flattened_mut()
            .as_flattened_mut()
            .copy_from_slice(pixels);
        image
    };
    let rows = digits();
    let training: Vec<_> = rows[..1500].iter().map(|(x, _)| image(x)).collect();
    let int8 = DigitsCnnInt8::calibrate(&net, &training, Calibration::MinMax).expect("calibration");
    let (mut right_f32, mut right_int8, mut agree) = (0, 0, 0);
    for (x, digit) in &rows[1500..] {
        let x = image(x);
        let (f, q) = (class(&net.forward(&x)), class(&int8.forward(&x)));
        right_f32 += usize::from(f == *digit);
        right_int8 += usize::from(q == *digit);
        agree += usize::from(f == q);
    }
    let n = rows.len() - 1500;
    println!("CNN: f32 {right_f32}/{n}, int8 {right_int8}/{n}, same class {agree}/{n}");
    assert_eq!(right_f32, 294);
    assert!(
        2 * right_f32.abs_diff(right_int8) * 100 <= n,
        "{right_f32} vs {right_int8} of {n}"
    );
    assert!(agree * 100 >= 99 * n, "{agree} of {n}");
    // A NaN pixel: NaN out, as from the `f32` network, alone and in a batch.
    let mut broken = image(&rows[1500].0);
    broken[0][3][4] = f32::NAN;
    assert!(net.forward(&broken).iter().all(|p| p.is_nan()));
    assert!(int8.forward(&broken).iter().all(|p| p.is_nan()));
    let batch = [image(&rows[1501].0), broken, image(&rows[1502].0)];
    let mut outputs = [[0.0_f32; 10]; 3];
    int8.forward_batch(&batch, &mut outputs).unwrap();
    assert!(outputs[1].iter().all(|p| p.is_nan()));
    for k in [0, 2] {
        assert_eq!(outputs[k], int8.forward(&batch[k]));
    }
}

nn::network! {
    /// The 1-D sensor network of issue #15, with an int8 twin.
    pub struct Sensor = [8, 128] -> conv1d(16, 5, padding = 2) relu -> conv1d(16, 5, padding = 2) relu
        -> global_avgpool -> 4 softmax with quantize = int8;
}

nn::network! {
    /// Every 1-D kind the twin has: a strided, dilated, grouped convolution, both pools (one
    /// padded), a depthwise convolution, `linear` and `dropout`.
    pub struct Strided1d = [6, 40] -> conv1d(12, 3, stride = 2, padding = 1, dilation = 2, groups = 3) relu
        -> maxpool1d(2) -> conv1d(12, 3, padding = 1, groups = 12) -> avgpool1d(3, stride = 2, padding = 1)
        -> dropout(0.1) -> flatten -> 16 relu -> 5 with quantize = int8;
}

nn::network! {
    /// MobileNet's block: a depthwise convolution, a pointwise one, then a grouped strided one.
    pub struct Depthwise = [3, 12, 12] -> conv2d(8, 3, padding = 1) relu
        -> conv2d(8, 3, padding = 1, groups = 8) relu -> conv2d(16, 1) relu
        -> conv2d(16, 3, stride = 2, groups = 4) relu -> maxpool2d(2) -> global_avgpool
        -> 10 softmax with quantize = int8;
}

/// An input of a network: a nested array of `f32`s, filled in row-major order.
trait Input: Copy {
    /// All zeros.
    const ZERO: Self;
    /// The values in row-major order.
    fn values_mut(&mut self) -> &mut [f32];
}

impl<const N: usize> Input for [f32; N] {
    const ZERO: Self = [0.0; N];
    fn values_mut(&mut self) -> &mut [f32] {
        self
    }
}

impl<const H: usize, const W: usize> Input for [[f32; W]; H] {
    const ZERO: Self = [[0.0; W]; H];
    fn values_mut(&mut self) -> &mut [f32] {
        self.as_flattened_mut()
    }
}

impl<const C: usize, const H: usize, const W: usize> Input for [[[f32; W]; H]; C] {
    const ZERO: Self = [[[0.0; W]; H]; C];
    fn values_mut(&mut self) -> &mut [f32] {
        self.as_flattened_mut().as_flattened_mut()
    }
}

/// `count` random inputs of values in `-1..1`.
fn random_inputs<X: Input>(count: usize, seed: u64) -> Vec<X> {
    // A linear congruential generator's top 24 bits: deterministic, exact in `f32`.
    let mut state = seed;
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 40) as f32 / 8_388_608.0 - 1.0
    };
    (0..count)
        .map(|_| {
            let mut input = X::ZERO;
            for v in input.values_mut() {
                *v = uniform();
            }
            input
        })
        .collect()
}

/// The checks every twin of a shaped network passes, calibrated on the first half of `inputs`
/// both ways: on the second half `forward_batch` gives `forward`'s bits, a file reads back the
/// same twin, and the outputs stay within `tolerance` of the `f32` network's. Returns the
/// twin calibrated with `MinMax`.
macro_rules! twin_checks {
    ($net:expr, $twin:ident, $inputs:expr, $tolerance:expr) => {{
        let (net, inputs) = (&$net, &$inputs);
        let (calibration, checks) = inputs.split_at(inputs.len() / 2);
        let mut first = None;
        for method in [Calibration::MinMax, Calibration::Percentile(99.9)] {
            let int8 = $twin::calibrate(net, calibration, method).expect("calibration");
            let mut batch = vec![[0.0; $twin::OUTPUTS]; checks.len()];
            int8.forward_batch(checks, &mut batch)
                .expect("one output per input");
            let mut worst = 0.0_f32;
            for (x, batched) in checks.iter().zip(&batch) {
                let (f, q) = (net.forward(x), int8.forward(x));
                assert_eq!(batched.map(f32::to_bits), q.map(f32::to_bits));
                for (a, b) in f.iter().zip(&q) {
                    worst = worst.max((a - b).abs());
                }
            }
            println!(
                "{}: {method:?}, largest difference from f32 {worst}",
                stringify!($twin)
            );
            assert!(worst <= $tolerance, "{worst} against {}", $tolerance);
            let bytes = int8.to_safetensors();
            let again = $twin::from_safetensors(&bytes).expect("its own file");
            for x in checks {
                assert_eq!(
                    again.forward(x).map(f32::to_bits),
                    int8.forward(x).map(f32::to_bits)
                );
            }
            first.get_or_insert(int8);
        }
        first.expect("a twin")
    }};
}

/// The sensor network of the tests, with random weights, and its inputs.
fn sensor() -> (Box<Sensor>, Vec<[[f32; 128]; 8]>) {
    let mut net = Sensor::random(15);
    for (o, b) in net.layer0.bias_mut().iter_mut().enumerate() {
        *b = 0.05 * (o as f32 - 8.0);
    }
    let inputs = random_inputs::<[[f32; 128]; 8]>(64, 1);
    (net, inputs)
}

/// An input of `Depthwise`.
type Image = [[[f32; 12]; 12]; 3];

/// The depthwise network of the tests, with random weights, and its inputs.
fn depthwise() -> (Box<Depthwise>, Vec<Image>) {
    let mut net = Depthwise::random(17);
    for (o, b) in net.layer1.bias_mut().iter_mut().enumerate() {
        *b = 0.05 * (o as f32 - 4.0);
    }
    let inputs = random_inputs::<Image>(64, 3);
    (net, inputs)
}

#[test]
fn an_int8_one_d_network_runs_as_its_f32_network() {
    let (net, inputs) = sensor();
    let int8 = twin_checks!(net, SensorInt8, inputs, 0.05);
    // Steps in, steps out: `forward`'s output quantised.
    for x in &inputs[..4] {
        let mut steps = [[0_u8; 128]; 8];
        int8.input_quantization()
            .quantize_slice(x.as_flattened(), steps.as_flattened_mut());
        let expected = int8.output_quantization().quantize_all(&int8.forward(x));
        assert_eq!(int8.forward_quantized(&steps), expected);
    }
    let bytes = int8.to_safetensors();
    let header = String::from_utf8_lossy(&bytes[8..]);
    assert!(
        header.contains(r#""0.weight":{"dtype":"I8","shape":[16,8,5]"#),
        "{header}"
    );
    let debug = format!("{int8:?}");
    assert!(
        debug.contains("layer0: QuantizedConv1d<16, 8, 5>"),
        "{debug}"
    );
    // Another network's file: typed errors naming the layer and tensor.
    let error = Strided1dInt8::from_safetensors(&bytes).unwrap_err();
    assert!(error.to_string().contains("0.weight"), "{error}");

    let mut net = Strided1d::random(16);
    for (o, b) in net.layer0.bias_mut().iter_mut().enumerate() {
        *b = 0.1 * (o as f32 - 6.0);
    }
    let inputs = random_inputs::<[[f32; 40]; 6]>(64, 2);
    let int8 = twin_checks!(net, Strided1dInt8, inputs, 0.1);
    let header = String::from_utf8_lossy(&int8.to_safetensors()[8..]).into_owned();
    // PyTorch's `Conv1d.weight` of a grouped layer: `[out, in / groups, kernel]`.
    assert!(
        header.contains(r#""0.weight":{"dtype":"I8","shape":[12,2,3]"#),
        "{header}"
    );
    assert!(
        header.contains(r#""3.weight":{"dtype":"I8","shape":[12,1,3]"#),
        "{header}"
    );
}

nn::network! {
    /// Every way a max pool follows a 2-D convolution in an int8 twin: a `linear` convolution
    /// with ReLU on its 2x2 pool (odd sizes: 7x7 pooled to 3x3), a grouped one, a padded 3x3
    /// pool of stride 2, and a strided convolution (no direct kernel) before a 2x2 pool.
    pub struct Pooled = [3, 9, 9] -> conv2d(8, 3) -> maxpool2d(2) relu
        -> conv2d(8, 1, groups = 2) relu -> maxpool2d(3, stride = 2, padding = 1)
        -> conv2d(16, 1, stride = 1) relu -> maxpool2d(2) -> flatten -> 6 with quantize = int8;
}

nn::network! {
    /// A strided convolution before a 2x2 pool: the pool after the convolution's own steps.
    pub struct StridedPooled = [2, 12, 12] -> conv2d(6, 3, stride = 2) relu -> maxpool2d(2)
        -> flatten -> dropout(0.2) -> 5 relu -> 3 with quantize = int8;
}

#[test]
fn max_pools_after_convolutions_run_in_their_calls() {
    let inputs = random_inputs::<[[[f32; 9]; 9]; 3]>(80, 3);
    // Three quantised layers of random weights: within 6% of the largest output (3.9); the
    // twin made with each pool a call of its own differs from `f32` by exactly as much.
    let net = Pooled::random(5);
    let largest = inputs
        .iter()
        .flat_map(|x| net.forward(x))
        .fold(0.0_f32, |m, v| m.max(v.abs()));
    twin_checks!(net, PooledInt8, inputs, 0.06 * largest);
    let inputs = random_inputs::<[[[f32; 12]; 12]; 2]>(80, 4);
    twin_checks!(StridedPooled::random(6), StridedPooledInt8, inputs, 0.05);
}

nn::network! {
    /// No layer with weights before the dense ones: the input's quantisation is the first
    /// dense layer's.
    pub struct FlattenFirst = [2, 4, 4] -> flatten -> 12 relu -> 3 with quantize = int8;
}

nn::network! {
    /// A pool first.
    pub struct PoolFirst = [1, 8, 8] -> maxpool2d(2) -> flatten -> 10 relu -> 4 with quantize = int8;
}

nn::network! {
    /// A global pool first.
    pub struct GlobalFirst = [6, 5, 5] -> global_avgpool -> 8 relu -> 3 with quantize = int8;
}

nn::network! {
    /// A dropout with ReLU among a convolutional network's dense layers: `forward_batch` runs
    /// it, so the dense layers before it, sample by sample.
    pub struct DropoutRelu = [1, 6, 6] -> conv2d(3, 3) -> flatten -> 8 -> dropout(0.5) relu -> 4
        with quantize = int8;
}

nn::network! {
    /// The same in a network of dense layers.
    pub struct DenseDropoutRelu = 16 -> 8 -> dropout(0.5) relu -> 4 with quantize = int8;
}

#[test]
fn batches_give_forward_s_bits_whatever_comes_before_the_dense_layers() {
    let flat = random_inputs::<[[[f32; 4]; 4]; 2]>(80, 7);
    twin_checks!(FlattenFirst::random(1), FlattenFirstInt8, flat, 0.05);
    // Enough calibration samples that the others stay within their ranges.
    let pooled = random_inputs::<[[[f32; 8]; 8]; 1]>(1000, 8);
    // (`Percentile(99.9)` clips this random network's largest outputs by up to 0.2.)
    twin_checks!(PoolFirst::random(2), PoolFirstInt8, pooled, 0.25);
    let global = random_inputs::<[[[f32; 5]; 5]; 6]>(400, 9);
    twin_checks!(GlobalFirst::random(3), GlobalFirstInt8, global, 0.05);
    let images = random_inputs::<[[[f32; 6]; 6]; 1]>(200, 10);
    twin_checks!(DropoutRelu::random(4), DropoutReluInt8, images, 0.1);
    let rows = random_inputs::<[f32; 16]>(200, 11);
    twin_checks!(
        DenseDropoutRelu::random(5),
        DenseDropoutReluInt8,
        rows,
        0.05
    );
}

#[test]
fn an_int8_depthwise_network_runs_as_its_f32_network() {
    let (net, inputs) = depthwise();
    let int8 = twin_checks!(net, DepthwiseInt8, inputs, 0.05);
    let header = String::from_utf8_lossy(&int8.to_safetensors()[8..]).into_owned();
    assert!(
        header.contains(r#""2.weight":{"dtype":"I8","shape":[8,1,3,3]"#),
        "{header}"
    );
    assert!(
        header.contains(r#""6.weight":{"dtype":"I8","shape":[16,4,3,3]"#),
        "{header}"
    );
    let debug = format!("{int8:?}");
    assert!(
        debug.contains("layer1: QuantizedConv2d<8, 1, 3, 3>"),
        "{debug}"
    );
}

nn::network! {
    /// `Sensor`'s twin baked from `one_d_and_depthwise_twins_bake`'s file.
    pub struct BakedSensor = [8, 128] -> conv1d(16, 5, padding = 2) relu
        -> conv1d(16, 5, padding = 2) relu -> global_avgpool -> 4 softmax
        with quantize = int8, weights = "tests/fixtures/sensor_int8.safetensors";
}

nn::network! {
    /// `Depthwise`'s twin baked from `one_d_and_depthwise_twins_bake`'s file.
    pub struct BakedDepthwise = [3, 12, 12] -> conv2d(8, 3, padding = 1) relu
        -> conv2d(8, 3, padding = 1, groups = 8) relu -> conv2d(16, 1) relu
        -> conv2d(16, 3, stride = 2, groups = 4) relu -> maxpool2d(2) -> global_avgpool
        -> 10 softmax with quantize = int8, weights = "tests/fixtures/depthwise_int8.safetensors";
}

static BAKED_SENSOR: BakedSensorInt8 = BakedSensorInt8::BAKED;
static BAKED_DEPTHWISE: BakedDepthwiseInt8 = BakedDepthwiseInt8::BAKED;

/// `bytes` against the committed fixture `name` (rewritten with `NN_BLESS=1`).
fn pinned(name: &str, bytes: &[u8]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    if std::env::var_os("NN_BLESS").is_some() {
        std::fs::write(&path, bytes).expect("fixture written");
    }
    assert_eq!(
        std::fs::read(&path).expect("fixture"),
        bytes,
        "rerun with NN_BLESS=1"
    );
}

#[test]
fn one_d_and_depthwise_twins_bake() {
    // Calibration (`MinMax`, on the first half of the inputs) is deterministic: the committed
    // files are its output, and the baked twins compute what they load.
    let (net, inputs) = sensor();
    let int8 = SensorInt8::calibrate(&net, &inputs[..32], Calibration::MinMax).expect("twin");
    pinned("sensor_int8.safetensors", &int8.to_safetensors());
    for x in &inputs {
        let (baked, loaded) = (BAKED_SENSOR.forward(x), int8.forward(x));
        assert_eq!(baked.map(f32::to_bits), loaded.map(f32::to_bits));
    }
    let (net, inputs) = depthwise();
    let int8 = DepthwiseInt8::calibrate(&net, &inputs[..32], Calibration::MinMax).expect("twin");
    pinned("depthwise_int8.safetensors", &int8.to_safetensors());
    for x in &inputs {
        let (baked, loaded) = (BAKED_DEPTHWISE.forward(x), int8.forward(x));
        assert_eq!(baked.map(f32::to_bits), loaded.map(f32::to_bits));
    }
}

nn::network! {
    /// One neuron whose weights are tiny beside its bias, as after weight decay.
    pub struct Tiny = 2 -> 1 relu -> 1 with quantize = int8;
}

#[test]
fn a_bias_beyond_the_sums_room_enlarges_the_weight_scale_and_files_beyond_it_are_refused() {
    let mut net = Tiny::zeroed();
    net.layer0 = nn::Dense::from_parts([[1e-7, 1e-7]], [2.0]);
    net.layer1 = nn::Dense::from_parts([[1.0]], [0.0]);
    let samples: Vec<[f32; 2]> = (0..100)
        .map(|k| [k as f32 / 100.0, 1.0 - k as f32 / 100.0])
        .collect();
    let quantized = TinyInt8::calibrate(&net, &samples, Calibration::MinMax).expect("calibrates");
    // The bias of 2 keeps its value: the sums no longer wrap to a negative ReLU input.
    let step = quantized.layer1.output().scale;
    for x in [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]] {
        let (expected, got) = (net.forward(&x)[0], quantized.forward(&x)[0]);
        assert!(
            (expected - got).abs() <= step,
            "{x:?}: {expected} against {got}"
        );
    }
    let room = i64::from(i32::MAX) - 2 * 255 * 127;
    assert!(i64::from(quantized.layer0.bias()[0]).abs() <= room);

    // A file whose bias leaves no room, or whose weights leave the symmetric range: `assign`
    // refuses such parts, so the test writes them into the file's bytes.
    let valid = quantized.to_safetensors();
    let file = |bias: i32, weight: i8| {
        let file = with_tensor(&valid, "0.bias", &bias.to_le_bytes());
        with_tensor(&file, "0.weight", &[weight.cast_unsigned(), 3])
    };
    let mut layer = quantized.layer0.clone();
    let (input, output, scales) = (layer.input(), layer.output(), *layer.weight_scales());
    for (bias, weight) in [
        (i32::MAX, 3),
        (i32::try_from(room + 1).expect("small"), 3),
        (0, -128),
    ] {
        let error = layer
            .assign(&[weight, 3], &scales, &[bias], input, output)
            .unwrap_err();
        assert!(matches!(error, nn::Error::InvalidParts { .. }), "{error}");
    }
    assert_eq!(
        layer, quantized.layer0,
        "a refused assign leaves the layer as it was"
    );
    // `with_tensor` writes no metadata: a converter's file without it loads.
    assert!(TinyInt8::from_safetensors(&file(1000, 3)).is_ok());
    let beyond = i32::try_from(room + 1).expect("below 2^31");
    for bias in [i32::MAX, i32::MIN, beyond] {
        let error = TinyInt8::from_safetensors(&file(bias, 3)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "layer `layer0`: tensor `0.bias` holds {bias} at index 0, beyond ±{room}: with 2 \
                 inputs the sums could overflow an i32"
            )
        );
    }
    let error = TinyInt8::from_safetensors(&file(1000, -128)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.weight` holds -128 at index 0; symmetric weights are -127..=127"
    );
}

nn::network! {
    /// A tanh hidden layer: its outputs' quantisation is fixed.
    pub struct TanhHidden = 8 -> 6 tanh -> 3 with quantize = int8;
}

nn::network! {
    /// The same shapes with a sigmoid hidden layer.
    pub struct SigmoidHidden = 8 -> 6 sigmoid -> 3 with quantize = int8;
}

#[test]
fn a_file_calibrated_for_another_activation_is_refused() {
    let samples: Vec<[f32; 8]> = (0..50)
        .map(|k| std::array::from_fn(|i| ((k * 7 + i * 3) % 11) as f32 / 5.0 - 1.0))
        .collect();
    let sigmoid =
        SigmoidHiddenInt8::calibrate(&SigmoidHidden::random(1), &samples, Calibration::MinMax)
            .expect("calibrates");
    let tanh = TanhHiddenInt8::calibrate(&TanhHidden::random(1), &samples, Calibration::MinMax)
        .expect("calibrates");
    // Each loads its own file.
    assert!(SigmoidHiddenInt8::from_safetensors(&sigmoid.to_safetensors()).is_ok());
    assert!(TanhHiddenInt8::from_safetensors(&tanh.to_safetensors()).is_ok());
    let error = TanhHiddenInt8::from_safetensors(&sigmoid.to_safetensors()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.output_scale` and its zero point are Quantization { scale: \
         0.00390625, zero_point: 0 }, expected Quantization { scale: 0.0078125, zero_point: 128 \
         }, the fixed quantisation of `tanh` outputs (a file made for another activation?)"
    );
    let error = SigmoidHiddenInt8::from_safetensors(&tanh.to_safetensors()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the fixed quantisation of `sigmoid` outputs"),
        "{error}"
    );
}

#[test]
fn an_int8_file_given_to_the_f32_network_says_what_it_is() {
    let (_, quantized, _) = calibrated(Calibration::MinMax);
    let Err(error) = Digits::from_safetensors(&quantized.to_safetensors()) else {
        panic!("an int8 file loaded into the f32 network");
    };
    assert_eq!(error, nn::Error::QuantizedFile {});
    assert!(
        error
            .to_string()
            .contains("load it with the twin's `from_safetensors`")
    );
}

#[test]
#[allow(clippy::too_many_lines)] // one row per case
fn assign_refuses_parts_of_other_lengths_or_beyond_the_scheme() {
    let mut layer = nn::quant::QuantizedDense::<2, 1, 1>::from_parts(
        &[[5, -7]],
        [0.5],
        [10],
        Quantization::new(0.1, 3),
        Quantization::new(0.2, 0),
    );
    let before = layer.clone();
    let (input, output) = (layer.input(), layer.output());
    #[allow(clippy::type_complexity)] // one row per case, as `assign` takes them
    let cases: [(&[i8], &[f32], &[i32], Quantization, Quantization, &str); 11] = [
        (
            &[1],
            &[0.5],
            &[0],
            input,
            output,
            "the weights are not `[outputs][inputs]`",
        ),
        (
            &[1, 2, 3],
            &[0.5],
            &[0],
            input,
            output,
            "the weights are not `[outputs][inputs]`",
        ),
        (
            &[1, 2],
            &[],
            &[0],
            input,
            output,
            "not one weight scale per output",
        ),
        (
            &[1, 2],
            &[0.5],
            &[0, 0],
            input,
            output,
            "not one bias per output",
        ),
        (&[1, -128], &[0.5], &[0], input, output, "a weight is -128"),
        (
            &[1, 2],
            &[0.0],
            &[0],
            input,
            output,
            "a weight scale is not positive and finite",
        ),
        (
            &[1, 2],
            &[f32::NAN],
            &[0],
            input,
            output,
            "a weight scale is not positive and finite",
        ),
        (
            &[1, 2],
            &[0.5],
            &[0],
            Quantization::new(-1.0, 0),
            output,
            "the input scale",
        ),
        (
            &[1, 2],
            &[0.5],
            &[0],
            input,
            Quantization::new(f32::INFINITY, 0),
            "the output scale",
        ),
        // Each scale positive and finite, their product 0 or infinite in `f32`.
        (
            &[1, 2],
            &[1e-45],
            &[0],
            input,
            output,
            "input scale * weight scale (/ output scale) is 0 or infinite",
        ),
        (
            &[1, 2],
            &[1e30],
            &[0],
            Quantization::new(1e30, 0),
            output,
            "input scale * weight scale (/ output scale) is 0 or infinite",
        ),
    ];
    for (rows, scales, bias, input, output, expected) in cases {
        let error = layer.assign(rows, scales, bias, input, output).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("invalid quantised parts: {expected}")),
            "{error}"
        );
        assert_eq!(layer, before, "a refused assign leaves the layer as it was");
    }
    layer
        .assign(&[1, 2], &[0.25], &[-4], input, output)
        .expect("valid parts");
    assert_eq!((layer.weight(0, 1), layer.bias()[0]), (2, -4));
    assert_eq!(layer.weight_scales()[0].to_bits(), 0.25_f32.to_bits());
}

#[test]
#[should_panic(expected = "a weight is -128")]
fn from_parts_refuses_a_weight_of_minus_128() {
    let _ = nn::quant::QuantizedDense::<2, 1, 1>::from_parts(
        &[[5, -128]],
        [0.5],
        [10],
        Quantization::new(0.1, 3),
        Quantization::new(0.2, 0),
    );
}
