//! Integration tests of the runtime.

mod half;
mod layer_network;
mod layers;
mod numerics;
mod quant;
mod recurrent;
mod recurrent_train;
