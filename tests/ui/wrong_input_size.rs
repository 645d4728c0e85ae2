// A 783-value input for a 784-input network is a type error at the call, in the user's code.
nn::network! {
    pub struct Mnist = 784 -> 128 relu -> 10 softmax;
}

fn main() {
    let net = Mnist::random(42);
    let pixels = [0.5_f32; 783];
    let _probabilities = net.forward(&pixels);
}
