"""onnxruntime on the models of make_models.py and make_quantized.py, one thread, for BENCHMARKS.md.

For each model and batch size: rounds of about 20 ms of `session.run` on the model, alternating
with rounds of a probe graph that takes the same input and returns an output of the model's
shape, its first values (Flatten, then Slice): the cost of calling onnxruntime from Python
(converting the input, allocating and returning the output) with next to no work; forty of each.
Prints one line per measurement, times in seconds per call:

    ort <model> <batch> model <best> identity <best probe> net <best model - best probe> median_net <median of per-round differences>

`net` is what bench/benches/onnx.rs compares with `nn`: onnxruntime's own time, its Python call
overhead subtracted (an estimate that slightly flatters onnxruntime: the probe also slices).
The probe's output is as large as the model's: an Identity graph, used before 2026-12-05,
allocated and copied a whole input (784 KiB for MNIST at batch 256), whose cost on a busy
machine (page faults) reached half of the int8 model's and was subtracted from it.

The int8 models of make_quantized.py are also checked against `mnist.onnx` (or `lenet.onnx`) on their batch-256
input (uniform in [0, 1), not the calibration inputs) before timing:

    ort_accuracy <model> max_difference <largest absolute difference> same_class <n>/<batch>

Without arguments, the f32 models (bench/onnx/compare.sh); arguments select the models whose
name contains one of them, int8 ones included:

    /tmp/onnxenv/bin/python bench/onnx/ort_bench.py
    /tmp/qbenv/bin/python bench/onnx/ort_bench.py mnist   # bench/onnx/compare_quantized.sh
    /tmp/qbenv/bin/python bench/onnx/ort_bench.py lenet_int8   # LeNet's, against bench/benches/quant_conv.rs
"""

import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

HERE = Path(__file__).parent
ROUNDS = 40
ROUND = 0.02

MODELS = {
    "lenet": ([1, 28, 28], [1, 64]),
    "conv1d": ([8, 128], [1, 64]),
    "mnist": ([784], [1, 256]),
    "mnist_int8_dynamic": ([784], [1, 256]),
    "mnist_int8_static": ([784], [1, 256]),
    "lenet_int8_dynamic": ([1, 28, 28], [1, 256]),
    "lenet_int8_static": ([1, 28, 28], [1, 256]),
}


def options():
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return o


def session(data):
    return ort.InferenceSession(data, options(), providers=["CPUExecutionProvider"])


def probe(shape, outputs):
    """A graph from the model's input (`[N, *shape]`) to `[N, outputs]`: each sample's first
    `outputs` values, flattened."""
    assert outputs <= int(np.prod(shape)), "the probe slices the input"
    constant = lambda name, value: helper.make_node(  # noqa: E731
        "Constant", [], [name],
        value=helper.make_tensor(name, TensorProto.INT64, [1], [value]))
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["x"], ["flat"], axis=1),
            constant("starts", 0),
            constant("ends", outputs),
            constant("axes", 1),
            helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["y"]),
        ],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", outputs])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return session(model.SerializeToString())


def calls_per_round(f):
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            f()
        elapsed = time.perf_counter() - start
        if elapsed >= ROUND / 4:
            return max(1, int(ROUND * calls / elapsed))
        calls *= 2


def per_call(f, calls):
    start = time.perf_counter()
    for _ in range(calls):
        f()
    return (time.perf_counter() - start) / calls


def main():
    print(f"# onnxruntime {ort.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    rng = np.random.default_rng(1)
    only = sys.argv[1:]
    for name, (shape, batches) in MODELS.items():
        selected = any(o in name for o in only) if only else "int8" not in name
        if not selected:
            continue
        model = session((HERE / f"{name}.onnx").read_bytes())
        if "int8" in name:
            x = rng.uniform(0, 1, size=(256, *shape)).astype(np.float32)
            y = model.run(None, {"x": x})[0]
            reference = "lenet.onnx" if name.startswith("lenet") else "mnist.onnx"
            f32 = session((HERE / reference).read_bytes()).run(None, {"x": x})[0]
            same = int((y.argmax(1) == f32.argmax(1)).sum())
            print(f"ort_accuracy {name} max_difference {np.abs(y - f32).max():.3e} "
                  f"same_class {same}/{len(y)}", flush=True)
        outputs = model.run(None, {"x": np.zeros((1, *shape), np.float32)})[0]
        ident = probe(shape, int(np.prod(outputs.shape[1:])))
        for batch in batches:
            x = rng.uniform(0, 1, size=(batch, *shape)).astype(np.float32)
            feed = {"x": x}
            run_model = lambda: model.run(None, feed)  # noqa: E731
            run_ident = lambda: ident.run(None, feed)  # noqa: E731
            m_calls, i_calls = calls_per_round(run_model), calls_per_round(run_ident)
            m_times, i_times = [], []
            for _ in range(ROUNDS):
                m_times.append(per_call(run_model, m_calls))
                i_times.append(per_call(run_ident, i_calls))
            diffs = sorted(m - i for m, i in zip(m_times, i_times))
            median = (diffs[ROUNDS // 2 - 1] + diffs[ROUNDS // 2]) / 2
            best_m, best_i = min(m_times), min(i_times)
            print(f"ort {name} {batch} model {best_m:.6e} identity {best_i:.6e} "
                  f"net {best_m - best_i:.6e} median_net {median:.6e}", flush=True)


if __name__ == "__main__":
    main()
