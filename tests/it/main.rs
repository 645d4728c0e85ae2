//! The integration tests of `nn`: one binary, one module per concern.

// Exact float results are what many of these tests check.
#![allow(clippy::float_cmp)]
// expect-test blesses snapshots as `r#"..."#` whether or not they hold a quote.
#![allow(clippy::needless_raw_string_hashes)]

mod allocations;
mod api;
mod baked;
mod big;
mod cases;
mod declarations;
mod digits;
mod embedded;
mod evaluator;
mod expand;
mod fixtures;
mod generated;
mod generated_networks;
mod half;
mod half_files;
mod half_sequence;
mod hygiene;
mod io_fuzz;
mod io_ndarray;
mod io_safetensors;
mod io_serde;
mod kinds;
mod lenet;
mod limits;
mod nested;
mod nn_file;
mod no_bias;
mod norm;
mod numerics;
mod onnx;
mod partial;
mod pinned;
mod quant;
mod quant_networks;
mod readme;
mod recurrent;
mod recurrent_train;
mod sklearn;
mod train;
mod twins;
mod ui;
