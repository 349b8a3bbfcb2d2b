//! The slim stage of the build: removes from the plan what the trim [`policy`] says a
//! Lambda layer never needs (tests no runtime code imports, stubs, C sources, static and
//! foreign binaries) plus what the user's `slim-patterns` name. Removing plan entries is
//! enough: `write` derives RECORD from the final plan, and the manifest reports what this
//! stage removed per category.
//!
//! With the default categories (`--slim`) it then strips the debug sections and static
//! symbol table of every ELF shared object left ([`strip`]): the entry's source becomes the
//! stripped copy, kept deflated in the cache ([`stored`]) with its RECORD hash, which
//! `write` copies raw and lists in RECORD.
//!
//! `pylayer inspect` runs the same [`policy::decide`] over a built layer's files, and the
//! same [`strip::saving`] over its shared objects, so its "what trimming would save" is
//! exactly what `--slim` removes.

pub mod imports;
pub mod pattern;
pub mod policy;
pub mod stored;
pub mod strip;

use sha2::{Digest, Sha256};

use crate::cache::CacheDir;
use crate::plan::{Entry, Plan, Source, relative_to};
pub use policy::{Category, CategoryTotal, Policy};

/// What the stage removed from one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlimReport {
    /// Every category, zeros included, in [`Category::ALL`] order.
    pub categories: Vec<CategoryTotal>,
    /// Files removed.
    pub files: usize,
    /// Unzipped bytes saved: removed files and stripped debug sections.
    pub bytes: u64,
    /// Shared objects whose debug sections were stripped.
    pub stripped: usize,
    /// Shared objects with debug sections left as they were, with why (a debug section
    /// before the end of a loaded segment, a layout the stripper does not rewrite).
    pub left_unstripped: Vec<(String, String)>,
}

/// The uncompressed size of a planned entry.
fn entry_size(entry: &Entry) -> anyhow::Result<u64> {
    Ok(match &entry.source {
        Source::Wheel(w) => w.size,
        Source::Archive { entry, .. } => entry.size,
        Source::Bytes(b) => b.len() as u64,
        Source::File(f) => std::fs::metadata(f)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?
            .len(),
    })
}

/// Removes from `plan` every entry `policy` removes, then (with the default categories)
/// strips the debug sections of the shared objects left, keeping the stripped copies in
/// `cache`.
pub fn slim_plan(plan: &mut Plan, policy: &Policy, cache: &CacheDir) -> anyhow::Result<SlimReport> {
    let prefix = plan.prefix().to_string();
    let mut paths = Vec::new();
    let mut files = Vec::new();
    for (path, entry) in plan.entries() {
        files.push(policy::File {
            rel: relative_to(&prefix, path),
            dist: entry.dist,
            size: entry_size(entry)?,
        });
        paths.push(path.to_string());
    }
    let removals = policy::decide(&files, policy, &mut |i| plan.read(&paths[i]))?;
    for r in &removals {
        plan.remove(&paths[r.index]);
    }
    let mut report = SlimReport {
        categories: policy::totals(&files, &removals),
        files: removals.len(),
        bytes: removals.iter().map(|r| files[r.index].size).sum(),
        stripped: 0,
        left_unstripped: Vec::new(),
    };
    if policy.defaults {
        let (files, saved) = strip_plan(plan, cache, &mut report.left_unstripped)?;
        report.stripped = files;
        report.bytes += saved;
        if let Some(t) = report
            .categories
            .iter_mut()
            .find(|t| t.category == Category::DebugSymbols.as_str())
        {
            t.files = files;
            t.bytes = saved;
        }
    }
    Ok(report)
}

/// Strips every ELF shared object a distribution installs ([`strip::is_shared_object_name`]); the
/// stripped copy goes into the cache and becomes the entry's source. Returns the files
/// stripped and the bytes saved; files left alone are pushed on `left` with why.
fn strip_plan(
    plan: &mut Plan,
    cache: &CacheDir,
    left: &mut Vec<(String, String)>,
) -> anyhow::Result<(usize, u64)> {
    // Only what distributions install: files the user adds (`--include`) go in as they are.
    let paths: Vec<String> = plan
        .entries()
        .filter(|(p, e)| e.dist.is_some() && strip::is_shared_object_name(p))
        .map(|(p, _)| p.to_string())
        .collect();
    let (mut files, mut saved) = (0usize, 0u64);
    for path in paths {
        let data = plan.read(&path)?;
        if !data.starts_with(b"\x7fELF") {
            continue;
        }
        let key = hex::encode(Sha256::digest(&data));
        let file = cache.stripped_path(&key);
        // A warm build finds the stripped copy, deflated, and strips nothing again.
        let entry = match stored::load(&file)? {
            Some(e) => e,
            None => match strip::strip_debug(&data) {
                strip::Outcome::Nothing => continue,
                strip::Outcome::LeftAlone(why) => {
                    left.push((path, why));
                    continue;
                }
                strip::Outcome::Stripped(out) => stored::save(&file, &out)
                    .map_err(|e| anyhow::anyhow!("{path}: cannot keep its stripped copy: {e:#}"))?,
            },
        };
        saved += (data.len() as u64).saturating_sub(entry.size);
        files += 1;
        if let Some(e) = plan.get_mut(&path) {
            e.source = Source::Archive {
                archive: file,
                entry,
            };
        }
    }
    Ok((files, saved))
}
