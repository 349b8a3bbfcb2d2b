//! Listing a layer's versions (and who uses them) and pruning old, unused ones.

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

/// The versions `prune --keep N` deletes: all but the newest `keep`, except those in use.
pub fn to_prune(versions: &[VersionInfo], keep: usize) -> Vec<&VersionInfo> {
    versions
        .iter()
        .skip(keep)
        .filter(|v| v.used_by.is_empty())
        .collect()
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
