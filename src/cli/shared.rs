//! Flags that several commands take, defined once so that they read and behave the same
//! everywhere: `--json`, `--config` (their help text), and the AWS pair `--region`/`--profile`.
//!
//! Precedence is the one cargo and uv use: a flag beats an environment variable, which beats
//! pylayer.toml, which beats the built-in default.

use std::path::Path;

use super::Failure;
use pylayer::config::Config;

/// Help of `--json`, the same on every command that has it.
pub const JSON_HELP: &str =
    "Print the result as one JSON object on stdout instead of a table (shapes in docs/cli.md)";

/// Help of `--config`, the same on every command that has it.
pub const CONFIG_HELP: &str = "Settings file to read [default: ./pylayer.toml when present]";

/// Reads the settings file `explicit`, else ./pylayer.toml when present.
/// The project's settings merged for environment `env` (`--env`); an environment without a
/// pylayer.toml is a usage error that says how to define one.
pub fn load_config_for(
    explicit: Option<&Path>,
    env: Option<&str>,
) -> Result<Option<Config>, Failure> {
    let config = load_config(explicit)?;
    match (config, env) {
        (Some(c), Some(e)) => c
            .for_env(e)
            .map(Some)
            .map_err(|err| Failure::usage(format!("{err:#}"))),
        (None, Some(e)) => Err(Failure::usage(format!(
            "--env {e}: there is no pylayer.toml here\n  run `pylayer init`, then add an `[env.{e}]` table"
        ))),
        (c, None) => Ok(c),
    }
}

pub fn load_config(explicit: Option<&Path>) -> Result<Option<Config>, Failure> {
    if let Some(p) = explicit
        && !p.exists()
    {
        return Err(missing(
            p,
            "the settings file",
            "run `pylayer init` to write one",
        ));
    }
    Config::discover(explicit).map_err(|e| Failure::usage(format!("{e:#}")))
}

/// `--region` and `--profile`, for every command that talks to AWS.
#[cfg(feature = "aws")]
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// AWS region (repeatable: each region is handled in turn) [default: AWS_REGION, else
    /// pylayer.toml's publish.regions, else the profile's region]
    #[arg(long, global = true, value_name = "REGION", value_delimiter = ',')]
    pub region: Vec<String>,
    /// AWS profile from ~/.aws/config [default: AWS_PROFILE, else pylayer.toml's
    /// publish.profile, else the default credential chain]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}

/// A non-empty environment variable.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(feature = "aws")]
impl AwsArgs {
    /// The regions to work in, flag > `AWS_REGION`/`AWS_DEFAULT_REGION` > pylayer.toml;
    /// `[None]` leaves the choice to the profile.
    pub fn regions(&self, config: Option<&Config>) -> Vec<Option<String>> {
        let chosen: Vec<String> = if !self.region.is_empty() {
            self.region.clone()
        } else if let Some(r) = env_var("AWS_REGION").or_else(|| env_var("AWS_DEFAULT_REGION")) {
            vec![r]
        } else {
            config
                .map(|c| c.publish.regions.clone())
                .unwrap_or_default()
        };
        let mut out: Vec<Option<String>> = Vec::new();
        for r in chosen {
            if !out.contains(&Some(r.clone())) {
                out.push(Some(r));
            }
        }
        if out.is_empty() {
            out.push(None);
        }
        out
    }

    /// The profile, flag > `AWS_PROFILE` > pylayer.toml. `None` means the SDK's default chain.
    pub fn profile(&self, config: Option<&Config>) -> Option<String> {
        self.profile
            .clone()
            .or_else(|| env_var("AWS_PROFILE"))
            .or_else(|| config.and_then(|c| c.publish.profile.clone()))
    }
}

/// The one wording for a path that is not there: what it was meant to be and how to fix it.
pub fn missing(path: &Path, what: &str, fix: &str) -> Failure {
    Failure::usage(format!(
        "{} does not exist: {what} was expected there; {fix}",
        path.display()
    ))
}

/// The AWS flags of a command whose layer argument may be a published version's ARN
/// (`check`, `inspect`, `test`): `--region` (default: the ARN's) and `--profile`.
#[cfg(feature = "aws")]
pub type LayerAwsArgs = AwsArgs;

/// Without AWS support a layer argument is a local zip or directory only.
#[cfg(not(feature = "aws"))]
#[derive(Debug, Clone, clap::Args)]
pub struct LayerAwsArgs {}

/// A published layer version given as a command's layer argument, its bytes in the cache.
#[derive(Debug, Clone)]
pub struct PublishedInput {
    /// The cached zip: read it as the local zip it is.
    pub path: std::path::PathBuf,
    /// The Python minor its CompatibleRuntimes name, when they name exactly one.
    pub python: Option<u8>,
    /// The architecture its CompatibleArchitectures name, when they name exactly one.
    pub arch: Option<pylayer::target::Arch>,
    /// Its CompatibleRuntimes and CompatibleArchitectures, for messages.
    pub runtimes: Vec<String>,
    pub architectures: Vec<String>,
}

/// `Some` when `arg` is a layer version ARN: the version is read and its bytes downloaded
/// into the cache (hash-checked), or found there. `None` for a path.
pub fn published_input(arg: &Path, aws: &LayerAwsArgs) -> Result<Option<PublishedInput>, Failure> {
    let Some(text) = arg.to_str().filter(|t| t.starts_with("arn:")) else {
        #[cfg(feature = "aws")]
        if !aws.region.is_empty() || aws.profile.is_some() {
            return Err(Failure::usage(format!(
                "--region and --profile apply to a published layer version (arn:aws:lambda:…:layer:NAME:N), and {} is a local path: drop them, or pass the version's ARN",
                arg.display()
            )));
        }
        return Ok(None);
    };
    fetch_published(text, aws).map(Some)
}

#[cfg(feature = "aws")]
fn fetch_published(arn: &str, aws: &AwsArgs) -> Result<PublishedInput, Failure> {
    use pylayer::aws::layer_download::{LayerArn, fetch};
    let parsed = LayerArn::parse(arn).map_err(Failure::usage)?;
    let target = pylayer::aws::AwsTarget {
        profile: aws.profile(None),
        region: aws.region.first().cloned(),
    };
    let cache = pylayer::cache::CacheDir::resolve(None);
    let http = pylayer::http::client()?;
    let rt = super::runtime()?;
    let layer = rt
        .block_on(fetch(&target, &parsed, &cache, &http))
        .map_err(Failure::failed)?;
    if layer.from_cache {
        super::output::note(&format!(
            "{arn}: read from the cache ({})",
            layer.path.display()
        ));
    } else {
        super::output::status(&format!(
            "{arn}: downloaded {} into the cache ({})",
            pylayer::format::human_bytes(layer.code_size.max(0) as u64),
            layer.path.display()
        ));
    }
    let one = |v: &[String]| (v.len() == 1).then(|| v[0].clone());
    Ok(PublishedInput {
        python: one(&layer.runtimes)
            .and_then(|r| r.strip_prefix("python").map(str::to_string))
            .and_then(|v| pylayer::target::parse_python(&v).ok()),
        arch: one(&layer.architectures).and_then(|a| a.parse().ok()),
        path: layer.path,
        runtimes: layer.runtimes,
        architectures: layer.architectures,
    })
}

#[cfg(not(feature = "aws"))]
fn fetch_published(arn: &str, _aws: &LayerAwsArgs) -> Result<PublishedInput, Failure> {
    Err(Failure::usage(format!(
        "{arn} is a published layer version, and this pylayer was built without AWS support (the `aws` cargo feature): use a pylayer built with it (the default build), or download the zip yourself (`aws lambda get-layer-version-by-arn --arn {arn}` gives its Content.Location) and pass the file"
    )))
}

/// A layer argument (zip or directory) that must exist.
pub fn require_layer(path: &Path) -> Result<(), Failure> {
    if path.exists() {
        Ok(())
    } else {
        Err(missing(
            path,
            "a layer zip or a directory laid out like one",
            "pylayer build writes layer zips to dist/",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_not_a_published_layer() {
        #[derive(clap::Parser)]
        struct Cmd {
            #[command(flatten)]
            aws: LayerAwsArgs,
        }
        let cmd = <Cmd as clap::Parser>::try_parse_from(["x"]).unwrap();
        let aws = cmd.aws;
        assert!(
            published_input(Path::new("dist/x.zip"), &aws)
                .unwrap()
                .is_none()
        );
    }

    /// Without the `aws` feature an ARN is refused with what to do instead
    /// (`cargo test --no-default-features`).
    #[cfg(not(feature = "aws"))]
    #[test]
    fn an_arn_without_aws_support_is_bad_usage_with_the_fix() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:layer:x:1";
        let e = published_input(Path::new(arn), &LayerAwsArgs {}).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains(arn), "{}", e.message);
        assert!(e.message.contains("without AWS support"), "{}", e.message);
    }
}
