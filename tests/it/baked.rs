//! `weights = "file"`: the macro reads the file while compiling, with the runtime's reader, and
//! `BAKED` holds exactly what `from_safetensors` loads; a file that does not fit is a compile
//! error on the option (UI tests in `tests/ui/weights/`).

// Loading is exact: values are compared bit for bit.
#![allow(clippy::float_cmp)]

use crate::fixtures::{Tiny, TinyF64, bytes};
use std::path::Path;

nn::network! {
    /// The fixtures' network, weights baked in from the F32 file.
    pub struct Baked = 5 -> 4 relu -> 3 softmax
        with weights = "tests/fixtures/tiny_f32.safetensors";
}

nn::network! {
    /// Named layers, baked from the F16 file of a `nn.Sequential`.
    pub struct BakedHalf = 5 -> 4 relu as hidden -> 3 softmax as output
        with weights = "tests/fixtures/tiny_f16.safetensors";
}

nn::network! {
    /// `f64`, baked from the F64 file.
    pub struct BakedWide = 5 -> 4 relu -> 3 softmax
        with scalar = f64, weights = "tests/fixtures/tiny_f64.safetensors";
}

/// No allocator needed: a `static` initialised at compile time.
static NET: Baked = Baked::BAKED;

#[test]
fn baked_weights_are_what_the_runtime_loads() {
    let loaded = Tiny::from_safetensors(&bytes("tiny_f32")).expect("F32 file");
    assert_eq!(NET.layer0.columns(), loaded.layer0.columns());
    assert_eq!(NET.layer0.bias(), loaded.layer0.bias());
    assert_eq!(NET.layer1.columns(), loaded.layer1.columns());
    assert_eq!(NET.layer1.bias(), loaded.layer1.bias());
    let x = [0.25, -0.5, 1.0, 0.0, 0.75];
    assert_eq!(NET.forward(&x), loaded.forward(&x));

    let half: &'static BakedHalf = &BakedHalf::BAKED;
    let loaded = Tiny::from_safetensors(&bytes("tiny_f16")).expect("F16 file");
    assert_eq!(half.hidden.columns(), loaded.layer0.columns());
    assert_eq!(half.output.bias(), loaded.layer1.bias());

    let wide: &'static BakedWide = &BakedWide::BAKED;
    let loaded = TinyF64::from_safetensors(&bytes("tiny_f64")).expect("F64 file");
    assert_eq!(wide.layer0.columns(), loaded.layer0.columns());
    assert_eq!(wide.layer1.bias(), loaded.layer1.bias());
}

/// Puts the files that `tests/ui/weights/` bakes where its cases look for them: trybuild
/// compiles each case as a crate in `<target>/tests/trybuild/nn/`, the directory a `weights =
/// "..."` path is relative to.
pub(crate) fn place_weights_fixtures() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory");
    let project = target.join("tests/trybuild/nn/weights-fixtures");
    std::fs::create_dir_all(&project).expect("writable target directory");
    for name in [
        "transposed",
        "int64",
        "tiny_f32",
        "norm_features",
        "digits_int8",
    ] {
        std::fs::copy(
            crate::fixtures::path(&format!("{name}.safetensors")),
            project.join(format!("{name}.safetensors")),
        )
        .expect("copied fixture");
    }
    // The fixtures' network with one weight beyond binary16's range, written here.
    let mut wide = Tiny::zeroed();
    wide.layer0.columns_mut()[0][0] = 70_000.0;
    std::fs::write(
        project.join("f16_overflow.safetensors"),
        wide.to_safetensors(),
    )
    .expect("writable target directory");
}

/// The generated I/O methods, serde impls and `BAKED` name nothing the user's module can
/// shadow.
mod hygiene {
    #![deny(warnings)]
    #![allow(dead_code, clippy::unnecessary_box_returns)]

    struct Result;
    struct Ok;
    struct Err;
    struct Option;
    struct Some;
    struct Box;
    struct Vec;
    struct Path;
    struct AsRef;
    mod core {}
    mod std {}
    mod nn {}
    mod serde {}
    mod ndarray {}

    ::nn::network! {
        /// Every generated item, in a module that shadows the prelude.
        pub struct Shadowed = 5 -> 4 relu as hidden -> 3 softmax
            with weights = "tests/fixtures/tiny_f32.safetensors";
    }

    #[test]
    fn expands_and_runs() {
        static NET: Shadowed = Shadowed::BAKED;
        let bytes = NET.to_safetensors();
        let net = Shadowed::from_safetensors(&bytes).expect("round trip");
        assert_eq!(net.forward(&[0.5; 5]), NET.forward(&[0.5; 5]));
    }
}
