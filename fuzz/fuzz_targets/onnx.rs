//! Any bytes as an ONNX model: see `nn_fuzz::onnx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| nn_fuzz::onnx(bytes));
