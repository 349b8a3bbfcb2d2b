//! `pylayer init`: writes `pylayer.toml` and `requirements.txt` when absent, and keeps the
//! venv, build outputs and pylayer's state out of git. Running it again changes nothing.

use std::path::Path;

use clap::Args;

use super::{Failure, values};
use pylayer::config::{CONFIG_FILE, template};
use pylayer::fsutil::write_atomic;
use pylayer::target::Arch;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Layer name [default: the directory's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Lambda Python runtime(s) to build for (repeatable, or comma-separated) [default: 3.12]
    #[arg(long = "python", value_name = "3.X", value_parser = values::python_minor, value_delimiter = ',')]
    pub python: Vec<u8>,
    /// Architecture(s) to build for (repeatable, or comma-separated) [default: x86_64]
    #[arg(long = "arch", value_name = "ARCH", value_parser = values::arch_parser(), value_delimiter = ',')]
    pub arch: Vec<Arch>,
}

/// Lines `init` makes sure `.gitignore` has.
const IGNORED: &[&str] = &["venv/", ".venv/", "dist/", ".pylayer/"];

pub fn run(args: InitArgs) -> Result<(), Failure> {
    let dir = std::env::current_dir()
        .map_err(|e| Failure::failed(format!("no working directory: {e}")))?;
    run_in(&dir, args)
}

pub fn run_in(dir: &Path, args: InitArgs) -> Result<(), Failure> {
    let name_given = args.name.is_some();
    let python_given = !args.python.is_empty();
    let arch_given = !args.arch.is_empty();
    let mut python: Vec<String> = args.python.iter().map(|m| format!("3.{m}")).collect();
    if python.is_empty() {
        python.push("3.12".into());
    }
    python.dedup();
    let mut arch: Vec<String> = args
        .arch
        .iter()
        .map(|a| a.lambda_name().to_string())
        .collect();
    if arch.is_empty() {
        arch.push("x86_64".into());
    }
    arch.dedup();
    let name = match args.name {
        Some(n) => n,
        None => super::build::sanitize_name(
            &dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    if name.is_empty() || super::build::sanitize_name(&name) != name {
        return Err(Failure::usage(format!(
            "--name `{name}` is not a valid layer name: use 1 to 140 letters, digits, `-` or `_`"
        )));
    }
    let mut done = Vec::new();
    let config = dir.join(CONFIG_FILE);
    if !config.exists() {
        write_atomic(&config, template(&name, &python, &arch).as_bytes())?;
        done.push(format!("wrote {CONFIG_FILE}"));
    } else {
        // Flags given to an initialised project update those keys, never vanish.
        let list = |v: &[String]| {
            let quoted: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
            format!("[{}]", quoted.join(", "))
        };
        let mut wanted: Vec<(&str, String)> = Vec::new();
        if name_given {
            wanted.push(("name", format!("\"{name}\"")));
        }
        if python_given {
            wanted.push(("python", list(&python)));
        }
        if arch_given {
            wanted.push(("arch", list(&arch)));
        }
        if !wanted.is_empty() {
            update_config(&config, &wanted, &mut done)?;
        }
    }
    let reqs = dir.join("requirements.txt");
    if !reqs.exists() {
        write_atomic(
            &reqs,
            b"# One requirement per line, as for pip: ldap3, requests>=2.31, pandas[performance]\n",
        )?;
        done.push("wrote requirements.txt".into());
    }
    let gitignore = dir.join(".gitignore");
    let existing = match std::fs::read_to_string(&gitignore) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Failure::failed(format!(
                "cannot read {}: {e}",
                gitignore.display()
            )));
        }
    };
    let present: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<&str> = IGNORED
        .iter()
        .copied()
        .filter(|l| {
            !present.contains(l)
                && !present.contains(&l.trim_end_matches('/'))
                && !present.contains(&format!("/{l}").as_str())
        })
        .collect();
    if !missing.is_empty() {
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for l in &missing {
            text.push_str(l);
            text.push('\n');
        }
        write_atomic(&gitignore, text.as_bytes())?;
        done.push(format!("added {} to .gitignore", missing.join(" ")));
    }
    if done.is_empty() {
        println!("already initialised: nothing to change");
    } else {
        let wrote = done.iter().any(|d| d.starts_with("wrote"));
        for d in done {
            println!("{d}");
        }
        if wrote {
            println!("next: list your requirements in requirements.txt, then run `pylayer build`");
        }
    }
    Ok(())
}

/// Sets the keys given as flags in an existing pylayer.toml, saying which changed.
fn update_config(
    config: &Path,
    wanted: &[(&str, String)],
    done: &mut Vec<String>,
) -> Result<(), Failure> {
    let text = pylayer::fsutil::read_capped_text(config, 1 << 20)
        .map_err(|e| Failure::usage(format!("{e:#}")))?;
    let current: toml::Table = toml::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "{}: not valid TOML ({}); fix it, then run `pylayer init` again",
            config.display(),
            e.message()
        ))
    })?;
    let changed: Vec<(&str, String)> = wanted
        .iter()
        .filter(|(k, v)| {
            let want: Option<toml::Table> = toml::from_str(&format!("{k} = {v}")).ok();
            want.as_ref().and_then(|w| w.get(*k)) != current.get(*k)
        })
        .cloned()
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let updated = pylayer::config_edit::set_top_level(&text, &changed)
        .map_err(|e| Failure::usage(format!("{}: {e}", config.display())))?;
    write_atomic(config, updated.as_bytes())?;
    for (k, v) in &changed {
        done.push(format!("set {k} = {v} in {CONFIG_FILE}"));
    }
    Ok(())
}
