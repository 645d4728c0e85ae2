#!/usr/bin/env bash
# The convolution goals: onnxruntime (Python), then nn, tract and the FMA peak in alternating
# rounds (bench/benches/onnx.rs), then onnxruntime again, so that onnxruntime's best is taken
# from both sides of the Rust run; then bench/onnx/report.py writes bench/convolutions.md (the
# section of BENCHMARKS.md that bench/report.py includes).
# Usage: bench/onnx/compare.sh [python with onnx, onnxruntime, numpy]; the default interpreter is
# made with `python3 -m venv /tmp/onnxenv && /tmp/onnxenv/bin/pip install onnx==1.23.2
# onnxruntime==1.32.0 numpy==2.4.6` (the versions of BENCHMARKS.md's runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-/tmp/onnxenv/bin/python}
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out="$target/bench-report"
mkdir -p "$out"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" > "$out/onnx.log"
"$python" bench/onnx/ort_bench.py | tee -a "$out/onnx.log"
cargo bench -p nn-bench --features baselines --bench onnx | tee -a "$out/onnx.log"
"$python" bench/onnx/ort_bench.py | tee -a "$out/onnx.log"
bench/compile_cost.sh | tee "$out/onnx_compile.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/onnx.log"
python3 bench/onnx/report.py "$out/onnx.log" "$out/onnx_compile.txt" > bench/convolutions.md
echo "wrote bench/convolutions.md"
