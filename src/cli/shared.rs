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
