//! Accuracy of a subnet, with its BatchNorm statistics recalibrated or taken from the batch.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::tensor::ElementConversion;
use slimmable::NormMode;

use crate::channels::Subnet;
use crate::data::{ImageBatch, ImageBatcher, ImageDataset};
use crate::model::SlimmableModel;

/// How BatchNorm statistics are obtained when a subnet is evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvalNorm {
    /// Recompute the subnet's running statistics as the cumulative average over this many
    /// training batches, then evaluate with them (AutoSlim's default).
    Recalibrate {
        /// Training batches to average over.
        batches: usize,
    },
    /// Normalise each evaluation batch with its own statistics.
    BatchStats,
}

/// The dataset as batches on `device`, in order.
pub fn to_batches<B: Backend>(dataset: &ImageDataset, batcher: &ImageBatcher, batch_size: usize, device: &B::Device) -> Vec<ImageBatch<B>> {
    let items: Vec<_> = dataset.iter().collect();
    items.chunks(batch_size.max(1)).map(|chunk| batcher.batch(chunk.to_vec(), device)).collect()
}

/// Overwrites the running statistics of the subnet's active channels with their cumulative
/// average over `batches` (other channels are untouched).
pub fn recalibrate<B: Backend, M: SlimmableModel<B>>(model: &M, subnet: &Subnet, batches: &[ImageBatch<B>]) {
    for (step, batch) in batches.iter().enumerate() {
        let _ = model.forward_subnet(batch.images.clone(), subnet, NormMode::Calibrate { step });
    }
}

/// Top-1 accuracy in percent of `model` at `subnet` over `batches`.
pub fn accuracy<B: Backend, M: SlimmableModel<B>>(model: &M, subnet: &Subnet, norm: NormMode, batches: &[ImageBatch<B>]) -> f64 {
    let (mut correct, mut total) = (0i64, 0usize);
    for batch in batches {
        let logits = model.forward_subnet(batch.images.clone(), subnet, norm);
        let [n, _] = logits.dims();
        let hits: i64 = logits.argmax(1).reshape([n]).equal(batch.targets.clone()).int().sum().into_scalar().elem();
        correct += hits;
        total += n;
    }
    100.0 * correct as f64 / total.max(1) as f64
}

/// Evaluates `model` at `subnet`: recalibrated on `calibration` batches, or with batch
/// statistics, as `norm` says.
pub fn evaluate<B: Backend, M: SlimmableModel<B>>(
    model: &M,
    subnet: &Subnet,
    norm: EvalNorm,
    calibration: &[ImageBatch<B>],
    test: &[ImageBatch<B>],
) -> f64 {
    match norm {
        EvalNorm::Recalibrate { batches } => {
            recalibrate(model, subnet, &calibration[..batches.min(calibration.len())]);
            accuracy(model, subnet, NormMode::Auto, test)
        }
        EvalNorm::BatchStats => accuracy(model, subnet, NormMode::BatchStats, test),
    }
}
