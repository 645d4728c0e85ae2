//! Compile-fail and compile-pass tests of `network!`: every class of mistake has a file in
//! `tests/ui/` whose `.stderr` shows the error on the offending token; `tests/ui/pass/` compiles
//! and runs.
//!
//! The snapshots belong to this rustc: re-bless with `TRYBUILD=overwrite cargo test --test it ui`
//! and read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}
