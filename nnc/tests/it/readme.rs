//! The `nnc` guide (`docs/nnc.md`) shows real output: each command shown, run again, prints what
//! the guide says.

use crate::{nnc, root};

fn readme() -> String {
    std::fs::read_to_string(root().join("docs/nnc.md")).expect("docs/nnc.md")
}

/// The guide's fenced block right after the line holding `` `command`: ``.
fn block_after(readme: &str, command: &str) -> String {
    let at = readme
        .find(&format!("`{command}`:\n"))
        .unwrap_or_else(|| panic!("docs/nnc.md shows `{command}`"));
    let rest = &readme[at..];
    let start = rest.find("```text\n").expect("a text block") + "```text\n".len();
    let end = rest[start..].find("```").expect("a closed block");
    rest[start..start + end].to_owned()
}

#[test]
fn check_output_is_real() {
    let run = nnc(&root(), &["check", "docs/typo.nn"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        format!("{}\n", run.stderr.trim_end()),
        block_after(&readme(), "nnc check docs/typo.nn")
    );
}

#[test]
fn summary_output_is_real() {
    let run = nnc(&root(), &["summary", "models/mnist.nn"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        block_after(&readme(), "nnc summary models/mnist.nn")
    );
}

#[test]
fn the_picture_is_what_nnc_draws() {
    let run = nnc(&root(), &["graph", "models/mnist.nn"]);
    assert_eq!(run.code, 0);
    let committed = std::fs::read_to_string(root().join("docs/mnist.svg")).expect("docs/mnist.svg");
    assert!(
        run.stdout == committed,
        "docs/mnist.svg is stale: regenerate it with\n\
         cargo run -p nnc -- graph models/mnist.nn -o docs/mnist.svg"
    );
    assert!(readme().contains("`nnc graph models/mnist.nn -o docs/mnist.svg`"));
    // The guide sits beside the picture in docs/.
    assert!(readme().contains("](mnist.svg)"));
}

#[test]
fn the_lenet_picture_and_summary_in_the_guide_are_what_nnc_makes() {
    let run = nnc(&root(), &["graph", "models/lenet.nn"]);
    assert_eq!(run.code, 0);
    let committed = std::fs::read_to_string(root().join("docs/lenet.svg")).expect("docs/lenet.svg");
    assert!(
        run.stdout == committed,
        "docs/lenet.svg is stale: regenerate it with\n\
         cargo run -p nnc -- graph models/lenet.nn -o docs/lenet.svg"
    );
    let guide = std::fs::read_to_string(root().join("docs/nnc.md")).expect("docs/nnc.md");
    assert!(guide.contains("`nnc graph models/lenet.nn -o docs/lenet.svg`"));
    assert!(guide.contains("](lenet.svg)"));
    let summary = nnc(&root(), &["summary", "models/lenet.nn"]);
    assert_eq!(summary.code, 0);
    assert_eq!(
        summary.stdout,
        block_after(&guide, "nnc summary models/lenet.nn")
    );
}
