//! [`SlimResNet`]: ResNet (He et al., 2016) with basic or bottleneck blocks, named as mmcls's
//! ResNet: `backbone.conv1`, `backbone.bn1`, `backbone.layer{i}.{j}.conv{1,2,3}` and
//! `.bn{1,2,3}`, `.downsample.0` (conv) and `.downsample.1` (BN), `head.fc`.
//!
//! | depth | blocks | stages | stem |
//! | --- | --- | --- | --- |
//! | 18, 34 | basic | 64-128-256-512 | 7×7/2 conv, 3×3/2 max pool (3×3/1, no pool with `small_input`) |
//! | 50, 101, 152 | bottleneck (×4) | 64-128-256-512 | as above |
//! | 20, 32, 44, 56, 110 (CIFAR-style, 6n+2) | basic | 16-32-64 | 3×3/1 conv |
//!
//! Channel groups: each stage's output, shared by all its blocks and their shortcuts (and by the
//! stem when the first block has no projection shortcut); each block's inner widths.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::{adaptive_avg_pool2d, max_pool2d};
use slimmable::{Activation, NormMode, SlimConv2d, SlimError, SlimLinear, SlimLinearConfig, SwitchableBatchNorm};

use super::blocks::{ConvBn, ConvShape, declare_conv, declare_norm, width};
use crate::channels::{ChannelSpace, ChannelSpaceBuilder, Channels, Subnet};
use crate::deploy::{Classifier, Deploy};
use crate::model::SlimmableModel;

/// Configuration of a [`SlimResNet`].
#[derive(Config, Debug)]
pub struct SlimResNetConfig {
    /// 18, 34, 50, 101, 152 (ImageNet-style) or 20, 32, 44, 56, 110 (CIFAR-style).
    pub depth: usize,
    /// Image channels (never slimmed).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Classes (never slimmed).
    #[config(default = 1000)]
    pub num_classes: usize,
    /// ImageNet-style depths only: a 3×3 stride-1 stem without max pool, for 28/32 px images
    /// (CIFAR-style depths always have it).
    #[config(default = false)]
    pub small_input: bool,
    /// Sets of BatchNorms (switchable BN): 1, or one per subnet retrained jointly.
    #[config(default = 1)]
    pub norm_sets: usize,
}

/// The shape of a ResNet of one depth.
struct Layout {
    bottleneck: bool,
    blocks: Vec<usize>,
    widths: Vec<usize>,
    stem: usize,
    small_stem: bool,
}

impl SlimResNetConfig {
    fn layout(&self) -> Result<Layout, String> {
        let imagenet = |bottleneck, blocks: &[usize]| Layout {
            bottleneck,
            blocks: blocks.to_vec(),
            widths: vec![64, 128, 256, 512],
            stem: 64,
            small_stem: self.small_input,
        };
        Ok(match self.depth {
            18 => imagenet(false, &[2, 2, 2, 2]),
            34 => imagenet(false, &[3, 4, 6, 3]),
            50 => imagenet(true, &[3, 4, 6, 3]),
            101 => imagenet(true, &[3, 4, 23, 3]),
            152 => imagenet(true, &[3, 8, 36, 3]),
            d if d >= 8 && (d - 2) % 6 == 0 => {
                let n = (d - 2) / 6;
                Layout { bottleneck: false, blocks: vec![n; 3], widths: vec![16, 32, 64], stem: 16, small_stem: true }
            }
            d => {
                return Err(format!(
                    "ResNet depth {d} is not supported; accepted: 18, 34, 50, 101, 152, or 6n+2 (20, 32, 44, 56, 110) for CIFAR-style"
                ));
            }
        })
    }
}

/// A slimmable ResNet (module docs).
#[derive(Module, Debug)]
pub struct SlimResNet<B: Backend> {
    /// Stem and stages.
    pub backbone: SlimResNetBackbone<B>,
    /// The classifier.
    pub head: SlimResNetHead<B>,
    space: ChannelSpace,
    config: SlimResNetConfig,
}

/// The feature extractor of a [`SlimResNet`].
#[derive(Module, Debug)]
pub struct SlimResNetBackbone<B: Backend> {
    /// Stem conv.
    pub conv1: SlimConv2d<B>,
    /// Stem BatchNorm.
    pub bn1: SwitchableBatchNorm<B>,
    /// Stages 1–4 (`layer4` is empty for the 3-stage CIFAR-style nets).
    pub layer1: Vec<SlimResNetBlock<B>>,
    /// Stage 2.
    pub layer2: Vec<SlimResNetBlock<B>>,
    /// Stage 3.
    pub layer3: Vec<SlimResNetBlock<B>>,
    /// Stage 4.
    pub layer4: Vec<SlimResNetBlock<B>>,
    stem: Channels,
    max_pool: bool,
}

/// The classifier of a [`SlimResNet`].
#[derive(Module, Debug)]
pub struct SlimResNetHead<B: Backend> {
    /// Linear layer on the pooled features.
    pub fc: SlimLinear<B>,
}

/// A basic block (two 3×3 convs) or a bottleneck (1×1, 3×3, 1×1), with a projection
/// shortcut (`downsample`) when it changes the shape.
#[derive(Module, Debug)]
pub struct SlimResNetBlock<B: Backend> {
    /// First conv.
    pub conv1: SlimConv2d<B>,
    /// Its BatchNorm.
    pub bn1: SwitchableBatchNorm<B>,
    /// Second conv.
    pub conv2: SlimConv2d<B>,
    /// Its BatchNorm.
    pub bn2: SwitchableBatchNorm<B>,
    /// Third conv (bottleneck only).
    pub conv3: Option<SlimConv2d<B>>,
    /// Its BatchNorm.
    pub bn3: Option<SwitchableBatchNorm<B>>,
    /// Projection shortcut conv.
    pub downsample_conv: Option<SlimConv2d<B>>,
    /// Its BatchNorm.
    pub downsample_bn: Option<SwitchableBatchNorm<B>>,
    /// Output of each conv in order.
    outputs: Vec<Channels>,
}

impl SlimResNetConfig {
    /// Builds the model, declaring its channel groups.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<SlimResNet<B>, String> {
        let layout = self.layout()?;
        if self.in_channels == 0 || self.num_classes == 0 || self.norm_sets == 0 {
            return Err("ResNet in_channels, num_classes and norm_sets must be positive".into());
        }
        let sets = self.norm_sets;
        let mut space = ChannelSpace::builder();
        let stem = Channels::Group(space.group("backbone.conv1", layout.stem));
        let shape = if layout.small_stem { ConvShape::dense(3, 1) } else { ConvShape::dense(7, 2) };
        let conv1 = declare_conv(&mut space, "backbone.conv1", Channels::Fixed(self.in_channels), stem, shape, device);
        let bn1 = declare_norm(&mut space, "backbone.bn1", stem, sets, device);
        space.activation("backbone.relu", stem);
        if !layout.small_stem {
            space.pool("backbone.maxpool", stem, 3, 2, 1);
        }

        let expansion = if layout.bottleneck { 4 } else { 1 };
        let (mut input, mut input_width) = (stem, layout.stem);
        let mut stages: Vec<Vec<SlimResNetBlock<B>>> = Vec::new();
        for (s, (&blocks, &base)) in layout.blocks.iter().zip(&layout.widths).enumerate() {
            let stage_name = format!("backbone.layer{}", s + 1);
            let out_width = base * expansion;
            let first_stride = if s == 0 { 1 } else { 2 };
            // Without a projection in the first block, the stage adds onto its input: one group.
            let output = match first_stride == 1 && input_width == out_width {
                true => input,
                false => Channels::Group(space.group(stage_name.clone(), out_width)),
            };
            let mut stage = Vec::new();
            for j in 0..blocks {
                let stride = if j == 0 { first_stride } else { 1 };
                let name = format!("{stage_name}.{j}");
                let project = stride != 1 || input != output;
                let block = SlimResNetBlock::declare(&mut space, &name, input, output, base, stride, layout.bottleneck, project, sets, device);
                stage.push(block);
                input = output;
                input_width = out_width;
            }
            stages.push(stage);
        }
        space.global_pool("neck.gap", input);
        let fc = SlimLinearConfig::new(input_width, self.num_classes).init(device);
        space.linear("head.fc", &fc, input, Channels::Fixed(self.num_classes));
        let space = space.build().map_err(|err| err.to_string())?;

        stages.resize_with(4, Vec::new);
        let [layer1, layer2, layer3, layer4]: [Vec<SlimResNetBlock<B>>; 4] =
            stages.try_into().map_err(|_| "at most four stages".to_string())?;
        let backbone = SlimResNetBackbone { conv1, bn1, layer1, layer2, layer3, layer4, stem, max_pool: !layout.small_stem };
        Ok(SlimResNet { backbone, head: SlimResNetHead { fc }, space, config: self.clone() })
    }
}

impl<B: Backend> SlimResNetBlock<B> {
    #[allow(clippy::too_many_arguments)]
    fn declare(
        space: &mut ChannelSpaceBuilder,
        name: &str,
        input: Channels,
        output: Channels,
        base: usize,
        stride: usize,
        bottleneck: bool,
        project: bool,
        sets: usize,
        device: &B::Device,
    ) -> Self {
        let mid = Channels::Group(space.group(format!("{name}.conv1"), base));
        let conv1_shape = if bottleneck { ConvShape::dense(1, 1) } else { ConvShape::dense(3, stride) };
        let conv1 = declare_conv(space, &format!("{name}.conv1"), input, mid, conv1_shape, device);
        let bn1 = declare_norm(space, &format!("{name}.bn1"), mid, sets, device);
        space.activation(&format!("{name}.relu1"), mid);
        let (conv2, bn2, conv3, bn3, outputs) = if bottleneck {
            let mid2 = Channels::Group(space.group(format!("{name}.conv2"), base));
            let conv2 = declare_conv(space, &format!("{name}.conv2"), mid, mid2, ConvShape::dense(3, stride), device);
            let bn2 = declare_norm(space, &format!("{name}.bn2"), mid2, sets, device);
            space.activation(&format!("{name}.relu2"), mid2);
            let conv3 = declare_conv(space, &format!("{name}.conv3"), mid2, output, ConvShape::dense(1, 1), device);
            let bn3 = declare_norm(space, &format!("{name}.bn3"), output, sets, device);
            (conv2, bn2, Some(conv3), Some(bn3), vec![mid, mid2, output])
        } else {
            let conv2 = declare_conv(space, &format!("{name}.conv2"), mid, output, ConvShape::dense(3, 1), device);
            let bn2 = declare_norm(space, &format!("{name}.bn2"), output, sets, device);
            (conv2, bn2, None, None, vec![mid, output])
        };
        let (downsample_conv, downsample_bn) = if project {
            space.reads_input_of(&format!("{name}.conv1"));
            let conv = declare_conv(space, &format!("{name}.downsample.0"), input, output, ConvShape::dense(1, stride), device);
            let bn = declare_norm(space, &format!("{name}.downsample.1"), output, sets, device);
            (Some(conv), Some(bn))
        } else {
            (None, None)
        };
        space.activation(&format!("{name}.relu"), output);
        Self { conv1, bn1, conv2, bn2, conv3, bn3, downsample_conv, downsample_bn, outputs }
    }

    fn forward(&self, x: Tensor<B, 4>, subnet: &Subnet, norm: NormMode) -> Tensor<B, 4> {
        let set = subnet.norm_set();
        let w = |i: usize| width(self.outputs[i], subnet);
        let mut y = self.bn1.forward_activation(self.conv1.forward(x.clone(), w(0)), set, norm, Activation::Relu);
        // A bottleneck's middle BN is followed by a ReLU, a basic block's second by the sum.
        let middle = if self.conv3.is_some() { Activation::Relu } else { Activation::Identity };
        y = self.bn2.forward_activation(self.conv2.forward(y, w(1)), set, norm, middle);
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            y = bn3.forward_mode(conv3.forward(y, w(2)), set, norm);
        }
        let out = *self.outputs.last().expect("a block has convs");
        let shortcut = match (&self.downsample_conv, &self.downsample_bn) {
            (Some(conv), Some(bn)) => bn.forward_mode(conv.forward(x, width(out, subnet)), set, norm),
            _ => x,
        };
        relu(slimmable::residual_add(y, shortcut))
    }

    fn to_plain(&self, c_in: usize, subnet: &Subnet) -> Result<ResNetBlock<B>, SlimError> {
        let set = subnet.norm_set();
        let w = |i: usize| width(self.outputs[i], subnet);
        let conv_bn = |conv: &SlimConv2d<B>, bn: &SwitchableBatchNorm<B>, c_in: usize, c_out: usize| -> Result<(Conv2d<B>, BatchNorm<B>), SlimError> {
            Ok((conv.to_plain(c_in, c_out)?, bn.to_plain(set, c_out)?))
        };
        let (conv1, bn1) = conv_bn(&self.conv1, &self.bn1, c_in, w(0))?;
        let (conv2, bn2) = conv_bn(&self.conv2, &self.bn2, w(0), w(1))?;
        let (conv3, bn3) = match (&self.conv3, &self.bn3) {
            (Some(conv), Some(bn)) => {
                let (c, b) = conv_bn(conv, bn, w(1), w(2))?;
                (Some(c), Some(b))
            }
            _ => (None, None),
        };
        let out = width(*self.outputs.last().expect("a block has convs"), subnet);
        let downsample = match (&self.downsample_conv, &self.downsample_bn) {
            (Some(conv), Some(bn)) => {
                let (conv, bn) = conv_bn(conv, bn, c_in, out)?;
                Some(ConvBn { conv, bn })
            }
            _ => None,
        };
        Ok(ResNetBlock { conv1, bn1, conv2, bn2, conv3, bn3, downsample })
    }
}

impl<B: Backend> SlimResNetBackbone<B> {
    fn stages(&self) -> [&Vec<SlimResNetBlock<B>>; 4] {
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
    }
}

/// The stem's 3×3 stride-2 max pool (padding 1).
fn stem_pool<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    max_pool2d(x, [3, 3], [2, 2], [1, 1], [1, 1], false)
}

impl<B: Backend> SlimmableModel<B> for SlimResNet<B> {
    fn space(&self) -> &ChannelSpace {
        &self.space
    }

    fn forward_subnet(&self, images: Tensor<B, 4>, subnet: &Subnet, norm: NormMode) -> Tensor<B, 2> {
        let b = &self.backbone;
        let stem = width(b.stem, subnet);
        let mut x = b.bn1.forward_activation(b.conv1.forward(images, stem), subnet.norm_set(), norm, Activation::Relu);
        if b.max_pool {
            x = stem_pool(x);
        }
        for stage in b.stages() {
            for block in stage {
                x = block.forward(x, subnet, norm);
            }
        }
        let x = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.head.fc.forward(x, self.config.num_classes)
    }
}

/// A deployed [`SlimResNet`] subnet: plain burn layers, named as mmcls's ResNet in its
/// safetensors (`downsample.conv`/`.bn` are written as `downsample.0`/`.1`).
#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    /// Stem and stages.
    pub backbone: ResNetBackbone<B>,
    /// The classifier.
    pub head: ResNetHead<B>,
}

/// The feature extractor of a [`ResNet`].
#[derive(Module, Debug)]
pub struct ResNetBackbone<B: Backend> {
    /// Stem conv.
    pub conv1: Conv2d<B>,
    /// Stem BatchNorm.
    pub bn1: BatchNorm<B>,
    /// Stem max pool (ImageNet-style stems).
    pub maxpool: Option<MaxPool2d>,
    /// Stage 1.
    pub layer1: Vec<ResNetBlock<B>>,
    /// Stage 2.
    pub layer2: Vec<ResNetBlock<B>>,
    /// Stage 3.
    pub layer3: Vec<ResNetBlock<B>>,
    /// Stage 4 (empty for CIFAR-style nets).
    pub layer4: Vec<ResNetBlock<B>>,
}

/// The classifier of a [`ResNet`].
#[derive(Module, Debug)]
pub struct ResNetHead<B: Backend> {
    /// Linear layer.
    pub fc: Linear<B>,
}

/// A plain basic block or bottleneck.
#[derive(Module, Debug)]
pub struct ResNetBlock<B: Backend> {
    /// First conv.
    pub conv1: Conv2d<B>,
    /// Its BatchNorm.
    pub bn1: BatchNorm<B>,
    /// Second conv.
    pub conv2: Conv2d<B>,
    /// Its BatchNorm.
    pub bn2: BatchNorm<B>,
    /// Third conv (bottleneck).
    pub conv3: Option<Conv2d<B>>,
    /// Its BatchNorm.
    pub bn3: Option<BatchNorm<B>>,
    /// Projection shortcut.
    pub downsample: Option<ConvBn<B>>,
}

/// A basic block is a [`ResNetBlock`] without `conv3`.
pub type BasicBlock<B> = ResNetBlock<B>;
/// A bottleneck is a [`ResNetBlock`] with `conv3`.
pub type Bottleneck<B> = ResNetBlock<B>;

impl<B: Backend> ResNetBlock<B> {
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let mut y = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        y = self.bn2.forward(self.conv2.forward(y));
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            y = bn3.forward(conv3.forward(relu(y)));
        }
        let shortcut = match &self.downsample {
            Some(downsample) => downsample.forward(x),
            None => x,
        };
        relu(slimmable::residual_add(y, shortcut))
    }
}

impl<B: Backend> Classifier<B> for ResNet<B> {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let b = &self.backbone;
        let mut x = relu(b.bn1.forward(b.conv1.forward(images)));
        if let Some(pool) = &b.maxpool {
            x = pool.forward(x);
        }
        for stage in [&b.layer1, &b.layer2, &b.layer3, &b.layer4] {
            for block in stage {
                x = block.forward(x);
            }
        }
        let x = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.head.fc.forward(x)
    }

    fn pytorch_renames() -> &'static [(&'static str, &'static str)] {
        &[(r"\.downsample\.conv\.", ".downsample.0."), (r"\.downsample\.bn\.", ".downsample.1.")]
    }
}

/// What rebuilds a deployed [`ResNet`]: the slimmable model's config and the subnet's
/// channels per group.
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// The slimmable model's config.
    pub model: SlimResNetConfig,
    /// Active channels of each channel group.
    pub channels: Vec<usize>,
}

impl ResNetConfig {
    /// An untrained plain ResNet of this shape, to load a deployed record into.
    pub fn init_plain<B: Backend>(&self, device: &B::Device) -> Result<ResNet<B>, String> {
        let slim = self.model.clone().with_norm_sets(1).try_init::<B>(device)?;
        let subnet = Subnet::new(slim.space(), self.channels.clone())?;
        slim.deploy(&subnet).map_err(|err| err.to_string())
    }
}

impl<B: Backend> Deploy<B> for SlimResNet<B> {
    type Plain = ResNet<B>;
    type PlainConfig = ResNetConfig;

    fn plain_config(&self, subnet: &Subnet) -> Self::PlainConfig {
        ResNetConfig { model: self.config.clone().with_norm_sets(1), channels: subnet.as_slice().to_vec() }
    }

    fn deploy(&self, subnet: &Subnet) -> Result<ResNet<B>, SlimError> {
        let b = &self.backbone;
        let stem = width(b.stem, subnet);
        let conv1 = b.conv1.to_plain(self.config.in_channels, stem)?;
        let bn1 = b.bn1.to_plain(subnet.norm_set(), stem)?;
        let maxpool = b.max_pool.then(|| {
            MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init()
        });
        let mut c_in = stem;
        let mut stages = Vec::new();
        for stage in b.stages() {
            let mut blocks = Vec::new();
            for block in stage {
                blocks.push(block.to_plain(c_in, subnet)?);
                c_in = width(*block.outputs.last().expect("a block has convs"), subnet);
            }
            stages.push(blocks);
        }
        let fc = self.head.fc.to_plain(c_in, self.config.num_classes)?;
        let [layer1, layer2, layer3, layer4]: [Vec<ResNetBlock<B>>; 4] = stages.try_into().expect("four stages");
        let backbone = ResNetBackbone { conv1, bn1, maxpool, layer1, layer2, layer3, layer4 };
        Ok(ResNet { backbone, head: ResNetHead { fc } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{Convention, count};
    use crate::deploy::{save, trainable_params};
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    type B = NdArray;

    fn full_cost(config: SlimResNetConfig, size: usize) -> (crate::cost::Cost, usize) {
        let model = config.try_init::<B>(&Default::default()).unwrap();
        (count(model.space(), &Subnet::max(model.space()), [size, size], Convention::Paper), model.space().groups().len())
    }

    #[test]
    fn full_models_have_torchvisions_parameters_and_the_usual_flops() {
        let (r18, groups) = full_cost(SlimResNetConfig::new(18), 224);
        assert_eq!(r18.params, 11_689_512, "torchvision resnet18");
        assert!((r18.flops as f64 / 1e9 - 1.81).abs() < 0.02, "ResNet-18: 1.8G MACs, got {}", r18.flops);
        // Stem and stage 1 share a group (identity shortcuts); stages 2–4; one per block inside.
        assert_eq!(groups, 1 + 3 + 8);
        let (r50, groups) = full_cost(SlimResNetConfig::new(50), 224);
        assert_eq!(r50.params, 25_557_032, "torchvision resnet50");
        assert!((r50.flops as f64 / 1e9 - 4.09).abs() < 0.03, "ResNet-50: 4.1G MACs, got {}", r50.flops);
        assert_eq!(groups, 1 + 4 + 2 * 16);
        let (r56, _) = full_cost(SlimResNetConfig::new(56).with_num_classes(10), 32);
        assert!((r56.flops as f64 / 1e6 - 126.0).abs() < 3.0, "ResNet-56: ~125M MACs, got {}", r56.flops);
        let err = SlimResNetConfig::new(21).try_init::<B>(&Default::default()).unwrap_err();
        assert!(err.contains("ResNet depth 21 is not supported"), "{err}");
    }

    #[test]
    fn subnets_deploy_exactly_with_mmcls_names_for_basic_and_bottleneck_blocks() {
        let device = Default::default();
        for (config, size) in [
            (SlimResNetConfig::new(20).with_in_channels(1).with_num_classes(10), 28),
            (SlimResNetConfig::new(50).with_num_classes(7).with_small_input(true), 16),
            (SlimResNetConfig::new(18).with_num_classes(7), 64),
        ] {
            let depth = config.depth;
            let model = config.try_init::<B>(&device).unwrap();
            let c = config.in_channels;
            let images = || Tensor::<B, 4>::random([3, c, size, size], Distribution::Normal(0.2, 1.0), &device);
            let ratios: Vec<f64> = (0..model.space().groups().len()).map(|g| [0.25, 0.5, 0.75, 1.0][g % 4]).collect();
            let subnet = Subnet::from_ratios(model.space(), &ratios, None).unwrap();
            for step in 0..2 {
                let _ = model.forward_subnet(images(), &subnet, NormMode::Calibrate { step });
            }
            let plain = model.deploy(&subnet).unwrap();
            let x = images();
            let diff = model.forward_subnet(x.clone(), &subnet, NormMode::Auto).sub(plain.forward(x)).abs().max().into_scalar();
            assert!(diff < 1e-4, "ResNet-{depth}: max abs diff {diff}");
            let counted = count(model.space(), &subnet, [size, size], Convention::Paper).params;
            assert_eq!(trainable_params(&plain) as u64, counted, "ResNet-{depth}");

            // safetensors names are mmcls's: `downsample.0`/`.1`, `bn1.weight`.
            let dir = std::env::temp_dir().join(format!("autoslim-resnet-{depth}-{}", std::process::id()));
            let files = save(&plain, &model.plain_config(&subnet), &dir.join("plain")).unwrap();
            let bytes = std::fs::read(&files.safetensors).unwrap();
            let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
            assert!(header.get("backbone.layer2.0.downsample.0.weight").is_some(), "ResNet-{depth}: {header}");
            assert!(header.get("backbone.layer2.0.downsample.1.running_mean").is_some());
            assert!(header.get("backbone.bn1.weight").is_some());
            let yaml = subnet.to_yaml(model.space());
            assert!(yaml.contains("backbone.layer2.0.downsample.0:"), "{yaml}");
            let rebuilt = ResNetConfig::load(&files.config).unwrap().init_plain::<B>(&device).unwrap();
            assert_eq!(trainable_params(&rebuilt), trainable_params(&plain));
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
