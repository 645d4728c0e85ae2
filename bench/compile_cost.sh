#!/usr/bin/env bash
# Compile cost of a network: the release build time and peak memory of a one-file crate that
# declares it, against the same crate with a 2 -> 1 network. Prints one line per crate:
#   name seconds peak_kib
# Usage: bench/compile_cost.sh > compile.txt
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"

crate() {
    local name=$1 decl=$2
    mkdir -p "$work/$name/src"
    cat > "$work/$name/Cargo.toml" <<TOML
[package]
name = "$name"
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
    let input = [0.5_f32; Net::INPUTS];
    println!("{}", std::hint::black_box(net.forward(&input))[0]);
}
RUST
}

crate tiny "2 -> 1"
crate mnist "784 -> 128 relu -> 10 softmax"
crate wide "1024 -> 1024 relu -> 1024 relu -> 10"

# Build the dependencies once, so that each measurement below compiles only the crate itself.
(cd "$work/tiny" && cargo build --release -q)
for name in tiny mnist wide; do
    cd "$work/$name"
    cargo build --release -q # fetches nothing new; warms the lock file
    touch src/main.rs
    /usr/bin/time -f "$name %e %M" -o "$work/time.txt" cargo build --release -q
    cat "$work/time.txt"
done
