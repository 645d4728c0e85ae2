//! `batchnorm` and `layernorm` against onnxruntime: `tests/fixtures/norm_*.safetensors` (random
//! weights and running statistics as the `state_dict` of the equivalent `nn.Sequential`,
//! `num_batches_tracked` included, written by the reference writer) and `norm_expected.json`
//! (inputs and onnxruntime's outputs), made by `make_norm.py`.

use crate::fixtures::{bytes, floats, path};
use nn::Error;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::Value;

nn::network! {
    /// Convolution, batchnorm, pool and layernorm on images.
    pub struct Image = [3, 12, 12] -> conv2d(8, 3) -> batchnorm relu -> maxpool2d(2) -> layernorm
        -> flatten -> 10 softmax;

    /// Batchnorm on sequences, with its own `eps`.
    pub struct Sequence = [4, 32] -> conv1d(8, 3) -> batchnorm(eps = 1e-3) relu
        -> global_avgpool -> 3;

    /// Batchnorm and layernorm on vectors.
    pub struct Features = 6 -> 16 -> batchnorm relu -> layernorm(eps = 1e-3) -> 3 softmax;

    /// [`Image`] with the fixture's weights baked in at compile time.
    pub struct BakedImage = [3, 12, 12] -> conv2d(8, 3) -> batchnorm relu -> maxpool2d(2)
        -> layernorm -> flatten -> 10 softmax
        with weights = "tests/fixtures/norm_image.safetensors";

    /// [`Image`] in `f64`.
    pub struct ImageF64 = [3, 12, 12] -> conv2d(8, 3) -> batchnorm relu -> maxpool2d(2)
        -> layernorm -> flatten -> 10 softmax with scalar = f64;

    /// The network of `batchnorm.safetensors`: a BatchNorm1d between two Linear layers, saved
    /// without `num_batches_tracked`, as PyTorch before 0.4.1 saved it.
    pub struct Between = 5 -> 4 -> batchnorm relu -> 3 softmax;

    /// A layer normalisation over a 2-D input, whose weight is a matrix as a dense layer's.
    pub struct OverRows = [4, 6] -> layernorm -> flatten -> 2;

    /// The same, baked from `batchnorm_counter_i8.safetensors`: its counter saved as `I8`
    /// (`make_counter_i8.py`).
    pub struct BetweenCounterI8 = 5 -> 4 -> batchnorm relu -> 3 softmax
        with weights = "tests/fixtures/batchnorm_counter_i8.safetensors";
}

/// An `I8` counter, which the loaders accept as any integer, does not make a file an int8
/// twin's: it bakes (where the macro once refused it as one) and loads, to the same network.
#[test]
fn an_int8_counter_bakes_and_loads() {
    let baked = BetweenCounterI8::BAKED;
    let loaded = BetweenCounterI8::from_safetensors_file(path("batchnorm_counter_i8.safetensors"))
        .expect("loads");
    assert_eq!(baked.layer1.num_batches_tracked(), 7.0);
    assert_eq!(baked.to_safetensors(), loaded.to_safetensors());
    let plain = Between::from_safetensors_file(path("batchnorm.safetensors")).expect("loads");
    let x = [0.5, -1.0, 0.25, 2.0, -0.75];
    assert_eq!(baked.forward(&x), plain.forward(&x));
}

/// One network's inputs (flattened) and onnxruntime's outputs, as `f32`.
fn expected(network: &str) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let text = std::fs::read_to_string(path("norm_expected.json")).expect("norm_expected.json");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    #[allow(clippy::cast_possible_truncation)] // the values are `f32`s written exactly
    let rows = |key: &str| -> Vec<Vec<f32>> {
        json[network][key]
            .as_array()
            .expect("an array of samples")
            .iter()
            .map(|row| floats(row).into_iter().map(|v| v as f32).collect())
            .collect()
    };
    (rows("inputs"), rows("outputs"))
}

/// Within 1e-5 relative to `max(1, |y|)`.
fn assert_close(actual: &[f32], expected: &[f32], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let tolerance = 1e-5 * e.abs().max(1.0);
        assert!((a - e).abs() <= tolerance, "{what}[{i}]: {a} vs {e}");
    }
}

/// A sample of a network, from its flattened values.
fn sample<N: nn::Network<Scalar = f32>>(net: &N, values: &[f32], outputs: usize) -> Vec<f32> {
    let mut output = vec![0.0; outputs];
    net.forward_slice(values, &mut output).expect("sizes match");
    output
}

#[test]
fn image_matches_onnxruntime() {
    let net = Image::from_safetensors_file(path("norm_image.safetensors")).expect("loads");
    let (inputs, outputs) = expected("image");
    let images: Vec<[[[f32; 12]; 12]; 3]> = inputs
        .iter()
        .map(|values| {
            let mut image = [[[0.0; 12]; 12]; 3];
            image
                .as_flattened_mut()
                .as_flattened_mut()
                .copy_from_slice(values);
            image
        })
        .collect();
    for (index, (image, expected)) in images.iter().zip(&outputs).enumerate() {
        let output = net.forward(image);
        assert_close(&output, expected, &format!("sample {index}"));
        assert_eq!(sample(&*net, &inputs[index], 10), output);
    }
    let mut batch = vec![[0.0; 10]; images.len()];
    net.forward_batch(&images, &mut batch)
        .expect("one row each");
    for (row, image) in batch.iter().zip(&images) {
        assert_eq!(row, &net.forward(image));
    }
    // The counter is kept, though inference does not read it.
    assert_eq!(net.layer1.num_batches_tracked(), 1200.0);
}

#[test]
fn sequence_and_features_match_onnxruntime() {
    let sequence =
        Sequence::from_safetensors_file(path("norm_sequence.safetensors")).expect("loads");
    let (inputs, outputs) = expected("sequence");
    for (index, (input, expected)) in inputs.iter().zip(&outputs).enumerate() {
        assert_close(
            &sample(&*sequence, input, 3),
            expected,
            &format!("sequence {index}"),
        );
    }
    let features =
        Features::from_safetensors_file(path("norm_features.safetensors")).expect("loads");
    let (inputs, outputs) = expected("features");
    for (index, (input, expected)) in inputs.iter().zip(&outputs).enumerate() {
        let input: [f32; 6] = input.as_slice().try_into().expect("6 features");
        assert_close(
            &features.forward(&input),
            expected,
            &format!("features {index}"),
        );
    }
    assert_eq!(features.layer1.num_batches_tracked(), 7.0);
}

#[test]
fn safetensors_round_trip_as_the_python_writer_writes() {
    // Byte for byte the reference writer's file: the `I64` counter first, then the `F32`
    // tensors by name.
    for (name, saved) in [
        (
            "norm_image",
            Image::from_safetensors(&bytes("norm_image")).map(|n| n.to_safetensors()),
        ),
        (
            "norm_features",
            Features::from_safetensors(&bytes("norm_features")).map(|n| n.to_safetensors()),
        ),
        // Its global pool is two modules (`AdaptiveAvgPool1d(1)`, `Flatten`): the last Linear
        // is `5`.
        (
            "norm_sequence",
            Sequence::from_safetensors(&bytes("norm_sequence")).map(|n| n.to_safetensors()),
        ),
    ] {
        assert_eq!(saved.expect("loads"), bytes(name), "{name}");
    }
}

#[test]
fn a_file_without_the_counter_loads_and_saves_it_as_zero() {
    let net = Between::from_safetensors(&bytes("batchnorm")).expect("loads");
    assert_eq!(net.layer1.num_batches_tracked(), 0.0);
    assert_eq!(net.layer1.running_var(), &[1.0; 4]);
    let saved = net.to_safetensors();
    let file = safetensors::SafeTensors::deserialize(&saved).expect("a valid file");
    let counter = file.tensor("1.num_batches_tracked").expect("written");
    assert_eq!(counter.dtype(), Dtype::I64);
    assert_eq!(counter.shape(), &[] as &[usize]);
    assert_eq!(counter.data(), &0_i64.to_le_bytes());
    // The rest is the file's.
    let original = bytes("batchnorm");
    let original = safetensors::SafeTensors::deserialize(&original).expect("valid");
    for (name, tensor) in original.tensors() {
        assert_eq!(
            file.tensor(&name).expect("written").data(),
            tensor.data(),
            "{name}"
        );
    }
}

/// A safetensors file of these tensors, by the reference writer.
fn file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views = tensors.iter().map(|(name, dtype, shape, data)| {
        (
            (*name).to_owned(),
            TensorView::new(*dtype, shape.clone(), data).expect("consistent"),
        )
    });
    safetensors::tensor::serialize(views, None).expect("serialisable")
}

/// `Between`'s tensors, with `edit` applied to the batchnorm's.
fn between(edit: impl FnOnce(&mut Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)>)) -> Vec<u8> {
    let floats = |n: usize| vec![0_u8; 4 * n];
    let mut tensors = vec![
        ("0.weight", Dtype::F32, vec![4, 5], floats(20)),
        ("0.bias", Dtype::F32, vec![4], floats(4)),
        ("1.weight", Dtype::F32, vec![4], floats(4)),
        ("1.bias", Dtype::F32, vec![4], floats(4)),
        ("1.running_mean", Dtype::F32, vec![4], floats(4)),
        ("1.running_var", Dtype::F32, vec![4], floats(4)),
        (
            "1.num_batches_tracked",
            Dtype::I64,
            vec![],
            5_i64.to_le_bytes().to_vec(),
        ),
        ("3.weight", Dtype::F32, vec![3, 4], floats(12)),
        ("3.bias", Dtype::F32, vec![3], floats(3)),
    ];
    edit(&mut tensors);
    file(&tensors)
}

/// A `layernorm`'s weight of another 2-D shape is named as any tensor, without the advice on
/// saving a dense layer's `Linear.weight` transposed.
#[test]
fn a_layernorm_matrix_of_another_shape_gets_no_dense_advice() {
    let floats = |n: usize| vec![0_u8; 4 * n];
    let bytes = file(&[
        ("0.weight", Dtype::F32, vec![6, 4], floats(24)),
        ("0.bias", Dtype::F32, vec![4, 6], floats(24)),
        ("2.weight", Dtype::F32, vec![2, 24], floats(48)),
        ("2.bias", Dtype::F32, vec![2], floats(2)),
    ]);
    let error = OverRows::from_safetensors(&bytes).map(|_| ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.weight` has shape [6, 4], expected [4, 6]"
    );
}

fn between_error(bytes: &[u8]) -> Error {
    match Between::from_safetensors(bytes) {
        Ok(_) => panic!("the file does not fit"),
        Err(error) => error,
    }
}

#[test]
fn every_mismatch_names_the_layer_and_tensor() {
    // The counter as any integer or float: accepted.
    for (dtype, data) in [
        (Dtype::I32, 5_i32.to_le_bytes().to_vec()),
        (Dtype::F32, 5_f32.to_le_bytes().to_vec()),
    ] {
        let net = Between::from_safetensors(&between(|t| {
            t[6].1 = dtype;
            t[6].3.clone_from(&data);
        }))
        .expect("a numeric counter");
        assert_eq!(net.layer1.num_batches_tracked(), 5.0);
    }
    let error = between_error(&between(|t| {
        t[6].1 = Dtype::BOOL;
        t[6].3 = vec![1];
    }));
    assert_eq!(
        error.to_string(),
        "layer `layer1`: tensor `1.num_batches_tracked` has dtype BOOL, expected a count: an \
         integer (PyTorch writes I64) or a float"
    );
    let error = between_error(&between(|t| {
        t[6].2 = vec![1];
    }));
    assert_eq!(
        error.to_string(),
        "layer `layer1`: tensor `1.num_batches_tracked` has shape [1], expected []"
    );
    let error = between_error(&between(|t| {
        t[5] = ("1.running_var", Dtype::F32, vec![6], vec![0; 24]);
    }));
    assert_eq!(
        error.to_string(),
        "layer `layer1`: tensor `1.running_var` has shape [6], expected [4]"
    );
    let error = between_error(&between(|t| {
        t.remove(4);
    }));
    assert_eq!(
        error.to_string(),
        "layer `layer1`: missing tensor `1.running_mean` (the file has `1.bias`, \
         `1.num_batches_tracked`, `1.running_var`, `1.weight`)"
    );
    // Running statistics must be floats, as every tensor but the counter.
    let error = between_error(&between(|t| {
        t[5] = ("1.running_var", Dtype::I64, vec![4], vec![0; 32]);
    }));
    assert_eq!(
        error.to_string(),
        "layer `layer1`: tensor `1.running_var` has dtype I64, expected one of F32, F64, F16, BF16"
    );
    let error = between_error(&between(|t| {
        t[4].3 = f32::NAN.to_le_bytes().repeat(4);
    }));
    assert!(
        error
            .to_string()
            .starts_with("layer `layer1`: tensor `1.running_mean` holds NaN at [0]"),
        "{error}"
    );
}

#[test]
fn a_negative_variance_is_refused_unless_allowed() {
    // PyTorch's variances are never negative; a negative one makes its channel NaN.
    let mut variances = [1.0_f32, 0.0, -0.25, 2.0];
    let negative = between(|t| {
        t[5].3 = variances.iter().flat_map(|v| v.to_le_bytes()).collect();
    });
    let error = between_error(&negative);
    assert_eq!(
        error,
        Error::NegativeVariance {
            layer: "layer1",
            tensor: "1.running_var".into(),
            at: vec![2],
            value: "-0.25".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        "layer `layer1`: tensor `1.running_var` holds -0.25 at [2], expected a variance of 0 or \
         more, as PyTorch's always are (opt in with `LoadOptions::allow_non_finite` to load it \
         anyway)"
    );
    let options = nn::io::safetensors::LoadOptions::new().allow_non_finite(true);
    let allowed = nn::io::safetensors::load::<Between>(&negative, options).expect("allowed");
    assert_eq!(allowed.layer1.running_var(), &variances);
    // A negative mean is an ordinary value; a variance of 0 (a constant channel) too.
    variances[2] = 0.25;
    let file = between(|t| {
        t[4].3 = (-1.5_f32).to_le_bytes().repeat(4);
        t[5].3 = variances.iter().flat_map(|v| v.to_le_bytes()).collect();
    });
    Between::from_safetensors(&file).expect("a negative mean");

    // JSON, which has no such option, says so without it.
    let mut json: Value = serde_json::to_value(&*allowed).expect("serialisable");
    assert_eq!(json["layers"][1]["running_var"][2], -0.25);
    let error = serde_json::from_value::<Box<Between>>(json.clone())
        .err()
        .expect("a negative variance");
    assert_eq!(
        error.to_string(),
        "layer `layer1`: tensor `running_var` holds -0.25 at [2], expected a variance of 0 or \
         more, as PyTorch's always are"
    );
    json["layers"][1]["running_var"][2] = 0.25.into();
    json["layers"][0]["bias"][3] = 1e39.into();
    let error = serde_json::from_value::<Box<Between>>(json)
        .err()
        .expect("a bias beyond f32");
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `bias` holds 1e39 at [3], expected finite f32 values"
    );
}

#[test]
fn summary_counts_parameters_not_buffers() {
    // As PyTorch's `sum(p.numel() for p in model.parameters())`: a batchnorm's running
    // statistics and counter are buffers.
    expect_test::expect![[r#"
        Image (f32, input [3, 12, 12])
        -------------------------------------------------------------------------
        Layer (type)            Activation        Output shape            Param #
        =========================================================================
        layer0 (Conv2d)         linear            [8, 10, 10]                 224
        layer1 (BatchNorm2d)    relu              [8, 10, 10]                  16
        layer2 (MaxPool2d)      linear            [8, 5, 5]                     0
        layer3 (LayerNorm)      linear            [8, 5, 5]                   400
        layer4 (Flatten)        linear            [200]                         0
        layer5 (Dense)          softmax           [10]                      2,010
        =========================================================================
        Total params: 2,650 (10.4 KiB of weights)
        -------------------------------------------------------------------------"#]]
    .assert_eq(&Image::summary().to_string());
    assert_eq!(Image::PARAMETERS, 2650);
    let kinds: Vec<String> = <Features as nn::Network>::LAYERS
        .iter()
        .map(|layer| layer.kind.to_string())
        .collect();
    assert_eq!(kinds, ["Dense", "BatchNorm1d", "LayerNorm", "Dense"]);
}

#[test]
fn json_round_trip() {
    let net = Image::from_safetensors(&bytes("norm_image")).expect("loads");
    let json = serde_json::to_string(&*net).expect("serialisable");
    let value: Value = serde_json::from_str(&json).expect("JSON");
    let norm = &value["layers"][1];
    assert_eq!(norm["name"], "layer1");
    assert_eq!(norm["num_batches_tracked"], serde_json::json!([1200.0]));
    assert_eq!(norm["running_var"].as_array().map(Vec::len), Some(8));
    // The layernorm's bias in the sample's shape, `[8, 5, 5]`.
    assert!(value["layers"][3]["bias"][7][4][4].as_f64().is_some());
    let back: Box<Image> = serde_json::from_str(&json).expect("deserialisable");
    assert_eq!(back.to_safetensors(), net.to_safetensors());
}

static BAKED: BakedImage = BakedImage::BAKED;

#[test]
fn baked_weights_are_the_file_s() {
    let loaded = Image::from_safetensors(&bytes("norm_image")).expect("loads");
    let (inputs, outputs) = expected("image");
    for (index, (input, expected)) in inputs.iter().zip(&outputs).enumerate() {
        let baked = sample(&BAKED, input, 10);
        assert_eq!(baked, sample(&*loaded, input, 10), "sample {index}");
        assert_close(&baked, expected, &format!("baked, sample {index}"));
    }
    // Every tensor, the counter included.
    assert_eq!(BAKED.to_safetensors(), bytes("norm_image"));
}

#[test]
fn random_networks_start_as_pytorch_does() {
    let net = Image::random(1);
    assert_eq!(net.layer1.weight(), &[1.0; 8]);
    assert_eq!(net.layer1.bias(), &[0.0; 8]);
    assert_eq!(net.layer1.running_mean(), &[0.0; 8]);
    assert_eq!(net.layer1.running_var(), &[1.0; 8]);
    assert_eq!(net.layer3.weight(), &[[[1.0; 5]; 5]; 8]);
    assert_eq!(net.layer3.bias(), &[[[0.0; 5]; 5]; 8]);
}

#[test]
fn f64_networks_read_f32_files_and_write_f64() {
    let net = ImageF64::from_safetensors(&bytes("norm_image")).expect("loads, widened");
    let (inputs, outputs) = expected("image");
    for (index, (input, expected)) in inputs.iter().zip(&outputs).enumerate() {
        let input: Vec<f64> = input.iter().copied().map(f64::from).collect();
        let mut output = [0.0; 10];
        nn::Network::forward_slice(&*net, &input, &mut output).expect("sizes match");
        // onnxruntime computed in `f32`: the difference is its rounding.
        #[allow(clippy::cast_possible_truncation)]
        let output: Vec<f32> = output.iter().map(|&v| v as f32).collect();
        assert_close(&output, expected, &format!("f64, sample {index}"));
    }
    let saved = net.to_safetensors();
    let file = safetensors::SafeTensors::deserialize(&saved).expect("a valid file");
    assert_eq!(
        file.tensor("1.running_var").expect("written").dtype(),
        Dtype::F64
    );
    let counter = file.tensor("1.num_batches_tracked").expect("written");
    assert_eq!(
        (counter.dtype(), counter.data()),
        (Dtype::I64, &1200_i64.to_le_bytes()[..])
    );
    let again = ImageF64::from_safetensors(&saved).expect("reloads");
    assert_eq!(again.to_safetensors(), saved);
}
