//! Scratch timing.
#![allow(unsafe_code, missing_docs)]
use std::hint::black_box;
use std::time::Instant;
use nn::__private::kernel::Level;

nn::network! {
    pub struct Mnist = 784 -> 128 relu as hidden -> 10 softmax as output;
}
nn::network! {
    pub struct Small = 50 -> 64 relu as hidden -> 1 sigmoid as output;
}
nn::network! {
    pub struct Xor = 2 -> 2 sigmoid as hidden -> 1 sigmoid as output with unroll = full;
}
nn::network! {
    pub struct XorLoops = 2 -> 2 sigmoid as hidden -> 1 sigmoid as output;
}

fn time<R>(name: &str, runs: u32, mut f: impl FnMut() -> R) {
    for _ in 0..runs / 10 { black_box(f()); }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..runs { black_box(f()); }
        best = best.min(start.elapsed().as_secs_f64() * 1e9 / f64::from(runs));
    }
    println!("{name:40} {best:10.1} ns");
}

fn main() {
    floors_main();
    let net = Mnist::random(1);
    let data = vec![[1.0f32; 16]; 101_770 / 16];
    let x: [f32; 784] = std::array::from_fn(|i| (i % 7) as f32 * 0.1);
    time("mnist forward", 20000, || net.forward(black_box(&x)));
    for level in Level::ALL {
        time(&format!("hidden layer {level:?}"), 20000, || net.hidden.forward_at(level, black_box(&x)));
    }
    let xs: Vec<[f32; 784]> = (0..256).map(|s| std::array::from_fn(|i| ((i + s) % 7) as f32 * 0.1)).collect();
    let mut ys = vec![[0f32; 10]; 256];
    time("mnist batch 256 (per call)", 200, || net.forward_batch(black_box(&xs), &mut ys));
    let mut hs = vec![[0f32; 128]; 256];
    for level in Level::ALL {
        time(&format!("hidden batch 256 {level:?}"), 200, || net.hidden.forward_batch_at(level, black_box(&xs), &mut hs));
    }
    let small = Small::random(2);
    let xs50: [f32; 50] = std::array::from_fn(|i| (i % 7) as f32 * 0.1);
    time("small forward", 1_000_000, || small.forward(black_box(&xs50)));
    let xor = Xor::random(3);
    time("xor full forward", 1_000_000, || xor.forward(black_box(&[1.0, 0.0])));
    let xorl = XorLoops::random(3);
    time("xor loops forward", 1_000_000, || xorl.forward(black_box(&[1.0, 0.0])));
}

mod floors {
    use std::arch::x86_64::*;
    /// Reads `data` once, 4 loads per iteration into 8 accumulators.
    #[target_feature(enable = "avx512f")]
    pub fn read(data: &[[f32; 16]]) -> f32 {
        let mut acc = [_mm512_setzero_ps(); 8];
        let (chunks, _) = data.as_chunks::<8>();
        for c in chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a = _mm512_add_ps(*a, unsafe { _mm512_loadu_ps(v.as_ptr()) });
            }
        }
        let mut s = _mm512_setzero_ps();
        for a in acc { s = _mm512_add_ps(s, a); }
        _mm512_reduce_add_ps(s)
    }
    /// 24 independent FMA chains, `n` rounds: 24 * 16 * 2 * n flops.
    #[target_feature(enable = "avx512f")]
    pub fn fma(n: usize, x: f32) -> f32 {
        let mut acc = [_mm512_set1_ps(x); 24];
        let m = _mm512_set1_ps(0.999);
        let a = _mm512_set1_ps(0.001);
        for _ in 0..n {
            for v in acc.iter_mut() { *v = _mm512_fmadd_ps(*v, m, a); }
        }
        let mut s = _mm512_setzero_ps();
        for v in acc { s = _mm512_add_ps(s, v); }
        _mm512_reduce_add_ps(s)
    }
}

#[test]
fn unused() {}

pub fn floors_main() {}
pub fn floors_main2() {
    let data = vec![[1.0f32; 16]; 101_770 / 16];
    time("floor: read 407 KB", 20000, || unsafe { floors::read(black_box(&data)) });
    let n = 10_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        black_box(unsafe { floors::fma(n, black_box(1.0)) });
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!("floor: fma peak {:.1} GFLOP/s", (24 * 16 * 2 * n) as f64 / best / 1e9);
}
