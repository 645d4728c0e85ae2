#!/usr/bin/env bash
# Per-sample inference cost of RTNeural's compile-time API (RTNeural::ModelT), per backend.
#
# Usage:  bench/rtneural/run.sh                      # clones RTNeural at the pinned commit
#         RTNEURAL_DIR=/path/to/RTNeural bench/rtneural/run.sh
#
# Output (stdout), one line per model and backend, space-separated:
#     <model> <backend> <ns_per_sample>
# models:   lstm32 gru32 lstm64 mlp      (see README.md)
# backends: rtneural-xsimd rtneural-eigen rtneural-stl, and nn's: nn-step nn-block512
#           nn-streams64 (recurrent models), nn (mlp); then "# <model>: ... RTNeural / nn" ratios
# Lines starting with '#' are comments (configuration, output checks, softmax sums).
# Progress and compiler messages go to stderr.
#
# Environment:
#   RTNEURAL_DIR   an RTNeural checkout with modules/xsimd populated (default: clone below)
#   BUILD_DIR      where binaries (and the default clone) go (default: ${TMPDIR:-/tmp}/nn-bench-rtneural)
#   BACKENDS       subset of "xsimd eigen stl" (default: all three)
#   RUNS           process runs per backend; the minimum per model is printed (default 3)
#   BENCH_SAMPLES  samples per repetition (default 200000), BENCH_REPS repetitions per run (default 7)
#   CXX            compiler (default g++); EXTRA_CXXFLAGS appended to the flags
#   RTNEURAL_ALIGNMENT  RTNEURAL_DEFAULT_ALIGNMENT (default 32, what RTNeural's CMake option
#                  RTNEURAL_USE_AVX sets; 16 is its non-AVX default)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RTNEURAL_URL="${RTNEURAL_URL:-https://github.com/jatinchowdhury18/RTNeural}"
# RTNeural main, 2025-11-08 ("Trying to fix coverage CI workflow (#164)"). Its modules/xsimd
# submodule pins xsimd a00c81f7b9e808a42aedcf7da2fbb1f9a636da34 (10.0.0-49); modules/Eigen
# (Eigen 3.4.90) is vendored in the repository itself.
RTNEURAL_COMMIT="1fb1f075a5d66e85bfc8f488c3f3626840cb3a1d"

BUILD_DIR="${BUILD_DIR:-${TMPDIR:-/tmp}/nn-bench-rtneural}"
BACKENDS="${BACKENDS:-xsimd eigen stl}"
RUNS="${RUNS:-3}"
CXX="${CXX:-g++}"
ALIGN="${RTNEURAL_ALIGNMENT:-32}"
mkdir -p "$BUILD_DIR"

if [[ -z "${RTNEURAL_DIR:-}" ]]; then
    RTNEURAL_DIR="$BUILD_DIR/RTNeural"
    if [[ ! -d "$RTNEURAL_DIR/.git" ]]; then
        echo "cloning $RTNEURAL_URL into $RTNEURAL_DIR" >&2
        git clone --quiet "$RTNEURAL_URL" "$RTNEURAL_DIR" >&2
    fi
    git -C "$RTNEURAL_DIR" checkout --quiet "$RTNEURAL_COMMIT" >&2
    git -C "$RTNEURAL_DIR" submodule update --init --quiet modules/xsimd >&2
fi
[[ -f "$RTNEURAL_DIR/RTNeural/RTNeural.h" ]] || { echo "no RTNeural/RTNeural.h under RTNEURAL_DIR=$RTNEURAL_DIR" >&2; exit 1; }
if [[ -d "$RTNEURAL_DIR/.git" || -f "$RTNEURAL_DIR/.git" ]]; then
    echo "# RTNeural $(git -C "$RTNEURAL_DIR" rev-parse HEAD 2>/dev/null || echo unknown) from $RTNEURAL_DIR"
else
    echo "# RTNeural from $RTNEURAL_DIR (not a git checkout)"
fi

# xsimd: RTNeural's submodule (Debian's libxsimd-dev 8.1 is too old: no xsimd::reduce_add).
XSIMD_INC="${XSIMD_INCLUDE:-$RTNEURAL_DIR/modules/xsimd/include}"
# Eigen: RTNeural's vendored copy, else the system's (libeigen3-dev).
EIGEN_INC="${EIGEN_INCLUDE:-$RTNEURAL_DIR/modules/Eigen}"
[[ -f "$EIGEN_INC/Eigen/Dense" ]] || EIGEN_INC=/usr/include/eigen3

FLAGS=(-O3 -march=native -std=c++17 "-DRTNEURAL_DEFAULT_ALIGNMENT=$ALIGN" -I"$RTNEURAL_DIR")
echo "# $CXX $("$CXX" -dumpfullversion 2>/dev/null || true): ${FLAGS[*]} ${EXTRA_CXXFLAGS:-}"
echo "# CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"

# Build every binary first (RTNeural per backend, nn's bench), then run them in alternation,
# RUNS rounds, so that both see the same state of a shared machine; the minimum per line.
bins=()
for b in $BACKENDS; do
    case "$b" in
        xsimd)
            if [[ ! -f "$XSIMD_INC/xsimd/xsimd.hpp" ]]; then
                echo "# rtneural-xsimd skipped: no xsimd headers in $XSIMD_INC (git submodule update --init modules/xsimd)"
                continue
            fi
            DEFS=(-DRTNEURAL_USE_XSIMD=1 -I"$XSIMD_INC") ;;
        eigen) DEFS=(-DRTNEURAL_USE_EIGEN=1 -I"$EIGEN_INC") ;;
        stl) DEFS=() ;;
        *) echo "unknown backend $b" >&2; exit 1 ;;
    esac
    bin="$BUILD_DIR/bench_rtneural_$b"
    echo "building rtneural-$b" >&2
    # shellcheck disable=SC2086
    "$CXX" "${FLAGS[@]}" "${DEFS[@]}" ${EXTRA_CXXFLAGS:-} -o "$bin" "$HERE/bench_rtneural.cpp"
    bins+=("$bin")
done
# nn's side: bench/benches/rtneural.rs, the same models timed the same way (backends nn-step,
# nn-block512, nn-streams64; `mlp nn`).
echo "building nn's bench" >&2
(cd "$HERE/../.." && cargo bench -q -p nn-bench --bench rtneural --no-run >&2)
out="$BUILD_DIR/out.txt"
: >"$out"
for ((r = 1; r <= RUNS; r++)); do
    for bin in "${bins[@]}"; do
        echo "running $(basename "$bin") ($r/$RUNS)" >&2
        "$bin" >>"$out"
    done
    echo "running nn ($r/$RUNS)" >&2
    (cd "$HERE/../.." && cargo bench -q -p nn-bench --bench rtneural) >>"$out"
done
# Comments of the first round, then the minimum over rounds per model and backend, then each
# model's ratios: RTNeural's best backend (for mlp the best with a correct softmax: xsimd's
# sums its padding lanes, README.md) over each of nn's ways.
awk '/^#/ { if (!seen[$0]++ && n < 200) print; next }
     NF == 3 { k = $1 " " $2; if (!(k in best)) order[++n] = k; if (!(k in best) || $3 + 0 < best[k]) best[k] = $3 + 0 }
     END {
         for (i = 1; i <= n; i++) printf "%s %.1f\n", order[i], best[order[i]]
         for (i = 1; i <= n; i++) {
             split(order[i], p, " "); model = p[1]; backend = p[2]
             if (backend ~ /^rtneural-/ && !(model == "mlp" && backend == "rtneural-xsimd")) {
                 if (!(model in rt) || best[order[i]] < rt[model]) { rt[model] = best[order[i]]; rtb[model] = backend }
             }
         }
         for (i = 1; i <= n; i++) {
             split(order[i], p, " "); model = p[1]; backend = p[2]
             if (backend ~ /^nn/ && (model in rt))
                 printf "# %s: %s %.1f ns against %s %.1f ns: RTNeural / nn = %.2f (above 1: nn faster)\n", model, backend, best[order[i]], rtb[model], rt[model], rt[model] / best[order[i]]
         }
     }' "$out"
