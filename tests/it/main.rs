//! Integration tests of the `nn` facade.

mod nn_file;
