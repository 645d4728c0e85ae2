//! Several twins from one declaration (`with quantize = int8, quantize = bf16`): each twin
//! computes the bits of the twin a declaration with that one format makes, from the same `f32`
//! weights, through `forward`, `forward_batch` (and a sequence network's `step`), and baked.

use nn::quant::Calibration;

nn::network! {
    /// An int8 and a bfloat16 twin.
    pub struct Both = 12 -> 9 relu -> 7 tanh -> dropout(0.5) -> 3 softmax
        with quantize = int8, quantize = bf16;

    /// Both half formats, binary16 first.
    pub struct Halves = 12 -> 9 relu -> 7 tanh -> dropout(0.5) -> 3 softmax
        with quantize = f16, quantize = bf16;

    /// All three.
    pub struct Three = 12 -> 9 relu -> 7 tanh -> dropout(0.5) -> 3 softmax
        with quantize = bf16, quantize = f16, quantize = int8;

    /// The same network with one twin each.
    pub struct AloneInt8 = 12 -> 9 relu -> 7 tanh -> dropout(0.5) -> 3 softmax
        with quantize = int8;
    /// A bfloat16 twin alone.
    pub struct AloneBf16 = 12 -> 9 relu -> 7 tanh -> dropout(0.5) -> 3 softmax
        with quantize = bf16;
    /// A binary16 twin alone.
    pub struct AloneF16 = 12 -> 9 relu -> 7 tanh -> dropout(0.5) -> 3 softmax
        with quantize = f16;

    /// A sequence network with both half twins.
    pub struct Steps = 3 -> lstm(8) -> gru(6) -> 2 tanh with quantize = bf16, quantize = f16;
    /// Its bfloat16 twin alone.
    pub struct StepsBf16Alone = 3 -> lstm(8) -> gru(6) -> 2 tanh with quantize = bf16;
    /// Its binary16 twin alone.
    pub struct StepsF16Alone = 3 -> lstm(8) -> gru(6) -> 2 tanh with quantize = f16;

    /// `half.rs`'s baked digits, with both half twins.
    pub struct DigitsTwins = 64 -> 32 relu -> 10 softmax
        with quantize = bf16, quantize = f16, weights = "examples/data/digits.safetensors";

    /// `quant.rs`'s digits baked from a quantised file, with a bfloat16 twin beside.
    pub struct DigitsInt8Twins = 64 -> 32 relu -> 10 softmax
        with quantize = int8, quantize = bf16, weights = "tests/fixtures/digits_int8.safetensors";
}

/// `count` inputs in `[-2, 2)`, a fixed sequence: `recurrent::noise` doubled.
fn inputs<const N: usize>(seed: u64, count: usize) -> Vec<[f32; N]> {
    crate::recurrent::noise(seed, count)
        .into_iter()
        .map(|row| row.map(|v| 2.0 * v))
        .collect()
}

fn bits<const N: usize>(outputs: &[[f32; N]]) -> Vec<[u32; N]> {
    outputs.iter().map(|o| o.map(f32::to_bits)).collect()
}

/// `forward` on each input and `forward_batch` on them all, as bits.
macro_rules! outputs {
    ($net:expr, $inputs:expr) => {{
        let (net, inputs) = (&$net, &$inputs);
        let single: Vec<[f32; 3]> = inputs.iter().map(|x| net.forward(x)).collect();
        let mut batch = vec![[0.0f32; 3]; inputs.len()];
        net.forward_batch(inputs, &mut batch).unwrap();
        (bits(&single), bits(&batch))
    }};
}

#[test]
fn each_twin_of_one_declaration_is_the_twin_declared_alone() {
    let xs = inputs::<12>(3, 300);
    let calibration = &xs[..100];
    let both = Both::random(42);
    let bytes = both.to_safetensors();
    let halves = Halves::from_safetensors(&bytes).unwrap();
    let three = Three::from_safetensors(&bytes).unwrap();
    let alone_int8 = AloneInt8::from_safetensors(&bytes).unwrap();
    let alone_bf16 = AloneBf16::from_safetensors(&bytes).unwrap();
    let alone_binary16 = AloneF16::from_safetensors(&bytes).unwrap();

    let int8 = outputs!(
        AloneInt8Int8::calibrate(&alone_int8, calibration, Calibration::MinMax).unwrap(),
        xs
    );
    let bf16 = outputs!(AloneBf16Bf16::from_network(&alone_bf16).unwrap(), xs);
    let f16 = outputs!(AloneF16F16::from_network(&alone_binary16).unwrap(), xs);
    // The rounded twins differ from each other: the comparisons below can tell them apart.
    assert_ne!(bf16, f16);

    let calibrate = |method| {
        (
            BothInt8::calibrate(&both, calibration, method).unwrap(),
            ThreeInt8::calibrate(&three, calibration, method).unwrap(),
        )
    };
    let (both_int8, three_int8) = calibrate(Calibration::MinMax);
    assert_eq!(outputs!(both_int8, xs), int8);
    assert_eq!(outputs!(three_int8, xs), int8);
    assert_eq!(outputs!(BothBf16::from_network(&both).unwrap(), xs), bf16);
    assert_eq!(
        outputs!(HalvesBf16::from_network(&halves).unwrap(), xs),
        bf16
    );
    assert_eq!(outputs!(HalvesF16::from_network(&halves).unwrap(), xs), f16);
    assert_eq!(outputs!(ThreeBf16::from_network(&three).unwrap(), xs), bf16);
    assert_eq!(outputs!(ThreeF16::from_network(&three).unwrap(), xs), f16);

    // Files too: the twins of one declaration read and write the single-format twins' files.
    let alone = AloneInt8Int8::calibrate(&alone_int8, calibration, Calibration::MinMax).unwrap();
    assert_eq!(both_int8.to_safetensors(), alone.to_safetensors());
    let loaded = BothBf16::from_safetensors(&bytes).unwrap();
    assert_eq!(outputs!(loaded, xs), bf16);
}

#[test]
fn each_twin_of_a_sequence_network_steps_as_declared_alone() {
    let net = Steps::random(9);
    let bytes = net.to_safetensors();
    let bf16_alone =
        StepsBf16AloneBf16::from_network(&StepsBf16Alone::from_safetensors(&bytes).unwrap())
            .unwrap();
    let f16_alone =
        StepsF16AloneF16::from_network(&StepsF16Alone::from_safetensors(&bytes).unwrap()).unwrap();
    let (bf16, f16) = (
        StepsBf16::from_network(&net).unwrap(),
        StepsF16::from_network(&net).unwrap(),
    );
    let mut states = [StepsState::ZERO, StepsState::ZERO];
    let mut alone_bf16 = StepsBf16AloneState::ZERO;
    let mut alone_binary16 = StepsF16AloneState::ZERO;
    let mut differ = false;
    for x in &inputs::<3>(5, 200) {
        let (b, h) = (bf16.step(&mut states[0], x), f16.step(&mut states[1], x));
        assert_eq!(
            b.map(f32::to_bits),
            bf16_alone.step(&mut alone_bf16, x).map(f32::to_bits)
        );
        assert_eq!(
            h.map(f32::to_bits),
            f16_alone.step(&mut alone_binary16, x).map(f32::to_bits)
        );
        differ |= b != h;
    }
    assert!(differ);
}

#[test]
fn baked_twins_of_one_declaration_are_those_declared_alone() {
    let xs = inputs::<64>(7, 200);
    let bf16 = &DigitsTwinsBf16::BAKED;
    let f16 = &DigitsTwinsF16::BAKED;
    let net = &DigitsTwins::BAKED;
    let alone_bf16 = &crate::half::DigitsBf16::BAKED;
    let alone_binary16 = crate::half::DigitsHalfF16::from_network(
        &crate::half::DigitsHalf::from_safetensors(&net.to_safetensors()).unwrap(),
    )
    .unwrap();
    let int8 = &DigitsInt8TwinsInt8::BAKED;
    let alone_int8 = &crate::quant::BakedDigitsInt8::BAKED;
    for x in &xs {
        let bits = |y: [f32; 10]| y.map(f32::to_bits);
        assert_eq!(bits(bf16.forward(x)), bits(alone_bf16.forward(x)));
        assert_eq!(bits(f16.forward(x)), bits(alone_binary16.forward(x)));
        assert_eq!(bits(int8.forward(x)), bits(alone_int8.forward(x)));
    }
}
