//! Reading a layer — a zip in place, or a directory — into an inventory of entries, and
//! spotting hostile zips on the way.
//!
//! Nothing is extracted to disk and the layer is never held in memory: each entry is
//! decompressed through a small buffer (which verifies its declared size and CRC-32), and
//! only the bytes of binaries (ELF, Mach-O, PE, found by their magic numbers) and of the
//! few text files the later stages read (`*.dist-info/METADATA` and `RECORD`) are kept,
//! one entry at a time per worker. Binaries are parsed right away into plain facts and
//! their bytes dropped.
//!
//! Every zip is untrusted: names may climb out of the extraction directory (`../`) or be
//! absolute, entries may be symbolic links, declared sizes may lie, a tiny entry may
//! decompress to gigabytes, the file may be cut short. Each of those is a finding, never a
//! panic, and a lying or bomb-like entry is not decompressed past what it declares.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use zip::ZipArchive;
use zip::read::ZipReadOptions;

use super::binfile as binary;
use super::inventory::{Content, Entry, EntryKind, HEAD_BYTES, Inventory, LayerSource, wants_head};
use crate::check::report::Finding;
use crate::domain::MAX_UNZIPPED_BYTES;

/// Largest text file kept for the later stages; a METADATA or RECORD bigger than this is
/// not read (real ones are kilobytes, RECORDs of huge packages a few megabytes).
const MAX_TEXT_BYTES: u64 = 32 << 20;
/// Longest symbolic link target kept (PATH_MAX).
const MAX_LINK_BYTES: u64 = 4096;
/// Deflate cannot exceed a ratio of about 1032:1; anything near it that is also large is a
/// zip bomb, not a library (real shared objects compress 2–10:1, sparse data files ~100:1).
const BOMB_RATIO: u64 = 1000;
/// Entries smaller than this are never called bombs, whatever their ratio.
const BOMB_MIN_BYTES: u64 = 10 << 20;
/// Workers reading a zip in parallel, each with its own file handle.
const MAX_WORKERS: usize = 4;

/// Whether a later stage needs this file's text.
pub fn wants_text(path: &str) -> bool {
    let Some((dir, file)) = path.rsplit_once('/') else {
        return false;
    };
    dir.ends_with(".dist-info") && matches!(file, "METADATA" | "RECORD" | "top_level.txt" | "WHEEL")
}

/// Reads a layer. `Err` only when the source cannot be opened at all (no such file, not
/// readable); a damaged or hostile zip gives an inventory with error findings.
pub fn read(source: &LayerSource) -> io::Result<Inventory> {
    let mut inv = match source {
        LayerSource::Zip(p) => read_zip(p)?,
        LayerSource::Dir(p) => read_dir(p)?,
    };
    let clashes = name_clashes(&inv.entries);
    inv.findings.extend(clashes);
    Ok(inv)
}

/// Paths that are both a file and a directory (`a/b` stored as a file while `a/b/c` or a
/// directory entry `a/b/` exists): one of them cannot be extracted, and which one survives
/// depends on the unzip tool.
pub fn name_clashes(entries: &[Entry]) -> Vec<Finding> {
    use std::collections::HashMap;
    let mut kinds: HashMap<&str, EntryKind> = HashMap::new();
    let mut clashes = Vec::new();
    for e in entries {
        if let Some(&k) = kinds.get(e.path.as_str())
            && (k == EntryKind::Dir) != (e.kind == EntryKind::Dir)
        {
            clashes.push(e.path.clone());
        }
        kinds.entry(&e.path).or_insert(e.kind);
    }
    for e in entries {
        let mut at = 0;
        while let Some(i) = e.path[at..].find('/') {
            let parent = &e.path[..at + i];
            if kinds.get(parent).is_some_and(|k| *k != EntryKind::Dir) {
                clashes.push(parent.to_string());
            }
            at += i + 1;
        }
    }
    clashes.sort();
    clashes.dedup();
    clashes
        .into_iter()
        .map(|p| {
            Finding::error(
                "name-clash",
                "this path is both a file and a directory in the layer: one of them cannot be extracted, and which one survives depends on the unzip tool",
                "rebuild the layer so the path is either a file or a directory",
            )
            .at(p)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Zips
// ---------------------------------------------------------------------------------------------

fn open_archive(
    path: &Path,
) -> io::Result<Result<ZipArchive<BufReader<File>>, zip::result::ZipError>> {
    let file = File::open(path)?;
    Ok(ZipArchive::new(BufReader::with_capacity(128 << 10, file)))
}

fn read_zip(path: &Path) -> io::Result<Inventory> {
    let zip_bytes = std::fs::metadata(path)?.len();
    let mut inv = Inventory {
        zip_bytes: Some(zip_bytes),
        ..Inventory::default()
    };
    let mut archive = match open_archive(path)? {
        Ok(a) => a,
        Err(e) => {
            inv.findings.push(Finding::error(
                "zip-corrupt",
                format!("{} is not a readable zip file: {e}", path.display()),
                "the file is truncated or damaged (an interrupted download or copy?): make or fetch it again, then check that `unzip -t` accepts it",
            ));
            return Ok(inv);
        }
    };
    if archive.has_duplicate_names() {
        inv.findings.push(Finding::error(
            "zip-duplicate",
            "the zip holds two entries with the same name; which one Lambda extracts depends on the unzip tool",
            "rebuild the zip from a directory so every path appears once",
        ));
    }
    match archive.has_overlapping_files() {
        Ok(true) => inv.findings.push(Finding::error(
            "zip-bomb",
            "entries of the zip share their compressed data (overlapping entries, the construction of non-recursive zip bombs)",
            "do not upload this file; rebuild the layer from its packages",
        )),
        Ok(false) => {}
        Err(e) => inv.findings.push(Finding::error(
            "zip-corrupt",
            format!("the zip's entry headers cannot be read: {e}"),
            "the file is truncated or damaged: make or fetch it again",
        )),
    }

    let n = archive.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .clamp(1, MAX_WORKERS)
        .min(n.max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Entry, Vec<Finding>)>> = Mutex::new(Vec::with_capacity(n));
    let first = Mutex::new(Some(archive));
    let open_error: Mutex<Option<io::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                // The first worker reuses the archive already opened; the others open
                // their own handle (the central directory is re-read, which is cheap).
                let taken = first.lock().ok().and_then(|mut g| g.take());
                let mut archive = match taken {
                    Some(a) => a,
                    None => match open_archive(path) {
                        Ok(Ok(a)) => a,
                        Ok(Err(e)) => {
                            if let Ok(mut g) = open_error.lock() {
                                *g = Some(io::Error::other(e.to_string()));
                            }
                            return;
                        }
                        Err(e) => {
                            if let Ok(mut g) = open_error.lock() {
                                *g = Some(e);
                            }
                            return;
                        }
                    },
                };
                let mut local = Vec::new();
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let start = next.fetch_add(16, Ordering::Relaxed);
                    if start >= n {
                        break;
                    }
                    for i in start..(start + 16).min(n) {
                        let mut findings = Vec::new();
                        let entry = read_zip_entry(&mut archive, i, &mut buf, &mut findings);
                        if let Some(e) = entry {
                            local.push((i, e, findings));
                        } else if !findings.is_empty() {
                            local.push((
                                i,
                                Entry {
                                    path: String::new(),
                                    kind: EntryKind::Dir,
                                    size: 0,
                                    compressed: 0,
                                    content: Content::None,
                                },
                                findings,
                            ));
                        }
                    }
                }
                if let Ok(mut r) = results.lock() {
                    r.extend(local);
                }
            });
        }
    });
    if let Some(e) = open_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _, _)| *i);
    for (_, entry, findings) in results {
        inv.findings.extend(findings);
        if !entry.path.is_empty() {
            inv.entries.push(entry);
        }
    }
    Ok(inv)
}

/// Problems with an entry's name, as (code, message, hint).
fn name_problem(name: &str) -> Option<(&'static str, String, &'static str)> {
    if name.contains('\0') {
        return Some((
            "zip-bad-name",
            "the entry name contains a NUL byte".to_string(),
            "rebuild the zip with ordinary file names",
        ));
    }
    if name.contains('\\') {
        return Some((
            "zip-backslash",
            "the entry name uses `\\` as a separator (zips made by Windows PowerShell 5's Compress-Archive); on Lambda's Linux `\\` is part of the file name, so nothing under it is importable".to_string(),
            "rebuild the zip with `/` separators (PowerShell 7, 7-Zip, or `pylayer build`)",
        ));
    }
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic();
    if name.starts_with('/') || drive {
        return Some((
            "zip-absolute-path",
            "the entry has an absolute path; an unzip that honours it writes outside the layer directory".to_string(),
            "rebuild the zip with paths relative to its root (`python/…`)",
        ));
    }
    if name.split('/').any(|c| c == "..") {
        return Some((
            "zip-slip",
            "the entry's path contains `..` and climbs out of the directory it is extracted into (zip slip)".to_string(),
            "do not upload this zip; rebuild it with paths inside the layer (`python/…`)",
        ));
    }
    None
}

/// Reads entry `i`: its metadata, name checks, and its data through the buffer. Returns
/// `None` when the entry cannot be used at all (findings say why).
fn read_zip_entry(
    archive: &mut ZipArchive<BufReader<File>>,
    i: usize,
    buf: &mut [u8],
    findings: &mut Vec<Finding>,
) -> Option<Entry> {
    let opts = ZipReadOptions::new().enforce_header_consistency(true);
    let shown = archive
        .name_for_index(i)
        .and_then(|n| n.ok())
        .map(|n| n.into_owned())
        .unwrap_or_else(|| format!("entry #{i}"));
    let mut file = match archive.by_index_with_options(i, opts) {
        Ok(f) => f,
        Err(e) => {
            let name = shown;
            let (code, hint) = match e {
                zip::result::ZipError::CompressionMethodNotSupported(_)
                | zip::result::ZipError::UnsupportedArchive(_) => (
                    "zip-unsupported",
                    "rebuild the zip with ordinary deflate compression and no encryption (`zip -r`, `pylayer build`)",
                ),
                _ => (
                    "zip-corrupt",
                    "the zip is truncated or damaged: make or fetch it again",
                ),
            };
            findings
                .push(Finding::error(code, format!("cannot read this entry: {e}"), hint).at(name));
            return None;
        }
    };
    let name = String::from_utf8_lossy(file.name_raw()).into_owned();
    if let Some((code, message, hint)) = name_problem(&name) {
        findings.push(Finding::error(code, message, hint).at(name.clone()));
        // Its bytes are never looked at: where it would land is the problem.
        return None;
    }
    if std::str::from_utf8(file.name_raw()).is_err() {
        findings.push(
            Finding::warning(
                "non-utf8-name",
                "the entry name is not valid UTF-8 (a legacy code page?): unzip tools decode it differently, and Python cannot import a module by such a name",
                "rename the file with an ASCII or UTF-8 name and rebuild the zip",
            )
            .at(crate::format::shorten(&name)),
        );
    }
    if file.encrypted() {
        findings.push(
            Finding::error(
                "zip-unsupported",
                "the entry is encrypted; Lambda cannot extract it",
                "rebuild the zip without a password",
            )
            .at(name),
        );
        return None;
    }
    let declared = file.size();
    let compressed = file.compressed_size();
    let is_dir = file.is_dir();
    let is_symlink = file.is_symlink();
    let path = name.trim_end_matches('/').to_string();
    if is_dir {
        return Some(Entry {
            path,
            kind: EntryKind::Dir,
            size: 0,
            compressed: 0,
            content: Content::None,
        });
    }
    if declared > MAX_UNZIPPED_BYTES {
        findings.push(
            Finding::error(
                "zip-bomb",
                format!(
                    "the entry claims an impossible size: {} bytes unzipped, more than Lambda's limit of {} bytes for a function and all its layers together (a forged zip64 size or a zip bomb)",
                    crate::format::thousands(declared),
                    crate::format::thousands(MAX_UNZIPPED_BYTES)
                ),
                "do not upload this zip; rebuild the layer from its packages",
            )
            .at(name),
        );
        return None;
    }
    if declared >= BOMB_MIN_BYTES && declared / compressed.max(1) >= BOMB_RATIO {
        findings.push(
            Finding::error(
                "zip-bomb",
                format!(
                    "the entry declares {declared} bytes from {compressed} compressed bytes (ratio {}:1): a zip bomb, not a file a layer needs",
                    declared / compressed.max(1)
                ),
                "do not upload this zip; rebuild the layer from its packages",
            )
            .at(name),
        );
        return None;
    }

    // Stream the data: verify size and CRC, keep only what is needed.
    let mut kept: Option<Vec<u8>> = None;
    let mut head: Option<Vec<u8>> = wants_head(&path).then(Vec::new);
    let mut total: u64 = 0;
    let cap = if is_symlink {
        MAX_LINK_BYTES
    } else {
        MAX_UNZIPPED_BYTES
    };
    let mut first = true;
    let read_result: io::Result<()> = loop {
        match file.read(buf) {
            Ok(0) => break Ok(()),
            Ok(k) => {
                let chunk = &buf[..k];
                if first {
                    first = false;
                    let keep = is_symlink
                        || binary::looks_binary(chunk)
                        || (wants_text(&path) && declared <= MAX_TEXT_BYTES);
                    if keep {
                        kept = Some(Vec::with_capacity(declared.min(64 << 20) as usize));
                    }
                }
                if let Some(h) = head.as_mut() {
                    let want = HEAD_BYTES.saturating_sub(h.len()).min(chunk.len());
                    h.extend_from_slice(&chunk[..want]);
                }
                total += k as u64;
                if total > declared || total > cap {
                    break Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the data is larger than its declared size",
                    ));
                }
                if let Some(v) = kept.as_mut() {
                    v.extend_from_slice(chunk);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
    };
    if let Err(e) = read_result {
        let text = e.to_string();
        let (code, message) = if text.contains("declared") {
            (
                "zip-size-mismatch",
                format!("the entry's data is larger than the {declared} bytes its header declares"),
            )
        } else if text.contains("checksum") {
            (
                "zip-corrupt",
                "the entry's data does not match its CRC-32 checksum".to_string(),
            )
        } else {
            ("zip-corrupt", format!("cannot decompress the entry: {e}"))
        };
        findings.push(
            Finding::error(
                code,
                message,
                "the zip is damaged or was tampered with: make or fetch it again",
            )
            .at(name),
        );
        return None;
    }
    if total != declared {
        findings.push(
            Finding::error(
                "zip-size-mismatch",
                format!("the entry's data is {total} bytes but its header declares {declared}"),
                "the zip is damaged or was tampered with: make or fetch it again",
            )
            .at(name),
        );
        return None;
    }
    if is_symlink {
        let target = kept
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        // Resolved from the link's directory, does the target climb above the layer?
        let mut depth = path.matches('/').count() as i64;
        let climbs = target.split('/').any(|c| {
            match c {
                ".." => depth -= 1,
                "" | "." => {}
                _ => depth += 1,
            }
            depth < 0
        });
        let escapes = target.starts_with('/') || climbs;
        findings.push(
            Finding::error(
                "zip-symlink",
                format!(
                    "a symbolic link to `{target}`{}: links in a layer zip are unreliable (Lambda's console and many tools store or extract them as plain files) and can expose files outside /opt",
                    if escapes { ", which points outside the layer" } else { "" }
                ),
                "replace the link by a copy of the file it points to (`zip -r` without `-y` does that)",
            )
            .at(name),
        );
    }
    let content = match kept {
        Some(bytes) if is_symlink => Content::Text(bytes),
        Some(bytes) => match binary::parse(&bytes) {
            Some(info) => Content::Binary(info),
            None if wants_text(&path) => Content::Text(bytes),
            None => Content::None,
        },
        None => match head {
            Some(h) => Content::Head(h),
            None => Content::None,
        },
    };
    Some(Entry {
        path,
        kind: if is_symlink {
            EntryKind::Symlink
        } else {
            EntryKind::File
        },
        size: declared,
        compressed,
        content,
    })
}

// ---------------------------------------------------------------------------------------------
// Directories
// ---------------------------------------------------------------------------------------------

fn read_dir(root: &Path) -> io::Result<Inventory> {
    let mut inv = Inventory::default();
    let mut stack = vec![root.to_path_buf()];
    let mut buf = vec![0u8; 64 << 10];
    while let Some(dir) = stack.pop() {
        let mut children: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        children.sort_by_key(|e| e.file_name());
        for child in children {
            let p = child.path();
            let rel = p
                .strip_prefix(root)
                .map(|r| {
                    r.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default();
            let ft = child.file_type()?;
            if child.file_name().to_str().is_none() {
                inv.findings.push(
                    Finding::warning(
                        "non-utf8-name",
                        "the file name is not valid UTF-8: zip tools store and extract it differently, and Python cannot import a module by such a name",
                        "rename the file with an ASCII or UTF-8 name",
                    )
                    .at(crate::format::shorten(&rel)),
                );
            }
            if ft.is_symlink() {
                let target = std::fs::read_link(&p)
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                inv.findings.push(
                    Finding::warning(
                        "symlink",
                        format!("a symbolic link to `{target}`: `zip -r` stores a copy of what it points to, `zip -ry` a link that Lambda may not keep"),
                        "replace the link by the file, or check the zip you make from this directory",
                    )
                    .at(rel.clone()),
                );
                inv.entries.push(Entry {
                    path: rel,
                    kind: EntryKind::Symlink,
                    size: 0,
                    compressed: 0,
                    content: Content::Text(target.into_bytes()),
                });
            } else if ft.is_dir() {
                inv.entries.push(Entry {
                    path: rel,
                    kind: EntryKind::Dir,
                    size: 0,
                    compressed: 0,
                    content: Content::None,
                });
                stack.push(p);
            } else if ft.is_file() {
                let size = child.metadata()?.len();
                let content = read_dir_file(&p, &rel, size, &mut buf)?;
                inv.entries.push(Entry {
                    path: rel,
                    kind: EntryKind::File,
                    size,
                    compressed: size,
                    content,
                });
            }
        }
    }
    Ok(inv)
}

fn read_dir_file(p: &Path, rel: &str, size: u64, buf: &mut [u8]) -> io::Result<Content> {
    let mut f = File::open(p)?;
    let head_len = f.read(&mut buf[..64])?;
    let head = &buf[..head_len];
    let text = wants_text(rel) && size <= MAX_TEXT_BYTES;
    if !(binary::looks_binary(head) || text) {
        if wants_head(rel) {
            return Ok(Content::Head(head[..head.len().min(HEAD_BYTES)].to_vec()));
        }
        return Ok(Content::None);
    }
    let mut bytes = head.to_vec();
    f.take(MAX_UNZIPPED_BYTES).read_to_end(&mut bytes)?;
    Ok(match binary::parse(&bytes) {
        Some(info) => Content::Binary(info),
        None if text => Content::Text(bytes),
        None => Content::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_are_caught() {
        assert_eq!(name_problem("../evil.py").map(|p| p.0), Some("zip-slip"));
        assert_eq!(
            name_problem("python/../../x").map(|p| p.0),
            Some("zip-slip")
        );
        assert_eq!(
            name_problem("/etc/passwd").map(|p| p.0),
            Some("zip-absolute-path")
        );
        assert_eq!(name_problem("C:/x").map(|p| p.0), Some("zip-absolute-path"));
        assert_eq!(
            name_problem("python\\numpy\\__init__.py").map(|p| p.0),
            Some("zip-backslash")
        );
        assert_eq!(name_problem("python/a..b/c.py"), None);
        assert_eq!(name_problem("python/numpy/__init__.py"), None);
    }

    #[test]
    fn text_wanted_only_for_dist_info_metadata() {
        assert!(wants_text("python/numpy-2.3.1.dist-info/METADATA"));
        assert!(wants_text(
            "python/lib/python3.12/site-packages/x-1.dist-info/RECORD"
        ));
        assert!(!wants_text("python/numpy/METADATA"));
        assert!(!wants_text("METADATA"));
    }
}
