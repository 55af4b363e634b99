//! `autoslim search`: AutoSlim's greedy channel search on a trained supernet, resumable after
//! every step, with one channel file per FLOPs target and a plot of accuracy against FLOPs.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use autoslim::channels::Subnet;
use autoslim::config::Config;
use autoslim::cost::{Short, count};
use autoslim::eval::{EvalBatches, evaluate, to_batches};
use autoslim::model::SlimmableModel;
use autoslim::plot::{Series, line_plot};
use autoslim::search::{GreedySearch, SearchSettings, SearchState};
use burn::data::dataset::Dataset;

use super::common::{EvalData, describe_norm, eval_norm, load_checkpoint, with_model};
use burn::tensor::backend::Backend;

use crate::backend;
use crate::files::{write_atomic, write_atomic_with};

/// Runs the search of `config`'s `[search]` on `checkpoint`, writing into `{work_dir}/search`.
/// An existing state there is continued unless `restart`.
pub fn search<B: Backend>(config: &Config, checkpoint: &Path, restart: bool) -> Result<()> {
    let Some(search_config) = &config.search else {
        bail!("the config has no [search] table; add one with at least `targets = [\"...\"]` (FLOPs, e.g. \"300K\")");
    };
    with_model!(config, B, 1, |model| search_model(config, search_config, &load_checkpoint(model, checkpoint)?, checkpoint, restart))
}

fn search_model<B: Backend, M: SlimmableModel<B>>(
    config: &Config,
    search_config: &autoslim::config::SearchConfig,
    model: &M,
    checkpoint: &Path,
    restart: bool,
) -> Result<()> {
    let space = model.space().clone();
    let data = EvalData::<B>::load(config)?;
    let norm = eval_norm(config);

    // The images candidates are scored on.
    let n = search_config.score_images;
    let scoring = match search_config.score_source.as_str() {
        "test" => data.test.take(n),
        _ => {
            let calibrated = config.evaluation.calibration_batches * config.data.batch_size;
            let held: Vec<usize> = data.order.iter().copied().skip(calibrated).take(n).collect();
            data.train.select(held)
        }
    };
    // Every candidate is scored on the same images: kept on the device.
    let score_batches = EvalBatches::Resident(to_batches(&scoring, &data.batcher, config.evaluation.batch_size, &Default::default()));
    let score = |subnet: &Subnet| evaluate(model, subnet, norm, &data.calibration, &score_batches);

    let settings = SearchSettings {
        bins: search_config.bins,
        targets: search_config.targets.clone(),
        convention: search_config.convention,
        input_size: data.image_size(),
        divisor: config.pruner.divisor(),
    };
    let out_dir = config.work_dir.join("search");
    let state_path = out_dir.join("state.json");
    let saved: Option<SearchState> = match (restart, state_path.is_file()) {
        (false, true) => {
            let text = std::fs::read_to_string(&state_path).with_context(|| format!("cannot read {}", state_path.display()))?;
            Some(serde_json::from_str(&text).with_context(|| {
                format!("search state {} is corrupt; rerun with --restart to start afresh", state_path.display())
            })?)
        }
        _ => None,
    };
    println!("backend: {}; {}", backend::summary(), data.note);
    println!(
        "scoring on {} {} images, {}; FLOPs ({:?} convention) of one {}×{} image",
        scoring.len(),
        search_config.score_source,
        describe_norm(norm),
        settings.convention,
        settings.input_size[0],
        settings.input_size[1]
    );
    if let Some(state) = &saved {
        println!("resuming the search in {} after {} steps", state_path.display(), state.path.len() - 1);
    }
    let started = Instant::now();
    let mut search = GreedySearch::new(&space, settings.clone(), fingerprint(checkpoint, config)?, saved, score)?;
    let save_state = |search: &GreedySearch| -> Result<()> {
        write_atomic(&state_path, serde_json::to_string_pretty(search.state())?)?;
        for found in &search.state().found {
            let path = out_dir.join(format!("subnet_{}.yaml", found.target));
            if !path.is_file() {
                let subnet = Subnet::new(&space, found.subnet.channels.clone()).map_err(anyhow::Error::msg)?;
                write_atomic(&path, subnet.to_yaml(&space))?;
                println!(
                    "  target {} FLOPs: {:?}, {} FLOPs, score {:.2} % → {}",
                    Short(found.target),
                    found.subnet.channels,
                    Short(found.subnet.flops),
                    found.subnet.score,
                    path.display()
                );
            }
        }
        Ok(())
    };
    save_state(&search)?;
    let first = &search.state().path[0];
    println!("full network {:?}: {} FLOPs, score {:.2} %", first.channels, Short(first.flops), first.score);
    loop {
        let step_started = Instant::now();
        let candidates = search.candidates().len();
        let Some(step) = search.step(score).cloned() else { break };
        println!(
            "step {:>3}: {:?} {:>8} FLOPs, score {:.2} % (best of {candidates} candidates, {:.1} s)",
            search.state().path.len() - 1,
            step.channels,
            Short(step.flops).to_string(),
            step.score,
            step_started.elapsed().as_secs_f64()
        );
        save_state(&search)?;
    }
    if !search.done() {
        bail!("no channel group can shrink further, yet some targets are not reached");
    }

    // Uniform widths on the same held-out images, for the plot.
    let mut uniform = Vec::new();
    for &ratio in config.pruner.ratios() {
        let subnet = Subnet::uniform(&space, ratio, settings.divisor).map_err(anyhow::Error::msg)?;
        let flops = count(&space, &subnet, settings.input_size, settings.convention).flops;
        uniform.push((ratio, subnet.clone(), flops, score(&subnet)));
    }
    let state = search.state();
    let mut csv = String::from("kind,flops,params,score,channels\n");
    let params = |channels: &[usize]| {
        let subnet = Subnet::new(&space, channels.to_vec()).expect("searched subnets are valid");
        count(&space, &subnet, settings.input_size, settings.convention).params
    };
    let join = |channels: &[usize]| channels.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ");
    for step in &state.path {
        csv.push_str(&format!("greedy,{},{},{:.4},{}\n", step.flops, params(&step.channels), step.score, join(&step.channels)));
    }
    for found in &state.found {
        let s = &found.subnet;
        csv.push_str(&format!("target {},{},{},{:.4},{}\n", found.target, s.flops, params(&s.channels), s.score, join(&s.channels)));
    }
    for (ratio, subnet, flops, acc) in &uniform {
        csv.push_str(&format!("uniform {ratio:.4},{flops},{},{acc:.4},{}\n", params(subnet.as_slice()), join(subnet.as_slice())));
    }
    write_atomic(&out_dir.join("results.csv"), csv)?;
    let mflops = |f: u64| f as f64 / 1e6;
    let series = [
        Series { name: "greedy search path".into(), points: state.path.iter().map(|s| (mflops(s.flops), s.score)).collect() },
        Series { name: "uniform widths".into(), points: uniform.iter().map(|u| (mflops(u.2), u.3)).collect() },
    ];
    let plot = out_dir.join("accuracy_vs_flops.svg");
    write_atomic_with(&plot, |tmp| {
        line_plot(tmp, "Held-out accuracy against FLOPs", "MFLOPs", "accuracy (%)", &series).map_err(anyhow::Error::msg)
    })?;

    println!("\n{:>10} | {:>10} | {:>8} | channels per group", "target", "FLOPs", "score %");
    for found in &state.found {
        println!("{:>10} | {:>10} | {:>8.2} | {:?}", Short(found.target).to_string(), Short(found.subnet.flops).to_string(), found.subnet.score, found.subnet.channels);
    }
    println!("\nwrote {}, results.csv and accuracy_vs_flops.svg; search took {:.0} s", out_dir.display(), started.elapsed().as_secs_f64());
    Ok(())
}

/// What identifies a search: the checkpoint's bytes and the config's search-relevant parts.
fn fingerprint(checkpoint: &Path, config: &Config) -> Result<String> {
    let bytes = std::fs::read(checkpoint).with_context(|| format!("cannot read {}", checkpoint.display()))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    let search = config.search.as_ref().map(|s| (s.score_images, s.score_source.clone()));
    format!("{search:?} {} {:?} {}", config.evaluation.bn, config.seed, config.evaluation.calibration_batches).hash(&mut hasher);
    Ok(format!("checkpoint {} ({} bytes), hash {:016x}", checkpoint.display(), bytes.len(), hasher.finish()))
}
