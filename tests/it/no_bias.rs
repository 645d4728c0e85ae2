//! Layers declared with `bias = false`, as PyTorch's `bias=False` modules
//! (`tests/fixtures/make_no_bias.py`): their `state_dict`s load, run as PyTorch's and save back
//! under the same keys; baked in at compile time; and a file with the wrong biases is a typed
//! error that says what to declare.

use crate::fixtures::{assert_close, bytes, floats, path, tensors, with_tensor};
use nn::{Error, Network};
use serde_json::Value;

nn::network! {
    /// `Cnn` in the script: a convolution without a bias before a batchnorm, as ResNets are
    /// built, and a linear layer without one.
    struct NoBiasCnn = [2, 8, 8] -> conv2d(4, 3, padding = 1, bias = false) as conv
        -> batchnorm relu as bn -> maxpool2d(2) -> flatten -> dense(6, bias = false) tanh as fc1
        -> 3 as fc2 with scalar = f64;

    /// The same network, its weights baked in.
    struct BakedNoBiasCnn = [2, 8, 8] -> conv2d(4, 3, padding = 1, bias = false) as conv
        -> batchnorm relu as bn -> maxpool2d(2) -> flatten -> dense(6, bias = false) tanh as fc1
        -> 3 as fc2 with scalar = f64, weights = "tests/fixtures/no_bias_cnn.safetensors";

    /// `Sequence` in the script: stacked recurrent layers without biases.
    struct NoBiasSequence = 2 -> lstm(5, layers = 2, bias = false) as lstm
        -> gru(4, bias = false) as gru -> rnn(3, relu, bias = false) as rnn
        -> dense(1, bias = false) as head with scalar = f64;

    /// `NoBiasCnn` with every bias, as a declaration that forgot `bias = false` would be.
    struct WithBiasCnn = [2, 8, 8] -> conv2d(4, 3, padding = 1) as conv -> batchnorm relu as bn
        -> maxpool2d(2) -> flatten -> 6 tanh as fc1 -> 3 as fc2 with scalar = f64;
}

fn expected() -> Value {
    let text = std::fs::read_to_string(path("no_bias_expected.json")).expect("the outputs");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn a_pytorch_cnn_without_biases_loads_runs_and_saves_as_pytorch_s() {
    let file = bytes("no_bias_cnn");
    let net = NoBiasCnn::from_safetensors(&file).expect("PyTorch's state_dict");
    let expected = expected();
    let images = expected["images"].as_array().expect("images");
    let outputs = expected["cnn_outputs"].as_array().expect("outputs");
    assert_eq!(images.len(), 4);
    for (image, output) in images.iter().zip(outputs) {
        let mut input = [[[0.0; 8]; 8]; 2];
        let values = floats(image);
        for (slot, value) in input
            .as_flattened_mut()
            .as_flattened_mut()
            .iter_mut()
            .zip(values)
        {
            *slot = value;
        }
        let found = net.forward(&input);
        assert_close(&found, &floats(output), 1e-12, "against PyTorch");
        // Baked in at compile time, the same bits.
        assert_eq!(BakedNoBiasCnn::BAKED.forward(&input), found);
    }
    // The same keys and values as PyTorch saved: no `conv.bias`, no `fc1.bias`.
    assert!(
        tensors(&net.to_safetensors()) == tensors(&file),
        "other keys or values"
    );
    let names: Vec<Vec<&str>> = NoBiasCnn::LAYERS
        .iter()
        .map(|layer| layer.tensors.iter().map(|t| t.name).collect())
        .collect();
    assert_eq!(names[0], ["weight"]);
    assert_eq!(names[4], ["weight"]);
    assert_eq!(names[5], ["weight", "bias"]);
    // Parameters count as PyTorch's `sum(p.numel() for p in model.parameters())`.
    assert_eq!(
        NoBiasCnn::PARAMETERS,
        4 * 2 * 9 + 2 * 4 + 64 * 6 + 6 * 3 + 3
    );
}

#[test]
fn pytorch_s_recurrent_layers_without_biases_step_as_pytorch_s() {
    let file = bytes("no_bias_sequence");
    let net = NoBiasSequence::from_safetensors(&file).expect("PyTorch's state_dict");
    let expected = expected();
    let steps: Vec<[f64; 2]> = expected["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| floats(step).try_into().expect("two features"))
        .collect();
    let outputs: Vec<f64> = expected["sequence_outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .flat_map(floats)
        .collect();
    assert_eq!(steps.len(), 40);
    let mut state = NoBiasSequenceState::ZERO;
    let found: Vec<f64> = steps.iter().map(|x| net.step(&mut state, x)[0]).collect();
    assert_close(&found, &outputs, 1e-12, "40 steps against PyTorch");
    let mut state = NoBiasSequenceState::ZERO;
    let mut block = vec![[0.0]; steps.len()];
    net.forward_sequence(&mut state, &steps, &mut block)
        .expect("one output per step");
    assert_eq!(block.iter().map(|y| y[0]).collect::<Vec<_>>(), found);
    assert!(
        tensors(&net.to_safetensors()) == tensors(&file),
        "other keys or values"
    );
}

#[test]
fn a_file_with_other_biases_than_declared_is_an_error_that_says_what_to_declare() {
    // PyTorch's `bias=False` file, read by a declaration with biases.
    let Err(error) = WithBiasCnn::from_safetensors(&bytes("no_bias_cnn")) else {
        panic!("a file without `conv.bias` loaded");
    };
    assert!(
        matches!(&error, Error::MissingTensor { layer: "conv", tensor, .. } if tensor == "conv.bias"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "layer `conv`: missing tensor `conv.bias` (the file has `conv.weight`): a PyTorch module \
         with `bias=False` saves none, declare the layer with `bias = false`"
    );
    // A file with biases, read by a declaration without: the bias is not silently dropped.
    let with_bias = WithBiasCnn::random(1).to_safetensors();
    let Err(error) = NoBiasCnn::from_safetensors(&with_bias) else {
        panic!("a file with `conv.bias` loaded into a layer without");
    };
    assert!(
        matches!(&error, Error::ExtraTensor { layer: "conv", tensor, .. } if tensor == "conv.bias"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "layer `conv`: unexpected tensor `conv.bias`: the layer has `conv.weight`: it is \
         declared `bias = false`, leave that out to read the file's bias"
    );
    // And for normalisations: PyTorch's `affine=False` file into one with a weight and bias,
    // and the other way around.
    let Err(error) = WithAffine::from_safetensors(&bytes("no_bias_norms")) else {
        panic!("a file without `bn.weight` loaded");
    };
    assert_eq!(
        error.to_string(),
        "layer `bn`: missing tensor `bn.weight` (the file has `bn.num_batches_tracked`, \
         `bn.running_mean`, `bn.running_var`): a PyTorch normalisation with `affine=False` \
         (`elementwise_affine=False`) saves no weight and no bias, declare it with \
         `affine = false`"
    );
    let Err(error) = Norms::from_safetensors(&WithAffine::random(1).to_safetensors()) else {
        panic!("a file with `bn.weight` loaded into a batchnorm without");
    };
    assert!(
        error.to_string().ends_with(
            ": it is declared `affine = false`, leave that out to read the file's weight and bias"
        ),
        "{error}"
    );
}

nn::network! {
    /// A ReLU RNN as PyTorch's `nn.RNN(2, 3, nonlinearity='relu', bias=False)` saves it, and
    /// a declaration that forgot `bias = false`.
    struct ReluRnn = 2 -> rnn(3, relu, bias = false) as rnn -> 1 with scalar = f64;

    struct ReluRnnWithBias = 2 -> rnn(3, relu) as rnn -> 1 with scalar = f64;
}

#[test]
fn a_relu_rnn_without_biases_says_what_to_declare() {
    let Err(error) = ReluRnnWithBias::from_safetensors(&ReluRnn::random(1).to_safetensors()) else {
        panic!("a file without the RNN's biases loaded");
    };
    assert!(
        error.to_string().ends_with(
            "a PyTorch module with `bias=False` saves none, declare the layer with `bias = false`"
        ),
        "{error}"
    );
}

nn::network! {
    /// `Norms` with every weight and bias, as a declaration that forgot `affine = false`.
    struct WithAffine = 5 -> batchnorm as bn -> 6 as fc1 -> layernorm relu as ln1 -> 4 as fc2
        -> layernorm as ln2 -> 2 as out with scalar = f64;
}

nn::network! {
    /// Twins of a network without biases: int8 and bf16.
    struct NoBiasTwins = [1, 6, 6] -> conv2d(3, 3, bias = false) relu -> flatten
        -> dense(5, bias = false) relu -> 2 with quantize = int8, quantize = bf16;
}

#[test]
fn twins_of_layers_without_a_bias_run_and_save_none() {
    let net = NoBiasTwins::random(4);
    let samples: Vec<[[[f32; 6]; 6]; 1]> = (0..16)
        .map(|k| [[[(k as f32 * 0.37).sin(); 6]; 6]])
        .map(|mut x| {
            for (i, row) in x[0].iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v *= ((i * 6 + j) as f32 * 0.11).cos();
                }
            }
            x
        })
        .collect();
    let half = NoBiasTwinsBf16::from_network(&net).expect("in range");
    let int8 = NoBiasTwinsInt8::calibrate(&net, &samples, nn::quant::Calibration::MinMax)
        .expect("calibrated");
    for x in &samples {
        let exact = net.forward(x);
        for (twin, tolerance) in [(half.forward(x), 0.05), (int8.forward(x), 0.2)] {
            for (found, expected) in twin.iter().zip(exact) {
                assert!(
                    (found - expected).abs() <= tolerance * expected.abs().max(1.0),
                    "{found} against {expected}"
                );
            }
        }
    }
    // The int8 twin's file keeps each layer's `bias` tensor (the scheme's `B`), zero, and
    // refuses one that is not.
    let saved = int8.to_safetensors();
    let biases: Vec<(String, Vec<u8>)> = tensors(&saved)
        .into_iter()
        .filter(|(name, _)| name.rsplit('.').next() == Some("bias"))
        .collect();
    assert_eq!(biases.len(), 3, "{biases:?}");
    assert!(
        biases[..2]
            .iter()
            .all(|(_, data)| data.iter().all(|&b| b == 0))
    );
    let again = NoBiasTwinsInt8::from_safetensors(&saved).expect("its own file");
    assert_eq!(again.forward(&samples[2]), int8.forward(&samples[2]));
    let mut one = vec![0; 12];
    one[4] = 1;
    let error = NoBiasTwinsInt8::from_safetensors(&with_tensor(&saved, "0.bias", &one))
        .expect_err("a bias where the layer has none");
    assert_eq!(
        error.to_string(),
        "layer `layer0`: tensor `0.bias` holds 1 at index 1, where the layer is declared \
         `bias = false`: its biases are zero"
    );
    let saved = half.to_safetensors();
    let names: Vec<String> = tensors(&saved).into_iter().map(|(name, _)| name).collect();
    // Keyed as `nn.Sequential` numbers its modules, activations included.
    assert_eq!(names, ["0.weight", "3.weight", "5.bias", "5.weight"]);
    assert_eq!(
        NoBiasTwins::from_safetensors(&saved)
            .expect("the f32 network reads it")
            .forward(&samples[3]),
        half.forward(&samples[3])
    );
}

nn::network! {
    /// A sequence network without biases, to train.
    struct NoBiasDelay = 1 -> lstm(6, bias = false) as lstm -> dense(1, bias = false) as head;
}

#[test]
fn sequence_networks_without_biases_learn_and_keep_none() {
    // The target is the input one step before.
    let signal: Vec<f32> = (0..41).map(|k| (k as f32 * 0.7).sin() * 0.8).collect();
    let inputs: Vec<[f32; 1]> = signal[1..].iter().map(|&v| [v]).collect();
    let targets: Vec<[f32; 1]> = signal[..40].iter().map(|&v| [v]).collect();
    let mut net = NoBiasDelay::random(5);
    let mut gradients = NoBiasDelayGradients::zeroed();
    let mut names = Vec::new();
    nn::train::Gradients::for_each_tensor(&*gradients, |tensor, _| names.push(tensor.name));
    assert_eq!(names, ["weight_ih_l0", "weight_hh_l0", "weight"]);
    let mut adam = nn::train::Adam::new(0.02);
    let mut losses = Vec::new();
    for _ in 0..100 {
        gradients.zero();
        let mut state = NoBiasDelayState::ZERO;
        let loss = net
            .accumulate_sequence(
                &mut state,
                &inputs,
                &targets,
                &nn::train::Mse,
                1.0 / 40.0,
                &mut gradients,
            )
            .expect("lengths match");
        losses.push(loss / 40.0);
        nn::train::Optimizer::step(&mut adam, &mut *net, &gradients);
    }
    assert!(
        losses[99] < 0.5 * losses[0],
        "{} -> {}",
        losses[0],
        losses[99]
    );
    assert!(net.head.bias().iter().all(|b| *b == 0.0));
    // The bias gradient no visit shows is computed all the same; the trait's `zero` (the one
    // `Trainer` calls) clears it with the others, so that it does not grow from batch to batch.
    assert!(gradients.head.bias().iter().any(|g| *g != 0.0));
    nn::train::Gradients::zero(&mut *gradients);
    assert!(gradients.head.bias().iter().all(|g| *g == 0.0));
    let mut saved = Vec::new();
    net.for_each_tensor(|layer, tensor, _| saved.push(format!("{}.{}", layer.name, tensor.name)));
    assert_eq!(
        saved,
        ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "head.weight"]
    );
    // The LSTM's biases, which no visitor shows, are still zero: a file of them reloads the
    // same outputs, and the network steps as its reloaded copy.
    let reloaded = NoBiasDelay::from_safetensors(&net.to_safetensors()).expect("its own file");
    let (mut a, mut b) = (NoBiasDelayState::ZERO, NoBiasDelayState::ZERO);
    for x in &inputs {
        assert_eq!(net.step(&mut a, x), reloaded.step(&mut b, x));
    }
}

nn::network! {
    /// `Norms` in the script: PyTorch's `BatchNorm1d(affine=False)`,
    /// `LayerNorm(elementwise_affine=False)` and `LayerNorm(bias=False)`.
    struct Norms = 5 -> batchnorm(affine = false) as bn -> 6 as fc1
        -> layernorm(affine = false) relu as ln1 -> 4 as fc2 -> layernorm(bias = false) as ln2
        -> 2 as out with scalar = f64;

    /// `Norms` in `f32`, with a bf16 twin, which keeps the normalisations as they are.
    struct NormsF32 = 5 -> batchnorm(affine = false) as bn -> 6 as fc1
        -> layernorm(affine = false) relu as ln1 -> 4 as fc2 -> layernorm(bias = false) as ln2
        -> 2 as out with quantize = bf16;

    /// The same network, its weights baked in.
    struct BakedNorms = 5 -> batchnorm(affine = false) as bn -> 6 as fc1
        -> layernorm(affine = false) relu as ln1 -> 4 as fc2 -> layernorm(bias = false) as ln2
        -> 2 as out with scalar = f64, weights = "tests/fixtures/no_bias_norms.safetensors";
}

#[test]
fn normalisations_without_affine_parameters_run_as_pytorch_s() {
    let file = bytes("no_bias_norms");
    let net = Norms::from_safetensors(&file).expect("PyTorch's state_dict");
    let expected = expected();
    let inputs = expected["norm_inputs"].as_array().expect("inputs");
    let outputs = expected["norm_outputs"].as_array().expect("outputs");
    for (input, output) in inputs.iter().zip(outputs) {
        let input: [f64; 5] = floats(input).try_into().expect("5 inputs");
        let found = net.forward(&input);
        assert_close(&found, &floats(output), 1e-12, "against PyTorch");
        assert_eq!(BakedNorms::BAKED.forward(&input), found);
    }
    // The same keys as PyTorch's: the batchnorm's buffers alone, no `ln1.*`, `ln2.weight`.
    assert!(
        tensors(&net.to_safetensors()) == tensors(&file),
        "other keys or values"
    );
    assert_eq!(Norms::PARAMETERS, 6 * 5 + 6 + 4 * 6 + 4 + 4 + 2 * 4 + 2);
    // Built from zeros, as every constructor is, the hidden scales are one: a zeroed network
    // normalises, and JSON reads as safetensors does.
    let zeroed = Norms::zeroed();
    assert!(zeroed.ln1.weight().iter().all(|w| *w == 1.0));
    let json = serde_json::to_string(&*net).expect("serialises");
    let back: Box<Norms> = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back.forward(&[0.5; 5]), net.forward(&[0.5; 5]));
    // Training leaves them so.
    let mut trained = Norms::random(2);
    let mut gradients = NormsGradients::zeroed();
    let mut sgd = nn::train::Sgd::new(0.5).momentum(0.9).weight_decay(0.1);
    let mut names = Vec::new();
    nn::train::Gradients::for_each_tensor(&*gradients, |tensor, _| names.push(tensor.name));
    assert_eq!(
        names,
        [
            "weight", "bias", "weight", "bias", "weight", "weight", "bias"
        ]
    );
    for step in 0..3 {
        gradients.zero();
        let x = [0.3 * f64::from(step), -0.5, 1.0, 0.25, -1.5];
        nn::train::Trainable::accumulate_gradients(
            &*trained,
            &x,
            &[1.0, -1.0],
            &nn::train::Mse,
            1.0,
            &mut gradients,
        );
        nn::train::Optimizer::step(&mut sgd, &mut *trained, &gradients);
    }
    assert!(trained.ln1.weight().iter().all(|w| *w == 1.0));
    assert!(trained.ln1.bias().iter().all(|b| *b == 0.0));
    assert!(trained.ln2.bias().iter().all(|b| *b == 0.0));
    assert!(trained.bn.weight().iter().all(|w| *w == 1.0));
    // The bf16 twin rounds the dense layers only: close to the `f32` network.
    let f32s = NormsF32::from_safetensors(&file).expect("f64 values read as f32");
    let half = NormsF32Bf16::from_network(&f32s).expect("in range");
    for input in inputs {
        #[allow(clippy::cast_possible_truncation)] // rounded to the nearest f32, as meant
        let input: [f32; 5] = core::array::from_fn(|k| floats(input)[k] as f32);
        for (a, b) in half.forward(&input).iter().zip(f32s.forward(&input)) {
            assert!((a - b).abs() <= 0.05 * b.abs().max(1.0), "{a} against {b}");
        }
    }
    assert!(
        tensors(&half.to_safetensors())
            .iter()
            .all(|(name, _)| !name.starts_with("ln1."))
    );
}

nn::network! {
    /// A layernorm declared `affine = false`, which takes no tensors.
    struct Plain = 4 -> layernorm(affine = false) as ln -> 2 as out;
    /// The same with its weight and bias.
    struct Scaled = 4 -> layernorm as ln -> 2 as out;
}

nn::network! {
    /// `Plain` and `Scaled` unnamed, as `nn.Sequential(LayerNorm(4, ...), Linear(4, 2))`.
    struct PlainSequential = 4 -> layernorm(affine = false) -> 2;
    struct ScaledSequential = 4 -> layernorm -> 2;
}

/// Asserts that `loaded` failed with an error that starts with `start` (the layernorm that got
/// no tensors) and ends with `hint` (what to declare).
fn told_without_tensors<N>(loaded: Result<Box<N>, Error>, start: &str, hint: &str) {
    let Err(error) = loaded else {
        panic!("a layernorm loaded without its tensors");
    };
    let error = error.to_string();
    assert!(error.starts_with(start), "{error}");
    assert!(error.ends_with(hint), "{error}");
}

#[test]
fn a_layernorm_of_another_affine_than_the_file_s_says_so() {
    let Err(error) = Plain::from_safetensors(&Scaled::random(1).to_safetensors()) else {
        panic!("`ln.weight` loaded into a layernorm without");
    };
    assert_eq!(
        error.to_string(),
        "layer `ln`: unexpected tensor `ln.bias`: the layer has no tensors: it is declared \
         `affine = false`, leave that out to read the file's weight and bias"
    );
    let hint = ": a PyTorch `LayerNorm` with `elementwise_affine=False` saves no tensors, \
                declare it `layernorm(affine = false)`";
    told_without_tensors(
        Scaled::from_safetensors(&Plain::random(1).to_safetensors()),
        "no tensors for layer `ln` (layer 0 of 2)",
        hint,
    );
    // Unnamed, the file's integer keys taken in order would blame the dense layer: its
    // `nn.Sequential` index says which layer differs.
    told_without_tensors(
        ScaledSequential::from_safetensors(&PlainSequential::random(1).to_safetensors()),
        "no tensors for layer `layer0` (layer 0 of 2)",
        hint,
    );
    let Err(error) =
        PlainSequential::from_safetensors(&ScaledSequential::random(1).to_safetensors())
    else {
        panic!("`0.weight` loaded into a layernorm without");
    };
    assert_eq!(
        error.to_string(),
        "layer `layer0`: unexpected tensor `0.bias`: the layer has no tensors: it is declared \
         `affine = false`, leave that out to read the file's weight and bias"
    );
}

nn::network! {
    /// A layernorm and a dense layer of 3, unnamed.
    struct NormThenThree = 4 -> layernorm -> 3;
}

/// A safetensors file of `f32` zeros of these names and shapes.
fn zeros(tensors: &[(&str, &[usize])]) -> Vec<u8> {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, shape)| vec![0; 4 * shape.iter().product::<usize>()])
        .collect();
    let views = tensors.iter().zip(&data).map(|((name, shape), data)| {
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.to_vec(), data);
        (*name, view.expect("sizes agree"))
    });
    safetensors::serialize(views, None).expect("serialises")
}

/// The hint that a layernorm has no affine parameters is given only where the file's
/// `nn.Sequential` keys say so: not for a file whose problem is elsewhere.
#[test]
fn other_problems_beside_a_layernorm_are_not_blamed_on_it() {
    // `Sequential(Dropout, LayerNorm(4), Linear(4, 2))`: the dense layer's width differs.
    let dropout_first = zeros(&[
        ("1.weight", &[4]),
        ("1.bias", &[4]),
        ("2.weight", &[2, 4]),
        ("2.bias", &[2]),
    ]);
    let Err(error) = NormThenThree::from_safetensors(&dropout_first) else {
        panic!("a dense layer of 2 loaded as one of 3");
    };
    assert_eq!(
        error.to_string(),
        "layer `layer1`: tensor `2.weight` has shape [2, 4], expected [3, 4] ([outputs, \
         inputs], the layout of PyTorch's `Linear.weight`)"
    );
    // A layer more than declared.
    let one_more = zeros(&[
        ("1.weight", &[4]),
        ("1.bias", &[4]),
        ("2.weight", &[3, 4]),
        ("2.bias", &[3]),
        ("3.weight", &[3, 3]),
        ("3.bias", &[3]),
    ]);
    let Err(error) = NormThenThree::from_safetensors(&one_more) else {
        panic!("a layer more loaded");
    };
    assert!(
        error.to_string().starts_with("unexpected tensor `3.bias`"),
        "{error}"
    );
    // `Sequential(Linear(4, 4), Linear(4, 2))` for a layernorm without tensors: not a
    // layernorm's weight, `[4, 4]`.
    let two_dense = zeros(&[
        ("0.weight", &[4, 4]),
        ("0.bias", &[4]),
        ("1.weight", &[2, 4]),
        ("1.bias", &[2]),
    ]);
    let Err(error) = PlainSequential::from_safetensors(&two_dense) else {
        panic!("two dense layers loaded into one");
    };
    assert!(!error.to_string().contains("affine"), "{error}");
}

nn::network! {
    /// A named layer whose name the file does not have takes integer keys too.
    struct NamedNorm = 4 -> layernorm as norm -> 3;
    struct NormThenFc = 4 -> layernorm -> 3 as fc;
    /// A shift that shows as a batchnorm's missing statistics.
    struct PlainThenBatchnorm = 4 -> layernorm(affine = false) -> 4 -> batchnorm;
}

#[test]
fn a_layernorm_is_told_apart_whatever_the_other_layers_are() {
    // `Sequential(LayerNorm(4, elementwise_affine=False), Linear(4, 3))`.
    let without = zeros(&[("1.weight", &[3, 4]), ("1.bias", &[3])]);
    let hint = "declare it `layernorm(affine = false)`";
    told_without_tensors(
        NamedNorm::from_safetensors(&without),
        "no tensors for layer `norm`",
        hint,
    );
    told_without_tensors(
        NormThenFc::from_safetensors(&without),
        "no tensors for layer `layer0`",
        hint,
    );
    // `Sequential(LayerNorm(4), Linear(4, 4), BatchNorm1d(4))`.
    let with = zeros(&[
        ("0.weight", &[4]),
        ("0.bias", &[4]),
        ("1.weight", &[4, 4]),
        ("1.bias", &[4]),
        ("2.weight", &[4]),
        ("2.bias", &[4]),
        ("2.running_mean", &[4]),
        ("2.running_var", &[4]),
    ]);
    let Err(error) = PlainThenBatchnorm::from_safetensors(&with) else {
        panic!("a layernorm's tensors loaded into one without");
    };
    assert_eq!(
        error.to_string(),
        "layer `layer0`: unexpected tensor `0.bias`: the layer has no tensors: it is declared \
         `affine = false`, leave that out to read the file's weight and bias"
    );
}
