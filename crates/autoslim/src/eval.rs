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

/// Above this many bytes of image tensors, [`EvalBatches::new`] streams the batches.
pub const RESIDENT_LIMIT_BYTES: usize = 1 << 30;

/// The batches a subnet is evaluated on: kept on the device when the images fit in
/// [`RESIDENT_LIMIT_BYTES`] (Fashion-MNIST's 10k test images take 31 MB), else made from the
/// dataset, in order, each time they are read (ImageNet's 50k validation images at 224×224
/// would take 30 GB) — so that memory, not the dataset's size, bounds an evaluation.
pub enum EvalBatches<B: Backend> {
    /// On the device.
    Resident(Vec<ImageBatch<B>>),
    /// Made when read.
    Streamed {
        /// The images.
        dataset: ImageDataset,
        /// Turns them into tensors.
        batcher: ImageBatcher,
        /// Images per batch.
        batch_size: usize,
        /// Where the tensors go.
        device: B::Device,
    },
}

impl<B: Backend> EvalBatches<B> {
    /// `dataset` in batches of `batch_size`, resident or streamed by its size.
    pub fn new(dataset: &ImageDataset, batcher: &ImageBatcher, batch_size: usize, device: &B::Device) -> Self {
        let bytes = dataset.len() * batcher.shape.iter().product::<usize>() * std::mem::size_of::<f32>();
        Self::with_limit(dataset, batcher, batch_size, device, RESIDENT_LIMIT_BYTES, bytes)
    }

    fn with_limit(dataset: &ImageDataset, batcher: &ImageBatcher, batch_size: usize, device: &B::Device, limit: usize, bytes: usize) -> Self {
        match bytes <= limit {
            true => EvalBatches::Resident(to_batches(dataset, batcher, batch_size, device)),
            false => EvalBatches::Streamed {
                dataset: dataset.clone(),
                batcher: batcher.clone(),
                batch_size: batch_size.max(1),
                device: device.clone(),
            },
        }
    }

    /// The batches, in order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = ImageBatch<B>> + '_> {
        match self {
            EvalBatches::Resident(batches) => Box::new(batches.iter().cloned()),
            EvalBatches::Streamed { dataset, batcher, batch_size, device } => Box::new(
                (0..dataset.len().div_ceil(*batch_size)).map(move |b| {
                    let end = ((b + 1) * batch_size).min(dataset.len());
                    let items = (b * batch_size..end).filter_map(|i| dataset.get(i)).collect();
                    batcher.batch(items, device)
                }),
            ),
        }
    }

    /// The first batch, if any.
    pub fn first(&self) -> Option<ImageBatch<B>> {
        self.iter().next()
    }

    /// Whether the batches stay on the device.
    pub fn is_resident(&self) -> bool {
        matches!(self, EvalBatches::Resident(_))
    }
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
pub fn accuracy<B: Backend, M: SlimmableModel<B>>(model: &M, subnet: &Subnet, norm: NormMode, batches: &EvalBatches<B>) -> f64 {
    let (mut correct, mut total) = (0i64, 0usize);
    for batch in batches.iter() {
        let logits = model.forward_subnet(batch.images.clone(), subnet, norm);
        let [n, _] = logits.dims();
        let hits: i64 = logits.argmax(1).reshape([n]).equal(batch.targets).int().sum().into_scalar().elem();
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
    test: &EvalBatches<B>,
) -> f64 {
    match norm {
        EvalNorm::Recalibrate { batches } => {
            recalibrate(model, subnet, &calibration[..batches.min(calibration.len())]);
            accuracy(model, subnet, NormMode::Auto, test)
        }
        EvalNorm::BatchStats => accuracy(model, subnet, NormMode::BatchStats, test),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Split, default_fashion_mnist_dir};
    use crate::models::{SlimCnn, SlimCnnConfig};
    use burn::backend::NdArray;
    use burn::tensor::Int;

    #[test]
    fn streamed_batches_are_the_resident_ones_and_score_alike() {
        let device = Default::default();
        let data = ImageDataset::load_idx_dir(&default_fashion_mnist_dir(), Split::Test).unwrap().take(150);
        let batcher = ImageBatcher::fashion_mnist();
        assert!(EvalBatches::<NdArray>::new(&data, &batcher, 64, &device).is_resident(), "150 small images stay resident");
        let resident = EvalBatches::<NdArray>::with_limit(&data, &batcher, 64, &device, usize::MAX, 0);
        let streamed = EvalBatches::<NdArray>::with_limit(&data, &batcher, 64, &device, 0, 1);
        assert!(resident.is_resident() && !streamed.is_resident());

        let targets = |batches: &EvalBatches<NdArray>| -> Vec<burn::tensor::Tensor<NdArray, 1, Int>> { batches.iter().map(|b| b.targets).collect() };
        let sizes: Vec<usize> = targets(&streamed).iter().map(|t| t.dims()[0]).collect();
        assert_eq!(sizes, [64, 64, 22]);
        for (a, b) in targets(&resident).into_iter().zip(targets(&streamed)) {
            assert_eq!(a.into_data(), b.into_data());
        }
        let model: SlimCnn<NdArray> = SlimCnnConfig::new(vec![8, 16], vec![2, 2]).init(&device);
        let subnet = Subnet::max(model.space());
        let on = |batches| accuracy(&model, &subnet, NormMode::BatchStats, batches);
        assert_eq!(on(&resident), on(&streamed));
    }
}
