//! End to end: `autoslim bench` on the CPU backend times a sandwich step of the 8-layer bench
//! net and prints, as `scripts/bench_gpu.sh` reads them, the step's figures and the ratio a
//! sandwich step would have against a plain one if its time followed the arithmetic or the
//! values its passes write; the widths mode times the widths asked for; a bad memory-release
//! setting or width is an error that names it.

mod common;

use common::binary;

/// Runs `autoslim bench ARGS` with the environment variable `env` set: whether it succeeded, and
/// its output (stdout and stderr).
fn bench(env: (&str, &str), args: &[&str]) -> (bool, String) {
    let out = binary().env(env.0, env.1).arg("bench").args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The `RESULT {json}` line of `mode`, parsed.
fn result(text: &str, mode: &str) -> serde_json::Value {
    let line = text
        .lines()
        .filter_map(|line| line.strip_prefix("RESULT "))
        .find(|json| json.contains(&format!("\"mode\":\"{mode}\"")))
        .unwrap_or_else(|| panic!("no RESULT line of mode {mode}:\n{text}"));
    serde_json::from_str(line).unwrap_or_else(|err| panic!("RESULT line of mode {mode} is not JSON ({err}): {line}"))
}

#[test]
fn bench_prints_the_sandwich_step_and_its_ideal_ratios() {
    let (success, text) = bench(("AUTOSLIM_WARM_UP", "off"), &["--model", "conv8", "--batch", "2", "--iters", "1", "--warmup", "0", "--mode", "sandwich"]);
    assert!(success, "{text}");
    let step = result(&text, "sandwich");
    assert!(step["img_per_s"].as_f64().unwrap() > 0.0, "{text}");
    // Per-group widths from 2/12 to 12/12, max, min and two random (DESIGN.md: about 1.71 by
    // arithmetic); each pass writes values in proportion to its channels: 1 + 2/12 + 2 · 7/12.
    let ideal = result(&text, "sandwich_ideal");
    let (arithmetic, values) = (ideal["arithmetic"].as_f64().unwrap(), ideal["values"].as_f64().unwrap());
    assert!((1.65..1.78).contains(&arithmetic), "{text}");
    assert!((2.25..2.42).contains(&values), "{text}");
    assert!(text.contains("if time followed the arithmetic: 1.7"), "{text}");
}

#[test]
fn an_unknown_memory_release_is_named_with_the_accepted_ones() {
    let (success, text) = bench(("AUTOSLIM_RELEASE_MEMORY", "sometimes"), &["--model", "conv8", "--batch", "1", "--iters", "1", "--mode", "sandwich"]);
    assert!(!success, "{text}");
    assert!(text.contains("AUTOSLIM_RELEASE_MEMORY") && text.contains("\"sometimes\"") && text.contains("\"widest\""), "{text}");
}

#[test]
fn the_widths_mode_times_the_ratios_asked_for_and_names_a_bad_one() {
    let (success, text) = bench(("AUTOSLIM_WARM_UP", "off"), &["--model", "conv8", "--batch", "2", "--iters", "1", "--warmup", "0", "--mode", "widths", "--ratio", "2/12", "1"]);
    assert!(success, "{text}");
    let timed: Vec<f64> = text
        .lines()
        .filter_map(|line| line.strip_prefix("RESULT "))
        .map(|json| serde_json::from_str::<serde_json::Value>(json).unwrap())
        .filter(|result| result["mode"] == "width")
        .map(|result| result["ratio"].as_f64().unwrap())
        .collect();
    assert_eq!(timed, vec![0.1667, 1.0], "{text}");

    let (success, text) = bench(("AUTOSLIM_WARM_UP", "off"), &["--model", "conv8", "--batch", "1", "--iters", "1", "--mode", "widths", "--ratio", "1.5"]);
    assert!(!success, "{text}");
    assert!(text.contains("--ratio 1.5"), "{text}");
}

#[test]
fn the_host_mode_prints_the_cost_of_each_kind_of_op() {
    let (success, text) = bench(("AUTOSLIM_WARM_UP", "off"), &["--mode", "host"]);
    assert!(success, "{text}");
    let costs: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("RESULT "))
        .map(|json| serde_json::from_str(json).unwrap())
        .filter(|r: &serde_json::Value| r["mode"] == "host_cost")
        .collect();
    let cases: Vec<&str> = costs.iter().map(|r| r["case"].as_str().unwrap()).collect();
    assert_eq!(cases, ["allocation", "launch in place", "op with a new output", "autodiff op, forward and backward"], "{text}");
    for cost in &costs {
        let (queued, done) = (cost["queued_us"].as_f64().unwrap(), cost["us"].as_f64().unwrap());
        // Queuing is part of the whole: both from one start, the whole read after the sync.
        assert!(queued > 0.0 && done >= queued, "{text}");
    }
    // Only the host mode was asked for: no model was built or timed.
    assert!(!text.contains("channel groups"), "{text}");
}
