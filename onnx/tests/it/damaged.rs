//! Damaged files: import never panics, whatever the bytes, and keeps its allocations within
//! the bound of `allocations.rs`.

use crate::{MODELS, fixture};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Every fixture's bytes.
fn seeds() -> Vec<Vec<u8>> {
    MODELS
        .iter()
        .chain(&["unsupported", "dynamic"])
        .map(|stem| std::fs::read(fixture(&format!("{stem}.onnx"))).unwrap())
        .collect()
}

/// One edit of a file: a byte replaced, a range removed, bytes inserted, or a cut.
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Remove(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let len = bytes.len().max(1);
    match edit {
        Edit::Set(at, value) => {
            if let Some(byte) = bytes.get_mut(at % len) {
                *byte = *value;
            }
        }
        Edit::Remove(at, count) => {
            let start = (at % len).min(bytes.len());
            let end = (start + count).min(bytes.len());
            bytes.drain(start..end);
        }
        Edit::Insert(at, inserted) => {
            let at = (at % len).min(bytes.len());
            bytes.splice(at..at, inserted.iter().copied());
        }
        Edit::Truncate(at) => bytes.truncate(at % len),
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, v)| Edit::Set(a, v)),
        (any::<usize>(), 1..16usize).prop_map(|(a, n)| Edit::Remove(a, n)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(a, v)| Edit::Insert(a, v)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

#[test]
fn no_panic_on_edited_models() {
    let seeds = seeds();
    let config = Config {
        cases: 2048,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[16; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = (0..seeds.len(), prop::collection::vec(edit(), 1..4));
    let refused = std::cell::Cell::new(0usize);
    runner
        .run(&strategy, |(seed, edits)| {
            let mut bytes = seeds[seed].clone();
            for edit in &edits {
                apply(&mut bytes, edit);
            }
            crate::allocations::assert_bounded(&bytes);
            let result = nn_onnx::import(&bytes, &nn_onnx::Options::default());
            refused.set(refused.get() + usize::from(result.is_err()));
            if let Ok(import) = result {
                // What import accepts is a checked declaration that compiles again.
                prop_assert!(nn_grammar::compile_item(&import.text()).is_ok());
            }
            Ok(())
        })
        .unwrap();
    assert!(refused.get() > 0, "every edited model imported");
}

#[test]
fn no_panic_on_random_bytes() {
    let config = Config {
        cases: 1024,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[61; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            crate::allocations::assert_bounded(&bytes);
            Ok(())
        })
        .unwrap();
}
