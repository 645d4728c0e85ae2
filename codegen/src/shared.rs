//! Pieces every part of the generated code uses: array types of shapes, activations, hygienic
//! locals, plain size literals. `emit`, `emit_train`, `io` and the layer kinds depend on this
//! module, and it on none of them.

use crate::ir::{Layer, Network, Scalar, Shape};
use nn_grammar::Activation;
use proc_macro2::{Group, Ident, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};

/// The Rust type of a value of `shape`: nested arrays, outermost size outside
/// (`[[[T; W]; H]; C]` for `[C, H, W]`, `[T; N]` for `[N]`).
pub(crate) fn array_type(scalar: &Scalar, shape: &Shape) -> TokenStream {
    shape
        .dims()
        .iter()
        .rev()
        .fold(quote!(#scalar), |inner, size| quote!([#inner; #size]))
}

/// The all-zero value of `shape`, as an array expression (`[[0f32; W]; H]`).
pub(crate) fn zeros(scalar: &Scalar, shape: &Shape) -> TokenStream {
    let zero = scalar.literal(0.0);
    shape
        .dims()
        .iter()
        .rev()
        .fold(quote!(#zero), |inner, size| quote!([#inner; #size]))
}

/// `values`, in PyTorch's row-major order, as a nested array literal of `dims`
/// (`[[1.0, 2.0], [3.0, 4.0]]` for `[2, 2]`): baked weights of any rank.
pub(crate) fn literal(scalar: &Scalar, values: &[f64], dims: &[usize]) -> TokenStream {
    if let [_, inner @ ..] = dims
        && !inner.is_empty()
    {
        let size = inner.iter().product::<usize>().max(1);
        let parts = values.chunks(size).map(|part| literal(scalar, part, inner));
        quote!([#(#parts),*])
    } else {
        let values = values.iter().map(|v| scalar.unsuffixed(*v));
        quote!([#(#values),*])
    }
}

/// `value` (a place of `shape`'s array type) as a flat slice of scalars, borrowed mutably or
/// not: `&mut x` for a vector, `x.as_flattened_mut().as_flattened_mut()` for rank 3.
pub(crate) fn flat(shape: &Shape, value: &TokenStream, mutable: bool) -> TokenStream {
    match (shape.rank(), mutable) {
        (1, true) => quote!(&mut #value),
        (1, false) => quote!(&#value),
        (rank, true) => {
            let calls = (1..rank).map(|_| quote!(.as_flattened_mut()));
            quote!(#value #(#calls)*)
        }
        (rank, false) => {
            let calls = (1..rank).map(|_| quote!(.as_flattened()));
            quote!(#value #(#calls)*)
        }
    }
}

/// `1 neuron`, `128 neurons`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `relu`, `leaky_relu(0.1)`: the activation as the language writes it.
pub(crate) fn describe(activation: Activation) -> String {
    match activation {
        Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => {
            format!("{}({alpha})", activation.name())
        }
        _ => activation.name().to_owned(),
    }
}

/// The alpha argument of `leaky_relu` and `elu`, if any, as a literal of the scalar type.
pub(crate) fn alpha(scalar: &Scalar, activation: Activation) -> Option<Literal> {
    match activation {
        Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => Some(scalar.literal(alpha)),
        _ => None,
    }
}

/// The call that applies the layer's activation in place to `target` (a `&mut [T]`), if any.
pub(crate) fn apply_activation(
    net: &Network,
    layer: &Layer,
    target: &TokenStream,
) -> Option<TokenStream> {
    let runtime = &net.runtime;
    if layer.activation == Activation::Linear {
        return None;
    }
    let function = format_ident!("{}", layer.activation.name());
    let alpha = alpha(&net.scalar, layer.activation).map(|alpha| quote!(, #alpha));
    Some(quote_spanned! {layer.span=>
        #runtime::activation::#function(#target #alpha);
    })
}

/// `layer`'s activation on every row of a batch's `rows` (a `&mut [..]` of the output's array
/// type), if it has one: [`apply_activation`] on each `row` (`target` the slice it names), but
/// a softmax of vectors on all the rows at once, `activation::softmax_rows`, which runs 16 rows
/// at a time on AVX-512, each row's values those of `softmax` on it alone (faster than
/// `softmax` row by row on rows of 10 on an Intel Xeon, a scratch harness).
pub(crate) fn activation_on_rows(
    net: &Network,
    layer: &Layer,
    rows: &TokenStream,
    row: &Ident,
    target: &TokenStream,
) -> Option<TokenStream> {
    let runtime = &net.runtime;
    if layer.activation == Activation::Softmax && layer.output.rank() == 1 {
        return Some(quote_spanned! {layer.span=>
            #runtime::activation::softmax_rows(#rows);
        });
    }
    apply_activation(net, layer, target).map(|apply| {
        quote_spanned! {layer.span=>
            for #row in #rows.iter_mut() {
                #apply
            }
        }
    })
}

/// The batched methods' first statement: `Err(Error::Batch)`, naming `layer`, unless the slice
/// `rows` (outputs) has one row per row of `inputs`.
pub(crate) fn check_rows(
    net: &Network,
    layer: &str,
    inputs: &TokenStream,
    rows: &TokenStream,
) -> TokenStream {
    check_lengths(net, layer, inputs, rows, &quote!(Batch))
}

/// The training methods' first statement: `Err(Error::Targets)`, naming `layer`, unless the
/// slice `targets` has one row per row of `inputs`.
pub(crate) fn check_targets(
    net: &Network,
    layer: &str,
    inputs: &TokenStream,
    targets: &TokenStream,
) -> TokenStream {
    check_lengths(net, layer, inputs, targets, &quote!(Targets))
}

/// `Err(Error::<variant>)` unless `rows` is as long as `inputs`.
fn check_lengths(
    net: &Network,
    layer: &str,
    inputs: &TokenStream,
    rows: &TokenStream,
    variant: &TokenStream,
) -> TokenStream {
    let runtime = &net.runtime;
    quote! {
        if #inputs.len() != #rows.len() {
            return ::core::result::Result::Err(#runtime::Error::#variant {
                layer: #layer,
                expected: #inputs.len(),
                found: #rows.len(),
            });
        }
    }
}

/// A local invented by the macro, hygienic so it cannot collide with a layer's output local,
/// and named apart from every layer's field (`_` appended: `hidden_pre_` beside a layer named
/// `hidden_pre`), for the code `nnc build` prints, where hygiene is gone.
pub(crate) fn local(name: &str) -> Ident {
    let mut name = name.to_owned();
    FIELDS.with(|fields| {
        while fields.borrow().contains(&name) {
            name.push('_');
        }
    });
    Ident::new(&name, Span::mixed_site())
}

std::thread_local! {
    /// The fields of the network being expanded, which [`local`] names apart from.
    static FIELDS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `expand` with [`local`] naming apart from `fields`.
pub(crate) fn with_fields<R>(fields: Vec<String>, expand: impl FnOnce() -> R) -> R {
    let before = FIELDS.with(|f| f.replace(fields));
    let result = expand();
    FIELDS.with(|f| f.replace(before));
    result
}

/// The local holding the dropout masks' key in the training methods, an
/// `Option<train::MaskKey>` (`None` in `evaluate`): bound by `emit_train`, read by the dropout
/// kind's tokens.
pub(crate) fn dropout_key() -> Ident {
    local("dropout_key")
}

/// `tokens`, every one of them (groups included) carrying `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            }
            token.set_span(span);
            token
        })
        .collect()
}

/// `784usize` as `784`, and `101770usize` as `101_770`: every size in generated code is a
/// `usize` by its context, and the suffix `quote` gives a `usize` is noise to whoever reads the
/// code (`cargo expand`, `nnc build`); clippy's `unreadable_literal` asks for the `_`.
pub(crate) fn plain_sizes(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut plain = Group::new(group.delimiter(), plain_sizes(group.stream()));
                plain.set_span(group.span());
                TokenTree::Group(plain)
            }
            TokenTree::Literal(literal) => {
                match literal
                    .to_string()
                    .strip_suffix("usize")
                    .map(str::parse::<usize>)
                {
                    Some(Ok(n)) => {
                        let mut plain = grouped(n);
                        plain.set_span(literal.span());
                        TokenTree::Literal(plain)
                    }
                    _ => TokenTree::Literal(literal),
                }
            }
            other => other,
        })
        .collect()
}

/// `101770` as `101_770`; numbers under five digits as they are.
fn grouped(n: usize) -> Literal {
    let digits = n.to_string();
    if digits.len() < 5 {
        return Literal::usize_unsuffixed(n);
    }
    let mut text = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push('_');
        }
        text.push(digit);
    }
    text.parse()
        .unwrap_or_else(|_| Literal::usize_unsuffixed(n))
}

/// `<twin>::BAKED` as zeros, where the `weights` file could not be used (the macro reports
/// why): so that the code using it adds no errors of its own, as the network's own `BAKED`.
pub(crate) fn zeroed_baked(net: &Network, twin: &proc_macro2::Ident) -> TokenStream {
    let runtime = &net.runtime;
    quote! {
        #[allow(dead_code)]
        impl #twin {
            /// Zeros: the `weights` file could not be used.
            pub const BAKED: Self = #runtime::__zeroed_const();
        }
    }
}

/// A twin's `PARAMETERS` and `summary()`: the `f32` network's, under the twin's name and
/// `scalar` text, its bytes counting `weight_bytes` for each weight of the layers named in
/// `narrowed` (those the twin stores in `format`), as `Summary::stored_bytes` does.
pub(crate) fn twin_counts(
    net: &Network,
    twin: &Ident,
    (scalar, format): (&str, &str),
    narrowed: &[String],
    weight_bytes: usize,
) -> TokenStream {
    let Network {
        name: source,
        runtime,
        ..
    } = net;
    let layers = narrowed
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let parameters_doc =
        format!(" Weights and biases, as `{source}`'s (the weights of {layers} in {format}).");
    let summary_doc = format!(
        " The layers' shapes and parameters, as `{source}::summary()`'s, under this network's \
         name and format, its bytes counting {weight_bytes} a weight of {layers} and 4 any other \
         parameter."
    );
    let twin_text = twin.to_string();
    quote! {
        #[doc = #parameters_doc]
        pub const PARAMETERS: usize = <#source as #runtime::Network>::PARAMETERS;

        #[doc = #summary_doc]
        #[must_use]
        pub fn summary() -> #runtime::Summary {
            #runtime::Summary {
                name: #twin_text,
                scalar: #scalar,
                bytes: #runtime::Summary::stored_bytes(
                    <#source as #runtime::Network>::LAYERS,
                    &[#(#narrowed),*],
                    #weight_bytes,
                ),
                ..#source::summary()
            }
        }
    }
}

/// `text` for a comment of the generated code: control characters and the codepoints that
/// change the visible direction of text (which rustc refuses in comments, its
/// `text_direction_codepoint_in_comment`) written as `\u{..}` escapes, so that a `.nn` file's
/// doc or a file name cannot stop its Rust from compiling.
pub(crate) fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if (c.is_control() && c != '\t') || bidi {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{array_type, flat, literal, zeros};
    use crate::ir::{Scalar, Shape};
    use proc_macro2::Span;
    use quote::quote;

    fn f32() -> Scalar {
        Scalar::new(nn_grammar::Scalar::F32, Span::call_site())
    }

    fn shape(dims: &[usize]) -> Shape {
        Shape::new(dims).unwrap()
    }

    #[test]
    fn shapes_are_nested_arrays_outermost_first() {
        let cases = [
            (&[784][..], "[f32 ; 784usize]", "[0f32 ; 784usize]"),
            (
                &[16, 100],
                "[[f32 ; 100usize] ; 16usize]",
                "[[0f32 ; 100usize] ; 16usize]",
            ),
            (
                &[3, 32, 28],
                "[[[f32 ; 28usize] ; 32usize] ; 3usize]",
                "[[[0f32 ; 28usize] ; 32usize] ; 3usize]",
            ),
        ];
        for (dims, ty, value) in cases {
            assert_eq!(array_type(&f32(), &shape(dims)).to_string(), ty);
            assert_eq!(zeros(&f32(), &shape(dims)).to_string(), value);
        }
    }

    #[test]
    fn places_flatten_to_slices() {
        let x = quote!(x);
        assert_eq!(flat(&shape(&[4]), &x, true).to_string(), "& mut x");
        assert_eq!(flat(&shape(&[4]), &x, false).to_string(), "& x");
        assert_eq!(
            flat(&shape(&[2, 3, 4]), &x, true).to_string(),
            "x . as_flattened_mut () . as_flattened_mut ()"
        );
        assert_eq!(
            flat(&shape(&[2, 3]), &x, false).to_string(),
            "x . as_flattened ()"
        );
    }

    #[test]
    fn literals_nest_row_major_values() {
        let scalar = f32();
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            literal(&scalar, &values, &[2, 1, 3]).to_string(),
            "[[[1.0 , 2.0 , 3.0]] , [[4.0 , 5.0 , 6.0]]]"
        );
        assert_eq!(
            literal(&scalar, &values, &[6]).to_string(),
            "[1.0 , 2.0 , 3.0 , 4.0 , 5.0 , 6.0]"
        );
    }

    #[test]
    fn direction_and_control_characters_are_escaped() {
        assert_eq!(
            super::comment_text("a\u{202e}b\nc\td\u{2066}é"),
            "a\\u{202e}b\\u{a}c\td\\u{2066}é"
        );
    }
}
