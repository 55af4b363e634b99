//! FLOPs and parameters of any subnet, counted from the model's declared operations.
//!
//! Two conventions (../shared/DESIGN.md):
//!
//! | convention | counts |
//! | --- | --- |
//! | [`Convention::Paper`] | multiply-accumulates of conv and linear layers (AutoSlim's 207M/305M/505M) |
//! | [`Convention::Mmcv`] | the same, plus conv biases, BatchNorm (2 per element), activations (1 per element) and pooling (1 per input element), as mmcv's `get_model_complexity_info` |
//!
//! A dense conv's cost scales with r² (input and output slimmed); a grouped or depthwise conv
//! keeps its input channels per group, so its cost scales with r.

use std::fmt;
use std::str::FromStr;

use burn::nn::PaddingConfig2d;
use slimmable::conv_output_size;

use crate::channels::{ChannelSpace, Channels, OpKind, Subnet};
use crate::pruner::RatioPruner;

/// Which operations count (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    /// Conv and linear multiply-accumulates only.
    #[default]
    Paper,
    /// mmcv's counter: also biases, norms, activations and pooling.
    Mmcv,
}

impl FromStr for Convention {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "paper" => Ok(Self::Paper),
            "mmcv" => Ok(Self::Mmcv),
            other => Err(format!("unknown FLOPs convention \"{other}\"; accepted: \"paper\", \"mmcv\"")),
        }
    }
}

/// The cost of one subnet on one input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// FLOPs (multiply-accumulates) of one image.
    pub flops: u64,
    /// Trainable parameters (BatchNorm running statistics excluded, as PyTorch counts them).
    pub params: u64,
    /// Values the operations write for one image (every op's output, whatever the
    /// convention): what a training pass moves through memory, and keeps for its backward
    /// pass, scales with it.
    pub activations: u64,
}

/// Counts the FLOPs and parameters of `subnet` of `space` on one `[channels, height, width]`
/// image of size `input` (`[height, width]`).
pub fn count(space: &ChannelSpace, subnet: &Subnet, input: [usize; 2], convention: Convention) -> Cost {
    let width = |channels: Channels| match channels {
        Channels::Fixed(n) => n as u64,
        Channels::Group(g) => subnet.channels(g) as u64,
    };
    let mmcv = convention == Convention::Mmcv;
    let mut maps: Vec<[usize; 2]> = vec![input];
    let mut cost = Cost::default();
    for op in space.ops() {
        let read = maps[op.reads];
        let (c_in, c_out) = (width(op.input), width(op.output));
        let area = |size: [usize; 2]| (size[0] * size[1]) as u64;
        let written = match &op.kind {
            OpKind::Conv { kernel_size, stride, dilation, padding, in_per_group, bias } => {
                let out = conv_output_size(padding, *kernel_size, *stride, *dilation, read);
                let per_output = in_per_group.map_or(c_in, |n| n as u64) * (kernel_size[0] * kernel_size[1]) as u64;
                cost.flops += area(out) * c_out * per_output;
                cost.params += c_out * per_output;
                if *bias {
                    cost.params += c_out;
                    if mmcv {
                        cost.flops += area(out) * c_out;
                    }
                }
                out
            }
            OpKind::Norm => {
                cost.params += 2 * c_out;
                if mmcv {
                    cost.flops += 2 * area(read) * c_out;
                }
                read
            }
            OpKind::Linear { bias } => {
                cost.flops += c_in * c_out;
                cost.params += c_in * c_out + if *bias { c_out } else { 0 };
                [1, 1]
            }
            OpKind::Activation => {
                if mmcv {
                    cost.flops += area(read) * c_out;
                }
                read
            }
            OpKind::GlobalPool => {
                if mmcv {
                    cost.flops += area(read) * c_in;
                }
                [1, 1]
            }
            OpKind::Pool { kernel_size, stride, padding } => {
                if mmcv {
                    cost.flops += area(read) * c_in;
                }
                let padding = PaddingConfig2d::Explicit(*padding, *padding, *padding, *padding);
                conv_output_size(&padding, *kernel_size, *stride, [1, 1], read)
            }
        };
        cost.activations += area(written) * c_out;
        maps.push(written);
    }
    cost
}

/// What a sandwich step would cost against a plain (max-width) step if time followed the
/// arithmetic, or the values written ([`sandwich_ideal`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SandwichIdeal {
    /// Expected multiply-accumulates of a step's passes over the max width's.
    pub arithmetic: f64,
    /// Expected values written by a step's passes over the max width's: the ratio a step
    /// bound by memory traffic (copies, normalisation, activations) would have.
    pub values: f64,
}

/// The expected cost ratio of a sandwich step of `num_samples` passes (max, min and random
/// widths drawn by `pruner`) to a plain step, over `draws` steps drawn from `seed`: for the
/// 8-layer bench net with per-group widths about 1.7 by arithmetic and 2.3 by values written.
pub fn sandwich_ideal(space: &ChannelSpace, pruner: &RatioPruner, num_samples: usize, input: [usize; 2], draws: usize, seed: u64) -> SandwichIdeal {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let draws = draws.max(1);
    let max = count(space, &Subnet::max(space), input, Convention::Paper);
    let (mut arithmetic, mut values) = (0.0, 0.0);
    for _ in 0..draws {
        for subnet in pruner.sandwich(space, num_samples, &mut rng) {
            let cost = count(space, &subnet, input, Convention::Paper);
            arithmetic += cost.flops as f64 / max.flops as f64;
            values += cost.activations as f64 / max.activations as f64;
        }
    }
    SandwichIdeal { arithmetic: arithmetic / draws as f64, values: values / draws as f64 }
}

/// A FLOPs or parameter count written short: `505.4M`, `12.3K`, `1.20G`.
pub struct Short(pub u64);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0 as f64;
        match x {
            x if x >= 1e9 => write!(f, "{:.2}G", x / 1e9),
            x if x >= 1e6 => write!(f, "{:.1}M", x / 1e6),
            x if x >= 1e3 => write!(f, "{:.1}K", x / 1e3),
            x => write!(f, "{x}"),
        }
    }
}

/// Parses a count written as a number or with a suffix K, M or G (`"300M"`, `"1.5e6"`).
pub fn parse_count(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, scale) = match text.chars().last() {
        Some('K' | 'k') => (&text[..text.len() - 1], 1e3),
        Some('M' | 'm') => (&text[..text.len() - 1], 1e6),
        Some('G' | 'g') => (&text[..text.len() - 1], 1e9),
        _ => (text, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok((x * scale).round() as u64),
        _ => Err(format!("`{text}` is not a positive count; write a number such as 300000 or 300K, 2.5M, 1G")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::nn::PaddingConfig2d;
    use slimmable::{SlimBatchNormConfig, SlimConv2dConfig, SlimLinearConfig};

    type B = NdArray;

    /// stem 3→8 (3×3, stride 2) → BN → ReLU → depthwise 8 (3×3) → BN → pointwise 8→16 → pool → fc 16→10.
    fn space() -> ChannelSpace {
        let device = Default::default();
        let stem = SlimConv2dConfig::new([3, 8], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init::<B>(&device);
        let bn = SlimBatchNormConfig::new(8).init::<B>(&device);
        let dw = SlimConv2dConfig::new([8, 8], [3, 3])
            .with_groups(8)
            .with_padding(PaddingConfig2d::Same)
            .with_bias(false)
            .init::<B>(&device);
        let bn2 = SlimBatchNormConfig::new(8).init::<B>(&device);
        let pw = SlimConv2dConfig::new([8, 16], [1, 1]).with_bias(true).init::<B>(&device);
        let fc = SlimLinearConfig::new(16, 10).init::<B>(&device);
        let mut space = ChannelSpace::builder();
        let a = Channels::Group(space.group("a", 8));
        let b = Channels::Group(space.group("b", 16));
        space.conv("stem", &stem, Channels::Fixed(3), a).norm("stem.bn", &bn, a).activation("stem.relu", a);
        space.conv("dw", &dw, a, a).norm("dw.bn", &bn2, a);
        space.conv("pw", &pw, a, b).global_pool("pool", b).linear("fc", &fc, b, Channels::Fixed(10));
        space.build().unwrap()
    }

    #[test]
    fn paper_flops_count_conv_and_linear_macs() {
        let space = space();
        let full = count(&space, &Subnet::max(&space), [32, 32], Convention::Paper);
        // 16×16 maps after the stem.
        let stem = 256 * 8 * 3 * 9;
        let dw = 256 * 8 * 9;
        let pw = 256 * 16 * 8;
        assert_eq!(full.flops, (stem + dw + pw + 16 * 10) as u64);
        assert_eq!(full.params, (8 * 27 + 16 + 8 * 9 + 16 + 16 * 8 + 16 + 16 * 10 + 10) as u64);
    }

    #[test]
    fn depthwise_scales_with_r_and_dense_with_r_squared() {
        let space = space();
        let half = Subnet::new(&space, vec![4, 8]).unwrap();
        let cost = count(&space, &half, [32, 32], Convention::Paper);
        let stem = 256 * 4 * 3 * 9; // output halved: r
        let dw = 256 * 4 * 9; // depthwise: r
        let pw = 256 * 8 * 4; // dense both sides: r²
        assert_eq!(cost.flops, (stem + dw + pw + 8 * 10) as u64);
    }

    #[test]
    fn mmcv_adds_bias_norm_activation_and_pooling() {
        let space = space();
        let max = Subnet::max(&space);
        let paper = count(&space, &max, [32, 32], Convention::Paper);
        let mmcv = count(&space, &max, [32, 32], Convention::Mmcv);
        let extra = 2 * 256 * 8 + 256 * 8 + 2 * 256 * 8 + 256 * 16 + 256 * 16;
        //          stem.bn     relu     dw.bn        pw bias    pool
        assert_eq!(mmcv.flops - paper.flops, extra as u64);
        assert_eq!(mmcv.params, paper.params);
    }

    #[test]
    fn activations_count_every_ops_output_values_at_the_subnets_widths() {
        let space = space();
        // stem, stem.bn, stem.relu, dw, dw.bn: a channels of 16×16; pw: b of 16×16; pool: b; fc: 10.
        let values = |a: u64, b: u64| 5 * 256 * a + 256 * b + b + 10;
        assert_eq!(count(&space, &Subnet::max(&space), [32, 32], Convention::Paper).activations, values(8, 16));
        let half = Subnet::new(&space, vec![4, 8]).unwrap();
        assert_eq!(count(&space, &half, [32, 32], Convention::Mmcv).activations, values(4, 8));
    }

    #[test]
    fn a_sandwich_of_max_and_min_only_costs_their_sum() {
        let space = space();
        // Two passes: max and min (ratio 1/2 of each group), no random ones to average over.
        let pruner = RatioPruner::new(vec![0.5, 1.0], None, crate::pruner::Sampling::PerGroup).unwrap();
        let ideal = sandwich_ideal(&space, &pruner, 2, [32, 32], 3, 1);
        let full = count(&space, &Subnet::max(&space), [32, 32], Convention::Paper);
        let half = count(&space, &Subnet::new(&space, vec![4, 8]).unwrap(), [32, 32], Convention::Paper);
        assert!((ideal.arithmetic - (1.0 + half.flops as f64 / full.flops as f64)).abs() < 1e-12);
        assert!((ideal.values - (1.0 + half.activations as f64 / full.activations as f64)).abs() < 1e-12);
        // With random widths between them the expectation lies between max + min and 4 × max.
        let four = sandwich_ideal(&space, &pruner, 4, [32, 32], 200, 1);
        assert!(four.arithmetic > ideal.arithmetic + 2.0 * half.flops as f64 / full.flops as f64 && four.arithmetic < 4.0);
    }

    #[test]
    fn counts_parse_with_suffixes() {
        assert_eq!(parse_count("300M"), Ok(300_000_000));
        assert_eq!(parse_count("2.5k"), Ok(2_500));
        assert_eq!(parse_count("1e6"), Ok(1_000_000));
        assert!(parse_count("-3M").is_err());
        assert!(parse_count("lots").unwrap_err().contains("not a positive count"));
        assert_eq!(Short(505_400_000).to_string(), "505.4M");
    }
}
