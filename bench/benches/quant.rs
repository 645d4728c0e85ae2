//! The int8 dense layer's kernels against the `f32` `Dense` of the same shape and against the
//! machine's int8 floor, in one run: MNIST's dense layers (784 -> 128, 128 -> 10) through
//! `QuantizedDense::accumulate` (one sample) and `accumulate_batch` (256) at each supported
//! level, `Dense::forward` and `forward_batch` at the same batch sizes, and the peak of
//! `vpdpbusd` (a register-only loop, as `floors::fma` for `f32`). Best of several rounds,
//! nanoseconds per call; the ratios printed are `f32 time / int8 time` and the fraction of the
//! int8 peak each kernel reaches (multiply-adds per nanosecond over the peak's: the 512-bit
//! `vpdpbusd` peak for `Avx512Vnni` and the dispatcher, the 256-bit one for the other levels).
//!
//! ```sh
//! cargo bench -p nn-bench --bench quant
//! ```

#![allow(missing_docs)]

use nn::__private::Dense;
use nn::__private::init::SplitMix64;
use nn::__private::quant::{QuantLevel, Quantization, QuantizedDense, WeightRange};
use nn::__private::zeroed_box;
use nn_bench::floors;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds per measurement; the best is printed (short rounds, many: on a shared machine some
/// fall in quiet moments).
const ROUNDS: usize = 60;
/// Length of one round.
const ROUND: Duration = Duration::from_millis(5);
/// Samples per batch.
const BATCH: usize = 256;

/// Nanoseconds per call of `f`, the best of [`ROUNDS`] rounds.
fn best_ns(mut f: impl FnMut()) -> f64 {
    let mut calls = 1_usize;
    loop {
        let start = Instant::now();
        for _ in 0..calls {
            f();
        }
        if start.elapsed() >= ROUND / 4 {
            break;
        }
        calls *= 2;
    }
    calls *= 4;
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() * 1e9 / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod peak {
    use std::arch::x86_64::{
        __m256i, __m512i, _mm256_dpbusd_avx_epi32, _mm256_set1_epi32, _mm512_dpbusd_epi32,
        _mm512_reduce_add_epi32, _mm512_set1_epi32,
    };

    /// `rounds` `vpdpbusd` on each of 16 independent 512-bit registers (64 multiply-adds each):
    /// more chains than latency (5 cycles) times throughput need.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub fn dpbusd_512(rounds: usize, seed: i32) -> i32 {
        let mut acc: [__m512i; 16] = [_mm512_set1_epi32(seed); 16];
        let (x, w) = (
            _mm512_set1_epi32(0x0102_0304),
            _mm512_set1_epi32(0x01ff_01ff),
        );
        for _ in 0..rounds {
            for acc in &mut acc {
                *acc = _mm512_dpbusd_epi32(*acc, x, w);
            }
        }
        acc.iter()
            .map(|v| _mm512_reduce_add_epi32(*v))
            .fold(0, i32::wrapping_add)
    }

    /// `rounds` `vpdpbusd` on each of 12 independent 256-bit registers (32 multiply-adds each).
    #[target_feature(enable = "avx2,avxvnni")]
    pub fn dpbusd_256(rounds: usize, seed: i32) -> i32 {
        let mut acc: [__m256i; 12] = [_mm256_set1_epi32(seed); 12];
        let (x, w) = (
            _mm256_set1_epi32(0x0102_0304),
            _mm256_set1_epi32(0x01ff_01ff),
        );
        for _ in 0..rounds {
            for acc in &mut acc {
                *acc = _mm256_dpbusd_avx_epi32(*acc, x, w);
            }
        }
        acc.iter().fold(0, |sum, v| {
            // SAFETY: `__m256i` and `[i32; 8]` have the same size, and every bit pattern is
            // valid for both.
            let lanes = unsafe { core::mem::transmute::<__m256i, [i32; 8]>(*v) };
            lanes.iter().fold(sum, |s, l| s.wrapping_add(*l))
        })
    }

    /// Multiply-adds per nanosecond of `vpdpbusd` on 512 bits and on 256 bits (AVX-VNNI's
    /// encoding), where this CPU has them.
    pub fn measure() -> super::Peaks {
        const ROUNDS: usize = 4096;
        let zmm = (std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vnni"))
        .then(|| {
            // SAFETY: the CPU has AVX-512F and AVX-512 VNNI, checked just above.
            let ns = super::best_ns(|| {
                std::hint::black_box(unsafe { dpbusd_512(ROUNDS, 1) });
            });
            (ROUNDS * 16 * 64) as f64 / ns
        });
        let ymm = (std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("avxvnni"))
        .then(|| {
            // SAFETY: the CPU has AVX2 and AVX-VNNI, checked just above.
            let ns = super::best_ns(|| {
                std::hint::black_box(unsafe { dpbusd_256(ROUNDS, 1) });
            });
            (ROUNDS * 12 * 32) as f64 / ns
        });
        super::Peaks { zmm, ymm }
    }
}

/// The int8 floors: `vpdpbusd`'s multiply-adds per nanosecond on 512 and 256 bits.
#[derive(Clone, Copy)]
struct Peaks {
    zmm: Option<f64>,
    ymm: Option<f64>,
}

impl Peaks {
    /// The peak a level's kernels are measured against: the 512-bit one for `Avx512Vnni` (and
    /// the dispatcher, which picks it where it exists), the 256-bit one for the others (the
    /// 512-bit one where the CPU lacks AVX-VNNI).
    fn of(self, level: Option<QuantLevel>) -> Option<f64> {
        match level {
            Some(QuantLevel::Avx512Vnni) | None => self.zmm.or(self.ymm),
            Some(_) => self.ymm.or(self.zmm),
        }
    }
}

/// The `f32` FMA peak of `floors`, multiply-adds per nanosecond.
fn fma_peak() -> Option<f64> {
    const ROUNDS: usize = 4096;
    let per_round = floors::fma_per_round()?;
    let ns = best_ns(|| {
        black_box(floors::fma(black_box(ROUNDS), 1.0));
    });
    Some((ROUNDS * per_round) as f64 / ns)
}

/// Uniform `f32`s in `[-bound, bound]`.
fn uniform(rng: &mut SplitMix64, bound: f64) -> f32 {
    #[allow(clippy::cast_possible_truncation)]
    let v = rng.uniform(bound) as f32;
    v
}

/// Times one shape; the report is printed once the peaks are known.
fn measure<const IN: usize, const OUT: usize, const G: usize>() -> Report {
    let mut rng = SplitMix64::new(7);
    let mut dense = zeroed_box::<Dense<IN, OUT, f32>>();
    let bound = 1.0 / (IN as f64).sqrt();
    for column in dense.columns_mut().iter_mut() {
        for w in column {
            *w = uniform(&mut rng, bound);
        }
    }
    for b in dense.bias_mut() {
        *b = uniform(&mut rng, bound);
    }
    let xs: Vec<[f32; IN]> = (0..BATCH)
        .map(|_| core::array::from_fn(|_| uniform(&mut rng, 1.0)))
        .collect();
    let input = Quantization::from_range(-1.0, 1.0);
    let mut layer = zeroed_box::<QuantizedDense<IN, OUT, G>>();
    layer.quantize_from(&dense, input, Quantization::from_range(-4.0, 4.0));
    let qs: Vec<[u8; IN]> = xs.iter().map(|x| input.quantize_all(x)).collect();
    // The same layer in 7 bits, which the `Avx2` level runs with `vpmaddubsw`.
    let mut layer7 = zeroed_box::<QuantizedDense<IN, OUT, G>>();
    layer7.quantize_from_with(
        &dense,
        input,
        Quantization::from_range(-4.0, 4.0),
        WeightRange::Int7,
    );

    let mut ys = vec![[0.0_f32; OUT]; BATCH];
    let mut sums = vec![[0_i32; OUT]; BATCH];
    let mut k = 0;
    let f32_b1 = best_ns(|| {
        black_box(dense.forward(black_box(&xs[k % BATCH])));
        k += 1;
    });
    let f32_batch = best_ns(|| {
        dense.forward_batch(black_box(&xs), &mut ys);
        black_box(&ys);
    });
    // Batch 1 reads every weight once: the int8 layer's bytes, read with the widest loads.
    let bytes = floors::lines((G * 4 * OUT).div_ceil(4));
    let read = best_ns(|| {
        black_box(floors::read(black_box(&bytes)));
    });
    let mut rows = Vec::new();
    // Batch 1 and batch 256 (per sample) of `layer` at `level`.
    let mut at = |layer: &QuantizedDense<IN, OUT, G>, level| {
        let b1 = best_ns(|| {
            black_box(layer.accumulate_at(level, black_box(&qs[k % BATCH])));
            k += 1;
        });
        let batch = best_ns(|| {
            layer.accumulate_batch_at(level, black_box(&qs), &mut sums);
            black_box(&sums);
        });
        (b1, batch / BATCH as f64)
    };
    for level in QuantLevel::ALL.into_iter().filter(|l| l.is_supported()) {
        let (b1, batch) = at(&layer, level);
        rows.push((format!("{level:?}"), Some(level), b1, batch));
        if level == QuantLevel::Avx2 {
            let (b1, batch) = at(&layer7, level);
            rows.push(("Avx2, 7-bit".into(), Some(level), b1, batch));
        }
    }
    let b1 = best_ns(|| {
        black_box(layer.accumulate(black_box(&qs[k % BATCH])));
        k += 1;
    });
    let batch = best_ns(|| {
        layer.accumulate_batch(black_box(&qs), &mut sums);
        black_box(&sums);
    });
    rows.push(("accumulate".into(), None, b1, batch / BATCH as f64));
    Report {
        inputs: IN,
        outputs: OUT,
        bytes: G * 4 * OUT,
        read,
        f32_b1,
        f32_batch: f32_batch / BATCH as f64,
        rows,
    }
}

/// The times of one shape, nanoseconds per call (batches: per sample).
struct Report {
    inputs: usize,
    outputs: usize,
    /// Bytes of int8 weights.
    bytes: usize,
    /// Reading them.
    read: f64,
    f32_b1: f64,
    f32_batch: f64,
    /// The kernel's name, its level (`None`: the dispatching `accumulate`), batch 1, batch 256.
    rows: Vec<(String, Option<QuantLevel>, f64, f64)>,
}

impl Report {
    fn print(&self, peaks: Peaks) {
        let shape = format!("{}->{}", self.inputs, self.outputs);
        println!(
            "quant {shape:<8} floor: reading the int8 weights ({} B) {:9.1} ns",
            self.bytes, self.read
        );
        println!(
            "quant {shape:<8} f32 Dense              b1 {:9.1} ns   b{BATCH} {:9.1} ns/sample",
            self.f32_b1, self.f32_batch
        );
        let macs = (self.inputs * self.outputs) as f64;
        for (name, level, b1, batch) in &self.rows {
            let (level, b1, batch) = (*level, *b1, *batch);
            let peak = |ns: f64| {
                peaks.of(level).map_or_else(
                    || "-".to_string(),
                    |p| format!("{:.1}%", macs / ns / p * 100.0),
                )
            };
            let width = if peaks.of(level) == peaks.zmm {
                "zmm"
            } else {
                "ymm"
            };
            println!(
                "quant {shape:<8} int8 {name:<17} b1 {b1:9.1} ns   b{BATCH} {batch:9.1} ns/sample   \
                 f32/int8 b1 {:5.2}x b{BATCH} {:5.2}x   {width} peak b1 {:>6} b{BATCH} {:>6}",
                self.f32_b1 / b1,
                self.f32_batch / batch,
                peak(b1),
                peak(batch),
            );
        }
    }
}

/// One sample through a small layer: the portable kernel, the best level's and the dispatcher
/// (which keeps layers of at most `SMALL` weights on the inlined portable kernel).
fn small<const IN: usize, const OUT: usize, const G: usize>() {
    let rows: [[i8; IN]; OUT] = core::array::from_fn(|o| {
        core::array::from_fn(|i| i8::try_from((o * 7 + i * 13) % 255).unwrap_or(0) - 100)
    });
    let q = Quantization::new(0.01, 3);
    let layer = QuantizedDense::<IN, OUT, G>::from_parts(&rows, [0.01; OUT], [5; OUT], q, q);
    let xs: Vec<[u8; IN]> = (0..64_usize)
        .map(|s| core::array::from_fn(|i| u8::try_from((s * 31 + i * 17) % 256).unwrap()))
        .collect();
    let mut k = 0;
    let mut at = |level| {
        best_ns(|| {
            black_box(layer.accumulate_at(level, black_box(&xs[k % 64])));
            k += 1;
        })
    };
    let portable = at(QuantLevel::Portable);
    let best = QuantLevel::ALL
        .into_iter()
        .rfind(|l| l.is_supported())
        .unwrap_or(QuantLevel::Portable);
    let vector = at(best);
    let dispatched = best_ns(|| {
        black_box(layer.accumulate(black_box(&xs[k % 64])));
        k += 1;
    });
    println!(
        "quant small {:<8} Portable {portable:6.1} ns   {best:?} {vector:6.1} ns   accumulate \
         {dispatched:6.1} ns",
        format!("{IN}->{OUT}")
    );
}

fn main() {
    // The peaks before and after the layers, the best of each: on a shared machine a single
    // measurement may fall in a busy moment.
    let peaks = measure_peaks();
    let reports = [measure::<784, 128, 196>(), measure::<128, 10, 32>()];
    let after = measure_peaks();
    let best = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let peaks = Peaks {
        zmm: best(peaks.zmm, after.zmm),
        ymm: best(peaks.ymm, after.ymm),
    };
    for (name, peak) in [("zmm", peaks.zmm), ("ymm", peaks.ymm)] {
        match peak {
            Some(p) => println!("quant floor int8 vpdpbusd {name} peak {p:8.1} multiply-adds/ns"),
            None => println!("quant floor int8 vpdpbusd {name}: not on this CPU"),
        }
    }
    if let Some(fma) = fma_peak() {
        println!("quant floor f32 FMA peak {fma:8.1} multiply-adds/ns");
    }
    for report in &reports {
        report.print(peaks);
    }
    small::<2, 2, 1>();
    small::<4, 4, 1>();
    small::<8, 8, 2>();
    small::<16, 8, 4>();
    small::<16, 16, 4>();
    small::<32, 16, 8>();
    small::<64, 16, 16>();
}

/// The int8 peaks of this CPU.
fn measure_peaks() -> Peaks {
    #[cfg(target_arch = "x86_64")]
    {
        peak::measure()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Peaks {
            zmm: None,
            ymm: None,
        }
    }
}
