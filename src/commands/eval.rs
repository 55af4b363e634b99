//! `autoslim eval`: accuracy, FLOPs and parameters of a checkpoint at given subnets or ratios.

use std::path::{Path, PathBuf};

use anyhow::Result;
use autoslim::channels::Subnet;
use autoslim::config::Config;
use autoslim::cost::{Convention, Short, count};
use autoslim::eval::evaluate;
use autoslim::model::SlimmableModel;
use burn::data::dataset::Dataset;

use super::common::{EvalData, describe_norm, eval_norm, load_checkpoint, ratio_arg, read_subnet, with_model};
use burn::tensor::backend::Backend;

use crate::backend;

/// Prints the table of `autoslim eval`. With neither subnets nor ratios, the config's
/// `[evaluation] ratios`.
pub fn eval<B: Backend>(config: &Config, checkpoint: &Path, subnet_files: &[PathBuf], ratios: &[String]) -> Result<()> {
    with_model!(config, B, 1, |model| eval_model(config, load_checkpoint(model, checkpoint)?, checkpoint, subnet_files, ratios))
}

fn eval_model<B: Backend, M: SlimmableModel<B>>(
    config: &Config,
    model: M,
    checkpoint: &Path,
    subnet_files: &[PathBuf],
    ratios: &[String],
) -> Result<()> {
    let space = model.space().clone();
    let mut subnets: Vec<(String, Subnet)> = Vec::new();
    for file in subnet_files {
        subnets.push((file.display().to_string(), read_subnet(&space, file)?));
    }
    for text in ratios {
        let ratio = ratio_arg(text)?;
        subnets.push((format!("ratio {text}"), Subnet::uniform(&space, ratio, config.pruner.divisor()).map_err(anyhow::Error::msg)?));
    }
    if subnets.is_empty() {
        for &ratio in &config.evaluation.ratios {
            subnets.push((format!("ratio {ratio:.4}"), Subnet::uniform(&space, ratio, config.pruner.divisor()).map_err(anyhow::Error::msg)?));
        }
    }
    let data = EvalData::<B>::load(config)?;
    let test = data.test_batches(config);
    let norm = eval_norm(config);
    println!("backend: {}; {}", backend::summary(), data.note);
    println!("checkpoint {}; {} test images, {}", checkpoint.display(), data.test.len(), describe_norm(norm));
    let input = data.image_size();
    println!("FLOPs of one {}×{} image\n", input[0], input[1]);
    println!("{:<40} | {:>10} | {:>10} | {:>9} | {:>7} | channels per group", "subnet", "FLOPs", "mmcv FLOPs", "params", "top-1 %");
    for (name, subnet) in &subnets {
        let paper = count(&space, subnet, input, Convention::Paper);
        let mmcv = count(&space, subnet, input, Convention::Mmcv);
        let acc = evaluate(&model, subnet, norm, &data.calibration, &test);
        println!(
            "{name:<40} | {:>10} | {:>10} | {:>9} | {acc:>7.2} | {:?}",
            Short(paper.flops).to_string(),
            Short(mmcv.flops).to_string(),
            Short(paper.params).to_string(),
            subnet.as_slice()
        );
    }
    Ok(())
}
