//! AutoSlim's greedy channel search.
//!
//! Every channel group is divided into `bins` equal steps of width (12 by default, so the
//! group widths are the ratios 1/12 … 12/12 of its channels). Starting from the full network,
//! each step tries removing one bin from each group in turn, scores every candidate on held-out
//! images, and keeps the best. Whenever the FLOPs fall to or below a target for the first time,
//! the subnet of that moment is the result for the target. The search ends when every target
//! has its subnet.
//!
//! The whole state is a small serialisable value ([`SearchState`]): the caller writes it after
//! every step and passes it back to continue an interrupted search where it stopped.

use serde::{Deserialize, Serialize};
use slimmable::channels_for_ratio;

use crate::channels::{ChannelSpace, Subnet};
use crate::cost::{Convention, Short, count};

/// What the search looks for and how it counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    /// Width steps per group.
    pub bins: usize,
    /// FLOPs targets, in any order.
    pub targets: Vec<u64>,
    /// FLOPs convention of the targets.
    pub convention: Convention,
    /// Input image size `[height, width]` the FLOPs are counted at.
    pub input_size: [usize; 2],
    /// Channel counts rounded to a multiple of this, if set.
    pub divisor: Option<usize>,
}

/// One subnet the search scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Channels per group.
    pub channels: Vec<usize>,
    /// Its FLOPs.
    pub flops: u64,
    /// Its held-out score (accuracy in %).
    pub score: f64,
}

/// A target and the subnet found for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Found {
    /// The FLOPs target.
    pub target: u64,
    /// The first subnet on the greedy path at or below it.
    pub subnet: Scored,
}

/// Everything a search needs to continue: its settings, the current bins, the greedy path so
/// far and the targets found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchState {
    /// The settings it was started with.
    pub settings: SearchSettings,
    /// What was searched (checkpoint and config), to refuse resuming another search's state.
    pub fingerprint: String,
    /// Current bins per group.
    pub bins: Vec<usize>,
    /// The greedy path: the full network first, then one subnet per step.
    pub path: Vec<Scored>,
    /// Targets with their subnets, largest target first.
    pub found: Vec<Found>,
}

/// A search that cannot run.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SearchError {
    /// Bad settings.
    #[error("{0}")]
    Settings(String),
    /// A target below what the smallest subnet costs.
    #[error(
        "FLOPs target {target} ({short}) is below the smallest subnet's {min} ({min_short}, every group at 1/{bins} of its channels); the smallest target possible is {min}"
    )]
    TargetTooSmall {
        /// The target.
        target: u64,
        /// Its short form.
        short: String,
        /// The smallest subnet's FLOPs.
        min: u64,
        /// Its short form.
        min_short: String,
        /// Bins per group.
        bins: usize,
    },
    /// A saved state from a different search.
    #[error("the saved search state is for another search ({0}); delete it or start afresh")]
    StateMismatch(String),
}

/// The greedy search over one model's channel groups.
pub struct GreedySearch<'a> {
    space: &'a ChannelSpace,
    state: SearchState,
}

impl<'a> GreedySearch<'a> {
    /// Starts a search, or continues `saved` if given (it must come from the same settings and
    /// fingerprint). `score` is called once for the full network when starting afresh.
    pub fn new(
        space: &'a ChannelSpace,
        settings: SearchSettings,
        fingerprint: String,
        saved: Option<SearchState>,
        score: impl FnOnce(&Subnet) -> f64,
    ) -> Result<Self, SearchError> {
        if settings.bins < 2 {
            return Err(SearchError::Settings(format!("bins: need at least 2 width steps per group, got {}", settings.bins)));
        }
        if settings.targets.is_empty() {
            return Err(SearchError::Settings("targets: give at least one FLOPs target".into()));
        }
        if settings.input_size.contains(&0) {
            return Err(SearchError::Settings(format!("input_size: must be positive, got {:?}", settings.input_size)));
        }
        let min_bins = vec![1; space.groups().len()];
        let min = count(space, &subnet_at(space, &settings, &min_bins), settings.input_size, settings.convention).flops;
        if let Some(&target) = settings.targets.iter().filter(|&&t| t < min).min() {
            return Err(SearchError::TargetTooSmall {
                target,
                short: Short(target).to_string(),
                min,
                min_short: Short(min).to_string(),
                bins: settings.bins,
            });
        }
        let state = match saved {
            Some(state) => {
                if state.settings != settings || state.fingerprint != fingerprint {
                    return Err(SearchError::StateMismatch(format!(
                        "saved: {} with {:?}; now: {} with {:?}",
                        state.fingerprint, state.settings, fingerprint, settings
                    )));
                }
                state
            }
            None => {
                let bins = vec![settings.bins; space.groups().len()];
                let full = subnet_at(space, &settings, &bins);
                let flops = count(space, &full, settings.input_size, settings.convention).flops;
                let first = Scored { channels: full.as_slice().to_vec(), flops, score: score(&full) };
                let mut state = SearchState { settings, fingerprint, bins, path: vec![first], found: Vec::new() };
                record_targets(&mut state);
                state
            }
        };
        Ok(Self { space, state })
    }

    /// The state to save.
    pub fn state(&self) -> &SearchState {
        &self.state
    }

    /// Whether every target has its subnet.
    pub fn done(&self) -> bool {
        self.state.found.len() == self.state.settings.targets.len()
    }

    /// The subnet at the current bins.
    pub fn current(&self) -> Subnet {
        subnet_at(self.space, &self.state.settings, &self.state.bins)
    }

    /// The candidates of the next step: for each group that can still shrink, the current
    /// subnet with that group one bin narrower (more bins if rounding leaves the width
    /// unchanged). Returns (group, its new bins, the subnet).
    pub fn candidates(&self) -> Vec<(usize, usize, Subnet)> {
        let settings = &self.state.settings;
        let current = self.current();
        let mut out = Vec::new();
        for group in 0..self.space.groups().len() {
            let mut bins = self.state.bins.clone();
            while bins[group] > 1 {
                bins[group] -= 1;
                let subnet = subnet_at(self.space, settings, &bins);
                if subnet.channels(group) < current.channels(group) {
                    out.push((group, bins[group], subnet));
                    break;
                }
            }
        }
        out
    }

    /// One greedy step: scores every candidate with `score`, keeps the best (ties: the one
    /// with fewer FLOPs), and records the targets it reaches. `None` when done or when no group
    /// can shrink.
    pub fn step(&mut self, mut score: impl FnMut(&Subnet) -> f64) -> Option<&Scored> {
        if self.done() {
            return None;
        }
        let settings = self.state.settings.clone();
        let mut best: Option<(usize, usize, Scored)> = None;
        for (group, bins, subnet) in self.candidates() {
            let flops = count(self.space, &subnet, settings.input_size, settings.convention).flops;
            let scored = Scored { channels: subnet.as_slice().to_vec(), flops, score: score(&subnet) };
            let better = match &best {
                None => true,
                Some((_, _, b)) => scored.score > b.score || (scored.score == b.score && scored.flops < b.flops),
            };
            if better {
                best = Some((group, bins, scored));
            }
        }
        let (group, bins, scored) = best?;
        self.state.bins[group] = bins;
        self.state.path.push(scored);
        record_targets(&mut self.state);
        self.state.path.last()
    }
}

/// The subnet with each group at `bins[g] / settings.bins` of its channels.
pub fn subnet_at(space: &ChannelSpace, settings: &SearchSettings, bins: &[usize]) -> Subnet {
    let channels = space
        .groups()
        .iter()
        .zip(bins)
        .map(|(group, &b)| {
            let ratio = b as f64 / settings.bins as f64;
            channels_for_ratio(group.max_channels, ratio, settings.divisor).unwrap_or(1).clamp(1, group.max_channels)
        })
        .collect();
    Subnet::new(space, channels).expect("widths are clamped to 1..=max")
}

/// Records, for each target not yet found, the newest subnet on the path if it is at or below.
fn record_targets(state: &mut SearchState) {
    let last = state.path.last().expect("the path starts with the full network").clone();
    let mut targets = state.settings.targets.clone();
    targets.sort_unstable_by(|a, b| b.cmp(a));
    for target in targets {
        if last.flops <= target && !state.found.iter().any(|f| f.target == target) {
            state.found.push(Found { target, subnet: last.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::Channels;
    use burn::backend::NdArray;
    use slimmable::{SlimConv2dConfig, SlimLinearConfig};

    type B = NdArray;

    /// Two dense 3×3 convs of 12 and 24 channels on 8×8 images, then a classifier.
    fn space() -> ChannelSpace {
        let device = Default::default();
        let a = SlimConv2dConfig::new([1, 12], [3, 3]).with_bias(false).init::<B>(&device);
        let b = SlimConv2dConfig::new([12, 24], [3, 3]).with_bias(false).init::<B>(&device);
        let fc = SlimLinearConfig::new(24, 10).init::<B>(&device);
        let mut space = ChannelSpace::builder();
        let ga = Channels::Group(space.group("a", 12));
        let gb = Channels::Group(space.group("b", 24));
        space.conv("a", &a, Channels::Fixed(1), ga).conv("b", &b, ga, gb).linear("fc", &fc, gb, Channels::Fixed(10));
        space.build().unwrap()
    }

    fn settings(targets: Vec<u64>) -> SearchSettings {
        SearchSettings { bins: 12, targets, convention: Convention::Paper, input_size: [8, 8], divisor: None }
    }

    /// A score that prefers keeping group `b` wide: accuracy falls 3 points per bin of `b`,
    /// 1 point per bin of `a`.
    fn score(subnet: &Subnet) -> f64 {
        100.0 - (12 - subnet.channels(0)) as f64 - 3.0 * (24 - subnet.channels(1)) as f64 / 2.0
    }

    #[test]
    fn the_search_removes_the_cheapest_bins_first_and_records_each_target() {
        let space = space();
        let full = count(&space, &Subnet::max(&space), [8, 8], Convention::Paper).flops;
        let targets = vec![full * 3 / 4, full / 2];
        let mut search = GreedySearch::new(&space, settings(targets.clone()), "t".into(), None, score).unwrap();
        while search.step(score).is_some() {}
        assert!(search.done());
        let state = search.state();
        // Group `a` loses a bin at every step, as the score prefers, until the targets are met.
        for pair in state.path.windows(2) {
            assert_eq!(pair[1].channels[1], 24, "group b kept: {:?}", state.path);
            assert_eq!(pair[1].channels[0] + 1, pair[0].channels[0]);
        }
        assert_eq!(state.found.len(), 2);
        for found in &state.found {
            assert!(found.subnet.flops <= found.target);
            // The one before it on the path was still above the target.
            let i = state.path.iter().position(|s| s == &found.subnet).unwrap();
            assert!(state.path[i - 1].flops > found.target);
        }
    }

    #[test]
    fn a_resumed_search_ends_where_an_uninterrupted_one_does() {
        let space = space();
        let full = count(&space, &Subnet::max(&space), [8, 8], Convention::Paper).flops;
        let targets = vec![full / 3];
        let mut whole = GreedySearch::new(&space, settings(targets.clone()), "t".into(), None, score).unwrap();
        while whole.step(score).is_some() {}

        let mut first = GreedySearch::new(&space, settings(targets.clone()), "t".into(), None, score).unwrap();
        first.step(score);
        first.step(score);
        let saved: SearchState = serde_json::from_str(&serde_json::to_string(first.state()).unwrap()).unwrap();
        let mut resumed = GreedySearch::new(&space, settings(targets.clone()), "t".into(), Some(saved.clone()), |_| {
            unreachable!("a resumed search does not rescore the full network")
        })
        .unwrap();
        while resumed.step(score).is_some() {}
        assert_eq!(resumed.state(), whole.state());

        let other = GreedySearch::new(&space, settings(targets), "another checkpoint".into(), Some(saved), score);
        assert!(matches!(other, Err(SearchError::StateMismatch(_))));
    }

    #[test]
    fn a_target_below_the_smallest_subnet_is_an_error() {
        let space = space();
        let err = GreedySearch::new(&space, settings(vec![10]), "t".into(), None, score).err().unwrap();
        assert!(err.to_string().starts_with("FLOPs target 10 (10) is below the smallest subnet's"), "{err}");
        let err = GreedySearch::new(&space, settings(vec![]), "t".into(), None, score).err().unwrap();
        assert_eq!(err.to_string(), "targets: give at least one FLOPs target");
    }
}
