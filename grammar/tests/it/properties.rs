//! Property tests: whatever the text, parsing and checking never panic, every diagnostic points
//! inside the text, and whatever parses prints back to text that parses to the same thing.
//!
//! Case counts are chosen so that this file runs in a few seconds in a debug build; run more
//! with `PROPTEST_CASES=100000 PROPTEST_RNG_SEED=7 cargo test -p nn-grammar --test it`.

use crate::generators::{
    apply, config, edits, syntactic_item, token_soup, unranged_item, unranged_network, valid,
};
use nn_grammar::ast::{Item, TextRange, Word};
use nn_grammar::{
    Diagnostic, check, compile_file, compile_item, compile_item_recovering, line_col, parse_file,
    parse_item, repair_file,
};
use proptest::prelude::*;

/// Whether `range` lies inside `text` and on character boundaries.
fn inside(text: &str, range: TextRange) -> bool {
    range.start <= range.end
        && range.end <= text.len()
        && text.is_char_boundary(range.start)
        && text.is_char_boundary(range.end)
}

/// Every diagnostic has a message and a range inside `text`; `line_col` can place it.
fn assert_located(text: &str, diagnostics: &[Diagnostic]) {
    assert!(
        !diagnostics.is_empty(),
        "an error without diagnostics for {text:?}"
    );
    for d in diagnostics {
        assert!(!d.message.is_empty(), "an empty message for {text:?}");
        assert!(
            inside(text, d.range),
            "diagnostic {d} lies outside {text:?} ({} bytes) or splits a character",
            text.len()
        );
        let (line, column) = line_col(text, d.range.start);
        assert!(line >= 1 && column >= 1);
    }
    assert!(
        diagnostics
            .windows(2)
            .all(|w| w[0].range.start <= w[1].range.start),
        "diagnostics out of order for {text:?}: {diagnostics:?}"
    );
}

/// Every word of a parsed item lies inside `text`, and words the parser does not normalise are
/// exactly the text at their range.
fn assert_ranges(text: &str, item: &Item) {
    let exact = |word: &Word| {
        assert!(inside(text, word.range), "{word:?} outside {text:?}");
        assert_eq!(&text[word.range.start..word.range.end], word.text);
    };
    assert!(inside(text, item.range));
    exact(&item.name);
    exact(&item.input);
    for layer in &item.layers {
        exact(&layer.width);
        assert!(inside(text, layer.range) && inside(text, layer.arrow));
        if let Some(name) = &layer.name {
            exact(name);
        }
        if let Some(activation) = &layer.activation {
            exact(&activation.name);
        }
    }
    for setting in &item.settings {
        exact(&setting.key);
        assert!(inside(text, setting.value.range));
    }
}

/// Everything a user can feed in, through every entry point. Whatever parses must print back
/// to text that parses to the same item; whatever checks must print back to text that
/// compiles to the same network.
fn assert_sound(text: &str) {
    match parse_item(text) {
        Ok(item) => {
            assert_ranges(text, &item);
            let printed = item.to_string();
            let reparsed = parse_item(&printed)
                .unwrap_or_else(|ds| panic!("{printed:?} (from {text:?}) does not parse: {ds:?}"));
            assert_eq!(
                unranged_item(&reparsed),
                unranged_item(&item),
                "{printed:?}"
            );
            match check(&item) {
                Ok(net) => {
                    let printed = net.to_string();
                    let recompiled = compile_item(&printed).unwrap_or_else(|ds| {
                        panic!("{printed:?} (from {text:?}) does not compile: {ds:?}")
                    });
                    assert_eq!(unranged_network(&recompiled), unranged_network(&net));
                }
                Err(ds) => assert_located(text, &ds),
            }
        }
        Err(ds) => {
            assert_eq!(ds.len(), 1, "one syntax error at a time");
            assert_located(text, &ds);
        }
    }
    match compile_item(text) {
        Ok(_) => {}
        Err(ds) => assert_located(text, &ds),
    }
    // Recovery reports exactly what compiling reports, and what it recovers is a network that
    // compiles: what the macro generates code from.
    let recovered = compile_item_recovering(text);
    assert_eq!(
        recovered.problems,
        compile_item(text).err().unwrap_or_default()
    );
    assert!(recovered.network.is_some() || !recovered.problems.is_empty());
    if let Some(net) = &recovered.network {
        let printed = net.to_string();
        compile_item(&printed).unwrap_or_else(|ds| {
            panic!("recovered {printed:?} (from {text:?}) does not compile: {ds:?}")
        });
        assert_eq!(Some(net.input), recovered.input);
        assert_eq!(Some(net.output()), recovered.output);
    }
    match parse_file(text) {
        Ok(items) => {
            for item in &items {
                assert_ranges(text, item);
            }
        }
        Err(ds) => {
            assert_located(text, &ds);
            for item in repair_file(text, &ds[0]).unwrap_or_default() {
                assert!(check(&item).is_ok());
            }
        }
    }
    match compile_file(text) {
        Ok(_) => {}
        Err(ds) => assert_located(text, &ds),
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Syntactically valid items of any meaning print and re-parse to the same item.
    #[test]
    fn printed_items_parse_to_the_same_item(item in syntactic_item()) {
        let text = item.to_string();
        let parsed = parse_item(&text).unwrap_or_else(|ds| panic!("{text:?}: {ds:?}"));
        assert_ranges(&text, &parsed);
        prop_assert_eq!(unranged_item(&parsed), item);
        // In a `.nn` file too, three times over.
        let file = format!("{text}\n{text}\n\n{text}");
        let items = parse_file(&file).unwrap_or_else(|ds| panic!("{file:?}: {ds:?}"));
        prop_assert_eq!(items.len(), 3);
        for parsed in &items {
            prop_assert_eq!(&unranged_item(parsed), &unranged_item(&items[0]));
        }
        assert_sound(&text);
    }

    /// Valid declarations, spaced and commented at random, compile to the network they
    /// describe, whose canonical text compiles to the same network.
    #[test]
    fn valid_declarations_compile_and_round_trip(valid in valid()) {
        let net = compile_item(&valid.text)
            .unwrap_or_else(|ds| panic!("{:?} does not compile: {ds:?}", valid.text));
        prop_assert_eq!(&unranged_network(&net), &valid.network, "{}", valid.text);
        prop_assert!(inside(&valid.text, net.range));
        prop_assert_eq!(&valid.text[net.name_range.start..net.name_range.end], net.name.as_str());
        let printed = net.to_string();
        let again = compile_item(&printed).unwrap_or_else(|ds| panic!("{printed:?}: {ds:?}"));
        prop_assert_eq!(unranged_network(&again), valid.network);
        prop_assert_eq!(again.to_string(), printed);
        assert_sound(&valid.text);
    }

    /// Valid declarations with a few random edits: never a panic, diagnostics inside.
    #[test]
    fn edited_declarations_never_panic(valid in valid(), edits in edits()) {
        assert_sound(&apply(&valid.text, &edits));
    }

    /// Sequences of the language's words, and of what users mistype.
    #[test]
    fn token_soups_never_panic(text in token_soup()) {
        assert_sound(&text);
    }

    /// Any text at all.
    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        assert_sound(&text);
    }

    /// Several declarations, some broken, in one file.
    #[test]
    fn files_never_panic(a in valid(), b in token_soup(), c in valid(), edits in edits()) {
        let file = format!("{}\n{}\n{}", a.text, apply(&b, &edits), c.text);
        assert_sound(&file);
        let both = format!("{}\n{}", a.text, c.text);
        let nets = compile_file(&both).unwrap_or_else(|ds| panic!("{both:?}: {ds:?}"));
        prop_assert_eq!(nets.len(), 2);
        prop_assert_eq!(unranged_network(&nets[1]), c.network);
    }

    /// `line_col` takes any offset, even one inside a character or past the end.
    #[test]
    fn line_col_takes_any_offset(text in any::<String>(), offset in 0usize..200) {
        let (line, column) = line_col(&text, offset);
        prop_assert!(line >= 1 && line <= text.len() + 1);
        prop_assert!(column >= 1 && column <= text.chars().count() + 1);
    }
}

/// What the properties above found, pinned down.
#[test]
fn regressions_found_by_these_properties() {
    // A comment after `pub` was taken into the visibility (`pub//comment`), and into spans.
    let net = compile_item("pub // a comment\nstruct A = 1 -> 1;").unwrap();
    assert_eq!(net.visibility, "pub");
    let net = compile_item("pub ( /* c */ crate ) struct A = 1 -> 1 leaky_relu(- /* c */ 0.5);");
    let net = net.unwrap();
    assert_eq!(
        net.to_string(),
        "pub(crate) struct A = 1 -> 1 leaky_relu(-0.5);"
    );
    let item = parse_item("struct A = 1 -> 2 /* c */ ;").unwrap();
    assert_eq!(item.layers[0].range, TextRange::new(13, 17));
    // A file name lost its spaces.
    let net = compile_item("struct A = 1 -> 1 with weights = \"my net.safetensors\";").unwrap();
    assert_eq!(net.weights.unwrap().0, "my net.safetensors");
    // An alpha that overflows `f32` made the code generator panic; in `f64` it is fine.
    let ds = compile_item("struct A = 1 -> 1 leaky_relu(1e300);").unwrap_err();
    assert_eq!(ds[0].range, TextRange::new(29, 34));
    assert!(ds[0].message.contains("fits in `f32`"), "{}", ds[0].message);
    assert!(compile_item("struct A = 1 -> 1 leaky_relu(1e300) with scalar = f64;").is_ok());
    let ds = compile_item("struct A = 1 -> 1 elu(1e-50);").unwrap_err();
    assert!(ds[0].message.contains("0 as an `f32`"), "{}", ds[0].message);
    // A struct named like a primitive type hides it from the generated code.
    let ds = compile_item("struct f32 = 1 -> 1;").unwrap_err();
    assert_eq!(ds[0].range, TextRange::new(7, 10));
    // `line_col` panicked on an offset inside a character.
    assert_eq!(line_col("é", 1), (1, 1));
}
