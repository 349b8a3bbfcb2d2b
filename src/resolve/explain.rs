//! Turning PubGrub's derivation tree into an explanation a Python developer can act on:
//! the chain of conflicting requirements, then for every package whose newer releases were
//! turned down, why (source only, wrong platform, glibc, Python version, yanked, hash…).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use pubgrub::{DefaultStringReporter, DerivationTree, Derived, External, Ranges, Reporter, Term};
use uv_normalize::PackageName;
use uv_pep440::Version;

use super::candidates::Rejections;
use super::provider::{Pkg, Provider};
use crate::target::Target;

type Tree = DerivationTree<Pkg, Ranges<Version>, String>;

/// Visits every node of the derivation once, without recursion: after a long backtrack it
/// is thousands of levels deep, and it shares subtrees.
fn walk<'a>(tree: &'a Tree, mut visit: impl FnMut(&'a Tree)) {
    let mut seen: HashSet<*const Tree> = HashSet::new();
    let mut stack: Vec<&Tree> = vec![tree];
    while let Some(t) = stack.pop() {
        visit(t);
        if let DerivationTree::Derived(d) = t {
            for c in [&d.cause1, &d.cause2] {
                if seen.insert(Arc::as_ptr(c)) {
                    stack.push(c);
                }
            }
        }
    }
}

/// Every package the derivation mentions.
fn collect(tree: &Tree, out: &mut BTreeSet<PackageName>) {
    walk(tree, |t| match t {
        DerivationTree::External(e) => {
            let pkgs: Vec<&Pkg> = match e {
                External::NotRoot(p, _)
                | External::NoVersions(p, _)
                | External::Custom(p, _, _) => vec![p],
                External::FromDependencyOf(p, _, d, _) => vec![p, d],
            };
            out.extend(pkgs.into_iter().filter_map(|p| p.name().cloned()));
        }
        DerivationTree::Derived(d) => {
            out.extend(d.terms.keys().filter_map(|p| p.name().cloned()));
        }
    });
}

/// Rewrites PubGrub's range notation into what Python users write: the local-version
/// sentinels inside ranges (`>=1.0, <1.0+`) become `==1.0`.
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(">=") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let v_end = after.find([',', ' ', '\n', '|']).unwrap_or(after.len());
        let v = &after[..v_end];
        let sentinel = format!("{v}+");
        let pinned = [", <=", ", <"].iter().find_map(|op| {
            let tail = after[v_end..].strip_prefix(op)?;
            tail.strip_prefix(sentinel.as_str())
        });
        match pinned {
            Some(tail) => {
                let end = tail.find([' ', ',', '\n', '|']).unwrap_or(tail.len());
                out.push_str("==");
                out.push_str(v);
                rest = &tail[end..];
            }
            None => {
                out.push_str(">=");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("your requirements 0 depends", "your requirements depend")
        .replace("your requirements 0", "your requirements")
        .replace(
            "your requirements is forbidden",
            "they cannot all be satisfied",
        )
}

/// Shrinks every range of the tree to the releases it holds. The solver records a release's
/// dependencies for the whole gap around it (`>1.2, <1.4` for 1.3); people want `1.3`.
fn narrow(tree: &Tree, provider: &Provider) -> Tree {
    narrow_shared(tree, provider, &mut HashMap::new())
}

/// `narrow`, rewriting each shared subtree once (the derivation is a DAG; walking it as a tree
/// can take exponential time).
fn narrow_shared(
    tree: &Tree,
    provider: &Provider,
    done: &mut HashMap<*const Tree, Arc<Tree>>,
) -> Tree {
    let r = |p: &Pkg, vs: &Ranges<Version>| match p.name().and_then(|n| provider.rejections(n)) {
        Some(c) => vs.narrow_versions(&c.ascending),
        None => vs.clone(),
    };
    let child = |c: &Arc<Tree>, done: &mut HashMap<*const Tree, Arc<Tree>>| {
        let key = Arc::as_ptr(c);
        if let Some(n) = done.get(&key) {
            return n.clone();
        }
        let n = Arc::new(narrow_shared(c, provider, done));
        done.insert(key, n.clone());
        n
    };
    match tree {
        DerivationTree::External(e) => DerivationTree::External(match e {
            External::NotRoot(p, v) => External::NotRoot(p.clone(), v.clone()),
            External::NoVersions(p, vs) => External::NoVersions(p.clone(), r(p, vs)),
            External::FromDependencyOf(p, vs, d, dvs) => {
                External::FromDependencyOf(p.clone(), r(p, vs), d.clone(), dvs.clone())
            }
            External::Custom(p, vs, m) => External::Custom(p.clone(), r(p, vs), m.clone()),
        }),
        DerivationTree::Derived(d) => {
            let cause1 = child(&d.cause1, done);
            let cause2 = child(&d.cause2, done);
            DerivationTree::Derived(Derived {
                terms: d
                    .terms
                    .iter()
                    .map(|(p, t)| {
                        let t = match t {
                            Term::Positive(vs) => Term::Positive(r(p, vs)),
                            Term::Negative(vs) => Term::Negative(r(p, vs)),
                        };
                        (p.clone(), t)
                    })
                    .collect(),
                shared_id: d.shared_id,
                cause1,
                cause2,
            })
        }
    }
}

/// The facts at the leaves of a derivation: who depends on what, and what is unusable.
#[derive(Default)]
struct Facts {
    /// (dependent, its versions, dependency, the dependency's range)
    deps: Vec<(Pkg, Ranges<Version>, Pkg, Ranges<Version>)>,
    /// (package, versions, reason) for versions unusable for reasons outside PubGrub.
    custom: Vec<(Pkg, Ranges<Version>, String)>,
}

fn facts(tree: &Tree, out: &mut Facts) {
    walk(tree, |t| match t {
        DerivationTree::External(External::FromDependencyOf(p, vs, d, dvs)) => {
            out.deps
                .push((p.clone(), vs.clone(), d.clone(), dvs.clone()))
        }
        DerivationTree::External(External::Custom(p, vs, m)) => {
            out.custom.push((p.clone(), vs.clone(), m.clone()))
        }
        _ => {}
    });
}

/// The versions of a dependent concerned, and the union of what they need of a dependency.
type Blame = (Ranges<Version>, Ranges<Version>);

/// The conflict in one sentence, when it has the common shape "the releases of X all need a
/// Y that your requirements rule out": "every botocore release needs python-dateutil >=2.1,
/// <3.0.0, and you pinned python-dateutil==4.0.0 (boto3 needs botocore)".
fn headline(tree: &Tree, provider: &Provider) -> Option<String> {
    let mut f = Facts::default();
    facts(tree, &mut f);
    let root_needs: BTreeMap<&Pkg, &Ranges<Version>> = f
        .deps
        .iter()
        .filter(|(p, ..)| *p == Pkg::Root)
        .map(|(_, _, d, dvs)| (d, dvs))
        .collect();
    // For every (dependent, dependency the user rules out): the dependent's versions
    // concerned and the union of what they need.
    let mut blamed: BTreeMap<(&Pkg, &Pkg), Blame> = BTreeMap::new();
    for (p, vs, d, dvs) in &f.deps {
        if *p == Pkg::Root {
            continue;
        }
        let Some(root_range) = root_needs.get(d) else {
            continue;
        };
        if !dvs.is_disjoint(root_range) {
            continue;
        }
        let e = blamed
            .entry((p, d))
            .or_insert_with(|| (Ranges::empty(), Ranges::empty()));
        e.0 = e.0.union(vs);
        e.1 = e.1.union(dvs);
    }
    // How many existing releases of `name` the facts cover with `versions`, and how many
    // more are unusable (custom incompatibilities).
    let coverage = |name: &PackageName, versions: &Ranges<Version>| {
        let existing = provider.rejections(name).unwrap_or_default();
        let existing = &existing.ascending;
        let covered = existing.iter().filter(|v| versions.contains(v)).count();
        let unusable = existing
            .iter()
            .filter(|v| !versions.contains(v))
            .filter(|v| {
                f.custom
                    .iter()
                    .any(|(cp, cvs, _)| cp.name() == Some(name) && cvs.contains(v))
            })
            .count();
        (covered, unusable, existing.clone())
    };
    let every = |name: &PackageName, unusable: usize| {
        let aside = match unusable {
            0 => String::new(),
            1 => " (but one, which cannot be used)".to_string(),
            n => format!(" (but {n}, which cannot be used)"),
        };
        format!("every {name} release{aside}")
    };
    let mut best: Option<(usize, String)> = None;
    for ((p, d), (versions, needs)) in &blamed {
        let (Some(name), Some(dep), Some(root_range)) = (p.name(), d.name(), root_needs.get(d))
        else {
            continue;
        };
        let (covered, unusable, existing) = coverage(name, versions);
        if covered == 0 {
            continue;
        }
        let pinned = root_range
            .bounding_range()
            .and_then(|(lo, hi)| match (lo, hi) {
                (
                    std::ops::Bound::Included(lo),
                    std::ops::Bound::Included(hi) | std::ops::Bound::Excluded(hi),
                ) if hi.clone().without_local() == *lo => Some(lo.clone()),
                _ => None,
            });
        let user = match pinned {
            Some(v) => format!("you pinned {dep}=={v}"),
            None => format!("your requirements need {dep} {root_range}"),
        };
        // The direct requirement that brought `p` in, when `p` is not one itself.
        let via = (!root_needs.contains_key(p))
            .then(|| {
                f.deps
                    .iter()
                    .find(|(q, _, dd, _)| dd == *p && root_needs.contains_key(q))
                    .map(|(q, ..)| q)
            })
            .flatten();
        let sentence = if covered + unusable == existing.len() {
            let via = via
                .and_then(Pkg::name)
                .map(|q| format!(" ({q} needs {name})"))
                .unwrap_or_default();
            format!(
                "{} needs {dep} {needs}, and {user}{via}",
                every(name, unusable)
            )
        } else if let Some(q) = via.and_then(Pkg::name)
            && let q_versions = f
                .deps
                .iter()
                .filter(|(qq, _, dd, _)| qq.name() == Some(q) && dd == *p)
                .fold(Ranges::empty(), |acc, (_, vs, ..)| acc.union(vs))
            && let (q_covered, q_unusable, q_existing) = coverage(q, &q_versions)
            && q_covered + q_unusable == q_existing.len()
        {
            format!(
                "{} needs a {name} release that needs {dep} {needs}, and {user}",
                every(q, q_unusable)
            )
        } else {
            let inside: Vec<&Version> = existing.iter().filter(|v| versions.contains(v)).collect();
            let span = match (inside.first(), inside.last()) {
                (Some(lo), Some(hi)) if lo != hi => {
                    format!("{covered} {name} releases ({lo} … {hi}) need")
                }
                (Some(v), _) => format!("{name} {v} needs"),
                _ => continue,
            };
            format!("{span} {dep} {needs}, and {user}")
        };
        let sentence = tidy(&sentence);
        if best.as_ref().is_none_or(|(n, _)| covered > *n) {
            best = Some((covered, sentence));
        }
    }
    best.map(|(_, s)| s)
}

pub fn explain(tree: &Tree, provider: &Provider) -> String {
    let tree = &narrow(tree, provider);
    let mut msg = format!(
        "no set of wheels satisfies the requirements for {}",
        provider.target.label()
    );
    let mut steps = 0usize;
    walk(tree, |_| steps += 1);
    match headline(tree, provider) {
        // PubGrub's report of a derivation this long repeats ever-growing version sets on
        // every line (megabytes of text, seconds to build); the sentence sums it up.
        Some(h) if steps > MAX_REPORTED_STEPS => msg.push_str(&format!(
            ": {h}.\n  (PubGrub's derivation has {steps} steps; not shown)"
        )),
        Some(h) => msg.push_str(&format!(": {h}.\n\nin detail:\n  ")),
        None => msg.push_str(":\n  "),
    }
    if !msg.ends_with("not shown)") {
        msg.push_str(&shorten(&tidy(&DefaultStringReporter::report(tree))).replace('\n', "\n  "));
    }
    let mut names = BTreeSet::new();
    collect(tree, &mut names);
    let mut pins = std::collections::HashMap::new();
    pinned(tree, &mut pins);
    let notes: Vec<String> = names
        .iter()
        .filter_map(|n| package_note(n, provider, pins.get(n)))
        .collect();
    let mut notes = notes;
    notes.extend(unknown_roots(&names, provider));
    notes.extend(unusable_notes(tree, provider));
    notes.extend(build_notes(provider));
    if !notes.is_empty() {
        msg.push_str("\n\nwhy:");
        for n in notes {
            msg.push_str("\n  - ");
            msg.push_str(&n.replace('\n', "\n    "));
        }
    }
    msg
}

/// At most this many other unknown names are looked for and named.
const MAX_UNKNOWN_NAMED: usize = 10;

/// The user's own requirements that no source knows, besides those the derivation names:
/// PubGrub stops at the first, and a requirements file with three typos should be fixed in
/// one go, not in three runs. Their pages were read ahead with the rest, so looking costs
/// no extra round trip; it stops after [`MAX_UNKNOWN_NAMED`] names (a generated file may
/// hold thousands).
fn unknown_roots(named: &BTreeSet<PackageName>, provider: &Provider) -> Option<String> {
    let mut unknown = Vec::new();
    let mut more = false;
    let mut seen = BTreeSet::new();
    for name in provider.root_names() {
        if named.contains(name) || !seen.insert(name) {
            continue;
        }
        if provider.candidates(name).is_ok_and(|c| c.not_found) {
            if unknown.len() == MAX_UNKNOWN_NAMED {
                more = true;
                break;
            }
            unknown.push(name.to_string());
        }
    }
    if unknown.is_empty() {
        return None;
    }
    let (list, tail) = (unknown.join(", "), if more { ", and more" } else { "" });
    Some(format!(
        "also not found on any configured index or --find-links source: {list}{tail} \
         (check their spelling and the index URL)"
    ))
}

/// Why source distributions the search tried did not build, with what would work: the
/// nearest release with a wheel for the target, a wheel built on Amazon Linux, a container.
fn build_notes(provider: &Provider) -> Vec<String> {
    use crate::source_build::BuildError;
    let t = &provider.target;
    let failures = provider.build_failures.borrow();
    let mut out = Vec::new();
    // The newest release tried of each package speaks for the rest.
    let mut newest: BTreeMap<&PackageName, (&Version, &BuildError, usize)> = BTreeMap::new();
    for ((name, version), err) in failures.iter() {
        let e = newest.entry(name).or_insert((version, err, 0));
        e.2 += 1;
        if version > e.0 {
            e.0 = version;
            e.1 = err;
        }
    }
    for (name, (version, err, count)) in newest {
        let others = if count > 1 {
            format!(" (and {} other releases built)", count - 1)
        } else {
            String::new()
        };
        let nearest = provider.rejections(name).and_then(|c| {
            let with_wheel: Vec<&Version> = c
                .versions
                .iter()
                .filter(|c| c.has_wheel)
                .map(|c| &c.version)
                .collect();
            let older = with_wheel.iter().filter(|v| **v < version).max().copied();
            let newer = with_wheel.iter().filter(|v| **v > version).min().copied();
            older.or(newer).cloned()
        });
        // What works, best first: a release with a wheel, then a wheel built elsewhere.
        let (release, none) = match &nearest {
            Some(v) => (
                format!(
                    "`{name}=={v}` (the nearest release with a wheel for {}); or ",
                    t.label()
                ),
                String::new(),
            ),
            None => (
                String::new(),
                format!(" No release of {name} has a wheel for {}.", t.label()),
            ),
        };
        let note = match err {
            BuildError::NeedsCompiling { detail, .. } => format!(
                "{name} {version}{others}: no wheel for linux/{} {}, and its source distribution needs compiling ({detail}); \
                 compiled code in a layer must be built for Lambda's glibc, which a build on this machine cannot promise \
                 (its older source-only releases are not tried).{none}\n\
                 what works: {release}a wheel built on Amazon Linux (e.g. in the AWS SAM build image \
                 public.ecr.aws/sam/build-{}) passed with --find-links DIR; or building the layer in such a container",
                t.arch.machine(),
                t.cpython_tag(),
                t.runtime_name()
            ),
            BuildError::Failed { log, .. } => format!(
                "{name} {version}{others}: building its source distribution failed (its older source-only releases are not tried); the backend's output ends with:\n{log}\n\
                 what works: {release}a wheel of {name} passed with --find-links DIR"
            ),
            BuildError::NoInterpreter(m) | BuildError::Other(m) => format!(
                "{name} {version}{others}: its source distribution cannot be built (its older source-only releases are not tried): {m}\n\
                 what works: {release}a wheel of {name} passed with --find-links DIR"
            ),
        };
        out.push(note);
    }
    out
}

/// Above this many nodes, PubGrub's derivation is not printed when a one-sentence summary
/// exists.
const MAX_REPORTED_STEPS: usize = 2000;

/// Lines of PubGrub's derivation kept at each end of a long one.
const DETAIL_LINES: usize = 12;

/// Keeps the first and last lines of a derivation that a long backtrack made hundreds of
/// lines long (one per boto3 release): the end says how it closes, the start how it opens.
fn shorten(report: &str) -> String {
    let lines: Vec<&str> = report.lines().collect();
    if lines.len() <= 2 * DETAIL_LINES + 1 {
        return report.to_string();
    }
    let skipped = lines.len() - 2 * DETAIL_LINES;
    format!(
        "{}\n… ({skipped} more steps of the same kind) …\n{}",
        lines[..DETAIL_LINES].join("\n"),
        lines[lines.len() - DETAIL_LINES..].join("\n")
    )
}

/// Releases left out for unusable metadata that the derivation relies on.
fn unusable_notes(tree: &Tree, provider: &Provider) -> Vec<String> {
    let mut f = Facts::default();
    facts(tree, &mut f);
    provider
        .unusable
        .borrow()
        .values()
        .filter(|u| {
            f.custom
                .iter()
                .any(|(p, vs, _)| p.name() == Some(&u.name) && vs.contains(&u.version))
        })
        .map(|u| {
            format!(
                "{} {} was left out: its metadata ({}) cannot be used: {}",
                u.name, u.version, u.filename, u.reason
            )
        })
        .collect()
}

/// Versions pinned exactly (`==V`, a range from V to V's local versions) that had no
/// usable release: these deserve a suggestion of the nearest usable one.
fn pinned(tree: &Tree, out: &mut std::collections::HashMap<PackageName, Version>) {
    walk(tree, |t| {
        if let DerivationTree::External(External::NoVersions(p, range)) = t
            && let (Some(n), Some((lo, hi))) = (p.name(), range.bounding_range())
        {
            let lo = match lo {
                std::ops::Bound::Included(v) => Some(v),
                _ => None,
            };
            let hi = match hi {
                std::ops::Bound::Included(v) | std::ops::Bound::Excluded(v) => Some(v),
                _ => None,
            };
            if let (Some(lo), Some(hi)) = (lo, hi)
                && hi.clone().without_local() == *lo
            {
                out.insert(n.clone(), lo.clone());
            }
        }
    });
}

/// The glibc minor a manylinux platform tag needs.
fn manylinux_glibc(tag: &str) -> Option<u16> {
    if let Some(rest) = tag.split("manylinux_2_").nth(1) {
        return rest.split('_').next()?.parse().ok();
    }
    crate::domain::MANYLINUX_ALIASES
        .iter()
        .find(|(a, _)| tag.contains(&format!("{a}_")))
        .map(|(_, m)| *m)
}

/// One reason a version is unusable, the most telling first.
pub(super) fn reason(
    r: &Rejections,
    usable_yanked: bool,
    t: &Target,
    hash_origin: Option<&str>,
    building_off: bool,
) -> Option<String> {
    let source_only = if building_off {
        "it would need building from source, which is off (--no-build or --only-binary): \
         without that option pylayer builds pure-Python source distributions"
    } else {
        "it cannot be built for this target"
    };
    let rt = t.runtime();
    if !r.requires_python.is_empty() {
        return Some(format!(
            "requires Python {} (the runtime is {})",
            r.requires_python[0],
            t.runtime_name()
        ));
    }
    if !r.wrong_platform.is_empty() {
        // Wheels for this machine and interpreter that only a newer glibc could load.
        let cp = t.cpython_tag();
        let newer_glibc = r
            .wrong_platform
            .iter()
            .filter(|tag| {
                tag.contains(t.arch.machine())
                    && (tag.contains(&cp) || tag.contains("abi3") || tag.contains("py3"))
            })
            .filter_map(|tag| {
                tag.split('-')
                    .nth(2)
                    .and_then(|p| p.split('.').filter_map(manylinux_glibc).min())
            })
            .min();
        if let Some(needed) = newer_glibc.filter(|n| *n > rt.glibc.1) {
            return Some(format!(
                "its {cp} wheels need glibc 2.{needed} (manylinux_2_{needed}); {} runs on {} with glibc {}.{}",
                t.runtime_name(),
                rt.os,
                rt.glibc.0,
                rt.glibc.1
            ));
        }
        let mut pythons: Vec<&str> = r
            .wrong_platform
            .iter()
            .filter_map(|tag| tag.split('-').next())
            .collect();
        pythons.sort();
        pythons.dedup();
        let mut platforms: Vec<String> = r
            .wrong_platform
            .iter()
            .map(|tag| platform_family(tag))
            .collect();
        platforms.sort();
        platforms.dedup();
        let families = [format!("{} on {}", pythons.join("/"), platforms.join(", "))];
        return Some(format!(
            "no wheel for linux/{} {} (wheels only for {}){}",
            t.arch.machine(),
            t.cpython_tag(),
            families.join(", "),
            if r.sdists.is_empty() {
                String::new()
            } else {
                format!("; the source distribution: {source_only}")
            }
        ));
    }
    if !r.hash_mismatch.is_empty() {
        return Some(format!(
            "no file matches the --hash values given at {}",
            hash_origin.unwrap_or("the requirements")
        ));
    }
    if !r.yanked.is_empty() && !usable_yanked {
        let why = r
            .yanked
            .iter()
            .find(|y| !y.is_empty())
            .map(|y| format!(": {y}"))
            .unwrap_or_default();
        return Some(format!("yanked{why} (pin it with == to use it anyway)"));
    }
    if !r.sdists.is_empty() {
        return Some(format!(
            "no wheel for linux/{} {} — only a source distribution, {source_only}",
            t.arch.machine(),
            t.cpython_tag()
        ));
    }
    None
}

/// `cp313-cp313-macosx_11_0_arm64` → `macOS`; manylinux tags → `linux/<machine>`.
fn platform_family(tag: &str) -> String {
    let plat = tag.split('-').nth(2).unwrap_or("");

    if plat.contains("macosx") {
        "macOS".to_string()
    } else if plat.contains("win") {
        "Windows".to_string()
    } else if plat.contains("musllinux") {
        "musllinux".to_string()
    } else if plat.contains("manylinux") || plat.starts_with("linux") {
        let arch = ["x86_64", "aarch64", "i686", "ppc64le", "s390x", "armv7l"]
            .iter()
            .find(|a| plat.contains(*a))
            .copied()
            .unwrap_or("linux");
        format!("linux/{arch}")
    } else {
        plat.to_string()
    }
}

/// Explains why a package's newer releases, or all of them, cannot be used.
fn package_note(name: &PackageName, provider: &Provider, pin: Option<&Version>) -> Option<String> {
    let cands = provider.rejections(name)?;
    let t = &provider.target;
    if cands.not_found {
        return Some(format!(
            "{name} was not found on any configured index or --find-links source"
        ));
    }
    let newest_usable = cands
        .versions
        .iter()
        .find(|v| v.file.is_some())
        .map(|v| v.version.clone());
    // Group consecutive versions turned down for the same reason, newest first.
    let mut groups: Vec<(Version, Version, String)> = Vec::new();
    for (version, r) in cands.rejected.iter().rev() {
        if newest_usable.as_ref().is_some_and(|u| version <= u) {
            break;
        }
        let usable_yanked = cands
            .versions
            .iter()
            .any(|c| &c.version == version && c.file.is_some());
        let Some(why) = reason(
            r,
            usable_yanked,
            t,
            provider.hash_origins.get(name).map(String::as_str),
            !provider.may_build(name),
        ) else {
            continue;
        };
        match groups.last_mut() {
            Some((oldest, _, w)) if *w == why => *oldest = version.clone(),
            _ => groups.push((version.clone(), version.clone(), why)),
        }
    }
    if let Some(v) = pin {
        let usable: Vec<&Version> = cands
            .versions
            .iter()
            .filter(|c| c.file.is_some())
            .map(|c| &c.version)
            .collect();
        let why = match cands.rejected.get(v) {
            Some(r) => reason(
                r,
                false,
                t,
                provider.hash_origins.get(name).map(String::as_str),
                !provider.may_build(name),
            )
            .unwrap_or_else(|| "no usable wheel".into()),
            None => "no such release on the index".into(),
        };
        let older = usable.iter().filter(|u| **u < v).max();
        let newer = usable.iter().filter(|u| **u > v).min();
        let mut near = Vec::new();
        if let Some(o) = older {
            near.push(format!("{name}=={o} (older)"));
        }
        if let Some(n) = newer {
            near.push(format!("{name}=={n} (newer)"));
        }
        let suggestion = if near.is_empty() {
            format!("no release of {name} has a wheel for {}", t.label())
        } else {
            format!(
                "the nearest releases with a wheel for {}: {}",
                t.label(),
                near.join(", ")
            )
        };
        return Some(format!("{name}=={v}: {why}\n{suggestion}"));
    }
    if groups.is_empty() {
        return None;
    }
    let linux_machine = format!("linux/{}", t.arch.machine());
    let all_source_only = !provider.may_build(name)
        && newest_usable.is_none()
        && cands.rejected.values().any(|r| !r.sdists.is_empty())
        && cands.rejected.values().all(|r| {
            r.requires_python.is_empty()
                && r.wrong_platform
                    .iter()
                    .all(|w| platform_family(w) != linux_machine)
        });
    let mut lines = Vec::new();
    if all_source_only {
        lines.push(format!(
            "{name}: no wheel for linux/{} {} — it publishes only source \
             distributions, and building from source is off (--no-build or --only-binary): drop that \
             option to let pylayer build it if it is pure Python, build a wheel on Amazon Linux and \
             pass it with --find-links, or choose a package that ships manylinux wheels",
            t.arch.machine(),
            t.cpython_tag()
        ));
    }
    for (oldest, newest, why) in groups.iter().take(4) {
        let span = if oldest == newest {
            format!("{newest}")
        } else {
            format!("{oldest} … {newest}")
        };
        lines.push(format!("{name} {span}: {why}"));
    }
    if groups.len() > 4 {
        lines.push(format!(
            "(and {} older groups of releases)",
            groups.len() - 4
        ));
    }
    if let Some(u) = newest_usable {
        lines.push(format!(
            "{name} {u} is the newest release usable on {}",
            t.label()
        ));
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidies_pinned_ranges() {
        assert_eq!(
            tidy("numpy in >=2.3.1, <2.3.1+ and x"),
            "numpy in ==2.3.1 and x"
        );
        assert_eq!(tidy("a >=1.0, <2.0"), "a >=1.0, <2.0");
        assert_eq!(
            tidy("your requirements 0 depends on a"),
            "your requirements depend on a"
        );
    }

    #[test]
    fn long_derivations_keep_both_ends() {
        let long: Vec<String> = (0..100).map(|i| format!("step {i}")).collect();
        let short = shorten(&long.join("\n"));
        assert!(short.starts_with("step 0\n"));
        assert!(short.ends_with("step 99"));
        assert!(short.contains("76 more steps"));
        assert_eq!(short.lines().count(), 2 * DETAIL_LINES + 1);
        assert_eq!(shorten("a\nb"), "a\nb");
    }

    #[test]
    fn glibc_from_tags() {
        assert_eq!(manylinux_glibc("manylinux_2_28_x86_64"), Some(28));
        assert_eq!(manylinux_glibc("manylinux2014_x86_64"), Some(17));
        assert_eq!(manylinux_glibc("musllinux_1_2_x86_64"), None);
    }
}
