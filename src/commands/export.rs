//! `autoslim export`: a subnet of a checkpoint as a plain burn model (record and safetensors).

use std::path::Path;

use anyhow::{Result, ensure};
use autoslim::config::Config;
use autoslim::cost::{Convention, Short, count};
use autoslim::deploy::{Classifier, Deploy, save, trainable_params};
use autoslim::eval::{accuracy, recalibrate};
use autoslim::model::SlimmableModel;
use burn::data::dataset::Dataset;
use slimmable::NormMode;

use super::common::{EvalData, load_model, read_subnet};

/// Deploys `subnet_file` of `checkpoint` to `{out}.mpk`, `{out}.safetensors` and `{out}.json`.
/// With `recalibrate`, the subnet's BatchNorm statistics are first recomputed on the config's
/// calibration batches (needed for a supernet checkpoint; a retrained subnet has its own).
pub fn export(config: &Config, checkpoint: &Path, subnet_file: &Path, out: &Path, recalibrate_bn: bool) -> Result<()> {
    let model = load_model(config, checkpoint)?;
    let space = model.space().clone();
    let subnet = read_subnet(&space, subnet_file)?;
    let data = EvalData::load(config)?;
    if recalibrate_bn {
        recalibrate(&model, &subnet, &data.calibration);
        println!("BN statistics recalibrated on {} training batches", data.calibration.len());
    }
    let plain = model.deploy(&subnet)?;

    // The deployed model must compute what the slimmable one computes at this subnet.
    let test = data.test_batches(config);
    let batch = &test[0];
    let slim_logits = model.forward_subnet(batch.images.clone(), &subnet, NormMode::Auto);
    let plain_logits = plain.forward(batch.images.clone());
    let diff: f32 = slim_logits.sub(plain_logits).abs().max().into_scalar();
    ensure!(diff < 1e-4, "the deployed model differs from the slimmable one at this subnet by {diff} (max abs logit)");
    let counted = count(&space, &subnet, data.image_size(), Convention::Paper);
    let deployed = trainable_params(&plain) as u64;
    ensure!(deployed == counted.params, "the deployed model has {deployed} parameters, the count says {}", counted.params);

    let files = save(&plain, &model.plain_config(&subnet), out).map_err(anyhow::Error::msg)?;
    let acc = accuracy(&model, &subnet, NormMode::Auto, &test);
    println!(
        "subnet {:?}: {} FLOPs, {} parameters; test accuracy {acc:.2} % ({} images); max abs logit difference to the slimmable model {diff:.2e}",
        subnet.as_slice(),
        Short(counted.flops),
        counted.params,
        data.test.len()
    );
    println!("wrote {}, {} and {}", files.record.display(), files.safetensors.display(), files.config.display());
    Ok(())
}
