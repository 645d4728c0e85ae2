//! Tensors whose data lives in another file (`external_data`), read from the model's directory.

use crate::fixture;
use nn_onnx::{Error, Options, import, import_file};

#[test]
fn external_data_is_read_from_beside_the_model() {
    let inline = import_file(&fixture("mlp.onnx"), None, false).unwrap();
    let external = import_file(&fixture("external/mlp_external.onnx"), Some("Mlp"), false).unwrap();
    // The same declaration but for the doc line, which names the file.
    let body = |text: &str| text.split_once('\n').map(|(_, rest)| rest.to_owned());
    assert_eq!(body(&external.text()), body(&inline.text()));
    assert_eq!(external.tensors, inline.tensors);
    assert!(external.safetensors == inline.safetensors);
}

#[test]
fn external_data_without_a_directory_or_past_the_end_is_refused() {
    let bytes = std::fs::read(fixture("external/mlp_external.onnx")).unwrap();
    let Err(Error::Unsupported(problems)) = import(&bytes, &Options::default()) else {
        panic!("imported without its data file");
    };
    assert_eq!(problems.len(), 10, "{problems:?}");
    assert_eq!(
        problems[0].to_string(),
        "tensor `w1` keeps its data in the external file `mlp_data.bin`: import the model from its \
         file, not from bytes, so that `mlp_data.bin` can be found beside it"
    );
    let error = import_file(&fixture("external/mlp_past_the_end.onnx"), None, false).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("tensor `w1`: `")
            && message.contains("holds 1908 bytes, the tensor needs 288 from offset 1000000"),
        "{message}"
    );
}
