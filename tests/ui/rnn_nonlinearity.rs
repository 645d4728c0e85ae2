// `nn.RNN` has two nonlinearities, `tanh` and `relu`.
nn::network! {
    pub struct Net = 4 -> rnn(16, sigmoid) -> 2;
}

fn main() {}
