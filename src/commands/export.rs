//! `autoslim export`: a subnet of a checkpoint as a plain burn model (record and safetensors).

use std::path::Path;

use anyhow::{Context, Result, ensure};
use autoslim::config::Config;
use autoslim::channels::Subnet;
use autoslim::cost::{Convention, Cost, Short, count};
use autoslim::deploy::{Classifier, Deploy, DeployedFiles, save, trainable_params};
use autoslim::eval::{EvalBatches, accuracy, recalibrate};
use burn::data::dataset::Dataset;
use slimmable::NormMode;

use super::common::{EvalData, load_checkpoint, read_subnet, with_model};
use burn::tensor::ElementConversion;
use burn::tensor::backend::Backend;

/// Deploys `subnet_file` of `checkpoint` to `{out}.mpk`, `{out}.safetensors` and `{out}.json`.
/// With `recalibrate`, the subnet's BatchNorm statistics are first recomputed on the config's
/// calibration batches (needed for a supernet checkpoint; a retrained subnet has its own).
pub fn export<B: Backend>(config: &Config, checkpoint: &Path, subnet_file: &Path, out: &Path, recalibrate_bn: bool) -> Result<()> {
    with_model!(config, B, 1, |model| {
        export_model(config, &load_checkpoint(model, checkpoint)?, subnet_file, out, recalibrate_bn)
    })
}

fn export_model<B: Backend, M: Deploy<B>>(config: &Config, model: &M, subnet_file: &Path, out: &Path, recalibrate_bn: bool) -> Result<()> {
    let space = model.space().clone();
    let subnet = read_subnet(&space, subnet_file)?;
    let data = EvalData::<B>::load(config)?;
    if recalibrate_bn {
        recalibrate(model, &subnet, &data.calibration);
        println!("BN statistics recalibrated on {} training batches", data.calibration.len());
    }
    let test = data.test_batches(config);
    let deployed = deploy_checked(model, &subnet, &test, data.image_size(), out)?;
    let acc = accuracy(model, &subnet, NormMode::Auto, &test);
    println!(
        "subnet {:?}: {} FLOPs, {} parameters; test accuracy {acc:.2} % ({} images); max abs logit difference to the slimmable model {:.2e}",
        subnet.as_slice(),
        Short(deployed.cost.flops),
        deployed.cost.params,
        data.test.len(),
        deployed.max_diff
    );
    let files = &deployed.files;
    println!("wrote {}, {} and {}", files.record.display(), files.safetensors.display(), files.config.display());
    Ok(())
}

/// What [`deploy_checked`] wrote and checked.
pub struct Deployed {
    /// The files.
    pub files: DeployedFiles,
    /// The subnet's paper-convention FLOPs and its parameters.
    pub cost: Cost,
    /// Max abs logit difference between the plain and the slimmable model on one test batch.
    pub max_diff: f32,
}

/// Deploys `subnet` of `model` as a plain model, checks that it computes what the slimmable
/// model computes (max abs logit difference < 1e-4 on the first test batch) and holds exactly
/// the counted parameters, then writes `{out}.mpk`, `{out}.safetensors` and `{out}.json`.
pub fn deploy_checked<B: Backend, M: Deploy<B>>(
    model: &M,
    subnet: &Subnet,
    test: &EvalBatches<B>,
    image_size: [usize; 2],
    out: &Path,
) -> Result<Deployed> {
    let plain = model.deploy(subnet)?;
    let batch = test.first().context("no test images to check the deployed model with")?;
    let slim_logits = model.forward_subnet(batch.images.clone(), subnet, NormMode::Auto);
    let plain_logits = plain.forward(batch.images.clone());
    let max_diff: f32 = slim_logits.sub(plain_logits).abs().max().into_scalar().elem();
    ensure!(
        max_diff < 1e-4,
        "the deployed model differs from the slimmable one at this subnet by {max_diff} (max abs logit)"
    );
    let cost = count(model.space(), subnet, image_size, Convention::Paper);
    let params = trainable_params(&plain) as u64;
    ensure!(params == cost.params, "the deployed model has {params} parameters, the count says {}", cost.params);
    let files = save(&plain, &model.plain_config(subnet), out).map_err(anyhow::Error::msg)?;
    Ok(Deployed { files, cost, max_diff })
}
