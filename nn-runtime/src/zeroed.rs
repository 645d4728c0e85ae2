//! Building large networks directly on the heap.

/// Types for which all-zero bytes are a valid value: networks, their layers, gradients and
/// streams' states.
///
/// # Safety
///
/// Implementors must be valid when every byte is zero. Generated types implement it through
/// `__zero_init!`, which proves that each of their fields does (layers, gradients and states of
/// `f32`/`f64` arrays, and integers).
#[allow(unsafe_code)]
pub unsafe trait ZeroInit: Sized {}

/// A zeroed `T`, in a `const`: what a twin's `BAKED` is where its `weights` file could not be
/// used (the macro reports why), so that its uses add no errors of their own.
#[doc(hidden)]
#[must_use]
pub const fn zeroed_const<T: ZeroInit>() -> T {
    // SAFETY: `T: ZeroInit` promises all-zero bytes are a valid `T`.
    #[allow(unsafe_code)]
    unsafe {
        core::mem::zeroed()
    }
}

/// The first `len` elements of `buffer` with every byte `byte`; the others stay
/// uninitialised: a stack buffer sized for the largest layer, set only where a call uses it.
///
/// # Safety
///
/// `len <= N`, and a `T` whose bytes are all `byte` is valid.
#[allow(unsafe_code)]
pub(crate) unsafe fn filled_prefix<T, const N: usize>(
    buffer: &mut core::mem::MaybeUninit<[T; N]>,
    len: usize,
    byte: u8,
) -> &mut [T] {
    debug_assert!(len <= N);
    let first = buffer.as_mut_ptr().cast::<T>();
    // SAFETY: the caller's `len <= N` and valid bytes; the `len` elements are written before
    // the slice of them is made.
    unsafe {
        first.write_bytes(byte, len);
        core::slice::from_raw_parts_mut(first, len)
    }
}

/// A zeroed `T` allocated directly on the heap: never a temporary on the stack, so a 64 MiB
/// network can be built on a thread with a 2 MiB stack.
#[cfg(feature = "alloc")]
pub fn zeroed_box<T: ZeroInit>() -> alloc::boxed::Box<T> {
    let uninit = alloc::boxed::Box::<T>::new_zeroed();
    // SAFETY: the memory is zeroed and `T: ZeroInit` promises all-zero bytes are a valid `T`.
    #[allow(unsafe_code)]
    unsafe {
        uninit.assume_init()
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::Dense;

    #[test]
    fn zeroed_box_is_all_zeros() {
        let layer = zeroed_box::<Dense<300, 200, f64>>();
        assert!(layer.parts().0.iter().all(|w| *w == 0.0));
        assert!(layer.bias().iter().all(|b| *b == 0.0));
    }
}
