//! How the property tests of this binary run: a fixed number of cases from a fixed seed, so
//! that CI checks the same cases every time; `PROPTEST_CASES` and `PROPTEST_RNG_SEED` ask for
//! more, or others, locally.

use proptest::test_runner::{Config, RngSeed};

/// The seed CI uses.
const SEED: u64 = 0x6e6e_2d72_6f62_7573;

/// `cases` cases from the fixed seed (unless the environment says otherwise), without writing
/// regression files into the source tree.
pub fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config.failure_persistence = None;
    config
}
