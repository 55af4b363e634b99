//! Data: IDX files (MNIST, Fashion-MNIST), image folders (JPEG/PNG, one folder per class),
//! the image dataset over both, its batcher, and a loader that keeps batches in order.

mod batcher;
mod dataset;
mod folder;
mod idx;
mod loader;

pub use batcher::{ImageBatch, ImageBatcher};
pub use dataset::{ImageDataset, ImageItem, Split, default_fashion_mnist_dir, locate_fashion_mnist};
pub use folder::{ImageFolder, Transform};
pub use idx::{IdxArray, parse_idx, read_idx};
pub use loader::OrderedLoader;

use std::path::PathBuf;

/// A data file that cannot be used, named with its path.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file cannot be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not an IDX file of unsigned bytes.
    #[error("{path} is not an IDX file of unsigned bytes: magic number {found:#010x}, expected 0x0000080N")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes.
        found: u32,
    },
    /// Fewer bytes than the header promises.
    #[error("{path} is truncated: its header promises {expected} bytes of data, it holds {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes promised.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// Images and labels that do not pair up.
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Its count.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Its count.
        label_count: usize,
    },
    /// An IDX file of the wrong rank or a label out of range.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No data where it was looked for.
    #[error("{what} not found; looked in {looked}")]
    NotFound {
        /// What was looked for.
        what: String,
        /// Where.
        looked: String,
    },
}
