//! Integration tests of the runtime.

mod numerics;
