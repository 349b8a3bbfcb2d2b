//! Publishing a layer zip as a new layer version, only when no version of the layer holds
//! the same bytes yet (Lambda would otherwise create a new version for identical bytes).

use std::path::{Path, PathBuf};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, LayerVersionContentInput, Runtime};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::{AwsTarget, describe};
use crate::domain::MAX_DIRECT_UPLOAD_BYTES;

/// Files above this size are uploaded to S3 in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
const PART_SIZE: u64 = 16 * 1024 * 1024;

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub zip: PathBuf,
    pub name: String,
    pub runtimes: Vec<String>,
    pub architectures: Vec<String>,
    pub description: Option<String>,
    pub license: Option<String>,
    pub s3_bucket: Option<String>,
    /// Account IDs, `o-…` organization IDs, or `public`.
    pub grants: Vec<String>,
    pub dry_run: bool,
    /// base64(sha256(zip)), as Lambda's CodeSha256.
    pub code_sha256: String,
    pub sha256_hex: String,
    pub size: u64,
}

/// What happened in one region.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishOutcome {
    pub region: String,
    /// The Lambda layer name.
    pub layer: String,
    /// The version ARN that now holds these bytes (or would, in a dry run).
    pub arn: Option<String>,
    pub version: Option<i64>,
    /// `published`; `unchanged` when a version (any, not only the latest) already holds
    /// these bytes for these runtimes and architectures; `would-publish` in a dry run.
    pub action: String,
    pub via_s3: bool,
}

/// Validates what Lambda would refuse, before any network call.
pub fn validate(req: &PublishRequest) -> Result<(), String> {
    let name_ok = !req.name.is_empty()
        && req.name.len() <= 140
        && req
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(format!(
            "layer name `{}` is invalid: use 1 to 140 letters, digits, `-` or `_`",
            req.name
        ));
    }
    if req.runtimes.len() > 15 {
        return Err("a layer lists at most 15 compatible runtimes".into());
    }
    if req.architectures.len() > 2 {
        return Err("a layer lists at most 2 compatible architectures".into());
    }
    if req
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 256)
    {
        return Err("--description is longer than Lambda's 256 characters".into());
    }
    if req
        .license
        .as_ref()
        .is_some_and(|d| d.chars().count() > 512)
    {
        return Err("--license is longer than Lambda's 512 characters".into());
    }
    if req.size > MAX_DIRECT_UPLOAD_BYTES && req.s3_bucket.is_none() {
        return Err(format!(
            "{} is {} bytes, over the {MAX_DIRECT_UPLOAD_BYTES}-byte limit for a direct upload: pass --s3-bucket BUCKET (in the same region) so it goes through S3",
            req.zip.display(),
            req.size
        ));
    }
    for g in &req.grants {
        let ok = g == "public"
            || g.starts_with("o-")
            || (g.len() == 12 && g.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!(
                "--grant {g}: give a 12-digit account ID, an organization ID (o-…), or `public`"
            ));
        }
    }
    Ok(())
}

/// A version of the layer that already holds these bytes (same CodeSha256) for at least
/// the requested runtimes and architectures: publishing again would only make a copy.
/// The newest such version wins; `None` when the layer does not exist yet.
async fn existing(
    client: &aws_sdk_lambda::Client,
    req: &PublishRequest,
) -> Result<Option<(i64, String)>, String> {
    let versions = match super::layers::versions(client, &req.name).await {
        Ok(v) => v,
        // A layer that was never published (or whose versions were all deleted).
        Err(text) if text.contains("not found") => return Ok(None),
        Err(text) => return Err(text),
    };
    Ok(versions
        .iter()
        .find(|v| {
            v.code_sha256 == req.code_sha256
                && covers(&v.runtimes, &req.runtimes)
                && covers(&v.architectures, &req.architectures)
        })
        .map(|v| (v.version, v.arn.clone())))
}

/// Whether a version's list (of runtimes or architectures) covers what is asked; an empty
/// list on the version means "any", as Lambda treats it.
fn covers(have: &[String], want: &[String]) -> bool {
    have.is_empty() || want.iter().all(|w| have.contains(w))
}

/// Uploads the zip to S3 under a key derived from its hash, unless it is already there.
async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    zip: &Path,
    size: u64,
) -> Result<(), String> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(h) if h.content_length() == Some(size as i64) => return Ok(()),
        Ok(_) => {}
        Err(e) => {
            let not_found = e.as_service_error().is_some_and(|s| s.is_not_found());
            if !not_found {
                let text = describe(&e, &format!("checking s3://{bucket}/{key}"));
                // HEAD on a missing bucket answers 404 without a code.
                return Err(if text.contains("NotFound") || text.contains("not found") {
                    format!(
                        "s3://{bucket}: the bucket does not exist in this region; create it or pass another --s3-bucket"
                    )
                } else {
                    text
                });
            }
        }
    }
    let what = format!("uploading to s3://{bucket}/{key}");
    if size <= MULTIPART_THRESHOLD {
        let body = ByteStream::from_path(zip)
            .await
            .map_err(|e| format!("{what}: cannot read {}: {e}", zip.display()))?;
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e, &what))?;
        return Ok(());
    }
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| describe(&e, &what))?;
    let upload_id = created.upload_id().unwrap_or_default().to_string();
    let mut parts = Vec::new();
    let mut offset = 0u64;
    let mut number = 1i32;
    while offset < size {
        let len = PART_SIZE.min(size - offset);
        let body = ByteStream::read_from()
            .path(zip)
            .offset(offset)
            .length(aws_sdk_s3::primitives::Length::Exact(len))
            .build()
            .await
            .map_err(|e| format!("{what}: cannot read {}: {e}", zip.display()))?;
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(body)
            .send()
            .await;
        let part = match part {
            Ok(p) => p,
            Err(e) => {
                let _ = s3
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return Err(describe(&e, &what));
            }
        };
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag().map(str::to_string))
                .build(),
        );
        offset += len;
        number += 1;
    }
    let done = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    if let Err(e) = done {
        // Some S3-compatible servers answer 200 with a body the SDK cannot parse; what
        // counts is whether the object is now there, whole.
        let ok_status = e.raw_response().is_some_and(|r| r.status().is_success());
        let stored = s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .ok()
            .and_then(|h| h.content_length());
        if !(ok_status && stored == Some(size as i64)) {
            return Err(describe(&e, &what));
        }
    }
    Ok(())
}

/// Publishes in one region (or reports the version that already has these bytes).
pub async fn publish_region(
    target: &AwsTarget,
    region: Option<&str>,
    req: &PublishRequest,
) -> Result<PublishOutcome, String> {
    let config = super::sdk_config(target, region).await?;
    let region_name = config.region().map(|r| r.to_string()).unwrap_or_default();
    let lambda = super::lambda(&config);
    if let Some((version, arn)) = existing(&lambda, req).await? {
        return Ok(PublishOutcome {
            region: region_name,
            layer: req.name.clone(),
            arn: Some(arn),
            version: Some(version),
            action: "unchanged".into(),
            via_s3: false,
        });
    }
    let via_s3 = req.size > MAX_DIRECT_UPLOAD_BYTES;
    if req.dry_run {
        return Ok(PublishOutcome {
            region: region_name,
            layer: req.name.clone(),
            arn: None,
            version: None,
            action: "would-publish".into(),
            via_s3,
        });
    }
    let content = if via_s3 {
        let bucket = req.s3_bucket.clone().unwrap_or_default();
        let key = format!("pylayer/{}/{}.zip", req.name, req.sha256_hex);
        upload(&super::s3(&config), &bucket, &key, &req.zip, req.size).await?;
        LayerVersionContentInput::builder()
            .s3_bucket(bucket)
            .s3_key(key)
            .build()
    } else {
        let bytes = std::fs::read(&req.zip)
            .map_err(|e| format!("cannot read {}: {e}", req.zip.display()))?;
        LayerVersionContentInput::builder()
            .zip_file(Blob::new(bytes))
            .build()
    };
    let mut call = lambda
        .publish_layer_version()
        .layer_name(&req.name)
        .content(content)
        .set_description(req.description.clone())
        .set_license_info(req.license.clone());
    for r in &req.runtimes {
        call = call.compatible_runtimes(Runtime::from(r.as_str()));
    }
    for a in &req.architectures {
        call = call.compatible_architectures(Architecture::from(a.as_str()));
    }
    let out = call
        .send()
        .await
        .map_err(|e| describe(&e, &format!("publishing layer {}", req.name)))?;
    let version = out.version();
    for g in &req.grants {
        let mut p = lambda
            .add_layer_version_permission()
            .layer_name(&req.name)
            .version_number(version)
            .action("lambda:GetLayerVersion");
        p = if g == "public" {
            p.statement_id("pylayer-public").principal("*")
        } else if g.starts_with("o-") {
            p.statement_id(format!("pylayer-{g}"))
                .principal("*")
                .organization_id(g)
        } else {
            p.statement_id(format!("pylayer-{g}")).principal(g)
        };
        p.send().await.map_err(|e| {
            describe(
                &e,
                &format!("granting {g} access to {} version {version}", req.name),
            )
        })?;
    }
    Ok(PublishOutcome {
        region: region_name,
        layer: req.name.clone(),
        arn: out.layer_version_arn().map(str::to_string),
        version: Some(version),
        action: "published".into(),
        via_s3,
    })
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_version_is_reused_only_for_the_targets_it_declares() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(covers(
            &s(&["python3.11", "python3.12"]),
            &s(&["python3.12"])
        ));
        assert!(!covers(&s(&["python3.11"]), &s(&["python3.12"])));
        assert!(!covers(
            &s(&["python3.12"]),
            &s(&["python3.11", "python3.12"])
        ));
        // A version that declares nothing is compatible with everything.
        assert!(covers(&[], &s(&["arm64"])));
    }
}
