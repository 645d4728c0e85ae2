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
//! Then an effect pedal: a PyTorch LSTM (`1 -> lstm(32) -> 1`, an amplifier model) baked in
//! the same way processes 300 samples in buffers of 32, its state carried from buffer to
//! buffer, and every output must be within 1e-5 of PyTorch's float64 output
//! (`data/pedal_signal.bin`, also written by the test `embedded`).
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

nn::network! {
    /// The same network in int8 (`i8` weights, `u8` activations), quantised on the host by
    /// `DigitsInt8::calibrate` (`tests/it/quant.rs` writes the file).
    pub struct DigitsQ = 64 -> 32 relu -> 10 softmax
        with quantize = int8, weights = "../../tests/fixtures/digits_int8.safetensors";
}

/// The int8 network, in flash.
static QUANTIZED: DigitsQInt8 = DigitsQInt8::BAKED;

nn::network! {
    /// An amplifier model: one audio sample in, one out, with a state per stream.
    pub struct Pedal = 1 -> lstm(32) as lstm -> 1 as head
        with weights = "../../tests/fixtures/recurrent_amp.safetensors";
}

/// The pedal's weights, in flash.
static PEDAL: Pedal = Pedal::BAKED;

/// The pedal's 300 input samples (`f32`), then PyTorch's outputs for them (`f64`).
static SIGNAL: &[u8] = include_bytes!("../data/pedal_signal.bin");

/// Samples of the signal.
const SAMPLES: usize = 300;

/// Samples per buffer, as an audio callback gets them.
const BUFFER: usize = 32;

/// The largest difference, over the signal, between the pedal's outputs and PyTorch's, or
/// `None` if the signal's file does not hold 300 samples.
fn pedal_error() -> Option<f64> {
    if SIGNAL.len() != SAMPLES * 12 {
        return None;
    }
    let (inputs, expected) = SIGNAL.split_at(SAMPLES * 4);
    let (samples, []) = inputs.as_chunks::<4>() else {
        return None;
    };
    let inputs: [[f32; 1]; SAMPLES] = core::array::from_fn(|i| [f32::from_le_bytes(samples[i])]);
    let mut state = PedalState::ZERO;
    let mut largest = 0.0f64;
    let mut outputs = [[0.0f32; 1]; BUFFER];
    for (block, buffer) in inputs.chunks(BUFFER).enumerate() {
        let outputs = &mut outputs[..buffer.len()];
        PEDAL.forward_sequence(&mut state, buffer, outputs).ok()?;
        for (i, output) in outputs.iter().enumerate() {
            let reference =
                f64::from_le_bytes(*expected.as_chunks::<8>().0.get(block * BUFFER + i)?);
            largest = largest.max((f64::from(output[0]) - reference).abs());
        }
    }
    Some(largest)
}

/// Bytes per test row: 64 pixels (each 0..=16, the original integer before scaling) and the
/// label.
const ROW: usize = 65;

/// The test rows, one byte per pixel, then the label.
static ROWS: &[u8] = include_bytes!("../data/test_rows.bin");

/// The class the host predicts for each test row, with the same weights.
static HOST: &[u8] = include_bytes!("../data/host_predictions.bin");

/// The class the host's int8 network predicts for each test row.
static HOST_INT8: &[u8] = include_bytes!("../data/host_predictions_int8.bin");

/// The most likely digit: the first of the largest probabilities (the host breaks ties the same
/// way).
fn classify(pixels: &[f32; 64]) -> u8 {
    best(&NET.forward(pixels))
}

/// The first of the largest probabilities.
fn best(probabilities: &[f32; 10]) -> u8 {
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

    let digits_ok = rows == 297 && HOST.len() == rows && ROWS.len() == rows * ROW && differ == 0;
    // Accuracy in hundredths of a percent, rounded, without float formatting.
    let basis_points = (correct * 10_000 + rows / 2) / rows.max(1);
    hprintln!(
        "{} test rows on a Cortex-M4F: {} correct ({}.{:02}%)",
        rows,
        correct,
        basis_points / 100,
        basis_points % 100
    );
    if digits_ok {
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
    let int8_ok = int8_matches_the_host(rows);
    let pedal = pedal_error();
    let pedal_ok = pedal.is_some_and(|e| e <= 1e-5);
    // In billionths, without float formatting.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let billionths = pedal.map_or(u64::MAX, |e| (e * 1e9) as u64);
    hprintln!(
        "effect pedal (lstm(32)): {} samples in buffers of {}, largest difference from PyTorch {} / 10^9: {}",
        SAMPLES,
        BUFFER,
        billionths,
        if pedal_ok {
            "ok"
        } else {
            "FAILED (limit 1e-5)"
        }
    );
    report_stack();
    exit(digits_ok && int8_ok && pedal_ok)
}

/// Prints the stack each network's inference takes at its peak (RAM beyond the 8 bytes of
/// statics: the networks themselves are in flash).
fn report_stack() {
    let pixels = [0.5f32; 64];
    let f32_bytes = peak_stack(&mut || {
        core::hint::black_box(NET.forward(core::hint::black_box(&pixels)));
    });
    let int8_bytes = peak_stack(&mut || {
        core::hint::black_box(QUANTIZED.forward(core::hint::black_box(&pixels)));
    });
    let buffer = [[0.25f32; 1]; BUFFER];
    let pedal_bytes = peak_stack(&mut || {
        let mut state = PedalState::ZERO;
        let mut outputs = [[0.0f32; 1]; BUFFER];
        let _ = PEDAL.forward_sequence(&mut state, core::hint::black_box(&buffer), &mut outputs);
        core::hint::black_box((state, outputs));
    });
    hprintln!(
        "stack at its peak: digits forward {} B, int8 forward {} B, pedal forward_sequence of {} samples {} B (its state {} B of it)",
        f32_bytes,
        int8_bytes,
        BUFFER,
        pedal_bytes,
        core::mem::size_of::<PedalState>()
    );
}

/// The bytes of stack `f` uses at its peak, its call and its own locals included: the free
/// stack below this function's frame painted with a pattern, then the lowest word `f`
/// overwrote. `f` is called through a `dyn` reference hidden from the optimiser, so that it
/// is not inlined into this frame, above the painted stack, where its locals would not count.
#[inline(never)]
fn peak_stack(f: &mut dyn FnMut()) -> usize {
    const PAINT: u32 = 0x5EED_F00D;
    /// Painted bytes below the frame: far more than any of the networks takes.
    const SPAN: usize = 32 * 1024;
    /// Left alone just below the stack pointer, for the painting loop itself.
    const MARGIN: usize = 64;
    let top = (cortex_m::register::msp::read() as usize) & !3;
    let (bottom, end) = (top - SPAN, top - MARGIN);
    for address in (bottom..end).step_by(4) {
        // SAFETY: the words below the stack pointer are free: nothing lives there (the
        // firmware enables no interrupt), and `bottom` is within RAM (`memory.x`: the stack
        // starts at the end of 4 MiB, 8 bytes of statics at its start).
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::write_volatile(address as *mut u32, PAINT);
        }
    }
    core::hint::black_box(f)();
    let lowest = (bottom..end)
        .step_by(4)
        .find(|&address| {
            // SAFETY: as above; the word is in RAM, and reading it races with nothing.
            #[allow(unsafe_code)]
            let word = unsafe { core::ptr::read_volatile(address as *const u32) };
            word != PAINT
        })
        .unwrap_or(end);
    top - lowest
}

/// Classifies the test rows with the int8 network, prints its accuracy and whether every class
/// equals the host's int8 network's; whether it does.
fn int8_matches_the_host(rows: usize) -> bool {
    let mut correct = 0usize;
    let mut differ = 0usize;
    for (row, (bytes, &host)) in ROWS.chunks_exact(ROW).zip(HOST_INT8).enumerate() {
        let pixels: [f32; 64] = core::array::from_fn(|i| f32::from(bytes[i]) / 16.0);
        let predicted = best(&QUANTIZED.forward(&pixels));
        correct += usize::from(predicted == bytes[64]);
        if predicted != host {
            differ += 1;
            hprintln!(
                "row {}: int8 predicted {}, the host's int8 network {}",
                1500 + row,
                predicted,
                host
            );
        }
    }
    let basis_points = (correct * 10_000 + rows / 2) / rows.max(1);
    let ok = differ == 0 && HOST_INT8.len() == rows;
    hprintln!(
        "int8: {} correct ({}.{:02}%), {}",
        correct,
        basis_points / 100,
        basis_points % 100,
        if ok {
            "every prediction equals the host's int8 network's"
        } else {
            "FAILED: predictions differ from the host's"
        }
    );
    ok
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
