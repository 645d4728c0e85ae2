//! Each model's import is the committed `<stem>.nn` and `<stem>.safetensors` (regenerate with
//! `UPDATE_EXPECT=1`), which `tests/it/onnx.rs` at the workspace root compiles and compares
//! with onnxruntime; the declaration compiles back to the network import built, and import is
//! idempotent.

use crate::{MODELS, fixture};
use nn_onnx::{Import, import_file};

fn imported(stem: &str) -> Import {
    import_file(&fixture(&format!("{stem}.onnx")), None, false)
        .unwrap_or_else(|e| panic!("{stem}.onnx: {e}"))
}

#[test]
fn every_model_imports_to_the_committed_files() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    for stem in MODELS {
        let import = imported(stem);
        let (nn, weights) = (
            fixture(&format!("{stem}.nn")),
            fixture(&format!("{stem}.safetensors")),
        );
        if update {
            std::fs::write(&nn, import.text()).unwrap();
            std::fs::write(&weights, &import.safetensors).unwrap();
        }
        let text = std::fs::read_to_string(&nn).unwrap_or_default();
        assert_eq!(
            import.text(),
            text,
            "{stem}.nn (UPDATE_EXPECT=1 rewrites it)"
        );
        let bytes = std::fs::read(&weights).unwrap_or_default();
        assert!(
            import.safetensors == bytes,
            "{stem}.safetensors differs (UPDATE_EXPECT=1 rewrites it)"
        );
    }
}

#[test]
fn the_declaration_compiles_to_the_imported_network() {
    for stem in MODELS {
        let import = imported(stem);
        let text = import.text();
        let networks = nn_grammar::compile_file(&text).unwrap_or_else(|e| panic!("{stem}: {e:?}"));
        assert_eq!(networks, std::slice::from_ref(&import.network), "{stem}");
        // Every layer is named, and its tensors are keyed by its name.
        for layer in &import.network.layers {
            assert!(layer.named, "{stem}: {}", layer.name);
        }
        for tensor in &import.tensors {
            let (layer, kind) = tensor.name.rsplit_once('.').unwrap();
            assert!(
                import.network.layers.iter().any(|l| l.name == layer),
                "{stem}: {}",
                tensor.name
            );
            let recurrent = ["weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"]
                .iter()
                .any(|t| {
                    kind.strip_prefix(t)
                        .is_some_and(|l| l.parse::<usize>().is_ok())
                });
            assert!(
                recurrent || ["weight", "bias", "running_mean", "running_var"].contains(&kind),
                "{stem}: {}",
                tensor.name
            );
            let elements: usize = tensor.shape.iter().product();
            assert_eq!(elements, tensor.values.len(), "{stem}: {}", tensor.name);
        }
        // Running statistics are buffers, not parameters (as PyTorch's `parameters()`).
        let parameters: usize = import
            .tensors
            .iter()
            .filter(|t| !t.name.contains(".running_"))
            .map(|t| t.values.len())
            .sum();
        assert_eq!(parameters, import.network.parameters(), "{stem}");
    }
}

#[test]
fn import_is_idempotent() {
    for stem in MODELS {
        let (first, second) = (imported(stem), imported(stem));
        assert_eq!(first.text(), second.text(), "{stem}");
        assert!(first.safetensors == second.safetensors, "{stem}");
        // The bytes alone, without the file's name and directory, give the same network under
        // the same name.
        let bytes = std::fs::read(fixture(&format!("{stem}.onnx"))).unwrap();
        let options = nn_onnx::Options {
            name: first.network.name.clone(),
            source: Some(format!("{stem}.onnx")),
            dir: None,
            fold_batchnorm: false,
        };
        let from_bytes = nn_onnx::import(&bytes, &options).unwrap();
        assert_eq!(from_bytes.text(), first.text(), "{stem}");
    }
}

#[test]
fn names_come_from_the_file_and_the_nodes() {
    let import = imported("torch_lenet");
    assert_eq!(import.network.name, "TorchLenet");
    let names: Vec<&str> = import
        .network
        .layers
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["conv1", "pool1", "conv2", "pool2", "reshape", "fc1", "fc2"]
    );
    let renamed = import_file(&fixture("mlp.onnx"), Some("Classifier"), false).unwrap();
    assert!(
        renamed
            .text()
            .contains("pub struct Classifier = 6\n    -> "),
        "{}",
        renamed.text()
    );
    for (stem, name) in [
        ("lenet_5", "Lenet5"),
        ("mlp-classifier", "MlpClassifier"),
        ("3d", "Net3d"),
        ("", "Net"),
    ] {
        assert_eq!(nn_onnx::struct_name(stem), name);
    }
}
