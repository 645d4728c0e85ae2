//! Choosing activations' quantisation from sample inputs.

use super::Quantization;
use crate::Error;
use alloc::collections::BinaryHeap;
use alloc::format;
use alloc::vec::Vec;
use core::cmp::Reverse;

/// How calibration turns the values a tensor took on the samples into its range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Calibration {
    /// The smallest and largest values seen: nothing saturates on the samples.
    MinMax,
    /// The values at this percentile and its mirror (`Percentile(99.99)`: from the 0.01th to
    /// the 99.99th), in `(50, 100]`: rare outliers saturate, the rest get finer steps.
    Percentile(f32),
}

/// Collects, tensor by tensor, the values a network's activations take on calibration samples,
/// then gives each its [`Quantization`].
#[derive(Clone, Debug)]
pub struct Observer {
    seen: Vec<Seen>,
    names: &'static [&'static str],
    /// How many times each tensor was observed: the index of its next sample.
    observed: Vec<usize>,
}

/// What an observer keeps of one tensor's values.
#[derive(Clone, Debug)]
enum Seen {
    /// The smallest and the largest ([`Calibration::MinMax`]).
    Range([f32; 2]),
    /// Every value (a percentile, the count of values unknown).
    All { percentile: f32, values: Vec<f32> },
    /// A percentile's two tails, the count of values known (`expected`, set by the first
    /// sample): the `tail` smallest and the `tail` largest values as ordered keys ([`key`]),
    /// `tail` being the count from the percentile's rank to the end. For `Percentile(99.99)`,
    /// 200 samples of a `[32, 64, 64]` output are 26.2 million values, all kept before (four
    /// bytes each), of which the tails are 2,622 at each end.
    Tails {
        percentile: f32,
        samples: usize,
        expected: usize,
        observed: usize,
        tail: usize,
        smallest: BinaryHeap<u32>,
        largest: BinaryHeap<Reverse<u32>>,
    },
}

/// `value` as a key whose order is [`f32::total_cmp`]'s.
fn key(value: f32) -> u32 {
    let bits = value.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    }
}

/// The value of [`key`]'s `key`.
fn value(key: u32) -> f32 {
    f32::from_bits(if key >> 31 == 1 {
        key & !(1 << 31)
    } else {
        !key
    })
}

/// The rank (from 0, ascending) of `percentile`'s value among `count` values, and its mirror
/// at `count - 1 - rank`: the nearest rank, `round(p / 100 * (count - 1))`.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn rank(percentile: f32, count: usize) -> usize {
    let last = count - 1;
    (libm::round(f64::from(percentile) / 100.0 * last as f64) as usize).min(last)
}

impl Observer {
    /// An observer of the tensors named `names` (the network's input, then each layer's
    /// output), for any number of samples: a percentile keeps every value observed (four bytes
    /// each) until [`Observer::quantization`].
    ///
    /// # Errors
    ///
    /// [`Error::Calibration`] for a percentile outside `(50, 100]`.
    pub fn new(method: Calibration, names: &'static [&'static str]) -> Result<Self, Error> {
        Self::with_samples(method, names, None)
    }

    /// [`Observer::new`] for exactly `samples` samples, each tensor observed once per sample
    /// with values of one length: a percentile then keeps only the values of its two tails (the
    /// generated `calibrate` uses this).
    ///
    /// # Errors
    ///
    /// [`Error::Calibration`] for a percentile outside `(50, 100]`.
    pub fn for_samples(
        method: Calibration,
        names: &'static [&'static str],
        samples: usize,
    ) -> Result<Self, Error> {
        Self::with_samples(method, names, Some(samples))
    }

    fn with_samples(
        method: Calibration,
        names: &'static [&'static str],
        samples: Option<usize>,
    ) -> Result<Self, Error> {
        if let Calibration::Percentile(p) = method
            && !(p > 50.0 && p <= 100.0)
        {
            return Err(Error::Calibration {
                reason: format!("the percentile must be in (50, 100], found {p}"),
            });
        }
        let empty = match (method, samples) {
            (Calibration::MinMax, _) => Seen::Range([f32::INFINITY, f32::NEG_INFINITY]),
            (Calibration::Percentile(percentile), None) => Seen::All {
                percentile,
                values: Vec::new(),
            },
            (Calibration::Percentile(percentile), Some(samples)) => Seen::Tails {
                percentile,
                samples,
                expected: 0,
                observed: 0,
                tail: 0,
                smallest: BinaryHeap::new(),
                largest: BinaryHeap::new(),
            },
        };
        Ok(Self {
            seen: names.iter().map(|_| empty.clone()).collect(),
            names,
            observed: alloc::vec![0; names.len()],
        })
    }

    /// Records the values tensor `tensor` took on one sample (the samples of a tensor are
    /// counted from 0 in the order observed).
    ///
    /// # Errors
    ///
    /// [`Error::Calibration`] for a NaN or infinite value, naming the tensor, the sample and
    /// where in it, or, for an observer of a known number of samples, more values than they
    /// hold.
    ///
    /// # Panics
    ///
    /// When `tensor` is not below the number of names given to [`Observer::new`].
    pub fn observe(&mut self, tensor: usize, values: &[f32]) -> Result<(), Error> {
        let sample = self.observed[tensor];
        self.observed[tensor] += 1;
        if let Some((at, bad)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Calibration {
                reason: format!(
                    "{} holds {bad} on sample {sample} (value {at} of {})",
                    self.names[tensor],
                    values.len()
                ),
            });
        }
        match &mut self.seen[tensor] {
            Seen::Range(range) => {
                for &v in values {
                    range[0] = range[0].min(v);
                    range[1] = range[1].max(v);
                }
            }
            Seen::All { values: all, .. } => all.extend_from_slice(values),
            Seen::Tails {
                percentile,
                samples,
                expected,
                observed,
                tail,
                smallest,
                largest,
            } => {
                if *observed == 0 {
                    *expected = samples.saturating_mul(values.len());
                    if *expected > 0 {
                        *tail = *expected - rank(*percentile, *expected);
                    }
                }
                *observed += values.len();
                if *observed > *expected {
                    return Err(Error::Calibration {
                        reason: format!(
                            "{} was observed with more than the {expected} values of the \
                             {samples} samples declared",
                            self.names[tensor]
                        ),
                    });
                }
                for &v in values {
                    let k = key(v);
                    if smallest.len() < *tail {
                        smallest.push(k);
                    } else if smallest.peek().is_some_and(|&top| k < top) {
                        smallest.pop();
                        smallest.push(k);
                    }
                    if largest.len() < *tail {
                        largest.push(Reverse(k));
                    } else if largest.peek().is_some_and(|&Reverse(bottom)| k > bottom) {
                        largest.pop();
                        largest.push(Reverse(k));
                    }
                }
            }
        }
        Ok(())
    }

    /// The quantisation of tensor `tensor`, from the values observed.
    ///
    /// # Errors
    ///
    /// [`Error::Calibration`] when no sample was observed, or, for an observer of a known
    /// number of samples, fewer values than they hold.
    pub fn quantization(&self, tensor: usize) -> Result<Quantization, Error> {
        let empty = || Error::Calibration {
            reason: format!(
                "no sample reached {}: calibrate with at least one",
                self.names[tensor]
            ),
        };
        match &self.seen[tensor] {
            Seen::Range([min, max]) => {
                if min > max {
                    return Err(empty());
                }
                Ok(Quantization::from_range(*min, *max))
            }
            Seen::All {
                percentile,
                values: all,
            } => {
                if all.is_empty() {
                    return Err(empty());
                }
                let mut sorted = all.clone();
                sorted.sort_unstable_by(f32::total_cmp);
                let high = rank(*percentile, sorted.len());
                Ok(Quantization::from_range(
                    sorted[sorted.len() - 1 - high],
                    sorted[high],
                ))
            }
            Seen::Tails {
                expected,
                observed,
                smallest,
                largest,
                ..
            } => {
                if *observed == 0 {
                    return Err(empty());
                }
                if observed != expected {
                    return Err(Error::Calibration {
                        reason: format!(
                            "{} was observed with {observed} values, expected {expected}",
                            self.names[tensor]
                        ),
                    });
                }
                // The tails' innermost values: ranks `count - 1 - high` and `high`.
                match (smallest.peek(), largest.peek()) {
                    (Some(&low), Some(&Reverse(high))) => {
                        Ok(Quantization::from_range(value(low), value(high)))
                    }
                    _ => Err(empty()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    /// The tails of an observer of known samples give the percentiles of every value kept,
    /// for several percentiles, sample counts and lengths, with repeated values and both
    /// signs; the ordered keys round-trip; a count of values other than declared is an error.
    #[test]
    fn the_tails_give_the_percentiles_of_every_value() {
        for v in [
            0.0,
            -0.0,
            1.5,
            -1.5,
            f32::MIN_POSITIVE,
            -f32::MAX,
            f32::MAX,
            1e-40,
        ] {
            assert_eq!(value(key(v)).to_bits(), v.to_bits());
        }
        let mut state = 7_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            #[allow(clippy::cast_precision_loss)]
            let v = (state >> 40) as f32 / 1000.0 - 8000.0;
            // Repeats, as ReLU's zeros.
            if state >> 60 == 0 { 0.0 } else { v }
        };
        for percentile in [50.5, 90.0, 99.0, 99.99, 100.0] {
            for (samples, length) in [(1, 1), (1, 7), (3, 50), (64, 37), (200, 100)] {
                let method = Calibration::Percentile(percentile);
                let mut all = Observer::new(method, &["x"]).unwrap();
                let mut tails = Observer::for_samples(method, &["x"], samples).unwrap();
                for _ in 0..samples {
                    let values: Vec<f32> = (0..length).map(|_| next()).collect();
                    all.observe(0, &values).unwrap();
                    tails.observe(0, &values).unwrap();
                }
                assert_eq!(
                    all.quantization(0).unwrap(),
                    tails.quantization(0).unwrap(),
                    "{percentile} {samples} {length}"
                );
                assert!(tails.observe(0, &[1.0]).is_err());
            }
        }
        let mut short = Observer::for_samples(Calibration::Percentile(99.0), &["x"], 2).unwrap();
        short.observe(0, &[1.0, 2.0]).unwrap();
        assert!(short.quantization(0).is_err());
    }

    #[test]
    fn min_max_and_percentiles() {
        let mut minmax = Observer::new(Calibration::MinMax, &["input"]).unwrap();
        let mut p = Observer::new(Calibration::Percentile(99.0), &["input"]).unwrap();
        let values: Vec<f32> = (0..=100).map(|v| v as f32).collect();
        minmax.observe(0, &values).unwrap();
        p.observe(0, &values).unwrap();
        assert_eq!(
            minmax.quantization(0).unwrap(),
            Quantization::from_range(0.0, 100.0)
        );
        assert_eq!(
            p.quantization(0).unwrap(),
            Quantization::from_range(1.0, 99.0)
        );
        assert!(minmax.observe(0, &[f32::NAN]).is_err());
        assert!(Observer::new(Calibration::Percentile(20.0), &[]).is_err());
        let fresh = Observer::new(Calibration::MinMax, &["input"]).unwrap();
        assert!(
            fresh
                .quantization(0)
                .unwrap_err()
                .to_string()
                .contains("input")
        );
    }
}
