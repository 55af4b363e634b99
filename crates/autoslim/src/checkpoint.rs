//! Loading a model checkpoint with every tensor's shape checked: a checkpoint of another model
//! (other channels, other layers) is an error that names the first tensor that does not fit,
//! never a shape panic later.

use std::path::Path;

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::Backend;

use crate::deploy::shapes;

/// A checkpoint that cannot be used for this model.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// No such file.
    #[error("checkpoint {0} does not exist")]
    Missing(String),
    /// Not a readable record of this model's layers.
    #[error("checkpoint {path} is not a record of this model: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// What the reader said.
        reason: String,
    },
    /// A tensor whose shape differs from the model's.
    #[error(
        "checkpoint {path} is from another model: `{tensor}` has shape {file:?} in the file but {model:?} in the model of this config"
    )]
    ShapeMismatch {
        /// The file.
        path: String,
        /// The tensor's dotted path.
        tensor: String,
        /// Its shape in the file.
        file: Vec<usize>,
        /// Its shape in the model.
        model: Vec<usize>,
    },
}

/// Loads the named-MessagePack record at `path` (as `autoslim train` writes it) into `model`.
pub fn load<B: Backend, M: Module<B>>(model: M, path: &Path, device: &B::Device) -> Result<M, CheckpointError> {
    let shown = path.display().to_string();
    if !path.is_file() {
        return Err(CheckpointError::Missing(shown));
    }
    let expected = shapes(&model);
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let record = recorder
        .load::<M::Record>(path.to_path_buf(), device)
        .map_err(|e| CheckpointError::Unreadable { path: shown.clone(), reason: e.to_string() })?;
    // burn panics on a record with another number of layers: turn that into the error.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.load_record(record)));
    std::panic::set_hook(hook);
    let loaded = loaded.map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("its layers do not match");
        let reason = message.lines().next().unwrap_or(message).trim().to_string();
        CheckpointError::Unreadable { path: shown.clone(), reason }
    })?;
    let got = shapes(&loaded);
    for ((tensor, model_shape), (_, file_shape)) in expected.into_iter().zip(got) {
        if model_shape != file_shape {
            return Err(CheckpointError::ShapeMismatch { path: shown, tensor, file: file_shape, model: model_shape });
        }
    }
    Ok(loaded)
}
