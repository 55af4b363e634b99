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
}

#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
mod selected {
    /// The inference backend.
    pub type Backend = burn::backend::Wgpu<f32, i32>;
    /// A readable name for progress output.
    pub const NAME: &str = "wgpu";
}

#[cfg(all(feature = "ndarray", not(any(feature = "wgpu", feature = "cuda"))))]
mod selected {
    /// The inference backend.
    pub type Backend = burn::backend::NdArray<f32>;
    /// A readable name for progress output.
    pub const NAME: &str = "ndarray";
}

#[cfg(not(any(feature = "ndarray", feature = "wgpu", feature = "cuda")))]
compile_error!("enable one backend feature: `ndarray` (the default), `wgpu` or `cuda`");

pub use selected::{Backend, NAME};

/// The device type of the selected backend.
pub type Device = <Backend as burn::tensor::backend::BackendTypes>::Device;

/// The training backend: the selected backend with automatic differentiation.
pub type TrainBackend = burn::backend::Autodiff<Backend>;

/// The device the selected backend runs on.
pub fn device() -> Device {
    Default::default()
}
