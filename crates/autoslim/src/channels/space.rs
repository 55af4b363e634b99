//! [`ChannelSpace`]: the channel groups of a slimmable model, declared where it is built.

use burn::nn::PaddingConfig2d;
use burn::tensor::backend::Backend;
use slimmable::{SlimBatchNorm, SlimConv2d, SlimLinear, SwitchableBatchNorm};

/// Index of a channel group in its [`ChannelSpace`].
pub type GroupId = usize;

/// The channels on one side of a layer: a fixed count (the image's channels, the classes) or
/// a slimmable group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// Never slimmed.
    Fixed(usize),
    /// Slimmed with the group.
    Group(GroupId),
}

/// A set of layer outputs that must always have the same width (a conv and its BN, the
/// branches of a residual add, a depthwise conv and its producer).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelGroup {
    /// The group's name (by default, the first layer that produces it).
    pub name: String,
    /// The full width.
    pub max_channels: usize,
}

/// What kind of layer a [`LayerChannels`] describes; norm layers have only output channels in
/// channel files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// A convolution.
    Conv,
    /// A BatchNorm.
    Norm,
    /// A fully connected layer.
    Linear,
}

/// One layer's declared channels.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerChannels {
    /// The layer's name, as in channel files (`backbone.conv1.conv`).
    pub name: String,
    /// Conv, norm or linear.
    pub kind: LayerKind,
    /// Input side.
    pub input: Channels,
    /// Output side.
    pub output: Channels,
    /// Full input width.
    pub raw_in: usize,
    /// Full output width.
    pub raw_out: usize,
}

/// What an operation computes, as far as counting its FLOPs and parameters needs.
#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    /// A 2-d convolution.
    Conv {
        /// Kernel `[h, w]`.
        kernel_size: [usize; 2],
        /// Stride `[h, w]`.
        stride: [usize; 2],
        /// Dilation `[h, w]`.
        dilation: [usize; 2],
        /// Padding.
        padding: PaddingConfig2d,
        /// Input channels each output channel reads: fixed for a grouped or depthwise conv
        /// (its cost then scales with its width ratio r), `None` for a dense conv (r²).
        in_per_group: Option<usize>,
        /// Whether it has a bias.
        bias: bool,
    },
    /// A BatchNorm (scale and shift).
    Norm,
    /// A fully connected layer on pooled features.
    Linear {
        /// Whether it has a bias.
        bias: bool,
    },
    /// An elementwise activation (ReLU, ReLU6…); counted by the mmcv convention only.
    Activation,
    /// Global average pooling to 1×1; counted by the mmcv convention only.
    GlobalPool,
    /// Max or average pooling with a window (a ResNet stem's max pool): changes the spatial
    /// size; counted by the mmcv convention only.
    Pool {
        /// Window `[h, w]`.
        kernel_size: [usize; 2],
        /// Stride `[h, w]`.
        stride: [usize; 2],
        /// Zero padding on every side.
        padding: usize,
    },
}

/// One operation of the network in execution order, with the feature maps it reads and
/// writes. Feature map 0 is the input image; operation `i` writes feature map `i + 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// The layer's name (activations and pools are named after the layer they follow).
    pub name: String,
    /// What it computes.
    pub kind: OpKind,
    /// Its input channels.
    pub input: Channels,
    /// Its output channels.
    pub output: Channels,
    /// The feature map it reads.
    pub reads: usize,
}

/// A declaration that does not fit the layers it describes.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChannelError {
    /// A layer's real size disagrees with the group or fixed count it is declared on.
    #[error("layer `{layer}` has {actual} {side} channels, but is declared on {declared}")]
    SizeMismatch {
        /// The layer.
        layer: String,
        /// "input" or "output".
        side: &'static str,
        /// The layer's real size.
        actual: usize,
        /// What it was declared on.
        declared: String,
    },
    /// A grouped or depthwise conv whose input and output sit in different groups.
    #[error("depthwise/grouped conv `{layer}` must read and write one channel group, but reads {input} and writes {output}")]
    GroupedAcrossGroups {
        /// The layer.
        layer: String,
        /// Its input side.
        input: String,
        /// Its output side.
        output: String,
    },
    /// Two layers with the same name.
    #[error("layer name `{0}` is declared twice")]
    DuplicateLayer(String),
    /// A layer name that was never declared.
    #[error("no layer `{0}` was declared before")]
    UnknownLayer(String),
    /// A group that no layer writes.
    #[error("channel group `{0}` is declared but no layer produces it")]
    UnusedGroup(String),
    /// A group id that does not exist.
    #[error("layer `{layer}` refers to channel group #{group}, but only {count} groups exist")]
    UnknownGroup {
        /// The layer.
        layer: String,
        /// The id used.
        group: GroupId,
        /// How many groups exist.
        count: usize,
    },
}

/// The channel groups of a model and the layers that read and write them.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSpace {
    groups: Vec<ChannelGroup>,
    layers: Vec<LayerChannels>,
    ops: Vec<Op>,
}

impl ChannelSpace {
    /// Starts a declaration.
    pub fn builder() -> ChannelSpaceBuilder {
        ChannelSpaceBuilder::default()
    }

    /// The groups, in declaration order.
    pub fn groups(&self) -> &[ChannelGroup] {
        &self.groups
    }

    /// The layers, in declaration order.
    pub fn layers(&self) -> &[LayerChannels] {
        &self.layers
    }

    /// Every operation in execution order (layers, activations, pools), for counting costs.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The group with this name.
    pub fn group_by_name(&self, name: &str) -> Option<GroupId> {
        self.groups.iter().position(|group| group.name == name)
    }

    /// The layers whose output is a group (the group's members).
    pub fn members(&self, group: GroupId) -> impl Iterator<Item = &LayerChannels> {
        self.layers.iter().filter(move |layer| layer.output == Channels::Group(group))
    }
}

/// Builds a [`ChannelSpace`] from the model's real layers, checking each declaration against
/// the layer's size.
#[derive(Debug, Default)]
pub struct ChannelSpaceBuilder {
    groups: Vec<ChannelGroup>,
    layers: Vec<LayerChannels>,
    ops: Vec<Op>,
    /// The feature map the next operation reads (0: the image).
    current: usize,
    errors: Vec<ChannelError>,
}

impl ChannelSpaceBuilder {
    /// Declares a group of `max_channels` channels.
    pub fn group(&mut self, name: impl Into<String>, max_channels: usize) -> GroupId {
        self.groups.push(ChannelGroup { name: name.into(), max_channels });
        self.groups.len() - 1
    }

    /// Declares a conv reading `input` and writing `output`.
    pub fn conv<B: Backend>(&mut self, name: &str, conv: &SlimConv2d<B>, input: Channels, output: Channels) -> &mut Self {
        let [raw_in, raw_out] = conv.max_channels();
        if conv.groups > 1 && input != output {
            self.errors.push(ChannelError::GroupedAcrossGroups {
                layer: name.to_string(),
                input: self.describe(input),
                output: self.describe(output),
            });
        }
        let kind = OpKind::Conv {
            kernel_size: conv.kernel_size,
            stride: conv.stride,
            dilation: conv.dilation,
            padding: conv.padding.clone(),
            in_per_group: (conv.groups > 1).then(|| conv.in_per_group()),
            bias: conv.bias.is_some(),
        };
        self.op(name, kind, input, output);
        self.layer(name, LayerKind::Conv, input, output, raw_in, raw_out)
    }

    /// Declares a BatchNorm normalising `channels`.
    pub fn norm<B: Backend>(&mut self, name: &str, norm: &SlimBatchNorm<B>, channels: Channels) -> &mut Self {
        let n = norm.num_features();
        self.op(name, OpKind::Norm, channels, channels);
        self.layer(name, LayerKind::Norm, channels, channels, n, n)
    }

    /// Declares a switchable BatchNorm normalising `channels`.
    pub fn switchable_norm<B: Backend>(&mut self, name: &str, norm: &SwitchableBatchNorm<B>, channels: Channels) -> &mut Self {
        let n = norm.num_features();
        self.op(name, OpKind::Norm, channels, channels);
        self.layer(name, LayerKind::Norm, channels, channels, n, n)
    }

    /// Declares a linear layer reading `input` and writing `output`.
    pub fn linear<B: Backend>(&mut self, name: &str, linear: &SlimLinear<B>, input: Channels, output: Channels) -> &mut Self {
        let [raw_in, raw_out] = linear.max_features();
        self.op(name, OpKind::Linear { bias: linear.bias.is_some() }, input, output);
        self.layer(name, LayerKind::Linear, input, output, raw_in, raw_out)
    }

    /// Declares an elementwise activation on `channels` (counted by the mmcv convention).
    pub fn activation(&mut self, name: &str, channels: Channels) -> &mut Self {
        self.op(name, OpKind::Activation, channels, channels);
        self
    }

    /// Declares global average pooling of `channels` (counted by the mmcv convention).
    pub fn global_pool(&mut self, name: &str, channels: Channels) -> &mut Self {
        self.op(name, OpKind::GlobalPool, channels, channels);
        self
    }

    /// Declares a windowed pooling of `channels` (`k×k`, stride `s`, padding `p` per side).
    pub fn pool(&mut self, name: &str, channels: Channels, kernel: usize, stride: usize, padding: usize) -> &mut Self {
        let kind = OpKind::Pool { kernel_size: [kernel, kernel], stride: [stride, stride], padding };
        self.op(name, kind, channels, channels);
        self
    }

    /// Full width of a group declared before.
    ///
    /// # Panics
    /// If no such group was declared.
    pub fn max_channels(&self, group: GroupId) -> usize {
        self.groups[group].max_channels
    }

    /// Makes the next operation read the feature map that layer `name` read, as a residual
    /// shortcut conv reads its block's input. Operations otherwise read the output of the one
    /// declared before them.
    pub fn reads_input_of(&mut self, name: &str) -> &mut Self {
        match self.ops.iter().find(|op| op.name == name) {
            Some(op) => self.current = op.reads,
            None => self.errors.push(ChannelError::UnknownLayer(name.to_string())),
        }
        self
    }

    fn op(&mut self, name: &str, kind: OpKind, input: Channels, output: Channels) {
        self.ops.push(Op { name: name.to_string(), kind, input, output, reads: self.current });
        self.current = self.ops.len();
    }

    fn describe(&self, channels: Channels) -> String {
        match channels {
            Channels::Fixed(n) => format!("a fixed {n} channels"),
            Channels::Group(g) => match self.groups.get(g) {
                Some(group) => format!("group `{}` of {} channels", group.name, group.max_channels),
                None => format!("group #{g}"),
            },
        }
    }

    fn layer(&mut self, name: &str, kind: LayerKind, input: Channels, output: Channels, raw_in: usize, raw_out: usize) -> &mut Self {
        if self.layers.iter().any(|layer| layer.name == name) {
            self.errors.push(ChannelError::DuplicateLayer(name.to_string()));
        }
        for (side, channels, actual) in [("input", input, raw_in), ("output", output, raw_out)] {
            let declared = match channels {
                Channels::Fixed(n) => n,
                Channels::Group(g) => match self.groups.get(g) {
                    Some(group) => group.max_channels,
                    None => {
                        let count = self.groups.len();
                        self.errors.push(ChannelError::UnknownGroup { layer: name.to_string(), group: g, count });
                        continue;
                    }
                },
            };
            if declared != actual {
                let declared = self.describe(channels);
                self.errors.push(ChannelError::SizeMismatch { layer: name.to_string(), side, actual, declared });
            }
        }
        self.layers.push(LayerChannels { name: name.to_string(), kind, input, output, raw_in, raw_out });
        self
    }

    /// Finishes the declaration; the first inconsistency found is the error.
    pub fn build(mut self) -> Result<ChannelSpace, ChannelError> {
        for (id, group) in self.groups.iter().enumerate() {
            if !self.layers.iter().any(|layer| layer.output == Channels::Group(id)) {
                self.errors.push(ChannelError::UnusedGroup(group.name.clone()));
            }
        }
        match self.errors.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(ChannelSpace { groups: self.groups, layers: self.layers, ops: self.ops }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use slimmable::{SlimBatchNormConfig, SlimConv2dConfig};

    type B = NdArray;

    #[test]
    fn a_residual_with_branches_of_different_widths_names_the_layers() {
        let device = Default::default();
        let a = SlimConv2dConfig::new([3, 16], [3, 3]).init::<B>(&device);
        let b = SlimConv2dConfig::new([16, 32], [3, 3]).init::<B>(&device);
        let mut space = ChannelSpace::builder();
        let g = space.group("stage1", 16);
        space.conv("stem", &a, Channels::Fixed(3), Channels::Group(g));
        // The residual branch writes into the same group but has 32 outputs.
        space.conv("branch", &b, Channels::Group(g), Channels::Group(g));
        let err = space.build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer `branch` has 32 output channels, but is declared on group `stage1` of 16 channels"
        );
    }

    #[test]
    fn depthwise_conv_must_stay_in_its_group() {
        let device = Default::default();
        let stem = SlimConv2dConfig::new([3, 16], [3, 3]).init::<B>(&device);
        let dw = SlimConv2dConfig::new([16, 16], [3, 3]).with_groups(16).init::<B>(&device);
        let bn = SlimBatchNormConfig::new(16).init::<B>(&device);
        let mut space = ChannelSpace::builder();
        let g1 = space.group("a", 16);
        let g2 = space.group("b", 16);
        space.conv("stem", &stem, Channels::Fixed(3), Channels::Group(g1));
        space.conv("dw", &dw, Channels::Group(g1), Channels::Group(g2));
        space.norm("dw.bn", &bn, Channels::Group(g2));
        let err = space.build().unwrap_err();
        assert!(err.to_string().starts_with("depthwise/grouped conv `dw` must read and write one channel group"), "{err}");
    }

    #[test]
    fn a_consistent_declaration_builds() {
        let device = Default::default();
        let stem = SlimConv2dConfig::new([3, 16], [3, 3]).init::<B>(&device);
        let bn = SlimBatchNormConfig::new(16).init::<B>(&device);
        let mut space = ChannelSpace::builder();
        let g = space.group("stem", 16);
        space.conv("stem.conv", &stem, Channels::Fixed(3), Channels::Group(g));
        space.norm("stem.bn", &bn, Channels::Group(g));
        let space = space.build().unwrap();
        assert_eq!(space.members(g).count(), 2);
        assert_eq!(space.group_by_name("stem"), Some(0));
    }

    #[test]
    fn an_unused_group_is_an_error() {
        let mut space = ChannelSpace::builder();
        space.group("orphan", 8);
        assert_eq!(space.build().unwrap_err(), ChannelError::UnusedGroup("orphan".into()));
    }
}
