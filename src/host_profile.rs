//! Where the host's CPU time goes during `autoslim bench`'s timed steps (feature
//! `host-profile`): a sampling profile of every thread of the process (the `pprof` crate, which
//! samples on the CPU-time timer), written as a flame graph and a plain-text summary.
//!
//! Why: a GPU step that takes twice its kernels' time is held up on the host (burn's autodiff
//! graph, cubecl's launches, allocation), and the device machine has no `perf` or Nsight
//! Systems. Set `AUTOSLIM_HOST_PROFILE=PREFIX`; each timed measurement then writes
//! `PREFIX-LABEL.svg` and `PREFIX-LABEL.txt`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// Samples per second of CPU time (prime, so that it does not beat with periodic work).
const FREQUENCY: i32 = 997;
/// Functions listed per table of the summary.
const TOP: usize = 45;

/// A running profile, written by [`HostProfile::finish`].
pub struct HostProfile {
    guard: pprof::ProfilerGuard<'static>,
    states: crate::thread_states::ThreadStates,
    prefix: PathBuf,
    label: String,
}

impl HostProfile {
    /// Starts sampling when `AUTOSLIM_HOST_PROFILE` is set; `label` names the output files.
    pub fn start(label: &str) -> Result<Option<Self>> {
        let Some(prefix) = std::env::var_os("AUTOSLIM_HOST_PROFILE") else { return Ok(None) };
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
            .context("AUTOSLIM_HOST_PROFILE: the sampling profiler could not start")?;
        let states = crate::thread_states::ThreadStates::start(std::time::Duration::from_micros(100));
        Ok(Some(Self { guard, states, prefix: prefix.into(), label: label.to_string() }))
    }

    /// Stops sampling and writes `PREFIX-LABEL.svg` (flame graph) and `PREFIX-LABEL.txt`
    /// (samples per thread; the functions with the most samples, inclusive and self; what each
    /// thread did over wall-clock time, `thread_states`).
    pub fn finish(self) -> Result<()> {
        let report = self.guard.report().build().context("host profile: building the report")?;
        let base = format!("{}-{}", self.prefix.display(), self.label);
        let svg = std::fs::File::create(format!("{base}.svg")).with_context(|| format!("creating {base}.svg"))?;
        report.flamegraph(svg).context("host profile: writing the flame graph")?;
        let stacks = report.data.iter().map(|(frames, &count)| {
            // Innermost frame first; inlined functions are the inner symbols of one frame.
            let names = frames.frames.iter().flat_map(|symbols| symbols.iter().map(|s| short_name(&s.name())));
            (frames.thread_name.clone(), names.collect::<Vec<_>>(), count.max(0) as u64)
        });
        let summary = format!("{}\n{}", summarize(stacks), self.states.finish());
        std::fs::write(format!("{base}.txt"), &summary).with_context(|| format!("writing {base}.txt"))?;
        println!("  host profile of the {} steps written to {base}.svg and {base}.txt", self.label);
        Ok(())
    }
}

/// A demangled symbol without its `::h0123…` hash suffix, cut to 180 characters.
fn short_name(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(at) if name.len() - at == 19 && name[at + 3..].chars().all(|c| c.is_ascii_hexdigit()) => &name[..at],
        _ => name,
    };
    name.chars().take(180).collect()
}

/// The text summary of `(thread, stack innermost first, samples)` entries.
fn summarize(stacks: impl Iterator<Item = (String, Vec<String>, u64)>) -> String {
    let mut per_thread: BTreeMap<String, u64> = BTreeMap::new();
    let mut inclusive: HashMap<String, u64> = HashMap::new();
    let mut own: HashMap<String, u64> = HashMap::new();
    let mut total = 0;
    for (thread, names, count) in stacks {
        total += count;
        *per_thread.entry(thread).or_default() += count;
        if let Some(leaf) = names.first() {
            *own.entry(leaf.clone()).or_default() += count;
        }
        let unique: HashSet<&String> = names.iter().collect();
        for name in unique {
            *inclusive.entry(name.clone()).or_default() += count;
        }
    }
    let mut out = format!("{total} samples at {FREQUENCY} Hz of CPU time ({:.1} ms)\n\nper thread:\n", total as f64 * 1e3 / FREQUENCY as f64);
    for (thread, count) in &per_thread {
        let _ = writeln!(out, "  {count:>7}  {:5.1} %  {thread}", 100.0 * *count as f64 / total.max(1) as f64);
    }
    for (title, table) in [("inclusive (the function or what it calls)", inclusive), ("self (the innermost frame)", own)] {
        let _ = writeln!(out, "\ntop {TOP}, {title}:");
        let mut rows: Vec<_> = table.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (name, count) in rows.into_iter().take(TOP) {
            let _ = writeln!(out, "  {count:>7}  {:5.1} %  {name}", 100.0 * count as f64 / total.max(1) as f64);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{short_name, summarize};

    #[test]
    fn short_name_drops_only_a_hash_suffix() {
        assert_eq!(short_name("burn::tensor::Tensor::matmul::h0123456789abcdef"), "burn::tensor::Tensor::matmul");
        assert_eq!(short_name("a::hello"), "a::hello");
    }

    #[test]
    fn summary_counts_a_function_once_per_stack_and_its_leaf_as_self() {
        let stacks = vec![
            ("main".to_string(), vec!["f".to_string(), "g".to_string(), "f".to_string()], 3),
            ("server".to_string(), vec!["h".to_string(), "g".to_string()], 1),
        ];
        let text = summarize(stacks.into_iter());
        assert!(text.starts_with("4 samples"), "{text}");
        let inclusive = text.split("top 45, inclusive").nth(1).unwrap().split("top 45, self").next().unwrap();
        assert!(inclusive.contains("      4  100.0 %  g"), "{inclusive}");
        assert!(inclusive.contains("      3   75.0 %  f"), "{inclusive}");
        let own = text.split("top 45, self").nth(1).unwrap();
        assert!(own.contains("      3   75.0 %  f") && own.contains("      1   25.0 %  h"), "{own}");
    }
}
