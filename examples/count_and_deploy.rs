//! FLOPs and parameters of subnets, and deploying one as a plain burn model.
//!
//! ```sh
//! cargo run --release --example count_and_deploy
//! ```
//!
//! Builds the slimmable CNN of the Fashion-MNIST configs, counts FLOPs (both conventions) and
//! parameters at several widths, deploys the 6/12 subnet as a plain model with physically
//! smaller weights, checks that it computes what the slimmable model computes there, and saves
//! it as a burn record and as safetensors.

use autoslim::channels::Subnet;
use autoslim::cost::{Convention, Short, count};
use autoslim::deploy::{Classifier, Deploy, save, trainable_params};
use autoslim::model::SlimmableModel;
use autoslim::models::SlimCnnConfig;
use autoslim_cli::backend::{Backend, device};
use burn::tensor::{Distribution, Tensor};
use slimmable::NormMode;

fn main() -> anyhow::Result<()> {
    let device = device();
    let model = SlimCnnConfig::new(vec![16, 32, 32, 64], vec![1, 2, 2, 1]).init::<Backend>(&device);
    let space = model.space();
    println!("{:>6} | {:>10} | {:>10} | {:>8} | channels", "ratio", "FLOPs", "mmcv FLOPs", "params");
    for twelfths in [3, 6, 9, 12] {
        let subnet = Subnet::uniform(space, twelfths as f64 / 12.0, None).map_err(anyhow::Error::msg)?;
        let paper = count(space, &subnet, [28, 28], Convention::Paper);
        let mmcv = count(space, &subnet, [28, 28], Convention::Mmcv);
        println!(
            "{:>6} | {:>10} | {:>10} | {:>8} | {:?}",
            format!("{twelfths}/12"),
            Short(paper.flops).to_string(),
            Short(mmcv.flops).to_string(),
            paper.params,
            subnet.as_slice()
        );
    }

    let subnet = Subnet::uniform(space, 0.5, None).map_err(anyhow::Error::msg)?;
    let plain = model.deploy(&subnet)?;
    let images = Tensor::<Backend, 4>::random([8, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let diff: f32 = model
        .forward_subnet(images.clone(), &subnet, NormMode::Auto)
        .sub(plain.forward(images))
        .abs()
        .max()
        .into_scalar();
    println!("\ndeployed 6/12: {} parameters, max abs logit difference {diff:.1e}", trainable_params(&plain));
    let out = std::env::temp_dir().join("autoslim-example/cnn_6of12");
    let files = save(&plain, &model.plain_config(&subnet), &out).map_err(anyhow::Error::msg)?;
    println!("wrote {}, {} and {}", files.record.display(), files.safetensors.display(), files.config.display());
    Ok(())
}
