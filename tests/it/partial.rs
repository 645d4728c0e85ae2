//! Loading part of a network, as PyTorch's `load_state_dict(..., strict=False)`
//! (`tests/fixtures/make_partial.py`): a pretrained backbone's file and a head's file, each
//! loaded into the network with `io::safetensors::load_partial`, which reports what it left as
//! it was and what it did not use, and writes nothing when the file does not fit.

use crate::fixtures::{assert_close, bytes, floats, path};
use nn::io::safetensors::{LoadOptions, Partial, load_partial};
use nn::{Error, Network};
use serde_json::Value;

nn::network! {
    /// `Classifier` in the script: `backbone`, an `nn.Sequential`, then `self.head`.
    struct Classifier = 6 -> 8 relu -> 4 tanh -> 2 as head with scalar = f64;

    /// A network with a layer fewer than the backbone.
    struct Shallow = 6 -> 8 relu -> 2 as head with scalar = f64;

    /// A head of another size than the file's.
    struct Wider = 6 -> 8 relu -> 4 tanh -> 3 as head with scalar = f64;
}

/// Every value of `net`, in the order of its visits.
fn values<N: Network<Scalar = f64>>(net: &N) -> Vec<f64> {
    let mut all = Vec::new();
    net.for_each_tensor(|_, _, values| all.extend_from_slice(values));
    all
}

#[test]
fn a_backbone_and_a_head_load_one_after_the_other_into_pytorch_s_model() {
    let mut net = Classifier::random(1);
    let head = (net.head.columns().to_vec(), *net.head.bias());
    let report = load_partial(&mut *net, &bytes("partial_backbone"), LoadOptions::new())
        .expect("the backbone fits");
    assert_eq!(
        report,
        Partial {
            missing: vec!["head.weight".into(), "head.bias".into()],
            unexpected: vec![],
        }
    );
    assert!(!report.is_complete());
    // The head was left as it was.
    assert_eq!((net.head.columns().to_vec(), *net.head.bias()), head);

    let report =
        load_partial(&mut *net, &bytes("partial_head"), LoadOptions::new()).expect("the head fits");
    assert_eq!(
        report.missing,
        ["0.weight", "0.bias", "2.weight", "2.bias"],
        "reported under the keys `save` writes"
    );
    assert!(report.unexpected.is_empty());

    let text = std::fs::read_to_string(path("partial_expected.json")).expect("the outputs");
    let expected: Value = serde_json::from_str(&text).expect("JSON");
    let inputs = expected["inputs"].as_array().expect("inputs");
    let outputs = expected["outputs"].as_array().expect("outputs");
    for (input, output) in inputs.iter().zip(outputs) {
        let input: [f64; 6] = floats(input).try_into().expect("6 inputs");
        let found = net.forward(&input);
        assert_close(
            &found,
            &floats(output),
            1e-12,
            "the whole model against PyTorch's",
        );
    }
}

#[test]
fn tensors_no_layer_takes_are_reported_and_left_out() {
    let mut net = Shallow::random(2);
    let report = load_partial(&mut *net, &bytes("partial_backbone"), LoadOptions::new())
        .expect("loads what fits");
    assert_eq!(report.missing, ["head.weight", "head.bias"]);
    assert_eq!(report.unexpected, ["2.bias", "2.weight"]);
    // The first layer took `0.*`: the same values as a strict load of the same layer gives.
    let strict = Classifier::from_safetensors(&{
        let mut whole = Classifier::random(3);
        load_partial(&mut *whole, &bytes("partial_backbone"), LoadOptions::new()).unwrap();
        whole.to_safetensors()
    })
    .expect("a whole file loads strictly");
    assert_eq!(net.layer0.columns(), strict.layer0.columns());
    assert_eq!(net.layer0.bias(), strict.layer0.bias());
}

#[test]
fn a_tensor_of_another_shape_is_an_error_and_nothing_is_written() {
    let mut net = Wider::random(4);
    let before = values(&*net);
    let error = load_partial(&mut *net, &bytes("partial_head"), LoadOptions::new()).unwrap_err();
    assert!(
        matches!(&error, Error::Shape { layer: "head", tensor, expected, found, .. }
            if tensor == "head.weight" && *expected == [3, 4] && *found == [2, 4]),
        "{error:?}"
    );
    assert_eq!(values(&*net), before, "the network is as it was");
    // The strict loader still refuses an incomplete file.
    let Err(error) = Classifier::from_safetensors(&bytes("partial_backbone")) else {
        panic!("a strict load took a file without the head");
    };
    assert!(
        matches!(error, Error::MissingLayer { layer: "head", .. }),
        "{error:?}"
    );
}

nn::network! {
    /// Three layers, numbered 0, 2 and 4 as `nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)`.
    struct Three = 4 -> 4 relu -> 4 relu -> 4 with scalar = f64;
}

/// `file`'s tensors whose names `keep` accepts, as a file.
fn only(file: &[u8], keep: impl Fn(&str) -> bool) -> Vec<u8> {
    let file = safetensors::SafeTensors::deserialize(file).expect("a safetensors file");
    let kept: Vec<(String, safetensors::tensor::TensorView<'_>)> = file
        .tensors()
        .into_iter()
        .filter(|(name, _)| keep(name))
        .collect();
    safetensors::tensor::serialize(kept, None).expect("serialises")
}

#[test]
fn keys_match_exactly_and_nothing_shifts() {
    let source = Three::random(5);
    // Only the last layer's tensors: they go to the last layer, not the first.
    let last = only(&source.to_safetensors(), |name| name.starts_with("4."));
    let mut net = Three::zeroed();
    let report = load_partial(&mut *net, &last, LoadOptions::new()).expect("fits");
    assert_eq!(report.missing, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert!(report.unexpected.is_empty());
    assert_eq!(net.layer2.columns(), source.layer2.columns());
    assert_eq!(net.layer2.bias(), source.layer2.bias());
    assert!(
        net.layer0.bias().iter().all(|b| *b == 0.0),
        "layer 0 untouched"
    );
    // The strict loader numbers layers by the file's integers instead, and refuses this file.
    let Err(error) = Three::from_safetensors(&last) else {
        panic!("a strict load took a file of one layer of three");
    };
    assert!(matches!(error, Error::MissingLayer { .. }), "{error:?}");
}
