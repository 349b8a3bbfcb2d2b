//! `pylayer publish ZIP`: publish a layer version in one or more regions, skipping it when
//! the latest version already holds the same bytes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::shared::{self, AwsArgs};
use super::{Failure, runtime, values};
use pylayer::aws::AwsTarget;
use pylayer::aws::publish::{PublishRequest, publish_region, validate};
use pylayer::manifest;
use pylayer::target::Arch;

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The layer zip (its manifest beside it supplies runtime and architecture).
    pub zip: PathBuf,
    /// Layer name [default: the manifest's name, else pylayer.toml's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Bucket for zips over the 50 MB direct-upload limit [default: pylayer.toml's
    /// publish.s3-bucket]
    #[arg(long, value_name = "BUCKET")]
    pub s3_bucket: Option<String>,
    /// Description of the layer version, at most 256 characters [default: pylayer.toml's
    /// publish.description]
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// License of the layer's contents (an SPDX identifier or a URL), at most 512 characters
    /// [default: pylayer.toml's publish.license]
    #[arg(long, value_name = "LICENSE")]
    pub license: Option<String>,
    /// Let an account ID, an organization (o-…) or everyone (`public`) use the version.
    #[arg(long, value_name = "ACCOUNT|o-ORGID|public")]
    pub grant: Vec<String>,
    /// Compatible runtime(s) for a zip without a manifest (`3.12`; repeatable, or comma-separated).
    #[arg(long = "python", value_name = "3.X", value_parser = values::python_minor, value_delimiter = ',')]
    pub python: Vec<u8>,
    /// Compatible architecture(s) for a zip without a manifest (repeatable, or comma-separated).
    #[arg(long, value_name = "ARCH", value_parser = values::arch_parser(), value_delimiter = ',')]
    pub arch: Vec<Arch>,
    /// Show what would be published, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    #[arg(long, value_name = "FILE", env = "PYLAYER_CONFIG", help = shared::CONFIG_HELP)]
    pub config: Option<PathBuf>,
}

/// Where `publish` records the versions it made, for `attach`'s default.
pub const STATE_FILE: &str = ".pylayer/published.json";

/// The last published version of each layer, per region.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Published {
    pub layers: BTreeMap<String, PublishedLayer>,
    /// The layer published most recently: `attach`'s default.
    #[serde(default)]
    pub last: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PublishedLayer {
    pub arns: BTreeMap<String, String>,
    pub unzipped_bytes: Option<u64>,
}

impl Published {
    pub fn read() -> Published {
        std::fs::read(STATE_FILE)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

fn hashes(zip: &Path) -> Result<(String, String, u64), Failure> {
    let mut f = std::fs::File::open(zip)
        .map_err(|e| Failure::usage(format!("cannot open {}: {e}", zip.display())))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Failure::failed(format!("cannot read {}: {e}", zip.display())))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    let digest = h.finalize();
    Ok((
        hex::encode(digest),
        base64::engine::general_purpose::STANDARD.encode(digest),
        size,
    ))
}

pub fn run(args: PublishArgs) -> Result<(), Failure> {
    if !args.zip.is_file() {
        return Err(shared::missing(
            &args.zip,
            "a layer zip",
            "pylayer build writes layer zips to dist/",
        ));
    }
    let config = shared::load_config(args.config.as_deref())?.unwrap_or_default();
    let manifest_path = manifest::manifest_path(&args.zip);
    let manifest = if manifest_path.is_file() {
        Some(manifest::read(&manifest_path)?)
    } else {
        None
    };
    let (sha256_hex, code_sha256, size) = hashes(&args.zip)?;
    if let Some(m) = &manifest
        && m.sha256 != sha256_hex
    {
        return Err(Failure::usage(format!(
            "{} does not match its manifest {} (the zip changed after it was built); rebuild it",
            args.zip.display(),
            manifest_path.display()
        )));
    }
    let runtimes: Vec<String> = if !args.python.is_empty() {
        args.python.iter().map(|m| format!("python3.{m}")).collect()
    } else if let Some(m) = &manifest {
        vec![m.runtime.clone()]
    } else {
        return Err(Failure::usage(format!(
            "{} has no pylayer manifest beside it: give its runtime with --python 3.X and --arch",
            args.zip.display()
        )));
    };
    let architectures: Vec<String> = if !args.arch.is_empty() {
        args.arch
            .iter()
            .map(|a| a.lambda_name().to_string())
            .collect()
    } else if let Some(m) = &manifest {
        vec![m.architecture.clone()]
    } else {
        return Err(Failure::usage(
            "give the layer's architecture with --arch x86_64|arm64",
        ));
    };
    let name = args
        .name
        .clone()
        .or_else(|| manifest.as_ref().map(|m| m.name.clone()))
        .or(config.name.clone())
        .ok_or_else(|| Failure::usage("give the layer's name with --name"))?;
    let req = PublishRequest {
        zip: args.zip.clone(),
        name: name.clone(),
        runtimes,
        architectures,
        description: args
            .description
            .clone()
            .or(config.publish.description.clone()),
        license: args.license.clone().or(config.publish.license.clone()),
        s3_bucket: args.s3_bucket.clone().or(config.publish.s3_bucket.clone()),
        grants: args.grant.clone(),
        dry_run: args.dry_run,
        code_sha256,
        sha256_hex,
        size,
    };
    validate(&req).map_err(Failure::usage)?;
    let target = AwsTarget {
        profile: args.aws.profile(Some(&config)),
        region: None,
    };
    let regions = args.aws.regions(Some(&config));
    let rt = runtime()?;
    // Regions are published concurrently; one region's failure does not hide the others.
    let results = rt.block_on(futures::future::join_all(
        regions
            .iter()
            .map(|r| publish_region(&target, r.as_deref(), &req)),
    ));
    let mut state = Published::read();
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    for (region, result) in regions.iter().zip(results) {
        match result {
            Ok(o) => {
                if let (Some(arn), false) = (&o.arn, args.dry_run) {
                    let entry = state.layers.entry(name.clone()).or_default();
                    entry.arns.insert(o.region.clone(), arn.clone());
                    entry.unzipped_bytes = manifest.as_ref().map(|m| m.unzipped_bytes);
                    state.last = Some(name.clone());
                }
                outcomes.push(o);
            }
            Err(e) => failures.push(format!(
                "{}: {e}",
                region.as_deref().unwrap_or("default region")
            )),
        }
    }
    if !args.dry_run && !outcomes.is_empty() {
        let json = serde_json::to_vec_pretty(&state).map_err(|e| Failure::failed(e.to_string()))?;
        pylayer::fsutil::write_atomic(Path::new(STATE_FILE), &json)?;
    }
    if args.json {
        let v = serde_json::json!({ "layer": name, "regions": outcomes });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?
        );
    } else {
        for o in &outcomes {
            let what = match o.action.as_str() {
                "unchanged" => "unchanged (the latest version has the same bytes)",
                "would-publish" => "would publish a new version (dry run)",
                _ if o.via_s3 => "published (through S3)",
                _ => "published",
            };
            println!(
                "{:<14} {}  {what}",
                o.region,
                o.arn.as_deref().unwrap_or("-")
            );
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(failures.join("\n")))
    }
}
