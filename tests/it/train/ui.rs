//! A loss that does not fit the output activation is a compile error that says so.

#[test]
fn loss_mismatch_is_a_compile_error() {
    trybuild::TestCases::new().compile_fail("tests/ui/loss_mismatch.rs");
}
