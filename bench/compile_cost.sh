#!/usr/bin/env bash
# Compile cost of a network: the time and peak memory of rustc compiling, in release mode, a
# one-file crate that declares it (dependencies already built), against the same crate with a
# 2 -> 1 network. Prints one line per crate:
#   name seconds peak_kib
# Usage: bench/compile_cost.sh > compile.txt
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"

crate() {
    local name=$1 decl=$2
    # The input: a vector, or (a third argument) the nested array of a higher rank.
    local input=${3:-"[0.5_f32; Net::INPUTS]"}
    mkdir -p "$work/$name/src"
    cat > "$work/$name/Cargo.toml" <<TOML
[package]
name = "net_under_test"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
nn = { path = "$root" }

[workspace]
TOML
    cat > "$work/$name/src/main.rs" <<RUST
nn::network! {
    /// The network whose compile cost is measured.
    pub struct Net = $decl;
}

fn main() {
    let net = Net::zeroed();
    let input = $input;
    println!("{}", std::hint::black_box(net.forward(&input))[0]);
}
RUST
}

crate tiny "2 -> 1"
crate mnist "784 -> 128 relu -> 10 softmax"
crate wide "1024 -> 1024 relu -> 1024 relu -> 10"
crate lenet "[1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2) -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 softmax" \
    "[[[0.5_f32; 28]; 28]; 1]"

# rustc itself, timed for the measured crate only (cargo's own memory is not the network's).
cat > "$work/rustc-timed" <<'SH'
#!/usr/bin/env bash
rustc=$1
shift
if [[ -n "${NN_TIME_OUT:-}" && " $* " == *" --crate-name net_under_test "* ]]; then
    exec /usr/bin/time -f "%e %M" -o "$NN_TIME_OUT" "$rustc" "$@"
fi
exec "$rustc" "$@"
SH
chmod +x "$work/rustc-timed"
export RUSTC_WRAPPER="$work/rustc-timed"

# Build the dependencies once, so that each measurement below compiles only the crate itself.
(cd "$work/tiny" && cargo build --release -q)
for name in tiny mnist wide lenet; do
    cd "$work/$name"
    cargo build --release -q
    touch src/main.rs
    NN_TIME_OUT="$work/$name.time" cargo build --release -q
    echo "$name $(cat "$work/$name.time")"
done
