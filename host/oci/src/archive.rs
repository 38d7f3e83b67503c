//! Reproducible tar+gzip archives of a file tree, and a strict unpacker.
//!
//! Packing: directories then files in sorted path order, every parent directory as its own
//! entry, mtime/uid/gid 0, no user or group names, modes 0755 (directories, executables)
//! or 0644, GNU headers, gzip level 6 with mtime 0 and OS byte 255 (flate2's pure-Rust
//! backend, pinned in the workspace). Same files → same bytes → same digest, on any machine.
//!
//! Unpacking refuses absolute paths, `..`, empty or `.` segments, links, devices, duplicates
//! and archives beyond the size limits, before anything is written.

use crate::{Error, Result};
use flate2::Compression;
use std::collections::BTreeSet;
use std::io::Read;

/// One file in an archive: the bundle's one file type.
pub use cns_files::File as Entry;

/// Caps on what [`unpack`] accepts.
#[derive(Debug, Clone, Copy)]
pub struct UnpackLimits {
    /// Total uncompressed bytes of all files.
    pub max_bytes: u64,
    /// Number of entries.
    pub max_entries: usize,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_bytes: 512 << 20,
            max_entries: 100_000,
        }
    }
}

/// Largest PAX extended header accepted.
const MAX_PAX: u64 = 64 << 10;

/// The one path rule of bundles ([`cns_files::check_path`]), as a message.
fn check_path(path: &str) -> std::result::Result<(), String> {
    cns_files::check_path(path).map_err(|e| e.to_string())
}

fn header(path_kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(path_kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(size);
    h
}

/// Pack `entries` into a reproducible `.tar.gz`.
pub fn pack(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut files: Vec<&Entry> = entries.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut dirs = BTreeSet::new();
    for (i, f) in files.iter().enumerate() {
        check_path(&f.path).map_err(|reason| Error::Archive {
            path: f.path.escape_debug().to_string(),
            reason,
        })?;
        if i > 0 && files[i - 1].path == f.path {
            return Err(Error::Archive {
                path: f.path.clone(),
                reason: "duplicate path".into(),
            });
        }
        let mut p = f.path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(format!("{parent}/"));
            p = parent;
        }
    }
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(6));
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let io = |e: std::io::Error| Error::Archive {
        path: String::new(),
        reason: e.to_string(),
    };
    for d in &dirs {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        tar.append_data(&mut h, d, std::io::empty()).map_err(io)?;
    }
    for f in files {
        let mode = if f.executable { 0o755 } else { 0o644 };
        let mut h = header(tar::EntryType::Regular, mode, f.content.len() as u64);
        tar.append_data(&mut h, &f.path, f.content.as_slice())
            .map_err(io)?;
    }
    let gz = tar.into_inner().map_err(io)?;
    gz.finish().map_err(io)
}

/// The `path` record of a PAX extended header, if any.
fn pax_path(data: &[u8]) -> std::result::Result<Option<Vec<u8>>, &'static str> {
    let mut rest = data;
    let mut path = None;
    while !rest.is_empty() {
        let sp = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or("malformed PAX record")?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > sp && *n <= rest.len())
            .ok_or("malformed PAX record length")?;
        let record = &rest[sp + 1..len];
        let record = record.strip_suffix(b"\n").ok_or("malformed PAX record")?;
        if let Some(v) = record.strip_prefix(b"path=") {
            path = Some(v.to_vec());
        }
        rest = &rest[len..];
    }
    Ok(path)
}

/// Unpack a `.tar.gz` into files (directories are implied by paths), refusing anything
/// unsafe. Every cap holds while the archive streams in: entry count, path and header
/// sizes (GNU long names, PAX headers), and the total unpacked size.
pub fn unpack(reader: impl Read, limits: UnpackLimits) -> Result<Vec<Entry>> {
    let gz = flate2::read::GzDecoder::new(reader);
    let mut ar = tar::Archive::new(gz);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    let bad = |path: &str, reason: &str| Error::Archive {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    // Long names and PAX headers come as entries of their own; they are read here, capped,
    // instead of by the tar crate, which would read them whole into memory.
    let entries = ar
        .entries()
        .map_err(|e| bad("", &format!("not a tar.gz: {e}")))?
        .raw(true);
    let mut pending_name: Option<Vec<u8>> = None;
    for (n, entry) in entries.enumerate() {
        if n >= limits.max_entries {
            return Err(bad(
                "",
                &format!("more than {} entries", limits.max_entries),
            ));
        }
        let mut entry = entry.map_err(|e| bad("", &format!("corrupt archive: {e}")))?;
        let kind = entry.header().entry_type();
        let size = entry
            .header()
            .size()
            .map_err(|e| bad("", &format!("corrupt header: {e}")))?;
        let read_meta = |entry: &mut tar::Entry<'_, _>, cap: u64, what: &str| {
            if size > cap {
                return Err(bad("", &format!("{what} of {size} bytes (at most {cap})")));
            }
            let mut v = Vec::with_capacity(size as usize);
            entry
                .by_ref()
                .take(size)
                .read_to_end(&mut v)
                .map_err(|e| bad("", &format!("corrupt archive: {e}")))?;
            Ok(v)
        };
        match kind {
            tar::EntryType::GNULongName => {
                let mut name = read_meta(
                    &mut entry,
                    cns_files::MAX_PATH as u64 + 1,
                    "a GNU long name",
                )?;
                while name.last() == Some(&0) {
                    name.pop();
                }
                pending_name = Some(name);
                continue;
            }
            tar::EntryType::XHeader => {
                let data = read_meta(&mut entry, MAX_PAX, "a PAX header")?;
                if let Some(p) = pax_path(&data).map_err(|r| bad("", r))? {
                    pending_name = Some(p);
                }
                continue;
            }
            tar::EntryType::XGlobalHeader => {
                read_meta(&mut entry, MAX_PAX, "a PAX global header")?;
                continue;
            }
            _ => {}
        }
        let raw = match pending_name.take() {
            Some(name) => name,
            None => entry.path_bytes().into_owned(),
        };
        let path = std::str::from_utf8(&raw)
            .map_err(|_| bad(&String::from_utf8_lossy(&raw), "path is not UTF-8"))?
            .to_string();
        // Directory entries end with `/`; the rule applies to the name without it.
        let name = if kind == tar::EntryType::Directory {
            path.trim_end_matches('/')
        } else {
            path.as_str()
        };
        check_path(name).map_err(|r| bad(&path.escape_debug().to_string(), &r))?;
        match kind {
            tar::EntryType::Directory => continue,
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            other => {
                return Err(bad(
                    &path,
                    &format!("entry type {other:?} is not allowed (only files and directories)"),
                ));
            }
        }
        total = total.saturating_add(size);
        if total > limits.max_bytes {
            return Err(bad(
                &path,
                &format!("archive expands beyond {} bytes", limits.max_bytes),
            ));
        }
        if !seen.insert(path.clone()) {
            return Err(bad(&path, "duplicate path"));
        }
        let mode = entry
            .header()
            .mode()
            .map_err(|e| bad(&path, &e.to_string()))?;
        let mut content = Vec::with_capacity(size as usize);
        entry
            .by_ref()
            .take(size)
            .read_to_end(&mut content)
            .map_err(|e| bad(&path, &e.to_string()))?;
        if content.len() as u64 != size {
            return Err(bad(&path, "archive ends inside this file"));
        }
        out.push(Entry {
            path,
            content,
            executable: mode & 0o111 != 0,
        });
    }
    if pending_name.is_some() {
        return Err(bad("", "archive ends after a long name with no entry"));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, content: &str, executable: bool) -> Entry {
        Entry {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            executable,
        }
    }

    #[test]
    fn pack_is_reproducible_and_order_independent() {
        let a = vec![e("b/x.sh", "#!/bin/sh\n", true), e("a.txt", "a", false)];
        let b = vec![a[1].clone(), a[0].clone()];
        assert_eq!(pack(&a).unwrap(), pack(&b).unwrap());
        let back = unpack(pack(&a).unwrap().as_slice(), UnpackLimits::default()).unwrap();
        assert_eq!(back, vec![a[1].clone(), a[0].clone()]);
    }

    #[test]
    fn long_paths_round_trip() {
        let long = format!("{}/file.yaml", "d".repeat(150));
        let a = vec![e(&long, "x", false)];
        assert_eq!(
            unpack(pack(&a).unwrap().as_slice(), UnpackLimits::default()).unwrap(),
            a
        );
    }

    fn raw_tar(path: &str, kind: tar::EntryType) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            Compression::fast(),
        ));
        let mut h = tar::Header::new_old();
        h.set_entry_type(kind);
        h.set_size(if kind == tar::EntryType::Regular {
            1
        } else {
            0
        });
        h.set_mode(0o644);
        // Write the name bytes directly: set_path refuses `..`.
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        b.append(&h, &b"x"[..h.size().unwrap() as usize]).unwrap();
        b.into_inner().unwrap().finish().unwrap()
    }

    /// A gzip bomb of GNU long-name entries: each claims a name of `size` bytes.
    fn long_name_bomb(size: u64, count: usize) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 16];
        for _ in 0..count {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::GNULongName);
            h.set_size(size);
            h.set_cksum();
            std::io::Write::write_all(&mut gz, h.as_bytes()).unwrap();
            let mut left = size.div_ceil(512) * 512;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                std::io::Write::write_all(&mut gz, &zeros[..n]).unwrap();
                left -= n as u64;
            }
        }
        gz.finish().unwrap()
    }

    #[test]
    fn long_name_bombs_are_refused_before_they_are_read() {
        // 64 MiB of claimed name compresses to ~64 KiB; refused from its header alone.
        let bomb = long_name_bomb(64 << 20, 1);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let err = unpack(bomb.as_slice(), UnpackLimits::default()).unwrap_err();
        assert!(err.to_string().contains("GNU long name"), "{err}");
        // A long name within the cap names the next entry.
        let long = format!("{}/f.yaml", "d".repeat(300));
        let ok = pack(&[e(&long, "x", false)]).unwrap();
        assert_eq!(
            unpack(ok.as_slice(), UnpackLimits::default()).unwrap()[0].path,
            long
        );
    }

    #[test]
    fn unsafe_entries_are_refused() {
        for (path, kind, why) in [
            ("../evil", tar::EntryType::Regular, "traversal"),
            ("a/../../evil", tar::EntryType::Regular, "traversal"),
            ("/etc/evil", tar::EntryType::Regular, "absolute"),
            ("link", tar::EntryType::Symlink, "not allowed"),
            ("dev", tar::EntryType::Char, "not allowed"),
        ] {
            let err = unpack(raw_tar(path, kind).as_slice(), UnpackLimits::default()).unwrap_err();
            assert!(err.to_string().contains(why), "{path}: {err}");
        }
        let big = pack(&[e("a", &"x".repeat(100), false)]).unwrap();
        let err = unpack(
            big.as_slice(),
            UnpackLimits {
                max_bytes: 10,
                max_entries: 10,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("beyond 10 bytes"), "{err}");
        assert!(unpack(&b"not gzip"[..], UnpackLimits::default()).is_err());
        let ctl = unpack(
            raw_tar("a\x1b[2Jb", tar::EntryType::Regular).as_slice(),
            UnpackLimits::default(),
        )
        .unwrap_err();
        assert!(ctl.to_string().contains("control character"), "{ctl}");
    }
}
