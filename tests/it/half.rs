//! Half-precision twins (`with quantize = bf16` and `f16`): the digits network with its weights
//! rounded to 16 bits stays within 1e-2 of the `f32` network's probabilities and keeps its
//! class but where two probabilities are closer than the rounding moves them; batches, files
//! and baked weights agree.

use std::path::Path;

nn::network! {
    /// 8x8 digits with a bfloat16 twin, its weights baked from the trained file.
    pub struct Digits = 64 -> 32 relu -> 10 softmax
        with quantize = bf16, weights = "examples/data/digits.safetensors";
}

nn::network! {
    /// The same with an IEEE binary16 twin.
    pub struct DigitsHalf = 64 -> 32 relu -> 10 softmax with quantize = f16;
}

/// The bfloat16 twin, rounded while compiling.
static BAKED: DigitsBf16 = DigitsBf16::BAKED;

fn weights() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits.safetensors")
}

/// The 1,797 digits' pixels.
fn pixels() -> Vec<[f32; 64]> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits.csv");
    let text = std::fs::read_to_string(path).expect("vendored data");
    text.lines()
        .skip(1)
        .map(|line| {
            let values: Vec<f32> = line
                .split(',')
                .map(|v| v.parse().expect("a number"))
                .collect();
            std::array::from_fn(|i| values[i])
        })
        .collect()
}

fn class(output: &[f32]) -> usize {
    (0..output.len())
        .max_by(|&a, &b| output[a].total_cmp(&output[b]))
        .expect("outputs")
}

#[test]
fn half_weights_stay_close_and_keep_every_class() {
    let net = Digits::from_safetensors_file(weights()).expect("trained weights");
    let bf16 = DigitsBf16::from_network(&net);
    let f16 = DigitsHalfF16::from_network(
        &DigitsHalf::from_safetensors_file(weights()).expect("trained weights"),
    );
    let (mut worst_bf16, mut worst_binary16) = (0.0_f32, 0.0_f32);
    let (mut other_bf16, mut other_binary16) = (Vec::new(), Vec::new());
    for (row, x) in pixels().iter().enumerate() {
        let exact = net.forward(x);
        let (b, h) = (bf16.forward(x), f16.forward(x));
        if class(&exact) != class(&b) {
            other_bf16.push((row, exact, b));
        }
        if class(&exact) != class(&h) {
            other_binary16.push((row, exact, h));
        }
        for ((e, b), h) in exact.iter().zip(b).zip(h) {
            worst_bf16 = worst_bf16.max((e - b).abs());
            worst_binary16 = worst_binary16.max((e - h).abs());
        }
    }
    println!("largest difference from f32: bf16 {worst_bf16}, f16 {worst_binary16}");
    println!("other classes: bf16 {other_bf16:?}, f16 {other_binary16:?}");
    assert!(worst_bf16 <= 1e-2, "{worst_bf16}");
    assert!(worst_binary16 <= 1e-3, "{worst_binary16}");
    // binary16 keeps every class. bfloat16 (8 significant bits) changes one of 1,797: row
    // 1582, where the f32 network's two largest probabilities (0.348 and 0.344) are closer than
    // twice the largest change of an output, so that no bound on the outputs could keep it.
    assert!(other_binary16.is_empty(), "{other_binary16:?}");
    assert!(other_bf16.len() <= 1, "{other_bf16:?}");
    for (row, exact, _) in &other_bf16 {
        let mut sorted = exact.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        assert!(
            sorted[0] - sorted[1] <= 2.0 * worst_bf16,
            "row {row}: {exact:?}"
        );
    }
}

#[test]
fn weights_are_rounded_to_nearest_and_computed_in_f32() {
    let net = Digits::from_safetensors_file(weights()).expect("trained weights");
    let bf16 = DigitsBf16::from_network(&net);
    for (o, i) in [(0, 0), (5, 17), (31, 63)] {
        let w = net.layer0.weight(o, i);
        let h = bf16.layer0.weight(o, i);
        // The nearest bfloat16: within half a unit of its 8-bit significand.
        assert!((w - h).abs() <= w.abs() * 2f32.powi(-8), "{w} against {h}");
        assert_eq!(h, nn::Bf16::from_f32(w).to_f32());
    }
    // The twin computes what an f32 network holding the rounded weights computes.
    let mut rounded = Digits::from_safetensors_file(weights()).expect("trained weights");
    for (h, w) in rounded
        .layer0
        .columns_mut()
        .as_flattened_mut()
        .iter_mut()
        .zip(bf16.layer0.columns().as_flattened())
    {
        *h = w.to_f32();
    }
    for (h, w) in rounded
        .layer1
        .columns_mut()
        .as_flattened_mut()
        .iter_mut()
        .zip(bf16.layer1.columns().as_flattened())
    {
        *h = w.to_f32();
    }
    for x in pixels().iter().take(50) {
        assert_eq!(
            rounded.forward(x).map(f32::to_bits),
            bf16.forward(x).map(f32::to_bits)
        );
    }
}

#[test]
fn batches_files_and_baked_weights_agree() {
    let from_file = DigitsBf16::from_safetensors_file(weights()).expect("trained weights");
    let inputs = pixels();
    let mut outputs = vec![[0.0; 10]; inputs.len()];
    from_file.forward_batch(&inputs, &mut outputs).unwrap();
    for (x, batched) in inputs.iter().zip(&outputs) {
        let alone = from_file.forward(x);
        assert_eq!(alone.map(f32::to_bits), BAKED.forward(x).map(f32::to_bits));
        for (a, b) in alone.iter().zip(batched) {
            assert!((a - b).abs() <= 1e-6, "{a} against {b}");
        }
    }
    let error = from_file
        .forward_batch(&inputs[..2], &mut outputs[..3])
        .unwrap_err();
    assert!(
        matches!(
            error,
            nn::Error::Batch {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{error:?}"
    );
}
