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

use std::path::{Path, PathBuf};

/// The environment variable that moves or turns off the kernel cache.
pub const ENV: &str = "AUTOSLIM_KERNEL_CACHE";

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
    /// Compiled kernels are kept in this directory.
    Dir(PathBuf),
    /// The user's cubecl config names the cache; left as it is.
    UserConfig,
    /// No cache: turned off, or the directory could not be made (the reason).
    Off(String),
}

impl std::fmt::Display for KernelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelCache::Dir(dir) => write!(f, "compiled kernels cached in {} ({ENV})", dir.display()),
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
                    KernelCache::Dir(dir)
                }
                Err(err) => KernelCache::Off(format!("cannot create {}: {err}", dir.display())),
            },
        }
    };
    CubeClRuntimeConfig::set(config);
    outcome
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
}
