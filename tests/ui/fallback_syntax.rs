// A syntax error is reported alone; when one small edit at the error makes the declaration
// correct (here `->` before `10`), the network is generated as so edited, and its uses add no
// error.
nn::network! {
    pub struct Mnist = 784 -> 128 relu 10 softmax;
}

fn main() {
    let net = Mnist::random(42);
    let probabilities = net.forward(&[0.5; Mnist::INPUTS]);
    println!("{}", probabilities.iter().sum::<f32>());
}
