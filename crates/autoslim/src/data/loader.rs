//! [`OrderedLoader`]: a data loader whose threads read items in parallel and whose batches
//! come out in the dataset's order.
//!
//! burn's multi-thread loader hands out its threads' batches in the order they finish, so with
//! more than one thread a seeded run's batch order, and with it every later bit, depended on
//! thread timing (the zoo test's 36-image accuracy moved between runs). Here batch `j` is read
//! and batched by thread `j % threads` (as in burn's loader, each thread makes its batches'
//! tensors) and taken from that thread's queue in turn: the same batches in the same order
//! whatever the number of threads. burn's `DataLoaderBuilder` has no ordering option, hence
//! this type (one file; no crate does it for burn's traits).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::Dataset;
use burn::data::dataset::transform::PartialDataset;
use burn::tensor::backend::Backend;

/// Batches read ahead per thread.
const QUEUED_PER_THREAD: usize = 2;

/// Batches of `batch_size` consecutive items of a dataset (the last may be shorter), in order;
/// `threads` threads read and batch them (0: the training thread does).
pub struct OrderedLoader<B: Backend, I, O> {
    dataset: Arc<dyn Dataset<I>>,
    batcher: Arc<dyn Batcher<B, I, O>>,
    batch_size: usize,
    threads: usize,
    device: B::Device,
}

impl<B: Backend, I, O> Clone for OrderedLoader<B, I, O> {
    fn clone(&self) -> Self {
        Self { dataset: self.dataset.clone(), batcher: self.batcher.clone(), batch_size: self.batch_size, threads: self.threads, device: self.device.clone() }
    }
}

impl<B: Backend, I: Clone + Send + Sync + 'static, O: Send + 'static> OrderedLoader<B, I, O> {
    /// A loader of `dataset` in batches of `batch_size` (at least 1), read by `threads`
    /// threads, batched by `batcher` on `device`.
    pub fn new(dataset: impl Dataset<I> + 'static, batcher: impl Batcher<B, I, O> + 'static, batch_size: usize, threads: usize, device: B::Device) -> Self {
        Self { dataset: Arc::new(dataset), batcher: Arc::new(batcher), batch_size: batch_size.max(1), threads, device }
    }

    /// The loader as burn's training loop takes it.
    pub fn into_arc(self) -> Arc<dyn DataLoader<B, O>> {
        Arc::new(self)
    }
}

/// The items of batch `batch` (those that exist).
fn read_batch<I>(dataset: &dyn Dataset<I>, batch: usize, batch_size: usize) -> Vec<I> {
    let end = ((batch + 1) * batch_size).min(dataset.len());
    (batch * batch_size..end).filter_map(|index| dataset.get(index)).collect()
}

impl<B: Backend, I: Clone + Send + Sync + 'static, O: Send + 'static> DataLoader<B, O> for OrderedLoader<B, I, O> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<O> + 'a> {
        let batches = self.dataset.len().div_ceil(self.batch_size);
        let threads = self.threads.min(batches);
        let (receivers, workers) = (0..threads)
            .map(|first| {
                let (sender, receiver) = sync_channel(QUEUED_PER_THREAD);
                let (dataset, batcher, batch_size, device) = (self.dataset.clone(), self.batcher.clone(), self.batch_size, self.device.clone());
                let worker = std::thread::Builder::new()
                    .name(format!("loader-{first}"))
                    .spawn(move || {
                        for batch in (first..batches).step_by(threads) {
                            let items = read_batch(dataset.as_ref(), batch, batch_size);
                            // The iterator was dropped: stop.
                            if sender.send(batcher.batch(items, &device)).is_err() {
                                return;
                            }
                        }
                    })
                    .expect("a loader thread starts");
                (receiver, worker)
            })
            .unzip();
        Box::new(OrderedIter { loader: self, batches, next: 0, receivers, workers })
    }

    fn num_items(&self) -> usize {
        self.dataset.len()
    }

    fn to_device(&self, device: &B::Device) -> Arc<dyn DataLoader<B, O>> {
        Arc::new(Self { device: device.clone(), ..self.clone() })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B, O>> {
        let part: Arc<dyn Dataset<I>> = Arc::new(PartialDataset::new(self.dataset.clone(), start, end));
        Arc::new(Self { dataset: part, ..self.clone() })
    }
}

/// One pass over an [`OrderedLoader`].
struct OrderedIter<'a, B: Backend, I, O> {
    loader: &'a OrderedLoader<B, I, O>,
    batches: usize,
    next: usize,
    receivers: Vec<Receiver<O>>,
    workers: Vec<JoinHandle<()>>,
}

impl<B: Backend, I, O> Iterator for OrderedIter<'_, B, I, O> {
    type Item = O;

    fn next(&mut self) -> Option<O> {
        if self.next >= self.batches {
            return None;
        }
        let batch = match self.receivers.len() {
            0 => self.loader.batcher.batch(read_batch(self.loader.dataset.as_ref(), self.next, self.loader.batch_size), &self.loader.device),
            threads => self.receivers[self.next % threads].recv().expect("a loader thread panicked"),
        };
        self.next += 1;
        Some(batch)
    }
}

impl<B: Backend, I, O> DataLoaderIterator<O> for OrderedIter<'_, B, I, O> {
    fn progress(&self) -> Progress {
        let total = self.loader.dataset.len();
        Progress::new((self.next * self.loader.batch_size).min(total), total)
    }
}

impl<B: Backend, I, O> Drop for OrderedIter<'_, B, I, O> {
    fn drop(&mut self) {
        // Closing the queues stops the threads after the batch each is reading.
        self.receivers.clear();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::data::dataset::InMemDataset;

    /// Batches of item values, each item read after a delay that varies with its value, so
    /// that threads finish out of order.
    #[derive(Clone)]
    struct SlowItems(Arc<InMemDataset<u64>>);

    impl Dataset<u64> for SlowItems {
        fn get(&self, index: usize) -> Option<u64> {
            std::thread::sleep(std::time::Duration::from_micros((index as u64 * 7919) % 900));
            self.0.get(index)
        }
        fn len(&self) -> usize {
            self.0.len()
        }
    }

    struct Collect;
    impl Batcher<NdArray, u64, Vec<u64>> for Collect {
        fn batch(&self, items: Vec<u64>, _device: &burn::backend::ndarray::NdArrayDevice) -> Vec<u64> {
            items
        }
    }

    fn loader(items: usize, batch: usize, threads: usize) -> OrderedLoader<NdArray, u64, Vec<u64>> {
        let data = SlowItems(Arc::new(InMemDataset::new((0..items as u64).collect())));
        OrderedLoader::new(data, Collect, batch, threads, Default::default())
    }

    #[test]
    fn batches_come_out_in_order_whatever_the_threads() {
        let expected: Vec<Vec<u64>> = (0..23u64).collect::<Vec<_>>().chunks(4).map(<[u64]>::to_vec).collect();
        for threads in [0, 1, 3, 8, 40] {
            let loader = loader(23, 4, threads);
            let mut iter = loader.iter();
            let mut got = Vec::new();
            for batch in iter.by_ref() {
                got.push(batch);
            }
            assert_eq!(got, expected, "{threads} threads");
            assert_eq!((iter.progress().items_processed, iter.progress().items_total), (23, 23));
            assert_eq!(loader.num_items(), 23);
        }
    }

    #[test]
    fn a_pass_dropped_early_stops_its_threads_and_slices_keep_their_items() {
        let loader = loader(40, 5, 4);
        let first: Vec<Vec<u64>> = loader.iter().take(2).collect();
        assert_eq!(first, vec![vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8, 9]]);
        let part = loader.slice(10, 22);
        assert_eq!(part.num_items(), 12);
        let batches: Vec<Vec<u64>> = part.iter().collect();
        assert_eq!(batches, vec![vec![10, 11, 12, 13, 14], vec![15, 16, 17, 18, 19], vec![20, 21]]);
    }
}
