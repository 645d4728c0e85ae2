//! Any bytes as a safetensors file, for a few networks: see `nn_fuzz::safetensors`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| nn_fuzz::safetensors(bytes));
