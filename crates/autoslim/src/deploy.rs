//! Deployment: a subnet of a slimmable model as a plain static burn model, with physically
//! smaller weights and no slimmable layer inside, saved as a burn record and as safetensors
//! with PyTorch-style names.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use slimmable::SlimError;

use crate::channels::Subnet;
use crate::model::SlimmableModel;

/// A plain classifier: images in, logits out.
pub trait Classifier<B: Backend> {
    /// Logits `[batch, classes]` of `images` `[batch, channels, height, width]`.
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2>;

    /// Regex renames from burn's parameter paths to the PyTorch model's (applied after
    /// `gamma`/`beta` → `weight`/`bias`), for fields Rust cannot name as PyTorch does
    /// (`downsample.0`).
    fn pytorch_renames() -> &'static [(&'static str, &'static str)]
    where
        Self: Sized,
    {
        &[]
    }
}

/// A slimmable model that can hand out any subnet as a plain burn model.
pub trait Deploy<B: Backend>: SlimmableModel<B> {
    /// The plain model.
    type Plain: Module<B> + Classifier<B>;
    /// The config that rebuilds an untrained plain model of the same shape (saved beside the
    /// weights, so the record can be loaded back).
    type PlainConfig: Config;

    /// The plain model's config at `subnet`.
    fn plain_config(&self, subnet: &Subnet) -> Self::PlainConfig;

    /// The plain model holding copies of the subnet's weights and BatchNorm statistics.
    fn deploy(&self, subnet: &Subnet) -> Result<Self::Plain, SlimError>;
}

/// The files [`save`] writes.
#[derive(Debug, Clone)]
pub struct DeployedFiles {
    /// burn record (named MessagePack, f32).
    pub record: PathBuf,
    /// safetensors with PyTorch names (`gamma`/`beta` → `weight`/`bias`, linear weights as
    /// `[out, in]`).
    pub safetensors: PathBuf,
    /// The plain model's config, JSON.
    pub config: PathBuf,
}

/// Writes `plain` and its config as `{stem}.mpk`, `{stem}.safetensors` and `{stem}.json`, each
/// through a temporary file renamed into place.
pub fn save<B: Backend, P: Module<B> + Classifier<B>, C: Config>(plain: &P, config: &C, stem: &Path) -> Result<DeployedFiles, String> {
    let files = DeployedFiles {
        record: stem.with_extension("mpk"),
        safetensors: stem.with_extension("safetensors"),
        config: stem.with_extension("json"),
    };
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = |path: &Path| path.with_file_name(format!(".{}.tmp{}", path.file_name().unwrap().to_string_lossy(), std::process::id()));
    let place = |tmp: &Path, path: &Path| std::fs::rename(tmp, path).map_err(|e| format!("cannot move {} into place: {e}", path.display()));

    // The recorder appends `.mpk` to the path it is given.
    let record_tmp = tmp(&files.record);
    plain
        .clone()
        .save_file(record_tmp.with_extension(""), &NamedMpkFileRecorder::<FullPrecisionSettings>::new())
        .map_err(|e| format!("cannot write {}: {e}", files.record.display()))?;
    std::fs::rename(record_tmp.with_extension("").with_extension("mpk"), &record_tmp)
        .map_err(|e| format!("cannot write {}: {e}", files.record.display()))?;
    place(&record_tmp, &files.record)?;

    let st_tmp = tmp(&files.safetensors);
    let mut store = SafetensorsStore::from_file(&st_tmp).with_to_adapter(BurnToPyTorchAdapter);
    for (from, to) in P::pytorch_renames() {
        store = store.with_key_remapping(*from, *to);
    }
    plain.save_into(&mut store).map_err(|e| format!("cannot write {}: {e}", files.safetensors.display()))?;
    place(&st_tmp, &files.safetensors)?;

    let config_tmp = tmp(&files.config);
    config.save(&config_tmp).map_err(|e| format!("cannot write {}: {e}", files.config.display()))?;
    place(&config_tmp, &files.config)?;
    Ok(files)
}

/// The trainable parameters of a module: every float tensor except BatchNorm running
/// statistics (`num_params` counts those too; PyTorch does not).
pub fn trainable_params<B: Backend, M: Module<B>>(module: &M) -> usize {
    shapes(module)
        .into_iter()
        .filter(|(path, _)| !path.ends_with("running_mean") && !path.ends_with("running_var"))
        .map(|(_, shape)| shape.iter().product::<usize>())
        .sum()
}

/// Every float tensor of a module: its dotted path and shape.
pub fn shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<(String, Vec<usize>)> {
    struct Collect {
        path: Vec<String>,
        out: Vec<(String, Vec<usize>)>,
    }
    impl<B: Backend> burn::module::ModuleVisitor<B> for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
            self.out.push((self.path.join("."), param.val().dims().to_vec()));
        }
    }
    let mut collect = Collect { path: Vec::new(), out: Vec::new() };
    module.visit(&mut collect);
    collect.out
}
