//! `Pipfile.lock` (pipenv): every locked package of the chosen sections as an `==`
//! requirement carrying its hashes. JSON has no spans in serde_json, so an entry's position is
//! found by its key in the text.

use std::path::Path;

use uv_pep508::MarkerTree;

use super::error::ProjectFileError;
use super::source::{Src, known_list, may_apply_on_lambda, push_sha256, read_text};
use super::{ProjectOptions, Read};
use crate::textpos::TextPos;
use crate::wheel_name::normalize_name;

const PIPENV_HINT: &str = "Pipfile.lock is written by pipenv: regenerate it with `pipenv lock`";

pub(super) fn read(path: &Path, opts: &ProjectOptions) -> Result<Read, ProjectFileError> {
    let text = read_text(path)?;
    let root: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        ProjectFileError::Json {
            path: path.to_path_buf(),
            pos: TextPos {
                line: error.line().max(1),
                column: error.column().max(1),
            },
            message,
            hint: PIPENV_HINT.to_string(),
        }
    })?;
    let src = Src::new(path, &text, PIPENV_HINT);
    let Some(root) = root.as_object() else {
        return Err(src.malformed(
            Some(src.pos(0)),
            "the file is not a JSON object: not a Pipfile.lock".to_string(),
            PIPENV_HINT,
        ));
    };
    if let Some(extra) = opts.extras.first() {
        return Err(ProjectFileError::UnknownExtra {
            path: path.to_path_buf(),
            extra: extra.clone(),
            known: "Pipfile.lock records no extras (pipenv locks the packages of requested \
                    extras into `default`); remove --extra"
                .to_string(),
        });
    }
    let categories: Vec<String> = root
        .keys()
        .filter(|k| !matches!(k.as_str(), "_meta" | "default" | "develop"))
        .cloned()
        .collect();
    let mut sections = vec!["default".to_string()];
    for group in &opts.groups {
        let wanted = normalize_name(group);
        let section = if wanted == "dev" || wanted == "develop" {
            "develop".to_string()
        } else if let Some(category) = categories.iter().find(|c| normalize_name(c) == wanted) {
            category.clone()
        } else {
            let mut known = vec!["dev".to_string()];
            known.extend(categories.iter().cloned());
            return Err(ProjectFileError::UnknownGroup {
                path: path.to_path_buf(),
                group: group.clone(),
                known: format!(
                    "{} (`dev` is the `develop` section)",
                    known_list("groups", &known, "")
                ),
            });
        };
        if !sections.contains(&section) {
            sections.push(section);
        }
    }

    let mut requirements = Vec::new();
    for section in &sections {
        let section_offset = find_json_key(&text, 0, section);
        let section_pos = section_offset.map(|o| src.pos(o));
        let Some(entries) = root.get(section.as_str()) else {
            continue;
        };
        let entries = entries.as_object().ok_or_else(|| {
            src.malformed(
                section_pos,
                format!("`{section}` must be an object of packages"),
                PIPENV_HINT,
            )
        })?;
        for (name, entry) in entries {
            let pos = section_offset
                .and_then(|o| find_json_key(&text, o, name))
                .map(|o| src.pos(o))
                .or(section_pos)
                .unwrap_or(src.pos(0));
            let entry = entry.as_object().ok_or_else(|| {
                src.malformed(
                    Some(pos),
                    format!("entry `{name}` must be an object"),
                    PIPENV_HINT,
                )
            })?;
            let field = |key: &str| entry.get(key).and_then(serde_json::Value::as_str);
            let marker = match field("markers") {
                Some(m) => src.parse_marker(m, pos)?,
                None => MarkerTree::TRUE,
            };
            let origin = if let Some(url) = field("git") {
                Some(format!("the git repository {url}"))
            } else if let Some(p) = field("path") {
                Some(format!("the local path {p}"))
            } else if let Some(f) = field("file") {
                Some(format!("the file {f}"))
            } else if entry.get("editable").and_then(serde_json::Value::as_bool) == Some(true) {
                Some("an editable install".to_string())
            } else {
                ["hg", "svn", "bzr"]
                    .iter()
                    .find_map(|vcs| field(vcs).map(|url| format!("the {vcs} repository {url}")))
            };
            if let Some(origin) = origin {
                if may_apply_on_lambda(marker) {
                    return Err(src.not_from_index(pos, name, origin));
                }
                continue;
            }
            let Some(version) = field("version").filter(|v| v.starts_with("==")) else {
                return Err(src.malformed(
                    Some(pos),
                    format!("entry `{name}` has no pinned `version` (\"==X.Y\")"),
                    PIPENV_HINT,
                ));
            };
            let extras: Vec<&str> = entry
                .get("extras")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
                .collect();
            let mut spec = name.clone();
            if !extras.is_empty() {
                spec.push_str(&format!("[{}]", extras.join(",")));
            }
            spec.push_str(version);
            let mut req = src.parse_requirement(&spec, pos)?;
            req.marker = marker;
            let mut hashes: Vec<String> = Vec::new();
            for hash in entry
                .get("hashes")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
            {
                push_sha256(&mut hashes, hash);
            }
            let mut sourced = src.sourced(req, pos);
            sourced.hashes = hashes;
            requirements.push(sourced);
        }
    }
    Ok(Read {
        requirements,
        constraints: Vec::new(),
        files: vec![path.to_path_buf()],
    })
}

/// Offset of the first `"key":` (a JSON object key) at or after `from`.
fn find_json_key(text: &str, from: usize, key: &str) -> Option<usize> {
    let needle = serde_json::to_string(key).ok()?;
    let mut start = from;
    while let Some(i) = text.get(start..)?.find(&needle) {
        let at = start + i;
        let rest = &text[at + needle.len()..];
        if rest.trim_start().starts_with(':') {
            return Some(at);
        }
        start = at + needle.len();
    }
    None
}
