"""The ONNX models of the convolution benchmarks (bench/benches/onnx.rs, bench/onnx/ort_bench.py).

Writes, beside this script:

- `lenet.onnx`: LeNet-5 (examples/lenet.rs) with the weights of tests/fixtures/lenet.safetensors,
  the graph of tests/fixtures/make_lenet.py (Conv, Relu, MaxPool, Flatten, Gemm, Softmax);
- `conv1d.onnx` and `conv1d.safetensors`: `[8, 128] -> conv1d(16, 5, padding = 2) relu as c1
  -> conv1d(16, 5, padding = 2) relu as c2 -> global_avgpool -> 4 softmax as out`, random weights
  (GlobalAveragePool then Flatten in ONNX);
- `mnist.onnx` and `mnist.safetensors`: `784 -> 128 relu as hidden -> 10 softmax as output`, random
  weights.

Every graph takes a batch of any size (the first axis is symbolic). The safetensors files use the
layer names of the networks in bench/src/lib.rs, so `nn` and the other runtimes compute with the
same weights.

    /tmp/onnxenv/bin/python bench/onnx/make_models.py

Made with onnx 1.23.2 and numpy 2.4.6; the seed is fixed, so a rerun writes the same files.
"""

import json
import struct
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def load_safetensors(path):
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    data = raw[8 + size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        assert info["dtype"] == "F32"
        tensors[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(info["shape"])
    return tensors


def save_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    data = b""
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name], dtype=np.float32)
        raw = array.tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def uniform(rng, shape, fan_in):
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def save_model(name, nodes, weights, input_shape, outputs):
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *input_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", outputs])],
        [numpy_helper.from_array(np.asarray(value), key) for key, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (HERE / f"{name}.onnx").write_bytes(model.SerializeToString())


def lenet():
    w = load_safetensors(ROOT / "tests/fixtures/lenet.safetensors")
    nodes = [
        helper.make_node("Conv", ["x", "0.weight", "0.bias"], ["c1"], kernel_shape=[5, 5],
                         pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "3.weight", "3.bias"], ["c2"], kernel_shape=[5, 5]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "7.weight", "7.bias"], ["d1"], transB=1),
        helper.make_node("Relu", ["d1"], ["r3"]),
        helper.make_node("Gemm", ["r3", "9.weight", "9.bias"], ["d2"], transB=1),
        helper.make_node("Relu", ["d2"], ["r4"]),
        helper.make_node("Gemm", ["r4", "11.weight", "11.bias"], ["d3"], transB=1),
        helper.make_node("Softmax", ["d3"], ["y"], axis=1),
    ]
    save_model("lenet", nodes, w, [1, 28, 28], 10)


def conv1d(rng):
    w = {
        "c1.weight": uniform(rng, (16, 8, 5), 40),
        "c1.bias": uniform(rng, (16,), 40),
        "c2.weight": uniform(rng, (16, 16, 5), 80),
        "c2.bias": uniform(rng, (16,), 80),
        "out.weight": uniform(rng, (4, 16), 16),
        "out.bias": uniform(rng, (4,), 16),
    }
    save_safetensors(HERE / "conv1d.safetensors", w)
    nodes = [
        helper.make_node("Conv", ["x", "c1.weight", "c1.bias"], ["a"], kernel_shape=[5],
                         pads=[2, 2]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Conv", ["b", "c2.weight", "c2.bias"], ["c"], kernel_shape=[5],
                         pads=[2, 2]),
        helper.make_node("Relu", ["c"], ["d"]),
        helper.make_node("GlobalAveragePool", ["d"], ["e"]),
        helper.make_node("Flatten", ["e"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "out.weight", "out.bias"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"], axis=1),
    ]
    save_model("conv1d", nodes, w, [8, 128], 4)


def mnist(rng):
    w = {
        "hidden.weight": uniform(rng, (128, 784), 784),
        "hidden.bias": uniform(rng, (128,), 784),
        "output.weight": uniform(rng, (10, 128), 128),
        "output.bias": uniform(rng, (10,), 128),
    }
    save_safetensors(HERE / "mnist.safetensors", w)
    nodes = [
        helper.make_node("Gemm", ["x", "hidden.weight", "hidden.bias"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "output.weight", "output.bias"], ["o"], transB=1),
        helper.make_node("Softmax", ["o"], ["y"], axis=1),
    ]
    save_model("mnist", nodes, w, [784], 10)


def main():
    rng = np.random.default_rng(13)
    lenet()
    conv1d(rng)
    mnist(rng)


if __name__ == "__main__":
    main()
