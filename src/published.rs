//! What `publish` made and `attach` uses: the layer name of each target, and the record of
//! published versions in `.pylayer/published.json`, one per (environment, target, region).
//!
//! Each target (runtime × architecture) is its own Lambda layer by default
//! (`NAME-py312-arm64`), so a function picks the version built for its own runtime and
//! architecture, and pruning or re-publishing one target never touches another.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where `publish` records the versions it made (relative to the project directory).
pub const STATE_FILE: &str = ".pylayer/published.json";

/// The version of the file's format written today. Format 1 (no `format` key) kept only the
/// last ARN of each layer per region; it is still read.
pub const FORMAT: u32 = 2;

/// The environment recorded until environments exist (`[env.NAME]`).
pub const DEFAULT_ENV: &str = "default";

/// The layer name of a target when neither `--layer-name` nor pylayer.toml's
/// `publish.layer-name` says otherwise: `demo-py312-arm64`.
pub const DEFAULT_LAYER_NAME: &str = "{name}-py{py}-{arch}";

/// The placeholders a layer-name template may use.
pub const PLACEHOLDERS: &[&str] = &["{name}", "{py}", "{python}", "{arch}"];

/// The Lambda layer name of one target: `template` with `{name}` (the project's layer name),
/// `{py}` (`312`), `{python}` (`3.12`) and `{arch}` (`x86_64`, `arm64`) filled in.
/// `runtime` is Lambda's name (`python3.12`). The result is not validated here (publish
/// checks Lambda's name rules with the rest of the request).
pub fn layer_name(template: &str, name: &str, runtime: &str, arch: &str) -> Result<String, String> {
    check_template(template)?;
    let python = runtime.strip_prefix("python").unwrap_or(runtime);
    Ok(template
        .replace("{name}", name)
        .replace("{python}", python)
        .replace("{py}", &python.replace('.', ""))
        .replace("{arch}", arch))
}

/// Whether the template names a target (so each target gets a layer of its own).
pub fn is_per_target(template: &str) -> bool {
    template.contains("{py}") || template.contains("{python}") || template.contains("{arch}")
}

/// Refuses a template with an unknown `{…}` placeholder or an unbalanced brace.
pub fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!(
                "layer name template `{template}` has a `}}` without its `{{`; placeholders are {}",
                PLACEHOLDERS.join(", ")
            ));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err(format!(
                "layer name template `{template}` has a `{{` without its `}}`; placeholders are {}",
                PLACEHOLDERS.join(", ")
            ));
        };
        let placeholder = &rest[open..open + close + 1];
        if !PLACEHOLDERS.contains(&placeholder) {
            return Err(format!(
                "layer name template `{template}` uses the unknown placeholder `{placeholder}`; use {}",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &rest[open + close + 1..];
    }
    Ok(())
}

/// The target label used in records and messages: `py3.12-x86_64` (as in zip names).
pub fn target_label(runtime: &str, arch: &str) -> String {
    format!(
        "py{}-{arch}",
        runtime.strip_prefix("python").unwrap_or(runtime)
    )
}

/// A zip's hashes as publishing needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipHashes {
    /// Hex sha256.
    pub sha256_hex: String,
    /// base64(sha256), Lambda's CodeSha256.
    pub code_sha256: String,
    pub size: u64,
}

/// Hashes a file in one streaming pass.
pub fn zip_hashes(path: &Path) -> std::io::Result<ZipHashes> {
    use base64::Engine;
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    let digest = h.finalize();
    Ok(ZipHashes {
        sha256_hex: hex::encode(digest),
        code_sha256: base64::engine::general_purpose::STANDARD.encode(digest),
        size,
    })
}

/// Every version `publish` made or reused, per (environment, target, region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub format: u32,
    /// The project (base layer name) published most recently: `attach`'s default when
    /// pylayer.toml names none.
    #[serde(default)]
    pub last: Option<String>,
    /// Sorted by (env, project, target, region).
    #[serde(default)]
    pub versions: Vec<Record>,
}

impl Default for Published {
    fn default() -> Self {
        Published {
            format: FORMAT,
            last: None,
            versions: Vec::new(),
        }
    }
}

/// One published layer version for one target in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `default` until environments exist.
    pub env: String,
    /// The project's layer name (`{name}` of the template).
    pub project: String,
    /// `py3.12-x86_64`; empty for a record read from format 1, which did not say.
    pub target: String,
    /// `python3.12`; empty when unknown (format 1).
    #[serde(default)]
    pub runtime: String,
    /// `x86_64` or `arm64`; empty when unknown (format 1).
    #[serde(default)]
    pub architecture: String,
    pub region: String,
    /// The Lambda layer name.
    pub layer: String,
    /// The layer version ARN.
    pub arn: String,
    #[serde(default)]
    pub version: Option<i64>,
    /// base64(sha256(zip)), Lambda's CodeSha256.
    #[serde(default)]
    pub code_sha256: Option<String>,
    /// From the zip's manifest, so `attach` need not measure the layer remotely.
    #[serde(default)]
    pub unzipped_bytes: Option<u64>,
    /// For a version `promote` made: the ARN of the version of the environment it was
    /// promoted from (same bytes, same CodeSha256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_from: Option<String>,
}

/// Format 1: the last ARN of each layer name, per region.
#[derive(Deserialize)]
struct Format1 {
    layers: std::collections::BTreeMap<String, Format1Layer>,
    #[serde(default)]
    last: Option<String>,
}

#[derive(Deserialize)]
struct Format1Layer {
    #[serde(default)]
    arns: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    unzipped_bytes: Option<u64>,
}

impl Published {
    /// Reads the record; a missing file is an empty record. Format 1 files are converted
    /// (their records have no target: `attach` lets Lambda's runtime check decide).
    pub fn read(path: &Path) -> Result<Published, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Published::default()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Published::parse(&bytes).map_err(|e| {
            format!(
                "{} is not a record pylayer can read ({e}); delete it and run `pylayer publish` again (versions already published are found again by their bytes)",
                path.display()
            )
        })
    }

    /// Parses either format.
    pub fn parse(bytes: &[u8]) -> Result<Published, String> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if value.get("format").is_some() {
            return serde_json::from_value(value).map_err(|e| e.to_string());
        }
        let old: Format1 = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let mut out = Published {
            last: old.last,
            ..Published::default()
        };
        for (layer, entry) in old.layers {
            for (region, arn) in entry.arns {
                out.versions.push(Record {
                    env: DEFAULT_ENV.into(),
                    project: layer.clone(),
                    target: String::new(),
                    runtime: String::new(),
                    architecture: String::new(),
                    region,
                    layer: layer.clone(),
                    version: arn.rsplit(':').next().and_then(|v| v.parse().ok()),
                    arn,
                    code_sha256: None,
                    unzipped_bytes: entry.unzipped_bytes,
                    promoted_from: None,
                });
            }
        }
        out.sort();
        Ok(out)
    }

    /// The JSON written to the file.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Records a version, replacing the record of the same (env, project, target, region)
    /// and any format-1 record of the same layer name and region.
    pub fn record(&mut self, r: Record) {
        self.versions.retain(|o| {
            let same = o.env == r.env
                && o.project == r.project
                && o.target == r.target
                && o.region == r.region;
            let legacy = o.target.is_empty() && o.layer == r.layer && o.region == r.region;
            !(same || legacy)
        });
        self.last = Some(r.project.clone());
        self.versions.push(r);
        self.sort();
    }

    fn sort(&mut self) {
        self.versions.sort_by(|a, b| {
            (&a.env, &a.project, &a.target, &a.region)
                .cmp(&(&b.env, &b.project, &b.target, &b.region))
        });
    }

    /// The records of one environment's project, sorted by (target, region).
    pub fn of(&self, env: &str, project: &str) -> Vec<&Record> {
        self.versions
            .iter()
            .filter(|r| r.env == env && r.project == project)
            .collect()
    }

    /// The project `attach` works on: the one given, else the last published.
    pub fn project<'a>(&'a self, given: Option<&'a str>) -> Option<&'a str> {
        given.or(self.last.as_deref())
    }

    /// The version to attach to a function running `runtime` on `arch` in `region`.
    /// A format-1 record (no target) is the fallback when nothing recorded matches, and
    /// only when it is the project's only record in that region; `attach` then checks the
    /// layer's compatible runtimes itself.
    pub fn select(
        &self,
        env: &str,
        project: &str,
        region: &str,
        runtime: &str,
        arch: &str,
    ) -> Result<&Record, String> {
        let here: Vec<&Record> = self
            .versions
            .iter()
            .filter(|r| r.env == env && r.project == project && r.region == region)
            .collect();
        if let Some(r) = here
            .iter()
            .find(|r| r.runtime == runtime && r.architecture == arch)
        {
            return Ok(r);
        }
        let legacy: Vec<&&Record> = here.iter().filter(|r| r.target.is_empty()).collect();
        if legacy.len() == 1 && here.len() == 1 {
            return Ok(legacy[0]);
        }
        let fix = format!(
            "build and publish that target (`pylayer build --python {} --arch {arch}`, then `pylayer publish dist/{project}-py{}-{arch}.zip --region {region}`), or pass --layer ARN",
            runtime.strip_prefix("python").unwrap_or(runtime),
            runtime.strip_prefix("python").unwrap_or(runtime),
        );
        if here.is_empty() {
            let elsewhere: Vec<String> = self
                .versions
                .iter()
                .filter(|r| r.env == env && r.project == project)
                .map(|r| format!("{} in {}", describe(r), r.region))
                .collect();
            let published = if elsewhere.is_empty() {
                format!("{project} has not been published (no record in {STATE_FILE})")
            } else {
                format!(
                    "{project} was published only elsewhere: {}",
                    elsewhere.join("; ")
                )
            };
            return Err(format!(
                "no {project} layer for {runtime} on {arch} in {region}: {published}; {fix}"
            ));
        }
        let list: Vec<String> = here.iter().map(|r| describe(r)).collect();
        Err(format!(
            "no {project} layer for {runtime} on {arch} in {region}; published there: {}; {fix}",
            list.join("; ")
        ))
    }
}

/// `python3.12/x86_64 (arn…)`, or the ARN alone for a record without a target.
fn describe(r: &Record) -> String {
    if r.runtime.is_empty() {
        format!("{} (target not recorded)", r.arn)
    } else {
        format!("{}/{} ({})", r.runtime, r.architecture, r.arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(project: &str, runtime: &str, arch: &str, region: &str, v: i64) -> Record {
        let layer = layer_name(DEFAULT_LAYER_NAME, project, runtime, arch).unwrap();
        Record {
            env: DEFAULT_ENV.into(),
            project: project.into(),
            target: target_label(runtime, arch),
            runtime: runtime.into(),
            architecture: arch.into(),
            region: region.into(),
            arn: format!("arn:aws:lambda:{region}:1:layer:{layer}:{v}"),
            layer,
            version: Some(v),
            code_sha256: Some("x".into()),
            unzipped_bytes: None,
            promoted_from: None,
        }
    }

    #[test]
    fn names_targets_from_the_template() {
        assert_eq!(
            layer_name(DEFAULT_LAYER_NAME, "demo", "python3.12", "arm64").unwrap(),
            "demo-py312-arm64"
        );
        assert_eq!(
            layer_name("{name}_{python}", "demo", "python3.11", "x86_64").unwrap(),
            "demo_3.11"
        );
        assert_eq!(
            layer_name("{name}", "demo", "python3.11", "x86_64").unwrap(),
            "demo"
        );
        assert!(is_per_target(DEFAULT_LAYER_NAME));
        assert!(!is_per_target("{name}-layer"));
        let e = layer_name("{name}-{runtime}", "d", "python3.12", "arm64").unwrap_err();
        assert!(e.contains("unknown placeholder `{runtime}`"), "{e}");
        assert!(layer_name("{name", "d", "python3.12", "arm64").is_err());
        assert!(layer_name("name}", "d", "python3.12", "arm64").is_err());
    }

    #[test]
    fn reads_format_1_and_writes_format_2() {
        let old = br#"{"layers":{"demo":{"arns":{"us-east-1":"arn:aws:lambda:us-east-1:1:layer:demo:3"},"unzipped_bytes":10}},"last":"demo"}"#;
        let p = Published::parse(old).unwrap();
        assert_eq!(p.last.as_deref(), Some("demo"));
        assert_eq!(p.versions.len(), 1);
        assert_eq!(p.versions[0].version, Some(3));
        assert_eq!(p.versions[0].unzipped_bytes, Some(10));
        // Its only record is the fallback for any function.
        let r = p
            .select(DEFAULT_ENV, "demo", "us-east-1", "python3.12", "x86_64")
            .unwrap();
        assert!(r.arn.ends_with(":demo:3"));
        let again = Published::parse(&p.to_json()).unwrap();
        assert_eq!(again, p);
        assert!(
            String::from_utf8(p.to_json())
                .unwrap()
                .contains("\"format\": 2")
        );
    }

    #[test]
    fn unknown_keys_of_a_newer_format_are_ignored() {
        let newer = br#"{"format":2,"versions":[],"environments":{"prod":{}}}"#;
        assert_eq!(Published::parse(newer).unwrap(), Published::default());
        assert!(Published::parse(b"{not json").is_err());
    }

    #[test]
    fn selects_the_target_of_the_function() {
        let mut p = Published::default();
        for (rt, arch, v) in [
            ("python3.11", "x86_64", 1),
            ("python3.11", "arm64", 1),
            ("python3.12", "x86_64", 1),
            ("python3.12", "arm64", 1),
        ] {
            p.record(rec("demo", rt, arch, "us-east-1", v));
        }
        // A newer version of one target replaces its record only.
        p.record(rec("demo", "python3.12", "arm64", "us-east-1", 2));
        assert_eq!(p.versions.len(), 4);
        let r = p
            .select(DEFAULT_ENV, "demo", "us-east-1", "python3.11", "x86_64")
            .unwrap();
        assert_eq!(r.layer, "demo-py311-x86_64");
        let r = p
            .select(DEFAULT_ENV, "demo", "us-east-1", "python3.12", "arm64")
            .unwrap();
        assert_eq!(r.version, Some(2));
        let e = p
            .select(DEFAULT_ENV, "demo", "us-east-1", "python3.13", "x86_64")
            .unwrap_err();
        assert!(
            e.contains("no demo layer for python3.13 on x86_64 in us-east-1"),
            "{e}"
        );
        assert!(
            e.contains("python3.11/arm64 (arn:aws:lambda:us-east-1:1:layer:demo-py311-arm64:1)"),
            "{e}"
        );
        assert!(
            e.contains("pylayer build --python 3.13 --arch x86_64"),
            "{e}"
        );
        let e = p
            .select(DEFAULT_ENV, "demo", "eu-west-1", "python3.12", "x86_64")
            .unwrap_err();
        assert!(e.contains("published only elsewhere"), "{e}");
        let e = p
            .select(DEFAULT_ENV, "other", "eu-west-1", "python3.12", "x86_64")
            .unwrap_err();
        assert!(e.contains("has not been published"), "{e}");
    }
}
