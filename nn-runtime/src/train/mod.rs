//! Training: gradients, activation derivatives, losses, optimizers and a mini-batch trainer.
//!
//! `network!` generates, next to each network `Net`, a `NetGradients` struct (one
//! [`DenseGradients`] per layer) and `Net::accumulate_gradients`: the forward pass, keeping each
//! layer's pre-activations and outputs in statically sized locals, then backpropagation into the
//! gradients, with no heap allocation. [`Trainable`] is that interface for generic code, such as
//! the [`Trainer`] and the optimizers ([`Sgd`], [`Adam`]).
//!
//! A [`Loss`] is implemented only for the output activations it fits, so
//! `net.accumulate_gradients(.., &BinaryCrossEntropy, ..)` on a `softmax` network is a compile
//! error that names the mismatch.

mod batchnorm;
mod causal;
mod conv;
mod dense;
pub mod derivative;
mod descent;
mod dropout;
mod layernorm;
mod loss;
pub mod output;
mod pool;
mod recurrent;
mod trainable;

#[cfg(feature = "alloc")]
mod optim;
#[cfg(feature = "alloc")]
mod trainer;

pub use batchnorm::{
    BatchNormGradients, batchnorm_backward_input, batchnorm_backward_one, batchnorm_train,
    batchnorm_train_one,
};
pub use conv::{Conv1dGradients, Conv2dGradients, conv1d_backward_input, conv2d_backward_input};
pub use dense::{DenseGradients, backward_input, backward_input_chunk, forward_chunk, forward_one};
pub use descent::sgd_step;
pub use dropout::{MaskKey, Masks, dropout_train};
pub use layernorm::{LayerNormGradients, layernorm_backward_input};
pub use loss::{BinaryCrossEntropy, CrossEntropy, Loss, Mse};
pub use output::OutputActivation;
pub use pool::{
    avgpool1d_backward, avgpool2d_backward, flatten_backward, global_avgpool_backward,
    global_maxpool_backward, maxpool1d_backward, maxpool2d_backward,
};
pub use recurrent::{GruGradients, LstmGradients, RnnGradients};
pub use trainable::{Gradients, Outcome, Parameters, Trainable};

#[cfg(feature = "alloc")]
#[doc(hidden)]
pub use batchnorm::rows;
#[cfg(feature = "alloc")]
pub use optim::{Adam, Optimizer, Sgd};
#[cfg(feature = "alloc")]
pub use trainer::{Epoch, Evaluation, History, Schedule, TrainError, Trainer, evaluate};
