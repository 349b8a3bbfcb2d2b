//! `pyproject.toml`: PEP 621 `[project]` dependencies and optional dependencies, PEP 735
//! `[dependency-groups]`, uv's legacy `[tool.uv].dev-dependencies`, and Poetry's
//! `[tool.poetry.dependencies]`, groups and extras. Every requirement keeps the line it was
//! written on, and every error points at the offending value.

use std::collections::HashSet;
use std::path::Path;

use uv_pep508::{MarkerTree, Requirement};

use super::error::ProjectFileError;
use super::poetry_constraint::{poetry_specifiers, python_marker};
use super::source::{Src, known_list, leading_name, push_known, read_text, select};
use super::toml_access::{self, DeTable, DeValue, Item, WrongType};
use super::{ProjectOptions, Read};
use crate::requirements::SourcedRequirement;
use crate::textpos::TextPos;
use crate::wheel_name::normalize_name;

const SYNTAX_HINT: &str = "fix the syntax of pyproject.toml";
const HINT: &str = "fix pyproject.toml";

pub(super) fn read(path: &Path, opts: &ProjectOptions) -> Result<Read, ProjectFileError> {
    let text = read_text(path)?;
    let src = Src::new(path, &text, HINT);
    let root = src.parse_toml(SYNTAX_HINT)?;
    Ok(Read {
        requirements: requirements(src, &root, opts)?,
        constraints: Vec::new(),
        files: vec![path.to_path_buf()],
    })
}

/// Reads the pyproject.toml beside a lock file, for its declared requirements.
pub(super) fn read_beside(
    path: &Path,
    opts: &ProjectOptions,
) -> Result<Vec<SourcedRequirement>, ProjectFileError> {
    let text = read_text(path)?;
    let src = Src::new(path, &text, HINT);
    let root = src.parse_toml(SYNTAX_HINT)?;
    requirements(src, &root, opts)
}

/// The requirements a pyproject.toml declares for `opts`.
fn requirements(
    src: Src<'_>,
    root: &DeTable<'_>,
    opts: &ProjectOptions,
) -> Result<Vec<SourcedRequirement>, ProjectFileError> {
    let project = src.opt_table(root, "project", "[project]")?;
    let tool = src.opt_table(root, "tool", "[tool]")?;
    let poetry = match tool {
        Some(tool) => src.opt_table(tool, "poetry", "[tool.poetry]")?,
        None => None,
    };
    let poetry_deps = match poetry {
        Some(poetry) => src.opt_table(poetry, "dependencies", "[tool.poetry.dependencies]")?,
        None => None,
    };
    let dynamic = match project.and_then(|p| p.get("dynamic")) {
        Some(item) => src.strings(item, "[project].dynamic")?,
        None => Vec::new(),
    };
    let dynamic_at = |field: &str| {
        dynamic
            .iter()
            .find(|(d, _)| *d == field)
            .map(|(_, span)| src.pos(span.start))
    };
    let self_name = match project {
        Some(p) => src
            .opt_string(p, "name", "[project].name")?
            .map(normalize_name),
        None => None,
    };
    let optional = match project {
        Some(p) => src.opt_table(
            p,
            "optional-dependencies",
            "[project.optional-dependencies]",
        )?,
        None => None,
    };
    let mut collector = Collector {
        src,
        self_name,
        optional,
        expanding: Vec::new(),
        out: Vec::new(),
    };

    let use_poetry = match project {
        Some(_) if dynamic_at("dependencies").is_none() => false,
        Some(_) if poetry_deps.is_some() => true,
        Some(_) => {
            return Err(ProjectFileError::Dynamic {
                path: src.path.to_path_buf(),
                pos: dynamic_at("dependencies"),
                field: "dependencies".to_string(),
            });
        }
        None if poetry_deps.is_some() => true,
        None => {
            return Err(ProjectFileError::NoProject {
                path: src.path.to_path_buf(),
            });
        }
    };

    if let (true, Some(poetry), Some(deps)) = (use_poetry, poetry, poetry_deps) {
        let extras = src.opt_table(poetry, "extras", "[tool.poetry.extras]")?;
        let known: Vec<String> = keys(extras);
        let chosen = select(&known, &opts.extras, opts.all_extras, |extra| {
            ProjectFileError::UnknownExtra {
                path: src.path.to_path_buf(),
                extra: extra.to_string(),
                known: known_list(
                    "extras",
                    &known,
                    "the project defines no extras ([tool.poetry.extras] is empty or absent)",
                ),
            }
        })?;
        let mut selected = HashSet::new();
        for extra in chosen {
            if let Some(item) = extras.and_then(|e| e.get(extra.as_str())) {
                // Entries are package names, possibly followed by a constraint (`pkg (>=1)`).
                let names = src.strings(item, &format!("[tool.poetry.extras].{extra}"))?;
                selected.extend(names.iter().map(|(n, _)| leading_name(n)));
            }
        }
        collector.push_poetry(deps, "tool.poetry.dependencies", Some(&selected))?;
    } else if let Some(project) = project {
        if let Some(deps) = project.get("dependencies") {
            collector.push_list(deps, "[project].dependencies", MarkerTree::TRUE)?;
        }
        if opts.all_extras || !opts.extras.is_empty() {
            if optional.is_none()
                && let Some(pos) = dynamic_at("optional-dependencies")
            {
                return Err(ProjectFileError::Dynamic {
                    path: src.path.to_path_buf(),
                    pos: Some(pos),
                    field: "optional-dependencies".to_string(),
                });
            }
            let known = keys(optional);
            let chosen = select(&known, &opts.extras, opts.all_extras, |extra| {
                ProjectFileError::UnknownExtra {
                    path: src.path.to_path_buf(),
                    extra: extra.to_string(),
                    known: known_list(
                        "extras",
                        &known,
                        "the project defines no extras ([project.optional-dependencies] is empty \
                         or absent)",
                    ),
                }
            })?;
            for extra in chosen {
                collector.push_extra(extra, MarkerTree::TRUE)?;
            }
        }
    }

    if !opts.groups.is_empty() {
        push_groups(&mut collector, root, tool, poetry, opts)?;
    }
    Ok(collector.out)
}

/// The keys of a table, as written.
fn keys(table: Option<&DeTable<'_>>) -> Vec<String> {
    table
        .iter()
        .flat_map(|t| t.keys())
        .map(|k| k.get_ref().to_string())
        .collect()
}

/// `--group NAME`: PEP 735 groups, Poetry groups, and `dev` for the legacy dev-dependency
/// tables of Poetry 1.0–1.1 and uv.
fn push_groups(
    collector: &mut Collector<'_, '_>,
    root: &DeTable<'_>,
    tool: Option<&DeTable<'_>>,
    poetry: Option<&DeTable<'_>>,
    opts: &ProjectOptions,
) -> Result<(), ProjectFileError> {
    let src = collector.src;
    let groups = src.opt_table(root, "dependency-groups", "[dependency-groups]")?;
    let (poetry_groups, poetry_dev) = match poetry {
        Some(p) => (
            src.opt_table(p, "group", "[tool.poetry.group]")?,
            src.opt_table(p, "dev-dependencies", "[tool.poetry.dev-dependencies]")?,
        ),
        None => (None, None),
    };
    let uv_dev = match tool {
        Some(t) => src
            .opt_table(t, "uv", "[tool.uv]")?
            .and_then(|uv| uv.get("dev-dependencies")),
        None => None,
    };
    let mut known: Vec<String> = Vec::new();
    for name in keys(groups).iter().chain(&keys(poetry_groups)) {
        push_known(&mut known, name);
    }
    if poetry_dev.is_some() || uv_dev.is_some() {
        push_known(&mut known, "dev");
    }
    for group in &opts.groups {
        let wanted = normalize_name(group);
        let mut found = false;
        if let Some(groups) = groups
            && let Some(written) = groups
                .keys()
                .map(|k| k.get_ref().as_ref())
                .find(|k| normalize_name(k) == wanted)
        {
            found = true;
            collector.push_group(groups, written, &mut Vec::new())?;
        }
        if let Some(poetry_groups) = poetry_groups
            && let Some((written, item)) = poetry_groups
                .iter()
                .find(|(k, _)| normalize_name(k.get_ref()) == wanted)
        {
            let written = written.get_ref();
            let table = src.table(item, &format!("[tool.poetry.group.{written}]"))?;
            if let Some(deps) = src.opt_table(
                table,
                "dependencies",
                &format!("[tool.poetry.group.{written}.dependencies]"),
            )? {
                found = true;
                collector.push_poetry(
                    deps,
                    &format!("tool.poetry.group.{written}.dependencies"),
                    None,
                )?;
            }
        }
        if wanted == "dev" {
            if let Some(deps) = poetry_dev {
                found = true;
                collector.push_poetry(deps, "tool.poetry.dev-dependencies", None)?;
            }
            if let Some(deps) = uv_dev {
                found = true;
                collector.push_list(deps, "[tool.uv].dev-dependencies", MarkerTree::TRUE)?;
            }
        }
        if !found {
            return Err(ProjectFileError::UnknownGroup {
                path: src.path.to_path_buf(),
                group: group.clone(),
                known: known_list(
                    "groups",
                    &known,
                    "the project defines no groups ([dependency-groups] is empty or absent)",
                ),
            });
        }
    }
    Ok(())
}

/// Collects the requirements of a pyproject.toml, expanding references to the project itself
/// (`myproject[extra]`) into that extra's dependencies.
struct Collector<'s, 't> {
    src: Src<'s>,
    /// The project's normalised name, for recognising self-references.
    self_name: Option<String>,
    optional: Option<&'t DeTable<'t>>,
    /// Extras being expanded, to stop self-reference loops.
    expanding: Vec<String>,
    out: Vec<SourcedRequirement>,
}

impl Collector<'_, '_> {
    /// A list of PEP 508 strings (`[project].dependencies`, an extra, uv's dev-dependencies).
    fn push_list(
        &mut self,
        item: &Item<'_>,
        what: &str,
        marker: MarkerTree,
    ) -> Result<(), ProjectFileError> {
        let entries = toml_access::strings(item).map_err(|wrong| {
            self.src.wrong_type_with(
                wrong,
                what,
                "a list of requirement strings",
                "write it as [\"name>=1.0\", …]",
            )
        })?;
        for (text, span) in entries {
            self.push_one(text, self.src.pos(span.start), marker)?;
        }
        Ok(())
    }

    /// One PEP 508 string written at `pos`.
    fn push_one(
        &mut self,
        text: &str,
        pos: TextPos,
        marker: MarkerTree,
    ) -> Result<(), ProjectFileError> {
        let mut req = self.src.parse_requirement(text.trim(), pos)?;
        req.marker = req.marker.and(marker);
        if self.self_name.as_deref() == Some(normalize_name(req.name.as_ref()).as_str()) {
            // `myproject[extra]`: the project's own extra, not a package from the index.
            let extras: Vec<String> = req.extras.iter().map(ToString::to_string).collect();
            for extra in extras {
                self.push_extra(&extra, req.marker)?;
            }
            return Ok(());
        }
        self.src.check_direct_url(&req, pos)?;
        self.out.push(self.src.sourced(req, pos));
        Ok(())
    }

    fn push_extra(&mut self, extra: &str, marker: MarkerTree) -> Result<(), ProjectFileError> {
        let wanted = normalize_name(extra);
        let Some(optional) = self.optional else {
            return Ok(());
        };
        if self.expanding.contains(&wanted) {
            return Ok(());
        }
        let Some((written, list)) = optional
            .iter()
            .find(|(k, _)| normalize_name(k.get_ref()) == wanted)
        else {
            return Ok(());
        };
        self.expanding.push(wanted);
        let what = format!("[project.optional-dependencies].{}", written.get_ref());
        let result = self.push_list(list, &what, marker);
        self.expanding.pop();
        result
    }

    /// A PEP 735 group, following `{include-group = "…"}` entries.
    fn push_group(
        &mut self,
        groups: &DeTable<'_>,
        written: &str,
        stack: &mut Vec<String>,
    ) -> Result<(), ProjectFileError> {
        let src = self.src;
        let what = format!("[dependency-groups].{written}");
        let Some(item) = groups.get(written) else {
            return Ok(());
        };
        let entries = toml_access::array(item).map_err(|wrong| {
            src.wrong_type_with(
                wrong,
                &what,
                "a list",
                "write it as [\"name>=1.0\", {include-group = \"other\"}, …]",
            )
        })?;
        stack.push(written.to_string());
        for entry in entries {
            let pos = src.pos_of(entry);
            match entry.get_ref() {
                DeValue::String(text) => self.push_one(text, pos, MarkerTree::TRUE)?,
                DeValue::Table(table) => {
                    let Some(target) =
                        src.opt_string(table, "include-group", &format!("{what} include-group"))?
                    else {
                        return Err(src.malformed(
                            Some(pos),
                            format!(
                                "dependency group `{written}` has an entry that is neither a \
                                 requirement string nor {{include-group = \"NAME\"}}"
                            ),
                            "see PEP 735 for the format",
                        ));
                    };
                    let wanted = normalize_name(target);
                    let Some(target_written) = groups
                        .keys()
                        .map(|k| k.get_ref().as_ref())
                        .find(|k| normalize_name(k) == wanted)
                    else {
                        return Err(src.malformed(
                            Some(pos),
                            format!(
                                "dependency group `{written}` includes unknown group `{target}`"
                            ),
                            &known_list("groups", &keys(Some(groups)), "no groups are defined"),
                        ));
                    };
                    if let Some(at) = stack.iter().position(|g| normalize_name(g) == wanted) {
                        let mut cycle = stack[at..].to_vec();
                        cycle.push(target_written.to_string());
                        return Err(ProjectFileError::GroupCycle {
                            path: src.path.to_path_buf(),
                            pos: Some(pos),
                            group: target_written.to_string(),
                            cycle: cycle.join(" → "),
                        });
                    }
                    self.push_group(groups, target_written, stack)?;
                }
                _ => {
                    return Err(src.wrong_type_with(
                        WrongType::of(entry),
                        &format!("{what} entry"),
                        "a requirement string or {include-group = \"NAME\"}",
                        "see PEP 735 for the format",
                    ));
                }
            }
        }
        stack.pop();
        Ok(())
    }

    /// A Poetry dependency table; optional dependencies are taken only when their name is in
    /// `selected` (the packages of the chosen extras); `None` takes every entry (groups).
    /// Each requirement is placed on the line of its key.
    fn push_poetry(
        &mut self,
        table: &DeTable<'_>,
        header: &str,
        selected: Option<&HashSet<String>>,
    ) -> Result<(), ProjectFileError> {
        let src = self.src;
        for (key, spec) in table {
            let name = key.get_ref().as_ref();
            if name.eq_ignore_ascii_case("python") {
                continue;
            }
            let dep = PoetryDep {
                name,
                what: format!("[{header}].{name}"),
                pos: src.pos(key.span().start),
            };
            match spec.get_ref() {
                DeValue::Array(specs) => {
                    for spec in specs.iter() {
                        if let Some(req) = poetry_requirement(src, &dep, spec, selected)? {
                            self.out.push(src.sourced(req, dep.pos));
                        }
                    }
                }
                _ => {
                    if let Some(req) = poetry_requirement(src, &dep, spec, selected)? {
                        self.out.push(src.sourced(req, dep.pos));
                    }
                }
            }
        }
        Ok(())
    }
}

/// One key of a Poetry dependency table.
struct PoetryDep<'n> {
    name: &'n str,
    /// `[tool.poetry.dependencies].requests`, for messages.
    what: String,
    /// Where the key is written: the requirement's line.
    pos: TextPos,
}

const POETRY_DEP_HINT: &str =
    "write it as `name = \"^1.2\"` or `name = {version = \"^1.2\", extras = [\"…\"]}`";

/// `table[key]` of a Poetry dependency as a string, when present; `expected` and `hint` say
/// what the key takes.
fn string_field<'v>(
    src: Src<'_>,
    dep: &PoetryDep<'_>,
    table: &'v DeTable<'_>,
    key: &str,
    expected: &'static str,
    hint: &'static str,
) -> Result<Option<&'v str>, ProjectFileError> {
    table
        .get(key)
        .map(|item| {
            toml_access::string(item).map_err(|wrong| {
                src.wrong_type_with(wrong, &format!("{}.{key}", dep.what), expected, hint)
            })
        })
        .transpose()
}

/// Converts one Poetry dependency (`name = "^1.2"` or `name = {version = …, …}`).
fn poetry_requirement(
    src: Src<'_>,
    dep: &PoetryDep<'_>,
    spec: &Item<'_>,
    selected: Option<&HashSet<String>>,
) -> Result<Option<Requirement>, ProjectFileError> {
    let name = dep.name;
    let constraint_error =
        |constraint: &str, at: &Item<'_>, message: String| ProjectFileError::PoetryConstraint {
            path: src.path.to_path_buf(),
            pos: Some(src.pos_of(at)),
            name: name.to_string(),
            constraint: constraint.to_string(),
            message,
        };
    let field = |table, key, expected, hint| string_field(src, dep, table, key, expected, hint);
    let mut markers: Vec<String> = Vec::new();
    let mut extras: Vec<String> = Vec::new();
    let (version, version_item) = match spec.get_ref() {
        DeValue::String(version) => (version.as_ref(), spec),
        DeValue::Table(t) => {
            let optional = src
                .opt_bool(t, "optional", &format!("{}.optional", dep.what))?
                .unwrap_or(false);
            if optional && selected.is_some_and(|s| !s.contains(&normalize_name(name))) {
                return Ok(None);
            }
            for (key, what) in [
                ("git", "the git repository"),
                ("path", "the local path"),
                ("url", "the URL"),
            ] {
                if let Some(value) = t.get(key) {
                    let shown = match value.get_ref() {
                        DeValue::String(s) => s.to_string(),
                        other => toml_access::describe(other),
                    };
                    return Err(src.not_from_index(
                        src.pos_of(value),
                        name,
                        format!("{what} {shown}"),
                    ));
                }
            }
            extras = src.opt_strings(t, "extras", &format!("{}.extras", dep.what))?;
            if let Some(marker) = field(
                t,
                "markers",
                "a marker string",
                "write it as markers = \"sys_platform == 'linux'\"",
            )? {
                markers.push(marker.to_string());
            }
            if let Some(python) = field(
                t,
                "python",
                "a version constraint string",
                "write it as python = \">=3.10\"",
            )? {
                let marker =
                    python_marker(python).map_err(|m| constraint_error(python, &t["python"], m))?;
                markers.extend(marker);
            }
            if let Some(platform) = field(
                t,
                "platform",
                "a platform string",
                "write it as platform = \"linux\"",
            )? {
                markers.push(format!("sys_platform == '{platform}'"));
            }
            match t.get("version") {
                Some(item) => (
                    field(
                        t,
                        "version",
                        "a version constraint string",
                        "write it as a quoted constraint: version = \"^1.2\"",
                    )?
                    .unwrap_or("*"),
                    item,
                ),
                None => ("*", spec),
            }
        }
        _ => {
            return Err(src.wrong_type_with(
                WrongType::of(spec),
                &dep.what,
                "a version string or a table",
                POETRY_DEP_HINT,
            ));
        }
    };
    let specifiers =
        poetry_specifiers(version).map_err(|m| constraint_error(version, version_item, m))?;
    let mut text = name.to_string();
    if !extras.is_empty() {
        text.push_str(&format!("[{}]", extras.join(",")));
    }
    text.push_str(&specifiers);
    if !markers.is_empty() {
        let joined: Vec<String> = if markers.len() == 1 {
            markers
        } else {
            markers.iter().map(|m| format!("({m})")).collect()
        };
        text.push_str(" ; ");
        text.push_str(&joined.join(" and "));
    }
    src.parse_requirement(&text, dep.pos).map(Some)
}

/// `[tool.pylayer] local = ["../shared-lib"]`: the local projects a pyproject.toml asks to
/// build into the layer, joined to its directory.
pub(super) fn tool_pylayer_local(path: &Path) -> Result<Vec<std::path::PathBuf>, ProjectFileError> {
    let text = read_text(path)?;
    let src = Src::new(path, &text, HINT);
    let root = src.parse_toml(SYNTAX_HINT)?;
    let Some(tool) = src.opt_table(&root, "tool", "[tool]")? else {
        return Ok(Vec::new());
    };
    let Some(pylayer) = src.opt_table(tool, "pylayer", "[tool.pylayer]")? else {
        return Ok(Vec::new());
    };
    let Some(item) = pylayer.get("local") else {
        return Ok(Vec::new());
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    Ok(src
        .strings(item, "[tool.pylayer].local")?
        .into_iter()
        .map(|(p, _)| dir.join(p))
        .collect())
}
