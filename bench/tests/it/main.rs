//! Generated `forward_batch` against `forward` and an `f64` reference, on the benchmark's
//! networks and on shapes that exercise partial chunks and tiles. Runs in `cargo test
//! --workspace` without the heavy baselines.

mod batch;
mod floors;
mod sizes;
