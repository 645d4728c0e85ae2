//! The stand-in for a network whose declaration is too broken to generate: its struct and the
//! whole inherent API, with signatures loose enough that the uses of the network type-check, so
//! that the declaration's own errors are the only ones reported.

use crate::shared::array_type;
use nn_grammar::{Scalar, Shape};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

/// What is known of a broken declaration.
pub struct Stub {
    /// The struct's name, spanned where the declaration wrote it.
    pub name: Ident,
    /// The visibility as written, if valid Rust; else empty.
    pub visibility: TokenStream,
    /// Outer attributes to put on the struct (docs, derives).
    pub attributes: TokenStream,
    /// The input's shape, if it was valid.
    pub input: Option<Shape>,
    /// The output's shape, if it was valid.
    pub output: Option<Shape>,
    /// The scalar type (`f32` unless a valid `scalar = f64` said otherwise).
    pub scalar: Scalar,
    /// Whether the declaration is a sequence network's: the stub then has `<Name>State`,
    /// `step`, `forward_sequence` and `step_streams`.
    pub sequence: bool,
}

/// The struct `Name` and `NameGradients`, unit structs, with every inherent item that generated
/// networks have. Sizes that are known are real (`forward` takes `&[f32; 784]` when the input
/// width was valid), the others are generic parameters, inferred from each use; bodies never
/// run, since the crate does not compile.
///
/// A generic return type is inferred from where the value goes (`let y: [f32; 10] =
/// net.forward(&x)`); a use that does not say (`net.forward(&x).iter()`) still adds "type
/// annotations needed": what a real output width would have removed.
// One `quote!` of the whole API, in the order of the generated code's, is easiest to compare.
#[allow(clippy::too_many_lines)]
pub fn stub(stub: Stub) -> TokenStream {
    let Stub {
        name,
        visibility,
        attributes,
        input,
        output,
        scalar,
        sequence,
    } = stub;
    let runtime = quote!(::nn::__private);
    let scalar = crate::ir::Scalar::new(scalar, Span::call_site());
    let gradients = format_ident!("{}Gradients", name);
    let name_text = name.to_string();
    // The input: `&[f32; N]` (nested arrays for a higher rank) when known, else any type.
    let (input_generic, input_type) = match &input {
        Some(shape) => {
            let array = array_type(&scalar, shape);
            (None, quote!(&#array))
        }
        None => (Some(quote!(I,)), quote!(I)),
    };
    let (output_generic, output_type) = match &output {
        Some(shape) => (None, array_type(&scalar, shape)),
        None => (Some(quote!(O,)), quote!(O)),
    };
    let inputs = input.as_ref().map_or(0, Shape::elements);
    let outputs = output.as_ref().map_or(0, Shape::elements);
    let body = quote!(::core::unreachable!("`network!` failed: see its errors"));
    let sequence = sequence.then(|| {
        let state = format_ident!("{}State", name);
        quote! {
            #[derive(Clone, Copy, Debug, PartialEq, Default)]
            #[allow(dead_code)]
            #visibility struct #state;

            #[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
            impl #state {
                pub const ZERO: Self = Self;
                pub fn reset(&mut self) {}
            }

            #runtime::__with_alloc! {
                #[allow(dead_code, clippy::all, clippy::pedantic)]
                impl #state {
                    pub fn zeroed() -> #runtime::Box<Self> {
                        #runtime::Box::new(Self)
                    }
                }
            }

            #runtime::__with_train! {
                #runtime::__with_alloc! {
                    #[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
                    impl #name {
                        pub fn accumulate_sequence<S, X, Y, L>(
                            &self,
                            state: S,
                            inputs: X,
                            targets: Y,
                            loss: &L,
                            scale: #scalar,
                            gradients: &mut #gradients,
                        ) -> ::core::result::Result<#scalar, #runtime::Error> {
                            #body
                        }
                    }
                }
            }

            #[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
            impl #name {
                pub fn step<S, #input_generic #output_generic>(&self, state: S, input: #input_type) -> #output_type {
                    #body
                }

                pub fn forward_sequence<S, X, Y>(
                    &self,
                    state: S,
                    inputs: X,
                    outputs: Y,
                ) -> ::core::result::Result<(), #runtime::Error> {
                    #body
                }

                pub fn step_streams<S, X, Y>(
                    &self,
                    states: S,
                    inputs: X,
                    outputs: Y,
                ) -> ::core::result::Result<(), #runtime::Error> {
                    #body
                }
            }
        }
    });
    crate::shared::plain_sizes(quote! {
        #attributes
        #[allow(dead_code)]
        #visibility struct #name;

        #sequence

        #[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
        impl #name {
            pub const INPUTS: usize = #inputs;
            pub const OUTPUTS: usize = #outputs;
            pub const PARAMETERS: usize = 0;
            pub const BAKED: Self = Self;

            pub fn forward<#input_generic #output_generic>(&self, input: #input_type) -> #output_type {
                #body
            }

            pub fn forward_batch<X, Y>(
                &self,
                inputs: X,
                outputs: Y,
            ) -> ::core::result::Result<(), #runtime::Error> {
                #body
            }

            pub fn summary() -> #runtime::Summary {
                #runtime::Summary {
                    name: #name_text,
                    scalar: ::core::stringify!(#scalar),
                    inputs: #inputs,
                    layers: &[],
                    bytes: 0,
                }
            }
        }

        #runtime::__with_alloc! {
            #[allow(dead_code, clippy::all, clippy::pedantic)]
            impl #name {
                pub fn random(seed: u64) -> #runtime::Box<Self> {
                    #runtime::Box::new(Self)
                }

                pub fn zeroed() -> #runtime::Box<Self> {
                    #runtime::Box::new(Self)
                }
            }
        }

        #runtime::__with_safetensors! {
            #[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
            impl #name {
                pub fn from_safetensors(
                    bytes: &[u8],
                ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                    #body
                }

                pub fn to_safetensors(&self) -> #runtime::Vec<u8> {
                    #body
                }
            }

            #runtime::__with_std! {
                #[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
                impl #name {
                    pub fn from_safetensors_file<P>(
                        path: P,
                    ) -> ::core::result::Result<#runtime::Box<Self>, #runtime::Error> {
                        #body
                    }

                    pub fn save_safetensors<P>(
                        &self,
                        path: P,
                    ) -> ::core::result::Result<(), #runtime::Error> {
                        #body
                    }
                }
            }
        }

        #runtime::__with_ndarray! {
            #[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
            impl #name {
                pub fn forward_ndarray<V>(
                    &self,
                    input: V,
                ) -> ::core::result::Result<#runtime::ndarray::Array2<#scalar>, #runtime::Error> {
                    #body
                }
            }
        }

        // The training half, as in generated code: only with the runtime's `train` feature.
        #runtime::__with_train! {
            #[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
            impl #name {
                pub const TRAINING_CHUNK: usize = 1;

                pub fn accumulate_gradients<#input_generic T, L, #output_generic>(
                    &self,
                    input: #input_type,
                    target: T,
                    loss: &L,
                    scale: #scalar,
                    gradients: &mut #gradients,
                ) -> #runtime::train::Outcome<#scalar, #output_type> {
                    #body
                }

                pub fn accumulate_batch<X, Y, L, F>(
                    &self,
                    inputs: &[X],
                    targets: &[Y],
                    loss: &L,
                    scale: #scalar,
                    gradients: &mut #gradients,
                    observe: F,
                ) -> ::core::result::Result<(), #runtime::Error> {
                    #body
                }

                pub fn evaluate<#input_generic T, L, #output_generic>(
                    &self,
                    input: #input_type,
                    target: T,
                    loss: &L,
                ) -> #runtime::train::Outcome<#scalar, #output_type> {
                    #body
                }
            }

            #[allow(dead_code)]
            #visibility struct #gradients;

            #[allow(dead_code, clippy::all, clippy::pedantic)]
            impl #gradients {
                pub fn zero(&mut self) {}
            }

            #runtime::__with_alloc! {
                #[allow(dead_code, clippy::all, clippy::pedantic)]
                impl #gradients {
                    pub fn zeroed() -> #runtime::Box<Self> {
                        #runtime::Box::new(Self)
                    }
                }
            }
        }
    })
}
