//! Integration tests of the `nn` package: one binary, one module per subject.

mod train;
