//! `pylayer.toml`: the project's saved flags. Every command reads it when present; a flag
//! given on the command line wins over the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file name looked for in the working directory.
pub const CONFIG_FILE: &str = "pylayer.toml";

/// Settings of one project. Relative paths are relative to the file's directory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub python: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub arch: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub requirements: Vec<PathBuf>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub constraints: Vec<PathBuf>,
    #[serde(default)]
    pub exclude: Vec<String>,
    pub layout: Option<String>,
    /// False leaves out what the Lambda runtime already ships (boto3 & co).
    pub runtime_provided: Option<bool>,
    pub index_url: Option<String>,
    #[serde(default)]
    pub extra_index_urls: Vec<String>,
    #[serde(default)]
    pub find_links: Vec<String>,
    pub out_dir: Option<PathBuf>,
    /// `true`/`"all"`, `"imported"` or `false`/`"none"`: hash-based `.pyc` in the layer
    /// (see `bytecode::Mode`), kept as the mode's name.
    #[serde(default, deserialize_with = "bool_or_mode")]
    pub compile_bytecode: Option<String>,
    /// The CPython that compiles bytecode [default: found on this machine].
    pub python_interpreter: Option<PathBuf>,
    /// Read by `publish` and `attach`.
    #[serde(default)]
    #[allow(dead_code)]
    pub publish: PublishConfig,
    /// Where the file was read from (not part of the file).
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Settings for `pylayer publish` and `attach`.
#[allow(dead_code)]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PublishConfig {
    #[serde(default)]
    pub regions: Vec<String>,
    pub profile: Option<String>,
    pub s3_bucket: Option<String>,
    pub description: Option<String>,
    pub license: Option<String>,
    #[serde(default)]
    pub functions: Vec<String>,
}

fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        One(T),
        Many(Vec<T>),
    }
    Ok(match OneOrMany::<T>::deserialize(d)? {
        OneOrMany::One(v) => vec![v],
        OneOrMany::Many(v) => v,
    })
}

/// `compile-bytecode = true` means `all`, `false` means `none`; a string is kept as written
/// (checked where the mode is parsed, which names the accepted values).
fn bool_or_mode<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrMode {
        Bool(bool),
        Mode(String),
    }
    Ok(Some(match BoolOrMode::deserialize(d)? {
        BoolOrMode::Bool(true) => "all".to_string(),
        BoolOrMode::Bool(false) => "none".to_string(),
        BoolOrMode::Mode(m) => m,
    }))
}

impl Config {
    /// Reads `path`, naming the line and column of anything malformed.
    pub fn read(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            let (line, col) = e.span().map(|s| crate::lock::line_col(&text, s.start)).unwrap_or((1, 1));
            anyhow::anyhow!(
                "{}:{line}:{col}: {}\n  fix the file, or see `pylayer init` for a commented example",
                path.display(),
                e.message().trim()
            )
        })?;
        config.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    /// The project's config: `explicit` when given, else `pylayer.toml` in the working
    /// directory when it exists.
    pub fn discover(explicit: Option<&Path>) -> anyhow::Result<Option<Config>> {
        match explicit {
            Some(p) => Config::read(p).map(Some),
            None if Path::new(CONFIG_FILE).is_file() => {
                Config::read(Path::new(CONFIG_FILE)).map(Some)
            }
            None => Ok(None),
        }
    }

    /// A path from the file, made relative to the working directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() || self.dir.as_os_str().is_empty() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

/// The commented `pylayer.toml` that `pylayer init` writes.
pub fn template(name: &str, python: &[String], arch: &[String]) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"# pylayer.toml: saved flags for `pylayer lock`, `build`, `publish` and `attach`.
# A flag given on the command line wins over what is written here.

# Layer name: dist/NAME-pyX.Y-ARCH.zip, and the Lambda layer name when publishing.
name = "{name}"

# Lambda Python runtimes (3.9 … 3.14) and architectures (x86_64, arm64); one zip each.
python = [{python}]
arch = [{arch}]

# Where the requirements come from: requirements.txt files, pyproject.toml, uv.lock,
# poetry.lock or Pipfile.lock. Constraints files only limit versions.
requirements = ["requirements.txt"]
constraints = []

# Distributions to leave out of the layer, with whatever only they needed.
exclude = []

# false leaves out boto3, botocore, s3transfer and jmespath, which the runtime already ships
# (their versions may then differ from the ones you tested with).
runtime-provided = true

# `python` puts packages under python/; `site-packages` under python/lib/pythonX.Y/site-packages/.
layout = "python"

# Hash-based bytecode (.pyc) beside every module. Lambda's /opt is read-only, so without it
# every imported module is compiled from source at each cold start (pandas + numpy import
# about 4x faster with it). Needs a CPython of each target's version on this machine
# (python3.X on PATH, pyenv or `uv python install 3.X`); the .pyc are cached per wheel.
compile-bytecode = true
# python-interpreter = "/usr/bin/python3.12"   # the CPython that compiles it, if not found

# Package index (default: PYLAYER_INDEX_URL, PIP_INDEX_URL, else the public index).
# index-url = "https://example.internal/simple/"
# extra-index-urls = []
# find-links = ["wheels/"]

[publish]
# regions = ["eu-west-1"]
# profile = "default"
# s3-bucket = "my-artifacts"        # needed for zips over 50 MB
# description = "{name} dependencies"
# license = "MIT"
# functions = ["my-function"]       # what `pylayer attach` updates
"#,
        python = list(python),
        arch = list(arch),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        std::fs::write(
            &p,
            template("demo", &["3.12".into()], &["x86_64".into(), "arm64".into()]),
        )
        .unwrap();
        let c = Config::read(&p).unwrap();
        assert_eq!(c.name.as_deref(), Some("demo"));
        assert_eq!(c.arch, vec!["x86_64", "arm64"]);
        assert_eq!(c.requirements, vec![PathBuf::from("requirements.txt")]);
        assert_eq!(c.runtime_provided, Some(true));
        assert_eq!(c.compile_bytecode.as_deref(), Some("all"));
    }

    #[test]
    fn compile_bytecode_is_a_bool_or_a_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        for (text, want) in [
            ("compile-bytecode = false\n", Some("none")),
            ("compile-bytecode = \"imported\"\n", Some("imported")),
            ("name = \"x\"\n", None),
        ] {
            std::fs::write(&p, text).unwrap();
            assert_eq!(Config::read(&p).unwrap().compile_bytecode.as_deref(), want);
        }
        std::fs::write(&p, "compile-bytecode = 3\n").unwrap();
        let e = Config::read(&p).unwrap_err().to_string();
        assert!(e.contains("pylayer.toml:1:"), "{e}");
    }

    #[test]
    fn malformed_config_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        std::fs::write(&p, "name = \"x\"\npython = [3.12\n").unwrap();
        let e = Config::read(&p).unwrap_err().to_string();
        assert!(e.contains("pylayer.toml:2:"), "{e}");
        std::fs::write(&p, "name = \"x\"\npyhton = \"3.12\"\n").unwrap();
        let e = Config::read(&p).unwrap_err().to_string();
        assert!(
            e.contains("pylayer.toml:2:1") && e.contains("pyhton"),
            "{e}"
        );
    }

    #[test]
    fn single_values_are_accepted_for_lists() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        std::fs::write(
            &p,
            "python = \"3.11\"\narch = \"arm64\"\nrequirements = \"reqs/base.txt\"\n",
        )
        .unwrap();
        let c = Config::read(&p).unwrap();
        assert_eq!(c.python, vec!["3.11"]);
        assert_eq!(c.path(&c.requirements[0]), dir.path().join("reqs/base.txt"));
    }
}
