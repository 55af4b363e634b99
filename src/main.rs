//! `autoslim`: train slimmable networks with AutoSlim from a TOML config.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use autoslim_cli::commands;

#[derive(Parser)]
#[command(name = "autoslim", version, about = "Slimmable networks and AutoSlim on burn")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a slimmable network (or retrain a subnet) from a config, then report accuracy at
    /// every width ratio as a table and a plot.
    Train {
        /// The TOML config.
        #[arg(long)]
        config: PathBuf,
        /// Continue from the last checkpoint in the work directory.
        #[arg(long)]
        resume: bool,
        /// Override the config's work directory.
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Override the data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Override the number of epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// The subnet to retrain (MMRazor channel YAML); needs `retraining = true`.
        #[arg(long)]
        subnet: Option<PathBuf>,
    },
    /// Write the channel configuration (MMRazor YAML) of a uniform-width subnet of the
    /// config's model: every channel group at `--ratio`.
    Subnet {
        /// The TOML config naming the model.
        #[arg(long)]
        config: PathBuf,
        /// Width ratio in (0, 1], a number or a fraction such as 6/12.
        #[arg(long)]
        ratio: String,
        /// Where to write the YAML.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Train { config, resume, work_dir, data_dir, epochs, subnet } => {
            let mut config = autoslim::config::Config::load(&config)?;
            if let Some(dir) = work_dir {
                config.work_dir = dir;
            }
            if let Some(dir) = data_dir {
                config.data.root = Some(dir);
            }
            if let Some(epochs) = epochs {
                anyhow::ensure!(epochs > 0, "--epochs: must be at least 1");
                config.schedule.epochs = epochs;
            }
            commands::train(&config, resume, subnet.as_deref()).context("train")
        }
        Command::Subnet { config, ratio, out } => {
            let config = autoslim::config::Config::load(&config)?;
            commands::write_uniform_subnet(&config, &ratio, &out).context("subnet")
        }
    }
}
