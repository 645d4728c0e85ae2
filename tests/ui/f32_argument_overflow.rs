// An activation argument that an f32 network cannot hold (and that once made the macro panic).
nn::network! {
    pub struct Net = 2 -> 1 leaky_relu(1e300);
}

fn main() {}
