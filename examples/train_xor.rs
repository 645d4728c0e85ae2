//! Learns XOR from random weights: the smallest problem a single layer cannot solve.
//!
//! ```sh
//! cargo run --example train_xor
//! ```

use nn::train::{Adam, BinaryCrossEntropy, Trainer, evaluate};
use std::ops::ControlFlow;
use std::process::ExitCode;

nn::network! {
    /// Two inputs, four tanh neurons, one sigmoid output: the probability that exactly one
    /// input is 1.
    pub struct Xor = 2 -> 4 tanh as hidden -> 1 sigmoid as output;
}

const INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const TARGETS: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), nn::train::TrainError> {
    let mut net = Xor::random(3);
    let before = evaluate(&*net, &BinaryCrossEntropy, &INPUTS, &TARGETS)?;
    println!(
        "random weights: loss {:.4}, accuracy {:.0}%",
        before.loss,
        100.0 * before.accuracy
    );

    // Full-batch Adam: all four samples in every step.
    let mut trainer = Trainer::new(BinaryCrossEntropy, Adam::new(0.05))
        .epochs(400)
        .batch_size(4);
    trainer.fit(&mut *net, &INPUTS, &TARGETS, |epoch| {
        if epoch.epoch % 100 == 0 {
            println!(
                "epoch {:>3}: loss {:.4}, accuracy {:.0}%",
                epoch.epoch,
                epoch.train.loss,
                100.0 * epoch.train.accuracy
            );
        }
        ControlFlow::Continue(())
    })?;

    for input in &INPUTS {
        let [p] = net.forward(input);
        println!("{} xor {} -> {p:.3}", input[0], input[1]);
    }
    Ok(())
}
