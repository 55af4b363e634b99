//! The model zoo: MobileNetV2 ×1.5 reading MMRazor's official AutoSlim channel files, and the
//! small-image MobileNetV2 and ResNet-20 of the Fashion-MNIST configs at several widths.
//!
//! ```sh
//! cargo run --release --example zoo
//! ```
//!
//! For each model: channel groups, FLOPs (paper and mmcv conventions) and parameters; for
//! the official files, a forward pass of the subnet and its deployment as a plain model.

use autoslim::channels::{ChannelSpace, Subnet};
use autoslim::cost::{Convention, Short, count};
use autoslim::deploy::{Classifier, Deploy, trainable_params};
use autoslim::model::SlimmableModel;
use autoslim::models::{SlimMobileNetV2Config, SlimResNetConfig};
use autoslim_cli::backend::{Backend, device};
use burn::tensor::{Distribution, Tensor};
use slimmable::NormMode;

fn row(space: &ChannelSpace, label: &str, subnet: &Subnet, input: [usize; 2]) {
    let paper = count(space, subnet, input, Convention::Paper);
    let mmcv = count(space, subnet, input, Convention::Mmcv);
    println!(
        "  {label:<34} | {:>9} | {:>9} | {:>9}",
        Short(paper.flops).to_string(),
        Short(mmcv.flops).to_string(),
        Short(paper.params).to_string()
    );
}

fn main() -> anyhow::Result<()> {
    let device = device();
    let header = || println!("  {:<34} | {:>9} | {:>9} | {:>9}", "subnet", "FLOPs", "mmcv", "params");

    let mbv2 = SlimMobileNetV2Config::new().with_widen_factor(1.5).try_init::<Backend>(&device).map_err(anyhow::Error::msg)?;
    let space = mbv2.space();
    println!("MobileNetV2 ×1.5, 224×224, 1000 classes: {} channel groups", space.groups().len());
    header();
    row(space, "full width", &Subnet::max(space), [224, 224]);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/autoslim/fixtures/mmrazor-autoslim-mbv2");
    let images = Tensor::<Backend, 4>::random([1, 3, 224, 224], Distribution::Normal(0.0, 1.0), &device);
    for name in ["AUTOSLIM_MBV2_530M_OFFICIAL", "AUTOSLIM_MBV2_320M_OFFICIAL", "AUTOSLIM_MBV2_220M_OFFICIAL"] {
        let text = std::fs::read_to_string(fixtures.join(format!("{name}.yaml")))?;
        let subnet = Subnet::from_yaml(space, &text)?;
        row(space, name, &subnet, [224, 224]);
        // The subnet runs, and deploys to a plain model computing the same logits.
        let plain = mbv2.deploy(&subnet)?;
        let slim = mbv2.forward_subnet(images.clone(), &subnet, NormMode::Auto);
        let diff: f32 = slim.sub(plain.forward(images.clone())).abs().max().into_scalar();
        println!("  {:<34}   deployed: {} parameters, max abs logit difference {diff:.1e}", "", trainable_params(&plain));
    }

    let small = SlimMobileNetV2Config::new()
        .with_small_input(true)
        .with_in_channels(1)
        .with_num_classes(10)
        .try_init::<Backend>(&device)
        .map_err(anyhow::Error::msg)?;
    let resnet = SlimResNetConfig::new(20).with_in_channels(1).with_num_classes(10).try_init::<Backend>(&device).map_err(anyhow::Error::msg)?;
    for (title, space) in [
        ("MobileNetV2 ×1.0, small-image stem", small.space()),
        ("ResNet-20 (CIFAR-style)", resnet.space()),
    ] {
        println!("\n{title}, 28×28, 10 classes: {} channel groups", space.groups().len());
        header();
        for twelfths in [3, 6, 9, 12] {
            let subnet = Subnet::uniform(space, twelfths as f64 / 12.0, None).map_err(anyhow::Error::msg)?;
            row(space, &format!("uniform {twelfths}/12"), &subnet, [28, 28]);
        }
    }
    Ok(())
}
