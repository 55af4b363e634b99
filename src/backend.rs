//! The backends: which ones are compiled in (cargo features), which one a run uses, and the one
//! place that turns that choice into a type.
//!
//! | feature | backend | device |
//! | --- | --- | --- |
//! | `ndarray` (default) | [`burn::backend::NdArray`] (CPU) | `Cpu` |
//! | `wgpu` | [`burn::backend::Wgpu`] (Vulkan, Metal, DirectX; lavapipe on CPU-only machines) | default adapter |
//! | `cuda` | [`burn::backend::Cuda`] (NVIDIA; libraries loaded at run time) | GPU 0 |
//!
//! A binary holds every backend whose feature is on. A run uses the one that `--backend` (or
//! `AUTOSLIM_BACKEND`) names, else the preferred one compiled in: cuda over wgpu over ndarray,
//! so `cargo build --features cuda` needs no `--no-default-features`. [`with_backend!`] runs
//! generic code with the chosen backend's types.

use std::sync::OnceLock;

/// A backend this program knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// burn-ndarray, on the CPU.
    Ndarray,
    /// burn's wgpu backend: Vulkan, Metal or DirectX.
    Wgpu,
    /// burn's CUDA backend.
    Cuda,
}

impl BackendKind {
    /// Every backend, the preferred first.
    pub const ALL: [BackendKind; 3] = [BackendKind::Cuda, BackendKind::Wgpu, BackendKind::Ndarray];

    /// The name used on the command line and in progress output.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// Whether this binary was built with the backend's feature.
    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::Ndarray => cfg!(feature = "ndarray"),
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// How slimmable convs compute on this backend unless `AUTOSLIM_CONV` says otherwise.
    ///
    /// - ndarray: im2col. burn-ndarray's conv input gradient is a scalar loop (85 s for one
    ///   ResNet-20 sandwich step on 64 images; a few seconds as im2col).
    /// - CUDA: gemm-all, this crate's depthwise kernels and every dense conv (1×1 ones too) on
    ///   burn's implicit-GEMM kernels on the tensor cores
    ///   (`slimmable::gemm_conv2d`). On an H200 the 8-layer bench net's plain step ran 6× faster
    ///   than with burn's direct conv (kernel-matmul), and MobileNetV2-small trained at 444
    ///   img/s with kernel-matmul against 76–88 with burn's own conv, whose grouped weight
    ///   gradient launches one conv per channel (docs/BENCHMARKS.md, 2026-12-02). These kernels
    ///   compile once per shape class, which is why the CUDA build keeps compiled kernels on
    ///   disk ([`crate::kernel_cache`]). The 1×1 convs on these kernels rather than as cubecl's
    ///   matrix product (kernel-gemm) need no autotuning: on an H200, with bf16 operands
    ///   MobileNetV2-224's plain step ran 2 559 against 2 322 img/s and its sandwich step 930
    ///   against 860 (docs/BENCHMARKS.md, session 23); with TF32 its cold first sandwich step
    ///   took 22.7 s against 34.1 s and a sandwich step 154 against ~165 ms (session 24).
    /// - wgpu: depthwise-kernel: the depthwise kernels, and burn's conv for dense convs (no
    ///   compilation cache exists for wgpu in cubecl 0.10, so the matrix products' many kernel
    ///   variants would be compiled again by every run). As im2col, the 8-layer bench net ran
    ///   4× slower than burn's conv on an H100.
    pub fn default_conv(self) -> slimmable::ConvAlgorithm {
        match self {
            BackendKind::Ndarray => slimmable::ConvAlgorithm::Im2col,
            BackendKind::Wgpu => slimmable::ConvAlgorithm::DepthwiseKernel,
            BackendKind::Cuda => slimmable::ConvAlgorithm::GemmAll,
        }
    }

    /// The operand format of the implicit-GEMM convs unless `AUTOSLIM_GEMM_PRECISION` says
    /// otherwise: bf16 on CUDA (mixed precision: f32 sums, results, parameters and optimizer),
    /// TF32 elsewhere (where no default conv runs on those kernels). On an H200 the 8-layer
    /// bench net's plain step ran 53 000 img/s with bf16 against 23 700 with TF32, its sandwich
    /// step 22 000 against 11 100 (1.03× PyTorch's), its plain step's peak memory 4.5 GB against
    /// 13.4 GB; the MobileNetV2 Fashion-MNIST config trained two epochs to 70.4 / 42.4 % (max /
    /// min width, mean of three seeds) with bf16 against 71.2 / 44.8 % with TF32, each within
    /// the seeds' spread of 6–8 points at the max width (docs/BENCHMARKS.md, session 24).
    pub fn default_precision(self) -> slimmable::GemmPrecision {
        match self {
            BackendKind::Cuda => slimmable::GemmPrecision::Bf16,
            BackendKind::Ndarray | BackendKind::Wgpu => slimmable::GemmPrecision::Tf32,
        }
    }

    /// The backend named `name`, if this binary holds it; the error names what it holds.
    pub fn parse(name: &str) -> Result<BackendKind, String> {
        let compiled = || BackendKind::ALL.iter().filter(|k| k.is_compiled()).map(|k| format!("\"{}\"", k.name())).collect::<Vec<_>>();
        let kind = BackendKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("unknown backend \"{name}\"; this binary holds {}", compiled().join(", ")))?;
        if !kind.is_compiled() {
            return Err(format!(
                "this binary was built without the `{name}` backend (it holds {}); rebuild with `--features {name}`",
                compiled().join(", ")
            ));
        }
        Ok(kind)
    }
}

/// The preferred backend compiled in.
pub const DEFAULT: BackendKind = if cfg!(feature = "cuda") {
    BackendKind::Cuda
} else if cfg!(feature = "wgpu") {
    BackendKind::Wgpu
} else {
    BackendKind::Ndarray
};

#[cfg(not(any(feature = "ndarray", feature = "wgpu", feature = "cuda")))]
compile_error!("enable one backend feature: `ndarray` (the default), `wgpu` or `cuda`");

/// The default backend as a type, for the examples: the preferred one compiled in.
#[cfg(feature = "cuda")]
pub type Backend = burn::backend::Cuda<f32, i32>;
/// The default backend as a type, for the examples: the preferred one compiled in.
#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
pub type Backend = burn::backend::Wgpu<f32, i32>;
/// The default backend as a type, for the examples: the preferred one compiled in.
#[cfg(all(feature = "ndarray", not(any(feature = "wgpu", feature = "cuda"))))]
pub type Backend = burn::backend::NdArray<f32>;

/// The device type of the default backend.
pub type Device = <Backend as burn::tensor::backend::BackendTypes>::Device;

/// The device the default backend runs on.
pub fn device() -> Device {
    Default::default()
}

static SELECTED: OnceLock<BackendKind> = OnceLock::new();

/// When a training step hands the device's free memory back
/// ([`autoslim::learner::StepPlan::memory_release`]): `AUTOSLIM_RELEASE_MEMORY`, one of
/// `never`, `step`, `widest` or `pass` (unset: the default); anything else is an error that
/// names the variable.
pub fn memory_release() -> Result<autoslim::learner::MemoryRelease, String> {
    match std::env::var("AUTOSLIM_RELEASE_MEMORY").ok().as_deref().map(str::trim) {
        None | Some("") => Ok(autoslim::learner::MemoryRelease::default()),
        Some(name) => autoslim::learner::MemoryRelease::parse(name).map_err(|err| format!("AUTOSLIM_RELEASE_MEMORY: {err}")),
    }
}

/// Chooses the backend of this process (`None`: [`DEFAULT`]) and sets the convolution algorithm
/// of slimmable convs: the backend's [`BackendKind::default_conv`], or
/// `AUTOSLIM_CONV` from the environment (one of [`slimmable::ConvAlgorithm::name`]'s names).
pub fn configure(name: Option<&str>) -> Result<BackendKind, String> {
    let kind = match name {
        None | Some("") => DEFAULT,
        Some(name) => BackendKind::parse(name).map_err(|err| format!("--backend: {err}"))?,
    };
    let precision = gemm_precision(std::env::var("AUTOSLIM_GEMM_PRECISION").ok().as_deref())?;
    let algorithm = match std::env::var("AUTOSLIM_CONV").ok().as_deref() {
        None | Some("") => kind.default_conv(),
        Some(name) => slimmable::ConvAlgorithm::parse(name).map_err(|err| format!("AUTOSLIM_CONV: {err}"))?,
    };
    slimmable::set_conv_algorithm(algorithm);
    if let Some(align) = gemm_channel_align(std::env::var("AUTOSLIM_GEMM_ALIGN").ok().as_deref())? {
        slimmable::set_gemm_channel_align(align);
    }
    if let Some(most) = wgrad_max_batches(std::env::var("AUTOSLIM_WGRAD_MAX_BATCHES").ok().as_deref())? {
        slimmable::set_wgrad_max_batches(most);
    }
    if let Some(threads) = depthwise_wgrad_threads(std::env::var("AUTOSLIM_DEPTHWISE_WGRAD_THREADS").ok().as_deref())? {
        slimmable::set_depthwise_wgrad_threads(threads);
    }
    if let Some(channels) = gemm_min_channels(std::env::var("AUTOSLIM_GEMM_MIN_CHANNELS").ok().as_deref())? {
        slimmable::set_gemm_min_channels(channels);
    }
    if let Some(batches) = im2col_batches(std::env::var("AUTOSLIM_IM2COL_BATCHES").ok().as_deref())? {
        slimmable::set_im2col_batches(batches);
    }
    if let Some(order) = wgrad_order(std::env::var("AUTOSLIM_WGRAD_ORDER").ok().as_deref())? {
        slimmable::set_wgrad_order(order);
    }
    if let Some(stages) = wgrad_stages(std::env::var("AUTOSLIM_WGRAD_STAGES").ok().as_deref())? {
        slimmable::set_wgrad_stages(stages);
    }
    if let Some(rows) = layout_copy_rows(std::env::var("AUTOSLIM_LAYOUT_COPY_ROWS").ok().as_deref())? {
        slimmable::set_layout_copy_rows(rows).map_err(|err| format!("AUTOSLIM_LAYOUT_COPY_ROWS: {err}"))?;
    }
    if let Some(values) = batch_norm_one_cube_max(std::env::var("AUTOSLIM_BN_ONE_CUBE_MAX").ok().as_deref())? {
        slimmable::set_batch_norm_one_cube_max(values);
    }
    if let Some(threads) = batch_norm_one_cube_threads(std::env::var("AUTOSLIM_BN_ONE_CUBE_THREADS").ok().as_deref())? {
        slimmable::set_batch_norm_one_cube_threads(threads).map_err(|err| format!("AUTOSLIM_BN_ONE_CUBE_THREADS: {err}"))?;
    }
    slimmable::set_gemm_precision(precision.unwrap_or_else(|| kind.default_precision()));
    if let Some(precision) = activation_precision(std::env::var("AUTOSLIM_ACTIVATIONS").ok().as_deref())? {
        slimmable::set_activation_precision(precision);
    }
    if let Some(name) = std::env::var("AUTOSLIM_GEMM_WGRAD").ok().filter(|name| !name.trim().is_empty()) {
        slimmable::set_wgrad_matmul(&name).map_err(|err| format!("AUTOSLIM_GEMM_WGRAD: {err}"))?;
    }
    if let Ok(value) = std::env::var("AUTOSLIM_GEMM_STAGES") {
        slimmable::set_gemm_stages(slimmable::GemmStages::parse(&value).map_err(|err| format!("AUTOSLIM_GEMM_STAGES: {err}"))?);
    }
    slimmable::set_gemm_checks(gemm_checks(std::env::var("AUTOSLIM_GEMM_CHECKS").ok().as_deref())?);
    if let Ok(value) = std::env::var("AUTOSLIM_GEMM_COLUMNS") {
        slimmable::set_gemm_columns(slimmable::GemmColumns::parse(&value).map_err(|err| format!("AUTOSLIM_GEMM_COLUMNS: {err}"))?);
    }
    match std::env::var("AUTOSLIM_GEMM_KERNEL").ok().as_deref().map(str::trim) {
        None | Some("") => {}
        Some(name) => {
            // Any kernel may be named (benchmarks compare them); one not verified gets a warning.
            let kernel = slimmable::GemmKernel::parse(name).map_err(|err| format!("AUTOSLIM_GEMM_KERNEL: {err}"))?;
            if let Err(why) = kernel.check_verified() {
                eprintln!("warning: AUTOSLIM_GEMM_KERNEL: {why}");
            }
            slimmable::set_gemm_kernel(kernel)
        }
    }
    let _ = SELECTED.set(kind);
    Ok(kind)
}

/// The bounds checks of the implicit-GEMM convs' stages for a run, given
/// `AUTOSLIM_GEMM_CHECKS`'s value (unset or blank: `channels`, every check along the channel
/// sizes); [`configure`] sets them. A slimmable network's widths make channel counts of their own,
/// each of which would otherwise compile kernels of its own: on an H200 every check (`always`)
/// took the 8-layer bench net's first sandwich step from 71 to 41 s on an empty kernel cache and
/// its next six steps from 40 to 6.6 s (session 22); `channels` compiles as few kernels and costs
/// 0.6 % over `needed` summed over the 11 widths' passes where `always` costs 3.0 %
/// (docs/BENCHMARKS.md, session 23). A run of one width took `needed` until session 32, when on
/// an H100 its cold first MobileNetV2-224 step took 43.5–44.4 s with them and 26.6–27.4 s with
/// `channels`, the steps after it the same (36.8–37.7 against 37.4–37.6 ms; conv8 22.1 against
/// 21.7 s).
pub fn gemm_checks(setting: Option<&str>) -> Result<slimmable::GemmChecks, String> {
    match setting.map(str::trim) {
        None | Some("") => Ok(slimmable::GemmChecks::Channels),
        Some(value) => slimmable::GemmChecks::parse(value).map_err(|err| format!("AUTOSLIM_GEMM_CHECKS: {err}")),
    }
}

/// `AUTOSLIM_GEMM_ALIGN`'s value: the multiple the implicit-GEMM convs round channel counts up
/// to (`slimmable::set_gemm_channel_align`; 1 turns it off); `None` when unset.
pub fn gemm_channel_align(value: Option<&str>) -> Result<Option<usize>, String> {
    positive_whole("AUTOSLIM_GEMM_ALIGN", "channels", value)
}

/// `AUTOSLIM_WGRAD_MAX_BATCHES`'s value: the most image batches a conv's weight gradient is
/// split into (`slimmable::set_wgrad_max_batches`, default 256); `None` when unset.
pub fn wgrad_max_batches(value: Option<&str>) -> Result<Option<usize>, String> {
    positive_whole("AUTOSLIM_WGRAD_MAX_BATCHES", "batches", value)
}

/// `AUTOSLIM_DEPTHWISE_WGRAD_THREADS`'s value: the threads the depthwise weight gradient's
/// kernel aims for by splitting each channel's output rows into chunks
/// (`slimmable::set_depthwise_wgrad_threads`; 0 keeps one chunk; default
/// `slimmable::DEFAULT_DEPTHWISE_WGRAD_THREADS`); `None` when unset.
pub fn depthwise_wgrad_threads(value: Option<&str>) -> Result<Option<usize>, String> {
    named("AUTOSLIM_DEPTHWISE_WGRAD_THREADS", value, |text| {
        text.parse::<usize>().map_err(|_| format!("expected a whole number of threads (0: one chunk of rows per channel); got \"{text}\""))
    })
}

/// `AUTOSLIM_GEMM_MIN_CHANNELS`'s value: the fewest input channels a dense conv larger than 1×1
/// needs for the implicit-GEMM kernels, thinner ones taking im2col (`slimmable::set_gemm_min_channels`,
/// default 8); `None` when unset.
pub fn gemm_min_channels(value: Option<&str>) -> Result<Option<usize>, String> {
    positive_whole("AUTOSLIM_GEMM_MIN_CHANNELS", "channels", value)
}

/// `AUTOSLIM_IM2COL_BATCHES`'s value: the matrix products a stem's conv by im2col is split
/// into, its output rows in runs (`slimmable::set_im2col_batches`; 0 or 1 keeps one per image;
/// default `slimmable::DEFAULT_IM2COL_BATCHES`); `None` when unset.
pub fn im2col_batches(value: Option<&str>) -> Result<Option<usize>, String> {
    named("AUTOSLIM_IM2COL_BATCHES", value, |text| {
        text.parse::<usize>().map_err(|_| format!("expected a whole number of products (0 or 1: one per image); got \"{text}\""))
    })
}

/// `AUTOSLIM_WGRAD_ORDER`'s value: how a stride-1 conv's weight gradient orders its products
/// (`slimmable::set_wgrad_order`: `images-outer`, the default, or `positions-outer`); `None`
/// when unset.
pub fn wgrad_order(value: Option<&str>) -> Result<Option<slimmable::WgradOrder>, String> {
    named("AUTOSLIM_WGRAD_ORDER", value, slimmable::WgradOrder::parse)
}

/// `AUTOSLIM_WGRAD_STAGES`'s value: how the weight gradient's products split into stages
/// (`slimmable::set_wgrad_stages`: `fitted`, the default, or `inferred`); `None` when unset.
pub fn wgrad_stages(value: Option<&str>) -> Result<Option<slimmable::WgradStages>, String> {
    named("AUTOSLIM_WGRAD_STAGES", value, slimmable::WgradStages::parse)
}

/// `AUTOSLIM_LAYOUT_COPY_ROWS`'s value: rows of threads per tile of the GEMM convs' layout
/// copies (`slimmable::set_layout_copy_rows`, default 8; a power of two up to 32, which that
/// function checks); `None` when unset.
pub fn layout_copy_rows(value: Option<&str>) -> Result<Option<usize>, String> {
    positive_whole("AUTOSLIM_LAYOUT_COPY_ROWS", "rows of threads", value)
}

/// `AUTOSLIM_BN_ONE_CUBE_MAX`'s value: the most values a channel (images × pixels) for which one
/// cube sums a BatchNorm channel whole and finishes it in the same launch
/// (`slimmable::set_batch_norm_one_cube_max`; 0: never; default
/// `slimmable::DEFAULT_BATCH_NORM_ONE_CUBE_MAX`); `None` when unset.
pub fn batch_norm_one_cube_max(value: Option<&str>) -> Result<Option<usize>, String> {
    named("AUTOSLIM_BN_ONE_CUBE_MAX", value, |text| {
        text.parse::<usize>().map_err(|_| format!("expected a whole number of values a channel (0: never one cube a channel); got \"{text}\""))
    })
}

/// `AUTOSLIM_BN_ONE_CUBE_THREADS`'s value: the threads of a cube that sums a BatchNorm channel
/// whole (`slimmable::set_batch_norm_one_cube_threads`, default 1 024; a power of two from 32,
/// which that function checks); `None` when unset.
pub fn batch_norm_one_cube_threads(value: Option<&str>) -> Result<Option<usize>, String> {
    positive_whole("AUTOSLIM_BN_ONE_CUBE_THREADS", "threads", value)
}

/// The whole number, at least 1, that the environment variable `name` holds (counting `what`);
/// `None` when unset or blank.
fn positive_whole(name: &str, what: &str, value: Option<&str>) -> Result<Option<usize>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<usize>() {
            Ok(count) if count > 0 => Ok(Some(count)),
            _ => Err(format!("{name}: expected a whole number of {what}, at least 1; got \"{text}\"")),
        },
    }
}

/// The setting the environment variable `name` names, parsed by `parse`; `None` when unset or
/// blank, and the error prefixed with the variable's name.
fn named<T>(name: &str, value: Option<&str>, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse(text).map(Some).map_err(|err| format!("{name}: {err}")),
    }
}

/// `AUTOSLIM_GEMM_PRECISION`'s value: the operand format of the implicit-GEMM convs
/// (`slimmable::set_gemm_precision`: `tf32` or `bf16`); `None` when unset (the backend's
/// [`BackendKind::default_precision`]).
pub fn gemm_precision(value: Option<&str>) -> Result<Option<slimmable::GemmPrecision>, String> {
    named("AUTOSLIM_GEMM_PRECISION", value, slimmable::GemmPrecision::parse)
}

/// `AUTOSLIM_ACTIVATIONS`'s value: the number format of the activations the GEMM convs hand on
/// (`slimmable::set_activation_precision`: `f32`, the default, or `bf16`, which takes effect
/// with bf16 operands); `None` when unset.
pub fn activation_precision(value: Option<&str>) -> Result<Option<slimmable::ActivationPrecision>, String> {
    named("AUTOSLIM_ACTIVATIONS", value, slimmable::ActivationPrecision::parse)
}

/// Bytes of device memory cubecl's pool holds for the calling thread (the pages it took from
/// the driver, free or not) on the CUDA backend; `None` on the others. What a step's peak
/// memory is made of, without the CUDA context nvidia-smi counts too.
pub fn reserved_memory() -> Option<u64> {
    #[cfg(feature = "cuda")]
    if selected() == BackendKind::Cuda {
        use cubecl::Runtime;
        let client = cubecl::cuda::CudaRuntime::client(&Default::default());
        return client.memory_usage().ok().map(|usage| usage.bytes_reserved);
    }
    None
}

/// `AUTOSLIM_CUDA_POOL`'s value: whether CUDA's stream-ordered memory pool, from which cubecl
/// takes its pages (`cuMemAllocAsync`), keeps the memory cubecl hands back (`keep`) or returns it
/// to the driver at the next synchronisation (`release`, CUDA's own default: a release threshold
/// of 0 bytes). Unset or blank: `keep` — a step hands its pages back before every pass
/// ([`autoslim::learner::MemoryRelease`]), and taking them from the driver anew made
/// MobileNetV2-224's sandwich step 24 % slower on an H100 (docs/BENCHMARKS.md, session 34).
pub fn cuda_pool_keeps(value: Option<&str>) -> Result<bool, String> {
    match value.map(str::trim) {
        None | Some("") | Some("keep") => Ok(true),
        Some("release") => Ok(false),
        Some(other) => Err(format!("AUTOSLIM_CUDA_POOL \"{other}\": expected \"keep\" or \"release\"")),
    }
}

/// Applies `AUTOSLIM_CUDA_POOL` (see [`cuda_pool_keeps`]) to device 0 on the CUDA backend: with
/// `keep` (the default), the pool's release threshold is set to its maximum, so that pages cubecl
/// frees (its cleanups between a step's passes) are taken again without the driver unmapping and
/// mapping them. Call it after [`crate::kernel_cache::configure`], which sets the driver's cache
/// variables before the driver loads: this call loads it. Nothing off CUDA or where the setting
/// is `release`. Where the driver refuses, an explicit `keep` is an error and the default a
/// warning (the run goes on with CUDA's own behaviour).
pub fn apply_cuda_pool_setting() -> Result<(), String> {
    let value = std::env::var("AUTOSLIM_CUDA_POOL").ok();
    let keep = cuda_pool_keeps(value.as_deref())?;
    #[cfg(feature = "cuda")]
    if keep
        && selected() == BackendKind::Cuda
        && let Err(err) = keep_freed_pool_memory()
    {
        if value.as_deref().is_some_and(|v| !v.trim().is_empty()) {
            return Err(err);
        }
        eprintln!("warning: {err}; CUDA's pool returns freed memory to the driver instead");
    }
    let _ = (keep, value);
    Ok(())
}

/// Sets the release threshold of device 0's memory pool to its maximum.
#[cfg(feature = "cuda")]
fn keep_freed_pool_memory() -> Result<(), String> {
    use cudarc::driver::{result, sys};
    let failed = |what: &str, err: &dyn std::fmt::Debug| format!("AUTOSLIM_CUDA_POOL=keep: {what}: {err:?}");
    // SAFETY: `init` is the driver's idempotent start-up, before the pool is looked up; the
    // attribute call reads one u64 through a valid pointer.
    unsafe {
        result::init().map_err(|err| failed("starting the CUDA driver", &err))?;
        let pool = device_memory_pool().map_err(|err| failed("device 0's memory pool", &err))?;
        let mut threshold = u64::MAX;
        let attribute = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD;
        let status = sys::cuMemPoolSetAttribute(pool, attribute, (&mut threshold as *mut u64).cast());
        if status != sys::CUresult::CUDA_SUCCESS {
            return Err(failed("setting the release threshold", &status));
        }
    }
    Ok(())
}

/// CUDA's default stream-ordered memory pool of device 0 (cubecl's default device), from which
/// cubecl takes its pages.
///
/// # Safety
/// The CUDA driver must be initialised (`cuInit`).
#[cfg(feature = "cuda")]
unsafe fn device_memory_pool() -> Result<cudarc::driver::sys::CUmemoryPool, cudarc::driver::result::DriverError> {
    // SAFETY: the caller initialised the driver; ordinal 0 exists wherever cubecl's client runs.
    unsafe {
        let device = cudarc::driver::result::device::get(0)?;
        cudarc::driver::result::device::get_mem_pool(device)
    }
}

/// The most bytes CUDA's stream-ordered memory pool of device 0 has held since the last call
/// with `reset` (or since the process started), then, with `reset`, that mark set back to what
/// the pool holds now. cubecl takes its pages from this pool (`cuMemAllocAsync`), so this is the
/// device memory a stretch of steps needed at its peak, every page counted whenever it was
/// taken (nvidia-smi samples it, with the context, every 50 ms). `None` off CUDA, or if the
/// driver does not answer.
pub fn cuda_pool_peak(reset: bool) -> Option<u64> {
    #[cfg(feature = "cuda")]
    if selected() == BackendKind::Cuda {
        use cudarc::driver::sys;
        // SAFETY: the driver was initialised by cubecl's CUDA client (the steps before this
        // call ran on it); the attribute calls write one u64 through a valid pointer.
        unsafe {
            let pool = device_memory_pool().ok()?;
            let mut high = 0u64;
            let attribute = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH;
            if sys::cuMemPoolGetAttribute(pool, attribute, (&mut high as *mut u64).cast()) != sys::CUresult::CUDA_SUCCESS {
                return None;
            }
            if reset {
                let mut zero = 0u64;
                sys::cuMemPoolSetAttribute(pool, attribute, (&mut zero as *mut u64).cast());
            }
            return Some(high);
        }
    }
    let _ = reset;
    None
}

/// The backend of this process ([`DEFAULT`] until [`configure`] chose one).
pub fn selected() -> BackendKind {
    *SELECTED.get().unwrap_or(&DEFAULT)
}

/// The backend and the conv algorithm in use, for progress output.
pub fn summary() -> String {
    let conv = slimmable::conv_algorithm();
    match conv.dense_as_gemm() {
        true => format!(
            "{} ({} conv, {} kernel, {} stages, {} stage columns, bounds checks {}, {} weight-gradient products on {} stages, {}, {} operands, {} activations, channels aligned to {}, convs larger than 1×1 of fewer than {} channels by im2col {}, depthwise weight gradient {}, BatchNorm {})",
            selected().name(),
            conv.name(),
            slimmable::gemm_kernel_for(selected().name()).name(),
            slimmable::gemm_stages().name(),
            slimmable::gemm_columns().name(),
            slimmable::gemm_checks().name(),
            slimmable::wgrad_matmul(),
            slimmable::wgrad_stages().name(),
            slimmable::wgrad_order().name(),
            slimmable::gemm_precision().name(),
            slimmable::activation_precision().name(),
            slimmable::gemm_channel_align(),
            slimmable::gemm_min_channels(),
            match slimmable::im2col_batches() {
                0 | 1 => "in one product per image".to_string(),
                batches => format!("in products for {batches} batches"),
            },
            match slimmable::depthwise_wgrad_threads() {
                0 => "in one chunk per channel".to_string(),
                threads => format!("in chunks of rows for {threads} threads"),
            },
            match slimmable::batch_norm_one_cube_max() {
                0 => "in segments at every size".to_string(),
                most => format!("one cube of {} threads a channel up to {most} values", slimmable::batch_norm_one_cube_threads()),
            }
        ),
        false => format!("{} ({} conv)", selected().name(), conv.name()),
    }
}

/// Runs `$body` with `$T` the training backend (with autodiff) and `$B` the inference backend
/// of `$kind`; `$body` is compiled once per backend compiled in and must give an
/// `anyhow::Result`.
#[macro_export]
macro_rules! with_backend {
    ($kind:expr, |$T:ident, $B:ident| $body:expr) => {{
        #[allow(unreachable_patterns)]
        match $kind {
            #[cfg(feature = "cuda")]
            $crate::backend::BackendKind::Cuda => {
                type $B = burn::backend::Cuda<f32, i32>;
                type $T = burn::backend::Autodiff<$B>;
                $body
            }
            #[cfg(feature = "wgpu")]
            $crate::backend::BackendKind::Wgpu => {
                type $B = burn::backend::Wgpu<f32, i32>;
                type $T = burn::backend::Autodiff<$B>;
                $body
            }
            #[cfg(feature = "ndarray")]
            $crate::backend::BackendKind::Ndarray => {
                type $B = burn::backend::NdArray<f32>;
                type $T = burn::backend::Autodiff<$B>;
                $body
            }
            other => Err(anyhow::anyhow!("this binary was built without the `{}` backend", other.name())),
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_gets_the_channels_checks_unless_the_variable_names_them() {
        use slimmable::GemmChecks;
        assert_eq!(gemm_checks(None), Ok(GemmChecks::Channels));
        assert_eq!(gemm_checks(Some(" ")), Ok(GemmChecks::Channels));
        assert_eq!(gemm_checks(Some("needed")), Ok(GemmChecks::AsNeeded));
        assert_eq!(gemm_checks(Some(" always")), Ok(GemmChecks::Always));
        let err = gemm_checks(Some("some")).unwrap_err();
        assert!(err.contains("AUTOSLIM_GEMM_CHECKS") && err.contains("\"some\""), "{err}");
    }

    #[test]
    fn the_cuda_pool_setting_keeps_or_releases_and_names_a_bad_value() {
        assert_eq!(cuda_pool_keeps(None), Ok(true));
        assert_eq!(cuda_pool_keeps(Some("")), Ok(true));
        assert_eq!(cuda_pool_keeps(Some("release")), Ok(false));
        assert_eq!(cuda_pool_keeps(Some(" keep ")), Ok(true));
        let err = cuda_pool_keeps(Some("kept")).unwrap_err();
        assert!(err.contains("AUTOSLIM_CUDA_POOL") && err.contains("\"kept\""), "{err}");
    }

    #[test]
    fn cuda_hands_the_gemm_kernels_bf16_operands_unless_told_otherwise() {
        use slimmable::GemmPrecision;
        assert_eq!(BackendKind::Cuda.default_precision(), GemmPrecision::Bf16);
        assert_eq!(BackendKind::Wgpu.default_precision(), GemmPrecision::Tf32);
        assert_eq!(BackendKind::Ndarray.default_precision(), GemmPrecision::Tf32);
    }

    #[test]
    fn cuda_puts_every_dense_conv_on_the_gemm_kernels() {
        use slimmable::ConvAlgorithm;
        assert_eq!(BackendKind::Cuda.default_conv(), ConvAlgorithm::GemmAll);
        assert_eq!(BackendKind::Ndarray.default_conv(), ConvAlgorithm::Im2col);
        assert_eq!(BackendKind::Wgpu.default_conv(), ConvAlgorithm::DepthwiseKernel);
        assert!(ConvAlgorithm::GemmAll.dense_as_gemm());
    }

    #[test]
    fn a_backend_not_compiled_in_or_unknown_is_a_named_error() {
        let err = BackendKind::parse("tpu").unwrap_err();
        assert!(err.contains("unknown backend \"tpu\"") && err.contains("\"ndarray\""), "{err}");
        if !BackendKind::Cuda.is_compiled() {
            let err = BackendKind::parse("cuda").unwrap_err();
            assert!(err.contains("built without the `cuda` backend") && err.contains("--features cuda"), "{err}");
        }
        assert_eq!(BackendKind::parse("ndarray"), Ok(BackendKind::Ndarray));
        assert!(DEFAULT.is_compiled());
    }

    #[test]
    fn the_activation_precision_is_f32_or_bf16_by_name() {
        assert_eq!(activation_precision(None), Ok(None));
        assert_eq!(activation_precision(Some("bf16")), Ok(Some(slimmable::ActivationPrecision::Bf16)));
        assert_eq!(activation_precision(Some(" F32 ")), Ok(Some(slimmable::ActivationPrecision::F32)));
        let err = activation_precision(Some("half")).unwrap_err();
        assert!(err.starts_with("AUTOSLIM_ACTIVATIONS") && err.contains("\"half\""), "{err}");
    }

    #[test]
    fn the_gemm_precision_is_tf32_or_bf16_by_name() {
        assert_eq!(gemm_precision(None), Ok(None));
        assert_eq!(gemm_precision(Some("")), Ok(None));
        assert_eq!(gemm_precision(Some("bf16")), Ok(Some(slimmable::GemmPrecision::Bf16)));
        assert_eq!(gemm_precision(Some(" tf32 ")), Ok(Some(slimmable::GemmPrecision::Tf32)));
        let err = gemm_precision(Some("half")).unwrap_err();
        assert!(err.contains("AUTOSLIM_GEMM_PRECISION") && err.contains("\"half\"") && err.contains("bf16"), "{err}");
    }

    #[test]
    fn the_gemm_channel_alignment_is_a_positive_whole_number() {
        assert_eq!(gemm_channel_align(None), Ok(None));
        assert_eq!(gemm_channel_align(Some(" ")), Ok(None));
        assert_eq!(gemm_channel_align(Some("8")), Ok(Some(8)));
        for bad in ["0", "-4", "four", "2.5"] {
            let err = gemm_channel_align(Some(bad)).unwrap_err();
            assert!(err.contains("AUTOSLIM_GEMM_ALIGN") && err.contains(bad), "{err}");
            let err = wgrad_max_batches(Some(bad)).unwrap_err();
            assert!(err.contains("AUTOSLIM_WGRAD_MAX_BATCHES") && err.contains(bad), "{err}");
        }
        assert_eq!(wgrad_max_batches(Some("64")), Ok(Some(64)));
        let err = layout_copy_rows(Some("zero")).unwrap_err();
        assert!(err.contains("AUTOSLIM_LAYOUT_COPY_ROWS") && err.contains("zero"), "{err}");
        assert_eq!(layout_copy_rows(Some("16")), Ok(Some(16)));
        assert_eq!(wgrad_max_batches(None), Ok(None));
        let err = gemm_min_channels(Some("0")).unwrap_err();
        assert!(err.contains("AUTOSLIM_GEMM_MIN_CHANNELS") && err.contains("\"0\""), "{err}");
        assert_eq!(gemm_min_channels(Some("1")), Ok(Some(1)));
        assert_eq!(depthwise_wgrad_threads(Some("0")), Ok(Some(0)));
        assert_eq!(depthwise_wgrad_threads(Some("262144")), Ok(Some(262_144)));
        let err = depthwise_wgrad_threads(Some("lots")).unwrap_err();
        assert!(err.contains("AUTOSLIM_DEPTHWISE_WGRAD_THREADS") && err.contains("\"lots\""), "{err}");
        assert_eq!(im2col_batches(None), Ok(None));
        assert_eq!(im2col_batches(Some(" 0 ")), Ok(Some(0)));
        assert_eq!(im2col_batches(Some("2048")), Ok(Some(2048)));
        let err = im2col_batches(Some("-1")).unwrap_err();
        assert!(err.contains("AUTOSLIM_IM2COL_BATCHES") && err.contains("\"-1\""), "{err}");
        assert_eq!(batch_norm_one_cube_max(None), Ok(None));
        assert_eq!(batch_norm_one_cube_max(Some(" 0 ")), Ok(Some(0)));
        assert_eq!(batch_norm_one_cube_max(Some("100352")), Ok(Some(100_352)));
        let err = batch_norm_one_cube_max(Some("many")).unwrap_err();
        assert!(err.contains("AUTOSLIM_BN_ONE_CUBE_MAX") && err.contains("\"many\""), "{err}");
        assert_eq!(batch_norm_one_cube_threads(Some("256")), Ok(Some(256)));
        let err = batch_norm_one_cube_threads(Some("0")).unwrap_err();
        assert!(err.contains("AUTOSLIM_BN_ONE_CUBE_THREADS") && err.contains("\"0\""), "{err}");
    }

    #[test]
    fn the_weight_gradient_order_and_stages_are_named() {
        assert_eq!(wgrad_order(None), Ok(None));
        assert_eq!(wgrad_order(Some(" positions-outer ")), Ok(Some(slimmable::WgradOrder::PositionsOuter)));
        assert_eq!(wgrad_order(Some("images-outer")), Ok(Some(slimmable::WgradOrder::ImagesOuter)));
        let err = wgrad_order(Some("rows")).unwrap_err();
        assert!(err.contains("AUTOSLIM_WGRAD_ORDER") && err.contains("\"rows\"") && err.contains("images-outer"), "{err}");
        assert_eq!(wgrad_stages(Some("")), Ok(None));
        assert_eq!(wgrad_stages(Some("inferred")), Ok(Some(slimmable::WgradStages::Inferred)));
        assert_eq!(wgrad_stages(Some("fitted")), Ok(Some(slimmable::WgradStages::Fitted)));
        let err = wgrad_stages(Some("best")).unwrap_err();
        assert!(err.contains("AUTOSLIM_WGRAD_STAGES") && err.contains("\"best\"") && err.contains("fitted"), "{err}");
    }
}
