//! [`ImageFolder`]: an ImageNet-style folder of JPEG and PNG files, one sub-folder per class,
//! decoded with the `image` crate when an item is read (the data loader's workers read in
//! parallel), with training or evaluation transforms.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::imageops::{FilterType, crop_imm, flip_horizontal, resize};
use image::{ImageReader, RgbImage};
use rand::Rng;

use super::{DataError, ImageItem};

/// How items are cropped and resized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    /// Random-resized crop (area in `scale` of the image, aspect ratio in [3/4, 4/3]) to
    /// `size`×`size`, then a horizontal flip with probability 1/2 (training).
    Train {
        /// Output side.
        size: usize,
        /// Smallest and largest fraction of the image's area a crop covers.
        scale: (f64, f64),
    },
    /// Shorter side resized to `resize`, then the central `size`×`size` crop (evaluation).
    Eval {
        /// Output side.
        size: usize,
        /// Shorter side before cropping.
        resize: usize,
    },
}

impl Transform {
    /// The output side.
    pub fn size(&self) -> usize {
        match *self {
            Transform::Train { size, .. } | Transform::Eval { size, .. } => size,
        }
    }

    /// Applies the transform to an RGB image.
    pub fn apply(&self, image: &RgbImage, rng: &mut impl Rng) -> RgbImage {
        match *self {
            Transform::Train { size, scale } => {
                let (x, y, w, h) = random_crop_box(image.width(), image.height(), scale, rng);
                let crop = crop_imm(image, x, y, w, h).to_image();
                let out = resize(&crop, size as u32, size as u32, FilterType::Triangle);
                if rng.random_bool(0.5) { flip_horizontal(&out) } else { out }
            }
            Transform::Eval { size, resize: short } => {
                let (w, h) = (image.width() as f64, image.height() as f64);
                let scale = short as f64 / w.min(h);
                let (nw, nh) = (((w * scale).round() as u32).max(size as u32), ((h * scale).round() as u32).max(size as u32));
                let resized = resize(image, nw, nh, FilterType::Triangle);
                let (x, y) = ((nw - size as u32) / 2, (nh - size as u32) / 2);
                crop_imm(&resized, x, y, size as u32, size as u32).to_image()
            }
        }
    }
}

/// A crop box `(x, y, w, h)` covering a random fraction in `scale` of the area with an aspect
/// ratio in [3/4, 4/3] (log-uniform), as torchvision's `RandomResizedCrop`; after 10 failed
/// draws, the central crop of the clamped ratio.
fn random_crop_box(width: u32, height: u32, scale: (f64, f64), rng: &mut impl Rng) -> (u32, u32, u32, u32) {
    let area = (width * height) as f64;
    let (log_lo, log_hi) = ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    for _ in 0..10 {
        let target = area * rng.random_range(scale.0..=scale.1);
        let ratio = rng.random_range(log_lo..=log_hi).exp();
        let w = (target * ratio).sqrt().round() as u32;
        let h = (target / ratio).sqrt().round() as u32;
        if w > 0 && h > 0 && w <= width && h <= height {
            return (rng.random_range(0..=width - w), rng.random_range(0..=height - h), w, h);
        }
    }
    let ratio = width as f64 / height as f64;
    let (w, h) = if ratio < 3.0 / 4.0 {
        (width, ((width as f64) / (3.0 / 4.0)).round() as u32)
    } else if ratio > 4.0 / 3.0 {
        (((height as f64) * (4.0 / 3.0)).round() as u32, height)
    } else {
        (width, height)
    };
    let (w, h) = (w.min(width).max(1), h.min(height).max(1));
    ((width - w) / 2, (height - h) / 2, w, h)
}

/// The files of a class-per-folder image dataset, with the transform its items go through.
#[derive(Debug)]
pub struct ImageFolder {
    /// The folder.
    pub root: PathBuf,
    /// Class names (sub-folder names, sorted); a label is an index into it.
    pub classes: Vec<String>,
    files: Vec<(PathBuf, usize)>,
    transform: Transform,
    warned: AtomicUsize,
}

/// File extensions read as images.
const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

impl ImageFolder {
    /// Lists `root/{class}/*.{jpg,jpeg,png}`. `classes`, when given, must be exactly the
    /// sub-folders found (a validation split must have the training split's classes).
    ///
    /// Every file's header is checked, in parallel; a file that is not a readable image is
    /// skipped with a warning naming it. A missing folder, a folder without class folders and a
    /// class without images are errors.
    pub fn open(root: &Path, transform: Transform, classes: Option<&[String]>) -> Result<Self, DataError> {
        let io = |source| DataError::Io { path: root.to_path_buf(), source };
        if !root.is_dir() {
            return Err(DataError::NotFound { what: "the image folder".into(), looked: root.display().to_string() });
        }
        let mut found: Vec<String> = std::fs::read_dir(root)
            .map_err(io)?
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_dir())
            .map(|entry| entry.file_name().to_string_lossy().to_string())
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(DataError::Invalid {
                path: root.to_path_buf(),
                message: "holds no class folders; expected one sub-folder of images per class".into(),
            });
        }
        if let Some(expected) = classes
            && expected != found.as_slice()
        {
            return Err(DataError::Invalid {
                path: root.to_path_buf(),
                message: format!("has classes {found:?}, but the training split has {expected:?}"),
            });
        }
        let mut files = Vec::new();
        for (label, class) in found.iter().enumerate() {
            let dir = root.join(class);
            let mut images: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|source| DataError::Io { path: dir.clone(), source })?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| {
                    path.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                })
                .collect();
            images.sort();
            let readable = check_headers(images);
            if readable.is_empty() {
                return Err(DataError::Invalid {
                    path: dir,
                    message: "class folder holds no readable JPEG or PNG image".into(),
                });
            }
            files.extend(readable.into_iter().map(|path| (path, label)));
        }
        Ok(Self { root: root.to_path_buf(), classes: found, files, transform, warned: AtomicUsize::new(0) })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it holds no image.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The transform items go through.
    pub fn transform(&self) -> Transform {
        self.transform
    }

    /// The `[channels, height, width]` of every item.
    pub fn shape(&self) -> [usize; 3] {
        let size = self.transform.size();
        [3, size, size]
    }

    /// Decodes and transforms image `index`, the random crop and flip of a training transform
    /// drawn from `seed` (the same seed, the same item: a seeded run can be repeated and
    /// resumed exactly). An image that fails to decode is skipped with a warning naming it, and
    /// the next readable one is returned in its place.
    pub fn load(&self, index: usize, seed: u64) -> ImageItem {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        for offset in 0..self.files.len() {
            let (path, label) = &self.files[(index + offset) % self.files.len()];
            match decode(path) {
                Ok(image) => {
                    let out = self.transform.apply(&image, &mut rng);
                    return ImageItem { pixels: to_chw(&out), label: *label };
                }
                Err(err) => {
                    if self.warned.fetch_add(1, Ordering::Relaxed) < 100 {
                        eprintln!("warning: skipping {}: {err}", path.display());
                    }
                }
            }
        }
        panic!("no image in {} can be decoded", self.root.display());
    }
}

fn decode(path: &Path) -> Result<RgbImage, String> {
    let reader = ImageReader::open(path).map_err(|e| e.to_string())?;
    let reader = reader.with_guessed_format().map_err(|e| e.to_string())?;
    Ok(reader.decode().map_err(|e| e.to_string())?.to_rgb8())
}

/// The files whose header reads as an image, checked on all cores; the others are reported.
fn check_headers(files: Vec<PathBuf>) -> Vec<PathBuf> {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get()).min(16);
    let chunk = files.len().div_ceil(threads).max(1);
    let verdicts: Vec<Vec<bool>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|path| {
                            let ok = ImageReader::open(path)
                                .and_then(|r| r.with_guessed_format())
                                .map_err(|e| e.to_string())
                                .and_then(|r| r.into_dimensions().map_err(|e| e.to_string()));
                            if let Err(err) = &ok {
                                eprintln!("warning: skipping {}: {err}", path.display());
                            }
                            ok.is_ok()
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("header check thread")).collect()
    });
    files.into_iter().zip(verdicts.into_iter().flatten()).filter_map(|(path, ok)| ok.then_some(path)).collect()
}

/// `[3, h, w]` planes from an interleaved RGB image.
fn to_chw(image: &RgbImage) -> Vec<u8> {
    let plane = (image.width() * image.height()) as usize;
    let mut out = vec![0u8; 3 * plane];
    for (i, pixel) in image.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = pixel[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb};

    fn write_image(path: &Path, w: u32, h: u32, color: [u8; 3], format: ImageFormat) {
        let image = RgbImage::from_pixel(w, h, Rgb(color));
        image.save_with_format(path, format).unwrap();
    }

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("autoslim-folder-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for class in ["cat", "dog"] {
            std::fs::create_dir_all(dir.join(class)).unwrap();
        }
        write_image(&dir.join("cat/a.png"), 40, 30, [200, 10, 10], ImageFormat::Png);
        write_image(&dir.join("cat/b.jpg"), 30, 50, [200, 10, 10], ImageFormat::Jpeg);
        write_image(&dir.join("dog/c.JPEG"), 64, 64, [10, 10, 200], ImageFormat::Jpeg);
        std::fs::write(dir.join("dog/notes.txt"), "not an image").unwrap();
        dir
    }

    #[test]
    fn jpeg_and_png_files_load_with_labels_transforms_and_shapes() {
        let dir = folder("ok");
        let train = ImageFolder::open(&dir, Transform::Train { size: 16, scale: (0.08, 1.0) }, None).unwrap();
        assert_eq!(train.classes, ["cat", "dog"]);
        assert_eq!(train.len(), 3, "notes.txt is not an image");
        let item = train.load(2, 0);
        assert_eq!((item.label, item.pixels.len()), (1, 3 * 16 * 16));
        // A blue image stays blue through crop, resize and flip (JPEG is lossy: roughly).
        assert!(item.pixels[..256].iter().all(|&r| r < 40) && item.pixels[512..].iter().all(|&b| b > 170));

        let eval = ImageFolder::open(&dir, Transform::Eval { size: 24, resize: 28 }, Some(&train.classes)).unwrap();
        let item = eval.load(0, 0);
        assert_eq!((item.label, item.pixels.len()), (0, 3 * 24 * 24));
        assert!(item.pixels[..576].iter().all(|&r| r == 200), "PNG decodes exactly");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_training_item_is_a_function_of_its_seed() {
        let dir = folder("seeded");
        // A picture with a bright left edge: a crop or flip moves it.
        let mut image = RgbImage::from_pixel(48, 40, Rgb([20, 20, 20]));
        for y in 0..40 {
            for x in 0..6 {
                image.put_pixel(x, y, Rgb([250, 250, 250]));
            }
        }
        image.save_with_format(dir.join("cat/edge.png"), ImageFormat::Png).unwrap();
        let train = ImageFolder::open(&dir, Transform::Train { size: 16, scale: (0.08, 1.0) }, None).unwrap();
        let edge = train.files.iter().position(|(path, _)| path.ends_with("edge.png")).unwrap();
        assert_eq!(train.load(edge, 7).pixels, train.load(edge, 7).pixels, "the same seed, the same crop and flip");
        let distinct: std::collections::HashSet<Vec<u8>> = (0..16).map(|seed| train.load(edge, seed).pixels).collect();
        assert!(distinct.len() > 4, "other seeds, other crops: {} distinct items of 16", distinct.len());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn corrupt_images_are_skipped_and_bad_folders_are_named_errors() {
        let dir = folder("bad");
        // A file with an image extension and garbage inside: skipped with a warning.
        std::fs::write(dir.join("cat/broken.jpg"), b"definitely not a jpeg").unwrap();
        // A truncated PNG passes the header check; decoding it falls back to the next image.
        let png = std::fs::read(dir.join("cat/a.png")).unwrap();
        std::fs::write(dir.join("cat/0truncated.png"), &png[..png.len() / 2]).unwrap();
        let data = ImageFolder::open(&dir, Transform::Eval { size: 8, resize: 8 }, None).unwrap();
        assert_eq!(data.len(), 4, "broken.jpg is skipped; the truncated PNG has a good header");
        let first = data.load(0, 0);
        assert_eq!(first.label, 0);

        let err = ImageFolder::open(&dir.join("missing"), Transform::Eval { size: 8, resize: 8 }, None).unwrap_err();
        assert!(err.to_string().starts_with("the image folder not found; looked in"), "{err}");
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let err = ImageFolder::open(&dir, Transform::Eval { size: 8, resize: 8 }, None).unwrap_err();
        assert!(err.to_string().ends_with("empty: class folder holds no readable JPEG or PNG image"), "{err}");
        std::fs::remove_dir_all(dir.join("empty")).unwrap();
        let classes = vec!["cat".to_string()];
        let err = ImageFolder::open(&dir, Transform::Eval { size: 8, resize: 8 }, Some(&classes)).unwrap_err();
        assert!(err.to_string().contains("has classes [\"cat\", \"dog\"], but the training split has [\"cat\"]"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
