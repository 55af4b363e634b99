//! [`ImageDataset`]: labelled images, held in memory (MNIST-style IDX files) or read from an
//! image folder as they are needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataset::Dataset;

use super::folder::{ImageFolder, Transform};
use super::{DataError, read_idx};

/// One image and its label.
#[derive(Debug, Clone)]
pub struct ImageItem {
    /// Pixels, `[channels, height, width]`, 0–255.
    pub pixels: Vec<u8>,
    /// The class.
    pub label: usize,
}

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

/// Labelled images: single-channel images in memory (MNIST, Fashion-MNIST), or the files of
/// an [`ImageFolder`], decoded and transformed when read.
#[derive(Debug, Clone)]
pub struct ImageDataset {
    source: Source,
    indices: Option<Arc<Vec<usize>>>,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
}

impl ImageDataset {
    /// Loads a split from `dir`, which holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    /// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each raw or with `.gz`.
    pub fn load_idx_dir(dir: &Path, split: Split) -> Result<Self, DataError> {
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        let images = read_idx(&images_path)?;
        let labels = read_idx(&labels_path)?;
        if images.dims.len() != 3 {
            return Err(DataError::Invalid {
                path: images_path,
                message: format!("expected images [count, rows, cols], got dimensions {:?}", images.dims),
            });
        }
        if labels.dims.len() != 1 {
            return Err(DataError::Invalid {
                path: labels_path,
                message: format!("expected labels [count], got dimensions {:?}", labels.dims),
            });
        }
        if images.dims[0] != labels.dims[0] {
            return Err(DataError::CountMismatch {
                images: images_path,
                image_count: images.dims[0],
                labels: labels_path,
                label_count: labels.dims[0],
            });
        }
        if let Some(&bad) = labels.data.iter().find(|&&l| l > 9) {
            return Err(DataError::Invalid { path: labels_path, message: format!("label {bad} is not a class 0..=9") });
        }
        Ok(Self {
            source: Source::Memory { pixels: Arc::new(images.data), labels: Arc::new(labels.data) },
            indices: None,
            shape: [1, images.dims[1], images.dims[2]],
            num_classes: 10,
        })
    }

    /// Opens an ImageNet-style folder: `root/train/{class}/*` for training (random resized
    /// crops to `size`×`size` covering at least `min_crop_scale` of the image, and flips) and
    /// `root/val/{class}/*` for evaluation (shorter side resized to `size / 0.875`, central
    /// crop). The validation split must have the training split's classes.
    pub fn load_image_folder(root: &Path, size: usize, min_crop_scale: f64) -> Result<(Self, Self), DataError> {
        let train = ImageFolder::open(&root.join("train"), Transform::Train { size, scale: (min_crop_scale, 1.0) }, None)?;
        let resize = (size as f64 / 0.875).round() as usize;
        let val = ImageFolder::open(&root.join("val"), Transform::Eval { size, resize }, Some(&train.classes))?;
        let dataset = |folder: ImageFolder| Self {
            shape: folder.shape(),
            num_classes: folder.classes.len(),
            source: Source::Folder(Arc::new(folder)),
            indices: None,
        };
        Ok((dataset(train), dataset(val)))
    }

    /// The class names of an image folder (none for IDX data, whose classes are 0..=9).
    pub fn class_names(&self) -> Option<&[String]> {
        match &self.source {
            Source::Folder(folder) => Some(&folder.classes),
            Source::Memory { .. } => None,
        }
    }

    /// The items at `indices` (in that order), sharing this dataset's memory.
    pub fn select(&self, indices: Vec<usize>) -> Self {
        let indices = indices.into_iter().map(|i| self.index(i)).collect();
        Self { indices: Some(Arc::new(indices)), ..self.clone() }
    }

    /// The first `n` items (all if fewer).
    pub fn take(&self, n: usize) -> Self {
        self.select((0..n.min(self.len())).collect())
    }

    /// `n` items spread evenly over the dataset (all if fewer): from a folder listed class
    /// by class, every class keeps its share.
    pub fn spread(&self, n: usize) -> Self {
        let len = self.len();
        self.select((0..n.min(len)).map(|i| i * len / n.min(len).max(1)).collect())
    }

    fn index(&self, i: usize) -> usize {
        self.indices.as_ref().map_or(i, |indices| indices[i])
    }
}

impl ImageDataset {
    /// Item `index`, any random augmentation of an image folder's training transform drawn
    /// from `seed` ([`Dataset::get`] draws it from the index).
    pub fn get_seeded(&self, index: usize, seed: u64) -> Option<ImageItem> {
        if index >= self.len() {
            return None;
        }
        let i = self.index(index);
        match &self.source {
            Source::Memory { pixels, labels } => {
                let size: usize = self.shape.iter().product();
                Some(ImageItem { pixels: pixels[i * size..(i + 1) * size].to_vec(), label: labels[i] as usize })
            }
            Source::Folder(folder) => Some(folder.load(i, seed)),
        }
    }
}

impl Dataset<ImageItem> for ImageDataset {
    fn get(&self, index: usize) -> Option<ImageItem> {
        self.get_seeded(index, index as u64)
    }

    fn len(&self) -> usize {
        let all = match &self.source {
            Source::Memory { labels, .. } => labels.len(),
            Source::Folder(folder) => folder.len(),
        };
        self.indices.as_ref().map_or(all, |indices| indices.len())
    }
}

/// Where the items come from.
#[derive(Debug, Clone)]
enum Source {
    /// Pixels `[count, channels, height, width]` and labels, in memory.
    Memory { pixels: Arc<Vec<u8>>, labels: Arc<Vec<u8>> },
    /// Files, decoded when read.
    Folder(Arc<ImageFolder>),
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let candidates = [dir.join(stem), dir.join(format!("{stem}.gz"))];
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| DataError::NotFound {
        what: format!("`{stem}` (raw or .gz)"),
        looked: dir.display().to_string(),
    })
}

/// Where Debian's `dataset-fashion-mnist` package puts the full set.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// The subset shipped in this repository (4000 train / 1000 test images).
pub fn default_fashion_mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist-subset")
}

/// Finds Fashion-MNIST: `explicit` if given (it must hold the files), else the full set from
/// Debian's package, else the subset shipped in the repository. Returns the directory and a
/// line saying which was chosen.
pub fn locate_fashion_mnist(explicit: Option<&Path>) -> Result<(PathBuf, String), DataError> {
    let complete = |dir: &Path| {
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
            .iter()
            .all(|stem| find(dir, stem).is_ok())
    };
    if let Some(dir) = explicit {
        return match complete(dir) {
            true => Ok((dir.to_path_buf(), format!("data: {}", dir.display()))),
            false => Err(DataError::NotFound {
                what: "the four IDX files (train/t10k images and labels)".into(),
                looked: match dir == Path::new(DEBIAN_FASHION_MNIST) {
                    true => format!("{} (apt-get install dataset-fashion-mnist)", dir.display()),
                    false => dir.display().to_string(),
                },
            }),
        };
    }
    let debian = Path::new(DEBIAN_FASHION_MNIST);
    if complete(debian) {
        return Ok((debian.to_path_buf(), format!("data: full Fashion-MNIST from {DEBIAN_FASHION_MNIST}")));
    }
    let local = Path::new("data/fashion-mnist-subset");
    let subset = if complete(local) { local.to_path_buf() } else { default_fashion_mnist_dir() };
    if complete(&subset) {
        return Ok((
            subset.clone(),
            format!(
                "data: the 4000/1000-image Fashion-MNIST subset in {} \
                 (for the full set: apt-get install dataset-fashion-mnist)",
                subset.display()
            ),
        ));
    }
    Err(DataError::NotFound {
        what: "Fashion-MNIST".into(),
        looked: format!("{DEBIAN_FASHION_MNIST}, {}", subset.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_subset_loads() {
        let train = ImageDataset::load_idx_dir(&default_fashion_mnist_dir(), Split::Train).unwrap();
        let test = ImageDataset::load_idx_dir(&default_fashion_mnist_dir(), Split::Test).unwrap();
        assert_eq!((train.len(), test.len()), (4000, 1000));
        assert_eq!(train.shape, [1, 28, 28]);
        let item = train.get(0).unwrap();
        assert_eq!(item.pixels.len(), 784);
        assert_eq!(item.label, 9); // the first Fashion-MNIST training image is an ankle boot
        let part = train.select(vec![5, 0]);
        assert_eq!(part.get(1).unwrap().label, 9);
        assert!(part.get(2).is_none());
    }

    #[test]
    fn mismatched_counts_and_missing_files_are_named() {
        let dir = std::env::temp_dir().join(format!("autoslim-ds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = default_fashion_mnist_dir();
        // Test images (1000) with training labels (4000).
        std::fs::copy(src.join("t10k-images-idx3-ubyte.gz"), dir.join("train-images-idx3-ubyte.gz")).unwrap();
        std::fs::copy(src.join("train-labels-idx1-ubyte.gz"), dir.join("train-labels-idx1-ubyte.gz")).unwrap();
        let err = ImageDataset::load_idx_dir(&dir, Split::Train).unwrap_err();
        assert!(err.to_string().contains("holds 1000 images but"), "{err}");
        assert!(err.to_string().contains("holds 4000 labels"), "{err}");
        let err = ImageDataset::load_idx_dir(&dir, Split::Test).unwrap_err();
        assert!(err.to_string().starts_with("`t10k-images-idx3-ubyte` (raw or .gz) not found; looked in"), "{err}");
        let err = locate_fashion_mnist(Some(&dir)).unwrap_err();
        assert!(err.to_string().contains("four IDX files"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
