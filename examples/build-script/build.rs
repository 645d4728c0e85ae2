//! Compiles `models/iris.nn` to `$OUT_DIR/iris.rs`; Cargo reruns this when the file changes.

fn main() {
    // A bad declaration fails the build with `models/iris.nn:line:col: message` lines.
    nn_codegen::build::compile("models/iris.nn").unwrap_or_else(|e| panic!("{e}"));
}
