//! Integration tests of the runtime.

mod layers;
mod numerics;
