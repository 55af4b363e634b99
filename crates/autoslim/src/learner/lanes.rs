//! Lanes: a sandwich step's narrower passes run side by side, each on a thread of its own.
//!
//! Why: a narrow pass leaves most of a large GPU idle (its kernels are small and short), so two
//! of them queued at once can overlap on the device. cubecl gives every thread its own CUDA
//! stream (and its own memory pool), so the passes must be queued from different threads. The
//! threads are kept for the life of the process: cubecl numbers streams by thread, and a new
//! thread for every step would open a new stream, with a new memory pool, every step.
//!
//! [`Waves`] decides which passes run together: as many as there are lanes, while the values
//! their passes keep (the cost model's [`activations`](crate::cost::Cost::activations)) add up
//! to no more than the widest pass's, so that the step's memory stays near a single pass's.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel};

type Job = Box<dyn FnOnce() + Send>;

/// The worker threads, started on first use (lane 0 is the calling thread: none here for it).
static WORKERS: Mutex<Vec<Sender<Job>>> = Mutex::new(Vec::new());

/// Runs `jobs` at once: the first on the calling thread, the others on worker threads 1, 2, …
/// (kept for the next call). Returns their results in order; a job that panicked panics here
/// with its own payload, once every job has ended.
pub fn run_side_by_side<R: Send + 'static>(mut jobs: Vec<Box<dyn FnOnce() -> R + Send>>) -> Vec<R> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let first = jobs.remove(0);
    let receivers: Vec<_> = {
        let mut workers = WORKERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while workers.len() < jobs.len() {
            let (send, receive) = channel::<Job>();
            let name = format!("autoslim-lane-{}", workers.len() + 1);
            std::thread::Builder::new()
                .name(name)
                .spawn(move || receive.into_iter().for_each(|job| job()))
                .expect("starting a lane's worker thread");
            workers.push(send);
        }
        jobs.into_iter()
            .zip(workers.iter())
            .map(|(job, worker)| {
                let (send, receive) = channel();
                let job: Job = Box::new(move || {
                    let _ = send.send(catch_unwind(AssertUnwindSafe(job)));
                });
                worker.send(job).expect("a lane's worker thread has stopped");
                receive
            })
            .collect()
    };
    let first = catch_unwind(AssertUnwindSafe(first));
    let rest = receivers.into_iter().map(|receive| receive.recv().expect("a lane's worker thread stopped during its job"));
    let results: Vec<_> = std::iter::once(first).chain(rest).collect();
    results.into_iter().map(|result| result.unwrap_or_else(|payload| resume_unwind(payload))).collect()
}

/// Which passes run together: waves of passes, each wave's passes side by side, the waves one
/// after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waves(pub Vec<Vec<usize>>);

impl Waves {
    /// Groups passes of the given `sizes` (what each keeps, in any unit) into waves of at most
    /// `lanes` passes whose sizes add up to at most `budget`; a pass larger than the budget
    /// runs alone. Largest first, each into the first wave it fits (first-fit decreasing).
    /// Within a wave the largest pass comes first (it runs on the calling thread, whose memory
    /// pool the step's widest pass already grew).
    pub fn pack(sizes: &[u64], lanes: usize, budget: u64) -> Self {
        let lanes = lanes.max(1);
        let mut order: Vec<usize> = (0..sizes.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
        let mut waves: Vec<(u64, Vec<usize>)> = Vec::new();
        for i in order {
            let fits = waves.iter_mut().find(|(used, passes)| passes.len() < lanes && used + sizes[i] <= budget);
            match fits {
                Some((used, passes)) => {
                    *used += sizes[i];
                    passes.push(i);
                }
                None => waves.push((sizes[i], vec![i])),
            }
        }
        Self(waves.into_iter().map(|(_, passes)| passes).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_distinct_threads_and_results_keep_their_order() {
        let caller = std::thread::current().id();
        let jobs: Vec<Box<dyn FnOnce() -> (usize, std::thread::ThreadId) + Send>> =
            (0..3usize).map(|i| Box::new(move || (i * 10, std::thread::current().id())) as Box<dyn FnOnce() -> _ + Send>).collect();
        let results = run_side_by_side(jobs);
        assert_eq!(results.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 10, 20]);
        assert_eq!(results[0].1, caller);
        assert!(results[1].1 != caller && results[2].1 != caller && results[1].1 != results[2].1);
        // The workers are kept: a second call runs on the same threads.
        let again: Vec<Box<dyn FnOnce() -> std::thread::ThreadId + Send>> =
            (0..3).map(|_| Box::new(|| std::thread::current().id()) as Box<dyn FnOnce() -> _ + Send>).collect();
        let again = run_side_by_side(again);
        assert_eq!(&again[1..], &[results[1].1, results[2].1]);
    }

    #[test]
    fn a_panicking_job_panics_the_caller_after_the_others_end_and_the_lane_survives() {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        let jobs: Vec<Box<dyn FnOnce() + Send>> = vec![
            Box::new(|| ()),
            Box::new(|| panic!("lane job failed")),
            Box::new(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }),
        ];
        let payload = catch_unwind(AssertUnwindSafe(|| run_side_by_side(jobs))).unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"lane job failed"));
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
        let after: Vec<Box<dyn FnOnce() -> u8 + Send>> = vec![Box::new(|| 1), Box::new(|| 2)];
        assert_eq!(run_side_by_side(after), vec![1, 2]);
    }

    #[test]
    fn waves_hold_at_most_the_lanes_and_the_budget() {
        // min 20, randoms 70 and 50, budget 100 (the widest pass), two lanes.
        assert_eq!(Waves::pack(&[20, 70, 50], 2, 100), Waves(vec![vec![1, 0], vec![2]]));
        // Three lanes and room for all.
        assert_eq!(Waves::pack(&[20, 30, 40], 3, 100), Waves(vec![vec![2, 1, 0]]));
        // One lane: every pass alone, largest first.
        assert_eq!(Waves::pack(&[20, 30, 40], 1, 100), Waves(vec![vec![2], vec![1], vec![0]]));
        // Nothing fits beside a pass as large as the budget.
        assert_eq!(Waves::pack(&[20, 100, 90], 3, 100), Waves(vec![vec![1], vec![2], vec![0]]));
    }
}
