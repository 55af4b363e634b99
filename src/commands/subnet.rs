//! `autoslim subnet`: the channel file of a uniform-width subnet.

use std::path::Path;

use anyhow::{Context, Result};
use autoslim::channels::Subnet;
use autoslim::config::{Config, parse_ratio};

use super::common::model_space;
use crate::files::write_atomic;

/// Writes the MMRazor channel YAML of the config's model with every group at `ratio`.
pub fn write_uniform_subnet<B: burn::tensor::backend::Backend>(config: &Config, ratio: &str, out: &Path) -> Result<()> {
    let ratio = parse_ratio(ratio).context("--ratio")?;
    let space = model_space::<B>(config)?;
    let subnet = Subnet::uniform(&space, ratio, config.pruner.divisor()).map_err(anyhow::Error::msg)?;
    write_atomic(out, subnet.to_yaml(&space))?;
    println!("wrote {} (channels per group {:?})", out.display(), subnet.as_slice());
    Ok(())
}
