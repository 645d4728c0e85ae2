//! A network of the new layer kinds written by hand as `network!` would generate it
//! (`1x8x8 -> conv2d(4, 3, padding = 1) relu -> batchnorm -> maxpool2d(2) -> flatten ->
//! layernorm -> dropout(0.5)`), to check that they work with the shared machinery: built on the
//! heap by `zeroed_box`, initialised by `init::randomize` as each tensor's `Init` says,
//! summarised with buffers apart from parameters, run through `forward_slice`.

use nn_runtime::layers::{
    BatchNorm, Conv2d, Conv2dGeometry, DEFAULT_EPS, LayerNorm, Pool2dGeometry, dropout, flatten,
    maxpool2d,
};
use nn_runtime::{
    Activation, Error, LayerInfo, LayerKind, Network, TensorInfo, Tensors, ZeroInit, init,
    zeroed_box,
};

struct Tiny {
    conv: Conv2d<4, 1, 3, 3>,
    norm: BatchNorm<4>,
    features: LayerNorm<[f32; 64]>,
}

nn_runtime::__zero_init!(ZeroInit, Tiny {
    conv: Conv2d<4, 1, 3, 3>,
    norm: BatchNorm<4>,
    features: LayerNorm<[f32; 64]>,
});

const SAME: Conv2dGeometry = Conv2dGeometry {
    padding: [1, 1],
    ..Conv2dGeometry::DEFAULT
};

/// A layer's description; `LayerKind` gains the new kinds with the language's wiring.
const fn layer(
    name: &'static str,
    input: &'static [usize],
    output: &'static [usize],
    activation: Activation,
    tensors: &'static [TensorInfo],
) -> LayerInfo {
    LayerInfo {
        name,
        named: false,
        kind: LayerKind::Dense,
        input,
        output,
        activation,
        tensors,
    }
}

impl Tiny {
    fn forward(&self, input: &[[[f32; 8]; 8]; 1]) -> [f32; 64] {
        let mut conv: [[[f32; 8]; 8]; 4] = self.conv.forward(input, SAME);
        nn_runtime::activation::relu(conv.as_flattened_mut().as_flattened_mut());
        let norm = self.norm.forward(&conv, DEFAULT_EPS);
        let pooled: [[[f32; 4]; 4]; 4] = maxpool2d(&norm, Pool2dGeometry::new([2, 2]));
        let flat: [f32; 64] = flatten(&pooled);
        dropout(&self.features.forward(&flat, DEFAULT_EPS))
    }
}

impl Network for Tiny {
    type Scalar = f32;
    const NAME: &'static str = "Tiny";
    const INPUTS: usize = 64;
    const OUTPUTS: usize = 64;
    const PARAMETERS: usize = 40 + 8 + 128;
    const LAYERS: &'static [LayerInfo] = &[
        layer(
            "conv",
            &[1, 8, 8],
            &[4, 8, 8],
            Activation::Relu,
            Conv2d::<4, 1, 3, 3>::TENSORS,
        ),
        layer(
            "norm",
            &[4, 8, 8],
            &[4, 8, 8],
            Activation::Linear,
            BatchNorm::<4>::TENSORS,
        ),
        layer(
            "features",
            &[64],
            &[64],
            Activation::Linear,
            LayerNorm::<[f32; 64]>::TENSORS,
        ),
    ];

    fn for_each_tensor<'a>(
        &'a self,
        mut f: impl FnMut(&'static LayerInfo, &'static TensorInfo, &'a [f32]),
    ) {
        let layers = Self::LAYERS;
        self.conv.for_each_tensor(|t, v| f(&layers[0], t, v));
        self.norm.for_each_tensor(|t, v| f(&layers[1], t, v));
        self.features.for_each_tensor(|t, v| f(&layers[2], t, v));
    }

    fn for_each_tensor_mut<'a>(
        &'a mut self,
        mut f: impl FnMut(&'static LayerInfo, &'static TensorInfo, &'a mut [f32]),
    ) {
        let layers = Self::LAYERS;
        self.conv.for_each_tensor_mut(|t, v| f(&layers[0], t, v));
        self.norm.for_each_tensor_mut(|t, v| f(&layers[1], t, v));
        self.features
            .for_each_tensor_mut(|t, v| f(&layers[2], t, v));
    }

    fn forward_slice(&self, input: &[f32], output: &mut [f32]) -> Result<(), Error> {
        let input: &[f32; 64] = input.try_into().map_err(|_| Error::Input {
            layer: "conv",
            expected: 64,
            found: input.len(),
        })?;
        let found = output.len();
        let output: &mut [f32; 64] = output.try_into().map_err(|_| Error::Output {
            layer: "features",
            expected: 64,
            found,
        })?;
        let mut image = [[[0.0; 8]; 8]; 1];
        image
            .as_flattened_mut()
            .as_flattened_mut()
            .copy_from_slice(input);
        *output = self.forward(&image);
        Ok(())
    }
}

#[test]
// Initial values are exact: zeros and ones.
#[allow(clippy::float_cmp)]
fn new_layers_initialise_as_pytorch() {
    let mut net = zeroed_box::<Tiny>();
    init::randomize(&mut *net, 7);
    // He for a ReLU convolution: fan_in = 1 * 3 * 3.
    let bound = (6.0f32 / 9.0).sqrt();
    let weights = net
        .conv
        .weight()
        .as_flattened()
        .as_flattened()
        .as_flattened();
    assert!(weights.iter().all(|w| w.abs() <= bound && *w != 0.0));
    assert_eq!(net.conv.bias(), &[0.0; 4]);
    assert_eq!(net.norm.weight(), &[1.0; 4]);
    assert_eq!(net.norm.bias(), &[0.0; 4]);
    assert_eq!(net.norm.running_mean(), &[0.0; 4]);
    assert_eq!(net.norm.running_var(), &[1.0; 4]);
    assert_eq!(net.features.weight(), &[1.0; 64]);
    assert_eq!(net.features.bias(), &[0.0; 64]);
    // Buffers are not parameters.
    assert_eq!(Tiny::summary().parameters(), Tiny::PARAMETERS);

    let input: Vec<f32> = (0..64u8).map(|i| f32::from(i % 7) - 3.0).collect();
    let mut output = [0.0; 64];
    net.forward_slice(&input, &mut output)
        .expect("the right sizes");
    // A layernorm with its initial weight and bias: mean 0, variance 1 (less eps).
    let mean = output.iter().sum::<f32>() / 64.0;
    let variance = output.iter().map(|y| (y - mean) * (y - mean)).sum::<f32>() / 64.0;
    assert!(
        mean.abs() < 1e-5 && (variance - 1.0).abs() < 1e-3,
        "{mean} {variance}"
    );
    assert!(matches!(
        net.forward_slice(&input[1..], &mut output),
        Err(Error::Input { found: 63, .. })
    ));
}
