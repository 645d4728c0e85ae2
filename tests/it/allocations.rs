//! `forward` never touches the heap: a counting global allocator, per thread so that tests
//! running in parallel do not count each other's allocations. It also records the largest
//! single allocation, which the loader tests bound (`tests/it/fuzz.rs`).

use nn::Network as _;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::hint::black_box;

struct Counting;

thread_local! {
    /// Allocations made by this thread. `const` and without `Drop`, so reading it never
    /// allocates, even while the thread is being torn down.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// The largest single allocation (or reallocation, by its new size) this thread made since
    /// [`largest_allocation_during`] last reset it.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn count(size: usize) {
    // `try_with` fails only once the thread's locals are gone; those late allocations belong
    // to no test.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; counting touches only a thread-local `Cell` and never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's guarantees for `alloc` are `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: `ptr` came from this allocator, which is `System`; the caller guarantees the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations this thread has made so far.
pub(crate) fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Heap allocations this thread makes while running `f`.
fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// What `f` returns, and the size in bytes of the largest single allocation this thread made
/// while running it.
pub fn largest_allocation_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let outer = LARGEST.with(|largest| largest.replace(0));
    let result = f();
    let largest = LARGEST.with(Cell::get);
    // Calls may nest: the outer one still sees this one's allocations.
    LARGEST.with(|cell| cell.set(outer.max(largest)));
    (result, largest)
}

nn::network! {
    struct Mnist = 784 -> 128 relu -> 10 softmax;
    struct Everything = 16 -> 16 leaky_relu(0.1) -> 16 elu -> 16 sigmoid -> 16 tanh -> 16 silu
        -> 16 gelu -> 16 softplus -> 16 -> 8 log_softmax with scalar = f64;
    struct Xor = 2 -> 2 relu -> 1 sigmoid with unroll = full;
}

/// A `fmt::Write` into a fixed buffer, to print without allocating.
struct Fixed {
    bytes: [u8; 4096],
    len: usize,
}

impl std::fmt::Write for Fixed {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[test]
fn the_counter_sees_the_heap() {
    // `random` builds the network in a `Box`: at least one allocation, or the counter is broken.
    let mut net = None;
    let counted = allocations_during(|| net = Some(Mnist::random(1)));
    assert!(counted >= 1, "{counted}");
    assert!(allocations_during(|| drop(black_box(vec![1_u8; 10]))) >= 1);
    drop(net);
    // The largest one, through `realloc` too, and nested.
    let (((), inner), outer) = largest_allocation_during(|| {
        let mut bytes = black_box(vec![1_u8; 100]);
        bytes.reserve_exact(1000);
        largest_allocation_during(|| drop(black_box(vec![2_u8; 10])))
    });
    assert_eq!((inner, outer), (10, 1100));
    assert_eq!(largest_allocation_during(|| black_box(1 + 1)), (2, 0));
}

#[test]
fn forward_does_not_allocate() {
    let mnist = Mnist::random(1);
    let everything = Everything::random(2);
    let xor = Xor::random(3);
    let pixels = [0.25_f32; 784];
    let features: [f64; 16] = std::array::from_fn(|i| i as f64 - 8.0);
    let mut sum = 0.0;
    let counted = allocations_during(|| {
        for _ in 0..200 {
            sum += f64::from(black_box(&mnist).forward(black_box(&pixels))[3]);
            sum += black_box(&everything).forward(black_box(&features))[5];
            sum += f64::from(black_box(&xor).forward(black_box(&[1.0, 0.0]))[0]);
        }
    });
    assert_eq!(counted, 0);
    assert!(sum.is_finite() && sum != 0.0);
}

#[test]
fn slices_batches_and_summaries_do_not_allocate() {
    let mnist = Mnist::random(1);
    let inputs = [[0.5_f32; 784]; 4];
    let mut outputs = [[0.0_f32; 10]; 4];
    let mut slice_out = [0.0_f32; 10];
    let mut text = Fixed {
        bytes: [0; 4096],
        len: 0,
    };
    let counted = allocations_during(|| {
        mnist.forward_batch(&inputs, &mut outputs).unwrap();
        mnist.forward_slice(&inputs[0], &mut slice_out).unwrap();
        // The error path too: a wrong length is a value, not a formatted string.
        assert!(
            mnist
                .forward_slice(&inputs[0][..783], &mut slice_out)
                .is_err()
        );
        assert!(mnist.forward_batch(&inputs, &mut outputs[..3]).is_err());
        write!(text, "{}", Mnist::summary()).unwrap();
    });
    assert_eq!(counted, 0);
    assert_eq!(outputs[3], slice_out);
    assert!(
        std::str::from_utf8(&text.bytes[..text.len])
            .unwrap()
            .contains("Total params: 101,770")
    );
}
