//! Which packages may be built from a source distribution: pylayer's `--no-build` and pip's
//! `--only-binary` / `--no-binary` (with pip's spelling: `:all:`, `:none:`, or names).

use std::collections::BTreeSet;

use uv_normalize::PackageName;

/// A set of packages as pip's binary options name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PackageSet {
    /// `:none:` (or the option not given).
    #[default]
    None,
    /// `:all:`.
    All,
    Some(BTreeSet<PackageName>),
}

impl PackageSet {
    pub fn contains(&self, name: &PackageName) -> bool {
        match self {
            PackageSet::None => false,
            PackageSet::All => true,
            PackageSet::Some(names) => names.contains(name),
        }
    }
}

/// What the user allows to be built from source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildPolicy {
    /// `--no-build` / `no-build = true`: wheels only, as before sdists were supported.
    pub no_build: bool,
    /// `--only-binary`: never built, even when a release has no wheel for the target.
    pub only_binary: PackageSet,
    /// `--no-binary`: built from the sdist even when a wheel exists.
    pub no_binary: PackageSet,
}

impl BuildPolicy {
    /// May `name` be built from its sdist when a release has no wheel for the target?
    pub fn may_build(&self, name: &PackageName) -> bool {
        !self.no_build && !self.only_binary.contains(name)
    }

    /// Must `name` be built from its sdist even when a wheel exists?
    pub fn must_build(&self, name: &PackageName) -> bool {
        !self.no_build && self.no_binary.contains(name) && !self.only_binary.contains(name)
    }
}
