//! Nothing lost: training killed with SIGKILL in the middle of an epoch resumes from its last
//! checkpoint and ends with exactly the weights of an uninterrupted run (same seed, ndarray),
//! and a checkpoint cut short while it was written is passed over for the one before it.
//!
//! What makes the weights equal: the shuffle order and the sandwich widths depend on the seed,
//! the epoch and the step alone (replayed on resume), and every CPU kernel gives the same bits
//! on every run (burn-ndarray's `simd` feature is off; the workspace Cargo.toml says why).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use autoslim::models::{SlimCnn, SlimCnnConfig};
use burn::backend::NdArray;
use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::Tensor;
use common::{autoslim, binary, config, work_dir};

/// Every trainable tensor of the trained model in `run`, flattened in visiting order. BatchNorm
/// running statistics are left out: training normalises with batch statistics, and every
/// evaluation recalibrates them first.
fn weights(run: &Path) -> Vec<Vec<f32>> {
    struct Collect(Vec<String>, Vec<Vec<f32>>);
    impl ModuleVisitor<NdArray> for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.0.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.0.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<NdArray, D>>) {
            if !self.0.last().is_some_and(|name| name.starts_with("running_")) {
                self.1.push(param.val().into_data().to_vec::<f32>().unwrap());
            }
        }
    }
    let model: SlimCnn<NdArray> = SlimCnnConfig::new(vec![16, 32], vec![2, 2]).init(&Default::default());
    let model = model
        .load_file(run.join("model.mpk"), &NamedMpkFileRecorder::<FullPrecisionSettings>::new(), &Default::default())
        .unwrap();
    let mut collect = Collect(Vec::new(), Vec::new());
    model.visit(&mut collect);
    collect.1
}

/// The largest difference between the trainable weights of two runs.
fn weight_difference(a: &Path, b: &Path) -> f32 {
    let (wa, wb) = (weights(a), weights(b));
    assert_eq!(wa.len(), wb.len());
    wa.iter().zip(&wb).flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs())).fold(0.0f32, f32::max)
}

/// The first `n` lines of an epoch's loss log (burn-train writes one line per step).
fn losses(run: &Path, epoch: usize, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(run.join(format!("train/epoch-{epoch}/Loss.log"))).unwrap();
    text.lines().take(n).map(str::to_string).collect()
}

#[test]
fn a_run_killed_mid_epoch_resumes_and_a_cut_short_checkpoint_is_passed_over() {
    let dir = work_dir("resume-kill");
    let config = config(&dir, "");
    let c = config.to_str().unwrap();
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));

    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "3", "--work-dir", whole.to_str().unwrap()]);
    assert!(ok, "{out}");

    // The same run, killed (SIGKILL) once its first checkpoint is on disk: in epoch 2.
    let mut child = binary()
        .args(["train", "--config", c, "--epochs", "3", "--work-dir", killed.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = killed.join("checkpoint");
    let started = Instant::now();
    while !checkpoint.join("scheduler-1.mpk").is_file() {
        assert!(started.elapsed() < Duration::from_secs(300), "no checkpoint after 300 s");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its first checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("model.mpk").is_file(), "the run finished before it was killed");
    assert!(!checkpoint.join("model-3.mpk").is_file());

    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "3", "--work-dir", killed.to_str().unwrap(), "--resume"]);
    assert!(ok, "{out}");
    let after: usize = out
        .split("resume: continuing after epoch ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume line: {out}"));
    assert!((1..3).contains(&after), "{out}");
    assert!(killed.join("model.mpk").is_file() && killed.join("accuracy.csv").is_file(), "{out}");
    // burn-train numbers a resumed run's logs from 1. Every step of the resumed run repeats the
    // uninterrupted run's loss, bit for bit, and the final weights are the same.
    assert_eq!(losses(&killed, 1, usize::MAX), losses(&whole, after + 1, usize::MAX), "resumed after epoch {after}");
    assert_eq!(weight_difference(&whole, &killed), 0.0, "the resumed run ended with other weights");

    // A last checkpoint cut short (a kill while it was written) is passed over: the run goes
    // back to epoch 2's and trains epoch 3 again, to the same weights.
    let finished = dir.join("finished");
    std::fs::create_dir_all(&finished).unwrap();
    std::fs::copy(whole.join("model.mpk"), finished.join("model.mpk")).unwrap();
    let last = whole.join("checkpoint/model-3.mpk");
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(whole.join("model.mpk")).unwrap();
    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "3", "--work-dir", whole.to_str().unwrap(), "--resume"]);
    assert!(ok, "{out}");
    assert!(out.contains("model-3.mpk does not load") && out.contains("resume: continuing after epoch 2 of 3"), "{out}");
    assert!(whole.join("model.mpk").is_file(), "{out}");
    assert_eq!(weight_difference(&whole, &finished), 0.0, "epoch 3 trained again ended with other weights");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The number of greedy steps a search's saved state holds, once the file is there.
fn search_steps(state: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(state).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(value["path"].as_array()?.len() - 1)
}

#[test]
fn a_search_killed_mid_way_resumes_at_its_step_and_ends_as_an_uninterrupted_one() {
    let dir = work_dir("resume-search");
    let config = config(&dir, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    // Enough held-out images that one greedy step takes about a second, and 13 steps to the
    // lower target.
    text.push_str("\n[search]\ntargets = [\"150K\", \"40K\"]\nscore_images = 2000\n");
    std::fs::write(&config, &text).unwrap();
    let c = config.to_str().unwrap();
    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "1"]);
    assert!(ok, "{out}");
    let checkpoint = dir.join("run/model.mpk");
    let ckpt = checkpoint.to_str().unwrap();
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));

    let (ok, out) = autoslim(&["search", "--config", c, "--checkpoint", ckpt, "--work-dir", whole.to_str().unwrap()]);
    assert!(ok, "{out}");
    let total = search_steps(&whole.join("search/state.json")).unwrap();

    // The same search, killed (SIGKILL) once it has saved a few steps.
    let mut child = binary()
        .args(["search", "--config", c, "--checkpoint", ckpt, "--work-dir", killed.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = killed.join("search/state.json");
    let started = Instant::now();
    while search_steps(&state).is_none_or(|steps| steps < 3) {
        assert!(started.elapsed() < Duration::from_secs(300), "no third step after 300 s");
        assert!(child.try_wait().unwrap().is_none(), "the search ended before its third step");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let reached = search_steps(&state).unwrap();
    assert!(reached < total, "the search finished ({reached} of {total} steps) before it was killed");

    // Rerun: it continues at the step it reached and ends with the same path and subnets.
    let (ok, out) = autoslim(&["search", "--config", c, "--checkpoint", ckpt, "--work-dir", killed.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("after {reached} steps")), "{out}");
    assert!(!out.contains(&format!("step {reached:>3}:")), "step {reached} was searched again:\n{out}");
    for file in ["state.json", "results.csv", "subnet_150000.yaml", "subnet_40000.yaml"] {
        let read = |root: &Path| std::fs::read_to_string(root.join("search").join(file)).unwrap();
        assert_eq!(read(&killed), read(&whole), "{file} of the resumed search");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
