//! serde: the documented JSON layout, a round trip, deserialising into a `Box` (also inside a
//! user's struct), and one error per kind of mismatch, naming the layer, expected and found.

// Loading is exact: values are compared bit for bit.
#![allow(clippy::float_cmp)]
// `random` and `zeroed` return `Box<Self>` also for networks this small.
#![allow(clippy::unnecessary_box_returns)]

use crate::fixtures::{Tiny, bytes, expected};

nn::network! {
    /// Small enough to write its JSON out in full.
    pub struct Two = 2 -> 1 sigmoid as out;
}

nn::network! {
    /// `f64` values are written as `f64`.
    pub struct TwoF64 = 2 -> 1 with scalar = f64;
}

#[test]
fn the_json_layout_is_layers_of_name_weights_and_bias() {
    let mut net = Two::zeroed();
    // One neuron, two inputs: two columns of one weight, one row of two in the JSON.
    *net.out.columns_mut() = [[0.5], [-1.25]];
    *net.out.bias_mut() = [0.1];
    let json = serde_json::to_string(&*net).expect("serialisable");
    assert_eq!(
        json,
        r#"{"layers":[{"name":"out","weights":[[0.5,-1.25]],"bias":[0.1]}]}"#
    );

    let mut wide = TwoF64::zeroed();
    *wide.layer0.bias_mut() = [0.1];
    assert_eq!(
        serde_json::to_string(&*wide).expect("serialisable"),
        r#"{"layers":[{"name":"layer0","weights":[[0.0,0.0]],"bias":[0.1]}]}"#
    );
}

#[test]
fn a_network_round_trips_through_json() {
    let net = Tiny::from_safetensors(&bytes("tiny_f32")).expect("F32 file");
    let json = serde_json::to_string_pretty(&*net).expect("serialisable");
    // The JSON holds one row per neuron, as the PyTorch model that wrote the file.
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    for (layer, rows) in expected()["f32"]["weights"]
        .as_array()
        .expect("layers")
        .iter()
        .enumerate()
    {
        let written: Vec<Vec<f32>> =
            serde_json::from_value(value["layers"][layer]["weights"].clone()).expect("rows");
        let numpy: Vec<Vec<f64>> = serde_json::from_value(rows.clone()).expect("rows");
        #[allow(clippy::cast_possible_truncation)] // the fixture's values are f32, widened
        let numpy: Vec<Vec<f32>> = numpy
            .iter()
            .map(|row| row.iter().map(|v| *v as f32).collect())
            .collect();
        assert_eq!(written, numpy, "layer {layer}");
    }
    let back: Box<Tiny> = serde_json::from_str(&json).expect("deserialisable");
    assert_eq!(back.layer0, net.layer0);
    assert_eq!(back.layer1, net.layer1);
}

#[test]
fn a_boxed_network_deserialises_inside_a_struct() {
    #[derive(serde::Deserialize)]
    struct Model {
        version: u32,
        net: Box<Two>,
    }
    let model: Model = serde_json::from_str(
        r#"{"version": 3, "net": {"layers": [{"name": "out", "weights": [[1, 2]], "bias": [-1]}]}}"#,
    )
    .expect("valid");
    assert_eq!(model.version, 3);
    assert_eq!(model.net.out.columns(), &[[1.0], [2.0]]);
    assert_eq!(model.net.out.bias(), &[-1.0]);
}

/// The message of the error deserialising `json` into a `Tiny`.
fn tiny_error(json: &str) -> String {
    match serde_json::from_str::<Box<Tiny>>(json) {
        Ok(_) => panic!("deserialised: {json}"),
        Err(error) => error.to_string(),
    }
}

/// `Tiny`'s JSON with `edit` applied to its value.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let net = Tiny::from_safetensors(&bytes("tiny_f32")).expect("F32 file");
    let mut value = serde_json::to_value(&*net).expect("serialisable");
    edit(&mut value);
    value.to_string()
}

#[test]
fn wrong_shapes_name_the_layer_and_both_shapes() {
    let transposed = edited(|v| {
        let weights = &mut v["layers"][0]["weights"];
        let rows: Vec<Vec<serde_json::Value>> = serde_json::from_value(weights.clone()).unwrap();
        let columns: Vec<Vec<serde_json::Value>> = (0..rows[0].len())
            .map(|c| rows.iter().map(|row| row[c].clone()).collect())
            .collect();
        *weights = serde_json::to_value(columns).unwrap();
    });
    assert!(
        tiny_error(&transposed).starts_with(
            "layer `layer0`: tensor `weights` has shape [5, 4], expected [4, 5] ([outputs, \
             inputs], the layout of PyTorch's `Linear.weight`): the tensor is transposed"
        ),
        "{}",
        tiny_error(&transposed)
    );

    let ragged = edited(|v| {
        v["layers"][1]["weights"][2]
            .as_array_mut()
            .expect("row")
            .pop();
    });
    assert!(
        tiny_error(&ragged).starts_with(
            "layer `layer1`: tensor `weights[2]` has shape [3], expected [4] at line 1"
        ),
        "{}",
        tiny_error(&ragged)
    );

    // An empty list has no rows to measure: its shape is its own length.
    let empty = edited(|v| v["layers"][0]["weights"] = serde_json::json!([]));
    assert!(
        tiny_error(&empty)
            .starts_with("layer `layer0`: tensor `weights` has shape [0], expected [4, 5]"),
        "{}",
        tiny_error(&empty)
    );

    let bias = edited(|v| v["layers"][1]["bias"] = serde_json::json!([1.0, 2.0]));
    assert!(
        tiny_error(&bias)
            .starts_with("layer `layer1`: tensor `bias` has shape [2], expected [3] at line 1"),
        "{}",
        tiny_error(&bias)
    );
}

#[test]
fn wrong_layers_are_rejected() {
    let one = edited(|v| {
        v["layers"].as_array_mut().expect("layers").pop();
    });
    assert!(tiny_error(&one).starts_with("expected 2 layers, found 1"));

    let three = edited(|v| {
        let layers = v["layers"].as_array_mut().expect("layers");
        layers.push(layers[1].clone());
    });
    assert!(tiny_error(&three).starts_with("expected 2 layers, found 3"));

    let renamed = edited(|v| v["layers"][0]["name"] = "hidden".into());
    assert!(
        tiny_error(&renamed)
            .starts_with("layer 0: expected the layer named `layer0`, found `hidden`"),
        "{}",
        tiny_error(&renamed)
    );
}

#[test]
fn unknown_missing_and_non_numeric_fields_are_rejected() {
    let extra = edited(|v| v["layers"][0]["activation"] = "relu".into());
    assert!(
        tiny_error(&extra)
            .starts_with("layer `layer0`: unknown field `activation`, expected one of"),
        "{}",
        tiny_error(&extra)
    );
    let missing = edited(|v| {
        v["layers"][0]
            .as_object_mut()
            .expect("layer")
            .remove("bias");
    });
    assert!(
        tiny_error(&missing).starts_with("layer `layer0`: missing field `bias`"),
        "{}",
        tiny_error(&missing)
    );
    // JSON has no NaN: `serde_json` writes it as `null`, which is not a number.
    let null = edited(|v| v["layers"][0]["bias"][0] = serde_json::Value::Null);
    assert!(
        tiny_error(&null).starts_with(
            "layer `layer0`: field `bias`: invalid type: null, expected f32 at line 1"
        ),
        "{}",
        tiny_error(&null)
    );
    // Its position once: `serde_json` takes it back from the wrapped message's end.
    assert_eq!(tiny_error(&null).matches(" at line ").count(), 1);
    assert!(tiny_error("{}").starts_with("missing field `layers`"));
    // A number beyond `f32`: `serde_json` (with `float_roundtrip`, as here) refuses it where
    // it is written; a format that gives it as an `f64` (`serde_json::Value`, or `serde_json`
    // without that feature) has it named as written, not as the `inf` it would become.
    let huge = edited(|v| v["layers"][0]["bias"][0] = 1e300.into());
    assert!(
        tiny_error(&huge)
            .starts_with("layer `layer0`: field `bias`: number out of range at line 1 column"),
        "{}",
        tiny_error(&huge)
    );
    let value: serde_json::Value = serde_json::from_str(&huge).expect("JSON");
    let Err(error) = serde_json::from_value::<Box<Tiny>>(value) else {
        panic!("read a value beyond f32");
    };
    // An integer is rounded once, to `f32`, not through `f64` (which rounds this one down).
    let integer = edited(|v| v["layers"][0]["bias"][0] = 9_007_199_791_611_905_u64.into());
    let net = serde_json::from_str::<Box<Tiny>>(&integer).expect("a bias in range");
    #[allow(clippy::cast_precision_loss)]
    let once = 9_007_199_791_611_905_u64 as f32;
    assert_eq!(net.layer0.bias()[0], once);
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `bias` holds 1e300 at [0], expected finite f32 values"
    );
}

nn::network! {
    /// 1 MiB of `f32` weights: more than the small stack of the thread below.
    pub struct Square = 512 -> 512 -> 1;
}

#[test]
fn a_large_network_deserialises_on_a_small_stack() {
    let net = Square::random(5);
    let json = serde_json::to_string(&*net).expect("serialisable");
    let back = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || serde_json::from_str::<Box<Square>>(&json).map_err(|e| e.to_string()))
        .expect("thread")
        .join()
        .expect("no stack overflow")
        .expect("deserialisable");
    assert_eq!(back.layer0, net.layer0);
    assert_eq!(back.layer1, net.layer1);
}

nn::network! {
    /// A layer of the most tensors (8 levels of 4), for formats that read a struct's fields
    /// as a sequence of known length.
    pub struct DeepestLstm = 2 -> lstm(3, layers = 8) -> layernorm -> gru(2, layers = 8) -> 1;
}

nn::network! {
    /// The other kinds with tensors.
    pub struct ConvNorm = [2, 6, 6] -> conv2d(3, 3) relu -> batchnorm -> conv2d(2, 1, bias = false)
        -> flatten -> 4 tanh -> 1;
}

#[test]
fn networks_round_trip_through_a_format_without_field_names() {
    // postcard writes a struct as its fields in order, as bincode does: the reader is told how
    // many fields to read, so every tensor of the largest layer must be among them.
    let deep = DeepestLstm::random(1);
    let bytes = postcard::to_allocvec(&*deep).expect("serialisable");
    let back: Box<DeepestLstm> = postcard::from_bytes(&bytes).expect("the same network");
    assert_eq!(back.to_safetensors(), deep.to_safetensors());

    let conv = ConvNorm::random(2);
    let bytes = postcard::to_allocvec(&*conv).expect("serialisable");
    let back: Box<ConvNorm> = postcard::from_bytes(&bytes).expect("the same network");
    assert_eq!(back.to_safetensors(), conv.to_safetensors());
}
