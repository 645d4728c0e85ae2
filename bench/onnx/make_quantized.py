"""onnxruntime's int8 versions of the MNIST and LeNet benchmark networks, the peers of `MnistInt8`
(bench/benches/quantized.rs, bench/onnx/compare_quantized.sh) and `LeNetInt8`
(bench/benches/quant_conv.rs).

Writes, beside this script, from the weights of `mnist.safetensors` (make_models.py):

- `mnist_int8_dynamic.onnx`: `onnxruntime.quantization.quantize_dynamic`, `QInt8` weights
  (activations quantised at run time, per call, to `u8`: DynamicQuantizeLinear and
  MatMulInteger, or the fused op onnxruntime makes of them);
- `mnist_int8_static.onnx`: `quantize_static` in the QOperator format (QuantizeLinear,
  QLinearMatMul, QLinearAdd for the bias, QLinearSoftmax, DequantizeLinear), `u8` activations and
  `i8` weights with one scale per neuron (`per_channel`), calibrated with min/max on the 256
  inputs `nn_bench::inputs::<784>(256)` (the same values `MnistInt8` is calibrated on,
  recomputed here with the same SplitMix64): the scheme of `nn::quant`, except that the product
  is requantised once more before the bias is added (QLinearAdd).

- `lenet_int8_dynamic.onnx` and `lenet_int8_static.onnx`: the same two of `lenet.onnx`
  (make_models.py; Conv, Relu, MaxPool, Flatten, Gemm, Softmax), the static one calibrated with
  min/max on 64 images from `inputs(64, 784, seed=7)`, the generator and seed of the images
  `LeNetInt8` is calibrated on in bench/benches/quant_conv.rs: its convolutions become
  QLinearConv, its pools MaxPool on `u8`, its Gemm layers onnxruntime's QGemm; `quantize_dynamic`
  quantises the convolutions (ConvInteger) and leaves Gemm in f32.

onnxruntime's quantiser only quantises MatMul (Gemm is left in f32 by `quantize_dynamic`), so the
f32 graph quantised here is `mnist.onnx` written with MatMul and Add instead of Gemm: the same
weights and the same function.

    /tmp/qbenv/bin/python bench/onnx/make_quantized.py

Made with onnxruntime 1.32.0, onnx 1.23.2 and numpy 2.4.6; calibration is deterministic.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from make_models import load_safetensors  # noqa: E402

MASK = (1 << 64) - 1


def inputs(rows, width, seed=99):
    """`nn_bench::inputs::<width>(rows)`: SplitMix64 from `seed`, `(u >> 11) * 2^-53` as f32."""
    state = seed
    values = np.empty(rows * width, dtype=np.float64)
    for i in range(rows * width):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        values[i] = (z >> 11) * (1.0 / (1 << 53))
    return values.astype(np.float32).reshape(rows, width)


def float_matmul_model():
    """`mnist.onnx` with MatMul + Add for each Gemm (weights transposed to [in, out])."""
    w = load_safetensors(HERE / "mnist.safetensors")
    weights = {
        "hidden.weight_t": np.ascontiguousarray(w["hidden.weight"].T),
        "hidden.bias": w["hidden.bias"],
        "output.weight_t": np.ascontiguousarray(w["output.weight"].T),
        "output.bias": w["output.bias"],
    }
    nodes = [
        helper.make_node("MatMul", ["x", "hidden.weight_t"], ["hm"]),
        helper.make_node("Add", ["hm", "hidden.bias"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "output.weight_t"], ["om"]),
        helper.make_node("Add", ["om", "output.bias"], ["o"]),
        helper.make_node("Softmax", ["o"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mnist",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


class Reader(CalibrationDataReader):
    def __init__(self, samples):
        self.rows = iter(samples[i:i + 1] for i in range(len(samples)))

    def get_next(self):
        row = next(self.rows, None)
        return None if row is None else {"x": row}


def quantize_both(f32, name, calibration):
    """`<name>_int8_dynamic.onnx` and `<name>_int8_static.onnx` (calibrated on `calibration`)
    of the f32 model at `f32`, beside this script."""
    quantize_dynamic(f32, HERE / f"{name}_int8_dynamic.onnx", weight_type=QuantType.QInt8)
    quantize_static(
        f32,
        HERE / f"{name}_int8_static.onnx",
        Reader(calibration),
        quant_format=QuantFormat.QOperator,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=CalibrationMethod.MinMax,
    )


def run(path, x):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def main():
    samples = inputs(256, 784)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = Path(tmp) / "mnist_matmul.onnx"
        f32.write_bytes(float_matmul_model().SerializeToString())
        quantize_both(f32, "mnist", samples)
        reference = run(HERE / "mnist.onnx", samples)
        assert np.abs(run(f32, samples) - reference).max() < 1e-5
    images = inputs(64, 784, seed=7).reshape(64, 1, 28, 28)
    quantize_both(HERE / "lenet.onnx", "lenet", images)
    lenet_reference = run(HERE / "lenet.onnx", images)
    for name in ("mnist_int8_dynamic", "mnist_int8_static", "lenet_int8_dynamic",
                 "lenet_int8_static"):
        path = HERE / f"{name}.onnx"
        lenet = name.startswith("lenet")
        reference_of = lenet_reference if lenet else reference
        y = run(path, images if lenet else samples)
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        agree = int((y.argmax(1) == reference_of.argmax(1)).sum())
        print(f"{name}: ops {' '.join(ops)}; on the calibration inputs, largest difference from f32 "
              f"{np.abs(y - reference_of).max():.3e}, same class on {agree}/{len(y)}")


if __name__ == "__main__":
    main()
