//! Optimizers: stochastic gradient descent with momentum and weight decay, and Adam. Both follow
//! PyTorch's update rules (`torch.optim.SGD`, `torch.optim.Adam`), so hyperparameters carry over.

use super::Parameters;
use super::descent::{descend, flush, for_each_parameter, smallest_normal};
use crate::Scalar;
use crate::kernel::with_widest;
use alloc::string::String;
use alloc::vec::Vec;

/// Updates a network's weights and biases from their gradients.
pub trait Optimizer<T: Scalar> {
    /// One update of every parameter of `net` (a network, or a bare recurrent layer) from
    /// `gradients` (usually a mini-batch mean).
    fn step<N: Parameters<Scalar = T>>(&mut self, net: &mut N, gradients: &N::Gradients);

    /// The step size.
    fn learning_rate(&self) -> T;

    /// Changes the step size (for schedules); the optimizer's state is kept.
    fn set_learning_rate(&mut self, learning_rate: T);

    /// Whether these settings can train: [`Trainer::fit`](super::Trainer::fit) asks before its
    /// first step. `Ok` unless an implementation says otherwise.
    ///
    /// # Errors
    ///
    /// What is wrong, as a phrase (`the learning rate must be finite and at least 0, found
    /// NaN`).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// `Ok` when each of `settings` is finite and at least 0, as PyTorch's optimizers require of
/// theirs (and NaN, which passes their checks, fails this), else what is wrong.
fn non_negative<T: Scalar>(settings: &[(&str, T)]) -> Result<(), String> {
    match settings
        .iter()
        .find(|(_, value)| !(value.is_finite() && *value >= T::ZERO))
    {
        Some((name, value)) => Err(alloc::format!(
            "the {name} must be finite and at least 0, found {value}"
        )),
        None => Ok(()),
    }
}

/// A state buffer of one value per parameter, zeroed on first use.
fn state<T: Scalar>(buffer: &mut Vec<T>, parameters: usize) {
    if buffer.len() != parameters {
        buffer.clear();
        buffer.resize(parameters, T::ZERO);
    }
}

/// Stochastic gradient descent: `p -= learning_rate * v`, with `v = momentum * v + g` (or
/// `v = g` without momentum) and `g = gradient + weight_decay * p`. Subnormal results become
/// zero (see below).
///
/// ```
/// use nn_runtime::train::Sgd;
/// let sgd = Sgd::new(0.1_f32).momentum(0.9).weight_decay(1e-4).nesterov(true);
/// ```
#[derive(Clone, Debug)]
pub struct Sgd<T: Scalar = f32> {
    learning_rate: T,
    momentum: T,
    weight_decay: T,
    nesterov: bool,
    velocity: Vec<T>,
}

impl<T: Scalar> Sgd<T> {
    /// Plain gradient descent with this step size.
    pub fn new(learning_rate: T) -> Self {
        Self {
            learning_rate,
            momentum: T::ZERO,
            weight_decay: T::ZERO,
            nesterov: false,
            velocity: Vec::new(),
        }
    }

    /// With momentum (0 for none; 0.9 is common).
    #[must_use]
    pub fn momentum(mut self, momentum: T) -> Self {
        self.momentum = momentum;
        self
    }

    /// With L2 weight decay added to every gradient (biases included, as PyTorch).
    #[must_use]
    pub fn weight_decay(mut self, weight_decay: T) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// With Nesterov momentum: the step is `g + momentum * v`.
    #[must_use]
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }
}

impl<T: Scalar> Optimizer<T> for Sgd<T> {
    fn step<N: Parameters<Scalar = T>>(&mut self, net: &mut N, gradients: &N::Gradients) {
        let Self {
            learning_rate: rate,
            momentum,
            weight_decay: decay,
            nesterov,
            velocity,
        } = self;
        let (rate, momentum, decay, nesterov) = (*rate, *momentum, *decay, *nesterov);
        if momentum == T::ZERO {
            descend(net, gradients, rate, decay);
            return;
        }
        let smallest = smallest_normal::<T>();
        state(velocity, N::PARAMETERS);
        // Compiled for the CPU's widest vectors (the same results at every width).
        for_each_parameter(net, gradients, |offset, parameters, gradients| {
            let velocity = &mut velocity[offset..offset + parameters.len()];
            with_widest(|| {
                for ((p, &g), v) in parameters.iter_mut().zip(gradients).zip(velocity) {
                    let g = g + decay * *p;
                    *v = flush(momentum * *v + g, smallest);
                    let step = if nesterov { g + momentum * *v } else { *v };
                    *p = flush(*p - rate * step, smallest);
                }
            });
        });
    }
    fn learning_rate(&self) -> T {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: T) {
        self.learning_rate = learning_rate;
    }

    fn check(&self) -> Result<(), String> {
        non_negative(&[
            ("learning rate", self.learning_rate),
            ("momentum", self.momentum),
            ("weight decay", self.weight_decay),
        ])?;
        if self.nesterov && self.momentum == T::ZERO {
            return Err("Nesterov momentum needs a momentum above 0".into());
        }
        Ok(())
    }
}

/// Adam (Kingma and Ba), as `torch.optim.Adam`: moving averages `m` and `v` of the gradient and
/// its square, bias-corrected, and `p -= learning_rate * m_hat / (sqrt(v_hat) + epsilon)`.
///
/// Unlike PyTorch's, both optimizers flush subnormal parameters and state to zero: arithmetic
/// on subnormal numbers is far slower on x86, and weight decay produces them.
///
/// ```
/// use nn_runtime::train::Adam;
/// let adam = Adam::new(1e-3_f64).betas(0.9, 0.999).epsilon(1e-8);
/// ```
#[derive(Clone, Debug)]
pub struct Adam<T: Scalar = f32> {
    learning_rate: T,
    beta1: T,
    beta2: T,
    epsilon: T,
    weight_decay: T,
    steps: i32,
    m: Vec<T>,
    v: Vec<T>,
    /// `sqrt(v)`: scratch space of the update, kept to not allocate on every step.
    root: Vec<T>,
}

impl<T: Scalar> Adam<T> {
    /// Adam with this step size and PyTorch's defaults: betas `(0.9, 0.999)`, epsilon `1e-8`,
    /// no weight decay.
    pub fn new(learning_rate: T) -> Self {
        Self {
            learning_rate,
            beta1: T::from_f64(0.9),
            beta2: T::from_f64(0.999),
            epsilon: T::from_f64(1e-8),
            weight_decay: T::ZERO,
            steps: 0,
            m: Vec::new(),
            v: Vec::new(),
            root: Vec::new(),
        }
    }

    /// With these decay rates of the first and second moment averages.
    #[must_use]
    pub fn betas(mut self, beta1: T, beta2: T) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// With this term added to the denominator: finite and above 0, or `fit` refuses the
    /// settings.
    #[must_use]
    pub fn epsilon(mut self, epsilon: T) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// With L2 weight decay added to every gradient (not AdamW's decoupled decay).
    #[must_use]
    pub fn weight_decay(mut self, weight_decay: T) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Updates made so far.
    pub fn steps(&self) -> u32 {
        self.steps.unsigned_abs()
    }
}

impl<T: Scalar> Optimizer<T> for Adam<T> {
    fn step<N: Parameters<Scalar = T>>(&mut self, net: &mut N, gradients: &N::Gradients) {
        state(&mut self.m, N::PARAMETERS);
        state(&mut self.v, N::PARAMETERS);
        state(&mut self.root, N::PARAMETERS);
        self.steps = self.steps.saturating_add(1);
        let Self {
            learning_rate,
            beta1,
            beta2,
            epsilon,
            weight_decay: decay,
            steps,
            m,
            v,
            root,
        } = self;
        let (beta1, beta2, epsilon, decay) = (*beta1, *beta2, *epsilon, *decay);
        let correction1 = 1.0 - libm::pow(beta1.to_f64(), f64::from(*steps));
        let correction2 = 1.0 - libm::pow(beta2.to_f64(), f64::from(*steps));
        let step_size = T::from_f64(learning_rate.to_f64() / correction1);
        let root_correction2 = T::from_f64(libm::sqrt(correction2));
        let smallest = smallest_normal::<T>();
        for_each_parameter(net, gradients, |offset, parameters, gradients| {
            let range = offset..offset + parameters.len();
            let (m, v) = (&mut m[range.clone()], &mut v[range.clone()]);
            let root = &mut root[range];
            // Three passes: `sqrt` is an instruction that the compiler does not vectorise, so
            // the arithmetic around it goes in loops of its own, which it does.
            // The two arithmetic passes run compiled for the CPU's widest vectors.
            with_widest(|| {
                let moments = parameters.iter().zip(gradients).zip(&mut *m).zip(&mut *v);
                for (((p, &g), m), v) in moments {
                    let g = g + decay * *p;
                    *m = flush(beta1 * *m + (T::ONE - beta1) * g, smallest);
                    *v = flush(beta2 * *v + (T::ONE - beta2) * g * g, smallest);
                }
            });
            for (root, v) in root.iter_mut().zip(&*v) {
                *root = v.sqrt();
            }
            with_widest(|| {
                for ((p, m), root) in parameters.iter_mut().zip(&*m).zip(&*root) {
                    let denominator = *root / root_correction2 + epsilon;
                    *p = flush(*p - step_size * *m / denominator, smallest);
                }
            });
        });
    }
    fn learning_rate(&self) -> T {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: T) {
        self.learning_rate = learning_rate;
    }

    fn check(&self) -> Result<(), String> {
        non_negative(&[
            ("learning rate", self.learning_rate),
            ("weight decay", self.weight_decay),
        ])?;
        // A parameter whose gradients are all zero (a dead ReLU's) would divide 0 by 0.
        if !(self.epsilon.is_finite() && self.epsilon > T::ZERO) {
            return Err(alloc::format!(
                "the epsilon must be finite and above 0 (a parameter whose gradients are all 0 \
                 would take 0 / 0), found {}",
                self.epsilon
            ));
        }
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(beta >= T::ZERO && beta < T::ONE) {
                return Err(alloc::format!("{name} must be in [0, 1), found {beta}"));
            }
        }
        Ok(())
    }
}
