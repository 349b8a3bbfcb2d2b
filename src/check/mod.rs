//! `check`: will this layer work on Lambda? A static check of any layer zip or directory,
//! whoever built it, against one target (runtime × architecture).
//!
//! Stages, each plain data in and plain data out:
//! - the shared layer reader ([`crate::layer::read`]) reads the zip in place (or the
//!   directory) into an inventory, flagging hostile or damaged zips, and parses binaries as
//!   it streams; [`crate::layer::dists`] finds the installed distributions and who owns
//!   which file;
//! - [`layout`], [`binary`], [`bytecode`], [`deps`] and [`limits`] each turn those into findings;
//! - [`report`] holds the findings and renders them.
//!
//! The CLI (`pylayer check`, and `pylayer build` on each zip it makes) only prints.

pub mod allow;
pub mod binary;
pub mod bytecode;
pub mod deps;
pub mod layout;
pub mod limits;
pub mod report;

use std::io;

pub use crate::layer::LayerSource;
pub use report::{Report, Summary};

use crate::layer::dists;
use crate::layer::inventory::{Content, EntryKind};
use crate::layer::read;
use crate::target::Target;

/// How to check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Unzipped bytes of the function's own code, counted against the 250 MB limit too.
    pub function_size: u64,
    /// Findings to accept (`[check] allow`, `--allow`).
    pub allow: Vec<allow::Allow>,
}

/// Checks a layer for a target. `Err` only when the source cannot be read at all (missing
/// file, unreadable directory); a damaged or hostile zip is a report with errors.
pub fn check(source: &LayerSource, target: &Target, opts: &CheckOptions) -> io::Result<Report> {
    let inv = read::read(source)?;
    let dists = dists::collect(&inv.entries, &dists::import_roots(target));
    let owners = dists::Owners::new(&dists);
    let owner = |p: &str| owners.owner(p);

    let mut findings = inv.findings.clone();
    findings.extend(layout::empty(&inv.entries, &inv.findings));
    findings.extend(layout::check(&inv.entries, target, &owner));
    let linux_wheel = |p: &str| owners.index(p).is_some_and(|i| dists[i].linux_wheel());
    findings.extend(binary::check(&inv.entries, target, &owner, &linux_wheel));
    findings.extend(bytecode::check(&inv.entries, target, &owner));
    findings.extend(deps::check(&dists, target));
    findings.extend(limits::check(
        &inv.entries,
        inv.zip_bytes,
        opts.function_size,
        &owner,
    ));

    // Over the size limit: say how much `--slim` would remove, by the same policy as
    // `pylayer inspect` (only then, as it reads the zip again).
    if let LayerSource::Zip(path) = source
        && findings.iter().any(|f| f.code == "too-big-unzipped")
        && let Ok((_, inspection)) = crate::inspect::inspect(path)
    {
        for f in findings.iter_mut().filter(|f| f.code == "too-big-unzipped") {
            f.hint = limits::too_big_hint(Some(inspection.slim_bytes));
        }
    }

    let files = inv.entries.iter().filter(|e| e.kind == EntryKind::File);
    let summary = Summary {
        entries: inv.entries.len(),
        files: files.clone().count(),
        unzipped_bytes: files.map(|e| e.size).sum(),
        zip_bytes: inv.zip_bytes,
        binaries: inv
            .entries
            .iter()
            .filter(|e| matches!(e.content, Content::Binary(_)))
            .count(),
        distributions: dists.len(),
    };
    let mut report = Report {
        layer: source.path().display().to_string(),
        runtime: target.runtime_name(),
        architecture: target.arch.lambda_name().to_string(),
        summary,
        findings,
        allowed: Vec::new(),
    };
    report.sort();
    report.apply_allow(&opts.allow);
    Ok(report)
}
