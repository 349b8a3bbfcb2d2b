//! Turning PubGrub's derivation tree into an explanation a Python developer can act on:
//! the chain of conflicting requirements, then for every package with no usable version,
//! why its files were turned down (source only, wrong platform, glibc, Python version…).

use std::collections::BTreeSet;

use pubgrub::{DefaultStringReporter, DerivationTree, External, Ranges, Reporter};
use uv_normalize::PackageName;
use uv_pep440::Version;

use super::provider::{Pkg, Provider};

type Tree = DerivationTree<Pkg, Ranges<Version>, String>;

fn collect(tree: &Tree, out: &mut BTreeSet<PackageName>) {
    match tree {
        DerivationTree::External(External::NoVersions(p, _))
        | DerivationTree::External(External::Custom(p, _, _)) => {
            if let Some(n) = p.name() {
                out.insert(n.clone());
            }
        }
        DerivationTree::External(_) => {}
        DerivationTree::Derived(d) => {
            collect(&d.cause1, out);
            collect(&d.cause2, out);
        }
    }
}

/// Removes the local-version sentinels uv-pep440 uses inside ranges from the text.
fn tidy(text: &str) -> String {
    text.replace("+[max]", "")
        .replace("+[min]", "")
        .replace("your requirements 0 depends", "your requirements depend")
        .replace("your requirements 0", "your requirements")
}

pub fn explain(tree: &Tree, provider: &Provider) -> String {
    let mut msg = String::from("no set of wheels satisfies the requirements for ");
    msg.push_str(&provider.target.label());
    msg.push_str(":\n  ");
    msg.push_str(&tidy(&DefaultStringReporter::report(tree)).replace('\n', "\n  "));
    let mut names = BTreeSet::new();
    collect(tree, &mut names);
    let mut notes = Vec::new();
    for name in &names {
        if let Some(note) = package_note(name, provider) {
            notes.push(note);
        }
    }
    if !notes.is_empty() {
        msg.push_str("\n\nwhy:\n");
        for n in notes {
            msg.push_str("  - ");
            msg.push_str(&n);
            msg.push('\n');
        }
    }
    msg.trim_end().to_string()
}

/// Explains why a package offers no usable version for the target.
fn package_note(name: &PackageName, provider: &Provider) -> Option<String> {
    let cands = provider.rejections(name)?;
    let t = &provider.target;
    let rt = t.runtime();
    let platform = format!("linux/{} {}", t.arch.machine(), t.cpython_tag());
    if cands.not_found {
        return Some(format!(
            "{name} was not found on any configured index or --find-links source"
        ));
    }
    let has_wheel = cands
        .versions
        .iter()
        .any(|c| c.file.is_some() || c.yanked.is_some());
    let any_wheel_at_all = cands
        .rejected
        .values()
        .any(|r| !r.wrong_platform.is_empty() || !r.requires_python.is_empty())
        || has_wheel;
    if !any_wheel_at_all && cands.rejected.values().any(|r| !r.sdists.is_empty()) {
        let newest = cands
            .rejected
            .iter()
            .rev()
            .find(|(_, r)| !r.sdists.is_empty());
        let example = newest
            .and_then(|(_, r)| r.sdists.first().cloned())
            .unwrap_or_default();
        return Some(format!(
            "{name}: no wheel for {platform} — it publishes only source distributions ({example}), so it would need compiling; \
             pylayer installs wheels only. Build a wheel for {} on Amazon Linux, or pick a package that ships manylinux wheels",
            t.label()
        ));
    }
    let mut lines = Vec::new();
    for (version, r) in cands.rejected.iter().rev().take(3) {
        let mut why = Vec::new();
        if !r.wrong_platform.is_empty() {
            let too_new: Vec<&String> = r
                .wrong_platform
                .iter()
                .filter(|tag| {
                    tag.contains(t.arch.machine())
                        && tag.contains(&t.cpython_tag())
                        && tag.contains("manylinux")
                })
                .collect();
            if let Some(tag) = too_new.first() {
                why.push(format!(
                    "its {} wheel ({tag}) needs a newer glibc than {}'s {}.{}",
                    t.cpython_tag(),
                    rt.os,
                    rt.glibc.0,
                    rt.glibc.1
                ));
            } else {
                let shown: Vec<&str> = r
                    .wrong_platform
                    .iter()
                    .take(4)
                    .map(String::as_str)
                    .collect();
                why.push(format!(
                    "no wheel for {platform} (only {})",
                    shown.join(", ")
                ));
            }
        }
        if !r.requires_python.is_empty() {
            why.push(format!(
                "requires Python {} (runtime is {})",
                r.requires_python[0],
                t.runtime_name()
            ));
        }
        if !r.hash_mismatch.is_empty() {
            why.push("no file matches the --hash values given in the requirements".to_string());
        }
        if !r.yanked.is_empty()
            && !cands
                .versions
                .iter()
                .any(|c| &c.version == version && c.file.is_some())
        {
            why.push("yanked (pin it with == to use it anyway)".to_string());
        }
        if !r.sdists.is_empty() && why.is_empty() {
            why.push("source distribution only (would need compiling)".to_string());
        }
        if !why.is_empty() {
            lines.push(format!("{name} {version}: {}", why.join("; ")));
        }
    }
    if lines.is_empty() {
        None
    } else {
        Some(lines.join("\n  - "))
    }
}
