//! Half-precision weights: the conversions against numpy and ml_dtypes
//! (`tests/fixtures/make_half_fixtures.py`, which wrote `tests/fixtures/half.txt`), the widening
//! in every kernel over all 65,536 bit patterns, and the exactness contract of [`HalfDense`]:
//! at every level this CPU has, its outputs are the bits of the `f32` [`Dense`] holding its
//! widened weights, for single inputs and batches, on shapes one off every vector, panel, tile
//! and block, and on layers small enough for the inlined portable kernel.

// The values compared are exact in binary floating point.
#![allow(clippy::float_cmp)]

use nn_runtime::Tensors;
use nn_runtime::batch::Aligned;
use nn_runtime::init::SplitMix64;
use nn_runtime::kernel::{Level, SMALL, gates_at};
use nn_runtime::layers::{Conv1d, Conv1dGeometry, Conv2d, Conv2dGeometry, Lstm, LstmState, Weight};
use nn_runtime::{Bf16, Dense, F16, Half, HalfConv1d, HalfConv2d, HalfDense, Scalar, zeroed_box};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Whether `bits`, in a format with `exponent` (the all-ones exponent field) and `fraction`
/// masks, is a NaN; then also whether it is quiet.
fn nan(bits: u16, exponent: u16, fraction: u16) -> Option<bool> {
    let quiet = (fraction >> 1) + 1; // the fraction's top bit
    (bits & exponent == exponent && bits & fraction != 0).then_some(bits & quiet != 0)
}

/// Bits of a format, or `NaN` (quiet or not, with its sign): the references keep NaNs' payloads
/// differently (numpy keeps them, signalling ones included; ml_dtypes writes the canonical
/// quiet NaN), so NaNs compare by sign only, and ours must be quiet.
fn class(bits: u16, exponent: u16, fraction: u16) -> String {
    match nan(bits, exponent, fraction) {
        Some(_) => format!("NaN sign {}", bits >> 15),
        None => format!("{bits:#06x}"),
    }
}

#[test]
fn from_f32_rounds_as_numpy_and_ml_dtypes() {
    let mut lines = 0;
    for line in include_str!("../fixtures/half.txt").lines() {
        let words: Vec<u32> = line
            .split_ascii_whitespace()
            .map(|w| u32::from_str_radix(w, 16).expect("hexadecimal"))
            .collect();
        let [x, f16, bf16] = words[..] else {
            panic!("three words per line: {line}")
        };
        let x = f32::from_bits(x);
        let (f16, bf16) = (
            u16::try_from(f16).expect("16 bits"),
            u16::try_from(bf16).expect("16 bits"),
        );
        let found = F16::from_f32(x).to_bits();
        assert_eq!(
            class(found, 0x7c00, 0x03ff),
            class(f16, 0x7c00, 0x03ff),
            "F16::from_f32({x:e}) = {found:#06x}, numpy {f16:#06x} ({line})"
        );
        assert_ne!(nan(found, 0x7c00, 0x03ff), Some(false), "quiet: {line}");
        let found = Bf16::from_f32(x).to_bits();
        assert_eq!(
            class(found, 0x7f80, 0x007f),
            class(bf16, 0x7f80, 0x007f),
            "Bf16::from_f32({x:e}) = {found:#06x}, ml_dtypes {bf16:#06x} ({line})"
        );
        assert_ne!(nan(found, 0x7f80, 0x007f), Some(false), "quiet: {line}");
        lines += 1;
    }
    assert!(lines > 600, "{lines} lines");
}

#[test]
fn widening_is_exact_and_rounding_back_is_the_identity() {
    // The smallest subnormals and the largest finite values of both formats.
    assert_eq!(F16::from_bits(0x0001).to_f32(), 2.0f32.powi(-24));
    assert_eq!(F16::from_bits(0x03ff).to_f32(), 1023.0 * 2.0f32.powi(-24));
    assert_eq!(F16::from_bits(0x7bff).to_f32(), 65504.0);
    assert_eq!(F16::from_bits(0xfc00).to_f32(), f32::NEG_INFINITY);
    assert_eq!(
        Bf16::from_bits(0x7f7f).to_f32(),
        f32::from_bits(0x7f7f_0000)
    );
    assert_eq!(
        Bf16::from_bits(0x0001).to_f32(),
        f32::from_bits(0x0001_0000)
    );
    assert_eq!(F16::from_f32(-0.0).to_bits(), 0x8000);
    assert_eq!(Bf16::from_f32(-0.0).to_bits(), 0x8000);
}

/// `HalfDense<1, W, H>` with all the bit patterns of `H` as its weights, `W` at a time, and an
/// input of 1: at every level, each output is its weight widened (plus a zero bias, which turns
/// `-0.0` into `0.0`), NaNs aside. `W` is a multiple of 8 but not of 16: the last lanes go
/// through the tail of AVX-512.
fn check_every_pattern<H: Half>(from_bits: fn(u16) -> H) -> usize {
    const W: usize = 2040;
    let mut layer = zeroed_box::<HalfDense<1, W, H>>();
    let mut checked = 0;
    for level in Level::ALL.into_iter().filter(|&l| H::has_level(l)) {
        for start in (0..=usize::from(u16::MAX)).step_by(W) {
            for (o, w) in layer.columns_mut()[0].iter_mut().enumerate() {
                *w = from_bits(u16::try_from((start + o).min(0xffff)).expect("16 bits"));
            }
            let y = layer.forward_at(level, &[1.0]).expect("a supported level");
            for (&w, &y) in layer.columns()[0].iter().zip(&y) {
                let expected = w.to_f32() + 0.0;
                if expected.is_nan() {
                    assert!(y.is_nan(), "{} {w:?} at {level:?}: {y}", H::NAME);
                } else {
                    assert_eq!(
                        y.to_bits(),
                        expected.to_bits(),
                        "{} {w:?} at {level:?}: {y}",
                        H::NAME
                    );
                }
            }
        }
        checked += 1;
    }
    checked
}

#[test]
fn every_kernel_widens_every_bit_pattern_exactly() {
    assert!(check_every_pattern::<Bf16>(Bf16::from_bits) >= 1);
    assert!(check_every_pattern::<F16>(F16::from_bits) >= 1);
}

/// Random `f32` rows, a few zero (a ReLU's outputs).
fn rows<const N: usize>(seed: u64, count: usize) -> Vec<[f32; N]> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| {
            std::array::from_fn(|_| {
                let v = f32::from_f64(rng.uniform(2.0));
                if v.abs() < 0.2 { 0.0 } else { v }
            })
        })
        .collect()
}

/// The `f32` layer with the widened weights of `half` and its biases, on the heap (MNIST's
/// first layer is 400 KB).
#[allow(clippy::unnecessary_box_returns)]
fn widened<const IN: usize, const OUT: usize, H: Half>(
    half: &HalfDense<IN, OUT, H>,
) -> Box<Dense<IN, OUT, f32>> {
    let mut dense = zeroed_box::<Dense<IN, OUT, f32>>();
    for (d, h) in dense
        .columns_mut()
        .as_flattened_mut()
        .iter_mut()
        .zip(half.columns().as_flattened())
    {
        *d = h.to_f32();
    }
    *dense.bias_mut() = *half.bias();
    dense
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Batch sizes: one to nine (below, at and above the tiles of six and twelve samples, with the
/// pairs and single samples left over), then larger batches with every kind of remainder.
const BATCHES: [usize; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 19, 25];

/// The exactness contract for one shape and format: levels checked.
fn check<const IN: usize, const OUT: usize, H: Half>(seed: u64) -> usize {
    // Weights from an `f32` layer, rounded by `assign_from`; some large, some tiny (binary16
    // subnormals), some zero.
    let mut dense = zeroed_box::<Dense<IN, OUT, f32>>();
    let mut rng = SplitMix64::new(seed);
    for (k, w) in dense.parts_mut().0.iter_mut().enumerate() {
        let v = rng.uniform(1.0);
        *w = f32::from_f64(match k % 11 {
            0 => v * 1e-6,
            1 => v * 300.0,
            2 => 0.0,
            _ => v,
        });
    }
    for b in dense.bias_mut() {
        *b = f32::from_f64(rng.uniform(0.5));
    }
    let mut half = zeroed_box::<HalfDense<IN, OUT, H>>();
    half.assign_from(&dense);
    for i in 0..IN {
        for o in 0..OUT {
            let expected = H::from_f32(dense.weight(o, i));
            assert!(half.columns()[i][o] == expected, "assign_from rounds");
            assert_eq!(half.weight(o, i), expected.to_f32());
        }
    }
    assert_eq!(half.bias(), dense.bias());
    let reference = widened(&half);
    let what = format!("HalfDense<{IN}, {OUT}, {}>", H::NAME);
    let inputs = rows::<IN>(seed + 1, 25);
    let mut checked = 0;
    for level in Level::ALL.into_iter().filter(|&l| H::has_level(l)) {
        for x in &inputs[..3] {
            let found = half.forward_at(level, x).expect("a supported level");
            let expected = reference.forward_at(level, x).expect("a supported level");
            assert_eq!(
                bits(&found),
                bits(&expected),
                "{what}.forward_at({level:?})"
            );
        }
        for n in BATCHES {
            let mut found = vec![[f32::NAN; OUT]; n];
            let mut expected = vec![[0.0f32; OUT]; n];
            assert!(half.forward_batch_at(level, &inputs[..n], &mut found));
            assert!(reference.forward_batch_at(level, &inputs[..n], &mut expected));
            assert_eq!(
                bits(found.as_flattened()),
                bits(expected.as_flattened()),
                "{what}.forward_batch_at({level:?}) of {n}"
            );
        }
        checked += 1;
    }
    // The public entry points, which pick the level (and the inlined portable kernel for
    // small layers) themselves.
    for x in &inputs[..3] {
        assert_eq!(
            bits(&half.forward(x)),
            bits(&reference.forward(x)),
            "{what}.forward"
        );
    }
    for n in BATCHES {
        let mut found = vec![[f32::NAN; OUT]; n];
        let mut expected = vec![[0.0f32; OUT]; n];
        half.forward_batch(&inputs[..n], &mut found);
        reference.forward_batch(&inputs[..n], &mut expected);
        assert_eq!(
            bits(found.as_flattened()),
            bits(expected.as_flattened()),
            "{what}.forward_batch of {n}"
        );
    }
    // Fewer outputs than inputs, and the reverse: a panic, not rows silently left out.
    for (rows, outputs) in [(5, 2), (1, 4)] {
        let mut outputs = vec![[f32::NAN; OUT]; outputs];
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            half.forward_batch(&inputs[..rows], &mut outputs);
        }));
        assert!(
            run.is_err(),
            "{what}: {rows} inputs, {} outputs",
            outputs.len()
        );
    }
    checked
}

/// Every shape for one format: the levels checked, summed.
fn shapes<H: Half>() -> usize {
    // MNIST's two layers, the small benchmark network, and sizes one off every vector (16
    // and 8 lanes), panel, tile and block (128 columns for `matvec`, 64 and 128 for `matmul`).
    check::<784, 128, H>(1)
        + check::<128, 10, H>(2)
        + check::<50, 64, H>(3)
        + check::<64, 1, H>(4)
        + check::<300, 1, H>(5)
        + check::<17, 33, H>(6)
        + check::<33, 3, H>(7)
        + check::<31, 21, H>(8)
        + check::<129, 56, H>(9)
        + check::<65, 120, H>(10)
        + check::<127, 90, H>(11)
        + check::<3, 100, H>(12)
        + check::<40, 30, H>(13)
        + check::<200, 300, H>(14)
        + check::<257, 17, H>(15)
        + check::<1, 7, H>(16)
}

/// Layers of at most `SMALL` weights, which `forward` sends to the portable kernel inlined
/// (as `Dense` does), while `forward_at` still uses the level's kernel.
fn small_shapes<H: Half>() -> usize {
    const _: () = assert!(16 * 16 <= SMALL && 15 * 7 <= SMALL);
    check::<2, 2, H>(21)
        + check::<15, 7, H>(22)
        + check::<8, 16, H>(23)
        + check::<16, 16, H>(24)
        + check::<5, 1, H>(25)
}

/// The levels of `H` this CPU has.
fn levels<H: Half>() -> usize {
    Level::ALL.into_iter().filter(|&l| H::has_level(l)).count()
}

#[test]
fn bf16_layers_give_the_bits_of_the_f32_layer_at_every_level() {
    assert_eq!(shapes::<Bf16>(), 16 * levels::<Bf16>());
    assert_eq!(small_shapes::<Bf16>(), 5 * levels::<Bf16>());
    // The CPU's levels are all available to bfloat16.
    assert_eq!(
        levels::<Bf16>(),
        Level::ALL.into_iter().filter(|l| l.is_supported()).count()
    );
}

#[test]
fn f16_layers_give_the_bits_of_the_f32_layer_at_every_level() {
    assert_eq!(shapes::<F16>(), 16 * levels::<F16>());
    assert_eq!(small_shapes::<F16>(), 5 * levels::<F16>());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("f16c") {
        assert_eq!(
            levels::<F16>(),
            Level::ALL.into_iter().filter(|l| l.is_supported()).count()
        );
    }
}

/// `cases` cases from a fixed seed, as in `numerics.rs`.
fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x6861_6c66);
    }
    config.failure_persistence = None;
    config
}

/// A layer of `IN` by `OUT` from any finite half-precision bit patterns (subnormals, the
/// largest values, signed zeros), any biases and inputs of moderate size, against the `f32`
/// layer at every level; with such weights sums overflow to infinities and make NaNs, which
/// must come out the same too.
fn any_layer<const IN: usize, const OUT: usize, H: Half>(
    weights: &[u16],
    bias: &[f32],
    inputs: &[f32],
    from_bits: fn(u16) -> H,
) -> Result<(), TestCaseError> {
    let mut half = zeroed_box::<HalfDense<IN, OUT, H>>();
    for (h, &w) in half
        .columns_mut()
        .as_flattened_mut()
        .iter_mut()
        .zip(weights)
    {
        let w = from_bits(w);
        *h = if w.to_f32().is_finite() { w } else { H::ZERO };
    }
    for (b, &v) in half.bias_mut().iter_mut().zip(bias) {
        *b = v;
    }
    let x: Vec<[f32; IN]> = inputs
        .chunks_exact(IN)
        .map(|row| row.try_into().expect("IN values"))
        .collect();
    let reference = widened(&half);
    for level in Level::ALL.into_iter().filter(|&l| H::has_level(l)) {
        let mut found = vec![[0.0f32; OUT]; x.len()];
        let mut expected = vec![[0.0f32; OUT]; x.len()];
        prop_assert!(half.forward_batch_at(level, &x, &mut found));
        prop_assert!(reference.forward_batch_at(level, &x, &mut expected));
        prop_assert_eq!(bits(found.as_flattened()), bits(expected.as_flattened()));
        let found = half.forward_at(level, &x[0]).expect("a supported level");
        let expected = reference
            .forward_at(level, &x[0])
            .expect("a supported level");
        prop_assert_eq!(bits(&found), bits(&expected));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn any_finite_weights_give_the_bits_of_the_f32_layer(
        weights in prop::collection::vec(any::<u16>(), 37 * 23),
        bias in prop::collection::vec(-1e4f32..1e4, 23),
        batch in 1usize..10,
        inputs in prop::collection::vec(-1e3f32..1e3, 37 * 9),
    ) {
        let inputs = &inputs[..37 * batch];
        any_layer::<37, 23, Bf16>(&weights, &bias, inputs, Bf16::from_bits)?;
        any_layer::<37, 23, F16>(&weights, &bias, inputs, F16::from_bits)?;
    }
}

/// A 2-D convolution of `H` weights gives the bits of the `f32` convolution holding them
/// widened, alone and in batches, on geometries through the wide kernel (stride 1) and the
/// direct loop (stride 2, dilation, groups); `assign_from` rounds to nearest.
fn check_conv2d<H: Half>() {
    let mut rng = SplitMix64::new(21);
    let mut conv = zeroed_box::<Conv2d<6, 2, 3, 3, f32>>();
    for w in conv
        .weight_mut()
        .as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
    {
        *w = f32::from_f64(rng.uniform(1.0));
    }
    for b in conv.bias_mut() {
        *b = f32::from_f64(rng.uniform(1.0));
    }
    let mut half = zeroed_box::<HalfConv2d<6, 2, 3, 3, H>>();
    half.assign_from(&conv);
    let flat =
        |w: &[[[[f32; 3]; 3]; 2]; 6]| w.as_flattened().as_flattened().as_flattened().to_vec();
    let rounded: Vec<f32> = flat(conv.weight())
        .iter()
        .map(|&w| H::from_f32(w).to_f32())
        .collect();
    let wide = half.widened();
    assert_eq!(flat(wide.weight()), rounded);
    assert_eq!(wide.bias(), conv.bias());
    let inputs: Vec<[[[f32; 9]; 7]; 4]> = rows::<252>(22, 5)
        .into_iter()
        .map(|row| {
            let mut x = [[[0.0; 9]; 7]; 4];
            x.as_flattened_mut()
                .as_flattened_mut()
                .copy_from_slice(&row);
            x
        })
        .collect();
    let geometries = [
        Conv2dGeometry::default(),
        Conv2dGeometry {
            stride: [1, 1],
            padding: [1, 2],
            dilation: [1, 1],
        },
        Conv2dGeometry {
            stride: [2, 1],
            padding: [1, 0],
            dilation: [2, 2],
        },
    ];
    macro_rules! each_geometry {
        ($geometry:expr, $oh:literal, $ow:literal) => {{
            let geometry = $geometry;
            let mut scratch =
                vec![0.0; HalfConv2d::<6, 2, 3, 3, H>::scratch_len([4, 7, 9], geometry)];
            let mut batched = vec![[[[0.0; $ow]; $oh]; 6]; inputs.len()];
            half.forward_batch_with(&inputs, geometry, &mut batched, &mut scratch);
            for (x, batched) in inputs.iter().zip(&batched) {
                let expected: [[[f32; $ow]; $oh]; 6] = wide.forward_with(x, geometry, &mut scratch);
                let found: [[[f32; $ow]; $oh]; 6] = half.forward_with(x, geometry, &mut scratch);
                let expected = bits(expected.as_flattened().as_flattened());
                assert_eq!(bits(found.as_flattened().as_flattened()), expected);
                assert_eq!(bits(batched.as_flattened().as_flattened()), expected);
            }
        }};
    }
    each_geometry!(geometries[0], 5, 7);
    each_geometry!(geometries[1], 7, 11);
    each_geometry!(geometries[2], 3, 5);
    let name = <H as Half>::NAME;
    assert_eq!(
        format!("{half:?}"),
        format!("HalfConv2d<6, 2, 3, 3, {name}>")
    );
}

#[test]
fn half_conv2d_gives_the_bits_of_the_f32_convolution() {
    check_conv2d::<Bf16>();
    check_conv2d::<F16>();
}

/// As [`check_conv2d`], for 1-D convolutions.
fn check_conv1d<H: Half>() {
    let mut rng = SplitMix64::new(31);
    let weight: [[[f32; 5]; 1]; 4] =
        std::array::from_fn(|_| [std::array::from_fn(|_| f32::from_f64(rng.uniform(1.0)))]);
    let conv = Conv1d::from_parts(weight, [0.5, -0.25, 1.0, 0.0]);
    let mut half = zeroed_box::<HalfConv1d<4, 1, 5, H>>();
    half.assign_from(&conv);
    assert_eq!(
        half.weight()[2][0][3].to_f32(),
        H::from_f32(weight[2][0][3]).to_f32()
    );
    let baked = HalfConv1d::from_parts(*half.weight(), *half.bias());
    assert_eq!(&baked, &*half);
    let inputs: Vec<[[f32; 30]; 2]> = rows::<60>(32, 4)
        .into_iter()
        .map(|row| {
            let mut x = [[0.0; 30]; 2];
            x.as_flattened_mut().copy_from_slice(&row);
            x
        })
        .collect();
    let wide = half.widened();
    for (geometry, length) in [
        (Conv1dGeometry::default(), 26),
        (
            Conv1dGeometry {
                stride: 3,
                padding: 2,
                dilation: 2,
            },
            9,
        ),
    ] {
        let mut scratch = vec![0.0; HalfConv1d::<4, 1, 5, H>::scratch_len([2, 30], geometry)];
        let mut batched = vec![[[0.0; 26]; 4]; inputs.len()];
        if length == 26 {
            half.forward_batch_with(&inputs, geometry, &mut batched, &mut scratch);
            for (x, batched) in inputs.iter().zip(&batched) {
                let expected: [[f32; 26]; 4] = wide.forward_with(x, geometry, &mut scratch);
                let found: [[f32; 26]; 4] = half.forward_with(x, geometry, &mut scratch);
                assert_eq!(bits(found.as_flattened()), bits(expected.as_flattened()));
                assert_eq!(bits(batched.as_flattened()), bits(expected.as_flattened()));
            }
        } else {
            for x in &inputs {
                let expected: [[f32; 9]; 4] = wide.forward_with(x, geometry, &mut scratch);
                let found: [[f32; 9]; 4] = half.forward_with(x, geometry, &mut scratch);
                assert_eq!(bits(found.as_flattened()), bits(expected.as_flattened()));
            }
        }
    }
    let name = H::NAME;
    assert_eq!(format!("{half:?}"), format!("HalfConv1d<4, 1, 5, {name}>"));
}

#[test]
fn half_conv1d_gives_the_bits_of_the_f32_convolution() {
    check_conv1d::<Bf16>();
    check_conv1d::<F16>();
}

/// The recurrent layers' gates with half-precision matrices: at every level this CPU has for
/// `H`, the bits of `f32`'s gates kernel at that level on the widened weights, alone and for
/// several streams. Returns the levels checked.
fn check_gates<const IN: usize, const G: usize, const OUT: usize, H: Half>(seed: u64) -> usize {
    let mut rng = SplitMix64::new(seed);
    let mut half = Box::new([[[H::ZERO; OUT]; G]; IN]);
    for (k, w) in half
        .as_flattened_mut()
        .as_flattened_mut()
        .iter_mut()
        .enumerate()
    {
        let v = rng.uniform(1.0);
        *w = H::from_f32(f32::from_f64(match k % 11 {
            0 => v * 1e-6,
            1 => v * 300.0,
            2 => 0.0,
            _ => v,
        }));
    }
    let mut wide = Box::new([[[0.0f32; OUT]; G]; IN]);
    for (w, h) in wide
        .as_flattened_mut()
        .as_flattened_mut()
        .iter_mut()
        .zip(half.as_flattened().as_flattened())
    {
        *w = h.to_f32();
    }
    let b: [[f32; OUT]; G] =
        std::array::from_fn(|_| std::array::from_fn(|_| f32::from_f64(rng.uniform(0.5))));
    let inputs = rows::<IN>(seed + 1, 13);
    let what = format!("gates {IN} x {G} x {OUT} in {}", H::NAME);
    let mut checked = 0;
    for level in Level::ALL.into_iter().filter(|&l| H::has_level(l)) {
        for x in &inputs[..3] {
            // Outputs that start as NaN: any value a kernel leaves unwritten shows.
            let mut found = [[f32::NAN; OUT]; G];
            H::gates(level, &half, &b, x, &mut found);
            let mut expected = [[f32::NAN; OUT]; G];
            assert!(gates_at(level, &wide, &b, x, &mut expected));
            assert_eq!(
                bits(found.as_flattened()),
                bits(expected.as_flattened()),
                "{what} at {level:?}"
            );
        }
        // Full and partial tiles of streams.
        for streams in [1, 5, 6, 7, 13] {
            let mut found = vec![Aligned([[f32::NAN; OUT]; G]); streams];
            H::gates_streams(level, &half, &b, &inputs[..streams], &mut found);
            for (x, found) in inputs.iter().zip(&found) {
                let mut expected = [[f32::NAN; OUT]; G];
                assert!(gates_at(level, &wide, &b, x, &mut expected));
                assert_eq!(
                    bits(found.0.as_flattened()),
                    bits(expected.as_flattened()),
                    "{what} at {level:?}, {streams} streams"
                );
            }
        }
        checked += 1;
    }
    checked
}

/// The shapes of the `f32` gates kernel's test (`kernel/mod.rs`): every panel width, tails of
/// outputs that fill no vector, two blocks of columns.
fn gates_shapes<H: Half>() -> usize {
    check_gates::<1, 4, 32, H>(40)
        + check_gates::<32, 4, 32, H>(41)
        + check_gates::<64, 4, 64, H>(42)
        + check_gates::<17, 3, 17, H>(43)
        + check_gates::<33, 3, 64, H>(44)
        + check_gates::<5, 1, 70, H>(45)
        + check_gates::<130, 4, 20, H>(46)
        + check_gates::<3, 3, 5, H>(47)
        + check_gates::<9, 2, 56, H>(48)
        + check_gates::<7, 1, 120, H>(49)
        + check_gates::<200, 4, 16, H>(50)
        + check_gates::<8, 1, 16, H>(51)
}

#[test]
fn half_gates_give_the_bits_of_the_f32_gates_at_every_level() {
    assert_eq!(gates_shapes::<Bf16>(), 12 * levels::<Bf16>());
    assert_eq!(gates_shapes::<F16>(), 12 * levels::<F16>());
}

/// An `Lstm` of `f32` with random tensors, and its twin with matrices in `H` made by
/// `assign_from`: the twin's `step`, `forward_sequence` and `step_streams` give the bits of the
/// `f32` layer holding the widened matrices (the biases are the same `f32`s), at the CPU's
/// level; small layers (the portable kernel, inlined) and large ones (the vector kernels,
/// streamed).
fn check_lstm<const I: usize, const HID: usize, const DEEPER: usize, H: Half + Weight<f32>>(
    seed: u64,
) {
    let mut rng = SplitMix64::new(seed);
    let mut net = zeroed_box::<Lstm<I, HID, f32, DEEPER>>();
    net.for_each_tensor_mut(|_, values| {
        for v in values {
            *v = f32::from_f64(rng.uniform(0.5));
        }
    });
    let mut half = zeroed_box::<Lstm<I, HID, f32, DEEPER, H>>();
    half.assign_from(&net);
    // `assign_from` with matrices of `f32` copies; on the heap, as the layers are large.
    let mut rounded = zeroed_box::<Lstm<I, HID, f32, DEEPER>>();
    rounded.assign_from(&net);
    assert!(*rounded == *net);
    rounded.for_each_tensor_mut(|info, values| {
        if info.name.starts_with("weight") {
            for v in values {
                *v = H::from_f32(*v).to_f32();
            }
        }
    });
    let inputs = rows::<I>(seed + 1, 40);
    let (mut a, mut b) = (LstmState::ZERO, LstmState::ZERO);
    for x in &inputs {
        assert_eq!(bits(&half.step(&mut a, x)), bits(&rounded.step(&mut b, x)));
    }
    let mut found = vec![[0.0; HID]; inputs.len()];
    let mut expected = vec![[0.0; HID]; inputs.len()];
    half.forward_sequence(&mut a, &inputs, &mut found);
    rounded.forward_sequence(&mut b, &inputs, &mut expected);
    assert_eq!(bits(found.as_flattened()), bits(expected.as_flattened()));
    let mut states = vec![a; 13];
    let mut others = vec![b; 13];
    half.step_streams(&mut states, &inputs[..13], &mut found[..13]);
    rounded.step_streams(&mut others, &inputs[..13], &mut expected[..13]);
    assert_eq!(bits(found.as_flattened()), bits(expected.as_flattened()));
    assert_eq!(states, others);
    let name = <H as Half>::NAME;
    assert_eq!(
        format!("{half:?}"),
        format!("Lstm<{I}, {HID}, f32, {DEEPER}, {name}>")
    );
}

#[test]
fn half_lstms_give_the_bits_of_the_rounded_f32_lstm() {
    check_lstm::<1, 8, 0, Bf16>(60);
    check_lstm::<3, 64, 1, Bf16>(61);
    check_lstm::<1, 8, 0, F16>(62);
    check_lstm::<3, 64, 1, F16>(63);
}
