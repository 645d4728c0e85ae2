//! Integration tests of the runtime.

mod layer_network;
mod layers;
mod numerics;
mod quant_conv;
mod recurrent;
mod recurrent_train;
