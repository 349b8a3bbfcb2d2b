//! Assemble: wheels in, one deterministic layer zip out, without extracting anything.
//!
//! A wheel's entries are already deflated, so each one is copied into the layer with its
//! compressed bytes untouched, under its installed path (`python/…` or
//! `python/lib/python3.X/site-packages/…`). Only the two files an installer changes are
//! written anew: `*.dist-info/INSTALLER` (`pylayer`) and `*.dist-info/RECORD` (the files as
//! installed). Every header byte is decided here (see `zipwrite`), entries are sorted by
//! path, and the timestamp comes from `SOURCE_DATE_EPOCH` or is 1980-01-01, so the same
//! wheels always make the same zip, whatever order they come in and whichever machine runs
//! the build. The zip is written to a temporary file beside the output and renamed at the
//! end, so an interrupted build leaves nothing half-written under the output's name.

#![allow(dead_code)]

use crate::record;
use crate::wheel_name::normalize_name;
mod zipwrite;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use base64::Engine;
use sha2::{Digest, Sha256};
use zip::{CompressionMethod, ZipArchive};

use crate::domain::INSTALLER_TOOLING;
use crate::lock::LockedPackage;
use crate::target::Target;
use crate::wheel_name::WheelName;
use zipwrite::{DosDateTime, EntryHeader, METHOD_DEFLATE, METHOD_STORED, RawZipWriter};

/// What pylayer writes into every `*.dist-info/INSTALLER`, as pip writes `pip`.
const INSTALLER_CONTENT: &[u8] = b"pylayer\n";

/// Largest RECORD we read; real ones are at most a few megabytes, and the limit keeps a
/// hostile wheel from making us decompress gigabytes into memory.
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Where the packages go inside the layer zip. Lambda puts both on `sys.path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `python/…`: the shortest paths, what AWS's guide shows.
    Python,
    /// `python/lib/python3.X/site-packages/…`: version-specific, like a venv.
    SitePackages,
}

impl Layout {
    /// The name used in flags, `pylayer.toml` and the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Python => "python",
            Layout::SitePackages => "site-packages",
        }
    }

    /// The directory in the zip that plays the role of site-packages, with a trailing `/`.
    pub fn prefix(self, target: &Target) -> String {
        match self {
            Layout::Python => "python/".to_string(),
            Layout::SitePackages => {
                format!(
                    "python/lib/python{}/site-packages/",
                    target.python_version()
                )
            }
        }
    }
}

impl FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "python" => Ok(Layout::Python),
            "site-packages" | "site_packages" => Ok(Layout::SitePackages),
            other => Err(format!(
                "unknown layout `{other}`: use `python` (python/…) or `site-packages` (python/lib/python3.X/site-packages/…)"
            )),
        }
    }
}

/// How to assemble.
#[derive(Debug, Clone)]
pub struct AssembleOptions {
    pub layout: Layout,
    /// Normalized names the user asked for explicitly: installer tooling (pip, setuptools,
    /// wheel) is left out unless listed here.
    pub keep: Vec<String>,
    /// Timestamp for every entry (the CLI reads `SOURCE_DATE_EPOCH`); `None` is 1980-01-01.
    pub source_date_epoch: Option<u64>,
}

/// What one distribution contributed to the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledPackage {
    pub name: String,
    pub version: String,
    /// Wheel tag triple, `cp312-cp312-manylinux_2_17_x86_64`.
    pub tag: String,
    /// Entries written for it (a file shared identically with an earlier package is counted
    /// there only).
    pub files: usize,
    pub unzipped_bytes: u64,
    pub zipped_bytes: u64,
}

/// The result of assembling: sizes, hashes and what was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembleReport {
    /// Sorted by name.
    pub packages: Vec<AssembledPackage>,
    /// Sum of the uncompressed sizes: what counts against Lambda's 250 MB.
    pub unzipped_bytes: u64,
    /// Size of the zip file.
    pub zip_bytes: u64,
    /// Hex sha256 of the zip.
    pub sha256_hex: String,
    /// base64(sha256(zip)), which Lambda reports as `CodeSha256`.
    pub code_sha256: String,
    /// Human notes about what was left out, e.g. "left out 3 scripts of black (*.data/scripts)".
    pub notes: Vec<String>,
}

/// Builds the layer zip at `out` from already fetched (hash-checked) wheels.
pub fn assemble(
    wheels: &[(LockedPackage, PathBuf)],
    target: &Target,
    opts: &AssembleOptions,
    out: &Path,
) -> anyhow::Result<AssembleReport> {
    let prefix = opts.layout.prefix(target);
    let keep: Vec<String> = opts.keep.iter().map(|k| normalize_name(k)).collect();
    let mut notes = Vec::new();

    // Order by name first, so everything after (which copy of a shared file wins, notes,
    // the report) is independent of the order the caller passed.
    let mut order: Vec<&(LockedPackage, PathBuf)> = wheels.iter().collect();
    order.sort_by(|a, b| {
        (&a.0.name, &a.0.version, &a.0.filename).cmp(&(&b.0.name, &b.0.version, &b.0.filename))
    });
    for pair in order.windows(2) {
        if normalize_name(&pair[0].0.name) == normalize_name(&pair[1].0.name) {
            anyhow::bail!(
                "two wheels for distribution {}: {} and {}; a layer can hold only one version",
                pair[0].0.name,
                pair[0].0.filename,
                pair[1].0.filename
            );
        }
    }

    let mut opened: Vec<OpenWheel> = Vec::new();
    for (pkg, path) in order {
        let name = normalize_name(&pkg.name);
        if INSTALLER_TOOLING.contains(&name.as_str()) && !keep.contains(&name) {
            notes.push(format!(
                "left out {} {} (installer tooling; list it explicitly to keep it)",
                pkg.name, pkg.version
            ));
            continue;
        }
        opened.push(OpenWheel::open(pkg, path)?);
    }

    // Plan every entry, keyed (and so sorted) by its path in the zip.
    let mut plan: BTreeMap<String, Planned> = BTreeMap::new();
    let mut stats: Vec<AssembledPackage> = Vec::with_capacity(opened.len());
    for wi in 0..opened.len() {
        let entries = plan_wheel(&mut opened[wi], wi, &keep, &mut notes)?;
        let w = &opened[wi];
        stats.push(AssembledPackage {
            name: w.pkg.name.clone(),
            version: w.pkg.version.clone(),
            tag: w.tag.clone(),
            files: 0,
            unzipped_bytes: 0,
            zipped_bytes: 0,
        });
        for (rel, planned) in entries {
            let path = format!("{prefix}{rel}");
            if let Some(existing) = plan.get(&path) {
                if same_content(&mut opened, existing, &planned)? {
                    continue;
                }
                let (a, b) = (&opened[existing.wheel].pkg, &opened[planned.wheel].pkg);
                if existing.wheel == planned.wheel {
                    anyhow::bail!(
                        "{} ({}) installs two different files to {path}",
                        a.name,
                        a.filename
                    );
                }
                anyhow::bail!(
                    "{} {} and {} {} both install {path} with different contents; they cannot share a layer (pip would let one silently overwrite the other)",
                    a.name,
                    a.version,
                    b.name,
                    b.version
                );
            }
            let s = &mut stats[wi];
            s.files += 1;
            s.unzipped_bytes += planned.header.uncompressed_size;
            s.zipped_bytes += planned.header.compressed_size;
            plan.insert(path, planned);
        }
    }

    let time = opts
        .source_date_epoch
        .map_or(DosDateTime::EPOCH, DosDateTime::from_unix);
    let written = write_zip(&mut opened, plan, time, out)?;

    Ok(AssembleReport {
        unzipped_bytes: stats.iter().map(|s| s.unzipped_bytes).sum(),
        packages: stats,
        zip_bytes: written.bytes,
        code_sha256: base64::engine::general_purpose::STANDARD.encode(written.sha256),
        sha256_hex: hex::encode(written.sha256),
        notes,
    })
}

/// An open wheel and what we know about it.
struct OpenWheel {
    pkg: LockedPackage,
    path: PathBuf,
    tag: String,
    archive: ZipArchive<BufReader<File>>,
}

impl OpenWheel {
    fn open(pkg: &LockedPackage, path: &Path) -> anyhow::Result<OpenWheel> {
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
            path: path.to_path_buf(),
            tag,
            archive,
        })
    }

    /// `wheel.whl: entry` for error messages.
    fn at(&self, entry: &str) -> String {
        format!("{}: {entry}", self.pkg.filename)
    }
}

/// Where an entry's compressed bytes come from.
#[derive(Debug)]
enum Data {
    /// Entry `index` of the wheel, copied raw.
    Raw { index: usize },
    /// Bytes pylayer made (INSTALLER, RECORD), already compressed.
    Generated(Vec<u8>),
}

/// One entry of the layer zip, before it is written.
#[derive(Debug)]
struct Planned {
    /// Index into the opened wheels of the distribution it belongs to.
    wheel: usize,
    header: EntryHeader,
    data: Data,
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

/// Plans the entries of one wheel: their paths relative to site-packages, plus the new
/// INSTALLER and RECORD. Adds notes about what is left out.
fn plan_wheel(
    w: &mut OpenWheel,
    wi: usize,
    keep: &[String],
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<(String, Planned)>> {
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

    let mut out: Vec<(String, Planned)> = Vec::new();
    // (path in the layer, path in the wheel, uncompressed size) for the new RECORD.
    let mut installed: Vec<(String, String, u64)> = Vec::new();
    let mut left_out: BTreeMap<(LeftOut, String), usize> = BTreeMap::new();
    let mut has_record = false;

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
        let header = EntryHeader {
            name: String::new(),
            method,
            crc32: e.crc32(),
            compressed_size: e.compressed_size(),
            uncompressed_size: e.size(),
            unix_mode: if executable { 0o100755 } else { 0o100644 },
        };
        if *name == record_path {
            has_record = true;
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
        installed.push((rel.clone(), name.clone(), header.uncompressed_size));
        out.push((
            rel,
            Planned {
                wheel: wi,
                header,
                data: Data::Raw { index },
            },
        ));
    }

    // The files pylayer writes itself.
    let original_record = if has_record {
        read_record(w, &record_path)?
    } else {
        notes.push(format!(
            "{} has no {record_path}; its RECORD lists files without hashes",
            w.pkg.filename
        ));
        HashMap::new()
    };
    let installer_rel = format!("{dist_info}/INSTALLER");
    let record_text = record::render(
        &installed,
        &original_record,
        (&installer_rel, INSTALLER_CONTENT),
        &record_path,
    );
    for (rel, content) in [
        (installer_rel.clone(), INSTALLER_CONTENT.to_vec()),
        (record_path.clone(), record_text.into_bytes()),
    ] {
        let (method, crc32, compressed) = compress(&content)
            .with_context(|| format!("cannot compress {rel} for {}", w.pkg.filename))?;
        out.push((
            rel.clone(),
            Planned {
                wheel: wi,
                header: EntryHeader {
                    name: String::new(),
                    method,
                    crc32,
                    compressed_size: compressed.len() as u64,
                    uncompressed_size: content.len() as u64,
                    unix_mode: 0o100644,
                },
                data: Data::Generated(compressed),
            },
        ));
    }

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
    Ok(out)
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
fn check_entry_name(name: &str) -> Result<(), String> {
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

/// Deflates a small generated file; returns (method, crc32, compressed bytes). Stored when
/// deflate does not help.
fn compress(content: &[u8]) -> anyhow::Result<(u16, u32, Vec<u8>)> {
    let mut crc = flate2::Crc::new();
    crc.update(content);
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(content)?;
    let raw = enc.finish()?;
    if raw.len() >= content.len() {
        return Ok((METHOD_STORED, crc.sum(), content.to_vec()));
    }
    Ok((METHOD_DEFLATE, crc.sum(), raw))
}

/// Whether two planned entries from different wheels hold the same bytes (a shared file of
/// a namespace package). Compares CRC and size first, then the decompressed contents.
fn same_content(opened: &mut [OpenWheel], a: &Planned, b: &Planned) -> anyhow::Result<bool> {
    let (Data::Raw { index: ia }, Data::Raw { index: ib }) = (&a.data, &b.data) else {
        return Ok(false);
    };
    if a.wheel == b.wheel
        || a.header.crc32 != b.header.crc32
        || a.header.uncompressed_size != b.header.uncompressed_size
    {
        return Ok(false);
    }
    let (lo, hi, ilo, ihi) = if a.wheel < b.wheel {
        (a.wheel, b.wheel, *ia, *ib)
    } else {
        (b.wheel, a.wheel, *ib, *ia)
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

/// A writer that hashes and counts what passes through.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The written zip's size and sha256.
struct Written {
    bytes: u64,
    sha256: [u8; 32],
}

/// Writes the planned entries in order to a temporary file beside `out`, then renames it.
fn write_zip(
    opened: &mut [OpenWheel],
    plan: BTreeMap<String, Planned>,
    time: DosDateTime,
    out: &Path,
) -> anyhow::Result<Written> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".pylayer-")
        .suffix(".zip.tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let file = tmp
        .as_file()
        .try_clone()
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    let hashing = HashingWriter {
        inner: BufWriter::with_capacity(256 << 10, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut zip = RawZipWriter::new(hashing, time);
    for (path, mut p) in plan {
        p.header.name = path;
        let w = &mut opened[p.wheel];
        match &p.data {
            Data::Generated(bytes) => zip
                .add(p.header, &mut bytes.as_slice())
                .with_context(|| format!("cannot write {}", tmp.path().display()))?,
            Data::Raw { index } => {
                let what = format!(
                    "{} -> {}",
                    w.at(&w
                        .archive
                        .name_for_index(*index)
                        .and_then(Result::ok)
                        .unwrap_or_default()),
                    p.header.name
                );
                let mut f = w
                    .archive
                    .by_index_raw(*index)
                    .with_context(|| format!("cannot read {what}"))?;
                zip.add(p.header, &mut f)
                    .with_context(|| format!("cannot copy {what}"))?;
            }
        }
    }
    let hashing = zip
        .finish()
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    let HashingWriter {
        inner,
        hasher,
        bytes,
    } = hashing;
    let file = inner
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", tmp.path().display(), e.error()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    drop(file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Temporary files are private (0600); a build output should be readable like any file.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot set permissions of {}", tmp.path().display()))?;
    }
    tmp.persist(out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", out.display(), e.error))?;
    Ok(Written {
        bytes,
        sha256: hasher.finalize().into(),
    })
}

#[cfg(test)]
mod tests;
