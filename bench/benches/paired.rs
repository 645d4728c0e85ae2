//! The goals that are ratios to a floor, measured in alternation: rounds of about 20 ms of the
//! floor kernel, then 20 ms of `nn`, forty times over, so that both see the same state of a
//! shared machine (criterion measures one benchmark after another, minutes apart, and such a
//! machine's speed drifts over minutes: the history in BENCHMARKS.md). Prints one `paired` line
//! per measurement for `bench/report.py`: the best round of each (seconds per call: one sample,
//! or a batch of 256) and the median of the forty per-round ratios.
//!
//! ```sh
//! cargo bench -p nn-bench --bench paired
//! ```

#![allow(missing_docs)]

use nn_bench::{Mnist, floors, inputs};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Pairs of rounds per measurement.
const ROUNDS: usize = 40;
/// Length of one round.
const ROUND: Duration = Duration::from_millis(20);
/// Multiply-adds of one MNIST sample.
const MNIST_MACS: usize = 784 * 128 + 128 * 10;

/// Time taken by `calls` calls of `f`.
fn time(calls: usize, f: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed()
}

/// Seconds per call of `f`, over `calls` calls.
fn per_call(calls: usize, f: &mut impl FnMut()) -> f64 {
    time(calls, f).as_secs_f64() / calls as f64
}

/// Calls of `f` that fill about one round, doubling from one until a quarter of a round is
/// filled (which also warms up caches and clocks).
fn calls_per_round(f: &mut impl FnMut()) -> usize {
    let mut calls = 1_usize;
    loop {
        let elapsed = time(calls, f);
        if elapsed >= ROUND / 4 {
            let fit = ROUND.as_nanos() * calls as u128 / elapsed.as_nanos();
            return usize::try_from(fit).unwrap_or(usize::MAX).max(1);
        }
        calls *= 2;
    }
}

/// Alternates rounds of `floor` and `nn`; prints the best of each (seconds per call) and the
/// median ratio `nn / floor` of the rounds.
fn paired(group: &str, floor_name: &str, mut floor: impl FnMut(), mut nn: impl FnMut()) {
    let (floor_calls, nn_calls) = (calls_per_round(&mut floor), calls_per_round(&mut nn));
    let mut floor_times = Vec::with_capacity(ROUNDS);
    let mut nn_times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        floor_times.push(per_call(floor_calls, &mut floor));
        nn_times.push(per_call(nn_calls, &mut nn));
    }
    let mut ratios: Vec<f64> = nn_times
        .iter()
        .zip(&floor_times)
        .map(|(nn, floor)| nn / floor)
        .collect();
    ratios.sort_by(f64::total_cmp);
    // An even number of rounds: the mean of the two middle ratios.
    let median = f64::midpoint(ratios[ROUNDS / 2 - 1], ratios[ROUNDS / 2]);
    let best = |times: &[f64]| times.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "paired {group} {floor_name} {:.6e} nn {:.6e} median_ratio {:.4} rounds {ROUNDS}",
        best(&floor_times),
        best(&nn_times),
        median,
    );
}

fn main() {
    let net = Mnist::random(1);
    let x = inputs::<784>(256);

    // Batch 1: bound by reading the weights, so the floor reads as many bytes from L2.
    let data = floors::lines(Mnist::PARAMETERS);
    floors::read(&data).expect("a CPU with AVX2+FMA or AVX-512");
    paired(
        "mnist_b1",
        "floor_l2",
        || {
            black_box(floors::read(black_box(&data)));
        },
        || {
            black_box(net.forward(black_box(&x[0])));
        },
    );

    // Batch 256 on one thread: bound by the multiply-adds, so the floor does as many at peak.
    let per_round = floors::fma_per_round().expect("a CPU with AVX2+FMA or AVX-512");
    let rounds = (256 * MNIST_MACS).div_ceil(per_round);
    println!("paired_macs mnist_b256 {}", 256 * MNIST_MACS);
    let mut y = vec![[0.0_f32; 10]; 256];
    paired(
        "mnist_b256",
        "floor_fma",
        || {
            black_box(floors::fma(black_box(rounds), 1.0));
        },
        || {
            net.forward_batch(black_box(&x), black_box(&mut y))
                .expect("one output row per input");
        },
    );
}
