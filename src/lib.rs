//! pylayer as a library: each module is one stage of the data flow (see docs/architecture.md);
//! the `pylayer` binary only parses arguments, calls these and prints.

pub mod assemble;
pub mod audit;
#[cfg(feature = "aws")]
pub mod aws;
pub mod bytecode;
pub mod cache;
pub mod check;
pub mod civil_date;
pub mod cleanup;
pub mod config;
pub mod config_edit;
pub mod diff;
pub mod domain;
pub mod environment;
pub mod exclude;
pub mod export;
pub mod fetch;
pub mod format;
pub mod fsutil;
pub mod http;
pub mod include;
pub mod index;
pub mod inputs;
pub mod inspect;
pub mod interpreter;
pub mod layer;
pub mod layer_test;
pub mod local_project;
pub mod lock;
pub mod manifest;
pub mod metadata;
pub mod outlock;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod project_files;
pub mod published;
pub mod record;
#[cfg(feature = "aws")]
pub mod remote_zip;
pub mod requirements;
pub mod resolve;
pub mod sbom;
pub mod slim;
pub mod source_build;
pub mod target;
pub mod text;
pub mod textpos;
pub mod venv;
pub mod wheel_name;
pub mod write_behind;
pub mod zipfmt;

/// Helpers for the unit tests.
#[cfg(test)]
pub(crate) mod testutil {
    /// A test whose tool is missing is skipped on a developer's machine, but fails in CI
    /// (`CI` set), where `.ci/run` installs every tool: a green run means it ran.
    pub fn missing_tool(why: &str) {
        if std::env::var_os("CI").is_some() {
            panic!("{why} (CI is set, so this test must run; scripts/test.sh installs it)");
        }
        eprintln!("skipped: {why}");
    }
}
