//! The slim stage of the build: removes from the plan what the trim [`policy`] says a
//! Lambda layer never needs (tests no runtime code imports, stubs, C sources, static and
//! foreign binaries) plus what the user's `slim-patterns` name. Removing plan entries is
//! enough: `write` derives RECORD from the final plan, and the manifest reports what this
//! stage removed per category.
//!
//! `pylayer inspect` runs the same [`policy::decide`] over a built layer's files, so its
//! "what trimming would save" is exactly what `--slim` removes.

pub mod imports;
pub mod pattern;
pub mod policy;
pub mod strip;

use crate::plan::{Entry, Plan, Source, relative_to};
pub use policy::{Category, CategoryTotal, Policy};

/// What the stage removed from one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlimReport {
    /// Every category, zeros included, in [`Category::ALL`] order.
    pub categories: Vec<CategoryTotal>,
    pub files: usize,
    pub bytes: u64,
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

/// Removes from `plan` every entry `policy` removes.
pub fn slim_plan(plan: &mut Plan, policy: &Policy) -> anyhow::Result<SlimReport> {
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
    Ok(SlimReport {
        categories: policy::totals(&files, &removals),
        files: removals.len(),
        bytes: removals.iter().map(|r| files[r.index].size).sum(),
    })
}
