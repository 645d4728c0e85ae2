//! Samples and channels as nested arrays in PyTorch's row-major order.

use crate::Scalar;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl<T: crate::Scalar, const N: usize> Sealed for [T; N] {}
    impl<T: crate::Scalar, const H: usize, const W: usize> Sealed for [[T; W]; H] {}
    impl<T: crate::Scalar, const C: usize, const H: usize, const W: usize> Sealed for [[[T; W]; H]; C] {}
}

/// A scalar or a nested array of scalars of rank 1 to 3 (`[T; L]`, `[[T; W]; H]`,
/// `[[[T; W]; H]; C]`): one channel of a layer's input, or a whole sample.
///
/// Layers that treat every value alike (batchnorm per channel, layernorm, flatten, global
/// pools) are written once over it, for every rank. Sealed: its values are plain arrays of a
/// [`Scalar`], so all-zero bytes are a valid value.
pub trait Shaped: Copy + sealed::Sealed + Send + Sync + 'static {
    /// Element type.
    type Scalar: Scalar;
    /// The shape in PyTorch's order; `[]` for a scalar.
    const SHAPE: &'static [usize];
    /// Number of values: the product of the shape.
    const LEN: usize;
    /// Every value zero.
    const ZERO: Self;

    /// The values in row-major order.
    fn values(&self) -> &[Self::Scalar];
    /// The values in row-major order, for writing.
    fn values_mut(&mut self) -> &mut [Self::Scalar];
}

macro_rules! scalar_shaped {
    ($t:ty) => {
        impl Shaped for $t {
            type Scalar = $t;
            const SHAPE: &'static [usize] = &[];
            const LEN: usize = 1;
            const ZERO: Self = 0.0;

            fn values(&self) -> &[$t] {
                core::slice::from_ref(self)
            }

            fn values_mut(&mut self) -> &mut [$t] {
                core::slice::from_mut(self)
            }
        }
    };
}

scalar_shaped!(f32);
scalar_shaped!(f64);

impl<T: Scalar, const N: usize> Shaped for [T; N] {
    type Scalar = T;
    const SHAPE: &'static [usize] = &[N];
    const LEN: usize = N;
    const ZERO: Self = [T::ZERO; N];

    fn values(&self) -> &[T] {
        self
    }

    fn values_mut(&mut self) -> &mut [T] {
        self
    }
}

impl<T: Scalar, const H: usize, const W: usize> Shaped for [[T; W]; H] {
    type Scalar = T;
    const SHAPE: &'static [usize] = &[H, W];
    const LEN: usize = H * W;
    const ZERO: Self = [[T::ZERO; W]; H];

    fn values(&self) -> &[T] {
        self.as_flattened()
    }

    fn values_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut()
    }
}

impl<T: Scalar, const C: usize, const H: usize, const W: usize> Shaped for [[[T; W]; H]; C] {
    type Scalar = T;
    const SHAPE: &'static [usize] = &[C, H, W];
    const LEN: usize = C * H * W;
    const ZERO: Self = [[[T::ZERO; W]; H]; C];

    fn values(&self) -> &[T] {
        self.as_flattened().as_flattened()
    }

    fn values_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut().as_flattened_mut()
    }
}
