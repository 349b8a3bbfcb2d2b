//! Unpacking a source distribution (`.tar.gz` or `.zip`) into a directory, refusing anything
//! that could write outside it or hide a device: an sdist is untrusted input.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// At most this many entries in one sdist: real ones hold hundreds, a few thousand at most;
/// more is an archive bomb or not an sdist.
pub const MAX_ENTRIES: usize = 50_000;

/// At most this many bytes unpacked (1 GiB): a pure-Python project is far smaller, and a
/// deflate bomb must not fill the disk.
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;

/// Unpacks `archive` (named `filename`) into `dest` and returns the project's root: the one
/// top-level directory of the archive.
pub fn unpack(archive: &Path, filename: &str, dest: &Path) -> Result<PathBuf, String> {
    let lower = filename.to_ascii_lowercase();
    let fail = |why: String| format!("source distribution {filename}: {why}");
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        let f = std::fs::File::open(archive)
            .map_err(|e| fail(format!("cannot open {}: {e}", archive.display())))?;
        unpack_tar(flate2::read::GzDecoder::new(f), dest).map_err(fail)?;
    } else if lower.ends_with(".zip") {
        unpack_zip(archive, dest).map_err(fail)?;
    } else {
        return Err(fail(
            "not a .tar.gz or .zip archive (other sdist formats are not supported)".into(),
        ));
    }
    single_root(dest).map_err(fail)
}

/// The relative path an archive entry names, or why it is refused.
pub(super) fn safe_relative(name: &str) -> Result<PathBuf, String> {
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("entry {name:?} contains `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("entry {name:?} is an absolute path"));
            }
        }
    }
    Ok(out)
}

/// Whether a link at `entry` (relative) pointing at `target` stays inside the tree.
fn link_stays_inside(entry: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = entry.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

fn unpack_tar(reader: impl Read, dest: &Path) -> Result<(), String> {
    let mut ar = tar::Archive::new(reader);
    let mut count = 0usize;
    let mut total = 0u64;
    let entries = ar
        .entries()
        .map_err(|e| format!("not a readable tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("unreadable tar entry: {e}"))?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let raw = entry
            .path()
            .map_err(|e| format!("entry with an unreadable name: {e}"))?
            .to_string_lossy()
            .into_owned();
        let rel = safe_relative(&raw)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let out = dest.join(&rel);
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {raw}: {e}"))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().unwrap_or(0);
                total = total.saturating_add(size);
                if total > MAX_UNPACKED_BYTES {
                    return Err(format!(
                        "more than {MAX_UNPACKED_BYTES} bytes once unpacked"
                    ));
                }
                write_file(&out, &mut entry, &raw)?;
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("link {raw} has an unreadable target: {e}"))?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let inside = if kind == tar::EntryType::Link {
                    // A hard link names another entry of the archive, from its root.
                    safe_relative(&target.to_string_lossy()).is_ok()
                } else {
                    link_stays_inside(&rel, &target)
                };
                if !inside {
                    return Err(format!(
                        "link {raw} points outside the archive ({})",
                        target.display()
                    ));
                }
                // Links are copied as files (the target's contents), when the target exists.
                let from = if kind == tar::EntryType::Link {
                    dest.join(safe_relative(&target.to_string_lossy())?)
                } else {
                    out.parent().unwrap_or(dest).join(&target)
                };
                if from.is_file() {
                    if let Some(parent) = out.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|e| format!("cannot create {raw}: {e}"))?;
                    }
                    std::fs::copy(&from, &out).map_err(|e| format!("cannot copy {raw}: {e}"))?;
                }
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(format!(
                    "entry {raw} is a {other:?} (devices, FIFOs and other special files are refused)"
                ));
            }
        }
    }
    Ok(())
}

fn write_file(out: &Path, reader: &mut impl Read, raw: &str) -> Result<(), String> {
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {raw}: {e}"))?;
    }
    let mut f = std::fs::File::create(out).map_err(|e| format!("cannot write {raw}: {e}"))?;
    // The size check above trusts the header; the copy is capped too.
    let mut limited = reader.take(MAX_UNPACKED_BYTES + 1);
    let n = std::io::copy(&mut limited, &mut f).map_err(|e| format!("cannot write {raw}: {e}"))?;
    if n > MAX_UNPACKED_BYTES {
        return Err(format!(
            "more than {MAX_UNPACKED_BYTES} bytes once unpacked"
        ));
    }
    Ok(())
}

fn unpack_zip(archive: &Path, dest: &Path) -> Result<(), String> {
    let f = std::fs::File::open(archive).map_err(|e| format!("cannot open: {e}"))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| format!("not a readable zip archive: {e}"))?;
    if z.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} entries"));
    }
    let mut total = 0u64;
    for i in 0..z.len() {
        let mut e = z
            .by_index(i)
            .map_err(|e| format!("unreadable zip entry: {e}"))?;
        let raw = e
            .name()
            .map_err(|e| format!("zip entry with an unreadable name: {e}"))?
            .into_owned();
        let rel = safe_relative(&raw)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        if e.is_symlink() {
            return Err(format!(
                "entry {raw} is a symbolic link (refused in a zip sdist)"
            ));
        }
        let out = dest.join(&rel);
        if e.is_dir() {
            std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {raw}: {e}"))?;
            continue;
        }
        total = total.saturating_add(e.size());
        if total > MAX_UNPACKED_BYTES {
            return Err(format!(
                "more than {MAX_UNPACKED_BYTES} bytes once unpacked"
            ));
        }
        write_file(&out, &mut e, &raw)?;
    }
    Ok(())
}

/// The one top-level directory under `dest`.
fn single_root(dest: &Path) -> Result<PathBuf, String> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dest)
        .map_err(|e| format!("cannot list the unpacked tree: {e}"))?
        .flatten()
        .map(|e| e.path())
        .collect();
    match entries.as_slice() {
        [one] if one.is_dir() => Ok(one.clone()),
        [] => Err("the archive is empty".into()),
        _ => Err(format!(
            "the archive must hold one top-level directory (NAME-VERSION/), it holds {} entries at its root",
            entries.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            // set_path refuses `..`; write the raw name to test the unpacker.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        let raw = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        gz.finish().unwrap()
    }

    /// Unpacks into a fresh temp dir, returned with the result so it lives as long as the
    /// assertions on the unpacked tree.
    fn try_unpack(bytes: Vec<u8>) -> (tempfile::TempDir, Result<PathBuf, String>) {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("x-1.tar.gz");
        std::fs::write(&a, bytes).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let r = unpack(&a, "x-1.tar.gz", &out);
        (dir, r)
    }

    #[test]
    fn unpacks_one_root() {
        let (_dir, root) = try_unpack(tar_gz(&[(
            "x-1/setup.py",
            tar::EntryType::Regular,
            b"print()",
            None,
        )]));
        let root = root.unwrap();
        assert!(root.ends_with("x-1"));
        assert!(root.join("setup.py").is_file());
    }

    #[test]
    fn refuses_parent_and_absolute_and_links_out_and_fifos() {
        let e = try_unpack(tar_gz(&[(
            "x-1/../../evil",
            tar::EntryType::Regular,
            b"x",
            None,
        )]))
        .1
        .unwrap_err();
        assert!(e.contains("x-1.tar.gz") && e.contains(".."), "{e}");
        let e = try_unpack(tar_gz(&[(
            "/etc/evil",
            tar::EntryType::Regular,
            b"x",
            None,
        )]))
        .1
        .unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        let e = try_unpack(tar_gz(&[(
            "x-1/l",
            tar::EntryType::Symlink,
            b"",
            Some("../../etc/passwd"),
        )]))
        .1
        .unwrap_err();
        assert!(e.contains("outside"), "{e}");
        let e = try_unpack(tar_gz(&[("x-1/f", tar::EntryType::Fifo, b"", None)]))
            .1
            .unwrap_err();
        assert!(e.contains("FIFO") || e.contains("Fifo"), "{e}");
        let e = try_unpack(tar_gz(&[
            ("a/f", tar::EntryType::Regular, b"", None),
            ("b/f", tar::EntryType::Regular, b"", None),
        ]))
        .1
        .unwrap_err();
        assert!(e.contains("one top-level directory"), "{e}");
    }

    #[test]
    fn links_inside_are_kept() {
        assert!(link_stays_inside(Path::new("x-1/a/l"), Path::new("../b")));
        assert!(!link_stays_inside(Path::new("x-1/l"), Path::new("../../b")));
        assert!(!link_stays_inside(Path::new("x-1/l"), Path::new("/b")));
    }
}
