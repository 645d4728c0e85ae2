//! Any bytes as the JSON layout of `nn::io::serde`, for a few networks: see `nn_fuzz::json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| nn_fuzz::json(bytes));
