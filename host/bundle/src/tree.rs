//! The bundle as an in-memory tree of files, sorted by path, with `checksums.txt` and an
//! atomic write to disk (a sibling temp dir renamed into place; nothing half-written).

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Content.
    pub content: Vec<u8>,
    /// Mode 0755 instead of 0644.
    pub executable: bool,
    /// Who produced it (for conflict messages).
    pub producer: String,
}

/// Files by relative `/`-separated path, always sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileTree {
    files: BTreeMap<String, Entry>,
}

impl FileTree {
    /// Add a file; a path already present is a [`Error::Conflict`].
    pub fn add(
        &mut self,
        path: String,
        content: Vec<u8>,
        executable: bool,
        producer: &str,
    ) -> Result<()> {
        if let Some(e) = self.files.get(&path) {
            return Err(Error::Conflict {
                path,
                first: e.producer.clone(),
                second: producer.to_string(),
            });
        }
        self.files.insert(
            path,
            Entry {
                content,
                executable,
                producer: producer.to_string(),
            },
        );
        Ok(())
    }

    /// All files, sorted by path.
    pub fn files(&self) -> &BTreeMap<String, Entry> {
        &self.files
    }

    /// A file's content.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|e| e.content.as_slice())
    }

    /// Total content size in bytes.
    pub fn size(&self) -> usize {
        self.files.values().map(|e| e.content.len()).sum()
    }

    /// `checksums.txt` in GNU `sha256sum -c` format over every file, sorted by path.
    pub fn checksums(&self) -> String {
        let mut s = String::new();
        for (p, e) in &self.files {
            s.push_str(&hex::encode(Sha256::digest(&e.content)));
            s.push_str("  ");
            s.push_str(p);
            s.push('\n');
        }
        s
    }

    /// Add `checksums.txt` covering every other file.
    pub fn seal(&mut self) -> Result<()> {
        let sums = self.checksums();
        self.add("checksums.txt".into(), sums.into_bytes(), false, "cnsctl")
    }

    /// Write the tree to `dir` atomically: build it in a temporary sibling directory, then
    /// rename it into place. `dir` must not exist or be empty, unless `force` replaces it.
    /// On any error nothing is left at `dir` (an existing one is kept as it was).
    pub fn write_to(&self, dir: &Path, force: bool) -> Result<()> {
        let werr = |source| Error::Write {
            path: dir.display().to_string(),
            source,
        };
        let existing = match std::fs::read_dir(dir) {
            Ok(mut d) => Some(d.next().is_some()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(werr(e)),
        };
        if existing == Some(true) && !force {
            return Err(Error::OutputExists {
                path: dir.display().to_string(),
            });
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(werr)?;
        let staging = tempfile::Builder::new()
            .prefix(".cnsctl-bundle-")
            .tempdir_in(&parent)
            .map_err(werr)?;
        for (rel, e) in &self.files {
            let path = staging.path().join(rel);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(werr)?;
            }
            std::fs::write(&path, &e.content).map_err(werr)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = if e.executable { 0o755 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(werr)?;
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
                .map_err(werr)?;
        }
        let staged = staging.keep();
        let result = match existing {
            Some(true) => {
                let old = parent.join(format!(".cnsctl-old-{}", std::process::id()));
                std::fs::rename(dir, &old)
                    .and_then(|()| {
                        std::fs::rename(&staged, dir).inspect_err(|_| {
                            let _ = std::fs::rename(&old, dir);
                        })
                    })
                    .map(|()| {
                        let _ = std::fs::remove_dir_all(&old);
                    })
            }
            // rename(2) replaces an empty directory.
            _ => std::fs::rename(&staged, dir),
        };
        result.map_err(|e| {
            let _ = std::fs::remove_dir_all(&staged);
            werr(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> FileTree {
        let mut t = FileTree::default();
        t.add("b/x.sh".into(), b"echo\n".to_vec(), true, "p1")
            .unwrap();
        t.add("a.txt".into(), b"a\n".to_vec(), false, "p1").unwrap();
        t
    }

    #[test]
    fn sorted_checksums_and_conflicts() {
        let mut t = tree();
        let sums = t.checksums();
        assert!(
            sums.starts_with(
                "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7  a.txt\n"
            ),
            "{sums}"
        );
        let e = t
            .add("a.txt".into(), vec![], false, "p2")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "`a.txt` is produced twice: by p1 and by p2");
    }

    #[test]
    fn atomic_write_refuses_non_empty_and_replaces_with_force() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("bundle");
        tree().write_to(&out, false).unwrap();
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"a\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join("b/x.sh"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        let e = tree().write_to(&out, false).unwrap_err().to_string();
        assert!(e.contains("exists and is not empty"), "{e}");
        let mut t2 = FileTree::default();
        t2.add("new.txt".into(), b"n".to_vec(), false, "p").unwrap();
        t2.write_to(&out, true).unwrap();
        assert!(!out.join("a.txt").exists());
        assert!(out.join("new.txt").exists());
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [std::ffi::OsString::from("bundle")]);
    }

    #[test]
    fn empty_existing_dir_is_fine() {
        let tmp = tempfile::tempdir().unwrap();
        tree().write_to(tmp.path(), false).unwrap();
        assert!(tmp.path().join("a.txt").exists());
    }
}
