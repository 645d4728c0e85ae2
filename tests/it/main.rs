//! The integration tests of `nn`: one binary, one module per concern.

mod expand;
mod hygiene;
mod ui;
