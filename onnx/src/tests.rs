//! Models built here, one mistake each, and the exact problem import reports for it.

// expect-test writes its snapshots as `r#"..."#`, whether or not they contain a quote.
#![allow(clippy::needless_raw_string_hashes)]

use crate::proto::{
    Attribute, Dimension, Graph, Model, Node, OperatorSetId, Tensor, TensorShape, TensorType, Type,
    ValueInfo, attribute_type, data_type,
};
use crate::{Error, Options, import};
use expect_test::expect;
use prost::Message as _;

fn int(name: &str, i: i64) -> Attribute {
    Attribute {
        name: name.to_owned(),
        r#type: 2,
        i,
        ..Attribute::default()
    }
}

fn ints(name: &str, values: &[i64]) -> Attribute {
    Attribute {
        name: name.to_owned(),
        r#type: attribute_type::INTS,
        ints: values.to_vec(),
        ..Attribute::default()
    }
}

fn string(name: &str, value: &str) -> Attribute {
    Attribute {
        name: name.to_owned(),
        r#type: attribute_type::STRING,
        s: value.as_bytes().to_vec(),
        ..Attribute::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attributes: Vec<Attribute>) -> Node {
    Node {
        input: inputs.iter().map(|&i| i.to_owned()).collect(),
        output: vec![output.to_owned()],
        name: format!("/{output}/{op}"),
        op_type: op.to_owned(),
        attribute: attributes,
        ..Node::default()
    }
}

/// A float tensor of the given shape, every value `0.5`.
fn weights(name: &str, dims: &[i64]) -> Tensor {
    let count = dims.iter().product::<i64>();
    Tensor {
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        float_data: vec![0.5; usize::try_from(count).unwrap()],
        name: name.to_owned(),
        ..Tensor::default()
    }
}

fn value(name: &str, dims: &[i64]) -> ValueInfo {
    let batch = Dimension {
        dim_param: Some("batch".to_owned()),
        ..Dimension::default()
    };
    let rest = dims.iter().map(|&d| Dimension {
        dim_value: Some(d),
        ..Dimension::default()
    });
    ValueInfo {
        name: name.to_owned(),
        r#type: Some(Type {
            tensor_type: Some(TensorType {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShape {
                    dim: std::iter::once(batch).chain(rest).collect(),
                }),
            }),
        }),
    }
}

/// A model reading `x` of shape `[batch, input...]`, writing `y`.
fn model(opset: i64, input: &[i64], nodes: Vec<Node>, initializer: Vec<Tensor>) -> Vec<u8> {
    Model {
        ir_version: 8,
        opset_import: vec![OperatorSetId {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(Graph {
            node: nodes,
            name: "test".to_owned(),
            initializer,
            input: vec![value("x", input)],
            output: vec![value("y", &[])],
            ..Graph::default()
        }),
        ..Model::default()
    }
    .encode_to_vec()
}

/// The problems import reports, one per line.
fn problems(bytes: &[u8]) -> String {
    match import(bytes, &Options::default()) {
        Ok(import) => format!("imported: {}", import.network),
        Err(Error::Unsupported(problems)) => problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        Err(other) => other.to_string(),
    }
}

// One model per case, read top to bottom beside the report.
#[allow(clippy::too_many_lines)]
#[test]
fn each_mistake_is_named_on_its_node() {
    let dense = || node("Gemm", &["x", "w"], "h", vec![int("transB", 1)]);
    let w = || weights("w", &[4, 4]);
    let cases = [
        model(13, &[4], vec![node("Relu", &["x"], "y", vec![])], vec![]),
        model(
            13,
            &[4],
            vec![
                dense(),
                node("Relu", &["h"], "r", vec![]),
                node("Sigmoid", &["r"], "y", vec![]),
            ],
            vec![w()],
        ),
        model(
            13,
            &[4],
            vec![
                dense(),
                node("Relu", &["h"], "r", vec![]),
                node(
                    "BatchNormalization",
                    &["r", "s", "s", "s", "s"],
                    "y",
                    vec![int("training_mode", 1)],
                ),
            ],
            vec![w(), weights("s", &[4])],
        ),
        model(
            20,
            &[4],
            vec![
                dense(),
                node("Gelu", &["h"], "y", vec![string("approximate", "fast")]),
            ],
            vec![w()],
        ),
        model(
            13,
            &[1, 4, 4],
            vec![node(
                "MaxPool",
                &["x"],
                "y",
                vec![ints("kernel_shape", &[3, 3]), int("ceil_mode", 1)],
            )],
            vec![],
        ),
        model(
            13,
            &[1, 4, 4],
            vec![node(
                "AveragePool",
                &["x"],
                "y",
                vec![ints("kernel_shape", &[2, 2]), ints("pads", &[1, 1, 1, 1])],
            )],
            vec![],
        ),
        model(
            13,
            &[4],
            vec![node("Gemm", &["x", "w"], "y", vec![int("transA", 1)])],
            vec![w()],
        ),
        model(
            13,
            &[16],
            vec![node("Reshape", &["x", "shape"], "y", vec![])],
            vec![Tensor {
                dims: vec![3],
                data_type: data_type::INT64,
                int64_data: vec![0, 2, 8],
                name: "shape".to_owned(),
                ..Tensor::default()
            }],
        ),
        model(
            13,
            &[4],
            vec![
                dense(),
                node("Gemm", &["h", "w"], "a", vec![]),
                node("Gemm", &["h", "w"], "b", vec![]),
                node("Add", &["a", "b"], "y", vec![]),
            ],
            vec![w()],
        ),
        model(
            13,
            &[1, 4, 4],
            vec![
                node("Conv", &["x", "k"], "c", vec![]),
                node("Softmax", &["c"], "y", vec![int("axis", 1)]),
            ],
            vec![weights("k", &[2, 1, 3, 3])],
        ),
        model(
            13,
            &[1, 4, 4],
            vec![node(
                "Conv",
                &["x", "k"],
                "y",
                vec![string("auto_pad", "SAME_UPPER"), ints("strides", &[2, 2])],
            )],
            vec![weights("k", &[2, 1, 3, 3])],
        ),
        model(
            13,
            &[4],
            vec![node("MatMul", &["w", "x"], "y", vec![])],
            vec![w()],
        ),
        model(
            13,
            &[4],
            vec![dense(), node("Add", &["h", "b"], "y", vec![])],
            vec![w(), weights("b", &[2, 2])],
        ),
        model(
            13,
            &[4],
            vec![dense(), node("Gemm", &["h", "w5"], "y", vec![])],
            vec![w(), weights("w5", &[5, 3])],
        ),
        model(13, &[], vec![node("Relu", &["x"], "y", vec![])], vec![]),
        model(
            13,
            &[2, 3, 4, 5],
            vec![node("Relu", &["x"], "y", vec![])],
            vec![],
        ),
        b"not a model".to_vec(),
    ];
    let report: Vec<String> = cases.iter().map(|bytes| problems(bytes)).collect();
    expect![[r#"
        node 0 `/y/Relu` (Relu, reads `x`): applies `relu` to the input: nn applies activations to layers
        node 2 `/y/Sigmoid` (Sigmoid, reads `r`): applies `sigmoid` after `relu` on layer `h`: nn applies one activation per layer
        node 2 `/y/BatchNormalization` (BatchNormalization, reads `r`, `s`, `s`, `s`, `s`): runs in training mode
        node 1 `/y/Gelu` (Gelu, reads `h`): approximates GELU with `fast`: nn has the exact form (`gelu`) and the `tanh` one (`gelu_tanh`)
        node 0 `/y/MaxPool` (MaxPool, reads `x`): rounds its output size up (`ceil_mode = 1`): nn rounds down, as PyTorch's default
        node 0 `/y/AveragePool` (AveragePool, reads `x`): averages without counting the padding (`count_include_pad = 0`): nn's avgpool counts it, as PyTorch's default
        node 0 `/y/Gemm` (Gemm, reads `x`, `w`): transposes the input (`transA = 1`): the batch axis would mix with the features
        node 0 `/y/Reshape` (Reshape, reads `x`, `shape`): reshapes [batch, 16] to [0, 2, 8]: only reshapes of each sample to a vector ([batch, -1]) can be imported
        node 1 `/a/Gemm` (Gemm, reads `h`, `w`): the graph branches: `h` also feeds node 2 (Gemm); only chains of layers can be imported
        node 2 `/b/Gemm` (Gemm, reads `h`, `w`): the graph branches: `h` also feeds node 1 (Gemm); only chains of layers can be imported
        node 3 `/y/Add` (Add, reads `a`, `b`): joins 2 values computed from the input (a residual or a concatenation): only chains of layers can be imported
        node 1 `/y/Softmax` (Softmax, reads `c`): normalises a feature map ([2, 2, 2]): nn's `softmax` normalises a vector
        node 0 `/y/Conv` (Conv, reads `x`, `k`): pads with `auto_pad = SAME_UPPER` with a stride or an even kernel: nn pads both sides alike
        node 0 `/y/MatMul` (MatMul, reads `w`, `x`): multiplies constants by the input's flow from the left: expected the flow as the first input
        node 1 `/y/Add` (Add, reads `h`, `b`): adds a constant of shape [2, 2] to layer `h`'s output [4]: expected one value per channel
        node 1 `/y/Gemm` (Gemm, reads `h`, `w5`): multiplies 4 values by a 5x3 matrix
        input `x` has shape [batch], expected [batch, C], [batch, C, L] or [batch, C, H, W]
        input `x` has shape [batch, 2, 3, 4, 5], expected [batch, C], [batch, C, L] or [batch, C, H, W]
        not an ONNX model: failed to decode Protobuf message: invalid wire type value: 6"#]].assert_eq(&report.join("\n"));
}

/// GELU's `tanh` approximation as `Gelu` (opset 20) and as PyTorch's exporters write it before:
/// the cube a `Pow` (`dynamo=True`), or two `Mul`s, the half taken first (TorchScript's).
#[test]
fn tanh_gelu_in_each_exporters_form_is_gelu_tanh() {
    let w = || weights("w", &[4, 4]);
    let opset_20 = vec![
        node("Gemm", &["x", "w"], "h", vec![int("transB", 1)]),
        node("Gelu", &["h"], "y", vec![string("approximate", "tanh")]),
    ];
    for bytes in [
        model(20, &[4], opset_20, vec![w()]),
        model(17, &[4], tanh_gelu(true), tanh_gelu_constants(&w)),
        model(13, &[4], tanh_gelu(false), tanh_gelu_constants(&w)),
    ] {
        let import = import(&bytes, &Options::default()).expect("imports");
        let text = import.network.to_string();
        assert!(
            text.ends_with("\npub struct Net = 4 -> dense(4, bias = false) gelu_tanh as h;"),
            "{text}"
        );
    }
}

/// A dense layer `h`, then GELU's `tanh` approximation of it, `y`, decomposed: the cube
/// `Pow(h, 3)` and `0.5 * h` last, or two `Mul`s and the half first.
fn tanh_gelu(pow: bool) -> Vec<Node> {
    let mut nodes = vec![node("Gemm", &["x", "w"], "h", vec![int("transB", 1)])];
    if pow {
        nodes.push(node("Pow", &["h", "three"], "cube", vec![]));
    } else {
        nodes.push(node("Mul", &["h", "h"], "square", vec![]));
        nodes.push(node("Mul", &["h", "square"], "cube", vec![]));
    }
    nodes.extend([
        node("Mul", &["kappa", "cube"], "scaled_cube", vec![]),
        node("Add", &["h", "scaled_cube"], "sum", vec![]),
        node("Mul", &["beta", "sum"], "inner", vec![]),
        node("Tanh", &["inner"], "tanh", vec![]),
        node("Add", &["tanh", "one"], "one_plus", vec![]),
    ]);
    if pow {
        nodes.push(node("Mul", &["h", "one_plus"], "times", vec![]));
        nodes.push(node("Mul", &["half", "times"], "y", vec![]));
    } else {
        nodes.push(node("Mul", &["h", "half"], "half_h", vec![]));
        nodes.push(node("Mul", &["half_h", "one_plus"], "y", vec![]));
    }
    nodes
}

/// The weights and the constants of [`tanh_gelu`], each in `f32` as exporters write them.
fn tanh_gelu_constants(weights: &dyn Fn() -> Tensor) -> Vec<Tensor> {
    #[allow(clippy::cast_possible_truncation)]
    let scalar = |name: &str, value: f64| Tensor {
        data_type: data_type::FLOAT,
        float_data: vec![value as f32],
        name: name.to_owned(),
        ..Tensor::default()
    };
    vec![
        weights(),
        scalar("three", 3.0),
        scalar("kappa", 0.044_715),
        scalar("beta", (2.0 / std::f64::consts::PI).sqrt()),
        scalar("one", 1.0),
        scalar("half", 0.5),
    ]
}

fn strings(name: &str, values: &[&str]) -> Attribute {
    Attribute {
        name: name.to_owned(),
        r#type: 8,
        strings: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
        ..Attribute::default()
    }
}

/// A recurrent node reading `inputs`, writing `outputs`.
fn recurrent(op: &str, inputs: &[&str], outputs: &[&str], attributes: Vec<Attribute>) -> Node {
    Node {
        output: outputs.iter().map(|&o| o.to_owned()).collect(),
        ..node(op, inputs, outputs[0], attributes)
    }
}

/// A scalar `int64` constant.
fn index(name: &str, value: i64) -> Tensor {
    Tensor {
        data_type: data_type::INT64,
        int64_data: vec![value],
        name: name.to_owned(),
        ..Tensor::default()
    }
}

// One model per case, as `each_mistake_is_named_on_its_node`: an LSTM of 3 hidden values
// reading 2 features a step of `x`, `[batch, 5 steps, 2]` (`layout = 1`).
#[allow(clippy::too_many_lines)]
#[test]
fn recurrent_mistakes_are_named_on_their_node() {
    let lstm = |inputs: &[&str], outputs: &[&str], mut attributes: Vec<Attribute>| {
        attributes.extend([int("hidden_size", 3), int("layout", 1)]);
        recurrent("LSTM", inputs, outputs, attributes)
    };
    let tensors = || {
        vec![
            weights("w", &[1, 12, 2]),
            weights("r", &[1, 12, 3]),
            weights("b", &[1, 24]),
            weights("half", &[1, 1, 3]),
            weights("p", &[1, 9]),
            Tensor {
                dims: vec![1],
                data_type: data_type::INT64,
                int64_data: vec![-1],
                name: "flat".to_owned(),
                ..Tensor::default()
            },
            index("first", 0),
            index("last", -1),
            index("fifth", 4),
        ]
    };
    let one = |nodes: Vec<Node>| model(14, &[5, 2], nodes, tensors());
    // `Gather` of one step of the LSTM's `Y`, `[batch, steps, directions, features]`.
    let gather = |index: &str, axis: i64| {
        one(vec![
            lstm(&["x", "w", "r", "b"], &["h"], vec![]),
            node("Gather", &["h", index], "y", vec![int("axis", axis)]),
        ])
    };
    let cases = [
        one(vec![lstm(&["x", "w", "r", "b"], &["y"], vec![])]),
        one(vec![lstm(
            &["x", "w", "r", "b", "", "half"],
            &["y"],
            vec![],
        )]),
        one(vec![lstm(&["x", "w", "r", "b", "flat"], &["y"], vec![])]),
        one(vec![lstm(
            &["x", "w", "r", "b", "", "", "", "p"],
            &["y"],
            vec![],
        )]),
        one(vec![lstm(&["x", "w", "r", "b"], &["all", "y"], vec![])]),
        one(vec![lstm(
            &["x", "w", "r"],
            &["y"],
            vec![Attribute {
                name: "clip".to_owned(),
                f: 3.0,
                ..Attribute::default()
            }],
        )]),
        one(vec![
            lstm(&["x", "w", "r", "b"], &["h"], vec![]),
            node("Reshape", &["h", "flat"], "y", vec![]),
        ]),
        one(vec![
            lstm(&["x", "w", "r", "b"], &["h"], vec![]),
            node("Softmax", &["h"], "y", vec![int("axis", 1)]),
        ]),
        one(vec![
            node("Transpose", &["x"], "t", vec![ints("perm", &[2, 1, 0])]),
            lstm(&["t", "w", "r"], &["y"], vec![]),
        ]),
        model(
            14,
            &[5, 2],
            vec![recurrent(
                "RNN",
                &["x", "w", "r"],
                &["y"],
                vec![strings("activations", &["Sigmoid"])],
            )],
            vec![weights("w", &[1, 3, 2]), weights("r", &[1, 3, 3])],
        ),
        gather("last", 1),
        gather("fifth", -3),
        gather("first", 1),
        gather("last", 3),
        // `h_n[-1]` of one level imports; `h_n` beside `Y` (a second level's input) or `c_n`
        // cannot.
        one(vec![
            lstm(&["x", "w", "r", "b"], &["all", "h"], vec![]),
            node("Gather", &["h", "last"], "y", vec![int("axis", 1)]),
        ]),
        one(vec![
            lstm(&["x", "w", "r", "b"], &["all", "h"], vec![]),
            node("Add", &["all", "h"], "y", vec![]),
        ]),
        one(vec![lstm(&["x", "w", "r", "b"], &["all", "", "y"], vec![])]),
    ];
    let report: Vec<String> = cases.iter().map(|bytes| problems(bytes)).collect();
    expect![[r#"
        imported: /// Imported from ONNX (opset 14).
        pub struct Net = 2 -> lstm(3) as y;
        node 0 `/y/LSTM` (LSTM, reads `x`, `w`, `r`, `b`, `half`): starts from an initial state `initial_h` that is not zeros: nn's streams start from zeros (`State::ZERO`)
        node 0 `/y/LSTM` (LSTM, reads `x`, `w`, `r`, `b`, `flat`): has `sequence_lens`: nn's sequences are as long as they are given, export without lengths
        node 0 `/y/LSTM` (LSTM, reads `x`, `w`, `r`, `b`, `p`): has peepholes (`P`): nn's `lstm` is PyTorch's, which has none
        imported: /// Imported from ONNX (opset 14).
        /// The model returns its last time step's output: run a sequence through
        /// `forward_sequence` (or `step`) and read the last output.
        pub struct Net = 2 -> lstm(3) as all;
        node 0 `/y/LSTM` (LSTM, reads `x`, `w`, `r`): clips its cells' inputs (`clip`): nn's recurrent layers do not clip
        node 1 `/y/Reshape` (Reshape, reads `h`, `flat`): reshapes the sequence [batch, steps, directions, features] to [-1]: only reshapes that keep each step's features can be imported
        node 1 `/y/Softmax` (Softmax, reads `h`): normalises along axis 1: only the features' axis (3 or -1) can be imported
        node 0 `/t/Transpose` (Transpose, reads `x`): transposes [batch, steps, features] with `perm` [2, 1, 0]: the features must stay the last axis
        node 0 `/y/RNN` (RNN, reads `x`, `w`, `r`): has activations ["Sigmoid"]: nn's `rnn` computes `["Tanh"]` or `["Relu"]`
        imported: /// Imported from ONNX (opset 14).
        /// The model returns its last time step's output: run a sequence through
        /// `forward_sequence` (or `step`) and read the last output.
        pub struct Net = 2 -> lstm(3) as h;
        imported: /// Imported from ONNX (opset 14).
        /// The model returns its last time step's output: run a sequence through
        /// `forward_sequence` (or `step`) and read the last output.
        pub struct Net = 2 -> lstm(3) as h;
        node 1 `/y/Gather` (Gather, reads `h`, `first`): takes step 0 of [batch, steps, directions, features]: a sequence network gives each step's output as it comes, so only the last step (index -1) can be taken
        node 1 `/y/Gather` (Gather, reads `h`, `last`): gathers along the features axis of [batch, steps, directions, features]: only the last time step can be taken from a sequence
        imported: /// Imported from ONNX (opset 14).
        /// The model returns its last time step's output: run a sequence through
        /// `forward_sequence` (or `step`) and read the last output.
        pub struct Net = 2 -> lstm(3) as all;
        node 0 `/all/LSTM` (LSTM, reads `x`, `w`, `r`, `b`): uses both every step's output `Y` and its last step's state `Y_h` (`h`): a network has one output; return the last step of `Y` instead (`y[:, -1]` for a batch-first module), or `h_n[-1]`, which import
        node 1 `/y/Add` (Add, reads `all`, `h`): joins 2 values computed from the input (a residual or a concatenation): only chains of layers can be imported
        node 0 `/all/LSTM` (LSTM, reads `x`, `w`, `r`, `b`): its last step's cell state `Y_c` (`y`) is used: a sequence network keeps the cell state in the stream's state, and gives the hidden state"#]].assert_eq(&report.join("\n"));
}

#[test]
fn calls_of_calls_stop_at_the_budget() {
    // `f0` calls `f1` ten times, `f1` calls `f2` ten times, ...: 10^8 nodes once inlined.
    let call = |function: usize, index: usize| Node {
        input: vec!["x".to_owned()],
        output: vec![format!("y{index}")],
        name: format!("call{index}"),
        op_type: format!("f{function}"),
        domain: "local".to_owned(),
        ..Node::default()
    };
    let functions = (0..8)
        .map(|level| crate::proto::Function {
            name: format!("f{level}"),
            input: vec!["x".to_owned()],
            output: vec!["y9".to_owned()],
            node: (0..10).map(|index| call(level + 1, index)).collect(),
            domain: "local".to_owned(),
            ..crate::proto::Function::default()
        })
        .collect();
    let bytes = Model {
        opset_import: vec![OperatorSetId {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(Graph {
            node: vec![Node {
                output: vec!["y".to_owned()],
                ..call(0, 0)
            }],
            input: vec![value("x", &[4])],
            output: vec![value("y", &[])],
            ..Graph::default()
        }),
        functions,
        ..Model::default()
    }
    .encode_to_vec();
    let report = problems(&bytes);
    assert!(
        report.starts_with(
            "inlining the calls of local functions makes more nodes than a model of this size may"
        ),
        "{report}"
    );
}

/// `MatMul` then `Sub` of a constant, as `x @ w - c` exports: a dense layer whose bias is
/// `-c`; the constant subtracted the other way round is named.
#[test]
fn a_constant_subtracted_from_a_layer_is_its_bias() {
    let c = Tensor {
        dims: vec![4],
        data_type: data_type::FLOAT,
        float_data: vec![0.25, -1.5, 0.0, 3.0],
        name: "c".to_owned(),
        ..Tensor::default()
    };
    let nodes = |inputs: &[&str]| {
        vec![
            node("MatMul", &["x", "w"], "h", vec![]),
            node("Sub", inputs, "y", vec![]),
        ]
    };
    let bytes = model(
        13,
        &[4],
        nodes(&["h", "c"]),
        vec![weights("w", &[4, 4]), c.clone()],
    );
    let import = import(&bytes, &Options::default()).expect("imports");
    assert_eq!(import.network.layers.len(), 1);
    // A `MatMul` has no bias of its own: the `Sub` gives it one.
    assert!(import.network.layers[0].bias);
    let layer = &import.network.layers[0].name;
    let bias = import
        .tensors
        .iter()
        .find(|t| t.name == format!("{layer}.bias"))
        .expect("a bias");
    assert_eq!(bias.values, [-0.25, 1.5, 0.0, -3.0]);

    let reversed = model(13, &[4], nodes(&["c", "h"]), vec![weights("w", &[4, 4]), c]);
    expect![[r#"
        node 1 `/y/Sub` (Sub, reads `c`, `h`): subtracts the input's flow from a constant: only a constant subtracted from a layer's output (a bias) can be imported"#]]
    .assert_eq(&problems(&reversed));
}

/// TorchScript's `x.view(x.size(0), -1)` after a node that cannot be imported: the batch size
/// read from the unknown value (`Shape`, `Gather`, `Unsqueeze`, `Concat`) and the `Reshape`
/// add no problems of their own.
#[test]
fn a_problem_adds_none_on_the_batch_size_read_after_it() {
    let int64 = |name: &str, dims: Vec<i64>, values: Vec<i64>| Tensor {
        dims,
        data_type: data_type::INT64,
        int64_data: values,
        name: name.to_owned(),
        ..Tensor::default()
    };
    let nodes = vec![
        node(
            "MaxPool",
            &["x"],
            "p",
            vec![ints("kernel_shape", &[2, 2]), int("ceil_mode", 1)],
        ),
        node("Shape", &["p"], "shape", vec![]),
        node("Gather", &["shape", "zero"], "batch", vec![int("axis", 0)]),
        node("Unsqueeze", &["batch", "axis"], "batch_1", vec![]),
        node(
            "Concat",
            &["batch_1", "minus_one"],
            "size",
            vec![int("axis", 0)],
        ),
        node("Reshape", &["p", "size"], "y", vec![]),
    ];
    let constants = vec![
        int64("zero", vec![], vec![0]),
        int64("axis", vec![1], vec![0]),
        int64("minus_one", vec![1], vec![-1]),
    ];
    expect!["node 0 `/p/MaxPool` (MaxPool, reads `x`): rounds its output size up (`ceil_mode = 1`): nn rounds down, as PyTorch's default"]
    .assert_eq(&problems(&model(13, &[1, 5, 5], nodes, constants)));
}

/// A constant added to a convolution's output seen with one more axis (`Unsqueeze`) broadcasts
/// over that axis otherwise than a bias: refused, not taken as one. A batchnorm whose variance
/// is negative is a damaged model.
#[test]
fn a_constant_on_a_view_and_a_negative_variance_are_refused() {
    let int64 = |name: &str, values: Vec<i64>| Tensor {
        dims: vec![i64::try_from(values.len()).unwrap()],
        data_type: data_type::INT64,
        int64_data: values,
        name: name.to_owned(),
        ..Tensor::default()
    };
    let unsqueezed = model(
        13,
        &[1, 4],
        vec![
            node("Conv", &["x", "k"], "c", vec![]),
            node("Unsqueeze", &["c", "axis"], "u", vec![]),
            node("Add", &["u", "b"], "a", vec![]),
            node(
                "ReduceMean",
                &["a"],
                "y",
                vec![ints("axes", &[2, 3]), int("keepdims", 0)],
            ),
        ],
        vec![
            weights("k", &[2, 1, 3]),
            int64("axis", vec![2]),
            weights("b", &[2, 1]),
        ],
    );
    let mut variance = weights("v", &[2]);
    variance.float_data = vec![1.0, -0.5];
    let negative = model(
        13,
        &[2],
        vec![node(
            "BatchNormalization",
            &["x", "s", "s", "s", "v"],
            "y",
            vec![],
        )],
        vec![weights("s", &[2]), variance],
    );
    expect![[r#"
        node 2 `/a/Add` (Add, reads `u`, `b`): adds a constant to layer `c`'s output seen with more axes (3 per sample): only a bias, one value per channel of the output itself, can be imported
        node 0 `/y/BatchNormalization` (BatchNormalization, reads `x`, `s`, `s`, `s`, `v`): its variance holds -0.5 at index 1: a variance is never negative (the model is damaged)"#]]
    .assert_eq(&[problems(&unsqueezed), problems(&negative)].join("\n"));
}

/// Recurrent nodes without `B` (PyTorch's `bias=False`) import as `bias = false`; should one
/// module's two levels differ, the level without `B` gets zeros and the layer its biases.
#[test]
fn recurrent_levels_without_b_have_no_biases_or_zeros() {
    let axes = Tensor {
        dims: vec![1],
        data_type: data_type::INT64,
        int64_data: vec![2],
        name: "axes".to_owned(),
        ..Tensor::default()
    };
    // Two levels of one module `rnn` (a GRU of 3 reading 2 values a step, batch first), the
    // first with `B` or not, the second with `B` or not.
    let levels = |first: bool, second: bool| {
        let gru = |inputs: &[&str], output: &str, name: &str| Node {
            name: name.to_owned(),
            ..recurrent(
                "GRU",
                inputs,
                &[output],
                vec![
                    int("hidden_size", 3),
                    int("layout", 1),
                    int("linear_before_reset", 1),
                ],
            )
        };
        let nodes = vec![
            gru(
                &["x", "w0", "r0", if first { "b0" } else { "" }],
                "h0",
                "/rnn/GRU",
            ),
            node("Squeeze", &["h0", "axes"], "s0", vec![]),
            gru(
                &["s0", "w1", "r1", if second { "b1" } else { "" }],
                "h1",
                "/rnn/GRU_1",
            ),
            node("Squeeze", &["h1", "axes"], "y", vec![]),
        ];
        let tensors = vec![
            weights("w0", &[1, 9, 2]),
            weights("r0", &[1, 9, 3]),
            weights("b0", &[1, 18]),
            weights("w1", &[1, 9, 3]),
            weights("r1", &[1, 9, 3]),
            weights("b1", &[1, 18]),
            axes.clone(),
        ];
        let bytes = model(14, &[5, 2], nodes, tensors);
        let import = import(&bytes, &Options::default()).expect("imports");
        let layer = &import.network.layers[0];
        let names: Vec<&str> = import.tensors.iter().map(|t| t.name.as_str()).collect();
        let zero = |name: &str| {
            let tensor = import.tensors.iter().find(|t| t.name == name);
            tensor.expect(name).values.iter().all(|&v| v == 0.0)
        };
        let zeros: Vec<&str> = names.iter().copied().filter(|n| zero(n)).collect();
        format!("{}: {names:?}, zero: {zeros:?}", layer.kind_text())
    };
    let report = [
        levels(false, false),
        levels(true, false),
        levels(false, true),
        levels(true, true),
    ]
    .join("\n");
    expect![[r#"
        gru(3, layers = 2, bias = false): ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l1", "rnn.weight_hh_l1"], zero: []
        gru(3, layers = 2): ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1"], zero: ["rnn.bias_ih_l1", "rnn.bias_hh_l1"]
        gru(3, layers = 2): ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1"], zero: ["rnn.bias_ih_l0", "rnn.bias_hh_l0"]
        gru(3, layers = 2): ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1"], zero: []"#]]
    .assert_eq(&report);
}

/// Weights that are not finite, in the model or once `alpha` scales them, are refused on
/// import, as nn's loaders would refuse the file.
#[test]
fn weights_that_are_not_finite_are_refused() {
    let gemm = |values: Vec<f32>, alpha: f32| {
        let w = Tensor {
            float_data: values,
            ..weights("w", &[2, 2])
        };
        let alpha = Attribute {
            name: "alpha".to_owned(),
            f: alpha,
            r#type: 1,
            ..Attribute::default()
        };
        problems(&model(
            13,
            &[2],
            vec![node("Gemm", &["x", "w"], "y", vec![alpha])],
            vec![w],
        ))
    };
    let report = [
        gemm(vec![0.5, 0.5, f32::NAN, 0.5], 1.0),
        gemm(vec![0.5, 2.0, 0.5, 0.5], 3e38),
        gemm(vec![0.5, 2.0, 0.5, 0.5], 1.0),
    ]
    .join("\n");
    expect![[r#"
        tensor `y.weight` holds NaN at [0, 1]: nn's networks take finite weights (the model is damaged, or a factor such as `alpha` took its weights out of range)
        tensor `y.weight` holds 6.0000000109955115e38 at [1, 0], beyond `f32`: nn's networks take finite weights (the model is damaged, or a factor such as `alpha` took its weights out of range)
        imported: /// Imported from ONNX (opset 13).
        pub struct Net = 2 -> dense(2, bias = false) as y;"#]]
    .assert_eq(&report);
}

// `h_n` of an LSTM of two levels (3 hidden values, `layout = 1`, on `[batch, 5 steps, 2]`): a
// `Concat` of the levels' last states in order, then the last level, imports; another level,
// another order, or the stacked states as the output cannot.
#[test]
fn stacked_last_states_import_in_order_only() {
    let level = |inputs: &[&str], outputs: &[&str], name: &str| Node {
        name: name.to_owned(),
        ..recurrent(
            "LSTM",
            inputs,
            outputs,
            vec![int("hidden_size", 3), int("layout", 1)],
        )
    };
    let two = |concatenated: &[&str], last: Option<&str>| {
        let mut nodes = vec![
            level(&["x", "w0", "r0"], &["y0", "h0"], "/rnn/LSTM"),
            node("Squeeze", &["y0", "directions"], "x1", vec![]),
            level(&["x1", "w1", "r1"], &["", "h1"], "/rnn/LSTM_1"),
        ];
        let stacked = if last.is_some() { "states" } else { "y" };
        nodes.push(node("Concat", concatenated, stacked, vec![int("axis", 1)]));
        if let Some(index) = last {
            nodes.push(node(
                "Gather",
                &["states", index],
                "y",
                vec![int("axis", 1)],
            ));
        }
        let tensors = vec![
            weights("w0", &[1, 12, 2]),
            weights("r0", &[1, 12, 3]),
            weights("w1", &[1, 12, 3]),
            weights("r1", &[1, 12, 3]),
            Tensor {
                dims: vec![1],
                data_type: data_type::INT64,
                int64_data: vec![2],
                name: "directions".to_owned(),
                ..Tensor::default()
            },
            index("first", 0),
            index("last", -1),
        ];
        model(14, &[5, 2], nodes, tensors)
    };
    let cases = [
        two(&["h0", "h1"], Some("last")),
        two(&["h0", "h1"], Some("first")),
        two(&["h1", "h0"], Some("last")),
        two(&["h0", "h1"], None),
    ];
    let report: Vec<String> = cases.iter().map(|bytes| problems(bytes)).collect();
    expect![[r#"
        imported: /// Imported from ONNX (opset 14).
        /// The model returns its last time step's output: run a sequence through
        /// `forward_sequence` (or `step`) and read the last output.
        pub struct Net = 2 -> lstm(3, layers = 2, bias = false) as rnn;
        node 4 `/y/Gather` (Gather, reads `states`, `first`): takes level 0 of the last states of [batch, levels, features]: the network's output is its last level's (index -1)
        node 3 `/states/Concat` (Concat, reads `h1`, `h0`): joins 2 values computed from the input, not the last states of one recurrent layer's levels in order (`h_n`): only chains of layers can be imported
        output `y` is the last state of every level of a recurrent layer: the network gives its last level's (`h_n[-1]`)"#]].assert_eq(&report.join("\n"));
}

/// Only the nodes and initializers the float output needs are read: a classifier's string
/// labels (skl2onnx writes `classes_` as a `STRING` initializer when the labels are strings),
/// which only its `label` branch reads, do not stop the probabilities from importing.
#[test]
fn another_outputs_string_initializer_is_not_read() {
    // `TensorProto.DataType.STRING`, whose values (`string_data`) the importer's schema does
    // not decode: the type alone is what it refused.
    const STRING: i32 = 8;
    let labels = Tensor {
        dims: vec![4],
        data_type: STRING,
        name: "classes".to_owned(),
        ..Tensor::default()
    };
    let mut label = value("label", &[]);
    if let Some(Type {
        tensor_type: Some(tensor),
    }) = &mut label.r#type
    {
        tensor.elem_type = STRING;
    }
    let bytes = Model {
        ir_version: 8,
        opset_import: vec![OperatorSetId {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(Graph {
            node: vec![
                node("Gemm", &["x", "w"], "h", vec![int("transB", 1)]),
                node("Softmax", &["h"], "y", vec![]),
                node("ArgMax", &["y"], "index", vec![int("axis", 1)]),
                node(
                    "ArrayFeatureExtractor",
                    &["classes", "index"],
                    "label",
                    vec![],
                ),
            ],
            name: "classifier".to_owned(),
            initializer: vec![weights("w", &[4, 4]), labels],
            input: vec![value("x", &[4])],
            output: vec![label, value("y", &[4])],
            ..Graph::default()
        }),
        ..Model::default()
    }
    .encode_to_vec();
    expect![[r#"
        imported: /// Imported from ONNX (opset 13).
        pub struct Net = 4 -> dense(4, bias = false) softmax as h;"#]]
    .assert_eq(&problems(&bytes));
}

/// A 1-D convolution whose `kernel_shape` is left to its weights, after a problem, is checked
/// with one spatial axis (its `strides` and `pads` say so), not two.
#[test]
fn a_convolution_without_kernel_shape_is_checked_on_its_own_axes() {
    let nodes = vec![
        node("Abs", &["x"], "a", vec![]),
        node(
            "Conv",
            &["a", "w"],
            "y",
            vec![ints("pads", &[1, 1]), ints("strides", &[1])],
        ),
    ];
    expect!["node 0 `/a/Abs` (Abs, reads `x`): operator `Abs` is not supported"].assert_eq(
        &problems(&model(13, &[2, 8], nodes, vec![weights("w", &[3, 2, 3])])),
    );
}

/// From opset 12 `Dropout` may read its mode: `training_mode = false` (a `bool` initializer,
/// typed or raw) is inference and imports; `true` is refused on the node.
#[test]
fn dropout_reads_its_mode() {
    let mode = |name: &str, raw: bool, value: bool| Tensor {
        dims: vec![],
        data_type: data_type::BOOL,
        int32_data: if raw { vec![] } else { vec![i32::from(value)] },
        raw_data: if raw { vec![u8::from(value)] } else { vec![] },
        name: name.to_owned(),
        ..Tensor::default()
    };
    let ratio = Tensor {
        dims: vec![],
        data_type: data_type::FLOAT,
        float_data: vec![0.5],
        name: "ratio".to_owned(),
        ..Tensor::default()
    };
    let nodes = || {
        vec![
            node("Gemm", &["x", "w"], "h", vec![int("transB", 1)]),
            node("Dropout", &["h", "ratio", "mode"], "y", vec![]),
        ]
    };
    for raw in [false, true] {
        let inference = vec![
            weights("w", &[3, 4]),
            ratio.clone(),
            mode("mode", raw, false),
        ];
        assert_eq!(
            problems(&model(13, &[4], nodes(), inference)),
            "imported: /// Imported from ONNX (opset 13).\npub struct Net = 4 -> dense(3, bias = false) as h;",
            "raw: {raw}"
        );
    }
    let training = vec![
        weights("w", &[3, 4]),
        ratio.clone(),
        mode("mode", false, true),
    ];
    expect!["node 1 `/y/Dropout` (Dropout, reads `h`, `ratio`, `mode`): runs in training mode (`training_mode` is true): only inference, where dropout is the identity, can be imported"].assert_eq(&problems(&model(13, &[4], nodes(), training)));
}
