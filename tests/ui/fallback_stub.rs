// A declaration whose output width is wrong cannot be generated: a stub with the whole API
// stands in for it, with the sizes that are known (the input here), so that uses which say what
// they expect (`[f32; 10]`) still type-check, and only the declaration's error is reported.
nn::network! {
    pub struct Mnist = 784 -> 128 relu -> 10.5 softmax;
}

fn main() -> Result<(), nn::Error> {
    let net = Mnist::random(42);
    let pixels = [0.5; Mnist::INPUTS];
    let probabilities: [f32; 10] = net.forward(&pixels);
    println!("{probabilities:?} {}", Mnist::summary());
    let mut outputs = vec![[0.0_f32; 10]; 2];
    net.forward_batch(&[pixels; 2], &mut outputs)?;
    let loaded = Mnist::from_safetensors_file("mnist.safetensors")?;
    let mut gradients = MnistGradients::zeroed();
    let outcome = loaded.accumulate_gradients(
        &pixels,
        &probabilities,
        &nn::train::CrossEntropy,
        1.0,
        &mut gradients,
    );
    let _: [f32; 10] = outcome.output;
    Ok(())
}
