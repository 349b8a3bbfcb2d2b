//! Planning one wheel: which of its entries are installed, where (as pip would install
//! them, minus what a layer cannot use), and what is left out.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::Context;
use zip::{CompressionMethod, ZipArchive};

use super::{Entry, INSTALLER_CONTENT, Mode, Source, WheelEntry};
use crate::assemble::zipwrite::{METHOD_DEFLATE, METHOD_STORED};
use crate::lock::LockedPackage;
use crate::record;
use crate::wheel_name::{WheelName, normalize_name};

/// Largest RECORD we read; real ones are at most a few megabytes, and the limit keeps a
/// hostile wheel from making us decompress gigabytes into memory.
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// An open wheel and what we know about it.
pub(crate) struct OpenWheel {
    pub(crate) pkg: LockedPackage,
    pub(crate) tag: String,
    pub(crate) archive: ZipArchive<BufReader<File>>,
}

impl OpenWheel {
    pub(crate) fn open(pkg: &LockedPackage, path: &Path) -> anyhow::Result<OpenWheel> {
        let tag = WheelName::parse(&pkg.filename)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .tag();
        let file = File::open(path)
            .with_context(|| format!("cannot open wheel {} at {}", pkg.filename, path.display()))?;
        let archive =
            ZipArchive::new(BufReader::with_capacity(64 << 10, file)).with_context(|| {
                format!(
                    "{} ({}) is not a valid zip file",
                    pkg.filename,
                    path.display()
                )
            })?;
        Ok(OpenWheel {
            pkg: pkg.clone(),
            tag,
            archive,
        })
    }

    /// `wheel.whl: entry` for error messages.
    pub(crate) fn at(&self, entry: &str) -> String {
        format!("{}: {entry}", self.pkg.filename)
    }
}

/// Why an entry of a wheel is not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum LeftOut {
    Scripts,
    Headers,
    Data,
    OtherData,
    Compiled,
    DistutilsHack,
}

/// What one wheel installs.
pub(crate) struct PlannedWheel {
    /// Its `.dist-info` directory.
    pub dist_info: String,
    /// (path relative to site-packages, entry).
    pub entries: Vec<(String, Entry)>,
}

/// Plans the entries of one wheel (distribution `wi` of the plan): their paths relative to
/// site-packages, plus the new INSTALLER (RECORD is derived when the plan is written). Adds
/// notes about what is left out.
pub(crate) fn plan_wheel(
    w: &mut OpenWheel,
    wi: usize,
    keep: &[String],
    notes: &mut Vec<String>,
) -> anyhow::Result<PlannedWheel> {
    // Names and metadata first (no I/O: the central directory is in memory).
    let mut names: Vec<String> = Vec::with_capacity(w.archive.len());
    for i in 0..w.archive.len() {
        let e = w
            .archive
            .by_index_data(i)
            .with_context(|| format!("{}: cannot read entry {i}", w.pkg.filename))?;
        let name = e
            .name()
            .with_context(|| format!("{}: entry {i} has an unreadable name", w.pkg.filename))?
            .into_owned();
        names.push(name);
    }
    let dist_info = find_dist_info(w, &names)?;
    let stem = dist_info.trim_end_matches(".dist-info").to_string();
    let data_dir = find_data_dir(&names, &stem);
    let record_path = format!("{dist_info}/RECORD");
    let keep_setuptools = keep.iter().any(|k| k == "setuptools");

    // The wheel's own RECORD: its hashes stay valid for the entries copied unchanged.
    let original_record = if names.contains(&record_path) {
        read_record(w, &record_path)?
    } else {
        notes.push(format!(
            "{} has no {record_path}; its RECORD lists files without hashes",
            w.pkg.filename
        ));
        HashMap::new()
    };
    let mut out: Vec<(String, Entry)> = Vec::new();
    let mut left_out: BTreeMap<(LeftOut, String), usize> = BTreeMap::new();

    for (index, name) in names.iter().enumerate() {
        check_entry_name(name).map_err(|why| anyhow::anyhow!("{}: {why}", w.at(name)))?;
        let e = w
            .archive
            .by_index_data(index)
            .with_context(|| format!("cannot read {}", w.at(name)))?;
        if e.is_symlink() {
            anyhow::bail!(
                "{} is a symbolic link; wheels cannot contain links and pylayer does not copy them",
                w.at(name)
            );
        }
        if e.is_dir() {
            // Directories are implied by the files in them; none are written.
            continue;
        }
        if e.encrypted() {
            anyhow::bail!("{} is encrypted", w.at(name));
        }
        let method = match e.compression() {
            CompressionMethod::Stored => METHOD_STORED,
            CompressionMethod::Deflated => METHOD_DEFLATE,
            other => anyhow::bail!(
                "{} uses compression method {other:?}; only stored and deflated entries are supported",
                w.at(name)
            ),
        };
        if method == METHOD_STORED && e.compressed_size() != e.size() {
            anyhow::bail!(
                "{} is stored uncompressed but its sizes disagree ({} vs {})",
                w.at(name),
                e.compressed_size(),
                e.size()
            );
        }
        let executable = e.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let source = WheelEntry {
            name: name.clone(),
            size: e.size(),
            record_hash: original_record
                .get(name)
                .map(|(h, _)| h.clone())
                .filter(|h| !h.is_empty()),
            index,
            method,
            crc32: e.crc32(),
            compressed_size: e.compressed_size(),
        };
        if *name == record_path {
            continue;
        }

        let rel = match classify(name, &dist_info, &data_dir, keep_setuptools) {
            Placement::Install(rel) => rel,
            Placement::Replace => continue,
            Placement::LeaveOut(kind, what) => {
                *left_out.entry((kind, what)).or_default() += 1;
                continue;
            }
        };
        out.push((
            rel,
            Entry {
                source: Source::Wheel(source),
                mode: if executable {
                    Mode::Executable
                } else {
                    Mode::File
                },
                dist: Some(wi),
                shared_with: Vec::new(),
            },
        ));
    }
    out.push((
        format!("{dist_info}/INSTALLER"),
        Entry::generated(INSTALLER_CONTENT.to_vec(), Some(wi)),
    ));

    for ((kind, what), n) in left_out {
        let name = &w.pkg.name;
        notes.push(match kind {
            LeftOut::Scripts => format!("left out {n} script(s) of {name} (*.data/scripts)"),
            LeftOut::Headers => format!("left out {n} header(s) of {name} (*.data/headers)"),
            LeftOut::Data => format!("left out {n} data file(s) of {name} (*.data/data)"),
            LeftOut::OtherData => format!("left out {n} file(s) of {name} (*.data/{what})"),
            LeftOut::Compiled => {
                format!("left out {n} compiled file(s) of {name} (__pycache__, *.pyc)")
            }
            LeftOut::DistutilsHack => {
                format!("left out {n} file(s) of {name} that setuptools installs ({what})")
            }
        });
    }
    Ok(PlannedWheel {
        dist_info,
        entries: out,
    })
}

/// Finds the wheel's `.dist-info` directory: the only one, or the one named after the
/// distribution when a wheel (wrongly) carries several.
fn find_dist_info(w: &OpenWheel, names: &[String]) -> anyhow::Result<String> {
    let mut found: Vec<&str> = names
        .iter()
        .filter_map(|n| n.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    found.sort_unstable();
    found.dedup();
    let want = normalize_name(&w.pkg.name);
    match found.as_slice() {
        [] => anyhow::bail!(
            "{} has no .dist-info directory; it is not a valid wheel",
            w.pkg.filename
        ),
        [one] => Ok(one.to_string()),
        many => many
            .iter()
            .find(|d| {
                d.split_once('-')
                    .is_some_and(|(n, _)| normalize_name(n) == want)
            })
            .map(|d| d.to_string())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{} has several .dist-info directories ({}) and none is named after {}",
                    w.pkg.filename,
                    many.join(", "),
                    w.pkg.name
                )
            }),
    }
}

/// Finds the wheel's `.data` directory: `{stem}.data` by the spec, or the only top-level
/// `NAME-VERSION.data` directory when a builder spelled the name differently (copying its
/// `purelib/…` paths literally would put the files where Python never looks).
fn find_data_dir(names: &[String], stem: &str) -> String {
    let exact = format!("{stem}.data");
    let mut found: Vec<&str> = names
        .iter()
        .filter_map(|n| n.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".data") && top.contains('-'))
        .collect();
    found.sort_unstable();
    found.dedup();
    match found.as_slice() {
        [one] if *one != exact => one.to_string(),
        _ => exact,
    }
}

/// Where a wheel entry goes.
#[derive(Debug, PartialEq, Eq)]
enum Placement {
    /// Installed at this path, relative to site-packages.
    Install(String),
    /// A file pylayer writes itself (INSTALLER, RECORD signatures).
    Replace,
    LeaveOut(LeftOut, String),
}

/// Maps a wheel entry to its installed path, as pip would (minus what a layer cannot use).
fn classify(name: &str, dist_info: &str, data_dir: &str, keep_setuptools: bool) -> Placement {
    let mut rel = name.to_string();
    if let Some(rest) = name
        .strip_prefix(data_dir)
        .and_then(|r| r.strip_prefix('/'))
    {
        let (scheme, path) = rest.split_once('/').unwrap_or((rest, ""));
        match scheme {
            "purelib" | "platlib" if !path.is_empty() => rel = path.to_string(),
            "scripts" => return Placement::LeaveOut(LeftOut::Scripts, String::new()),
            "headers" => return Placement::LeaveOut(LeftOut::Headers, String::new()),
            "data" => return Placement::LeaveOut(LeftOut::Data, String::new()),
            other => return Placement::LeaveOut(LeftOut::OtherData, other.to_string()),
        }
    }
    if let Some(file) = rel
        .strip_prefix(dist_info)
        .and_then(|r| r.strip_prefix('/'))
        && matches!(file, "INSTALLER" | "RECORD.jws" | "RECORD.p7s")
    {
        // Our own INSTALLER replaces it; RECORD signatures no longer match the new RECORD.
        return Placement::Replace;
    }
    if rel.split('/').any(|c| c == "__pycache__") || rel.ends_with(".pyc") || rel.ends_with(".pyo")
    {
        return Placement::LeaveOut(LeftOut::Compiled, String::new());
    }
    if !keep_setuptools {
        if rel.starts_with("_distutils_hack/") {
            return Placement::LeaveOut(LeftOut::DistutilsHack, "_distutils_hack/".into());
        }
        if rel == "distutils-precedence.pth" {
            return Placement::LeaveOut(LeftOut::DistutilsHack, rel);
        }
    }
    Placement::Install(rel)
}

/// Refuses entry names that could write outside the layer's directory when extracted.
pub(crate) fn check_entry_name(name: &str) -> Result<(), String> {
    if name.contains('\0') {
        return Err("entry name contains a NUL byte".into());
    }
    if name.contains('\\') {
        return Err("entry name contains a backslash (a Windows separator)".into());
    }
    if name.starts_with('/') {
        return Err("entry has an absolute path".into());
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err("entry has an absolute (drive letter) path".into());
    }
    let body = name.strip_suffix('/').unwrap_or(name);
    for c in body.split('/') {
        match c {
            ".." => return Err("entry path contains `..`".into()),
            "" | "." => return Err("entry path has an empty or `.` component".into()),
            _ => {}
        }
    }
    Ok(())
}

/// Reads and parses the wheel's RECORD: wheel path → (hash, size).
fn read_record(
    w: &mut OpenWheel,
    record_path: &str,
) -> anyhow::Result<HashMap<String, (String, String)>> {
    let what = w.at(record_path);
    let f = w
        .archive
        .by_name(record_path)
        .with_context(|| format!("cannot read {what}"))?;
    if f.size() > MAX_RECORD_BYTES {
        anyhow::bail!("{what} is {} bytes; refusing to read it", f.size());
    }
    let mut bytes = Vec::with_capacity(f.size() as usize);
    f.take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot decompress {what}"))?;
    let text = String::from_utf8(bytes).with_context(|| format!("{what} is not UTF-8"))?;
    Ok(record::parse(&text)
        .into_iter()
        .filter_map(|row| {
            let mut it = row.into_iter();
            let path = it.next()?;
            Some((
                path,
                (it.next().unwrap_or_default(), it.next().unwrap_or_default()),
            ))
        })
        .collect())
}

/// Whether two planned entries from different wheels hold the same bytes (a shared file of
/// a namespace package). Compares CRC and size first, then the decompressed contents.
pub(crate) fn same_content(opened: &mut [OpenWheel], a: &Entry, b: &Entry) -> anyhow::Result<bool> {
    let (Source::Wheel(ea), Source::Wheel(eb), Some(da), Some(db)) =
        (&a.source, &b.source, a.dist, b.dist)
    else {
        return Ok(false);
    };
    if da == db || ea.crc32 != eb.crc32 || ea.size != eb.size {
        return Ok(false);
    }
    let (lo, hi, ilo, ihi) = if da < db {
        (da, db, ea.index, eb.index)
    } else {
        (db, da, eb.index, ea.index)
    };
    let (left, right) = opened.split_at_mut(hi);
    let (wa, wb) = (&mut left[lo], &mut right[0]);
    let what = || format!("{} / {}", wa.pkg.filename, wb.pkg.filename);
    let fa = wa.archive.by_index(ilo).with_context(what)?;
    let fb = wb.archive.by_index(ihi).with_context(what)?;
    streams_equal(fa, fb).with_context(what)
}

/// Compares two readers to the end.
fn streams_equal(mut a: impl Read, mut b: impl Read) -> std::io::Result<bool> {
    let mut ba = vec![0u8; 64 << 10];
    let mut bb = vec![0u8; 64 << 10];
    loop {
        let na = read_full(&mut a, &mut ba)?;
        let nb = read_full(&mut b, &mut bb)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the reader ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wheel_name::normalize_name;

    #[test]
    fn entry_names_are_checked() {
        assert!(check_entry_name("a/b.py").is_ok());
        assert!(check_entry_name("a/b/").is_ok());
        assert!(check_entry_name("a//b.py").is_err());
        assert!(check_entry_name("./a.py").is_err());
        assert!(check_entry_name("a/..").is_err());
        assert!(check_entry_name("a\0b").is_err());
    }

    #[test]
    fn classification() {
        let c = |n: &str| classify(n, "x-1.dist-info", "x-1.data", false);
        assert_eq!(c("x/a.py"), Placement::Install("x/a.py".into()));
        assert_eq!(
            c("x-1.data/platlib/x/_c.so"),
            Placement::Install("x/_c.so".into())
        );
        assert_eq!(
            c("x-1.data/headers/x.h"),
            Placement::LeaveOut(LeftOut::Headers, String::new())
        );
        assert_eq!(
            c("x-1.data/data/share/x"),
            Placement::LeaveOut(LeftOut::Data, String::new())
        );
        assert_eq!(
            c("x-1.data/weird/x"),
            Placement::LeaveOut(LeftOut::OtherData, "weird".into())
        );
        assert_eq!(c("x-1.dist-info/INSTALLER"), Placement::Replace);
        assert_eq!(c("x-1.dist-info/RECORD.jws"), Placement::Replace);
        assert_eq!(
            c("x/mod.pyc"),
            Placement::LeaveOut(LeftOut::Compiled, String::new())
        );
        assert_eq!(normalize_name("Foo.Bar__baz"), "foo-bar-baz");
    }

    #[test]
    fn data_dir_found_when_spelled_differently() {
        let names: Vec<String> = ["Foo-1.0.data/purelib/foo.py", "foo-1.0.dist-info/RECORD"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(find_data_dir(&names, "foo-1.0"), "Foo-1.0.data");
        assert_eq!(find_data_dir(&names[1..], "foo-1.0"), "foo-1.0.data");
    }
}
