//! The compile errors the README and the guides (`docs/*.md`) show are the ones rustc prints
//! today: every `text` block that starts with `error` and points into `tests/ui/` must appear
//! verbatim in that case's `.stderr`.

use std::path::Path;

#[test]
fn readme_errors_match_the_ui_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documents = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("an entry of docs/").path();
        if path.extension().is_some_and(|e| e == "md") {
            documents.push(path);
        }
    }
    let mut checked = 0;
    for document in &documents {
        let text = std::fs::read_to_string(document)
            .unwrap_or_else(|e| panic!("{}: {e}", document.display()));
        checked += check_errors(root, &text, document);
    }
    assert!(checked >= 4, "only {checked} error blocks checked");
}

/// Checks the error blocks of one document; returns how many it holds.
fn check_errors(root: &Path, text: &str, document: &Path) -> usize {
    let mut checked = 0;
    for block in text.split("```text\n").skip(1) {
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
            "{} block not in {}:\n{block}",
            document.display(),
            stderr.display()
        );
        checked += 1;
    }
    checked
}
