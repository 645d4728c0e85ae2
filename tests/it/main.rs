//! The integration tests of `nn`: one binary, one module per concern.

// Exact float results are what many of these tests check.
#![allow(clippy::float_cmp)]
// expect-test blesses snapshots as `r#"..."#` whether or not they hold a quote.
#![allow(clippy::needless_raw_string_hashes)]

mod allocations;
mod api;
mod baked;
mod big;
mod digits;
mod expand;
mod fixtures;
mod hygiene;
mod io_ndarray;
mod io_safetensors;
mod io_serde;
mod nn_file;
mod numerics;
mod ui;
