//! `dropout(p)`: the identity at inference (the runtime's `dropout`); in training
//! `train::dropout_train`, a seeded mask scaled by `1 / (1 - p)` (`docs/training.md`); no field.

use super::{Kind, per_sample};
use crate::ir::{Dropout, Layer, Network};
use crate::shared::{array_type, dropout_key, local};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

impl Kind for Dropout {
    fn field_type(&self, _net: &Network) -> Option<TokenStream> {
        None
    }

    fn runtime_kind(&self, net: &Network) -> TokenStream {
        let runtime = &net.runtime;
        quote!(#runtime::LayerKind::Dropout)
    }

    fn forward(&self, net: &Network, layer: &Layer, input: &TokenStream) -> TokenStream {
        let runtime = &net.runtime;
        quote_spanned!(layer.span=> #runtime::layers::dropout(#input))
    }

    fn forward_batch(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        per_sample(net, layer, input, output)
    }

    fn draws_masks(&self) -> bool {
        true
    }

    /// `train::dropout_train` with the layer's number and the sample's key (`evaluate` runs
    /// [`Kind::forward`], the identity).
    fn forward_train(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        _stable: bool,
    ) -> TokenStream {
        let key = dropout_key();
        self.masked(net, layer, input, &quote!(#key))
    }

    fn forward_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        self.each(net, layer, input, output)
    }

    /// The same map as the forward pass: the mask, scaled.
    fn backward_input(
        &self,
        net: &Network,
        layer: &Layer,
        _input: &TokenStream,
        delta: &TokenStream,
    ) -> TokenStream {
        let key = dropout_key();
        self.masked(net, layer, &quote!(&#delta), &quote!(#key))
    }

    fn backward_input_chunk(
        &self,
        net: &Network,
        layer: &Layer,
        _input: &TokenStream,
        delta: &TokenStream,
        below: &TokenStream,
    ) -> TokenStream {
        self.each(net, layer, delta, below)
    }
}

impl Dropout {
    /// `values` (a reference) through the mask of `key` (a `MaskKey`).
    fn masked(
        &self,
        net: &Network,
        layer: &Layer,
        values: &TokenStream,
        key: &TokenStream,
    ) -> TokenStream {
        let runtime = &net.runtime;
        let p = self.p;
        let number = layer_number(&layer.name);
        quote_spanned! {layer.span=>
            #runtime::train::dropout_train(#values, #p, #number, #key)
        }
    }

    /// Statement: [`Dropout::masked`] on each sample of `input` (a `&[S]` or `&[X]`) into
    /// `output` (a `&mut [S]`), sample `k` with the chunk's key `at(k)`.
    fn each(
        &self,
        net: &Network,
        layer: &Layer,
        input: &TokenStream,
        output: &TokenStream,
    ) -> TokenStream {
        let (k, sample, row) = (local("k"), local("sample"), local("row"));
        let key = dropout_key();
        let shape = array_type(&net.scalar, &layer.input);
        let masked = self.masked(net, layer, &quote!(#sample), &quote!(#key.at(#k)));
        quote_spanned! {layer.span=>
            for (#k, (#sample, #row)) in (#input).iter().zip((#output).iter_mut()).enumerate() {
                let #sample: &#shape = ::core::borrow::Borrow::borrow(#sample);
                *#row = #masked;
            }
        }
    }
}

/// The layer's number in the masks' hash: FNV-1a of its name, unique in the network, so that
/// two dropout layers draw different masks.
fn layer_number(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use crate::layer::kind;
    use crate::lower;
    use proc_macro2::{Span, TokenStream};
    use quote::quote;

    /// Training masks through `dropout_train` with the layer's number, the identity without a
    /// key; inference is the runtime's identity.
    #[test]
    fn masked_in_training_only() {
        let net = nn_grammar::compile_item("struct Net = 4 -> dropout(0.25) -> 2;").unwrap();
        let net = lower(&net, TokenStream::new(), &|_| Span::call_site());
        let layer = &net.layers[0];
        let dropout = kind(layer);
        assert!(dropout.draws_masks() && !kind(&net.layers[1]).draws_masks());
        assert_eq!(
            dropout.forward(&net, layer, &quote!(x)).to_string(),
            ":: nn :: __private :: layers :: dropout (x)"
        );
        let number = super::layer_number("layer0");
        assert_ne!(number, super::layer_number("layer1"));
        assert_eq!(
            dropout
                .forward_train(&net, layer, &quote!(x), true)
                .to_string(),
            format!(
                ":: nn :: __private :: train :: dropout_train (x , 0.25f64 , {number}u64 , dropout_key)"
            )
        );
    }
}
