//! [`SlimMobileNetV2`]: MobileNetV2 (Sandler et al., 2018) with mmcls's module names, so
//! MMRazor's AutoSlim channel files load unchanged.
//!
//! Names: `backbone.conv1.{conv,bn}`, `backbone.layer{1..7}.{j}.conv.{k}.{conv,bn}` (k = 0..2;
//! a block without expansion has no expand conv, so its depthwise conv is `conv.0`),
//! `backbone.conv2.{conv,bn}`, `head.fc`.
//!
//! Channel groups: the stem; each block's hidden channels (its expand conv and depthwise conv);
//! each stage's output, shared by all its blocks (the residual additions); the last 1×1 conv.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::tensor::module::adaptive_avg_pool2d;
use slimmable::{Activation, NormMode, SlimError, SlimLinear, SlimLinearConfig};

use super::blocks::{ConvBn, ConvShape, SlimConvBn, relu6, width};
use crate::channels::{ChannelSpace, Channels, Subnet};
use crate::deploy::{Classifier, Deploy};
use crate::model::SlimmableModel;

/// `(expand ratio, channels at ×1.0, blocks, stride of the first block)` of the seven stages.
const STAGES: [(usize, usize, usize, usize); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// `value` rounded to the nearest multiple of `divisor`, never below `divisor` nor below 90 %
/// of `value` (mmcv's `make_divisible`, which sets MobileNetV2's widths).
pub fn make_divisible(value: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let rounded = (((value + d / 2.0) / d).floor() * d).max(d);
    let rounded = if rounded < 0.9 * value { rounded + d } else { rounded };
    rounded as usize
}

/// Configuration of a [`SlimMobileNetV2`].
#[derive(Config, Debug)]
pub struct SlimMobileNetV2Config {
    /// Width multiplier of every layer (AutoSlim slims the ×1.5 model).
    #[config(default = 1.0)]
    pub widen_factor: f64,
    /// Image channels (never slimmed).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Classes (never slimmed).
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Stem for small images (28 or 32 px): the first conv has stride 1 instead of 2.
    #[config(default = false)]
    pub small_input: bool,
    /// Sets of BatchNorms (switchable BN): 1, or one per subnet retrained jointly.
    #[config(default = 1)]
    pub norm_sets: usize,
}

/// A slimmable MobileNetV2 (module docs).
#[derive(Module, Debug)]
pub struct SlimMobileNetV2<B: Backend> {
    /// Stem, inverted residual stages and last conv.
    pub backbone: SlimMobileNetV2Backbone<B>,
    /// The classifier.
    pub head: SlimMobileNetV2Head<B>,
    space: ChannelSpace,
    config: SlimMobileNetV2Config,
}

/// The feature extractor of a [`SlimMobileNetV2`], named as mmcls's.
#[derive(Module, Debug)]
pub struct SlimMobileNetV2Backbone<B: Backend> {
    /// 3×3 stem conv.
    pub conv1: SlimConvBn<B>,
    /// Stage 1 (no expansion).
    pub layer1: Vec<SlimInvertedResidual<B>>,
    /// Stage 2.
    pub layer2: Vec<SlimInvertedResidual<B>>,
    /// Stage 3.
    pub layer3: Vec<SlimInvertedResidual<B>>,
    /// Stage 4.
    pub layer4: Vec<SlimInvertedResidual<B>>,
    /// Stage 5.
    pub layer5: Vec<SlimInvertedResidual<B>>,
    /// Stage 6.
    pub layer6: Vec<SlimInvertedResidual<B>>,
    /// Stage 7.
    pub layer7: Vec<SlimInvertedResidual<B>>,
    /// Last 1×1 conv.
    pub conv2: SlimConvBn<B>,
}

/// The classifier of a [`SlimMobileNetV2`].
#[derive(Module, Debug)]
pub struct SlimMobileNetV2Head<B: Backend> {
    /// Linear layer on the pooled features.
    pub fc: SlimLinear<B>,
}

/// An inverted residual block: (expand 1×1 →) depthwise 3×3 → project 1×1, ReLU6 after all
/// but the projection, and a residual addition when the block keeps its shape.
#[derive(Module, Debug)]
pub struct SlimInvertedResidual<B: Backend> {
    /// The convs in order (`conv.0`, `conv.1`, `conv.2`).
    pub conv: Vec<SlimConvBn<B>>,
    residual: bool,
}

impl<B: Backend> SlimMobileNetV2Backbone<B> {
    fn stages(&self) -> [&Vec<SlimInvertedResidual<B>>; 7] {
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4, &self.layer5, &self.layer6, &self.layer7]
    }
}

impl SlimMobileNetV2Config {
    /// Full widths `(stem, [stage outputs], last conv)` at this widen factor.
    pub fn widths(&self) -> (usize, [usize; 7], usize) {
        let stem = make_divisible(32.0 * self.widen_factor, 8);
        let stages = STAGES.map(|(_, c, _, _)| make_divisible(c as f64 * self.widen_factor, 8));
        let last = if self.widen_factor > 1.0 { (1280.0 * self.widen_factor) as usize } else { 1280 };
        (stem, stages, last)
    }

    /// Builds the model, declaring its channel groups.
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<SlimMobileNetV2<B>, String> {
        if !(self.widen_factor > 0.0 && self.widen_factor.is_finite()) {
            return Err(format!("MobileNetV2 widen_factor must be positive, got {}", self.widen_factor));
        }
        if self.in_channels == 0 || self.num_classes == 0 || self.norm_sets == 0 {
            return Err("MobileNetV2 in_channels, num_classes and norm_sets must be positive".into());
        }
        let sets = self.norm_sets;
        let (stem_width, stage_widths, last_width) = self.widths();
        let mut space = ChannelSpace::builder();
        let stem = Channels::Group(space.group("backbone.conv1", stem_width));
        let stride = if self.small_input { 1 } else { 2 };
        let conv1 = SlimConvBn::declare(
            &mut space,
            "backbone.conv1",
            Channels::Fixed(self.in_channels),
            stem,
            ConvShape::dense(3, stride),
            true,
            sets,
            device,
        );

        let mut input = stem;
        let mut input_width = stem_width;
        let mut stages: Vec<Vec<SlimInvertedResidual<B>>> = Vec::new();
        for (s, (&(expand, _, blocks, first_stride), &out_width)) in STAGES.iter().zip(&stage_widths).enumerate() {
            let stage_name = format!("backbone.layer{}", s + 1);
            let output = Channels::Group(space.group(stage_name.clone(), out_width));
            let mut stage = Vec::new();
            for j in 0..blocks {
                let name = format!("{stage_name}.{j}");
                let stride = if j == 0 { first_stride } else { 1 };
                let mut conv = Vec::new();
                let hidden = if expand == 1 {
                    input
                } else {
                    let hidden_width = (input_width as f64 * expand as f64).round() as usize;
                    let hidden = Channels::Group(space.group(format!("{name}.hidden"), hidden_width));
                    conv.push(SlimConvBn::declare(&mut space, &format!("{name}.conv.0"), input, hidden, ConvShape::dense(1, 1), true, sets, device));
                    hidden
                };
                let k = conv.len();
                conv.push(SlimConvBn::declare(&mut space, &format!("{name}.conv.{k}"), hidden, hidden, ConvShape::depthwise(3, stride), true, sets, device));
                conv.push(SlimConvBn::declare(&mut space, &format!("{name}.conv.{}", k + 1), hidden, output, ConvShape::dense(1, 1), false, sets, device));
                stage.push(SlimInvertedResidual { conv, residual: stride == 1 && input_width == out_width });
                input = output;
                input_width = out_width;
            }
            stages.push(stage);
        }
        let last = Channels::Group(space.group("backbone.conv2", last_width));
        let conv2 = SlimConvBn::declare(&mut space, "backbone.conv2", input, last, ConvShape::dense(1, 1), true, sets, device);
        space.global_pool("neck.gap", last);
        let fc = SlimLinearConfig::new(last_width, self.num_classes).init(device);
        space.linear("head.fc", &fc, last, Channels::Fixed(self.num_classes));
        let space = space.build().map_err(|err| err.to_string())?;

        let mut stages = stages.into_iter();
        let mut next = || stages.next().expect("seven stages");
        let backbone = SlimMobileNetV2Backbone {
            conv1,
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            layer5: next(),
            layer6: next(),
            layer7: next(),
            conv2,
        };
        Ok(SlimMobileNetV2 { backbone, head: SlimMobileNetV2Head { fc }, space, config: self.clone() })
    }
}

impl<B: Backend> SlimInvertedResidual<B> {
    fn forward(&self, x: Tensor<B, 4>, subnet: &Subnet, norm: NormMode) -> Tensor<B, 4> {
        let last = self.conv.len() - 1;
        let mut y = x.clone();
        for (k, layer) in self.conv.iter().enumerate() {
            let activation = if k < last { Activation::Relu6 } else { Activation::Identity };
            y = layer.forward_activation(y, subnet, norm, activation);
        }
        if self.residual { slimmable::residual_add(y, x) } else { y }
    }
}

impl<B: Backend> SlimmableModel<B> for SlimMobileNetV2<B> {
    fn space(&self) -> &ChannelSpace {
        &self.space
    }

    fn forward_subnet(&self, images: Tensor<B, 4>, subnet: &Subnet, norm: NormMode) -> Tensor<B, 2> {
        let backbone = &self.backbone;
        let mut x = backbone.conv1.forward_activation(images, subnet, norm, Activation::Relu6);
        for stage in backbone.stages() {
            for block in stage {
                x = block.forward(x, subnet, norm);
            }
        }
        let x = backbone.conv2.forward_activation(x, subnet, norm, Activation::Relu6);
        let x = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        let classes = self.head.fc.max_features()[1];
        self.head.fc.forward(x, classes)
    }
}

/// A deployed [`SlimMobileNetV2`] subnet: plain burn layers named as mmcls's MobileNetV2, so
/// its safetensors load into mmcls/PyTorch with the same channel configuration.
#[derive(Module, Debug)]
pub struct MobileNetV2<B: Backend> {
    /// Stem, stages and last conv.
    pub backbone: MobileNetV2Backbone<B>,
    /// The classifier.
    pub head: MobileNetV2Head<B>,
}

/// The feature extractor of a [`MobileNetV2`].
#[derive(Module, Debug)]
pub struct MobileNetV2Backbone<B: Backend> {
    /// Stem conv.
    pub conv1: ConvBn<B>,
    /// Stage 1.
    pub layer1: Vec<InvertedResidual<B>>,
    /// Stage 2.
    pub layer2: Vec<InvertedResidual<B>>,
    /// Stage 3.
    pub layer3: Vec<InvertedResidual<B>>,
    /// Stage 4.
    pub layer4: Vec<InvertedResidual<B>>,
    /// Stage 5.
    pub layer5: Vec<InvertedResidual<B>>,
    /// Stage 6.
    pub layer6: Vec<InvertedResidual<B>>,
    /// Stage 7.
    pub layer7: Vec<InvertedResidual<B>>,
    /// Last conv.
    pub conv2: ConvBn<B>,
}

/// The classifier of a [`MobileNetV2`].
#[derive(Module, Debug)]
pub struct MobileNetV2Head<B: Backend> {
    /// Linear layer.
    pub fc: Linear<B>,
}

/// A plain inverted residual block.
#[derive(Module, Debug)]
pub struct InvertedResidual<B: Backend> {
    /// The convs in order.
    pub conv: Vec<ConvBn<B>>,
    residual: bool,
}

impl<B: Backend> Classifier<B> for MobileNetV2<B> {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let b = &self.backbone;
        let mut x = relu6(b.conv1.forward(images));
        for stage in [&b.layer1, &b.layer2, &b.layer3, &b.layer4, &b.layer5, &b.layer6, &b.layer7] {
            for block in stage {
                let last = block.conv.len() - 1;
                let mut y = x.clone();
                for (k, layer) in block.conv.iter().enumerate() {
                    y = layer.forward(y);
                    if k < last {
                        y = relu6(y);
                    }
                }
                x = if block.residual { slimmable::residual_add(y, x) } else { y };
            }
        }
        let x = relu6(b.conv2.forward(x));
        let x = adaptive_avg_pool2d(x, [1, 1]).flatten(1, 3);
        self.head.fc.forward(x)
    }
}

/// What rebuilds a deployed [`MobileNetV2`]: the slimmable model's config and the subnet's
/// channels per group.
#[derive(Config, Debug)]
pub struct MobileNetV2Config {
    /// The slimmable model's config.
    pub model: SlimMobileNetV2Config,
    /// Active channels of each channel group.
    pub channels: Vec<usize>,
}

impl MobileNetV2Config {
    /// An untrained plain model of this shape, to load a deployed record into.
    pub fn init_plain<B: Backend>(&self, device: &B::Device) -> Result<MobileNetV2<B>, String> {
        let slim = self.model.clone().with_norm_sets(1).try_init::<B>(device)?;
        let subnet = Subnet::new(slim.space(), self.channels.clone())?;
        slim.deploy(&subnet).map_err(|err| err.to_string())
    }
}

impl<B: Backend> Deploy<B> for SlimMobileNetV2<B> {
    type Plain = MobileNetV2<B>;
    type PlainConfig = MobileNetV2Config;

    fn plain_config(&self, subnet: &Subnet) -> Self::PlainConfig {
        let model = self.config.clone().with_norm_sets(1);
        MobileNetV2Config { model, channels: subnet.as_slice().to_vec() }
    }

    fn deploy(&self, subnet: &Subnet) -> Result<MobileNetV2<B>, SlimError> {
        let b = &self.backbone;
        let mut c_in = b.conv1.conv.max_channels()[0];
        let conv1 = b.conv1.to_plain(c_in, subnet)?;
        c_in = width(b.conv1.output(), subnet);
        let mut stages = Vec::new();
        for stage in b.stages() {
            let mut blocks = Vec::new();
            for block in stage {
                let mut conv = Vec::new();
                for layer in &block.conv {
                    // A depthwise conv reads as many channels as it writes.
                    conv.push(layer.to_plain(c_in, subnet)?);
                    c_in = width(layer.output(), subnet);
                }
                blocks.push(InvertedResidual { conv, residual: block.residual });
            }
            stages.push(blocks);
        }
        let conv2 = b.conv2.to_plain(c_in, subnet)?;
        let c_last = width(b.conv2.output(), subnet);
        let fc = self.head.fc.to_plain(c_last, self.head.fc.max_features()[1])?;
        let mut stages = stages.into_iter();
        let mut next = || stages.next().expect("seven stages");
        let backbone = MobileNetV2Backbone {
            conv1,
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            layer5: next(),
            layer6: next(),
            layer7: next(),
            conv2,
        };
        Ok(MobileNetV2 { backbone, head: MobileNetV2Head { fc } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{Convention, count};
    use crate::deploy::trainable_params;
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    type B = NdArray;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mmrazor-autoslim-mbv2").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    }

    fn max_abs_diff(a: Tensor<B, 2>, b: Tensor<B, 2>) -> f32 {
        a.sub(b).abs().max().into_scalar()
    }

    #[test]
    fn the_full_model_has_torchvisions_parameters_and_the_papers_flops() {
        let model = SlimMobileNetV2Config::new().init_for_test();
        let cost = count(model.space(), &Subnet::max(model.space()), [224, 224], Convention::Paper);
        assert_eq!(cost.params, 3_504_872, "torchvision's mobilenet_v2 has 3,504,872 parameters");
        assert!((cost.flops as f64 / 1e6 - 300.8).abs() < 0.5, "paper: 300M MACs, got {}", cost.flops);
        // Groups: stem, 7 stage outputs, 16 expanded blocks' hidden channels, last conv.
        assert_eq!(model.space().groups().len(), 1 + 7 + 16 + 1);
    }

    #[test]
    fn mmrazors_official_autoslim_files_load_count_run_and_deploy() {
        let device = Default::default();
        let model = SlimMobileNetV2Config::new().with_widen_factor(1.5).try_init::<B>(&device).unwrap();
        let images = Tensor::<B, 4>::random([1, 3, 224, 224], Distribution::Normal(0.0, 1.0), &device);
        for (file, paper_mflops, mmcv_label) in [
            ("AUTOSLIM_MBV2_220M_OFFICIAL.yaml", 207.0, 220.0),
            ("AUTOSLIM_MBV2_320M_OFFICIAL.yaml", 305.0, 320.0),
            ("AUTOSLIM_MBV2_530M_OFFICIAL.yaml", 505.0, 530.0),
        ] {
            let subnet = Subnet::from_yaml(model.space(), &fixture(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
            let paper = count(model.space(), &subnet, [224, 224], Convention::Paper).flops as f64 / 1e6;
            assert!((paper - paper_mflops).abs() < 1.0, "{file}: {paper:.1}M paper FLOPs, expected {paper_mflops}M");
            let mmcv = count(model.space(), &subnet, [224, 224], Convention::Mmcv).flops as f64 / 1e6;
            println!("{file}: paper {paper:.2}M, mmcv {mmcv:.2}M");
            assert!(mmcv > paper && (mmcv - mmcv_label).abs() / mmcv_label < 0.03, "{file}: {mmcv:.1}M mmcv FLOPs, labelled {mmcv_label}M");
            // Writing the subnet back gives MMRazor's file again.
            assert_eq!(subnet.to_yaml(model.space()).trim(), fixture(file).trim(), "{file}");

            let plain = model.deploy(&subnet).unwrap();
            let slim_logits = model.forward_subnet(images.clone(), &subnet, NormMode::Auto);
            assert_eq!(slim_logits.dims(), [1, 1000]);
            let diff = max_abs_diff(slim_logits, plain.forward(images.clone()));
            assert!(diff < 1e-4, "{file}: max abs diff {diff}");
            assert_eq!(trainable_params(&plain) as u64, count(model.space(), &subnet, [224, 224], Convention::Paper).params);
            assert_eq!(plain.backbone.layer2[1].conv[0].conv.weight.dims()[0], subnet.channels(model.space().group_by_name("backbone.layer2.1.hidden").unwrap()));
        }
    }

    #[test]
    fn a_small_input_subnet_with_calibrated_statistics_deploys_exactly() {
        let device = Default::default();
        let model = SlimMobileNetV2Config::new()
            .with_widen_factor(0.5)
            .with_in_channels(1)
            .with_num_classes(10)
            .with_small_input(true)
            .try_init::<B>(&device)
            .unwrap();
        let images = || Tensor::<B, 4>::random([4, 1, 28, 28], Distribution::Normal(0.3, 1.0), &device);
        let subnet = Subnet::uniform(model.space(), 0.5, Some(8)).unwrap();
        for step in 0..2 {
            let _ = model.forward_subnet(images(), &subnet, NormMode::Calibrate { step });
        }
        let x = images();
        let plain = model.deploy(&subnet).unwrap();
        let diff = max_abs_diff(model.forward_subnet(x.clone(), &subnet, NormMode::Auto), plain.forward(x.clone()));
        assert!(diff < 1e-4, "max abs diff {diff}");
        // The plain model rebuilds from its saved config.
        let rebuilt = model.plain_config(&subnet).init_plain::<B>(&device).unwrap();
        assert_eq!(trainable_params(&rebuilt), trainable_params(&plain));
    }

    impl SlimMobileNetV2Config {
        fn init_for_test(&self) -> SlimMobileNetV2<B> {
            self.try_init(&Default::default()).unwrap()
        }
    }
}
