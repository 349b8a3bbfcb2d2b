//! `promote`: publish under another environment's layer names, regions and account exactly
//! the bytes published for one environment (test → prod), so what was tested is what runs.
//!
//! The bytes come from the local `dist/` zip when its CodeSha256 equals the published
//! version's, else from the published version itself (GetLayerVersion's Content.Location),
//! hash-checked. Nothing is promoted when the two environments' locks pin different wheels
//! for a target: the layer would not be what the target environment's lock asks for.

use std::path::{Path, PathBuf};

use super::AwsTarget;
use super::layer_download::{download, shown_url};
use super::publish::{PublishOutcome, PublishRequest, publish_region, validate};
use crate::lock::diff::target_changes;
use crate::lock::{Lock, LockedTarget};
use crate::published::{self, Published, Record, ZipHashes};

/// One target to promote: the version it comes from and the layer it goes to.
#[derive(Debug, Clone)]
pub struct PromoteTarget {
    /// The source environment's record (its first region; every region holds the same bytes).
    pub source: Record,
    /// The target environment's Lambda layer name for this target.
    pub layer: String,
    /// Where `build` writes the source environment's zip of this target.
    pub local_zip: PathBuf,
    /// The target environment's pins for this target (equal to the source's).
    pub pins: LockedTarget,
}

/// Why nothing can be promoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// Bad usage: nothing recorded, an unknown target (exit 2).
    Usage(String),
    /// Refused: the pins differ, a lock lacks the target (exit 1).
    Refused(String),
}

/// What the plan is made from.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub published: &'a Published,
    pub from_env: &'a str,
    pub from_project: &'a str,
    pub from_lock: (&'a Path, &'a Lock),
    pub to_env: &'a str,
    pub to_project: &'a str,
    pub to_lock: (&'a Path, &'a Lock),
    /// The target environment's layer name template.
    pub to_template: &'a str,
    /// Target labels (`py3.12-x86_64`) to promote; empty: every target published for the
    /// source environment.
    pub targets: &'a [String],
    /// The source environment's output directory (`dist`).
    pub out_dir: &'a Path,
}

/// The targets to promote, after checking that both locks pin the same wheels for each.
pub fn plan(input: &PlanInput<'_>) -> Result<Vec<PromoteTarget>, PlanError> {
    let from = input.from_env;
    let records: Vec<&Record> = input
        .published
        .of(from, input.from_project)
        .into_iter()
        .filter(|r| !r.runtime.is_empty())
        .collect();
    if records.is_empty() {
        return Err(PlanError::Usage(format!(
            "nothing to promote: {} records no published version of {} (environment {from}); publish it first: `pylayer build --env {from}` then `pylayer publish --env {from} dist/{}-*.zip`",
            published::STATE_FILE,
            input.from_project,
            input.from_project
        )));
    }
    let mut labels: Vec<&str> = records.iter().map(|r| r.target.as_str()).collect();
    labels.dedup();
    for t in input.targets {
        if !labels.contains(&t.as_str()) {
            return Err(PlanError::Usage(format!(
                "--target {t}: {from} has no published version of that target; its targets: {} (as py3.X-ARCH)",
                labels.join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    let mut differences = Vec::new();
    for label in labels {
        if !input.targets.is_empty() && !input.targets.iter().any(|t| t == label) {
            continue;
        }
        let of_target: Vec<&&Record> = records.iter().filter(|r| r.target == label).collect();
        let source = of_target[0];
        let mut shas: Vec<&str> = of_target
            .iter()
            .filter_map(|r| r.code_sha256.as_deref())
            .collect();
        shas.sort();
        shas.dedup();
        if shas.len() > 1 {
            let list: Vec<String> = of_target
                .iter()
                .map(|r| {
                    format!(
                        "{} in {}",
                        r.code_sha256.as_deref().unwrap_or("?"),
                        r.region
                    )
                })
                .collect();
            return Err(PlanError::Refused(format!(
                "{from}'s regions hold different bytes for {label} ({}): publish {from} again (`pylayer publish --env {from}`) so every region has the same version, then promote",
                list.join(", ")
            )));
        }
        let python = source
            .runtime
            .strip_prefix("python")
            .unwrap_or(&source.runtime);
        let arch = source.architecture.as_str();
        let find = |lock: &Lock| {
            lock.targets
                .iter()
                .find(|t| t.python == python && t.arch == arch)
                .cloned()
        };
        let (from_path, from_lock) = input.from_lock;
        let (to_path, to_lock) = input.to_lock;
        let (Some(a), Some(b)) = (find(from_lock), find(to_lock)) else {
            let missing = if find(from_lock).is_none() {
                (from_path, input.from_env)
            } else {
                (to_path, input.to_env)
            };
            differences.push(format!(
                "{label}: {} has no pins for python{python}/{arch} (lock it: `pylayer lock --env {} --python {python} --arch {arch}`)",
                missing.0.display(),
                missing.1
            ));
            continue;
        };
        let changes = target_changes(&format!("python{python}/{arch}"), &a, &b);
        differences.extend(changes.iter().map(|c| c.to_string()));
        let layer =
            published::layer_name(input.to_template, input.to_project, &source.runtime, arch)
                .map_err(PlanError::Usage)?;
        out.push(PromoteTarget {
            source: (*source).clone(),
            layer,
            local_zip: input
                .out_dir
                .join(format!("{}-py{python}-{arch}.zip", input.from_project)),
            pins: b,
        });
    }
    if !differences.is_empty() {
        let shown: Vec<String> = differences
            .iter()
            .take(20)
            .map(|d| format!("  {d}"))
            .collect();
        let more = if differences.len() > 20 {
            format!("\n  … and {} more", differences.len() - 20)
        } else {
            String::new()
        };
        return Err(PlanError::Refused(format!(
            "not promoting {from} to {}: their pins differ ({} → {}):\n{}{more}\nthe bytes published for {from} are not what {}'s lock asks for; make the environments' requirements agree (`pylayer lock --env {}` shows why it pins what it does), or publish {} from its own build",
            input.to_env,
            input.from_lock.0.display(),
            input.to_lock.0.display(),
            shown.join("\n"),
            input.to_env,
            input.to_env,
            input.to_env
        )));
    }
    Ok(out)
}

/// Where the promoted bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BytesFrom {
    /// The local dist/ zip (same CodeSha256 as the published version).
    LocalZip,
    /// Downloaded from the published version and hash-checked.
    Downloaded,
}

/// The bytes of a source version, on disk.
#[derive(Debug)]
pub struct Obtained {
    pub path: PathBuf,
    pub hashes: ZipHashes,
    pub from: BytesFrom,
    /// Keeps a downloaded file until the promotion is done.
    _temp: Option<tempfile::TempPath>,
}

/// The bytes published as `t.source`: the local zip when its CodeSha256 equals the
/// version's (as Lambda reports it now), else downloaded from the version into `temp_dir`
/// and checked against that CodeSha256.
pub async fn obtain(
    from: &AwsTarget,
    t: &PromoteTarget,
    http: &reqwest::Client,
    temp_dir: &Path,
) -> Result<Obtained, String> {
    let arn = &t.source.arn;
    let config = super::sdk_config(from, Some(&t.source.region)).await?;
    let lambda = super::lambda(&config);
    let version = super::layer_by_arn(&lambda, arn).await.map_err(|e| {
        format!(
            "{e}\n  (reading the version recorded for {} {}; if it was deleted, publish {} again with `pylayer publish --env {}` and promote that)",
            t.source.env, t.source.target, t.source.env, t.source.env
        )
    })?;
    let content = version.content();
    let live = content.and_then(|c| c.code_sha256()).unwrap_or_default();
    if live.is_empty() {
        return Err(format!("layer {arn}: Lambda reported no CodeSha256"));
    }
    if let Some(recorded) = &t.source.code_sha256
        && recorded != live
    {
        return Err(format!(
            "layer {arn}: {} records CodeSha256 {recorded}, Lambda reports {live}; publish {} again",
            published::STATE_FILE,
            t.source.env
        ));
    }
    if t.local_zip.is_file() {
        let h = published::zip_hashes(&t.local_zip)
            .map_err(|e| format!("cannot read {}: {e}", t.local_zip.display()))?;
        if h.code_sha256 == live {
            return Ok(Obtained {
                path: t.local_zip.clone(),
                hashes: h,
                from: BytesFrom::LocalZip,
                _temp: None,
            });
        }
    }
    let location = content.and_then(|c| c.location()).unwrap_or_default();
    if !(location.starts_with("https://") || location.starts_with("http://")) {
        let local = if t.local_zip.is_file() {
            "has other bytes"
        } else {
            "does not exist"
        };
        return Err(format!(
            "{arn}: Lambda gave no HTTP location for its content (`{}`), and {} {local}: rebuild it with `pylayer build --env {}` (the same lock gives the same bytes, CodeSha256 {live}) and promote again",
            shown_url(location),
            t.local_zip.display(),
            t.source.env
        ));
    }
    let (path, hashes) = download(http, location, temp_dir)
        .await
        .map_err(|e| format!("downloading {arn}: {e}"))?;
    if hashes.code_sha256 != live {
        return Err(format!(
            "downloading {arn}: the bytes have CodeSha256 {}, the version {live}; nothing was promoted (try again)",
            hashes.code_sha256
        ));
    }
    Ok(Obtained {
        path: path.to_path_buf(),
        hashes,
        from: BytesFrom::Downloaded,
        _temp: Some(path),
    })
}

/// Whether the layer's distributions are the pinned ones: each distribution in it must be
/// at the version `pins` has (the lock may hold more: exclusions leave pins out). The locks
/// agreeing is not enough, as the source environment's lock may have moved since its
/// version was published. Returns what differs.
pub fn contents_differ(zip: &Path, pins: &LockedTarget) -> Result<Vec<String>, String> {
    let layer = crate::layer::Layer::read(zip).map_err(|e| format!("{e:#}"))?;
    let same = |a: &str, b: &str| {
        a == b
            || matches!(
                (a.parse::<uv_pep440::Version>(), b.parse::<uv_pep440::Version>()),
                (Ok(x), Ok(y)) if x == y
            )
    };
    let mut out = Vec::new();
    for d in &layer.dists {
        match pins.packages.iter().find(|p| p.name == d.key) {
            Some(p) if same(&p.version, &d.version) => {}
            Some(p) => out.push(format!(
                "{} {} (the locks pin {})",
                d.key, d.version, p.version
            )),
            None => out.push(format!("{} {} (not in the locks)", d.key, d.version)),
        }
    }
    Ok(out)
}

/// Settings of the target environment's layer versions.
#[derive(Debug, Clone, Default)]
pub struct Destination {
    pub description: Option<String>,
    pub license: Option<String>,
    pub s3_bucket: Option<String>,
    /// The destination environment's `publish.grants`.
    pub grants: Vec<String>,
    pub dry_run: bool,
}

/// The publish request for promoting `bytes` of `t` (validated).
pub fn request(
    t: &PromoteTarget,
    bytes: &Obtained,
    dest: &Destination,
) -> Result<PublishRequest, String> {
    let req = PublishRequest {
        zip: bytes.path.clone(),
        name: t.layer.clone(),
        runtimes: vec![t.source.runtime.clone()],
        architectures: vec![t.source.architecture.clone()],
        description: dest.description.clone(),
        license: dest.license.clone(),
        s3_bucket: dest.s3_bucket.clone(),
        grants: dest.grants.clone(),
        dry_run: dest.dry_run,
        code_sha256: bytes.hashes.code_sha256.clone(),
        sha256_hex: bytes.hashes.sha256_hex.clone(),
        size: bytes.hashes.size,
    };
    validate(&req)?;
    Ok(req)
}

/// Publishes in every region concurrently (a version with the same CodeSha256 is reused);
/// one region's failure does not hide the others.
pub async fn publish_regions(
    to: &AwsTarget,
    regions: &[Option<String>],
    req: &PublishRequest,
) -> Vec<Result<PublishOutcome, String>> {
    futures::future::join_all(
        regions
            .iter()
            .map(|r| publish_region(to, r.as_deref(), req)),
    )
    .await
}

/// The record of a promoted version.
pub fn record(
    t: &PromoteTarget,
    to_env: &str,
    to_project: &str,
    o: &PublishOutcome,
) -> Option<Record> {
    Some(Record {
        env: to_env.to_string(),
        project: to_project.to_string(),
        target: t.source.target.clone(),
        runtime: t.source.runtime.clone(),
        architecture: t.source.architecture.clone(),
        region: o.region.clone(),
        layer: t.layer.clone(),
        arn: o.arn.clone()?,
        version: o.version,
        code_sha256: t.source.code_sha256.clone(),
        unzipped_bytes: t.source.unzipped_bytes,
        promoted_from: Some(t.source.arn.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{LOCK_VERSION, LockedPackage, LockedTarget};

    fn lock(pins: &[(&str, &str)]) -> Lock {
        Lock {
            version: LOCK_VERSION,
            inputs_digest: "d".into(),
            targets: vec![LockedTarget {
                python: "3.12".into(),
                arch: "x86_64".into(),
                packages: pins
                    .iter()
                    .map(|(n, v)| LockedPackage {
                        name: (*n).into(),
                        version: (*v).into(),
                        filename: format!("{n}-{v}-py3-none-any.whl"),
                        url: String::new(),
                        sha256: format!("{n}{v}"),
                        size: 1,
                        dependencies: vec![],
                        metadata_sha256: None,
                        source_hash: None,
                        built_from_source: false,
                    })
                    .collect(),
                held_back: vec![],
                differs: vec![],
            }],
        }
    }

    fn published(regions: &[(&str, &str)]) -> Published {
        let mut p = Published::default();
        for (region, sha) in regions {
            p.record(Record {
                env: "test".into(),
                project: "proj-test".into(),
                target: "py3.12-x86_64".into(),
                runtime: "python3.12".into(),
                architecture: "x86_64".into(),
                region: (*region).into(),
                layer: "proj-test-py312-x86_64".into(),
                arn: format!("arn:aws:lambda:{region}:1:layer:proj-test-py312-x86_64:1"),
                version: Some(1),
                code_sha256: Some((*sha).into()),
                unzipped_bytes: None,
                promoted_from: None,
            });
        }
        p
    }

    fn input<'a>(
        p: &'a Published,
        a: &'a Lock,
        b: &'a Lock,
        targets: &'a [String],
    ) -> PlanInput<'a> {
        PlanInput {
            published: p,
            from_env: "test",
            from_project: "proj-test",
            from_lock: (Path::new("pylayer.test.lock"), a),
            to_env: "prod",
            to_project: "proj-prod",
            to_lock: (Path::new("pylayer.prod.lock"), b),
            to_template: published::DEFAULT_LAYER_NAME,
            targets,
            out_dir: Path::new("dist"),
        }
    }

    #[test]
    fn plans_the_published_targets_under_the_other_environments_names() {
        let p = published(&[("us-east-1", "abc")]);
        let a = lock(&[("app", "1.0"), ("shared", "2.0")]);
        let plan = plan(&input(&p, &a, &a.clone(), &[])).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].layer, "proj-prod-py312-x86_64");
        assert_eq!(
            plan[0].local_zip,
            Path::new("dist/proj-test-py3.12-x86_64.zip")
        );
        assert_eq!(plan[0].source.region, "us-east-1");
    }

    #[test]
    fn refuses_when_the_pins_differ_and_names_them() {
        let p = published(&[("us-east-1", "abc")]);
        let a = lock(&[("app", "1.0"), ("shared", "2.0")]);
        let b = lock(&[("app", "1.0"), ("shared", "1.0")]);
        let PlanError::Refused(e) = plan(&input(&p, &a, &b, &[])).unwrap_err() else {
            panic!("not a refusal")
        };
        assert!(e.contains("python3.12/x86_64: ~ shared 2.0 -> 1.0"), "{e}");
        assert!(e.contains("pylayer.test.lock → pylayer.prod.lock"), "{e}");
        // A lock without the target is a refusal too.
        let mut none = b.clone();
        none.targets.clear();
        let PlanError::Refused(e) = plan(&input(&p, &a, &none, &[])).unwrap_err() else {
            panic!("not a refusal")
        };
        assert!(
            e.contains("pylayer.prod.lock has no pins for python3.12/x86_64"),
            "{e}"
        );
    }

    #[test]
    fn unknown_targets_nothing_published_and_split_regions_are_errors() {
        let a = lock(&[("app", "1.0")]);
        let p = published(&[("us-east-1", "abc")]);
        let want = vec!["py3.11-arm64".to_string()];
        let PlanError::Usage(e) = plan(&input(&p, &a, &a, &want)).unwrap_err() else {
            panic!("not a usage error")
        };
        assert!(e.contains("its targets: py3.12-x86_64"), "{e}");
        let empty = Published::default();
        let PlanError::Usage(e) = plan(&input(&empty, &a, &a, &[])).unwrap_err() else {
            panic!("not a usage error")
        };
        assert!(e.contains("nothing to promote"), "{e}");
        let split = published(&[("us-east-1", "abc"), ("eu-west-1", "xyz")]);
        let PlanError::Refused(e) = plan(&input(&split, &a, &a, &[])).unwrap_err() else {
            panic!("not a refusal")
        };
        assert!(e.contains("different bytes for py3.12-x86_64"), "{e}");
    }
}
