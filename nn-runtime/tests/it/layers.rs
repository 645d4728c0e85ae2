//! The layer kinds beyond dense against onnxruntime (`f32`, within `1e-5` of `max(1, |y|)`)
//! and a float64 numpy implementation (`f64`, within `1e-12`), on the configurations of
//! `tests/fixtures/make_layer_fixtures.py`, which wrote `tests/fixtures/layers.txt`.
//!
//! The forward functions are const-generic, so each configuration is one line of the table at
//! the end, naming its sizes and geometry; the output sizes come from the geometries'
//! `output_size`, as generated code would compute them.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::LazyLock;

use nn_runtime::Scalar;
use nn_runtime::layers::{
    BatchNorm, Conv1d, Conv1dGeometry, Conv2d, Conv2dGeometry, DEFAULT_EPS, LayerNorm,
    Pool1dGeometry, Pool2dGeometry, Shaped, avgpool1d, avgpool2d, dropout, flatten, global_avgpool,
    global_maxpool, maxpool1d, maxpool2d,
};

/// A line of the fixture: configuration, dtype and tensor.
type Key = (&'static str, &'static str, &'static str);

/// The fixture's values, as written, by configuration, dtype and tensor.
static FIXTURES: LazyLock<HashMap<Key, Vec<&str>>> = LazyLock::new(|| {
    include_str!("../fixtures/layers.txt")
        .lines()
        .map(|line| {
            let mut words = line.split_ascii_whitespace();
            let mut word = || words.next().expect("a configuration, a dtype and a tensor");
            let key = (word(), word(), word());
            (key, words.collect())
        })
        .collect()
});

/// An element type of the fixtures, with its tolerance.
trait Fixture: Scalar + Shaped<Scalar = Self> + FromStr<Err: std::fmt::Debug> {
    const DTYPE: &'static str;
    const TOLERANCE: f64;
}

impl Fixture for f32 {
    const DTYPE: &'static str = "f32";
    const TOLERANCE: f64 = 1e-5;
}

impl Fixture for f64 {
    const DTYPE: &'static str = "f64";
    const TOLERANCE: f64 = 1e-12;
}

/// The values of one tensor, parsed exactly.
fn values<T: Fixture>(case: &str, tensor: &str) -> Vec<T> {
    FIXTURES
        .get(&(case, T::DTYPE, tensor))
        .unwrap_or_else(|| panic!("no `{tensor}` for `{case}` in {}", T::DTYPE))
        .iter()
        .map(|value| value.parse().expect("a float"))
        .collect()
}

/// A tensor as `N` values of shape `S` (a scalar or a nested array).
fn tensor<S: Shaped<Scalar: Fixture>, const N: usize>(case: &str, name: &str) -> [S; N] {
    let values = values::<S::Scalar>(case, name);
    assert_eq!(values.len(), N * S::LEN, "`{name}` of `{case}`");
    let mut tensor = [S::ZERO; N];
    for (item, chunk) in tensor.iter_mut().zip(values.chunks_exact(S::LEN)) {
        item.values_mut().copy_from_slice(chunk);
    }
    tensor
}

/// A sample as one nested array.
fn sample<S: Shaped<Scalar: Fixture>>(case: &str, name: &str) -> S {
    let [sample] = tensor::<S, 1>(case, name);
    sample
}

/// Checks `got` against the fixture's output, value by value.
fn check<T: Fixture>(case: &str, got: &[T]) {
    let expected = values::<T>(case, "output");
    assert_eq!(got.len(), expected.len(), "output size of `{case}`");
    for (index, (got, expected)) in got.iter().zip(&expected).enumerate() {
        let (got, expected) = (got.to_f64(), expected.to_f64());
        let error = (got - expected).abs() / expected.abs().max(1.0);
        assert!(
            error <= T::TOLERANCE,
            "`{case}` in {}: output {index} is {got}, expected {expected}",
            T::DTYPE
        );
    }
}

/// Checks a convolution's `forward_with` (`with`, given a scratch) against the fixture: with a
/// scratch of `len` values, the same output whatever the scratch held (zeros or NaNs) and
/// within the tolerance; `len` is not 0 for `f32` at stride 1 (`wide`), so that the kernel is
/// exercised; a scratch too short gives `forward`'s result.
fn check_with<T: Fixture, S: Shaped<Scalar = T> + PartialEq + std::fmt::Debug>(
    case: &str,
    len: usize,
    with: impl Fn(&mut [T]) -> S,
    wide: bool,
) {
    let kernel = cfg!(target_arch = "x86_64") && T::DTYPE == "f32";
    assert_eq!(len > 0, wide && kernel, "scratch of `{case}`");
    let zeros = with(&mut vec![<T as Scalar>::ZERO; len]);
    let nans = with(&mut vec![T::from_f64(f64::NAN); len]);
    assert_eq!(
        zeros.values(),
        nans.values(),
        "`{case}`: the scratch's values leak"
    );
    check::<T>(case, zeros.values());
    check::<T>(
        case,
        with(&mut vec![<T as Scalar>::ZERO; len.saturating_sub(1)]).values(),
    );
}

/// The nested array type of a shape: `nested!(T; [2, 3])` is `[[T; 3]; 2]`.
macro_rules! nested {
    ($t:ty; []) => { $t };
    ($t:ty; [$n:literal $(, $rest:literal)*]) => { [nested!($t; [$($rest),*]); $n] };
}

/// Unwraps a geometry's output size at compile time.
macro_rules! size {
    ($size:expr) => {
        match $size {
            Some(size) => size,
            None => panic!("a geometry that fits"),
        }
    };
}

/// One test per configuration, in `f32` and `f64`.
macro_rules! case {
    ($name:ident, |$t:ident, $case:ident| $body:block) => {
        #[test]
        fn $name() {
            fn run<$t: Fixture>() {
                let $case = stringify!($name);
                let output = $body;
                check::<$t>($case, output.values());
            }
            run::<f32>();
            run::<f64>();
        }
    };
}

macro_rules! conv2d {
    ($name:ident, in $in:literal, out $out:literal, groups $groups:literal, size [$h:literal, $w:literal],
     kernel [$kh:literal, $kw:literal], stride $stride:expr, padding $padding:expr, dilation $dilation:expr) => {
        case!($name, |T, case| {
            const GEOMETRY: Conv2dGeometry =
                Conv2dGeometry { stride: $stride, padding: $padding, dilation: $dilation };
            const OUT: [usize; 2] = size!(GEOMETRY.output_size([$h, $w], [$kh, $kw]));
            let layer = Conv2d::<$out, { $in / $groups }, $kh, $kw, T>::from_parts(
                tensor(case, "weight"),
                tensor(case, "bias"),
            );
            let input: nested!(T; [$in, $h, $w]) = sample(case, "input");
            let output: [[[T; OUT[1]]; OUT[0]]; $out] = layer.forward(&input, GEOMETRY);
            let scratch_len =
                Conv2d::<$out, { $in / $groups }, $kh, $kw, T>::scratch_len([$in, $h, $w], GEOMETRY);
            let with = |scratch: &mut [T]| -> [[[T; OUT[1]]; OUT[0]]; $out] {
                layer.forward_with(&input, GEOMETRY, scratch)
            };
            check_with(case, scratch_len, with, $stride == [1, 1]);
            // A batch (the weights packed once) gives each sample the bits it gets alone.
            let mut batch = [[[[<T as Scalar>::ZERO; OUT[1]]; OUT[0]]; $out]; 3];
            let mut scratch = vec![<T as Scalar>::ZERO; scratch_len];
            layer.forward_batch_with(&[input; 3], GEOMETRY, &mut batch, &mut scratch);
            let alone = layer.forward_with(&input, GEOMETRY, &mut scratch);
            assert_eq!(batch, [alone; 3], "`{case}` in a batch");
            output
        });
    };
}

macro_rules! conv1d {
    ($name:ident, in $in:literal, out $out:literal, groups $groups:literal, size $l:literal,
     kernel $k:literal, stride $stride:expr, padding $padding:expr, dilation $dilation:expr) => {
        case!($name, |T, case| {
            const GEOMETRY: Conv1dGeometry =
                Conv1dGeometry { stride: $stride, padding: $padding, dilation: $dilation };
            const OUT: usize = size!(GEOMETRY.output_size($l, $k));
            let layer = Conv1d::<$out, { $in / $groups }, $k, T>::from_parts(
                tensor(case, "weight"),
                tensor(case, "bias"),
            );
            let input: nested!(T; [$in, $l]) = sample(case, "input");
            let output: [[T; OUT]; $out] = layer.forward(&input, GEOMETRY);
            let scratch_len =
                Conv1d::<$out, { $in / $groups }, $k, T>::scratch_len([$in, $l], GEOMETRY);
            let with = |scratch: &mut [T]| -> [[T; OUT]; $out] {
                layer.forward_with(&input, GEOMETRY, scratch)
            };
            check_with(case, scratch_len, with, $stride == 1);
            let mut batch = [[[<T as Scalar>::ZERO; OUT]; $out]; 3];
            let mut scratch = vec![<T as Scalar>::ZERO; scratch_len];
            layer.forward_batch_with(&[input; 3], GEOMETRY, &mut batch, &mut scratch);
            let alone = layer.forward_with(&input, GEOMETRY, &mut scratch);
            assert_eq!(batch, [alone; 3], "`{case}` in a batch");
            output
        });
    };
}

macro_rules! pool2d {
    ($name:ident, $pool:ident, [$c:literal, $h:literal, $w:literal], kernel $kernel:expr,
     stride $stride:expr, padding $padding:expr) => {
        case!($name, |T, case| {
            const GEOMETRY: Pool2dGeometry =
                Pool2dGeometry { kernel: $kernel, stride: $stride, padding: $padding };
            const OUT: [usize; 2] = size!(GEOMETRY.output_size([$h, $w]));
            let input: nested!(T; [$c, $h, $w]) = sample(case, "input");
            let output: [[[T; OUT[1]]; OUT[0]]; $c] = $pool(&input, GEOMETRY);
            output
        });
    };
}

macro_rules! pool1d {
    ($name:ident, $pool:ident, [$c:literal, $l:literal], kernel $kernel:expr, stride $stride:expr,
     padding $padding:expr) => {
        case!($name, |T, case| {
            const GEOMETRY: Pool1dGeometry =
                Pool1dGeometry { kernel: $kernel, stride: $stride, padding: $padding };
            const OUT: usize = size!(GEOMETRY.output_size($l));
            let input: nested!(T; [$c, $l]) = sample(case, "input");
            let output: [[T; OUT]; $c] = $pool(&input, GEOMETRY);
            output
        });
    };
}

macro_rules! global {
    ($name:ident, $pool:ident, [$c:literal $(, $rest:literal)+]) => {
        case!($name, |T, case| {
            let input: nested!(T; [$c $(, $rest)+]) = sample(case, "input");
            let output: [T; $c] = $pool(&input);
            output
        });
    };
}

macro_rules! flattened {
    ($name:ident, [$($dims:literal),+]) => {
        case!($name, |T, case| {
            let input: nested!(T; [$($dims),+]) = sample(case, "input");
            // Dropout is the identity at inference: the same values, flattened.
            let output: [T; 1 $(* $dims)+] = flatten(&dropout(&input));
            output
        });
    };
}

macro_rules! batchnorm {
    ($name:ident, $c:literal, [$($dims:literal),*]) => {
        case!($name, |T, case| {
            let layer = BatchNorm::<$c, T>::from_parts(
                sample(case, "weight"),
                sample(case, "bias"),
                sample(case, "running_mean"),
                sample(case, "running_var"),
            );
            let input: [nested!(T; [$($dims),*]); $c] = tensor(case, "input");
            let output: [nested!(T; [$($dims),*]); $c] = layer.forward(&input, DEFAULT_EPS);
            output
        });
    };
}

macro_rules! layernorm {
    ($name:ident, [$($dims:literal),+]) => {
        case!($name, |T, case| {
            let layer = LayerNorm::<nested!(T; [$($dims),+])>::from_parts(
                sample(case, "weight"),
                sample(case, "bias"),
            );
            let input: nested!(T; [$($dims),+]) = sample(case, "input");
            layer.forward(&input, DEFAULT_EPS)
        });
    };
}

/// The table: one configuration a line, named as in the fixture file, whose every configuration
/// it must cover.
macro_rules! cases {
    ($($kind:ident!($name:ident $($rest:tt)*);)*) => {
        $($kind!($name $($rest)*);)*
        const CASES: &[&str] = &[$(stringify!($name)),*];
    };
}

cases! {
    conv2d!(conv2d_k3, in 3, out 4, groups 1, size [7, 7], kernel [3, 3], stride [1, 1], padding [0, 0], dilation [1, 1]);
    conv2d!(conv2d_k1, in 5, out 6, groups 1, size [6, 5], kernel [1, 1], stride [1, 1], padding [0, 0], dilation [1, 1]);
    conv2d!(conv2d_k3_p1, in 2, out 3, groups 1, size [8, 8], kernel [3, 3], stride [1, 1], padding [1, 1], dilation [1, 1]);
    conv2d!(conv2d_k5x3_p2x1, in 2, out 3, groups 1, size [9, 7], kernel [5, 3], stride [1, 1], padding [2, 1], dilation [1, 1]);
    conv2d!(conv2d_s2_p1, in 3, out 4, groups 1, size [9, 9], kernel [3, 3], stride [2, 2], padding [1, 1], dilation [1, 1]);
    conv2d!(conv2d_s2x1_p1x0, in 2, out 3, groups 1, size [8, 7], kernel [3, 3], stride [2, 1], padding [1, 0], dilation [1, 1]);
    conv2d!(conv2d_p0x2, in 2, out 2, groups 1, size [6, 5], kernel [3, 3], stride [1, 1], padding [0, 2], dilation [1, 1]);
    conv2d!(conv2d_d2_p2, in 2, out 3, groups 1, size [9, 9], kernel [3, 3], stride [1, 1], padding [2, 2], dilation [2, 2]);
    conv2d!(conv2d_d2x1_p1, in 2, out 2, groups 1, size [10, 8], kernel [3, 3], stride [1, 1], padding [1, 1], dilation [2, 1]);
    conv2d!(conv2d_g2, in 4, out 6, groups 2, size [7, 6], kernel [3, 3], stride [1, 1], padding [1, 1], dilation [1, 1]);
    conv2d!(conv2d_depthwise, in 4, out 4, groups 4, size [6, 6], kernel [3, 3], stride [1, 1], padding [1, 1], dilation [1, 1]);
    conv2d!(conv2d_depthwise_x2_s2, in 3, out 6, groups 3, size [9, 9], kernel [3, 3], stride [2, 2], padding [1, 1], dilation [1, 1]);
    conv2d!(conv2d_k2_s3, in 2, out 3, groups 1, size [10, 11], kernel [2, 2], stride [3, 3], padding [0, 0], dilation [1, 1]);
    conv2d!(conv2d_mixed, in 4, out 4, groups 2, size [11, 13], kernel [3, 2], stride [2, 3], padding [1, 2], dilation [2, 1]);
    conv2d!(conv2d_full_kernel, in 1, out 1, groups 1, size [5, 3], kernel [5, 3], stride [1, 1], padding [0, 0], dilation [1, 1]);
    conv2d!(conv2d_wide, in 8, out 8, groups 1, size [8, 8], kernel [3, 3], stride [1, 1], padding [1, 1], dilation [1, 1]);
    conv1d!(conv1d_k3, in 3, out 4, groups 1, size 10, kernel 3, stride 1, padding 0, dilation 1);
    conv1d!(conv1d_s2_p2_d2, in 2, out 3, groups 1, size 13, kernel 3, stride 2, padding 2, dilation 2);
    conv1d!(conv1d_depthwise_k5_p2, in 4, out 4, groups 4, size 9, kernel 5, stride 1, padding 2, dilation 1);
    conv1d!(conv1d_k1_g2, in 4, out 2, groups 2, size 7, kernel 1, stride 1, padding 0, dilation 1);
    pool2d!(maxpool2d_k2, maxpool2d, [3, 8, 8], kernel [2, 2], stride [2, 2], padding [0, 0]);
    pool2d!(maxpool2d_k3_s2_p1, maxpool2d, [2, 9, 9], kernel [3, 3], stride [2, 2], padding [1, 1]);
    pool2d!(maxpool2d_k3x2_s1_p1x0, maxpool2d, [2, 7, 6], kernel [3, 2], stride [1, 1], padding [1, 0]);
    pool2d!(maxpool2d_k2_s3, maxpool2d, [2, 10, 11], kernel [2, 2], stride [3, 3], padding [0, 0]);
    pool2d!(avgpool2d_k2, avgpool2d, [3, 8, 8], kernel [2, 2], stride [2, 2], padding [0, 0]);
    pool2d!(avgpool2d_k3_s2_p1, avgpool2d, [2, 9, 9], kernel [3, 3], stride [2, 2], padding [1, 1]);
    pool2d!(avgpool2d_k3x2_s2_p1, avgpool2d, [2, 7, 7], kernel [3, 2], stride [2, 2], padding [1, 1]);
    pool2d!(avgpool2d_k2_s3, avgpool2d, [2, 10, 11], kernel [2, 2], stride [3, 3], padding [0, 0]);
    pool1d!(maxpool1d_k3_s2_p1, maxpool1d, [3, 11], kernel 3, stride 2, padding 1);
    pool1d!(maxpool1d_k2, maxpool1d, [2, 9], kernel 2, stride 2, padding 0);
    pool1d!(avgpool1d_k3_s2_p1, avgpool1d, [3, 11], kernel 3, stride 2, padding 1);
    pool1d!(avgpool1d_k2, avgpool1d, [2, 9], kernel 2, stride 2, padding 0);
    global!(global_avgpool2d, global_avgpool, [4, 5, 7]);
    global!(global_maxpool2d, global_maxpool, [4, 5, 7]);
    global!(global_avgpool1d, global_avgpool, [3, 11]);
    global!(global_maxpool1d, global_maxpool, [3, 11]);
    flattened!(flatten2d, [3, 4, 5]);
    flattened!(flatten1d, [2, 7]);
    batchnorm!(batchnorm2d, 4, [5, 6]);
    batchnorm!(batchnorm1d, 3, [8]);
    batchnorm!(batchnorm_features, 6, []);
    layernorm!(layernorm2d, [3, 4, 5]);
    layernorm!(layernorm1d, [4, 6]);
    layernorm!(layernorm_features, [10]);
}

#[test]
fn every_fixture_has_a_case() {
    let fixtures: BTreeSet<&str> = FIXTURES.keys().map(|(case, _, _)| *case).collect();
    let cases: BTreeSet<&str> = CASES.iter().copied().collect();
    assert_eq!(fixtures, cases);
    assert!(cases.len() >= 30);
}
