//! What goes into each layer: the distributions left out (`--exclude`, the runtime-provided
//! SDK) with whatever only they needed, and the installer tooling kept because it was asked
//! for or is needed at run time.

use super::{Error, Event};
use crate::config::Config;
use crate::domain::{INSTALLER_TOOLING, RUNTIME_SDK};
use crate::lock::LockedPackage;

/// Normalized names to leave out: `exclude` (the flag; else pylayer.toml's `exclude`), plus
/// the runtime-provided family with `no_runtime_provided` (or `runtime-provided = false`).
pub fn exclusions(
    exclude: &[String],
    no_runtime_provided: bool,
    config: &Config,
    on_event: &dyn Fn(Event),
) -> Result<Vec<String>, Error> {
    let raw = if exclude.is_empty() {
        &config.exclude
    } else {
        exclude
    };
    let mut out = Vec::new();
    for n in raw {
        let name: uv_normalize::PackageName = n
            .parse()
            .map_err(|e| Error::Input(format!("--exclude {n}: {e}")))?;
        out.push(name.to_string());
    }
    if no_runtime_provided || config.runtime_provided == Some(false) {
        on_event(Event::Warning(
            "leaving out boto3, botocore, s3transfer and jmespath: the function will use the \
             runtime's copies, whose versions may differ from the ones you tested with"
                .to_string(),
        ));
        out.extend(RUNTIME_SDK.iter().map(|s| s.to_string()));
    }
    Ok(out)
}

/// The installer tooling that stays in a layer: what the user named (`asked`, the
/// requirement names), plus what another distribution of the layer requires (old packages
/// import pkg_resources).
pub fn keep_tooling(
    asked: &[String],
    packages: &[LockedPackage],
    on_event: &dyn Fn(Event),
) -> Vec<String> {
    let mut keep: Vec<String> = asked
        .iter()
        .filter(|n| INSTALLER_TOOLING.contains(&n.as_str()))
        .cloned()
        .collect();
    for p in packages {
        for d in &p.dependencies {
            if INSTALLER_TOOLING.contains(&d.as_str()) && !keep.contains(d) {
                on_event(Event::Note(format!(
                    "keeping {d}: {} needs it at run time",
                    p.name
                )));
                keep.push(d.clone());
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn pkg(name: &str, deps: &[&str]) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "1".into(),
            filename: format!("{name}-1-py3-none-any.whl"),
            url: String::new(),
            sha256: String::new(),
            size: 0,
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            metadata_sha256: None,
            source_hash: None,
            built_from_source: false,
        }
    }

    #[test]
    fn tooling_is_kept_when_asked_for_or_needed() {
        let events = RefCell::new(Vec::new());
        let record = |e: Event| events.borrow_mut().push(e);
        let packages = [pkg("app", &["setuptools"]), pkg("setuptools", &[])];
        let keep = keep_tooling(&["pip".into(), "app".into()], &packages, &record);
        assert_eq!(keep, vec!["pip", "setuptools"]);
        assert!(matches!(&events.borrow()[..], [Event::Note(m)] if m.contains("app needs it")));
    }

    #[test]
    fn exclusions_normalize_and_add_the_runtime_sdk() {
        let events = RefCell::new(Vec::new());
        let record = |e: Event| events.borrow_mut().push(e);
        let config = Config {
            exclude: vec!["Ignored".into()],
            ..Config::default()
        };
        let out = exclusions(&["Foo_Bar".into()], true, &config, &record).unwrap();
        assert_eq!(out[0], "foo-bar");
        assert!(out.contains(&"boto3".to_string()));
        assert!(!out.contains(&"ignored".to_string()));
        assert_eq!(events.borrow().len(), 1);
        let err = exclusions(&["no good".into()], false, &config, &record).unwrap_err();
        assert!(matches!(err, Error::Input(m) if m.contains("--exclude no good")));
    }
}
