#!/usr/bin/env bash
# Runs every benchmark and regenerates BENCHMARKS.md. Takes a few minutes; builds candle and
# tract the first time (about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
# Cargo's target directory, wherever `CARGO_TARGET_DIR` or a config puts it: criterion writes
# its results there, in `criterion/`, and `bench/report.py` reads them from there.
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
# Kept after the run, so that `bench/report.py` can render the same results again.
out="$target/bench-report"
mkdir -p "$out"

{
    lscpu | grep -E '^(Model name|Architecture|CPU\(s\)|Thread|Core|L1d|L2|L3)' | sed 's/  */ /g'
    echo "AVX-512F: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no), AVX2: $(grep -q avx2 /proc/cpuinfo && echo yes || echo no), FMA: $(grep -qw fma /proc/cpuinfo && echo yes || echo no)"
    rustc -V
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"

rm -rf "${CRITERION_HOME:-$target/criterion}"
# candle reads RAYON_NUM_THREADS on every product: one thread, like every other baseline. The
# `nn_rayon` benchmark builds its own pool of two.
RAYON_NUM_THREADS=1 cargo bench -p nn-bench --features baselines,rayon --bench forward \
    | tee "$out/bench.log"
# The ratios to the floors again, floor and nn in alternating rounds.
cargo bench -p nn-bench --bench paired | tee -a "$out/bench.log"
bench/compile_cost.sh | tee "$out/compile.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"

python3 bench/report.py "$out/bench.log" "$out/compile.txt" "$out/machine.txt" > BENCHMARKS.md
# To render again without measuring:
#   python3 bench/report.py "$target"/bench-report/{bench.log,compile.txt,machine.txt} > BENCHMARKS.md
# (`$target` is `target` unless CARGO_TARGET_DIR or a Cargo config says otherwise).
echo "wrote BENCHMARKS.md"
