//! End to end: a supernet trained on the shipped subset is searched (and the search resumed),
//! evaluated, exported to a plain model and retrained, through the real binary; bad checkpoints,
//! channel files and targets are named errors.

mod common;

use common::{autoslim, config, work_dir};

#[test]
fn search_eval_export_and_retrain_a_trained_supernet() {
    let dir = work_dir("search");
    let config = config(&dir, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[search]\ntargets = [\"150K\", \"80K\"]\nscore_images = 300\n");
    std::fs::write(&config, &text).unwrap();
    let c = config.to_str().unwrap();
    let (ok, out) = autoslim(&["train", "--config", c, "--epochs", "1"]);
    assert!(ok, "{out}");
    let run = dir.join("run");
    let checkpoint = run.join("model.mpk");
    let ckpt = checkpoint.to_str().unwrap();

    // Search: the full network is 254.3K FLOPs; each target gets the first subnet at or below it.
    let (ok, out) = autoslim(&["search", "--config", c, "--checkpoint", ckpt]);
    assert!(ok, "{out}");
    println!("{out}");
    assert!(out.contains("full network [16, 32]: 254.3K FLOPs"), "{out}");
    let search = run.join("search");
    for file in ["state.json", "results.csv", "accuracy_vs_flops.svg", "subnet_150000.yaml", "subnet_80000.yaml"] {
        assert!(search.join(file).is_file(), "{file} missing:\n{out}");
    }
    let csv = std::fs::read_to_string(search.join("results.csv")).unwrap();
    let flops_of = |kind: &str| -> u64 {
        let row = csv.lines().find(|l| l.starts_with(kind)).unwrap_or_else(|| panic!("{kind} not in {csv}"));
        row.split(',').nth(1).unwrap().parse().unwrap()
    };
    assert!(flops_of("target 150000") <= 150_000 && flops_of("target 80000") <= 80_000, "{csv}");
    assert!(csv.contains("\nuniform 0.3333,"), "{csv}");

    // Rerunning continues from the saved state and finds the same subnets.
    let before = std::fs::read_to_string(search.join("subnet_80000.yaml")).unwrap();
    let (ok, out) = autoslim(&["search", "--config", c, "--checkpoint", ckpt]);
    assert!(ok, "{out}");
    assert!(out.contains("resuming the search in"), "{out}");
    assert_eq!(std::fs::read_to_string(search.join("subnet_80000.yaml")).unwrap(), before);

    // eval: the searched subnet and a ratio, with FLOPs and parameters.
    let subnet = search.join("subnet_80000.yaml");
    let s = subnet.to_str().unwrap();
    let (ok, out) = autoslim(&["eval", "--config", c, "--checkpoint", ckpt, "--subnet", s, "--ratio", "6/12"]);
    assert!(ok, "{out}");
    assert!(out.contains("ratio 6/12") && out.contains("70.7K") && out.contains("[8, 16]"), "{out}");

    // export: plain model files; the binary itself checks outputs and parameter count.
    let deployed = dir.join("deployed/small");
    let (ok, out) = autoslim(&["export", "--config", c, "--checkpoint", ckpt, "--subnet", s, "--out", deployed.to_str().unwrap(), "--recalibrate"]);
    assert!(ok, "{out}");
    assert!(out.contains("max abs logit difference to the slimmable model"), "{out}");
    for ext in ["mpk", "safetensors", "json"] {
        assert!(deployed.with_extension(ext).is_file(), "{ext} missing: {out}");
    }

    // retrain: both searched subnets from scratch, jointly with switchable BN, then one plain
    // model each (the binary checks each against the joint network).
    let large = search.join("subnet_150000.yaml");
    let retrained = dir.join("retrained");
    let (ok, out) = autoslim(&["retrain", "--config", c, "--subnet", large.to_str().unwrap(), s, "--epochs", "1", "--work-dir", retrained.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("2 subnets retrained jointly, each with its own BatchNorm set"), "{out}");
    assert!(out.contains("Accuracy@subnet_80000"), "the second subnet's progress is reported:\n{out}");
    assert!(retrained.join("model.mpk").is_file());
    for stem in ["subnet_150000", "subnet_80000"] {
        for ext in ["mpk", "safetensors", "json"] {
            assert!(retrained.join("deployed").join(stem).with_extension(ext).is_file(), "{stem}.{ext} missing:\n{out}");
        }
    }
    let (ok, out) = autoslim(&["retrain", "--config", c, "--subnet", s, s, "--epochs", "1", "--work-dir", retrained.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("two subnet files are named `subnet_80000`"), "{out}");

    // Bad input.
    let (ok, out) = autoslim(&["search", "--config", c, "--checkpoint", ckpt, "--restart"]);
    assert!(ok, "{out}");
    std::fs::write(&config, text.replace("\"80K\"", "\"1K\"")).unwrap();
    let (ok, out) = autoslim(&["search", "--config", c, "--checkpoint", ckpt, "--restart"]);
    assert!(!ok);
    assert!(out.contains("FLOPs target 1000 (1.0K) is below the smallest subnet's"), "{out}");
    std::fs::write(&config, text.replace("channels = [16, 32]", "channels = [16, 24]")).unwrap();
    let (ok, out) = autoslim(&["eval", "--config", c, "--checkpoint", ckpt]);
    assert!(!ok);
    assert!(out.contains("is from another model: `convs.1.weight` has shape [32, 16, 3, 3] in the file but [24, 16, 3, 3]"), "{out}");
    let (ok, out) = autoslim(&["export", "--config", c, "--checkpoint", ckpt, "--subnet", s, "--out", deployed.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("is from another model") || out.contains("raw"), "{out}");
    std::fs::write(&config, &text).unwrap();
    let mut lines: Vec<String> = before.lines().map(String::from).collect();
    let bn = lines.iter().position(|l| l == "backbone.layers.1.bn:").unwrap();
    lines[bn + 1] = "  out_channels: 40".into();
    std::fs::write(&subnet, lines.join("\n")).unwrap();
    let (ok, out) = autoslim(&["export", "--config", c, "--checkpoint", ckpt, "--subnet", s, "--out", deployed.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("out channels 40 must be in 1..=32"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}
