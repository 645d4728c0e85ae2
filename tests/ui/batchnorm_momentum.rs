// A momentum beyond 1 would overshoot the batch's statistics.
nn::network! {
    pub struct Net = 16 -> batchnorm(momentum = 1.5) relu -> 2;
}

fn main() {}
