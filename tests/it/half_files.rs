//! Half-precision twins' files: `to_safetensors` writes, byte for byte, what PyTorch's
//! `safetensors.torch.save_file` writes for the same model with its weights converted to
//! `bfloat16` or `float16` (`tests/fixtures/make_half_files.py`): those weights in 16 bits,
//! biases, normalisation layers, a batchnorm's counter and a causal convolution as they were.
//! The file reads back to the same twin, and `to_network` gives the `f32` network holding the
//! rounded weights.

use crate::fixtures::path;
use crate::half::{
    Digits, DigitsBf16, DigitsHalf, DigitsHalfF16, LeNetHalf, LeNetHalfF16, Signal, SignalBf16,
    Wide, WideBf16, WideF16,
};
use crate::half_sequence::{
    HalfAmp, HalfAmpBf16, HalfAmpState, HalfPlain, HalfPlainBf16, HalfStacked, HalfStackedF16,
    HalfTcn, HalfTcnF16,
};

nn::network! {
    /// Named as the deserializer's type parameter in the generated `Deserialize` impls.
    pub struct D = 3 -> 2 with quantize = bf16;
}

/// The trained digits network's `f32` file.
const DIGITS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/data/digits.safetensors"
);

/// The twin `$twin` made from the `f32` network `$net` loaded from `tests/fixtures/$source`
/// saves `tests/fixtures/$expected` byte for byte, reads it back to itself, and widens back to
/// the `f32` network that file loads into.
macro_rules! saves_as_pytorch {
    ($net:ty, $twin:ty, $source:expr, $expected:literal) => {{
        let net = <$net>::from_safetensors_file($source).unwrap();
        let twin = <$twin>::from_network(&net).unwrap();
        let bytes = twin.to_safetensors();
        let expected = std::fs::read(path($expected)).unwrap();
        assert!(
            bytes == expected,
            "{}: {} bytes against PyTorch's {}; headers:\n{}\n{}",
            $expected,
            bytes.len(),
            expected.len(),
            header(&bytes),
            header(&expected),
        );
        let again = <$twin>::from_safetensors(&bytes).unwrap();
        assert!(again.to_safetensors() == bytes, "{}: read back", $expected);
        let rounded = <$net>::from_safetensors(&expected).unwrap();
        assert!(
            twin.to_network().to_safetensors() == rounded.to_safetensors(),
            "{}: to_network",
            $expected
        );
        twin
    }};
}

/// A safetensors file's JSON header, for a failure's message.
fn header(file: &[u8]) -> String {
    let length = u64::from_le_bytes(file[..8].try_into().unwrap());
    String::from_utf8_lossy(&file[8..8 + usize::try_from(length).unwrap()]).into_owned()
}

#[test]
fn feed_forward_twins_save_what_pytorch_saves() {
    saves_as_pytorch!(Digits, DigitsBf16, DIGITS, "digits_bf16.safetensors");
    saves_as_pytorch!(
        LeNetHalf,
        LeNetHalfF16,
        path("lenet.safetensors"),
        "lenet_f16.safetensors"
    );
    // The batchnorm's and the layernorm's `weight` stay `F32`, its counter `I64`.
    saves_as_pytorch!(
        Signal,
        SignalBf16,
        path("signal.safetensors"),
        "signal_bf16.safetensors"
    );
}

#[test]
fn sequence_twins_save_what_pytorch_saves() {
    saves_as_pytorch!(
        HalfAmp,
        HalfAmpBf16,
        path("recurrent_amp.safetensors"),
        "amp_bf16.safetensors"
    );
    saves_as_pytorch!(
        HalfStacked,
        HalfStackedF16,
        path("recurrent_stacked.safetensors"),
        "stacked_f16.safetensors"
    );
    saves_as_pytorch!(
        HalfPlain,
        HalfPlainBf16,
        path("recurrent_plain.safetensors"),
        "plain_bf16.safetensors"
    );
    // The causal convolutions stay `F32`, as the twin keeps them.
    saves_as_pytorch!(
        HalfTcn,
        HalfTcnF16,
        path("recurrent_tcn.safetensors"),
        "tcn_f16.safetensors"
    );
}

#[test]
fn a_saved_twin_loads_with_the_same_outputs_in_half_the_bytes() {
    let net = DigitsHalf::random(7);
    let twin = DigitsHalfF16::from_network(&net).unwrap();
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("digits_f16.safetensors");
    twin.save_safetensors(&file).unwrap();
    let back = DigitsHalfF16::from_safetensors_file(&file).unwrap();
    let x: [f32; 64] = std::array::from_fn(|i| (i as f32 / 32.0).sin());
    assert_eq!(
        back.forward(&x).map(f32::to_bits),
        twin.forward(&x).map(f32::to_bits)
    );
    // 2,048 + 320 weights in 2 bytes, 42 biases in 4, and the header.
    let size = std::fs::metadata(&file).unwrap().len();
    let data = 2 * (64 * 32 + 32 * 10) + 4 * (32 + 10);
    assert!(
        (data..data + 512).contains(&usize::try_from(size).unwrap()),
        "{size} bytes"
    );
    // The f32 network's `from_safetensors` reads the 16-bit weights too, widened exactly.
    let wide = DigitsHalf::from_safetensors_file(&file).unwrap();
    assert_eq!(wide.to_safetensors(), twin.to_network().to_safetensors());

    let unwritable = twin.save_safetensors(path("no such directory/twin.safetensors"));
    assert!(
        matches!(
            unwritable,
            Err(nn::Error::Io {
                operation: "write",
                ..
            })
        ),
        "{unwritable:?}"
    );
}

#[test]
fn feed_forward_twins_run_ndarray_rows() {
    let net = Digits::random(3);
    let twin = DigitsBf16::from_network(&net).unwrap();
    let rows = ndarray::Array2::from_shape_fn((5, 64), |(r, c)| ((r * 64 + c) % 13) as f32 / 6.0);
    let outputs = twin.forward_ndarray(rows.view()).unwrap();
    assert_eq!(outputs.dim(), (5, 10));
    // `forward_batch`'s bits (which may differ from `forward`'s in the last bits).
    let inputs: Vec<[f32; 64]> = rows
        .rows()
        .into_iter()
        .map(|row| std::array::from_fn(|i| row[i]))
        .collect();
    let mut batched = vec![[0.0; 10]; inputs.len()];
    twin.forward_batch(&inputs, &mut batched).unwrap();
    for (output, batched) in outputs.rows().into_iter().zip(&batched) {
        assert_eq!(output.to_vec(), batched.to_vec());
    }
    let narrow = ndarray::Array2::<f32>::zeros((2, 63));
    assert!(matches!(
        twin.forward_ndarray(narrow.view()),
        Err(nn::Error::Columns {
            expected: 64,
            found: 63,
            ..
        })
    ));
}

#[test]
fn twins_serialise_as_their_f32_network_and_read_back() {
    let net = Digits::from_safetensors_file(DIGITS).unwrap();
    let twin = DigitsBf16::from_network(&net).unwrap();
    let json = serde_json::to_string(&twin).unwrap();
    // The `f32` network's layout, holding the rounded weights.
    assert_eq!(json, serde_json::to_string(&*twin.to_network()).unwrap());
    let back: Box<DigitsBf16> = serde_json::from_str(&json).unwrap();
    assert!(back.to_safetensors() == twin.to_safetensors());
    // The `f32` network's own JSON rounds to the same twin.
    let from_wide: Box<DigitsBf16> =
        serde_json::from_str(&serde_json::to_string(&*net).unwrap()).unwrap();
    assert!(from_wide.to_safetensors() == twin.to_safetensors());
    let d = DBf16::from_network(&D::random(2)).unwrap();
    let back: Box<DBf16> = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    assert!(back.to_safetensors() == d.to_safetensors());

    // A sequence twin: its recurrent matrices and biases, and the same steps after reading.
    let amp = HalfAmp::from_safetensors_file(path("recurrent_amp.safetensors")).unwrap();
    let twin = HalfAmpBf16::from_network(&amp).unwrap();
    let back: Box<HalfAmpBf16> =
        serde_json::from_str(&serde_json::to_string(&twin).unwrap()).unwrap();
    assert!(back.to_safetensors() == twin.to_safetensors());
    let (mut state, mut again) = (HalfAmpState::ZERO, HalfAmpState::ZERO);
    for t in 0..64 {
        let x = [(t as f32 / 5.0).sin()];
        assert_eq!(
            twin.step(&mut state, &x).map(f32::to_bits),
            back.step(&mut again, &x).map(f32::to_bits)
        );
    }
}

#[test]
fn deserialising_a_twin_checks_the_layout_and_the_range() {
    let mut net = Wide::zeroed();
    net.layer0 = nn::Dense::from_parts([[70000.0, 1.0]], [0.0]);
    let json = serde_json::to_string(&*net).unwrap();
    let error = serde_json::from_str::<Box<WideF16>>(&json).unwrap_err();
    assert!(
        error.to_string().starts_with(
            "layer `layer0`: tensor `weights` holds 7e4 at [0, 0], which rounds to an infinity \
             in f16"
        ),
        "{error}"
    );
    // bfloat16 has nearly `f32`'s range.
    let bf16: Box<WideBf16> = serde_json::from_str(&json).unwrap();
    assert_eq!(bf16.forward(&[0.0, 1.0]), [1.0]);
    // The `f32` network's checks come first: a wrong shape is named as for `Box<Wide>`.
    let narrow = r#"{"layers": [{"name": "layer0", "weights": [[1.0]], "bias": [0.0]}]}"#;
    let twin = serde_json::from_str::<Box<WideF16>>(narrow).unwrap_err();
    let wide = serde_json::from_str::<Box<Wide>>(narrow)
        .map(drop)
        .unwrap_err();
    assert_eq!(twin.to_string(), wide.to_string());
    assert!(twin.to_string().contains("shape"), "{twin}");
}
