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
    let bf16 = DigitsBf16::from_network(&net).unwrap();
    let f16 = DigitsHalfF16::from_network(
        &DigitsHalf::from_safetensors_file(weights()).expect("trained weights"),
    )
    .unwrap();
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
    let bf16 = DigitsBf16::from_network(&net).unwrap();
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

nn::network! {
    /// LeNet-5 with a bfloat16 twin, baked from `tests/fixtures/lenet.safetensors` (random
    /// weights; see tests/it/lenet.rs).
    pub struct LeNet = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2)
        -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax
        with quantize = bf16, weights = "tests/fixtures/lenet.safetensors";
}

nn::network! {
    /// The same with a binary16 twin.
    pub struct LeNetHalf = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2)
        -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax
        with quantize = f16;
}

nn::network! {
    /// 1-D convolutions of every geometry, both normalisations, both 1-D pools, a global pool
    /// and activations beyond `relu`.
    pub struct Signal = [4, 40]
        -> conv1d(8, 3, stride = 2, padding = 2, dilation = 2, groups = 2) gelu
        -> batchnorm -> maxpool1d(2) -> dropout(0.2)
        -> conv1d(12, 3, padding = 1, groups = 4) leaky_relu(0.1) -> avgpool1d(2, stride = 1)
        -> layernorm tanh -> conv1d(6, 1) elu -> global_maxpool -> 5 sigmoid
        with quantize = bf16;
}

nn::network! {
    /// The same with a binary16 twin.
    pub struct SignalHalf = [4, 40]
        -> conv1d(8, 3, stride = 2, padding = 2, dilation = 2, groups = 2) gelu
        -> batchnorm -> maxpool1d(2) -> dropout(0.2)
        -> conv1d(12, 3, padding = 1, groups = 4) leaky_relu(0.1) -> avgpool1d(2, stride = 1)
        -> layernorm tanh -> conv1d(6, 1) elu -> global_maxpool -> 5 sigmoid
        with quantize = f16;
}

nn::network! {
    /// `examples/train_digits_cnn.rs`'s network (tests/it/quant.rs), with a bfloat16 twin.
    pub struct DigitsCnn = [1, 8, 8] -> conv2d(8, 3, padding = 1) relu -> maxpool2d(2)
        -> conv2d(16, 3, padding = 1) relu -> flatten -> 64 relu -> 10 softmax as output
        with quantize = bf16;
}

nn::network! {
    /// The same with a binary16 twin.
    pub struct DigitsCnnHalf = [1, 8, 8] -> conv2d(8, 3, padding = 1) relu -> maxpool2d(2)
        -> conv2d(16, 3, padding = 1) relu -> flatten -> 64 relu -> 10 softmax as output
        with quantize = f16;
}

/// The bfloat16 LeNet, rounded while compiling.
static LENET: LeNetBf16 = LeNetBf16::BAKED;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `net` with each weight of its dense layers and convolutions rounded through `round` (what
/// a twin stores); biases and normalisation layers as they are.
fn round_weights<N: nn::Network<Scalar = f32>>(net: &mut N, round: fn(f32) -> f32) {
    net.for_each_tensor_mut(|layer, tensor, values| {
        let rounds = matches!(
            layer.kind,
            nn::LayerKind::Dense | nn::LayerKind::Conv2d | nn::LayerKind::Conv1d
        );
        if rounds && tensor.name == "weight" {
            for value in values {
                *value = round(*value);
            }
        }
    });
}

fn bf16(x: f32) -> f32 {
    nn::Bf16::from_f32(x).to_f32()
}

fn f16(x: f32) -> f32 {
    nn::F16::from_f32(x).to_f32()
}

/// SplitMix64, for test inputs.
struct Random(u64);

impl Random {
    /// A value in `[-bound, bound)`.
    fn uniform(&mut self, bound: f32) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)] // 24 bits, exact
        let unit = (z >> 40) as f32 / (1u64 << 24) as f32;
        (2.0 * unit - 1.0) * bound
    }
}

/// `count` rows of `N` values in `[-1, 1)`, from `seed`.
fn random_values<const N: usize>(seed: u64, count: usize) -> Vec<[f32; N]> {
    let mut rng = Random(seed);
    (0..count)
        .map(|_| std::array::from_fn(|_| rng.uniform(1.0)))
        .collect()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Random LeNet images.
fn images(seed: u64, count: usize) -> Vec<[[[f32; 28]; 28]; 1]> {
    random_values::<784>(seed, count)
        .into_iter()
        .map(|values| {
            let mut image = [[[0.0; 28]; 28]; 1];
            image
                .as_flattened_mut()
                .as_flattened_mut()
                .copy_from_slice(&values);
            image
        })
        .collect()
}

/// Random signals for `Signal`.
fn signals(seed: u64, count: usize) -> Vec<[[f32; 40]; 4]> {
    random_values::<160>(seed, count)
        .into_iter()
        .map(|values| {
            let mut signal = [[0.0; 40]; 4];
            signal.as_flattened_mut().copy_from_slice(&values);
            signal
        })
        .collect()
}

/// Checks that `twin` (through its `forward` and `forward_batch`) gives the bits of `rounded`,
/// the `f32` network holding the rounded weights, on `inputs`; and that its `forward_batch`
/// is within rounding of its `forward`.
macro_rules! assert_same_bits {
    ($twin:expr, $rounded:expr, $inputs:expr, $outputs:literal) => {{
        let (twin, rounded, inputs) = (&$twin, &$rounded, &$inputs);
        let mut batched = vec![[0.0f32; $outputs]; inputs.len()];
        twin.forward_batch(inputs, &mut batched).unwrap();
        let mut expected = vec![[0.0f32; $outputs]; inputs.len()];
        rounded.forward_batch(inputs, &mut expected).unwrap();
        assert_eq!(bits(batched.as_flattened()), bits(expected.as_flattened()));
        for (x, batched) in inputs.iter().zip(&batched) {
            let alone = twin.forward(x);
            assert_eq!(bits(&alone), bits(&rounded.forward(x)), "forward");
            // The f32 network's batched dense kernels sum in another order than one sample's:
            // within rounding of `forward`, as there.
            for (a, b) in alone.iter().zip(batched) {
                assert!((a - b).abs() <= 1e-6, "forward_batch: {a} against {b}");
            }
        }
    }};
}

#[test]
fn lenet_twins_give_the_bits_of_the_rounded_f32_network() {
    let net = LeNet::from_safetensors_file(fixture("lenet.safetensors")).expect("the fixture");
    let inputs = images(7, 40);
    let twin = LeNetBf16::from_network(&net).unwrap();
    let mut rounded = LeNet::from_safetensors_file(fixture("lenet.safetensors")).unwrap();
    round_weights(&mut *rounded, bf16);
    assert_same_bits!(twin, rounded, inputs, 10);
    // Loaded from the f32 network's file, and baked while compiling: the same layers.
    let loaded = LeNetBf16::from_safetensors_file(fixture("lenet.safetensors")).unwrap();
    for x in &inputs {
        let expected = bits(&twin.forward(x));
        assert_eq!(bits(&loaded.forward(x)), expected);
        assert_eq!(bits(&LENET.forward(x)), expected);
    }
    assert_eq!(twin.layer0.weight(), LENET.layer0.weight());
    assert_eq!(twin.layer5.columns(), LENET.layer5.columns());

    let net = LeNetHalf::from_safetensors_file(fixture("lenet.safetensors")).unwrap();
    let twin = LeNetHalfF16::from_network(&net).unwrap();
    let mut rounded = LeNetHalf::from_safetensors_file(fixture("lenet.safetensors")).unwrap();
    round_weights(&mut *rounded, f16);
    assert_same_bits!(twin, rounded, inputs, 10);
    let bytes = std::fs::read(fixture("lenet.safetensors")).unwrap();
    let loaded = LeNetHalfF16::from_safetensors(&bytes).unwrap();
    assert_eq!(loaded.layer2.weight(), twin.layer2.weight());
    assert_eq!(LeNetHalfF16::INPUTS, 784);
    assert_eq!(LeNetHalfF16::OUTPUTS, 10);
    assert_eq!(
        format!("{twin:?}"),
        "LeNetHalfF16 { layer0: HalfConv2d<6, 1, 5, 5, f16>, layer2: HalfConv2d<16, 6, 5, 5, f16>, \
         layer5: HalfDense<400, 120, f16>, layer6: HalfDense<120, 84, f16>, \
         layer7: HalfDense<84, 10, f16> }"
    );
}

/// `net`'s batchnorm running statistics and normalisation weights made random, so that they
/// are not the identity.
fn randomize_norms<N: nn::Network<Scalar = f32>>(net: &mut N, seed: u64) {
    let mut rng = Random(seed);
    net.for_each_tensor_mut(|layer, tensor, values| {
        if !matches!(
            layer.kind,
            nn::LayerKind::BatchNorm1d | nn::LayerKind::LayerNorm
        ) {
            return;
        }
        for value in values {
            let random = rng.uniform(0.5);
            *value = match tensor.name {
                "running_var" | "weight" => 1.0 + random,
                "num_batches_tracked" => *value,
                _ => random,
            };
        }
    });
}

#[test]
fn conv1d_twins_with_norms_give_the_bits_of_the_rounded_f32_network() {
    let inputs = signals(11, 64);
    let mut net = Signal::random(3);
    randomize_norms(&mut *net, 4);
    let twin = SignalBf16::from_network(&net).unwrap();
    let mut rounded = Signal::from_safetensors(&net.to_safetensors()).unwrap();
    round_weights(&mut *rounded, bf16);
    assert_same_bits!(twin, rounded, inputs, 5);
    // The normalisations stay f32: the same layers as the f32 network's.
    assert_eq!(twin.layer1, net.layer1);
    assert_eq!(twin.layer6, net.layer6);
    // The twin is loaded from the f32 network's file.
    let loaded = SignalBf16::from_safetensors(&net.to_safetensors()).unwrap();
    assert_eq!(loaded.layer0, twin.layer0);
    assert_eq!(loaded.layer4, twin.layer4);

    let mut net = SignalHalf::random(5);
    randomize_norms(&mut *net, 6);
    let twin = SignalHalfF16::from_network(&net).unwrap();
    let mut rounded = SignalHalf::from_safetensors(&net.to_safetensors()).unwrap();
    round_weights(&mut *rounded, f16);
    assert_same_bits!(twin, rounded, inputs, 5);
    assert_eq!(SignalHalfF16::INPUTS, 160);
    assert!(format!("{twin:?}").contains("layer0: HalfConv1d<8, 2, 3, f16>"));
}

#[test]
fn convolutional_twins_stay_close_on_the_digits() {
    // `tests/fixtures/digits_cnn.safetensors`: `examples/train_digits_cnn.rs`'s trained weights.
    let path = fixture("digits_cnn.safetensors");
    let net = DigitsCnn::from_safetensors_file(&path).expect("trained weights");
    let bf16 = DigitsCnnBf16::from_safetensors_file(&path).expect("trained weights");
    let f16 = DigitsCnnHalfF16::from_safetensors_file(&path).expect("trained weights");
    let (mut worst_bf16, mut worst_binary16) = (0.0_f32, 0.0_f32);
    let (mut same_bf16, mut same_binary16) = (0, 0);
    let rows = pixels();
    for x in &rows {
        let mut image = [[[0.0; 8]; 8]; 1];
        image
            .as_flattened_mut()
            .as_flattened_mut()
            .copy_from_slice(x);
        let exact = net.forward(&image);
        let (b, h) = (bf16.forward(&image), f16.forward(&image));
        same_bf16 += usize::from(class(&exact) == class(&b));
        same_binary16 += usize::from(class(&exact) == class(&h));
        for ((e, b), h) in exact.iter().zip(b).zip(h) {
            worst_bf16 = worst_bf16.max((e - b).abs());
            worst_binary16 = worst_binary16.max((e - h).abs());
        }
    }
    println!(
        "CNN, largest difference from f32: bf16 {worst_bf16}, f16 {worst_binary16}; same class: \
         bf16 {same_bf16}, f16 {same_binary16} of {}",
        rows.len()
    );
    assert!(worst_bf16 <= 1e-2, "{worst_bf16}");
    assert!(worst_binary16 <= 1e-3, "{worst_binary16}");
    assert!(same_bf16 * 1000 >= 999 * rows.len(), "{same_bf16}");
    assert_eq!(same_binary16, rows.len());
}

nn::network! {
    /// tests/it/norm.rs's `Image` (convolution, batchnorm, pool, layernorm) with a binary16
    /// twin baked from its fixture.
    pub struct NormImage = [3, 12, 12] -> conv2d(8, 3) -> batchnorm relu -> maxpool2d(2)
        -> layernorm -> flatten -> 10 softmax
        with quantize = f16, weights = "tests/fixtures/norm_image.safetensors";
}

/// The binary16 `NormImage`, rounded while compiling; its normalisations baked in `f32`.
static NORM_IMAGE: NormImageF16 = NormImageF16::BAKED;

#[test]
fn baked_twins_keep_normalisation_layers() {
    let twin = NormImageF16::from_safetensors_file(fixture("norm_image.safetensors")).unwrap();
    assert_eq!(twin.layer0, NORM_IMAGE.layer0);
    assert_eq!(twin.layer1, NORM_IMAGE.layer1);
    assert_eq!(twin.layer3, NORM_IMAGE.layer3);
    assert_eq!(twin.layer5, NORM_IMAGE.layer5);
    let mut rounded = NormImage::from_safetensors_file(fixture("norm_image.safetensors")).unwrap();
    round_weights(&mut *rounded, f16);
    let inputs: Vec<[[[f32; 12]; 12]; 3]> = random_values::<432>(13, 9)
        .into_iter()
        .map(|values| {
            let mut image = [[[0.0; 12]; 12]; 3];
            image
                .as_flattened_mut()
                .as_flattened_mut()
                .copy_from_slice(&values);
            image
        })
        .collect();
    assert_same_bits!(NORM_IMAGE, rounded, inputs, 10);
}

nn::network! {
    /// No dense layer, and a shaped output.
    pub struct Shaped = [2, 10] -> conv1d(3, 3, padding = 1) relu -> avgpool1d(2)
        with quantize = bf16;
}

#[test]
fn twins_without_dense_layers_return_shaped_outputs() {
    let net = Shaped::random(9);
    let twin = ShapedBf16::from_network(&net).unwrap();
    let mut rounded = Shaped::from_safetensors(&net.to_safetensors()).unwrap();
    round_weights(&mut *rounded, bf16);
    let inputs: Vec<[[f32; 10]; 2]> = random_values::<20>(10, 7)
        .into_iter()
        .map(|values| {
            let mut x = [[0.0; 10]; 2];
            x.as_flattened_mut().copy_from_slice(&values);
            x
        })
        .collect();
    let mut batched = vec![[[0.0; 5]; 3]; inputs.len()];
    twin.forward_batch(&inputs, &mut batched).unwrap();
    for (x, batched) in inputs.iter().zip(&batched) {
        let alone: [[f32; 5]; 3] = twin.forward(x);
        assert_eq!(
            bits(alone.as_flattened()),
            bits(rounded.forward(x).as_flattened())
        );
        assert_eq!(bits(alone.as_flattened()), bits(batched.as_flattened()));
    }
    assert_eq!((ShapedBf16::INPUTS, ShapedBf16::OUTPUTS), (20, 15));
}

nn::network! {
    /// One dense layer, for weights beyond binary16's range.
    pub struct Wide = 2 -> 1 with quantize = f16, quantize = bf16;
}

#[test]
fn a_weight_beyond_the_format_is_refused_by_from_network_and_the_loader() {
    let mut net = Wide::zeroed();
    net.layer0 = nn::Dense::from_parts([[1.0, 70000.0]], [0.0]);
    let expected =
        "layer `layer0`: tensor `0.weight` holds 7e4 at [0, 1], which rounds to an infinity in f16";
    let error = WideF16::from_network(&net).map(drop).unwrap_err();
    assert_eq!(error.to_string(), expected);
    let file = net.to_safetensors();
    let error = WideF16::from_safetensors(&file).map(drop).unwrap_err();
    assert_eq!(error.to_string(), expected);
    // bfloat16 has nearly `f32`'s range.
    let bf16 = WideBf16::from_safetensors(&file).expect("in range");
    assert_eq!(bf16.forward(&[1.0, 0.0]), [1.0]);
    // Its largest value is 0x7f7f (3.3895314e38); halfway to the next, 0x7f80, is infinity.
    let largest = f32::from_bits(0x7f7f_0000);
    let rounds_up = f32::from_bits(0x7f7f_8000);
    assert!(nn::Bf16::from_f32(rounds_up).to_f32().is_infinite());
    net.layer0 = nn::Dense::from_parts([[largest, rounds_up]], [0.0]);
    let error = WideBf16::from_network(&net).map(drop).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.weight` holds 3.3961775e38 at [0, 1], which rounds to an \
         infinity in bf16"
    );
    net.layer0 = nn::Dense::from_parts([[largest, -largest]], [0.0]);
    let bf16 = WideBf16::from_network(&net).expect("the largest value");
    assert_eq!(bf16.forward(&[1.0, 0.0]), [largest]);
    // The largest weight that stays finite (65519.996 rounds down to 65504) loads.
    net.layer0 = nn::Dense::from_parts([[65519.99, 1.0]], [0.0]);
    let half = WideF16::from_safetensors(&net.to_safetensors()).expect("in range");
    assert_eq!(half.forward(&[1.0, 0.0]), [65504.0]);
}

#[test]
fn twins_count_and_summarise_the_networks_layers() {
    assert_eq!(DigitsBf16::PARAMETERS, Digits::PARAMETERS);
    assert_eq!(LeNetHalfF16::PARAMETERS, LeNetHalf::PARAMETERS);
    let summary = DigitsBf16::summary();
    assert_eq!(
        (summary.name, summary.scalar),
        ("DigitsBf16", "f32, bf16 weights")
    );
    assert_eq!(summary.layers, Digits::summary().layers);
    assert_eq!(summary.parameters(), Digits::PARAMETERS);
    // 2,368 weights in 2 bytes and 42 biases in 4, against 4 bytes each in `f32`.
    assert_eq!(summary.bytes, 2 * 2368 + 4 * 42);
    assert!(summary.bytes <= std::mem::size_of::<DigitsBf16>());
    // LeNet's convolutions and dense layers all round their weights.
    let biases = 6 + 16 + 120 + 84 + 10;
    assert_eq!(
        LeNetHalfF16::summary().bytes,
        2 * (LeNetHalf::PARAMETERS - biases) + 4 * biases
    );
    // Normalisation layers stay `f32`, weights included.
    let (norms, biases) = (2 * 8 + 2 * 12 * 9, 8 + 12 + 6 + 5);
    assert_eq!(
        SignalBf16::summary().bytes,
        2 * (Signal::PARAMETERS - norms - biases) + 4 * (norms + biases)
    );
    assert_eq!(Digits::summary().bytes, 4 * Digits::PARAMETERS);
    assert!(summary.to_string().contains("(4.8 KiB of weights)"));
    assert!(
        Digits::summary()
            .to_string()
            .contains("(9.4 KiB of weights)")
    );
    let text = LeNetHalfF16::summary().to_string();
    assert!(
        text.starts_with("LeNetHalfF16 (f32, f16 weights, input [1, 28, 28])"),
        "{text}"
    );
}

nn::network! {
    /// Every dense layer unrolled (`unroll = full`), with both twins.
    pub struct Unrolled = 6 -> 5 tanh -> 3 with unroll = full, quantize = bf16, quantize = f16;
    /// The same in a sequence network: the per-step dense layers unrolled.
    pub struct UnrolledSequence = 2 -> gru(4) -> 3 relu -> 1
        with unroll = full, quantize = bf16;
}

/// Where the `f32` network unrolls its dense layers, so do the twins (each term's weight
/// widened), so that they keep the bits of the `f32` network holding the rounded weights: the
/// runtime's kernel sums `1 + (2^-24 + 2^-24)`, the unrolled layer `(1 + 2^-24) + 2^-24`.
#[test]
fn twins_of_unrolled_networks_give_the_bits_of_the_rounded_f32_network() {
    let mut net = Unrolled::random(3);
    let tiny = 2f32.powi(-24);
    let input = [tiny, tiny, 0.0, 0.0, 0.0, 0.0];
    let mut columns = [[0.0f32; 5]; 6];
    columns[0][0] = 1.0;
    columns[1][0] = 1.0;
    let mut bias = [0.0f32; 5];
    bias[0] = 1.0;
    net.layer0 = nn::Dense::from_columns(columns, bias);
    let half = UnrolledBf16::from_network(&net).unwrap();
    let wide = half.to_network();
    assert_eq!(bits(&wide.forward(&input)), bits(&half.forward(&input)));
    // The tie: the unrolled sum rounds to 1, the kernel's to 1 + 2^-23.
    assert_eq!(wide.layer0.forward(&input)[0], 1.0 + 2.0 * tiny);

    let net = Unrolled::random(4);
    let half = UnrolledBf16::from_network(&net).unwrap();
    let f16 = UnrolledF16::from_network(&net).unwrap();
    let (wide, wide_f16) = (half.to_network(), f16.to_network());
    for x in random_values::<6>(5, 50) {
        assert_eq!(bits(&wide.forward(&x)), bits(&half.forward(&x)));
        assert_eq!(bits(&wide_f16.forward(&x)), bits(&f16.forward(&x)));
    }

    let net = UnrolledSequence::random(6);
    let half = UnrolledSequenceBf16::from_network(&net).unwrap();
    let wide = half.to_network();
    let (mut a, mut b) = (UnrolledSequenceState::ZERO, UnrolledSequenceState::ZERO);
    for x in random_values::<2>(7, 100) {
        assert_eq!(bits(&wide.step(&mut a, &x)), bits(&half.step(&mut b, &x)));
    }
    // And in chunks of streams.
    let inputs = random_values::<2>(8, 9);
    let (mut a, mut b) = (
        vec![UnrolledSequenceState::ZERO; 9],
        vec![UnrolledSequenceState::ZERO; 9],
    );
    let (mut wide_out, mut half_out) = ([[0.0f32; 1]; 9], [[0.0f32; 1]; 9]);
    for _ in 0..20 {
        wide.step_streams(&mut a, &inputs, &mut wide_out).unwrap();
        half.step_streams(&mut b, &inputs, &mut half_out).unwrap();
        assert_eq!(bits(wide_out.as_flattened()), bits(half_out.as_flattened()));
    }
}
