//! `pylayer diff A.zip B.zip`: which distributions were added, removed, upgraded or
//! downgraded between two layers (PEP 440 order), and how each one's size changed.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use anyhow::Result;
use serde::Serialize;

use crate::format::human_bytes;
use crate::layer::Layer;
use crate::manifest::Manifest;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Upgraded,
    Downgraded,
    /// Same version, different bytes (a rebuilt wheel or a different selection of files).
    Changed,
    Unchanged,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Upgraded => "upgraded",
            Change::Downgraded => "downgraded",
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DistChange {
    pub name: String,
    pub change: Change,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
    pub old_bytes: u64,
    pub new_bytes: u64,
    /// `new_bytes - old_bytes` (unzipped).
    pub delta_bytes: i64,
    /// Why the sides differ, where pylayer knows it (a glibc ceiling, a Python version, the
    /// runtime ships it, installer tooling, left out by the build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub old: String,
    pub new: String,
    pub old_unzipped_bytes: u64,
    pub new_unzipped_bytes: u64,
    pub delta_bytes: i64,
    pub old_zip_bytes: u64,
    pub new_zip_bytes: u64,
    /// Every distribution of either layer, changed ones first, then by name.
    pub distributions: Vec<DistChange>,
}

/// A distribution's name, version, unzipped bytes and (relative path, size) of its files.
type DistSummary = (String, String, u64, Vec<(String, u64)>);

/// Summary per normalized name.
fn sizes(layer: &Layer) -> BTreeMap<String, DistSummary> {
    let mut out = BTreeMap::new();
    for (i, d) in layer.dists.iter().enumerate() {
        let (u, _, _) = layer.dist_totals(Some(i));
        let files: Vec<(String, u64)> = layer
            .files
            .iter()
            .filter(|f| f.dist == Some(i))
            .map(|f| (layer.relative(f).to_string(), f.size))
            .collect();
        out.insert(d.key(), (d.name.clone(), d.version.clone(), u, files));
    }
    out
}

/// Compares two version strings by PEP 440; falls back to string order for invalid ones.
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    match (
        uv_pep440::Version::from_str(a),
        uv_pep440::Version::from_str(b),
    ) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

pub fn diff_layers(old: &Layer, new: &Layer) -> Diff {
    let (a, b) = (sizes(old), sizes(new));
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    let mut dists = Vec::new();
    for key in names {
        let (change, name, ov, nv, ob, nb) = match (a.get(key), b.get(key)) {
            (Some(x), None) => (Change::Removed, &x.0, Some(&x.1), None, x.2, 0),
            (None, Some(y)) => (Change::Added, &y.0, None, Some(&y.1), 0, y.2),
            (Some(x), Some(y)) => {
                let c = match compare(&x.1, &y.1) {
                    std::cmp::Ordering::Less => Change::Upgraded,
                    std::cmp::Ordering::Greater => Change::Downgraded,
                    std::cmp::Ordering::Equal if x.3 != y.3 => Change::Changed,
                    std::cmp::Ordering::Equal => Change::Unchanged,
                };
                (c, &y.0, Some(&x.1), Some(&y.1), x.2, y.2)
            }
            (None, None) => unreachable!("name comes from one of the maps"),
        };
        dists.push(DistChange {
            name: name.clone(),
            change,
            old_version: ov.cloned(),
            new_version: nv.cloned(),
            old_bytes: ob,
            new_bytes: nb,
            delta_bytes: nb as i64 - ob as i64,
            reason: None,
        });
    }
    dists.sort_by(|x, y| {
        (x.change == Change::Unchanged)
            .cmp(&(y.change == Change::Unchanged))
            .then(x.name.to_lowercase().cmp(&y.name.to_lowercase()))
    });
    let (ou, nu) = (old.unzipped_bytes(), new.unzipped_bytes());
    Diff {
        old: old.path.display().to_string(),
        new: new.path.display().to_string(),
        old_unzipped_bytes: ou,
        new_unzipped_bytes: nu,
        delta_bytes: nu as i64 - ou as i64,
        old_zip_bytes: old.zip_bytes,
        new_zip_bytes: new.zip_bytes,
        distributions: dists,
    }
}

/// Fills in [`DistChange::reason`] from what the builds recorded (`old`/`new`: the manifest
/// of each side, when it is a pylayer-built zip) and what pylayer knows of every layer.
pub fn explain(d: &mut Diff, old: Option<&Manifest>, new: Option<&Manifest>) {
    for c in &mut d.distributions {
        if c.change == Change::Unchanged {
            continue;
        }
        let key = crate::wheel_name::normalize_name(&c.name);
        let recorded = |m: Option<&Manifest>| -> Option<String> {
            let m = m?;
            let not_taken = m.held_back.iter().chain(&m.differs).find(|n| {
                n.name == key
                    && (Some(&n.not_taken) == c.old_version.as_ref()
                        || Some(&n.not_taken) == c.new_version.as_ref())
            });
            if let Some(n) = not_taken {
                return Some(format!("{} not taken: {}", n.not_taken, n.reason));
            }
            m.notes
                .iter()
                .find(|note| {
                    note.starts_with("left out")
                        && note
                            .split(|ch: char| {
                                !(ch.is_alphanumeric() || ch == '-' || ch == '_' || ch == '.')
                            })
                            .any(|w| crate::wheel_name::normalize_name(w) == key)
                })
                .cloned()
        };
        c.reason = recorded(new).or_else(|| recorded(old)).or_else(|| {
            let one_side = c.old_version.is_none() || c.new_version.is_none();
            if !one_side {
                None
            } else if crate::domain::INSTALLER_TOOLING.contains(&key.as_str()) {
                Some("installer tooling: never part of a layer".to_string())
            } else if crate::domain::runtime_provides_distribution(&key) {
                Some(
                    "the Lambda runtime ships it: left out with runtime-provided = false or --exclude"
                        .to_string(),
                )
            } else {
                None
            }
        });
    }
}

pub fn diff(old: &Path, new: &Path) -> Result<Diff> {
    Ok(diff_layers(&Layer::read(old)?, &Layer::read(new)?))
}

pub fn render(d: &Diff, all: bool) -> String {
    let mut out = format!("{} → {}\n", d.old, d.new);
    let rows: Vec<Vec<String>> = d
        .distributions
        .iter()
        .filter(|c| all || c.change != Change::Unchanged)
        .map(|c| {
            let version = match (&c.old_version, &c.new_version) {
                (Some(o), Some(n)) if o != n => format!("{o} → {n}"),
                (Some(o), _) => o.clone(),
                (None, Some(n)) => n.clone(),
                (None, None) => String::new(),
            };
            vec![
                c.change.as_str().to_string(),
                c.name.clone(),
                version,
                human_bytes(c.old_bytes),
                human_bytes(c.new_bytes),
                crate::format::signed_bytes(c.delta_bytes),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("no distribution changed\n");
    } else {
        out.push_str(&crate::format::table(
            &[
                "change",
                "distribution",
                "version",
                "before",
                "after",
                "delta",
            ],
            &rows,
            &[3, 4, 5],
        ));
    }
    for c in d.distributions.iter().filter(|c| c.reason.is_some()) {
        out.push_str(&format!(
            "  {}: {}\n",
            c.name,
            c.reason.as_deref().unwrap_or_default()
        ));
    }
    let unchanged = d
        .distributions
        .iter()
        .filter(|c| c.change == Change::Unchanged)
        .count();
    if !all && unchanged > 0 {
        out.push_str(&format!("({unchanged} unchanged; --all lists them)\n"));
    }
    out.push_str(&format!(
        "\nunzipped  {} → {} ({})\nzip       {} → {} ({})\n",
        human_bytes(d.old_unzipped_bytes),
        human_bytes(d.new_unzipped_bytes),
        crate::format::signed_bytes(d.delta_bytes),
        human_bytes(d.old_zip_bytes),
        human_bytes(d.new_zip_bytes),
        crate::format::signed_bytes(d.new_zip_bytes as i64 - d.old_zip_bytes as i64)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep440_order() {
        use std::cmp::Ordering::*;
        assert_eq!(compare("2.10.0", "2.9.1"), Greater);
        assert_eq!(compare("1.0rc1", "1.0"), Less);
        assert_eq!(compare("1.0.post1", "1.0"), Greater);
        assert_eq!(compare("1.0", "1.0.0"), Equal);
    }
}
