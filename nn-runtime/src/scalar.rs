//! The element types a network can use: `f32` and `f64`.

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type: implemented for `f32` and `f64` only.
// Math functions return `Self` like the inherent float methods, which are not `#[must_use]`
// either; unused results are already caught by `unused_must_use` on the callers' side.
///
/// The math functions come from `libm`, except `exp` and `sigmoid` of `f32`, which come from
/// this crate (`math.rs`, accurate to about half an ulp); none uses `std`, so results are the
/// same with and without it.
#[allow(clippy::return_self_not_must_use)]
// `Kernel` is the crate's: users name `Scalar`, never its kernels.
#[allow(private_bounds)]
pub trait Scalar:
    sealed::Sealed
    + crate::kernel::Kernel
    + Copy
    + Default
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + MulAssign
{
    /// `0.0`.
    const ZERO: Self;
    /// `1.0`.
    const ONE: Self;
    /// The Rust name, `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Nearest value to `x`.
    fn from_f64(x: f64) -> Self;
    /// The value as `f64` (exact).
    fn to_f64(self) -> f64;
    /// `e^self`.
    #[must_use]
    fn exp(self) -> Self;
    /// The logistic function `1 / (1 + e^-self)`, without overflow for any input.
    #[must_use]
    fn sigmoid(self) -> Self;
    /// `e^self - 1`, accurate near zero.
    #[must_use]
    fn exp_m1(self) -> Self;
    /// Natural logarithm.
    #[must_use]
    fn ln(self) -> Self;
    /// `ln(1 + self)`, accurate near zero.
    #[must_use]
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    #[must_use]
    fn tanh(self) -> Self;
    /// Error function.
    #[must_use]
    fn erf(self) -> Self;
    /// Square root.
    #[must_use]
    fn sqrt(self) -> Self;
    /// Whether the value is neither infinite nor NaN.
    fn is_finite(self) -> bool;
}

/// The logistic function in `f64`: `exp` of a non-positive number never overflows, and the
/// two branches are the same function.
#[inline]
fn sigmoid_f64(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + libm::exp(-v))
    } else {
        let e = libm::exp(v);
        e / (1.0 + e)
    }
}

macro_rules! impl_scalar {
    ($t:ty, $name:literal, $exp:path, $sigmoid:path, $expm1:path, $ln:path, $ln1p:path, $tanh:path, $erf:path, $sqrt:path) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAME: &'static str = $name;

            #[inline]
            #[allow(clippy::cast_possible_truncation)] // rounding to the nearest f32 is the point
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            #[inline]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline]
            fn sigmoid(self) -> Self {
                $sigmoid(self)
            }
            #[inline]
            fn exp_m1(self) -> Self {
                $expm1(self)
            }
            #[inline]
            fn ln(self) -> Self {
                $ln(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                $ln1p(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                $sqrt(self)
            }
            #[inline]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

impl_scalar!(
    f32,
    "f32",
    crate::math::exp,
    crate::math::sigmoid,
    libm::expm1f,
    libm::logf,
    libm::log1pf,
    libm::tanhf,
    libm::erff,
    libm::sqrtf
);
impl_scalar!(
    f64,
    "f64",
    libm::exp,
    sigmoid_f64,
    libm::expm1,
    libm::log,
    libm::log1p,
    libm::tanh,
    libm::erf,
    libm::sqrt
);
