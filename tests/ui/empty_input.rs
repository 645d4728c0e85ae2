// A macro call without a declaration.
nn::network! {}

fn main() {}
