//! Generated code names everything by absolute path, so a module that shadows the prelude
//! still compiles, without a warning; and layer names never collide with its locals.

#![deny(warnings)]

use ::nn::Network as _;

// Everything generated code could reach for unqualified.
struct Result;
struct Ok;
struct Err;
struct Option;
struct Some;
struct None;
struct Box;
struct Vec;
struct String;
mod core {}
mod nn {}
trait Network {}
trait Fn {}
impl Network for Vec {}
impl Fn for Vec {}
fn shadowing_traits<T: Network + Fn>(_: &T) {}
fn forward() {}
fn summary() {}

::nn::network! {
    /// Every activation, through the default loops.
    pub struct Loops = 3 -> 4 relu as input -> 4 leaky_relu(-0.1) as inputs -> 4 elu as outputs
        -> 4 sigmoid as layers -> 4 tanh as weights -> 4 silu as bias -> 4 gelu as found
        -> 4 softplus as net -> 4 linear as seed -> 2 softmax as f;

    /// Small enough for lints about small types (such as `unnecessary_box_returns`) to apply.
    pub struct Tiny = 1 -> 1;

    /// Fully unrolled, with layers named like the locals of the unrolled code.
    pub(crate) struct Unrolled = 2 -> 2 relu as x -> 2 leaky_relu(-0.5) as w -> 2 as b -> 1 log_softmax as output
        with unroll = full, scalar = f64;
}

#[test]
fn a_module_that_shadows_the_prelude_still_compiles() {
    let shadows = (Result, Ok, Err, Option, Some, None, Box, Vec, String);
    assert_eq!(size_of_val(&shadows), 0);
    forward();
    summary();
    shadowing_traits(&Vec);

    assert_eq!(Tiny::zeroed().forward(&[1.0]), [0.0]);
    let loops = Loops::random(1);
    let probabilities = loops.forward(&[0.5, -1.0, 2.0]);
    assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert_eq!(<Loops as ::nn::Network>::LAYERS.len(), 10);

    // Identity weights: the unrolled code must read `x`, not a layer called `w` or `b`.
    let mut unrolled = Unrolled::zeroed();
    unrolled.for_each_tensor_mut(|_, tensor, values| match tensor.shape {
        &[outputs, inputs] => {
            for o in 0..outputs {
                values[tensor.storage_index(o * inputs + o.min(inputs - 1))] = 1.0;
            }
        }
        _ => values.fill(0.5),
    });
    // x = relu([3, -1] + 0.5) = [3.5, 0]; w = leaky([4, 0.5]) = [4, 0.5]; b = [4.5, 1];
    // output = log_softmax([4.5 + 0.5]) = [0].
    let [output] = unrolled.forward(&[3.0, -1.0]);
    assert!(output.abs() < 1e-15, "{output}");
    let (x, w, b) = (&unrolled.x, &unrolled.w, &unrolled.b);
    assert_eq!(
        (x.weight(1, 1), w.weight(1, 1), b.weight(1, 1)),
        (1.0, 1.0, 1.0)
    );
}

/// A module that forbids `unsafe` (which no inner `allow` may lift) can still declare networks:
/// the one `unsafe impl` of generated code comes from the macro, where the lint does not apply.
/// Single-letter names are the generic parameters of the generated training methods.
#[forbid(unsafe_code)]
mod forbids_unsafe {
    ::nn::network! {
        pub struct L = 2 -> 3 relu -> 1 sigmoid;
        pub struct X = 2 -> 1;
        pub struct F = 2 -> 2 softmax;
    }

    #[test]
    fn networks_and_their_training_methods_work() {
        use ::nn::train::BinaryCrossEntropy;
        let net = L::random(1);
        let outcome = net.evaluate(&[0.5, -0.5], &[1.0], &BinaryCrossEntropy);
        assert!(outcome.loss.is_finite());
        assert_eq!(X::zeroed().forward(&[1.0, 2.0]), [0.0]);
        let [a, b] = F::random(2).forward(&[1.0, 2.0]);
        assert!((a + b - 1.0).abs() < 1e-6);
    }
}

::nn::network! {
    /// Layers named as the locals generated code invents (a chunk's `sample` and `row`, a
    /// layer's `enc_pre`), with an int8 twin, whose chunked `forward_batch` has its own.
    pub struct Clash = [1, 6, 6] -> conv2d(2, 3) relu as sample -> flatten as row -> 7 relu as enc
        -> 5 relu as enc_pre -> 3 as enc_delta with quantize = int8;

    /// Layers named as calibration's locals and parameters.
    pub struct Calibrated = 4 -> 6 relu as observer -> 5 relu as input -> 4 relu as quantized
        -> 3 relu as samples -> 2 as method with quantize = int8;
}

#[test]
fn layers_named_as_invented_locals_compute_as_others() {
    let net = Clash::random(3);
    let inputs: std::vec::Vec<[[[f32; 6]; 6]; 1]> =
        (0..5).map(|k| [[[(k as f32 * 0.3).sin(); 6]; 6]]).collect();
    let int8 = ClashInt8::calibrate(&net, &inputs, ::nn::quant::Calibration::MinMax)
        .unwrap_or_else(|_| panic!("calibrates"));
    let mut batch = [[0.0; 3]; 5];
    int8.forward_batch(&inputs, &mut batch)
        .unwrap_or_else(|_| panic!("one output per input"));
    for (input, row) in inputs.iter().zip(&batch) {
        assert_eq!(int8.forward(input), *row);
    }
    let net = Calibrated::random(4);
    let inputs = [[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 0.75]];
    let int8 = CalibratedInt8::calibrate(&net, &inputs, ::nn::quant::Calibration::MinMax)
        .unwrap_or_else(|_| panic!("calibrates"));
    let (wide, narrow) = (net.forward(&inputs[0]), int8.forward(&inputs[0]));
    assert!(wide.iter().zip(narrow).all(|(a, b)| (a - b).abs() < 0.1));
}
