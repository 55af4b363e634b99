//! [`SlimCnn`]: a plain stack of conv–BN–ReLU layers, global pooling and a linear classifier.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::adaptive_avg_pool2d;
use slimmable::{NormMode, SlimBatchNorm, SlimBatchNormConfig, SlimConv2d, SlimConv2dConfig, SlimLinear, SlimLinearConfig};

use crate::channels::{ChannelSpace, Channels, Subnet};
use crate::model::SlimmableModel;

/// Configuration of a [`SlimCnn`].
#[derive(Config, Debug)]
pub struct SlimCnnConfig {
    /// Output channels of each 3×3 conv, at full width.
    pub channels: Vec<usize>,
    /// Stride of each conv (same length as `channels`).
    pub strides: Vec<usize>,
    /// Image channels (never slimmed).
    #[config(default = 1)]
    pub in_channels: usize,
    /// Classes (never slimmed).
    #[config(default = 10)]
    pub num_classes: usize,
}

/// `[conv3×3 → BN → ReLU] × n → global average pool → linear`, every conv its own channel
/// group. Layer names: `backbone.layers.{i}.conv`, `backbone.layers.{i}.bn`, `head.fc`.
#[derive(Module, Debug)]
pub struct SlimCnn<B: Backend> {
    /// The convolutions.
    pub convs: Vec<SlimConv2d<B>>,
    /// One BatchNorm per conv.
    pub norms: Vec<SlimBatchNorm<B>>,
    /// The classifier.
    pub head: SlimLinear<B>,
    space: ChannelSpace,
    num_classes: usize,
}

impl SlimCnnConfig {
    /// Builds the model, declaring its channel groups.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<SlimCnn<B>, String> {
        if self.channels.is_empty() || self.channels.len() != self.strides.len() {
            return Err(format!(
                "SlimCnn needs as many strides as channels (and at least one): channels {:?}, strides {:?}",
                self.channels, self.strides
            ));
        }
        if self.channels.contains(&0) || self.strides.contains(&0) || self.in_channels == 0 || self.num_classes == 0 {
            return Err("SlimCnn channels, strides, in_channels and num_classes must be positive".into());
        }
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut space = ChannelSpace::builder();
        let mut input = Channels::Fixed(self.in_channels);
        let mut c_in = self.in_channels;
        for (i, (&c_out, &stride)) in self.channels.iter().zip(&self.strides).enumerate() {
            let conv = SlimConv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device);
            let norm = SlimBatchNormConfig::new(c_out).init(device);
            let group = Channels::Group(space.group(format!("backbone.layers.{i}"), c_out));
            space.conv(&format!("backbone.layers.{i}.conv"), &conv, input, group);
            space.norm(&format!("backbone.layers.{i}.bn"), &norm, group);
            convs.push(conv);
            norms.push(norm);
            input = group;
            c_in = c_out;
        }
        let head = SlimLinearConfig::new(c_in, self.num_classes).init(device);
        space.linear("head.fc", &head, input, Channels::Fixed(self.num_classes));
        let space = space.build().map_err(|err| err.to_string())?;
        Ok(SlimCnn { convs, norms, head, space, num_classes: self.num_classes })
    }

    /// Builds the model.
    ///
    /// # Panics
    /// If the configuration is invalid ([`try_init`](Self::try_init) says why).
    pub fn init<B: Backend>(&self, device: &B::Device) -> SlimCnn<B> {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl<B: Backend> SlimmableModel<B> for SlimCnn<B> {
    fn space(&self) -> &ChannelSpace {
        &self.space
    }

    fn forward_subnet(&self, images: Tensor<B, 4>, subnet: &Subnet, norm: NormMode) -> Tensor<B, 2> {
        let mut x = images;
        for (group, (conv, bn)) in self.convs.iter().zip(&self.norms).enumerate() {
            x = relu(bn.forward_mode(conv.forward(x, subnet.channels(group)), norm));
        }
        let x = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.head.forward(x, self.num_classes)
    }
}
