//! The compile errors the README shows are the ones rustc prints today: every `text` block that
//! starts with `error` and points into `tests/ui/` must appear verbatim in that case's `.stderr`.

use std::path::Path;

#[test]
fn readme_errors_match_the_ui_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let mut checked = 0;
    for block in readme.split("```text\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        let Some(case) = block
            .lines()
            .find_map(|line| line.trim().strip_prefix("--> tests/ui/"))
            .and_then(|location| location.split(':').next())
        else {
            continue;
        };
        if !block.starts_with("error") {
            continue;
        }
        let stderr = root.join("tests/ui").join(case).with_extension("stderr");
        let expected = std::fs::read_to_string(&stderr)
            .unwrap_or_else(|e| panic!("{}: {e}", stderr.display()));
        assert!(
            expected.contains(block.trim_end()),
            "README block not in {}:\n{block}",
            stderr.display()
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} README error blocks checked");
}
