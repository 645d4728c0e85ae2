//! The int8 convolutions and pools (`quant::QuantizedConv2d`, `QuantizedConv1d`,
//! `quant::maxpool2d_u8`, `maxpool1d_u8`, ...), grouped and depthwise ones included:
//!
//! - against `tests/fixtures/quant_conv.txt`, written by
//!   `tests/fixtures/make_quant_conv_fixtures.py`: numpy's float32 implementation of the
//!   scheme picks the same weights, scales and biases bit for bit, and the same sums and output
//!   steps; onnxruntime's `QLinearConv` gives the same steps on all of them
//!   ([`ORT_DIFFERENCES`]); the pools of the convolutions' outputs are numpy's;
//! - against plain Rust in `i64`: the sums of random layers of many shapes and geometries
//!   equal a direct convolution over `(x - zero_point) * w + bias`, and the pools a direct
//!   window loop.

// Random steps and weights are truncated random integers; the floats compared are exact.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::float_cmp
)]

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use nn_runtime::init::SplitMix64;
use nn_runtime::layers::{
    Conv1d, Conv1dGeometry, Conv2d, Conv2dGeometry, Pool1dGeometry, Pool2dGeometry,
};
use nn_runtime::quant::{
    Clamp, Quantization, QuantizedConv1d, QuantizedConv2d, QuantizedDense, avgpool1d_u8,
    avgpool2d_u8, flatten_u8, global_avgpool_u8, global_maxpool_u8, maxpool1d_u8, maxpool2d_u8,
};
use nn_runtime::{Dense, zeroed_box};

/// The fixture's values, as written, by case and tensor.
static FIXTURES: LazyLock<HashMap<(&'static str, &'static str), Vec<&'static str>>> =
    LazyLock::new(|| {
        include_str!("../fixtures/quant_conv.txt")
            .lines()
            .map(|line| {
                let mut words = line.split_ascii_whitespace();
                let mut word = || words.next().expect("a case and a tensor");
                let key = (word(), word());
                (key, words.collect())
            })
            .collect()
    });

/// The outputs (case, flat index into `[OUT][OH][OW]`) where onnxruntime's `QLinearConv`
/// (1.32.0) differs from the numpy scheme, as `make_quant_conv_fixtures.py` printed them:
/// none, so onnxruntime rounds as the scheme does on these layers.
const ORT_DIFFERENCES: [(&str, usize); 0] = [];

/// The values of one tensor, parsed exactly (floats as `f32`, from their shortest decimal).
fn values<T: FromStr<Err: std::fmt::Debug>>(case: &str, tensor: &str) -> Vec<T> {
    FIXTURES
        .get(&(case, tensor))
        .unwrap_or_else(|| panic!("no `{tensor}` for `{case}`"))
        .iter()
        .map(|value| value.parse().expect("a number"))
        .collect()
}

/// `values` into a nested array, checking the count.
fn fill<T: FromStr<Err: std::fmt::Debug> + Copy>(to: &mut [T], case: &str, tensor: &str) {
    let from = values::<T>(case, tensor);
    assert_eq!(from.len(), to.len(), "{case} {tensor}");
    to.copy_from_slice(&from);
}

fn geometry(case: &str) -> Conv2dGeometry {
    let g = values::<usize>(case, "geometry");
    Conv2dGeometry {
        stride: [g[8], g[9]],
        padding: [g[10], g[11]],
        dilation: [g[12], g[13]],
    }
}

/// The fixture's quantisation of `side` (`x` or `y`), checked against `from_range` of the
/// recorded range.
fn quantization(case: &str, side: &str) -> Quantization {
    let range = values::<f32>(case, &format!("{side}_range"));
    let q = Quantization::from_range(range[0], range[1]);
    let scale = values::<f32>(case, &format!("{side}_scale"))[0];
    let zero_point = values::<u8>(case, &format!("{side}_zero_point"))[0];
    assert_eq!(q.scale.to_bits(), scale.to_bits(), "{case} {side}_scale");
    assert_eq!(q.zero_point, zero_point, "{case} {side}_zero_point");
    q
}

/// One fixture case, its sizes as const parameters: quantises the `f32` layer and runs it.
macro_rules! fixture_case {
    ($case:literal, $in:literal, $out:literal, $kh:literal, $kw:literal, $patch:literal,
     $groups:literal, $h:literal, $w:literal, $oh:literal, $ow:literal) => {
        fixture_case!(
            $case,
            $in / $in,
            $out,
            $kh,
            $kw,
            $patch,
            $groups,
            $h,
            $w,
            $oh,
            $ow
        )
    };
    ($case:literal, $in:literal / $ipg:literal, $out:literal, $kh:literal, $kw:literal,
     $patch:literal, $groups:literal, $h:literal, $w:literal, $oh:literal, $ow:literal) => {{
        let case = $case;
        let g = values::<usize>(case, "geometry");
        assert_eq!(g[..8], [$in, $out, $kh, $kw, $h, $w, $oh, $ow]);
        assert_eq!(g[14], $in / $ipg, "{case}: groups");
        let geometry = geometry(case);
        assert_eq!(geometry.output_size([$h, $w], [$kh, $kw]), Some([$oh, $ow]));
        let (input, output) = (quantization(case, "x"), quantization(case, "y"));

        // The input, quantised as numpy did.
        let x = values::<f32>(case, "x");
        let steps: Vec<u8> = x.iter().map(|&v| input.quantize(v)).collect();
        assert_eq!(
            steps,
            values::<u8>(case, "x_q"),
            "{case}: the input's steps"
        );
        let mut x_q = [[[0_u8; $w]; $h]; $in];
        x_q.as_flattened_mut()
            .as_flattened_mut()
            .copy_from_slice(&steps);

        // The weights, scales and biases, bit for bit.
        let mut conv = zeroed_box::<Conv2d<$out, $ipg, $kh, $kw, f32>>();
        fill(
            conv.weight_mut()
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut(),
            case,
            "weight",
        );
        fill(conv.bias_mut(), case, "bias");
        let mut layer = zeroed_box::<QuantizedConv2d<$out, $ipg, $kh, $kw, $patch, $groups>>();
        layer.quantize_from(&conv, input, output);
        let w_q = values::<i8>(case, "w_q");
        let mut weights = Vec::new();
        for o in 0..$out {
            for c in 0..$ipg {
                for y in 0..$kh {
                    for x in 0..$kw {
                        weights.push(layer.weight(o, c, y, x));
                    }
                }
            }
        }
        assert_eq!(weights, w_q, "{case}: weights");
        let scales: Vec<u32> = layer.weight_scales().iter().map(|s| s.to_bits()).collect();
        let expected: Vec<u32> = values::<f32>(case, "w_scale")
            .iter()
            .map(|s| s.to_bits())
            .collect();
        assert_eq!(scales, expected, "{case}: weight scales");
        assert_eq!(
            layer.bias().to_vec(),
            values::<i32>(case, "b_q"),
            "{case}: biases"
        );
        assert_eq!((layer.input(), layer.output()), (input, output));

        // The same layer from its parts, as baked networks and files build it.
        let mut rows = [[0_i8; $patch]; $out];
        rows.as_flattened_mut().copy_from_slice(&w_q);
        let scales: [f32; $out] = *layer.weight_scales();
        let bias: [i32; $out] = *layer.bias();
        let baked = QuantizedConv2d::<$out, $ipg, $kh, $kw, $patch, $groups>::from_parts(
            &rows, scales, bias, input, output,
        );
        assert!(baked == *layer, "{case}: from_parts");
        let mut assigned = zeroed_box::<QuantizedConv2d<$out, $ipg, $kh, $kw, $patch, $groups>>();
        assigned
            .assign(&w_q, &scales, &bias, input, output)
            .expect("valid parts");
        assert!(*assigned == *layer, "{case}: assign");

        // The sums and steps, bit for bit.
        let sums: [[[i32; $ow]; $oh]; $out] = layer.accumulate(&x_q, geometry);
        assert_eq!(
            sums.as_flattened().as_flattened(),
            values::<i32>(case, "sums"),
            "{case}: sums"
        );
        let y = values::<u8>(case, "y");
        let steps: [[[u8; $ow]; $oh]; $out] = layer.forward(&x_q, geometry, Clamp::NONE);
        assert_eq!(steps.as_flattened().as_flattened(), y, "{case}: steps");
        assert_eq!(
            layer.requantize(&sums, Clamp::NONE),
            steps,
            "{case}: requantize"
        );
        let relu: [[[u8; $ow]; $oh]; $out] = layer.forward(&x_q, geometry, Clamp::relu(output));
        assert_eq!(
            relu.as_flattened().as_flattened(),
            values::<u8>(case, "y_relu"),
            "{case}: steps with ReLU"
        );

        // Dequantised sums: each channel's `input.scale * weight_scales[o]`.
        let real = layer.dequantize(&sums);
        for o in 0..$out {
            let unit = input.scale * layer.weight_scales()[o];
            for (r, s) in real[o].as_flattened().iter().zip(sums[o].as_flattened()) {
                assert_eq!(
                    r.to_bits(),
                    (*s as f32 * unit).to_bits(),
                    "{case}: dequantize"
                );
            }
        }

        // onnxruntime: the recorded differences, exactly.
        let ort = values::<u8>(case, "ort_y");
        let differ: Vec<(&str, usize)> = (0..y.len())
            .filter(|&i| ort[i] != y[i])
            .map(|i| (case, i))
            .collect();
        let expected: Vec<(&str, usize)> = ORT_DIFFERENCES
            .iter()
            .filter(|d| d.0 == case)
            .copied()
            .collect();
        assert_eq!(differ, expected, "{case}: differences from onnxruntime");
        // With a 2x2 max pool in the same call (the kernels pool sums before requantising).
        let pooled: [[[u8; $ow / 2]; $oh / 2]; $out] = layer
            .forward_max_pooled::<$in, $h, $w, $oh, $ow, { $oh / 2 }, { $ow / 2 }>(
                &x_q,
                geometry,
                Clamp::relu(output),
                Pool2dGeometry::new([2, 2]),
            );
        (steps, relu, pooled)
    }};
}

#[test]
fn lenet_convolutions_and_pools_match_numpy() {
    let (steps, relu, fused) = fixture_case!("lenet1", 1, 6, 5, 5, 25, 7, 28, 28, 28, 28);
    let pooled: [[[u8; 14]; 14]; 6] = maxpool2d_u8(&relu, Pool2dGeometry::new([2, 2]));
    assert_eq!(
        pooled.as_flattened().as_flattened(),
        values::<u8>("lenet1", "maxpool")
    );
    assert_eq!(fused, pooled);
    let padded = Pool2dGeometry {
        kernel: [3, 3],
        stride: [2, 2],
        padding: [1, 1],
    };
    let zero = quantization("lenet1", "y").zero_point;
    let average: [[[u8; 14]; 14]; 6] = avgpool2d_u8(&steps, padded, zero);
    assert_eq!(
        average.as_flattened().as_flattened(),
        values::<u8>("lenet1", "avgpool")
    );
    let max: [[[u8; 14]; 14]; 6] = maxpool2d_u8(&steps, padded);
    assert_eq!(
        max.as_flattened().as_flattened(),
        values::<u8>("lenet1", "maxpool_padded")
    );

    let (steps, relu, fused) = fixture_case!("lenet2", 6, 16, 5, 5, 150, 38, 14, 14, 10, 10);
    // numpy's pool of numpy's steps (checked above by the macro), through the kernel's pooling.
    assert_eq!(fused, maxpool2d_u8(&relu, Pool2dGeometry::new([2, 2])));
    let zero = quantization("lenet2", "y").zero_point;
    assert_eq!(
        global_avgpool_u8(&steps, zero).to_vec(),
        values::<u8>("lenet2", "global_avgpool")
    );
    assert_eq!(
        global_maxpool_u8(&steps).to_vec(),
        values::<u8>("lenet2", "global_maxpool")
    );
    let flat: [u8; 1600] = flatten_u8(&steps);
    assert_eq!(flat.to_vec(), values::<u8>("lenet2", "y"));
}

#[test]
fn strided_dilated_padded_convolutions_match_numpy() {
    fixture_case!("strided", 3, 5, 3, 2, 18, 5, 11, 9, 5, 5);
    fixture_case!("wide", 4, 7, 1, 3, 12, 3, 5, 12, 5, 6);
}

#[test]
fn grouped_and_depthwise_convolutions_match_numpy() {
    // Case, in / in per group, out, KH, KW, PATCH, GROUPS, H, W, OH, OW.
    fixture_case!("depthwise", 8 / 1, 8, 3, 3, 9, 3, 10, 10, 10, 10);
    fixture_case!("grouped", 6 / 3, 4, 3, 2, 18, 5, 9, 8, 5, 6);
    fixture_case!("multiplier", 4 / 1, 8, 5, 5, 25, 7, 7, 7, 4, 4);
}

/// One 1-D fixture case (written as a 2-D layer of height 1): quantises the `f32` `Conv1d`
/// and runs the `QuantizedConv1d`.
macro_rules! fixture_case_1d {
    ($case:literal, $in:literal / $ipg:literal, $out:literal, $k:literal, $patch:literal,
     $groups:literal, $l:literal, $ol:literal) => {{
        let case = $case;
        let g = values::<usize>(case, "geometry");
        assert_eq!(g[..8], [$in, $out, 1, $k, 1, $l, 1, $ol]);
        assert_eq!([g[8], g[10], g[12]], [1, 0, 1], "{case}: one row");
        assert_eq!(g[14] * $ipg, $in, "{case}: groups");
        let geometry = Conv1dGeometry {
            stride: g[9],
            padding: g[11],
            dilation: g[13],
        };
        assert_eq!(geometry.output_size($l, $k), Some($ol));
        let (input, output) = (quantization(case, "x"), quantization(case, "y"));
        let mut x_q = [[0_u8; $l]; $in];
        fill(x_q.as_flattened_mut(), case, "x_q");
        let x = values::<f32>(case, "x");
        let steps: Vec<u8> = x.iter().map(|&v| input.quantize(v)).collect();
        assert_eq!(steps, x_q.as_flattened(), "{case}: the input's steps");

        let mut conv = zeroed_box::<Conv1d<$out, $ipg, $k, f32>>();
        fill(
            conv.weight_mut().as_flattened_mut().as_flattened_mut(),
            case,
            "weight",
        );
        fill(conv.bias_mut(), case, "bias");
        let mut layer = zeroed_box::<QuantizedConv1d<$out, $ipg, $k, $patch, $groups>>();
        layer.quantize_from(&conv, input, output);
        let w_q = values::<i8>(case, "w_q");
        let mut weights = Vec::new();
        for o in 0..$out {
            for c in 0..$ipg {
                for x in 0..$k {
                    weights.push(layer.weight(o, c, x));
                }
            }
        }
        assert_eq!(weights, w_q, "{case}: weights");
        let scales: Vec<u32> = layer.weight_scales().iter().map(|s| s.to_bits()).collect();
        let expected: Vec<u32> = values::<f32>(case, "w_scale")
            .iter()
            .map(|s| s.to_bits())
            .collect();
        assert_eq!(scales, expected, "{case}: weight scales");
        assert_eq!(
            layer.bias().to_vec(),
            values::<i32>(case, "b_q"),
            "{case}: biases"
        );

        let mut rows = [[0_i8; $patch]; $out];
        rows.as_flattened_mut().copy_from_slice(&w_q);
        let (scales, bias) = (*layer.weight_scales(), *layer.bias());
        let baked = QuantizedConv1d::<$out, $ipg, $k, $patch, $groups>::from_parts(
            &rows, scales, bias, input, output,
        );
        assert!(baked == *layer, "{case}: from_parts");
        let mut assigned = zeroed_box::<QuantizedConv1d<$out, $ipg, $k, $patch, $groups>>();
        assigned
            .assign(&w_q, &scales, &bias, input, output)
            .expect("valid parts");
        assert!(*assigned == *layer, "{case}: assign");

        let sums: [[i32; $ol]; $out] = layer.accumulate(&x_q, geometry);
        assert_eq!(
            sums.as_flattened(),
            values::<i32>(case, "sums"),
            "{case}: sums"
        );
        let y = values::<u8>(case, "y");
        let steps: [[u8; $ol]; $out] = layer.forward(&x_q, geometry, Clamp::NONE);
        assert_eq!(steps.as_flattened(), y, "{case}: steps");
        assert_eq!(
            layer.requantize(&sums, Clamp::NONE),
            steps,
            "{case}: requantize"
        );
        let relu: [[u8; $ol]; $out] = layer.forward(&x_q, geometry, Clamp::relu(output));
        assert_eq!(
            relu.as_flattened(),
            values::<u8>(case, "y_relu"),
            "{case}: ReLU"
        );
        let real = layer.dequantize(&sums);
        for o in 0..$out {
            let unit = input.scale * layer.weight_scales()[o];
            for (r, s) in real[o].iter().zip(&sums[o]) {
                assert_eq!(
                    r.to_bits(),
                    (*s as f32 * unit).to_bits(),
                    "{case}: dequantize"
                );
            }
        }
        let ort = values::<u8>(case, "ort_y");
        let differ: Vec<(&str, usize)> = (0..y.len())
            .filter(|&i| ort[i] != y[i])
            .map(|i| (case, i))
            .collect();
        let expected: Vec<(&str, usize)> = ORT_DIFFERENCES
            .iter()
            .filter(|d| d.0 == case)
            .copied()
            .collect();
        assert_eq!(differ, expected, "{case}: differences from onnxruntime");
        (steps, relu)
    }};
}

#[test]
fn one_d_convolutions_and_pools_match_numpy() {
    // Case, in / in per group, out, K, PATCH, GROUPS, L, OL.
    let (steps, relu) = fixture_case_1d!("sensor", 8 / 8, 16, 5, 40, 10, 128, 128);
    let max: [[u8; 64]; 16] = maxpool1d_u8(
        &relu,
        Pool1dGeometry {
            kernel: 3,
            stride: 2,
            padding: 1,
        },
    );
    assert_eq!(max.as_flattened(), values::<u8>("sensor", "maxpool1d"));
    let zero = quantization("sensor", "y").zero_point;
    let geometry = Pool1dGeometry {
        kernel: 4,
        stride: 3,
        padding: 2,
    };
    let average: [[u8; 43]; 16] = avgpool1d_u8(&steps, geometry, zero);
    assert_eq!(average.as_flattened(), values::<u8>("sensor", "avgpool1d"));
    fixture_case_1d!("strided1d", 6 / 3, 4, 3, 9, 3, 31, 15);
    fixture_case_1d!("depthwise1d", 5 / 1, 5, 4, 4, 1, 20, 23);
}

/// `quantize_rows` over a dense layer's rows is `quantize_from`, bit for bit.
#[test]
fn quantize_rows_is_quantize_from() {
    let mut rng = SplitMix64::new(5);
    let mut dense = zeroed_box::<Dense<37, 9, f32>>();
    for w in dense.columns_mut().as_flattened_mut() {
        *w = rng.uniform(0.3) as f32;
    }
    // A row of zeros gets scale 1.
    for column in dense.columns_mut() {
        column[4] = 0.0;
    }
    for b in dense.bias_mut() {
        *b = rng.uniform(0.5) as f32;
    }
    let rows: Vec<f32> = (0..9)
        .flat_map(|o| (0..37).map(move |i| (o, i)))
        .map(|(o, i)| dense.weight(o, i))
        .collect();
    let (input, output) = (Quantization::new(0.013, 17), Quantization::new(0.07, 201));
    let mut from = zeroed_box::<QuantizedDense<37, 9, 10>>();
    from.quantize_from(&dense, input, output);
    let mut by_rows = zeroed_box::<QuantizedDense<37, 9, 10>>();
    by_rows.quantize_rows(&rows, dense.bias(), input, output);
    assert!(*from == *by_rows);
    assert_eq!(from.weight_scales()[4], 1.0_f32);
}

/// Random steps.
fn steps<const N: usize>(rng: &mut SplitMix64) -> [u8; N] {
    core::array::from_fn(|_| rng.next_u64() as u8)
}

/// A direct convolution in `i64`: every output, channel of its group and tap.
#[allow(clippy::too_many_arguments)]
fn naive_sums(
    x: &[u8],
    [channels, height, width]: [usize; 3],
    in_per_group: usize,
    zero_point: u8,
    weights: &[i8],
    bias: &[i32],
    [kh, kw]: [usize; 2],
    geometry: Conv2dGeometry,
    [oh, ow]: [usize; 2],
) -> Vec<i64> {
    let mut sums = Vec::new();
    let out_per_group = bias.len() / (channels / in_per_group);
    for (o, &b) in bias.iter().enumerate() {
        let first = o / out_per_group * in_per_group;
        for y in 0..oh {
            for x0 in 0..ow {
                let mut sum = i64::from(b);
                for c in 0..in_per_group {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (y * geometry.stride[0] + ky * geometry.dilation[0])
                                .checked_sub(geometry.padding[0])
                                .filter(|&iy| iy < height);
                            let ix = (x0 * geometry.stride[1] + kx * geometry.dilation[1])
                                .checked_sub(geometry.padding[1])
                                .filter(|&ix| ix < width);
                            // Padding: the real value 0.
                            let (Some(iy), Some(ix)) = (iy, ix) else {
                                continue;
                            };
                            let v = i64::from(x[((first + c) * height + iy) * width + ix])
                                - i64::from(zero_point);
                            let w = weights[((o * in_per_group + c) * kh + ky) * kw + kx];
                            sum += v * i64::from(w);
                        }
                    }
                }
                sums.push(sum);
            }
        }
    }
    sums
}

/// Random layers of one shape under `geometry`: the sums are the direct convolution's, the
/// steps its requantisation (each sum through the dense layer's `requantize`).
macro_rules! equivalence {
    ($rng:expr, $geometry:expr, $in:literal, $out:literal, $kh:literal, $kw:literal,
     $patch:literal, $groups:literal, $h:literal, $w:literal) => {
        equivalence!(
            $rng,
            $geometry,
            $in / $in,
            $out,
            $kh,
            $kw,
            $patch,
            $groups,
            $h,
            $w
        )
    };
    ($rng:expr, $geometry:expr, $in:literal / $ipg:literal, $out:literal, $kh:literal,
     $kw:literal, $patch:literal, $groups:literal, $h:literal, $w:literal) => {{
        const GEOMETRY: Conv2dGeometry = $geometry;
        const SIZE: [usize; 2] = match GEOMETRY.output_size([$h, $w], [$kh, $kw]) {
            Some(size) => size,
            None => panic!("a geometry that fits"),
        };
        const OH: usize = SIZE[0];
        const OW: usize = SIZE[1];
        let rng: &mut SplitMix64 = $rng;
        for _ in 0..3 {
            let mut rows = vec![[0_i8; $patch]; $out];
            for w in rows.as_flattened_mut() {
                // Every weight, the extremes included.
                *w = ((rng.next_u64() % 255) as i16 - 127) as i8;
            }
            let bias: [i32; $out] =
                core::array::from_fn(|_| (rng.next_u64() % 200_001) as i32 - 100_000);
            let scales: [f32; $out] = core::array::from_fn(|o| 0.001 * (o + 1) as f32);
            let input = Quantization::new(0.02, (rng.next_u64() % 256) as u8);
            let output = Quantization::new(3.0, (rng.next_u64() % 256) as u8);
            let mut layer = zeroed_box::<QuantizedConv2d<$out, $ipg, $kh, $kw, $patch, $groups>>();
            layer
                .assign(rows.as_flattened(), &scales, &bias, input, output)
                .expect("valid parts");
            let mut x = Box::new([[[0_u8; $w]; $h]; $in]);
            for (v, r) in x
                .as_flattened_mut()
                .as_flattened_mut()
                .iter_mut()
                .zip(steps::<{ $in * $h * $w }>(rng))
            {
                *v = r;
            }
            let sums: Box<[[[i32; OW]; OH]; $out]> = Box::new(layer.accumulate(&x, GEOMETRY));
            let expected = naive_sums(
                x.as_flattened().as_flattened(),
                [$in, $h, $w],
                $ipg,
                input.zero_point,
                rows.as_flattened(),
                &bias,
                [$kh, $kw],
                GEOMETRY,
                [OH, OW],
            );
            let got: Vec<i64> = sums
                .as_flattened()
                .as_flattened()
                .iter()
                .map(|&s| i64::from(s))
                .collect();
            assert_eq!(got, expected, "{:?} {}x{}x{}", GEOMETRY, $in, $h, $w);
            // The layer prepared for many calls (its weights' tables built once) gives the
            // same steps as the layer, in every call below.
            let prepared = layer.prepare();
            // `forward` (the direct kernel where the CPU and the geometry allow it) gives the
            // dense layer's steps of these sums, position by position.
            for clamp in [
                Clamp::relu(output),
                Clamp::NONE,
                Clamp { low: 5, high: 250 },
            ] {
                let steps: Box<[[[u8; OW]; OH]; $out]> =
                    Box::new(layer.forward(&x, GEOMETRY, clamp));
                let from_prepared: Box<[[[u8; OW]; OH]; $out]> =
                    Box::new(prepared.forward(&x, GEOMETRY, clamp));
                assert_eq!(from_prepared, steps, "{:?} {clamp:?}", GEOMETRY);
                let mut into = Box::new([[[7_u8; OW]; OH]; $out]);
                prepared.forward_into(&x, GEOMETRY, clamp, &mut into);
                assert_eq!(into, steps, "{:?} {clamp:?}", GEOMETRY);
                for y in 0..OH {
                    for x0 in 0..OW {
                        let at: [i32; $out] = core::array::from_fn(|o| sums[o][y][x0]);
                        let expected = layer.dense().requantize(&at, clamp);
                        for o in 0..$out {
                            assert_eq!(steps[o][y][x0], expected[o], "{clamp:?} [{o}][{y}][{x0}]");
                        }
                    }
                }
                // `forward_max_pooled` gives `maxpool2d_u8` of those steps: 2x2 windows (which
                // the direct kernels pool as they store) and padded 3x3 ones of stride 2.
                if OH >= 2 && OW >= 2 {
                    max_pooled!(
                        layer,
                        prepared,
                        x,
                        steps,
                        GEOMETRY,
                        clamp,
                        $in,
                        $h,
                        $w,
                        OH,
                        OW,
                        [2, 2],
                        [2, 2],
                        [0, 0]
                    );
                }
                // (Any output, one row or column included: the padded window fits.)
                {
                    max_pooled!(
                        layer,
                        prepared,
                        x,
                        steps,
                        GEOMETRY,
                        clamp,
                        $in,
                        $h,
                        $w,
                        OH,
                        OW,
                        [3, 3],
                        [2, 2],
                        [1, 1]
                    );
                }
            }
        }
    }};
}

/// Asserts that `layer.forward_max_pooled` with the pool of `kernel`, `stride` and `padding`
/// equals `maxpool2d_u8` of `steps`, `layer.forward`'s, and so does the prepared layer's.
macro_rules! max_pooled {
    ($layer:expr, $prepared:expr, $x:expr, $steps:expr, $geometry:expr, $clamp:expr,
     $in:literal, $h:literal, $w:literal, $oh:expr, $ow:expr, $kernel:expr, $stride:expr,
     $padding:expr) => {{
        const POOL: Pool2dGeometry = Pool2dGeometry {
            kernel: $kernel,
            stride: $stride,
            padding: $padding,
        };
        const POOLED: [usize; 2] = match POOL.output_size([$oh, $ow]) {
            Some(size) => size,
            None => [0, 0],
        };
        let fused: Box<[[[u8; POOLED[1]]; POOLED[0]]; _]> = Box::new(
            $layer
                .forward_max_pooled::<$in, $h, $w, { $oh }, { $ow }, { POOLED[0] }, { POOLED[1] }>(
                    &$x, $geometry, $clamp, POOL,
                ),
        );
        let separate: Box<[[[u8; POOLED[1]]; POOLED[0]]; _]> =
            Box::new(maxpool2d_u8(&*$steps, POOL));
        assert_eq!(fused, separate, "{:?} {:?} {:?}", $geometry, POOL, $clamp);
        let prepared: Box<[[[u8; POOLED[1]]; POOLED[0]]; _]> = Box::new(
            $prepared
                .forward_max_pooled::<$in, $h, $w, { $oh }, { $ow }, { POOLED[0] }, { POOLED[1] }>(
                    &$x, $geometry, $clamp, POOL,
                ),
        );
        assert_eq!(
            prepared, separate,
            "{:?} {:?} {:?}",
            $geometry, POOL, $clamp
        );
    }};
}

const fn geometry_of(
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
) -> Conv2dGeometry {
    Conv2dGeometry {
        stride,
        padding,
        dilation,
    }
}

#[test]
fn sums_equal_a_direct_convolution() {
    let mut rng = SplitMix64::new(2026);
    let rng = &mut rng;
    // Geometry; in, out, KH, KW, PATCH, GROUPS; H, W.
    equivalence! { rng, Conv2dGeometry::DEFAULT, 1, 1, 1, 1, 1, 1, 1, 1 }
    equivalence! { rng, geometry_of([1, 1], [2, 2], [1, 1]), 1, 6, 5, 5, 25, 7, 28, 28 }
    equivalence! { rng, Conv2dGeometry::DEFAULT, 6, 16, 5, 5, 150, 38, 14, 14 }
    equivalence! { rng, geometry_of([2, 3], [1, 2], [2, 1]), 3, 5, 3, 2, 18, 5, 11, 9 }
    equivalence! { rng, geometry_of([3, 1], [2, 0], [3, 2]), 2, 9, 2, 4, 16, 4, 13, 10 }
    // Padding larger than the kernel: whole windows of padding, sums the bias.
    equivalence! { rng, geometry_of([1, 1], [3, 3], [1, 1]), 2, 3, 2, 2, 8, 2, 4, 4 }
    // Many output channels: few positions per chunk.
    equivalence! { rng, geometry_of([1, 1], [1, 1], [1, 1]), 3, 300, 3, 3, 27, 7, 6, 5 }
    // Stride 1 (the direct kernel): rows of several blocks of 16 positions with a partial
    // last one, output channels in blocks of 8 with a remainder, a 1x1 kernel, many groups.
    equivalence! { rng, geometry_of([1, 1], [1, 1], [1, 1]), 2, 11, 3, 3, 18, 5, 9, 37 }
    equivalence! { rng, geometry_of([1, 1], [0, 2], [1, 1]), 5, 20, 3, 4, 60, 15, 7, 16 }
    equivalence! { rng, Conv2dGeometry::DEFAULT, 7, 9, 1, 1, 7, 2, 5, 33 }
    equivalence! { rng, Conv2dGeometry::DEFAULT, 16, 8, 4, 4, 256, 64, 6, 17 }
    // Many output channels on small planes (`quant::kernel::channel_lanes` where the CPU has
    // AVX-512 VNNI): blocks of 16 output channels with a remainder, rows of at most 12
    // positions two at a time with a last row alone, rows of more than 12 (16 and then 12
    // positions), input rows not a multiple of four.
    equivalence! { rng, geometry_of([1, 1], [1, 1], [1, 1]), 8, 40, 3, 3, 72, 18, 7, 9 }
    equivalence! { rng, Conv2dGeometry::DEFAULT, 8, 32, 3, 3, 72, 18, 6, 30 }
    equivalence! { rng, geometry_of([1, 1], [1, 1], [1, 1]), 5, 32, 3, 3, 45, 12, 9, 11 }
    // ... and a kernel one column wide, blocks of 16 and 5 output channels, rows of 3 and of 1
    // position.
    equivalence! { rng, Conv2dGeometry::DEFAULT, 5, 21, 3, 1, 15, 4, 5, 3 }
    equivalence! { rng, Conv2dGeometry::DEFAULT, 5, 21, 3, 1, 15, 4, 5, 1 }
    // Patches beyond the chunk's budget: one position at a time.
    equivalence! { rng, geometry_of([2, 2], [1, 1], [1, 1]), 200, 4, 7, 7, 9800, 2450, 8, 8 }
}

#[test]
fn grouped_sums_equal_a_direct_convolution() {
    let mut rng = SplitMix64::new(15);
    let rng = &mut rng;
    // Geometry; in / in per group, out, KH, KW, PATCH, GROUPS; H, W.
    // Depthwise of stride 1 (the direct kernel, group by group, where the CPU has it), padded.
    equivalence! { rng, geometry_of([1, 1], [1, 1], [1, 1]), 16 / 1, 16, 3, 3, 9, 3, 12, 20 }
    // Groups of several channels, strided, dilated, padded unevenly.
    equivalence! { rng, geometry_of([2, 1], [1, 2], [1, 2]), 6 / 2, 9, 2, 3, 12, 3, 10, 11 }
    // A channel multiplier of 2, many channels: few positions per chunk.
    equivalence! { rng, Conv2dGeometry::DEFAULT, 32 / 1, 64, 3, 3, 9, 3, 5, 5 }
    // Unpadded: windows gathered from the input itself.
    equivalence! { rng, geometry_of([1, 2], [0, 0], [1, 1]), 4 / 2, 6, 2, 2, 8, 2, 6, 9 }
    // Two groups of 8 input and 32 output channels (`channel_lanes`, group by group).
    equivalence! { rng, geometry_of([1, 1], [1, 1], [1, 1]), 16 / 8, 64, 3, 3, 72, 18, 6, 6 }
    // Patches beyond the chunk's budget: one position at a time, group by group.
    equivalence! { rng, geometry_of([2, 2], [1, 1], [1, 1]), 250 / 125, 4, 7, 7, 6125, 1532, 8, 8 }
}

/// Random 1-D layers of one shape under `geometry`: the sums are those of a 2-D convolution
/// of height 1, the steps their requantisation.
macro_rules! equivalence_1d {
    ($rng:expr, $geometry:expr, $in:literal / $ipg:literal, $out:literal, $k:literal,
     $patch:literal, $groups:literal, $l:literal) => {{
        const GEOMETRY: Conv1dGeometry = $geometry;
        const OL: usize = match GEOMETRY.output_size($l, $k) {
            Some(size) => size,
            None => panic!("a geometry that fits"),
        };
        let planar = geometry_of(
            [1, GEOMETRY.stride],
            [0, GEOMETRY.padding],
            [1, GEOMETRY.dilation],
        );
        let rng: &mut SplitMix64 = $rng;
        for _ in 0..3 {
            let weights: Vec<i8> = (0..$out * $patch)
                .map(|_| ((rng.next_u64() % 255) as i16 - 127) as i8)
                .collect();
            let bias: [i32; $out] =
                core::array::from_fn(|_| (rng.next_u64() % 200_001) as i32 - 100_000);
            let scales: [f32; $out] = core::array::from_fn(|o| 0.001 * (o + 1) as f32);
            let input = Quantization::new(0.02, (rng.next_u64() % 256) as u8);
            let output = Quantization::new(3.0, (rng.next_u64() % 256) as u8);
            let mut layer = zeroed_box::<QuantizedConv1d<$out, $ipg, $k, $patch, $groups>>();
            layer
                .assign(&weights, &scales, &bias, input, output)
                .expect("valid parts");
            let x: [[u8; $l]; $in] = core::array::from_fn(|_| steps::<$l>(rng));
            let sums: [[i32; OL]; $out] = layer.accumulate(&x, GEOMETRY);
            let expected = naive_sums(
                x.as_flattened(),
                [$in, 1, $l],
                $ipg,
                input.zero_point,
                &weights,
                &bias,
                [1, $k],
                planar,
                [1, OL],
            );
            let got: Vec<i64> = sums.as_flattened().iter().map(|&s| i64::from(s)).collect();
            assert_eq!(got, expected, "{:?} {}x{}", GEOMETRY, $in, $l);
            let prepared = layer.prepare();
            for clamp in [
                Clamp::relu(output),
                Clamp::NONE,
                Clamp { low: 5, high: 250 },
            ] {
                let steps: [[u8; OL]; $out] = layer.forward(&x, GEOMETRY, clamp);
                // The layer prepared gives the same steps.
                let from_prepared: [[u8; OL]; $out] = prepared.forward(&x, GEOMETRY, clamp);
                assert_eq!(from_prepared, steps, "{:?} {clamp:?}", GEOMETRY);
                for p in 0..OL {
                    let at: [i32; $out] = core::array::from_fn(|o| sums[o][p]);
                    let expected = layer.dense().requantize(&at, clamp);
                    for o in 0..$out {
                        assert_eq!(steps[o][p], expected[o], "{clamp:?} [{o}][{p}]");
                    }
                }
            }
        }
    }};
}

const fn geometry_1d(stride: usize, padding: usize, dilation: usize) -> Conv1dGeometry {
    Conv1dGeometry {
        stride,
        padding,
        dilation,
    }
}

#[test]
fn one_d_sums_equal_a_direct_convolution() {
    let mut rng = SplitMix64::new(1);
    let rng = &mut rng;
    // Geometry; in / in per group, out, K, PATCH, GROUPS; L.
    // Stride 1 (the direct kernel where the CPU has it): the sensor network's layers.
    equivalence_1d! { rng, geometry_1d(1, 2, 1), 8 / 8, 16, 5, 40, 10, 128 }
    equivalence_1d! { rng, geometry_1d(1, 2, 1), 16 / 16, 16, 5, 80, 20, 128 }
    equivalence_1d! { rng, Conv1dGeometry::DEFAULT, 3 / 3, 5, 1, 3, 1, 17 }
    // Many output channels (`channel_lanes`): 32 and then 4 positions.
    equivalence_1d! { rng, Conv1dGeometry::DEFAULT, 8 / 8, 32, 5, 40, 10, 40 }
    equivalence_1d! { rng, Conv1dGeometry::DEFAULT, 7 / 7, 21, 3, 21, 6, 9 }
    // Strided (windows gathered without groups), dilated, grouped, depthwise.
    equivalence_1d! { rng, geometry_1d(2, 0, 1), 4 / 4, 6, 3, 12, 3, 21 }
    equivalence_1d! { rng, geometry_1d(2, 3, 1), 7 / 7, 3, 5, 35, 9, 16 }
    equivalence_1d! { rng, geometry_1d(2, 1, 2), 6 / 3, 4, 3, 9, 3, 31 }
    equivalence_1d! { rng, geometry_1d(1, 3, 1), 5 / 1, 10, 4, 4, 1, 20 }
    equivalence_1d! { rng, geometry_1d(3, 0, 3), 4 / 1, 4, 3, 3, 1, 40 }
}

/// Maximum and average of every window in `i64`, padding left out of the maximum and counted
/// as the zero point in the average: `(max, zero_point + round(sum / area))`, half to even.
fn naive_pools(
    x: &[u8],
    [channels, height, width]: [usize; 3],
    geometry: Pool2dGeometry,
    zero_point: u8,
) -> (Vec<u8>, Vec<u8>) {
    let [oh, ow] = geometry.output_size([height, width]).unwrap();
    let area = (geometry.kernel[0] * geometry.kernel[1]) as i64;
    let (mut maxima, mut averages) = (Vec::new(), Vec::new());
    for c in 0..channels {
        for y in 0..oh {
            for x0 in 0..ow {
                let (mut max, mut sum) = (None, 0_i64);
                for ky in 0..geometry.kernel[0] {
                    for kx in 0..geometry.kernel[1] {
                        let iy = (y * geometry.stride[0] + ky).checked_sub(geometry.padding[0]);
                        let ix = (x0 * geometry.stride[1] + kx).checked_sub(geometry.padding[1]);
                        if let (Some(iy), Some(ix)) = (iy, ix)
                            && iy < height
                            && ix < width
                        {
                            let v = x[(c * height + iy) * width + ix];
                            max = max.max(Some(v));
                            sum += i64::from(v) - i64::from(zero_point);
                        }
                    }
                }
                maxima.push(max.expect("a window with a value"));
                // The two integers around the mean, the nearer (the even one on a tie).
                let low = sum.div_euclid(area);
                let (to_low, to_high) = (sum - low * area, (low + 1) * area - sum);
                let rounded = if to_low < to_high || (to_low == to_high && low % 2 == 0) {
                    low
                } else {
                    low + 1
                };
                averages.push(u8::try_from(rounded + i64::from(zero_point)).unwrap());
            }
        }
    }
    (maxima, averages)
}

macro_rules! pools {
    ($rng:expr, $geometry:expr, $c:literal, $h:literal, $w:literal) => {{
        const GEOMETRY: Pool2dGeometry = $geometry;
        const SIZE: [usize; 2] = match GEOMETRY.output_size([$h, $w]) {
            Some(size) => size,
            None => panic!("a geometry that fits"),
        };
        let rng: &mut SplitMix64 = $rng;
        for zero_point in [0_u8, 1, 128, 200, 255] {
            let mut x = [[[0_u8; $w]; $h]; $c];
            let values = x.as_flattened_mut().as_flattened_mut();
            for v in values.iter_mut() {
                *v = rng.next_u64() as u8;
            }
            // Runs of one value make ties of the average.
            values[..$w].fill(zero_point.wrapping_add(3));
            let (maxima, averages) = naive_pools(values, [$c, $h, $w], GEOMETRY, zero_point);
            let max: [[[u8; SIZE[1]]; SIZE[0]]; $c] = maxpool2d_u8(&x, GEOMETRY);
            assert_eq!(max.as_flattened().as_flattened(), maxima, "{:?}", GEOMETRY);
            let average: [[[u8; SIZE[1]]; SIZE[0]]; $c] = avgpool2d_u8(&x, GEOMETRY, zero_point);
            assert_eq!(
                average.as_flattened().as_flattened(),
                averages,
                "{:?}",
                GEOMETRY
            );
        }
    }};
}

const fn pool(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Pool2dGeometry {
    Pool2dGeometry {
        kernel,
        stride,
        padding,
    }
}

#[test]
fn pools_equal_direct_windows() {
    let mut rng = SplitMix64::new(99);
    let rng = &mut rng;
    // LeNet's pool, odd sizes dropping the last row and column.
    pools! { rng, Pool2dGeometry::new([2, 2]), 3, 7, 9 }
    pools! { rng, Pool2dGeometry::new([2, 2]), 2, 8, 8 }
    pools! { rng, pool([3, 3], [2, 2], [1, 1]), 2, 9, 8 }
    pools! { rng, pool([2, 4], [1, 3], [1, 2]), 3, 5, 11 }
    pools! { rng, pool([4, 4], [4, 4], [2, 2]), 1, 6, 6 }
    pools! { rng, pool([1, 1], [2, 2], [0, 0]), 2, 5, 5 }
}

macro_rules! pools_1d {
    ($rng:expr, $kernel:literal, $stride:literal, $padding:literal, $c:literal, $l:literal) => {{
        const GEOMETRY: Pool1dGeometry = Pool1dGeometry {
            kernel: $kernel,
            stride: $stride,
            padding: $padding,
        };
        const OL: usize = match GEOMETRY.output_size($l) {
            Some(size) => size,
            None => panic!("a geometry that fits"),
        };
        let rng: &mut SplitMix64 = $rng;
        for zero_point in [0_u8, 1, 128, 200, 255] {
            let mut x: [[u8; $l]; $c] = core::array::from_fn(|_| steps::<$l>(rng));
            // Runs of one value make ties of the average.
            x[0].fill(zero_point.wrapping_add(3));
            let planar = pool([1, $kernel], [1, $stride], [0, $padding]);
            let (maxima, averages) = naive_pools(x.as_flattened(), [$c, 1, $l], planar, zero_point);
            let max: [[u8; OL]; $c] = maxpool1d_u8(&x, GEOMETRY);
            assert_eq!(max.as_flattened(), maxima, "{:?}", GEOMETRY);
            let average: [[u8; OL]; $c] = avgpool1d_u8(&x, GEOMETRY, zero_point);
            assert_eq!(average.as_flattened(), averages, "{:?}", GEOMETRY);
        }
    }};
}

#[test]
fn one_d_pools_equal_direct_windows() {
    let mut rng = SplitMix64::new(7);
    let rng = &mut rng;
    // Kernel, stride, padding; channels, length.
    pools_1d! { rng, 2, 2, 0, 3, 17 }
    pools_1d! { rng, 3, 2, 1, 2, 16 }
    pools_1d! { rng, 4, 3, 2, 4, 11 }
    pools_1d! { rng, 1, 3, 0, 2, 10 }
}

#[test]
fn global_pools_and_flatten() {
    let mut rng = SplitMix64::new(3);
    for zero_point in [0, 77, 255] {
        let x: [[[u8; 5]; 3]; 4] =
            core::array::from_fn(|_| core::array::from_fn(|_| steps::<5>(&mut rng)));
        let average = global_avgpool_u8(&x, zero_point);
        let max = global_maxpool_u8(&x);
        for c in 0..4 {
            let values = x[c].as_flattened();
            let sum: i64 = values
                .iter()
                .map(|&v| i64::from(v) - i64::from(zero_point))
                .sum();
            // Exact: the mean within half a step, ties to even.
            let got = i64::from(average[c]) - i64::from(zero_point);
            assert!(
                (2 * (sum - got * 15)).abs() <= 15,
                "{sum} / 15 against {got}"
            );
            assert!((2 * (sum - got * 15)).abs() < 15 || got % 2 == 0);
            assert_eq!(max[c], *values.iter().max().unwrap());
        }
        let flat: [u8; 60] = flatten_u8(&x);
        assert_eq!(&flat[..], x.as_flattened().as_flattened());
    }
    // Ties: 1 / 2 rounds to 0, 3 / 2 to 2, -1 / 2 to 0, -3 / 2 to -2; rank-1 channels.
    assert_eq!(
        global_avgpool_u8(&[[10_u8, 11], [10, 13], [10, 9], [10, 7]], 10),
        [10, 12, 10, 8]
    );
    assert_eq!(global_maxpool_u8(&[[3_u8], [0]]), [3, 0]);
}

/// A quantised file holds a convolution's weight in PyTorch's shape and reads back the same
/// layer; a dense-shaped weight is refused.
#[cfg(feature = "safetensors")]
#[test]
fn convolutions_in_quantised_files() {
    use nn_runtime::quant::file::{Reader, Writer};
    let rows: [[i8; 12]; 2] = [
        core::array::from_fn(|i| i as i8 - 6),
        core::array::from_fn(|i| 100 - 9 * i as i8),
    ];
    let input = Quantization::new(0.5, 3);
    let output = Quantization::new(0.25, 250);
    let layer =
        QuantizedConv2d::<2, 3, 2, 2, 12, 3>::from_parts(&rows, [0.1, 0.2], [5, -7], input, output);
    let mut writer = Writer::new();
    writer.conv2d("0", &layer);
    let bytes = writer.finish();
    let header = String::from_utf8_lossy(&bytes[8..]);
    assert!(
        header.contains(r#""0.weight":{"dtype":"I8","shape":[2,3,2,2]"#),
        "{header}"
    );

    let mut reader = Reader::new(&bytes).unwrap();
    let mut read = zeroed_box::<QuantizedConv2d<2, 3, 2, 2, 12, 3>>();
    reader.conv2d("conv", "0", &mut read).unwrap();
    reader.finish().unwrap();
    assert!(*read == layer);

    // The dense reading of the same file wants `[2, 12]`; a convolution of another kernel
    // names its own shape.
    let mut reader = Reader::new(&bytes).unwrap();
    let error = reader.parts("dense", "0", 12, 2).unwrap_err();
    assert!(error.to_string().contains("[2, 12]"), "{error}");
    let mut reader = Reader::new(&bytes).unwrap();
    let mut other = zeroed_box::<QuantizedConv2d<2, 3, 4, 1, 12, 3>>();
    let error = reader.conv2d("conv", "0", &mut other).unwrap_err();
    assert!(error.to_string().contains("[2, 3, 4, 1]"), "{error}");

    // A 1-D convolution: PyTorch's 3-D shape, read back the same, other shapes refused.
    let layer =
        QuantizedConv1d::<2, 3, 4, 12, 3>::from_parts(&rows, [0.1, 0.2], [5, -7], input, output);
    let mut writer = Writer::new();
    writer.conv1d("1", &layer);
    let bytes = writer.finish();
    let header = String::from_utf8_lossy(&bytes[8..]);
    assert!(
        header.contains(r#""1.weight":{"dtype":"I8","shape":[2,3,4]"#),
        "{header}"
    );
    let mut reader = Reader::new(&bytes).unwrap();
    let mut read = zeroed_box::<QuantizedConv1d<2, 3, 4, 12, 3>>();
    reader.conv1d("conv", "1", &mut read).unwrap();
    reader.finish().unwrap();
    assert!(*read == layer);
    let mut reader = Reader::new(&bytes).unwrap();
    let mut other = zeroed_box::<QuantizedConv1d<2, 6, 2, 12, 3>>();
    let error = reader.conv1d("conv", "1", &mut other).unwrap_err();
    assert!(error.to_string().contains("[2, 6, 2]"), "{error}");
    let mut reader = Reader::new(&bytes).unwrap();
    let mut planar = zeroed_box::<QuantizedConv2d<2, 3, 1, 4, 12, 3>>();
    let error = reader.conv2d("conv", "1", &mut planar).unwrap_err();
    assert!(error.to_string().contains("[2, 3, 1, 4]"), "{error}");
}

#[test]
fn a_layer_quantised_with_a_negative_scale_pools_its_steps() {
    // Positive scales make the requantisation monotone, so that the kernels may pool sums; a
    // negative one reverses it, and `forward_max_pooled` then pools the steps.
    let mut rng = SplitMix64::new(3);
    let mut conv = zeroed_box::<Conv2d<4, 1, 3, 3, f32>>();
    for w in conv
        .weight_mut()
        .as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
    {
        *w = rng.uniform(0.5) as f32;
    }
    let mut layer = zeroed_box::<QuantizedConv2d<4, 1, 3, 3, 9, 3>>();
    layer.quantize_from(
        &conv,
        Quantization::new(0.02, 128),
        Quantization::new(-0.01, 128),
    );
    let mut x = [[[0_u8; 20]; 20]; 1];
    for (v, r) in x
        .as_flattened_mut()
        .as_flattened_mut()
        .iter_mut()
        .zip(steps::<400>(&mut rng))
    {
        *v = r;
    }
    let pool = Pool2dGeometry::new([2, 2]);
    for clamp in [Clamp::NONE, Clamp { low: 5, high: 250 }] {
        let steps: [[[u8; 18]; 18]; 4] = layer.forward(&x, Conv2dGeometry::DEFAULT, clamp);
        let fused = layer.forward_max_pooled::<1, 20, 20, 18, 18, 9, 9>(
            &x,
            Conv2dGeometry::DEFAULT,
            clamp,
            pool,
        );
        assert_eq!(fused, maxpool2d_u8(&steps, pool), "{clamp:?}");
        let prepared = layer
            .prepare()
            .forward_max_pooled::<1, 20, 20, 18, 18, 9, 9>(
                &x,
                Conv2dGeometry::DEFAULT,
                clamp,
                pool,
            );
        assert_eq!(prepared, fused, "{clamp:?}");
    }
}

#[test]
fn an_input_without_rows_is_all_padding() {
    // PyTorch pads an input of height 0 too: every position reads the zero point, as a 1x1
    // input holding it does.
    let q = Quantization::new(0.1, 3);
    let layer = QuantizedConv2d::<2, 1, 1, 1, 1, 1>::from_parts(
        &[[5], [-3]],
        [0.5, 0.25],
        [40, -7],
        q,
        Quantization::new(0.05, 100),
    );
    let padded = Conv2dGeometry {
        stride: [1, 1],
        padding: [1, 0],
        dilation: [1, 1],
    };
    assert_eq!(padded.output_size([0, 1], [1, 1]), Some([2, 1]));
    let empty: [[[u8; 1]; 0]; 1] = [[]];
    let zero_point = [[[3_u8]]];
    for clamp in [
        Clamp::NONE,
        Clamp {
            low: 101,
            high: 250,
        },
    ] {
        let [[[a]], [[b]]] = layer.forward(&zero_point, Conv2dGeometry::DEFAULT, clamp);
        let expected = [[[a], [a]], [[b], [b]]];
        assert_eq!(layer.forward(&empty, padded, clamp), expected, "{clamp:?}");
        assert_eq!(layer.prepare().forward(&empty, padded, clamp), expected);
    }
}
