//! Writing files so that a crash never leaves a half-written one: write a temporary file
//! beside the target, then rename it into place.

use std::path::Path;

use anyhow::{Context, Result};

/// Writes `contents` to `path` atomically.
pub fn write_atomic(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    write_atomic_with(path, |tmp| std::fs::write(tmp, contents.as_ref()).map_err(Into::into))
}

/// Lets `write` create a temporary file, then renames it to `path`.
pub fn write_atomic_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let written = write(&tmp)
        .with_context(|| format!("cannot write {}", path.display()))
        .and_then(|()| std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display())));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_stops_half_way_leaves_the_previous_file_whole() {
        let dir = std::env::temp_dir().join(format!("autoslim-files-{}", std::process::id()));
        let path = dir.join("results.csv");
        write_atomic(&path, "good, complete\n").unwrap();
        // A writer that dies after half of its output (as a kill or a full disk would).
        let err = write_atomic_with(&path, |tmp| {
            std::fs::write(tmp, "half of the new")?;
            anyhow::bail!("killed")
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("cannot write"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "good, complete\n");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "the temporary file is removed: {leftovers:?}");
        write_atomic(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
