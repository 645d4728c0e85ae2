//! LeNet's two convolutions, one sample: int8 (`quant::QuantizedConv2d::forward`, ReLU fused;
//! `forward_max_pooled`, with LeNet's 2x2 max pool too, also from the layer prepared once as
//! `forward_batch` prepares it, and with 7-bit weights; and `accumulate`, the sums only) against `f32` (`Conv2d::forward_with`, the wide kernel,
//! and `Conv2d::forward`); then the whole of LeNet (`nn_bench::LeNet`, the weights of
//! tests/fixtures/lenet.safetensors) against its int8 twin `LeNetInt8` (calibrated with min/max
//! on 64 images; and with 7-bit weights, `WeightRange::Int7`, which the `Avx2` level runs with
//! `vpmaddubsw`), at batch 1 and 256, in alternating rounds. Best of several rounds, microseconds per sample; own timing (no
//! criterion), so that it builds without the `baselines` feature.
//!
//! ```sh
//! cargo bench -p nn-bench --bench quant_conv
//! ```

#![allow(missing_docs)]
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use nn::__private::init::SplitMix64;
use nn::__private::layers::{Conv2d, Conv2dGeometry, Pool2dGeometry};
use nn::__private::quant::{self, Clamp, Quantization, QuantizedConv2d};
use nn::__private::zeroed_box;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds per measurement; the best is printed.
const ROUNDS: usize = 60;
/// Length of one round.
const ROUND: Duration = Duration::from_millis(5);

/// Microseconds per call of `f`, the best of [`ROUNDS`] rounds.
fn best_us(mut f: impl FnMut()) -> f64 {
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
            start.elapsed().as_secs_f64() * 1e6 / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

macro_rules! measure {
    ($name:literal, $geometry:expr, $in:literal, $out:literal, $k:literal, $patch:literal,
     $groups:literal, $h:literal, $w:literal) => {{
        const GEOMETRY: Conv2dGeometry = $geometry;
        const SIZE: [usize; 2] = match GEOMETRY.output_size([$h, $w], [$k, $k]) {
            Some(size) => size,
            None => panic!("a geometry that fits"),
        };
        let mut rng = SplitMix64::new(1);
        let bound = 1.0 / f64::from($in * $k * $k).sqrt();
        let mut conv = zeroed_box::<Conv2d<$out, $in, $k, $k, f32>>();
        for w in conv
            .weight_mut()
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
        {
            *w = rng.uniform(bound) as f32;
        }
        for b in conv.bias_mut() {
            *b = rng.uniform(bound) as f32;
        }
        let x: [[[f32; $w]; $h]; $in] = core::array::from_fn(|_| {
            core::array::from_fn(|_| core::array::from_fn(|_| rng.next_f64() as f32))
        });
        let input = Quantization::from_range(0.0, 1.0);
        let output = Quantization::from_range(-2.0, 2.0);
        let mut layer = zeroed_box::<QuantizedConv2d<$out, $in, $k, $k, $patch, $groups>>();
        layer.quantize_from(&conv, input, output);
        let x_q: [[[u8; $w]; $h]; $in] =
            core::array::from_fn(|c| core::array::from_fn(|y| input.quantize_all(&x[c][y])));
        let mut scratch =
            vec![0.0_f32; Conv2d::<$out, $in, $k, $k, f32>::scratch_len([$in, $h, $w], GEOMETRY)];

        let int8 = best_us(|| {
            let y: [[[u8; SIZE[1]]; SIZE[0]]; $out] =
                layer.forward(black_box(&x_q), GEOMETRY, Clamp::relu(output));
            black_box(y);
        });
        // With the 2x2 max pool after it (LeNet's), in the kernel.
        let pooled = best_us(|| {
            let y: [[[u8; SIZE[1] / 2]; SIZE[0] / 2]; $out] = layer
                .forward_max_pooled::<$in, $h, $w, { SIZE[0] }, { SIZE[1] }, { SIZE[0] / 2 }, { SIZE[1] / 2 }>(
                    black_box(&x_q),
                    GEOMETRY,
                    Clamp::relu(output),
                    Pool2dGeometry::new([2, 2]),
                );
            black_box(y);
        });
        // The same, prepared (`forward_batch`'s calls): the weights' tables built beforehand.
        let prepared_layer = layer.prepare();
        let prepared = best_us(|| {
            let y: [[[u8; SIZE[1] / 2]; SIZE[0] / 2]; $out] = prepared_layer
                .forward_max_pooled::<$in, $h, $w, { SIZE[0] }, { SIZE[1] }, { SIZE[0] / 2 }, { SIZE[1] / 2 }>(
                    black_box(&x_q),
                    GEOMETRY,
                    Clamp::relu(output),
                    Pool2dGeometry::new([2, 2]),
                );
            black_box(y);
        });
        // With 7-bit weights, which the `Avx2` level multiplies with `vpmaddubsw`.
        let mut layer7 = zeroed_box::<QuantizedConv2d<$out, $in, $k, $k, $patch, $groups>>();
        layer7.quantize_from_with(&conv, input, output, quant::WeightRange::Int7);
        let pooled7 = best_us(|| {
            let y: [[[u8; SIZE[1] / 2]; SIZE[0] / 2]; $out] = layer7
                .forward_max_pooled::<$in, $h, $w, { SIZE[0] }, { SIZE[1] }, { SIZE[0] / 2 }, { SIZE[1] / 2 }>(
                    black_box(&x_q),
                    GEOMETRY,
                    Clamp::relu(output),
                    Pool2dGeometry::new([2, 2]),
                );
            black_box(y);
        });
        let sums = best_us(|| {
            let y: [[[i32; SIZE[1]]; SIZE[0]]; $out] = layer.accumulate(black_box(&x_q), GEOMETRY);
            black_box(y);
        });
        // The dense kernel alone over every position's patch, gathered beforehand: the rest of
        // `accumulate` is the gathering and the scattering into channels.
        let positions = SIZE[0] * SIZE[1];
        let mut patches = vec![[0_u8; $patch]; positions];
        for (p, patch) in patches.iter_mut().enumerate() {
            let (y, x) = (p / SIZE[1], p % SIZE[1]);
            for (i, tap) in patch.iter_mut().enumerate() {
                let (c, ky, kx) = (i / ($k * $k), i / $k % $k, i % $k);
                let (iy, ix) = (y + ky, x + kx);
                let [top, left] = GEOMETRY.padding;
                *tap = if iy < top || ix < left || iy - top >= $h || ix - left >= $w {
                    input.zero_point
                } else {
                    x_q[c][iy - top][ix - left]
                };
            }
        }
        let mut rows = vec![[0_i32; $out]; positions];
        let kernel = best_us(|| {
            layer
                .dense()
                .accumulate_batch(black_box(&patches), &mut rows);
            black_box(&rows);
        });
        let wide = best_us(|| {
            let y: [[[f32; SIZE[1]]; SIZE[0]]; $out] =
                conv.forward_with(black_box(&x), GEOMETRY, &mut scratch);
            black_box(y);
        });
        let plain = best_us(|| {
            let y: [[[f32; SIZE[1]]; SIZE[0]]; $out] = conv.forward(black_box(&x), GEOMETRY);
            black_box(y);
        });
        println!(
            "{:<32} int8: forward {int8:6.2} us, with its max pool {pooled:6.2} us (prepared \
             {prepared:6.2} us; 7-bit weights {pooled7:6.2} us), accumulate {sums:6.2} us (dense \
             kernel alone {kernel:6.2} us); f32: forward_with {wide:6.2} us, forward {plain:6.2} us",
            $name,
        );
    }};
}

/// LeNet's first convolution keeps the image's size.
const PADDED: Conv2dGeometry = Conv2dGeometry {
    padding: [2, 2],
    ..Conv2dGeometry::DEFAULT
};

fn main() {
    println!("int8 kernels: {:?}", quant::level());
    // Name, geometry; in, out, kernel, PATCH, GROUPS; H, W.
    measure! { "lenet conv1 1->6 k5 pad2 28x28", PADDED, 1, 6, 5, 25, 7, 28, 28 }
    measure! { "lenet conv2 6->16 k5 14x14", Conv2dGeometry::DEFAULT, 6, 16, 5, 150, 38, 14, 14 }
    lenet();
}

/// Images in [0, 1), deterministic.
fn images(count: usize) -> Vec<[[[f32; 28]; 28]; 1]> {
    let mut rng = SplitMix64::new(7);
    (0..count)
        .map(|_| {
            let mut image = [[[0.0; 28]; 28]; 1];
            for v in image.as_flattened_mut().as_flattened_mut() {
                *v = rng.next_f64() as f32;
            }
            image
        })
        .collect()
}

/// The whole network in `f32` and in int8, alternating rounds of each; microseconds per sample.
fn lenet() {
    use nn_bench::{LeNet, LeNetInt8, fixture};
    let net = LeNet::from_safetensors_file(fixture("tests/fixtures/lenet.safetensors"))
        .expect("the fixture loads");
    let calibration = images(64);
    let int8 =
        LeNetInt8::calibrate(&net, &calibration, quant::Calibration::MinMax).expect("calibration");
    let int7 = LeNetInt8::calibrate_with(
        &net,
        &calibration,
        quant::Calibration::MinMax,
        quant::WeightRange::Int7,
    )
    .expect("calibration");
    let batch = images(256);
    let mut outputs = vec![[0.0_f32; 10]; batch.len()];
    let (mut f32_one, mut int8_one, mut f32_batch, mut int8_batch) =
        (f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let (mut int7_one, mut int7_batch) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..5 {
        f32_one = f32_one.min(best_us(|| {
            black_box(net.forward(black_box(&batch[3])));
        }));
        int8_one = int8_one.min(best_us(|| {
            black_box(int8.forward(black_box(&batch[3])));
        }));
        f32_batch = f32_batch.min(
            best_us(|| {
                net.forward_batch(black_box(&batch), &mut outputs)
                    .expect("rows");
            }) / 256.0,
        );
        int8_batch = int8_batch.min(
            best_us(|| {
                int8.forward_batch(black_box(&batch), &mut outputs)
                    .expect("rows");
            }) / 256.0,
        );
        int7_one = int7_one.min(best_us(|| {
            black_box(int7.forward(black_box(&batch[3])));
        }));
        int7_batch = int7_batch.min(
            best_us(|| {
                int7.forward_batch(black_box(&batch), &mut outputs)
                    .expect("rows");
            }) / 256.0,
        );
    }
    println!(
        "lenet batch 1: f32 {f32_one:.2} us, int8 {int8_one:.2} us, int8 / f32 time {:.2}",
        int8_one / f32_one
    );
    println!(
        "lenet batch 256, per sample: f32 {f32_batch:.2} us, int8 {int8_batch:.2} us, int8 throughput / f32's {:.2}x",
        f32_batch / int8_batch
    );
    println!(
        "lenet 7-bit weights: batch 1 {int7_one:.2} us, int7 / f32 time {:.2}; batch 256 {int7_batch:.2} us a sample, throughput / f32's {:.2}x",
        int7_one / f32_one,
        f32_batch / int7_batch
    );
}
