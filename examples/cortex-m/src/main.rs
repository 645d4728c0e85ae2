//! The `digits` network on a microcontroller: a Cortex-M4F, emulated by QEMU (`mps2-an386`).
//!
//! The weights are baked into flash by `nn::network!` at compile time; there is no allocator.
//! The 297 test rows of `examples/data/digits.csv` (rows 1500..1797) are in flash too, one byte
//! per pixel (`data/test_rows.bin`), beside the class the same network predicts for each on the
//! host (`data/host_predictions.bin`); the root crate's test `embedded` writes both files and
//! checks that they are current. The firmware classifies every row, prints the accuracy and
//! whether each prediction equals the host's through semihosting, and exits with a failure
//! status if any does not, so that `cargo run --release` fails.
//!
//! Run with `cd examples/cortex-m && cargo run --release` (needs `qemu-system-arm` and
//! `rustup target add thumbv7em-none-eabihf`).

#![no_std]
#![no_main]

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;

nn::network! {
    /// Classifies 8x8 handwritten digits (pixels scaled to 0..1).
    pub struct Digits = 64 -> 32 relu -> 10 softmax
        with weights = "../data/digits.safetensors";
}

/// The network, initialised at compile time: a `static` in flash.
static NET: Digits = Digits::BAKED;

/// Bytes per test row: 64 pixels (each 0..=16, the original integer before scaling) and the
/// label.
const ROW: usize = 65;

/// The test rows, one byte per pixel, then the label.
static ROWS: &[u8] = include_bytes!("../data/test_rows.bin");

/// The class the host predicts for each test row, with the same weights.
static HOST: &[u8] = include_bytes!("../data/host_predictions.bin");

/// The most likely digit: the first of the largest probabilities (the host breaks ties the same
/// way).
fn classify(pixels: &[f32; 64]) -> u8 {
    let probabilities = NET.forward(pixels);
    let mut best = 0;
    for (digit, p) in probabilities.iter().enumerate() {
        if *p > probabilities[best] {
            best = digit;
        }
    }
    // Ten classes.
    #[allow(clippy::cast_possible_truncation)]
    let best = best as u8;
    best
}

#[entry]
fn main() -> ! {
    let rows = ROWS.len() / ROW;
    let mut correct = 0usize;
    let mut differ = 0usize;
    for (row, (bytes, &host)) in ROWS.chunks_exact(ROW).zip(HOST).enumerate() {
        // k / 16 is exact in f32: the same values as the CSV's.
        let pixels: [f32; 64] = core::array::from_fn(|i| f32::from(bytes[i]) / 16.0);
        let predicted = classify(&pixels);
        if predicted == bytes[64] {
            correct += 1;
        }
        if predicted != host {
            differ += 1;
            hprintln!(
                "row {}: predicted {}, the host predicted {}",
                1500 + row,
                predicted,
                host
            );
        }
    }

    let ok = rows == 297 && HOST.len() == rows && ROWS.len() == rows * ROW && differ == 0;
    // Accuracy in hundredths of a percent, rounded, without float formatting.
    let basis_points = (correct * 10_000 + rows / 2) / rows.max(1);
    hprintln!(
        "{} test rows on a Cortex-M4F: {} correct ({}.{:02}%)",
        rows,
        correct,
        basis_points / 100,
        basis_points % 100
    );
    if ok {
        hprintln!("every prediction equals the host's");
    } else {
        hprintln!(
            "FAILED: {} of {} predictions differ from the host's ({} host predictions, {} bytes of rows)",
            differ,
            rows,
            HOST.len(),
            ROWS.len()
        );
    }
    exit(ok)
}

/// Ends QEMU through semihosting, with a failure status unless `ok`.
fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a debugger or emulator to end the run.
    loop {
        cortex_m::asm::wfi();
    }
}

/// A fault ends the run with a failure status instead of spinning until CI's timeout.
#[allow(unsafe_code)] // cortex-m-rt declares the handler `unsafe`
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("hard fault: {:?}", frame);
    exit(false)
}
