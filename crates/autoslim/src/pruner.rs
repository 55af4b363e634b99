//! [`RatioPruner`]: which subnets the sandwich rule trains.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::channels::{ChannelSpace, Subnet};

/// How a random subnet draws its widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// Each channel group draws its ratio independently (AutoSlim, MMRazor).
    #[default]
    PerGroup,
    /// One ratio for all groups (universally slimmable networks).
    Uniform,
}

/// Samples subnets of a [`ChannelSpace`] from a sorted list of width ratios.
///
/// The max subnet has every group at full width, the min subnet every group at the smallest
/// ratio; a random subnet draws a ratio from the list for each group (or one for all).
#[derive(Debug, Clone, PartialEq)]
pub struct RatioPruner {
    ratios: Vec<f64>,
    divisor: Option<usize>,
    sampling: Sampling,
}

impl RatioPruner {
    /// A pruner over `ratios`, which must be non-empty, sorted ascending, without repeats and
    /// in (0, 1].
    pub fn new(ratios: Vec<f64>, divisor: Option<usize>, sampling: Sampling) -> Result<Self, String> {
        if ratios.is_empty() {
            return Err("the list of ratios is empty".into());
        }
        if let Some(bad) = ratios.iter().find(|r| !(r.is_finite() && **r > 0.0 && **r <= 1.0)) {
            return Err(format!("ratio {bad} is outside (0, 1]"));
        }
        if ratios.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(format!("ratios must be sorted ascending without repeats, got {ratios:?}"));
        }
        if divisor == Some(0) {
            return Err("divisor must be at least 1".into());
        }
        Ok(Self { ratios, divisor, sampling })
    }

    /// AutoSlim's default: 2/12, 3/12, …, 12/12, per-group sampling, no divisor.
    pub fn autoslim_default() -> Self {
        Self::new((2..=12).map(|i| i as f64 / 12.0).collect(), None, Sampling::PerGroup).unwrap()
    }

    /// The ratios, ascending.
    pub fn ratios(&self) -> &[f64] {
        &self.ratios
    }

    /// The channel divisor, if any.
    pub fn divisor(&self) -> Option<usize> {
        self.divisor
    }

    /// Every group at full width.
    pub fn max_subnet(&self, space: &ChannelSpace) -> Subnet {
        Subnet::max(space)
    }

    /// Every group at the smallest ratio.
    pub fn min_subnet(&self, space: &ChannelSpace) -> Subnet {
        self.uniform_subnet(space, self.ratios[0])
    }

    /// Every group at one ratio.
    ///
    /// # Panics
    /// If a group would have no channels; ratios were validated, so only a group narrower than
    /// `1 / ratio` channels can.
    pub fn uniform_subnet(&self, space: &ChannelSpace, ratio: f64) -> Subnet {
        Subnet::uniform(space, ratio, self.divisor).unwrap_or_else(|err| panic!("{err}"))
    }

    /// A random subnet, as the sampling mode says.
    pub fn random_subnet(&self, space: &ChannelSpace, rng: &mut impl Rng) -> Subnet {
        let n = self.ratios.len();
        let ratios: Vec<f64> = match self.sampling {
            Sampling::PerGroup => space.groups().iter().map(|_| self.ratios[rng.random_range(0..n)]).collect(),
            Sampling::Uniform => vec![self.ratios[rng.random_range(0..n)]; space.groups().len()],
        };
        Subnet::from_ratios(space, &ratios, self.divisor).unwrap_or_else(|err| panic!("{err}"))
    }

    /// The subnets of one sandwich step: max, min, then `num_samples - 2` random ones.
    pub fn sandwich(&self, space: &ChannelSpace, num_samples: usize, rng: &mut impl Rng) -> Vec<Subnet> {
        let mut subnets = vec![self.max_subnet(space), self.min_subnet(space)];
        subnets.extend((2..num_samples).map(|_| self.random_subnet(space, rng)));
        subnets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SlimmableModel;
    use crate::models::{SlimCnn, SlimCnnConfig};
    use burn::backend::NdArray;
    use rand::SeedableRng;

    fn space() -> ChannelSpace {
        let model: SlimCnn<NdArray> = SlimCnnConfig::new(vec![24, 48, 96], vec![1, 2, 2]).init(&Default::default());
        model.space().clone()
    }

    #[test]
    fn sandwich_is_max_min_and_random() {
        let space = space();
        let pruner = RatioPruner::autoslim_default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let subnets = pruner.sandwich(&space, 4, &mut rng);
        assert_eq!(subnets.len(), 4);
        assert_eq!(subnets[0].as_slice(), &[24, 48, 96]);
        assert_eq!(subnets[1].as_slice(), &[4, 8, 16]);
        // Per-group sampling: over many draws, groups take different ratios.
        let draws: Vec<Subnet> = (0..50).map(|_| pruner.random_subnet(&space, &mut rng)).collect();
        assert!(draws.iter().any(|s| s.as_slice()[0] * 2 != s.as_slice()[1]));
        let all_bins = draws.iter().map(|s| s.as_slice()[0]).collect::<std::collections::BTreeSet<_>>();
        assert!(all_bins.len() >= 8, "{all_bins:?}");
        let uniform = RatioPruner::new(pruner.ratios().to_vec(), None, Sampling::Uniform).unwrap();
        for _ in 0..20 {
            let s = uniform.random_subnet(&space, &mut rng);
            assert_eq!(s.as_slice()[0] * 2, s.as_slice()[1]);
        }
    }

    #[test]
    fn bad_ratio_lists_are_errors() {
        assert!(RatioPruner::new(vec![], None, Sampling::PerGroup).unwrap_err().contains("empty"));
        assert!(RatioPruner::new(vec![0.5, 0.25], None, Sampling::PerGroup).unwrap_err().contains("sorted"));
        assert!(RatioPruner::new(vec![0.0, 0.5], None, Sampling::PerGroup).unwrap_err().contains("outside (0, 1]"));
        assert!(RatioPruner::new(vec![0.5, 1.2], None, Sampling::PerGroup).unwrap_err().contains("outside (0, 1]"));
    }
}
