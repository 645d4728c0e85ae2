//! What the fuzz targets check, on any input: the loaders return (never panic), no single
//! allocation is larger than the network or [`SLACK`] bytes per input byte (plus [`SLACK_BYTES`]),
//! a rejected input is an error with a message, and an accepted one saves and loads back to the
//! same bits.
//!
//! The same properties run in CI as proptest mutations (`tests/it/io_fuzz.rs`); this crate
//! is for long coverage-guided runs: `RUSTC_BOOTSTRAP=1 cargo fuzz run safetensors` from the
//! repository root.

use nn::Network;
use nn::io::safetensors::{LoadOptions, load, load_layers, load_partial, save};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

nn::network! {
    /// The network of `tests/fixtures/*.safetensors`.
    pub struct Tiny = 5 -> 4 relu -> 3 softmax;
    /// [`Tiny`] in `f64`.
    pub struct TinyF64 = 5 -> 4 relu -> 3 softmax with scalar = f64;
    /// [`Tiny`] with named layers.
    pub struct TinyNamed = 5 -> 4 relu as hidden -> 3 softmax as output;
    /// Unnamed layers with and without activation modules, and a named one.
    pub struct Mixed = 8 -> 6 relu -> 4 as middle -> 3 tanh -> 2 with scalar = f64;
    /// [`Tiny`] with an int8 twin, for quantised files.
    pub struct TinyQ = 5 -> 4 relu -> 3 softmax with quantize = int8;
    /// A 2-D convolution's int8 twin, for the convolutions' quantised readers.
    pub struct Conv2dQ = [1, 6, 6] -> conv2d(2, 3) relu -> maxpool2d(2) -> flatten -> 3
        with quantize = int8;
    /// A grouped 1-D convolution's.
    pub struct Conv1dQ = [2, 7] -> conv1d(4, 3, groups = 2) relu -> flatten -> 3
        with quantize = int8;
}

/// Bytes of allocation allowed per input byte.
pub const SLACK: usize = 4;

/// Bytes of allocation allowed per byte of an ONNX model: the decoded messages are larger than
/// their encoding (an empty node is 2 bytes of file and one `Node` of memory, and a `Vec` of
/// them grows by doubling).
pub const ONNX_SLACK: usize = 256;

/// Bytes of allocation allowed whatever the input (error messages, small tables).
pub const SLACK_BYTES: usize = 4096;

/// Records the largest single allocation; forwards everything to `System`.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`; recording touches one atomic.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's guarantees are `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System`; the caller guarantees the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

/// `f()`, and the largest single allocation it made (the fuzzer runs one thread).
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    let result = f();
    (result, LARGEST.load(Ordering::Relaxed))
}

/// Asserts the allocation bound for an input of `len` bytes loaded into `N`.
fn assert_bounded<N>(what: &str, len: usize, largest: usize) {
    let limit = size_of::<N>().max(SLACK * len) + SLACK_BYTES;
    assert!(
        largest <= limit,
        "{what}: a {len}-byte input made a {largest}-byte allocation (limit {limit})"
    );
}

/// Every weight and bias of `net`, in the file's order (weights in PyTorch's rows), as bits.
fn bits<N: Network>(net: &N) -> Vec<u64> {
    let mut bits = Vec::new();
    net.for_each_tensor(|_, tensor, values| {
        bits.extend(
            (0..values.len())
                .map(|k| &values[tensor.storage_index(k)])
                .map(|v| nn::Scalar::to_f64(*v).to_bits()),
        );
    });
    bits
}

/// Loads `bytes` into `N` with and without non-finite values allowed.
fn safetensors_into<N: Network>(bytes: &[u8]) {
    for options in [
        LoadOptions::new(),
        LoadOptions::new().allow_non_finite(true),
    ] {
        let (result, largest) = largest_allocation(|| load::<N>(bytes, options));
        assert_bounded::<N>(N::NAME, bytes.len(), largest);
        match result {
            Ok(net) => {
                let back = load::<N>(&save(&*net), options).expect("a saved network loads");
                assert_eq!(bits(&*back), bits(&*net), "{}: save and load", N::NAME);
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
    // A partial load: the same bounds; a complete one is the strict load (a strict load may
    // take more, by the file's numbers where a partial one matches exact keys), and an error
    // writes nothing.
    let mut net = nn::__private::zeroed_box::<N>();
    net.fill_fixed();
    let before = bits(&*net);
    let (partial, largest) =
        largest_allocation(|| load_partial(&mut *net, bytes, LoadOptions::new()));
    assert_bounded::<N>(N::NAME, bytes.len(), largest);
    match (partial, load::<N>(bytes, LoadOptions::new())) {
        (Ok(report), Ok(strict)) if report.is_complete() => {
            assert_eq!(
                bits(&*net),
                bits(&*strict),
                "{}: partial and strict",
                N::NAME
            );
        }
        (Ok(_), Ok(_)) => {}
        (Ok(report), Err(_)) => assert!(!report.is_complete(), "{}", N::NAME),
        (Err(error), strict) => {
            assert!(!error.to_string().is_empty());
            assert_eq!(bits(&*net), before, "{}: written before {error}", N::NAME);
            assert!(strict.is_err(), "{}: only the partial load failed", N::NAME);
        }
    }
    // The path of baked weights: no network type, the same checks.
    let (result, largest) =
        largest_allocation(|| load_layers::<N::Scalar>(bytes, N::LAYERS, LoadOptions::new()));
    assert_bounded::<N>(N::NAME, bytes.len(), largest);
    if let Ok(layers) = &result {
        let net = load::<N>(bytes, LoadOptions::new()).expect("load_layers accepted it");
        let flat: Vec<u64> = layers
            .iter()
            .flatten()
            .flatten()
            .map(|v| nn::Scalar::to_f64(*v).to_bits())
            .collect();
        assert_eq!(flat, bits(&*net), "{}: load_layers and load", N::NAME);
    }
}

/// Asserts that the loader reads a header as the reference implementation does, but for the
/// documented differences: a name twice, a shape of more than `MAX_DIMENSIONS`.
fn header_as_the_reference(bytes: &[u8]) {
    let Some(length) = bytes.first_chunk::<8>().map(|n| u64::from_le_bytes(*n)) else {
        return;
    };
    let Some(header) = usize::try_from(length)
        .ok()
        .and_then(|n| bytes.get(8..8_usize.checked_add(n)?))
    else {
        return;
    };
    let reference = serde_json::from_slice::<safetensors::tensor::Metadata>(header);
    let ours = match load::<Tiny>(bytes, LoadOptions::new()) {
        Err(nn::Error::Format { reason }) if reason.starts_with("the header is not valid") => {
            Some(reason)
        }
        _ => None,
    };
    match (reference, ours) {
        (Ok(_), Some(reason)) => assert!(
            reason.ends_with("appears twice") || reason.contains("at most 64 dimensions"),
            "the reference reads the header: {reason}"
        ),
        (Err(error), None) => panic!("the reference rejects the header: {error}"),
        _ => {}
    }
}

/// `bytes` as a quantised file of each int8 twin: an error with a message, or a network whose
/// saved file loads back to the same file.
macro_rules! quantized_into {
    ($bytes:expr, $($twin:ident),*) => {
        $({
            let (result, largest) = largest_allocation(|| $twin::from_safetensors($bytes));
            assert_bounded::<$twin>(stringify!($twin), $bytes.len(), largest);
            match result {
                Ok(net) => {
                    let saved = net.to_safetensors();
                    let back = $twin::from_safetensors(&saved).expect("a saved file loads");
                    assert_eq!(back.to_safetensors(), saved, "{}: save and load", stringify!($twin));
                }
                Err(error) => assert!(!error.to_string().is_empty()),
            }
        })*
    };
}

/// The safetensors target: `bytes` as a file for each network.
pub fn safetensors(bytes: &[u8]) {
    header_as_the_reference(bytes);
    quantized_into!(bytes, TinyQInt8, Conv2dQInt8, Conv1dQInt8);
    safetensors_into::<Tiny>(bytes);
    safetensors_into::<TinyF64>(bytes);
    safetensors_into::<TinyNamed>(bytes);
    safetensors_into::<Mixed>(bytes);
}

/// Deserialises `bytes` as JSON into `Box<N>`.
fn json_into<N: Network + Serialize>(bytes: &[u8])
where
    Box<N>: DeserializeOwned,
{
    let (result, largest) = largest_allocation(|| serde_json::from_slice::<Box<N>>(bytes));
    assert_bounded::<N>(N::NAME, bytes.len(), largest);
    match result {
        Ok(net) => {
            let json = serde_json::to_string(&*net).expect("serialisable");
            let back: Box<N> = serde_json::from_str(&json).expect("a written network reads");
            assert_eq!(bits(&*back), bits(&*net), "{}: write and read", N::NAME);
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

/// The JSON target: `bytes` as JSON for each network.
pub fn json(bytes: &[u8]) {
    json_into::<Tiny>(bytes);
    json_into::<TinyF64>(bytes);
    json_into::<TinyNamed>(bytes);
    json_into::<Mixed>(bytes);
}

/// Any bytes as an ONNX model: import returns (never panics), within [`ONNX_SLACK`] bytes per
/// input byte (plus [`SLACK_BYTES`]) for any single allocation; a refused model is an error with
/// a message, and an accepted one is a declaration that compiles again, with a tensor for each
/// parameter.
pub fn onnx(bytes: &[u8]) {
    let (result, largest) =
        largest_allocation(|| nn_onnx::import(bytes, &nn_onnx::Options::default()));
    let limit = ONNX_SLACK * bytes.len() + SLACK_BYTES;
    assert!(
        largest <= limit,
        "onnx: a {}-byte model made a {largest}-byte allocation (limit {limit})",
        bytes.len()
    );
    match result {
        Ok(import) => {
            let network = nn_grammar::compile_item(&import.text()).expect("the text compiles");
            assert_eq!(network, import.network);
            let parameters: usize = import.tensors.iter().map(|t| t.values.len()).sum();
            assert_eq!(parameters, import.network.parameters());
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}
