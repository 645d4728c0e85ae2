//! int8 batches on Intel AMX (Sapphire Rapids and later): `tdpbusd` multiplies a tile of 16
//! samples by 64 input bytes with a tile of 16 groups of four weights for 16 neurons, 16,384
//! `u8 x i8` multiply-adds into 16 x 16 `i32` sums in one instruction, where a 512-bit
//! `vpdpbusd` does 64. The sums are exact, as at every level, so they are the VNNI kernels'.
//!
//! The weights need no repacking: a layer's `[groups][OUT][4]` bytes are AMX's "VNNI layout"
//! already, a tile of them 16 groups (rows) of 16 neurons' four bytes, `OUT * 4` bytes apart.
//! A tile of samples is 16 rows of 64 input bytes, `IN` bytes apart; a tile of sums 16 rows of
//! 16 neurons, `OUT * 4` bytes apart. The kernel holds 2 x 2 tiles of sums (32 samples by 32
//! neurons) in four tile registers, loads two tiles of samples and two of weights per 64 input
//! bytes, and runs the blocks of samples outermost, so that a block stays in L1 for every
//! panel of neurons (faster than the panels outermost for MNIST's hidden sums at batch 256, in
//! a scratch harness). Copying each block of samples first into aligned rows (MNIST's are 784
//! bytes apart, so that most of a tile's rows straddle two cache lines) took longer than it
//! saved, in the same harness. The neurons after the last block of 32, and the groups after the
//! last whole tile of 64 input bytes, run in passes of their own, with tiles configured as
//! narrow, so that a 784 -> 100 layer at batch 256 runs faster than on VNNI alone (a scratch
//! harness).
//!
//! Rust has no stable AMX intrinsics: the instructions are inline assembly, and the tile
//! registers, which the compiler never uses, hold their values from one `asm!` to the next
//! within a call. Linux gives a process the tiles' 8 KiB of state only on request
//! (`arch_prctl(ARCH_REQ_XCOMP_PERM)`), made once, at detection.

use core::arch::asm;

/// Rows of a tile: samples of a tile of inputs and sums, groups of a tile of weights.
const ROWS: usize = 16;
/// Bytes of a tile's row.
const ROW_BYTES: usize = 64;
/// Groups of four inputs in a full tile of inputs.
const GROUPS: usize = ROW_BYTES / 4;
/// Samples, and neurons, of the 2 x 2 tiles of sums held at once.
pub(super) const BLOCK: usize = 2 * ROWS;

/// Whether the CPU has AMX-INT8 and the OS has given this process its tiles, detected once.
#[cfg(all(target_os = "linux", feature = "std"))]
pub(crate) fn available() -> bool {
    use core::sync::atomic::{AtomicU8, Ordering};
    /// `0` until detected, then `1` without AMX, `2` with.
    static AMX: AtomicU8 = AtomicU8::new(0);
    match AMX.load(Ordering::Relaxed) {
        0 => {
            let amx = detect();
            AMX.store(if amx { 2 } else { 1 }, Ordering::Relaxed);
            amx
        }
        state => state == 2,
    }
}

/// Without Linux's permission request (or `std` to cache it), AMX is not used.
#[cfg(not(all(target_os = "linux", feature = "std")))]
pub(crate) fn available() -> bool {
    false
}

/// AMX-TILE and AMX-INT8 (CPUID leaf 7), their state enabled by the OS (`XCR0` bits 17 and
/// 18), and Linux's permission to use the tiles' data (granted, or refused when the kernel
/// is too old); `NN_NO_AMX` in the environment turns it off (the VNNI kernels run instead).
#[cfg(all(target_os = "linux", feature = "std"))]
#[cold]
fn detect() -> bool {
    use core::arch::x86_64::__cpuid_count;
    /// `arch_prctl`'s system call number on x86_64 Linux.
    const ARCH_PRCTL: usize = 158;
    /// Asks for permission to use an extended state component.
    const ARCH_REQ_XCOMP_PERM: usize = 0x1023;
    /// The AMX tiles' data.
    const XFEATURE_XTILEDATA: usize = 18;
    if std::env::var_os("NN_NO_AMX").is_some() {
        return false;
    }
    let basic = __cpuid_count(1, 0);
    let osxsave = basic.ecx & (1 << 27) != 0;
    let extended = __cpuid_count(7, 0);
    let (tile, int8) = (extended.edx & (1 << 24) != 0, extended.edx & (1 << 25) != 0);
    if !(osxsave && tile && int8) {
        return false;
    }
    let low: u32;
    // SAFETY: `xgetbv` with ECX = 0 reads XCR0, which OSXSAVE (checked above) makes readable.
    #[allow(unsafe_code)]
    unsafe {
        asm!("xgetbv", in("ecx") 0, out("eax") low, out("edx") _, options(nomem, nostack));
    }
    let tile_state = (1 << 17) | (1 << 18);
    if low & tile_state != tile_state {
        return false;
    }
    let result: isize;
    // SAFETY: `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)` reads and writes no user
    // memory; the `syscall` instruction clobbers RCX and R11, declared.
    #[allow(unsafe_code)]
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") ARCH_PRCTL => result,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result == 0
}

/// Whether [`accumulate_batch`] takes a layer of this shape: inputs in whole groups of four
/// (a tile's row never reads past a sample), at least 16 neurons (one tile's width).
pub(super) const fn fits(inputs: usize, outputs: usize) -> bool {
    inputs.is_multiple_of(4) && inputs > 0 && outputs >= ROWS
}

/// The tile configuration (palette 1): tiles 0 to 3 the sums (16 samples each), 4 and 5 the
/// samples, 6 and 7 the weights. Tiles 0, 2 and 6 are `widths[0]` neurons wide, 1, 3 and 7
/// `widths[1]` (none: not configured); the samples' rows are `4 * groups` bytes long and the
/// weights' tiles `groups` rows (16, or a layer's last groups).
#[repr(C, align(64))]
struct Config {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    bytes_per_row: [u16; 16],
    rows: [u8; 16],
}

impl Config {
    /// Tiles for `groups` groups of four inputs at a time (1 to 16) and blocks of `widths`
    /// neurons (at most 16 each, the first not 0).
    fn new(groups: usize, widths: [usize; 2]) -> Self {
        debug_assert!((1..=GROUPS).contains(&groups));
        debug_assert!((1..=ROWS).contains(&widths[0]) && widths[1] <= ROWS);
        #[allow(clippy::cast_possible_truncation)] // at most 64 and 16
        let (bytes, groups, full) = (4 * groups as u16, groups as u8, ROWS as u8);
        #[allow(clippy::cast_possible_truncation)] // at most 64
        let [first, second] = widths.map(|w| 4 * w as u16);
        // Tiles 1, 3 and 7 (the second width's sums and weights) have no rows without it.
        let [second_sums, second_weights] = if widths[1] > 0 {
            [full, groups]
        } else {
            [0, 0]
        };
        let mut config = Self {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            bytes_per_row: [0; 16],
            rows: [0; 16],
        };
        // Tiles 0 to 3: the sums; 4 and 5: the samples; 6 and 7: the weights.
        config.bytes_per_row[..8]
            .copy_from_slice(&[first, second, first, second, bytes, bytes, first, second]);
        config.rows[..8].copy_from_slice(&[
            full,
            second_sums,
            full,
            second_sums,
            full,
            full,
            groups,
            second_weights,
        ]);
        config
    }
}

/// Where the sums of a block start before its groups are added.
#[derive(Clone, Copy)]
enum Start {
    /// The layer's offsets (every sample's row the same).
    Offsets,
    /// The sums already written (an earlier pass over other groups).
    Sums,
}

/// The first `32 * (n / 32)` rows of `sums` (`n` the shorter of `xs` and `sums`), as the VNNI
/// kernels compute them; returns how many rows, the rest left to the caller. The caller
/// checks [`available`] and [`fits`].
///
/// Up to four passes, each with its tile configuration: the blocks of 32 neurons, then the
/// neurons after them (fewer than 32: tiles as wide as they are), each over the groups of
/// whole tiles of 64 input bytes, then over the groups after them.
///
/// # Safety
///
/// The CPU has AMX-TILE and AMX-INT8 and the process may use them ([`available`]).
#[allow(unsafe_code)]
pub(super) unsafe fn accumulate_batch<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
) -> usize {
    assert!(fits(IN, OUT) && G * 4 == IN, "a layer of whole groups");
    let n = (xs.len().min(sums.len()) / BLOCK) * BLOCK;
    if n == 0 {
        return 0;
    }
    let (xs, sums) = (&xs[..n], &mut sums[..n]);
    let full = G / GROUPS;
    let rest = G % GROUPS;
    let blocks = OUT / BLOCK * BLOCK;
    let tail = OUT - blocks;
    let parts = [
        (0..blocks, [ROWS, ROWS]),
        (blocks..OUT, [tail.min(ROWS), tail.saturating_sub(ROWS)]),
    ];
    for (neurons, widths) in parts {
        if neurons.is_empty() {
            continue;
        }
        let layer = Layer {
            w,
            offsets,
            neurons,
            widths,
        };
        // SAFETY: the caller checked the CPU and the permission; every tile lies within `w`,
        // `offsets`, `xs` and `sums` (see `pass`).
        unsafe {
            if full > 0 {
                pass(&layer, xs, sums, 0..full * GROUPS, GROUPS, Start::Offsets);
            }
            if rest > 0 {
                let start = if full > 0 {
                    Start::Sums
                } else {
                    Start::Offsets
                };
                pass(&layer, xs, sums, full * GROUPS..G, rest, start);
            }
        }
    }
    // SAFETY: as above; returns the tiles to their initial state.
    unsafe {
        asm!("tilerelease", options(nostack, nomem));
    }
    n
}

/// The weights and offsets of the neurons one pass computes: blocks of `widths[0] + widths[1]`
/// neurons from `neurons.start`.
struct Layer<'a, const OUT: usize, const G: usize> {
    w: &'a [[[i8; 4]; OUT]; G],
    offsets: &'a [i32; OUT],
    neurons: core::ops::Range<usize>,
    widths: [usize; 2],
}

/// Adds groups `groups` (a multiple of `per_tile` long) of every sample to its sums of the
/// layer's neurons, block by block of 32 samples by up to 32 neurons, with tiles configured
/// for `per_tile` groups.
///
/// # Safety
///
/// As [`accumulate_batch`]; `xs` and `sums` are as long, a multiple of 32 rows; the blocks of
/// neurons lie within `OUT`.
#[allow(unsafe_code)]
unsafe fn pass<const IN: usize, const OUT: usize, const G: usize>(
    layer: &Layer<'_, OUT, G>,
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
    groups: core::ops::Range<usize>,
    per_tile: usize,
    start: Start,
) {
    debug_assert!(groups.len().is_multiple_of(per_tile) && groups.end <= G);
    debug_assert!(xs.len() == sums.len() && xs.len().is_multiple_of(BLOCK));
    let [first, second] = layer.widths;
    let width = first + second;
    debug_assert!(layer.neurons.len().is_multiple_of(width) && layer.neurons.end <= OUT);
    let (w, offsets) = (layer.w, layer.offsets);
    let config = Config::new(per_tile, layer.widths);
    let sample_stride = IN;
    let neuron_stride = OUT * 4;
    let zero_stride = 0_usize;
    // Every tile's address from the whole slice's pointer (a tile spans rows, so a pointer
    // from one row's reference would not cover it).
    let samples = xs.as_ptr().cast::<u8>();
    let weights = w.as_ptr().cast::<[i8; 4]>();
    let rows = sums.as_mut_ptr().cast::<i32>();
    // SAFETY (for every tile below): a tile of samples reads 16 rows of `4 * per_tile` bytes
    // from byte `4 g` of sample `r`, within the samples since `4 (g + per_tile) <= 4 G = IN`
    // and `r + 32 <= n`; a tile of weights reads `per_tile` groups from `g` of `first` (or
    // `second`) neurons from `o` (or `o + first`), within `w` since `g + per_tile <= G` and
    // `o + width <= OUT`; a tile of sums reads and writes 16 rows of as many `i32` from
    // sample `r` (or `r + 16`) and the same neurons, within `sums`, or reads one row of
    // `offsets` 16 times (stride 0). The configuration is 64 aligned bytes.
    unsafe {
        asm!("ldtilecfg [{}]", in(reg) &raw const config, options(nostack, readonly));
        for r in (0..xs.len()).step_by(BLOCK) {
            for o in layer.neurons.clone().step_by(width) {
                let sum = |row: usize, neuron: usize| rows.add((r + row) * OUT + o + neuron);
                let (c0, c1, c2, c3, stride) = match start {
                    Start::Offsets => {
                        let a = offsets.as_ptr().add(o);
                        let b = offsets.as_ptr().add(o + first);
                        (a, b, a, b, zero_stride)
                    }
                    Start::Sums => (
                        sum(0, 0).cast_const(),
                        sum(0, first).cast_const(),
                        sum(ROWS, 0).cast_const(),
                        sum(ROWS, first).cast_const(),
                        neuron_stride,
                    ),
                };
                load_sums([c0, c1, c2, c3], stride, second > 0);
                for g in groups.clone().step_by(per_tile) {
                    let x = samples.add(r * IN + 4 * g);
                    let x = [x, x.add(ROWS * IN)];
                    let w = weights.add(g * OUT + o);
                    let w = [w, w.add(first)];
                    multiply(x, sample_stride, w, neuron_stride, second > 0);
                }
                let (a, c) = (sum(0, 0), sum(ROWS, 0));
                store_sums(
                    [a, a.add(first), c, c.add(first)],
                    neuron_stride,
                    second > 0,
                );
            }
        }
    }
}

/// Loads tiles 0 and 2 (and 1 and 3 with `both`) from `at`, rows `stride` bytes apart.
///
/// # Safety
///
/// As [`pass`]: the tiles are configured and lie within their memory.
#[allow(unsafe_code)]
#[inline(always)]
unsafe fn load_sums(at: [*const i32; 4], stride: usize, both: bool) {
    // SAFETY: see the caller.
    unsafe {
        if both {
            asm!(
                "tileloadd tmm0, [{a} + {s} * 1]",
                "tileloadd tmm1, [{b} + {s} * 1]",
                "tileloadd tmm2, [{c} + {s} * 1]",
                "tileloadd tmm3, [{d} + {s} * 1]",
                a = in(reg) at[0],
                b = in(reg) at[1],
                c = in(reg) at[2],
                d = in(reg) at[3],
                s = in(reg) stride,
                options(nostack, readonly),
            );
        } else {
            asm!(
                "tileloadd tmm0, [{a} + {s} * 1]",
                "tileloadd tmm2, [{c} + {s} * 1]",
                a = in(reg) at[0],
                c = in(reg) at[2],
                s = in(reg) stride,
                options(nostack, readonly),
            );
        }
    }
}

/// Stores tiles 0 and 2 (and 1 and 3 with `both`) to `at`, rows `stride` bytes apart.
///
/// # Safety
///
/// As [`pass`].
#[allow(unsafe_code)]
#[inline(always)]
unsafe fn store_sums(at: [*mut i32; 4], stride: usize, both: bool) {
    // SAFETY: see the caller.
    unsafe {
        if both {
            asm!(
                "tilestored [{a} + {s} * 1], tmm0",
                "tilestored [{b} + {s} * 1], tmm1",
                "tilestored [{c} + {s} * 1], tmm2",
                "tilestored [{d} + {s} * 1], tmm3",
                a = in(reg) at[0],
                b = in(reg) at[1],
                c = in(reg) at[2],
                d = in(reg) at[3],
                s = in(reg) stride,
                options(nostack),
            );
        } else {
            asm!(
                "tilestored [{a} + {s} * 1], tmm0",
                "tilestored [{c} + {s} * 1], tmm2",
                a = in(reg) at[0],
                c = in(reg) at[2],
                s = in(reg) stride,
                options(nostack),
            );
        }
    }
}

/// Adds to tiles 0 and 2 (and 1 and 3 with `both`) the products of two tiles of samples from
/// `x` (rows `sample_stride` bytes apart) with one (two) of weights from `w` (rows
/// `neuron_stride` bytes apart).
///
/// # Safety
///
/// As [`pass`].
#[allow(unsafe_code)]
#[inline(always)]
unsafe fn multiply(
    x: [*const u8; 2],
    sample_stride: usize,
    w: [*const [i8; 4]; 2],
    neuron_stride: usize,
    both: bool,
) {
    // SAFETY: see the caller.
    unsafe {
        if both {
            asm!(
                "tileloadd tmm4, [{x0} + {xs} * 1]",
                "tileloadd tmm5, [{x1} + {xs} * 1]",
                "tileloadd tmm6, [{w0} + {ws} * 1]",
                "tileloadd tmm7, [{w1} + {ws} * 1]",
                "tdpbusd tmm0, tmm4, tmm6",
                "tdpbusd tmm1, tmm4, tmm7",
                "tdpbusd tmm2, tmm5, tmm6",
                "tdpbusd tmm3, tmm5, tmm7",
                x0 = in(reg) x[0],
                x1 = in(reg) x[1],
                xs = in(reg) sample_stride,
                w0 = in(reg) w[0],
                w1 = in(reg) w[1],
                ws = in(reg) neuron_stride,
                options(nostack, readonly),
            );
        } else {
            asm!(
                "tileloadd tmm4, [{x0} + {xs} * 1]",
                "tileloadd tmm5, [{x1} + {xs} * 1]",
                "tileloadd tmm6, [{w0} + {ws} * 1]",
                "tdpbusd tmm0, tmm4, tmm6",
                "tdpbusd tmm2, tmm5, tmm6",
                x0 = in(reg) x[0],
                x1 = in(reg) x[1],
                xs = in(reg) sample_stride,
                w0 = in(reg) w[0],
                ws = in(reg) neuron_stride,
                options(nostack, readonly),
            );
        }
    }
}
