//! `poetry.lock` (Poetry 1.x and 2.x): with the project's pyproject.toml beside it, that file's
//! requirements plus every package locked at one version from an index as an `==`
//! constraint; without it, the locked packages of the chosen groups and extras as pinned
//! requirements with their hashes.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use uv_normalize::ExtraName;
use uv_pep508::MarkerTree;

use super::error::ProjectFileError;
use super::source::{
    Origin, Src, known_list, leading_name, may_apply_on_lambda, push_known, push_sha256, read_text,
    select,
};
use super::toml_access::{DeTable, DeValue, Item, WrongType};
use super::{ProjectOptions, Read, pyproject};
use crate::requirements::SourcedRequirement;
use crate::textpos::TextPos;
use crate::wheel_name::normalize_name;

const POETRY_HINT: &str = "poetry.lock is written by Poetry: regenerate it with `poetry lock`";

struct PoetryPackage<'t> {
    name: String,
    written: String,
    version: String,
    optional: bool,
    /// Poetry 2 `groups`, or Poetry ≤1.4 `category`; empty for Poetry 1.5–1.8.
    groups: Vec<String>,
    markers: Option<&'t Item<'t>>,
    origin: Origin,
    hashes: Vec<String>,
    /// Where its `name` value is written.
    pos: TextPos,
}

fn origin(src: Src<'_>, entry: &DeTable<'_>, owner: &str) -> Result<Origin, ProjectFileError> {
    let what = format!("[package.source] of `{owner}`");
    let Some(source) = src.opt_table(entry, "source", &what)? else {
        return Ok(Origin::Registry);
    };
    let kind = src
        .opt_string(source, "type", &format!("{what}.type"))?
        .unwrap_or("");
    let url = src
        .opt_string(source, "url", &format!("{what}.url"))?
        .unwrap_or("");
    Ok(match kind {
        "legacy" | "pypi" | "" => Origin::Registry,
        "git" => Origin::Other(format!("the git repository {url}")),
        "directory" => Origin::Other(format!("the local directory {url}")),
        "file" => Origin::Other(format!("the local file {url}")),
        "url" => Origin::Other(format!("the URL {url}")),
        other => Origin::Other(format!("a `{other}` source {url}")),
    })
}

/// The `sha256:` hashes of a package's `files` (Poetry ≥1.5), else of its entry in the
/// legacy `[metadata.files]` table.
fn hashes(
    src: Src<'_>,
    files: Option<&Item<'_>>,
    owner: &str,
) -> Result<Vec<String>, ProjectFileError> {
    let mut hashes = Vec::new();
    let Some(files) = files else {
        return Ok(hashes);
    };
    let what = format!("files of `{owner}`");
    for file in src.array(files, &what)? {
        let file = src.table(file, &format!("an entry of the {what}"))?;
        if let Some(hash) = src.opt_string(file, "hash", &format!("a hash of the {what}"))? {
            push_sha256(&mut hashes, hash);
        }
    }
    Ok(hashes)
}

pub(super) fn read(path: &Path, opts: &ProjectOptions) -> Result<Read, ProjectFileError> {
    let text = read_text(path)?;
    let src = Src::new(path, &text, POETRY_HINT);
    let root = src.parse_toml(POETRY_HINT)?;
    let items: &[Item<'_>] = match root.get("package") {
        None => &[],
        Some(item) => src.array(item, "package")?,
    };
    let legacy_files = match src.opt_table(&root, "metadata", "[metadata]")? {
        Some(metadata) => src.opt_table(metadata, "files", "[metadata.files]")?,
        None => None,
    };
    let mut packages = Vec::new();
    for item in items {
        let entry = src.table(item, "[[package]]")?;
        let (Some(name_item), Some(version_item)) = (entry.get("name"), entry.get("version"))
        else {
            return Err(src.malformed(
                Some(src.pos_of(item)),
                "a `[[package]]` has no `name` or `version`".to_string(),
                POETRY_HINT,
            ));
        };
        let written = src.string(name_item, "[[package]].name")?;
        let version = src.string(version_item, &format!("version of `{written}`"))?;
        let mut groups = src.opt_strings(entry, "groups", &format!("groups of `{written}`"))?;
        if let Some(category) =
            src.opt_string(entry, "category", &format!("category of `{written}`"))?
        {
            groups.push(category.to_string());
        }
        let files = entry
            .get("files")
            .or_else(|| legacy_files.and_then(|f| f.get(written)));
        packages.push(PoetryPackage {
            name: normalize_name(written),
            written: written.to_string(),
            version: version.to_string(),
            optional: src
                .opt_bool(entry, "optional", &format!("optional of `{written}`"))?
                .unwrap_or(false),
            groups,
            markers: entry.get("markers"),
            origin: origin(src, entry, written)?,
            hashes: hashes(src, files, written)?,
            pos: src.pos_of(name_item),
        });
    }

    let mut read = Read {
        files: vec![path.to_path_buf()],
        ..Read::default()
    };
    let pyproject_path = path.with_file_name("pyproject.toml");
    if pyproject_path.is_file() {
        let requirements = pyproject::read_beside(&pyproject_path, opts)?;
        for req in &requirements {
            let name = normalize_name(req.requirement.name.as_ref());
            let locked: Vec<&PoetryPackage<'_>> =
                packages.iter().filter(|p| p.name == name).collect();
            if let Some(Origin::Other(origin)) = locked.first().map(|p| &p.origin)
                && locked.iter().all(|p| p.origin != Origin::Registry)
                && may_apply_on_lambda(req.requirement.marker)
            {
                return Err(src.not_from_index(locked[0].pos, &locked[0].written, origin.clone()));
            }
        }
        read.requirements = requirements;
        read.files.push(pyproject_path);
    } else {
        read.requirements = pins(src, &root, &packages, opts)?;
    }

    let mut by_name: BTreeMap<&str, Vec<&PoetryPackage<'_>>> = BTreeMap::new();
    for package in &packages {
        by_name.entry(&package.name).or_default().push(package);
    }
    for (_, versions) in by_name {
        if let [package] = versions.as_slice()
            && package.origin == Origin::Registry
        {
            let req = src.parse_requirement(
                &format!("{}=={}", package.written, package.version),
                package.pos,
            )?;
            read.constraints.push(src.sourced(req, package.pos));
        }
    }
    Ok(read)
}

/// Without a pyproject.toml: every package of the main group (and chosen groups and extras)
/// as `name==version ; markers` with its hashes.
fn pins(
    src: Src<'_>,
    root: &DeTable<'_>,
    packages: &[PoetryPackage<'_>],
    opts: &ProjectOptions,
) -> Result<Vec<SourcedRequirement>, ProjectFileError> {
    if !packages.is_empty() && packages.iter().all(|p| p.groups.is_empty()) {
        return Err(ProjectFileError::PoetryLockWithoutGroups {
            path: src.path.to_path_buf(),
        });
    }
    let mut known_groups: Vec<String> = Vec::new();
    for group in packages.iter().flat_map(|p| &p.groups) {
        push_known(&mut known_groups, group);
    }
    let mut wanted_groups = vec!["main".to_string()];
    for group in select(&known_groups, &opts.groups, false, |group| {
        ProjectFileError::UnknownGroup {
            path: src.path.to_path_buf(),
            group: group.to_string(),
            known: known_list("groups", &known_groups, "the lock records no groups"),
        }
    })? {
        wanted_groups.push(normalize_name(group));
    }
    let extras_table = src.opt_table(root, "extras", "[extras]")?;
    let known_extras: Vec<String> = extras_table
        .iter()
        .flat_map(|t| t.keys())
        .map(|k| k.get_ref().to_string())
        .collect();
    let chosen = select(&known_extras, &opts.extras, opts.all_extras, |extra| {
        ProjectFileError::UnknownExtra {
            path: src.path.to_path_buf(),
            extra: extra.to_string(),
            known: known_list("extras", &known_extras, "the lock records no extras"),
        }
    })?;
    let mut extra_packages = HashSet::new();
    let mut extra_names = Vec::new();
    for extra in chosen {
        if let Ok(name) = ExtraName::from_str(extra) {
            extra_names.push(name);
        }
        if let Some(item) = extras_table.and_then(|t| t.get(extra.as_str())) {
            for (package, _) in src.strings(item, &format!("[extras].{extra}"))? {
                extra_packages.insert(leading_name(package));
            }
        }
    }

    let mut out = Vec::new();
    for package in packages {
        let in_groups: Vec<&String> = package
            .groups
            .iter()
            .filter(|g| wanted_groups.contains(&normalize_name(g)))
            .collect();
        if in_groups.is_empty() || (package.optional && !extra_packages.contains(&package.name)) {
            continue;
        }
        let marker = markers(src, package, &in_groups)?.simplify_extras(&extra_names);
        if let Origin::Other(origin) | Origin::Local(origin) = &package.origin {
            if may_apply_on_lambda(marker) {
                return Err(src.not_from_index(package.pos, &package.written, origin.clone()));
            }
            continue;
        }
        let mut req = src.parse_requirement(
            &format!("{}=={}", package.written, package.version),
            package.pos,
        )?;
        req.marker = marker;
        let mut sourced = src.sourced(req, package.pos);
        sourced.hashes = package.hashes.clone();
        out.push(sourced);
    }
    Ok(out)
}

/// A package's markers: one string, or (Poetry 2) a table by group, of which any of the
/// chosen groups' markers applies.
fn markers(
    src: Src<'_>,
    package: &PoetryPackage<'_>,
    in_groups: &[&String],
) -> Result<MarkerTree, ProjectFileError> {
    let Some(item) = package.markers else {
        return Ok(MarkerTree::TRUE);
    };
    match item.get_ref() {
        DeValue::String(m) => src.parse_marker(m, src.pos_of(item)),
        DeValue::Table(per_group) => {
            let mut marker = MarkerTree::FALSE;
            for group in in_groups {
                marker = marker.or(match per_group.get(group.as_str()) {
                    Some(m) => {
                        let what = format!("markers of `{}` for group `{group}`", package.written);
                        src.parse_marker(src.string(m, &what)?, src.pos_of(m))?
                    }
                    None => MarkerTree::TRUE,
                });
            }
            Ok(marker)
        }
        _ => Err(src.wrong_type_with(
            WrongType::of(item),
            &format!("markers of `{}`", package.written),
            "a string or a table",
            POETRY_HINT,
        )),
    }
}
