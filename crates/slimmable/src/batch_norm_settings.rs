//! Process-wide settings of BatchNorm's kernels on burn's cubecl backends
//! (`batch_norm_kernels.rs`): up to how many values a channel one cube sums the channel whole and
//! finishes it in the same launch (two launches a direction instead of three), and how many
//! threads such a cube has. They change speed, never the result (beyond float rounding), and exist
//! so that one build can compare them on a GPU (`AUTOSLIM_BN_ONE_CUBE_MAX`,
//! `AUTOSLIM_BN_ONE_CUBE_THREADS` in the command line). Without the `cube` feature nothing reads
//! them.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The default of [`set_batch_norm_one_cube_max`]: 32 Ki values a channel, 32 a thread of a cube
/// of 1 024. At batch 128, MobileNetV2-224's 14² and 7² layers (33 of its 52 BatchNorms) are
/// under it; its 28² layers (100 352 values) are not. One launch a direction fewer matters
/// because every launch is a request to cubecl's server thread, and a narrow MobileNetV2 pass is
/// bound by that host work (docs/BENCHMARKS.md, session 28).
pub const DEFAULT_BATCH_NORM_ONE_CUBE_MAX: usize = 32 * 1024;

/// The default of [`set_batch_norm_one_cube_threads`]: 1 024, where the device allows as many in
/// a cube (else its most). A narrow layer has a few dozen channels, a cube each, so a cube's
/// threads are all the loads in flight for its channel: with 256, a cube summing a 14² channel of
/// 128 images read 26 of them in turn (11–19 µs a launch on an H200, docs/BENCHMARKS.md,
/// session 30).
pub const DEFAULT_BATCH_NORM_ONE_CUBE_THREADS: usize = 1024;

/// The fewest threads a one-cube BatchNorm cube may have: one row of the finishing kernels'
/// 32 threads.
pub const MIN_BATCH_NORM_ONE_CUBE_THREADS: usize = 32;

static ONE_CUBE_MAX: AtomicUsize = AtomicUsize::new(DEFAULT_BATCH_NORM_ONE_CUBE_MAX);
static ONE_CUBE_THREADS: AtomicUsize = AtomicUsize::new(DEFAULT_BATCH_NORM_ONE_CUBE_THREADS);

/// Sets the most values a channel (images × pixels) for which one cube sums a BatchNorm channel
/// whole and finishes it in the same launch (default [`DEFAULT_BATCH_NORM_ONE_CUBE_MAX`]; 0 never
/// does): above it, a channel is summed in segments by many cubes and finished by another launch.
/// Process-wide.
pub fn set_batch_norm_one_cube_max(values: usize) {
    ONE_CUBE_MAX.store(values, Ordering::Relaxed);
}

/// What [`set_batch_norm_one_cube_max`] set.
pub fn batch_norm_one_cube_max() -> usize {
    ONE_CUBE_MAX.load(Ordering::Relaxed)
}

/// Sets the threads of a cube that sums a BatchNorm channel whole (default
/// [`DEFAULT_BATCH_NORM_ONE_CUBE_THREADS`]; fewer where the device allows fewer a cube).
/// Process-wide.
///
/// # Errors
/// If `threads` is not a power of two from [`MIN_BATCH_NORM_ONE_CUBE_THREADS`] to 1 024 (the
/// cube's tree sum halves it; 1 024 is the most any cubecl backend allows).
pub fn set_batch_norm_one_cube_threads(threads: usize) -> Result<(), String> {
    match threads.is_power_of_two() && (MIN_BATCH_NORM_ONE_CUBE_THREADS..=1024).contains(&threads) {
        true => {
            ONE_CUBE_THREADS.store(threads, Ordering::Relaxed);
            Ok(())
        }
        false => Err(format!("threads of a one-cube BatchNorm cube: a power of two from {MIN_BATCH_NORM_ONE_CUBE_THREADS} to 1024, got {threads}")),
    }
}

/// What [`set_batch_norm_one_cube_threads`] set.
pub fn batch_norm_one_cube_threads() -> usize {
    ONE_CUBE_THREADS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_must_be_a_power_of_two_in_range() {
        let _settings = crate::test_support::changing_settings();
        for bad in [0, 16, 48, 2048] {
            let err = set_batch_norm_one_cube_threads(bad).unwrap_err();
            assert!(err.contains(&bad.to_string()), "{err}");
            assert_eq!(batch_norm_one_cube_threads(), DEFAULT_BATCH_NORM_ONE_CUBE_THREADS);
        }
        set_batch_norm_one_cube_threads(64).unwrap();
        assert_eq!(batch_norm_one_cube_threads(), 64);
        set_batch_norm_one_cube_threads(DEFAULT_BATCH_NORM_ONE_CUBE_THREADS).unwrap();
    }
}
