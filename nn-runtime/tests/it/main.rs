//! Integration tests of the runtime.

mod layer_network;
mod layers;
mod numerics;
mod recurrent;
mod recurrent_train;
