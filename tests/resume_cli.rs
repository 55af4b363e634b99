//! Nothing lost: training killed with SIGKILL in the middle of an epoch resumes from its last
//! checkpoint and ends with the weights of an uninterrupted run (ndarray, fixed seed), and a
//! checkpoint that was being written when the run died is passed over for the one before it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use autoslim::models::{SlimCnn, SlimCnnConfig};
use burn::backend::NdArray;
use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::Tensor;
use common::{autoslim, config, work_dir};

/// Every float tensor of the trained model in `run`, flattened in visiting order.
fn weights(run: &Path) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor<NdArray> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<NdArray, D>>) {
            self.0.push(param.val().into_data().to_vec::<f32>().unwrap());
        }
    }
    let model: SlimCnn<NdArray> = SlimCnnConfig::new(vec![16, 32], vec![2, 2]).init(&Default::default());
    let model = model
        .load_file(run.join("model.mpk"), &NamedMpkFileRecorder::<FullPrecisionSettings>::new(), &Default::default())
        .unwrap();
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

fn assert_same_weights(a: &Path, b: &Path) {
    let (wa, wb) = (weights(a), weights(b));
    assert_eq!(wa.len(), wb.len());
    let diff = wa.iter().zip(&wb).flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs())).fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "weights of {} and {} differ by up to {diff}", a.display(), b.display());
}

#[test]
fn a_run_killed_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_run() {
    let dir = work_dir("resume-kill");
    let config = config(&dir, "");
    let c = config.to_str().unwrap();
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));

    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "3", "--work-dir", whole.to_str().unwrap()]);
    assert!(ok, "{out}");

    // The same run, killed (SIGKILL) once its first checkpoint is on disk: in epoch 2.
    let mut child = Command::new(env!("CARGO_BIN_EXE_autoslim"))
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
    assert!(out.contains("resume: continuing after epoch"), "{out}");
    assert_same_weights(&whole, &killed);
    assert_eq!(
        std::fs::read_to_string(whole.join("accuracy.csv")).unwrap(),
        std::fs::read_to_string(killed.join("accuracy.csv")).unwrap()
    );

    // A last checkpoint cut short (a kill while it was written) is passed over: the run goes
    // back to epoch 2's and trains epoch 3 again, to the same weights.
    let last = whole.join("checkpoint/model-3.mpk");
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(whole.join("model.mpk")).unwrap();
    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "3", "--work-dir", whole.to_str().unwrap(), "--resume"]);
    assert!(ok, "{out}");
    assert!(out.contains("model-3.mpk does not load") && out.contains("resume: continuing after epoch 2 of 3"), "{out}");
    assert_same_weights(&whole, &killed);
    std::fs::remove_dir_all(dir).unwrap();
}
