//! [`SlimConv2d`]: a 2D convolution whose input and output channels are chosen per forward pass.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::tensor::module::conv2d;

use crate::SlimError;
use crate::depthwise::depthwise_conv2d_active;
use crate::gemm_conv::gemm_conv2d_active;
use crate::im2col::{ConvGeometry, DepthwiseForm, conv2d_im2col, conv_algorithm, depthwise_conv2d_matmul, subsample};
use crate::error::check_width;

/// Configuration of a [`SlimConv2d`], built with [`SlimConv2dConfig::init`].
///
/// The fields mirror burn's [`Conv2dConfig`](burn::nn::conv::Conv2dConfig); `channels` is the
/// maximum (full) width.
#[derive(Config, Debug)]
pub struct SlimConv2dConfig {
    /// Maximum input and output channels, `[in, out]`.
    pub channels: [usize; 2],
    /// Kernel size, `[height, width]`.
    pub kernel_size: [usize; 2],
    /// Stride of the convolution.
    #[config(default = "[1, 1]")]
    pub stride: [usize; 2],
    /// Spacing between kernel elements.
    #[config(default = "[1, 1]")]
    pub dilation: [usize; 2],
    /// Number of groups at full width. The channels *per group* are fixed, so the number of
    /// groups follows the active width: a depthwise conv (`groups == channels[0]`) stays
    /// depthwise at every width.
    #[config(default = "1")]
    pub groups: usize,
    /// Padding, as in burn's own conv.
    #[config(default = "PaddingConfig2d::Valid")]
    pub padding: PaddingConfig2d,
    /// Whether the conv adds a bias.
    #[config(default = true)]
    pub bias: bool,
    /// Initializer of the weight and bias (burn's default for `Conv2d`).
    #[config(default = "Initializer::KaimingUniform{gain: 0.5773502691896258, fan_out_only: false}")]
    pub initializer: Initializer,
}

/// A 2D convolution that runs on a prefix of its channels.
///
/// At input width `c_in` (read from the input tensor) and output width `c_out` (per call), a
/// dense conv uses `weight[0..c_out, 0..c_in]`. A grouped conv keeps its channels per group and
/// uses the first `c_in / in_per_group` groups; its output width is then fixed by its input
/// width (for a depthwise conv, `c_out == c_in`).
#[derive(Module, Debug)]
pub struct SlimConv2d<B: Backend> {
    /// Weight of shape `[out_max, in_max / groups, kernel_h, kernel_w]`.
    pub weight: Param<Tensor<B, 4>>,
    /// Bias of shape `[out_max]`.
    pub bias: Option<Param<Tensor<B, 1>>>,
    /// Stride of the convolution.
    pub stride: [usize; 2],
    /// Size of the kernel.
    pub kernel_size: [usize; 2],
    /// Spacing between kernel elements.
    pub dilation: [usize; 2],
    /// Number of groups at full width.
    pub groups: usize,
    /// Padding configuration.
    pub padding: PaddingConfig2d,
}

impl SlimConv2dConfig {
    /// Checks the configuration: channels and groups must be positive and divide evenly.
    pub fn validate(&self) -> Result<(), SlimError> {
        let [c_in, c_out] = self.channels;
        if c_in == 0 || c_out == 0 || self.groups == 0 {
            return Err(SlimError::InvalidConfig(format!(
                "conv channels {:?} and groups {} must all be positive",
                self.channels, self.groups
            )));
        }
        if c_in % self.groups != 0 || c_out % self.groups != 0 {
            return Err(SlimError::InvalidConfig(format!(
                "conv channels {:?} are not divisible by groups {}",
                self.channels, self.groups
            )));
        }
        Ok(())
    }

    /// Builds the layer at its maximum width.
    ///
    /// # Panics
    /// If the configuration is invalid ([`SlimConv2dConfig::validate`] says why).
    pub fn init<B: Backend>(&self, device: &B::Device) -> SlimConv2d<B> {
        if let Err(err) = self.validate() {
            panic!("{err}");
        }
        let [c_in, c_out] = self.channels;
        let k = self.kernel_size[0] * self.kernel_size[1];
        let fan_in = c_in / self.groups * k;
        let fan_out = c_out / self.groups * k;
        let shape = [c_out, c_in / self.groups, self.kernel_size[0], self.kernel_size[1]];
        let weight = self.initializer.init_with(shape, Some(fan_in), Some(fan_out), device);
        let bias = self
            .bias
            .then(|| self.initializer.init_with([c_out], Some(fan_in), Some(fan_out), device));
        SlimConv2d {
            weight,
            bias,
            stride: self.stride,
            kernel_size: self.kernel_size,
            dilation: self.dilation,
            groups: self.groups,
            padding: self.padding.clone(),
        }
    }
}

impl<B: Backend> SlimConv2d<B> {
    /// Maximum `[in, out]` channels.
    pub fn max_channels(&self) -> [usize; 2] {
        let [out, in_per_group, _, _] = self.weight.dims();
        [in_per_group * self.groups, out]
    }

    /// The spatial size `[height, width]` of the output for an input of size `input`.
    pub fn output_size(&self, input: [usize; 2]) -> [usize; 2] {
        conv_output_size(&self.padding, self.kernel_size, self.stride, self.dilation, input)
    }

    /// Input channels per group (the full input width for a dense conv, 1 for a depthwise one).
    pub fn in_per_group(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Whether each input channel has its own group (a depthwise conv).
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.in_per_group() == 1
    }

    /// The output width a grouped conv must have at `in_channels`; `None` for a dense conv,
    /// whose output width is free.
    pub fn tied_out_channels(&self, in_channels: usize) -> Option<usize> {
        (self.groups > 1).then(|| in_channels / self.in_per_group() * (self.max_channels()[1] / self.groups))
    }

    /// Checks that the layer can run with `in_channels` inputs and `out_channels` outputs and
    /// returns the number of groups at that width.
    pub fn check_widths(&self, in_channels: usize, out_channels: usize) -> Result<usize, SlimError> {
        let [in_max, out_max] = self.max_channels();
        check_width("input channels", in_channels, in_max)?;
        check_width("output channels", out_channels, out_max)?;
        if self.groups == 1 {
            return Ok(1);
        }
        let in_per_group = self.in_per_group();
        if !in_channels.is_multiple_of(in_per_group) {
            return Err(SlimError::PartialGroup { in_channels, in_per_group });
        }
        let expected_out = self.tied_out_channels(in_channels).unwrap_or(out_channels);
        if out_channels != expected_out {
            return Err(SlimError::GroupedWidthMismatch {
                in_channels,
                out_channels,
                expected_out,
                in_per_group,
            });
        }
        Ok(in_channels / in_per_group)
    }

    /// The active weight at a width (a slice of the parameter: a copy on the cubecl
    /// backends unless the block happens to start and end on their memory alignment).
    fn active_weight(&self, in_channels: usize, out_channels: usize) -> Tensor<B, 4> {
        let [in_max, out_max] = self.max_channels();
        let weight = self.weight.val();
        match (in_channels == in_max && out_channels == out_max, self.groups) {
            (true, _) => weight,
            (false, 1) => weight.slice([0..out_channels, 0..in_channels]),
            (false, _) => weight.slice(0..out_channels),
        }
    }

    /// The active bias at a width.
    fn active_bias(&self, out_channels: usize) -> Option<Tensor<B, 1>> {
        self.bias.as_ref().map(|bias| match out_channels == self.max_channels()[1] {
            true => bias.val(),
            false => bias.val().slice(0..out_channels),
        })
    }

    /// Applies the convolution with `out_channels` outputs; the input width is the input's
    /// channel count. It runs the backend's `conv2d`, [`conv2d_im2col`], or the one for dense
    /// convs and the other for depthwise ones, as [`set_conv_algorithm`](crate::set_conv_algorithm)
    /// chose.
    ///
    /// # Shapes
    /// - `input`: `[batch, in_channels, height, width]`, `in_channels ≤ max`
    /// - output: `[batch, out_channels, height_out, width_out]`
    pub fn try_forward(&self, input: Tensor<B, 4>, out_channels: usize) -> Result<Tensor<B, 4>, SlimError> {
        let [_, in_channels, height, width] = input.dims();
        let groups = self.check_widths(in_channels, out_channels)?;
        let weight = || self.active_weight(in_channels, out_channels);
        let bias = self.active_bias(out_channels);
        let (top, bottom) = same_or_explicit(&self.padding, 0, self.kernel_size[0], self.stride[0], height);
        let (left, right) = same_or_explicit(&self.padding, 1, self.kernel_size[1], self.stride[1], width);
        let geometry = ConvGeometry {
            kernel: self.kernel_size,
            stride: self.stride,
            dilation: self.dilation,
            pad_start: [top, left],
            pad_end: [bottom, right],
        };
        // A strided 1×1 conv without padding reads every `stride`-th pixel: it runs as a
        // stride-1 conv of those pixels. burn 0.21's cubecl backends (wgpu, CUDA) compute a
        // wrong input gradient for a strided 1×1 conv (`subsample`'s tests).
        let pointwise_strided = self.kernel_size == [1, 1] && self.stride != [1, 1] && geometry.pad_start == [0, 0] && geometry.pad_end == [0, 0];
        let (input, geometry) = match pointwise_strided && groups == 1 {
            true => (subsample(input, self.stride), ConvGeometry { stride: [1, 1], ..geometry }),
            false => (input, geometry),
        };
        let algorithm = conv_algorithm();
        // burn's own conv takes the input in the weight's type (a bf16 activation cast back:
        // `ActivationPrecision`); this crate's convs take either.
        let native = |input: Tensor<B, 4>, weight: Tensor<B, 4>| {
            let dtype = weight.dtype();
            conv2d(crate::with_dtype(input, dtype), weight, bias.clone(), geometry.options(groups))
        };
        Ok(if self.is_depthwise() {
            match algorithm.depthwise() {
                DepthwiseForm::Native => native(input, weight()),
                DepthwiseForm::WeightedSum => conv2d_im2col(input, weight(), bias, &geometry, groups),
                DepthwiseForm::Matmul => depthwise_conv2d_matmul(input, weight(), bias, &geometry),
                // The full weight: the op reads the active channels in place.
                DepthwiseForm::Kernel => depthwise_conv2d_active(input, self.weight.val(), bias, &geometry),
            }
        } else if algorithm.dense_as_matmul(geometry.kernel, geometry.stride) {
            conv2d_im2col(input, weight(), bias, &geometry, groups)
        } else if algorithm.dense_as_gemm() && groups == 1 {
            // The full weight: the GEMM op reads the active block in place.
            gemm_conv2d_active(input, self.weight.val(), out_channels, bias, &geometry)
        } else {
            native(input, weight())
        })
    }

    /// [`try_forward`](Self::try_forward) that panics with the error's message.
    pub fn forward(&self, input: Tensor<B, 4>, out_channels: usize) -> Tensor<B, 4> {
        self.try_forward(input, out_channels)
            .unwrap_or_else(|err| panic!("SlimConv2d: {err}"))
    }

    /// A plain burn [`Conv2d`] holding copies of the active weights at a width: the deployed
    /// form of this layer in a subnet.
    pub fn to_plain(&self, in_channels: usize, out_channels: usize) -> Result<Conv2d<B>, SlimError> {
        let groups = self.check_widths(in_channels, out_channels)?;
        let weight = self.active_weight(in_channels, out_channels);
        let bias = self.active_bias(out_channels);
        Ok(Conv2d {
            weight: Param::from_tensor(weight.detach()),
            bias: bias.map(|bias| Param::from_tensor(bias.detach())),
            stride: self.stride,
            kernel_size: self.kernel_size,
            dilation: self.dilation,
            groups,
            padding: self.padding.clone(),
        })
    }
}

/// The spatial output size of a 2-d convolution, as burn computes it (`Same` padding gives
/// `ceil(input / stride)`).
pub fn conv_output_size(
    padding: &PaddingConfig2d,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    input: [usize; 2],
) -> [usize; 2] {
    std::array::from_fn(|axis| {
        let (before, after) = same_or_explicit(padding, axis, kernel_size[axis], stride[axis], input[axis]);
        let span = dilation[axis] * (kernel_size[axis] - 1) + 1;
        (input[axis] + before + after).saturating_sub(span) / stride[axis] + 1
    })
}

/// Padding before and after along one spatial axis (`axis` 0 = height, 1 = width), computed as
/// burn's own conv does.
fn same_or_explicit(padding: &PaddingConfig2d, axis: usize, kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    match padding {
        PaddingConfig2d::Valid => (0, 0),
        PaddingConfig2d::Explicit(top, left, bottom, right) => match axis {
            0 => (*top, *bottom),
            _ => (*left, *right),
        },
        PaddingConfig2d::Same => {
            let out = size.div_ceil(stride);
            let total = if out > 0 { ((out - 1) * stride + kernel).saturating_sub(size) } else { 0 };
            (total / 2, total - total / 2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_close, assert_inactive_zero, backend_tests, random};
    use burn::tensor::backend::AutodiffBackend;
    use burn::tensor::Distribution;

    fn dense<B: Backend>(device: &B::Device) -> SlimConv2d<B> {
        SlimConv2dConfig::new([12, 16], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_stride([2, 1])
            .init(device)
    }

    fn depthwise<B: Backend>(device: &B::Device) -> SlimConv2d<B> {
        SlimConv2dConfig::new([12, 12], [3, 3])
            .with_groups(12)
            .with_padding(PaddingConfig2d::Same)
            .init(device)
    }

    fn forward_matches_plain<B: AutodiffBackend>(device: &B::Device) {
        let dense = dense::<B>(device);
        for (c_in, c_out) in [(12, 16), (5, 9), (1, 1), (12, 3), (7, 16)] {
            let x = random::<B, 4>([2, c_in, 7, 6], device);
            let slim = dense.forward(x.clone(), c_out);
            let plain = dense.to_plain(c_in, c_out).unwrap();
            assert_eq!(plain.weight.dims(), [c_out, c_in, 3, 3]);
            assert_close(slim, plain.forward(x), 1e-5);
        }
        let dw = depthwise::<B>(device);
        for c in [12, 6, 1] {
            let x = random::<B, 4>([2, c, 5, 5], device);
            let plain = dw.to_plain(c, c).unwrap();
            assert_eq!(plain.groups, c);
            assert_close(dw.forward(x.clone(), c), plain.forward(x), 1e-5);
        }
        // A grouped conv with 2 input and 4 output channels per group, widths by whole groups.
        let grouped = SlimConv2dConfig::new([8, 16], [1, 1]).with_groups(4).init::<B>(device);
        let x = random::<B, 4>([1, 4, 3, 3], device);
        let plain = grouped.to_plain(4, 8).unwrap();
        assert_eq!(plain.groups, 2);
        assert_close(grouped.forward(x.clone(), 8), plain.forward(x), 1e-5);
    }

    fn gradients_reach_only_the_active_slice<B: AutodiffBackend>(device: &B::Device) {
        let conv = dense::<B>(device);
        let (c_in, c_out) = (5, 9);
        let x = random::<B, 4>([2, c_in, 7, 6], device);
        let probe = random::<B, 4>([2, c_out, 4, 6], device);
        let grads = conv.forward(x.clone(), c_out).mul(probe.clone()).sum().backward();
        let grad_w = conv.weight.grad(&grads).unwrap();
        let grad_b = conv.bias.as_ref().unwrap().grad(&grads).unwrap();
        assert_eq!(grad_w.dims(), [16, 12, 3, 3]);
        assert_inactive_zero(grad_w.clone(), &[0..c_out, 0..c_in]);
        assert_inactive_zero(grad_b.clone(), &[0..c_out]);

        let plain = conv.to_plain(c_in, c_out).unwrap();
        let plain_grads = plain.forward(x).mul(probe).sum().backward();
        assert_close(grad_w.slice([0..c_out, 0..c_in]), plain.weight.grad(&plain_grads).unwrap(), 1e-5);
        assert_close(grad_b.slice(0..c_out), plain.bias.unwrap().grad(&plain_grads).unwrap(), 1e-5);

        // Depthwise: only the first c filters get a gradient.
        let dw = depthwise::<B>(device);
        let grads = dw.forward(random::<B, 4>([2, 4, 5, 5], device), 4).sum().backward();
        assert_inactive_zero(dw.weight.grad(&grads).unwrap(), &[0..4]);
    }

    fn bad_widths_are_clear_errors<B: AutodiffBackend>(device: &B::Device) {
        let conv = dense::<B>(device);
        let x = random::<B, 4>([1, 4, 5, 5], device);
        let err = conv.try_forward(x.clone(), 0).unwrap_err();
        assert_eq!(err.to_string(), "a width of 0 output channels leaves the layer with no channels");
        let err = conv.try_forward(x, 17).unwrap_err();
        assert_eq!(err.to_string(), "17 output channels requested, but the layer was built with at most 16");
        let too_wide = Tensor::<B, 4>::random([1, 13, 5, 5], Distribution::Default, device);
        let err = conv.try_forward(too_wide, 8).unwrap_err();
        assert!(err.to_string().contains("13 input channels requested"), "{err}");

        let dw = depthwise::<B>(device);
        let err = dw.try_forward(random::<B, 4>([1, 6, 5, 5], device), 8).unwrap_err();
        assert!(matches!(err, SlimError::GroupedWidthMismatch { expected_out: 6, .. }));
        assert!(err.to_string().starts_with("depthwise conv: its output width follows its input width"));
    }

    backend_tests!(forward_matches_plain, gradients_reach_only_the_active_slice, bad_widths_are_clear_errors);

    #[test]
    #[should_panic(expected = "SlimConv2d: depthwise conv")]
    fn forward_panics_with_the_message() {
        let device = Default::default();
        let dw = depthwise::<crate::test_support::NdArrayAd>(&device);
        dw.forward(random([1, 3, 4, 4], &device), 5);
    }

    #[test]
    fn invalid_config_is_an_error() {
        let err = SlimConv2dConfig::new([6, 8], [3, 3]).with_groups(4).validate().unwrap_err();
        assert!(err.to_string().contains("not divisible by groups 4"));
    }
}
