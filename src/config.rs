//! `pylayer.toml`: the project's saved flags. Every command reads it when present; a flag
//! given on the command line wins over the file.
//!
//! The file is read key by key from the TOML parser's spanned values (not through serde), so
//! a value of the wrong type is reported at its line and column with the type the key takes
//! and a corrected line, e.g. `pylayer.toml:3:10: python must be a string like "3.12" or a
//! list of them; found a float (3.12)` / `quote it: python = "3.12"`.

use std::path::{Path, PathBuf};

use crate::project_files::toml_access::{self, DeTable, DeValue, Item, WrongType};
use crate::textpos::TextPos;

/// The file name looked for in the working directory.
pub const CONFIG_FILE: &str = "pylayer.toml";

/// Settings of one project. Relative paths are relative to the file's directory.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub name: Option<String>,
    pub python: Vec<String>,
    pub arch: Vec<String>,
    pub requirements: Vec<PathBuf>,
    pub constraints: Vec<PathBuf>,
    pub exclude: Vec<String>,
    /// `PATH=DIST`: a path two distributions install, and whose copy the layer keeps.
    pub overwrite: Vec<String>,
    pub layout: Option<String>,
    /// False leaves out what the Lambda runtime already ships (boto3 & co).
    pub runtime_provided: Option<bool>,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub find_links: Vec<String>,
    /// `no-build = true`: wheels only, never built from source (`--no-build`).
    pub no_build: Option<bool>,
    /// `only-binary = [...]`: pip's `--only-binary` values (`:all:`, `:none:`, names).
    pub only_binary: Vec<String>,
    /// `no-binary = [...]`: pip's `--no-binary` values.
    pub no_binary: Vec<String>,
    /// `local = ["../shared-lib"]`: local project directories built into the layer,
    /// relative to the file's directory.
    pub local: Vec<PathBuf>,
    pub out_dir: Option<PathBuf>,
    /// `true`/`"all"`, `"imported"` or `false`/`"none"`: hash-based `.pyc` in the layer
    /// (see `bytecode::Mode`), kept as the mode's name (`true` is `all`, `false` `none`).
    pub compile_bytecode: Option<String>,
    /// The CPython that compiles bytecode [default: found on this machine].
    pub python_interpreter: Option<PathBuf>,
    /// `slim = true`: remove what the trim policy says a layer never needs (`build --slim`).
    pub slim: Option<bool>,
    /// Gitignore-style globs relative to site-packages: more files to remove, `!` to keep.
    pub slim_patterns: Vec<String>,
    /// `sbom = true`: a CycloneDX document beside each zip (`build --sbom`).
    pub sbom: Option<bool>,
    /// Directories whose `lib/`, `bin/` and `python/` are copied into the layer
    /// (`crate::include`), relative to the file's directory.
    pub include: Vec<PathBuf>,
    /// Read by `publish` and `attach`.
    pub publish: PublishConfig,
    /// Where the lock is kept [default: pylayer.lock; `pylayer.ENV.lock` for an environment].
    pub lock: Option<PathBuf>,
    /// Requirement strings added by the selected environment (`[env.NAME] packages`).
    pub packages: Vec<String>,
    /// Distributions the selected environment removes from the requirements.
    pub remove: Vec<String>,
    /// The `[env.NAME]` tables, by name.
    pub envs: std::collections::BTreeMap<String, EnvConfig>,
    /// The environment these settings were merged for (`--env`), if any.
    pub env: Option<String>,
    /// The project's own `lock` key, kept when an environment replaces `lock`.
    pub base_lock: Option<PathBuf>,
    /// `[check] allow`: findings accepted, as `CODE` or `CODE:GLOB` (`crate::check::allow`).
    pub check_allow: Vec<String>,
    /// `[audit]`: the vulnerability service and the findings accepted.
    pub audit: AuditConfig,
    /// Where the file was read from (not part of the file).
    pub dir: PathBuf,
    /// The file itself, for messages.
    pub file: PathBuf,
}

/// One `[env.NAME]` table: adjustments of the project's requirements for an environment
/// (dev, test, prod) and where it publishes. Lists add to the project's; `name`, `lock` and
/// the publish keys given replace the project's.
#[derive(Debug, Clone, Default)]
pub struct EnvConfig {
    pub requirements: Vec<PathBuf>,
    pub packages: Vec<String>,
    pub remove: Vec<String>,
    pub constraints: Vec<PathBuf>,
    pub exclude: Vec<String>,
    pub name: Option<String>,
    pub lock: Option<PathBuf>,
    pub publish: Option<PublishConfig>,
    /// Replaces the project's `no-build` when given.
    pub no_build: Option<bool>,
    /// Applied after the project's `only-binary`/`no-binary`, so they win for what they name.
    pub only_binary: Vec<String>,
    pub no_binary: Vec<String>,
    /// Added to the project's `local`.
    pub local: Vec<PathBuf>,
}

/// Settings for `pylayer publish` and `attach` (the `[publish]` table).
#[derive(Debug, Clone, Default)]
pub struct PublishConfig {
    pub regions: Vec<String>,
    pub profile: Option<String>,
    pub s3_bucket: Option<String>,
    pub description: Option<String>,
    pub license: Option<String>,
    pub functions: Vec<String>,
    /// Accounts (12 digits), organizations (`o-…`) or `public` allowed to use each
    /// published version.
    pub grants: Vec<String>,
    /// The Lambda layer name of each target, a template (`crate::published::layer_name`).
    pub layer_name: Option<String>,
}

/// The `[audit]` table, read by `pylayer audit`.
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {
    /// `pypi` or `osv`.
    pub service: Option<crate::audit::Service>,
    /// Base URL of the service (a mirror).
    pub url: Option<String>,
    /// `ignore = [{ id = "…", reason = "…", until = "YYYY-MM-DD" }]`.
    pub ignore: Vec<crate::audit::IgnoreRule>,
}

/// What a key's value is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Text,
    /// A string, or an array of strings.
    OneOrMany,
    List,
    Bool,
    /// `true`, `false` or a string.
    BoolOrText,
    Table,
    /// An array (of inline tables), read by the table's own reader.
    Array,
}

/// One key of a table of pylayer.toml: its shape, the type it takes as said in messages, a
/// correct line to suggest, and where its value goes in `T`.
struct Key<T: 'static> {
    name: &'static str,
    shape: Shape,
    expected: &'static str,
    example: &'static str,
    set: fn(&mut T, Read<'_, '_>),
}

const fn key<T>(
    name: &'static str,
    shape: Shape,
    expected: &'static str,
    example: &'static str,
    set: fn(&mut T, Read<'_, '_>),
) -> Key<T> {
    Key {
        name,
        shape,
        expected,
        example,
        set,
    }
}

/// Every top-level key, in the order `pylayer init` writes them.
const KEYS: &[Key<Config>] = &[
    key(
        "name",
        Shape::Text,
        "a string",
        "name = \"my-layer\"",
        |c, v| c.name = Some(v.text()),
    ),
    key(
        "python",
        Shape::OneOrMany,
        "a string like \"3.12\" or a list of them",
        "python = [\"3.12\"]",
        |c, v| c.python = v.strings(),
    ),
    key(
        "arch",
        Shape::OneOrMany,
        "a string (\"x86_64\" or \"arm64\") or a list of them",
        "arch = [\"x86_64\", \"arm64\"]",
        |c, v| c.arch = v.strings(),
    ),
    key(
        "requirements",
        Shape::OneOrMany,
        "a path string or a list of them",
        "requirements = [\"requirements.txt\"]",
        |c, v| c.requirements = paths(v.strings()),
    ),
    key(
        "constraints",
        Shape::OneOrMany,
        "a path string or a list of them",
        "constraints = [\"constraints.txt\"]",
        |c, v| c.constraints = paths(v.strings()),
    ),
    key(
        "exclude",
        Shape::List,
        "a list of distribution name strings",
        "exclude = [\"boto3\"]",
        |c, v| c.exclude = v.strings(),
    ),
    key(
        "overwrite",
        Shape::List,
        "a list of \"PATH=DISTRIBUTION\" strings",
        "overwrite = [\"build_backend.py=flashinfer-python\"]",
        |c, v| c.overwrite = v.strings(),
    ),
    key(
        "runtime-provided",
        Shape::Bool,
        "true or false",
        "runtime-provided = true",
        |c, v| c.runtime_provided = Some(matches!(v, Read::Bool(true))),
    ),
    key(
        "layout",
        Shape::Text,
        "a string, \"python\" or \"site-packages\"",
        "layout = \"python\"",
        |c, v| c.layout = Some(v.text()),
    ),
    key(
        "index-url",
        Shape::Text,
        "a URL string",
        "index-url = \"https://example.internal/simple/\"",
        |c, v| c.index_url = Some(v.text()),
    ),
    key(
        "extra-index-urls",
        Shape::List,
        "a list of URL strings",
        "extra-index-urls = [\"https://example.internal/simple/\"]",
        |c, v| c.extra_index_urls = v.strings(),
    ),
    key(
        "find-links",
        Shape::List,
        "a list of directory or URL strings",
        "find-links = [\"wheels/\"]",
        |c, v| c.find_links = v.strings(),
    ),
    key(
        "no-build",
        Shape::Bool,
        "true or false",
        "no-build = true",
        |c, v| c.no_build = Some(matches!(v, Read::Bool(true))),
    ),
    key(
        "only-binary",
        Shape::List,
        "a list of package name strings, or [\":all:\"]",
        "only-binary = [\":all:\"]",
        |c, v| c.only_binary = v.strings(),
    ),
    key(
        "no-binary",
        Shape::List,
        "a list of package name strings, or [\":all:\"]",
        "no-binary = [\"docopt\"]",
        |c, v| c.no_binary = v.strings(),
    ),
    key(
        "local",
        Shape::List,
        "a list of directory path strings",
        "local = [\"../shared-lib\"]",
        |c, v| c.local = paths(v.strings()),
    ),
    key(
        "out-dir",
        Shape::Text,
        "a path string",
        "out-dir = \"dist\"",
        |c, v| c.out_dir = Some(PathBuf::from(v.text())),
    ),
    key(
        "compile-bytecode",
        Shape::BoolOrText,
        "true, false or a mode string (\"all\", \"imported\", \"none\")",
        "compile-bytecode = true",
        |c, v| {
            c.compile_bytecode = Some(match v {
                Read::Bool(true) => "all".to_string(),
                Read::Bool(false) => "none".to_string(),
                other => other.text(),
            })
        },
    ),
    key(
        "python-interpreter",
        Shape::Text,
        "a path string",
        "python-interpreter = \"/usr/bin/python3.12\"",
        |c, v| c.python_interpreter = Some(PathBuf::from(v.text())),
    ),
    key(
        "slim",
        Shape::Bool,
        "true or false",
        "slim = true",
        |c, v| c.slim = Some(matches!(v, Read::Bool(true))),
    ),
    key(
        "slim-patterns",
        Shape::List,
        "a list of gitignore-style glob strings (`!` keeps)",
        "slim-patterns = [\"*/datasets/data/\", \"!numpy/_core/include/\"]",
        |c, v| c.slim_patterns = v.strings(),
    ),
    key(
        "include",
        Shape::List,
        "a list of directory path strings",
        "include = [\"vendor\"]",
        |c, v| c.include = paths(v.strings()),
    ),
    key(
        "publish",
        Shape::Table,
        "a table",
        "a `[publish]` line followed by its keys, at the end of the file",
        // Read by `read_publish`: a table needs the reader for its own keys.
        |_, _| {},
    ),
    key(
        "sbom",
        Shape::Bool,
        "true or false",
        "sbom = true",
        |c, v| c.sbom = Some(matches!(v, Read::Bool(true))),
    ),
    key(
        "lock",
        Shape::Text,
        "a path string",
        "lock = \"pylayer.lock\"",
        |c, v| c.lock = Some(PathBuf::from(v.text())),
    ),
    key(
        "env",
        Shape::Table,
        "a table of environments",
        "an `[env.prod]` line followed by its keys, at the end of the file",
        // Read by `read_envs`.
        |_, _| {},
    ),
    key(
        "check",
        Shape::Table,
        "a table",
        "a `[check]` line followed by its keys, at the end of the file",
        // Read by `read_check`.
        |_, _| {},
    ),
    key(
        "audit",
        Shape::Table,
        "a table",
        "an `[audit]` line followed by its keys, at the end of the file",
        // Read by `read_audit`.
        |_, _| {},
    ),
];

/// Every key of the `[audit]` table (`service` is checked by `read_audit`).
const AUDIT_KEYS: &[Key<AuditConfig>] = &[
    key(
        "service",
        Shape::Text,
        "\"pypi\" or \"osv\"",
        "service = \"pypi\"",
        |_, _| {},
    ),
    key(
        "url",
        Shape::Text,
        "a URL string",
        "url = \"https://osv.example.internal\"",
        |a, v| a.url = Some(v.text()),
    ),
    key(
        "ignore",
        Shape::Array,
        "a list of inline tables",
        "ignore = [{ id = \"PYSEC-2018-28\", reason = \"…\", until = \"2027-01-31\" }]",
        |_, _| {},
    ),
];

/// What one `[audit] ignore` entry holds, before it is checked.
#[derive(Default)]
struct IgnoreEntry {
    id: Option<String>,
    reason: Option<String>,
    until: Option<String>,
}

/// Every key of an `[audit] ignore` entry.
const IGNORE_KEYS: &[Key<IgnoreEntry>] = &[
    key(
        "id",
        Shape::Text,
        "a record id or alias string",
        "id = \"PYSEC-2018-28\"",
        |e, v| e.id = Some(v.text()),
    ),
    key(
        "reason",
        Shape::Text,
        "a string",
        "reason = \"we never follow redirects\"",
        |e, v| e.reason = Some(v.text()),
    ),
    key(
        "until",
        Shape::Text,
        "a date string YYYY-MM-DD",
        "until = \"2027-01-31\"",
        |e, v| e.until = Some(v.text()),
    ),
];

/// Every key of an `[env.NAME]` table.
const ENV_KEYS: &[Key<EnvConfig>] = &[
    key(
        "requirements",
        Shape::OneOrMany,
        "a path string or a list of them",
        "requirements = [\"requirements-dev.txt\"]",
        |e, v| e.requirements = paths(v.strings()),
    ),
    key(
        "packages",
        Shape::List,
        "a list of requirement strings",
        "packages = [\"pytest-mock>=3\"]",
        |e, v| e.packages = v.strings(),
    ),
    key(
        "remove",
        Shape::List,
        "a list of distribution name strings",
        "remove = [\"debugpy\"]",
        |e, v| e.remove = v.strings(),
    ),
    key(
        "constraints",
        Shape::OneOrMany,
        "a path string or a list of them",
        "constraints = [\"constraints-prod.txt\"]",
        |e, v| e.constraints = paths(v.strings()),
    ),
    key(
        "exclude",
        Shape::List,
        "a list of distribution name strings",
        "exclude = [\"boto3\"]",
        |e, v| e.exclude = v.strings(),
    ),
    key(
        "name",
        Shape::Text,
        "a string",
        "name = \"my-layer-prod\"",
        |e, v| e.name = Some(v.text()),
    ),
    key(
        "lock",
        Shape::Text,
        "a path string",
        "lock = \"pylayer.prod.lock\"",
        |e, v| e.lock = Some(PathBuf::from(v.text())),
    ),
    key(
        "no-build",
        Shape::Bool,
        "true or false",
        "no-build = true",
        |e, v| e.no_build = Some(matches!(v, Read::Bool(true))),
    ),
    key(
        "only-binary",
        Shape::List,
        "a list of package name strings, or [\":all:\"]",
        "only-binary = [\":all:\"]",
        |e, v| e.only_binary = v.strings(),
    ),
    key(
        "no-binary",
        Shape::List,
        "a list of package name strings, or [\":all:\"]",
        "no-binary = [\"docopt\"]",
        |e, v| e.no_binary = v.strings(),
    ),
    key(
        "local",
        Shape::List,
        "a list of directory path strings",
        "local = [\"../shared-lib\"]",
        |e, v| e.local = paths(v.strings()),
    ),
    key(
        "publish",
        Shape::Table,
        "a table",
        "an `[env.prod.publish]` line followed by its keys",
        // Read by `read_envs`.
        |_, _| {},
    ),
];

/// Every key of the `[check]` table.
const CHECK_KEYS: &[Key<Vec<String>>] = &[key(
    "allow",
    Shape::List,
    "a list of \"CODE\" or \"CODE:GLOB\" strings",
    "allow = [\"windows-binary:debugpy/**\"]",
    |a, v| *a = v.strings(),
)];

/// Every key of the `[publish]` table.
const PUBLISH_KEYS: &[Key<PublishConfig>] = &[
    key(
        "regions",
        Shape::List,
        "a list of region name strings",
        "regions = [\"eu-west-1\"]",
        |p, v| p.regions = v.strings(),
    ),
    key(
        "profile",
        Shape::Text,
        "a string",
        "profile = \"default\"",
        |p, v| p.profile = Some(v.text()),
    ),
    key(
        "s3-bucket",
        Shape::Text,
        "a bucket name string",
        "s3-bucket = \"my-artifacts\"",
        |p, v| p.s3_bucket = Some(v.text()),
    ),
    key(
        "description",
        Shape::Text,
        "a string",
        "description = \"my-layer dependencies\"",
        |p, v| p.description = Some(v.text()),
    ),
    key(
        "license",
        Shape::Text,
        "a string",
        "license = \"MIT\"",
        |p, v| p.license = Some(v.text()),
    ),
    key(
        "functions",
        Shape::List,
        "a list of function name strings",
        "functions = [\"my-function\"]",
        |p, v| p.functions = v.strings(),
    ),
    key(
        "grants",
        Shape::List,
        "a list of 12-digit account IDs, organization IDs (o-…) or \"public\"",
        "grants = [\"123456789012\"]",
        |p, v| p.grants = v.strings(),
    ),
    key(
        "layer-name",
        Shape::Text,
        "a template string with {name}, {py}, {python} or {arch}",
        "layer-name = \"{name}-py{py}-{arch}\"",
        |p, v| p.layer_name = Some(v.text()),
    ),
];

/// A value read for a key, in the key's shape.
enum Read<'v, 'i> {
    Text(String),
    Strings(Vec<String>),
    Bool(bool),
    Table(&'v DeTable<'i>),
    Array(&'v [Item<'i>]),
}

impl Read<'_, '_> {
    fn text(self) -> String {
        match self {
            Read::Text(s) => s,
            _ => String::new(),
        }
    }

    fn strings(self) -> Vec<String> {
        match self {
            Read::Strings(v) => v,
            Read::Text(s) => vec![s],
            _ => Vec::new(),
        }
    }
}

/// Reads the values of one file, turning spans into `path:line:column` messages.
struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Reader<'_> {
    fn at(&self, offset: usize) -> String {
        format!("{}:{}", self.path.display(), TextPos::at(self.text, offset))
    }

    /// Each known key of `table` with its value read in the key's shape; an unknown key or a
    /// value of another type is an error at its position that says what to write instead.
    fn entries<'v, 'i, T>(
        &self,
        table: &'v DeTable<'i>,
        keys: &'static [Key<T>],
        prefix: &str,
    ) -> anyhow::Result<Vec<(&'static Key<T>, Read<'v, 'i>)>> {
        let mut out = Vec::new();
        for (name, item) in table {
            let name_str = name.get_ref().as_ref();
            let Some(key) = keys.iter().find(|k| k.name == name_str) else {
                let known: Vec<&str> = keys.iter().map(|k| k.name).collect();
                let spelled = name_str.replace('_', "-").to_ascii_lowercase();
                let hint = match keys.iter().find(|k| k.name == spelled) {
                    Some(k) => format!("did you mean `{}`? ", k.name),
                    None => String::new(),
                };
                anyhow::bail!(
                    "{}: unknown key `{prefix}{}`\n  {hint}known keys: {}",
                    self.at(name.span().start),
                    toml_access::quote_short(name_str).trim_matches('"'),
                    known.join(", ")
                );
            };
            let read = match key.shape {
                Shape::Text => toml_access::string(item).map(|s| Read::Text(s.to_string())),
                Shape::OneOrMany => toml_access::one_or_many(item).map(owned),
                Shape::List => toml_access::strings(item).map(owned),
                Shape::Bool => toml_access::boolean(item).map(Read::Bool),
                Shape::BoolOrText => toml_access::boolean(item)
                    .map(Read::Bool)
                    .or_else(|_| toml_access::string(item).map(|s| Read::Text(s.to_string()))),
                Shape::Table => toml_access::table(item).map(Read::Table),
                Shape::Array => toml_access::array(item).map(Read::Array),
            }
            .map_err(|wrong| self.wrong_type(wrong, item, prefix, key))?;
            out.push((key, read));
        }
        Ok(out)
    }

    /// "KEY must be …; found …" and the fix: the same value quoted when a bare number or
    /// boolean was written where a string goes, else a correct example line.
    fn wrong_type<T>(
        &self,
        wrong: WrongType,
        item: &Item<'_>,
        prefix: &str,
        key: &Key<T>,
    ) -> anyhow::Error {
        let bare = matches!(
            item.get_ref(),
            DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_)
        );
        let raw = self.text.get(item.span()).unwrap_or_default();
        let fix = match key.shape {
            Shape::Text | Shape::OneOrMany if bare => {
                format!("quote it: {} = \"{raw}\"", key.name)
            }
            Shape::List if bare => format!("write it as a list: {} = [\"{raw}\"]", key.name),
            _ => format!("write it as {}", key.example),
        };
        anyhow::anyhow!(
            "{}: {prefix}{} must be {}; found {}\n  {fix}",
            self.at(wrong.span.start),
            key.name,
            key.expected,
            wrong.found,
        )
    }
}

fn owned(list: Vec<(&str, std::ops::Range<usize>)>) -> Read<'static, 'static> {
    Read::Strings(list.into_iter().map(|(s, _)| s.to_string()).collect())
}

fn paths(list: Vec<String>) -> Vec<PathBuf> {
    list.into_iter().map(PathBuf::from).collect()
}

/// A `pylayer.toml` larger than this is refused: the file holds a few settings, and a device
/// or a huge file named by `--config` must not exhaust memory.
pub const CONFIG_MAX_BYTES: u64 = 1 << 20;

impl Config {
    /// Reads `path`, naming the line and column of anything malformed and, for a value of
    /// the wrong type, the type its key takes.
    pub fn read(path: &Path) -> anyhow::Result<Config> {
        let text = crate::fsutil::read_capped_text(path, CONFIG_MAX_BYTES)?;
        Self::parse(&text, path)
    }

    /// Parses `text` as if read from `path` (the path names the file in messages and anchors
    /// the relative paths it holds).
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Config> {
        let reader = Reader { path, text };
        let root = toml_access::parse(text).map_err(|e| {
            anyhow::anyhow!(
                "{}: {}\n  fix the file, or see `pylayer init` for a commented example",
                reader.at(e.span().map_or(0, |s| s.start)),
                e.message().trim()
            )
        })?;
        let mut config = Config::default();
        for (key, value) in reader.entries(&root, KEYS, "")? {
            match value {
                Read::Table(table) if key.name == "env" => config.envs = read_envs(&reader, table)?,
                Read::Table(table) if key.name == "check" => {
                    for (key, value) in reader.entries(table, CHECK_KEYS, "check.")? {
                        (key.set)(&mut config.check_allow, value);
                    }
                }
                Read::Table(table) if key.name == "audit" => {
                    config.audit = read_audit(&reader, table)?
                }
                Read::Table(table) => config.publish = read_publish(&reader, table, "publish.")?,
                value => (key.set)(&mut config, value),
            }
        }
        config.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.base_lock = config.lock.clone();
        config.file = path.to_path_buf();
        Ok(config)
    }

    /// The project's config: `explicit` when given, else `pylayer.toml` in the working
    /// directory when it exists.
    pub fn discover(explicit: Option<&Path>) -> anyhow::Result<Option<Config>> {
        match explicit {
            Some(p) => Config::read(p).map(Some),
            // Whatever has the name is read, so a directory or FIFO there is an error
            // rather than a silently ignored config.
            None if std::fs::symlink_metadata(CONFIG_FILE).is_ok() => {
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

/// The `[publish]` table (`prefix` names it in messages).
fn read_publish(
    reader: &Reader<'_>,
    table: &DeTable<'_>,
    prefix: &str,
) -> anyhow::Result<PublishConfig> {
    let mut publish = PublishConfig::default();
    for (key, value) in reader.entries(table, PUBLISH_KEYS, prefix)? {
        (key.set)(&mut publish, value);
    }
    Ok(publish)
}

/// The `[audit]` table: the service checked against its names, every ignore entry with an
/// `id` and a `reason` (an ignore nobody can explain is an error) and a valid `until`.
fn read_audit(reader: &Reader<'_>, table: &DeTable<'_>) -> anyhow::Result<AuditConfig> {
    let mut audit = AuditConfig::default();
    for (key, value) in reader.entries(table, AUDIT_KEYS, "audit.")? {
        match (key.name, value) {
            ("service", Read::Text(s)) => {
                let at = table.get("service").map_or(0, |i| i.span().start);
                audit.service = Some(s.parse().map_err(|e: String| {
                    anyhow::anyhow!("{}: audit.service: {e}", reader.at(at))
                })?);
            }
            ("ignore", Read::Array(items)) => {
                for item in items {
                    audit.ignore.push(read_ignore(reader, item)?);
                }
            }
            (_, value) => (key.set)(&mut audit, value),
        }
    }
    Ok(audit)
}

/// One `{ id = "…", reason = "…", until = "YYYY-MM-DD" }`.
fn read_ignore(reader: &Reader<'_>, item: &Item<'_>) -> anyhow::Result<crate::audit::IgnoreRule> {
    const EXAMPLE: &str =
        "{ id = \"PYSEC-2018-28\", reason = \"why it does not apply\", until = \"2027-01-31\" }";
    let table = toml_access::table(item).map_err(|wrong| {
        anyhow::anyhow!(
            "{}: each audit.ignore entry must be an inline table; found {}\n  write it as {EXAMPLE}",
            reader.at(wrong.span.start),
            wrong.found
        )
    })?;
    let mut entry = IgnoreEntry::default();
    for (key, value) in reader.entries(table, IGNORE_KEYS, "audit.ignore.")? {
        (key.set)(&mut entry, value);
    }
    let at = reader.at(item.span().start);
    let id = entry.id.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        anyhow::anyhow!("{at}: an audit.ignore entry has no `id`\n  write it as {EXAMPLE}")
    })?;
    let reason = entry.reason.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        anyhow::anyhow!(
            "{at}: the audit.ignore entry for {id} has no `reason`\n  say why the finding does not apply: {EXAMPLE}"
        )
    })?;
    let until = match entry.until {
        None => None,
        Some(u) => Some(u.parse::<crate::audit::Date>().map_err(|e| {
            let at = table
                .get("until")
                .map_or(at.clone(), |i| reader.at(i.span().start));
            anyhow::anyhow!("{at}: audit.ignore until: {e}")
        })?),
    };
    Ok(crate::audit::IgnoreRule { id, reason, until })
}

/// The `[env.NAME]` tables.
fn read_envs(
    reader: &Reader<'_>,
    table: &DeTable<'_>,
) -> anyhow::Result<std::collections::BTreeMap<String, EnvConfig>> {
    let mut envs = std::collections::BTreeMap::new();
    for (name, item) in table {
        let env_name = name.get_ref().as_ref().to_string();
        let sub = toml_access::table(item).map_err(|wrong| {
            anyhow::anyhow!(
                "{}: env.{env_name} must be a table; found {}\n  write it as an `[env.{env_name}]` line followed by its keys",
                reader.at(wrong.span.start),
                wrong.found
            )
        })?;
        if env_name.is_empty()
            || !env_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            anyhow::bail!(
                "{}: environment name `{env_name}` must be letters, digits, `-` or `_` (it becomes part of the layer name)",
                reader.at(name.span().start)
            );
        }
        let prefix = format!("env.{env_name}.");
        let mut env = EnvConfig::default();
        for (key, value) in reader.entries(sub, ENV_KEYS, &prefix)? {
            match value {
                Read::Table(t) => {
                    env.publish = Some(read_publish(reader, t, &format!("{prefix}publish."))?)
                }
                value => (key.set)(&mut env, value),
            }
        }
        envs.insert(env_name, env);
    }
    Ok(envs)
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

# Layer name: dist/NAME-pyX.Y-ARCH.zip; published as NAME-pyXY-ARCH ([publish] layer-name).
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
# "imported" keeps only the .pyc of modules imported at start-up (for layers near 250 MB).
compile-bytecode = true
# python-interpreter = "/usr/bin/python3.12"   # the CPython that compiles it, if not found

# true removes what a layer never needs at run time: test directories no runtime module
# imports, type stubs, C/C++/Cython sources and headers, static libraries and binaries for
# other operating systems (never license files or package data). `pylayer inspect` shows
# what it would save. slim-patterns: more to remove (gitignore-style globs relative to
# site-packages), `!` to keep.
# slim = true
# slim-patterns = ["*/datasets/data/", "!numpy/_core/include/"]

# Files no wheel has (a system library such as libodbc.so.2): each directory's lib/, bin/
# and python/ are copied to the layer's (/opt/lib is on LD_LIBRARY_PATH, /opt/bin on PATH);
# a directory named lib, bin or python lands as that directory.
# include = ["vendor"]

# Package index (default: PYLAYER_INDEX_URL, PIP_INDEX_URL, else the public index).
# index-url = "https://example.internal/simple/"
# extra-index-urls = []
# find-links = ["wheels/"]

# Building from source: releases without a wheel for the target are built when pure Python
# (no-build = true forbids it); only-binary / no-binary as pip spells them (":all:", names).
# no-build = false
# only-binary = []
# no-binary = []
# The team's own packages (directories with a pyproject.toml), built into the layer and
# locked by path and source hash.
# local = ["../shared-lib"]

[check]
# Findings to accept, by code and optionally a glob relative to site-packages (or the
# layer root): they no longer fail the build or `pylayer check`, and are still counted.
# allow = ["windows-binary:debugpy/**"]

[audit]
# `pylayer audit`: where vulnerability records come from, "pypi" (the index's JSON API) or
# "osv"; url for a mirror. Findings accepted need a reason; after `until` they count again.
# service = "pypi"
# ignore = [{{ id = "PYSEC-2018-28", reason = "we never follow redirects", until = "2027-01-31" }}]

[publish]
# regions = ["eu-west-1"]
# profile = "default"
# s3-bucket = "my-artifacts"        # needed for zips over 50 MB
# description = "{name} dependencies"
# license = "MIT"
# functions = ["my-function"]       # what `pylayer attach` updates
# Lambda layer name of each target: {{name}} (above), {{py}} (312), {{python}} (3.12), {{arch}}.
# The default gives each target its own layer, so each function gets the version built for
# its runtime and architecture; "{{name}}" puts every target under one name.
# layer-name = "{{name}}-py{{py}}-{{arch}}"
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

    fn read_err(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        std::fs::write(&p, text).unwrap();
        let e = Config::read(&p).unwrap_err().to_string();
        // Messages name the file relative to nothing but its own name, for comparing.
        e.replace(&format!("{}", dir.path().display()), "DIR")
    }

    #[test]
    fn python_of_the_wrong_type_says_what_to_write() {
        let e = read_err("name = \"x\"\narch = \"arm64\"\npython = 3.12\n");
        assert_eq!(
            e,
            "DIR/pylayer.toml:3:10: python must be a string like \"3.12\" or a list of them; \
             found a float (3.12)\n  quote it: python = \"3.12\""
        );
        // In a list, the entry is pointed at.
        let e = read_err("python = [\"3.11\",\n  3.12,\n]\n");
        assert!(
            e.starts_with("DIR/pylayer.toml:2:3: python must be a string like \"3.12\" or a list of them; found an array holding a float (3.12)"),
            "{e}"
        );
    }

    #[test]
    fn every_key_has_a_typed_error() {
        for (text, expected) in [
            (
                "name = 1\n",
                "1:8: name must be a string; found an integer (1)\n  quote it: name = \"1\"",
            ),
            (
                "arch = {x = 1}\n",
                "1:8: arch must be a string (\"x86_64\" or \"arm64\") or a list of them; found a table\n  write it as arch = [\"x86_64\", \"arm64\"]",
            ),
            (
                "requirements = true\n",
                "1:16: requirements must be a path string or a list of them; found a boolean (true)",
            ),
            (
                "constraints = [1]\n",
                "1:16: constraints must be a path string or a list of them; found an array holding an integer (1)",
            ),
            (
                "exclude = \"boto3\"\n",
                "1:11: exclude must be a list of distribution name strings; found a string (\"boto3\")\n  write it as exclude = [\"boto3\"]",
            ),
            (
                "runtime-provided = \"no\"\n",
                "1:20: runtime-provided must be true or false; found a string (\"no\")\n  write it as runtime-provided = true",
            ),
            (
                "layout = [\"python\"]\n",
                "1:10: layout must be a string, \"python\" or \"site-packages\"; found an array",
            ),
            (
                "index-url = 5\n",
                "1:13: index-url must be a URL string; found an integer (5)",
            ),
            (
                "extra-index-urls = \"https://x/simple\"\n",
                "1:20: extra-index-urls must be a list of URL strings; found a string",
            ),
            (
                "find-links = 7\n",
                "1:14: find-links must be a list of directory or URL strings; found an integer (7)\n  write it as a list: find-links = [\"7\"]",
            ),
            (
                "out-dir = false\n",
                "1:11: out-dir must be a path string; found a boolean (false)",
            ),
            (
                "publish = \"yes\"\n",
                "1:11: publish must be a table; found a string (\"yes\")",
            ),
            (
                "[publish]\nregions = \"eu-west-1\"\n",
                "2:11: publish.regions must be a list of region name strings; found a string (\"eu-west-1\")",
            ),
            (
                "[publish]\nprofile = 1\n",
                "2:11: publish.profile must be a string; found an integer (1)",
            ),
            (
                "[publish]\ns3-bucket = [\"b\"]\n",
                "2:13: publish.s3-bucket must be a bucket name string; found an array",
            ),
            (
                "[publish]\ndescription = 2\n",
                "2:15: publish.description must be a string; found an integer (2)",
            ),
            (
                "[publish]\nlicense = 2.0\n",
                "2:11: publish.license must be a string; found a float (2.0)",
            ),
            (
                "publish.functions = \"f\"\n",
                "1:21: publish.functions must be a list of function name strings; found a string (\"f\")",
            ),
        ] {
            let e = read_err(text);
            let want = format!("DIR/pylayer.toml:{expected}");
            assert!(
                e.starts_with(&want),
                "for {text:?}\nwant: {want}\ngot:  {e}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_named_with_the_known_ones() {
        let e = read_err("name = \"x\"\nruntime_provided = true\n");
        assert!(
            e.starts_with("DIR/pylayer.toml:2:1: unknown key `runtime_provided`\n  did you mean `runtime-provided`? known keys: name, python,"),
            "{e}"
        );
        let e = read_err("[publish]\nregion = [\"eu-west-1\"]\n");
        assert!(
            e.starts_with(
                "DIR/pylayer.toml:2:1: unknown key `publish.region`\n  known keys: regions, profile"
            ),
            "{e}"
        );
    }

    #[test]
    fn every_key_is_read_into_its_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        std::fs::write(
            &p,
            "name = \"n\"\npython = [\"3.11\", \"3.12\"]\narch = \"arm64\"\nrequirements = \"r.txt\"\nconstraints = [\"c.txt\"]\nexclude = [\"boto3\"]\nruntime-provided = false\nlayout = \"site-packages\"\nindex-url = \"https://i/simple/\"\nextra-index-urls = [\"https://e/simple/\"]\nfind-links = [\"wheels/\"]\nout-dir = \"out\"\n\n[publish]\nregions = [\"eu-west-1\"]\nprofile = \"p\"\ns3-bucket = \"b\"\ndescription = \"d\"\nlicense = \"MIT\"\nfunctions = [\"f\"]\nlayer-name = \"{name}-{arch}\"\n",
        )
        .unwrap();
        let c = Config::read(&p).unwrap();
        assert_eq!(c.name.as_deref(), Some("n"));
        assert_eq!(c.python, ["3.11", "3.12"]);
        assert_eq!(c.arch, ["arm64"]);
        assert_eq!(c.requirements, [PathBuf::from("r.txt")]);
        assert_eq!(c.constraints, [PathBuf::from("c.txt")]);
        assert_eq!(c.exclude, ["boto3"]);
        assert_eq!(c.runtime_provided, Some(false));
        assert_eq!(c.layout.as_deref(), Some("site-packages"));
        assert_eq!(c.index_url.as_deref(), Some("https://i/simple/"));
        assert_eq!(c.extra_index_urls, ["https://e/simple/"]);
        assert_eq!(c.find_links, ["wheels/"]);
        assert_eq!(c.out_dir, Some(PathBuf::from("out")));
        assert_eq!(c.publish.regions, ["eu-west-1"]);
        assert_eq!(c.publish.profile.as_deref(), Some("p"));
        assert_eq!(c.publish.s3_bucket.as_deref(), Some("b"));
        assert_eq!(c.publish.description.as_deref(), Some("d"));
        assert_eq!(c.publish.license.as_deref(), Some("MIT"));
        assert_eq!(c.publish.functions, ["f"]);
        assert_eq!(c.publish.layer_name.as_deref(), Some("{name}-{arch}"));
        assert_eq!(c.dir, dir.path());
    }

    #[test]
    fn build_policy_and_local_keys_and_their_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(CONFIG_FILE);
        std::fs::write(
            &p,
            "no-build = true\nonly-binary = [\":all:\"]\nno-binary = [\"docopt\"]\nlocal = [\"../lib\"]\n\n[env.prod]\nno-build = false\nonly-binary = [\"numpy\"]\nlocal = [\"vendor/x\"]\n",
        )
        .unwrap();
        let c = Config::read(&p).unwrap();
        assert_eq!(c.no_build, Some(true));
        assert_eq!(c.only_binary, [":all:"]);
        assert_eq!(c.no_binary, ["docopt"]);
        assert_eq!(c.local, [PathBuf::from("../lib")]);
        let prod = c.for_env("prod").unwrap();
        assert_eq!(prod.no_build, Some(false));
        assert_eq!(prod.only_binary, [":all:", "numpy"]);
        assert_eq!(
            prod.local,
            [PathBuf::from("../lib"), PathBuf::from("vendor/x")]
        );
        std::fs::write(&p, "no-build = \"yes\"\n").unwrap();
        let err = format!("{:#}", Config::read(&p).unwrap_err());
        assert!(err.contains("no-build must be true or false"), "{err}");
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

    #[test]
    fn audit_table() {
        let p = Path::new("proj/pylayer.toml");
        let c = Config::parse(
            "[audit]\nservice = \"osv\"\nurl = \"http://mirror\"\nignore = [\n  { id = \"PYSEC-2018-28\", reason = \"no redirects\", until = \"2027-01-31\" },\n  { id = \"CVE-1\", reason = \"r\" },\n]\n",
            p,
        )
        .unwrap();
        assert_eq!(c.audit.service, Some(crate::audit::Service::Osv));
        assert_eq!(c.audit.url.as_deref(), Some("http://mirror"));
        assert_eq!(c.audit.ignore.len(), 2);
        assert_eq!(c.audit.ignore[0].until.unwrap().to_string(), "2027-01-31");
        assert_eq!(c.audit.ignore[1].until, None);
        let err = |text: &str| Config::parse(text, p).unwrap_err().to_string();
        let e = err("[audit]\nignore = [{ id = \"PYSEC-1\" }]\n");
        assert!(
            e.starts_with("proj/pylayer.toml:2:11: ") && e.contains("no `reason`"),
            "{e}"
        );
        let e =
            err("[audit]\nignore = [{ id = \"X\", reason = \"r\", untill = \"2027-01-31\" }]\n");
        assert!(e.contains("unknown key `audit.ignore.untill`"), "{e}");
        let e = err("[audit]\nignore = [{ id = \"X\", reason = \"r\", until = \"2027-13-01\" }]\n");
        assert!(
            e.contains("pylayer.toml:2:") && e.contains("YYYY-MM-DD"),
            "{e}"
        );
        let e = err("[audit]\nservice = \"snyk\"\n");
        assert!(
            e.contains("pylayer.toml:2:") && e.contains("\"osv\""),
            "{e}"
        );
        let e = err("[audit]\nignores = []\n");
        assert!(e.contains("unknown key `audit.ignores`"), "{e}");
        let e = err("[audit]\nignore = \"PYSEC-1\"\n");
        assert!(
            e.contains("audit.ignore must be a list of inline tables"),
            "{e}"
        );
        // The template's commented example is valid once uncommented.
        let t = template("x", &["3.12".into()], &["x86_64".into()])
            .replace("# service = ", "service = ")
            .replace("# ignore = ", "ignore = ");
        let c = Config::parse(&t, p).unwrap();
        assert_eq!(c.audit.service, Some(crate::audit::Service::Pypi));
        assert_eq!(c.audit.ignore[0].id, "PYSEC-2018-28");
    }
}
