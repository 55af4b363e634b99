//! Sharing the compilation of this crate's GPU kernels between processes that run the same
//! passes.
//!
//! cubecl compiles a kernel the first time it is launched, one kernel after another on the
//! calling thread, and most of a cold first step is that compilation (a bf16 GEMM kernel takes
//! about a second; docs/BENCHMARKS.md, session 22). The command line's warm-up starts several
//! processes that write to one on-disk kernel cache. Splitting the run's *widths* between them
//! cannot bring the first step below one width's compilation, which every process repeats for the
//! kernels the widths share; splitting the *launches* can: each process runs every pass, but
//! launches only its share of this crate's kernels (the GEMM convs and products, the depthwise
//! convs, BatchNorm, the operand copies) and skips the rest.
//!
//! A launch is named by what decides the kernel it compiles: its op, its comptime arguments (a
//! GEMM's blueprint, a conv's stride, …) and its tensors' ranks, element types and alignments;
//! the `k`-th distinct name a thread meets belongs to process `k % count`, which launches it
//! every time it comes again. Every process meets the same names in the same order, because a
//! skipped launch changes no shape, only values, so together the processes launch each of them
//! at least once. A skipped launch leaves its output uninitialised: only for passes whose values
//! are thrown away.
//!
//! The share is the calling thread's ([`set_launch_share`]); without one (the default) every
//! launch runs. Only the GPU backends' kernels are shared: on burn-ndarray there is nothing to
//! skip.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// One process's share of the launches: the `k`-th distinct launch with `k % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchShare {
    /// This process's number, from 0.
    pub index: usize,
    /// How many processes share the launches (at least 1).
    pub count: usize,
}

/// What a thread's share has met since it was set: distinct launches, those of them it owns,
/// launches run and skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaunchCounts {
    /// Distinct launches met (each op with what decides its kernel).
    pub distinct: usize,
    /// Distinct launches that are this thread's share.
    pub owned: usize,
    /// Launches this thread ran.
    pub run: usize,
    /// Launches this thread skipped (another process's share).
    pub skipped: usize,
}

#[cfg_attr(not(feature = "cube"), allow(dead_code))]
struct State {
    share: LaunchShare,
    owners: HashMap<u64, bool>,
    counts: LaunchCounts,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Makes the calling thread launch only `share`'s part of this crate's kernels (`None`: all of
/// them, the default), and starts its counts afresh. `count` 0 or an `index` not below it is
/// refused.
pub fn set_launch_share(share: Option<LaunchShare>) -> Result<(), String> {
    if let Some(share) = share
        && share.index >= share.count
    {
        return Err(format!("launch share {}/{}: the index must be below the count", share.index, share.count));
    }
    STATE.with(|state| *state.borrow_mut() = share.map(|share| State { share, owners: HashMap::new(), counts: LaunchCounts::default() }));
    Ok(())
}

/// The calling thread's counts since its share was set; `None` without a share.
pub fn launch_counts() -> Option<LaunchCounts> {
    STATE.with(|state| state.borrow().as_ref().map(|state| state.counts))
}

/// Whether the calling thread has a share (else every launch runs, and a launch's name need not
/// be made: training's passes pay nothing for this module).
#[cfg_attr(not(feature = "cube"), allow(dead_code))]
pub(crate) fn sharing() -> bool {
    STATE.with(|state| state.borrow().is_some())
}

/// Whether the calling thread runs the launch named by `name` (always, without a share).
#[cfg_attr(not(feature = "cube"), allow(dead_code))]
pub(crate) fn runs_launch(name: impl Hash) -> bool {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let Some(state) = state.as_mut() else { return true };
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        let next = state.counts.distinct;
        let share = state.share;
        let owners = &mut state.owners;
        let owned = *owners.entry(hasher.finish()).or_insert_with(|| {
            let owned = next % share.count == share.index;
            state.counts.distinct += 1;
            state.counts.owned += usize::from(owned);
            owned
        });
        match owned {
            true => state.counts.run += 1,
            false => state.counts.skipped += 1,
        }
        owned
    })
}

/// Whether the calling thread runs the launch of `op` on `tensors` ([`runs_launch`]), where
/// `kernel` is what else decides the kernel cubecl compiles (its comptime arguments: a GEMM's
/// blueprint, a conv's stride, a BatchNorm's choice of kernel; the shapes themselves where a
/// kernel is inferred from them). The tensors count by rank, element type and the widest vector
/// their sizes and strides allow, not by their sizes, so that the widths whose channel counts
/// compile the same kernel are one launch, compiled by one process.
#[cfg(feature = "cube")]
pub(crate) fn runs<R: burn_cubecl::CubeRuntime>(op: &str, tensors: &[&burn_cubecl::tensor::CubeTensor<R>], kernel: impl Hash) -> bool {
    if !sharing() {
        return true;
    }
    let layouts: Vec<(Vec<u32>, Vec<u32>, burn::tensor::DType)> =
        tensors.iter().map(|t| (alignments(t.meta.shape().as_slice()), alignments(&t.meta.strides()[..]), t.dtype)).collect();
    runs_launch((op, layouts, kernel))
}

/// For each of `values`, the largest power of two up to 16 that divides it (what a vectorised
/// load can use; 16 for 0).
#[cfg_attr(not(feature = "cube"), allow(dead_code))]
fn alignments(values: &[usize]) -> Vec<u32> {
    values.iter().map(|&value| 1 << value.trailing_zeros().min(4)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_all(names: &[&str]) -> Vec<bool> {
        names.iter().map(runs_launch).collect()
    }

    #[test]
    fn without_a_share_every_launch_runs_and_nothing_is_counted() {
        set_launch_share(None).unwrap();
        assert_eq!(run_all(&["a", "b", "a"]), vec![true, true, true]);
        assert_eq!(launch_counts(), None);
    }

    #[test]
    fn the_shares_split_distinct_launches_in_turn_and_together_run_each_once_at_least() {
        let names = ["conv a", "bn a", "conv a", "conv b", "bn b", "bn a", "conv c"];
        let mut runs = Vec::new();
        for index in 0..3 {
            set_launch_share(Some(LaunchShare { index, count: 3 })).unwrap();
            runs.push(run_all(&names));
            let counts = launch_counts().unwrap();
            assert_eq!(counts.distinct, 5);
            assert_eq!(counts.owned, [2, 2, 1][index]);
            assert_eq!(counts.run + counts.skipped, names.len());
        }
        // Distinct names in order of first meeting: conv a → 0, bn a → 1, conv b → 2, bn b → 0, conv c → 1.
        assert_eq!(runs[0], vec![true, false, true, false, true, false, false]);
        assert_eq!(runs[1], vec![false, true, false, false, false, true, true]);
        assert_eq!(runs[2], vec![false, false, false, true, false, false, false]);
        for (at, name) in names.iter().enumerate() {
            let owners = runs.iter().filter(|run| run[at]).count();
            assert_eq!(owners, 1, "{name} at {at}");
        }
        set_launch_share(None).unwrap();
        assert_eq!(run_all(&["bn b"]), vec![true]);
    }

    #[test]
    fn alignments_are_the_powers_of_two_a_vector_can_use() {
        assert_eq!(alignments(&[40, 80, 152, 3, 1, 0, 64]), vec![8, 16, 8, 1, 1, 16, 16]);
    }

    #[test]
    fn a_share_outside_its_count_is_refused() {
        for (index, count) in [(2, 2), (0, 0)] {
            let err = set_launch_share(Some(LaunchShare { index, count })).unwrap_err();
            assert!(err.contains(&format!("{index}/{count}")), "{err}");
        }
        assert_eq!(launch_counts(), None);
    }
}

#[cfg(all(test, any(feature = "test-wgpu", feature = "test-cuda")))]
mod gpu_tests {
    //! What the warm-up counts on, on a GPU backend: skipping another share's launches changes no
    //! launch that comes after, so every share meets the same launches in the same order and
    //! together they run each; a single share of one runs them all, as no share does.
    use super::*;
    use crate::test_support::{assert_close, random};
    use crate::{Activation, NormMode, SlimBatchNormConfig, SlimConv2dConfig};
    use burn::tensor::Tensor;
    use burn::tensor::backend::AutodiffBackend;

    /// A dense conv, BatchNorm with ReLU, a depthwise conv at two widths, forward and backward,
    /// under `share` on a thread of its own; the counts and the last input gradient.
    fn passes<B: AutodiffBackend>(share: Option<LaunchShare>) -> (Option<LaunchCounts>, Tensor<B::InnerBackend, 4>) {
        std::thread::spawn(move || {
            let device = Default::default();
            set_launch_share(share).unwrap();
            B::seed(&device, 7);
            let dense = SlimConv2dConfig::new([3, 16], [3, 3]).init::<B>(&device);
            let norm = SlimBatchNormConfig::new(16).init::<B>(&device);
            let depthwise = SlimConv2dConfig::new([16, 16], [3, 3]).with_groups(16).init::<B>(&device);
            let x = random::<B, 4>([2, 3, 9, 9], &device).require_grad();
            let mut grad = None;
            for width in [16, 8] {
                let y = norm.forward_activation(dense.forward(x.clone(), width), NormMode::Auto, Activation::Relu);
                let loss = depthwise.forward(y, width).sum();
                grad = x.grad(&loss.backward());
            }
            (launch_counts(), grad.unwrap())
        })
        .join()
        .unwrap()
    }

    fn the_shares_meet_the_same_launches_and_run_each_once<B: AutodiffBackend>(_device: &B::Device) {
        let (none, expected) = passes::<B>(None);
        assert!(none.is_none());
        let shares: Vec<LaunchCounts> = (0..3).map(|index| passes::<B>(Some(LaunchShare { index, count: 3 })).0.unwrap()).collect();
        let distinct = shares[0].distinct;
        assert!(distinct >= 3, "only {distinct} distinct launches of this crate's kernels met");
        for counts in &shares {
            assert_eq!(counts.distinct, distinct, "{shares:?}");
            assert_eq!(counts.run + counts.skipped, shares[0].run + shares[0].skipped, "{shares:?}");
        }
        assert_eq!(shares.iter().map(|c| c.owned).sum::<usize>(), distinct, "{shares:?}");
        let (whole, grad) = passes::<B>(Some(LaunchShare { index: 0, count: 1 }));
        let whole = whole.unwrap();
        assert_eq!((whole.distinct, whole.owned, whole.skipped), (distinct, distinct, 0));
        assert_close(grad, expected, 1e-5);
    }

    mod on_backend {
        use super::*;
        #[cfg(feature = "test-wgpu")]
        #[test]
        fn the_shares_meet_the_same_launches_and_run_each_once_on_wgpu() {
            let _settings = crate::test_support::using_settings();
            the_shares_meet_the_same_launches_and_run_each_once::<crate::test_support::WgpuAd>(&Default::default());
        }
        #[cfg(feature = "test-cuda")]
        #[test]
        fn on_cuda_the_shares_meet_the_same_launches_and_run_each_once() {
            let _settings = crate::test_support::using_settings();
            the_shares_meet_the_same_launches_and_run_each_once::<crate::test_support::CudaAd>(&Default::default());
        }
    }
}
