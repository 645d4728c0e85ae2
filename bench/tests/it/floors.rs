//! The floors' kernels do the work they stand for: the L2 floor reads every value once.

use nn_bench::floors::{self, Line};

/// `read` sums every value exactly once, at the widest level this CPU has: small integers, so
/// that the sum is exact in any order, and distinct enough that a half read twice or skipped
/// changes it. Whole blocks of lines and a remainder (the MNIST network's 101,770 values).
#[test]
fn the_l2_floor_reads_every_value_once() {
    for floats in [16 * 64, 101_770_usize] {
        #[allow(clippy::cast_precision_loss)] // integers below 13
        let data: Vec<Line> = (0..floats.div_ceil(16))
            .map(|i| Line(std::array::from_fn(|j| ((i * 16 + j) % 13) as f32)))
            .collect();
        let expected: f32 = data.iter().flat_map(|line| line.0).sum();
        let sum = floors::read(&data).expect("a CPU with AVX2+FMA or AVX-512, as the benches");
        assert_eq!(sum.to_bits(), expected.to_bits(), "{floats} values");
    }
}
