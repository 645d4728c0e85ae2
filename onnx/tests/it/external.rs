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
    // The data file, named once though every tensor keeps its data there: a build script
    // watches it.
    assert_eq!(external.external_files, [fixture("external/mlp_data.bin")]);
    assert!(inline.external_files.is_empty());
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

/// A data file that is a link out of the model's directory is refused, as `..` is.
#[cfg(unix)]
#[test]
fn external_data_behind_a_link_out_of_the_directory_is_refused() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("external_link");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fixture("external/mlp_external.onnx"),
        dir.join("mlp_external.onnx"),
    )
    .unwrap();
    let data = fixture("external/mlp_data.bin").canonicalize().unwrap();
    std::os::unix::fs::symlink(&data, dir.join("mlp_data.bin")).unwrap();
    let error = import_file(&dir.join("mlp_external.onnx"), None, false).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "tensor `w1` keeps its data in `mlp_data.bin`, which leads to `{}`, outside the \
             model's directory",
            data.display()
        )),
        "{message}"
    );
    // A link that stays inside is followed.
    std::fs::remove_file(dir.join("mlp_data.bin")).unwrap();
    std::fs::copy(&data, dir.join("data_copy.bin")).unwrap();
    std::os::unix::fs::symlink("data_copy.bin", dir.join("mlp_data.bin")).unwrap();
    import_file(&dir.join("mlp_external.onnx"), Some("Mlp"), false).expect("inside");
}
