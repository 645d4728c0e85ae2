//! The graph, node by node in its (topological) order, to a chain of nn layers with their
//! weights: constants are folded (the `Shape`/`Gather`/`Concat`/`Unsqueeze` chains exporters
//! write to compute a `Reshape`'s target become constants, the batch size a symbol), every node
//! that reads the input's flow becomes a layer or joins the layer before (an activation, a bias
//! `Add`, a `BatchNormalization` folded into the weights), and every node that cannot is a
//! [`Problem`]: the walk goes on past it, so that one error lists them all. A model with a
//! recurrent node is a sequence model: its input is `[batch, steps, features]` or `[steps,
//! batch, features]`, each flow carries its ONNX axes ([`Axis`]), and the network is one time
//! step's (the recurrent nodes through `recurrent`, every other node per step or a problem).

use crate::attribute::{float, float32, int, ints, string};
use crate::constant::{self, Const, Data, Int};
use crate::error::{NodeAt, Problem};
use crate::fold::{self, signed};
use crate::proto::{self, Node};
use crate::recurrent::{self, RECURRENT, Spec};
use nn_grammar::network::MAX_WIDTH;
use nn_grammar::{
    Activation, Cell, Conv1d, Conv2d, LayerKind, MAX_RECURRENT_LEVELS, Pool1d, Pool2d, Recurrent,
    Scalar, Shape,
};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A layer of the imported network, with its weights in PyTorch's layout.
#[derive(Clone, Debug)]
pub(crate) struct Layer {
    /// Its name: an identifier made from the node's name.
    pub name: String,
    /// The name before `_2`, `_3`, ... made it unique, if the model named the node (or its
    /// module): the nodes of one PyTorch module share it.
    pub module: Option<String>,
    /// What it computes.
    pub kind: LayerKind,
    /// The shape it reads.
    pub input: Shape,
    /// The shape it writes.
    pub output: Shape,
    /// Its activation.
    pub activation: Activation,
    /// `weight` (PyTorch's shape and its elements), for dense layers and convolutions.
    pub weight: Option<(Vec<usize>, Vec<f64>)>,
    /// `bias`, one per output channel.
    pub bias: Option<Vec<f64>>,
    /// A batchnorm's `running_mean` and `running_var`.
    pub statistics: Option<(Vec<f64>, Vec<f64>)>,
    /// Other tensors by name, shape and values: a recurrent layer's `weight_ih_l0`, ...
    pub tensors: Vec<(String, Vec<usize>, Vec<f64>)>,
}

/// What the walk found: the network's input and scalar type, and its layers.
pub(crate) struct Lowered {
    pub input: Shape,
    pub scalar: Scalar,
    pub layers: Vec<Layer>,
    /// Whether the model returns its last time step's output (`y[:, -1]`) rather than every
    /// step's: the network is the same, its last output the model's.
    pub last_step: bool,
}

/// A value flowing from the network's input: its shape without the batch axis (ONNX's, and
/// nn's, which differ after a global pool: `[C, 1, 1]` and `[C]`), and the layer it is the
/// output of, if it is one's output (through no-op nodes).
#[derive(Clone, Debug)]
struct Flow {
    shape: Vec<usize>,
    nn: Shape,
    layer: Option<usize>,
    /// For a sequence model (one with a recurrent node), the value's ONNX axes, the features
    /// last; `shape` is then one time step's.
    steps: Option<Vec<Axis>>,
    /// For a recurrent node's `Y_h`, its last step's hidden state: the level of `layer` it is
    /// (`h_n[level]`).
    level: Option<usize>,
}

/// An axis of a value of a sequence model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    Batch,
    Time,
    /// A recurrent node's `num_directions` (1).
    Directions,
    Features,
    /// Batch and time merged into one axis by a `Reshape` (for a `Gemm`), in this order or
    /// time first.
    Rows {
        batch_first: bool,
    },
    /// The levels of a recurrent layer whose last states a `Concat` stacked (`h_n` of a module
    /// of several levels).
    Levels,
}

impl Axis {
    fn name(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Time => "steps",
            Self::Directions => "directions",
            Self::Features => "features",
            Self::Rows { batch_first: true } => "batch * steps",
            Self::Rows { batch_first: false } => "steps * batch",
            Self::Levels => "levels",
        }
    }
}

/// Which outputs of a recurrent node the model reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reads {
    /// Every step's output, `Y`.
    Steps,
    /// The last step's hidden state, `Y_h` (`h_n`).
    State,
    /// Both: a level below another, whose `Y_h` a `Concat` stacks with the others' (`h_n` of a
    /// module of several levels).
    Both,
}

/// The problem of a node that reads `flows` values computed from the input.
fn joins(flows: usize) -> String {
    format!(
        "joins {flows} values computed from the input (a residual or a concatenation): only chains of layers can be imported"
    )
}

/// `[batch, steps, features]`.
fn axes_text(axes: &[Axis]) -> String {
    let names: Vec<&str> = axes.iter().map(|a| a.name()).collect();
    format!("[{}]", names.join(", "))
}

/// A value of the graph.
#[derive(Clone, Debug)]
enum Value {
    Const(Const),
    Flow(Flow),
    /// A tensor of one repeated value whose shape may depend on the batch size
    /// (`ConstantOfShape`), understood as a recurrent node's initial state.
    Fill(Fill),
    /// Made by a node that cannot be imported (already reported), computed from the input
    /// (`true`) or not: nodes reading it are checked for what does not depend on it.
    Unknown(bool),
}

/// A tensor of one repeated value: the value, and the size of each axis where known (`None`
/// for the batch size or a size lost on the way), if the rank is known.
#[derive(Clone, Debug)]
struct Fill {
    value: f64,
    sizes: Option<Vec<Option<usize>>>,
}

impl Fill {
    /// The sizes a shape computation gives, a number where it is known.
    fn sizes_of(shape: &Const) -> Option<Vec<Option<usize>>> {
        match &shape.data {
            Data::Int(values) => Some(
                values
                    .iter()
                    .map(|v| match v {
                        Int::Known(n) => usize::try_from(*n).ok(),
                        Int::Batch | Int::Steps => None,
                    })
                    .collect(),
            ),
            Data::Float(_) => None,
        }
    }
}

/// Operators understood on the flow from the input.
const LOWERED: [&str; 34] = [
    "Cast",
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Conv",
    "BatchNormalization",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "ReduceMean",
    "ReduceMax",
    "Flatten",
    "Reshape",
    "Relu",
    "LeakyRelu",
    "Elu",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Softplus",
    "Gelu",
    "Silu",
    "Dropout",
    "Identity",
    "Shape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "LSTM",
    "GRU",
    "RNN",
];

/// Operators on the flow that only rearrange its axes: when only `Shape`s read their outputs,
/// they are no branch of the chain.
const VIEWS: [&str; 5] = ["Transpose", "Squeeze", "Identity", "Cast", "Dropout"];

/// Which nodes read the flow for its shape alone, and so do not branch the chain: `Shape`, and
/// a [`VIEWS`] node whose outputs only such nodes read. The TorchScript exporter writes one
/// between two batch-first recurrent modules: the first one's output, transposed back to
/// `[batch, steps, features]`, read only for the batch size of the second one's initial state.
fn shape_only(nodes: &[Node], output: &str) -> Vec<bool> {
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        for input in node.input.iter().filter(|i| !i.is_empty()) {
            readers.entry(input).or_default().push(index);
        }
    }
    let mut shape_only = vec![false; nodes.len()];
    // Readers come after what they read.
    for (index, node) in nodes.iter().enumerate().rev() {
        shape_only[index] = node.op_type == "Shape"
            || (VIEWS.contains(&node.op_type.as_str())
                && node.output.iter().any(|o| !o.is_empty())
                && node.output.iter().filter(|o| !o.is_empty()).all(|o| {
                    o != output
                        && readers
                            .get(o.as_str())
                            .is_some_and(|r| r.iter().all(|&r| r > index && shape_only[r]))
                }));
    }
    shape_only
}

/// Operators that make a tensor of one repeated value (a recurrent node's initial state).
const FILLS: [&str; 2] = ["ConstantOfShape", "Expand"];

/// Operators understood on a sequence: per time step, or the recurrent nodes.
const PER_STEP: [&str; 24] = [
    "Identity",
    "Cast",
    "Dropout",
    "Relu",
    "LeakyRelu",
    "Elu",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Gelu",
    "Silu",
    "Softmax",
    "LogSoftmax",
    "MatMul",
    "Gemm",
    "Reshape",
    "Add",
    "Sub",
    "Transpose",
    "Squeeze",
    "LSTM",
    "GRU",
    "RNN",
    "Shape",
];

impl Value {
    /// Whether it is computed from the network's input.
    fn is_from_input(&self) -> bool {
        matches!(self, Self::Flow(_) | Self::Unknown(true))
    }
}

/// The checks of a node's attributes that need no shapes, for a node after a problem.
fn check_attributes(node: &Node) -> Result<(), String> {
    match node.op_type.as_str() {
        "Conv" => {
            let spatial = spatial_axes(node);
            Geometry::read(node, spatial, &vec![1; spatial], true).map(|_| ())
        }
        "MaxPool" | "AveragePool" => {
            let spatial = spatial_axes(node);
            Geometry::read(node, spatial, &vec![1; spatial], false).map(|_| ())
        }
        "LSTM" | "GRU" | "RNN" => Spec::read(node).map(|_| ()),
        "Gemm" if int(node, "transA", 0) != 0 => Err(
            "transposes the input (`transA = 1`): the batch axis would mix with the features"
                .to_owned(),
        ),
        _ => Ok(()),
    }
}

/// The spatial axes of a convolution or pool by its attributes alone: `kernel_shape`'s, else
/// (a convolution may leave it to the weights) `strides`', `dilations`' or half `pads`'; 2
/// when it has none of them, whose defaults then fit any count.
fn spatial_axes(node: &Node) -> usize {
    ["kernel_shape", "strides", "dilations"]
        .into_iter()
        .find_map(|name| ints(node, name))
        .map(|values| values.len())
        .or_else(|| ints(node, "pads").map(|pads| pads.len() / 2))
        .unwrap_or(2)
}

/// The walk's state.
struct Walk<'a> {
    /// The default domain's opset version.
    opset: i64,
    /// The input's batch size when the model fixes it.
    batch: Option<i64>,
    /// The input's element type (`TensorProto.DataType`).
    elem_type: i32,
    values: HashMap<String, Value>,
    layers: Vec<Layer>,
    names: HashSet<String>,
    problems: Vec<Problem>,
    /// For each value, the nodes that read it, `Shape` nodes left out (they read only its
    /// shape, so they do not make the graph branch).
    uses: HashMap<String, Vec<usize>>,
    nodes: &'a [Node],
    dir: Option<&'a Path>,
    /// Whether a `BatchNormalization` is folded into the layer before it, when there is one.
    fold_batchnorm: bool,
    /// The input's number of time steps when the model fixes it.
    steps: Option<i64>,
    /// Whether the model returns its last time step's output: a `Gather` took the sequence's
    /// last step, or a recurrent node's last state `Y_h` is read.
    last_step: bool,
    /// The graph's output.
    output: &'a str,
}

/// Lowers a graph whose functions are inlined and patterns fused, up to its value `output`.
pub(crate) fn lower(
    graph: &proto::Graph,
    nodes: &[Node],
    output: &str,
    opset: i64,
    dir: Option<&Path>,
    fold_batchnorm: bool,
    mut problems: Vec<Problem>,
) -> Result<Lowered, Vec<Problem>> {
    let mut walk = Walk {
        opset,
        batch: None,
        elem_type: proto::data_type::FLOAT,
        values: HashMap::new(),
        layers: Vec::new(),
        names: HashSet::new(),
        problems: Vec::new(),
        uses: HashMap::new(),
        nodes,
        dir,
        fold_batchnorm,
        steps: None,
        last_step: false,
        output,
    };
    let shape_only = shape_only(nodes, output);
    for (index, node) in nodes.iter().enumerate() {
        if shape_only[index] {
            continue;
        }
        for input in node.input.iter().filter(|i| !i.is_empty()) {
            walk.uses.entry(input.clone()).or_default().push(index);
        }
    }
    // Only the initializers the kept nodes read: another output's (a classifier's string
    // `classes_`, which only its `label` branch reads) is not this network's to refuse. The
    // others stay known as constants, so that no graph input of their name is taken for the
    // network's input.
    let read: HashSet<&str> = nodes
        .iter()
        .flat_map(|node| &node.input)
        .map(String::as_str)
        .chain([output])
        .collect();
    for tensor in &graph.initializer {
        if !read.contains(tensor.name.as_str()) {
            walk.values
                .insert(tensor.name.clone(), Value::Unknown(false));
            continue;
        }
        match constant::read(tensor, dir) {
            Ok(value) => walk.values.insert(tensor.name.clone(), Value::Const(value)),
            Err(message) => {
                problems.push(Problem {
                    node: None,
                    message,
                });
                walk.values
                    .insert(tensor.name.clone(), Value::Unknown(false))
            }
        };
    }
    for sparse in &graph.sparse_initializer {
        let name = sparse.values.as_ref().map_or("", |v| v.name.as_str());
        problems.push(Problem {
            node: None,
            message: format!("sparse initializer `{name}` is not supported"),
        });
        walk.values.insert(name.to_owned(), Value::Unknown(false));
    }
    let input = walk.input(graph, &mut problems);
    for (index, node) in nodes.iter().enumerate() {
        walk.node(index, node);
    }
    // An empty name: choosing the output was a problem already.
    let output = !output.is_empty() && walk.output(output, &mut problems);
    explain_unrolled(nodes, &mut problems, &mut walk.problems);
    problems.append(&mut walk.problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    match (input, output) {
        (Some((input, scalar)), true) => Ok(Lowered {
            input,
            scalar,
            layers: walk.layers,
            last_step: walk.last_step,
        }),
        _ => Err(vec![Problem {
            node: None,
            message: "the model has no input or no output".to_owned(),
        }]),
    }
}

/// Replaces the problems of an `nn.RNN` that PyTorch's default exporter unrolled (a node per
/// time step, no `RNN` node: each fails, as one that reads across steps) with one that says so:
/// its nodes' metadata (`pkg.torch.onnx.class_hierarchy`, `name_scopes`) names the module.
fn explain_unrolled(nodes: &[Node], model: &mut Vec<Problem>, problems: &mut Vec<Problem>) {
    let in_rnn = |node: &Node| {
        node.metadata_props.iter().any(|p| {
            p.key == "pkg.torch.onnx.class_hierarchy"
                && p.value.contains("'torch.nn.modules.rnn.RNN'")
        })
    };
    // A module written as an `RNN` node was not unrolled.
    let exported: Vec<String> = nodes
        .iter()
        .filter(|node| node.op_type == "RNN")
        .filter_map(torch_module)
        .collect();
    let unrolled: Vec<Option<String>> = nodes
        .iter()
        .map(|node| {
            in_rnn(node)
                .then(|| torch_module(node))
                .flatten()
                .filter(|module| !exported.contains(module))
        })
        .collect();
    let module_of = |problem: &Problem| {
        problem
            .node
            .as_ref()
            .and_then(|at| unrolled.get(at.index)?.as_ref())
    };
    let mut modules: Vec<String> = Vec::new();
    for module in problems.iter().filter_map(module_of) {
        if !modules.contains(module) {
            modules.push(module.clone());
        }
    }
    problems.retain(|problem| module_of(problem).is_none());
    for module in modules {
        model.push(Problem {
            node: None,
            message: format!(
                "PyTorch's default exporter (`dynamo=True`) unrolled the `nn.RNN` module \
                 `{module}` into nodes for each time step, which nn cannot import: export it \
                 with `dynamo=False`, which writes an `RNN` node"
            ),
        });
    }
}

impl Walk<'_> {
    /// The graph's one real input (not an initializer): its shape without the batch axis and
    /// its scalar type.
    fn input(
        &mut self,
        graph: &proto::Graph,
        problems: &mut Vec<Problem>,
    ) -> Option<(Shape, Scalar)> {
        let inputs: Vec<&proto::ValueInfo> = graph
            .input
            .iter()
            .filter(|i| !self.values.contains_key(&i.name))
            .collect();
        let [input] = inputs.as_slice() else {
            let names: Vec<String> = inputs.iter().map(|i| format!("`{}`", i.name)).collect();
            problems.push(Problem {
                node: None,
                message: format!(
                    "expected one input, found {}{}",
                    inputs.len(),
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", names.join(", "))
                    }
                ),
            });
            for other in inputs {
                self.values.insert(other.name.clone(), Value::Unknown(true));
            }
            return None;
        };
        self.values.insert(input.name.clone(), Value::Unknown(true));
        let name = &input.name;
        let mut fail = |message: String| {
            problems.push(Problem {
                node: None,
                message,
            });
            None
        };
        let Some(tensor) = input.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()) else {
            return fail(format!("input `{name}` is not a tensor"));
        };
        self.elem_type = tensor.elem_type;
        let scalar = match tensor.elem_type {
            proto::data_type::FLOAT => Scalar::F32,
            proto::data_type::DOUBLE => Scalar::F64,
            other => {
                return fail(format!(
                    "input `{name}` has element type {}, expected float or double",
                    constant::type_name(other)
                ));
            }
        };
        let Some(shape) = &tensor.shape else {
            return fail(format!(
                "input `{name}` has no shape: export the model with its input's sizes"
            ));
        };
        if self.is_sequence_model() {
            return self.sequence_input(input, &shape.dim, scalar, problems);
        }
        let Some((batch, rest)) = shape.dim.split_first() else {
            return fail(format!(
                "input `{name}` is a scalar, expected a batch of vectors or feature maps"
            ));
        };
        self.batch = batch.dim_value.filter(|_| batch.dim_param.is_none());
        let dims = match sizes(name, rest) {
            Ok(dims) => dims,
            Err(bad) => {
                problems.extend(bad.into_iter().map(|message| Problem {
                    node: None,
                    message,
                }));
                return None;
            }
        };
        let Some(nn) = Shape::new(&dims) else {
            return fail(format!(
                "input `{name}` has shape [batch{}], expected [batch, C], [batch, C, L] or [batch, C, H, W]",
                dims.iter()
                    .map(|d| format!(", {d}"))
                    .collect::<Vec<_>>()
                    .concat()
            ));
        };
        self.values.insert(
            input.name.clone(),
            Value::Flow(Flow {
                shape: dims,
                nn,
                layer: None,
                steps: None,
                level: None,
            }),
        );
        Some((nn, scalar))
    }

    /// Whether the model has a recurrent node: its input is then a sequence.
    fn is_sequence_model(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| RECURRENT.contains(&n.op_type.as_str()))
    }

    /// The input of a model with a recurrent node: `[batch, steps, features]` or `[steps,
    /// batch, features]`, whichever the first recurrent node reads as its steps, batch and
    /// steps fixed or not; the network's input is one step's features.
    fn sequence_input(
        &mut self,
        input: &proto::ValueInfo,
        dims: &[proto::Dimension],
        scalar: Scalar,
        problems: &mut Vec<Problem>,
    ) -> Option<(Shape, Scalar)> {
        let name = &input.name;
        let features = match dims {
            [_, _, features] => sizes(name, std::slice::from_ref(features))
                .map_err(|_| match (features.dim_value, &features.dim_param) {
                    (Some(size), None) => format!(
                        "axis 2 of input `{name}` (the features) has size {size}, expected 1 to nn's largest width, {MAX_WIDTH}"
                    ),
                    _ => format!(
                        "axis 2 of input `{name}` (the features) is dynamic: export with a fixed size"
                    ),
                })
                .and_then(|f| Shape::new(&f).ok_or_else(|| format!("input `{name}` has no features"))),
            _ => Err(format!(
                "input `{name}` has {} axes: a model with a recurrent node reads [batch, steps, features] or [steps, batch, features]",
                dims.len()
            )),
        };
        let nn = match features {
            Ok(nn) => nn,
            Err(message) => {
                problems.push(Problem {
                    node: None,
                    message,
                });
                return None;
            }
        };
        let time = self.time_axis(name).unwrap_or(1);
        let batch = &dims[1 - time];
        self.batch = batch.dim_value.filter(|_| batch.dim_param.is_none());
        let steps = &dims[time];
        self.steps = steps.dim_value.filter(|_| steps.dim_param.is_none());
        let mut axes = vec![Axis::Batch, Axis::Time, Axis::Features];
        if time == 0 {
            axes.swap(0, 1);
        }
        self.values.insert(
            name.clone(),
            Value::Flow(Flow {
                shape: nn.dims().to_vec(),
                nn,
                layer: None,
                steps: Some(axes),
                level: None,
            }),
        );
        Some((nn, scalar))
    }

    /// Which of the input's first two axes the first recurrent node reads as its steps (axis
    /// 0 of its `X`, or 1 with `layout = 1`), traced back through the nodes before it
    /// (`Transpose`s move it, others keep it); `None` when the trace fails.
    fn time_axis(&self, input: &str) -> Option<usize> {
        let first = self
            .nodes
            .iter()
            .find(|n| RECURRENT.contains(&n.op_type.as_str()))?;
        let mut axis = usize::from(int(first, "layout", 0) == 1);
        let mut value = first.input.first()?;
        // Each step goes to an earlier node: at most as many steps as nodes.
        for _ in 0..=self.nodes.len() {
            if value == input {
                return (axis < 2).then_some(axis);
            }
            let producer = self.nodes.iter().find(|n| n.output.contains(value))?;
            if producer.op_type == "Transpose" {
                let perm = ints(producer, "perm").unwrap_or_else(|| vec![2, 1, 0]);
                axis = usize::try_from(*perm.get(axis)?).ok()?;
            }
            value = producer.input.iter().find(|i| {
                !i.is_empty()
                    && (*i == input || !self.values.contains_key(*i))
                    && !self
                        .nodes
                        .iter()
                        .any(|n| n.op_type == "Constant" && n.output.contains(i))
            })?;
        }
        None
    }

    /// Whether the chosen output is the last layer's.
    fn output(&self, output: &str, problems: &mut Vec<Problem>) -> bool {
        match self.values.get(output) {
            Some(Value::Flow(flow))
                if flow
                    .steps
                    .as_ref()
                    .is_some_and(|a| a.contains(&Axis::Levels)) =>
            {
                problems.push(Problem {
                    node: None,
                    message: format!(
                        "output `{output}` is the last state of every level of a recurrent layer: the network gives its last level's (`h_n[-1]`)"
                    ),
                });
                false
            }
            Some(Value::Flow(flow))
                if flow.layer.is_some() && flow.layer == self.layers.len().checked_sub(1) =>
            {
                true
            }
            Some(Value::Flow(flow)) if flow.layer.is_none() && self.layers.is_empty() => {
                problems.push(Problem {
                    node: None,
                    message: format!("output `{output}` is the input: the model has no layers"),
                });
                false
            }
            Some(Value::Unknown(_)) => false,
            Some(Value::Flow(_)) => {
                problems.push(Problem {
                    node: None,
                    message: format!(
                        "output `{output}` is not the last layer's output: only chains of layers can be imported",
                    ),
                });
                false
            }
            Some(Value::Const(_) | Value::Fill(_)) => {
                problems.push(Problem {
                    node: None,
                    message: format!("output `{output}` does not depend on the input"),
                });
                false
            }
            None => {
                problems.push(Problem {
                    node: None,
                    message: format!("output `{output}` is made by no node"),
                });
                false
            }
        }
    }

    /// Lowers one node, or records why it cannot be.
    fn node(&mut self, index: usize, node: &Node) {
        // A shape is no value of the flow, even one an earlier problem left unknown: the
        // arithmetic on it (the batch size of `view` or of an initial state) adds no problem.
        let from_input = node.op_type != "Shape"
            && node
                .input
                .iter()
                .any(|i| self.values.get(i).is_some_and(Value::is_from_input));
        let outputs = match self.evaluate(index, node) {
            Ok(outputs) => outputs,
            Err(message) => {
                self.problems.push(Problem {
                    node: Some(self.at(index)),
                    message,
                });
                Vec::new()
            }
        };
        let mut outputs = outputs.into_iter();
        for name in &node.output {
            let value = outputs.next().unwrap_or(Value::Unknown(from_input));
            if !name.is_empty() {
                self.values.insert(name.clone(), value);
            }
        }
    }

    /// Where node `index` sits, for a problem.
    fn at(&self, index: usize) -> NodeAt {
        let node = &self.nodes[index];
        NodeAt {
            index,
            name: node.name.clone(),
            op_type: if node.domain.is_empty() || node.domain == "ai.onnx" {
                node.op_type.clone()
            } else {
                format!("{}.{}", node.domain, node.op_type)
            },
            inputs: node.input.clone(),
        }
    }

    /// The values a node reads, `None` for an omitted optional one.
    fn inputs(&self, node: &Node) -> Result<Vec<Option<Value>>, String> {
        node.input
            .iter()
            .map(|name| {
                if name.is_empty() {
                    return Ok(None);
                }
                self.values.get(name).cloned().map(Some).ok_or_else(|| {
                    format!(
                        "reads `{name}`, which neither an initializer nor an earlier node makes"
                    )
                })
            })
            .collect()
    }

    /// The node's output values.
    fn evaluate(&mut self, index: usize, node: &Node) -> Result<Vec<Value>, String> {
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(format!(
                "operator `{}` of domain `{}` is not supported",
                node.op_type, node.domain
            ));
        }
        let op = node.op_type.as_str();
        let known = fold::FOLDED.contains(&op) || LOWERED.contains(&op) || FILLS.contains(&op);
        if !known {
            return Err(format!("operator `{op}` is not supported"));
        }
        let inputs = self.inputs(node)?;
        if op == "Constant" {
            return Ok(vec![Value::Const(fold::constant_node(node, self.dir)?)]);
        }
        if let Some(values) = filled(node, &inputs, self.dir) {
            return values;
        }
        let flows: Vec<usize> = inputs
            .iter()
            .enumerate()
            .filter(|(_, v)| v.as_ref().is_some_and(Value::is_from_input))
            .map(|(i, _)| i)
            .collect();
        if flows.len() < 2
            && inputs
                .iter()
                .flatten()
                .any(|v| matches!(v, Value::Unknown(_)))
        {
            // What can be checked without the values an earlier problem left unknown; a
            // sequence model's `Gather` may take a last step or state.
            if !flows.is_empty() {
                let last_step = op == "Gather" && flows == [0] && self.is_sequence_model();
                if !(LOWERED.contains(&op) || last_step) {
                    return Err(format!(
                        "operator `{op}` is understood on constants only, not on the input's flow"
                    ));
                }
                check_attributes(node)?;
            }
            return Ok(Vec::new());
        }
        match flows.as_slice() {
            [] => {
                if !fold::FOLDED.contains(&op) {
                    return Err(format!(
                        "operator `{op}` on constants only is not supported (it does not depend on the input)"
                    ));
                }
                let consts: Vec<Option<Const>> = inputs
                    .into_iter()
                    .map(|v| match v {
                        Some(Value::Const(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                Ok(vec![Value::Const(fold::fold(node, &consts, self.opset)?)])
            }
            [at] => {
                let at = *at;
                let Some(Some(Value::Flow(flow))) = inputs.get(at).cloned() else {
                    return Ok(Vec::new());
                };
                if op == "Shape" {
                    return self.shape_of(node, &flow).map(|c| vec![Value::Const(c)]);
                }
                if let Some(users) = self.uses.get(&node.input[at])
                    && users.len() > 1
                {
                    let others: Vec<String> = users
                        .iter()
                        .filter(|&&u| u != index)
                        .map(|&u| format!("node {u} ({})", self.nodes[u].op_type))
                        .collect();
                    return Err(format!(
                        "the graph branches: `{}` also feeds {}; only chains of layers can be imported",
                        node.input[at],
                        others.join(", ")
                    ));
                }
                if let Some(values) = self.sequence_node(index, node, at, &flow, &inputs) {
                    return values;
                }
                if !LOWERED.contains(&op) {
                    return Err(format!(
                        "operator `{op}` is understood on constants only, not on the input's flow"
                    ));
                }
                let consts: Vec<Option<Const>> = inputs
                    .into_iter()
                    .map(|v| match v {
                        Some(Value::Const(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                self.flow(index, node, at, flow, &consts)
            }
            _ if op == "Concat" => self.stacked_states(node, &inputs, flows.len()),
            _ => Err(joins(flows.len())),
        }
    }

    /// Lowers a node that reads the flow (input `at`) and constants.
    fn flow(
        &mut self,
        index: usize,
        node: &Node,
        at: usize,
        flow: Flow,
        consts: &[Option<Const>],
    ) -> Result<Vec<Value>, String> {
        match node.op_type.as_str() {
            "Identity" => Ok(vec![Value::Flow(flow)]),
            "Cast" => {
                // skl2onnx casts its input to float first.
                let to = i32::try_from(int(node, "to", 0)).unwrap_or(0);
                if to == self.elem_type {
                    Ok(vec![Value::Flow(flow)])
                } else {
                    Err(format!(
                        "casts the input's flow to {}",
                        constant::type_name(to)
                    ))
                }
            }
            "Dropout" => {
                if node
                    .output
                    .get(1)
                    .is_some_and(|mask| self.uses.contains_key(mask))
                {
                    return Err("its mask output is used: only inference, where dropout is the identity, can be imported".to_owned());
                }
                // From opset 12 an input may say which mode runs: inference only.
                if let Some(mode) = node.input.get(2).filter(|name| !name.is_empty()) {
                    match consts.get(2).and_then(Option::as_ref).and_then(Const::known_ints).as_deref() {
                        Some([0]) => {}
                        Some([_]) => return Err("runs in training mode (`training_mode` is true): only inference, where dropout is the identity, can be imported".to_owned()),
                        _ => return Err(format!("reads its mode from `{mode}`, which is not a constant boolean: only inference, where dropout is the identity, can be imported")),
                    }
                }
                Ok(vec![Value::Flow(flow)])
            }
            "Relu" | "LeakyRelu" | "Elu" | "Sigmoid" | "Tanh" | "Softplus" | "Gelu" | "Silu"
            | "Softmax" | "LogSoftmax" => self.activate(node, flow),
            "Gemm" | "MatMul" => self.dense(index, node, at, &flow, consts),
            "Add" => self.bias(at, flow, consts, 1.0),
            "Sub" if at == 0 => self.bias(at, flow, consts, -1.0),
            "Sub" => Err("subtracts the input's flow from a constant: only a constant subtracted from a layer's output (a bias) can be imported".to_owned()),
            "BatchNormalization" => self.batchnorm(index, node, flow, consts),
            "Conv" => self.conv(index, node, &flow, consts),
            "MaxPool" | "AveragePool" => self.pool(index, node, &flow),
            "GlobalAveragePool" | "GlobalMaxPool" => self.global_pool(index, node, &flow, true),
            "ReduceMean" | "ReduceMax" => self.reduce(index, node, &flow, consts),
            "Unsqueeze" => self.unsqueeze(node, flow, consts),
            "Flatten" => self.flatten_node(index, node, &flow),
            "Reshape" => self.reshape(index, node, flow, consts),
            "Transpose" => transpose(node, flow),
            "Squeeze" => self.squeeze(node, flow, consts),
            op => Err(format!(
                "operator `{op}` is not supported on the input's flow"
            )),
        }
    }

    /// Activates the layer the flow comes from.
    fn activate(&mut self, node: &Node, flow: Flow) -> Result<Vec<Value>, String> {
        let activation = self.activation(node, &flow)?;
        let Some(layer) = flow.layer else {
            return Err(format!(
                "applies `{}` to the input: nn applies activations to layers",
                activation.name()
            ));
        };
        let current = self.layers[layer].activation;
        if current != Activation::Linear {
            return Err(format!(
                "applies `{}` after `{}` on layer `{}`: nn applies one activation per layer",
                activation.name(),
                current.name(),
                self.layers[layer].name
            ));
        }
        self.layers[layer].activation = activation;
        Ok(vec![Value::Flow(flow)])
    }

    /// `Gemm` or `MatMul` by a constant matrix: a dense layer.
    fn dense(
        &mut self,
        index: usize,
        node: &Node,
        at: usize,
        flow: &Flow,
        consts: &[Option<Const>],
    ) -> Result<Vec<Value>, String> {
        let op = node.op_type.as_str();
        if at != 0 {
            return Err("multiplies constants by the input's flow from the left: expected the flow as the first input".to_owned());
        }
        let weights = consts
            .get(1)
            .and_then(Option::as_ref)
            .ok_or("expected constant weights as the second input")?;
        let values = weights.floats().ok_or("the weights are not floats")?;
        let [rows, columns] = weights.dims.as_slice() else {
            return Err(format!(
                "expected a weight matrix, found shape {:?}",
                weights.dims
            ));
        };
        let (rows, columns) = (*rows, *columns);
        let trans_b = op == "Gemm" && int(node, "transB", 0) != 0;
        if op == "Gemm" && int(node, "transA", 0) != 0 {
            return Err(
                "transposes the input (`transA = 1`): the batch axis would mix with the features"
                    .to_owned(),
            );
        }
        let alpha = if op == "Gemm" {
            float(node, "alpha", 1.0)
        } else {
            1.0
        };
        let beta = if op == "Gemm" {
            float(node, "beta", 1.0)
        } else {
            1.0
        };
        let (inputs, outputs) = if trans_b {
            (columns, rows)
        } else {
            (rows, columns)
        };
        if op == "Gemm"
            && let Some(axes) = flow.steps.as_ref().filter(|a| a.len() != 2)
        {
            return Err(format!(
                "multiplies the sequence {}: `Gemm` reads a matrix, reshape to [-1, features] first",
                axes_text(axes)
            ));
        }
        let Some(width) = flow.nn.width() else {
            return Err(format!(
                "multiplies a feature map of shape {}: insert a `Flatten` first",
                flow.nn
            ));
        };
        if width != inputs || flow.shape.len() != 1 {
            return Err(format!(
                "multiplies {width} values by a {rows}x{columns} matrix{}",
                if trans_b { " (transposed)" } else { "" }
            ));
        }
        let mut weight = Vec::with_capacity(values.len());
        for o in 0..outputs {
            for i in 0..inputs {
                let v = if trans_b {
                    values[o * inputs + i]
                } else {
                    values[i * outputs + o]
                };
                weight.push(alpha * v);
            }
        }
        // No `C` (or a `MatMul`): no bias, unless an `Add` after gives one.
        let bias = match consts.get(2).and_then(Option::as_ref) {
            Some(c) => Some(
                per_channel(c, outputs, 0)
                    .ok_or_else(|| {
                        format!("adds a bias of shape {:?} to {outputs} outputs", c.dims)
                    })?
                    .into_iter()
                    .map(|c| beta * c)
                    .collect::<Vec<f64>>(),
            ),
            None => None,
        };
        let output = Shape::vector(outputs);
        let mut values = self.push(
            index,
            node,
            LayerKind::Dense,
            flow.nn,
            output,
            Some((vec![outputs, inputs], weight)),
            bias,
        );
        if let Some(Value::Flow(out)) = values.first_mut() {
            out.steps.clone_from(&flow.steps);
        }
        Ok(values)
    }

    /// `Add` of a constant (`sign` 1), or `Sub` of one from the flow (`sign` -1): the bias of the
    /// layer before.
    fn bias(
        &mut self,
        at: usize,
        flow: Flow,
        consts: &[Option<Const>],
        sign: f64,
    ) -> Result<Vec<Value>, String> {
        let (verb, object) = if sign < 0.0 {
            ("subtracts", "subtract")
        } else {
            ("adds", "add")
        };
        let constant = consts
            .get(1 - at.min(1))
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("expected a constant to {object}"))?;
        let layer = flow.layer.filter(|&l| {
            matches!(
                self.layers[l].kind,
                LayerKind::Dense | LayerKind::Conv1d(_) | LayerKind::Conv2d(_)
            ) && self.layers[l].activation == Activation::Linear
        });
        let Some(layer) = layer else {
            return Err(format!(
                "{verb} a constant to something other than a dense layer's or a convolution's output (before its activation): only biases can be imported"
            ));
        };
        // The layer's own output, not a view of it with more axes (`Unsqueeze`), over which a
        // constant would broadcast otherwise than per channel.
        if flow.shape.len() != self.layers[layer].output.rank() {
            return Err(format!(
                "{verb} a constant to layer `{}`'s output seen with more axes ({} per sample): only a bias, one value per channel of the output itself, can be imported",
                self.layers[layer].name,
                flow.shape.len()
            ));
        }
        let channels = self.layers[layer].output.dims()[0];
        let spatial = self.layers[layer].output.rank() - 1;
        let values = per_channel(constant, channels, spatial)
            .ok_or_else(|| format!("{verb} a constant of shape {:?} to layer `{}`'s output {}: expected one value per channel", constant.dims, self.layers[layer].name, self.layers[layer].output))?;
        let bias = self.layers[layer]
            .bias
            .get_or_insert_with(|| vec![0.0; channels]);
        for (b, v) in bias.iter_mut().zip(values) {
            *b += sign * v;
        }
        Ok(vec![Value::Flow(flow)])
    }

    /// `BatchNormalization`: a `batchnorm` layer, or on request (`fold_batchnorm`) folded into
    /// the dense layer or convolution before it when it normalises that layer's output before
    /// any activation.
    fn batchnorm(
        &mut self,
        index: usize,
        node: &Node,
        flow: Flow,
        consts: &[Option<Const>],
    ) -> Result<Vec<Value>, String> {
        if int(node, "training_mode", 0) != 0 {
            return Err("runs in training mode".to_owned());
        }
        if node
            .output
            .iter()
            .skip(1)
            .any(|o| self.uses.contains_key(o))
        {
            return Err(
                "its running statistics outputs are used: only inference can be imported"
                    .to_owned(),
            );
        }
        // Attributes are `f32`: kept as their shortest decimal (`1e-3`, not 0.0010000000474974513).
        let decimal = |value: f64| {
            #[allow(clippy::cast_possible_truncation)]
            let single = value as f32;
            single.to_string().parse::<f64>().unwrap_or(value)
        };
        let epsilon = float(node, "epsilon", 1e-5);
        // ONNX's momentum weighs the running statistics, PyTorch's (and nn's) the batch's.
        let momentum = decimal(1.0 - decimal(float(node, "momentum", 0.9)));
        let channels = flow.nn.dims()[0];
        let vector = |i: usize, what: &str| -> Result<Vec<f64>, String> {
            let c = consts
                .get(i)
                .and_then(Option::as_ref)
                .ok_or_else(|| format!("expected a constant {what}"))?;
            match (c.floats(), c.dims.as_slice()) {
                (Some(values), [n]) if *n == channels => Ok(values.to_vec()),
                _ => Err(format!(
                    "its {what} has shape {:?}, expected [{channels}]",
                    c.dims
                )),
            }
        };
        let (scale, shift, mean, variance) = (
            vector(1, "scale")?,
            vector(2, "bias")?,
            vector(3, "mean")?,
            vector(4, "variance")?,
        );
        if let Some((at, v)) = variance.iter().enumerate().find(|(_, v)| **v < 0.0) {
            return Err(format!(
                "its variance holds {v} at index {at}: a variance is never negative (the \
                 model is damaged)"
            ));
        }
        let folded_into = flow.layer.filter(|&l| {
            self.fold_batchnorm
                && matches!(
                    self.layers[l].kind,
                    LayerKind::Dense | LayerKind::Conv1d(_) | LayerKind::Conv2d(_)
                )
                && self.layers[l].activation == Activation::Linear
        });
        let Some(layer) = folded_into else {
            if !(epsilon > 0.0 && (0.0..=1.0).contains(&momentum)) {
                return Err(format!(
                    "has epsilon {epsilon} and momentum {}: nn's batchnorm needs a positive epsilon and a momentum from 0 to 1",
                    1.0 - momentum
                ));
            }
            let mut values = self.push(
                index,
                node,
                LayerKind::BatchNorm {
                    eps: decimal(epsilon),
                    momentum,
                },
                flow.nn,
                flow.nn,
                Some((vec![channels], scale)),
                Some(shift),
            );
            if let Some(layer) = self.layers.last_mut() {
                layer.statistics = Some((mean, variance));
            }
            if let Some(Value::Flow(out)) = values.first_mut() {
                out.shape.clone_from(&flow.shape);
            }
            return Ok(values);
        };
        let target = &mut self.layers[layer];
        // A layer without a bias gets one: the batchnorm's shift.
        let bias = target.bias.get_or_insert_with(|| vec![0.0; channels]);
        if let Some((_, weight)) = &mut target.weight {
            let per = weight.len() / channels.max(1);
            for o in 0..channels {
                let s = scale[o] / (variance[o] + epsilon).sqrt();
                for w in &mut weight[o * per..(o + 1) * per] {
                    *w *= s;
                }
                bias[o] = (bias[o] - mean[o]) * s + shift[o];
            }
        }
        Ok(vec![Value::Flow(flow)])
    }

    /// `GlobalAveragePool` or `GlobalMaxPool`.
    fn global_pool(
        &mut self,
        index: usize,
        node: &Node,
        flow: &Flow,
        keep_axes: bool,
    ) -> Result<Vec<Value>, String> {
        let op = node.op_type.as_str();
        if flow.nn.rank() < 2 || flow.shape.len() < 2 {
            return Err(format!(
                "pools a vector ({}), expected a feature map",
                flow.nn
            ));
        }
        let channels = flow.nn.dims()[0];
        let kind = if matches!(op, "GlobalAveragePool" | "ReduceMean") {
            LayerKind::GlobalAvgPool
        } else {
            LayerKind::GlobalMaxPool
        };
        let mut values = self.push(
            index,
            node,
            kind,
            flow.nn,
            Shape::vector(channels),
            None,
            None,
        );
        if let Some(Value::Flow(out)) = values.first_mut() {
            // ONNX keeps the spatial axes, as ones (unless a reduction drops them); nn's value
            // is the vector.
            let kept = if keep_axes { flow.shape.len() - 1 } else { 0 };
            out.shape = std::iter::once(channels)
                .chain(std::iter::repeat_n(1, kept))
                .collect();
        }
        Ok(values)
    }

    /// `ReduceMean` or `ReduceMax` over every spatial axis of a feature map (PyTorch's default
    /// exporter writes `AdaptiveAvgPool2d(1)`, `AdaptiveMaxPool2d(1)` and `x.mean((2, 3))` so):
    /// `global_avgpool` or `global_maxpool`.
    fn reduce(
        &mut self,
        index: usize,
        node: &Node,
        flow: &Flow,
        consts: &[Option<Const>],
    ) -> Result<Vec<Value>, String> {
        // Axes became an input in opset 18 (`ReduceMean`, `ReduceMax`).
        let written = match consts.get(1).and_then(Option::as_ref) {
            Some(c) => c.known_ints().ok_or("its axes are not integers")?,
            None => ints(node, "axes").unwrap_or_default(),
        };
        let rank = flow.shape.len() + 1;
        let mut axes = fold::axes(&written, rank)
            .ok_or_else(|| format!("reduces axes {written:?} of a value of {rank} axes"))?;
        axes.sort_unstable();
        axes.dedup();
        let spatial: Vec<usize> = (2..rank).collect();
        if axes.is_empty() {
            return Err(
                "reduces every axis, the batch's too: only a reduction over a feature map's \
                 spatial axes (a global pool) can be imported"
                    .to_owned(),
            );
        }
        if axes != spatial || flow.nn.rank() < 2 {
            return Err(format!(
                "reduces axes {written:?} of [batch, {}]: only a reduction over a feature map's \
                 spatial axes (a global pool) can be imported",
                flow.shape
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        self.global_pool(index, node, flow, int(node, "keepdims", 1) != 0)
    }

    /// `Unsqueeze` of a feature map or vector: axes of size 1 after the channels, which change
    /// no value's place (PyTorch's default exporter pools a 1-D map as a 2-D one so).
    fn unsqueeze(
        &self,
        node: &Node,
        flow: Flow,
        consts: &[Option<Const>],
    ) -> Result<Vec<Value>, String> {
        let written = if self.opset >= 13 {
            consts
                .get(1)
                .and_then(Option::as_ref)
                .and_then(Const::known_ints)
                .ok_or("expected constant integer axes")?
        } else {
            ints(node, "axes").unwrap_or_default()
        };
        let rank = flow.shape.len() + 1 + written.len();
        let mut axes = fold::axes(&written, rank)
            .ok_or_else(|| format!("inserts axes {written:?} into a value of {rank} axes"))?;
        axes.sort_unstable();
        if axes.iter().any(|&a| a < 2) || axes.windows(2).any(|w| w[0] == w[1]) {
            return Err(format!(
                "inserts axes {written:?}: only axes after the batch and the channels can be \
                 imported"
            ));
        }
        let mut shape = flow.shape.clone();
        for &axis in &axes {
            shape.insert(axis - 1, 1);
        }
        Ok(vec![Value::Flow(Flow { shape, ..flow })])
    }

    /// `Squeeze` of a sequence's `directions` axis (a recurrent node's `Y`).
    fn squeeze(
        &self,
        node: &Node,
        flow: Flow,
        consts: &[Option<Const>],
    ) -> Result<Vec<Value>, String> {
        let Some(axes) = &flow.steps else {
            return squeeze_units(self.opset, node, flow, consts);
        };
        let written = squeezed_axes(self.opset, node, consts)?;
        let squeezed: Vec<usize> = if written.is_empty() {
            (0..axes.len())
                .filter(|&a| axes[a] == Axis::Directions)
                .collect()
        } else {
            fold::axes(&written, axes.len())
                .ok_or_else(|| format!("squeezes axes {written:?} of {}", axes_text(axes)))?
        };
        if let Some(&bad) = squeezed.iter().find(|&&a| axes[a] != Axis::Directions) {
            return Err(format!(
                "squeezes the {} axis of {}: only a recurrent node's directions axis can be removed",
                axes[bad].name(),
                axes_text(axes)
            ));
        }
        let kept = (0..axes.len())
            .filter(|a| !squeezed.contains(a))
            .map(|a| axes[a])
            .collect();
        Ok(vec![Value::Flow(Flow {
            steps: Some(kept),
            ..flow
        })])
    }

    /// A node on a sequence that is not per time step (an error), or a recurrent node; `None`
    /// for every other node.
    fn sequence_node(
        &mut self,
        index: usize,
        node: &Node,
        at: usize,
        flow: &Flow,
        inputs: &[Option<Value>],
    ) -> Option<Result<Vec<Value>, String>> {
        let op = node.op_type.as_str();
        if op == "Gather" && flow.steps.is_some() && at == 0 {
            return Some(self.last_step(flow, node, inputs));
        }
        if let Some(axes) = &flow.steps
            && !PER_STEP.contains(&op)
        {
            return Some(Err(format!(
                "operator `{op}` on a sequence ({}): a sequence network runs one time step at a time, and only `LSTM`, `GRU` and `RNN` nodes read across steps",
                axes_text(axes)
            )));
        }
        RECURRENT
            .contains(&op)
            .then(|| self.recurrent(index, node, at, flow, inputs))
    }

    /// `Gather` on a sequence: of its last time step (`y[:, -1]`: index -1, or the last of a
    /// fixed number of steps, on the steps axis), which removes the steps axis, what follows
    /// running on each step as before and the model's output being the network's at the last
    /// step; or of the one direction of a recurrent node's output (`h_n[-1]`). Any other step
    /// cannot be: a sequence network gives each step's output as it comes.
    fn last_step(
        &mut self,
        flow: &Flow,
        node: &Node,
        inputs: &[Option<Value>],
    ) -> Result<Vec<Value>, String> {
        let axes = flow.steps.clone().unwrap_or_default();
        let written = int(node, "axis", 0);
        let gathered = fold::axes(&[written], axes.len())
            .and_then(|a| a.first().copied())
            .ok_or_else(|| format!("gathers along axis {written} of {}", axes_text(&axes)))?;
        let index = match inputs.get(1) {
            Some(Some(Value::Const(c))) if c.dims.is_empty() => {
                c.known_ints().and_then(|v| v.first().copied())
            }
            _ => None,
        };
        let which = |noun: &str| {
            index.map_or_else(
                || format!("{noun}s that are not one constant index"),
                |i| format!("{noun} {i}"),
            )
        };
        let along = axes[gathered];
        match along {
            Axis::Directions if matches!(index, Some(0 | -1)) => {}
            Axis::Levels => {
                let top = signed(self.levels(flow)) - 1;
                if !matches!(index, Some(i) if i == -1 || i == top) {
                    return Err(format!(
                        "takes {} of the last states of {}: the network's output is its last level's (index -1)",
                        which("level"),
                        axes_text(&axes)
                    ));
                }
            }
            Axis::Directions => {
                return Err(format!(
                    "gathers along the directions axis of {} other than its one direction",
                    axes_text(&axes)
                ));
            }
            Axis::Time => {
                let last = index == Some(-1)
                    || index.is_some_and(|i| self.steps.and_then(|s| s.checked_sub(1)) == Some(i));
                if !last {
                    return Err(format!(
                        "takes {} of {}: a sequence network gives each step's output as it comes, so only the last step (index -1) can be taken",
                        which("step"),
                        axes_text(&axes)
                    ));
                }
                self.last_step = true;
            }
            _ => {
                return Err(format!(
                    "gathers along the {} axis of {}: only the last time step can be taken from a sequence",
                    along.name(),
                    axes_text(&axes)
                ));
            }
        }
        let kept = axes.iter().copied().filter(|&a| a != along).collect();
        Ok(vec![Value::Flow(Flow {
            steps: Some(kept),
            ..flow.clone()
        })])
    }

    /// `Concat` of the last states of a recurrent layer's levels (`h_n` of a module of several
    /// levels), every level in order along their directions axis: a value whose axis of
    /// levels only a `Gather` of the last level can remove. Any other `Concat` of `flows`
    /// values of the input joins them.
    fn stacked_states(
        &self,
        node: &Node,
        inputs: &[Option<Value>],
        flows: usize,
    ) -> Result<Vec<Value>, String> {
        let states: Option<Vec<&Flow>> = inputs
            .iter()
            .map(|v| match v {
                Some(Value::Flow(f)) if f.level.is_some() => Some(f),
                _ => None,
            })
            .collect();
        let Some(states) = states else {
            return Err(joins(flows));
        };
        let first = states[0];
        let in_order = states
            .iter()
            .enumerate()
            .all(|(k, state)| state.layer == first.layer && state.level == Some(k));
        let axes = first.steps.clone().unwrap_or_default();
        let along = fold::axes(&[int(node, "axis", 0)], axes.len())
            .and_then(|a| a.first().copied())
            .map(|a| axes[a]);
        if !in_order || states.len() != self.levels(first) || along != Some(Axis::Directions) {
            return Err(format!(
                "joins {flows} values computed from the input, not the last states of one recurrent layer's levels in order (`h_n`): only chains of layers can be imported"
            ));
        }
        let stacked = axes
            .iter()
            .map(|&a| {
                if a == Axis::Directions {
                    Axis::Levels
                } else {
                    a
                }
            })
            .collect();
        Ok(vec![Value::Flow(Flow {
            steps: Some(stacked),
            level: None,
            ..first.clone()
        })])
    }

    /// The levels of the recurrent layer `flow` is the output of (1 for any other).
    fn levels(&self, flow: &Flow) -> usize {
        match flow.layer.map(|l| &self.layers[l].kind) {
            Some(LayerKind::Recurrent(k)) => k.layers,
            _ => 1,
        }
    }

    /// A recurrent node's optional inputs and outputs that nn has no counterpart of: lengths,
    /// a non-zero initial state, peepholes, the last step's cell state used, or both every
    /// step's output and the last step's state other than for a `Concat` of levels. Which of
    /// its outputs the model reads.
    fn recurrent_extras(
        &self,
        node: &Node,
        spec: &Spec,
        inputs: &[Option<Value>],
    ) -> Result<Reads, String> {
        if matches!(inputs.get(4), Some(Some(_))) {
            return Err("has `sequence_lens`: nn's sequences are as long as they are given, export without lengths".to_owned());
        }
        for &(i, what) in initial_states(spec.cell) {
            let zero = match inputs.get(i) {
                None | Some(None) => true,
                Some(Some(Value::Fill(fill))) => fill.value == 0.0,
                Some(Some(Value::Const(c))) => {
                    c.floats().is_some_and(|v| v.iter().all(|&v| v == 0.0))
                }
                Some(Some(_)) => false,
            };
            if !zero {
                return Err(format!(
                    "starts from an initial state `{what}` that is not zeros: nn's streams start from zeros (`State::ZERO`)"
                ));
            }
        }
        if matches!(inputs.get(7), Some(Some(_))) {
            return Err("has peepholes (`P`): nn's `lstm` is PyTorch's, which has none".to_owned());
        }
        let used = |i: usize| {
            node.output
                .get(i)
                .filter(|o| !o.is_empty() && (self.uses.contains_key(*o) || *o == self.output))
        };
        if let Some(name) = used(2) {
            return Err(format!(
                "its last step's cell state `Y_c` (`{name}`) is used: a sequence network keeps the cell state in the stream's state, and gives the hidden state"
            ));
        }
        let stacked = |name: &String| {
            *name != self.output
                && self
                    .uses
                    .get(name)
                    .is_some_and(|users| users.iter().all(|&u| self.nodes[u].op_type == "Concat"))
        };
        match (used(0), used(1)) {
            (Some(_), Some(name)) if stacked(name) => Ok(Reads::Both),
            (Some(_), Some(name)) => Err(format!(
                "uses both every step's output `Y` and its last step's state `Y_h` (`{name}`): a network has one output; return the last step of `Y` instead (`y[:, -1]` for a batch-first module), or `h_n[-1]`, which import"
            )),
            (None, Some(_)) => Ok(Reads::State),
            _ => Ok(Reads::Steps),
        }
    }

    /// An `LSTM`, `GRU` or `RNN` node reading the sequence `flow`: an `lstm`, `gru` or `rnn`
    /// layer, or one more level of the layer before when that is of the same kind and size and
    /// from the same module (`num_layers = 2` is exported as two nodes); its output `Y` is
    /// every step's hidden state.
    fn recurrent(
        &mut self,
        index: usize,
        node: &Node,
        at: usize,
        flow: &Flow,
        inputs: &[Option<Value>],
    ) -> Result<Vec<Value>, String> {
        let spec = Spec::read(node)?;
        let Some(axes) = flow.steps.as_deref().filter(|_| at == 0) else {
            return Err("reads the input's flow other than as its sequence `X`".to_owned());
        };
        let expected = if spec.batch_first {
            [Axis::Batch, Axis::Time, Axis::Features]
        } else {
            [Axis::Time, Axis::Batch, Axis::Features]
        };
        if axes != expected {
            return Err(format!(
                "reads {} as {}{}",
                axes_text(axes),
                axes_text(&expected),
                if spec.batch_first {
                    " (`layout = 1`)"
                } else {
                    ""
                }
            ));
        }
        let constant = |i: usize, what: &str| -> Result<Option<&Const>, String> {
            match inputs.get(i) {
                None | Some(None) => Ok(None),
                Some(Some(Value::Const(c))) => Ok(Some(c)),
                Some(Some(_)) => Err(format!("its {what} is not a constant")),
            }
        };
        let w = constant(1, "weights `W`")?.ok_or("has no weights `W`")?;
        let r = constant(2, "weights `R`")?.ok_or("has no weights `R`")?;
        let b = constant(3, "bias `B`")?;
        let reads = self.recurrent_extras(node, &spec, inputs)?;
        let level = recurrent::level(&spec, flow.nn.elements(), w, r, b)?;
        let hidden = level.hidden;
        state_sizes(spec.cell, inputs, hidden)?;
        // Levels of one module: the nodes of two modules that name themselves stay two layers.
        let module = Self::base_name(node);
        let stacked = flow.layer.filter(|&l| {
            let below = &self.layers[l];
            matches!(below.kind, LayerKind::Recurrent(k) if k.cell == spec.cell && k.hidden == hidden && k.layers < MAX_RECURRENT_LEVELS)
                && below.activation == Activation::Linear
                && (below.module.is_none() || module.is_none() || below.module == module)
        });
        let output = Shape::vector(hidden);
        let layer = if let Some(l) = stacked {
            self.add_level(l, spec.cell, hidden, level.tensors);
            l
        } else {
            let kind = LayerKind::Recurrent(Recurrent {
                cell: spec.cell,
                hidden,
                layers: 1,
            });
            self.push(index, node, kind, flow.nn, output, None, None);
            let pushed = self.layers.len() - 1;
            self.layers[pushed].tensors = level
                .tensors
                .into_iter()
                .map(|(name, shape, values)| (format!("{name}_l0"), shape, values))
                .collect();
            pushed
        };
        let level_number = match &self.layers[layer].kind {
            LayerKind::Recurrent(k) => k.layers - 1,
            _ => 0,
        };
        let flow = |steps: Vec<Axis>, level: Option<usize>| {
            Value::Flow(Flow {
                shape: vec![hidden],
                nn: output,
                layer: Some(layer),
                steps: Some(steps),
                level,
            })
        };
        let y = if spec.batch_first {
            vec![Axis::Batch, Axis::Time, Axis::Directions, Axis::Features]
        } else {
            vec![Axis::Time, Axis::Directions, Axis::Batch, Axis::Features]
        };
        // `Y_h`, the last step's hidden state: read, it makes the network's output at a
        // stream's last step the model's.
        let y_h = if spec.batch_first {
            vec![Axis::Batch, Axis::Directions, Axis::Features]
        } else {
            vec![Axis::Directions, Axis::Batch, Axis::Features]
        };
        let state = flow(y_h, Some(level_number));
        Ok(match reads {
            Reads::Steps => vec![flow(y, None), Value::Unknown(true), Value::Unknown(true)],
            Reads::State => {
                self.last_step = true;
                vec![Value::Unknown(true), state, Value::Unknown(true)]
            }
            Reads::Both => {
                self.last_step = true;
                vec![flow(y, None), state, Value::Unknown(true)]
            }
        })
    }

    /// Adds a level of `tensors` (without the `_l` suffix) to the recurrent layer `l`. One
    /// module's levels have biases or none (`bias=False`); should its nodes differ, the levels
    /// without get zeros.
    fn add_level(
        &mut self,
        l: usize,
        cell: Cell,
        hidden: usize,
        mut tensors: Vec<(&'static str, Vec<usize>, Vec<f64>)>,
    ) {
        let below = &mut self.layers[l];
        let LayerKind::Recurrent(k) = &mut below.kind else {
            unreachable!("levels are added to recurrent layers")
        };
        let n = k.layers;
        k.layers += 1;
        let biased = below
            .tensors
            .iter()
            .any(|(name, ..)| name.starts_with("bias_"));
        if tensors.len() == 2 && biased {
            tensors.extend(recurrent::zero_biases(cell, hidden));
        } else if tensors.len() == 4 && !biased {
            let weights = std::mem::take(&mut below.tensors);
            for (level, pair) in weights.chunks(2).enumerate() {
                below.tensors.extend(pair.iter().cloned());
                below.tensors.extend(
                    recurrent::zero_biases(cell, hidden)
                        .map(|(name, shape, values)| (format!("{name}_l{level}"), shape, values)),
                );
            }
        }
        below.tensors.extend(
            tensors
                .into_iter()
                .map(|(name, shape, values)| (format!("{name}_l{n}"), shape, values)),
        );
    }

    /// `Flatten`.
    fn flatten_node(
        &mut self,
        index: usize,
        node: &Node,
        flow: &Flow,
    ) -> Result<Vec<Value>, String> {
        let axis = int(node, "axis", 1);
        if axis != 1 && axis != -signed(flow.shape.len()) {
            return Err(format!(
                "flattens from axis {axis}: only `axis = 1` (each sample to a vector) can be imported"
            ));
        }
        Ok(self.flatten(index, node, flow))
    }

    /// `Reshape` of the flow: to a vector per sample (a `flatten`), or to its own shape.
    fn reshape(
        &mut self,
        index: usize,
        node: &Node,
        flow: Flow,
        consts: &[Option<Const>],
    ) -> Result<Vec<Value>, String> {
        let target = consts
            .get(1)
            .and_then(Option::as_ref)
            .ok_or("expected a constant shape (or one computed from `Shape`)")?;
        let Data::Int(target) = &target.data else {
            return Err("reshapes to a shape that is not integers".to_owned());
        };
        if flow.steps.is_some() {
            return self.sequence_reshape(flow, target);
        }
        let elements = signed(flow.shape.iter().product::<usize>());
        let batch = |v: &Int| {
            matches!(v, Int::Batch | Int::Known(0))
                || matches!(v, Int::Known(b) if Some(*b) == self.batch)
        };
        let flat = match target.as_slice() {
            [first, Int::Known(n)] if batch(first) && (*n == -1 || *n == elements) => true,
            [Int::Known(-1), Int::Known(n)] if *n == elements => true,
            _ => false,
        };
        let same = target.len() == flow.shape.len() + 1
            && batch(&target[0])
            && target[1..]
                .iter()
                .zip(&flow.shape)
                .all(|(t, &d)| *t == Int::Known(signed(d)));
        if flat {
            Ok(self.flatten(index, node, &flow))
        } else if same {
            Ok(vec![Value::Flow(flow)])
        } else {
            Err(format!(
                "reshapes [batch, {}] to [{}]: only reshapes of each sample to a vector ([batch, -1]) can be imported",
                join(&flow.shape),
                ints_text(target)
            ))
        }
    }

    /// A `Shape` node's value for a flow (`shape_of`).
    fn shape_of(&self, node: &Node, flow: &Flow) -> Result<Const, String> {
        shape_of(node, flow, (self.batch, self.steps), self.opset)
    }

    /// `Reshape` of a sequence that keeps each step's features: the directions axis left out,
    /// batch and time merged into rows (for a `Gemm`), or rows split back into them.
    fn sequence_reshape(&self, flow: Flow, target: &[Int]) -> Result<Vec<Value>, String> {
        let axes = flow.steps.clone().unwrap_or_default();
        let features = signed(flow.nn.elements());
        let fits = |entry: Int, axis: Axis, at: usize| match (entry, axis) {
            // ONNX's `0`: the input's size on that axis.
            (Int::Known(0), _) => axes.get(at) == Some(&axis),
            (Int::Known(-1), _)
            | (Int::Batch, Axis::Batch)
            | (Int::Steps, Axis::Time)
            | (Int::Known(1), Axis::Directions) => true,
            (Int::Known(n), Axis::Batch) => self.batch == Some(n),
            (Int::Known(n), Axis::Time) => self.steps == Some(n),
            (Int::Known(n), Axis::Features) => n == features,
            (Int::Known(n), Axis::Rows { .. }) => {
                self.batch.zip(self.steps).map(|(b, t)| b.saturating_mul(t)) == Some(n)
            }
            _ => false,
        };
        let kept: Vec<Axis> = axes
            .iter()
            .copied()
            .filter(|&a| a != Axis::Directions)
            .collect();
        let merged: Vec<Axis> = match kept.as_slice() {
            [Axis::Batch, Axis::Time, Axis::Features] => {
                vec![Axis::Rows { batch_first: true }, Axis::Features]
            }
            [Axis::Time, Axis::Batch, Axis::Features] => {
                vec![Axis::Rows { batch_first: false }, Axis::Features]
            }
            _ => Vec::new(),
        };
        let split: Vec<Axis> = kept
            .iter()
            .flat_map(|&a| match a {
                Axis::Rows { batch_first: true } => vec![Axis::Batch, Axis::Time],
                Axis::Rows { batch_first: false } => vec![Axis::Time, Axis::Batch],
                other => vec![other],
            })
            .collect();
        let inferred = target.iter().filter(|&&t| t == Int::Known(-1)).count();
        let fitting = [axes.clone(), kept, merged, split]
            .into_iter()
            .find(|candidate| {
                inferred <= 1
                    && candidate.len() == target.len()
                    && candidate
                        .iter()
                        .zip(target)
                        .enumerate()
                        .all(|(at, (&axis, &entry))| fits(entry, axis, at))
            });
        let steps = fitting.ok_or_else(|| {
            format!(
                "reshapes the sequence {} to [{}]: only reshapes that keep each step's features can be imported",
                axes_text(&axes),
                ints_text(target)
            )
        })?;
        Ok(vec![Value::Flow(Flow {
            steps: Some(steps),
            ..flow
        })])
    }

    /// The activation a node applies.
    fn activation(&self, node: &Node, flow: &Flow) -> Result<Activation, String> {
        Ok(match node.op_type.as_str() {
            "Relu" => Activation::Relu,
            "LeakyRelu" => Activation::LeakyRelu {
                alpha: shortest(float32(node, "alpha", 0.01)),
            },
            "Elu" => Activation::Elu {
                alpha: shortest(float32(node, "alpha", 1.0)),
            },
            "Sigmoid" => Activation::Sigmoid,
            "Tanh" => Activation::Tanh,
            "Softplus" => Activation::Softplus,
            "Silu" => Activation::Silu,
            "Gelu" => match string(node, "approximate").unwrap_or_default().as_str() {
                "" | "none" => Activation::Gelu,
                "tanh" => Activation::GeluTanh,
                other => {
                    return Err(format!(
                        "approximates GELU with `{other}`: nn has the exact form (`gelu`) and \
                         the `tanh` one (`gelu_tanh`)"
                    ));
                }
            },
            op => {
                // Softmax and LogSoftmax: over the features of a vector, the axis after the batch.
                let axis = int(node, "axis", if self.opset >= 13 { -1 } else { 1 });
                if flow.nn.rank() != 1 || flow.shape.len() != 1 {
                    return Err(format!(
                        "normalises a feature map ({}): nn's `{}` normalises a vector",
                        flow.nn,
                        if op == "Softmax" {
                            "softmax"
                        } else {
                            "log_softmax"
                        }
                    ));
                }
                let features = flow.steps.as_ref().map_or(1, |axes| signed(axes.len()) - 1);
                if axis != features && axis != -1 {
                    return Err(format!(
                        "normalises along axis {axis}: only the features' axis ({features} or -1) can be imported"
                    ));
                }
                if op == "Softmax" {
                    Activation::Softmax
                } else {
                    Activation::LogSoftmax
                }
            }
        })
    }

    /// A `flatten` layer, or nothing when the flow is a vector already.
    fn flatten(&mut self, index: usize, node: &Node, flow: &Flow) -> Vec<Value> {
        let elements = flow.nn.elements();
        if flow.nn.rank() == 1 {
            return vec![Value::Flow(Flow {
                shape: vec![elements],
                ..flow.clone()
            })];
        }
        self.push(
            index,
            node,
            LayerKind::Flatten,
            flow.nn,
            Shape::vector(elements),
            None,
            None,
        )
    }

    /// A `Conv` node: `conv1d` or `conv2d`.
    fn conv(
        &mut self,
        index: usize,
        node: &Node,
        flow: &Flow,
        consts: &[Option<Const>],
    ) -> Result<Vec<Value>, String> {
        let weight = consts
            .get(1)
            .and_then(Option::as_ref)
            .ok_or("expected constant weights as the second input")?;
        let values = weight
            .floats()
            .ok_or("the weights are not floats")?
            .to_vec();
        let spatial = weight.dims.len().saturating_sub(2);
        if !(1..=2).contains(&spatial) {
            return Err(format!(
                "has weights of shape {:?}: only 1-D and 2-D convolutions can be imported",
                weight.dims
            ));
        }
        if weight.dims.contains(&0) {
            return Err(format!(
                "has weights of shape {:?}, with no values",
                weight.dims
            ));
        }
        let kernel = weight.dims[2..].to_vec();
        same_kernel(node, &kernel)?;
        let geometry = Geometry::read(node, spatial, &kernel, true)?;
        let out_channels = weight.dims[0];
        let groups = usize::try_from(int(node, "group", 1))
            .ok()
            .filter(|&g| g > 0)
            .ok_or("has a group count below 1")?;
        // No `B`: no bias, unless an `Add` after gives one.
        let bias = match consts.get(2).and_then(Option::as_ref) {
            Some(b) => Some(per_channel(b, out_channels, 0).ok_or_else(|| {
                format!(
                    "has a bias of shape {:?} for {out_channels} channels",
                    b.dims
                )
            })?),
            None => None,
        };
        if flow.nn.rank() != spatial + 1 || flow.shape.len() != spatial + 1 {
            return Err(format!(
                "convolves {} in {spatial} dimension{}",
                flow.nn,
                if spatial == 1 { "" } else { "s" }
            ));
        }
        let channels = flow.nn.dims()[0];
        let reads = weight.dims[1].saturating_mul(groups);
        if channels != reads {
            return Err(format!(
                "reads {channels} channels, but its weights {:?} with {groups} group{} read {reads}",
                weight.dims,
                if groups == 1 { "" } else { "s" },
            ));
        }
        let (kind, output) = if spatial == 2 {
            let conv = Conv2d {
                out_channels,
                kernel: [kernel[0], kernel[1]],
                stride: [geometry.strides[0], geometry.strides[1]],
                padding: [geometry.pads[0], geometry.pads[1]],
                dilation: [geometry.dilations[0], geometry.dilations[1]],
                groups,
            };
            let dims = flow.nn.dims();
            let size = conv
                .output_size([dims[1], dims[2]])
                .ok_or("its window is larger than the padded input")?;
            (
                LayerKind::Conv2d(conv),
                Shape::new(&[out_channels, size[0], size[1]]),
            )
        } else {
            let conv = Conv1d {
                out_channels,
                kernel: kernel[0],
                stride: geometry.strides[0],
                padding: geometry.pads[0],
                dilation: geometry.dilations[0],
                groups,
            };
            let size = conv
                .output_size(flow.nn.dims()[1])
                .ok_or("its window is larger than the padded input")?;
            (LayerKind::Conv1d(conv), Shape::new(&[out_channels, size]))
        };
        let output = output.ok_or("its output has no valid shape")?;
        Ok(self.push(
            index,
            node,
            kind,
            flow.nn,
            output,
            Some((weight.dims.clone(), values)),
            bias,
        ))
    }

    /// A `MaxPool` or `AveragePool` node.
    fn pool(&mut self, index: usize, node: &Node, flow: &Flow) -> Result<Vec<Value>, String> {
        let max = node.op_type == "MaxPool";
        let kernel: Vec<usize> = ints(node, "kernel_shape")
            .ok_or("has no `kernel_shape`")?
            .iter()
            .map(|&k| usize::try_from(k).ok().filter(|&k| k > 0))
            .collect::<Option<_>>()
            .ok_or("has a kernel size below 1")?;
        let spatial = kernel.len();
        if !(1..=2).contains(&spatial) {
            return Err(format!(
                "pools in {spatial} dimensions: only 1-D and 2-D pools can be imported"
            ));
        }
        let geometry = Geometry::read(node, spatial, &kernel, false)?;
        if int(node, "ceil_mode", 0) != 0 {
            return Err(
                "rounds its output size up (`ceil_mode = 1`): nn rounds down, as PyTorch's default"
                    .to_owned(),
            );
        }
        if max {
            if node
                .output
                .get(1)
                .is_some_and(|o| self.uses.contains_key(o))
            {
                return Err("its indices output is used".to_owned());
            }
            if int(node, "storage_order", 0) != 0 {
                return Err("has `storage_order = 1`".to_owned());
            }
        } else if int(node, "count_include_pad", 0) == 0 && geometry.pads.iter().any(|&p| p > 0) {
            return Err("averages without counting the padding (`count_include_pad = 0`): nn's avgpool counts it, as PyTorch's default".to_owned());
        }
        if geometry
            .pads
            .iter()
            .zip(&kernel)
            .any(|(&p, &k)| p.saturating_mul(2) > k)
        {
            return Err(format!(
                "pads {:?} with a kernel of {kernel:?}: at most half the kernel can be imported",
                geometry.pads
            ));
        }
        if flow.nn.rank() != spatial + 1 || flow.shape.len() != spatial + 1 {
            return Err(format!(
                "pools {} in {spatial} dimension{}",
                flow.nn,
                if spatial == 1 { "" } else { "s" }
            ));
        }
        let dims = flow.nn.dims();
        let (kind, output) = if spatial == 2 {
            let pool = Pool2d {
                kernel: [kernel[0], kernel[1]],
                stride: [geometry.strides[0], geometry.strides[1]],
                padding: [geometry.pads[0], geometry.pads[1]],
            };
            let size = pool
                .output_size([dims[1], dims[2]])
                .ok_or("its window is larger than the padded input")?;
            let kind = if max {
                LayerKind::MaxPool2d(pool)
            } else {
                LayerKind::AvgPool2d(pool)
            };
            (kind, Shape::new(&[dims[0], size[0], size[1]]))
        } else {
            let pool = Pool1d {
                kernel: kernel[0],
                stride: geometry.strides[0],
                padding: geometry.pads[0],
            };
            let size = pool
                .output_size(dims[1])
                .ok_or("its window is larger than the padded input")?;
            let kind = if max {
                LayerKind::MaxPool1d(pool)
            } else {
                LayerKind::AvgPool1d(pool)
            };
            (kind, Shape::new(&[dims[0], size]))
        };
        let output = output.ok_or("its output has no valid shape")?;
        Ok(self.push(index, node, kind, flow.nn, output, None, None))
    }

    /// Appends a layer made by node `index` and returns its output's flow.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        index: usize,
        node: &Node,
        kind: LayerKind,
        input: Shape,
        output: Shape,
        weight: Option<(Vec<usize>, Vec<f64>)>,
        bias: Option<Vec<f64>>,
    ) -> Vec<Value> {
        let module = Self::base_name(node);
        let name = self.unique(&module.clone().unwrap_or_else(|| {
            let op = snake(&node.op_type);
            format!("{op}{index}")
        }));
        self.layers.push(Layer {
            name,
            module,
            kind,
            input,
            output,
            activation: Activation::Linear,
            weight,
            bias,
            statistics: None,
            tensors: Vec::new(),
        });
        vec![Value::Flow(Flow {
            shape: output.dims().to_vec(),
            nn: output,
            layer: Some(self.layers.len() - 1),
            steps: None,
            level: None,
        })]
    }

    /// The name a layer of `node` takes, before it is made unique: the module path of its
    /// weights' name (`fc1.weight` gives `fc1`, `features.0.weight` `features_0`), else of the
    /// PyTorch module that made it (which the default exporter records: see [`torch_module`]),
    /// else the node's name. Its words in lowercase joined by `_`, leaving out a word that
    /// repeats the one before, the default exporter's `node` in front (`node_linear`) and the
    /// operator's name at the end (`Gemm` or `Gemm_0`), with leading numbers moved to the end
    /// (`/0/Conv` as `conv_0`, the operator standing in when nothing else is left). `None` when
    /// nothing is left, or the node has no name.
    fn base_name(node: &Node) -> Option<String> {
        let op = snake(&node.op_type);
        let module = node
            .input
            .get(1)
            .and_then(|weight| parameter_module(weight))
            .or_else(|| torch_module(node));
        let named = module.is_some();
        let source = module.as_deref().unwrap_or(&node.name);
        let mut words: Vec<String> = Vec::new();
        for word in source
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let word = snake(word);
            if words.last() != Some(&word) {
                words.push(word);
            }
        }
        if !named && words.len() > 1 && words[0] == "node" {
            words.remove(0);
        }
        let numeric = |w: &String| w.chars().all(|c| c.is_ascii_digit());
        // `MatMul` written `matmul` or `mat_mul`.
        let is_op = |w: &String| w.replace('_', "") == node.op_type.to_ascii_lowercase();
        if words.len() > 2 && numeric(&words[words.len() - 1]) && is_op(&words[words.len() - 2]) {
            words.truncate(words.len() - 2);
        } else if words.len() > 1 && words.last().is_some_and(is_op) {
            words.pop();
        } else if !named && words.len() == 2 && numeric(&words[1]) && is_op(&words[0]) {
            // The default exporter's `node_LSTM_2`: nothing but the operator.
            words.clear();
        }
        let leading = words.iter().take_while(|w| numeric(w)).count();
        words.rotate_left(leading);
        if leading == words.len() && !words.is_empty() {
            words.insert(0, op.clone());
        }
        if words.is_empty() {
            return None;
        }
        let base = words.join("_");
        Some(
            if base.starts_with(|c: char| c.is_ascii_digit()) || is_keyword(&base) {
                format!("{op}_{base}")
            } else {
                base
            },
        )
    }

    /// `base`, or `base_2`, `base_3`, ... when taken.
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }
}

/// The module path of a parameter's name as PyTorch's exporters keep it (`fc1.weight`,
/// `features.0.weight`): `fc1`, `features.0`.
fn parameter_module(name: &str) -> Option<String> {
    let path = name.strip_suffix(".weight")?;
    let valid = !path.is_empty()
        && path.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    valid.then(|| path.to_owned())
}

/// The path of the PyTorch module whose call made `node` (`encoder.fc1`), when the exporter
/// recorded it: PyTorch's default exporter (`dynamo=True`) names nodes after operators
/// (`node_MatMul_154`) and keeps the modules in the metadata `pkg.torch.onnx.name_scopes`, a
/// Python list of the scopes from the root module's (`''`) to the operator's (`['', 'encoder',
/// 'encoder.fc1', 'linear']`).
fn torch_module(node: &Node) -> Option<String> {
    let scopes = &node
        .metadata_props
        .iter()
        .find(|entry| entry.key == "pkg.torch.onnx.name_scopes")?
        .value;
    // The quoted strings of the list: module names are identifiers and indices, which
    // Python's `repr` writes between single quotes without escapes.
    let names: Vec<&str> = scopes
        .trim()
        .strip_prefix('[')?
        .strip_suffix(']')?
        .split(',')
        .map(|name| {
            name.trim()
                .strip_prefix('\'')
                .and_then(|n| n.strip_suffix('\''))
        })
        .collect::<Option<_>>()?;
    // Each module's scope is its whole path (`enc`, `enc.layers`, `enc.layers.0`): the last
    // names the module; a function called by the root module alone names its operator
    // (`max_pool2d`).
    match names.as_slice() {
        ["", .., module, _operator] => Some((*module).to_owned()),
        ["", operator] => Some((*operator).to_owned()),
        _ => None,
    }
}

/// A recurrent node's initial-state inputs: their positions and names.
fn initial_states(cell: nn_grammar::Cell) -> &'static [(usize, &'static str)] {
    if cell == nn_grammar::Cell::Lstm {
        &[(5, "initial_h"), (6, "initial_c")]
    } else {
        &[(5, "initial_h")]
    }
}

/// Refuses an initial state whose last axis is known and is not `hidden` wide: PyTorch's
/// default exporter writes an `nn.LSTM` with `proj_size` so (its `weight_hr` left out), a model
/// onnxruntime refuses too.
fn state_sizes(
    cell: nn_grammar::Cell,
    inputs: &[Option<Value>],
    hidden: usize,
) -> Result<(), String> {
    for &(i, what) in initial_states(cell) {
        let last = match inputs.get(i) {
            Some(Some(Value::Fill(fill))) => fill
                .sizes
                .as_ref()
                .and_then(|s| s.last().copied().flatten()),
            Some(Some(Value::Const(c))) => c.dims.last().copied(),
            _ => None,
        };
        if let Some(size) = last.filter(|&size| size != hidden) {
            return Err(format!(
                "its initial state `{what}` holds {size} values per stream, expected its \
                 `hidden_size` of {hidden} (an `nn.LSTM` with `proj_size`, which nn has no \
                 counterpart of, exports so)"
            ));
        }
    }
    Ok(())
}

/// The axes a `Squeeze` writes: an input from opset 13, an attribute before; none written
/// means every axis of size 1.
fn squeezed_axes(opset: i64, node: &Node, consts: &[Option<Const>]) -> Result<Vec<i64>, String> {
    if opset < 13 {
        return Ok(ints(node, "axes").unwrap_or_default());
    }
    match consts.get(1).and_then(Option::as_ref) {
        Some(c) => c
            .known_ints()
            .ok_or_else(|| "its axes are not integers".to_owned()),
        None => Ok(Vec::new()),
    }
}

/// `Squeeze` of a value that nn holds as a vector already (after a global pool): axes of size
/// 1 after the channels, which change no value's place.
fn squeeze_units(
    opset: i64,
    node: &Node,
    flow: Flow,
    consts: &[Option<Const>],
) -> Result<Vec<Value>, String> {
    let written = squeezed_axes(opset, node, consts)?;
    let rank = flow.shape.len() + 1;
    let axes: Vec<usize> = if written.is_empty() {
        (2..rank).filter(|&a| flow.shape[a - 1] == 1).collect()
    } else {
        fold::axes(&written, rank)
            .ok_or_else(|| format!("squeezes axes {written:?} of a value of {rank} axes"))?
    };
    let units = axes.iter().all(|&a| a >= 2 && flow.shape[a - 1] == 1);
    if !units || flow.nn.rank() != 1 {
        return Err(format!(
            "squeezes axes {written:?} of {}: only axes of size 1 after a global pool can be \
             removed",
            flow.nn
        ));
    }
    let shape = (1..rank)
        .filter(|a| !axes.contains(a))
        .map(|a| flow.shape[a - 1])
        .collect();
    Ok(vec![Value::Flow(Flow { shape, ..flow })])
}

/// Whether a convolution's `kernel_shape`, if written, is its weights'.
fn same_kernel(node: &Node, kernel: &[usize]) -> Result<(), String> {
    match ints(node, "kernel_shape") {
        Some(written)
            if written
                .iter()
                .map(|&k| usize::try_from(k).unwrap_or(0))
                .ne(kernel.iter().copied()) =>
        {
            Err(format!(
                "its `kernel_shape` {written:?} differs from its weights' {kernel:?}"
            ))
        }
        _ => Ok(()),
    }
}

/// A convolution's or pool's strides, symmetric padding and dilations from its attributes.
struct Geometry {
    strides: Vec<usize>,
    pads: Vec<usize>,
    dilations: Vec<usize>,
}

impl Geometry {
    fn read(node: &Node, spatial: usize, kernel: &[usize], dilated: bool) -> Result<Self, String> {
        let positive = |name: &str| -> Result<Vec<usize>, String> {
            match ints(node, name) {
                None => Ok(vec![1; spatial]),
                Some(values) if values.len() == spatial => values
                    .iter()
                    .map(|&v| usize::try_from(v).ok().filter(|&v| v > 0))
                    .collect::<Option<_>>()
                    .ok_or_else(|| format!("has `{name}` {values:?}, expected positive sizes")),
                Some(values) => Err(format!(
                    "has `{name}` {values:?}, expected {spatial} values"
                )),
            }
        };
        let strides = positive("strides")?;
        let dilations = positive("dilations")?;
        if !dilated && dilations.iter().any(|&d| d != 1) {
            return Err(format!(
                "has `dilations` {dilations:?}: nn's pools are not dilated"
            ));
        }
        let auto_pad = string(node, "auto_pad").unwrap_or_default();
        let pads = match auto_pad.as_str() {
            "" | "NOTSET" => match ints(node, "pads") {
                None => vec![0; spatial],
                Some(pads) if pads.len() == 2 * spatial => {
                    let (begin, end) = pads.split_at(spatial);
                    if begin != end {
                        return Err(format!(
                            "pads {pads:?} unevenly (begins, then ends): nn pads both sides alike"
                        ));
                    }
                    begin
                        .iter()
                        .map(|&p| usize::try_from(p).ok())
                        .collect::<Option<_>>()
                        .ok_or_else(|| format!("has negative `pads` {pads:?}"))?
                }
                Some(pads) => {
                    return Err(format!(
                        "has `pads` {pads:?}, expected {} values",
                        2 * spatial
                    ));
                }
            },
            "VALID" => vec![0; spatial],
            "SAME_UPPER" | "SAME_LOWER" => {
                let spans: Vec<usize> = kernel
                    .iter()
                    .zip(&dilations)
                    .map(|(k, d)| d.saturating_mul(k.saturating_sub(1)))
                    .collect();
                if strides.iter().any(|&s| s != 1) || spans.iter().any(|s| s % 2 != 0) {
                    return Err(format!(
                        "pads with `auto_pad = {auto_pad}` with a stride or an even kernel: nn pads both sides alike"
                    ));
                }
                spans.iter().map(|s| s / 2).collect()
            }
            other => return Err(format!("has `auto_pad = {other}`")),
        };
        Ok(Self {
            strides,
            pads,
            dilations,
        })
    }
}

/// [`MAX_WIDTH`] as an ONNX size.
#[allow(clippy::cast_possible_wrap)] // 2^20
const MAX_WIDTH_I64: i64 = MAX_WIDTH as i64;

/// The input's sizes after the batch axis, or a message for each that is not a fixed size of
/// at most [`MAX_WIDTH`] (whose products, the flows' sizes, then fit a `usize`).
fn sizes(name: &str, dims: &[proto::Dimension]) -> Result<Vec<usize>, Vec<String>> {
    let mut sizes = Vec::new();
    let mut bad = Vec::new();
    for (axis, dim) in dims.iter().enumerate() {
        let axis = axis + 1;
        match (dim.dim_value, &dim.dim_param) {
            (Some(size), None) if size > MAX_WIDTH_I64 => bad.push(format!(
                "axis {axis} of input `{name}` has size {size}, more than nn's largest width, {MAX_WIDTH}"
            )),
            (Some(size), None) if size > 0 => sizes.push(usize::try_from(size).unwrap_or(0)),
            (_, Some(param)) => bad.push(format!(
                "axis {axis} of input `{name}` is dynamic (`{param}`): only the batch axis may be, export with a fixed size"
            )),
            (Some(size), None) => bad.push(format!(
                "axis {axis} of input `{name}` has size {size}, expected at least 1"
            )),
            (None, None) => bad.push(format!(
                "axis {axis} of input `{name}` has no size: only the batch axis may be dynamic"
            )),
        }
    }
    if bad.is_empty() { Ok(sizes) } else { Err(bad) }
}

/// A `Shape` node's value for a flow: the batch size, then the sizes; for a sequence, each
/// axis's (the batch size and the number of steps as symbols; rows only when both are fixed,
/// `sizes`).
fn shape_of(
    node: &Node,
    flow: &Flow,
    sizes: (Option<i64>, Option<i64>),
    opset: i64,
) -> Result<Const, String> {
    let dims = match &flow.steps {
        Some(axes) => axes
            .iter()
            .map(|axis| match axis {
                Axis::Batch => Ok(Int::Batch),
                Axis::Time => Ok(Int::Steps),
                Axis::Directions => Ok(Int::Known(1)),
                Axis::Features => Ok(Int::Known(signed(flow.nn.elements()))),
                Axis::Levels => Err(format!(
                    "reads the shape of {}, the stacked last states of a recurrent layer",
                    axes_text(axes)
                )),
                Axis::Rows { .. } => match sizes {
                    (Some(batch), Some(steps)) => Ok(Int::Known(batch.saturating_mul(steps))),
                    _ => Err(format!(
                        "reads the shape of {}, whose rows are batch and steps together",
                        axes_text(axes)
                    )),
                },
            })
            .collect::<Result<_, _>>()?,
        None => std::iter::once(Int::Batch)
            .chain(flow.shape.iter().map(|&d| Int::Known(signed(d))))
            .collect(),
    };
    Ok(fold::shape(node, dims, opset))
}

/// The values of a node reading a tensor of one repeated value (`Expand` of a constant, or a
/// `ConstantOfShape`'s tensor): what exporters do to a recurrent node's initial state before it
/// reads it keeps it a `Fill`; `None` when the node reads no such tensor.
fn filled(
    node: &Node,
    inputs: &[Option<Value>],
    dir: Option<&Path>,
) -> Option<Result<Vec<Value>, String>> {
    let op = node.op_type.as_str();
    let shape = |i: usize| match inputs.get(i) {
        Some(Some(Value::Const(c))) => Fill::sizes_of(c),
        _ => None,
    };
    if op == "ConstantOfShape" {
        return Some(fill(node, dir).map(|value| {
            vec![Value::Fill(Fill {
                value,
                sizes: shape(0),
            })]
        }));
    }
    let first = inputs.first().cloned().flatten();
    if op == "Expand" {
        // The sizes written, where they are not 1 (which keeps the input's).
        let sizes = shape(1).map(|sizes| {
            sizes
                .into_iter()
                .map(|size| size.filter(|&n| n != 1))
                .collect()
        });
        return Some(match first {
            Some(Value::Const(c)) => match c.floats() {
                // Exactly one value, repeated.
                #[allow(clippy::float_cmp)]
                Some([first, rest @ ..]) if rest.iter().all(|v| v == first) => {
                    Ok(vec![Value::Fill(Fill {
                        value: *first,
                        sizes,
                    })])
                }
                _ => Err("expands a constant that is not one float repeated: only a recurrent node's initial state can be imported".to_owned()),
            },
            Some(Value::Fill(fill)) => Ok(vec![Value::Fill(Fill {
                value: fill.value,
                sizes,
            })]),
            _ => Err("operator `Expand` is understood only on one value (a recurrent node's initial state)".to_owned()),
        });
    }
    if RECURRENT.contains(&op) || !inputs.iter().flatten().any(|v| matches!(v, Value::Fill(_))) {
        return None;
    }
    let keeps = ["Identity", "Slice", "Squeeze", "Unsqueeze", "Reshape"];
    Some(match first {
        Some(Value::Fill(fill)) if keeps.contains(&op) => {
            let sizes = match op {
                "Identity" => fill.sizes,
                "Slice" => sliced(fill.sizes, inputs),
                _ => None,
            };
            Ok(vec![Value::Fill(Fill {
                value: fill.value,
                sizes,
            })])
        }
        _ => Err(format!(
            "operator `{op}` reads a tensor filled by `ConstantOfShape` or `Expand`, which is understood only as a recurrent node's initial state"
        )),
    })
}

/// The sizes of a `Slice` of a tensor of `sizes`: those of the axes it slices unknown.
fn sliced(
    sizes: Option<Vec<Option<usize>>>,
    inputs: &[Option<Value>],
) -> Option<Vec<Option<usize>>> {
    let mut sizes = sizes?;
    let known = |i: usize| match inputs.get(i) {
        Some(Some(Value::Const(c))) => c.known_ints(),
        _ => None,
    };
    let sliced_axes = match inputs.get(3) {
        None | Some(None) => (0..known(1)?.len()).map(signed).collect(),
        Some(Some(_)) => known(3)?,
    };
    let rank = sizes.len();
    for written in sliced_axes {
        *sizes.get_mut(fold::wrap(written, rank)?)? = None;
    }
    Some(sizes)
}

/// A `ConstantOfShape`'s value (`0.0` unless its `value` says otherwise).
fn fill(node: &Node, dir: Option<&Path>) -> Result<f64, String> {
    let Some(value) = node.attribute.iter().find(|a| a.name == "value") else {
        return Ok(0.0);
    };
    let tensor = value.t.as_ref().ok_or("its `value` holds no tensor")?;
    constant::read(tensor, dir)?
        .scalar()
        .ok_or_else(|| "fills with a value that is not one float".to_owned())
}

/// `Transpose` of a sequence: its batch, time and directions axes move, its features stay last.
fn transpose(node: &Node, flow: Flow) -> Result<Vec<Value>, String> {
    let Some(axes) = &flow.steps else {
        return Err(
            "transposes the input's flow: only a sequence's batch and time axes can move"
                .to_owned(),
        );
    };
    let perm = ints(node, "perm").unwrap_or_else(|| (0..signed(axes.len())).rev().collect());
    let moved: Option<Vec<Axis>> = if perm.len() == axes.len() {
        perm.iter()
            .map(|&p| usize::try_from(p).ok().and_then(|p| axes.get(p).copied()))
            .collect()
    } else {
        None
    };
    match moved {
        Some(moved)
            if moved.last() == Some(&Axis::Features) && {
                let mut sorted = perm.clone();
                sorted.sort_unstable();
                sorted.iter().copied().eq(0..signed(axes.len()))
            } =>
        {
            Ok(vec![Value::Flow(Flow {
                steps: Some(moved),
                ..flow
            })])
        }
        _ => Err(format!(
            "transposes {} with `perm` {perm:?}: the features must stay the last axis",
            axes_text(axes)
        )),
    }
}

/// The values of a constant that holds one value per channel (or one for all), in any of the
/// shapes that broadcast that way against `[batch, channels, spatial...]`: `[C]` for a
/// vector, `[C, 1, 1]` or `[1, C, 1, 1]` for a 2-D map.
fn per_channel(constant: &Const, channels: usize, spatial: usize) -> Option<Vec<f64>> {
    let values = constant.floats()?;
    if values.len() == 1 {
        return Some(vec![values[0]; channels]);
    }
    if values.len() != channels {
        return None;
    }
    let mut dims: &[usize] = &constant.dims;
    while dims.len() > spatial + 1 && dims[0] == 1 {
        dims = &dims[1..];
    }
    let fits =
        dims.len() == spatial + 1 && dims[0] == channels && dims[1..].iter().all(|&d| d == 1);
    fits.then(|| values.to_vec())
}

/// An `f32` attribute as the `f64` of its shortest decimal form (`0.01f32` as `0.01`), so that
/// the `.nn` text reads as the exporter's source did and rounds back to the same `f32`.
fn shortest(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

/// `LeakyRelu` as `leaky_relu`, `MatMul` as `mat_mul`.
fn snake(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 4);
    let mut previous_lower = false;
    for c in word.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Whether a word is one the language rejects as a layer name.
fn is_keyword(word: &str) -> bool {
    const KEYWORDS: [&str; 51] = [
        "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
        "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
        "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
        "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try",
        "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while",
    ];
    KEYWORDS.contains(&word)
}

/// A shape's sizes as `batch, 6, -1`.
fn ints_text(target: &[Int]) -> String {
    let shown: Vec<String> = target
        .iter()
        .map(|t| match t {
            Int::Known(n) => n.to_string(),
            Int::Batch => "batch".to_owned(),
            Int::Steps => "steps".to_owned(),
        })
        .collect();
    shown.join(", ")
}

fn join(values: &[usize]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
