//! What the end-to-end tests share: a small real config on the shipped Fashion-MNIST subset,
//! a fresh work directory, and running the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autoslim-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small but real config: 2048 training and 500 test images, a 2-layer CNN.
pub fn config(dir: &Path, extra_algorithm: &str) -> PathBuf {
    let subset = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist-subset");
    let text = format!(
        r#"
work_dir = "{work}"
seed = 3
[algorithm]
type = "AutoSlim"
num_sample_training = 3
{extra_algorithm}
[algorithm.architecture]
type = "SlimCnn"
channels = [16, 32]
strides = [2, 2]
[algorithm.pruner]
type = "RatioPruner"
ratios = ["4/12", "8/12", "12/12"]
[algorithm.distiller]
type = "SelfDistiller"
losses = [{{ type = "KLDivergence", tau = 1.0, loss_weight = 1.0 }}]
[data]
type = "FashionMNIST"
root = "{subset}"
batch_size = 64
num_workers = 1
train_limit = 2048
test_limit = 500
[optimizer]
type = "SGD"
lr = 0.2
[schedule]
type = "CosineAnnealing"
epochs = 2
[evaluation]
calibration_batches = 2
"#,
        work = dir.join("run").display(),
        subset = subset.display()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The real binary on the CPU backend (a test build with `test-wgpu` also holds wgpu, which
/// it would prefer).
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_autoslim"));
    command.env("AUTOSLIM_BACKEND", "ndarray");
    command
}

/// Runs the binary on ndarray: whether it succeeded, and its stdout and stderr.
pub fn autoslim(args: &[&str]) -> (bool, String) {
    autoslim_on("ndarray", args)
}

/// Runs the binary on `backend`: whether it succeeded, and its stdout and stderr.
pub fn autoslim_on(backend: &str, args: &[&str]) -> (bool, String) {
    let out = binary().env("AUTOSLIM_BACKEND", backend).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}


pub fn config_text_without(dir: &Path, line: &str) -> String {
    std::fs::read_to_string(dir.join("config.toml")).unwrap().replace(line, "")
}
