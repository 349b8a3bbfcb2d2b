//! Listing a layer's versions (and who uses them) and pruning old, unused ones, per target.

use std::collections::BTreeMap;

use super::describe;

#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionInfo {
    pub version: i64,
    pub arn: String,
    pub created: String,
    pub runtimes: Vec<String>,
    pub architectures: Vec<String>,
    /// Zipped size, as Lambda reports it.
    pub code_size: i64,
    pub code_sha256: String,
    /// Functions whose configuration lists this version (when asked for).
    pub used_by: Vec<String>,
}

/// Every version of a layer, newest first.
pub async fn versions(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Vec<VersionInfo>, String> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = lambda
            .list_layer_versions()
            .layer_name(name)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| describe(&e, &format!("layer {name}")))?;
        for v in page.layer_versions() {
            let detail = lambda
                .get_layer_version()
                .layer_name(name)
                .version_number(v.version())
                .send()
                .await
                .map_err(|e| describe(&e, &format!("layer {name} version {}", v.version())))?;
            out.push(VersionInfo {
                version: v.version(),
                arn: v.layer_version_arn().unwrap_or("").to_string(),
                created: v.created_date().unwrap_or("").to_string(),
                runtimes: v
                    .compatible_runtimes()
                    .iter()
                    .map(|r| r.as_str().to_string())
                    .collect(),
                architectures: v
                    .compatible_architectures()
                    .iter()
                    .map(|a| a.as_str().to_string())
                    .collect(),
                code_size: detail.content().map_or(0, |c| c.code_size()),
                code_sha256: detail
                    .content()
                    .and_then(|c| c.code_sha256())
                    .unwrap_or("")
                    .to_string(),
                used_by: Vec::new(),
            });
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.version));
    Ok(out)
}

/// Which functions use which layer version ARNs.
pub async fn usage(
    lambda: &aws_sdk_lambda::Client,
) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let page = lambda
            .list_functions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| describe(&e, "listing functions"))?;
        for f in page.functions() {
            let name = f.function_name().unwrap_or("").to_string();
            for l in f.layers() {
                if let Some(arn) = l.arn() {
                    out.entry(arn.to_string()).or_default().push(name.clone());
                }
            }
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The target a version serves: its runtimes and architectures, sorted (`python3.12 x86_64`).
/// Versions of one layer name with different targets are pruned separately.
pub fn target_key(v: &VersionInfo) -> String {
    let mut runtimes = v.runtimes.clone();
    runtimes.sort();
    let mut archs = v.architectures.clone();
    archs.sort();
    format!("{} {}", runtimes.join(","), archs.join(","))
        .trim()
        .to_string()
}

/// The versions `prune --keep N` deletes: for each target (runtimes × architectures) all
/// but its newest `keep`, except those in use. `keep` is at least 1, so the only version of
/// a target is never deleted. `versions` is one layer's, newest first.
pub fn to_prune(versions: &[VersionInfo], keep: usize) -> Vec<&VersionInfo> {
    let keep = keep.max(1);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for v in versions {
        let n = seen.entry(target_key(v)).or_default();
        *n += 1;
        if *n > keep && v.used_by.is_empty() {
            out.push(v);
        }
    }
    out
}

/// Versions past the newest `keep` of their target that stay because functions use them.
pub fn kept_in_use(versions: &[VersionInfo], keep: usize) -> Vec<&VersionInfo> {
    let keep = keep.max(1);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for v in versions {
        let n = seen.entry(target_key(v)).or_default();
        *n += 1;
        if *n > keep && !v.used_by.is_empty() {
            out.push(v);
        }
    }
    out
}

/// The layer names of a project: `name` itself and its per-target names from `template`
/// for every Lambda Python runtime and architecture, as far as they exist in the region
/// (one ListLayers walk). Sorted.
pub async fn project_layers(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    template: &str,
) -> Result<Vec<String>, String> {
    let mut wanted = std::collections::BTreeSet::new();
    wanted.insert(name.to_string());
    for rt in crate::domain::RUNTIMES {
        for arch in [crate::target::Arch::X86_64, crate::target::Arch::Arm64] {
            let runtime = format!("python3.{}", rt.minor);
            wanted.insert(crate::published::layer_name(
                template,
                name,
                &runtime,
                arch.lambda_name(),
            )?);
        }
    }
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = lambda
            .list_layers()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| describe(&e, "listing layers"))?;
        for l in page.layers() {
            if let Some(n) = l.layer_name()
                && wanted.contains(n)
            {
                out.push(n.to_string());
            }
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub async fn delete(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    version: i64,
) -> Result<(), String> {
    lambda
        .delete_layer_version()
        .layer_name(name)
        .version_number(version)
        .send()
        .await
        .map_err(|e| describe(&e, &format!("deleting layer {name} version {version}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: i64, runtime: &str, arch: &str, used: bool) -> VersionInfo {
        VersionInfo {
            version,
            arn: format!("arn:aws:lambda:r:1:layer:l:{version}"),
            created: String::new(),
            runtimes: vec![runtime.into()],
            architectures: vec![arch.into()],
            code_size: 0,
            code_sha256: String::new(),
            used_by: if used { vec!["f".into()] } else { Vec::new() },
        }
    }

    #[test]
    fn prunes_per_target_and_never_the_only_version_of_one() {
        // One layer name holding two targets (the `{name}` template), newest first.
        let list = vec![
            v(6, "python3.12", "x86_64", false),
            v(5, "python3.12", "x86_64", false),
            v(4, "python3.11", "arm64", false),
            v(3, "python3.12", "x86_64", true),
            v(2, "python3.12", "x86_64", false),
            v(1, "python3.11", "x86_64", false),
        ];
        let doomed: Vec<i64> = to_prune(&list, 1).iter().map(|v| v.version).collect();
        assert_eq!(doomed, [5, 2]);
        let kept: Vec<i64> = kept_in_use(&list, 1).iter().map(|v| v.version).collect();
        assert_eq!(kept, [3]);
        // --keep 0 still keeps the newest of each target.
        assert_eq!(to_prune(&list, 0).len(), 2);
        let doomed: Vec<i64> = to_prune(&list, 3).iter().map(|v| v.version).collect();
        assert_eq!(doomed, [2]);
        assert!(to_prune(&list, 4).is_empty());
    }
}
