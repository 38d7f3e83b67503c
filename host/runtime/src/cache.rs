//! On-disk cache of compiled (Cranelift) components, keyed by the component's sha256 and
//! the engine fingerprint, so a warm run loads machine code instead of recompiling.

use std::path::{Path, PathBuf};

/// A directory of compiled components (`<sha256>-<engine>.cwasm`).
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Cache { dir: dir.into() }
    }

    /// The default location: `$CNS_CACHE_DIR`, else `$XDG_CACHE_HOME/cnsctl`, else
    /// `$HOME/.cache/cnsctl`; `None` if none can be determined.
    pub fn default_dir() -> Option<PathBuf> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        env("CNS_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("cnsctl")))
            .or_else(|| env("HOME").map(|d| d.join(".cache").join("cnsctl")))
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn path_for(&self, sha256: &str, engine: &str) -> PathBuf {
        self.dir
            .join("components")
            .join(format!("{sha256}-{engine}.cwasm"))
    }

    /// Store compiled bytes atomically (temp file + rename). Errors are returned for the
    /// caller to report; a failed cache write never fails a run.
    pub(crate) fn store(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let dir = path.parent().expect("cache path has a parent");
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        }
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().unwrap().to_string_lossy(),
            std::process::id()
        ));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}
