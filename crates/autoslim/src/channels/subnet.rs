//! [`Subnet`]: one active channel count per channel group.

use slimmable::channels_for_ratio;

use super::{ChannelSpace, GroupId};

/// A channel configuration: the active width of every group of a [`ChannelSpace`], and which
/// set of switchable BatchNorms it normalises with (0 unless several subnets are retrained
/// jointly).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Subnet {
    channels: Vec<usize>,
    #[serde(default)]
    norm_set: usize,
}

impl Subnet {
    /// A subnet from explicit channel counts, one per group in declaration order.
    ///
    /// # Errors
    /// A wrong number of counts, or a count that is 0 or above the group's maximum.
    pub fn new(space: &ChannelSpace, channels: Vec<usize>) -> Result<Self, String> {
        if channels.len() != space.groups().len() {
            return Err(format!(
                "a subnet of this model has {} channel groups, got {} channel counts",
                space.groups().len(),
                channels.len()
            ));
        }
        for (group, &count) in space.groups().iter().zip(&channels) {
            if count == 0 || count > group.max_channels {
                return Err(format!(
                    "group `{}` can hold 1..={} channels, got {count}",
                    group.name, group.max_channels
                ));
            }
        }
        Ok(Self { channels, norm_set: 0 })
    }

    /// Every group at full width.
    pub fn max(space: &ChannelSpace) -> Self {
        Self { channels: space.groups().iter().map(|group| group.max_channels).collect(), norm_set: 0 }
    }

    /// Every group at the same width ratio.
    pub fn uniform(space: &ChannelSpace, ratio: f64, divisor: Option<usize>) -> Result<Self, String> {
        Self::from_ratios(space, &vec![ratio; space.groups().len()], divisor)
    }

    /// Each group at its own ratio.
    pub fn from_ratios(space: &ChannelSpace, ratios: &[f64], divisor: Option<usize>) -> Result<Self, String> {
        let channels = space
            .groups()
            .iter()
            .zip(ratios)
            .map(|(group, &ratio)| {
                channels_for_ratio(group.max_channels, ratio, divisor)
                    .map_err(|err| format!("group `{}`: {err}", group.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(space, channels)
    }

    /// The active channels of a group.
    ///
    /// # Panics
    /// If the group does not exist in the subnet's space.
    pub fn channels(&self, group: GroupId) -> usize {
        self.channels[group]
    }

    /// The active channels of every group, in declaration order.
    pub fn as_slice(&self) -> &[usize] {
        &self.channels
    }

    /// The index of the switchable BatchNorm set this subnet uses (see
    /// [`slimmable::SwitchableBatchNorm`]); 0 for a model with one set.
    pub fn norm_set(&self) -> usize {
        self.norm_set
    }

    /// The same channels, normalised by switchable BatchNorm set `index`.
    pub fn with_norm_set(mut self, index: usize) -> Self {
        self.norm_set = index;
        self
    }

    /// Replaces the width of one group (used by the greedy search).
    pub fn with_channels(mut self, group: GroupId, channels: usize) -> Self {
        self.channels[group] = channels;
        self
    }
}
