// A recurrent layer runs once per time step on a vector: a network with one cannot pool
// images (each step's input is a vector of features).
nn::network! {
    pub struct Net = [1, 8, 8] -> maxpool2d(2) -> flatten -> lstm(16) -> 2;
}

fn main() {}
