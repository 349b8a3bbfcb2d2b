//! A published layer version as input: `check`, `inspect`, `test`, `audit` and `layers
//! audit` read `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N` as they read a local zip.
//!
//! GetLayerVersion gives the version's CodeSha256 and a pre-signed URL of its bytes
//! (Content.Location). The bytes are streamed into the cache, hashed on the way, and kept
//! only when they are the version's: `cache/layers-v1/ab/abcdef….zip`, keyed by the sha256
//! of the bytes. A layer version's bytes never change, so a cached copy is final and the
//! next run on the same version (or any version with the same bytes) downloads nothing.

use std::path::{Path, PathBuf};

use super::AwsTarget;
use crate::cache::CacheDir;
use crate::published::ZipHashes;

/// The parts of a layer version ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerArn {
    /// The ARN as given.
    pub arn: String,
    pub region: String,
    pub account: String,
    pub name: String,
    pub version: i64,
}

/// Whether a command's layer argument is meant as an ARN rather than a path.
pub fn looks_like_arn(s: &str) -> bool {
    s.starts_with("arn:")
}

impl LayerArn {
    /// Parses `arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION`; the error names the
    /// input and shows the expected shape.
    pub fn parse(s: &str) -> Result<LayerArn, String> {
        let bad = |why: &str| {
            format!(
                "`{}` is not a layer version ARN ({why}): expected arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION; `pylayer layers list NAME --region REGION` shows the ARNs of a layer's versions",
                crate::text::shown(s)
            )
        };
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 8 || parts[0] != "arn" {
            return Err(bad("it does not have 8 `:`-separated parts"));
        }
        if !parts[1].starts_with("aws") || parts[2] != "lambda" || parts[5] != "layer" {
            return Err(bad("it is not a Lambda layer ARN"));
        }
        let region = parts[3];
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad("the region is empty or malformed"));
        }
        let account = parts[4];
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("the account is not 12 digits"));
        }
        let name = parts[6];
        if name.is_empty()
            || name.len() > 140
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(
                "the layer name is empty or has characters Lambda refuses",
            ));
        }
        let version: i64 = match parts[7].parse() {
            Ok(v) if v >= 1 => v,
            _ => return Err(bad("the version is not a positive number")),
        };
        Ok(LayerArn {
            arn: s.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            name: name.to_string(),
            version,
        })
    }
}

/// A published layer version, its bytes in the cache.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishedLayer {
    pub arn: String,
    /// The cached zip, to be read like any local layer zip.
    pub path: PathBuf,
    /// base64(sha256), as Lambda reports it.
    pub code_sha256: String,
    pub code_size: i64,
    /// The version's CompatibleRuntimes (`python3.12`).
    pub runtimes: Vec<String>,
    /// The version's CompatibleArchitectures (`x86_64`, `arm64`).
    pub architectures: Vec<String>,
    /// Whether the bytes were already cached (nothing was downloaded).
    pub from_cache: bool,
}

/// Reads layer version `arn` (in its own region unless `target.region` says otherwise,
/// with `target.profile`) and makes sure its bytes are in `cache`, downloading and
/// hash-checking them when they are not.
pub async fn fetch(
    target: &AwsTarget,
    arn: &LayerArn,
    cache: &CacheDir,
    http: &reqwest::Client,
) -> Result<PublishedLayer, String> {
    let region = target.region.as_deref().unwrap_or(&arn.region);
    let config = super::sdk_config(target, Some(region)).await?;
    let lambda = super::lambda(&config);
    let version = super::layer_by_arn(&lambda, &arn.arn).await.map_err(|e| {
        format!(
            "{e}\n  (reading {} in {region}; `pylayer layers list {} --region {region}` lists the versions that exist)",
            arn.arn, arn.name
        )
    })?;
    let content = version.content();
    let code_sha256 = content
        .and_then(|c| c.code_sha256())
        .unwrap_or_default()
        .to_string();
    let hex = sha256_hex_of(&code_sha256).ok_or_else(|| {
        format!(
            "layer {}: Lambda reported no usable CodeSha256 (`{}`), so its bytes cannot be checked; nothing was read",
            arn.arn,
            crate::text::shown(&code_sha256)
        )
    })?;
    let mut layer = PublishedLayer {
        arn: arn.arn.clone(),
        path: cache.layer_path(&hex),
        code_sha256: code_sha256.clone(),
        code_size: content.map_or(0, |c| c.code_size()),
        runtimes: version
            .compatible_runtimes()
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        architectures: version
            .compatible_architectures()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        from_cache: false,
    };
    if layer.path.is_file() {
        layer.from_cache = true;
        return Ok(layer);
    }
    let location = content.and_then(|c| c.location()).unwrap_or_default();
    let dir = layer
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cache.root().to_path_buf());
    crate::fsutil::create_private_dir_all(&dir)
        .map_err(|e| format!("cannot create the cache directory {}: {e}", dir.display()))?;
    let (temp, hashes) = download(http, location, &dir)
        .await
        .map_err(|e| format!("downloading {}: {e}", arn.arn))?;
    if hashes.code_sha256 != code_sha256 {
        return Err(format!(
            "downloading {}: the bytes received have CodeSha256 {}, the version has {code_sha256}; nothing was kept (run the command again; if it repeats, the download is being altered on the way)",
            arn.arn, hashes.code_sha256
        ));
    }
    temp.persist(&layer.path).map_err(|e| {
        format!(
            "cannot store {} in the cache at {}: {e}",
            arn.arn,
            layer.path.display()
        )
    })?;
    Ok(layer)
}

/// [`fetch`] for callers without an async runtime (`pylayer audit ARN`): parses `arn`,
/// starts a runtime and the HTTP client, and waits.
pub fn fetch_blocking(
    target: &AwsTarget,
    arn: &str,
    cache: &CacheDir,
) -> Result<PublishedLayer, String> {
    let arn = LayerArn::parse(arn)?;
    let http = crate::http::client().map_err(|e| format!("{e:#}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(fetch(target, &arn, cache, &http))
}

/// The hex sha256 in a CodeSha256 (base64 of the 32 digest bytes).
fn sha256_hex_of(code_sha256: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(code_sha256)
        .ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

/// A URL fit for a message: a pre-signed URL's query is its signature.
pub fn shown_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    crate::http::redact(&url[..cut])
}

/// Streams `url` into a temporary file in `dir`, hashing it on the way.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    dir: &Path,
) -> Result<(tempfile::TempPath, ZipHashes), String> {
    use base64::Engine;
    use sha2::Digest;
    use std::io::Write;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!(
            "Lambda gave no HTTP location for its content (`{}`), and no local zip has its bytes: rebuild that environment's zip (`pylayer build --env ENV`; the same lock gives the same bytes) and try again",
            shown_url(url)
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let shown = shown_url(url);
    let mut resp = crate::http::send_with_retry(|| http.get(url), &shown)
        .await
        .map_err(|e| format!("{e:#}"))?;
    if !resp.status().is_success() {
        return Err(format!("{shown} answered HTTP {}", resp.status()));
    }
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let mut h = sha2::Sha256::new();
    let mut size = 0u64;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                h.update(&chunk);
                size += chunk.len() as u64;
                file.write_all(&chunk)
                    .map_err(|e| format!("cannot write {}: {e}", file.path().display()))?;
            }
            Ok(None) => break,
            Err(e) => {
                return Err(format!(
                    "reading {shown} broke off after {size} bytes: {}",
                    crate::http::describe(&e)
                ));
            }
        }
    }
    file.flush()
        .map_err(|e| format!("cannot write {}: {e}", file.path().display()))?;
    let digest = h.finalize();
    Ok((
        file.into_temp_path(),
        ZipHashes {
            sha256_hex: hex::encode(digest),
            code_sha256: base64::engine::general_purpose::STANDARD.encode(digest),
            size,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_layer_version_arns_and_names_what_is_wrong() {
        let a =
            LayerArn::parse("arn:aws:lambda:eu-west-1:123456789012:layer:ldap3-py312_x:7").unwrap();
        assert_eq!(a.region, "eu-west-1");
        assert_eq!(a.account, "123456789012");
        assert_eq!(a.name, "ldap3-py312_x");
        assert_eq!(a.version, 7);
        assert!(LayerArn::parse("arn:aws-cn:lambda:cn-north-1:123456789012:layer:x:1").is_ok());
        for (bad, why) in [
            (
                "arn:aws:lambda:eu-west-1:123456789012:layer:x",
                "8 `:`-separated",
            ),
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:x:1",
                "not a Lambda layer",
            ),
            ("arn:aws:lambda:eu-west-1:1234:layer:x:1", "12 digits"),
            (
                "arn:aws:lambda:eu-west-1:123456789012:layer:x:latest",
                "positive number",
            ),
            (
                "arn:aws:lambda:eu-west-1:123456789012:layer:x:0",
                "positive number",
            ),
            ("arn:aws:lambda::123456789012:layer:x:1", "region"),
            (
                "arn:aws:lambda:eu-west-1:123456789012:layer:a/b:1",
                "layer name",
            ),
        ] {
            let e = LayerArn::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains(bad), "{e}");
            assert!(e.contains("pylayer layers list"), "{e}");
        }
        assert!(looks_like_arn("arn:aws:lambda:x"));
        assert!(!looks_like_arn("dist/arn.zip"));
    }

    #[test]
    fn code_sha256_is_base64_of_the_digest() {
        use base64::Engine;
        let digest = [7u8; 32];
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(
            sha256_hex_of(&b64).as_deref(),
            Some(hex::encode(digest).as_str())
        );
        assert_eq!(sha256_hex_of("not base64!"), None);
        assert_eq!(sha256_hex_of("AAAA"), None);
    }

    #[test]
    fn downloads_hash_while_streaming_and_never_show_a_signature() {
        use std::io::{Read, Write};
        let body = b"PK-layer-bytes".to_vec();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = body.clone();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                served.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&served).unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/layer.zip?X-Amz-Signature=secret");
        let (path, h) = rt.block_on(download(&http, &url, dir.path())).unwrap();
        server.join().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert_eq!(h, crate::published::zip_hashes(&path).unwrap());
        let e = rt
            .block_on(download(
                &http,
                "s3://bucket/key?X-Amz-Signature=secret",
                dir.path(),
            ))
            .unwrap_err();
        assert!(e.contains("no HTTP location"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }
}
