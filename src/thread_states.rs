//! What each thread of the process is doing over wall-clock time (feature `host-profile`,
//! Linux): a helper thread reads every thread's `/proc/self/task/TID/syscall` over and over and
//! counts, per thread name, how often it was running and in which system call it waited.
//!
//! Why: the CPU-time profile of `host_profile` only sees threads that run. A narrow
//! MobileNetV2 pass on an H200 took 17–20 ms for 10 ms of kernels while its two busy threads
//! ran 2.5 ms of it (docs/BENCHMARKS.md, session 28): the rest is waiting, and the system call
//! a thread waits in (a futex of a lock or a channel, a sleep of a back-off, an ioctl of the
//! CUDA driver) says on what.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Samples per (thread name, what it was doing).
type Counts = BTreeMap<(String, String), u64>;

/// A running sampler; [`ThreadStates::finish`] stops it and tabulates.
pub struct ThreadStates {
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<Counts>,
}

impl ThreadStates {
    /// Starts sampling every `period` (plus the time a sample takes).
    pub fn start(period: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sampler = std::thread::Builder::new()
            .name("thread-states".into())
            .spawn(move || {
                let own = own_tid();
                let mut counts = Counts::new();
                while !flag.load(Ordering::Relaxed) {
                    sample(&mut counts, own.as_deref());
                    std::thread::sleep(period);
                }
                counts
            })
            .expect("spawning the thread-state sampler");
        Self { stop, sampler }
    }

    /// Stops sampling; the table of what each thread was doing, most samples first.
    pub fn finish(self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        let counts = self.sampler.join().unwrap_or_default();
        tabulate(&counts)
    }
}

/// The sampler's own thread id (it leaves itself out).
fn own_tid() -> Option<String> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    stat.split_whitespace().next().map(str::to_string)
}

/// Adds one sample of every thread of the process to `counts`.
fn sample(counts: &mut Counts, own: Option<&str>) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return };
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        if Some(tid.as_str()) == own {
            continue;
        }
        let path = task.path();
        let (Ok(name), Ok(call)) = (std::fs::read_to_string(path.join("comm")), std::fs::read_to_string(path.join("syscall"))) else {
            continue;
        };
        *counts.entry((name.trim().to_string(), doing(&call))).or_default() += 1;
    }
}

/// What a `/proc/…/syscall` line says a thread is doing: running, or waiting in a system call
/// (x86-64 numbers; others by number).
fn doing(syscall: &str) -> String {
    let first = syscall.split_whitespace().next().unwrap_or("");
    let name = match first {
        "running" => return "running".into(),
        "0" => "read",
        "1" => "write",
        "7" => "poll",
        "16" => "ioctl (the driver)",
        "23" => "select",
        "24" => "sched_yield",
        "35" => "nanosleep",
        "202" => "futex (a lock, a channel, a park)",
        "228" => "clock_gettime",
        "230" => "clock_nanosleep",
        "232" | "281" => "epoll_wait",
        "271" => "ppoll",
        other => return format!("system call {other}"),
    };
    format!("in {name}")
}

/// Per thread name (most samples first), the share of its samples in each state.
fn tabulate(counts: &Counts) -> String {
    let mut per_thread: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for ((thread, what), &n) in counts {
        per_thread.entry(thread).or_default().push((what, n));
    }
    let mut threads: Vec<_> = per_thread.into_iter().map(|(thread, rows)| (rows.iter().map(|r| r.1).sum::<u64>(), thread, rows)).collect();
    threads.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut out = String::from("wall-clock thread states (samples of /proc/self/task/*/syscall):\n");
    for (total, thread, mut rows) in threads {
        let _ = writeln!(out, "  {thread}: {total} samples");
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        for (what, n) in rows {
            let _ = writeln!(out, "    {n:>7}  {:5.1} %  {what}", 100.0 * n as f64 / total.max(1) as f64);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syscall_line_names_the_call_or_running() {
        assert_eq!(doing("running"), "running");
        assert_eq!(doing("202 0x7f 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x7f12"), "in futex (a lock, a channel, a park)");
        assert_eq!(doing("999 0x1"), "system call 999");
    }

    #[test]
    fn the_table_gives_each_thread_its_shares() {
        let mut counts = Counts::new();
        counts.insert(("main".into(), "running".into()), 3);
        counts.insert(("main".into(), "in futex (a lock, a channel, a park)".into()), 1);
        counts.insert(("server".into(), "running".into()), 1);
        let text = tabulate(&counts);
        let main = text.find("main: 4 samples").expect(&text);
        assert!(main < text.find("server: 1 samples").expect(&text), "{text}");
        assert!(text.contains("      3   75.0 %  running"), "{text}");
    }

    #[test]
    fn the_sampler_sees_a_sleeping_thread() {
        let sleeper = std::thread::Builder::new().name("sleeper".into()).spawn(|| std::thread::sleep(Duration::from_millis(300))).unwrap();
        let states = ThreadStates::start(Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(100));
        let text = states.finish();
        sleeper.join().unwrap();
        assert!(text.contains("sleeper:"), "{text}");
        assert!(text.contains("in clock_nanosleep") || text.contains("in nanosleep"), "{text}");
    }
}
