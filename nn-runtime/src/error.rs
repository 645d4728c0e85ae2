//! Run-time errors: values that name the layer, what was expected and what was found.

/// Everything that can go wrong at run time.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input had the wrong number of values.
    #[error("layer `{layer}`: expected {expected} inputs, found {found}")]
    Input {
        /// The layer that reads the input.
        layer: &'static str,
        /// Inputs the network takes.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// An output buffer had the wrong number of values.
    #[error("layer `{layer}`: expected room for {expected} outputs, found {found}")]
    Output {
        /// The layer that writes the output.
        layer: &'static str,
        /// Outputs the network produces.
        expected: usize,
        /// Room given.
        found: usize,
    },
    /// A batch's output buffer did not have one row per input.
    #[error("layer `{layer}`: expected {expected} output rows, one per input, found {found}")]
    Batch {
        /// The layer that writes the output.
        layer: &'static str,
        /// Inputs given.
        expected: usize,
        /// Output rows given.
        found: usize,
    },
}
