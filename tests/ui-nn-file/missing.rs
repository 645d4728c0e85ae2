nn::network_file!("models/missing.nn");

fn main() {}
