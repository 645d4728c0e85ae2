//! A spam filter's shape: 50 hashed word-count features, 64 ReLU neurons, one sigmoid score.
//!
//! The weights here are random (seeded), so the scores are not meaningful until you load
//! trained weights; what is real is the feature pipeline, the batch API and the types: a
//! message becomes exactly `[f32; 50]`, and a batch of scores is computed in one call.

use std::process::ExitCode;

nn::network! {
    /// Scores a message: near 1 is spam, near 0 is not.
    pub struct Spam = 50 -> 64 relu as hidden -> 1 sigmoid as score;
}

/// Hashed bag of words: each lower-cased word adds one to bucket `hash(word) % 50`, and the
/// counts are scaled by the message length so long messages are not all spam.
fn features(message: &str) -> [f32; Spam::INPUTS] {
    let mut counts = [0.0f32; Spam::INPUTS];
    let mut words = 0u16;
    for word in message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        // FNV-1a: a stable hash, so features do not change between runs or Rust versions.
        let hash = word
            .to_lowercase()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        let bucket = usize::try_from(hash % Spam::INPUTS as u64).expect("bucket < 50");
        counts[bucket] += 1.0;
        words = words.saturating_add(1);
    }
    let scale = 1.0 / f32::from(words.max(1));
    counts.map(|c| c * scale)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), nn::Error> {
    let messages = [
        "WIN a FREE cruise!!! Click now to claim your prize",
        "Are we still meeting for lunch tomorrow?",
        "Cheap meds, no prescription, limited offer, buy now",
        "The quarterly report is attached, comments welcome",
    ];
    let net = Spam::random(7);
    let inputs: Vec<[f32; Spam::INPUTS]> = messages.iter().map(|m| features(m)).collect();
    let mut scores = vec![[0.0f32; Spam::OUTPUTS]; inputs.len()];
    net.forward_batch(&inputs, &mut scores)?;
    println!("{}", Spam::summary());
    println!("scores from untrained (random) weights:");
    for (message, [score]) in messages.iter().zip(&scores) {
        println!("  {score:.3}  {message}");
    }
    Ok(())
}
