//! End to end: the `autoslim` binary trains on the shipped Fashion-MNIST subset, writes its
//! checkpoints, table and plot, resumes, and rejects bad configs with a clear message.

mod common;

use common::{autoslim, autoslim_on, binary, config, config_text_without, work_dir};

#[test]
fn train_writes_results_and_resume_continues() {
    let dir = work_dir("train");
    let config = config(&dir, "");
    let (ok, out) = autoslim(&["train", "--config", config.to_str().unwrap()]);
    assert!(ok, "{out}");
    let run = dir.join("run");
    for file in ["model.mpk", "accuracy.csv", "accuracy.svg", "checkpoint/model-2.mpk", "checkpoint/optim-2.mpk"] {
        assert!(run.join(file).is_file(), "{file} missing:\n{out}");
    }
    assert!(out.contains("[epoch 2/2] valid"), "{out}");
    assert!(out.contains("Accuracy@min"), "{out}");
    let csv = std::fs::read_to_string(run.join("accuracy.csv")).unwrap();
    println!("{csv}");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    // After two epochs on 2048 images every width beats chance (10%) clearly.
    for row in rows {
        let acc: f64 = row.split(',').nth(1).unwrap().parse().unwrap();
        assert!(acc > 25.0, "{csv}");
    }
    assert!(std::fs::read_to_string(run.join("accuracy.svg")).unwrap().contains("<svg"));

    // Resume: one more epoch after the second.
    let (ok, out) = autoslim(&["train", "--config", config.to_str().unwrap(), "--resume", "--epochs", "3"]);
    assert!(ok, "{out}");
    assert!(out.contains("resume: continuing after epoch 2 of 3"), "{out}");
    assert!(out.contains("[epoch 3/3] train"), "{out}");
    assert!(!out.contains("[epoch 1/3] train"), "{out}");
    assert!(run.join("checkpoint/model-3.mpk").is_file());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = work_dir("bad");
    let config = config(&dir, "label_smoothing = 1.5");
    let (ok, out) = autoslim(&["train", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("[algorithm] label_smoothing: must be in [0, 1), got 1.5"), "{out}");

    let good = config_text_without(&dir, "label_smoothing = 1.5");
    std::fs::write(&config, good.clone().replace("type = \"RatioPruner\"", "type = \"Ratio\"")).unwrap();
    let (ok, out) = autoslim(&["train", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("[algorithm.pruner] type: unknown type \"Ratio\"; accepted: \"RatioPruner\""), "{out}");

    std::fs::write(&config, good).unwrap();
    let (ok, out) = autoslim(&["train", "--config", config.to_str().unwrap(), "--data-dir", "/nonexistent"]);
    assert!(!ok);
    assert!(out.contains("the four IDX files (train/t10k images and labels) not found; looked in /nonexistent"), "{out}");

    let (ok, out) = autoslim(&["train", "--config", config.to_str().unwrap(), "--resume"]);
    assert!(!ok);
    assert!(out.contains("--resume: no checkpoint in"), "{out}");

    // The backend and the conv algorithm are named where they are wrong.
    let (ok, out) = autoslim_on("tpu", &["train", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("--backend: unknown backend \"tpu\""), "{out}");
    let out = binary().env("AUTOSLIM_CONV", "winograd").args(["train", "--config", config.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("AUTOSLIM_CONV: unknown conv algorithm \"winograd\"; accepted: \"native\""), "{text}");
    assert!(!dir.join("run").exists(), "nothing is written before the inputs are checked");
    std::fs::remove_dir_all(dir).unwrap();
}


#[test]
fn a_written_subnet_retrains_and_a_wrong_one_is_named() {
    let dir = work_dir("retrain");
    let config = config(&dir, "retraining = true");
    let yaml = dir.join("half.yaml");
    let (ok, out) = autoslim(&["subnet", "--config", config.to_str().unwrap(), "--ratio", "6/12", "--out", yaml.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("channels per group [8, 16]"), "{out}");
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(text.contains("backbone.layers.1.conv:\n  in_channels: 8\n  out_channels: 16\n"), "{text}");

    let (ok, out) = autoslim(&["train", "--config", config.to_str().unwrap(), "--subnet", yaml.to_str().unwrap(), "--epochs", "1"]);
    assert!(ok, "{out}");
    assert!(out.contains("retraining subnet"), "{out}");
    let csv = std::fs::read_to_string(dir.join("run/accuracy.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with("half,"), "{csv}");
    assert!(dir.join("run/deployed/half.safetensors").is_file(), "{out}");

    std::fs::write(&yaml, text.replace("head.fc", "head.linear")).unwrap();
    let (ok, out) = autoslim(&["train", "--config", config.to_str().unwrap(), "--subnet", yaml.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("the channel file names layers this model does not have: `head.linear`"), "{out}");
    let (ok, out) = autoslim(&["subnet", "--config", config.to_str().unwrap(), "--ratio", "0", "--out", yaml.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("ratio 0 is outside (0, 1]"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every file under `dir`, by path, with its bytes.
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_non_finite_loss_stops_training_naming_step_and_width_and_the_checkpoints_stay_as_they_were() {
    let dir = work_dir("non-finite");
    let config = config(&dir, "");
    let c = config.to_str().unwrap();
    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "1"]);
    assert!(ok, "{out}");
    let run = dir.join("run");
    let (checkpoints, model) = (snapshot(&run.join("checkpoint")), std::fs::read(run.join("model.mpk")).unwrap());

    // A distillation temperature so small that the students' logits overflow: the first
    // distilled width of the resumed epoch (step 33; 2048 images in batches of 64) gives NaN.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("tau = 1.0", "tau = 1e-40")).unwrap();
    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "2", "--resume"]);
    assert!(!ok, "{out}");
    assert!(out.contains("training stopped: the loss is not finite (NaN) at step 33, width `min`"), "{out}");
    assert_eq!(snapshot(&run.join("checkpoint")), checkpoints, "a checkpoint changed");
    assert_eq!(std::fs::read(run.join("model.mpk")).unwrap(), model, "the trained model changed");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The warm-up processes (src/warm_up.rs): asked for on the CPU backend, two copies of the run
/// each pass every width (launching their share of the GPU kernels: none here) and exit; the run
/// then trains as usual. In two groups they split the widths instead. A bad count is an error
/// that names the variable.
#[test]
fn warm_up_processes_run_the_widths_before_training_and_a_bad_count_is_named() {
    let dir = work_dir("warm-up");
    let config = config(&dir, "");
    // The number of passes the warm-up announces, and each process's "N of M passes".
    let passes_of = |text: &str| -> (usize, Vec<(usize, usize)>) {
        let total = text.split("compiling the kernels of ").nth(1).and_then(|rest| rest.split(' ').next()).and_then(|n| n.parse().ok()).expect(text);
        let each = text
            .lines()
            .filter(|line| line.starts_with("warm-up: process "))
            .map(|line| {
                let numbers: Vec<usize> = line.split(" done in ").nth(1).and_then(|rest| rest.split_once('(')).map(|(_, share)| share.split(' ').filter_map(|w| w.parse().ok()).take(2).collect()).expect(line);
                (numbers[0], numbers[1])
            })
            .collect();
        (total, each)
    };
    let out = binary().env("AUTOSLIM_WARM_UP", "2").args(["train", "--config", config.to_str().unwrap(), "--epochs", "1"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    // 3 steps of max, min and a random width, then the uniform widths not drawn yet, the last
    // shorter batch and the validation.
    assert!(text.contains("warm-up: compiling the kernels of ") && text.contains(" passes in 2 processes ("), "{text}");
    assert!(text.contains("warm-up: 2 of 2 processes finished"), "{text}");
    // Each runs every pass and says what share of the kernels it launched; burn-ndarray has
    // none of the crate's.
    let (total, each) = passes_of(&text);
    assert!(total >= 3 && each == vec![(total, total); 2], "{text}");
    assert_eq!(text.matches(" passes; 0 of 0 distinct kernel launches are this process's").count(), 2, "{text}");
    assert!(text.find("warm-up: 2 of 2").unwrap() < text.find("[epoch 1/1] train").unwrap(), "{text}");
    assert!(dir.join("run/checkpoint/model-1.mpk").is_file(), "{text}");

    // In two groups, each process runs its half of the passes (a new command: no marker); one
    // step's widths instead of three make fewer passes.
    let steps_3 = total;
    let out = binary().env("AUTOSLIM_WARM_UP", "2").env("AUTOSLIM_WARM_UP_GROUPS", "2").env("AUTOSLIM_WARM_UP_STEPS", "1").args(["train", "--config", config.to_str().unwrap(), "--epochs", "1"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains(" passes in 2 processes, 2 groups splitting the passes"), "{text}");
    let (total, each) = passes_of(&text);
    assert!(total < steps_3, "{total} passes for one step, {steps_3} for three:\n{text}");
    let mut passed: Vec<usize> = each.iter().map(|&(n, of)| if of == total { n } else { usize::MAX }).collect();
    passed.sort();
    assert_eq!(passed, vec![total / 2, total.div_ceil(2)], "{text}");
    let out = binary().env("AUTOSLIM_WARM_UP", "2").env("AUTOSLIM_WARM_UP_GROUPS", "none").args(["train", "--config", config.to_str().unwrap(), "--epochs", "1"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("AUTOSLIM_WARM_UP_GROUPS: \"none\" is not a number of groups"), "{text}");

    let out = binary().env("AUTOSLIM_WARM_UP", "many").args(["bench", "--model", "conv8", "--batch", "1", "--iters", "1", "--mode", "plain"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success());
    assert!(text.contains("AUTOSLIM_WARM_UP: \"many\" is neither \"off\" nor a number of processes"), "{text}");
    let out = binary().env("AUTOSLIM_WARM_UP_STEPS", "few").args(["bench", "--model", "conv8", "--batch", "1", "--iters", "1", "--mode", "sandwich"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("AUTOSLIM_WARM_UP_STEPS: \"few\" is not a number of training steps"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}
