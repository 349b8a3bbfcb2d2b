//! Talking to AWS: credentials, region and endpoint from the standard chain (environment,
//! shared config and credentials files with profiles, SSO, container and instance roles;
//! `AWS_ENDPOINT_URL` honoured), and SDK failures turned into one line that says what to do.

pub mod attach;
pub mod audit;
pub mod layer_download;
pub mod layers;
pub mod promote;
pub mod publish;
pub mod status;

use aws_config::BehaviorVersion;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Where to connect: the profile and region the user chose (else the chain's defaults).
#[derive(Debug, Clone, Default)]
pub struct AwsTarget {
    pub profile: Option<String>,
    pub region: Option<String>,
}

/// Loads the shared SDK configuration for one region.
pub async fn sdk_config(
    target: &AwsTarget,
    region: Option<&str>,
) -> Result<aws_config::SdkConfig, String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = &target.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region.or(target.region.as_deref()) {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(
            "no AWS region: pass --region, set AWS_REGION, or set `region` in your AWS profile"
                .into(),
        );
    }
    Ok(config)
}

pub fn lambda(config: &aws_config::SdkConfig) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(config)
}

pub fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    // Path-style addressing works with every endpoint, including local emulators.
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// One line for an SDK failure: what went wrong and what to do, never a chain of SDK types.
pub fn describe<E>(
    err: &SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
    what: &str,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let context = DisplayErrorContext(err).to_string();
    let lower = context.to_ascii_lowercase();
    if let SdkError::ServiceError(service) = err {
        let e = service.err();
        let code = e.code().unwrap_or("");
        let message = e.message().unwrap_or("").trim();
        return match code {
            "ResourceNotFoundException" => {
                format!("{what}: not found ({message}); check the name, the region and the account")
            }
            "NoSuchBucket" => format!(
                "{what}: the S3 bucket does not exist in this region; create it or pass another --s3-bucket"
            ),
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidAccessKeyId" => format!(
                "{what}: AWS rejected the credentials ({code}); check AWS_PROFILE/--profile, refresh them (`aws sso login`) or fix AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            ),
            "AccessDeniedException" | "AccessDenied" => {
                format!(
                    "{what}: access denied ({message}); the credentials lack the IAM permission for this call"
                )
            }
            "" => {
                let status = service.raw().status().as_u16();
                match status {
                    401 | 403 => format!(
                        "{what}: AWS rejected the credentials (HTTP {status}); check AWS_PROFILE/--profile, refresh them (`aws sso login`), and check their IAM permissions"
                    ),
                    404 => format!(
                        "{what}: not found (HTTP 404); check the name, the region and the account"
                    ),
                    _ => format!("{what}: the service answered HTTP {status} {message}"),
                }
            }
            _ => format!("{what}: {code}: {message}"),
        };
    }
    if lower.contains("credential") {
        return format!(
            "{what}: no usable AWS credentials; set AWS_PROFILE or --profile, run `aws sso login`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        );
    }
    if matches!(
        err,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return format!(
            "{what}: cannot reach the AWS endpoint{endpoint}; check the network, the region and AWS_ENDPOINT_URL"
        );
    }
    // The innermost cause that reads as a sentence (not a debug dump) says the most.
    let mut cause = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        let text = e.to_string();
        if !text.contains('{') && !text.is_empty() {
            cause = text;
        }
        source = e.source();
    }
    if matches!(err, SdkError::ConstructionFailure(_)) {
        return format!(
            "{what}: the request could not be built ({cause}); check --region and AWS_ENDPOINT_URL"
        );
    }
    format!("{what}: {cause}")
}

/// The ARN of a layer without its version: `arn:aws:lambda:REGION:ACCOUNT:layer:NAME`.
pub fn layer_base(arn: &str) -> &str {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() == 8 && parts[5] == "layer" {
        let cut = arn.len() - parts[7].len() - 1;
        &arn[..cut]
    } else {
        arn
    }
}

/// Reads one layer version given its ARN. GetLayerVersion accepts the layer's ARN as its
/// name (which also covers layers of other accounts); the plain name is the fallback for
/// endpoints that only know names.
pub async fn layer_by_arn(
    lambda: &aws_sdk_lambda::Client,
    arn: &str,
) -> Result<aws_sdk_lambda::operation::get_layer_version::GetLayerVersionOutput, String> {
    let what = format!("layer {arn}");
    let version: i64 = arn
        .rsplit(':')
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{what}: not a layer version ARN (…:layer:NAME:VERSION)"))?;
    let base = layer_base(arn);
    let by_arn = lambda
        .get_layer_version()
        .layer_name(base)
        .version_number(version)
        .send()
        .await;
    match by_arn {
        Ok(out) if out.layer_version_arn().is_some() => Ok(out),
        first => {
            let name = base.rsplit(':').next().unwrap_or(base);
            match lambda
                .get_layer_version()
                .layer_name(name)
                .version_number(version)
                .send()
                .await
            {
                Ok(out) => Ok(out),
                Err(e) => Err(match first {
                    Err(first) => describe(&first, &what),
                    Ok(_) => describe(&e, &what),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_layer_arns() {
        let arn = "arn:aws:lambda:eu-west-1:123456789012:layer:ldap3:7";
        assert_eq!(
            layer_base(arn),
            "arn:aws:lambda:eu-west-1:123456789012:layer:ldap3"
        );
        assert_eq!(
            layer_base("arn:aws:lambda:eu-west-1:1:function:f"),
            "arn:aws:lambda:eu-west-1:1:function:f"
        );
    }
}
