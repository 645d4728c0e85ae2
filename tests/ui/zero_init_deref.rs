// Nor for a field whose type only dereferences to the one named: all-zero bytes are a null
// `Box`, not a zeroed layer.
pub struct Boxed {
    pub layer: Box<nn::Dense<2, 1>>,
}

nn::__private::__zero_init!(nn::__private::ZeroInit, Boxed { layer: nn::Dense<2, 1> });

fn main() {}
