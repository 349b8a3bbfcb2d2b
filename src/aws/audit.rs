//! `pylayer layers audit`: every function of a region with the layers it uses, and what is
//! wrong with each pairing: a layer built for another Python minor or another architecture
//! than the function runs, the layer's check errors for the function's runtime, deprecated
//! runtimes (the function's, or a layer's compatible ones), known vulnerabilities of the
//! layer's distributions ([`crate::audit`], when settings are given).
//!
//! Each layer version is read once (downloaded into the cache by CodeSha256, see
//! [`super::layer_download`]), whatever number of functions use it. The judging is plain
//! functions of the facts gathered ([`judge`]), so it is tested without AWS.

use crate::civil_date::{civil_from_days, days_from_civil};
use std::collections::BTreeMap;

use serde::Serialize;

use super::AwsTarget;
use super::layer_download::{LayerArn, fetch};
use crate::cache::CacheDir;
use crate::domain;
use crate::layer::Layer;
use crate::target::{Arch, Target};

/// A function as ListFunctions describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    pub name: String,
    /// `python3.12`; `None` for a container image.
    pub runtime: Option<String>,
    pub architectures: Vec<String>,
    /// Layer version ARNs, in the order Lambda applies them.
    pub layers: Vec<String>,
}

/// Every function of the region (ListFunctions, every page).
pub async fn functions(lambda: &aws_sdk_lambda::Client) -> Result<Vec<Function>, String> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = lambda
            .list_functions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| super::describe(&e, "listing functions"))?;
        for f in page.functions() {
            out.push(Function {
                name: f.function_name().unwrap_or_default().to_string(),
                runtime: f.runtime().map(|r| r.as_str().to_string()),
                architectures: f
                    .architectures()
                    .iter()
                    .map(|a| a.as_str().to_string())
                    .collect(),
                layers: f
                    .layers()
                    .iter()
                    .filter_map(|l| l.arn().map(str::to_string))
                    .collect(),
            });
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// What a layer version is, as far as its bytes and Lambda say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LayerFacts {
    pub arn: String,
    pub code_sha256: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    /// The Python minor its compiled modules, wheel tags or `python3.X/` paths name.
    pub built_for_python: Option<u8>,
    /// The architecture its compiled modules are for.
    pub built_for_arch: Option<String>,
    /// Whether it holds compiled code.
    pub compiled: bool,
    /// Why it could not be read (then nothing else is known of it).
    pub error: Option<String>,
}

impl LayerFacts {
    /// The facts of a layer read from its bytes.
    pub fn from_layer(arn: &str, layer: &Layer) -> LayerFacts {
        LayerFacts {
            arn: arn.to_string(),
            built_for_python: layer.python_hint.or_else(|| python_of_tags(layer)),
            built_for_arch: layer.arch_hint.map(|a| a.lambda_name().to_string()),
            compiled: layer.has_native,
            ..LayerFacts::default()
        }
    }
}

/// The one CPython minor the layer's wheels were built for, from their WHEEL tags
/// (`cp311-cp311-manylinux…`; `abi3` and `none` ABIs say nothing of the minor).
fn python_of_tags(layer: &Layer) -> Option<u8> {
    let mut minors: Vec<u8> = layer
        .dists
        .iter()
        .flat_map(|d| d.tags.iter())
        .filter_map(|t| {
            let mut parts = t.split('-');
            let (_, abi) = (parts.next()?, parts.next()?);
            abi.strip_prefix("cp3")?
                .trim_end_matches(['m', 'd', 'u'])
                .parse()
                .ok()
        })
        .collect();
    minors.sort();
    minors.dedup();
    (minors.len() == 1).then(|| minors[0])
}

/// One problem of a function with one of its layers (or with its own runtime).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `runtime-mismatch`, `architecture-mismatch`, `check-errors`, `deprecated-runtime`,
    /// `deprecated-layer-runtime`, `unreadable-layer`, `vulnerability`.
    pub code: &'static str,
    /// `error` (counts: exit 1) or `warning` (a deprecation within
    /// [`domain::DEPRECATION_WARNING_DAYS`]).
    pub severity: &'static str,
    /// The layer version concerned; `None` for the function's own runtime.
    pub layer: Option<String>,
    pub message: String,
    pub fix: String,
}

/// One function's audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionAudit {
    #[serde(flatten)]
    pub function: Function,
    pub findings: Vec<Finding>,
}

/// A function not audited, and why (not Python, no layers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub name: String,
    pub runtime: Option<String>,
    pub reason: String,
}

/// A region's audit.
#[derive(Debug, Clone, Serialize)]
pub struct RegionAudit {
    pub region: String,
    /// The date deprecations were compared with (`YYYY-MM-DD`, UTC).
    pub as_of: String,
    pub functions: Vec<FunctionAudit>,
    pub skipped: Vec<Skipped>,
    pub layers: Vec<LayerFacts>,
    /// Whether the layers' distributions were looked up for known vulnerabilities.
    pub vulnerabilities_checked: bool,
    /// Distributions the vulnerability service could not answer for (`NAME VERSION: why`).
    pub vulnerabilities_unchecked: Vec<String>,
}

impl RegionAudit {
    pub fn errors(&self) -> usize {
        self.functions
            .iter()
            .flat_map(|f| &f.findings)
            .filter(|f| f.severity == "error")
            .count()
    }
}

/// Why a function is not audited, if it is not.
pub fn skip_reason(f: &Function) -> Option<String> {
    match f.runtime.as_deref() {
        None => Some("a container image: its layers are in the image".into()),
        Some(r) if !r.starts_with("python") => Some(format!("not a Python runtime ({r})")),
        _ if f.layers.is_empty() => Some("uses no layers".into()),
        _ => None,
    }
}

/// The Python minor of a runtime identifier (`python3.12` → 12).
fn minor_of(runtime: &str) -> Option<u8> {
    runtime.strip_prefix("python3.")?.parse().ok()
}

/// The deprecation finding for `runtime` on `today` (`YYYY-MM-DD`), if any.
pub fn deprecation(
    runtime: &str,
    today: &str,
    code: &'static str,
    layer: Option<&str>,
    fix: &str,
) -> Option<Finding> {
    let whose = match layer {
        Some(l) => format!("layer {l} is built for {runtime}"),
        None => format!("the function runs {runtime}"),
    };
    let Some(d) = domain::runtime_deprecation(runtime) else {
        // Older than every entry of the schedule: long deprecated and blocked.
        let old = minor_of(runtime).is_some_and(|m| m < 8) || runtime.starts_with("python2");
        return old.then(|| Finding {
            code,
            severity: "error",
            layer: layer.map(str::to_string),
            message: format!("{whose}, which Lambda no longer supports"),
            fix: fix.to_string(),
        });
    };
    if today >= d.deprecated {
        let blocked = if today >= d.block_update {
            format!(
                "functions on it can no longer be updated since {}",
                d.block_update
            )
        } else {
            format!(
                "updates of functions on it are blocked from {}",
                d.block_update
            )
        };
        return Some(Finding {
            code,
            severity: "error",
            layer: layer.map(str::to_string),
            message: format!(
                "{whose}, deprecated since {} (no more security patches); {blocked}",
                d.deprecated
            ),
            fix: fix.to_string(),
        });
    }
    let days = days_between(today, d.deprecated)?;
    (days <= domain::DEPRECATION_WARNING_DAYS).then(|| Finding {
        code,
        severity: "warning",
        layer: layer.map(str::to_string),
        message: format!(
            "{whose}, deprecated on {} (in {days} days); updates are blocked from {}",
            d.deprecated, d.block_update
        ),
        fix: fix.to_string(),
    })
}

/// What is wrong with function `f` and its layers. `facts` has every layer `f` uses;
/// `check_errors` the check error codes of a layer for `f`'s runtime and architecture.
pub fn judge(
    f: &Function,
    facts: &BTreeMap<String, LayerFacts>,
    check_errors: &BTreeMap<String, Vec<String>>,
    today: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let runtime = f.runtime.clone().unwrap_or_default();
    let arch = f
        .architectures
        .first()
        .cloned()
        .unwrap_or_else(|| "x86_64".into());
    let minor = minor_of(&runtime);
    let rebuild = match minor {
        Some(m) => format!(
            "build the layer for the function: `pylayer build --python 3.{m} --arch {arch}`, then `pylayer publish` and `pylayer attach --function {}`",
            f.name
        ),
        None => "rebuild the layer for the function's runtime with `pylayer build`".into(),
    };
    if let Some(d) = deprecation(
        &runtime,
        today,
        "deprecated-runtime",
        None,
        &format!(
            "move the function to a supported runtime (python3.13) and rebuild its layers for it (`pylayer build --python 3.13 --arch {arch}`)"
        ),
    ) {
        out.push(d);
    }
    for arn in &f.layers {
        let Some(l) = facts.get(arn) else { continue };
        if let Some(e) = &l.error {
            out.push(Finding {
                code: "unreadable-layer",
                severity: "error",
                layer: Some(arn.clone()),
                message: e.clone(),
                fix: format!("`pylayer check {arn}` shows the same error alone"),
            });
            continue;
        }
        if let (Some(b), Some(m)) = (l.built_for_python, minor)
            && b != m
        {
            let what = if l.compiled {
                format!("its compiled modules are for CPython 3.{b}")
            } else {
                format!("its files are under python3.{b}/, which python3.{m} does not search")
            };
            out.push(Finding {
                code: "runtime-mismatch",
                severity: "error",
                layer: Some(arn.clone()),
                message: format!(
                    "layer built for python3.{b}, function runs {runtime}: {what}, so they will not import"
                ),
                fix: rebuild.clone(),
            });
        }
        if let Some(b) = &l.built_for_arch
            && *b != arch
        {
            out.push(Finding {
                code: "architecture-mismatch",
                severity: "error",
                layer: Some(arn.clone()),
                message: format!(
                    "layer's compiled modules are {b} code, function runs on {arch}: they will not load"
                ),
                fix: rebuild.clone(),
            });
        }
        // The check's own codes for the mismatches just reported say nothing more.
        let restated = |code: &str| {
            out.iter().any(|x: &Finding| {
                x.layer.as_deref() == Some(arn.as_str())
                    && matches!(
                        (x.code, code),
                        ("runtime-mismatch", "python-version")
                            | ("architecture-mismatch", "wrong-architecture")
                    )
            })
        };
        let codes: Vec<String> = check_errors
            .get(arn)
            .map(|c| c.iter().filter(|c| !restated(c)).cloned().collect())
            .unwrap_or_default();
        if !codes.is_empty() {
            out.push(Finding {
                code: "check-errors",
                severity: "error",
                layer: Some(arn.clone()),
                message: format!(
                    "the layer's check for {runtime}/{arch} finds {} error(s): {}",
                    codes.len(),
                    dedup(&codes).join(", ")
                ),
                fix: format!(
                    "`pylayer check {arn} --python 3.{} --arch {arch}` explains each",
                    minor.unwrap_or(12)
                ),
            });
        }
        for r in &l.compatible_runtimes {
            if let Some(d) = deprecation(
                r,
                today,
                "deprecated-layer-runtime",
                Some(arn),
                &format!("{rebuild}; publishing it claims the supported runtime"),
            ) {
                out.push(d);
            }
        }
    }
    out
}

fn dedup(codes: &[String]) -> Vec<String> {
    let mut v = codes.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Audits every function of one region: lists them, reads each layer version they use
/// once (through the cache), checks it for each function's target, judges.
pub async fn audit_region(
    target: &AwsTarget,
    region: Option<&str>,
    cache: &CacheDir,
    http: &reqwest::Client,
    today: &str,
    only: &[String],
    vulnerabilities: Option<&crate::audit::AuditSettings>,
) -> Result<RegionAudit, String> {
    let config = super::sdk_config(target, region).await?;
    let region_name = config.region().map(|r| r.to_string()).unwrap_or_default();
    let lambda = super::lambda(&config);
    let mut all = functions(&lambda).await?;
    if !only.is_empty() {
        for name in only {
            if !all.iter().any(|f| &f.name == name) {
                return Err(format!(
                    "function {name}: not found in {region_name}; check the name, the region (--region) and the account (--profile)"
                ));
            }
        }
        all.retain(|f| only.contains(&f.name));
    }
    let mut audited = Vec::new();
    let mut skipped = Vec::new();
    for f in all {
        match skip_reason(&f) {
            Some(reason) => skipped.push(Skipped {
                name: f.name,
                runtime: f.runtime,
                reason,
            }),
            None => audited.push(f),
        }
    }
    // Each layer version read once.
    let mut facts: BTreeMap<String, LayerFacts> = BTreeMap::new();
    let mut paths: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    // (name, version) of each layer's distributions.
    let mut contents: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for arn in audited.iter().flat_map(|f| f.layers.iter()) {
        if facts.contains_key(arn) {
            continue;
        }
        let layer_target = AwsTarget {
            profile: target.profile.clone(),
            region: None,
        };
        let got = match LayerArn::parse(arn) {
            Ok(parsed) => fetch(&layer_target, &parsed, cache, http).await,
            Err(e) => Err(e),
        };
        let entry = match got {
            Ok(p) => match Layer::read(&p.path) {
                Ok(layer) => {
                    paths.insert(arn.clone(), p.path.clone());
                    contents.insert(
                        arn.clone(),
                        layer
                            .dists
                            .iter()
                            .map(|d| (d.key.clone(), d.version.clone()))
                            .collect(),
                    );
                    LayerFacts {
                        code_sha256: p.code_sha256,
                        compatible_runtimes: p.runtimes,
                        compatible_architectures: p.architectures,
                        ..LayerFacts::from_layer(arn, &layer)
                    }
                }
                Err(e) => LayerFacts {
                    arn: arn.clone(),
                    code_sha256: p.code_sha256,
                    error: Some(format!("{e:#}")),
                    ..LayerFacts::default()
                },
            },
            Err(e) => LayerFacts {
                arn: arn.clone(),
                error: Some(e),
                ..LayerFacts::default()
            },
        };
        facts.insert(arn.clone(), entry);
    }
    let mut unchecked = Vec::new();
    let known = match vulnerabilities {
        Some(settings) => {
            let report = vulnerability_report(&contents, settings).await?;
            unchecked = report
                .unchecked
                .iter()
                .map(|u| format!("{} {}: {}", u.name, u.version, u.reason))
                .collect();
            report.findings
        }
        None => Vec::new(),
    };
    let mut reports = Vec::new();
    for f in audited {
        let mut check_errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let arch = f
            .architectures
            .first()
            .and_then(|a| a.parse::<Arch>().ok())
            .unwrap_or(Arch::X86_64);
        let t = f
            .runtime
            .as_deref()
            .and_then(minor_of)
            .and_then(|m| Target::new(m, arch).ok());
        if let Some(t) = t {
            for arn in &f.layers {
                let Some(path) = paths.get(arn) else { continue };
                let source = crate::layer::LayerSource::from_path(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let report = crate::check::check(&source, &t, &Default::default())
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                check_errors.insert(
                    arn.clone(),
                    report
                        .findings
                        .iter()
                        .filter(|x| x.severity == crate::check::report::Severity::Error)
                        .map(|x| x.code.to_string())
                        .collect(),
                );
            }
        }
        let mut findings = judge(&f, &facts, &check_errors, today);
        for arn in &f.layers {
            if let Some(dists) = contents.get(arn) {
                findings.extend(vulnerability_findings(arn, dists, &known));
            }
        }
        reports.push(FunctionAudit {
            function: f,
            findings,
        });
    }
    Ok(RegionAudit {
        region: region_name,
        as_of: today.to_string(),
        functions: reports,
        skipped,
        layers: facts.into_values().collect(),
        vulnerabilities_checked: vulnerabilities.is_some(),
        vulnerabilities_unchecked: unchecked,
    })
}

/// Every distribution of every layer looked up once (`pylayer audit`'s library).
async fn vulnerability_report(
    contents: &BTreeMap<String, Vec<(String, String)>>,
    settings: &crate::audit::AuditSettings,
) -> Result<crate::audit::AuditReport, String> {
    let dists: Vec<crate::audit::Dist> = contents
        .values()
        .flatten()
        .filter_map(|(name, version)| {
            Some(crate::audit::Dist::new(
                name.parse().ok()?,
                version.parse().ok()?,
            ))
        })
        .collect();
    crate::audit::audit_async(&dists, settings)
        .await
        .map_err(|e| format!("looking up known vulnerabilities: {e:#}"))
}

/// The known vulnerabilities (those that count: not ignored, or ignored until a date that
/// has passed) of the distributions in layer `arn`.
pub fn vulnerability_findings(
    arn: &str,
    dists: &[(String, String)],
    known: &[crate::audit::Finding],
) -> Vec<Finding> {
    let normalize = |n: &str| crate::wheel_name::normalize_name(n);
    known
        .iter()
        .filter(|v| v.counts())
        .filter(|v| {
            dists
                .iter()
                .any(|(n, ver)| normalize(n) == normalize(&v.package) && *ver == v.version)
        })
        .map(|v| {
            let aliases = if v.aliases.is_empty() {
                String::new()
            } else {
                format!(" ({})", v.aliases.join(", "))
            };
            let fixed = if v.fixed_in.is_empty() {
                "no fixed release yet".to_string()
            } else {
                format!("fixed in {}", v.fixed_in.join(", "))
            };
            Finding {
                code: "vulnerability",
                severity: "error",
                layer: Some(arn.to_string()),
                message: format!("{} {}: {}{aliases}, {fixed}", v.package, v.version, v.id),
                fix: format!(
                    "raise the pin of {} and rebuild the layer (`pylayer audit` on its lock gives the smallest upgrade), then `pylayer publish` and `pylayer attach`; or accept it in pylayer.toml's [audit] ignore",
                    v.package
                ),
            }
        })
        .collect()
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Whether `s` is a `YYYY-MM-DD` date.
pub fn valid_date(s: &str) -> bool {
    parse_date(s).is_some()
}

fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Days from `a` to `b` (both `YYYY-MM-DD`).
fn days_between(a: &str, b: &str) -> Option<i64> {
    Some(parse_date(b)? - parse_date(a)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(name: &str, runtime: &str, arch: &str, layers: &[&str]) -> Function {
        Function {
            name: name.into(),
            runtime: Some(runtime.into()),
            architectures: vec![arch.into()],
            layers: layers.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn facts(arn: &str, python: Option<u8>, arch: Option<Arch>, runtimes: &[&str]) -> LayerFacts {
        LayerFacts {
            arn: arn.into(),
            built_for_python: python,
            built_for_arch: arch.map(|a| a.lambda_name().to_string()),
            compiled: true,
            compatible_runtimes: runtimes.iter().map(|s| s.to_string()).collect(),
            ..LayerFacts::default()
        }
    }

    #[test]
    fn dates_round_trip_and_count_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2028, 2, 29)), (2028, 2, 29));
        assert_eq!(days_between("2026-11-27", "2027-06-30"), Some(215));
        assert_eq!(days_between("2024-02-28", "2024-03-01"), Some(2));
        assert!(valid_date("2026-01-31"));
        assert!(!valid_date("2026-02-30"));
        assert!(!valid_date("2026-1-3"));
        assert!(valid_date(&today_utc()));
    }

    #[test]
    fn deprecations_are_errors_after_their_date_and_warnings_within_180_days() {
        let d = deprecation(
            "python3.10",
            "2026-11-27",
            "deprecated-runtime",
            None,
            "fix",
        )
        .unwrap();
        assert_eq!(d.severity, "error");
        assert!(
            d.message.contains("deprecated since 2026-06-30"),
            "{}",
            d.message
        );
        assert!(
            d.message
                .contains("can no longer be updated since 2026-08-31"),
            "{}",
            d.message
        );
        let w = deprecation(
            "python3.11",
            "2027-01-01",
            "deprecated-runtime",
            None,
            "fix",
        )
        .unwrap();
        assert_eq!(w.severity, "warning");
        assert!(w.message.contains("in 180 days"), "{}", w.message);
        assert_eq!(
            deprecation("python3.11", "2026-12-31", "x", None, "f"),
            None
        );
        assert_eq!(
            deprecation("python3.12", "2026-11-27", "x", None, "f"),
            None
        );
        assert_eq!(
            deprecation("python3.7", "2026-11-27", "x", None, "f")
                .unwrap()
                .severity,
            "error"
        );
        assert_eq!(
            deprecation("nodejs20.x", "2026-11-27", "x", None, "f"),
            None
        );
        // Every entry is well-formed and in order.
        for d in domain::RUNTIME_DEPRECATIONS {
            assert!(
                valid_date(d.deprecated)
                    && valid_date(d.block_create)
                    && valid_date(d.block_update),
                "{d:?}"
            );
            assert!(
                d.deprecated <= d.block_create && d.block_create <= d.block_update,
                "{d:?}"
            );
            assert!(!d.source.is_empty());
        }
    }

    #[test]
    fn judges_runtime_and_architecture_mismatches_and_check_errors() {
        let mut all = BTreeMap::new();
        all.insert(
            "l311".to_string(),
            facts("l311", Some(11), Some(Arch::X86_64), &["python3.11"]),
        );
        all.insert(
            "l312".to_string(),
            facts("l312", Some(12), Some(Arch::X86_64), &["python3.12"]),
        );
        all.insert("pure".to_string(), facts("pure", None, None, &[]));
        let none = BTreeMap::new();
        let today = "2026-11-27";
        let codes = |v: Vec<Finding>| v.iter().map(|f| f.code).collect::<Vec<_>>();

        let f = judge(
            &function("f", "python3.12", "x86_64", &["l311"]),
            &all,
            &none,
            today,
        );
        assert_eq!(codes(f.clone()), ["runtime-mismatch"]);
        assert!(
            f[0].message.contains("python3.11") && f[0].message.contains("CPython 3.11"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix
                .contains("pylayer build --python 3.12 --arch x86_64"),
            "{}",
            f[0].fix
        );

        let f = judge(
            &function("g", "python3.12", "arm64", &["l312"]),
            &all,
            &none,
            today,
        );
        assert_eq!(codes(f.clone()), ["architecture-mismatch"]);
        assert!(
            f[0].message.contains("x86_64 code") && f[0].message.contains("arm64"),
            "{}",
            f[0].message
        );

        assert!(
            judge(
                &function("h", "python3.12", "x86_64", &["l312", "pure"]),
                &all,
                &none,
                today
            )
            .is_empty()
        );

        // The check's codes for a mismatch already reported are not repeated.
        let mut restating = BTreeMap::new();
        restating.insert("l311".to_string(), vec!["python-version".to_string()]);
        let f = judge(
            &function("f", "python3.12", "x86_64", &["l311"]),
            &all,
            &restating,
            today,
        );
        assert_eq!(codes(f), ["runtime-mismatch"]);

        let mut errors = BTreeMap::new();
        errors.insert(
            "l312".to_string(),
            vec!["missing-library".to_string(), "missing-library".to_string()],
        );
        let f = judge(
            &function("h", "python3.12", "x86_64", &["l312"]),
            &all,
            &errors,
            today,
        );
        assert_eq!(codes(f.clone()), ["check-errors"]);
        assert!(
            f[0].message.contains("2 error(s): missing-library"),
            "{}",
            f[0].message
        );

        // A deprecated function runtime and a layer claiming one.
        let mut old = all.clone();
        old.insert(
            "l310".to_string(),
            facts("l310", Some(10), Some(Arch::X86_64), &["python3.10"]),
        );
        let f = judge(
            &function("o", "python3.10", "x86_64", &["l310"]),
            &old,
            &none,
            today,
        );
        assert_eq!(codes(f), ["deprecated-runtime", "deprecated-layer-runtime"]);
    }

    #[test]
    fn vulnerabilities_are_matched_to_the_layers_holding_them_unless_ignored() {
        let known = |package: &str, ignored: bool| crate::audit::Finding {
            package: package.into(),
            version: "2.19.0".into(),
            id: "PYSEC-2018-28".into(),
            aliases: vec!["CVE-2018-18074".into()],
            summary: None,
            fixed_in: vec!["2.20.0".into()],
            link: None,
            targets: vec![],
            upgrades: vec![],
            ignore: ignored.then(|| crate::audit::IgnoreStatus {
                id: "PYSEC-2018-28".into(),
                reason: "not reachable".into(),
                until: None,
                expired: false,
            }),
        };
        let dists = vec![("requests".to_string(), "2.19.0".to_string())];
        let f = vulnerability_findings("l", &dists, &[known("Requests", false)]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "vulnerability");
        assert!(
            f[0].message
                .contains("Requests 2.19.0: PYSEC-2018-28 (CVE-2018-18074), fixed in 2.20.0"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].fix.contains("raise the pin of Requests"),
            "{}",
            f[0].fix
        );
        assert!(vulnerability_findings("l", &dists, &[known("requests", true)]).is_empty());
        let other = vec![("requests".to_string(), "2.20.0".to_string())];
        assert!(vulnerability_findings("l", &other, &[known("requests", false)]).is_empty());
    }

    #[test]
    fn skips_what_is_not_a_python_function_with_layers() {
        assert!(
            skip_reason(&function("n", "nodejs20.x", "x86_64", &["l"]))
                .unwrap()
                .contains("not a Python runtime")
        );
        assert!(
            skip_reason(&function("p", "python3.12", "x86_64", &[]))
                .unwrap()
                .contains("no layers")
        );
        let image = Function {
            runtime: None,
            ..function("i", "", "x86_64", &["l"])
        };
        assert!(skip_reason(&image).unwrap().contains("container image"));
        assert_eq!(
            skip_reason(&function("p", "python3.12", "x86_64", &["l"])),
            None
        );
    }
}
