//! The lowered network: names resolved to Rust identifiers and paths, sizes computed, spans
//! attached. Emitting code from it needs no further decisions.

use nn_grammar::{Activation, Unroll};
use proc_macro2::{Ident, Span, TokenStream};

/// A network ready to be emitted.
pub struct Network {
    /// The struct's identifier, spanned on the name in the declaration.
    pub name: Ident,
    /// Visibility tokens, possibly empty.
    pub visibility: TokenStream,
    /// Outer attributes to put on the struct (docs included).
    pub attributes: TokenStream,
    /// The scalar type, `f32` or `f64`.
    pub scalar: Ident,
    /// Path to the runtime's `__private` module.
    pub runtime: TokenStream,
    /// Number of inputs.
    pub inputs: usize,
    /// Number of outputs.
    pub outputs: usize,
    /// Weights plus biases.
    pub parameters: usize,
    /// Dense layers, input to output.
    pub layers: Vec<Layer>,
    /// How dense layers become code.
    pub unroll: Unroll,
    /// Span of the whole declaration.
    pub span: Span,
}

impl Network {
    /// The layer that reads the input (a network has at least one layer).
    pub fn first_layer(&self) -> &Layer {
        &self.layers[0]
    }

    /// The layer that writes the output.
    pub fn last_layer(&self) -> &Layer {
        &self.layers[self.layers.len() - 1]
    }

    /// Bytes of one value of the scalar type.
    pub fn scalar_bytes(&self) -> usize {
        if self.scalar == "f32" { 4 } else { 8 }
    }
}

/// One dense layer.
pub struct Layer {
    /// Field and local variable name.
    pub field: Ident,
    /// Name as a string (for summaries, errors and weight files).
    pub name: String,
    /// Whether the declaration named the layer with `as`.
    pub named: bool,
    /// Inputs of each neuron.
    pub inputs: usize,
    /// Neurons.
    pub outputs: usize,
    /// Applied to the outputs.
    pub activation: Activation,
    /// Span of the layer in the declaration.
    pub span: Span,
}
