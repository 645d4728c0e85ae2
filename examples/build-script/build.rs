//! Compiles `models/iris.nn` to `$OUT_DIR/iris.rs`, and imports `models/mlp.onnx` into
//! `$OUT_DIR/mlp.{nn,rs,safetensors}`; Cargo reruns this when either file changes.

fn main() {
    // A bad declaration fails the build with `models/iris.nn:line:col: message` lines.
    nn_codegen::build::compile("models/iris.nn").unwrap_or_else(|e| panic!("{e}"));
    // A model that cannot be imported fails the build with every reason, node by node.
    nn_codegen::build::import_onnx("models/mlp.onnx").unwrap_or_else(|e| panic!("{e}"));
}
