//! No single allocation of an import is larger than a fixed multiple of the model's size: the
//! decoder checks every length against the bytes left before it allocates, and tensors are
//! converted after their element counts are checked against their data.

use crate::{MODELS, fixture};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Bytes of allocation allowed per byte of model (the fuzz target's `ONNX_SLACK`).
const SLACK: usize = 256;
/// Bytes allowed whatever the model (messages, small tables).
const SLACK_BYTES: usize = 4096;

thread_local! {
    /// The largest single allocation of this thread since it was reset.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// Records each thread's largest allocation; forwards everything to `System`.
struct Largest;

fn record(size: usize) {
    // During a thread's teardown the slot may be gone: that allocation is not an import's.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every method forwards its arguments unchanged to `System`; recording touches a
// thread-local `Cell` that holds no heap memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's guarantees are `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
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

/// Imports `bytes` and asserts the bound on its largest allocation.
pub fn assert_bounded(bytes: &[u8]) {
    LARGEST.with(|largest| largest.set(0));
    let result = nn_onnx::import(bytes, &nn_onnx::Options::default());
    let largest = LARGEST.with(Cell::get);
    drop(result);
    let limit = SLACK * bytes.len() + SLACK_BYTES;
    assert!(
        largest <= limit,
        "a {}-byte model made a {largest}-byte allocation (limit {limit})",
        bytes.len()
    );
}

#[test]
fn the_fixtures_allocate_within_the_bound() {
    for stem in MODELS {
        assert_bounded(&std::fs::read(fixture(&format!("{stem}.onnx"))).unwrap());
    }
}

#[test]
fn sizes_that_the_bytes_do_not_hold_allocate_nothing_large() {
    // A graph (field 7) holding one initializer (field 5) with dims [2^40] (field 1) and
    // data type float (field 2), but no data.
    let tensor = [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x10, 0x01];
    let mut initializer = vec![0x2a, u8::try_from(tensor.len()).unwrap()];
    initializer.extend_from_slice(&tensor);
    let mut model = vec![0x3a, u8::try_from(initializer.len()).unwrap()];
    model.extend_from_slice(&initializer);
    assert_bounded(&model);
    // Many empty nodes: each two bytes of file.
    let nodes: Vec<u8> = [0x0a, 0x00].repeat(10_000);
    let mut graph = vec![0x3a];
    let mut length = nodes.len();
    while length >= 0x80 {
        graph.push(u8::try_from(length & 0x7f).unwrap() | 0x80);
        length >>= 7;
    }
    graph.push(u8::try_from(length).unwrap());
    graph.extend_from_slice(&nodes);
    assert_bounded(&graph);
}
