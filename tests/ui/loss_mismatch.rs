// Binary cross-entropy needs a sigmoid output: on a softmax classifier it must not compile.

nn::network! {
    struct Classifier = 4 -> 8 relu -> 3 softmax;
}

fn main() {
    let net = Classifier::zeroed();
    let mut gradients = ClassifierGradients::zeroed();
    let loss = nn::train::BinaryCrossEntropy;
    net.accumulate_gradients(&[0.5; 4], &[1.0, 0.0, 0.0], &loss, 1.0, &mut gradients);
}
