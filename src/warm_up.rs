//! Compiling a run's GPU kernels ahead of its first step, in several processes at once.
//!
//! cubecl compiles a kernel the first time it runs, one after another on the training thread
//! (NVRTC, then the CUDA driver), and a slimmable network meets new kernels at every new width:
//! on an H200 with an empty kernel cache, the 8-layer bench net's first sandwich step spent 41–49
//! s compiling and MobileNetV2's 56–84 s (docs/BENCHMARKS.md, session 22). Compilation is CPU
//! work, and a GPU machine has cores to spare, so before training a run starts a few copies of
//! itself (the same binary, arguments and environment, plus [`SHARD_ENV`]); each runs a forward
//! and backward pass of the run's first widths
//! ([`autoslim::learner::AutoSlim::upcoming_subnets`], [`autoslim::learner::compile_passes`];
//! for training also its shorter last batches and its validation passes) launching only its
//! share of the slimmable crate's kernels ([`slimmable::LaunchShare`]: the `k`-th distinct
//! launch belongs to process `k % count`), and exits. They all write to the
//! on-disk kernel cache ([`crate::kernel_cache`]), whose file is locked for each write, and the
//! run then finds its kernels there. Until session 35 the processes split the widths instead,
//! so that each compiled every kernel its widths shared with the others', and no warm-up could
//! take less than one width's compilation (28–35 s on session 34's H100). Since session 36 they
//! form groups of [`PROCESSES_PER_GROUP`] ([`groups`]): a group passes its share of the widths,
//! and its processes share that share's launches, so that burn's own kernels, which no process
//! can skip, are compiled once per group and not once per process.
//!
//! | `AUTOSLIM_WARM_UP` | processes |
//! | --- | --- |
//! | unset or empty | on CUDA with a kernel cache: half the cores, at most [`MAX_AUTO`]; else none |
//! | `off` or `0` | none |
//! | a number `N` | `N`, on any backend |
//!
//! Fewer than two processes would gain nothing over compiling in the run itself, so then none
//! start. A finished warm-up leaves a marker in the cache directory, named by a hash of the
//! binary, its arguments and the `AUTOSLIM_*`, `CUBECL_*` and `CUDA_*` variables, and the same
//! command does not warm up again. A process that fails costs only time: the run compiles what
//! is missing, as without a warm-up, and the failure is printed; one still running after
//! [`TIMEOUT`] is stopped.
//!
//! On an H200 (16 cores, 6 processes; docs/BENCHMARKS.md, session 23) the first sandwich step on
//! empty caches came down from 41.4 to 21.8–23.9 s for the 8-layer bench net and to 25.7–28.3 s
//! for MobileNetV2-224 (56–84 s without), and `autoslim train` of the MobileNetV2 Fashion-MNIST
//! config (2 epochs on the shipped subset) from 97 to 75 s, with identical results.
//!
//! Each process holds a model and one pass's tensors on the GPU, which is why the automatic
//! count stops at [`MAX_AUTO`] (six MobileNetV2-224 processes at batch 128 took 58–76 GB).
//! Their autotuning results (burn's matrix products) are measured while the others share the
//! GPU, so they go to a scratch directory and are dropped; the kernels they compiled stay.

use std::ffi::OsString;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autoslim::learner::CompilePass;
use slimmable::LaunchCounts;

/// The variable that sets the number of warm-up processes (see the module documentation).
pub const ENV: &str = "AUTOSLIM_WARM_UP";

/// The variable a warm-up process is started with: `INDEX/COUNT/GROUPS`, its share of the
/// passes and launches.
pub const SHARD_ENV: &str = "AUTOSLIM_WARM_UP_SHARD";

/// The training steps whose widths are warmed up (besides each uniform width), unless
/// [`STEPS_ENV`] says otherwise.
pub const STEPS: usize = 3;

/// The variable that sets how many training steps' widths are warmed up (see [`steps`]).
pub const STEPS_ENV: &str = "AUTOSLIM_WARM_UP_STEPS";

/// How many training steps' widths the warm-up passes: [`STEPS_ENV`]'s value `setting`, or
/// [`STEPS`] when unset. A run's later steps still meet kernels of new widths (docs/BENCHMARKS.md,
/// session 36, call 3); more steps warm more of them up, at the cost of more passes.
pub fn steps(setting: Option<&str>) -> Result<usize, String> {
    match setting.map(str::trim) {
        None | Some("") => Ok(STEPS),
        Some(text) => text.parse().map_err(|_| format!("{STEPS_ENV}: \"{text}\" is not a number of training steps")),
    }
}

/// [`steps`] of this process's environment.
pub fn current_steps() -> Result<usize, String> {
    steps(std::env::var(STEPS_ENV).ok().as_deref())
}

/// The most processes started without [`ENV`].
pub const MAX_AUTO: usize = 6;

/// The variable a training run's warm-up processes are started with: `TRAIN/VALID`, the run's
/// numbers of training and validation images, which decide its batches' sizes, so that the
/// processes need not load the data ([`DataSizes::current`]).
pub const DATA_ENV: &str = "AUTOSLIM_WARM_UP_DATA";

/// A training run's numbers of training and validation images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSizes {
    /// Images in the training set.
    pub train: usize,
    /// Images in the validation set.
    pub valid: usize,
}

impl DataSizes {
    /// `TRAIN/VALID`, as [`DATA_ENV`] holds it; the error says what is wrong.
    pub fn parse(text: &str) -> Result<DataSizes, String> {
        let bad = || format!("{DATA_ENV}: \"{text}\" is not TRAIN/VALID image counts (it is set by autoslim for its warm-up processes)");
        let (train, valid) = text.split_once('/').ok_or_else(bad)?;
        Ok(DataSizes { train: train.trim().parse().map_err(|_| bad())?, valid: valid.trim().parse().map_err(|_| bad())? })
    }

    /// The counts a warm-up process was started with, from [`DATA_ENV`] (`None` when unset).
    pub fn current() -> Result<Option<DataSizes>, String> {
        match std::env::var(DATA_ENV) {
            Ok(text) if !text.trim().is_empty() => DataSizes::parse(&text).map(Some),
            _ => Ok(None),
        }
    }
}

/// The processes per group without [`GROUPS_ENV`] (see [`groups`]).
pub const PROCESSES_PER_GROUP: usize = 3;

/// The subdirectory of the kernel cache with the warm-up's markers and scratch files.
pub const SUBDIR: &str = "warm-up";

/// The variable that sets into how many groups the warm-up processes split the passes (see
/// [`groups`]).
pub const GROUPS_ENV: &str = "AUTOSLIM_WARM_UP_GROUPS";

/// One warm-up process's share. The processes form `groups` groups (process `index` is in group
/// `index % groups`); a group runs every `groups`-th pass, from its own number on, and its
/// processes share that group's kernel launches, the `k`-th distinct one to the `k % size`-th.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's number, from 0.
    pub index: usize,
    /// How many processes there are.
    pub count: usize,
    /// How many groups split the passes between them (1: every process runs every pass).
    pub groups: usize,
}

impl Shard {
    /// `INDEX/COUNT` or `INDEX/COUNT/GROUPS`, as [`SHARD_ENV`] holds it; the error says what is
    /// wrong.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("{SHARD_ENV}: \"{text}\" is not INDEX/COUNT[/GROUPS] with INDEX < COUNT and 1 <= GROUPS <= COUNT (it is set by autoslim for its warm-up processes)");
        let numbers = text.split('/').map(|part| part.trim().parse::<usize>().map_err(|_| bad())).collect::<Result<Vec<_>, _>>()?;
        let (index, count, groups) = match numbers[..] {
            [index, count] => (index, count, 1),
            [index, count, groups] => (index, count, groups),
            _ => return Err(bad()),
        };
        if index >= count || groups == 0 || groups > count {
            return Err(bad());
        }
        Ok(Shard { index, count, groups })
    }

    /// This process's group: the passes it runs are every `groups`-th from this one.
    pub fn group(&self) -> usize {
        self.index % self.groups
    }

    /// This process's share of its group's kernel launches.
    pub fn launch_share(&self) -> slimmable::LaunchShare {
        let size = (self.count - self.group()).div_ceil(self.groups);
        slimmable::LaunchShare { index: self.index / self.groups, count: size }
    }

    /// The passes of `all` this process runs: those of its group.
    pub fn passes<T: Clone>(&self, all: &[T]) -> Vec<T> {
        all.iter().skip(self.group()).step_by(self.groups).cloned().collect()
    }

    /// This process's share when it is a warm-up process, from [`SHARD_ENV`].
    pub fn current() -> Result<Option<Shard>, String> {
        match std::env::var(SHARD_ENV) {
            Ok(text) if !text.trim().is_empty() => Shard::parse(&text).map(Some),
            _ => Ok(None),
        }
    }
}

/// How many warm-up processes to start: `setting` is [`ENV`]'s value, `automatic` whether the
/// backend compiles kernels into an on-disk cache, `cores` the machine's. 0 when none should
/// start; the error names a bad setting.
pub fn processes(setting: Option<&str>, automatic: bool, cores: usize) -> Result<usize, String> {
    let count = match setting.map(str::trim) {
        None | Some("") if automatic => (cores / 2).min(MAX_AUTO),
        None | Some("") | Some("off") => 0,
        Some(text) => text.parse::<usize>().map_err(|_| format!("{ENV}: \"{text}\" is neither \"off\" nor a number of processes"))?,
    };
    Ok(if count < 2 { 0 } else { count })
}

/// Into how many groups `processes` warm-up processes split `passes` passes: `setting` is
/// [`GROUPS_ENV`]'s value (unset: one per [`PROCESSES_PER_GROUP`] processes), never more than
/// the processes or the passes. One group shares every pass's launches among all processes, so
/// that no kernel of the slimmable crate is compiled twice, but every process compiles burn's
/// own kernels (its matrix products, random numbers, the loss) at every width; as many groups as
/// processes split the passes instead, so that each process compiles only its passes' kernels,
/// all of them. On session 36's H100 (6 processes; docs/BENCHMARKS.md) two groups took the
/// Fashion-MNIST CNN's training from 43–56 s to 37–45 s, left the MobileNetV2 config's at 55–57 s,
/// and the bench models' cold first sandwich steps within ±2 s of one group's; three groups
/// were slower for MobileNetV2-224 (up to 30 s).
pub fn groups(setting: Option<&str>, processes: usize, passes: usize) -> Result<usize, String> {
    let wanted = match setting.map(str::trim) {
        None | Some("") => processes / PROCESSES_PER_GROUP,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(format!("{GROUPS_ENV}: \"{text}\" is not a number of groups (1 or more)")),
        },
    };
    Ok(wanted.min(processes).min(passes).max(1))
}

/// The marker of a finished warm-up of this command in `dir`: a hash of the binary (path, size,
/// modification time), the arguments and the settings in the environment.
pub fn marker(dir: &Path, exe: &Path, args: &[OsString], env: &[(OsString, OsString)]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    exe.hash(&mut hasher);
    if let Ok(meta) = std::fs::metadata(exe) {
        meta.len().hash(&mut hasher);
        meta.modified().ok().hash(&mut hasher);
    }
    args.hash(&mut hasher);
    let mut settings: Vec<&(OsString, OsString)> = env
        .iter()
        .filter(|(name, _)| {
            let name = name.to_string_lossy();
            name != SHARD_ENV && ["AUTOSLIM_", "CUBECL_", "CUDA_"].iter().any(|prefix| name.starts_with(prefix))
        })
        .collect();
    settings.sort();
    settings.hash(&mut hasher);
    dir.join(SUBDIR).join(format!("{:016x}.done", hasher.finish()))
}

/// A warm-up under way: its processes, started by [`start`], waited for by [`WarmUp::finish`]
/// (dropped unfinished, it stops them).
pub struct WarmUp {
    processes: Vec<Option<Process>>,
    started: Instant,
    timeout: Duration,
    marker: Option<PathBuf>,
    scratch: Option<PathBuf>,
}

/// One warm-up process and the thread that reads its error output.
struct Process {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

/// How long [`WarmUp::finish`] waits for its processes before it stops them: the run then
/// compiles what they left.
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// Set for warm-up processes: where their autotuning results go (dropped afterwards).
pub const SCRATCH_ENV: &str = "AUTOSLIM_WARM_UP_SCRATCH";

/// Starts the warm-up processes for a run of `passes` passes ([`CompilePass`]), with `data`
/// (a training run's image counts, for [`DATA_ENV`]; `None` for a benchmark), when [`processes`] says so and no
/// marker shows this command warmed up before; prints what it does. `kernel_dir` is the kernel
/// cache's directory ([`crate::kernel_cache::dir`]; `None`: no cache, so nothing is started
/// unless [`ENV`] asks).
pub fn start(passes: usize, data: Option<DataSizes>, kernel_dir: Option<&Path>) -> Result<Option<WarmUp>, String> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let setting = std::env::var(ENV).ok();
    let count = processes(setting.as_deref(), kernel_dir.is_some(), cores)?;
    if count == 0 {
        return Ok(None);
    }
    let exe = std::env::current_exe().map_err(|err| format!("warm-up: cannot find this program's path: {err}"))?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let marker = kernel_dir.map(|dir| marker(dir, &exe, &args, &env));
    if let Some(marker) = marker.as_ref().filter(|m| m.is_file()) {
        println!("warm-up: skipped, this command's kernels were compiled before ({})", marker.display());
        return Ok(None);
    }
    let groups = groups(std::env::var(GROUPS_ENV).ok().as_deref(), count, passes)?;
    let scratch = kernel_dir.map(|dir| dir.join(SUBDIR).join(format!("autotune-{}", std::process::id())));
    let grouped = if groups > 1 { format!(", {groups} groups splitting the passes") } else { String::new() };
    println!("warm-up: compiling the kernels of {passes} passes in {count} processes{grouped} ({ENV}=off turns this off)");
    let commands: Vec<Command> = (0..count)
        .map(|index| {
            let mut command = Command::new(&exe);
            command.args(&args).env(SHARD_ENV, format!("{index}/{count}/{groups}"));
            if let Some(DataSizes { train, valid }) = data {
                command.env(DATA_ENV, format!("{train}/{valid}"));
            }
            if let Some(scratch) = &scratch {
                command.env(SCRATCH_ENV, scratch);
            }
            command
        })
        .collect();
    WarmUp::spawn(commands, marker, scratch).map(Some)
}

impl WarmUp {
    /// Starts `commands` (stdin and stdout closed, stderr read by a thread each). If one cannot
    /// start, those already started are stopped and the error names the program.
    fn spawn(commands: impl IntoIterator<Item = Command>, marker: Option<PathBuf>, scratch: Option<PathBuf>) -> Result<WarmUp, String> {
        // Made before the first spawn, so that a failed spawn drops (stops) those already started.
        let mut warm = WarmUp { processes: Vec::new(), started: Instant::now(), timeout: TIMEOUT, marker, scratch };
        for mut command in commands {
            command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
            let mut child = command.spawn().map_err(|err| format!("warm-up: cannot start {}: {err}", command.get_program().to_string_lossy()))?;
            let mut pipe = child.stderr.take().expect("stderr is piped");
            let stderr = std::thread::spawn(move || {
                let mut text = String::new();
                let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
                text
            });
            warm.processes.push(Some(Process { child, stderr }));
        }
        Ok(warm)
    }

    /// Waits for every process (at most [`TIMEOUT`], then stops the rest), printing each as it
    /// ends (a failed one with the end of its error output), then writes the marker when all
    /// succeeded. Returns how many failed.
    pub fn finish(mut self) -> usize {
        let count = self.processes.len();
        let mut failed = 0;
        while self.processes.iter().any(Option::is_some) {
            let timed_out = self.started.elapsed() > self.timeout;
            for (index, slot) in self.processes.iter_mut().enumerate() {
                let Some(process) = slot else { continue };
                let status = match process.child.try_wait() {
                    Ok(None) if !timed_out => continue,
                    Ok(None) => {
                        let _ = process.child.kill();
                        Err(format!("still running after {:.0} s, stopped", self.timeout.as_secs_f64()))
                    }
                    Ok(Some(status)) => Ok(status),
                    Err(err) => Err(format!("could not be waited for: {err}")),
                };
                let Process { mut child, stderr } = slot.take().expect("matched above");
                let _ = child.wait();
                let stderr = stderr.join().unwrap_or_default();
                let took = self.started.elapsed().as_secs_f64();
                match status {
                    Ok(status) if status.success() => {
                        // Its last line says what share of the kernels it compiled (compile_share).
                        let share = stderr.lines().last().filter(|line| line.starts_with("warm-up ")).map(|line| format!(" ({})", line.split_once(": ").map_or(line, |(_, what)| what)));
                        println!("warm-up: process {}/{count} done in {took:.1} s{}", index + 1, share.unwrap_or_default())
                    }
                    failed_with => {
                        failed += 1;
                        let why = failed_with.map_or_else(|why| why, |status| status.to_string());
                        let tail: Vec<&str> = stderr.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
                        println!("warm-up: process {}/{count} failed ({why}); the run compiles what it left:\n  {}", index + 1, tail.join("\n  "));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("warm-up: {} of {count} processes finished in {:.1} s", count - failed, self.started.elapsed().as_secs_f64());
        if let Some(marker) = self.marker.as_ref().filter(|_| failed == 0) {
            // A marker that cannot be written only means the next run warms up again.
            let _ = marker.parent().map(std::fs::create_dir_all);
            let _ = std::fs::write(marker, format!("{}\n", std::env::args().collect::<Vec<_>>().join(" ")));
        }
        failed
    }
}

impl Drop for WarmUp {
    /// Stops the processes still running (an unfinished warm-up: an error or a panic between
    /// [`start`] and [`WarmUp::finish`]) and removes the scratch directory.
    fn drop(&mut self) {
        for process in self.processes.iter_mut().filter_map(Option::take) {
            let Process { mut child, .. } = process;
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(scratch) = &self.scratch {
            let _ = std::fs::remove_dir_all(scratch);
        }
    }
}

/// In a warm-up process: runs `shard`'s group's share of `passes` (the run's
/// [`CompilePass`]es: its first steps' widths, and for training its shorter last batches and its
/// validation) on random batches, launching only `shard`'s share of the slimmable crate's
/// kernels, and prints to its error output how many it launched and skipped. The command then
/// ends without training or writing anything.
pub fn compile_share<B, M>(shard: Shard, model: &M, passes: &[CompilePass], image: [usize; 3], classes: usize) -> anyhow::Result<()>
where
    B: burn::tensor::backend::AutodiffBackend,
    M: autoslim::model::SlimmableModel<B> + burn::module::AutodiffModule<B>,
    M::InnerModule: autoslim::model::SlimmableModel<B::InnerBackend>,
{
    let mine = shard.passes(passes);
    slimmable::set_launch_share(Some(shard.launch_share())).map_err(anyhow::Error::msg)?;
    let ran = autoslim::learner::compile_passes::<B, M>(model, &mine, image, classes);
    if let Some(LaunchCounts { distinct, owned, run, skipped }) = slimmable::launch_counts() {
        eprintln!(
            "warm-up {}/{}: {} of {} passes; {owned} of {distinct} distinct kernel launches are this process's ({run} launches run, {skipped} skipped)",
            shard.index + 1,
            shard.count,
            mine.len(),
            passes.len()
        );
    }
    slimmable::set_launch_share(None).map_err(anyhow::Error::msg)?;
    ran.map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_name_what_is_wrong() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3, groups: 1 }));
        assert_eq!(Shard::parse(" 0 / 2 "), Ok(Shard { index: 0, count: 2, groups: 1 }));
        assert_eq!(Shard::parse("4/6/2"), Ok(Shard { index: 4, count: 6, groups: 2 }));
        for bad in ["3/3", "1", "a/2", "1/0", "", "1/3/0", "1/3/4", "1/3/2/1", "1/3/"] {
            let err = Shard::parse(bad).unwrap_err();
            assert!(err.contains(SHARD_ENV) && err.contains(&format!("\"{bad}\"")), "{err}");
        }
    }

    /// Every width is passed by one group, and within a group every launch share is taken once.
    #[test]
    fn groups_split_the_widths_and_their_processes_share_the_launches() {
        let widths: Vec<usize> = (0..7).collect();
        for (count, groups) in [(6, 1), (6, 2), (5, 2), (6, 3), (6, 6), (4, 3)] {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count, groups }).collect();
            for group in 0..groups {
                let members: Vec<&Shard> = shards.iter().filter(|s| s.group() == group).collect();
                let mut shares: Vec<(usize, usize)> = members.iter().map(|s| (s.launch_share().index, s.launch_share().count)).collect();
                shares.sort();
                assert_eq!(shares, (0..members.len()).map(|i| (i, members.len())).collect::<Vec<_>>(), "{count} processes, {groups} groups");
                assert!(members.iter().all(|s| s.passes(&widths) == members[0].passes(&widths)));
            }
            let mut passed: Vec<usize> = (0..groups).flat_map(|group| shards[group].passes(&widths)).collect();
            passed.sort();
            assert_eq!(passed, widths, "{count} processes, {groups} groups");
        }
        // One group: every process passes every width, sharing all launches.
        let one = Shard { index: 2, count: 6, groups: 1 };
        assert_eq!((one.passes(&widths), one.launch_share()), (widths.clone(), slimmable::LaunchShare { index: 2, count: 6 }));
        // As many groups as processes: a width each in turn, every launch its own.
        let split = Shard { index: 2, count: 6, groups: 6 };
        assert_eq!((split.passes(&widths), split.launch_share()), (vec![2], slimmable::LaunchShare { index: 0, count: 1 }));
    }

    #[test]
    fn data_sizes_parse_and_name_what_is_wrong() {
        assert_eq!(DataSizes::parse("4000/1000"), Ok(DataSizes { train: 4000, valid: 1000 }));
        assert_eq!(DataSizes::parse(" 60000 / 10000 "), Ok(DataSizes { train: 60000, valid: 10000 }));
        for bad in ["4000", "a/1", "1/", "-1/2", ""] {
            let err = DataSizes::parse(bad).unwrap_err();
            assert!(err.contains(DATA_ENV) && err.contains(&format!("\"{bad}\"")), "{err}");
        }
    }

    #[test]
    fn the_steps_follow_the_variable_and_a_bad_one_is_named() {
        assert_eq!(steps(None), Ok(STEPS));
        assert_eq!(steps(Some(" ")), Ok(STEPS));
        assert_eq!(steps(Some("8")), Ok(8));
        assert_eq!(steps(Some("0")), Ok(0));
        let err = steps(Some("-2")).unwrap_err();
        assert!(err.contains(STEPS_ENV) && err.contains("\"-2\""), "{err}");
    }

    #[test]
    fn the_group_count_follows_the_variable_and_stays_within_the_processes_and_widths() {
        // Unset: groups of three processes.
        assert_eq!(groups(None, 6, 17), Ok(2));
        assert_eq!(groups(None, 5, 17), Ok(1));
        assert_eq!(groups(None, 2, 17), Ok(1));
        assert_eq!(groups(None, 12, 3), Ok(3));
        assert_eq!(groups(Some("3"), 6, 17), Ok(3));
        assert_eq!(groups(Some(" 8 "), 6, 17), Ok(6));
        assert_eq!(groups(Some("4"), 6, 2), Ok(2));
        for bad in ["0", "two", "-1"] {
            let err = groups(Some(bad), 6, 17).unwrap_err();
            assert!(err.contains(GROUPS_ENV) && err.contains(&format!("\"{bad}\"")), "{err}");
        }
    }

    #[test]
    fn the_process_count_follows_the_variable_then_the_backend_and_cores() {
        // Unset: half the cores, at most MAX_AUTO, where kernels are cached.
        assert_eq!(processes(None, true, 16), Ok(MAX_AUTO));
        assert_eq!(processes(Some(""), true, 8), Ok(4));
        assert_eq!(processes(None, false, 16), Ok(0));
        // One process (two or three cores) gains nothing over the run itself.
        assert_eq!(processes(None, true, 2), Ok(0));
        assert_eq!(processes(None, true, 3), Ok(0));
        // Set: that many, on any backend.
        assert_eq!(processes(Some("3"), false, 2), Ok(3));
        assert_eq!(processes(Some(" 12 "), true, 16), Ok(12));
        assert_eq!(processes(Some("1"), true, 16), Ok(0));
        assert_eq!(processes(Some("off"), true, 16), Ok(0));
        assert_eq!(processes(Some("0"), true, 16), Ok(0));
        let err = processes(Some("many"), true, 16).unwrap_err();
        assert!(err.contains(ENV) && err.contains("\"many\""), "{err}");
    }

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn a_failed_process_is_counted_and_the_marker_is_written_only_when_all_succeed() {
        let dir = std::env::temp_dir().join(format!("autoslim-warm-up-test-{}", std::process::id()));
        let marker = dir.join(SUBDIR).join("x.done");
        let warm = WarmUp::spawn([shell("exit 0"), shell("echo boom >&2; exit 3")], Some(marker.clone()), None).unwrap();
        assert_eq!(warm.finish(), 1);
        assert!(!marker.exists());
        let warm = WarmUp::spawn([shell("exit 0"), shell("echo fine >&2")], Some(marker.clone()), None).unwrap();
        assert_eq!(warm.finish(), 0);
        assert!(marker.is_file());
        std::fs::remove_dir_all(dir).unwrap();
        let err = WarmUp::spawn([Command::new("/nonexistent/autoslim")], None, None).err().unwrap();
        assert!(err.contains("cannot start /nonexistent/autoslim"), "{err}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_past_the_timeout_or_left_unfinished_is_stopped() {
        let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists();
        let mut warm = WarmUp::spawn([shell("exit 0"), shell("exec sleep 60")], None, None).unwrap();
        warm.timeout = Duration::from_millis(300);
        let pid = warm.processes[1].as_ref().unwrap().child.id();
        assert_eq!(warm.finish(), 1);
        assert!(!alive(pid));
        // Dropped unfinished (an error between `start` and `finish`): stopped and reaped.
        let warm = WarmUp::spawn([shell("exec sleep 60")], None, None).unwrap();
        let pid = warm.processes[0].as_ref().unwrap().child.id();
        assert!(alive(pid));
        drop(warm);
        assert!(!alive(pid));
    }

    #[test]
    fn the_marker_changes_with_the_arguments_and_settings_but_not_other_variables() {
        let dir = Path::new("/cache");
        let exe = Path::new("/bin/autoslim-test-none");
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        let env = |list: &[(&str, &str)]| list.iter().map(|(n, v)| (OsString::from(n), OsString::from(v))).collect::<Vec<_>>();
        let base = marker(dir, exe, &args(&["bench", "--model", "conv8"]), &env(&[("AUTOSLIM_GEMM_PRECISION", "bf16"), ("HOME", "/h")]));
        assert!(base.starts_with("/cache/warm-up") && base.extension().is_some_and(|e| e == "done"), "{}", base.display());
        // Order of the variables, unrelated variables and the shard do not matter...
        let same = marker(dir, exe, &args(&["bench", "--model", "conv8"]), &env(&[("TERM", "x"), (SHARD_ENV, "0/2"), ("AUTOSLIM_GEMM_PRECISION", "bf16")]));
        assert_eq!(base, same);
        // ...the arguments and the settings do.
        assert_ne!(base, marker(dir, exe, &args(&["bench", "--model", "mobilenet_v2"]), &env(&[("AUTOSLIM_GEMM_PRECISION", "bf16")])));
        assert_ne!(base, marker(dir, exe, &args(&["bench", "--model", "conv8"]), &env(&[("AUTOSLIM_GEMM_PRECISION", "tf32")])));
        assert_ne!(base, marker(dir, exe, &args(&["bench", "--model", "conv8"]), &env(&[("AUTOSLIM_GEMM_PRECISION", "bf16"), ("CUDA_VISIBLE_DEVICES", "1")])));
    }
}
