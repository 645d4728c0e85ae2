//! XOR with hand-set weights: the smallest network that needs a hidden layer.
//!
//! The hidden neurons compute `a = relu(x + y)` and `b = relu(x + y - 1)`; the output fires when
//! `a - 2b` is 1, which happens for exactly one input set. The network is a `static`: its
//! weights are constants, so it needs no allocator.

use nn::Dense;

nn::network! {
    /// Exclusive or of two inputs in {0, 1}.
    pub struct Xor = 2 -> 2 relu as hidden -> 1 sigmoid as output with unroll = full;
}

static XOR: Xor = Xor {
    hidden: Dense::from_parts([[1.0, 1.0], [1.0, 1.0]], [0.0, -1.0]),
    // 20 * (a - 2b) - 10: -10 (false) or +10 (true) before the sigmoid.
    output: Dense::from_parts([[20.0, -40.0]], [-10.0]),
};

fn main() {
    println!("{}", Xor::summary());
    println!(" x | y | x xor y | network");
    println!("---+---+---------+--------");
    for (x, y) in [(0u8, 0u8), (0, 1), (1, 0), (1, 1)] {
        let [p] = XOR.forward(&[f32::from(x), f32::from(y)]);
        println!(" {x} | {y} |    {}    | {p:.5}", x ^ y);
        assert_eq!(p > 0.5, x ^ y == 1, "the network must compute XOR");
    }
}
