//! Weights in and out: the thin methods that call the runtime's `io` module, each wrapped in
//! the runtime's `__with_<feature>!` so that the runtime's features decide, and the `BAKED`
//! constant of the `weights = "file"` option.

use crate::ir::Network;
use crate::layer::kind;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{quote, quote_spanned};

/// Weights read from a file while compiling, to emit as constants.
#[derive(Clone, Debug, PartialEq)]
pub struct BakedWeights {
    /// The file as the declaration names it, for the documentation.
    pub written: String,
    /// The file's absolute path: emitted in an `include_bytes!`, so that editing the file
    /// rebuilds the crate.
    pub path: String,
    /// Per layer, input to output: its tensors in the order of its `Tensors::TENSORS` (a dense
    /// layer's weights then biases), each in PyTorch's order and shape, flattened (weights
    /// `[outputs][inputs]`, row-major, as `nn_runtime::io::safetensors::load_layers` returns
    /// them), already rounded to the network's scalar type.
    pub layers: Vec<Vec<Vec<f64>>>,
    /// For a quantised file (one that an int8 twin's `to_safetensors` wrote), its dense
    /// layers' parts, input to output, to bake into the twin's `BAKED`; `layers` is then empty
    /// and the `f32` network gets no `BAKED`.
    pub quantized: Option<Vec<QuantizedLayer>>,
}

/// One int8 dense layer as a quantised file holds it (`nn_runtime::quant::file::Parts`).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedLayer {
    /// The weights, `[outputs][inputs]` row-major.
    pub weights: Vec<i8>,
    /// One scale per neuron.
    pub weight_scales: Vec<f32>,
    /// The biases, in the sums' units.
    pub bias: Vec<i32>,
    /// The input's scale and zero point.
    pub input: (f32, u8),
    /// The output's scale and zero point.
    pub output: (f32, u8),
}

/// `from_safetensors`, `to_safetensors`, the file variants, serde impls and `forward_ndarray`.
pub(crate) fn methods(net: &Network) -> TokenStream {
    let Network { name, runtime, .. } = net;
    let name_text = name.to_string();
    let from_doc = format!(
        " Loads a `{name_text}` from the bytes of a safetensors file, directly on the heap."
    );
    let file_doc = format!(" Loads a `{name_text}` from a safetensors file, directly on the heap.");
    let ndarray = ndarray(net, name);
    quote! {
        #runtime::__with_safetensors! {
            #[allow(dead_code)]
            impl #name {
                #[doc = #from_doc]
                ///
                /// Accepts what `safetensors.torch.save_file(model.state_dict(), path)` writes
                /// for the same model in PyTorch: an `nn.Sequential`'s modules matched to the
                /// layers with tensors in ascending `k` (`<k>.weight` and `<k>.bias`; a
                /// normalisation's running statistics too, a recurrent layer's
                /// `weight_ih_l<level>`, `weight_hh_l<level>`, `bias_ih_l<level>` and
                /// `bias_hh_l<level>`), or the same names under `<name>.` for layers named with
                /// `as name`, each in PyTorch's shape (`Linear.weight` is `[outputs, inputs]`).
                /// F32, F64, F16 and BF16 are converted; NaN and infinite values are rejected
                /// (see `io::safetensors::LoadOptions` to accept them).
                ///
                /// # Errors
                ///
                /// Every problem with the file, naming the layer and tensor, what was expected
                /// and what was found.
                pub fn from_safetensors(
                    bytes: &[u8],
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    #runtime::io::safetensors::load(
                        bytes,
                        #runtime::io::safetensors::LoadOptions::new(),
                    )
                }

                /// The network's tensors as a safetensors file, in the layout
                /// `from_safetensors` reads and PyTorch's `load_state_dict` accepts: named
                /// layers' under `<name>.` (`<name>.weight`, `<name>.bias`, ...), the others'
                /// under `<k>.` with `k` their index in the equivalent `nn.Sequential`.
                pub fn to_safetensors(&self) -> #runtime::Vec<u8> {
                    #runtime::io::safetensors::save(self)
                }
            }

            #runtime::__with_std! {
                #[allow(dead_code)]
                impl #name {
                    #[doc = #file_doc]
                    ///
                    /// # Errors
                    ///
                    /// `Error::Io` when the file cannot be read, else as `from_safetensors`.
                    pub fn from_safetensors_file(
                        path: impl ::core::convert::AsRef<#runtime::io::Path>,
                    ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                        #runtime::io::safetensors::load_file(
                            path,
                            #runtime::io::safetensors::LoadOptions::new(),
                        )
                    }

                    /// Writes `to_safetensors` to a file.
                    ///
                    /// # Errors
                    ///
                    /// `Error::Io` when the file cannot be written.
                    pub fn save_safetensors(
                        &self,
                        path: impl ::core::convert::AsRef<#runtime::io::Path>,
                    ) -> ::core::result::Result<(), #runtime::Error> {
                        #runtime::io::safetensors::save_file(self, path)
                    }
                }
            }
        }

        #runtime::__with_serde! {
            /// `{"layers": [{"name", "weights": [[...]], "bias": [...]}]}`, weights
            /// `[outputs][inputs]` as PyTorch's `Linear.weight`.
            impl #runtime::serde::Serialize for #name {
                fn serialize<S: #runtime::serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    #runtime::io::serde::serialize(self, serializer)
                }
            }

            /// The layout `Serialize` writes, checked layer by layer (names, shapes, finite
            /// values) and read directly into a heap-allocated network: deserialise a
            /// `Box<Network>`, never a network by value.
            impl<'de> #runtime::serde::Deserialize<'de> for #runtime::Box<#name> {
                fn deserialize<D: #runtime::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    #runtime::io::serde::deserialize(deserializer)
                }
            }
        }

        #ndarray
    }
}

/// `forward_ndarray` of `name` (the network or a half twin, which share its shapes), for
/// networks whose input and output are vectors (a matrix holds one a row); nothing for other
/// shapes, nor for sequence networks (whose rows would be time steps of a stream with a state).
pub(crate) fn ndarray(net: &Network, name: &Ident) -> TokenStream {
    let Network {
        scalar, runtime, ..
    } = net;
    if net.input.rank() > 1 || net.output.rank() > 1 || net.sequence.is_some() {
        return TokenStream::new();
    }
    let (inputs, outputs) = (net.input.elements(), net.output.elements());
    let first = &net.first_layer().name;
    let last = &net.last_layer().name;
    quote! {
        #runtime::__with_ndarray! {
            #[allow(dead_code)]
            impl #name {
                /// Runs the network on every row of `input` (one sample a row) and returns one
                /// row of outputs per sample, through `forward_batch`.
                ///
                /// # Errors
                ///
                /// `Error::Columns` when `input` does not have one column per input,
                /// `Error::OutputTooLarge` when the outputs of its rows do not fit in memory.
                // Views are passed by value, as everywhere in ndarray.
                #[allow(clippy::needless_pass_by_value)]
                pub fn forward_ndarray(
                    &self,
                    input: #runtime::ndarray::ArrayView2<'_, #scalar>,
                ) -> ::core::result::Result<#runtime::ndarray::Array2<#scalar>, #runtime::Error> {
                    #runtime::io::ndarray::forward::<#scalar, #inputs, #outputs>(
                        input,
                        #first,
                        #last,
                        |inputs, outputs| self.forward_batch(inputs, outputs),
                    )
                }
            }
        }
    }
}

/// `pub const BAKED: Self`, every layer built by a const expression its kind writes (for a dense
/// layer, `Dense::from_columns`), and an `include_bytes!` of the file so that editing it
/// rebuilds the crate.
///
/// Without weights (the file could not be used, and the caller reports why), `BAKED` is all
/// zeros and nothing is included, so that uses of `BAKED` add no errors of their own.
pub(crate) fn baked(net: &Network, weights: Option<&BakedWeights>) -> TokenStream {
    if weights.is_some_and(|w| w.quantized.is_some()) {
        // A quantised file bakes the int8 twin (`emit_quant::baked`), not this network.
        return TokenStream::new();
    }
    let name = &net.name;
    let fields = net.layers.iter().enumerate().filter_map(|(index, layer)| {
        kind(layer).field_type(net)?;
        let field = &layer.field;
        let tensors = weights.and_then(|w| w.layers.get(index)).map(Vec::as_slice);
        let value = kind(layer).baked(net, tensors);
        Some(quote_spanned! {layer.span=>
            #field: #value
        })
    });
    let Some(weights) = weights else {
        return quote! {
            #[allow(dead_code)]
            impl #name {
                /// Zeros: the weights file could not be read.
                #[allow(clippy::large_stack_arrays)]
                pub const BAKED: Self = Self { #(#fields),* };
            }
        };
    };
    let doc = format!(
        " The weights of `{}`, baked in at compile time: `static NET: {name} = {name}::BAKED;` \
         needs no allocator.",
        weights.written
    );
    let path = Literal::string(&weights.path);
    quote! {
        #[allow(dead_code)]
        impl #name {
            #[doc = #doc]
            ///
            /// Use it to initialise a `static` (or take `&Self::BAKED`): a local copied from it
            /// would hold every weight on the stack.
            // A constant that initialises a `static`, not a local: clippy's size check for
            // stack arrays does not apply (a network as small as LeNet trips it).
            #[allow(clippy::large_stack_arrays)]
            pub const BAKED: Self = Self { #(#fields),* };
        }

        // Makes the file an input of this crate: editing it recompiles, and so re-reads it.
        const _: &[u8] = ::core::include_bytes!(#path);
    }
}
