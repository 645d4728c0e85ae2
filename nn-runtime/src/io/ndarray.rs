//! Batches as `ndarray` matrices, one sample a row: what generated `forward_ndarray` calls.

use crate::{Error, Scalar};
use alloc::vec;
use alloc::vec::Vec;
use ndarray::{Array2, ArrayView2, Axis};

/// Bytes of input copied at a time when the rows of a view are not contiguous.
const CHUNK_BYTES: usize = 64 * 1024;

/// Runs `batch` (a network's `forward_batch`) on every row of `input` and returns one row of
/// outputs per input row.
///
/// A view in standard (row-major, contiguous) layout is passed to `batch` as it is; any other
/// view is copied into contiguous rows, 64 KiB at a time.
///
/// # Errors
///
/// [`Error::Columns`] naming `first` when `input` does not have `IN` columns,
/// [`Error::OutputTooLarge`] naming `last` when the outputs of its rows cannot be allocated,
/// and whatever `batch` returns.
// Views are small and `Copy`-like: taken by value, as ndarray's own functions take them.
#[allow(clippy::needless_pass_by_value)]
pub fn forward<T: Scalar, const IN: usize, const OUT: usize>(
    input: ArrayView2<'_, T>,
    first: &'static str,
    last: &'static str,
    batch: impl Fn(&[[T; IN]], &mut [[T; OUT]]) -> Result<(), Error>,
) -> Result<Array2<T>, Error> {
    if input.ncols() != IN {
        return Err(Error::Columns {
            layer: first,
            expected: IN,
            found: input.ncols(),
        });
    }
    let rows = input.nrows();
    let too_large = || Error::OutputTooLarge {
        layer: last,
        rows,
        width: OUT,
    };
    let mut output = Vec::new();
    let length = rows.checked_mul(OUT).ok_or_else(too_large)?;
    output.try_reserve_exact(length).map_err(|_| too_large())?;
    output.resize(length, T::ZERO);
    let (output_rows, _) = output.as_chunks_mut::<OUT>();
    if let Some(contiguous) = input.as_slice() {
        batch(contiguous.as_chunks::<IN>().0, output_rows)?;
    } else {
        let chunk = (CHUNK_BYTES / (IN * core::mem::size_of::<T>())).clamp(1, rows.max(1));
        let mut buffer = vec![T::ZERO; chunk * IN];
        for (block, outputs) in input
            .axis_chunks_iter(Axis(0), chunk)
            .zip(output_rows.chunks_mut(chunk))
        {
            let buffer = &mut buffer[..block.nrows() * IN];
            for (row, copy) in block.rows().into_iter().zip(buffer.chunks_exact_mut(IN)) {
                for (to, from) in copy.iter_mut().zip(row) {
                    *to = *from;
                }
            }
            batch(buffer.as_chunks::<IN>().0, outputs)?;
        }
    }
    let found = output.len();
    Array2::from_shape_vec((rows, OUT), output).map_err(|_| Error::Output {
        layer: last,
        expected: rows * OUT,
        found,
    })
}
