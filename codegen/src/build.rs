//! Compiling `.nn` files from a build script (feature `pretty`).
//!
//! In `build.rs`'s `main`, with `nn-codegen` (feature `pretty`) as a build dependency:
//!
//! ```no_run
//! // Writes `$OUT_DIR/iris.rs` and reruns the build script when the file changes.
//! nn_codegen::build::compile("models/iris.nn").unwrap_or_else(|e| panic!("{e}"));
//! ```
//!
//! and in the crate, `include!(concat!(env!("OUT_DIR"), "/iris.rs"));`. The file is what
//! `nnc build models/iris.nn` prints.
//!
//! With the feature `onnx`, [`import_onnx`] does the same for an ONNX model, so that a project
//! keeps only the `.onnx` file under version control: it writes the declaration `nnc import`
//! writes, its Rust, and the weights.

use core::fmt;
use nn_grammar::line_col;
use std::path::{Path, PathBuf};
use std::{env, fs, io};

/// Why a `.nn` file could not be compiled.
///
/// `{:?}` prints the message, as `Display` does, and `{:#?}` the variant and its fields, as
/// `nn::Error` does: a build script's `fn main() -> Result<(), Error>` (or `unwrap`) shows the
/// problems as `file:line:col: message` lines, not as a `Vec` of strings.
#[non_exhaustive]
pub enum Error {
    /// An environment variable Cargo sets for build scripts is missing.
    Env {
        /// `CARGO_MANIFEST_DIR` or `OUT_DIR`.
        name: &'static str,
    },
    /// The `.nn` file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The generated file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file has errors.
    Compile {
        /// The file.
        path: PathBuf,
        /// Every problem, as `line:col: message`.
        problems: Vec<String>,
    },
    /// Two files given to [`compile`] or [`import_onnx`] in one build script would write the
    /// same file in `$OUT_DIR` (their names differ only in the directory, or in the extension
    /// of an `.nn` and an `.onnx` file).
    SameOutput {
        /// The file both would write.
        output: PathBuf,
        /// The file given first.
        first: PathBuf,
        /// The file given second.
        second: PathBuf,
    },
    /// The ONNX model cannot be imported.
    #[cfg(feature = "onnx")]
    Import {
        /// The model.
        path: PathBuf,
        /// Why, with every problem.
        source: nn_onnx::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env { name } => write!(
                f,
                "environment variable `{name}` is not set: call `nn_codegen::build::compile` from a build script"
            ),
            Self::Read { path, source } => write!(f, "cannot read `{}`: {source}", path.display()),
            Self::Write { path, source } => {
                write!(f, "cannot write `{}`: {source}", path.display())
            }
            Self::Compile { path, problems } => {
                let count = problems.len();
                write!(
                    f,
                    "`{}` has {count} error{}",
                    path.display(),
                    if count == 1 { "" } else { "s" }
                )?;
                for problem in problems {
                    write!(f, "\n{}:{problem}", path.display())?;
                }
                Ok(())
            }
            Self::SameOutput {
                output,
                first,
                second,
            } => write!(
                f,
                "`{}` and `{}` would both write `{}`: rename one, or write it where you choose \
                 with `compile_to`",
                first.display(),
                second.display(),
                output.display()
            ),
            #[cfg(feature = "onnx")]
            Self::Import { path, source } => write!(f, "`{}`: {source}", path.display()),
        }
    }
}

impl fmt::Debug for Error {
    /// The message with `{:?}`, the variant and its fields with `{:#?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        match self {
            Self::Env { name } => f.debug_struct("Env").field("name", name).finish(),
            Self::Read { path, source } => f
                .debug_struct("Read")
                .field("path", path)
                .field("source", source)
                .finish(),
            Self::Write { path, source } => f
                .debug_struct("Write")
                .field("path", path)
                .field("source", source)
                .finish(),
            Self::Compile { path, problems } => f
                .debug_struct("Compile")
                .field("path", path)
                .field("problems", problems)
                .finish(),
            Self::SameOutput {
                output,
                first,
                second,
            } => f
                .debug_struct("SameOutput")
                .field("output", output)
                .field("first", first)
                .field("second", second)
                .finish(),
            #[cfg(feature = "onnx")]
            Self::Import { path, source } => f
                .debug_struct("Import")
                .field("path", path)
                .field("source", source)
                .finish(),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } | Self::Write { source, .. } => Some(source),
            #[cfg(feature = "onnx")]
            Self::Import { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Compiles `path` (relative to `CARGO_MANIFEST_DIR`) to `$OUT_DIR/<file stem>.rs`, tells Cargo
/// to rerun the build script when the file changes, and returns the path written.
///
/// # Errors
///
/// [`Error::Env`] outside a build script, [`Error::Read`] and [`Error::Write`] for I/O,
/// [`Error::SameOutput`] for a file whose output another file of this build script writes, and
/// [`Error::Compile`] with every problem of the file.
pub fn compile(path: impl AsRef<Path>) -> Result<PathBuf, Error> {
    let path = path.as_ref();
    let (manifest_dir, out_dir) = (var("CARGO_MANIFEST_DIR")?, var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", path.display());
    compile_in(&manifest_dir, &out_dir, path)
}

/// An environment variable that Cargo sets for build scripts.
fn var(name: &'static str) -> Result<PathBuf, Error> {
    env::var_os(name)
        .map(PathBuf::from)
        .ok_or(Error::Env { name })
}

/// [`compile`] with its directories given.
fn compile_in(manifest_dir: &Path, out_dir: &Path, path: &Path) -> Result<PathBuf, Error> {
    let output = out_file(out_dir, path, "rs");
    claim(&output, manifest_dir, path)?;
    compile_named(&manifest_dir.join(path), path, &output)?;
    Ok(output)
}

/// `<stem>.<extension>` in `out_dir`, the stem being `path`'s file name without its last
/// extension (`net.v2.nn` gives `net.v2.rs`).
fn out_file(out_dir: &Path, path: &Path, extension: &str) -> PathBuf {
    let mut name = path.file_stem().unwrap_or(path.as_os_str()).to_os_string();
    name.push(".");
    name.push(extension);
    out_dir.join(name)
}

/// Records that `input` (as given, relative to `manifest_dir`) writes `output` in this build
/// script, refusing an `output` that another file writes: the second would replace the first's
/// file. One file spelled two ways (`net.nn`, `./net.nn`, `a/../net.nn`, absolute) is one.
fn claim(output: &Path, manifest_dir: &Path, input: &Path) -> Result<(), Error> {
    static WRITTEN: std::sync::Mutex<Vec<(PathBuf, PathBuf, PathBuf)>> =
        std::sync::Mutex::new(Vec::new());
    let mut written = WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let file = plain(&manifest_dir.join(input));
    match written.iter().find(|(o, ..)| o == output) {
        Some((_, first, first_file)) if *first_file != file => Err(Error::SameOutput {
            output: output.to_owned(),
            first: first.clone(),
            second: input.to_owned(),
        }),
        Some(_) => Ok(()),
        None => {
            written.push((output.to_owned(), input.to_owned(), file));
            Ok(())
        }
    }
}

/// `path` without `.` components, and each `..` taking away the name before it.
fn plain(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut plain = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(plain.components().next_back(), Some(Component::Normal(_))) =>
            {
                plain.pop();
            }
            other => plain.push(other),
        }
    }
    plain
}

/// Compiles the `.nn` file `input` into the Rust file `output`; the header names `input` as
/// given. Writes only when the content changes.
///
/// # Errors
///
/// [`Error::Read`] and [`Error::Write`] for I/O, [`Error::Compile`] with every problem.
pub fn compile_to(input: &Path, output: &Path) -> Result<(), Error> {
    compile_named(input, input, output)
}

/// The files [`import_onnx`] writes.
#[cfg(feature = "onnx")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The declaration, `<stem>.nn`, as `nnc import` writes it.
    pub declaration: PathBuf,
    /// Its Rust, `<stem>.rs`, as `nnc build` writes it: `include!` it.
    pub rust: PathBuf,
    /// The weights, `<stem>.safetensors`: load them with `from_safetensors_file`, or
    /// `from_safetensors(include_bytes!(...))`.
    pub weights: PathBuf,
}

/// Imports the ONNX model `path` (relative to `CARGO_MANIFEST_DIR`) into `$OUT_DIR`: the
/// declaration `<stem>.nn`, its Rust `<stem>.rs` and the weights `<stem>.safetensors`, the
/// struct named after the file (`lenet_5.onnx` as `Lenet5`); tells Cargo to rerun the build
/// script when the model changes.
///
/// ```no_run
/// // build.rs
/// nn_codegen::build::import_onnx("models/mlp.onnx").unwrap_or_else(|e| panic!("{e}"));
/// ```
///
/// and in the crate:
///
/// ```text
/// mod mlp {
///     include!(concat!(env!("OUT_DIR"), "/mlp.rs"));
/// }
/// let net = mlp::Mlp::from_safetensors(include_bytes!(concat!(env!("OUT_DIR"), "/mlp.safetensors")))?;
/// ```
///
/// # Errors
///
/// [`Error::Env`] outside a build script, [`Error::SameOutput`] for a model whose outputs
/// another file of this build script writes, [`Error::Import`] with every reason the model
/// cannot be imported, [`Error::Write`] for I/O.
#[cfg(feature = "onnx")]
pub fn import_onnx(path: impl AsRef<Path>) -> Result<Imported, Error> {
    let path = path.as_ref();
    let (manifest_dir, out_dir) = (var("CARGO_MANIFEST_DIR")?, var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", path.display());
    claim(&out_file(&out_dir, path, "rs"), &manifest_dir, path)?;
    let (files, import) = import_onnx_in(&manifest_dir.join(path), &out_dir)?;
    // Cargo watches only the paths named once one is: the model's external data too, or an
    // edit of the data alone would leave the old weights in `OUT_DIR`.
    for file in &import.external_files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    Ok(files)
}

/// Imports the ONNX model `model` into `out_dir`, as [`import_onnx`] does; writes only the
/// files whose content changes.
///
/// # Errors
///
/// [`Error::Import`] with every reason the model cannot be imported, [`Error::Write`] for I/O.
#[cfg(feature = "onnx")]
pub fn import_onnx_to(model: &Path, out_dir: &Path) -> Result<Imported, Error> {
    import_onnx_in(model, out_dir).map(|(files, _)| files)
}

/// [`import_onnx_to`], with the import.
#[cfg(feature = "onnx")]
fn import_onnx_in(model: &Path, out_dir: &Path) -> Result<(Imported, nn_onnx::Import), Error> {
    let import = nn_onnx::import_file(model, None, false).map_err(|source| Error::Import {
        path: model.to_owned(),
        source,
    })?;
    let files = Imported {
        declaration: out_file(out_dir, model, "nn"),
        rust: out_file(out_dir, model, "rs"),
        weights: out_file(out_dir, model, "safetensors"),
    };
    write_if_changed(&files.declaration, import.text().as_bytes())?;
    write_if_changed(&files.weights, &import.safetensors)?;
    compile_named(&files.declaration, &files.declaration, &files.rust)?;
    Ok((files, import))
}

/// Writes `bytes` to `path` unless the file holds them already.
#[cfg(feature = "onnx")]
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    fs::write(path, bytes).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

fn compile_named(input: &Path, name: &Path, output: &Path) -> Result<(), Error> {
    let text = fs::read_to_string(input).map_err(|source| Error::Read {
        path: input.to_owned(),
        source,
    })?;
    // Forward slashes, so the header is the same on every platform.
    let shown = name.to_string_lossy().replace('\\', "/");
    let rust = crate::pretty::render_file(&text, &shown).map_err(|problems| Error::Compile {
        path: name.to_owned(),
        problems: problems
            .iter()
            .map(|d| {
                let (line, col) = line_col(&text, d.range.start);
                format!("{line}:{col}: {}", d.message)
            })
            .collect(),
    })?;
    if fs::read_to_string(output).is_ok_and(|old| old == rust) {
        return Ok(());
    }
    fs::write(output, rust).map_err(|source| Error::Write {
        path: output.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new directory for one test.
    fn scratch(case: &str) -> PathBuf {
        let dir = env::temp_dir().join(format!("nn-codegen-{}-{case}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_what_render_file_returns() {
        let dir = scratch("ok");
        let (input, output) = (dir.join("xor.nn"), dir.join("xor.rs"));
        let text = "/// XOR.\npub struct Xor = 2 -> 2 tanh -> 1 sigmoid;\n";
        fs::write(&input, text).unwrap();
        compile_to(&input, &output).unwrap();
        let written = fs::read_to_string(&output).unwrap();
        let shown = input.to_string_lossy().replace('\\', "/");
        assert_eq!(written, crate::pretty::render_file(text, &shown).unwrap());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn problems_are_listed_with_line_and_column() {
        let dir = scratch("bad");
        let (input, output) = (dir.join("bad.nn"), dir.join("bad.rs"));
        fs::write(&input, "struct A = 2 -> 1;\nstruct B = 2 -> 0 rleu;\n").unwrap();
        let error = compile_to(&input, &output).unwrap_err();
        let shown = input.display().to_string();
        assert_eq!(
            error.to_string(),
            format!(
                "`{shown}` has 2 errors\n\
                 {shown}:2:17: a layer width must be at least 1, found `0`\n\
                 {shown}:2:19: unknown activation `rleu`, did you mean `relu`? expected one of \
                 `linear`, `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`, `silu`, `gelu`, \
                 `gelu_tanh`, `softplus`, `softmax` or `log_softmax`"
            )
        );
        assert!(!output.exists());
        // What a build script's `main` returning the error prints: the message.
        assert_eq!(format!("{error:?}"), error.to_string());
        let fields = format!("{error:#?}");
        assert!(fields.starts_with("Compile {\n    path: "), "{fields}");
        assert!(
            fields.contains("    problems: [\n        \"2:17: a layer width"),
            "{fields}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    /// An ONNX fixture of nn-onnx's tests.
    #[cfg(feature = "onnx")]
    fn onnx_fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../onnx/tests/fixtures")
            .join(name)
    }

    #[cfg(feature = "onnx")]
    #[test]
    fn import_onnx_writes_what_nnc_import_and_build_write() {
        let dir = scratch("onnx");
        let model = onnx_fixture("mlp.onnx");
        let files = import_onnx_to(&model, &dir).unwrap();
        let import = nn_onnx::import_file(&model, None, false).unwrap();
        let declaration = fs::read_to_string(&files.declaration).unwrap();
        assert_eq!(declaration, import.text());
        assert_eq!(fs::read(&files.weights).unwrap(), import.safetensors);
        let shown = files.declaration.to_string_lossy().replace('\\', "/");
        let rust = crate::pretty::render_file(&declaration, &shown).unwrap();
        assert_eq!(fs::read_to_string(&files.rust).unwrap(), rust);
        assert!(rust.contains("pub struct Mlp {"), "{rust}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(feature = "onnx")]
    #[test]
    fn import_onnx_lists_every_problem() {
        let dir = scratch("onnx-bad");
        let model = onnx_fixture("unsupported.onnx");
        let error = import_onnx_to(&model, &dir).unwrap_err();
        assert!(matches!(error, Error::Import { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("5 problems"), "{message}");
        assert!(message.contains("node 3 `/abs/Abs` (Abs"), "{message}");
        assert!(std::error::Error::source(&error).is_some());
        assert!(
            fs::read_dir(&dir).unwrap().next().is_none(),
            "nothing written"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    /// A file's name with dots keeps them (`net.v1.nn` writes `net.v1.rs`), and two files
    /// that would write one file are refused rather than the second replacing the first.
    #[test]
    fn each_file_writes_its_own_output() {
        let dir = scratch("stems");
        let out = dir.join("out");
        fs::create_dir_all(dir.join("a")).unwrap();
        fs::create_dir_all(&out).unwrap();
        for (file, name) in [
            ("net.v1.nn", "One"),
            ("net.v2.nn", "Two"),
            ("a/net.v1.nn", "A"),
        ] {
            fs::write(dir.join(file), format!("struct {name} = 1 -> 1;")).unwrap();
        }
        let one = compile_in(&dir, &out, Path::new("net.v1.nn")).unwrap();
        let two = compile_in(&dir, &out, Path::new("net.v2.nn")).unwrap();
        assert_eq!(
            (one.clone(), two),
            (out.join("net.v1.rs"), out.join("net.v2.rs"))
        );
        assert!(fs::read_to_string(&one).unwrap().contains("struct One"));
        // Again, as a build script that compiles one file twice: the same output.
        compile_in(&dir, &out, Path::new("net.v1.nn")).unwrap();
        compile_in(&dir, &out, Path::new("./net.v1.nn")).unwrap();
        compile_in(&dir, &out, &dir.join("a/../net.v1.nn")).unwrap();
        let clash = compile_in(&dir, &out, Path::new("a/net.v1.nn")).unwrap_err();
        assert_eq!(
            clash.to_string(),
            format!(
                "`net.v1.nn` and `a/net.v1.nn` would both write `{}`: rename one, or write it \
                 where you choose with `compile_to`",
                one.display()
            )
        );
        assert!(fs::read_to_string(&one).unwrap().contains("struct One"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn io_and_environment_errors_are_values() {
        let dir = scratch("io");
        let missing = compile_to(&dir.join("missing.nn"), &dir.join("out.rs")).unwrap_err();
        assert!(matches!(missing, Error::Read { .. }), "{missing}");
        assert!(std::error::Error::source(&missing).is_some());
        fs::write(dir.join("a.nn"), "struct A = 1 -> 1;").unwrap();
        let unwritable = compile_to(&dir.join("a.nn"), &dir.join("no/such/dir/a.rs")).unwrap_err();
        assert!(matches!(unwritable, Error::Write { .. }), "{unwritable}");
        // Unit tests do not run under a build script: Cargo sets no `OUT_DIR` for them.
        let outside = compile("a.nn").unwrap_err();
        assert!(
            matches!(outside, Error::Env { name: "OUT_DIR" }),
            "{outside}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
