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
//! panel of neurons (MNIST's hidden sums at batch 256 in a scratch harness: 27.4 us with the
//! panels outermost, 23.4 so). Copying each block of samples first into aligned rows (MNIST's
//! are 784 bytes apart, so that most of a tile's rows straddle two cache lines) took longer
//! than it saved: 27.6 us.
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
/// (a tile's row never reads past a sample), neurons in whole blocks of 32.
pub(super) const fn fits(inputs: usize, outputs: usize) -> bool {
    inputs.is_multiple_of(4) && inputs > 0 && outputs.is_multiple_of(BLOCK) && outputs > 0
}

/// The tile configuration (palette 1): tiles 0 to 3 the sums, 4 and 5 the samples, 6 and 7
/// the weights, every tile 16 rows; the samples' rows `bytes` long and the weights' tiles
/// `bytes / 4` rows (a layer's last groups, fewer than 16).
#[repr(C, align(64))]
struct Config {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    bytes_per_row: [u16; 16],
    rows: [u8; 16],
}

impl Config {
    /// Tiles for `groups` groups of four inputs at a time (at most 16).
    fn new(groups: usize) -> Self {
        debug_assert!((1..=GROUPS).contains(&groups));
        #[allow(clippy::cast_possible_truncation)] // at most 64 and 16
        let (bytes, rows, full) = (4 * groups as u16, groups as u8, ROW_BYTES as u16);
        Self {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            bytes_per_row: [
                full, full, full, full, bytes, bytes, full, full, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            rows: [16, 16, 16, 16, 16, 16, rows, rows, 0, 0, 0, 0, 0, 0, 0, 0],
        }
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
/// kernels compute them; returns how many, the rest left to the caller. The caller checks
/// [`available`] and [`fits`].
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
    assert!(
        fits(IN, OUT) && G * 4 == IN,
        "a layer of whole groups and blocks"
    );
    let n = (xs.len().min(sums.len()) / BLOCK) * BLOCK;
    if n == 0 {
        return 0;
    }
    let (xs, sums) = (&xs[..n], &mut sums[..n]);
    let full = G / GROUPS;
    let rest = G % GROUPS;
    // SAFETY: the caller checked the CPU and the permission; every tile below lies within
    // `w`, `offsets`, `xs` and `sums` (see `pass`).
    unsafe {
        if full > 0 {
            pass(
                w,
                offsets,
                xs,
                sums,
                0..full * GROUPS,
                GROUPS,
                Start::Offsets,
            );
        }
        if rest > 0 {
            let start = if full > 0 {
                Start::Sums
            } else {
                Start::Offsets
            };
            pass(w, offsets, xs, sums, full * GROUPS..G, rest, start);
        }
        asm!("tilerelease", options(nostack, nomem));
    }
    n
}

/// Adds groups `groups` (a multiple of `per_tile` long) of every sample to its sums, block by
/// block of 32 samples by 32 neurons, with tiles configured for `per_tile` groups.
///
/// # Safety
///
/// As [`accumulate_batch`]; `xs` and `sums` are as long, a multiple of 32 rows.
#[allow(unsafe_code)]
unsafe fn pass<const IN: usize, const OUT: usize, const G: usize>(
    w: &[[[i8; 4]; OUT]; G],
    offsets: &[i32; OUT],
    xs: &[[u8; IN]],
    sums: &mut [[i32; OUT]],
    groups: core::ops::Range<usize>,
    per_tile: usize,
    start: Start,
) {
    debug_assert!(groups.len().is_multiple_of(per_tile) && groups.end <= G);
    debug_assert!(xs.len() == sums.len() && xs.len().is_multiple_of(BLOCK));
    let config = Config::new(per_tile);
    let sample_stride = IN;
    let neuron_stride = OUT * 4;
    let zero_stride = 0_usize;
    // SAFETY (for every tile below): a tile of samples reads 16 rows of `4 * per_tile` bytes
    // from byte `4 g` of sample `r`, within the samples since `4 (g + per_tile) <= 4 G = IN`
    // and `r + 16 <= n`; a tile of weights reads `per_tile` groups from `g` of 16 neurons from
    // `o`, within `w` since `g + per_tile <= G` and `o + 16 <= OUT`; a tile of sums reads and
    // writes 16 rows of 16 `i32` from sample `r` and neuron `o`, within `sums`, or reads one
    // row of `offsets` 16 times (stride 0). The configuration is 64 aligned bytes.
    unsafe {
        asm!("ldtilecfg [{}]", in(reg) &raw const config, options(nostack, readonly));
        for r in (0..xs.len()).step_by(BLOCK) {
            for o in (0..OUT).step_by(BLOCK) {
                let sum = |row: usize, neuron: usize| sums[r + row].as_ptr().add(o + neuron);
                match start {
                    Start::Offsets => {
                        let first = offsets.as_ptr().add(o);
                        let second = offsets.as_ptr().add(o + ROWS);
                        asm!(
                            "tileloadd tmm0, [{a} + {s} * 1]",
                            "tileloadd tmm1, [{b} + {s} * 1]",
                            "tileloadd tmm2, [{a} + {s} * 1]",
                            "tileloadd tmm3, [{b} + {s} * 1]",
                            a = in(reg) first,
                            b = in(reg) second,
                            s = in(reg) zero_stride,
                            options(nostack, readonly),
                        );
                    }
                    Start::Sums => {
                        asm!(
                            "tileloadd tmm0, [{a} + {s} * 1]",
                            "tileloadd tmm1, [{b} + {s} * 1]",
                            "tileloadd tmm2, [{c} + {s} * 1]",
                            "tileloadd tmm3, [{d} + {s} * 1]",
                            a = in(reg) sum(0, 0),
                            b = in(reg) sum(0, ROWS),
                            c = in(reg) sum(ROWS, 0),
                            d = in(reg) sum(ROWS, ROWS),
                            s = in(reg) neuron_stride,
                            options(nostack, readonly),
                        );
                    }
                }
                for g in groups.clone().step_by(per_tile) {
                    asm!(
                        "tileloadd tmm4, [{x0} + {xs} * 1]",
                        "tileloadd tmm5, [{x1} + {xs} * 1]",
                        "tileloadd tmm6, [{w0} + {ws} * 1]",
                        "tileloadd tmm7, [{w1} + {ws} * 1]",
                        "tdpbusd tmm0, tmm4, tmm6",
                        "tdpbusd tmm1, tmm4, tmm7",
                        "tdpbusd tmm2, tmm5, tmm6",
                        "tdpbusd tmm3, tmm5, tmm7",
                        x0 = in(reg) xs[r].as_ptr().add(4 * g),
                        x1 = in(reg) xs[r + ROWS].as_ptr().add(4 * g),
                        xs = in(reg) sample_stride,
                        w0 = in(reg) w[g].as_ptr().add(o),
                        w1 = in(reg) w[g].as_ptr().add(o + ROWS),
                        ws = in(reg) neuron_stride,
                        options(nostack, readonly),
                    );
                }
                asm!(
                    "tilestored [{a} + {s} * 1], tmm0",
                    "tilestored [{b} + {s} * 1], tmm1",
                    "tilestored [{c} + {s} * 1], tmm2",
                    "tilestored [{d} + {s} * 1], tmm3",
                    a = in(reg) sums[r].as_mut_ptr().add(o),
                    b = in(reg) sums[r].as_mut_ptr().add(o + ROWS),
                    c = in(reg) sums[r + ROWS].as_mut_ptr().add(o),
                    d = in(reg) sums[r + ROWS].as_mut_ptr().add(o + ROWS),
                    s = in(reg) neuron_stride,
                    options(nostack),
                );
            }
        }
    }
}
