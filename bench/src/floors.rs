//! The machine's floors, measured by the smallest kernels that reach them: reading a buffer
//! from cache (batch 1 is bound by reading the weights) and independent multiply-adds (large
//! batches are bound by the FMA units).
//!
//! Each kernel exists for AVX-512F and for AVX2+FMA; [`read`] and [`fma`] pick the widest this
//! CPU has and return `None` on a CPU with neither. The int8 peak, [`dpbusd`], exists for
//! AVX-512 VNNI only (`None` elsewhere).

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use super::Line;
    use std::arch::x86_64::{
        __m256, __m512, __m512i, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps,
        _mm512_add_ps, _mm512_dpbusd_epi32, _mm512_fmadd_ps, _mm512_loadu_ps,
        _mm512_reduce_add_epi32, _mm512_reduce_add_ps, _mm512_set1_epi8, _mm512_set1_epi32,
        _mm512_set1_ps,
    };

    /// Sums `data` with 8 independent accumulators: one 64-byte load per add.
    #[target_feature(enable = "avx512f")]
    pub fn read_avx512(data: &[Line]) -> f32 {
        let mut acc = [_mm512_set1_ps(0.0); 8];
        let (blocks, rest) = data.as_chunks::<8>();
        for block in blocks {
            for (acc, v) in acc.iter_mut().zip(block) {
                // SAFETY: `v.0` is 16 readable `f32`s; `loadu` accepts any alignment.
                *acc = _mm512_add_ps(*acc, unsafe { _mm512_loadu_ps(v.0.as_ptr()) });
            }
        }
        let mut sum: f32 = rest.iter().flat_map(|l| l.0).sum();
        for acc in acc {
            sum += _mm512_reduce_add_ps(acc);
        }
        sum
    }

    /// `rounds` multiply-adds on each of 16 independent registers of 16 lanes: four times the
    /// chains that FMA latency (4 cycles) times throughput (2 per cycle) needs. (An array of 24
    /// accumulators made LLVM spill a third of them to the stack.)
    #[target_feature(enable = "avx512f")]
    pub fn fma_avx512(rounds: usize, seed: f32) -> f32 {
        let mut acc: [__m512; 16] = [_mm512_set1_ps(seed); 16];
        let (m, a) = (_mm512_set1_ps(0.999), _mm512_set1_ps(0.001));
        for _ in 0..rounds {
            for acc in &mut acc {
                *acc = _mm512_fmadd_ps(*acc, m, a);
            }
        }
        acc.iter().map(|v| _mm512_reduce_add_ps(*v)).sum()
    }

    /// `rounds` `vpdpbusd` on each of 16 independent registers: every instruction is 64
    /// multiply-adds of a `u8` by an `i8` (16 lanes of 4-way dot products into `i32`), all in
    /// registers. The sums wrap, which does not matter: only the time counts.
    #[target_feature(enable = "avx512vnni,avx512f")]
    pub fn dpbusd_avx512(rounds: usize, seed: i8) -> i32 {
        let mut acc: [__m512i; 16] = [_mm512_set1_epi32(i32::from(seed)); 16];
        let (a, b) = (
            _mm512_set1_epi8(seed),
            _mm512_set1_epi8(seed.wrapping_add(1)),
        );
        for _ in 0..rounds {
            for acc in &mut acc {
                *acc = _mm512_dpbusd_epi32(*acc, a, b);
            }
        }
        acc.iter()
            .fold(0_i32, |s, v| s.wrapping_add(_mm512_reduce_add_epi32(*v)))
    }

    /// Sums `data` with 8 independent accumulators: one 32-byte load per add, two per line.
    /// Indexed rather than through `flat_map`, whose `next` LLVM left as a call (without these
    /// features) on every load, which made this floor ten times too slow.
    #[target_feature(enable = "avx2,fma")]
    pub fn read_avx2(data: &[Line]) -> f32 {
        let mut acc = [_mm256_set1_ps(0.0); 8];
        let (blocks, rest) = data.as_chunks::<4>();
        for block in blocks {
            for (k, acc) in acc.iter_mut().enumerate() {
                let half = &block[k / 2].0[k % 2 * 8..][..8];
                // SAFETY: `half` is 8 readable `f32`s; `loadu` accepts any alignment.
                *acc = _mm256_add_ps(*acc, unsafe { _mm256_loadu_ps(half.as_ptr()) });
            }
        }
        let lanes: [[f32; 8]; 8] = acc.map(lanes256);
        rest.iter().flat_map(|l| l.0).sum::<f32>() + lanes.iter().flatten().sum::<f32>()
    }

    /// `rounds` multiply-adds on each of 12 independent registers of 8 lanes.
    #[target_feature(enable = "avx2,fma")]
    pub fn fma_avx2(rounds: usize, seed: f32) -> f32 {
        let mut acc: [__m256; 12] = [_mm256_set1_ps(seed); 12];
        let (m, a) = (_mm256_set1_ps(0.999), _mm256_set1_ps(0.001));
        for _ in 0..rounds {
            for acc in &mut acc {
                *acc = _mm256_fmadd_ps(*acc, m, a);
            }
        }
        acc.map(lanes256).iter().flatten().sum()
    }

    fn lanes256(v: __m256) -> [f32; 8] {
        // SAFETY: `__m256` and `[f32; 8]` have the same size, and every bit pattern is valid
        // for both.
        unsafe { core::mem::transmute::<__m256, [f32; 8]>(v) }
    }
}

/// Multiply-adds one [`fma`] call performs per round: 16 registers of 16 lanes with AVX-512,
/// 12 of 8 with AVX2.
pub fn fma_per_round() -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return Some(16 * 16);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Some(12 * 8);
        }
    }
    None
}

/// `u8 x i8` multiply-adds one [`dpbusd`] call performs per round (16 registers of 16 lanes of
/// 4-way dot products), or `None` without AVX-512 VNNI.
pub fn dpbusd_per_round() -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512f") {
            return Some(16 * 16 * 4);
        }
    }
    None
}

/// `rounds` rounds of [`dpbusd_per_round`] independent int8 multiply-adds (`vpdpbusd`, AVX-512
/// VNNI), or `None` on a CPU without it.
pub fn dpbusd(rounds: usize, seed: i8) -> Option<i32> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F and AVX-512 VNNI, checked just above.
            #[allow(unsafe_code)]
            return Some(unsafe { x86::dpbusd_avx512(rounds, seed) });
        }
    }
    let _ = (rounds, seed);
    None
}

/// 16 `f32`s on one cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub struct Line(pub [f32; 16]);

/// A buffer of at least `floats` values, aligned to cache lines like an `nn` layer's weights.
pub fn lines(floats: usize) -> Vec<Line> {
    vec![Line([1.0; 16]); floats.div_ceil(16)]
}

/// Reads every value of `data` once with the widest vector loads this CPU has.
pub fn read(data: &[Line]) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            #[allow(unsafe_code)]
            return Some(unsafe { x86::read_avx512(data) });
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            #[allow(unsafe_code)]
            return Some(unsafe { x86::read_avx2(data) });
        }
    }
    let _ = data;
    None
}

/// `rounds` rounds of [`fma_per_round`] independent multiply-adds.
pub fn fma(rounds: usize, seed: f32) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            #[allow(unsafe_code)]
            return Some(unsafe { x86::fma_avx512(rounds, seed) });
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            #[allow(unsafe_code)]
            return Some(unsafe { x86::fma_avx2(rounds, seed) });
        }
    }
    let _ = (rounds, seed);
    None
}
