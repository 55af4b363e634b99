//! MMRazor 0.x's channel configuration YAML.
//!
//! One entry per layer, keyed by its name:
//! ```yaml
//! backbone.conv1.conv:
//!   in_channels: 3
//!   out_channels: 8
//!   raw_in_channels: 3
//!   raw_out_channels: 48
//! backbone.conv1.bn:        # norm layers: out only
//!   out_channels: 8
//!   raw_out_channels: 48
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ChannelSpace, Channels, LayerKind, Subnet};

/// One layer's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerEntry {
    /// Active input channels (absent for norm layers).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub in_channels: Option<usize>,
    /// Active output channels.
    pub out_channels: usize,
    /// Full input channels (absent for norm layers).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw_in_channels: Option<usize>,
    /// Full output channels.
    pub raw_out_channels: usize,
}

/// A channel file that does not describe a subnet of the model.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChannelFileError {
    /// Not YAML of the expected shape.
    #[error("not a channel configuration (MMRazor 0.x YAML): {0}")]
    Parse(String),
    /// Names the model does not have.
    #[error("the channel file names layers this model does not have: {0}")]
    UnknownLayers(String),
    /// Layers of the model the file does not mention.
    #[error("the channel file is missing layers of this model: {0}")]
    MissingLayers(String),
    /// A raw (full) width that differs from the model's.
    #[error("layer `{layer}`: the file says raw {side} channels {file}, the model has {model}")]
    RawMismatch {
        /// The layer.
        layer: String,
        /// "in" or "out".
        side: &'static str,
        /// The file's number.
        file: usize,
        /// The model's number.
        model: usize,
    },
    /// A width of zero or above the raw width.
    #[error("layer `{layer}`: {side} channels {channels} must be in 1..={raw}")]
    OutOfRange {
        /// The layer.
        layer: String,
        /// "in" or "out".
        side: &'static str,
        /// The width in the file.
        channels: usize,
        /// The full width.
        raw: usize,
    },
    /// A width set on a side that is never slimmed.
    #[error("layer `{layer}`: its {side} channels are fixed at {raw}, the file asks for {channels}")]
    FixedChanged {
        /// The layer.
        layer: String,
        /// "in" or "out".
        side: &'static str,
        /// The width in the file.
        channels: usize,
        /// The fixed width.
        raw: usize,
    },
    /// Two layers of one channel group with different widths.
    #[error("layers `{first}` ({first_channels}) and `{second}` ({second_channels}) share channel group `{group}` but have different widths")]
    InconsistentGroup {
        /// The group.
        group: String,
        /// A layer that set the group.
        first: String,
        /// Its width.
        first_channels: usize,
        /// A layer that disagrees.
        second: String,
        /// Its width.
        second_channels: usize,
    },
}

fn list(names: impl Iterator<Item = String>) -> String {
    let names: Vec<String> = names.collect();
    let shown: Vec<String> = names.iter().take(5).map(|n| format!("`{n}`")).collect();
    match names.len() > 5 {
        true => format!("{} and {} more", shown.join(", "), names.len() - 5),
        false => shown.join(", "),
    }
}

impl Subnet {
    /// The subnet's channel configuration, one entry per layer.
    pub fn to_channel_cfg(&self, space: &ChannelSpace) -> BTreeMap<String, LayerEntry> {
        let width = |channels: Channels| match channels {
            Channels::Fixed(n) => n,
            Channels::Group(g) => self.channels(g),
        };
        space
            .layers()
            .iter()
            .map(|layer| {
                let has_input = layer.kind != LayerKind::Norm;
                let entry = LayerEntry {
                    in_channels: has_input.then(|| width(layer.input)),
                    out_channels: width(layer.output),
                    raw_in_channels: has_input.then_some(layer.raw_in),
                    raw_out_channels: layer.raw_out,
                };
                (layer.name.clone(), entry)
            })
            .collect()
    }

    /// The subnet as MMRazor 0.x channel YAML.
    pub fn to_yaml(&self, space: &ChannelSpace) -> String {
        serde_yaml_ng::to_string(&self.to_channel_cfg(space)).expect("a map of plain numbers serialises")
    }

    /// Reads a subnet of `space` from MMRazor 0.x channel YAML, checking every layer's name,
    /// raw widths and widths, and that the layers of a group agree.
    pub fn from_yaml(space: &ChannelSpace, text: &str) -> Result<Self, ChannelFileError> {
        let file: BTreeMap<String, LayerEntry> =
            serde_yaml_ng::from_str(text).map_err(|err| ChannelFileError::Parse(err.to_string()))?;
        let unknown: Vec<String> = file
            .keys()
            .filter(|name| !space.layers().iter().any(|layer| &layer.name == *name))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(ChannelFileError::UnknownLayers(list(unknown.into_iter())));
        }
        let missing = space.layers().iter().filter(|layer| !file.contains_key(&layer.name));
        let missing: Vec<String> = missing.map(|layer| layer.name.clone()).collect();
        if !missing.is_empty() {
            return Err(ChannelFileError::MissingLayers(list(missing.into_iter())));
        }

        let mut chosen: Vec<Option<(usize, String)>> = vec![None; space.groups().len()];
        for layer in space.layers() {
            let entry = &file[&layer.name];
            let mut sides = vec![("out", layer.output, entry.out_channels, entry.raw_out_channels, layer.raw_out)];
            if layer.kind != LayerKind::Norm {
                let (Some(channels), Some(raw)) = (entry.in_channels, entry.raw_in_channels) else {
                    return Err(ChannelFileError::Parse(format!(
                        "layer `{}` needs in_channels and raw_in_channels",
                        layer.name
                    )));
                };
                sides.push(("in", layer.input, channels, raw, layer.raw_in));
            }
            for (side, declared, channels, raw_file, raw_model) in sides {
                let layer_name = layer.name.clone();
                if raw_file != raw_model {
                    return Err(ChannelFileError::RawMismatch { layer: layer_name, side, file: raw_file, model: raw_model });
                }
                if channels == 0 || channels > raw_model {
                    return Err(ChannelFileError::OutOfRange { layer: layer_name, side, channels, raw: raw_model });
                }
                match declared {
                    Channels::Fixed(raw) if channels != raw => {
                        return Err(ChannelFileError::FixedChanged { layer: layer_name, side, channels, raw });
                    }
                    Channels::Fixed(_) => {}
                    Channels::Group(g) => match &chosen[g] {
                        Some((first_channels, first)) if *first_channels != channels => {
                            return Err(ChannelFileError::InconsistentGroup {
                                group: space.groups()[g].name.clone(),
                                first: first.clone(),
                                first_channels: *first_channels,
                                second: layer_name,
                                second_channels: channels,
                            });
                        }
                        Some(_) => {}
                        None => chosen[g] = Some((channels, layer_name)),
                    },
                }
            }
        }
        let channels = chosen
            .into_iter()
            .zip(space.groups())
            .map(|(choice, group)| choice.map_or(group.max_channels, |(channels, _)| channels))
            .collect();
        Ok(Subnet::new(space, channels).expect("every width was checked against its raw width"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use slimmable::{SlimBatchNormConfig, SlimConv2dConfig, SlimLinearConfig};

    fn space() -> ChannelSpace {
        let device = Default::default();
        let conv = SlimConv2dConfig::new([3, 16], [3, 3]).init::<NdArray>(&device);
        let bn = SlimBatchNormConfig::new(16).init::<NdArray>(&device);
        let fc = SlimLinearConfig::new(16, 10).init::<NdArray>(&device);
        let mut space = ChannelSpace::builder();
        let g = space.group("stem", 16);
        space.conv("backbone.conv1.conv", &conv, Channels::Fixed(3), Channels::Group(g));
        space.norm("backbone.conv1.bn", &bn, Channels::Group(g));
        space.linear("head.fc", &fc, Channels::Group(g), Channels::Fixed(10));
        space.build().unwrap()
    }

    #[test]
    fn yaml_round_trips_in_mmrazor_shape() {
        let space = space();
        let subnet = Subnet::new(&space, vec![6]).unwrap();
        let yaml = subnet.to_yaml(&space);
        assert!(yaml.contains("backbone.conv1.bn:\n  out_channels: 6\n  raw_out_channels: 16\n"), "{yaml}");
        assert!(yaml.contains(
            "backbone.conv1.conv:\n  in_channels: 3\n  out_channels: 6\n  raw_in_channels: 3\n  raw_out_channels: 16\n"
        ));
        assert_eq!(Subnet::from_yaml(&space, &yaml).unwrap(), subnet);
    }

    #[test]
    fn mismatched_files_are_named_errors() {
        let space = space();
        let good = Subnet::new(&space, vec![6]).unwrap().to_yaml(&space);
        let renamed = good.replace("head.fc", "head.linear");
        assert_eq!(
            Subnet::from_yaml(&space, &renamed).unwrap_err().to_string(),
            "the channel file names layers this model does not have: `head.linear`"
        );
        let raw = good.replace("raw_out_channels: 16\nbackbone.conv1.conv", "raw_out_channels: 32\nbackbone.conv1.conv");
        assert!(matches!(Subnet::from_yaml(&space, &raw), Err(ChannelFileError::RawMismatch { file: 32, model: 16, .. })));
        let above = good.replacen("out_channels: 6\n  raw_out_channels: 16", "out_channels: 17\n  raw_out_channels: 16", 1);
        assert_eq!(
            Subnet::from_yaml(&space, &above).unwrap_err().to_string(),
            "layer `backbone.conv1.bn`: out channels 17 must be in 1..=16"
        );
        let split = good.replacen("out_channels: 6\n  raw_out_channels: 16", "out_channels: 5\n  raw_out_channels: 16", 1);
        assert!(Subnet::from_yaml(&space, &split).unwrap_err().to_string().contains("share channel group `stem`"));
        assert!(matches!(Subnet::from_yaml(&space, "[1, 2"), Err(ChannelFileError::Parse(_))));
    }
}
