//! The integration tests of `nn`: one binary, one module per concern.

mod cases;
mod evaluator;
mod generated;
mod generated_networks;
mod limits;
