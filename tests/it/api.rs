//! The generated API: sizes, layer descriptions, seeded initialisation, summaries and the
//! typed errors of the run-time-sized entry points.

use expect_test::expect;
use nn::{
    Activation, Error, Init, LayerInfo, LayerKind, Layout, Network, Role, TensorInfo, Tensors,
};

nn::network! {
    /// The README's network, with named layers.
    pub struct Mnist = 784 -> 128 relu as hidden -> 10 softmax as output;

    /// One layer per initialisation rule, in f64.
    struct Mixed = 100 -> 50 leaky_relu -> 40 tanh -> 30 gelu -> 20 sigmoid -> 60 elu(0.5)
        -> 10 with scalar = f64;
}

/// Every weight of `net`, as bits, in layer order.
fn weight_bits<N: Network>(net: &N) -> Vec<f64> {
    let mut all = Vec::new();
    net.for_each_tensor(|_, tensor, values| {
        let values = values.iter().map(|v| nn::Scalar::to_f64(*v));
        if tensor.name == "bias" {
            assert!(values.clone().all(|b| b == 0.0));
        } else {
            all.extend(values);
        }
    });
    all
}

#[test]
fn sizes_are_associated_consts() {
    assert_eq!(
        (Mnist::INPUTS, Mnist::OUTPUTS, Mnist::PARAMETERS),
        (784, 10, 784 * 128 + 128 + 128 * 10 + 10)
    );
    assert_eq!(
        (Mixed::INPUTS, Mixed::OUTPUTS, Mixed::PARAMETERS),
        (
            100,
            10,
            100 * 50
                + 50
                + 50 * 40
                + 40
                + 40 * 30
                + 30
                + 30 * 20
                + 20
                + 20 * 60
                + 60
                + 60 * 10
                + 10
        )
    );
    // The trait agrees with the inherent consts, and so do the layers' own.
    assert_eq!(<Mnist as Network>::INPUTS, Mnist::INPUTS);
    assert_eq!(<Mnist as Network>::OUTPUTS, Mnist::OUTPUTS);
    assert_eq!(<Mnist as Network>::PARAMETERS, Mnist::PARAMETERS);
    assert_eq!(<Mixed as Network>::PARAMETERS, Mixed::PARAMETERS);
    assert_eq!(
        Mnist::PARAMETERS,
        nn::Dense::<784, 128>::PARAMETERS + nn::Dense::<128, 10>::PARAMETERS
    );
    assert_eq!(<Mnist as Network>::NAME, "Mnist");
    // The fields are the layers, with the sizes in their types.
    let net = Mnist::zeroed();
    let hidden: &nn::Dense<784, 128, f32> = &net.hidden;
    let output: &nn::Dense<128, 10, f32> = &net.output;
    // One column of 128 weights per input.
    assert_eq!(
        (hidden.columns().len(), hidden.columns()[0].len()),
        (784, 128)
    );
    assert_eq!(output.bias().len(), 10);
}

#[test]
fn layers_describe_the_declaration() {
    assert_eq!(
        <Mnist as Network>::LAYERS,
        [
            LayerInfo {
                name: "hidden",
                named: true,
                kind: LayerKind::Dense,
                input: &[784],
                output: &[128],
                activation: Activation::Relu,
                tensors: &[
                    TensorInfo {
                        name: "weight",
                        shape: &[128, 784],
                        role: Role::Parameter,
                        layout: Layout::Transposed,
                        init: Init::Uniform,
                    },
                    TensorInfo {
                        name: "bias",
                        shape: &[128],
                        role: Role::Parameter,
                        layout: Layout::Contiguous,
                        init: Init::Zeros,
                    },
                ],
            },
            LayerInfo {
                name: "output",
                named: true,
                kind: LayerKind::Dense,
                input: &[128],
                output: &[10],
                activation: Activation::Softmax,
                tensors: <nn::Dense<128, 10> as Tensors>::TENSORS,
            },
        ]
    );
    let activations: Vec<Activation> = <Mixed as Network>::LAYERS
        .iter()
        .map(|l| l.activation)
        .collect();
    assert_eq!(
        activations,
        [
            Activation::LeakyRelu(0.01),
            Activation::Tanh,
            Activation::Gelu,
            Activation::Sigmoid,
            Activation::Elu(0.5),
            Activation::Linear,
        ]
    );
    let names: Vec<&str> = <Mixed as Network>::LAYERS.iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        ["layer0", "layer1", "layer2", "layer3", "layer4", "layer5"]
    );
}

#[test]
fn random_is_reproducible_from_its_seed() {
    let a = weight_bits(&*Mnist::random(42));
    let b = weight_bits(&*Mnist::random(42));
    let c = weight_bits(&*Mnist::random(43));
    assert_eq!(a.len(), 784 * 128 + 128 * 10);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
    assert!(same < a.len() / 1000, "{same} equal weights");
    let mixed = (
        weight_bits(&*Mixed::random(0)),
        weight_bits(&*Mixed::random(0)),
    );
    assert_eq!(mixed.0, mixed.1);
    assert!(mixed.0.iter().any(|w| *w != 0.0));
}

#[test]
fn random_uses_he_for_the_relu_family_and_xavier_for_the_rest() {
    fn check<N: Network>(net: &N, he: &[bool]) {
        let mut index = 0;
        net.for_each_tensor(|info, tensor, weights| {
            if tensor.name != "weight" {
                return;
            }
            let &[outputs, inputs] = tensor.shape else {
                panic!("a dense weight: {tensor:?}")
            };
            let (fan_in, fan_out) = (inputs as f64, outputs as f64);
            let bound = if he[index] {
                (6.0 / fan_in).sqrt()
            } else {
                (6.0 / (fan_in + fan_out)).sqrt()
            };
            let weights: Vec<f64> = weights.iter().map(|w| nn::Scalar::to_f64(*w)).collect();
            let largest = weights.iter().fold(0.0_f64, |m, w| m.max(w.abs()));
            // Uniform on [-bound, bound): nothing beyond it, and samples close to it.
            assert!(largest <= bound, "{}: {largest} > {bound}", info.name);
            assert!(
                largest > 0.97 * bound,
                "{}: {largest} << {bound}",
                info.name
            );
            // Its variance is bound^2 / 3 (He: 2 / fan_in; Xavier: 2 / (fan_in + fan_out)).
            let n = weights.len() as f64;
            let mean = weights.iter().sum::<f64>() / n;
            let variance = weights.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / n;
            let expected = bound * bound / 3.0;
            assert!(
                (variance / expected - 1.0).abs() < 0.1,
                "{}: variance {variance}, expected {expected}",
                info.name
            );
            index += 1;
        });
        assert_eq!(index, he.len());
    }
    check(&*Mnist::random(5), &[true, false]);
    // leaky_relu, tanh, gelu, sigmoid, elu, linear.
    check(&*Mixed::random(5), &[true, false, true, false, true, false]);
}

#[test]
fn zeroed_is_all_zeros() {
    let net = Mnist::zeroed();
    assert!(weight_bits(&*net).iter().all(|w| *w == 0.0));
    // Zero logits: softmax is uniform.
    assert_eq!(net.forward(&[1.0; 784]), [0.1; 10]);
}

#[test]
fn summary_is_a_keras_style_table() {
    expect![[r#"
        Mnist (f32, 784 inputs)
        -------------------------------------------------------------------------
        Layer (type)            Activation        Output shape            Param #
        =========================================================================
        hidden (Dense)          relu              [128]                   100,480
        output (Dense)          softmax           [10]                      1,290
        =========================================================================
        Total params: 101,770 (397.5 KiB of weights)
        -------------------------------------------------------------------------"#]]
    .assert_eq(&Mnist::summary().to_string());
    expect![[r#"
        Mixed (f64, 100 inputs)
        -------------------------------------------------------------------------
        Layer (type)            Activation        Output shape            Param #
        =========================================================================
        layer0 (Dense)          leaky_relu(0.01)  [50]                      5,050
        layer1 (Dense)          tanh              [40]                      2,040
        layer2 (Dense)          gelu              [30]                      1,230
        layer3 (Dense)          sigmoid           [20]                        620
        layer4 (Dense)          elu(0.5)          [60]                      1,260
        layer5 (Dense)          linear            [10]                        610
        =========================================================================
        Total params: 10,810 (84.5 KiB of weights)
        -------------------------------------------------------------------------"#]]
    .assert_eq(&Mixed::summary().to_string());
    assert_eq!(Mnist::summary().parameters(), Mnist::PARAMETERS);
}

#[test]
fn forward_slice_reports_wrong_lengths() {
    let net = Mnist::random(1);
    let mut output = [7.0_f32; 10];
    let error = net.forward_slice(&[0.5; 783], &mut output).unwrap_err();
    assert_eq!(
        error,
        Error::Input {
            layer: "hidden",
            expected: 784,
            found: 783
        }
    );
    expect!["layer `hidden`: expected 784 inputs, found 783"].assert_eq(&error.to_string());
    let error = net
        .forward_slice(&[0.5; 784], &mut output[..9])
        .unwrap_err();
    assert_eq!(
        error,
        Error::Output {
            layer: "output",
            expected: 10,
            found: 9
        }
    );
    expect!["layer `output`: expected room for exactly 10 outputs, found 9"]
        .assert_eq(&error.to_string());
    // A failed call leaves the output alone.
    assert_eq!(output, [7.0; 10]);
    net.forward_slice(&[0.5; 784], &mut output).unwrap();
    assert_eq!(output, net.forward(&[0.5; 784]));
}

#[test]
fn forward_batch_reports_a_row_count_mismatch() {
    let net = Mnist::random(1);
    let inputs = vec![[0.5_f32; 784]; 4];
    let mut outputs = vec![[0.0_f32; 10]; 3];
    let error = net.forward_batch(&inputs, &mut outputs).unwrap_err();
    assert_eq!(
        error,
        Error::Batch {
            layer: "output",
            expected: 4,
            found: 3
        }
    );
    expect!["layer `output`: expected 4 output rows, one per input, found 3"]
        .assert_eq(&error.to_string());
    assert!(outputs.iter().flatten().all(|y| *y == 0.0));
    // What `fn main() -> Result<(), nn::Error>` prints after `Error: `: the message, not the
    // variant's fields, which `{:#?}` shows.
    assert_eq!(format!("{error:?}"), error.to_string());
    assert_eq!(
        format!("{error:#?}"),
        "Batch {\n    layer: \"output\",\n    expected: 4,\n    found: 3,\n}"
    );
    // `Error` is a `std::error::Error` with the `std` feature.
    let boxed: Box<dyn std::error::Error> = Box::new(error);
    assert!(boxed.to_string().starts_with("layer `output`"));
    // An empty batch is fine.
    net.forward_batch(&[], &mut []).unwrap();
}
