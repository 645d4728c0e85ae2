// The hidden `__zero_init!` that generated code uses cannot vouch for a struct with a field it
// was not told about: its compile-time proof names every field and its type.
pub struct Sneaky {
    pub layer: nn::Dense<2, 1>,
    pub name: &'static str,
}

nn::__private::__zero_init!(nn::__private::ZeroInit, Sneaky { layer: nn::Dense<2, 1> });

fn main() {}
