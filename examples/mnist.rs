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
//! The floors run plain Rust loops compiled, through `#[target_feature]`, for each vector width
//! this CPU has (AVX-512F, AVX2 with FMA), the instructions nn's kernels pick from at run time;
//! the fastest counts (on AMD's Zen 4, 256-bit loads read faster than 512-bit ones). They are
//! what simple loops reach, not theoretical limits: a ratio a little under 1 is noise. Off
//! x86_64 there are no floors, only times. Every figure is the best of 15 rounds of about 5 ms
//! each, on one thread, the network's rounds alternating with the floors': the least disturbed
//! round on a busy machine.
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

    let levels = floors::levels();
    // As many ones as the network has weights, starting on a cache line as its weights do.
    let buffer = vec![1.0_f32; Mnist::PARAMETERS + 16];
    let start = buffer.as_ptr().align_offset(64).min(16);
    let weights = &buffer[start..][..Mnist::PARAMETERS];
    let (one, read) = best_times(
        || net.forward(black_box(&inputs[0])),
        levels
            .iter()
            .map(|&level| move || floors::read(level, black_box(weights)))
            .collect(),
    );
    // The same number of multiply-adds at every level: a multiple of each one's chains.
    let multiply_adds = 256 * 96 * 100;
    let (batch, fma) = best_times(
        || net.forward_batch(black_box(&inputs), black_box(&mut outputs)),
        levels
            .iter()
            .map(|&level| move || floors::fma(level, black_box(multiply_adds)))
            .collect(),
    );
    let batch = batch / BATCH as f64;
    let macs = f64::from(784 * 128 + 128 * 10);

    let ms = ROUND.as_millis();
    println!("time per sample, one thread (the best of {ROUNDS} rounds of about {ms} ms):");
    let (Some(read), Some(fma)) = (read, fma) else {
        println!("  batch 1:   {:7.1} ns", one * 1e9);
        println!("  batch {BATCH}: {:7.1} ns", batch * 1e9);
        println!("no floors: this demo measures them on x86_64 CPUs with AVX2+FMA or AVX-512F");
        return Ok(());
    };
    let peak = multiply_adds as f64 / fma;
    let arithmetic = macs / peak;
    println!(
        "  batch 1:   {:7.1} ns, {:.2}x the floor: {:.1} ns to read the {} weights once",
        one * 1e9,
        one / read,
        read * 1e9,
        Mnist::PARAMETERS,
    );
    println!(
        "  batch {BATCH}: {:7.1} ns, {:.2}x the floor: {:.1} ns for {macs} multiply-adds at the \
         peak rate ({:.1} G/s; nn: {:.1} G/s)",
        batch * 1e9,
        batch / arithmetic,
        arithmetic * 1e9,
        peak / 1e9,
        macs / batch / 1e9
    );
    let names: Vec<&str> = levels.iter().map(|level| level.name()).collect();
    println!(
        "floors: the fastest of plain loops for {}, in rounds alternating with nn's",
        names.join(", ")
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

/// Seconds per call of `nn`, and of the fastest of `floors` (`None` without floors), measured
/// in rounds that alternate between them so that all see the same machine: the best of
/// [`ROUNDS`] rounds each, the least disturbed on a busy machine.
fn best_times<A, B>(
    mut nn: impl FnMut() -> A,
    mut floors: Vec<impl FnMut() -> B>,
) -> (f64, Option<f64>) {
    let calls = calls_per_round(&mut nn);
    let floor_calls: Vec<u32> = floors.iter_mut().map(calls_per_round).collect();
    let mut best = f64::INFINITY;
    let mut best_floor: Option<f64> = None;
    for _ in 0..ROUNDS {
        best = best.min(time(&mut nn, calls));
        for (floor, &calls) in floors.iter_mut().zip(&floor_calls) {
            let t = time(floor, calls);
            best_floor = Some(best_floor.map_or(t, |best| best.min(t)));
        }
    }
    (best, best_floor)
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

/// The machine's floors: plain loops compiled, through `#[target_feature]`, for each vector
/// width this CPU has, as nn's kernels are.
#[cfg(target_arch = "x86_64")]
mod floors {
    /// The instructions a floor uses: those nn's kernels pick from at run time.
    #[derive(Clone, Copy, Debug)]
    pub enum Level {
        Avx512,
        Avx2,
    }

    impl Level {
        pub fn name(self) -> &'static str {
            match self {
                Level::Avx512 => "AVX-512F",
                Level::Avx2 => "AVX2+FMA",
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

    /// The levels this CPU has: AVX-512F (with AVX2 and FMA) and AVX2 with FMA, or only the
    /// latter, or neither. Both are measured where both exist: the narrower loads are the faster
    /// on some CPUs (AMD's Zen 4 splits 512-bit operations in two).
    pub fn levels() -> Vec<Level> {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        let avx512 = avx2 && is_x86_feature_detected!("avx512f");
        [(avx512, Level::Avx512), (avx2, Level::Avx2)]
            .into_iter()
            .filter_map(|(has, level)| has.then_some(level))
            .collect()
    }

    /// Reads every value of `data` once (their sum).
    pub fn read(level: Level, data: &[f32]) -> f32 {
        // SAFETY: `levels` found the features that each function enables.
        #[allow(unsafe_code)]
        match level {
            Level::Avx512 => unsafe { read_avx512(data) },
            Level::Avx2 => unsafe { read_avx2(data) },
        }
    }

    /// `multiply_adds` independent fused multiply-adds (rounded down to whole rounds).
    pub fn fma(level: Level, multiply_adds: usize) -> f32 {
        let rounds = multiply_adds / level.chains();
        // SAFETY: `levels` found the features that each function enables.
        #[allow(unsafe_code)]
        match level {
            Level::Avx512 => unsafe { fma_avx512(rounds) },
            Level::Avx2 => unsafe { fma_avx2(rounds) },
        }
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    fn read_avx512(data: &[f32]) -> f32 {
        sum::<128>(data)
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    fn fma_avx512(rounds: usize) -> f32 {
        multiply_add::<256>(rounds)
    }

    #[target_feature(enable = "avx2,fma")]
    fn read_avx2(data: &[f32]) -> f32 {
        sum::<64>(data)
    }

    #[target_feature(enable = "avx2,fma")]
    fn fma_avx2(rounds: usize) -> f32 {
        multiply_add::<96>(rounds)
    }

    /// The sum of `data` in `N` independent running sums (8 registers), as nn's kernels keep
    /// several sums: each add waits for a load, not for the previous add. Inlined into the
    /// `#[target_feature]` functions, which vectorise it.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn sum<const N: usize>(data: &[f32]) -> f32 {
        let mut sums = [0.0; N];
        let (blocks, rest) = data.as_chunks::<N>();
        for block in blocks {
            for (sum, x) in sums.iter_mut().zip(block) {
                *sum += x;
            }
        }
        total(sums) + rest.iter().sum::<f32>()
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
        total(values)
    }

    /// The sum of `values`, halving them with vector adds (one add after another would take
    /// longer than a floor may).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn total<const N: usize>(mut values: [f32; N]) -> f32 {
        let mut n = N;
        while n > 16 {
            n /= 2;
            for i in 0..n {
                values[i] += values[i + n];
            }
        }
        values[..n].iter().sum()
    }
}

/// Elsewhere, no floors: [`floors::levels`] finds no instructions to measure them with.
#[cfg(not(target_arch = "x86_64"))]
mod floors {
    /// No value: there is nothing to measure with.
    #[derive(Clone, Copy, Debug)]
    pub enum Level {}

    impl Level {
        pub fn name(self) -> &'static str {
            match self {}
        }
    }

    pub fn levels() -> Vec<Level> {
        Vec::new()
    }

    pub fn read(level: Level, _: &[f32]) -> f32 {
        match level {}
    }

    pub fn fma(level: Level, _: usize) -> f32 {
        match level {}
    }
}
