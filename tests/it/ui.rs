//! Compile-fail tests of the macros: every class of mistake has a file in `tests/ui/` whose
//! `.stderr` shows the error on the offending token (what compiles is the rest of this test
//! binary, `declarations` for the README's forms). `tests/ui/weights/` bakes files that do not
//! fit (`weights = "..."`), and `tests/ui-nn-file/` has `network_file!`'s errors on its path: a file's contents cannot be
//! reached from a trybuild project (its `CARGO_MANIFEST_DIR` is elsewhere), so `nn-macros`' unit
//! tests cover problems inside a file, with `file:line:col`.
//!
//! One trybuild run for all of them, and no case that must pass: each run builds the
//! dependencies of its project first, and a case that must pass builds them twice (checked,
//! then compiled).
//!
//! The snapshots belong to this rustc: re-bless with `TRYBUILD=overwrite cargo test --test it ui`
//! and read the diff.

#[test]
fn ui() {
    crate::baked::place_weights_fixtures();
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.compile_fail("tests/ui/weights/*.rs");
    cases.compile_fail("tests/ui-nn-file/*.rs");
}
