//! LeNet-5 (examples/lenet.rs) against onnxruntime: `tests/fixtures/lenet.safetensors` (random
//! weights in `nn.Sequential` numbering, pools and `Flatten` counted) and
//! `lenet_expected.json` (images and onnxruntime's outputs), made by `make_lenet.py`.

use crate::fixtures::{floats, path};
use serde_json::Value;

nn::network! {
    /// LeNet-5, as in examples/lenet.rs.
    pub struct LeNet = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2)
        -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax
        with quantize = int8;
}

/// One image, `[channels, height, width]`.
type Image = [[[f32; 28]; 28]; 1];

/// The images and onnxruntime's outputs, as `f32`.
fn expected() -> (Vec<Image>, Vec<Vec<f32>>) {
    let text = std::fs::read_to_string(path("lenet_expected.json")).expect("lenet_expected.json");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    #[allow(clippy::cast_possible_truncation)] // the values are `f32`s written exactly
    let rows = |key: &str| -> Vec<Vec<f32>> {
        json[key]
            .as_array()
            .expect("an array of samples")
            .iter()
            .map(|row| floats(row).into_iter().map(|v| v as f32).collect())
            .collect()
    };
    let images = rows("inputs")
        .into_iter()
        .map(|values| {
            let mut image = [[[0.0; 28]; 28]; 1];
            image
                .as_flattened_mut()
                .as_flattened_mut()
                .copy_from_slice(&values);
            image
        })
        .collect();
    (images, rows("outputs"))
}

/// Within 1e-5 relative to `max(1, |y|)`.
fn assert_close(actual: &[f32], expected: &[f32], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let tolerance = 1e-5 * e.abs().max(1.0);
        assert!((a - e).abs() <= tolerance, "{what}[{i}]: {a} vs {e}");
    }
}

#[test]
fn forward_matches_onnxruntime() {
    let net = LeNet::from_safetensors_file(path("lenet.safetensors")).expect("the fixture loads");
    let (images, outputs) = expected();
    for (sample, (image, expected)) in images.iter().zip(&outputs).enumerate() {
        assert_close(&net.forward(image), expected, &format!("sample {sample}"));
    }
    let mut batch = vec![[0.0; 10]; images.len()];
    net.forward_batch(&images, &mut batch)
        .expect("one output per image");
    for (sample, (row, image)) in batch.iter().zip(&images).enumerate() {
        assert_eq!(row, &net.forward(image), "forward_batch, sample {sample}");
    }
    // The slice entry point cuts the flat input into the image's rows.
    let mut output = [0.0; 10];
    nn::Network::forward_slice(&*net, images[0].as_flattened().as_flattened(), &mut output)
        .expect("sizes match");
    assert_eq!(output, net.forward(&images[0]));
}

#[test]
fn safetensors_round_trip_in_sequential_numbering() {
    let bytes = std::fs::read(path("lenet.safetensors")).expect("the fixture");
    let net = LeNet::from_safetensors(&bytes).expect("the fixture loads");
    // The same tensors, names and bytes as the Python writer's.
    assert_eq!(net.to_safetensors(), bytes);
}

#[test]
fn summary_shows_shapes_and_kinds() {
    expect_test::expect![[r#"
        LeNet (f32, input [1, 28, 28])
        -------------------------------------------------------------------------
        Layer (type)            Activation        Output shape            Param #
        =========================================================================
        layer0 (Conv2d)         relu              [6, 28, 28]                 156
        layer1 (MaxPool2d)      linear            [6, 14, 14]                   0
        layer2 (Conv2d)         relu              [16, 10, 10]              2,416
        layer3 (MaxPool2d)      linear            [16, 5, 5]                    0
        layer4 (Flatten)        linear            [400]                         0
        layer5 (Dense)          relu              [120]                    48,120
        layer6 (Dense)          relu              [84]                     10,164
        layer7 (Dense)          softmax           [10]                        850
        =========================================================================
        Total params: 61,706 (241.0 KiB of weights)
        -------------------------------------------------------------------------"#]]
    .assert_eq(&LeNet::summary().to_string());
    assert_eq!(<LeNet as nn::Network>::LAYERS[1].tensors, &[]);
    assert_eq!(LeNet::PARAMETERS, 61_706);
}

nn::network! {
    /// The same network with the fixture's weights baked in at compile time.
    pub struct BakedLeNet = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2)
        -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax
        with weights = "tests/fixtures/lenet.safetensors";
}

static BAKED: BakedLeNet = BakedLeNet::BAKED;

#[test]
fn baked_weights_are_the_file_s() {
    let loaded =
        LeNet::from_safetensors_file(path("lenet.safetensors")).expect("the fixture loads");
    let (images, outputs) = expected();
    for (sample, (image, expected)) in images.iter().zip(&outputs).enumerate() {
        let baked = BAKED.forward(image);
        assert_eq!(
            baked.map(f32::to_bits),
            loaded.forward(image).map(f32::to_bits),
            "sample {sample}"
        );
        assert_close(&baked, expected, &format!("baked, sample {sample}"));
    }
}

/// The fixture's images, each also shifted and scaled: calibration samples.
fn calibration_images() -> Vec<Image> {
    let (images, _) = expected();
    let mut samples = Vec::new();
    for image in &images {
        for scale in [0.5_f32, 0.8, 1.0, 1.2] {
            let mut copy = *image;
            for v in copy.as_flattened_mut().as_flattened_mut() {
                *v *= scale;
            }
            samples.push(copy);
        }
    }
    samples
}

#[test]
fn the_int8_twin_runs_convolutions_and_pools_in_integers() {
    let net = LeNet::from_safetensors_file(path("lenet.safetensors")).expect("the fixture loads");
    let samples = calibration_images();
    let int8 =
        LeNetInt8::calibrate(&net, &samples, nn::quant::Calibration::MinMax).expect("calibration");
    // The pools and `flatten` keep their input's quantisation: each layer with weights reads
    // what the previous one wrote.
    assert_eq!(int8.layer2.input(), int8.layer0.output());
    assert_eq!(int8.layer5.input(), int8.layer2.output());
    let mut worst = 0.0_f32;
    for image in &samples {
        let (f, q) = (net.forward(image), int8.forward(image));
        for (f, q) in f.iter().zip(q) {
            worst = worst.max((f - q).abs());
        }
    }
    println!("LeNet int8: largest difference from f32 {worst}");
    assert!(worst <= 0.02, "{worst}");
    // Batches run the convolutions sample by sample and the dense layers on chunks of 64
    // rows: 150 images make two whole chunks and one of 22.
    let many: Vec<Image> = samples.iter().copied().cycle().take(150).collect();
    let mut batch = vec![[0.0; 10]; many.len()];
    int8.forward_batch(&many, &mut batch)
        .expect("one output per image");
    for (row, image) in batch.iter().zip(&many) {
        assert_eq!(row.map(f32::to_bits), int8.forward(image).map(f32::to_bits));
    }
    let bytes = int8.to_safetensors();
    let loaded = LeNetInt8::from_safetensors(&bytes).expect("its own file");
    assert_eq!(loaded.to_safetensors(), bytes);
    assert_eq!(
        loaded.forward(&samples[3]).map(f32::to_bits),
        int8.forward(&samples[3]).map(f32::to_bits)
    );
}
