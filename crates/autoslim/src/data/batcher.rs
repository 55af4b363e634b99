//! [`ImageBatcher`]: items to normalised tensors.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::ImageItem;

/// A batch of images and their labels.
#[derive(Debug, Clone)]
pub struct ImageBatch<B: Backend> {
    /// `[batch, channels, height, width]`, normalised.
    pub images: Tensor<B, 4>,
    /// `[batch]`.
    pub targets: Tensor<B, 1, Int>,
}

/// Scales pixels to [0, 1], then normalises each channel: `(x − mean) / std`.
#[derive(Debug, Clone)]
pub struct ImageBatcher {
    /// `[channels, height, width]` of every item.
    pub shape: [usize; 3],
    /// Per-channel mean (of pixels in [0, 1]).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation.
    pub std: Vec<f32>,
}

impl ImageBatcher {
    /// Fashion-MNIST's statistics (mean 0.2860, std 0.3530).
    pub fn fashion_mnist() -> Self {
        Self { shape: [1, 28, 28], mean: vec![0.2860], std: vec![0.3530] }
    }
}

impl<B: Backend> Batcher<B, ImageItem, ImageBatch<B>> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &B::Device) -> ImageBatch<B> {
        let [c, h, w] = self.shape;
        let n = items.len();
        let plane = h * w;
        let mut pixels = Vec::with_capacity(n * c * plane);
        for item in &items {
            for (i, &p) in item.pixels.iter().enumerate() {
                let ch = i / plane;
                pixels.push((p as f32 / 255.0 - self.mean[ch]) / self.std[ch]);
            }
        }
        let labels: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        ImageBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, c, h, w]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}
