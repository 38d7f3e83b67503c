//! A bundle as an in-memory tree of files, sorted by path, with `checksums.txt`: what the
//! pipeline assembles, the server zips, `push` packs and `pull` unpacks; [`crate::write`]
//! puts it on disk.

use crate::{Error, File, Result};
use std::collections::BTreeMap;

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

impl Entry {
    /// The file's mode on disk: 0755 if executable, else 0644.
    pub fn mode(&self) -> u32 {
        if self.executable { 0o755 } else { 0o644 }
    }
}

/// Files by relative `/`-separated path, always sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileTree {
    pub(crate) files: BTreeMap<String, Entry>,
}

impl FileTree {
    /// A tree of `files` (an OCI archive's entries, a directory read back), each added as
    /// by [`FileTree::add`] with `producer` naming where they came from.
    pub fn from_files(files: Vec<File>, producer: &str) -> Result<Self> {
        let mut tree = FileTree::default();
        for f in files {
            tree.add(f.path, f.content, f.executable, producer)?;
        }
        Ok(tree)
    }

    /// The files as [`File`]s, sorted by path (an OCI archive's entries).
    pub fn to_files(&self) -> Vec<File> {
        self.files
            .iter()
            .map(|(path, e)| File {
                path: path.clone(),
                content: e.content.clone(),
                executable: e.executable,
            })
            .collect()
    }

    /// Add a file; a path already present is a [`Error::Conflict`], one that breaks the
    /// path rule ([`crate::check_path`]) an [`Error::BadPath`].
    pub fn add(
        &mut self,
        path: String,
        content: Vec<u8>,
        executable: bool,
        producer: &str,
    ) -> Result<()> {
        if let Err(e) = crate::check_path(&path) {
            return Err(Error::BadPath {
                path: path.escape_debug().to_string(),
                producer: producer.to_string(),
                reason: e.to_string(),
            });
        }
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
        crate::checksums(
            self.files
                .iter()
                .map(|(p, e)| (p.as_str(), e.content.as_slice())),
        )
    }

    /// The tree's content digest, `sha256:<hex>`: SHA-256 over each file's mode, path and
    /// content's SHA-256, in path order. Equal trees have equal digests, and a changed byte,
    /// name or mode changes it; the server's `ETag` is built on it.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (path, e) in &self.files {
            h.update(format!("{:o} {path}\0", e.mode()).as_bytes());
            h.update(Sha256::digest(&e.content));
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    /// Add `checksums.txt` covering every other file.
    pub fn seal(&mut self) -> Result<()> {
        let sums = self.checksums();
        self.add("checksums.txt".into(), sums.into_bytes(), false, "cnsctl")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_digest_follows_content_names_and_modes() {
        let t = tree();
        assert_eq!(t.digest(), tree().digest());
        assert!(t.digest().starts_with("sha256:") && t.digest().len() == 7 + 64);
        let first = t.files.keys().next().unwrap().clone();
        let mut changed = tree();
        changed.files.get_mut(&first).unwrap().content.push(b'x');
        assert_ne!(changed.digest(), t.digest());
        let mut exec = tree();
        let e = exec.files.get_mut(&first).unwrap();
        e.executable = !e.executable;
        assert_ne!(exec.digest(), t.digest());
        let mut renamed = tree();
        let e = renamed.files.remove(&first).unwrap();
        renamed.files.insert(format!("{first}2"), e);
        assert_ne!(renamed.digest(), t.digest());
    }

    pub(crate) fn tree() -> FileTree {
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
    fn from_files_and_back() {
        let t = tree();
        let again = FileTree::from_files(t.to_files(), "p1").unwrap();
        assert_eq!(again, t);
        let twice = [t.to_files(), t.to_files()].concat();
        let e = FileTree::from_files(twice, "pulled layer").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`a.txt` is produced twice: by pulled layer and by pulled layer"
        );
        let bad = vec![File {
            path: "../x".into(),
            content: vec![],
            executable: false,
        }];
        let e = FileTree::from_files(bad, "pulled layer").unwrap_err();
        assert!(e.to_string().contains("is not a valid bundle path"), "{e}");
    }
}
