//! Which import failures block a layer, and what else the test should say about itself.
//!
//! Every top-level module of a layer is imported, including ones the user never asked for:
//! `blackd` (black's HTTP server, which needs black's `d` extra), `vertex_ray`
//! (google-cloud-aiplatform's, needs `ray`), `matplotlib_inline` (imports matplotlib without
//! declaring it). A function importing `black` never imports them. So a failure whose cause
//! is a module missing from the layer that belongs to an extra of a distribution in the
//! layer, or that no distribution declares at all, is a warning naming the extra or the
//! missing module and the fix. Every other failure, a module named with `--import`/`--entry`,
//! and everything under `--strict` stays an error.
//!
//! The test interpreter may also be older than the patch release the layer was resolved for
//! (a machine's 3.11.2 against Lambda's 3.11.13): requirements with a `python_full_version`
//! marker then differ (redis needs `async-timeout` only below 3.11.3), so [`marker_differences`]
//! names them.

use std::collections::BTreeSet;
use std::str::FromStr;

use uv_normalize::ExtraName;
use uv_pep508::{MarkerEnvironment, MarkerEnvironmentBuilder, Requirement};

use super::{ImportResult, Status};
use crate::layer::Layer;
use crate::target::Target;
use crate::wheel_name::normalize_name;

/// The module an import's error says is missing, dotted (`aiohttp`, `google.cloud.bigquery_storage`).
/// The exception may be the `ModuleNotFoundError` itself, an `ImportError` a package raises
/// to explain it (black's `blackd`: "aiohttp dependency is not installed: No module named
/// 'aiohttp'. Please re-install black with the '[d]' extra"), or a name missing from a
/// namespace package (`cannot import name 'bigquery_storage' from 'google.cloud' (unknown
/// location)`: nothing in the layer provides `google.cloud.bigquery_storage`).
pub fn missing_module(error: &str) -> Option<String> {
    const SAYS: &str = "No module named '";
    const NAME: &str = "cannot import name '";
    let line = error.lines().rev().find(|l| {
        (l.starts_with("ModuleNotFoundError: ") || l.starts_with("ImportError: "))
            && (l.contains(SAYS) || (l.contains(NAME) && l.ends_with("(unknown location)")))
    })?;
    let name = if let Some((_, after)) = line.rsplit_once(SAYS) {
        after.split('\'').next()?.to_string()
    } else {
        let (_, after) = line.split_once(NAME)?;
        let (name, rest) = after.split_once('\'')?;
        let from = rest.strip_prefix(" from '")?.split('\'').next()?;
        format!("{from}.{name}")
    };
    let ok = !name.is_empty()
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    ok.then_some(name)
}

/// Whether the layer has anything importable at top level under `module`.
fn in_layer(layer: &Layer, module: &str) -> bool {
    layer.dists.iter().any(|d| {
        d.top_level
            .iter()
            .any(|t| t.split('.').next() == Some(module))
    }) || layer.files.iter().any(|f| {
        let rel = layer.relative(f);
        rel.len() != f.path.len()
            && (rel.starts_with(&format!("{module}/"))
                || rel == format!("{module}.py")
                || rel.starts_with(&format!("{module}.cpython-"))
                || rel == format!("{module}.abi3.so")
                || rel == format!("{module}.so"))
    })
}

/// Whether the missing module is absent from the layer in a way a dependency would fill:
/// its top-level package is not in the layer at all, or its parent is a namespace package
/// (a directory without `__init__.py`, like `google/cloud/`) that other distributions add
/// to. A missing submodule of a regular package in the layer is the layer's own problem.
fn missing_from_layer(layer: &Layer, dotted: &str) -> bool {
    let top = dotted.split('.').next().unwrap_or(dotted);
    if !in_layer(layer, top) {
        return true;
    }
    let Some((parent, _)) = dotted.rsplit_once('.') else {
        return false;
    };
    let parent_dir = parent.replace('.', "/");
    let module_path = dotted.replace('.', "/");
    let mut parent_seen = false;
    for f in &layer.files {
        let rel = layer.relative(f);
        if rel.len() == f.path.len() {
            continue;
        }
        if rel == format!("{parent_dir}/__init__.py") {
            return false; // a regular package: its own submodule is missing
        }
        if rel.starts_with(&format!("{module_path}/"))
            || rel.starts_with(&format!("{module_path}."))
        {
            return false; // it is there
        }
        parent_seen |= rel.starts_with(&format!("{parent_dir}/"));
    }
    parent_seen
}

/// Whether the layer holds code importable as top-level `module`: `module.py`, an extension
/// module `module.*.so`, or a directory `module/` with Python code somewhere in it (a
/// package or a namespace package). A name `top_level.txt` lists with nothing in the layer
/// (azure-identity lists `images`, which its wheel does not install), or a directory of data
/// files only, is not a module.
pub fn has_code(layer: &Layer, module: &str) -> bool {
    let dir = format!("{module}/");
    let file = format!("{module}.");
    layer.files.iter().any(|f| {
        let rel = layer.relative(f);
        if rel.len() == f.path.len() {
            return false;
        }
        if let Some(inner) = rel.strip_prefix(&dir) {
            return [".py", ".so", ".pyc"].iter().any(|x| inner.ends_with(x))
                || inner.contains(".so.")
                || inner.ends_with(".pyd");
        }
        rel.strip_prefix(&file)
            .is_some_and(|ext| ext == "py" || ext == "pyc" || ext.ends_with("so"))
    })
}

/// `extra == "d"` names in a raw `Requires-Dist` value's marker.
fn extras_in_marker(raw: &str) -> Vec<String> {
    let Some((_, marker)) = raw.split_once(';') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rest = marker;
    while let Some(i) = rest.find("extra") {
        rest = &rest[i + 5..];
        let t = rest.trim_start();
        let Some(t) = t.strip_prefix("==") else {
            continue;
        };
        let t = t.trim_start();
        let Some(q) = t.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(end) = t[1..].find(q) {
            out.push(t[1..1 + end].to_string());
        }
    }
    out
}

/// Why a module missing from the layer is not the layer's fault, or `None` when it is.
fn optional_cause(
    layer: &Layer,
    target: &Target,
    failed_dist: Option<&str>,
    missing: &str,
) -> Option<String> {
    let env = target.marker_environment();
    // `google.cloud.bigquery_storage` may come from google-cloud-bigquery-storage.
    let parts: Vec<&str> = missing.split('.').collect();
    let candidates: Vec<String> = (1..=parts.len())
        .map(|n| normalize_name(&parts[..n].join("-")))
        .collect();
    let wanted = |name: &str| candidates.contains(&normalize_name(name));
    // Declared for the target without an extra: the layer should have it (or a marker
    // differs on the test interpreter, which `marker_differences` reports).
    for d in &layer.dists {
        for raw in &d.requires {
            let Ok(req) = Requirement::<url::Url>::from_str(raw) else {
                continue;
            };
            if !wanted(req.name.as_ref()) {
                continue;
            }
            if req.evaluate_markers(&env, &[]) {
                return None;
            }
        }
    }
    // Declared under an extra: name the distribution and the extra, the failing module's
    // own distribution first.
    let mut owners: Vec<&crate::layer::Dist> = layer.dists.iter().collect();
    owners.sort_by_key(|d| Some(d.name.as_str()) != failed_dist);
    for d in owners {
        for raw in &d.requires {
            let Ok(req) = Requirement::<url::Url>::from_str(raw) else {
                continue;
            };
            if !wanted(req.name.as_ref()) {
                continue;
            }
            let extras = extras_in_marker(raw);
            if extras.is_empty() && !req.evaluate_markers(&env, &[]) {
                return Some(format!(
                    "{} requires `{missing}` only where `{raw}` holds, which is false on Lambda's python{} ({}): the test interpreter differs from the runtime (see the warning about markers); test with a newer patch release (--interpreter)",
                    d.label(),
                    target.python_version(),
                    target.python_full_version()
                ));
            }
            for extra in extras {
                let Ok(e) = ExtraName::from_str(&extra) else {
                    continue;
                };
                if req.evaluate_markers(&env, std::slice::from_ref(&e)) {
                    return Some(format!(
                        "`{missing}` comes from {}, which {} declares only for its extra `{extra}`; if the function imports this module, build with `{}[{extra}]`",
                        req.name, d.name, d.name
                    ));
                }
            }
        }
    }
    let who = failed_dist.unwrap_or("the module's distribution");
    Some(format!(
        "`{missing}` is not in the layer and no distribution in it declares it ({who} imports it without declaring a dependency on it); if the function imports this module, add the distribution that provides `{missing}` to the requirements"
    ))
}

/// Turns failures whose cause is a missing optional or undeclared module into warnings
/// (status [`Status::Warning`]), unless `strict` or the module is in `explicit` (named with
/// `--import`/`--entry`). Returns how many became warnings.
pub fn soften_optional_failures(
    layer: &Layer,
    target: &Target,
    results: &mut [ImportResult],
    explicit: &[String],
    strict: bool,
) -> usize {
    if strict {
        return 0;
    }
    let mut n = 0;
    for r in results.iter_mut() {
        if r.status != Status::Failed || explicit.contains(&r.module) {
            continue;
        }
        let Some(err) = r.error.clone() else { continue };
        let Some(missing) = missing_module(&err) else {
            continue;
        };
        if !missing_from_layer(layer, &missing) {
            continue;
        }
        if let Some(why) = optional_cause(layer, target, r.distribution.as_deref(), &missing) {
            r.status = Status::Warning;
            r.error = Some(format!("{why} (--strict makes this an error)\n{err}"));
            n += 1;
        }
    }
    n
}

/// `Requires-Dist` values of the layer's distributions whose markers evaluate differently
/// on an interpreter of version `interp` (major, minor, patch) than on the target's runtime,
/// as `redis 5.0.1: async-timeout>=4.0.3; python_full_version < "3.11.3"`. Empty when the
/// interpreter is not older than the runtime's patch release.
pub fn marker_differences(layer: &Layer, target: &Target, interp: (u8, u8, u16)) -> Vec<String> {
    let runtime = target.runtime();
    if (interp.0, interp.1) != (3, target.minor) || interp.2 >= u16::from(runtime.patch) {
        return Vec::new();
    }
    let full = format!("{}.{}.{}", interp.0, interp.1, interp.2);
    let short = target.python_version();
    let Ok(local) = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: &full,
        os_name: "posix",
        platform_machine: target.arch.machine(),
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: &full,
        python_version: &short,
        sys_platform: "linux",
    }) else {
        return Vec::new();
    };
    let lambda = target.marker_environment();
    let mut out = BTreeSet::new();
    for d in &layer.dists {
        for raw in &d.requires {
            let Ok(req) = Requirement::<url::Url>::from_str(raw) else {
                continue;
            };
            if req.marker.is_true() {
                continue;
            }
            if req.evaluate_markers(&lambda, &[]) != req.evaluate_markers(&local, &[]) {
                out.insert(format!("{}: {raw}", d.label()));
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_modules_and_extras() {
        let e = "Traceback…\n  import aiohttp\nModuleNotFoundError: No module named 'aiohttp.web'";
        assert_eq!(missing_module(e).as_deref(), Some("aiohttp.web"));
        assert_eq!(
            missing_module("ImportError: cannot import name 'bigquery_storage' from 'google.cloud' (unknown location)").as_deref(),
            Some("google.cloud.bigquery_storage")
        );
        assert_eq!(
            missing_module(
                "ImportError: cannot import name 'x' from 'pkg' (/opt/python/pkg/__init__.py)"
            ),
            None
        );
        assert_eq!(missing_module("ImportError: cannot import name 'x'"), None);
        assert_eq!(
            missing_module("ImportError: aiohttp dependency is not installed: No module named 'aiohttp'. Please re-install black with the '[d]' extra").as_deref(),
            Some("aiohttp")
        );
        assert_eq!(
            extras_in_marker("aiohttp>=3.10; extra == \"d\" or extra=='all'"),
            ["d", "all"]
        );
        assert!(extras_in_marker("x; python_version < '3.11'").is_empty());
    }
}
