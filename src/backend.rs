//! The backend, chosen at compile time by cargo features — the one place that names it.
//!
//! | feature | backend | device |
//! | --- | --- | --- |
//! | `ndarray` (default) | [`burn::backend::NdArray`] (CPU) | `Cpu` |
//! | `wgpu` | [`burn::backend::Wgpu`] (Vulkan, Metal, DirectX; lavapipe on CPU-only machines) | default adapter |
//! | `cuda` | [`burn::backend::Cuda`] (NVIDIA; libraries loaded at run time) | GPU 0 |
//!
//! With several features on, cuda wins over wgpu, and wgpu over ndarray, so
//! `cargo build --features cuda` needs no `--no-default-features`.

#[cfg(feature = "cuda")]
mod selected {
    /// The inference backend.
    pub type Backend = burn::backend::Cuda<f32, i32>;
    /// A readable name for progress output.
    pub const NAME: &str = "cuda";
    /// How slimmable convs compute: burn's own conv. As im2col, the 8-layer bench net ran 4×
    /// slower on the H100 (141 against 610 img/s, plain step; docs/BENCHMARKS.md): cubecl's
    /// batched matmul without autotuning is slower still than its direct conv.
    pub const CONV: slimmable::ConvAlgorithm = slimmable::ConvAlgorithm::Native;
}

#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
mod selected {
    /// The inference backend.
    pub type Backend = burn::backend::Wgpu<f32, i32>;
    /// A readable name for progress output.
    pub const NAME: &str = "wgpu";
    /// How slimmable convs compute: burn's own conv (the same cubecl kernels as CUDA, where
    /// im2col measured slower).
    pub const CONV: slimmable::ConvAlgorithm = slimmable::ConvAlgorithm::Native;
}

#[cfg(all(feature = "ndarray", not(any(feature = "wgpu", feature = "cuda"))))]
mod selected {
    /// The inference backend.
    pub type Backend = burn::backend::NdArray<f32>;
    /// A readable name for progress output.
    pub const NAME: &str = "ndarray";
    /// How slimmable convs compute: burn-ndarray's conv input gradient is a scalar loop
    /// (85 s for one ResNet-20 sandwich step on 64 images; a few seconds as im2col).
    pub const CONV: slimmable::ConvAlgorithm = slimmable::ConvAlgorithm::Im2col;
}

#[cfg(not(any(feature = "ndarray", feature = "wgpu", feature = "cuda")))]
compile_error!("enable one backend feature: `ndarray` (the default), `wgpu` or `cuda`");

pub use selected::{Backend, CONV, NAME};

/// The device type of the selected backend.
pub type Device = <Backend as burn::tensor::backend::BackendTypes>::Device;

/// The training backend: the selected backend with automatic differentiation.
pub type TrainBackend = burn::backend::Autodiff<Backend>;

/// The device the selected backend runs on.
pub fn device() -> Device {
    Default::default()
}

/// Sets process-wide choices of the backend: the convolution algorithm of slimmable convs
/// ([`CONV`], or `AUTOSLIM_CONV=native|im2col|depthwise-sum` from the environment).
pub fn configure() -> Result<(), String> {
    let algorithm = match std::env::var("AUTOSLIM_CONV").ok().as_deref() {
        None | Some("") => CONV,
        Some("native") => slimmable::ConvAlgorithm::Native,
        Some("im2col") => slimmable::ConvAlgorithm::Im2col,
        Some("depthwise-sum") => slimmable::ConvAlgorithm::DepthwiseSum,
        Some(other) => {
            return Err(format!(
                "AUTOSLIM_CONV: unknown value \"{other}\"; accepted: \"native\", \"im2col\", \"depthwise-sum\""
            ));
        }
    };
    slimmable::set_conv_algorithm(algorithm);
    Ok(())
}

/// The backend and the conv algorithm in use, for progress output.
pub fn summary() -> String {
    let conv = match slimmable::conv_algorithm() {
        slimmable::ConvAlgorithm::Native => "native",
        slimmable::ConvAlgorithm::Im2col => "im2col",
        slimmable::ConvAlgorithm::DepthwiseSum => "depthwise-sum",
    };
    format!("{NAME} ({conv} conv)")
}
