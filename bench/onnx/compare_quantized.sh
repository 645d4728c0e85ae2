#!/usr/bin/env bash
# The int8 goals: onnxruntime's int8 models (and f32 MNIST) from Python, then MnistInt8 against
# Mnist and the int8 peak in alternating rounds (bench/benches/quantized.rs, which reads the first
# onnxruntime run from the log to print its own ratios), then onnxruntime again, so that
# onnxruntime's best is taken from both sides of the Rust run; then
# bench/onnx/report_quantized.py writes bench/quantized.md (the section of BENCHMARKS.md that
# bench/report.py includes).
# Usage: bench/onnx/compare_quantized.sh [python with onnx, onnxruntime, numpy]; the default
# interpreter is made with `python3 -m venv /tmp/qbenv && /tmp/qbenv/bin/pip install
# onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6` (`NO_AMX=1` also needs libseccomp).
#
# With NO_AMX=1, both sides run without AMX, as on a CPU that has AVX-512 VNNI but no AMX (an
# Intel Xeon from Cascade Lake to Ice Lake, an AMD EPYC from Zen 4 on): nn with NN_NO_AMX set,
# onnxruntime through bench/onnx/no_amx.py (Linux refuses its request for AMX's state); the
# report goes to bench/quantized_no_amx.md instead. With AVX2=1 (on a CPU with AVX2 and no VNNI,
# where both sides run their AVX2 kernels), to bench/quantized_avx2.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-/tmp/qbenv/bin/python}
ort=("$python" bench/onnx/ort_bench.py mnist)
report=bench/quantized.md
flags=()
if [[ "${NO_AMX:-0}" == 1 ]]; then
    export NN_NO_AMX=1
    ort=("$python" bench/onnx/no_amx.py bench/onnx/ort_bench.py mnist)
    report=bench/quantized_no_amx.md
    flags=(--no-amx)
fi
if [[ "${AVX2:-0}" == 1 ]]; then
    if grep -qw 'avx512_vnni\|avx_vnni' /proc/cpuinfo; then
        echo "AVX2=1 is for a CPU without VNNI; this one has it" >&2
        exit 1
    fi
    report=bench/quantized_avx2.md
    flags=(--avx2)
fi
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out="$target/bench-report"
log="$out/quantized.log"
mkdir -p "$out"
# Built before the first onnxruntime run, so that compiling does not sit between the two.
cargo bench -p nn-bench --bench quantized --no-run
{
    echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' (with uncommitted changes)')"
    echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$log"
"${ort[@]}" | tee -a "$log"
cargo bench -p nn-bench --bench quantized -- --ort "$log" | tee -a "$log"
"${ort[@]}" | tee -a "$log"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$log"
python3 bench/onnx/report_quantized.py ${flags[@]+"${flags[@]}"} "$log" > "$report"
echo "wrote $report (log: $log)"
