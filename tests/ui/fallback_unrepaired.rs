// A syntax error that no small edit repairs leaves only the name: the stub takes any input and
// gives any output that the use names, and a use that names none needs a type annotation.
nn::network! {
    pub struct Mnist = 784 -> -> relu 10 softmax;
}

fn main() {
    let net = Mnist::random(42);
    let probabilities: [f32; 10] = net.forward(&[0.5; 784]);
    println!("{probabilities:?} {}", Mnist::summary());
    let unnamed = net.forward(&[0.5; 784]);
    println!("{}", unnamed.len());
}
