//! Fewer than 8 values read and written in pieces of 4, 2 and 1 (the binary digits of their
//! count, largest first), each piece one load or one store.
//!
//! A load gets what a store wrote straight from the store (store-to-load forwarding) only when
//! that one store wrote every byte the load reads; otherwise the load waits for the store to
//! reach the cache. The dense layers' last outputs and the softmax that reads them next both
//! go through these pieces (after 8 values on AVX-512 and for the second 8 on AVX2), so each of
//! its loads meets one store: a softmax of 10 values (8 plus a piece of 2) waited for its last
//! load before, when it read two overlapping halves of 8 (the `mlp` of
//! bench/benches/rtneural.rs). Loads waited for masked stores too (rows of a batch, in
//! docs/performance.md).

/// The values the pieces move: 4 bytes each, any bits (`f32` outputs, `i32` sums of the int8
/// kernels). Moved as they are, never converted.
pub(crate) trait Lane: Copy + sealed::Sealed {}

impl Lane for f32 {}
impl Lane for i32 {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for i32 {}
}

const _: () = assert!(size_of::<f32>() == 4 && size_of::<i32>() == 4 && align_of::<i32>() == 4);

use core::arch::x86_64::{
    __m128, __m256, _mm_castps_si128, _mm_castsi128_ps, _mm_load_ss, _mm_loadl_epi64, _mm_loadu_ps,
    _mm_movehl_ps, _mm_movelh_ps, _mm_setzero_ps, _mm_store_ss, _mm_storel_epi64, _mm_storeu_ps,
    _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_insertf128_ps, _mm256_zextps128_ps256,
};

/// The `x.len() < 8` values of `x` in the low lanes, zeros in the others.
#[target_feature(enable = "avx")]
#[inline]
pub(super) fn load_below_8(x: &[f32]) -> __m256 {
    let len = x.len();
    debug_assert!(len < 8);
    let p = x.as_ptr();
    // SAFETY: the pieces start at 0, `len & 4` and `len & 6` and end at `len & 4`, `len & 6`
    // and `len & 7 = len`: all in `x`. `loadu` and `loadl_epi64` (an unaligned read) accept any
    // alignment, `load_ss` an `f32`'s.
    #[allow(unsafe_code)]
    let (four, two, one) = unsafe {
        (
            if len & 4 == 0 {
                _mm_setzero_ps()
            } else {
                _mm_loadu_ps(p)
            },
            if len & 2 == 0 {
                _mm_setzero_ps()
            } else {
                _mm_castsi128_ps(_mm_loadl_epi64(p.add(len & 4).cast()))
            },
            if len & 1 == 0 {
                _mm_setzero_ps()
            } else {
                _mm_load_ss(p.add(len & 6))
            },
        )
    };
    let small = if len & 2 == 0 {
        one
    } else {
        _mm_movelh_ps(two, one)
    };
    if len & 4 == 0 {
        _mm256_zextps128_ps256(small)
    } else {
        _mm256_insertf128_ps::<1>(_mm256_zextps128_ps256(four), small)
    }
}

/// Writes the first `x.len() < 8` lanes of `v` to `x`, nothing beyond, in the pieces that
/// [`load_below_8`] reads.
#[target_feature(enable = "avx")]
#[inline]
pub(crate) fn store_below_8<T: Lane>(x: &mut [T], v: __m256) {
    let len = x.len();
    debug_assert!(len < 8);
    // A `Lane` is 4 bytes of any bits, aligned as an `f32`.
    let p = x.as_mut_ptr().cast::<f32>();
    let mut small: __m128 = _mm256_castps256_ps128(v);
    // SAFETY: as in `load_below_8`, the pieces lie in `x`; `storeu` and `storel_epi64` (an
    // unaligned copy) accept any alignment, `store_ss` an `f32`'s.
    #[allow(unsafe_code)]
    unsafe {
        if len & 4 != 0 {
            _mm_storeu_ps(p, small);
            small = _mm256_extractf128_ps::<1>(v);
        }
        if len & 2 != 0 {
            _mm_storel_epi64(p.add(len & 4).cast(), _mm_castps_si128(small));
            small = _mm_movehl_ps(small, small);
        }
        if len & 1 != 0 {
            _mm_store_ss(p.add(len & 6), small);
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::{load_below_8, store_below_8};
    use core::arch::x86_64::{_mm256_setr_ps, _mm256_storeu_ps};

    /// Each count from 0 to 7, at each offset in a buffer of sentinels: the store writes
    /// exactly its values (the sentinels around them kept), and the load gives them back with
    /// zeros in the other lanes, whatever lies beyond the row.
    #[test]
    #[allow(unsafe_code, clippy::float_cmp)]
    fn pieces_write_and_read_exactly_their_values() {
        if !std::is_x86_feature_detected!("avx") {
            // Only the AVX2 and AVX-512 kernels call the pieces, and this CPU runs neither.
            std::println!("not run: this CPU has no AVX");
            return;
        }
        let values = [1.5f32, -2.0, 3.25, 4.0, -5.5, 6.0, 7.75, 8.0];
        for len in 0..8 {
            for offset in 0..4 {
                let mut buffer = [f32::NAN; 20];
                let row = &mut buffer[offset..offset + len];
                // SAFETY: the test runs only where the CPU has AVX (checked above).
                unsafe {
                    let v = _mm256_setr_ps(1.5, -2.0, 3.25, 4.0, -5.5, 6.0, 7.75, 8.0);
                    store_below_8(row, v);
                }
                for (i, &found) in buffer.iter().enumerate() {
                    if (offset..offset + len).contains(&i) {
                        assert_eq!(found, values[i - offset], "{len} values at {offset}");
                    } else {
                        assert!(found.is_nan(), "{len} values at {offset} wrote {i}");
                    }
                }
                let mut lanes = [f32::NAN; 8];
                // SAFETY: as above; `lanes` is 8 writable `f32`s.
                unsafe {
                    let v = load_below_8(&buffer[offset..offset + len]);
                    _mm256_storeu_ps(lanes.as_mut_ptr(), v);
                }
                for (k, &lane) in lanes.iter().enumerate() {
                    let expected = if k < len { values[k] } else { 0.0 };
                    assert_eq!(lane, expected, "lane {k} of {len} values at {offset}");
                }
            }
        }
    }
}
