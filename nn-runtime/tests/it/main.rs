//! Integration tests of the runtime.

mod half;
mod layer_network;
mod layers;
mod numerics;
mod quant;
mod quant_conv;
mod recurrent;
mod recurrent_train;
