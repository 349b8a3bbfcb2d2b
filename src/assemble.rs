//! Write: a [`Plan`] in, one deterministic layer zip out.
//!
//! A wheel's entries are already deflated, so each one the plan copies is written with its
//! compressed bytes untouched, under its new path. Only what a stage made (INSTALLER,
//! bytecode, a rewritten file) and each distribution's `RECORD` — derived here from the
//! final plan, so it lists exactly what the layer holds for it — are compressed anew. Every
//! header byte is decided here (see `zipwrite`), entries are sorted by path, and the
//! timestamp comes from `SOURCE_DATE_EPOCH` or is 1980-01-01, so the same wheels always make
//! the same zip, whatever order they come in and whichever machine runs the build. The zip
//! is written to a temporary file beside the output and renamed at the end, so an
//! interrupted build leaves nothing half-written under the output's name.

pub(crate) mod zipwrite;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use crate::lock::LockedPackage;
use crate::plan::{self, Entry, Layout, Mode, Plan, PlanOptions, Source};
use crate::record;
use crate::target::Target;
use zipwrite::{DosDateTime, EntryHeader, METHOD_DEFLATE, METHOD_STORED, RawZipWriter};

/// How to assemble with [`assemble`].
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

/// Plans and writes in one call, for a layer no stage changes: [`plan::plan`] then [`write`].
pub fn assemble(
    wheels: &[(LockedPackage, PathBuf)],
    target: &Target,
    opts: &AssembleOptions,
    out: &Path,
) -> anyhow::Result<AssembleReport> {
    let plan = plan::plan(
        wheels,
        target,
        &PlanOptions {
            layout: opts.layout,
            keep: opts.keep.clone(),
            overwrite: Vec::new(),
        },
    )?;
    write(plan, opts.source_date_epoch, out)
}

/// Writes the layer zip at `out` from the final plan: each distribution's RECORD derived
/// from the entries that belong to it, unchanged wheel entries copied raw, the rest
/// compressed. The report counts what was written, per distribution.
pub fn write(
    plan: Plan,
    source_date_epoch: Option<u64>,
    out: &Path,
) -> anyhow::Result<AssembleReport> {
    let records = derive_records(&plan)?;
    let plan::PlanParts {
        dists,
        mut wheels,
        mut entries,
        notes,
    } = plan.into_parts();
    for (path, entry) in records {
        entries.insert(path, entry);
    }
    let mut stats: Vec<AssembledPackage> = dists
        .iter()
        .map(|d| AssembledPackage {
            name: d.name.clone(),
            version: d.version.clone(),
            tag: d.tag.clone(),
            files: 0,
            unzipped_bytes: 0,
            zipped_bytes: 0,
        })
        .collect();
    let mut other_unzipped = 0;
    // Archives of `Source::Archive` entries, each opened once.
    let mut archives: HashMap<PathBuf, ZipArchive<BufReader<File>>> = HashMap::new();
    let time = source_date_epoch.map_or(DosDateTime::EPOCH, DosDateTime::from_unix);
    let written = write_zip(out, time, |zip| {
        for (path, entry) in entries {
            let header = match &entry.source {
                Source::Wheel(w) => {
                    let wheel = entry
                        .dist
                        .and_then(|d| wheels.get_mut(d))
                        .with_context(|| format!("{path}: a wheel entry without its wheel"))?;
                    let what = format!("{} -> {path}", wheel.at(&w.name));
                    let header = EntryHeader {
                        name: path.clone(),
                        method: w.method,
                        crc32: w.crc32,
                        compressed_size: w.compressed_size,
                        uncompressed_size: w.size,
                        unix_mode: entry.mode.unix_mode(),
                    };
                    let mut f = wheel
                        .archive
                        .by_index_raw(w.index)
                        .with_context(|| format!("cannot read {what}"))?;
                    zip.add(header.clone(), &mut f)
                        .with_context(|| format!("cannot copy {what}"))?;
                    header
                }
                Source::Archive { archive, entry: a } => {
                    let what = format!("{}: {} -> {path}", archive.display(), a.name);
                    let zip_in = match archives.entry(archive.clone()) {
                        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            let f = File::open(archive)
                                .with_context(|| format!("cannot open {}", archive.display()))?;
                            v.insert(ZipArchive::new(BufReader::new(f)).with_context(|| {
                                format!("{} is not a valid zip", archive.display())
                            })?)
                        }
                    };
                    let header = EntryHeader {
                        name: path.clone(),
                        method: a.method,
                        crc32: a.crc32,
                        compressed_size: a.compressed_size,
                        uncompressed_size: a.size,
                        unix_mode: entry.mode.unix_mode(),
                    };
                    let mut f = zip_in
                        .by_index_raw(a.index)
                        .with_context(|| format!("cannot read {what}"))?;
                    zip.add(header.clone(), &mut f)
                        .with_context(|| format!("cannot copy {what}"))?;
                    header
                }
                Source::Bytes(bytes) => add_compressed(zip, &path, bytes, entry.mode)?,
                Source::File(file) => {
                    let bytes = std::fs::read(file)
                        .with_context(|| format!("cannot read {} for {path}", file.display()))?;
                    add_compressed(zip, &path, &bytes, entry.mode)?
                }
            };
            match entry.dist.and_then(|d| stats.get_mut(d)) {
                Some(s) => {
                    s.files += 1;
                    s.unzipped_bytes += header.uncompressed_size;
                    s.zipped_bytes += header.compressed_size;
                }
                None => other_unzipped += header.uncompressed_size,
            }
        }
        Ok(())
    })?;
    // A distribution every entry of which a stage removed is no longer in the layer.
    stats.retain(|s| s.files > 0);
    Ok(AssembleReport {
        unzipped_bytes: stats.iter().map(|s| s.unzipped_bytes).sum::<u64>() + other_unzipped,
        packages: stats,
        zip_bytes: written.bytes,
        code_sha256: base64::engine::general_purpose::STANDARD.encode(written.sha256),
        sha256_hex: hex::encode(written.sha256),
        notes,
    })
}

/// The RECORD of every distribution that still has entries: (path in the zip, entry).
fn derive_records(plan: &Plan) -> anyhow::Result<Vec<(String, Entry)>> {
    let mut rows: BTreeMap<usize, Vec<(String, String, u64)>> = BTreeMap::new();
    for (path, entry) in plan.entries() {
        let owners: Vec<usize> = entry
            .dist
            .iter()
            .chain(&entry.shared_with)
            .copied()
            .collect();
        if owners.is_empty() {
            continue;
        }
        let (hash, size) = match &entry.source {
            Source::Wheel(w) | Source::Archive { entry: w, .. } => {
                (w.record_hash.clone().unwrap_or_default(), w.size)
            }
            Source::Bytes(b) => (record::record_hash(b), b.len() as u64),
            Source::File(f) => {
                let bytes =
                    std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
                (record::record_hash(&bytes), bytes.len() as u64)
            }
        };
        let rel = plan::relative_to(plan.prefix(), path);
        for d in owners {
            rows.entry(d)
                .or_default()
                .push((rel.clone(), hash.clone(), size));
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for (d, rows) in rows {
        let path = plan.record_path(d);
        let text = record::render(rows, &plan::relative_to(plan.prefix(), &path));
        out.push((path, Entry::generated(text.into_bytes(), Some(d))));
    }
    Ok(out)
}

/// Compresses `content` and writes it as entry `path`; returns its header.
fn add_compressed<W: Write>(
    zip: &mut RawZipWriter<W>,
    path: &str,
    content: &[u8],
    mode: Mode,
) -> anyhow::Result<EntryHeader> {
    let (method, crc32, data) =
        compress(content).with_context(|| format!("cannot compress {path}"))?;
    let header = EntryHeader {
        name: path.to_string(),
        method,
        crc32,
        compressed_size: data.len() as u64,
        uncompressed_size: content.len() as u64,
        unix_mode: mode.unix_mode(),
    };
    zip.add(header.clone(), &mut data.as_slice())
        .with_context(|| format!("cannot write {path}"))?;
    Ok(header)
}

/// Deflates a generated file at level 9; returns (method, crc32, compressed bytes). Stored
/// when deflate does not help.
fn compress(content: &[u8]) -> std::io::Result<(u16, u32, Vec<u8>)> {
    let mut crc = flate2::Crc::new();
    crc.update(content);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(content)?;
    let raw = encoder.finish()?;
    if raw.len() >= content.len() {
        return Ok((METHOD_STORED, crc.sum(), content.to_vec()));
    }
    Ok((METHOD_DEFLATE, crc.sum(), raw))
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

/// Writes a zip to a temporary file beside `out` (`add` puts the entries in), then renames
/// it over `out`.
fn write_zip(
    out: &Path,
    time: DosDateTime,
    add: impl FnOnce(&mut RawZipWriter<HashingWriter<BufWriter<File>>>) -> anyhow::Result<()>,
) -> anyhow::Result<Written> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&crate::outlock::temp_prefix())
        .suffix(".zip.tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // Removed by the interrupt handler if the run is stopped while writing.
    let _registered = crate::cleanup::register(tmp.path());
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
    add(&mut zip)?;
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
