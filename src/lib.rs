//! pylayer as a library: each module is one stage of the data flow (see docs/architecture.md);
//! the `pylayer` binary only parses arguments, calls these and prints.

pub mod assemble;
#[cfg(feature = "aws")]
pub mod aws;
pub mod cache;
pub mod check;
pub mod config;
pub mod diff;
pub mod domain;
pub mod exclude;
pub mod fetch;
pub mod fsutil;
pub mod http;
pub mod index;
pub mod inspect;
pub mod layer_test;
pub mod lock;
pub mod manifest;
pub mod project_files;
pub mod record;
#[cfg(feature = "aws")]
pub mod remote_zip;
pub mod requirements;
pub mod resolve;
pub mod target;
pub mod text;
pub mod venv;
pub mod wheel_name;
pub mod zipfmt;
