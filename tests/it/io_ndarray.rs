//! `forward_ndarray`: rows are samples; contiguous and strided views give the same results as
//! `forward` row by row; numpy's outputs; a wrong column count is a typed error.

use crate::fixtures::{Tiny, TinyF64, assert_close, bytes, expected, inputs, matrix};
use ndarray::{Array2, ShapeBuilder, s};

/// The fixtures' inputs as a 6 x 5 matrix.
fn input_matrix() -> Array2<f64> {
    let rows = inputs();
    Array2::from_shape_fn((rows.len(), 5), |(r, c)| rows[r][c])
}

#[test]
fn rows_are_samples_and_match_numpy() {
    let net = TinyF64::from_safetensors(&bytes("tiny_f64")).expect("F64 file");
    let outputs = net
        .forward_ndarray(input_matrix().view())
        .expect("5 columns");
    assert_eq!(outputs.dim(), (6, 3));
    let flat: Vec<f64> = outputs.iter().copied().collect();
    assert_close(
        &flat,
        &matrix(&expected()["f64"]["outputs"]),
        1e-12,
        "outputs",
    );
}

/// `forward` on each row of `input`, as a matrix.
fn row_by_row(net: &Tiny, input: &Array2<f32>) -> Array2<f32> {
    let mut out = Array2::zeros((input.nrows(), 3));
    for (row, mut target) in input.rows().into_iter().zip(out.rows_mut()) {
        let x: [f32; 5] = std::array::from_fn(|i| row[i]);
        for (t, y) in target.iter_mut().zip(net.forward(&x)) {
            *t = y;
        }
    }
    out
}

#[test]
fn strided_views_give_the_same_results_as_forward() {
    let net = Tiny::from_safetensors(&bytes("tiny_f32")).expect("F32 file");
    // 7,000 rows in column-major order: not contiguous by rows, and more than one 64 KiB chunk
    // (3,276 rows of 5 f32).
    let mut columns = Array2::<f32>::zeros((7000, 5).f());
    for ((r, c), v) in columns.indexed_iter_mut() {
        *v = ((r * 5 + c) % 17) as f32 / 8.0 - 1.0;
    }
    assert!(columns.as_slice().is_none());
    let expected = row_by_row(&net, &columns.to_owned());
    assert_eq!(
        net.forward_ndarray(columns.view()).expect("5 columns"),
        expected
    );

    // Every other row, and every other column of a wider matrix.
    let wide = Array2::from_shape_fn((40, 10), |(r, c)| (r as f32 - c as f32) / 16.0);
    let view = wide.slice(s![..;2, ..;2]);
    let expected = row_by_row(&net, &view.to_owned());
    assert_eq!(net.forward_ndarray(view).expect("5 columns"), expected);

    let empty = Array2::<f32>::zeros((0, 5));
    assert_eq!(
        net.forward_ndarray(empty.view()).expect("5 columns").dim(),
        (0, 3)
    );
}

#[test]
fn a_wrong_column_count_is_an_error() {
    let net = Tiny::zeroed();
    let input = Array2::<f32>::zeros((3, 4));
    let error = net.forward_ndarray(input.view()).expect_err("4 columns");
    assert_eq!(
        error,
        nn::Error::Columns {
            layer: "layer0",
            expected: 5,
            found: 4,
        }
    );
    assert_eq!(
        error.to_string(),
        "layer `layer0`: expected 5 columns, one per input, found 4"
    );
    // The transpose of a valid batch is not one.
    let batch = Array2::<f32>::zeros((3, 5));
    assert!(net.forward_ndarray(batch.view()).is_ok());
    assert_eq!(
        net.forward_ndarray(batch.t()).expect_err("3 columns"),
        nn::Error::Columns {
            layer: "layer0",
            expected: 5,
            found: 3,
        }
    );
}

/// A broadcast view repeats one row any number of times: outputs for more rows than memory
/// holds are a typed error, not an allocation failure or an overflow.
#[test]
fn outputs_too_large_for_memory_are_an_error() {
    let net = Tiny::zeroed();
    let row = ndarray::Array1::<f32>::zeros(5);
    // The most rows of 5 values a view can have: their 3 outputs each would take 2.2e19 bytes.
    let rows = isize::MAX.unsigned_abs() / 5;
    let view = row.broadcast((rows, 5)).expect("one row repeated");
    let error = net.forward_ndarray(view).expect_err("too large");
    assert_eq!(
        error,
        nn::Error::OutputTooLarge {
            layer: "layer1",
            rows,
            width: 3,
        }
    );
    assert_eq!(
        error.to_string(),
        format!("layer `layer1`: the outputs of {rows} rows, 3 values each, do not fit in memory")
    );
}

nn::network! {
    /// More outputs than inputs: a view's rows times the outputs can overflow.
    struct Widen = 1 -> 4;
}

/// The most rows of one value a view can have, times 4 outputs, overflows `usize`: the same
/// typed error.
#[test]
fn an_output_size_that_overflows_is_an_error() {
    let net = Widen::zeroed();
    let row = ndarray::Array1::<f32>::zeros(1);
    let rows = isize::MAX.unsigned_abs();
    let view = row.broadcast((rows, 1)).expect("one row repeated");
    assert_eq!(
        net.forward_ndarray(view).expect_err("too large"),
        nn::Error::OutputTooLarge {
            layer: "layer0",
            rows,
            width: 4,
        }
    );
}
