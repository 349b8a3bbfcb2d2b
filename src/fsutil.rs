//! File-system helpers shared by every stage that writes outputs.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so an interrupted run never leaves a half-written file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, bytes, true)
}

/// Like [`write_atomic`] without forcing the data to disk, and private to the user (file
/// 0600, new directories 0700): for cache entries, which are checked when read (hashes, parse
/// errors) and can always be fetched again, and which another local user has no business
/// reading (index pages of a private index). The rename still guarantees readers never see
/// half a file; skipping fsync keeps a cold lock from waiting on hundreds of disk flushes.
pub fn write_cache_entry(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, bytes, false)
}

/// Creates `dir` and its missing parents private to the user (0700 on Unix), for the cache.
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// [`create_private_dir_all`] once per directory and process: a resolution writes hundreds
/// of cache entries into the same few directories, and each `mkdir` that finds the
/// directory there is still a file-system call. (A directory removed behind our back
/// makes the write fail, which a cache write shrugs off.)
fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    static MADE: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if made.iter().any(|d| d == dir) {
        return Ok(());
    }
    create_private_dir_all(dir)?;
    made.push(dir.to_path_buf());
    Ok(())
}

fn write_atomic_with(path: &Path, bytes: &[u8], shared: bool) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if shared {
        std::fs::create_dir_all(dir)
    } else {
        ensure_private_dir(dir)
    }
    .map_err(|e| anyhow::anyhow!("cannot create directory {}: {e}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".pylayer-tmp-")
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("cannot create a temporary file in {}: {e}", dir.display()))?;
    // Removed by the interrupt handler if a signal comes before the rename.
    let _registered = crate::cleanup::register(tmp.path());
    tmp.write_all(bytes)
        .and_then(|_| {
            // Outputs are synced and shared; cache entries stay as created (0600).
            if shared {
                tmp.as_file().sync_all()?;
                set_readable(tmp.as_file())
            } else {
                Ok(())
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Temporary files are created private (0600); outputs are meant to be shared (0644).
#[cfg(unix)]
pub fn set_readable(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
pub fn set_readable(_f: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Reads a regular file of at most `max` bytes: input we did not create (requirement files,
/// project files, locks, cache entries another process may have replaced) must not exhaust
/// memory, and devices such as `/dev/zero` or FIFOs are not files to read. The error says
/// which rule the file broke, its size and the limit; callers add the path.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    // Checked before opening: opening a FIFO for reading blocks until a writer appears.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, not_regular(&meta)));
    }
    let f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, not_regular(&meta)));
    }
    let too_large = |size: String| {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "the file is {size}, larger than the {} limit for this kind of file",
                human_size(max)
            ),
        )
    };
    if meta.len() > max {
        return Err(too_large(human_size(meta.len())));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(too_large(format!("more than {}", human_size(max))));
    }
    Ok(out)
}

/// [`read_capped`] for a text input file: the error names the file, and the content must be
/// UTF-8.
pub fn read_capped_text(path: &Path, max: u64) -> anyhow::Result<String> {
    let bytes = read_capped(path, max)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("cannot read {}: not UTF-8 text", path.display()))
}

fn not_regular(meta: &std::fs::Metadata) -> String {
    let what = if meta.is_dir() {
        "a directory"
    } else {
        kind_of_special(meta)
    };
    format!("not a regular file ({what}); name a file")
}

#[cfg(unix)]
fn kind_of_special(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn kind_of_special(_meta: &std::fs::Metadata) -> &'static str {
    "not a file"
}

/// A size for messages about input files: `512 bytes`, `3.5 MiB (3670016 bytes)`.
pub fn human_size(n: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    match n {
        n if n >= GIB => format!("{:.1} GiB ({n} bytes)", n as f64 / GIB as f64),
        n if n >= MIB => format!("{:.1} MiB ({n} bytes)", n as f64 / MIB as f64),
        n if n >= KIB => format!("{:.1} KiB ({n} bytes)", n as f64 / KIB as f64),
        n => format!("{n} bytes"),
    }
}

/// Packs a layer directory (laid out like the zip: `python/…`, `lib/…`) into a temporary
/// zip, so the commands that read layer zips (`inspect`, `test`) take a directory as `check`
/// does. Symbolic links are followed; the zip is deleted when the handle drops.
pub fn zip_directory(dir: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    zip_directory_under(dir, "")
}

/// Like [`zip_directory`], with every name under `prefix` (`python/`): a venv's
/// site-packages packed as the layer it would be.
pub fn zip_directory_under(dir: &Path, prefix: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    use anyhow::Context;
    let tmp = tempfile::Builder::new()
        .prefix("pylayer-dir-")
        .suffix(".zip")
        .tempfile()
        .context("cannot create a temporary file to pack the layer directory in")?;
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(tmp.as_file()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    for rel in files {
        let src = dir.join(&rel);
        let name = format!(
            "{prefix}{}",
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        );
        zip.start_file(name, opts)
            .with_context(|| format!("cannot pack {}", src.display()))?;
        let mut f =
            std::fs::File::open(&src).with_context(|| format!("cannot read {}", src.display()))?;
        std::io::copy(&mut f, &mut zip)
            .with_context(|| format!("cannot pack {}", src.display()))?;
    }
    zip.finish()
        .and_then(|mut w| w.flush().map_err(Into::into))
        .context("cannot finish the temporary layer zip")?;
    Ok(tmp)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?;
    for entry in rd {
        let entry = entry.map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?;
        let path = entry.path();
        let meta = std::fs::metadata(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            collect_files(root, &path, out)?;
        } else if meta.is_file()
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zips_a_directory_with_relative_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("python/pkg")).unwrap();
        std::fs::write(dir.path().join("python/pkg/__init__.py"), b"x = 1\n").unwrap();
        std::fs::write(dir.path().join("python/top.py"), b"").unwrap();
        let z = zip_directory(dir.path()).unwrap();
        let mut a = zip::ZipArchive::new(std::fs::File::open(z.path()).unwrap()).unwrap();
        let names: Vec<String> = a.file_names().map(|n| n.unwrap().into_owned()).collect();
        assert_eq!(names.len(), 2);
        assert!(
            names.contains(&"python/pkg/__init__.py".to_string()),
            "{names:?}"
        );
        let mut s = String::new();
        std::io::Read::read_to_string(&mut a.by_name("python/pkg/__init__.py").unwrap(), &mut s)
            .unwrap();
        assert_eq!(s, "x = 1\n");
    }
}

/// `path` absolute, with `.` and `..` resolved by the file system when it exists (symlinks
/// included, so `/tmp/x` and its real path agree), else lexically.
pub fn real_or_absolute(path: &Path) -> std::path::PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = std::path::PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to the directory `base`, `/`-separated, with `..` where it lies outside
/// (`../shared-lib`); `.` for `base` itself. Used for what a lock records about local files,
/// so that moving the project keeps the lock. `None` when no relative path exists (another
/// drive on Windows).
pub fn relative_path(path: &Path, base: &Path) -> Option<String> {
    let path = real_or_absolute(path);
    let base = real_or_absolute(base);
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    if p.first() != b.first() {
        return None;
    }
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        return Some(".".to_string());
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod relative_tests {
    use super::*;

    #[test]
    fn relative_paths_go_up_and_down() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        std::fs::create_dir_all(root.join("wheels")).unwrap();
        std::fs::create_dir_all(dir.path().join("shared-lib")).unwrap();
        assert_eq!(
            relative_path(&root.join("wheels"), &root).as_deref(),
            Some("wheels")
        );
        assert_eq!(
            relative_path(&dir.path().join("shared-lib"), &root).as_deref(),
            Some("../shared-lib")
        );
        assert_eq!(relative_path(&root, &root).as_deref(), Some("."));
        // Lexically for what does not exist.
        assert_eq!(
            relative_path(&root.join("a/../b/c"), &root).as_deref(),
            Some("b/c")
        );
    }
}
