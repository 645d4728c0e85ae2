//! The same networks in ndarray, candle (one thread) and tract, built from [`Layer`]s copied
//! out of an `nn` network, so that every framework computes with the same weights.
//!
//! Shapes are fixed by construction, so the `expect`s here can only fail on a bug in the
//! benchmark itself.

#![allow(clippy::missing_panics_doc)]

use crate::Layer;
use nn::Activation;

/// An error from candle or tract, as text.
pub type Result<T> = std::result::Result<T, String>;

/// `max`-shifted softmax over each row of `y`, for frameworks without one.
fn softmax_rows(y: &mut ndarray::Array2<f32>) {
    for mut row in y.rows_mut() {
        nn::activation::softmax(row.as_slice_mut().expect("rows of a standard array"));
    }
}

/// ndarray: `x.dot(&w.t()) + b`, then the activation, per layer.
pub struct Ndarray {
    layers: Vec<(ndarray::Array2<f32>, ndarray::Array1<f32>, Activation)>,
}

impl Ndarray {
    /// Copies the layers into ndarray arrays.
    pub fn new(layers: &[Layer]) -> Self {
        let layers = layers
            .iter()
            .map(|l| {
                let w = ndarray::Array2::from_shape_vec((l.outputs, l.inputs), l.weights.clone())
                    .expect("weights match the shape");
                (w, ndarray::Array1::from(l.bias.clone()), l.activation)
            })
            .collect();
        Self { layers }
    }

    /// One sample: matrix-vector products.
    pub fn forward(&self, x: &ndarray::Array1<f32>) -> ndarray::Array1<f32> {
        let mut x = x.clone();
        for (w, b, activation) in &self.layers {
            let mut y = w.dot(&x) + b;
            activation.apply(y.as_slice_mut().expect("a fresh array is contiguous"));
            x = y;
        }
        x
    }

    /// A batch, one sample per row: matrix-matrix products.
    pub fn forward_batch(&self, x: &ndarray::Array2<f32>) -> ndarray::Array2<f32> {
        let mut x = x.clone();
        for (w, b, activation) in &self.layers {
            let mut y = x.dot(&w.t()) + b;
            if *activation == Activation::Softmax {
                softmax_rows(&mut y);
            } else {
                activation.apply(y.as_slice_mut().expect("a fresh array is contiguous"));
            }
            x = y;
        }
        x
    }
}

/// candle-core on the CPU: `x.matmul(&w.t())`, broadcast bias, activation, as candle-nn's
/// `Linear` does. It reads its thread count from `RAYON_NUM_THREADS` on every product.
pub struct Candle {
    layers: Vec<(candle_core::Tensor, candle_core::Tensor, Activation)>,
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` wants
fn candle_err(e: candle_core::Error) -> String {
    e.to_string()
}

impl Candle {
    /// Copies the layers into candle tensors.
    ///
    /// # Errors
    ///
    /// Candle's, as text.
    pub fn new(layers: &[Layer]) -> Result<Self> {
        let device = candle_core::Device::Cpu;
        let layers = layers
            .iter()
            .map(|l| {
                let w = candle_core::Tensor::from_slice(&l.weights, (l.outputs, l.inputs), &device)
                    .map_err(candle_err)?;
                let b = candle_core::Tensor::from_slice(&l.bias, (1, l.outputs), &device)
                    .map_err(candle_err)?;
                Ok((w, b, l.activation))
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    /// Rows of `x` are samples.
    ///
    /// # Errors
    ///
    /// Candle's, as text.
    pub fn forward(&self, x: &candle_core::Tensor) -> Result<candle_core::Tensor> {
        let mut x = x.clone();
        for (w, b, activation) in &self.layers {
            let y = x
                .matmul(&w.t().map_err(candle_err)?)
                .and_then(|y| y.broadcast_add(b))
                .map_err(candle_err)?;
            x = match activation {
                Activation::Relu => y.relu(),
                Activation::Sigmoid => {
                    (y.neg().and_then(|v| v.exp())).and_then(|e| (e + 1.0)?.recip())
                }
                Activation::Softmax => {
                    let max = y.max_keepdim(1).map_err(candle_err)?;
                    let e = y
                        .broadcast_sub(&max)
                        .and_then(|v| v.exp())
                        .map_err(candle_err)?;
                    let sum = e.sum_keepdim(1).map_err(candle_err)?;
                    e.broadcast_div(&sum)
                }
                other => return Err(format!("no candle baseline for `{other}`")),
            }
            .map_err(candle_err)?;
        }
        Ok(x)
    }
}

/// tract: a typed model (einsum, bias add, activation per layer) optimised for one batch size,
/// run through a reused state.
pub struct Tract {
    state: tract_core::internal::TypedSimpleState,
    batch: usize,
    inputs: usize,
}

impl Tract {
    /// Builds and optimises the model for `batch` samples.
    ///
    /// # Errors
    ///
    /// tract's, as text.
    pub fn new(layers: &[Layer], batch: usize) -> Result<Self> {
        Self::build(layers, batch).map_err(|e| format!("{e:?}"))
    }

    fn build(layers: &[Layer], batch: usize) -> tract_core::internal::TractResult<Self> {
        use tract_core::internal::{
            Datum, DatumExt, IntoRunnable, IntoTensor, SpecialOps, TypedModel, TypedSimpleState,
            bail, tensor2, tract_ndarray, tvec,
        };
        use tract_core::ops::{einsum::EinSum, math, nn as tnn};
        let mut model = TypedModel::default();
        let inputs = layers[0].inputs;
        let mut x = model.add_source("x", f32::fact([batch, inputs]))?;
        for (i, l) in layers.iter().enumerate() {
            let w =
                tract_ndarray::Array2::from_shape_vec((l.outputs, l.inputs), l.weights.clone())?;
            let w = model.add_const(format!("w{i}"), w.into_tensor())?;
            let b = tract_ndarray::Array2::from_shape_vec((1, l.outputs), l.bias.clone())?;
            let b = model.add_const(format!("b{i}"), b.into_tensor())?;
            let mm = EinSum::new("mk,nk->mn".parse()?, f32::datum_type());
            let y = model.wire_node(format!("mm{i}"), mm, &[x, w])?[0];
            let y = model.wire_node(format!("add{i}"), math::add(), &[y, b])?[0];
            x = match l.activation {
                Activation::Relu => {
                    let zero = model.add_const(format!("zero{i}"), tensor2(&[[0f32]]))?;
                    model.wire_node(format!("relu{i}"), math::max(), &[y, zero])?[0]
                }
                Activation::Sigmoid => {
                    model.wire_node(format!("sigmoid{i}"), tnn::sigmoid(), &[y])?[0]
                }
                Activation::Softmax => {
                    let softmax = tnn::Softmax::new(tvec![1], None, tnn::SoftmaxKind::Softmax);
                    model.wire_node(format!("softmax{i}"), softmax, &[y])?[0]
                }
                other => bail!("no tract baseline for `{other}`"),
            };
        }
        model.select_output_outlets(&[x])?;
        let plan = model.into_optimized()?.into_runnable()?;
        let state = TypedSimpleState::new(&plan)?;
        Ok(Self {
            state,
            batch,
            inputs,
        })
    }

    /// Runs the model on `x`, `batch` rows of samples, flattened.
    ///
    /// # Errors
    ///
    /// tract's, as text.
    pub fn forward(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        use tract_core::internal::{IntoTValue, Tensor, TractResult, TypedSimpleState, tvec};
        let run = |state: &mut TypedSimpleState| -> TractResult<Vec<f32>> {
            let x = Tensor::from_shape(&[self.batch, self.inputs], x)?;
            let y = state.run(tvec![x.into_tvalue()])?;
            Ok(y[0].to_plain_array_view::<f32>()?.iter().copied().collect())
        };
        run(&mut self.state).map_err(|e| format!("{e:?}"))
    }
}
