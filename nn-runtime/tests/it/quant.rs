//! The int8 dense layer against `tests/fixtures/make_quant_fixtures.py`, which wrote
//! `tests/fixtures/quant.txt`: a float32 numpy implementation of the scheme (quantisation of the
//! inputs, the weights per neuron and the biases; exact sums; requantisation) and onnxruntime's
//! `QLinearConv` on the same quantised values. Everything is compared bit for bit: the
//! quantisation parameters `from_range` chooses, the `i8` weights, weight scales and `i32` biases
//! of `QuantizedDense::quantize_from`, the sums at every supported kernel level, alone and in
//! batches, and the requantised outputs; and onnxruntime's outputs equal ours except at the
//! positions the script recorded (`ort_differs`, none in the committed file).

use std::collections::HashMap;
use std::fmt::Debug;
use std::str::FromStr;
use std::sync::LazyLock;

use nn_runtime::quant::{Clamp, QuantLevel, Quantization, QuantizedDense, WeightRange};
use nn_runtime::{Dense, zeroed_box};

static FIXTURES: LazyLock<HashMap<(&'static str, &'static str), Vec<&'static str>>> =
    LazyLock::new(|| {
        include_str!("../fixtures/quant.txt")
            .lines()
            .map(|line| {
                let mut words = line.split_ascii_whitespace();
                let mut word = || words.next().expect("a case and a tensor");
                let key = (word(), word());
                (key, words.collect())
            })
            .collect()
    });

fn values<V: FromStr<Err: Debug>>(case: &str, tensor: &str) -> Vec<V> {
    FIXTURES
        .get(&(case, tensor))
        .unwrap_or_else(|| panic!("no `{tensor}` for `{case}`"))
        .iter()
        .map(|word| word.parse().expect("a number"))
        .collect()
}

/// `[scale, zero_point]` of a fixture's line.
fn quantization(case: &str, tensor: &str) -> Quantization {
    let words = &FIXTURES[&(case, tensor)];
    Quantization::new(words[0].parse().unwrap(), words[1].parse().unwrap())
}

fn assert_bits(got: &[f32], expected: &[f32], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}");
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g.to_bits(), e.to_bits(), "{what}[{k}]: {g} against {e}");
    }
}

/// Whether every pair of inputs `2k`, `2k + 1` of each row of `inputs` weights keeps its sums
/// within `i16` for any `u8` inputs (the corners 0 and 255 bound them).
fn pairs_fit_i16(weights: &[i8], inputs: usize) -> bool {
    weights.chunks_exact(inputs).all(|row| {
        row.chunks(2).all(|pair| {
            let (a, b) = (i32::from(pair[0]), pair.get(1).map_or(0, |&b| i32::from(b)));
            [[0, 255], [255, 0], [255, 255]]
                .iter()
                .all(|[x0, x1]| i16::try_from(x0 * a + x1 * b).is_ok())
        })
    })
}

/// One case of the fixture, `IN -> OUT` (`G = IN.div_ceil(4)`), its weights quantised to
/// `range`.
fn check<const IN: usize, const OUT: usize, const G: usize>(case: &str, range: WeightRange) {
    let shape: Vec<usize> = values(case, "shape");
    assert_eq!(shape[..2], [IN, OUT], "{case}'s shape");
    let rows = shape[2];
    assert_eq!(
        values::<i8>(case, "weight_steps"),
        [range.largest()],
        "{case}'s range"
    );

    // Calibration's parameters, from the ranges the script observed.
    let input = quantization(case, "input_quantization");
    let output = quantization(case, "output_quantization");
    for (range, expected) in [("input_range", input), ("output_range", output)] {
        let range: Vec<f32> = values(case, range);
        let chosen = Quantization::from_range(range[0], range[1]);
        assert_bits(
            &[chosen.scale],
            &[expected.scale],
            &format!("{case} {range:?}"),
        );
        assert_eq!(chosen.zero_point, expected.zero_point, "{case} {range:?}");
    }

    // The layer, quantised.
    let weight: Vec<f32> = values(case, "weight");
    let bias: Vec<f32> = values(case, "bias");
    let mut dense = zeroed_box::<Dense<IN, OUT, f32>>();
    for (i, column) in dense.columns_mut().iter_mut().enumerate() {
        for (o, w) in column.iter_mut().enumerate() {
            *w = weight[o * IN + i];
        }
    }
    dense.bias_mut().copy_from_slice(&bias);
    let mut layer = zeroed_box::<QuantizedDense<IN, OUT, G>>();
    layer.quantize_from_with(&dense, input, output, range);
    let weight_q: Vec<i8> = values(case, "weight_q");
    // `vpmaddubsw` (the `Avx2` level) where its pairs fit: always for 7-bit weights.
    let pairs_fit = pairs_fit_i16(&weight_q, IN);
    assert!(pairs_fit || range == WeightRange::Int8, "{case}");
    assert_eq!(layer.maddubs_exact(), pairs_fit, "{case}: vpmaddubsw");
    for o in 0..OUT {
        for i in 0..IN {
            assert_eq!(
                layer.weight(o, i),
                weight_q[o * IN + i],
                "{case}: weight {i} of neuron {o}"
            );
        }
    }
    assert_bits(
        layer.weight_scales(),
        &values::<f32>(case, "weight_scales"),
        &format!("{case} weight scales"),
    );
    assert_eq!(
        layer.bias()[..],
        values::<i32>(case, "bias_q")[..],
        "{case} biases"
    );
    assert_eq!(layer.input(), input);
    assert_eq!(layer.output(), output);

    // The inputs, quantised.
    let x: Vec<f32> = values(case, "input");
    let x_q: Vec<u8> = values(case, "input_q");
    let xs: Vec<[u8; IN]> = x
        .chunks_exact(IN)
        .map(|row| input.quantize_all(&row.try_into().unwrap()))
        .collect();
    assert_eq!(xs.len(), rows);
    assert_eq!(xs.concat(), x_q, "{case}: quantised inputs");

    // The sums, at every level.
    let sums: Vec<i32> = values(case, "sums");
    let expected: Vec<[i32; OUT]> = sums
        .chunks_exact(OUT)
        .map(|row| row.try_into().unwrap())
        .collect();
    let mut levels = 0;
    for level in QuantLevel::ALL.into_iter().filter(|l| l.is_supported()) {
        levels += 1;
        for (r, (x, e)) in xs.iter().zip(&expected).enumerate() {
            assert_eq!(
                layer.accumulate_at(level, x).as_ref(),
                Some(e),
                "{case} {level:?} row {r}"
            );
        }
        let mut batch = vec![[0; OUT]; rows];
        assert!(layer.accumulate_batch_at(level, &xs, &mut batch));
        assert_eq!(batch, expected, "{case} {level:?} batch");
    }
    assert!(levels >= 1);
    let mut batch = vec![[0; OUT]; rows];
    layer.accumulate_batch(&xs, &mut batch);
    assert_eq!(batch, expected, "{case} batch");

    // Requantised, against numpy bit for bit.
    let outputs: Vec<u8> = expected
        .iter()
        .flat_map(|sums| layer.requantize(sums, Clamp::NONE))
        .collect();
    assert_eq!(outputs, values::<u8>(case, "output_q"), "{case} outputs");
    for (x, out) in xs.iter().zip(outputs.chunks_exact(OUT)) {
        assert_eq!(layer.forward(x, Clamp::NONE)[..], *out, "{case} forward");
    }

    onnxruntime_agrees(case, &outputs);
}

/// onnxruntime's outputs equal `outputs` except at the positions the script recorded.
fn onnxruntime_agrees(case: &str, outputs: &[u8]) {
    let theirs: Vec<u8> = values(case, "ort_output_q");
    let differs: Vec<usize> = outputs
        .iter()
        .zip(&theirs)
        .enumerate()
        .filter(|(_, (ours, theirs))| ours != theirs)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(theirs.len(), outputs.len());
    assert_eq!(
        differs,
        values::<usize>(case, "ort_differs"),
        "{case}: where onnxruntime differs"
    );
}

#[test]
fn ties_round_half_to_even() {
    check::<5, 3, 2>("ties", WeightRange::Int8);
}

#[test]
fn small() {
    check::<13, 17, 4>("small", WeightRange::Int8);
}

#[test]
fn mid() {
    check::<70, 40, 18>("mid", WeightRange::Int8);
}

#[test]
fn negative_inputs() {
    check::<130, 20, 33>("negative", WeightRange::Int8);
}

#[test]
fn mnist_output_layer() {
    check::<128, 10, 32>("mnist_out", WeightRange::Int8);
}

#[test]
fn seven_bit_weights() {
    check::<70, 40, 18>("mid_int7", WeightRange::Int7);
    check::<128, 10, 32>("mnist_out_int7", WeightRange::Int7);
}

/// A layer quantised again, or assigned other weights, drops `vpmaddubsw` when its new weights
/// could saturate it, and keeps the exact sums at every level.
#[test]
fn requantised_layers_recheck_their_weights() {
    let mut dense = zeroed_box::<Dense<64, 16, f32>>();
    for (i, column) in dense.columns_mut().iter_mut().enumerate() {
        for (o, w) in column.iter_mut().enumerate() {
            // Same-signed neighbours: 8-bit steps near 127 make pairs beyond `i16`.
            #[allow(clippy::cast_precision_loss)]
            let magnitude = 0.5 + ((i * 7 + o * 3) % 11) as f32 / 22.0;
            *w = if o % 2 == 0 { magnitude } else { -magnitude };
        }
    }
    let (input, output) = (Quantization::new(0.02, 0), Quantization::new(0.5, 100));
    let xs: Vec<[u8; 64]> = (0..9_u8)
        .map(|r| core::array::from_fn(|i| 255 - r.wrapping_mul(17) - [0, 1, 2][i % 3]))
        .collect();
    let sums_at_every_level = |layer: &QuantizedDense<64, 16, 16>| {
        let expected: Vec<_> = xs
            .iter()
            .map(|x| layer.accumulate_at(QuantLevel::Portable, x))
            .collect();
        for level in QuantLevel::ALL.into_iter().filter(|l| l.is_supported()) {
            let got: Vec<_> = xs.iter().map(|x| layer.accumulate_at(level, x)).collect();
            assert_eq!(got, expected, "{level:?}");
            let mut batch = vec![[0; 16]; xs.len()];
            assert!(layer.accumulate_batch_at(level, &xs, &mut batch));
            assert_eq!(
                batch,
                expected.iter().map(|e| e.unwrap()).collect::<Vec<_>>()
            );
        }
    };
    let mut layer = zeroed_box::<QuantizedDense<64, 16, 16>>();
    assert!(
        !layer.maddubs_exact(),
        "a zeroed layer takes the exact kernel"
    );
    layer.quantize_from_with(&dense, input, output, WeightRange::Int7);
    assert!(layer.maddubs_exact());
    sums_at_every_level(&layer);
    layer.quantize_from(&dense, input, output);
    assert!(!layer.maddubs_exact());
    sums_at_every_level(&layer);
    layer.quantize_from_with(&dense, input, output, WeightRange::Int7);
    let rows = vec![100_i8; 64 * 16];
    layer
        .assign(&rows, &[0.01; 16], &[0; 16], input, output)
        .expect("valid parts");
    assert!(!layer.maddubs_exact(), "100 + 100 saturates");
    sums_at_every_level(&layer);
    let rows = vec![-64_i8; 64 * 16];
    layer
        .assign(&rows, &[0.01; 16], &[0; 16], input, output)
        .expect("valid parts");
    assert!(layer.maddubs_exact(), "-64 - 64 fits");
    sums_at_every_level(&layer);
}

/// `NN_NO_AMX` in the environment turns AMX off (docs/quantization.md): this test binary runs
/// this test again with it set, and the run checks that the batches do not use AMX.
#[test]
fn no_amx_in_the_environment_turns_amx_off() {
    if std::env::var_os("NN_NO_AMX").is_some() {
        assert!(!nn_runtime::quant::amx_enabled());
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "quant::no_amx_in_the_environment_turns_amx_off",
            "--exact",
            "--quiet",
        ])
        .env("NN_NO_AMX", "1")
        .status()
        .expect("the test binary runs");
    assert!(status.success(), "with NN_NO_AMX set: {status}");
}
