// One mistake, one error: a declaration with a problem the checker can recover from (`rleu` is
// generated as `linear`) still generates its network, so that every use of it type-checks and
// only the declaration's error is reported.
use nn::train::{CrossEntropy, Sgd, Trainer};
use std::ops::ControlFlow;

nn::network! {
    /// Classifies 28x28 handwritten digits.
    pub struct Mnist = 784 -> 128 rleu -> 10 softmax;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = Mnist::random(42);
    let pixels = [0.5; Mnist::INPUTS];
    let probabilities: [f32; 10] = net.forward(&pixels);
    let best = probabilities.iter().cloned().fold(f32::MIN, f32::max);
    println!("{best} {} {}", Mnist::summary(), Mnist::PARAMETERS);

    let mut outputs = vec![[0.0; Mnist::OUTPUTS]; 2];
    net.forward_batch(&[pixels; 2], &mut outputs)?;

    let mut loaded = Mnist::from_safetensors_file("mnist.safetensors")?;
    loaded.save_safetensors("copy.safetensors")?;
    let mut gradients = MnistGradients::zeroed();
    let outcome =
        loaded.accumulate_gradients(&pixels, &probabilities, &CrossEntropy, 1.0, &mut gradients);
    println!("{}", outcome.loss);
    gradients.zero();

    let mut trainer = Trainer::new(CrossEntropy, Sgd::new(0.1)).epochs(1);
    trainer.fit(&mut *loaded, &[pixels], &[probabilities], |_| ControlFlow::Continue(()))?;
    Ok(())
}
