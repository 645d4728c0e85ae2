//! A PyTorch model of nested modules, each layer named by its module path, as its `state_dict`
//! keys are (`tests/fixtures/make_nested.py`): loaded, run against PyTorch's outputs, and saved
//! back under the same keys.

use crate::fixtures::{bytes, floats, path, tensors};
use nn::Network;
use serde_json::Value;

nn::network! {
    /// `encoder = Sequential(Sequential(Linear(6, 8), ReLU()), Linear(8, 4), Tanh())` and
    /// `head = Linear(4, 3)`.
    struct Nested = 6 -> 8 relu as encoder.0.0 -> 4 tanh as encoder.1 -> 3 as head
        with scalar = f64;
}

#[test]
fn module_paths_name_the_layers_of_a_nested_state_dict() {
    let names: Vec<&str> = Nested::LAYERS.iter().map(|layer| layer.name).collect();
    assert_eq!(names, ["encoder.0.0", "encoder.1", "head"]);
    let file = bytes("nested");
    let net = Nested::from_safetensors(&file).expect("PyTorch's keys");
    // The fields are the paths with `_` for `.`.
    assert_eq!(net.encoder_0_0.bias().len(), 8);
    assert_eq!(net.encoder_1.bias().len(), 4);

    let text = std::fs::read_to_string(path("nested_expected.json")).expect("the outputs");
    let expected: Value = serde_json::from_str(&text).expect("JSON");
    let (inputs, outputs) = (&expected["inputs"], &expected["outputs"]);
    for (input, output) in inputs
        .as_array()
        .unwrap()
        .iter()
        .zip(outputs.as_array().unwrap())
    {
        let input: [f64; 6] = floats(input).try_into().expect("6 inputs");
        let found = net.forward(&input);
        for (found, expected) in found.iter().zip(floats(output)) {
            assert!(
                (found - expected).abs() <= 1e-12,
                "{found} against PyTorch's {expected}"
            );
        }
    }
    // Saved under PyTorch's keys, with the same values.
    let saved = net.to_safetensors();
    assert!(tensors(&saved) == tensors(&file), "other keys or values");
}

nn::network! {
    /// A sequence network of a model's submodules.
    struct NestedSequence = 2 -> lstm(4) as model.rnn -> 1 as model.head;
}

#[test]
fn a_sequence_network_s_layers_may_be_paths_too() {
    let net = NestedSequence::random(3);
    let mut state = NestedSequenceState::ZERO;
    let first = net.step(&mut state, &[0.5, -0.5]);
    assert_ne!(
        first,
        net.step(&mut state, &[0.5, -0.5]),
        "the state carries over"
    );
    let saved = net.to_safetensors();
    let file = safetensors::SafeTensors::deserialize(&saved).expect("a safetensors file");
    let mut names: Vec<&str> = file.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "model.head.bias",
            "model.head.weight",
            "model.rnn.bias_hh_l0",
            "model.rnn.bias_ih_l0",
            "model.rnn.weight_hh_l0",
            "model.rnn.weight_ih_l0",
        ]
    );
    let back = NestedSequence::from_safetensors(&saved).expect("its own file");
    assert_eq!(back.model_head.bias(), net.model_head.bias());
}
