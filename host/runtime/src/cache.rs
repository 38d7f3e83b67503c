//! On-disk cache of compiled (Cranelift) components, keyed by the component's sha256 and
//! the engine fingerprint, so a warm run loads machine code instead of recompiling.
//!
//! Compiled code is loaded without further checks by wasmtime, so the cache is trusted only
//! as far as it is provably this user's own: the directory and its files must belong to the
//! current user and be writable by nobody else, and every entry carries an HMAC-SHA256 (key
//! in a user-only file beside the entries) over the component hash, the engine fingerprint
//! and the code. An entry that fails the check is recompiled, never run.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Length of the HMAC that prefixes each entry.
const MAC_LEN: usize = 32;

/// Why a cache directory is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsafe(pub String);

/// A directory of compiled components (`components/<sha256>-<engine>.cwasm`).
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

pub use cns_files::current_uid;

/// Refuse `path` unless it belongs to this user and nobody else may write it (nor, for
/// `private`, read it).
#[cfg(unix)]
fn check_owned(path: &Path, private: bool) -> Result<(), Unsafe> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Unsafe(format!("cannot inspect `{}`: {e}", path.display()))),
    };
    if meta.file_type().is_symlink() {
        return Err(Unsafe(format!("`{}` is a symbolic link", path.display())));
    }
    let uid = current_uid().ok_or_else(|| Unsafe("cannot tell which user this is".into()))?;
    if meta.uid() != uid {
        return Err(Unsafe(format!(
            "`{}` belongs to uid {}, not to this user (uid {uid})",
            path.display(),
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    let forbidden = if private { 0o077 } else { 0o022 };
    if mode & forbidden != 0 {
        return Err(Unsafe(format!(
            "`{}` has mode {mode:04o}: other users may {} it",
            path.display(),
            if private && mode & 0o044 != 0 {
                "read"
            } else {
                "write"
            }
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owned(_: &Path, _: bool) -> Result<(), Unsafe> {
    Ok(())
}

impl Cache {
    /// A cache in `dir` (created on first write, mode 0700).
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

    fn entries(&self) -> PathBuf {
        self.dir.join("components")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("key")
    }

    /// Check that the directory (if it exists), its entries folder and key are this user's
    /// alone. Called before anything is read from the cache.
    pub fn check(&self) -> Result<(), Unsafe> {
        check_owned(&self.dir, false)?;
        check_owned(&self.entries(), false)?;
        check_owned(&self.key_path(), true)
    }

    pub(crate) fn path_for(&self, sha256: &str, engine: &str) -> PathBuf {
        self.entries().join(format!("{sha256}-{engine}.cwasm"))
    }

    /// The MAC key, created (32 random bytes from the OS, mode 0600) when `create`.
    fn key(&self, create: bool) -> std::io::Result<Option<[u8; 32]>> {
        let path = self.key_path();
        let mut key = [0u8; 32];
        match std::fs::File::open(&path) {
            Ok(mut f) => {
                f.read_exact(&mut key)?;
                return Ok(Some(key));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&path) {
            Ok(mut f) => {
                f.write_all(&key)?;
                Ok(Some(key))
            }
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self.key(false),
            Err(e) => Err(e),
        }
    }

    /// The HMAC of an entry: over the component hash, the engine fingerprint and the code.
    fn mac(key: &[u8; 32], sha256: &str, engine: &str, code: &[u8]) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length works");
        m.update(sha256.as_bytes());
        m.update(b"\0");
        m.update(engine.as_bytes());
        m.update(b"\0");
        m.update(code);
        m
    }

    /// The compiled code stored for (`sha256`, `engine`), if present and authentic.
    pub(crate) fn load(&self, sha256: &str, engine: &str) -> Option<Vec<u8>> {
        let path = self.path_for(sha256, engine);
        check_owned(&path, false).ok()?;
        let key = self.key(false).ok()??;
        let mut bytes = std::fs::read(&path).ok()?;
        if bytes.len() < MAC_LEN {
            return None;
        }
        let code = bytes.split_off(MAC_LEN);
        // `verify_slice` compares in constant time.
        Self::mac(&key, sha256, engine, &code)
            .verify_slice(&bytes)
            .is_ok()
            .then_some(code)
    }

    /// Store compiled bytes with their MAC, atomically (temp file + rename). Errors are
    /// returned for the caller to report; a failed cache write never fails a run.
    pub(crate) fn store(&self, sha256: &str, engine: &str, code: &[u8]) -> std::io::Result<()> {
        let dir = self.entries();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        let key = self.key(true)?.expect("created");
        let path = self.path_for(sha256, engine);
        let mut tmp = tempfile::Builder::new()
            .prefix(".cwasm-")
            .tempfile_in(&dir)?;
        tmp.write_all(
            &Self::mac(&key, sha256, engine, code)
                .finalize()
                .into_bytes(),
        )?;
        tmp.write_all(code)?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn entries_are_authenticated() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::new(tmp.path().join("c"));
        assert!(c.load("ab", "e1").is_none());
        c.store("ab", "e1", b"code").unwrap();
        assert_eq!(c.load("ab", "e1").as_deref(), Some(&b"code"[..]));
        // Another entry's bytes under this name fail the MAC.
        c.store("cd", "e1", b"evil").unwrap();
        std::fs::copy(c.path_for("cd", "e1"), c.path_for("ab", "e1")).unwrap();
        assert!(c.load("ab", "e1").is_none());
        // So does a file written without the key.
        std::fs::write(c.path_for("ab", "e1"), [0u8; 40]).unwrap();
        assert!(c.load("ab", "e1").is_none());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&c.key_path()), 0o600);
        assert_eq!(mode(&c.entries()), 0o700);
        c.check().unwrap();
    }

    #[test]
    fn directories_others_may_write_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::new(tmp.path().join("c"));
        c.check().unwrap();
        c.store("ab", "e1", b"code").unwrap();
        std::fs::set_permissions(c.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = c.check().unwrap_err();
        assert!(e.0.contains("mode 0777"), "{e:?}");
        std::fs::set_permissions(c.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(c.key_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(c.check().unwrap_err().0.contains("read"));
    }
}
