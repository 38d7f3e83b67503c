//! Files written to disk atomically: one file ([`write_atomic`], [`write_private`]), and the
//! bundle tree: staged in a sibling folder and renamed into place, an identical output left
//! as it is, unchanged files of a replaced output linked over, writers of one folder taking
//! turns, and a signal either before the new tree moved in (the output as it was) or after
//! (the output complete), never between ([`interrupt`]).

use crate::tree::{Entry, FileTree};
use crate::{Error, Result};
use std::path::Path;

impl FileTree {
    /// What the existing output `dir` holds of this tree, read in one walk: the files that
    /// are already exactly what writing them would give ([`holds`]: regular files of ours,
    /// linked nowhere else, same mode and bytes), found through real folders only (a link
    /// is never followed), and whether `dir` is exactly the tree: those files and no other
    /// entry, in folders of ours with the modes a fresh write gives. `None` when `dir` is
    /// not a real folder or this process's uid is unknown: nothing of it is taken.
    #[cfg(unix)]
    fn survey(&self, dir: &Path) -> Option<Survey> {
        use std::os::unix::fs::MetadataExt;
        let uid = crate::current_uid()?;
        let root = std::fs::symlink_metadata(dir).ok()?;
        if !root.is_dir() {
            return None;
        }
        let umask = umask();
        let ours = |m: &std::fs::Metadata, mode: u32| m.uid() == uid && m.mode() & 0o7777 == mode;
        // Every folder the files need, relative to `dir`.
        let mut folders: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for rel in self.files.keys() {
            let mut p = rel.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                if !folders.insert(parent) {
                    break;
                }
                p = parent;
            }
        }
        let mut found = Survey {
            same: std::collections::BTreeSet::new(),
            exact: umask.is_some() && ours(&root, 0o755),
        };
        let mut pending = vec![(dir.to_path_buf(), String::new())];
        while let Some((path, rel)) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                found.exact = false;
                continue;
            };
            for entry in entries {
                // DirEntry metadata does not follow links.
                let Some((entry, meta, name)) = entry.ok().and_then(|e| {
                    let meta = e.metadata().ok()?;
                    let name = e.file_name().to_str()?.to_string();
                    Some((e, meta, name))
                }) else {
                    found.exact = false;
                    continue;
                };
                let child = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if meta.is_dir() && folders.contains(child.as_str()) {
                    found.exact &= umask.is_some_and(|m| ours(&meta, 0o777 & !m));
                    pending.push((entry.path(), child));
                } else if self
                    .files
                    .get(&child)
                    .is_some_and(|want| holds(&entry.path(), &meta, want, uid))
                {
                    found.same.insert(child);
                } else {
                    found.exact = false;
                }
            }
        }
        found.exact &= found.same.len() == self.files.len();
        Some(found)
    }

    #[cfg(not(unix))]
    fn survey(&self, _dir: &Path) -> Option<Survey> {
        None
    }

    /// Write the tree to `dir` atomically: build it in a temporary sibling directory, then
    /// rename it into place. `dir` must not exist or be empty, unless `force` replaces it.
    /// On any error nothing is left at `dir` (an existing one is kept as it was).
    ///
    /// Writers of one folder take turns: an exclusive lock on `dir`'s parent is held for the
    /// whole write, so concurrent runs on one output each replace it whole, one after the
    /// other, and the result is exactly one run's tree. A signal handler calls
    /// [`interrupt`]: before the new tree has moved in, the staging is undone and `dir` is as
    /// it was; the move itself happens under the lock the handler takes, so it is never cut
    /// in half. Staging directories that an earlier, killed run left beside `dir` are removed
    /// first; the report lists them.
    pub fn write_to(&self, dir: &Path, force: bool) -> Result<WriteReport> {
        let werr = |source| Error::Write {
            path: dir.display().to_string(),
            source,
        };
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(werr)?;
        let _turn = lock_folder(&parent).map_err(werr)?;
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
        let mut report = WriteReport {
            removed_stale: remove_stale_siblings(&parent),
            unchanged: false,
        };
        let prior = (existing == Some(true)).then(|| self.survey(dir)).flatten();
        if prior.as_ref().is_some_and(|p| p.exact) {
            // Replacing the tree with an identical one would change nothing but inode
            // numbers and times, at the cost of creating and deleting every file.
            report.unchanged = true;
            return Ok(report);
        }
        let pid = std::process::id();
        // Made and registered under the state's lock, so a signal handler either sees it
        // (and removes it) or exits before it exists.
        let staging = {
            let mut st = state();
            let staging = tempfile::Builder::new()
                .prefix(&format!("{STAGING_PREFIX}{pid}-"))
                .tempdir_in(&parent)
                .map_err(werr)?;
            st.staging.push(staging.path().to_path_buf());
            staging
        };
        let staged = staging.path().to_path_buf();
        let written = self.stage(&staged, dir, prior.as_ref());
        // From here on the signal handler and this write take turns: if it holds the state
        // (it undid the staging and is exiting), this waits for the exit.
        let mut st = state();
        st.staging.retain(|p| *p != staged);
        written.map_err(werr)?;
        let staged = staging.keep();
        let old = parent.join(format!("{OLD_PREFIX}{pid}"));
        let result = match existing {
            Some(true) => std::fs::rename(dir, &old).and_then(|()| {
                std::fs::rename(&staged, dir).inspect_err(|_| {
                    let _ = std::fs::rename(&old, dir);
                })
            }),
            // rename(2) replaces an empty directory.
            _ => std::fs::rename(&staged, dir),
        };
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(werr(e));
        }
        // The new tree is in place: a signal from now on lets the command finish.
        st.committed = true;
        drop(st);
        if existing == Some(true) {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(report)
    }

    /// Write every file of the tree under `staged`, linking over the files the output `dir`
    /// already holds unchanged (`prior`), and give `staged` the mode of a fresh folder.
    fn stage(&self, staged: &Path, dir: &Path, prior: Option<&Survey>) -> std::io::Result<()> {
        let delay = std::env::var("CNS_TEST_WRITE_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(std::time::Duration::from_millis);
        // Folders already made (the files come sorted, so most share their parent with the
        // previous one): one `mkdir` per folder, not one or more per file.
        let mut made = std::collections::BTreeSet::new();
        for (rel, e) in &self.files {
            // Each file is written holding the state's lock: once a signal handler holds it,
            // nothing more is written here while it removes the folder.
            let st = state();
            let path = staged.join(rel);
            if let Some(p) = path.parent()
                && !made.contains(p)
            {
                std::fs::create_dir_all(p)?;
                made.extend(
                    p.ancestors()
                        .take_while(|a| *a != staged)
                        .map(Path::to_path_buf),
                );
            }
            // A file the old output already holds unchanged is linked over, not written
            // again: a re-run then creates (and, removing the old tree, deletes) only what
            // changed.
            let taken = prior.is_some_and(|p| p.same.contains(rel))
                && std::fs::hard_link(dir.join(rel), &path).is_ok();
            if !taken {
                write_file(&path, e)?;
            }
            drop(st);
            if let Some(d) = delay {
                // Test hook: widen the window in which interruption tests send signals.
                std::thread::sleep(d);
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(staged, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    }
}

/// An exclusive lock on `folder` (`flock(2)` on Unix), waited for, released when the
/// returned handle is dropped or the process ends.
fn lock_folder(folder: &Path) -> std::io::Result<std::fs::File> {
    let f = std::fs::File::open(folder)?;
    f.lock()?;
    Ok(f)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".cnsctl-write-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // open(2) applies the umask to this mode.
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Write one file the user asked for atomically (a temporary file beside it renamed into
/// place, so a failure leaves the old file or nothing), mode 0666 less the umask (0644 by
/// default, like any other tool).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with_mode(path, bytes, 0o666)
}

/// Write a secret atomically with mode 0600, whatever the file there had before.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with_mode(path, bytes, 0o600)
}

/// Create `path` (it must not exist) holding `entry`, with [`Entry::mode`] whatever the
/// umask: the mode is given at creation, and set again only where the process umask would
/// have cleared some of its bits (the usual 022 clears none of these).
fn write_file(path: &Path, entry: &Entry) -> std::io::Result<()> {
    use std::io::Write as _;
    let mode = entry.mode();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut file = options.open(path)?;
    file.write_all(&entry.content)?;
    #[cfg(unix)]
    if umask().is_none_or(|m| m & mode != 0) {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// This process's umask, read once from `/proc/self/status` (reading it with `umask(2)`
/// would mean setting it, racing other threads); `None` where that is not available.
#[cfg(unix)]
fn umask() -> Option<u32> {
    static UMASK: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(line.trim(), 8).ok()
    })
}

/// Whether the file at `path` (`meta`: its `lstat`) is what writing `want` would give:
/// a regular file of `uid`'s with `want`'s mode and bytes, linked nowhere else.
#[cfg(unix)]
fn holds(path: &Path, meta: &std::fs::Metadata, want: &Entry, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.is_file()
        && meta.nlink() == 1
        && meta.uid() == uid
        && meta.mode() & 0o7777 == want.mode()
        && meta.len() == want.content.len() as u64
        && same_content(path, meta, &want.content)
}

/// What [`FileTree::survey`] found in an existing output.
struct Survey {
    /// Files (relative paths) the output already holds exactly as the tree has them.
    same: std::collections::BTreeSet<String>,
    /// Whether the output is exactly the tree, nothing more or less.
    exact: bool,
}

/// Whether the regular file at `path`, whose `lstat` gave `meta`, still is that file and
/// holds `want`. Opened without following links and without blocking (a FIFO put there
/// since cannot hang the run), and checked to be the same inode.
#[cfg(unix)]
fn same_content(path: &Path, meta: &std::fs::Metadata, want: &[u8]) -> bool {
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let Ok(mut file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    else {
        return false;
    };
    let Ok(now) = file.metadata() else {
        return false;
    };
    if !now.is_file() || now.ino() != meta.ino() || now.dev() != meta.dev() {
        return false;
    }
    let mut got = Vec::with_capacity(want.len() + 1);
    file.read_to_end(&mut got).is_ok() && got == want
}

/// What [`FileTree::write_to`] did besides writing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Staging directories of killed earlier runs that were removed.
    pub removed_stale: Vec<std::path::PathBuf>,
    /// The directory already held exactly this tree, so nothing was written.
    pub unchanged: bool,
}

/// Name prefix of a staging directory: `.cnsctl-bundle-<pid>-<random>`.
const STAGING_PREFIX: &str = ".cnsctl-bundle-";
/// Name of the directory a replaced output is moved to while the new one moves in.
const OLD_PREFIX: &str = ".cnsctl-old-";

/// What the writers and a signal handler share, behind one lock.
struct State {
    /// Staging folders of the writes in progress.
    staging: Vec<std::path::PathBuf>,
    /// A write has moved its new tree into place.
    committed: bool,
}

static STATE: std::sync::Mutex<State> = std::sync::Mutex::new(State {
    staging: Vec::new(),
    committed: false,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held by a signal handler that is about to exit: while it is held no write moves its tree
/// into place, so the process must exit without dropping it.
#[must_use = "exit while holding it: dropping it lets a write move its tree into place"]
pub struct Interrupted {
    _state: std::sync::MutexGuard<'static, State>,
}

/// For a signal handler: undo every write still staging (its folder removed; the output it
/// would replace stays as it was) and keep any from moving in. Returns `None` when a write
/// has already moved its new tree into place: the command's output is complete, and the
/// handler lets it finish (exit 0) rather than report an interruption that changed nothing.
pub fn interrupt() -> Option<Interrupted> {
    let mut st = state();
    if st.committed {
        return None;
    }
    for p in st.staging.drain(..) {
        let _ = std::fs::remove_dir_all(p);
    }
    Some(Interrupted { _state: st })
}

/// Whether process `pid` is alive (Linux: `/proc/<pid>` exists; elsewhere assumed alive).
fn alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Remove `.cnsctl-bundle-<pid>-*` and `.cnsctl-old-<pid>` entries of `parent` whose process
/// is gone (a run killed with SIGKILL cannot clean up after itself). Returns what was removed.
fn remove_stale_siblings(parent: &Path) -> Vec<std::path::PathBuf> {
    let me = std::process::id();
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(parent) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name
            .strip_prefix(STAGING_PREFIX)
            .or_else(|| name.strip_prefix(OLD_PREFIX))
        else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(pid) = digits.parse::<u32>() else {
            continue;
        };
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if pid != me && is_dir && !alive(pid) && std::fs::remove_dir_all(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed.sort();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::tests::tree;

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
        // A staging directory of a dead process is removed; a live one's is not.
        let dead = tmp.path().join(".cnsctl-bundle-4000000000-x");
        let live = tmp
            .path()
            .join(format!(".cnsctl-bundle-{}-y", std::process::id()));
        std::fs::create_dir_all(dead.join("a")).unwrap();
        std::fs::create_dir_all(&live).unwrap();
        let report = t2.write_to(&out, true).unwrap();
        assert_eq!(report.removed_stale, [dead]);
        std::fs::remove_dir(&live).unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [std::ffi::OsString::from("bundle")]);
    }

    /// A forced write of the same tree leaves the files as they are (same inodes); any
    /// difference at all (a byte, a mode, an extra or missing entry, a link in place of a
    /// file) gets the usual atomic replacement.
    #[cfg(unix)]
    #[test]
    fn an_identical_tree_is_left_as_it_is_and_any_difference_replaces_it() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("bundle");
        let ino = |p: &str| std::fs::symlink_metadata(out.join(p)).unwrap().ino();
        let first = tree().write_to(&out, false).unwrap();
        assert!(!first.unchanged);
        let before = (ino("a.txt"), ino("b/x.sh"));
        let again = tree().write_to(&out, true).unwrap();
        assert!(again.unchanged, "an identical tree was rewritten");
        assert_eq!((ino("a.txt"), ino("b/x.sh")), before);
        // Without --force an existing output is still refused, identical or not.
        assert!(tree().write_to(&out, false).is_err());
        type Spoil = fn(&Path);
        let spoilers: [(&str, Spoil); 8] = [
            ("a byte", |d| {
                std::fs::write(d.join("a.txt"), b"b\n").unwrap()
            }),
            ("a mode", |d| {
                std::fs::set_permissions(d.join("b/x.sh"), std::fs::Permissions::from_mode(0o644))
                    .unwrap()
            }),
            ("an extra file", |d| {
                std::fs::write(d.join("b/extra"), b"").unwrap()
            }),
            ("an extra folder", |d| {
                std::fs::create_dir(d.join("c")).unwrap()
            }),
            ("a missing file", |d| {
                std::fs::remove_file(d.join("a.txt")).unwrap()
            }),
            ("a link for a file", |d| {
                std::fs::write(d.with_file_name("elsewhere"), b"a\n").unwrap();
                std::fs::remove_file(d.join("a.txt")).unwrap();
                std::os::unix::fs::symlink(d.with_file_name("elsewhere"), d.join("a.txt")).unwrap();
            }),
            ("a hard link shared elsewhere", |d| {
                let _ = std::fs::remove_file(d.with_file_name("twin"));
                std::fs::hard_link(d.join("a.txt"), d.with_file_name("twin")).unwrap();
            }),
            ("the folder's mode", |d| {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap()
            }),
        ];
        for (what, spoil) in spoilers {
            spoil(&out);
            let r = tree().write_to(&out, true).unwrap();
            assert!(!r.unchanged, "{what}: not rewritten");
            assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"a\n", "{what}");
            assert!(
                !out.join("b/extra").exists() && !out.join("c").exists(),
                "{what}"
            );
            let m = std::fs::symlink_metadata(out.join("a.txt")).unwrap();
            assert!(m.is_file() && m.nlink() == 1, "{what}");
            assert_eq!(m.mode() & 0o777, 0o644, "{what}");
            assert_eq!(
                std::fs::metadata(&out).unwrap().mode() & 0o777,
                0o755,
                "{what}"
            );
            assert!(
                tree().write_to(&out, true).unwrap().unchanged,
                "{what}: then identical"
            );
        }
    }

    /// Replacing the output with a tree that differs in one file keeps the other files'
    /// inodes (linked over, no new file), never takes a file through a link out of the
    /// output, and leaves every file linked once.
    #[cfg(unix)]
    #[test]
    fn a_changed_tree_takes_over_the_unchanged_files() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("bundle");
        let meta = |p: &str| std::fs::symlink_metadata(out.join(p)).unwrap();
        tree().write_to(&out, false).unwrap();
        let (a, x) = (meta("a.txt").ino(), meta("b/x.sh").ino());
        let mut t2 = tree();
        t2.files.get_mut("a.txt").unwrap().content = b"changed\n".to_vec();
        let r = t2.write_to(&out, true).unwrap();
        assert!(!r.unchanged);
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"changed\n");
        assert_ne!(meta("a.txt").ino(), a);
        assert_eq!(
            meta("b/x.sh").ino(),
            x,
            "the unchanged file was not taken over"
        );
        assert_eq!((meta("a.txt").nlink(), meta("b/x.sh").nlink()), (1, 1));
        // `b` replaced by a link to a folder outside holding the same x.sh: not taken.
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::rename(out.join("b"), outside.join("b")).unwrap();
        std::os::unix::fs::symlink(outside.join("b"), out.join("b")).unwrap();
        let inside_ino = std::fs::metadata(outside.join("b/x.sh")).unwrap().ino();
        tree().write_to(&out, true).unwrap();
        assert!(meta("b").is_dir());
        assert_ne!(meta("b/x.sh").ino(), inside_ino);
        assert_eq!(
            std::fs::metadata(outside.join("b/x.sh")).unwrap().nlink(),
            1
        );
    }

    #[test]
    fn empty_existing_dir_is_fine() {
        let tmp = tempfile::tempdir().unwrap();
        tree().write_to(tmp.path(), false).unwrap();
        assert!(tmp.path().join("a.txt").exists());
    }

    #[cfg(unix)]
    #[test]
    fn single_files_follow_the_umask_or_stay_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"secret").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"secret");
        let q = dir.path().join("r.yaml");
        write_atomic(&q, b"x").unwrap();
        let mode = std::fs::metadata(&q).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o600, 0o600, "{mode:o}");
        assert_ne!(mode, 0o600, "not private: the umask decides, {mode:o}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temp files left: {names:?}");
    }
}
