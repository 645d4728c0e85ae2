//! Tests of nn-onnx: every fixture's import against the committed declaration and weights,
//! the error lists, round trips through the language, and damaged files.

// expect-test writes its snapshots as `r#"..."#`, whether or not they contain a quote.
#![allow(clippy::needless_raw_string_hashes)]

mod allocations;
mod damaged;
mod errors;
mod external;
mod fixtures;

use std::path::{Path, PathBuf};

/// A fixture's path.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The models import must take, by file stem.
const MODELS: [&str; 30] = [
    "mlp",
    "conv",
    "conv1d",
    "gelu20",
    "function",
    "opset9",
    "sklearn_mlp",
    "torch_lenet",
    "torch_functions",
    "torch_lstm",
    "torch_gru",
    "torch_rnn",
    "torch_lstm_rows",
    "dynamo_gru",
    "torch_stacked",
    "dynamo_stacked",
    "dynamo_cnn",
    "dynamo_cnn1d",
    "dynamo_encoder_decoder",
    "dynamo_gelu_tanh",
    "torch_gelu_tanh",
    "torch_stem",
    "torch_gru_no_bias",
    "dynamo_lstm_no_bias",
    "lstm_last_step",
    "dynamo_gru_last",
    "torch_lstm_state",
    "dynamo_gru_state",
    "torch_lstm_states",
    "dynamo_gru_states",
];
