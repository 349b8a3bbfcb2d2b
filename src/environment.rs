//! Environments (`[env.dev]`, `[env.prod]` in pylayer.toml): one project, one requirements
//! file in git, and per environment the adjustments the routine pylayer replaces kept by hand
//! — extra packages, removals, constraints, exclusions, its own layer name and publishing
//! settings — with its own lock, so building one environment never changes another's pins.

use std::path::PathBuf;

use crate::config::{Config, PublishConfig};

/// The lock an environment keeps when its table names none: `pylayer.ENV.lock`.
pub fn default_lock_name(env: &str) -> String {
    format!("pylayer.{env}.lock")
}

impl Config {
    /// These settings merged with `[env.NAME]`: its lists added to the project's, its name
    /// (default `NAME-ENV`), lock (default `pylayer.ENV.lock`) and publish keys replacing
    /// the project's.
    pub fn for_env(&self, env: &str) -> anyhow::Result<Config> {
        let Some(e) = self.envs.get(env) else {
            let known: Vec<&str> = self.envs.keys().map(String::as_str).collect();
            let file = &self.file;
            if known.is_empty() {
                anyhow::bail!(
                    "--env {env}: {} defines no environments\n  add an `[env.{env}]` table (it may be empty) to define one",
                    file.display()
                );
            }
            anyhow::bail!(
                "--env {env}: {} has no `[env.{env}]`; its environments: {}",
                file.display(),
                known.join(", ")
            );
        };
        let mut c = self.clone();
        c.requirements.extend(e.requirements.iter().cloned());
        c.constraints.extend(e.constraints.iter().cloned());
        c.exclude.extend(e.exclude.iter().cloned());
        c.packages.extend(e.packages.iter().cloned());
        c.remove.extend(e.remove.iter().cloned());
        c.only_binary.extend(e.only_binary.iter().cloned());
        c.no_binary.extend(e.no_binary.iter().cloned());
        c.local.extend(e.local.iter().cloned());
        if e.no_build.is_some() {
            c.no_build = e.no_build;
        }
        c.name = match (&e.name, &self.name) {
            (Some(n), _) => Some(n.clone()),
            (None, Some(base)) => Some(format!("{base}-{env}")),
            // No name in the file: the directory's, as `build` would take it.
            (None, None) => std::path::absolute(&self.dir)
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .map(|d| crate::pipeline::naming::sanitize_name(&d))
                .filter(|d| !d.is_empty())
                .map(|d| format!("{d}-{env}")),
        };
        c.lock = Some(env_lock(env, e));
        if let Some(p) = &e.publish {
            merge_publish(&mut c.publish, p);
        }
        c.env = Some(env.to_string());
        Ok(c)
    }

    /// The lock these settings use, relative to the working directory.
    pub fn lock_path(&self) -> PathBuf {
        self.path(
            self.lock
                .as_deref()
                .unwrap_or(std::path::Path::new("pylayer.lock")),
        )
    }

    /// Where `build` writes zips with these settings: `out-dir` (relative to the settings
    /// file), else `dist` in the working directory.
    pub fn out_dir_path(&self) -> PathBuf {
        self.out_dir.as_ref().map_or_else(
            || PathBuf::from(crate::pipeline::naming::DEFAULT_OUT_DIR),
            |d| self.path(d),
        )
    }

    /// The locks of the project's other environments (and of the project itself when an
    /// environment is selected), by name: their pins are preferred so that packages shared
    /// by environments get one version wherever the adjustments allow it.
    pub fn sibling_locks(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        if self.env.is_some() {
            let base = self.lock_path_of(None);
            out.push(("default".to_string(), base));
        }
        for name in self.envs.keys() {
            if Some(name) != self.env.as_ref() {
                out.push((name.clone(), self.lock_path_of(Some(name))));
            }
        }
        let own = self.lock_path();
        out.retain(|(_, p)| *p != own);
        out
    }

    /// The lock of environment `env` (`None`: the project without an environment).
    fn lock_path_of(&self, env: Option<&str>) -> PathBuf {
        match env.and_then(|e| self.envs.get(e).map(|t| (e, t))) {
            Some((e, t)) => self.path(&env_lock(e, t)),
            // The project's own `lock` key, read before any environment replaced it.
            None => self.base_lock.clone().map_or_else(
                || self.path(std::path::Path::new("pylayer.lock")),
                |p| self.path(&p),
            ),
        }
    }
}

/// The lock of environment `env` as its table gives it, relative to pylayer.toml.
fn env_lock(env: &str, table: &crate::config::EnvConfig) -> PathBuf {
    table
        .lock
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_lock_name(env)))
}

/// The publish keys an environment gives replace the project's.
fn merge_publish(base: &mut PublishConfig, env: &PublishConfig) {
    if !env.regions.is_empty() {
        base.regions = env.regions.clone();
    }
    if env.profile.is_some() {
        base.profile = env.profile.clone();
    }
    if env.s3_bucket.is_some() {
        base.s3_bucket = env.s3_bucket.clone();
    }
    if env.description.is_some() {
        base.description = env.description.clone();
    }
    if env.license.is_some() {
        base.license = env.license.clone();
    }
    if !env.functions.is_empty() {
        base.functions = env.functions.clone();
    }
    if !env.grants.is_empty() {
        base.grants = env.grants.clone();
    }
    if env.layer_name.is_some() {
        base.layer_name = env.layer_name.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_adds_to_the_project_and_has_its_own_lock_and_name() {
        let text = "name = \"proj\"\nrequirements = [\"requirements.txt\"]\nexclude = [\"boto3\"]\n\n[publish]\nregions = [\"eu-west-1\"]\n\n[env.dev]\npackages = [\"debugpy\"]\n\n[env.prod]\nconstraints = [\"prod.txt\"]\nremove = [\"rich\"]\n[env.prod.publish]\nregions = [\"us-east-1\", \"eu-west-1\"]\nprofile = \"prod\"\n";
        let c = Config::parse(text, std::path::Path::new("pylayer.toml")).unwrap();
        let dev = c.for_env("dev").unwrap();
        assert_eq!(dev.name.as_deref(), Some("proj-dev"));
        assert_eq!(dev.packages, vec!["debugpy".to_string()]);
        assert_eq!(dev.lock_path(), PathBuf::from("pylayer.dev.lock"));
        assert_eq!(dev.publish.regions, vec!["eu-west-1".to_string()]);
        let prod = c.for_env("prod").unwrap();
        assert_eq!(prod.constraints, vec![PathBuf::from("prod.txt")]);
        assert_eq!(prod.remove, vec!["rich".to_string()]);
        assert_eq!(prod.exclude, vec!["boto3".to_string()]);
        assert_eq!(prod.publish.profile.as_deref(), Some("prod"));
        assert_eq!(prod.publish.regions.len(), 2);
        let siblings: Vec<String> = prod.sibling_locks().into_iter().map(|(n, _)| n).collect();
        assert_eq!(siblings, vec!["default", "dev"]);
        assert_eq!(c.lock_path(), PathBuf::from("pylayer.lock"));
        let err = c.for_env("staging").unwrap_err().to_string();
        assert!(err.contains("its environments: dev, prod"), "{err}");
        let err = Config::parse(
            "[env.dev]\npackage = [\"x\"]\n",
            std::path::Path::new("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown key `env.dev.package`"), "{err}");
        assert!(err.contains("packages"), "{err}");
    }
}
