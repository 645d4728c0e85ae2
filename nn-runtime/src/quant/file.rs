//! Quantised networks in safetensors files.
//!
//! Each dense layer, under the prefix its `f32` network's file would give it (`0`, `2`, or its
//! name: see [`io::safetensors`](crate::io::safetensors)), writes
//!
//! | tensor | dtype | shape |
//! |---|---|---|
//! | `<prefix>.weight` | `I8` | `[outputs, inputs]`, PyTorch's `Linear.weight` layout |
//! | `<prefix>.weight_scale` | `F32` | `[outputs]` |
//! | `<prefix>.bias` | `I32` | `[outputs]`, in units of `input_scale * weight_scale` |
//! | `<prefix>.input_scale`, `<prefix>.output_scale` | `F32` | `[]` |
//! | `<prefix>.input_zero_point`, `<prefix>.output_zero_point` | `U8` | `[]` |
//!
//! the parameters of ONNX's `QLinearConv` (`x_scale`, `w_scale`, `B`, `y_scale`, ...). A
//! convolution writes the same tensors, its `weight` of PyTorch's shape, `Conv2d.weight`'s
//! `[outputs, in_per_group, kernel_height, kernel_width]` or `Conv1d.weight`'s `[outputs,
//! in_per_group, kernel]` (the rows of its dense layer). A layer's input parameters must equal
//! the previous layer's output parameters. Tensors are ordered as the reference writer orders
//! them (by dtype, `F32`, `I32`, `I8`, `U8`, then by name), with the metadata `{"format":
//! "nn-int8"}`, which [`Reader`] does not require: it checks every tensor's name, dtype, shape
//! and values, so a converter's file without that metadata loads.

use super::dense::{bias_room, multipliers_ok};
use super::{Quantization, QuantizedConv1d, QuantizedConv2d, QuantizedDense};
use crate::Error;
use crate::io::safetensors::{Tensor, json_string, parse, under_prefix};
use ::safetensors::tensor::Dtype;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

/// A quantised file being read, layer by layer.
pub struct Reader<'a> {
    tensors: Vec<Tensor>,
    data: &'a [u8],
    taken: Vec<bool>,
    layers: usize,
    previous: Option<(Quantization, String)>,
}

/// One layer's parts, as the file holds them.
#[derive(Clone, Debug, PartialEq)]
pub struct Parts {
    /// The weights, `[outputs][inputs]` row-major.
    pub weights: Vec<i8>,
    /// One scale per neuron.
    pub weight_scales: Vec<f32>,
    /// The biases, in units of `input.scale * weight_scales[o]`.
    pub bias: Vec<i32>,
    /// The input's quantisation.
    pub input: Quantization,
    /// The output's quantisation.
    pub output: Quantization,
}

impl<'a> Reader<'a> {
    /// Parses the file's header.
    ///
    /// # Errors
    ///
    /// A damaged file, as [`io::safetensors::load`](crate::io::safetensors::load).
    pub fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        let (tensors, data) = parse(bytes)?;
        let taken = alloc::vec![false; tensors.len()];
        Ok(Self {
            tensors,
            data,
            taken,
            layers: 0,
            previous: None,
        })
    }

    /// The tensor `<prefix>.<name>` of `dtype` and `shape`, marked as read.
    fn take(
        &mut self,
        layer: &'static str,
        prefix: &str,
        name: &str,
        dtype: Dtype,
        shape: &[usize],
    ) -> Result<&'a [u8], Error> {
        let full = format!("{prefix}.{name}");
        let Some(index) = self.tensors.iter().position(|t| t.name == full) else {
            return Err(Error::MissingTensor {
                layer,
                kind: None,
                tensor: full,
                found: under_prefix(&self.tensors, prefix),
            });
        };
        let tensor = &self.tensors[index];
        if tensor.shape != shape {
            return Err(Error::Shape {
                layer,
                kind: None,
                tensor: full,
                expected: shape.to_vec(),
                found: tensor.shape.clone(),
            });
        }
        if tensor.dtype != dtype {
            return Err(Error::QuantizedDtype {
                layer,
                tensor: full,
                expected: dtype_name(dtype),
                found: tensor.dtype.to_string(),
            });
        }
        self.taken[index] = true;
        Ok(tensor.data(self.data))
    }

    /// A positive, finite scale `<prefix>.<name>` of shape `[]`.
    fn scale(&mut self, layer: &'static str, prefix: &str, name: &str) -> Result<f32, Error> {
        let bytes = self.take(layer, prefix, name, Dtype::F32, &[])?;
        let scale = f32::from_le_bytes(bytes.try_into().unwrap_or_default());
        check_scale(layer, &format!("{prefix}.{name}"), scale, None)?;
        Ok(scale)
    }

    /// Checks that the layer just read (under `prefix`) has `fixed`, the output quantisation
    /// of its `activation` (`"tanh"`; sigmoid and softmax outputs are [`Quantization::UNIT`],
    /// tanh's [`Quantization::SIGNED_UNIT`]): a file calibrated for another activation would
    /// otherwise load, and clip every output outside its range.
    ///
    /// # Errors
    ///
    /// `Error::QuantizedValue` naming `<prefix>.output_scale` where the layer's output
    /// quantisation is another.
    pub fn expect_output(
        &self,
        layer: &'static str,
        prefix: &str,
        activation: &str,
        fixed: Quantization,
    ) -> Result<(), Error> {
        match &self.previous {
            Some((found, _)) if *found != fixed => Err(Error::QuantizedValue {
                layer,
                tensor: format!("{prefix}.output_scale"),
                problem: format!(
                    "and its zero point are {found:?}, expected {fixed:?}, the fixed \
                     quantisation of `{activation}` outputs (a file made for another activation?)"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Checks that `bias`, the biases just read under `prefix`, are zero, as a layer declared
    /// `bias = false` has them: its twin's file keeps the tensor (the scheme's `B`), written as
    /// zeros, so that every layer's file has the same tensors.
    ///
    /// # Errors
    ///
    /// `Error::QuantizedValue` naming `<prefix>.bias` and the first value that is not zero.
    pub fn expect_no_bias(
        &self,
        layer: &'static str,
        prefix: &str,
        bias: &[i32],
    ) -> Result<(), Error> {
        match bias.iter().position(|&b| b != 0) {
            Some(at) => Err(Error::QuantizedValue {
                layer,
                tensor: format!("{prefix}.bias"),
                problem: format!(
                    "holds {} at index {at}, where the layer is declared `bias = false`: its \
                     biases are zero",
                    bias[at]
                ),
            }),
            None => Ok(()),
        }
    }

    /// The parts of a layer of `inputs` and `outputs` under `prefix`.
    ///
    /// # Errors
    ///
    /// A missing tensor, a wrong shape or dtype, a scale that is not positive and finite (or a
    /// weight scale whose products with the input scale and over the output scale are not), or
    /// an input quantisation that is not the previous layer's output's, naming `layer` and the
    /// tensor.
    pub fn parts(
        &mut self,
        layer: &'static str,
        prefix: &str,
        inputs: usize,
        outputs: usize,
    ) -> Result<Parts, Error> {
        self.parts_shaped(layer, prefix, &[outputs, inputs], outputs)
    }

    /// [`Reader::parts`] of a layer whose weight has `weight_shape` (`outputs` first; a
    /// convolution's `[OUT, IN, KH, KW]`), read as its rows of the remaining sizes' product.
    fn parts_shaped(
        &mut self,
        layer: &'static str,
        prefix: &str,
        weight_shape: &[usize],
        outputs: usize,
    ) -> Result<Parts, Error> {
        let weights = self.take(layer, prefix, "weight", Dtype::I8, weight_shape)?;
        let weights: Vec<i8> = weights.iter().map(|&b| b.cast_signed()).collect();
        if let Some(at) = weights.iter().position(|&w| w == i8::MIN) {
            return Err(Error::QuantizedValue {
                layer,
                tensor: format!("{prefix}.weight"),
                problem: format!("holds -128 at index {at}; symmetric weights are -127..=127"),
            });
        }
        let scales = self.take(layer, prefix, "weight_scale", Dtype::F32, &[outputs])?;
        let weight_scales: Vec<f32> = scales
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let name = format!("{prefix}.weight_scale");
        for (at, scale) in weight_scales.iter().enumerate() {
            check_scale(layer, &name, *scale, Some(at))?;
        }
        let bias = self.take(layer, prefix, "bias", Dtype::I32, &[outputs])?;
        let bias: Vec<i32> = bias
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let inputs = weight_shape[1..].iter().product();
        let room = bias_room(inputs);
        if let Some(at) = bias.iter().position(|&b| i64::from(b).abs() > room) {
            return Err(Error::QuantizedValue {
                layer,
                tensor: format!("{prefix}.bias"),
                problem: format!(
                    "holds {} at index {at}, beyond ±{room}: with {inputs} inputs the sums \
                     could overflow an i32",
                    bias[at]
                ),
            });
        }
        let input = Quantization::new(
            self.scale(layer, prefix, "input_scale")?,
            self.take(layer, prefix, "input_zero_point", Dtype::U8, &[])?[0],
        );
        let output = Quantization::new(
            self.scale(layer, prefix, "output_scale")?,
            self.take(layer, prefix, "output_zero_point", Dtype::U8, &[])?[0],
        );
        check_multipliers(layer, prefix, &weight_scales, input, output)?;
        if let Some((previous, name)) = &self.previous
            && *previous != input
        {
            return Err(Error::QuantizedValue {
                layer,
                tensor: format!("{prefix}.input_scale"),
                problem: format!(
                    "and its zero point are {input:?}, expected the previous layer's output \
                     quantisation ({name}: {previous:?})"
                ),
            });
        }
        self.previous = Some((output, format!("`{prefix}.output_scale`")));
        self.layers += 1;
        Ok(Parts {
            weights,
            weight_scales,
            bias,
            input,
            output,
        })
    }

    /// Reads the layer under `prefix` into `into`.
    ///
    /// # Errors
    ///
    /// As [`Reader::parts`].
    pub fn layer<const IN: usize, const OUT: usize, const G: usize>(
        &mut self,
        layer: &'static str,
        prefix: &str,
        into: &mut QuantizedDense<IN, OUT, G>,
    ) -> Result<(), Error> {
        let parts = self.parts(layer, prefix, IN, OUT)?;
        into.assign(
            &parts.weights,
            &parts.weight_scales,
            &parts.bias,
            parts.input,
            parts.output,
        )
    }

    /// The parts of a 2-D convolution of `outputs` channels under `prefix`, its weight of
    /// shape `[outputs, kernel[0], kernel[1], kernel[2]]` (`[in_per_group, height, width]`)
    /// returned as rows of `kernel`'s product, `[outputs][in_per_group * height * width]`.
    ///
    /// # Errors
    ///
    /// As [`Reader::parts`], the weight's expected shape the convolution's.
    pub fn conv2d_parts(
        &mut self,
        layer: &'static str,
        prefix: &str,
        outputs: usize,
        kernel: [usize; 3],
    ) -> Result<Parts, Error> {
        self.parts_shaped(
            layer,
            prefix,
            &[outputs, kernel[0], kernel[1], kernel[2]],
            outputs,
        )
    }

    /// Reads the 2-D convolution under `prefix` into `into`.
    ///
    /// # Errors
    ///
    /// As [`Reader::conv2d_parts`].
    pub fn conv2d<
        const OUT: usize,
        const IN_PER_GROUP: usize,
        const KH: usize,
        const KW: usize,
        const PATCH: usize,
        const G: usize,
    >(
        &mut self,
        layer: &'static str,
        prefix: &str,
        into: &mut QuantizedConv2d<OUT, IN_PER_GROUP, KH, KW, PATCH, G>,
    ) -> Result<(), Error> {
        let parts = self.conv2d_parts(layer, prefix, OUT, [IN_PER_GROUP, KH, KW])?;
        into.assign(
            &parts.weights,
            &parts.weight_scales,
            &parts.bias,
            parts.input,
            parts.output,
        )
    }

    /// The parts of a 1-D convolution of `outputs` channels under `prefix`, its weight of
    /// shape `[outputs, kernel[0], kernel[1]]` (`[in_per_group, taps]`), as
    /// [`Reader::conv2d_parts`].
    ///
    /// # Errors
    ///
    /// As [`Reader::parts`], the weight's expected shape the convolution's.
    pub fn conv1d_parts(
        &mut self,
        layer: &'static str,
        prefix: &str,
        outputs: usize,
        kernel: [usize; 2],
    ) -> Result<Parts, Error> {
        self.parts_shaped(layer, prefix, &[outputs, kernel[0], kernel[1]], outputs)
    }

    /// Reads the 1-D convolution under `prefix` into `into`.
    ///
    /// # Errors
    ///
    /// As [`Reader::conv1d_parts`].
    pub fn conv1d<
        const OUT: usize,
        const IN_PER_GROUP: usize,
        const K: usize,
        const PATCH: usize,
        const G: usize,
    >(
        &mut self,
        layer: &'static str,
        prefix: &str,
        into: &mut QuantizedConv1d<OUT, IN_PER_GROUP, K, PATCH, G>,
    ) -> Result<(), Error> {
        let parts = self.conv1d_parts(layer, prefix, OUT, [IN_PER_GROUP, K])?;
        into.assign(
            &parts.weights,
            &parts.weight_scales,
            &parts.bias,
            parts.input,
            parts.output,
        )
    }

    /// Checks that every tensor of the file was read.
    ///
    /// # Errors
    ///
    /// [`Error::UnexpectedTensor`] for the first (by name) that was not.
    pub fn finish(self) -> Result<(), Error> {
        let unused = self.tensors.iter().zip(&self.taken).filter(|(_, t)| !**t);
        match unused.min_by(|a, b| a.0.name.cmp(&b.0.name)) {
            Some((extra, _)) => Err(Error::UnexpectedTensor {
                tensor: extra.name.clone(),
                layers: self.layers,
            }),
            None => Ok(()),
        }
    }
}

/// Refuses scales whose multipliers for some neuron overflow or underflow `f32`
/// ([`multipliers_ok`]), naming the weight scale, or the input or output scale when that one is
/// subnormal: calibration never makes a subnormal scale, and most weight scales fail with it.
fn check_multipliers(
    layer: &'static str,
    prefix: &str,
    weight_scales: &[f32],
    input: Quantization,
    output: Quantization,
) -> Result<(), Error> {
    let Some(at) = weight_scales
        .iter()
        .position(|&w| !multipliers_ok(input.scale, w, output.scale))
    else {
        return Ok(());
    };
    let (input_scale, weight, output_scale) = (input.scale, weight_scales[at], output.scale);
    let (tensor, problem) = if !input_scale.is_normal() || !output_scale.is_normal() {
        let (tensor, scale) = if input_scale.is_normal() {
            ("output_scale", output_scale)
        } else {
            ("input_scale", input_scale)
        };
        (
            tensor,
            format!(
                "holds {scale:e}, below the smallest normal f32: the weight scale {weight:e} at \
                 index {at} times the input scale {input_scale:e} (and over the output scale \
                 {output_scale:e})"
            ),
        )
    } else {
        (
            "weight_scale",
            format!(
                "holds {weight:e} at index {at}: times the input scale {input_scale:e} (and \
                 over the output scale {output_scale:e})"
            ),
        )
    };
    Err(Error::QuantizedValue {
        layer,
        tensor: format!("{prefix}.{tensor}"),
        problem: format!(
            "{problem} it overflows or underflows f32, which would make every output of the \
             neuron NaN or constant"
        ),
    })
}

/// Checks that `scale`, the value of `tensor` (at index `at` of it, if given), is positive and
/// finite.
fn check_scale(
    layer: &'static str,
    tensor: &str,
    scale: f32,
    at: Option<usize>,
) -> Result<(), Error> {
    if scale > 0.0 && scale.is_finite() {
        return Ok(());
    }
    let at = at.map_or_else(String::new, |at| format!(" at index {at}"));
    Err(Error::QuantizedValue {
        layer,
        tensor: tensor.into(),
        problem: format!("holds {scale}{at}, expected a positive, finite scale"),
    })
}

fn dtype_name(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::I8 => "I8",
        Dtype::U8 => "U8",
        Dtype::I32 => "I32",
        _ => "F32",
    }
}

/// A quantised file being written, layer by layer.
#[derive(Default)]
pub struct Writer {
    /// Name, dtype, shape and little-endian bytes of each tensor.
    tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
}

impl Writer {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the tensors of `layer` under `prefix`.
    pub fn layer<const IN: usize, const OUT: usize, const G: usize>(
        &mut self,
        prefix: &str,
        layer: &QuantizedDense<IN, OUT, G>,
    ) {
        let mut add = |name: &str, dtype, shape: &[usize], bytes: Vec<u8>| {
            self.tensors
                .push((format!("{prefix}.{name}"), dtype, shape.to_vec(), bytes));
        };
        let weights = (0..OUT)
            .flat_map(|o| (0..IN).map(move |i| layer.weight(o, i).cast_unsigned()))
            .collect();
        add("weight", Dtype::I8, &[OUT, IN], weights);
        let scales = layer.weight_scales().iter().flat_map(|s| s.to_le_bytes());
        add("weight_scale", Dtype::F32, &[OUT], scales.collect());
        let bias = layer.bias().iter().flat_map(|b| b.to_le_bytes());
        add("bias", Dtype::I32, &[OUT], bias.collect());
        for (side, q) in [("input", layer.input()), ("output", layer.output())] {
            add(
                &format!("{side}_scale"),
                Dtype::F32,
                &[],
                q.scale.to_le_bytes().to_vec(),
            );
            add(
                &format!("{side}_zero_point"),
                Dtype::U8,
                &[],
                alloc::vec![q.zero_point],
            );
        }
    }

    /// Adds the tensors of the 2-D convolution `layer` under `prefix`: those of its dense
    /// layer, the weight of shape `[OUT, IN_PER_GROUP, KH, KW]`.
    pub fn conv2d<
        const OUT: usize,
        const IN_PER_GROUP: usize,
        const KH: usize,
        const KW: usize,
        const PATCH: usize,
        const G: usize,
    >(
        &mut self,
        prefix: &str,
        layer: &QuantizedConv2d<OUT, IN_PER_GROUP, KH, KW, PATCH, G>,
    ) {
        self.shaped(prefix, layer.dense(), &[OUT, IN_PER_GROUP, KH, KW]);
    }

    /// Adds the tensors of the 1-D convolution `layer` under `prefix`: those of its dense
    /// layer, the weight of shape `[OUT, IN_PER_GROUP, K]`.
    pub fn conv1d<
        const OUT: usize,
        const IN_PER_GROUP: usize,
        const K: usize,
        const PATCH: usize,
        const G: usize,
    >(
        &mut self,
        prefix: &str,
        layer: &QuantizedConv1d<OUT, IN_PER_GROUP, K, PATCH, G>,
    ) {
        self.shaped(prefix, layer.dense(), &[OUT, IN_PER_GROUP, K]);
    }

    /// The tensors of `dense` under `prefix`, its weight of shape `shape`.
    fn shaped<const IN: usize, const OUT: usize, const G: usize>(
        &mut self,
        prefix: &str,
        dense: &QuantizedDense<IN, OUT, G>,
        shape: &[usize],
    ) {
        let first = self.tensors.len();
        self.layer(prefix, dense);
        let weight = format!("{prefix}.weight");
        for (name, _, tensor_shape, _) in &mut self.tensors[first..] {
            if *name == weight {
                *tensor_shape = shape.to_vec();
            }
        }
    }

    /// The file's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        // The reference writer's order: dtypes in reverse of their declaration, then names.
        self.tensors
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut header = String::from(r#"{"__metadata__":{"format":"nn-int8"}"#);
        let mut offset = 0;
        for (name, dtype, shape, bytes) in &self.tensors {
            let end = offset + bytes.len();
            let shape: Vec<String> = shape.iter().map(ToString::to_string).collect();
            let _ = write!(
                header,
                r#",{}:{{"dtype":"{}","shape":[{}],"data_offsets":[{offset},{end}]}}"#,
                json_string(name),
                dtype_name(*dtype),
                shape.join(","),
            );
            offset = end;
        }
        header.push('}');
        while header.len() % 8 != 0 {
            header.push(' ');
        }
        let mut bytes = Vec::with_capacity(8 + header.len() + offset);
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for (_, _, _, data) in &self.tensors {
            bytes.extend_from_slice(data);
        }
        bytes
    }
}
