//! The model zoo: slimmable classifiers that declare their channel groups, and their plain
//! (deployed) counterparts.
//!
//! - [`SlimCnn`]: a plain conv stack, for quick experiments;
//! - [`SlimMobileNetV2`]: MobileNetV2 with mmcls's names (MMRazor's AutoSlim files load);
//! - [`SlimResNet`]: ResNet with basic or bottleneck blocks (ResNet-18/34/50/101 and the
//!   CIFAR-style ResNet-20/32/44/56/110).

mod blocks;
mod cnn;
mod mobilenet_v2;
mod resnet;

pub use blocks::{ConvBn, ConvShape, SlimConvBn, declare_conv, declare_norm, relu6, width};
pub use cnn::{PlainCnn, PlainCnnBackbone, PlainCnnConfig, PlainCnnHead, SlimCnn, SlimCnnConfig};
pub use mobilenet_v2::{
    InvertedResidual, MobileNetV2, MobileNetV2Backbone, MobileNetV2Config, MobileNetV2Head, SlimInvertedResidual,
    SlimMobileNetV2, SlimMobileNetV2Backbone, SlimMobileNetV2Config, SlimMobileNetV2Head, make_divisible,
};
pub use resnet::{
    BasicBlock, Bottleneck, ResNet, ResNetBackbone, ResNetBlock, ResNetConfig, ResNetHead, SlimResNet, SlimResNetBackbone,
    SlimResNetBlock, SlimResNetConfig, SlimResNetHead,
};
