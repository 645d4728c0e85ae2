//! Models that cannot be imported: one error listing every problem.

use crate::fixture;
use expect_test::{Expect, expect};

fn check(stem: &str, expected: &Expect) {
    let error = nn_onnx::import_file(&fixture(&format!("{stem}.onnx")), None, false).unwrap_err();
    expected.assert_eq(&error.to_string());
}

#[test]
fn every_node_that_cannot_be_imported_is_listed() {
    check(
        "unsupported",
        &expect![[r#"
            the model cannot be imported, 5 problems:
              node 0 `/conv/Conv` (Conv, reads `x`, `w1`): pads [0, 0, 1, 1] unevenly (begins, then ends): nn pads both sides alike
              node 2 `/scale/Mul` (Mul, reads `r1`, `k`): operator `Mul` is understood on constants only, not on the input's flow
              node 3 `/abs/Abs` (Abs, reads `m`): operator `Abs` is not supported
              node 4 `/custom/Custom` (com.example.Custom, reads `a`): operator `Custom` of domain `com.example` is not supported
              node 8 `/residual/Add` (Add, reads `g`, `f`): joins 2 values computed from the input (a residual or a concatenation): only chains of layers can be imported"#]],
    );
}

#[test]
fn a_dynamic_axis_and_an_old_opset_are_named() {
    check(
        "dynamic",
        &expect![[r#"
            the model cannot be imported, 2 problems:
              the model uses opset 7, expected 9 or later: convert it with `onnx.version_converter`
              axis 2 of input `x` is dynamic (`height`): only the batch axis may be, export with a fixed size"#]],
    );
}

#[test]
fn recurrent_nodes_nn_cannot_compute_are_named() {
    check(
        "gru_before_reset",
        &expect![[r#"
            the model cannot be imported, 1 problem:
              node 0 `/gru/GRU` (GRU, reads `x`, `w`, `r`, `b`): applies its reset gate before the hidden state's linear transformation (`linear_before_reset = 0`): nn's `gru` is PyTorch's GRU, which applies it after (`linear_before_reset = 1`)"#]],
    );
    check(
        "lstm_bidirectional",
        &expect![[r#"
            the model cannot be imported, 1 problem:
              node 10 `/rnn/LSTM` (LSTM, reads `/rnn/Transpose_output_0`, `onnx::LSTM_200`, `onnx::LSTM_201`, `onnx::LSTM_199`, `/rnn/ConstantOfShape_output_0`, `/rnn/ConstantOfShape_output_0`): runs in both directions (`direction = bidirectional`): nn's recurrent layers run forward in time only"#]],
    );
    // PyTorch's default exporter leaves out an `nn.LSTM`'s projection (`proj_size`), and its
    // initial state keeps the unprojected width.
    check(
        "dynamo_lstm_projection",
        &expect![[r#"
            the model cannot be imported, 1 problem:
              node 19 `node_lstm_1__2` (LSTM, reads `val_82`, `val_119`, `val_120`, `val_142`, `val_97`, `val_19`): its initial state `initial_c` holds 6 values per stream, expected its `hidden_size` of 4 (an `nn.LSTM` with `proj_size`, which nn has no counterpart of, exports so)"#]],
    );
    // The default exporter unrolls `nn.RNN`: one explanation, not a problem per node.
    check(
        "dynamo_rnn_unrolled",
        &expect![[r#"
        the model cannot be imported, 1 problem:
          PyTorch's default exporter (`dynamo=True`) unrolled the `nn.RNN` module `rnn` into nodes for each time step, which nn cannot import: export it with `dynamo=False`, which writes an `RNN` node"#]],
    );
}

#[test]
fn a_dilated_pool_and_an_input_beyond_the_widths_are_refused() {
    // nn's pools are not dilated: importing it as `maxpool2d(2, stride = 1)` would give a
    // [1, 7, 7] output where onnxruntime's is [1, 6, 6].
    check(
        "maxpool_dilated",
        &expect![[r#"
        the model cannot be imported, 1 problem:
          node 0 `/pool/MaxPool` (MaxPool, reads `x`): has `dilations` [2, 2]: nn's pools are not dilated"#]],
    );
    // Sizes of 2^31: their product overflows, and nn's widths stop at 2^20.
    check(
        "huge_input",
        &expect![[r#"
        the model cannot be imported, 3 problems:
          axis 1 of input `x` has size 2147483648, more than nn's largest width, 1048576
          axis 2 of input `x` has size 2147483648, more than nn's largest width, 1048576
          axis 3 of input `x` has size 2147483648, more than nn's largest width, 1048576"#]],
    );
}
