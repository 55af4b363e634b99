//! [`SlimmableModel`]: what a model provides to be trained, searched and deployed by AutoSlim.

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use slimmable::NormMode;

use crate::channels::{ChannelSpace, Subnet};

/// A classifier built from slimmable layers, with its channel groups declared.
///
/// Implementing it for your own burn model takes two things: keep the [`ChannelSpace`]
/// declared when the model is built, and run the forward pass at the widths a [`Subnet`] gives
/// each group. No tracing, no patching.
pub trait SlimmableModel<B: Backend>: Module<B> + ModuleDisplay {
    /// The model's channel groups and layers.
    fn space(&self) -> &ChannelSpace;

    /// Logits `[batch, classes]` of `images` `[batch, channels, height, width]` at `subnet`,
    /// with BatchNorm statistics chosen by `norm`.
    fn forward_subnet(&self, images: Tensor<B, 4>, subnet: &Subnet, norm: NormMode) -> Tensor<B, 2>;
}
