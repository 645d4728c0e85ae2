//! The int8 fully connected layer.

use super::kernel;
use super::{Clamp, Quantization, WeightRange, requantize_step, round_even};
use crate::zeroed::ZeroInit;
use crate::{Dense, Error};

/// An int8 fully connected layer: `OUT` neurons reading `IN` `u8` inputs, with `i8` weights,
/// one scale per neuron, `i32` biases and the quantisation of its input and output (the scheme
/// of the [module](super)).
///
/// `GROUPS` is `IN.div_ceil(4)` (stable Rust cannot compute it in a type; generated code writes
/// it out): the weights are stored by groups of four inputs, `[GROUPS][OUT][4]`, the operand
/// layout of the 4-way `u8 x i8` dot product of VNNI (`vpdpbusd`), so that one broadcast of four
/// inputs and one load of weights feed 16 neurons at once; the last group is padded with zero
/// weights.
#[derive(Clone, PartialEq)]
#[repr(C, align(64))]
pub struct QuantizedDense<const IN: usize, const OUT: usize, const GROUPS: usize> {
    /// `weights[g][o][k]` is the weight from input `4 g + k` to neuron `o`; 0 past `IN`.
    weights: [[[i8; 4]; OUT]; GROUPS],
    /// What the kernels start each neuron's sum from: `bias[o] - input.zero_point * sum_i
    /// W[o][i]`, so that they multiply the inputs' steps as they are.
    offsets: [i32; OUT],
    /// The biases, in units of `input.scale * weight_scales[o]`.
    bias: [i32; OUT],
    /// One scale per neuron.
    weight_scales: [f32; OUT],
    /// `input.scale * weight_scales[o]`: an accumulator's real value per unit.
    dequantize: [f32; OUT],
    /// `input.scale * weight_scales[o] / output.scale`: an accumulator's output steps per unit.
    requantize: [f32; OUT],
    input: Quantization,
    output: Quantization,
    /// Whether `vpmaddubsw` is exact on `weights` (`kernel::maddubs_exact`), so that the AVX2
    /// level may use it; set with the weights.
    maddubs_exact: bool,
}

// SAFETY: integers and floats, for which all-zero bytes are 0, `Quantization`s (an `f32` and a
// `u8`), and a `bool`, for which they are `false`.
#[allow(unsafe_code)]
unsafe impl<const IN: usize, const OUT: usize, const GROUPS: usize> ZeroInit
    for QuantizedDense<IN, OUT, GROUPS>
{
}

impl<const IN: usize, const OUT: usize, const GROUPS: usize> QuantizedDense<IN, OUT, GROUPS> {
    const VALID: () = assert!(
        IN > 0 && IN <= 65_536 && OUT > 0 && GROUPS == IN.div_ceil(4),
        "a QuantizedDense layer needs inputs (at most 65,536, so that its i32 sums cannot \
         overflow) and outputs, and GROUPS = IN.div_ceil(4)"
    );

    /// Number of inputs of each neuron.
    pub const INPUTS: usize = IN;
    /// Number of neurons.
    pub const OUTPUTS: usize = OUT;
    /// Weights plus biases.
    pub const PARAMETERS: usize = IN * OUT + OUT;

    /// A layer from its quantised parts: weights in PyTorch's layout, `[OUT][IN]`, one scale per
    /// neuron, biases in units of `input.scale * weight_scales[o]`, and the quantisation of the
    /// input and the output. `const`, for baked networks.
    ///
    /// # Panics
    ///
    /// When the parts break the scheme, as [`QuantizedDense::assign`] says (in a `const` or
    /// `static`, a compile error): a weight of -128, a scale that is not positive and finite, a
    /// bias that leaves the `i32` sums no room.
    pub const fn from_parts(
        rows: &[[i8; IN]; OUT],
        weight_scales: [f32; OUT],
        bias: [i32; OUT],
        input: Quantization,
        output: Quantization,
    ) -> Self {
        let () = Self::VALID;
        if let Some(problem) = parts_problem(
            rows.as_flattened(),
            &weight_scales,
            &bias,
            IN,
            input,
            output,
        ) {
            panic!("{}", problem);
        }
        let mut weights = [[[0; 4]; OUT]; GROUPS];
        let mut offsets = bias;
        let mut dequantize = [0.0; OUT];
        let mut requantize = [0.0; OUT];
        let mut o = 0;
        while o < OUT {
            let mut sum = 0_i32;
            let mut i = 0;
            while i < IN {
                weights[i / 4][o][i % 4] = rows[o][i];
                sum += rows[o][i] as i32;
                i += 1;
            }
            offsets[o] = offsets[o].wrapping_sub((input.zero_point as i32).wrapping_mul(sum));
            dequantize[o] = input.scale * weight_scales[o];
            requantize[o] = dequantize[o] / output.scale;
            o += 1;
        }
        Self {
            weights,
            offsets,
            bias,
            weight_scales,
            dequantize,
            requantize,
            input,
            output,
            maddubs_exact: kernel::maddubs_exact(&weights),
        }
    }

    /// Quantises `dense` into `self`, in place (a layer can be larger than a stack): weights
    /// symmetric per neuron, biases in the accumulator's units, for an input quantised with
    /// `input` and an output with `output`.
    pub fn quantize_from(
        &mut self,
        dense: &Dense<IN, OUT, f32>,
        input: Quantization,
        output: Quantization,
    ) {
        self.quantize_from_with(dense, input, output, WeightRange::Int8);
    }

    /// [`QuantizedDense::quantize_from`] with the weights in `range`.
    #[allow(clippy::cast_possible_truncation)]
    pub fn quantize_from_with(
        &mut self,
        dense: &Dense<IN, OUT, f32>,
        input: Quantization,
        output: Quantization,
        range: WeightRange,
    ) {
        let () = Self::VALID;
        let columns = dense.columns();
        let steps = f32::from(range.largest());
        for o in 0..OUT {
            let largest = columns.iter().fold(0.0_f32, |m, c| m.max(c[o].abs()));
            let scale = weight_scale(largest, dense.bias()[o], input.scale, IN, steps);
            let mut sum = 0_i32;
            for (i, column) in columns.iter().enumerate() {
                // In -steps..=steps: |w| <= largest. NaN becomes 0 (`as` saturates).
                let q = round_even(column[o] / scale).clamp(-steps, steps) as i8;
                self.weights[i / 4][o][i % 4] = q;
                sum += i32::from(q);
            }
            for i in IN..GROUPS * 4 {
                self.weights[i / 4][o][i % 4] = 0;
            }
            self.weight_scales[o] = scale;
            self.dequantize[o] = input.scale * scale;
            self.requantize[o] = self.dequantize[o] / output.scale;
            self.bias[o] = bias_steps(dense.bias()[o], self.dequantize[o], IN);
            self.offsets[o] = self.bias[o].wrapping_sub(i32::from(input.zero_point) * sum);
        }
        self.input = input;
        self.output = output;
        self.maddubs_exact = kernel::maddubs_exact(&self.weights);
    }

    /// [`QuantizedDense::quantize_from`] from `f32` weights in PyTorch's layout, `rows` being
    /// `[OUT][IN]` row-major, and `OUT` biases: the same computation (bit for bit) for layers
    /// whose weights are not a [`Dense`], such as a convolution's flattened kernels.
    ///
    /// # Panics
    ///
    /// When `rows` does not hold `IN * OUT` values or `bias` `OUT`.
    pub fn quantize_rows(
        &mut self,
        rows: &[f32],
        bias: &[f32],
        input: Quantization,
        output: Quantization,
    ) {
        self.quantize_rows_with(rows, bias, input, output, WeightRange::Int8);
    }

    /// [`QuantizedDense::quantize_rows`] with the weights in `range`.
    ///
    /// # Panics
    ///
    /// As [`QuantizedDense::quantize_rows`].
    #[allow(clippy::cast_possible_truncation)]
    pub fn quantize_rows_with(
        &mut self,
        rows: &[f32],
        bias: &[f32],
        input: Quantization,
        output: Quantization,
        range: WeightRange,
    ) {
        let () = Self::VALID;
        let steps = f32::from(range.largest());
        assert_eq!(
            rows.len(),
            IN * OUT,
            "quantize_rows needs [{OUT}][{IN}] weights"
        );
        assert_eq!(bias.len(), OUT, "quantize_rows needs {OUT} biases");
        for (o, row) in rows.chunks_exact(IN).enumerate() {
            // The maximum does not depend on the order of the values: `quantize_from`'s.
            let largest = row.iter().fold(0.0_f32, |m, w| m.max(w.abs()));
            let scale = weight_scale(largest, bias[o], input.scale, IN, steps);
            let mut sum = 0_i32;
            for (i, w) in row.iter().enumerate() {
                // In -steps..=steps: |w| <= largest. NaN becomes 0 (`as` saturates).
                let q = round_even(w / scale).clamp(-steps, steps) as i8;
                self.weights[i / 4][o][i % 4] = q;
                sum += i32::from(q);
            }
            for i in IN..GROUPS * 4 {
                self.weights[i / 4][o][i % 4] = 0;
            }
            self.weight_scales[o] = scale;
            self.dequantize[o] = input.scale * scale;
            self.requantize[o] = self.dequantize[o] / output.scale;
            self.bias[o] = bias_steps(bias[o], self.dequantize[o], IN);
            self.offsets[o] = self.bias[o].wrapping_sub(i32::from(input.zero_point) * sum);
        }
        self.input = input;
        self.output = output;
        self.maddubs_exact = kernel::maddubs_exact(&self.weights);
    }

    /// Sets the layer from its quantised parts, as [`QuantizedDense::from_parts`] but in place
    /// and from slices: `rows` is `[OUT][IN]` row-major, with `OUT` scales and `OUT` biases.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParts`] (the layer unchanged) when the slices have other lengths, or the
    /// parts break the scheme: a weight of -128 (weights are symmetric, `-127..=127`), a scale
    /// that is not positive and finite (or scales whose products overflow or underflow `f32`),
    /// or a bias beyond `±(2^31 - 1 - IN * 255 * 127)`, which
    /// would let the `i32` sums overflow. `quant::file::Reader` (feature `safetensors`) checks
    /// the same and names the tensor and the index.
    pub fn assign(
        &mut self,
        rows: &[i8],
        weight_scales: &[f32],
        bias: &[i32],
        input: Quantization,
        output: Quantization,
    ) -> Result<(), Error> {
        let problem = if rows.len() != IN * OUT {
            Some("the weights are not `[outputs][inputs]`")
        } else if weight_scales.len() != OUT {
            Some("not one weight scale per output")
        } else if bias.len() != OUT {
            Some("not one bias per output")
        } else {
            parts_problem(rows, weight_scales, bias, IN, input, output)
        };
        if let Some(problem) = problem {
            return Err(Error::InvalidParts { problem });
        }
        for (o, row) in rows.chunks_exact(IN).enumerate() {
            for (i, &w) in row.iter().enumerate() {
                self.weights[i / 4][o][i % 4] = w;
            }
            for i in IN..GROUPS * 4 {
                self.weights[i / 4][o][i % 4] = 0;
            }
        }
        self.bias.copy_from_slice(bias);
        self.weight_scales.copy_from_slice(weight_scales);
        for o in 0..OUT {
            let sum: i32 = self
                .weights
                .iter()
                .map(|g| g[o].iter().map(|&w| i32::from(w)).sum::<i32>())
                .sum();
            self.offsets[o] = self.bias[o].wrapping_sub(i32::from(input.zero_point) * sum);
            self.dequantize[o] = input.scale * self.weight_scales[o];
            self.requantize[o] = self.dequantize[o] / output.scale;
        }
        self.input = input;
        self.output = output;
        self.maddubs_exact = kernel::maddubs_exact(&self.weights);
        Ok(())
    }

    /// Whether `vpmaddubsw` is exact on the weights, so that the `Avx2` level runs it (see
    /// [`WeightRange::Int7`]). For tests.
    #[doc(hidden)]
    pub fn maddubs_exact(&self) -> bool {
        self.maddubs_exact
    }

    /// The quantised weight from input `input` to neuron `neuron`.
    ///
    /// # Panics
    ///
    /// When `neuron >= OUT` or `input >= IN`, like indexing an array.
    pub fn weight(&self, neuron: usize, input: usize) -> i8 {
        assert!(input < IN, "input {input} of {IN}");
        self.weights[input / 4][neuron][input % 4]
    }

    /// One scale per neuron.
    pub fn weight_scales(&self) -> &[f32; OUT] {
        &self.weight_scales
    }

    /// The biases, in units of `input().scale * weight_scales()[o]`.
    pub fn bias(&self) -> &[i32; OUT] {
        &self.bias
    }

    /// What the kernels read: the weights in their layout (`[groups of 4 inputs][OUT][4]`), what
    /// each neuron's sum starts from, and whether `vpmaddubsw` is exact on the weights.
    pub(crate) fn packed(&self) -> kernel::Packed<'_, OUT, GROUPS> {
        kernel::Packed {
            weights: &self.weights,
            offsets: &self.offsets,
            maddubs_exact: self.maddubs_exact,
        }
    }

    /// Each neuron's requantisation multiplier, `input.scale * weight_scales[o] /
    /// output.scale`.
    pub(crate) fn multipliers(&self) -> &[f32; OUT] {
        &self.requantize
    }

    /// The quantisation of the input.
    pub fn input(&self) -> Quantization {
        self.input
    }

    /// The quantisation of the output.
    pub fn output(&self) -> Quantization {
        self.output
    }

    /// Each neuron's exact sum, `sum (x - input.zero_point) * w + bias`.
    #[inline]
    pub fn accumulate(&self, x: &[u8; IN]) -> [i32; OUT] {
        let () = Self::VALID;
        kernel::accumulate(self.packed(), x)
    }

    /// [`QuantizedDense::accumulate`] for each input row into the matching row of `sums`, each
    /// weight loaded once for several rows.
    ///
    /// # Panics
    ///
    /// When `sums` does not have one row per input.
    #[inline]
    pub fn accumulate_batch(&self, inputs: &[[u8; IN]], sums: &mut [[i32; OUT]]) {
        let () = Self::VALID;
        assert_eq!(inputs.len(), sums.len(), "one row of sums per input row");
        kernel::accumulate_batch(self.packed(), inputs, sums);
    }

    /// [`QuantizedDense::accumulate_batch`] of only the neurons `neurons`, in plain Rust (the
    /// same exact sums; other neurons' sums stay as they were): a grouped convolution's one
    /// group, whose patch the other groups' output channels do not read.
    #[inline]
    pub(crate) fn accumulate_neurons(
        &self,
        neurons: core::ops::Range<usize>,
        inputs: &[[u8; IN]],
        sums: &mut [[i32; OUT]],
    ) {
        for (x, sums) in inputs.iter().zip(sums) {
            for o in neurons.clone() {
                let mut sum = self.offsets[o];
                for (fours, inputs) in self.weights.iter().zip(x.chunks(4)) {
                    for (w, x) in fours[o].iter().zip(inputs) {
                        sum = sum.wrapping_add(i32::from(*w) * i32::from(*x));
                    }
                }
                sums[o] = sum;
            }
        }
    }

    /// [`QuantizedDense::accumulate`] with the kernel of `level`, or `None` if this CPU lacks
    /// it. For tests and benchmarks that compare the kernels.
    #[doc(hidden)]
    pub fn accumulate_at(&self, level: kernel::QuantLevel, x: &[u8; IN]) -> Option<[i32; OUT]> {
        kernel::accumulate_at(level, self.packed(), x)
    }

    /// [`QuantizedDense::accumulate_batch`] with the kernel of `level`; `false` (and nothing
    /// written) if this CPU lacks it.
    #[doc(hidden)]
    pub fn accumulate_batch_at(
        &self,
        level: kernel::QuantLevel,
        inputs: &[[u8; IN]],
        sums: &mut [[i32; OUT]],
    ) -> bool {
        kernel::accumulate_batch_at(level, self.packed(), inputs, sums)
    }

    /// The output's steps: `saturate(round(sum * m[o]) + output.zero_point)` within `clamp`.
    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn requantize(&self, sums: &[i32; OUT], clamp: Clamp) -> [u8; OUT] {
        let mut steps = [0; OUT];
        self.requantize_batch(
            core::slice::from_ref(sums),
            core::slice::from_mut(&mut steps),
            clamp,
        );
        steps
    }

    /// [`QuantizedDense::requantize`] of each row of `sums` into the matching row of `steps`, in
    /// one pass compiled for the widest vectors this CPU has (the same operations at every
    /// level, so the same steps).
    ///
    /// # Panics
    ///
    /// When `steps` does not have one row per row of `sums`.
    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn requantize_batch(&self, sums: &[[i32; OUT]], steps: &mut [[u8; OUT]], clamp: Clamp) {
        assert_eq!(sums.len(), steps.len(), "one row of steps per row of sums");
        if kernel::quantize::requantize_rows(
            sums.as_flattened(),
            &self.requantize,
            self.output.zero_point,
            clamp,
            steps.as_flattened_mut(),
        ) {
            return;
        }
        let zero = f32::from(self.output.zero_point);
        let (low, high) = (f32::from(clamp.low), f32::from(clamp.high));
        crate::kernel::with_widest(
            #[inline(always)]
            || {
                for (steps, sums) in steps.iter_mut().zip(sums) {
                    for ((step, sum), multiplier) in
                        steps.iter_mut().zip(sums).zip(&self.requantize)
                    {
                        *step = requantize_step(*sum, *multiplier, zero, low, high);
                    }
                }
            },
        );
    }

    /// The real values of the sums: `sum * input.scale * weight_scales[o]`.
    #[inline]
    #[allow(clippy::cast_precision_loss)]
    pub fn dequantize(&self, sums: &[i32; OUT]) -> [f32; OUT] {
        let mut real = [0.0; OUT];
        for ((real, sum), scale) in real.iter_mut().zip(sums).zip(&self.dequantize) {
            *real = *sum as f32 * scale;
        }
        real
    }

    /// The layer with requantisation: [`QuantizedDense::accumulate`] then
    /// [`QuantizedDense::requantize`].
    #[inline]
    pub fn forward(&self, x: &[u8; IN], clamp: Clamp) -> [u8; OUT] {
        self.requantize(&self.accumulate(x), clamp)
    }
}

impl<const IN: usize, const OUT: usize, const GROUPS: usize> core::fmt::Debug
    for QuantizedDense<IN, OUT, GROUPS>
{
    /// Shapes and quantisation only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "QuantizedDense<{IN}, {OUT}> {{ input: {:?}, output: {:?} }}",
            self.input, self.output
        )
    }
}

/// The first way in which a layer's parts (`rows` of `inputs` weights each) break the scheme:
/// a weight of -128, a scale that is not positive and finite, or a bias beyond
/// [`bias_room`]. `const`, so that [`QuantizedDense::from_parts`] refuses them at compile time.
const fn parts_problem(
    rows: &[i8],
    weight_scales: &[f32],
    bias: &[i32],
    inputs: usize,
    input: Quantization,
    output: Quantization,
) -> Option<&'static str> {
    const fn scale_ok(scale: f32) -> bool {
        scale > 0.0 && scale.is_finite()
    }
    if !scale_ok(input.scale) {
        return Some("the input scale is not positive and finite");
    }
    if !scale_ok(output.scale) {
        return Some("the output scale is not positive and finite");
    }
    let mut i = 0;
    while i < rows.len() {
        if rows[i] == i8::MIN {
            return Some("a weight is -128; symmetric weights are -127..=127");
        }
        i += 1;
    }
    let mut o = 0;
    while o < weight_scales.len() {
        if !scale_ok(weight_scales[o]) {
            return Some("a weight scale is not positive and finite");
        }
        if !multipliers_ok(input.scale, weight_scales[o], output.scale) {
            return Some(
                "input scale * weight scale (/ output scale) is 0 or infinite in f32: the \
                 requantisation would lose every value",
            );
        }
        o += 1;
    }
    let room = bias_room(inputs);
    let mut o = 0;
    while o < bias.len() {
        if (bias[o] as i64).abs() > room {
            return Some(
                "a bias is beyond ±(2^31 - 1 - inputs * 255 * 127): the i32 sums could overflow",
            );
        }
        o += 1;
    }
    None
}

/// Whether a neuron's `input_scale * weight_scale` (which dequantises its sums) and that over
/// `output_scale` (which requantises them), each computed as the layer computes it, are
/// positive and finite `f32`s: scales each positive and finite can still overflow or
/// underflow them, and the outputs would then be NaN or constant.
pub(crate) const fn multipliers_ok(input_scale: f32, weight_scale: f32, output_scale: f32) -> bool {
    let dequantize = input_scale * weight_scale;
    let requantize = dequantize / output_scale;
    dequantize > 0.0 && dequantize.is_finite() && requantize > 0.0 && requantize.is_finite()
}

/// The largest bias, in steps, that a layer of `inputs` inputs accepts: what an `i32` holds
/// beyond the largest sum of products, `inputs * 255 * 127` (a step's distance from the zero
/// point times a weight), so that no sum overflows (negative for more than 66,311 inputs; a
/// layer reads at most 65,536).
#[must_use]
#[allow(clippy::cast_possible_wrap)] // a layer's inputs, far below 2^63
pub(crate) const fn bias_room(inputs: usize) -> i64 {
    i32::MAX as i64 - inputs as i64 * 255 * 127
}

/// A neuron's weight scale: its largest weight's magnitude over `steps` (127, or 64 for
/// [`WeightRange::Int7`]; at least the smallest
/// normal `f32`, so that a quotient that underflowed to 0 does not turn every weight into ±127;
/// 1 for a neuron of zero weights), or larger where that would make its bias, in steps of
/// `input_scale * scale`, exceed [`bias_room`]: then `|bias| / (input_scale * room)`, rounded up
/// until the bias's steps fit. A neuron whose weights are tiny beside its bias (weights decayed
/// to 1e-7, a bias of 2) keeps its bias, and its weights round to fewer steps; saturating the
/// bias instead let the sums wrap (onnxruntime's quantiser enlarges the weight scale likewise).
/// A bias of 0 or not finite, or an input scale not positive and finite, keeps the first scale
/// ([`bias_steps`] clamps such a bias, and one that no scale could hold). Where the input scale
/// is a normal `f32`, the scale is also at least the smallest normal over it, so that their
/// product, which dequantises the sums, does not underflow (a layer whose weights decayed to
/// 1e-37 behind tiny inputs would otherwise requantise every sum to its zero point, and its
/// file would not load back).
#[allow(clippy::cast_precision_loss)]
fn weight_scale(largest: f32, bias: f32, input_scale: f32, inputs: usize, steps: f32) -> f32 {
    let mut scale = if largest > 0.0 && largest.is_finite() {
        (largest / steps).max(f32::MIN_POSITIVE)
    } else {
        1.0
    };
    if input_scale.is_normal() && input_scale > 0.0 {
        let floor = f32::MIN_POSITIVE / input_scale;
        if floor.is_finite() {
            scale = scale.max(floor);
        }
    }
    // Rounded down to an `f32`: below 2^31, so that the steps convert exactly.
    let room = bias_room(inputs) as f32 * (1.0 - f32::EPSILON);
    let usable = bias.is_finite()
        && bias != 0.0
        && room > 0.0
        && input_scale > 0.0
        && input_scale.is_finite();
    if !usable {
        return scale;
    }
    // Infinite steps (a product that underflowed to 0) do not fit.
    let fits = |scale: f32| round_even(bias / (input_scale * scale)).abs() <= room;
    if !fits(scale) {
        scale = (bias.abs() / (input_scale * room)).max(scale);
        // Each round grows the scale by at least one unit in the last place; the first
        // quotient is within a few of fitting.
        for _ in 0..64 {
            if fits(scale) {
                break;
            }
            scale = (scale * (1.0 + 4.0 * f32::EPSILON)).max(scale.next_up());
        }
        // A bias no finite product can hold (1e30 behind an input scale of 1e-30) is clamped
        // by `bias_steps` instead: the scale stays one whose product with the input scale is
        // finite.
        scale = scale.min(f32::MAX / input_scale.max(1.0));
    }
    scale
}

/// `bias` in steps of `dequantize`, rounded half to even and clamped to `±bias_room(inputs)`:
/// what [`weight_scale`] makes fit, and an infinite bias saturated where the sums cannot wrap;
/// NaN becomes 0.
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn bias_steps(bias: f32, dequantize: f32, inputs: usize) -> i32 {
    let room = bias_room(inputs).clamp(0, i64::from(i32::MAX)) as f32 * (1.0 - f32::EPSILON);
    round_even(bias / dequantize).clamp(-room, room) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every neuron's scale terminates, and its bias in steps stays within the room, for
    /// weights that underflow, biases of 0, NaN and infinity, and input scales that are not
    /// positive and finite.
    #[test]
    fn weight_scales_and_biases_stay_within_the_sums_room() {
        let room = bias_room(25);
        for largest in [0.0, 1e-44, 1e-30, 1e-7, 1.0, f32::INFINITY, f32::NAN] {
            for bias in [
                0.0,
                6e-39,
                2.0,
                -3e9,
                1e30,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::NAN,
            ] {
                for input_scale in [1.0 / 255.0, 1e-30, 0.0, f32::NAN, f32::INFINITY] {
                    let scale = weight_scale(largest, bias, input_scale, 25, 127.0);
                    assert!(scale > 0.0, "{largest} {bias} {input_scale}: {scale}");
                    let steps = bias_steps(bias, input_scale * scale, 25);
                    assert!(
                        i64::from(steps).abs() <= room,
                        "{largest} {bias} {input_scale}"
                    );
                    // A finite bias keeps its value, where the input scale is usable.
                    let usable = input_scale.is_finite() && input_scale > 1e-3;
                    if bias.is_finite() && usable && largest.is_finite() {
                        let kept = f64::from(steps) * f64::from(input_scale * scale);
                        let error = (kept - f64::from(bias)).abs();
                        assert!(
                            error
                                <= f64::from(input_scale * scale) * 0.5
                                    + 1e-6 * f64::from(bias.abs()),
                            "{largest} {bias}: {kept}"
                        );
                    }
                    // The sums' dequantisation does not underflow where the input scale is a
                    // normal number (with an output scale of 1, requantising does not either).
                    if input_scale.is_normal() {
                        assert!(
                            multipliers_ok(input_scale, scale, 1.0),
                            "{largest} {bias} {input_scale}: {scale}"
                        );
                    }
                }
            }
        }
    }

    /// Calibrated from decayed weights behind tiny inputs, a layer still requantises with
    /// multipliers that are numbers, and its parts are valid ones (its file loads back).
    #[test]
    fn tiny_weights_behind_tiny_inputs_keep_their_multipliers() {
        let dense = Dense::<3, 2, f32>::from_columns([[1e-37, -2e-37]; 3], [0.0, 1e-30]);
        let (input, output) = (Quantization::new(1e-9, 0), Quantization::new(1e-3, 128));
        let mut layer =
            QuantizedDense::<3, 2, 1>::from_parts(&[[0; 3]; 2], [1.0; 2], [0; 2], input, output);
        layer.quantize_from(&dense, input, output);
        for &scale in layer.weight_scales() {
            assert!(multipliers_ok(input.scale, scale, output.scale), "{scale}");
        }
        let rows: Vec<i8> = (0..2)
            .flat_map(|o| (0..3).map(move |i| (o, i)))
            .map(|(o, i)| layer.weight(o, i))
            .collect();
        let (scales, bias) = (*layer.weight_scales(), *layer.bias());
        layer
            .assign(&rows, &scales, &bias, input, output)
            .expect("valid parts");
    }
    use std::vec::Vec;

    /// The scheme of the module docs, written out with `i64` sums.
    fn reference(
        rows: &[[i8; 5]; 3],
        bias: &[i32; 3],
        input: Quantization,
        x: [u8; 5],
    ) -> Vec<i32> {
        rows.iter()
            .zip(bias)
            .map(|(row, b)| {
                let sum: i64 = row
                    .iter()
                    .zip(x)
                    .map(|(w, x)| i64::from(*w) * (i64::from(x) - i64::from(input.zero_point)))
                    .sum();
                i32::try_from(sum + i64::from(*b)).unwrap()
            })
            .collect()
    }

    #[test]
    fn sums_subtract_the_input_zero_point() {
        let rows = [[1, -2, 3, -4, 127], [-127, 0, 5, 9, 1], [0, 0, 0, 0, 0]];
        let input = Quantization::new(0.1, 7);
        let layer = QuantizedDense::<5, 3, 2>::from_parts(
            &rows,
            [0.5, 0.25, 1.0],
            [10, -20, 3],
            input,
            Quantization::new(0.2, 3),
        );
        for x in [[0_u8, 255, 7, 100, 1], [255; 5], [0; 5]] {
            assert_eq!(
                layer.accumulate(&x).to_vec(),
                reference(&rows, &[10, -20, 3], input, x)
            );
        }
        assert_eq!(layer.weight(0, 4), 127);
    }

    #[test]
    fn quantizing_a_dense_layer_keeps_its_values() {
        let dense = Dense::<5, 2, f32>::from_parts(
            [[0.5, -1.0, 0.25, 0.0, 1.0], [0.1, 0.2, -0.3, 0.4, -0.5]],
            [0.3, -0.2],
        );
        let input = Quantization::from_range(-1.0, 1.0);
        let output = Quantization::from_range(-3.0, 3.0);
        let mut layer = crate::zeroed_box::<QuantizedDense<5, 2, 2>>();
        layer.quantize_from(&dense, input, output);
        assert_eq!(layer.weight(0, 4), 127);
        assert_eq!(layer.weight(1, 4), -127);
        let x = [0.2_f32, -0.4, 0.6, 0.8, -1.0];
        let expected = dense.forward(&x);
        let got = layer.dequantize(&layer.accumulate(&input.quantize_all(&x)));
        for (e, g) in expected.iter().zip(got) {
            assert!((e - g).abs() < 0.02, "{e} against {g}");
        }
        let steps = layer.requantize(&layer.accumulate(&input.quantize_all(&x)), Clamp::NONE);
        for (e, s) in expected.iter().zip(steps) {
            assert!(
                (e - output.dequantize(s)).abs() < 0.03,
                "{e} against step {s}"
            );
        }
        let relu = layer.requantize(&[-1_000_000, 0], Clamp::relu(output));
        assert_eq!(relu[0], output.zero_point);
    }
}
