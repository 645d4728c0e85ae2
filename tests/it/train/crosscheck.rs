//! Training steps on a fixed batch against independent implementations: numpy networks
//! differentiated by autograd, optimizer formulas from PyTorch's documentation
//! (`tests/fixtures/train_step.py`, which wrote `train_step.json`), and small CNNs in PyTorch
//! itself, its layers, autograd and optimizers (`train_cnn_step.py`, `train_cnn_step.json`).

use super::{batch_gradients, flat_gradients, parameters};
use nn::Network;
use nn::layers::Shaped;
use nn::train::{
    Adam, BinaryCrossEntropy, CrossEntropy, Gradients, Loss, Mse, Optimizer, Sgd, Trainable,
};
use serde::Deserialize;
use serde_json::Value;

/// Largest difference allowed, relative to `max(1, |reference|)`. Both sides are f64; what is
/// left is rounding, about 1e-15.
const TOLERANCE: f64 = 1e-10;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    parameters: Vec<Value>,
    inputs: Vec<Vec<f64>>,
    targets: Vec<Vec<f64>>,
    loss: f64,
    gradients: Vec<Value>,
    optimizer: OptimizerSettings,
    after: Vec<Vec<Value>>,
    /// Batchnorm's cases: the loss before each step (training mode).
    #[serde(default)]
    losses: Vec<f64>,
    /// Batchnorm's cases: the outputs in eval mode after the last step.
    #[serde(default)]
    eval_outputs: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum OptimizerSettings {
    Sgd {
        lr: f64,
        momentum: f64,
        weight_decay: f64,
        nesterov: bool,
    },
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    },
}

/// Nested JSON arrays of numbers, flattened in row-major order.
fn flatten(value: &Value, into: &mut Vec<f64>) {
    match value {
        Value::Array(items) => {
            for item in items {
                flatten(item, into);
            }
        }
        Value::Number(n) => into.push(n.as_f64().expect("a finite number")),
        other => panic!("expected numbers, found {other}"),
    }
}

fn flat(values: &[Value]) -> Vec<f64> {
    let mut all = Vec::new();
    for value in values {
        flatten(value, &mut all);
    }
    all
}

/// The fixture's parameters of `N` (per layer, the weights in PyTorch's row order, then the
/// biases) in the order of `Network::for_each_tensor`, whose weights are by column.
fn storage_order<N: Network>(values: &[Value]) -> Vec<f64> {
    let row_major = flat(values);
    let mut all = Vec::with_capacity(row_major.len());
    let mut rest = row_major.as_slice();
    for tensor in N::LAYERS.iter().flat_map(|layer| layer.tensors) {
        let (values, tail) = rest.split_at(tensor.len());
        let mut stored = vec![0.0; values.len()];
        for (k, v) in values.iter().enumerate() {
            stored[tensor.storage_index(k)] = *v;
        }
        all.extend(stored);
        rest = tail;
    }
    assert!(rest.is_empty(), "{}: parameters left over", N::NAME);
    all
}

/// The fixture's gradients of `N`'s trained tensors (buffers have none), in storage order.
fn trained_order<N: Network>(values: &[Value]) -> Vec<f64> {
    let row_major = flat(values);
    let mut all = Vec::with_capacity(row_major.len());
    let mut rest = row_major.as_slice();
    let trained = N::LAYERS.iter().flat_map(|layer| layer.tensors);
    for tensor in trained.filter(|t| t.role == nn::Role::Parameter) {
        let (values, tail) = rest.split_at(tensor.len());
        let mut stored = vec![0.0; values.len()];
        for (k, v) in values.iter().enumerate() {
            stored[tensor.storage_index(k)] = *v;
        }
        all.extend(stored);
        rest = tail;
    }
    assert!(rest.is_empty(), "{}: gradients left over", N::NAME);
    all
}

fn assert_close(found: &[f64], expected: &[f64], what: &str) {
    assert_eq!(found.len(), expected.len(), "{what}: lengths");
    for (k, (f, e)) in found.iter().zip(expected).enumerate() {
        assert!(
            (f - e).abs() <= TOLERANCE * e.abs().max(1.0),
            "{what}: value {k}: found {f:e}, reference {e:e}"
        );
    }
}

/// The dense networks' fixture.
const DENSE: &str = include_str!("../../fixtures/train_step.json");

/// The CNNs' fixture.
const CNN: &str = include_str!("../../fixtures/train_cnn_step.json");

fn case(text: &str, name: &str) -> Case {
    let fixture: Fixture = serde_json::from_str(text).expect("the fixture parses");
    fixture
        .cases
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case `{name}` in the fixture"))
}

enum AnyOptimizer {
    Sgd(Sgd<f64>),
    Adam(Adam<f64>),
}

/// A sample of any shape from its values in row-major order.
fn shaped<S: Shaped<Scalar = f64>>(values: &[f64]) -> S {
    let mut sample = S::ZERO;
    assert_eq!(values.len(), S::LEN, "sample size");
    sample.values_mut().copy_from_slice(values);
    sample
}

fn run<N, L>(fixture: &str, name: &str, loss: &L)
where
    N: Trainable<Scalar = f64>,
    N::Input: Shaped<Scalar = f64>,
    N::Output: Shaped<Scalar = f64>,
    L: Loss<N::OutputActivation>,
{
    let case = case(fixture, name);
    let mut net = nn::__private::zeroed_box::<N>();
    let initial = storage_order::<N>(&case.parameters);
    assert_eq!(initial.len(), N::PARAMETERS, "{name}: parameter count");
    let mut values = initial.iter();
    net.for_each_tensor_mut(|_, _, parameters| {
        for p in parameters {
            *p = *values.next().expect("enough parameters");
        }
    });
    let inputs: Vec<N::Input> = case.inputs.iter().map(|x| shaped(x)).collect();
    let targets: Vec<N::Output> = case.targets.iter().map(|y| shaped(y)).collect();

    let (value, gradients) = batch_gradients(&*net, loss, &inputs, &targets);
    assert_close(&[value], &[case.loss], &format!("{name}: loss"));
    assert_close(
        &gradients,
        &storage_order::<N>(&case.gradients),
        &format!("{name}: gradients"),
    );

    let mut optimizer = optimizer(&case.optimizer);
    let mut accumulated = N::Gradients::zeroed();
    for (step, expected) in case.after.iter().enumerate() {
        accumulated.zero();
        let scale = 1.0 / inputs.len() as f64;
        for (x, y) in inputs.iter().zip(&targets) {
            net.accumulate_gradients(x, y, loss, scale, &mut accumulated);
        }
        optimizer.step(&mut *net, &accumulated);
        assert_close(
            &parameters(&*net),
            &storage_order::<N>(expected),
            &format!("{name}: parameters after step {}", step + 1),
        );
    }
    assert!(!flat_gradients(&*accumulated).iter().all(|g| *g == 0.0));
}

impl AnyOptimizer {
    fn step<N: Trainable<Scalar = f64>>(&mut self, net: &mut N, gradients: &N::Gradients) {
        match self {
            AnyOptimizer::Sgd(sgd) => sgd.step(net, gradients),
            AnyOptimizer::Adam(adam) => adam.step(net, gradients),
        }
    }
}

fn optimizer(settings: &OptimizerSettings) -> AnyOptimizer {
    match *settings {
        OptimizerSettings::Sgd {
            lr,
            momentum,
            weight_decay,
            nesterov,
        } => AnyOptimizer::Sgd(
            Sgd::new(lr)
                .momentum(momentum)
                .weight_decay(weight_decay)
                .nesterov(nesterov),
        ),
        OptimizerSettings::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } => AnyOptimizer::Adam(
            Adam::new(lr)
                .betas(beta1, beta2)
                .epsilon(eps)
                .weight_decay(weight_decay),
        ),
    }
}

/// A network with batchnorm in training mode: each step one `accumulate_batch` over the batch
/// (its statistics), the optimizer's step, then `update_buffers`; the whole state (running
/// statistics and `num_batches_tracked` included) against PyTorch's after every step, then
/// eval mode's outputs, which read the running statistics.
fn run_batchnorm<N>(name: &str)
where
    N: Trainable<Scalar = f64>,
    N::Input: Shaped<Scalar = f64>,
    N::Output: Shaped<Scalar = f64>,
    CrossEntropy: Loss<N::OutputActivation>,
{
    let case = case(CNN, name);
    let mut net = nn::__private::zeroed_box::<N>();
    let state = storage_order::<N>(&case.parameters);
    let mut values = state.iter();
    net.for_each_tensor_mut(|_, _, tensor| {
        for p in tensor {
            *p = *values.next().expect("the whole state");
        }
    });
    let inputs: Vec<N::Input> = case.inputs.iter().map(|x| shaped(x)).collect();
    let targets: Vec<N::Output> = case.targets.iter().map(|y| shaped(y)).collect();
    let scale = 1.0 / inputs.len() as f64;
    let mut optimizer = optimizer(&case.optimizer);
    let mut gradients = N::Gradients::zeroed();
    for (step, expected) in case.after.iter().enumerate() {
        gradients.zero();
        let mut total = 0.0;
        net.accumulate_batch(
            &inputs,
            &targets,
            &CrossEntropy,
            scale,
            &mut gradients,
            |_, o| {
                total += o.loss;
            },
        )
        .expect("a batch of the right rows");
        assert_close(
            &[total * scale],
            &[case.losses[step]],
            &format!("{name}: loss {step}"),
        );
        if step == 0 {
            assert_close(&[total * scale], &[case.loss], &format!("{name}: loss"));
            assert_close(
                &flat_gradients(&*gradients),
                &trained_order::<N>(&case.gradients),
                &format!("{name}: gradients"),
            );
        }
        optimizer.step(&mut *net, &gradients);
        net.update_buffers(&gradients);
        assert_close(
            &parameters(&*net),
            &storage_order::<N>(expected),
            &format!("{name}: state after step {}", step + 1),
        );
    }
    assert_eq!(case.eval_outputs.len(), inputs.len());
    for (x, expected) in inputs.iter().zip(&case.eval_outputs) {
        assert_close(
            net.predict(x).values(),
            expected,
            &format!("{name}: eval outputs"),
        );
    }
}

nn::network! {
    struct Classifier = 4 -> 5 relu -> 3 softmax with scalar = f64;
}

nn::network! {
    struct Binary = 3 -> 4 tanh -> 2 sigmoid with scalar = f64;
}

nn::network! {
    struct Regression = 3 -> 6 leaky_relu(0.1) -> 4 silu -> 2 with scalar = f64;
}

nn::network! {
    struct SoftLabels = 3 -> 4 elu(0.5) -> 4 softplus -> 3 log_softmax with scalar = f64;
}

nn::network! {
    struct SoftmaxMse = 3 -> 5 sigmoid -> 3 softmax with scalar = f64;
}

#[test]
fn cross_entropy_on_softmax_with_sgd_momentum_and_weight_decay() {
    run::<Classifier, _>(DENSE, "classifier", &CrossEntropy);
}

#[test]
fn binary_cross_entropy_on_sigmoid_with_adam() {
    run::<Binary, _>(DENSE, "binary", &BinaryCrossEntropy);
}

#[test]
fn mse_on_a_linear_output_with_nesterov() {
    run::<Regression, _>(DENSE, "regression", &Mse);
}

#[test]
fn cross_entropy_on_log_softmax_with_soft_labels_and_adam() {
    run::<SoftLabels, _>(DENSE, "soft_labels", &CrossEntropy);
}

#[test]
fn mse_on_softmax_with_sgd() {
    run::<SoftmaxMse, _>(DENSE, "softmax_mse", &Mse);
}

nn::network! {
    /// `lenet_like` in the fixture's script.
    struct SmallCnn = [2, 7, 7] -> conv2d(4, 3, padding = 1) relu -> maxpool2d(2) -> flatten
        -> 5 softmax with scalar = f64;

    /// `strided`: stride, padding and groups, then dilation, and a pool of stride 1.
    struct StridedCnn = [4, 9, 8] -> conv2d(6, 3, stride = 2, padding = 1, groups = 2) tanh
        -> conv2d(4, 2, dilation = 2) relu -> maxpool2d(2, stride = 1) -> flatten -> 3 softmax
        with scalar = f64;

    /// `sequence`: a strided 1-D convolution and an average pool.
    struct SequenceCnn = [3, 12] -> conv1d(4, 3, stride = 2, padding = 1) relu -> avgpool1d(2)
        -> flatten -> 3 softmax with scalar = f64;

    /// `pools`: a max pool whose padding never wins, an average pool that counts it, and
    /// `AdaptiveMaxPool2d(1)` as the global max.
    struct PoolsCnn = [2, 8, 8] -> conv2d(3, 3, padding = 1) tanh
        -> maxpool2d(3, stride = 2, padding = 1) -> avgpool2d(2, stride = 1, padding = 1)
        -> global_maxpool -> 4 softmax with scalar = f64;

    /// `ties`: max-pool windows with equal maxima, the gradient to the first, as PyTorch.
    struct TiesCnn = [1, 6, 6] -> conv2d(2, 2) -> maxpool2d(2) -> global_avgpool -> 3 softmax
        with scalar = f64;

    /// `sequence_pools`: a 1-D max pool of stride 1 and `AdaptiveAvgPool1d(1)`.
    struct SequencePools = [2, 10] -> conv1d(3, 3) relu -> maxpool1d(2, stride = 1)
        -> global_avgpool -> 2 softmax with scalar = f64;
}

nn::network! {
    /// `no_bias` in the fixture's script: PyTorch's `bias=False` on a convolution and a linear
    /// layer, whose biases the optimizer never sees.
    struct NoBiasCnn = [2, 7, 7] -> conv2d(4, 3, padding = 1, bias = false) relu -> maxpool2d(2)
        -> flatten -> dense(6, bias = false) tanh -> 5 softmax with scalar = f64;
}

#[test]
fn layers_without_a_bias_train_as_pytorch_s_and_keep_none() {
    run::<NoBiasCnn, _>(CNN, "no_bias_sgd", &CrossEntropy);
    // The biases the layers keep stay zero through training (momentum and weight decay
    // included), and no visitor shows them.
    let mut net = NoBiasCnn::random(3);
    let x = [[[0.5; 7]; 7]; 2];
    let mut gradients = <NoBiasCnn as Trainable>::Gradients::zeroed();
    let mut sgd = Sgd::new(0.5).momentum(0.9).weight_decay(0.1);
    for _ in 0..3 {
        gradients.zero();
        let mut target = [0.0; 5];
        target[1] = 1.0;
        net.accumulate_gradients(&x, &target, &CrossEntropy, 1.0, &mut gradients);
        sgd.step(&mut *net, &gradients);
    }
    assert!(net.layer0.bias().iter().all(|b| *b == 0.0));
    assert!(net.layer3.bias().iter().all(|b| *b == 0.0));
    assert!(
        net.layer4.bias().iter().any(|b| *b != 0.0),
        "the last layer has a bias"
    );
    let mut names = Vec::new();
    net.for_each_tensor(|layer, tensor, _| names.push(format!("{}.{}", layer.name, tensor.name)));
    assert_eq!(
        names,
        [
            "layer0.weight",
            "layer3.weight",
            "layer4.weight",
            "layer4.bias"
        ]
    );
}

#[test]
fn cnn_with_sgd_momentum_and_weight_decay_against_pytorch() {
    run::<SmallCnn, _>(CNN, "cnn_sgd", &CrossEntropy);
}

#[test]
fn cnn_with_adam_against_pytorch() {
    run::<SmallCnn, _>(CNN, "cnn_adam", &CrossEntropy);
}

#[test]
fn strided_grouped_dilated_cnn_with_adam_against_pytorch() {
    run::<StridedCnn, _>(CNN, "strided_cnn_adam", &CrossEntropy);
}

#[test]
fn one_dimensional_cnn_with_sgd_against_pytorch() {
    run::<SequenceCnn, _>(CNN, "sequence_sgd", &CrossEntropy);
}

#[test]
fn padded_max_and_average_pools_and_a_global_max_against_pytorch() {
    run::<PoolsCnn, _>(CNN, "pools_adam", &CrossEntropy);
}

#[test]
fn max_pool_ties_pass_the_gradient_to_the_first_maximum_as_pytorch() {
    run::<TiesCnn, _>(CNN, "ties_sgd", &CrossEntropy);
}

#[test]
fn one_dimensional_max_pool_and_global_average_against_pytorch() {
    run::<SequencePools, _>(CNN, "sequence_pools_adam", &CrossEntropy);
}

nn::network! {
    struct BatchNormCnn = [2, 6, 6] -> conv2d(4, 3, padding = 1) -> batchnorm relu
        -> maxpool2d(2) -> flatten -> 6 -> batchnorm(eps = 0.001) tanh -> 3 softmax
        with scalar = f64;

    struct BatchNormSequence = [2, 8] -> conv1d(3, 3) -> batchnorm(momentum = 0.3) relu
        -> flatten -> 3 softmax with scalar = f64;
}

#[test]
fn batchnorm_cnn_in_training_mode_with_sgd_against_pytorch() {
    run_batchnorm::<BatchNormCnn>("batchnorm_cnn_sgd");
}

#[test]
fn batchnorm_on_a_sequence_with_momentum_and_adam_against_pytorch() {
    run_batchnorm::<BatchNormSequence>("batchnorm_sequence_adam");
}

#[test]
fn batchnorm_on_a_batch_larger_than_a_chunk_against_pytorch() {
    // Chunks of 2 samples, against a batch of 7.
    assert_eq!(super::batchnorm::Tall::TRAINING_CHUNK, 2);
    run_batchnorm::<super::batchnorm::Tall>("batchnorm_tall_sgd");
}
