//! `nnc`, the nn compiler: `.nn` files to formatted Rust, rustc-style diagnostics, summaries and
//! pictures. The language and the code generator are the ones `nn::network!` uses.
//!
//! Exit codes: 0 on success, 1 when the file has errors or cannot be read or written, 2 on a
//! usage error (clap's convention).

mod diagnostics;
mod graph;
mod summary;

use clap::{Args, Parser, Subcommand, ValueEnum};
use diagnostics::{Color, Source};
use nn_grammar::Network;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The nn compiler: `.nn` files to formatted Rust, diagnostics, summaries and pictures.
#[derive(Parser)]
#[command(name = "nnc", version, about, long_about = None)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, global = true, default_value_t = Color::Auto)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a `.nn` file to Rust: the code `nn::network!` generates, formatted.
    Build {
        #[command(flatten)]
        input: Input,
        /// Write the Rust here instead of to standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Report every problem in a `.nn` file, as rustc does.
    Check {
        #[command(flatten)]
        input: Input,
    },
    /// Print each network's layers, output shapes, parameters, multiply-adds and weight memory.
    Summary {
        #[command(flatten)]
        input: Input,
        /// Only this network (by struct name).
        #[arg(short, long, value_name = "NAME")]
        network: Option<String>,
    },
    /// Draw each network: columns of neurons with their activation, as SVG or Graphviz dot.
    Graph {
        #[command(flatten)]
        input: Input,
        /// Write the picture here instead of to standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Picture format [default: from the output's extension, else svg].
        #[arg(short, long, value_enum)]
        format: Option<Format>,
        /// Only this network (by struct name).
        #[arg(short, long, value_name = "NAME")]
        network: Option<String>,
    },
    /// Import an ONNX model: a `.nn` declaration and its weights as safetensors.
    Import {
        /// The `.onnx` file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Write the declaration here [default: the model's path with `.nn`; `-` for standard
        /// output].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Write the weights here [default: the declaration's path with `.safetensors`].
        #[arg(short, long, value_name = "FILE")]
        weights: Option<PathBuf>,
        /// The struct's name [default: the file's name in UpperCamelCase].
        #[arg(short, long, value_name = "NAME")]
        name: Option<String>,
        /// Write nothing: show what would be imported, or every reason it cannot be.
        #[arg(long)]
        check: bool,
        /// Fold each BatchNormalization into the dense layer or convolution before it instead
        /// of importing it as a `batchnorm` layer.
        #[arg(long)]
        fold_batchnorm: bool,
    },
}

#[derive(Args)]
struct Input {
    /// The `.nn` file, or `-` for standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Picture formats of `nnc graph`.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Scalable vector graphics.
    Svg,
    /// Graphviz source, for `dot -Tpng`.
    Dot,
}

/// Why a command failed, once diagnostics (if any) have been printed.
struct Failed;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = cli.color.enabled();
    match run(cli.command, color) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::FAILURE,
    }
}

fn run(command: Command, color: bool) -> Result<(), Failed> {
    match command {
        Command::Build { input, output } => {
            refuse_overwrite(output.as_deref(), &input.file, "declaration", color)?;
            let source = read(&input.file, color)?;
            let header = if input.file == Path::new("-") {
                nn_codegen::pretty::header_for_standard_input()
            } else {
                nn_codegen::pretty::header(&source.name)
            };
            let rust = nn_codegen::pretty::render(&source.text)
                .map(|rust| header + &rust)
                .map_err(|problems| source.report(&problems, color))?;
            write(output.as_deref(), &rust, color)
        }
        Command::Check { input } => {
            let source = read(&input.file, color)?;
            let networks = compile(&source, color)?;
            let names: Vec<&str> = networks.iter().map(|n| n.name.as_str()).collect();
            let count = names.len();
            let line = format!(
                "{}: ok, {count} network{}{}{}\n",
                source.name,
                if count == 1 { "" } else { "s" },
                if count == 0 { "" } else { ": " },
                names.join(", ")
            );
            write(None, &line, color)
        }
        Command::Summary { input, network } => {
            let source = read(&input.file, color)?;
            let networks = select(compile(&source, color)?, network.as_deref(), color)?;
            let tables: Vec<String> = networks.iter().map(summary::table).collect();
            write(None, &tables.join("\n"), color)
        }
        Command::Graph {
            input,
            output,
            format,
            network,
        } => {
            refuse_overwrite(output.as_deref(), &input.file, "declaration", color)?;
            let source = read(&input.file, color)?;
            let networks = select(compile(&source, color)?, network.as_deref(), color)?;
            let extension = output.as_deref().and_then(Path::extension);
            let from_extension = extension
                .is_some_and(|e| e.eq_ignore_ascii_case("dot") || e.eq_ignore_ascii_case("gv"));
            let from_svg = extension.is_some_and(|e| e.eq_ignore_ascii_case("svg"));
            let conflict = match format {
                Some(Format::Svg) => from_extension,
                Some(Format::Dot) => from_svg,
                None => false,
            };
            if conflict {
                diagnostics::error(
                    &format!(
                        "`--format` and the extension of `{}` disagree: choose one",
                        output.as_deref().map_or_else(String::new, shown_path)
                    ),
                    color,
                );
                return Err(Failed);
            }
            if let (Some(other), false, false) = (extension, from_extension, from_svg) {
                let choose = if format.is_none() {
                    ", or choose with `--format`"
                } else {
                    ""
                };
                diagnostics::error(
                    &format!(
                        "`nnc graph` writes SVG or Graphviz, not `.{}`: name the file `.svg` or `.dot`{choose}",
                        other.to_string_lossy()
                    ),
                    color,
                );
                return Err(Failed);
            }
            let picture = match format {
                Some(Format::Dot) => graph::dot(&networks),
                None if from_extension => graph::dot(&networks),
                Some(Format::Svg) | None => graph::svg(&networks),
            };
            write(output.as_deref(), &picture, color)
        }
        Command::Import {
            file,
            output,
            weights,
            name,
            check,
            fold_batchnorm,
        } => import(
            &file,
            output,
            weights,
            name.as_deref(),
            (check, fold_batchnorm),
            color,
        ),
    }
}

/// `nnc import`: the declaration and the weights, or with `check` what they would be.
fn import(
    file: &Path,
    output: Option<PathBuf>,
    weights: Option<PathBuf>,
    name: Option<&str>,
    (check, fold_batchnorm): (bool, bool),
    color: bool,
) -> Result<(), Failed> {
    let shown = shown_path(file);
    if name == Some("") {
        diagnostics::error(
            "`--name` is empty: give a struct name such as `Mnist`, or leave `--name` out to \
             name the network after the file",
            color,
        );
        return Err(Failed);
    }
    let import = nn_onnx::import_file(file, name, fold_batchnorm).map_err(|e| {
        let message = match e {
            nn_onnx::Error::Read { .. } => e.to_string(),
            nn_onnx::Error::Name(why) => format!("`--name`: {why}"),
            _ => format!("`{shown}`: {e}"),
        };
        diagnostics::error(&message, color);
        Failed
    })?;
    let network = &import.network;
    if check {
        let text = format!(
            "{shown}: ok, {} tensors\n{}\n{}",
            import.tensors.len(),
            import.text(),
            summary::table(network)
        );
        return write(None, &text, color);
    }
    let output = output.unwrap_or_else(|| file.with_extension("nn"));
    let to_stdout = output == Path::new("-");
    let weights = weights.unwrap_or_else(|| {
        if to_stdout {
            file.with_extension("safetensors")
        } else {
            output.with_extension("safetensors")
        }
    });
    if weights == Path::new("-") {
        diagnostics::error(
            "`--weights -`: the weights are a binary file, not for standard output: give a file",
            color,
        );
        return Err(Failed);
    }
    refuse_overwrite(Some(&weights), file, "model", color)?;
    for data in &import.external_files {
        refuse_overwrite(Some(&weights), data, "model's external data", color)?;
    }
    if !to_stdout {
        refuse_overwrite(Some(&output), file, "model", color)?;
        for data in &import.external_files {
            refuse_overwrite(Some(&output), data, "model's external data", color)?;
        }
        if same_file(&output, &weights) {
            diagnostics::error(
                &format!(
                    "the declaration and its weights would both be written to `{}`: give \
                     `--weights` another file",
                    weights.display()
                ),
                color,
            );
            return Err(Failed);
        }
    }
    std::fs::write(&weights, &import.safetensors).map_err(|e| {
        diagnostics::error(&format!("cannot write `{}`: {e}", weights.display()), color);
        Failed
    })?;
    let layers = match network.layers.len() {
        1 => "1 layer".to_owned(),
        n => format!("{n} layers"),
    };
    // No weights without their declaration: on standard output, a reader that closed the pipe
    // early did not take it either.
    if let Err(failure) = put(Some(&output), &import.text()) {
        let _ = std::fs::remove_file(&weights);
        return Err(report(failure, color));
    }
    if to_stdout {
        // Where its weights went, on standard error.
        status(&format!("{shown}: wrote `{}`", weights.display()));
        return Ok(());
    }
    status(&format!(
        "{shown}: wrote `{}` ({}, {layers}) and `{}`",
        output.display(),
        network.name,
        weights.display()
    ));
    Ok(())
}

/// A line on standard error saying what was done; the files are written either way, so a
/// standard error that cannot be written (closed, full) is no failure.
fn status(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Refuses to write `output` where it would replace `input`, the `what` the command reads.
fn refuse_overwrite(
    output: Option<&Path>,
    input: &Path,
    what: &str,
    color: bool,
) -> Result<(), Failed> {
    let Some(output) = output.filter(|o| *o != Path::new("-") && input != Path::new("-")) else {
        return Ok(());
    };
    if !same_file(output, input) {
        return Ok(());
    }
    diagnostics::error(
        &format!(
            "`{}` is the {what} this reads: writing there would replace it, give another file",
            output.display()
        ),
        color,
    );
    Err(Failed)
}

/// Whether two paths name one file, the second perhaps not written yet: compared with their
/// directories resolved (`./a.nn` and `a.nn`, links).
fn same_file(a: &Path, b: &Path) -> bool {
    let resolved = |path: &Path| -> Option<PathBuf> {
        if let Ok(real) = path.canonicalize() {
            return Some(real);
        }
        let absolute = std::path::absolute(path).ok()?;
        let directory = absolute.parent()?.canonicalize().ok()?;
        Some(directory.join(absolute.file_name()?))
    };
    // Two names of one file (a hard link) are one file too.
    #[cfg(unix)]
    if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        use std::os::unix::fs::MetadataExt as _;
        if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
            return true;
        }
    }
    match (resolved(a), resolved(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// A path as messages show it: with `/` between directories on Windows too (elsewhere a `\\`
/// is part of a file's name).
fn shown_path(path: &Path) -> String {
    let shown = path.to_string_lossy();
    if cfg!(windows) {
        shown.replace('\\', "/")
    } else {
        shown.into_owned()
    }
}

/// Reads the file (or standard input for `-`), without a leading byte order mark (which a
/// Rust source file may have too).
fn read(path: &Path, color: bool) -> Result<Source, Failed> {
    let (name, text) = if path == Path::new("-") {
        let mut text = String::new();
        let read = io::stdin().read_to_string(&mut text).map(|_| text);
        ("<stdin>".to_owned(), read)
    } else {
        let name = shown_path(path);
        (name, std::fs::read_to_string(path))
    };
    match text {
        Ok(text) => {
            let text = match text.strip_prefix('\u{feff}') {
                Some(rest) => rest.to_owned(),
                None => text,
            };
            Ok(Source { name, text })
        }
        Err(e) => {
            diagnostics::error(&format!("cannot read `{name}`: {e}"), color);
            Err(Failed)
        }
    }
}

/// Parses and checks every network, including what the generator does not support yet, so that
/// `check` fails exactly when `build` would.
fn compile(source: &Source, color: bool) -> Result<Vec<Network>, Failed> {
    nn_codegen::check_file(&source.text).map_err(|problems| source.report(&problems, color))
}

/// The networks to show: all, or the one named.
fn select(networks: Vec<Network>, name: Option<&str>, color: bool) -> Result<Vec<Network>, Failed> {
    let Some(name) = name else {
        return Ok(networks);
    };
    let names: Vec<String> = networks.iter().map(|n| format!("`{}`", n.name)).collect();
    let chosen: Vec<Network> = networks.into_iter().filter(|n| n.name == name).collect();
    if chosen.is_empty() {
        diagnostics::error(
            &format!(
                "no network named `{name}`, the file declares {}",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
            color,
        );
        return Err(Failed);
    }
    Ok(chosen)
}

/// A write that failed: where to (a file's name, or `None` for standard output), and why.
type WriteFailure = (Option<String>, io::Error);

/// Writes `text` to `path`, or to standard output (no path, or `-`).
fn put(path: Option<&Path>, text: &str) -> Result<(), WriteFailure> {
    match path.filter(|path| *path != Path::new("-")) {
        Some(path) => std::fs::write(path, text).map_err(|e| (Some(path.display().to_string()), e)),
        None => io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| (None, e)),
    }
}

/// Says why a write failed.
fn report((name, e): WriteFailure, color: bool) -> Failed {
    let name = name.as_deref().unwrap_or("standard output");
    diagnostics::error(&format!("cannot write `{name}`: {e}"), color);
    Failed
}

/// [`put`], where a reader that closed the pipe (`nnc build a.nn | head`) is no failure.
fn write(path: Option<&Path>, text: &str, color: bool) -> Result<(), Failed> {
    match put(path, text) {
        Err((None, e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|failure| report(failure, color)),
    }
}
