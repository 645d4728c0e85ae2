//! Running a batch in chunks, on rayon's thread pool when the `rayon` feature is on.

/// A value aligned to 64 bytes, a cache line: `forward_batch` keeps each layer's outputs for a
/// chunk of samples in one, so that the next layer's vector loads of them never straddle lines.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct Aligned<T>(pub T);

/// Batches with at least this many multiply-adds in total are split across rayon's threads
/// (feature `rayon`): a few times what waking the pool costs, so that smaller batches stay on
/// this thread. Split batches: `nn_rayon` in `mnist_b256` (bench/benches/forward.rs).
pub const PARALLEL_WORK: usize = 1 << 22;

/// Calls `f` on successive chunks of `chunk` input rows and the matching output rows.
///
/// With the `rayon` feature, batches of at least [`PARALLEL_WORK`] multiply-adds
/// (`inputs.len() * work_per_row`) and more than one chunk run their chunks in parallel on
/// rayon's current pool, if it has more than one thread; otherwise, and without the feature,
/// they run in order on this thread. (Handing a batch to a pool of one thread only adds the
/// cost of waking it and waiting: `nn` in `mnist_b256`, bench/benches/forward.rs, which
/// `bench/run.sh` runs with the feature on a pool of one thread.)
/// The bounds on `f` are the same either way, so that generated code does not depend on the
/// feature. Pairs beyond the shorter of the two slices are not visited.
#[inline]
pub fn for_each_chunk<I, O, F>(
    inputs: &[I],
    outputs: &mut [O],
    chunk: usize,
    work_per_row: usize,
    f: F,
) where
    I: Sync,
    O: Send,
    F: Fn(&[I], &mut [O]) + Sync + Send,
{
    let chunk = chunk.max(1);
    #[cfg(feature = "rayon")]
    if inputs.len() > chunk
        && inputs.len().saturating_mul(work_per_row) >= PARALLEL_WORK
        && rayon::current_num_threads() > 1
    {
        use rayon::iter::{IndexedParallelIterator as _, ParallelIterator as _};
        use rayon::slice::{ParallelSlice as _, ParallelSliceMut as _};
        inputs
            .par_chunks(chunk)
            .zip(outputs.par_chunks_mut(chunk))
            .for_each(|(inputs, outputs)| f(inputs, outputs));
        return;
    }
    #[cfg(not(feature = "rayon"))]
    let _ = work_per_row;
    for (inputs, outputs) in inputs.chunks(chunk).zip(outputs.chunks_mut(chunk)) {
        f(inputs, outputs);
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn every_row_is_visited_once_in_large_and_small_batches() {
        for (rows, work) in [(5, 1), (1000, 1), (1000, PARALLEL_WORK)] {
            let inputs: Vec<u32> = (0..rows).collect();
            let mut outputs = std::vec![0_u32; rows as usize];
            for_each_chunk(&inputs, &mut outputs, 64, work, |i, o| {
                assert!(i.len() <= 64);
                for (i, o) in i.iter().zip(o) {
                    *o += i * 2 + 1;
                }
            });
            assert!(
                outputs
                    .iter()
                    .enumerate()
                    .all(|(i, o)| *o as usize == i * 2 + 1)
            );
        }
    }
}
