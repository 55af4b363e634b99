//! Slimmable layers for [burn](https://burn.dev): one set of weights that runs at many widths.
//!
//! A slimmable layer is built at its *maximum* width and, at every forward pass, uses a prefix of
//! its channels: the first `k` input and output channels of the full weight. The width can change
//! from one forward pass to the next without reallocating or copying any parameter; the
//! gradient of a pass reaches only the active prefix (the rest of the gradient is exactly zero).
//!
//! | layer | plain burn twin | active width |
//! | --- | --- | --- |
//! | [`SlimConv2d`] (dense, grouped, depthwise) | [`burn::nn::conv::Conv2d`] | input channels from the input tensor, output channels per call |
//! | [`SlimLinear`] | [`burn::nn::Linear`] | input features from the input tensor, output features per call |
//! | [`SlimBatchNorm`] (1d and 2d) | [`burn::nn::BatchNorm`] | channels from the input tensor |
//! | [`SwitchableBatchNorm`] | one [`burn::nn::BatchNorm`] per subnet | channels from the input, subnet index per call |
//!
//! Each layer can export the plain burn layer at a given width (`to_plain`), with physically
//! smaller weights: that is what a searched subnet is deployed as.
//!
//! Every layer has a `try_forward` returning [`SlimError`] for a width the layer cannot run
//! (zero, above the maximum, a depthwise conv asked for an output width that differs from its
//! input width); `forward` panics with the same message.
//!
//! This crate depends on burn alone, so any burn model can use it; its `wgpu` and `cuda`
//! features add depthwise conv kernels of its own for those backends ([`depthwise_conv2d`]),
//! built on burn-cubecl and cubecl, the crates burn's GPU backends are made of. Processes that
//! compile those kernels ahead of training can split the work between them ([`LaunchShare`]).

// Tests name active blocks as one range per dimension, one-dimensional ones included.
#![cfg_attr(test, allow(clippy::single_range_in_vec_init))]

mod activation;
mod activation_precision;
#[cfg(feature = "cube")]
mod batch_norm_kernels;
#[cfg(feature = "cube")]
mod cube_launch;
#[cfg(feature = "kernels")]
mod batch_norm_op;
mod batch_norm_settings;
mod conv;
#[cfg(feature = "ndarray")]
mod cpu_conv;
mod depthwise;
mod error;
mod fused_sgd;
mod gemm_conv;
mod gemm_kernel;
#[cfg(feature = "cube")]
mod gemm_operands;
mod gemm_precision;
mod gemm_tiling;
mod im2col;
mod im2col_columns;
mod launch_share;
mod linear;
mod named;
#[cfg(feature = "ndarray")]
mod ndarray_values;
mod norm;
#[cfg(feature = "kernels")]
mod type_match;
mod width;

#[cfg(test)]
mod test_support;

pub use activation::Activation;
pub use activation_precision::{ActivationPrecision, activation_precision, residual_add, set_activation_precision, with_dtype};
pub use batch_norm_settings::{
    DEFAULT_BATCH_NORM_ONE_CUBE_MAX, DEFAULT_BATCH_NORM_ONE_CUBE_THREADS, MIN_BATCH_NORM_ONE_CUBE_THREADS, batch_norm_one_cube_max, batch_norm_one_cube_threads,
    set_batch_norm_one_cube_max, set_batch_norm_one_cube_threads,
};
pub use conv::{SlimConv2d, SlimConv2dConfig, conv_output_size};
pub use depthwise::{DEFAULT_DEPTHWISE_WGRAD_THREADS, depthwise_conv2d, depthwise_conv2d_active, depthwise_wgrad_threads, has_depthwise_kernels, set_depthwise_wgrad_threads};
pub use error::SlimError;
pub use fused_sgd::{FusedSgd, FusedSgdConfig, FusedSgdState, VelocityState};
pub use gemm_kernel::{GEMM_ALGORITHMS, GEMM_TILES, GemmKernel, DEFAULT_WGRAD_MATMUL, VERIFIED_GEMM_KERNELS, WGRAD_MATMULS, WgradStages, gemm_kernel_for, reset_gemm_kernel, set_gemm_kernel, set_wgrad_matmul, set_wgrad_stages,
    wgrad_matmul, wgrad_stages};
pub use gemm_precision::{GemmPrecision, gemm_precision, set_gemm_precision};
pub use gemm_tiling::{BF16_TILING, GemmChecks, GemmColumns, GemmStages, GemmTiling, gemm_checks, gemm_columns, gemm_stages, gemm_tiling_misses, set_gemm_checks, set_gemm_columns, set_gemm_stages};
pub use gemm_conv::{
    DEFAULT_CHANNEL_ALIGN, DEFAULT_GEMM_MIN_CHANNELS, DEFAULT_LAYOUT_COPY_ROWS, DEFAULT_WGRAD_MAX_BATCHES, WgradOrder, gemm_channel_align, gemm_conv2d, gemm_conv2d_active,
    gemm_min_channels, has_implicit_gemm, implicit_gemm_fallbacks, set_gemm_channel_align, set_gemm_min_channels, set_layout_copy_rows, set_wgrad_max_batches,
    set_wgrad_order, wgrad_order,
};
pub use im2col::{
    ConvAlgorithm, ConvGeometry, DEFAULT_IM2COL_BATCHES, DepthwiseForm, conv_algorithm, conv2d_im2col, depthwise_conv2d_matmul, im2col_batches, set_conv_algorithm, set_im2col_batches, subsample,
};
pub use launch_share::{LaunchCounts, LaunchShare, launch_counts, set_launch_share};
pub use linear::{SlimLinear, SlimLinearConfig};
pub use norm::{NormMode, SlimBatchNorm, SlimBatchNormConfig, SwitchableBatchNorm, SwitchableBatchNormConfig};
pub use width::{channels_for_ratio, make_divisible};

#[cfg(test)]
mod record_tests {
    use super::*;
    use crate::test_support::{NdArrayAd, assert_close, random};
    use burn::module::Module;
    use burn::record::{BinFileRecorder, FullPrecisionSettings};
    use burn::tensor::backend::Backend;

    #[derive(Module, Debug)]
    struct Tiny<B: Backend> {
        conv: SlimConv2d<B>,
        norm: SlimBatchNorm<B>,
        switchable: SwitchableBatchNorm<B>,
        head: SlimLinear<B>,
    }

    fn tiny<B: Backend>(device: &B::Device) -> Tiny<B> {
        Tiny {
            conv: SlimConv2dConfig::new([3, 8], [3, 3]).init(device),
            norm: SlimBatchNormConfig::new(8).init(device),
            switchable: SwitchableBatchNormConfig::new(8, 2).init(device),
            head: SlimLinearConfig::new(8, 4).init(device),
        }
    }

    #[test]
    fn a_record_saves_and_loads_back_identical() {
        let device = Default::default();
        let model = tiny::<NdArrayAd>(&device);
        // Parameters are initialised lazily: use every layer once, which also moves the
        // running statistics away from their initial values.
        let _ = model.conv.forward(random::<NdArrayAd, 4>([1, 3, 4, 4], &device), 8);
        let _ = model.head.forward(random::<NdArrayAd, 2>([1, 8], &device), 4);
        let _ = model.norm.forward(random::<NdArrayAd, 4>([4, 5, 2, 2], &device).add_scalar(3.0));
        let _ = model.switchable.forward(random::<NdArrayAd, 4>([4, 6, 2, 2], &device), 1);

        let dir = std::env::temp_dir().join(format!("slimmable-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tiny");
        let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
        model.clone().save_file(&path, &recorder).unwrap();
        let loaded = tiny::<NdArrayAd>(&device).load_file(&path, &recorder, &device).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_close(loaded.conv.weight.val(), model.conv.weight.val(), 1e-12);
        assert_close(loaded.conv.bias.unwrap().val(), model.conv.bias.unwrap().val(), 1e-12);
        assert_close(loaded.norm.gamma.val(), model.norm.gamma.val(), 1e-12);
        assert_close(loaded.norm.running_mean.value_sync(), model.norm.running_mean.value_sync(), 1e-12);
        assert_close(loaded.norm.running_var.value_sync(), model.norm.running_var.value_sync(), 1e-12);
        assert_close(
            loaded.switchable.norms[1].running_mean.value_sync(),
            model.switchable.norms[1].running_mean.value_sync(),
            1e-12,
        );
        assert_close(loaded.head.weight.val(), model.head.weight.val(), 1e-12);
    }
}
