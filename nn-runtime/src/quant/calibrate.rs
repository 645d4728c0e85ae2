//! Choosing activations' quantisation from sample inputs.

use super::Quantization;
use crate::Error;
use alloc::format;
use alloc::vec::Vec;

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
    method: Calibration,
    /// Per tensor: `[min, max]` for [`Calibration::MinMax`], every value otherwise.
    values: Vec<Vec<f32>>,
    names: &'static [&'static str],
}

impl Observer {
    /// An observer of the tensors named `names` (the network's input, then each layer's
    /// output).
    ///
    /// # Errors
    ///
    /// [`Error::Calibration`] for a percentile outside `(50, 100]`.
    pub fn new(method: Calibration, names: &'static [&'static str]) -> Result<Self, Error> {
        if let Calibration::Percentile(p) = method
            && !(p > 50.0 && p <= 100.0)
        {
            return Err(Error::Calibration {
                reason: format!("the percentile must be in (50, 100], found {p}"),
            });
        }
        let empty = match method {
            Calibration::MinMax => Vec::from([f32::INFINITY, f32::NEG_INFINITY]),
            Calibration::Percentile(_) => Vec::new(),
        };
        Ok(Self {
            method,
            values: names.iter().map(|_| empty.clone()).collect(),
            names,
        })
    }

    /// Records the values tensor `tensor` took on one sample.
    ///
    /// # Errors
    ///
    /// [`Error::Calibration`] for a NaN or infinite value, naming the tensor.
    ///
    /// # Panics
    ///
    /// When `tensor` is not below the number of names given to [`Observer::new`].
    pub fn observe(&mut self, tensor: usize, values: &[f32]) -> Result<(), Error> {
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::Calibration {
                reason: format!("{} holds {bad} on a sample", self.names[tensor]),
            });
        }
        let seen = &mut self.values[tensor];
        match self.method {
            Calibration::MinMax => {
                for &v in values {
                    seen[0] = seen[0].min(v);
                    seen[1] = seen[1].max(v);
                }
            }
            Calibration::Percentile(_) => seen.extend_from_slice(values),
        }
        Ok(())
    }

    /// The quantisation of tensor `tensor`, from the values observed.
    ///
    /// # Errors
    ///
    /// [`Error::Calibration`] when no sample was observed.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    pub fn quantization(&self, tensor: usize) -> Result<Quantization, Error> {
        let seen = &self.values[tensor];
        let empty = || Error::Calibration {
            reason: format!(
                "no sample reached {}: calibrate with at least one",
                self.names[tensor]
            ),
        };
        match self.method {
            Calibration::MinMax => {
                if seen[0] > seen[1] {
                    return Err(empty());
                }
                Ok(Quantization::from_range(seen[0], seen[1]))
            }
            Calibration::Percentile(p) => {
                if seen.is_empty() {
                    return Err(empty());
                }
                let mut sorted = seen.clone();
                sorted.sort_unstable_by(f32::total_cmp);
                let last = sorted.len() - 1;
                let high = (libm::round(f64::from(p) / 100.0 * last as f64) as usize).min(last);
                Ok(Quantization::from_range(sorted[last - high], sorted[high]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

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
