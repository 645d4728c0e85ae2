// A misspelt argument of a normalisation.
nn::network! {
    pub struct Net = 16 -> batchnorm(momentun = 0.2) -> 2;
}

fn main() {}
