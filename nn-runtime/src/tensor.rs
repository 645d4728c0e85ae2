//! Tensors: what every layer is made of, described as PyTorch describes them, so that
//! initialisation, optimizers, loaders, savers and summaries are written once for every kind of
//! layer.

use crate::Scalar;

/// Whether training changes a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Trained: an optimizer updates it from its gradient (PyTorch's `nn.Parameter`).
    Parameter,
    /// Not trained, but saved and loaded with the parameters: state such as batchnorm's
    /// running statistics (PyTorch's `register_buffer`). Gradients have no buffers.
    Buffer,
    /// A buffer that counts, kept by PyTorch as an `int64` of no axes: batchnorm's
    /// `num_batches_tracked`. Files hold it as `I64` (the savers write it so, as PyTorch's
    /// `state_dict` has it, and a strict `load_state_dict` requires it); a loader accepts any
    /// integer or float dtype and takes a missing one as 0, as PyTorch does for checkpoints
    /// older than the counter. Stored as the scalar type, so counts above 2^24 (`f32`) or 2^53
    /// (`f64`) round; inference never reads it. Never trained, never initialised but to 0.
    Counter,
}

/// How a tensor's storage order maps to PyTorch's, which is row-major over its
/// [`shape`](TensorInfo::shape). The storage order is the kernels' choice; every file and every
/// public view uses PyTorch's, and every conversion goes through [`TensorInfo::storage_index`]
/// or [`TensorInfo::storage_indices`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// Stored in PyTorch's order.
    Contiguous,
    /// Stored with the first axis last: in a tensor of shape `[A, ...]`, the value at
    /// `[a, ...]` (`a * rest + r` in PyTorch's order, `r` the row-major index over the other
    /// axes) sits at `r * A + a`. A dense layer's `[OUT, IN]` weight, stored by column
    /// (`[IN][OUT]`, see [`Dense`](crate::Dense)).
    Transposed,
}

/// How [`init::randomize`](crate::init::randomize) fills a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Init {
    /// Zeros (a dense layer's bias; PyTorch draws it at random instead).
    Zeros,
    /// Uniform in `[-b, b)`, drawn in PyTorch's order: He, `b = sqrt(6 / fan_in)`, when the
    /// layer's activation is in the ReLU family (variance `2 / fan_in`); Xavier (Glorot),
    /// `b = sqrt(6 / (fan_in + fan_out))`, otherwise. Fans as [`TensorInfo::fans`].
    Uniform,
    /// Ones (a normalisation's scale, batchnorm's running variance), as PyTorch.
    Ones,
    /// Uniform in `[-b, b)` with `b = 1 / sqrt(hidden)`, drawn in PyTorch's order: every tensor
    /// of a recurrent layer of `hidden` units, as PyTorch's `nn.LSTM`, `nn.GRU` and `nn.RNN`
    /// draw them (weights and biases alike, whatever the activation).
    UniformHidden {
        /// The layer's hidden size `H`.
        hidden: usize,
    },
}

/// One tensor of a layer: its name and shape as PyTorch's `state_dict` has them, its role, how
/// it is stored and how it is initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The attribute name in PyTorch: `weight`, `bias`, `running_mean`, ...
    pub name: &'static str,
    /// The shape in PyTorch (`[OUT, IN]` for a dense weight).
    pub shape: &'static [usize],
    /// Trained or not.
    pub role: Role,
    /// How storage order maps to PyTorch's.
    pub layout: Layout,
    /// How initialisation fills it.
    pub init: Init,
}

impl TensorInfo {
    /// Number of values: the product of the shape.
    pub const fn len(&self) -> usize {
        let mut len = 1;
        let mut axis = 0;
        while axis < self.shape.len() {
            len *= self.shape[axis];
            axis += 1;
        }
        len
    }

    /// Whether the tensor holds no value (some axis is 0).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(fan_in, fan_out)` as PyTorch computes them (`nn.init._calculate_fan_in_and_fan_out`):
    /// for a shape `[OUT, IN, k...]`, `IN` and `OUT` times the product of the `k`s; a tensor
    /// of one axis has both fans equal to its length.
    pub const fn fans(&self) -> (usize, usize) {
        match self.shape {
            [] => (1, 1),
            [n] => (*n, *n),
            [outputs, inputs, kernel @ ..] => {
                let mut receptive = 1;
                let mut axis = 0;
                while axis < kernel.len() {
                    receptive *= kernel[axis];
                    axis += 1;
                }
                (*inputs * receptive, *outputs * receptive)
            }
        }
    }

    /// Whether it is a bias, which a layer declared with `bias = false` has not: a dense
    /// layer's, a convolution's or a layernorm's `bias`, a recurrent layer's `bias_ih_l<k>` and
    /// `bias_hh_l<k>`.
    pub const fn is_bias(&self) -> bool {
        matches!(self.role, Role::Parameter) && is_bias_name(self.name)
    }

    /// Whether it holds variances (batchnorm's `running_var`), which loaders refuse below 0:
    /// a negative one has no square root.
    pub fn is_variance(&self) -> bool {
        self.role == Role::Buffer && self.name == "running_var"
    }

    /// Where the value at `index` in PyTorch's row-major order sits in storage (see
    /// [`Layout`]). `index` must be below [`len`](Self::len).
    pub const fn storage_index(&self, index: usize) -> usize {
        match self.layout {
            Layout::Contiguous => index,
            Layout::Transposed => {
                let (first, rest) = self.first_and_rest();
                (index % rest) * first + index / rest
            }
        }
    }

    /// The storage index of every value, in PyTorch's order: what loaders and savers walk,
    /// without a division per value.
    pub const fn storage_indices(&self) -> StorageIndices {
        let len = self.len();
        let (step, run) = match self.layout {
            Layout::Contiguous => (1, len),
            Layout::Transposed => self.first_and_rest(),
        };
        StorageIndices {
            remaining: len,
            slot: 0,
            start: 0,
            step,
            run,
            position: 0,
        }
    }

    /// The first axis, and the product of the others; both at least 1, so that they divide.
    const fn first_and_rest(&self) -> (usize, usize) {
        let first = match self.shape {
            [first, ..] if *first > 0 => *first,
            _ => 1,
        };
        let rest = self.len() / first;
        (first, if rest == 0 { 1 } else { rest })
    }
}

/// The storage indices of a tensor's values in PyTorch's order: see
/// [`TensorInfo::storage_indices`].
#[derive(Clone, Debug)]
pub struct StorageIndices {
    remaining: usize,
    slot: usize,
    /// Storage index of the current run's first value.
    start: usize,
    /// Distance in storage between consecutive values of a run.
    step: usize,
    /// Values per run.
    run: usize,
    /// Position in the current run.
    position: usize,
}

impl Iterator for StorageIndices {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let slot = self.slot;
        self.position += 1;
        if self.position == self.run {
            self.position = 0;
            self.start += 1;
            self.slot = self.start;
        } else {
            self.slot += self.step;
        }
        Some(slot)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for StorageIndices {}

/// A value made of tensors: each layer type and its gradients type. Generated networks visit
/// their layers through it, so that a new kind of layer implements it once.
pub trait Tensors {
    /// Element type: `f32` or `f64`.
    type Scalar: Scalar;
    /// The tensors, in the order of the visits: PyTorch's order of the `state_dict`.
    const TENSORS: &'static [TensorInfo];

    /// Calls `f` with each tensor's description and values, in storage order, in the order of
    /// [`TENSORS`](Self::TENSORS).
    fn for_each_tensor<'a>(&'a self, f: impl FnMut(&'static TensorInfo, &'a [Self::Scalar]));

    /// Calls `f` with each tensor's description and values, for writing. The slices live as
    /// long as the borrow of `self`, so that a caller may hold all of them at once.
    fn for_each_tensor_mut<'a>(
        &'a mut self,
        f: impl FnMut(&'static TensorInfo, &'a mut [Self::Scalar]),
    );
}

/// Which of a layer's tensors its declaration leaves out: they stay in the layer, at a fixed
/// value, but its [`LayerInfo`](crate::LayerInfo) does not list them, so that files, counts and
/// optimizers never see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hidden {
    /// The biases ([`TensorInfo::is_bias`]), zero: `bias = false`.
    Biases,
    /// The parameters ([`Role::Parameter`]): a normalisation's weight, one, and bias, zero:
    /// `affine = false`. Its buffers stay.
    Parameters,
}

impl Hidden {
    /// Whether `tensor` is one of those left out.
    pub const fn hides(self, tensor: &TensorInfo) -> bool {
        match self {
            Self::Biases => tensor.is_bias(),
            Self::Parameters => matches!(tensor.role, Role::Parameter),
        }
    }
}

/// Whether a tensor named `name` (without its layer's prefix) is a bias, as
/// [`TensorInfo::is_bias`] says: `bias`, `bias_ih_l0`, ...
pub(crate) const fn is_bias_name(name: &str) -> bool {
    let (name, prefix) = (name.as_bytes(), b"bias");
    if name.len() < prefix.len() {
        return false;
    }
    let mut index = 0;
    while index < prefix.len() {
        if name[index] != prefix[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// How many of `tensors` `hidden` keeps: the length of [`kept`].
pub const fn kept_count(tensors: &[TensorInfo], hidden: Hidden) -> usize {
    let (mut count, mut index) = (0, 0);
    while index < tensors.len() {
        if !hidden.hides(&tensors[index]) {
            count += 1;
        }
        index += 1;
    }
    count
}

/// The tensors of `tensors` that `hidden` keeps, in their order: what the
/// [`LayerInfo`](crate::LayerInfo) of a layer declared with `bias = false` or `affine = false`
/// lists.
///
/// # Panics
///
/// If `N` is not [`kept_count`]: in the constants that call this, evaluated while compiling, a
/// compile error.
pub const fn kept<const N: usize>(tensors: &[TensorInfo], hidden: Hidden) -> [TensorInfo; N] {
    const NONE: TensorInfo = TensorInfo {
        name: "",
        shape: &[],
        role: Role::Buffer,
        layout: Layout::Contiguous,
        init: Init::Zeros,
    };
    assert!(
        N == kept_count(tensors, hidden),
        "N must count the tensors kept"
    );
    let mut kept = [NONE; N];
    let (mut count, mut index) = (0, 0);
    while index < tensors.len() {
        if !hidden.hides(&tensors[index]) {
            kept[count] = tensors[index];
            count += 1;
        }
        index += 1;
    }
    kept
}

/// The coordinates in `shape` of the value at `index` in row-major order (`[index]` for a
/// shape of no axes).
#[cfg(feature = "alloc")]
pub(crate) fn coordinates(index: usize, shape: &[usize]) -> alloc::vec::Vec<usize> {
    let mut at = alloc::vec![0; shape.len().max(1)];
    let mut rest = index;
    for (coordinate, size) in at.iter_mut().zip(shape).rev() {
        *coordinate = rest % (*size).max(1);
        rest /= (*size).max(1);
    }
    if shape.is_empty() {
        at[0] = index;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn tensor(shape: &'static [usize], layout: Layout) -> TensorInfo {
        TensorInfo {
            name: "t",
            shape,
            role: Role::Parameter,
            layout,
            init: Init::Zeros,
        }
    }

    #[test]
    fn storage_indices_follow_storage_index() {
        for shape in [
            &[3, 5][..],
            &[4],
            &[2, 3, 4],
            &[1, 7],
            &[7, 1],
            &[0, 3],
            &[],
        ] {
            for layout in [Layout::Contiguous, Layout::Transposed] {
                let info = tensor(shape, layout);
                let walked: std::vec::Vec<usize> = info.storage_indices().collect();
                let indexed: std::vec::Vec<usize> =
                    (0..info.len()).map(|k| info.storage_index(k)).collect();
                assert_eq!(walked, indexed, "{shape:?} {layout:?}");
                let mut sorted = walked.clone();
                sorted.sort_unstable();
                assert!(sorted.iter().copied().eq(0..info.len()), "a permutation");
            }
        }
    }

    #[test]
    fn transposed_is_by_column() {
        // PyTorch's `W[o][i]` of a `[2, 3]` weight sits at `i * 2 + o`.
        let info = tensor(&[2, 3], Layout::Transposed);
        assert_eq!(info.storage_index(3 + 2), 2 * 2 + 1);
        assert_eq!(info.storage_index(1), 2);
    }

    #[test]
    fn fans_are_pytorchs() {
        assert_eq!(tensor(&[128, 784], Layout::Transposed).fans(), (784, 128));
        assert_eq!(tensor(&[16, 3, 5, 5], Layout::Contiguous).fans(), (75, 400));
        assert_eq!(tensor(&[10], Layout::Contiguous).fans(), (10, 10));
    }
}
