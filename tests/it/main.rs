//! The integration tests of `nn`: one binary, one module per concern.

mod baked;
mod digits;
mod fixtures;
mod io_ndarray;
mod io_safetensors;
mod io_serde;
