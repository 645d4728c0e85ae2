nn::network_file!(models / mnist);

fn main() {}
