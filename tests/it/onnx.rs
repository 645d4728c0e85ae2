//! Imported ONNX models against onnxruntime: each declaration `nn-onnx` wrote
//! (`onnx/tests/fixtures/<model>.nn`, which nn-onnx's tests check is what import writes today)
//! compiled with `network_file!`, loaded with the weights it wrote, and run on the inputs of
//! `onnx/tests/fixtures/expected.json` (made by `make_fixtures.py`,
//! `make_recurrent_fixtures.py` and `make_dynamo_fixtures.py` with onnxruntime). A sequence model's entry holds streams of
//! steps, which `forward_slice` runs as consecutive steps of a fresh stream; a model marked
//! `last_step` returns one output per stream, the network's at the stream's last step.

use crate::fixtures::floats;
use nn::Network;
use serde_json::Value;
use std::path::PathBuf;

/// `onnx/tests/fixtures/<name>`.
fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("onnx/tests/fixtures")
        .join(name)
}

/// Runs `N` on the model's inputs and compares with onnxruntime's outputs within 1e-5 relative
/// to `max(1, |y|)`.
fn check<N: Network<Scalar = f32>>(net: &N, model: &str) {
    let text = std::fs::read_to_string(path("expected.json")).expect("expected.json");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    let case = &json[format!("{model}.onnx")];
    let (inputs, outputs) = (case["inputs"].as_array(), case["outputs"].as_array());
    let (inputs, outputs) = (inputs.expect("inputs"), outputs.expect("outputs"));
    assert!(!inputs.is_empty());
    let last_step = case["last_step"].as_bool().unwrap_or(false);
    for (sample, (input, expected)) in inputs.iter().zip(outputs).enumerate() {
        #[allow(clippy::cast_possible_truncation)] // the values are `f32`s written exactly
        let input: Vec<f32> = floats(input).into_iter().map(|v| v as f32).collect();
        let expected = floats(expected);
        let steps = input.len() / N::INPUTS;
        let width = if last_step {
            steps * N::OUTPUTS
        } else {
            expected.len()
        };
        let mut output = vec![0.0; width];
        net.forward_slice(&input, &mut output)
            .unwrap_or_else(|e| panic!("{model}: {e}"));
        let compared = if last_step {
            assert!(steps > 1, "{model}: a stream of {steps} steps");
            &output[output.len() - N::OUTPUTS..]
        } else {
            &output[..]
        };
        assert_eq!(compared.len(), expected.len(), "{model}: outputs");
        for (i, (a, e)) in compared.iter().zip(&expected).enumerate() {
            let tolerance = 1e-5 * e.abs().max(1.0);
            assert!(
                (f64::from(*a) - e).abs() <= tolerance,
                "{model}, sample {sample}, output {i}: {a} vs onnxruntime's {e}"
            );
        }
    }
}

macro_rules! imported {
    ($($test:ident: $module:ident::$name:ident from $model:literal, $file:literal;)*) => {
        $(
            mod $module {
                nn::network_file!($file);
            }

            #[test]
            fn $test() {
                let file = path(concat!($model, ".safetensors"));
                let net = $module::$name::from_safetensors_file(&file)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                check(&*net, $model);
            }
        )*
    };
}

imported! {
    gemm_matmul_and_vector_activations: mlp::Mlp from "mlp", "onnx/tests/fixtures/mlp.nn";
    conv_batchnorm_pools_and_erf_gelu: conv::Conv from "conv", "onnx/tests/fixtures/conv.nn";
    conv1d_grouped_and_global_max_pool: conv1d::Conv1d from "conv1d", "onnx/tests/fixtures/conv1d.nn";
    opset_20_gelu: gelu20::Gelu20 from "gelu20", "onnx/tests/fixtures/gelu20.nn";
    local_functions: function::Function from "function", "onnx/tests/fixtures/function.nn";
    opset_9_flatten_and_batchnorm: opset9::Opset9 from "opset9", "onnx/tests/fixtures/opset9.nn";
    sklearn_mlp_classifier: sklearn_mlp::SklearnMlp from "sklearn_mlp", "onnx/tests/fixtures/sklearn_mlp.nn";
    torch_lenet_with_view_silu_gelu_batchnorm: torch_lenet::TorchLenet from "torch_lenet", "onnx/tests/fixtures/torch_lenet.nn";
    torch_modules_as_functions: torch_functions::TorchFunctions from "torch_functions", "onnx/tests/fixtures/torch_functions.nn";
    torch_lstm_batch_first_then_linear_per_step: torch_lstm::TorchLstm from "torch_lstm", "onnx/tests/fixtures/torch_lstm.nn";
    torch_gru_two_levels_as_one_layer: torch_gru::TorchGru from "torch_gru", "onnx/tests/fixtures/torch_gru.nn";
    torch_relu_rnn_steps_first_fixed_sizes: torch_rnn::TorchRnn from "torch_rnn", "onnx/tests/fixtures/torch_rnn.nn";
    torch_lstm_steps_as_rows_for_gemm: torch_lstm_rows::TorchLstmRows from "torch_lstm_rows", "onnx/tests/fixtures/torch_lstm_rows.nn";
    default_exporter_gru_with_reshapes: dynamo_gru::DynamoGru from "dynamo_gru", "onnx/tests/fixtures/dynamo_gru.nn";
    torch_two_lstms_batch_first_dynamic_batch: torch_stacked::TorchStacked from "torch_stacked", "onnx/tests/fixtures/torch_stacked.nn";
    default_exporter_two_lstms_named_by_module: dynamo_stacked::DynamoStacked from "dynamo_stacked", "onnx/tests/fixtures/dynamo_stacked.nn";
    default_exporter_reductions_softplus_nested_modules: dynamo_cnn::DynamoCnn from "dynamo_cnn", "onnx/tests/fixtures/dynamo_cnn.nn";
    default_exporter_opset_18_max_reduction_and_gelu: dynamo_cnn1d::DynamoCnn1d from "dynamo_cnn1d", "onnx/tests/fixtures/dynamo_cnn1d.nn";
    default_exporter_two_lstms_of_one_size_stay_two: dynamo_encoder_decoder::DynamoEncoderDecoder from "dynamo_encoder_decoder", "onnx/tests/fixtures/dynamo_encoder_decoder.nn";
    tanh_gelu_as_an_operator: dynamo_gelu_tanh::DynamoGeluTanh from "dynamo_gelu_tanh", "onnx/tests/fixtures/dynamo_gelu_tanh.nn";
    tanh_gelu_as_its_formula: torch_gelu_tanh::TorchGeluTanh from "torch_gelu_tanh", "onnx/tests/fixtures/torch_gelu_tanh.nn";
    convolutions_and_a_linear_layer_without_biases: torch_stem::TorchStem from "torch_stem", "onnx/tests/fixtures/torch_stem.nn";
    gru_levels_without_biases: torch_gru_no_bias::TorchGruNoBias from "torch_gru_no_bias", "onnx/tests/fixtures/torch_gru_no_bias.nn";
    default_exporter_lstm_without_biases: dynamo_lstm_no_bias::DynamoLstmNoBias from "dynamo_lstm_no_bias", "onnx/tests/fixtures/dynamo_lstm_no_bias.nn";
    the_last_step_of_an_lstm: lstm_last_step::LstmLastStep from "lstm_last_step", "onnx/tests/fixtures/lstm_last_step.nn";
    default_exporter_the_last_step_of_two_gru_levels: dynamo_gru_last::DynamoGruLast from "dynamo_gru_last", "onnx/tests/fixtures/dynamo_gru_last.nn";
    the_last_state_of_an_lstm: torch_lstm_state::TorchLstmState from "torch_lstm_state", "onnx/tests/fixtures/torch_lstm_state.nn";
    default_exporter_the_last_state_of_a_gru: dynamo_gru_state::DynamoGruState from "dynamo_gru_state", "onnx/tests/fixtures/dynamo_gru_state.nn";
    the_last_state_of_two_lstm_levels: torch_lstm_states::TorchLstmStates from "torch_lstm_states", "onnx/tests/fixtures/torch_lstm_states.nn";
    default_exporter_the_last_state_of_two_gru_levels: dynamo_gru_states::DynamoGruStates from "dynamo_gru_states", "onnx/tests/fixtures/dynamo_gru_states.nn";
}

/// A model with `bias=False` layers imports as `bias = false`, named after its modules, so that
/// the model's own `state_dict` (as `safetensors.torch.save_file` wrote it) loads into the
/// imported network: a checkpoint trained later needs no new import.
#[test]
fn the_models_own_state_dict_loads_into_the_imported_network() {
    let file = path("torch_stem_state.safetensors");
    let net = torch_stem::TorchStem::from_safetensors_file(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    check(&*net, "torch_stem");
    // Recurrent nodes without `B`: `nn.GRU(bias=False)`'s two levels.
    let file = path("torch_gru_no_bias_state.safetensors");
    let net = torch_gru_no_bias::TorchGruNoBias::from_safetensors_file(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    check(&*net, "torch_gru_no_bias");
}

/// A model with two `BatchNormalization`s (after a convolution and after a `Gemm`), imported
/// with each folded into the layer before (`--fold-batchnorm`): two layers fewer, the same
/// outputs as onnxruntime, computed by the independent evaluator from the folded weights.
#[test]
fn folded_batchnorms_give_onnxruntimes_outputs() {
    folded_as_onnxruntime("conv");
    // Into convolutions without a bias, which the batchnorms give one.
    folded_as_onnxruntime("torch_stem");
}

/// `model` imported with its batchnorms folded: two fewer layers, and onnxruntime's outputs.
fn folded_as_onnxruntime(model: &str) {
    let file = path(&format!("{model}.onnx"));
    let kept = nn_onnx::import_file(&file, None, false).expect("imports");
    let folded = nn_onnx::import_file(&file, None, true).expect("folds");
    let batchnorms = |import: &nn_onnx::Import| {
        let layers = &import.network.layers;
        layers
            .iter()
            .filter(|l| l.kind.name() == "batchnorm")
            .count()
    };
    assert_eq!((batchnorms(&kept), batchnorms(&folded)), (2, 0));
    assert_eq!(folded.network.layers.len() + 2, kept.network.layers.len());

    let weights: Vec<crate::evaluator::LayerWeights> = folded
        .network
        .layers
        .iter()
        .map(|layer| crate::evaluator::LayerWeights {
            tensors: ["weight", "bias"]
                .iter()
                .filter_map(|tensor| {
                    let name = format!("{}.{tensor}", layer.name);
                    folded.tensors.iter().find(|t| t.name == name)
                })
                .map(|t| t.values.clone())
                .collect(),
        })
        .collect();
    let text = std::fs::read_to_string(path("expected.json")).expect("expected.json");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    let case = &json[format!("{model}.onnx")];
    let inputs = case["inputs"].as_array().expect("inputs");
    let outputs = case["outputs"].as_array().expect("outputs");
    assert!(!inputs.is_empty());
    for (input, expected) in inputs.iter().zip(outputs) {
        let found = crate::evaluator::evaluate(&folded.network, &weights, &floats(input));
        for (a, e) in found.iter().zip(floats(expected)) {
            assert!(
                (a - e).abs() <= 1e-5 * e.abs().max(1.0),
                "{model}: {a} vs onnxruntime's {e}"
            );
        }
    }
    // What a batchnorm folds into has a bias (each convolution here); a layer nothing folds
    // into keeps its own, or none (`torch_stem`'s `fc`).
    for layer in &folded.network.layers {
        let convolution = layer.kind.name().starts_with("conv");
        assert!(!convolution || layer.bias, "{model}: `{}`", layer.name);
        let stem_fc = model == "torch_stem" && layer.name == "fc";
        assert_eq!(stem_fc, !layer.bias, "{model}: `{}`", layer.name);
    }
}
