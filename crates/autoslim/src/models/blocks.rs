//! Building blocks the zoo shares: a slimmable conv with its switchable BatchNorm, declared in
//! the model's [`ChannelSpace`] as it is built, and its plain (deployed) counterpart.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use slimmable::{Activation, NormMode, SlimConv2d, SlimConv2dConfig, SlimError, SwitchableBatchNorm, SwitchableBatchNormConfig};

use crate::channels::{ChannelSpaceBuilder, Channels, Subnet};

/// The active width of one side of a layer in `subnet`.
pub fn width(channels: Channels, subnet: &Subnet) -> usize {
    match channels {
        Channels::Fixed(n) => n,
        Channels::Group(group) => subnet.channels(group),
    }
}

/// Full width of one side of a layer.
pub fn max_width(channels: Channels, space: &ChannelSpaceBuilder) -> usize {
    match channels {
        Channels::Fixed(n) => n,
        Channels::Group(group) => space.max_channels(group),
    }
}

/// The geometry of a square conv: kernel, stride, `same`-style padding `kernel / 2`, and
/// whether it is depthwise.
#[derive(Debug, Clone, Copy)]
pub struct ConvShape {
    /// Kernel size (square).
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// One group per channel.
    pub depthwise: bool,
}

impl ConvShape {
    /// A dense `k×k` conv.
    pub fn dense(kernel: usize, stride: usize) -> Self {
        Self { kernel, stride, depthwise: false }
    }

    /// A depthwise `k×k` conv.
    pub fn depthwise(kernel: usize, stride: usize) -> Self {
        Self { kernel, stride, depthwise: true }
    }
}

/// Builds a bias-free slimmable conv from `input` to `output` and declares it as `name`.
pub fn declare_conv<B: Backend>(
    space: &mut ChannelSpaceBuilder,
    name: &str,
    input: Channels,
    output: Channels,
    shape: ConvShape,
    device: &B::Device,
) -> SlimConv2d<B> {
    let (c_in, c_out) = (max_width(input, space), max_width(output, space));
    let pad = shape.kernel / 2;
    let conv = SlimConv2dConfig::new([c_in, c_out], [shape.kernel, shape.kernel])
        .with_stride([shape.stride, shape.stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_groups(if shape.depthwise { c_in } else { 1 })
        .with_bias(false)
        .init(device);
    space.conv(name, &conv, input, output);
    conv
}

/// Builds a switchable BatchNorm with `norm_sets` sets over `channels` and declares it as `name`.
pub fn declare_norm<B: Backend>(
    space: &mut ChannelSpaceBuilder,
    name: &str,
    channels: Channels,
    norm_sets: usize,
    device: &B::Device,
) -> SwitchableBatchNorm<B> {
    let norm = SwitchableBatchNormConfig::new(max_width(channels, space), norm_sets).init(device);
    space.switchable_norm(name, &norm, channels);
    norm
}

/// A slimmable conv and its switchable BatchNorm (mmcv's `ConvModule`: `{name}.conv`,
/// `{name}.bn`).
#[derive(Module, Debug)]
pub struct SlimConvBn<B: Backend> {
    /// The convolution.
    pub conv: SlimConv2d<B>,
    /// Its BatchNorm.
    pub bn: SwitchableBatchNorm<B>,
    output: Channels,
}

impl<B: Backend> SlimConvBn<B> {
    /// Builds and declares `{name}.conv` and `{name}.bn`, plus an activation `{name}.act` when
    /// `activation` is set (for the mmcv FLOPs convention).
    #[allow(clippy::too_many_arguments)] // a conv and its norm: each argument is one of theirs
    pub fn declare(
        space: &mut ChannelSpaceBuilder,
        name: &str,
        input: Channels,
        output: Channels,
        shape: ConvShape,
        activation: bool,
        norm_sets: usize,
        device: &B::Device,
    ) -> Self {
        let conv = declare_conv(space, &format!("{name}.conv"), input, output, shape, device);
        let bn = declare_norm(space, &format!("{name}.bn"), output, norm_sets, device);
        if activation {
            space.activation(&format!("{name}.act"), output);
        }
        Self { conv, bn, output }
    }

    /// Conv then BatchNorm, at the subnet's widths and with its BatchNorm set.
    pub fn forward(&self, x: Tensor<B, 4>, subnet: &Subnet, norm: NormMode) -> Tensor<B, 4> {
        self.forward_activation(x, subnet, norm, Activation::Identity)
    }

    /// Conv, then BatchNorm and `activation` in one pass.
    pub fn forward_activation(&self, x: Tensor<B, 4>, subnet: &Subnet, norm: NormMode, activation: Activation) -> Tensor<B, 4> {
        let out = width(self.output, subnet);
        self.bn.forward_activation(self.conv.forward(x, out), subnet.norm_set(), norm, activation)
    }

    /// The output side.
    pub fn output(&self) -> Channels {
        self.output
    }

    /// A plain copy at `subnet`, reading `c_in` channels.
    pub fn to_plain(&self, c_in: usize, subnet: &Subnet) -> Result<ConvBn<B>, SlimError> {
        let c_out = width(self.output, subnet);
        Ok(ConvBn { conv: self.conv.to_plain(c_in, c_out)?, bn: self.bn.to_plain(subnet.norm_set(), c_out)? })
    }
}

/// A plain conv and its BatchNorm.
#[derive(Module, Debug)]
pub struct ConvBn<B: Backend> {
    /// The convolution.
    pub conv: Conv2d<B>,
    /// Its BatchNorm.
    pub bn: BatchNorm<B>,
}

impl<B: Backend> ConvBn<B> {
    /// Conv then BatchNorm.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.bn.forward(self.conv.forward(x))
    }
}

/// ReLU6, `min(max(x, 0), 6)` (MobileNetV2's activation).
pub fn relu6<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    x.clamp(0.0, 6.0)
}
