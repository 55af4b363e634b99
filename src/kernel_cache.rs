//! The on-disk cache of compiled GPU kernels (CUDA backend).
//!
//! cubecl compiles each kernel variant to PTX the first time it runs. A slimmable network
//! meets new variants for many steps (matrix products of new shapes, each sandwich pass
//! with other widths), and on an H200 the first MobileNetV2 sandwich step took 65 s and the
//! next dozen 1–9 s each; with the compiled kernels cached on disk, the same run's first step
//! took 1.2 s and every step about 0.56 s (docs/BENCHMARKS.md, 2026-12-02). cubecl keeps such a
//! cache only when its config asks for one, so this module asks for it, unless the user's own
//! `cubecl.toml` (or `burn.toml`'s `[cubecl]`) already names a compilation cache:
//!
//! | `AUTOSLIM_KERNEL_CACHE` | cache directory |
//! | --- | --- |
//! | unset or empty | `$XDG_CACHE_HOME/autoslim/kernels`, else `~/.cache/autoslim/kernels` |
//! | `off` | none: every run compiles its kernels again |
//! | any other value | that directory |
//!
//! The cache is keyed by the kernel's source, so a newer binary or another GPU finds its own
//! entries; deleting the directory is always safe.
//!
//! cubecl caches PTX, which the CUDA driver still compiles to machine code each time a process
//! loads it: on an H200, with cubecl's cache warm but the driver's empty, the 8-layer bench
//! net's sandwich steps that met new widths took 0.4–1.3 s, against 0.18–0.23 s once the
//! driver's cache was warm too, and the first step 8.5 s against 1.1 s (docs/BENCHMARKS.md,
//! session 10). The driver keeps that code in its own cache (`CUDA_CACHE_PATH`, by default
//! `~/.nv/ComputeCache`, 256 MiB). Unless the user set `CUDA_CACHE_PATH` or `CUDA_CACHE_MAXSIZE`,
//! this module puts the driver's cache in [`DRIVER_SUBDIR`] of the kernel cache, with room for
//! [`DRIVER_CACHE_BYTES`], so that the one directory holds both, and copying it to another
//! machine with the same GPU and driver carries both.

use std::path::{Path, PathBuf};

/// The environment variable that moves or turns off the kernel cache.
pub const ENV: &str = "AUTOSLIM_KERNEL_CACHE";

/// The subdirectory of the kernel cache that holds the CUDA driver's compiled code.
pub const DRIVER_SUBDIR: &str = "cuda-driver";

/// The room given to the CUDA driver's cache: 1 GiB (the 8-layer bench net's sandwich runs
/// filled 25 MB; the driver's own limit is 4 GiB).
pub const DRIVER_CACHE_BYTES: u64 = 1 << 30;

/// The environment variables that put the CUDA driver's cache under `kernel_dir`, given the
/// values the user already set (`CUDA_CACHE_PATH`, `CUDA_CACHE_MAXSIZE`): none when the user
/// set either, since then the user chose where and how large it is.
pub fn driver_cache_env(kernel_dir: &Path, user_path: Option<&str>, user_size: Option<&str>) -> Vec<(&'static str, String)> {
    if user_path.is_some() || user_size.is_some() {
        return Vec::new();
    }
    vec![
        ("CUDA_CACHE_PATH", kernel_dir.join(DRIVER_SUBDIR).display().to_string()),
        ("CUDA_CACHE_MAXSIZE", DRIVER_CACHE_BYTES.to_string()),
    ]
}

/// Where the cache goes for `setting` (the variable's value) and the user's cache base
/// (`$XDG_CACHE_HOME`, else `$HOME/.cache`); `None` when turned off or no base is known.
pub fn cache_dir(setting: Option<&str>, xdg_cache_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    match setting.map(str::trim) {
        Some("off") => None,
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            let base = xdg_cache_home.filter(|p| p.is_absolute()).map(Path::to_path_buf).or_else(|| home.map(|h| h.join(".cache")))?;
            Some(base.join("autoslim").join("kernels"))
        }
    }
}

/// What [`configure`] did, for progress output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelCache {
    /// Compiled kernels are kept in this directory; the second path is where the CUDA driver's
    /// cache went (`None`: where the user's `CUDA_CACHE_PATH` says, or its default).
    Dir(PathBuf, Option<PathBuf>),
    /// The user's cubecl config names the cache; left as it is.
    UserConfig,
    /// No cache: turned off, or the directory could not be made (the reason).
    Off(String),
}

impl std::fmt::Display for KernelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelCache::Dir(dir, None) => write!(f, "compiled kernels cached in {} ({ENV})", dir.display()),
            KernelCache::Dir(dir, Some(driver)) => {
                write!(f, "compiled kernels cached in {} ({ENV}), the CUDA driver's in {}", dir.display(), driver.display())
            }
            KernelCache::UserConfig => write!(f, "compiled kernels cached where cubecl.toml says"),
            KernelCache::Off(why) => write!(f, "compiled kernels not cached: {why}"),
        }
    }
}

/// Turns cubecl's compilation cache on for this process, as the module documentation says.
/// Call it once, before the first tensor is made on a GPU backend.
#[cfg(feature = "cuda")]
pub fn configure() -> KernelCache {
    use cubecl::config::{CubeClRuntimeConfig, RuntimeConfig, cache::CacheConfig};

    let env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let setting = std::env::var(ENV).ok();
    let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
    let outcome = if config.compilation.cache.is_some() {
        KernelCache::UserConfig
    } else {
        match cache_dir(setting.as_deref(), env("XDG_CACHE_HOME").as_deref(), env("HOME").as_deref()) {
            None if setting.as_deref().map(str::trim) == Some("off") => KernelCache::Off(format!("{ENV}=off")),
            None => KernelCache::Off(format!("no cache directory (set {ENV} or HOME)")),
            Some(dir) => match std::fs::create_dir_all(&dir) {
                Ok(()) => {
                    config.compilation.cache = Some(CacheConfig::File(dir.clone()));
                    let user = |name: &str| std::env::var(name).ok();
                    let driver_env = driver_cache_env(&dir, user("CUDA_CACHE_PATH").as_deref(), user("CUDA_CACHE_MAXSIZE").as_deref());
                    for (name, value) in &driver_env {
                        // SAFETY: called once at start-up, before the CUDA driver is loaded and
                        // before this process starts any thread that could read the environment.
                        unsafe { std::env::set_var(name, value) };
                    }
                    KernelCache::Dir(dir.clone(), (!driver_env.is_empty()).then(|| dir.join(DRIVER_SUBDIR)))
                }
                Err(err) => KernelCache::Off(format!("cannot create {}: {err}", dir.display())),
            },
        }
    };
    // A warm-up process measures its autotuning while others share the GPU: its results go
    // to a scratch directory that the run drops (crate::warm_up).
    if let Some(scratch) = std::env::var_os(crate::warm_up::SCRATCH_ENV) {
        config.autotune.cache = CacheConfig::File(PathBuf::from(scratch));
    }
    CubeClRuntimeConfig::set(config);
    let _ = CONFIGURED.set(outcome.clone());
    outcome
}

static CONFIGURED: std::sync::OnceLock<KernelCache> = std::sync::OnceLock::new();

/// The directory of this process's kernel cache, once [`configure`] made one (`None`: no
/// cache, a cache where the user's cubecl config says, or not configured).
pub fn dir() -> Option<PathBuf> {
    match CONFIGURED.get() {
        Some(KernelCache::Dir(dir, _)) => Some(dir.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_directory_follows_the_variable_then_xdg_then_home() {
        let home = Path::new("/home/u");
        let xdg = Path::new("/var/cache/u");
        assert_eq!(cache_dir(None, None, Some(home)), Some(PathBuf::from("/home/u/.cache/autoslim/kernels")));
        assert_eq!(cache_dir(Some(""), Some(xdg), Some(home)), Some(PathBuf::from("/var/cache/u/autoslim/kernels")));
        // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored.
        assert_eq!(cache_dir(None, Some(Path::new("rel")), Some(home)), Some(PathBuf::from("/home/u/.cache/autoslim/kernels")));
        assert_eq!(cache_dir(Some("/data/k"), Some(xdg), Some(home)), Some(PathBuf::from("/data/k")));
        assert_eq!(cache_dir(Some("off"), Some(xdg), Some(home)), None);
        assert_eq!(cache_dir(None, None, None), None);
    }

    #[test]
    fn the_driver_cache_goes_under_the_kernel_cache_unless_the_user_placed_it() {
        let dir = Path::new("/c/kernels");
        let env = driver_cache_env(dir, None, None);
        assert_eq!(env, vec![("CUDA_CACHE_PATH", "/c/kernels/cuda-driver".to_string()), ("CUDA_CACHE_MAXSIZE", "1073741824".to_string())]);
        assert!(driver_cache_env(dir, Some("/elsewhere"), None).is_empty());
        assert!(driver_cache_env(dir, None, Some("268435456")).is_empty());
    }
}
