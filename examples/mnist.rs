//! A speed demo: the README's network, `784 -> 128 relu -> 10 softmax`, with random weights
//! (its predictions mean nothing; only the time is measured), against the machine's floors
//! measured in the same run.
//!
//! - Batch 1: a forward pass reads all 101,770 weights and biases (398 KiB) once, so it cannot
//!   take less than reading them. The floor: the time to sum them once.
//! - Batch 256: each weight read serves 256 samples, and the bound becomes arithmetic: 101,632
//!   multiply-adds per sample. The floor: that many at the CPU's peak rate of fused
//!   multiply-adds.
//!
//! The floors run plain Rust loops compiled for the widest vectors this CPU has (AVX-512F, or
//! AVX2 and FMA), the instructions nn's kernels pick at run time. They are what simple loops
//! reach, not theoretical limits: a ratio a little under 1 is noise. Every figure is the best of
//! 15 rounds of about 5 ms each, on one thread, network and floor in alternating rounds: the
//! least disturbed round on a busy machine.
//!
//! ```sh
//! cargo run --release --example mnist
//! ```

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

nn::network! {
    /// Classifies 28x28 handwritten digits.
    pub struct Mnist = 784 -> 128 relu -> 10 softmax;
}

/// The samples of a large batch.
const BATCH: usize = 256;
/// Every time is the best of this many rounds...
const ROUNDS: usize = 15;
/// ...of about this long each.
const ROUND: Duration = Duration::from_millis(5);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), nn::Error> {
    println!("{}\n", Mnist::summary());
    let net = Mnist::random(42);
    // Inputs in [0, 1), like pixels; random weights, so the outputs are not predictions.
    let mut seed = 1_u32;
    let inputs: Vec<[f32; 784]> = (0..BATCH)
        .map(|_| std::array::from_fn(|_| random(&mut seed)))
        .collect();
    let mut outputs = vec![[0.0; 10]; BATCH];
    net.forward_batch(&inputs, &mut outputs)?;
    if cfg!(debug_assertions) {
        println!("(a debug build: run with --release for meaningful times)");
    }
    let Some(level) = floors::level() else {
        println!("no floors on this CPU: it has neither AVX-512F nor AVX2 with FMA");
        return Ok(());
    };

    // As many ones as the network has weights, starting on a cache line as its weights do.
    let buffer = vec![1.0_f32; Mnist::PARAMETERS + 16];
    let start = buffer.as_ptr().align_offset(64).min(16);
    let weights = &buffer[start..][..Mnist::PARAMETERS];
    // Network and floor in alternating rounds, so that both see the same machine.
    let (one, read) = best_times(
        || net.forward(black_box(&inputs[0])),
        || floors::read(level, black_box(weights)),
    );
    let rounds = 10_000;
    let (batch, fma) = best_times(
        || net.forward_batch(black_box(&inputs), black_box(&mut outputs)),
        || floors::fma(level, black_box(rounds)),
    );
    let batch = batch / BATCH as f64;
    let peak = (level.chains() * rounds) as f64 / fma;
    let macs = f64::from(784 * 128 + 128 * 10);
    let arithmetic = macs / peak;

    println!("time per sample, one thread, against a floor measured in the same run:");
    println!(
        "  batch 1:   {:7.1} ns, {:.2}x the floor ({:.1} ns: reading the {} weights once)",
        one * 1e9,
        one / read,
        read * 1e9,
        Mnist::PARAMETERS,
    );
    println!(
        "  batch {BATCH}: {:7.1} ns, {:.2}x the floor ({:.1} ns: {macs} multiply-adds at the peak \
         rate, {:.1} G/s; nn: {:.1} G/s)",
        batch * 1e9,
        batch / arithmetic,
        arithmetic * 1e9,
        peak / 1e9,
        macs / batch / 1e9
    );
    println!(
        "each time the best of {ROUNDS} rounds of about {} ms, alternating with the floor's; \
         floors by plain loops compiled for {}",
        ROUND.as_millis(),
        level.name()
    );
    Ok(())
}

/// Uniform in [0, 1): a xorshift step, enough for inputs that are not all alike.
fn random(state: &mut u32) -> f32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    (*state >> 8) as f32 / (1 << 24) as f32
}

/// Seconds per call of `a` and of `b`, in alternating rounds: the best of [`ROUNDS`] each, the
/// least disturbed on a busy machine.
fn best_times<A, B>(mut a: impl FnMut() -> A, mut b: impl FnMut() -> B) -> (f64, f64) {
    let (calls_a, calls_b) = (calls_per_round(&mut a), calls_per_round(&mut b));
    let (mut best_a, mut best_b) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        best_a = best_a.min(time(&mut a, calls_a));
        best_b = best_b.min(time(&mut b, calls_b));
    }
    (best_a, best_b)
}

/// How many calls of `f` take about [`ROUND`] (which also warms the caches).
fn calls_per_round<R>(f: &mut impl FnMut() -> R) -> u32 {
    let (start, mut calls) = (Instant::now(), 0);
    while start.elapsed() < ROUND {
        black_box(f());
        calls += 1;
    }
    calls
}

/// Seconds per call of `f`, over `calls` calls.
fn time<R>(f: &mut impl FnMut() -> R, calls: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        black_box(f());
    }
    start.elapsed().as_secs_f64() / f64::from(calls)
}

/// The machine's floors: plain loops compiled, through `#[target_feature]`, for the widest
/// vectors this CPU has, as nn's kernels are.
mod floors {
    /// The instructions the floors use: those nn's kernels pick at run time.
    #[derive(Clone, Copy, Debug)]
    pub enum Level {
        Avx512,
        Avx2,
    }

    impl Level {
        pub fn name(self) -> &'static str {
            match self {
                Level::Avx512 => "AVX-512F",
                Level::Avx2 => "AVX2 and FMA",
            }
        }

        /// The independent multiply-adds of one round of [`fma`]: enough chains to cover the
        /// instruction's latency, few enough to stay in registers (16 of 16 lanes, 12 of 8).
        pub fn chains(self) -> usize {
            match self {
                Level::Avx512 => 256,
                Level::Avx2 => 96,
            }
        }
    }

    /// AVX-512F, or else AVX2 with FMA; `None` on a CPU without either.
    pub fn level() -> Option<Level> {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return Some(Level::Avx512);
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Some(Level::Avx2);
            }
        }
        None
    }

    /// Reads every value of `data` once (their sum).
    pub fn read(level: Level, data: &[f32]) -> f32 {
        // SAFETY: `level` found the features that each function enables.
        #[allow(unsafe_code)]
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { x86::read_avx512(data) },
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { x86::read_avx2(data) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!(),
        }
    }

    /// `rounds` rounds of `level.chains()` independent multiply-adds.
    pub fn fma(level: Level, rounds: usize) -> f32 {
        // SAFETY: `level` found the features that each function enables.
        #[allow(unsafe_code)]
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { x86::fma_avx512(rounds) },
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { x86::fma_avx2(rounds) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!(),
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        #[target_feature(enable = "avx512f,avx2,fma")]
        pub fn read_avx512(data: &[f32]) -> f32 {
            super::sum(data)
        }

        #[target_feature(enable = "avx512f,avx2,fma")]
        pub fn fma_avx512(rounds: usize) -> f32 {
            super::multiply_add::<256>(rounds)
        }

        #[target_feature(enable = "avx2,fma")]
        pub fn read_avx2(data: &[f32]) -> f32 {
            super::sum(data)
        }

        #[target_feature(enable = "avx2,fma")]
        pub fn fma_avx2(rounds: usize) -> f32 {
            super::multiply_add::<96>(rounds)
        }
    }

    /// The sum of `data` in 128 independent running sums: each add waits for a load, not for
    /// the previous add. Inlined into the `#[target_feature]` functions, which vectorise it.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn sum(data: &[f32]) -> f32 {
        let mut sums = [0.0; 128];
        let (blocks, rest) = data.as_chunks::<128>();
        for block in blocks {
            for (sum, x) in sums.iter_mut().zip(block) {
                *sum += x;
            }
        }
        sums.iter().sum::<f32>() + rest.iter().sum::<f32>()
    }

    /// `rounds` fused multiply-adds on each of `N` independent values.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn multiply_add<const N: usize>(rounds: usize) -> f32 {
        let mut values = [1.0_f32; N];
        for _ in 0..rounds {
            for v in &mut values {
                *v = v.mul_add(0.999, 0.001);
            }
        }
        values.iter().sum()
    }
}
