//! [`nn_grammar::Network`] to [`ir::Network`](crate::ir::Network): identifiers, paths and
//! spans, and every decision emitting would otherwise take (the scalar type's size, each
//! layer's kernel, the chunk sizes of `forward_batch` and `accumulate_batch`).

use crate::ir;
use nn_grammar::{LayerKind, Network, TextRange, Unroll};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// Lowers a checked network. `span_of` maps a byte range of the declaration to a span (the
/// macro's tokens; `Span::call_site()` for `.nn` files).
pub fn lower(
    net: &Network,
    attributes: TokenStream,
    span_of: &dyn Fn(TextRange) -> Span,
) -> ir::Network {
    // `.nn` docs first, then the macro's attributes (which hold its `///` docs).
    let mut all_attributes: TokenStream = net
        .docs
        .iter()
        .map(|doc| {
            let doc = crate::shared::comment_text(doc);
            quote!(#[doc = #doc])
        })
        .collect();
    all_attributes.extend(attributes);
    // The checker only lets through paths such as `::nn` or `my::nn`, which always parse.
    let path = net.runtime.as_deref().unwrap_or("::nn");
    let path: TokenStream = path.parse().unwrap_or_else(|_| quote!(::nn));
    let runtime = quote!(#path::__private);
    let scalar = ir::Scalar::new(net.scalar, span_of(net.range));
    ir::Network {
        name: Ident::new(&net.name, span_of(net.name_range)),
        // The checker only lets through `pub`, `pub(crate)`, `pub(super)` and `pub(self)`.
        visibility: net.visibility.parse().unwrap_or_default(),
        attributes: all_attributes,
        batch_chunk: batch_chunk(net, scalar.bytes),
        training_chunk: training_chunk(net, scalar.bytes),
        // The losses read the output as a vector.
        trains: net.trains(),
        sequence: net.is_sequence().then(|| sequence_chunk(net, scalar.bytes)),
        scalar,
        runtime,
        input: net.input,
        output: net.output(),
        parameters: net.parameters(),
        multiply_adds: net.multiply_adds(),
        layers: net
            .layers
            .iter()
            .map(|layer| ir::Layer {
                field: Ident::new(&layer.field(), span_of(layer.range)),
                name: layer.name.clone(),
                named: layer.named,
                kind: kind(net, layer),
                input: layer.input,
                output: layer.output,
                activation: layer.activation,
                bias: layer.bias,
                affine: layer.affine,
                // Where the layer was written, but resolving names like the rest of the
                // expansion: `self` and the locals the code binds must mean the same thing in
                // every token, even when `network!` is called from a `macro_rules!` macro, whose
                // tokens carry another hygiene context.
                span: Span::call_site().located_at(span_of(layer.range)),
            })
            .collect(),
        quantized: net
            .quantize
            .iter()
            .map(|&(quantize, range)| ir::Quantized {
                kind: quantize,
                name: Ident::new(
                    &format!("{}{}", net.name, quantize.suffix()),
                    span_of(range),
                ),
                chunk: quantized_chunk(net),
                batched: batched(net),
            })
            .collect(),
        span: span_of(net.range),
    }
}

/// `ir::Quantized::batched`: the index after the last layer that is neither dense nor a
/// dropout without ReLU (a dropout with ReLU applies it, so it runs with the layers before).
fn batched(net: &Network) -> usize {
    net.layers
        .iter()
        .rposition(|layer| match layer.kind {
            LayerKind::Dense => false,
            LayerKind::Dropout { .. } => layer.activation != nn_grammar::Activation::Linear,
            _ => true,
        })
        .map_or(0, |last| last + 1)
}

/// Samples per chunk in an int8 twin's `forward_batch`: as many as keep its largest stack
/// buffer (a dense layer's `u8` inputs or its `i32` sums for the chunk) within 32 KiB, at most 64;
/// from 8 on a multiple of 8, so that the VNNI kernels' tiles of 4 and 8 rows divide every
/// full chunk (a row left alone in a chunk costs a pass over the weights for one sample:
/// `mnist_b256` in bench/benches/quantized.rs); from 32 on a multiple of 32, AMX's blocks of
/// samples, and 32 wherever that fits 64 KiB (MNIST's chunks of 40 left 8 rows of each to
/// VNNI, slower than whole blocks on AMX: a scratch harness).
fn quantized_chunk(net: &Network) -> usize {
    // Only the layers from `batched` on run on chunks; those before them (convolutions, pools,
    // `flatten`) run sample by sample, on buffers of their own.
    let widest = net.layers[batched(net)..]
        .iter()
        .map(|layer| layer.input.elements().max(4 * layer.output.elements()))
        .max()
        .unwrap_or(1)
        .max(1);
    let rows = (32 * 1024 / widest).clamp(1, 64);
    match rows {
        32.. => rows / 32 * 32,
        _ if 64 * 1024 / widest >= 32 => 32,
        8.. => rows / 8 * 8,
        _ => rows,
    }
}

/// The layer's kind with the choices made for it.
fn kind(net: &Network, layer: &nn_grammar::Layer) -> ir::LayerKind {
    match layer.kind {
        LayerKind::Dense => ir::LayerKind::Dense(ir::Dense {
            inputs: layer.input.elements(),
            outputs: layer.output.elements(),
            forward: match net.unroll {
                Unroll::Loops => ir::DenseForward::Kernel,
                Unroll::Full => ir::DenseForward::Unrolled,
            },
        }),
        LayerKind::Conv2d(conv) => ir::LayerKind::Conv2d(ir::Conv2d {
            out_channels: conv.out_channels,
            in_per_group: layer.input.dims()[0] / conv.groups.max(1),
            kernel: conv.kernel,
            stride: conv.stride,
            padding: conv.padding,
            dilation: conv.dilation,
        }),
        LayerKind::Conv1d(conv) => ir::LayerKind::Conv1d(ir::Conv1d {
            out_channels: conv.out_channels,
            in_per_group: layer.input.dims()[0] / conv.groups.max(1),
            kernel: conv.kernel,
            stride: conv.stride,
            padding: conv.padding,
            dilation: conv.dilation,
        }),
        LayerKind::MaxPool2d(pool) | LayerKind::AvgPool2d(pool) => ir::LayerKind::Pool(ir::Pool {
            function: layer.kind.name(),
            geometry: ir::PoolGeometry::Two(pool.kernel, pool.stride, pool.padding),
        }),
        LayerKind::MaxPool1d(pool) | LayerKind::AvgPool1d(pool) => ir::LayerKind::Pool(ir::Pool {
            function: layer.kind.name(),
            geometry: ir::PoolGeometry::One(pool.kernel, pool.stride, pool.padding),
        }),
        LayerKind::GlobalAvgPool | LayerKind::GlobalMaxPool => {
            ir::LayerKind::GlobalPool(ir::GlobalPool {
                function: layer.kind.name(),
            })
        }
        LayerKind::Flatten => ir::LayerKind::Flatten(ir::Flatten),
        LayerKind::Dropout { p } => ir::LayerKind::Dropout(ir::Dropout { p }),
        LayerKind::BatchNorm { eps, momentum } => ir::LayerKind::BatchNorm(ir::BatchNorm {
            channels: layer.input.dims()[0],
            eps,
            momentum,
            image: layer.input.rank() == 3,
        }),
        LayerKind::LayerNorm { eps } => ir::LayerKind::LayerNorm(ir::LayerNorm {
            shape: layer.input,
            eps,
        }),
        LayerKind::CausalConv1d(conv) => ir::LayerKind::CausalConv1d(ir::CausalConv1d {
            conv: ir::Conv1d {
                out_channels: conv.out_channels,
                in_per_group: layer.input.elements() / conv.groups.max(1),
                kernel: conv.kernel,
                stride: 1,
                padding: 0,
                dilation: conv.dilation,
            },
            channels: layer.input.elements(),
            frames: (conv.kernel - 1) * conv.dilation,
        }),
        LayerKind::Recurrent(recurrent) => ir::LayerKind::Recurrent(ir::Recurrent {
            cell: recurrent.cell,
            inputs: layer.input.elements(),
            hidden: recurrent.hidden,
            deeper: recurrent.layers - 1,
        }),
    }
}

/// Streams per chunk of a sequence network's `step_streams`: as many as keep each layer's
/// buffer of outputs, and each recurrent layer's
/// gathered states of a chunk of streams, within clippy's `large_stack_arrays` limit (16 KiB),
/// at most 128.
fn sequence_chunk(net: &Network, scalar_bytes: usize) -> usize {
    let row = net
        .layers
        .iter()
        .map(|layer| {
            let state = match layer.kind {
                LayerKind::Recurrent(recurrent) => recurrent_state_bytes(
                    recurrent.cell,
                    recurrent.hidden,
                    recurrent.layers,
                    scalar_bytes,
                ),
                _ => 0,
            };
            (layer.output.elements() * scalar_bytes).max(state)
        })
        .max()
        .unwrap_or(1);
    (ir::LARGE_STACK_ARRAY / row).clamp(1, 128)
}

/// The size of a recurrent layer's state in the runtime: an LSTM's `LstmState`, each level's
/// `h` and `c` in a line-aligned `LstmLevel` of its own; the others' `HiddenState`, every
/// level's `h` in one line-aligned array (both `align(64)`).
fn recurrent_state_bytes(
    cell: nn_grammar::Cell,
    hidden: usize,
    levels: usize,
    scalar_bytes: usize,
) -> usize {
    const LINE: usize = 64;
    if cell == nn_grammar::Cell::Lstm {
        levels * (2 * hidden * scalar_bytes).next_multiple_of(LINE)
    } else {
        (levels * hidden * scalar_bytes).next_multiple_of(LINE)
    }
}

/// Bytes of stack each intermediate of `forward_batch` aims to use for one chunk of samples.
const CHUNK_BYTES: usize = 32 * 1024;

/// Samples per chunk are a multiple of this, so that the kernels' tiles of 6 or 12 samples divide
/// every full chunk.
const CHUNK_STEP: usize = 12;

/// Samples per chunk in `forward_batch`: as many as fit the widest intermediate in
/// `CHUNK_BYTES`, in steps of `CHUNK_STEP`, from one step to four.
fn batch_chunk(net: &Network, scalar_bytes: usize) -> usize {
    let last_index = net.layers.len().saturating_sub(1);
    let widest = net.layers[..last_index]
        .iter()
        .map(|layer| layer.output.elements())
        .max()
        .unwrap_or(1);
    let steps = CHUNK_BYTES / (widest * scalar_bytes * CHUNK_STEP);
    steps.clamp(1, 4) * CHUNK_STEP
}

/// Samples per chunk in `accumulate_batch`: 1 when every layer is small, else up to 32 (the
/// gradient kernel keeps tiles of gradients in registers while every sample of the chunk adds
/// to them, and the forward pass reads each weight once per tile of samples; 32 rather than 16:
/// bench/benches/train_throughput.rs), as many as keep the chunk's locals (pre-activations,
/// outputs and gradients of every layer) within 64 KiB of stack and each of them within 16 KiB.
fn training_chunk(net: &Network, scalar_bytes: usize) -> usize {
    // Layers of at most this many weights accumulate gradients with the runtime's inlined
    // portable kernel (`nn_runtime::kernel::ACCUMULATE_SMALL`), which gains nothing from
    // chunks: networks made only of such layers go one sample at a time.
    const SMALL_LAYER: usize = 1024;
    // Batchnorm normalises with the statistics of the chunk, which must hold the whole batch:
    // such networks always go in chunks, of at least two samples and up to 64.
    let batch_statistics = net
        .layers
        .iter()
        .any(|l| matches!(l.kind, LayerKind::BatchNorm { .. }));
    if !batch_statistics && net.layers.iter().all(|l| l.multiply_adds() <= SMALL_LAYER) {
        return 1;
    }
    let per_sample: usize = net
        .layers
        .iter()
        .map(|l| 3 * l.output.elements() * scalar_bytes)
        .sum();
    // Each local array of a chunk also stays within clippy's `large_stack_arrays` limit, 16 KiB,
    // so that generated code is clean in users' crates.
    let widest = net
        .layers
        .iter()
        .map(|l| l.output.elements())
        .max()
        .unwrap_or(1)
        * scalar_bytes;
    let chunk = (65_536 / per_sample.max(1)).min(ir::LARGE_STACK_ARRAY / widest);
    if batch_statistics {
        chunk.clamp(2, 64)
    } else {
        chunk.clamp(1, 32)
    }
}

#[cfg(test)]
mod tests {
    use super::{batched, quantized_chunk, recurrent_state_bytes, sequence_chunk};
    use nn_grammar::Cell;

    /// The runtime's state sizes (`layers::recurrent`'s test `state_sizes_are_whole_lines`
    /// asserts the same values of `size_of`), and the chunks of streams they allow.
    #[test]
    fn streams_chunks_count_the_states_padding() {
        assert_eq!(recurrent_state_bytes(Cell::Lstm, 2, 8, 4), 8 * 64);
        assert_eq!(recurrent_state_bytes(Cell::Lstm, 32, 1, 4), 256);
        assert_eq!(recurrent_state_bytes(Cell::Lstm, 20, 2, 8), 2 * 320);
        assert_eq!(recurrent_state_bytes(Cell::Gru, 5, 3, 8), 128);
        assert_eq!(
            recurrent_state_bytes(Cell::Rnn { relu: false }, 64, 1, 4),
            256
        );
        let chunk = |declaration: &str| {
            sequence_chunk(
                &nn_grammar::compile_item(declaration).expect("a network"),
                4,
            )
        };
        // Eight levels of 2: 512 bytes a stream, 32 streams in 16 KiB (not 128 at 64 bytes).
        assert_eq!(
            chunk("struct Net = 1 -> conv1d(4, 2, causal) tanh -> lstm(2, layers = 8) -> 1;"),
            32
        );
        assert_eq!(chunk("struct Net = 1 -> lstm(32) -> 1;"), 64);
    }

    fn chunk(declaration: &str) -> usize {
        quantized_chunk(&nn_grammar::compile_item(declaration).expect("a network"))
    }

    #[test]
    fn int8_batches_run_the_dense_layers_at_the_end_on_chunks() {
        let first =
            |declaration: &str| batched(&nn_grammar::compile_item(declaration).expect("a network"));
        assert_eq!(
            first("struct Net = 784 -> 128 relu -> 10 with quantize = int8;"),
            0
        );
        // LeNet: from its first dense layer, after `flatten`.
        assert_eq!(
            first(
                "struct Net = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2) \
                 -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 \
                 with quantize = int8;"
            ),
            5
        );
        // A dropout without ReLU is one of the dense layers; with ReLU it ends the layers run
        // sample by sample.
        assert_eq!(
            first("struct Net = 16 -> 8 -> dropout(0.5) -> 4 with quantize = int8;"),
            0
        );
        assert_eq!(
            first("struct Net = 16 -> 8 -> dropout(0.5) relu -> 4 with quantize = int8;"),
            2
        );
    }

    #[test]
    fn int8_chunks_are_sized_by_the_dense_layers_at_the_end() {
        // MNIST: 784 inputs a row, 41 rows in 32 KiB, AMX's blocks of 32.
        assert_eq!(
            chunk("struct Net = 784 -> 128 relu -> 10 with quantize = int8;"),
            32
        );
        // LeNet: its first convolution's 18,816 bytes of sums a sample do not count; its dense
        // layers' widest, 120 sums (480 bytes) a row, allow the most, 64.
        assert_eq!(
            chunk(
                "struct Net = [1, 28, 28] -> conv2d(6, 5, padding = 2) relu -> maxpool2d(2) \
                 -> conv2d(16, 5) relu -> maxpool2d(2) -> flatten -> 120 relu -> 84 relu -> 10 \
                 with quantize = int8;"
            ),
            64
        );
        // A dropout among the dense layers is one of them: 3,000 sums a row (12,000 bytes)
        // leave room for two rows.
        assert_eq!(
            chunk(
                "struct Net = [4, 4] -> flatten -> 3000 relu -> dropout(0.5) -> 10 with quantize = int8;"
            ),
            2
        );
        // A dropout with ReLU is not: after it, 3,000 inputs a row (3,000 bytes) leave room for
        // ten rows, eight of them a multiple of the tiles.
        assert_eq!(
            chunk("struct Net = 16 -> 3000 -> dropout(0.5) relu -> 10 with quantize = int8;"),
            8
        );
    }
}
