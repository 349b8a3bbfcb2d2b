//! `uv.lock` (version 1): the project's direct dependencies (its root packages, workspace
//! members included) as requirements, and every package locked at one version from an index as
//! an `==` constraint, so the layer gets the versions the team tested with.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use uv_pep508::MarkerTree;

use super::error::ProjectFileError;
use super::source::{Origin, Src, known_list, may_apply_on_lambda, push_known, read_text, select};
use super::toml_access::{self, DeTable, DeValue, Item};
use super::{ProjectOptions, Read};
use crate::textpos::TextPos;
use crate::wheel_name::normalize_name;

const UV_HINT: &str = "uv.lock is written by uv: regenerate it with `uv lock`";

struct UvPackage<'t> {
    name: String,
    written: String,
    version: Option<String>,
    origin: Origin,
    table: &'t DeTable<'t>,
    /// Where its `name` value is written: the line its pin is blamed on.
    name_pos: TextPos,
}

fn uv_origin(
    src: Src<'_>,
    source: Option<&Item<'_>>,
    owner: &str,
) -> Result<Origin, ProjectFileError> {
    let Some(source) = source else {
        return Ok(Origin::Registry);
    };
    let what = format!("source of `{owner}`");
    let source = src.table(source, &what)?;
    let get = |key: &str| -> Result<Option<String>, ProjectFileError> {
        Ok(src
            .opt_string(source, key, &format!("{what}.{key}"))?
            .map(str::to_string))
    };
    Ok(if source.contains_key("registry") {
        Origin::Registry
    } else if let Some(path) = get("editable")?.or(get("virtual")?).or(get("directory")?) {
        Origin::Local(path)
    } else if let Some(url) = get("git")? {
        Origin::Other(format!("the git repository {url}"))
    } else if let Some(url) = get("url")? {
        Origin::Other(format!("the URL {url}"))
    } else if let Some(path) = get("path")? {
        Origin::Other(format!("the local file {path}"))
    } else {
        let keys: Vec<&str> = source.keys().map(|k| k.get_ref().as_ref()).collect();
        Origin::Other(format!("a source with keys {}", keys.join(", ")))
    })
}

/// The list under `[package.SECTION].NAME` (NAME compared normalised), with its key as written.
fn named_list<'t>(
    src: Src<'_>,
    pkg: &UvPackage<'t>,
    section: &str,
    wanted: &str,
) -> Result<Option<(String, &'t Item<'t>)>, ProjectFileError> {
    let Some(table) = src.opt_table(
        pkg.table,
        section,
        &format!("{section} of `{}`", pkg.written),
    )?
    else {
        return Ok(None);
    };
    Ok(table
        .iter()
        .find(|(k, _)| normalize_name(k.get_ref()) == wanted)
        .map(|(k, v)| (k.get_ref().to_string(), v)))
}

/// The keys of `table[key]` when it is a table.
fn sub_keys(
    src: Src<'_>,
    table: &DeTable<'_>,
    key: &str,
    what: &str,
) -> Result<Vec<String>, ProjectFileError> {
    Ok(src
        .opt_table(table, key, what)?
        .iter()
        .flat_map(|t| t.keys())
        .map(|k| k.get_ref().to_string())
        .collect())
}

/// A list of dependency entries still to take.
struct Pending<'v> {
    list: &'v Item<'v>,
    marker: MarkerTree,
    owner: String,
}

pub(super) fn read(path: &Path, opts: &ProjectOptions) -> Result<Read, ProjectFileError> {
    let text = read_text(path)?;
    let src = Src::new(path, &text, UV_HINT);
    let root = src.parse_toml(UV_HINT)?;
    match root.get("version") {
        Some(item) if matches!(item.get_ref(), DeValue::Integer(i) if i.as_str() == "1") => {}
        Some(item) => {
            let found = match item.get_ref() {
                DeValue::Integer(i) => i.to_string(),
                other => toml_access::describe(other),
            };
            return Err(ProjectFileError::UnsupportedVersion {
                path: path.to_path_buf(),
                pos: Some(src.pos_of(item)),
                what: "uv.lock version",
                found,
                supported: "version 1",
                export: "`uv export --no-dev --no-emit-project -o requirements.txt`",
            });
        }
        None => {
            return Err(src.malformed(
                None,
                "no top-level `version`: this is not a uv.lock".to_string(),
                UV_HINT,
            ));
        }
    }
    let items: &[Item<'_>] = match root.get("package") {
        None => &[],
        Some(item) => src.array(item, "package")?,
    };
    let mut packages = Vec::new();
    for item in items {
        let entry = src.table(item, "[[package]]")?;
        let Some(name_item) = entry.get("name") else {
            return Err(src.malformed(
                Some(src.pos_of(item)),
                "a `[[package]]` has no `name`".to_string(),
                UV_HINT,
            ));
        };
        let written = src.string(name_item, "[[package]].name")?.to_string();
        packages.push(UvPackage {
            name: normalize_name(&written),
            version: src
                .opt_string(entry, "version", &format!("version of `{written}`"))?
                .map(str::to_string),
            origin: uv_origin(src, entry.get("source"), &written)?,
            table: entry,
            name_pos: src.pos_of(name_item),
            written,
        });
    }

    let members: Option<HashSet<String>> = match src.opt_table(&root, "manifest", "[manifest]")? {
        Some(manifest) => manifest
            .get("members")
            .map(|m| src.strings(m, "[manifest].members"))
            .transpose()?
            .map(|names| names.into_iter().map(|(n, _)| normalize_name(n)).collect()),
        None => None,
    };
    let roots: Vec<&UvPackage<'_>> = packages
        .iter()
        .filter(|p| match (&p.origin, &members) {
            (Origin::Local(_), Some(members)) => members.contains(&p.name),
            (Origin::Local(local), None) => local == "." || local.is_empty(),
            _ => false,
        })
        .collect();
    if roots.is_empty() {
        return Err(ProjectFileError::NoRoot {
            path: path.to_path_buf(),
        });
    }
    let root_names: HashSet<&str> = roots.iter().map(|p| p.name.as_str()).collect();

    // Extras and groups the roots define.
    let mut known_extras: Vec<String> = Vec::new();
    let mut known_groups: Vec<String> = Vec::new();
    for pkg in &roots {
        let owner = &pkg.written;
        let metadata = src.opt_table(pkg.table, "metadata", &format!("metadata of `{owner}`"))?;
        let what = format!("optional-dependencies of `{owner}`");
        for key in sub_keys(src, pkg.table, "optional-dependencies", &what)? {
            push_known(&mut known_extras, &key);
        }
        if let Some(metadata) = metadata {
            let what = format!("provides-extras of `{owner}`");
            for extra in src.opt_strings(metadata, "provides-extras", &what)? {
                push_known(&mut known_extras, &extra);
            }
            let what = format!("requires-dev of `{owner}`");
            for key in sub_keys(src, metadata, "requires-dev", &what)? {
                push_known(&mut known_groups, &key);
            }
        }
        let what = format!("dev-dependencies of `{owner}`");
        for key in sub_keys(src, pkg.table, "dev-dependencies", &what)? {
            push_known(&mut known_groups, &key);
        }
    }
    let extras: Vec<String> = select(&known_extras, &opts.extras, opts.all_extras, |extra| {
        ProjectFileError::UnknownExtra {
            path: path.to_path_buf(),
            extra: extra.to_string(),
            known: known_list("extras", &known_extras, "the project defines no extras"),
        }
    })?
    .into_iter()
    .map(|e| normalize_name(e))
    .collect();
    let groups: Vec<String> = select(&known_groups, &opts.groups, false, |group| {
        ProjectFileError::UnknownGroup {
            path: path.to_path_buf(),
            group: group.to_string(),
            known: known_list("groups", &known_groups, "the project defines no groups"),
        }
    })?
    .into_iter()
    .map(|g| normalize_name(g))
    .collect();

    let mut pending: Vec<Pending<'_>> = Vec::new();
    for pkg in &roots {
        if let Some(list) = pkg.table.get("dependencies") {
            pending.push(Pending {
                list,
                marker: MarkerTree::TRUE,
                owner: pkg.written.clone(),
            });
        }
        for (section, names) in [
            ("optional-dependencies", &extras),
            ("dev-dependencies", &groups),
        ] {
            for wanted in names {
                if let Some((_, list)) = named_list(src, pkg, section, wanted)? {
                    pending.push(Pending {
                        list,
                        marker: MarkerTree::TRUE,
                        owner: pkg.written.clone(),
                    });
                }
            }
        }
    }
    // Process in order, expanding extras of workspace members as they are met.
    pending.reverse();
    let mut expanded: HashSet<(String, String)> = HashSet::new();
    let mut requirements = Vec::new();
    while let Some(Pending {
        list,
        marker,
        owner,
    }) = pending.pop()
    {
        let what = format!("a dependency of `{owner}`");
        let entries = src.array(list, &format!("the dependencies of `{owner}`"))?;
        let mut nested: Vec<Pending<'_>> = Vec::new();
        for entry in entries {
            let dep_pos = src.pos_of(entry);
            let dep = src.table(entry, &what)?;
            let Some(name) = src.opt_string(dep, "name", &format!("{what}: name"))? else {
                return Err(src.malformed(
                    Some(dep_pos),
                    format!("a dependency of `{owner}` has no name"),
                    UV_HINT,
                ));
            };
            let dep_extras = src.opt_strings(dep, "extra", &format!("{name}.extra"))?;
            let version = src.opt_string(dep, "version", &format!("{name}.version"))?;
            let dep_marker = match dep.get("marker") {
                Some(item) => {
                    let text = src.string(item, &format!("{name}.marker"))?;
                    src.parse_marker(text, src.pos_of(item))?
                }
                None => MarkerTree::TRUE,
            }
            .and(marker);
            let normalized = normalize_name(name);
            if root_names.contains(normalized.as_str()) {
                // A workspace member: local code, already a root; only its extras add anything.
                let member = roots.iter().find(|r| r.name == normalized);
                for extra in &dep_extras {
                    let wanted = normalize_name(extra);
                    if let Some(member) = member
                        && expanded.insert((normalized.clone(), wanted.clone()))
                        && let Some((_, list)) =
                            named_list(src, member, "optional-dependencies", &wanted)?
                    {
                        nested.push(Pending {
                            list,
                            marker: dep_marker,
                            owner: member.written.clone(),
                        });
                    }
                }
                continue;
            }
            let locked = packages.iter().find(|p| {
                p.name == normalized && version.is_none_or(|v| p.version.as_deref() == Some(v))
            });
            match locked.map(|p| &p.origin) {
                None => {
                    return Err(src.malformed(
                        Some(dep_pos),
                        format!(
                            "`{owner}` depends on `{name}`, which has no [[package]] entry \
                             (the lock is inconsistent)"
                        ),
                        UV_HINT,
                    ));
                }
                Some(Origin::Registry) => {}
                Some(Origin::Local(local)) => {
                    if may_apply_on_lambda(dep_marker) {
                        return Err(src.not_from_index(
                            dep_pos,
                            name,
                            format!("the local project {local}"),
                        ));
                    }
                    continue;
                }
                Some(Origin::Other(origin)) => {
                    if may_apply_on_lambda(dep_marker) {
                        return Err(src.not_from_index(dep_pos, name, origin.clone()));
                    }
                    continue;
                }
            }
            let mut spec = name.to_string();
            if !dep_extras.is_empty() {
                spec.push_str(&format!("[{}]", dep_extras.join(",")));
            }
            if let Some(version) = version {
                spec.push_str(&format!("=={version}"));
            }
            let mut req = src.parse_requirement(&spec, dep_pos)?;
            req.marker = dep_marker;
            requirements.push(src.sourced(req, dep_pos));
        }
        nested.reverse();
        pending.extend(nested);
    }

    // Every package from an index locked at a single version pins that version.
    let mut by_name: BTreeMap<&str, Vec<&UvPackage<'_>>> = BTreeMap::new();
    for package in &packages {
        by_name.entry(&package.name).or_default().push(package);
    }
    let mut constraints = Vec::new();
    for (_, versions) in by_name {
        let [package] = versions.as_slice() else {
            continue;
        };
        let (Origin::Registry, Some(version)) = (&package.origin, &package.version) else {
            continue;
        };
        let req =
            src.parse_requirement(&format!("{}=={version}", package.written), package.name_pos)?;
        constraints.push(src.sourced(req, package.name_pos));
    }
    Ok(Read {
        requirements,
        constraints,
        files: vec![path.to_path_buf()],
    })
}
