//! safetensors files: every float dtype loads as numpy converts it and computes what numpy
//! computes; the layouts of `nn.Sequential` and of named modules both load; `to_safetensors`
//! writes what the reference writer writes, byte for byte; every kind of bad file is its own
//! typed error.

// Loading is exact: values are compared bit for bit.
#![allow(clippy::float_cmp)]

use crate::allocations::largest_allocation_during;
use crate::fixtures::{Tiny, TinyF64, TinyNamed, assert_close, bytes, expected, inputs, matrix};
use crate::io_fuzz::assert_bounded;
use nn::Error;
use nn::io::safetensors::{LoadOptions, load};

/// The weights (in PyTorch's row order) and biases of every layer, flattened, as `f64`.
fn parameters<N: nn::Network>(net: &N) -> (Vec<f64>, Vec<f64>) {
    let (mut weights, mut biases) = (Vec::new(), Vec::new());
    net.for_each_tensor(|_, tensor, values| {
        let row_major =
            (0..values.len()).map(|k| nn::Scalar::to_f64(values[tensor.storage_index(k)]));
        match tensor.name {
            "weight" => weights.extend(row_major),
            _ => biases.extend(row_major),
        }
    });
    (weights, biases)
}

/// Asserts that `net` holds exactly the weights `tiny_expected.json` lists under `key`, and
/// computes numpy's outputs within `tolerance`.
fn assert_matches<N: nn::Network>(net: &N, key: &str, tolerance: f64) {
    let expected = &expected()[key];
    let (weights, biases) = parameters(net);
    let expected_weights: Vec<f64> = expected["weights"]
        .as_array()
        .expect("weights")
        .iter()
        .flat_map(matrix)
        .collect();
    let expected_biases = matrix(&expected["biases"]);
    assert_eq!(weights, expected_weights, "{key}: weights");
    assert_eq!(biases, expected_biases, "{key}: biases");
    let outputs: Vec<f64> = inputs()
        .iter()
        .flat_map(|x| {
            let x: Vec<N::Scalar> = x.iter().map(|v| nn::Scalar::from_f64(*v)).collect();
            let mut y = vec![<N::Scalar as nn::Scalar>::ZERO; N::OUTPUTS];
            net.forward_slice(&x, &mut y).expect("sizes match");
            y.into_iter().map(nn::Scalar::to_f64).collect::<Vec<_>>()
        })
        .collect();
    assert_close(&outputs, &matrix(&expected["outputs"]), tolerance, key);
}

#[test]
fn every_float_dtype_loads_as_numpy_converts_it() {
    let f32_net = Tiny::from_safetensors(&bytes("tiny_f32")).expect("F32 file");
    assert_matches(&*f32_net, "f32", 1e-6);
    let f64_net = TinyF64::from_safetensors(&bytes("tiny_f64")).expect("F64 file");
    assert_matches(&*f64_net, "f64", 1e-12);
    let rounded = Tiny::from_safetensors(&bytes("tiny_f64")).expect("F64 file in f32");
    assert_matches(&*rounded, "f64_in_f32", 1e-6);
    let f16_net = Tiny::from_safetensors(&bytes("tiny_f16")).expect("F16 file");
    assert_matches(&*f16_net, "f16", 1e-6);
    let bf16_net = Tiny::from_safetensors(&bytes("tiny_bf16")).expect("BF16 file");
    assert_matches(&*bf16_net, "bf16", 1e-6);
    // Half-precision values are exact in f64 too.
    let f16_wide = TinyF64::from_safetensors(&bytes("tiny_f16")).expect("F16 file in f64");
    assert_matches(&*f16_wide, "f16", 1e-12);
}

#[test]
fn named_layers_take_their_names_and_fall_back_to_integer_keys() {
    let named = TinyNamed::from_safetensors(&bytes("tiny_named")).expect("named file");
    assert_matches(&*named, "f32", 1e-6);
    // A `nn.Sequential` file fits a declaration with names: the names are not in the file.
    let sequential = TinyNamed::from_safetensors(&bytes("tiny_f32")).expect("sequential file");
    assert_matches(&*sequential, "f32", 1e-6);
    // Default names (`layer0`) are not in a file written for named layers, which has no
    // integer keys either.
    assert_eq!(
        Tiny::from_safetensors(&bytes("tiny_named")).map(|_| ()),
        Err(Error::MissingLayer {
            layer: "layer0",
            kind: nn::LayerKind::Dense,
            index: 0,
            count: 2,
            expected: <nn::Dense<5, 4, f32> as nn::Tensors>::TENSORS,
            tensors: "`hidden.bias`, `hidden.weight`, `output.bias`, `output.weight`".into(),
        })
    );
}

#[test]
fn to_safetensors_writes_what_the_reference_writer_writes() {
    for (name, written) in [
        (
            "tiny_f32",
            Tiny::from_safetensors(&bytes("tiny_f32")).map(|n| n.to_safetensors()),
        ),
        (
            "tiny_f64",
            TinyF64::from_safetensors(&bytes("tiny_f64")).map(|n| n.to_safetensors()),
        ),
        (
            "tiny_named",
            TinyNamed::from_safetensors(&bytes("tiny_named")).map(|n| n.to_safetensors()),
        ),
    ] {
        assert!(written == Ok(bytes(name)), "{name}: bytes differ");
    }
}

nn::network! {
    /// Unnamed layers with and without activation modules, and a named one.
    pub struct Mixed = 8 -> 6 relu -> 4 as middle -> 3 tanh -> 2;
}

/// The tensor names and shapes of a file's header, parsed with serde_json.
fn header(bytes: &[u8]) -> Vec<(String, serde_json::Value)> {
    let length = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let length = usize::try_from(length).expect("small header");
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + length]).expect("JSON header");
    header
        .into_iter()
        .map(|(name, info)| (name, info.get("shape").cloned().unwrap_or_default()))
        .collect()
}

/// The data of tensor `name`, found through the header parsed with serde_json.
fn raw<'a>(bytes: &'a [u8], name: &str) -> &'a [u8] {
    let length = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let length = usize::try_from(length).expect("small header");
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + length]).expect("JSON header");
    let offsets = &header[name]["data_offsets"];
    let start = usize::try_from(offsets[0].as_u64().expect("start")).expect("small");
    let end = usize::try_from(offsets[1].as_u64().expect("end")).expect("small");
    &bytes[8 + length + start..8 + length + end]
}

#[test]
fn half_precision_decodes_as_numpy_on_every_exponent() {
    use nn::io::safetensors::{bf16_to_f64, f16_to_f64};
    let file = bytes("halves");
    for (bits, as_f32, decode) in [
        ("f16_bits", "f16_as_f32", f16_to_f64 as fn(u16) -> f64),
        ("bf16_bits", "bf16_as_f32", bf16_to_f64),
    ] {
        let bits = raw(&file, bits).chunks_exact(2);
        let expected = raw(&file, as_f32).chunks_exact(4);
        assert_eq!(bits.len(), expected.len());
        for (bits, expected) in bits.zip(expected) {
            let bits = u16::from_le_bytes([bits[0], bits[1]]);
            let expected = f32::from_le_bytes(expected.try_into().expect("4 bytes"));
            let decoded = decode(bits);
            if expected.is_nan() {
                assert!(decoded.is_nan(), "{bits:#06x}: {decoded}");
            } else {
                assert_eq!(
                    decoded.to_bits(),
                    f64::from(expected).to_bits(),
                    "{bits:#06x}"
                );
            }
        }
    }
}

#[test]
fn saved_keys_are_the_equivalent_sequential_indices_or_the_names() {
    let net = Mixed::random(7);
    let bytes = net.to_safetensors();
    let keys: Vec<String> = header(&bytes).into_iter().map(|(k, _)| k).collect();
    // `nn.Sequential(Linear, ReLU, Linear, Linear, Tanh, Linear)` with module 2 named.
    assert_eq!(
        keys,
        [
            "0.bias",
            "0.weight",
            "3.bias",
            "3.weight",
            "5.bias",
            "5.weight",
            "__metadata__",
            "middle.bias",
            "middle.weight"
        ]
    );
    let back = Mixed::from_safetensors(&bytes).expect("round trip");
    assert_eq!(parameters(&*back), parameters(&*net));
}

#[test]
fn files_save_and_load() {
    let net = Tiny::from_safetensors(&bytes("tiny_f32")).expect("F32 file");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny_saved.safetensors");
    net.save_safetensors(&path).expect("writable");
    let back = Tiny::from_safetensors_file(&path).expect("readable");
    assert_eq!(parameters(&*back), parameters(&*net));

    let missing = Tiny::from_safetensors_file("tests/fixtures/no such file.safetensors");
    match missing {
        Err(Error::Io {
            operation: "read",
            path,
            kind: std::io::ErrorKind::NotFound,
            ..
        }) => assert_eq!(path, "tests/fixtures/no such file.safetensors"),
        other => panic!("expected a read error, found {:?}", other.map(|_| ())),
    }
}

/// Loads `file` into [`Tiny`], keeping only the error.
fn tiny_error(file: &[u8]) -> Error {
    match Tiny::from_safetensors(file) {
        Ok(_) => panic!("the file loaded"),
        Err(error) => error,
    }
}

#[test]
fn a_missing_tensor_names_it_and_its_sibling() {
    let error = tiny_error(&bytes("missing_bias"));
    assert_eq!(
        error,
        Error::MissingTensor {
            layer: "layer1",
            kind: Some(nn::LayerKind::Dense),
            tensor: "2.bias".into(),
            found: "`2.weight`".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        "layer `layer1`: missing tensor `2.bias` (the file has `2.weight`): a PyTorch module \
         with `bias=False` saves none, declare the layer with `bias = false`"
    );
}

#[test]
fn a_missing_layer_lists_what_the_file_has() {
    let error = tiny_error(&bytes("missing_layer"));
    assert_eq!(
        error.to_string(),
        "no tensors for layer `layer1` (layer 1 of 2): expected `<k>.weight` and `<k>.bias` \
         for an integer `k`, as `nn.Sequential` names them, or `layer1.weight` and \
         `layer1.bias` (a layer declared `as fc1` or `as encoder.0` reads PyTorch's module `fc1` \
         or `encoder.0`); the file has `0.bias`, `0.weight`"
    );
}

#[test]
fn an_extra_tensor_is_rejected() {
    assert_eq!(
        tiny_error(&bytes("extra_layer")),
        Error::UnexpectedTensor {
            tensor: "4.bias".into(),
            layers: 2,
        }
    );
    // The running statistics of a BatchNorm between the layers, in a network without one (the
    // network with it loads the file: norm.rs). Its prefix went to the second dense layer,
    // which is named with what it has.
    let error = tiny_error(&bytes("batchnorm"));
    assert_eq!(
        error.to_string(),
        "layer `layer1`: unexpected tensor `1.running_mean`: the layer has `1.weight` and `1.bias`"
    );
}

#[test]
fn a_transposed_weight_names_both_shapes_and_hints_at_the_transpose() {
    let error = tiny_error(&bytes("transposed"));
    assert_eq!(
        error,
        Error::Shape {
            layer: "layer0",
            kind: Some(nn::LayerKind::Dense),
            tensor: "0.weight".into(),
            expected: vec![4, 5],
            found: vec![5, 4],
        }
    );
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.weight` has shape [5, 4], expected [4, 5] ([outputs, inputs], \
         the layout of PyTorch's `Linear.weight`): the tensor is transposed, save \
         `np.ascontiguousarray(coefs_[k].T)` from scikit-learn or `weight.T.contiguous()` from \
         PyTorch (a bare `.T` is a view, which `safetensors.numpy` writes untransposed)"
    );
}

#[test]
fn a_wrong_shape_names_both_shapes() {
    let error = tiny_error(&bytes("wrong_shape"));
    assert_eq!(
        error.to_string(),
        "layer `layer1`: tensor `2.weight` has shape [2, 4], expected [3, 4] ([outputs, inputs], \
         the layout of PyTorch's `Linear.weight`)"
    );
}

#[test]
fn an_integer_dtype_is_rejected() {
    // An integer weight: only a counter (`num_batches_tracked`) may be an integer (norm.rs).
    let error = tiny_error(&bytes("int64"));
    assert_eq!(
        error,
        Error::Dtype {
            layer: "layer0",
            tensor: "0.weight".into(),
            found: "I64".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.weight` has dtype I64, expected one of F32, F64, F16, BF16"
    );
}

#[test]
fn non_finite_values_are_rejected_unless_allowed() {
    let error = tiny_error(&bytes("nan"));
    assert_eq!(
        error,
        Error::NonFinite {
            layer: "layer0",
            tensor: "0.weight".into(),
            at: vec![1, 2],
            value: "NaN".into(),
            scalar: "f32",
        }
    );
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.weight` holds NaN at [1, 2], expected finite f32 values \
         (opt in with `LoadOptions::allow_non_finite` to load it anyway)"
    );
    assert_eq!(
        tiny_error(&bytes("inf")),
        Error::NonFinite {
            layer: "layer1",
            tensor: "2.bias".into(),
            at: vec![0],
            value: "inf".into(),
            scalar: "f32",
        }
    );
    // 1e300 is finite in the F64 file, but not once rounded to f32.
    assert_eq!(
        tiny_error(&bytes("f64_overflow")),
        Error::NonFinite {
            layer: "layer0",
            tensor: "0.bias".into(),
            at: vec![1],
            value: "1e300".into(),
            scalar: "f32",
        }
    );
    let wide = TinyF64::from_safetensors(&bytes("f64_overflow")).expect("finite in f64");
    assert_eq!(wide.layer0.bias()[1], 1e300);

    let allowed = load::<Tiny>(&bytes("nan"), LoadOptions::new().allow_non_finite(true))
        .expect("NaN allowed");
    assert!(allowed.layer0.weight(1, 2).is_nan());
    assert!(allowed.layer0.weight(1, 1).is_finite());
}

/// `tiny_f32`'s length prefix, header and data.
fn tiny_parts() -> (usize, Vec<u8>) {
    let file = bytes("tiny_f32");
    let length = u64::from_le_bytes(file[..8].try_into().expect("8 bytes"));
    (usize::try_from(length).expect("small"), file)
}

#[test]
fn a_truncated_file_says_how_much_data_is_missing() {
    let (header, file) = tiny_parts();
    let data = file.len() - 8 - header;
    let cut = &file[..file.len() - 10];
    assert_eq!(
        tiny_error(cut),
        Error::Truncated {
            expected: data,
            found: data - 10,
        }
    );
    assert_eq!(tiny_error(&file[..3]), Error::TooShort { found: 3 });
    assert_eq!(
        tiny_error(&[]).to_string(),
        "not a safetensors file: expected at least 8 bytes (the header length), found 0"
    );
}

#[test]
fn a_header_longer_than_the_file_is_rejected() {
    let (header, file) = tiny_parts();
    assert_eq!(
        tiny_error(&file[..8 + 20]),
        Error::HeaderTruncated {
            length: header,
            found: 20,
        }
    );
    assert_eq!(
        tiny_error(&file[..8 + 20]).to_string(),
        format!(
            "truncated safetensors file: the header length says {header} bytes, but only 20 bytes \
             follow it"
        )
    );
}

#[test]
fn garbage_and_trailing_bytes_are_format_errors() {
    let (_, mut file) = tiny_parts();
    let mut longer = file.clone();
    longer.extend_from_slice(&[0; 3]);
    assert!(matches!(
        tiny_error(&longer),
        Error::Format { reason } if reason.starts_with("3 bytes after the last tensor")
    ));
    file[8] = b'[';
    assert!(matches!(
        tiny_error(&file),
        Error::Format { reason } if reason.starts_with("the header is not valid")
    ));
}

#[test]
fn a_giant_header_length_is_rejected_before_anything_is_allocated() {
    let (_, file) = tiny_parts();
    // A loader that trusted the length would try to allocate a terabyte for the first two and
    // abort the test process; the limit is checked before the length is used for anything.
    for length in [1u64 << 40, u64::MAX, 100_000_001] {
        let mut damaged = file.clone();
        damaged[..8].copy_from_slice(&length.to_le_bytes());
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("giant_header_{length}.safetensors"));
        std::fs::write(&path, &damaged).expect("writable");
        let expected = Err(Error::HeaderTooLarge {
            length,
            limit: 100_000_000,
        });
        let (loaded, largest) =
            largest_allocation_during(|| Tiny::from_safetensors(&damaged).map(|_| ()));
        assert_eq!(loaded, expected);
        assert_bounded::<Tiny>(damaged.len(), largest);
        // Reading the file allocates its size, and no more.
        let (loaded, largest) =
            largest_allocation_during(|| Tiny::from_safetensors_file(&path).map(|_| ()));
        assert_eq!(loaded, expected);
        assert_bounded::<Tiny>(damaged.len(), largest);
    }
    assert_eq!(
        tiny_error(&(1u64 << 40).to_le_bytes()).to_string(),
        "safetensors header length is 1099511627776 bytes, the limit is 100000000: the file is \
         damaged or not a safetensors file"
    );
}

nn::network! {
    /// 4 MiB of `f32` weights: far more than fits in the small stack of the thread below.
    pub struct Wide = 1024 -> 1024 -> 2;
}

#[test]
fn a_large_network_loads_on_a_small_stack() {
    let file = Wide::random(3).to_safetensors();
    let parameters_before = Wide::from_safetensors(&file).map(|net| parameters(&*net));
    let loaded = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || Wide::from_safetensors(&file).map(|net| parameters(&*net)))
        .expect("thread")
        .join()
        .expect("no stack overflow");
    assert!(loaded.is_ok());
    assert_eq!(loaded, parameters_before);
}

nn::network! {
    /// Its first layer is named like an unnamed layer's default name, on purpose.
    struct SelfNamed = 2 -> 3 relu as layer0 -> 1;
}

#[test]
fn a_layer_named_like_a_default_name_is_saved_under_its_name() {
    let bytes = SelfNamed::random(4).to_safetensors();
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let mut names = file.names();
    names.sort_unstable();
    assert_eq!(
        names,
        ["2.bias", "2.weight", "layer0.bias", "layer0.weight"]
    );
    let back = SelfNamed::from_safetensors(&bytes).expect("its own file loads");
    assert_eq!(
        back.forward(&[0.5, -1.0]),
        SelfNamed::random(4).forward(&[0.5, -1.0])
    );
}
