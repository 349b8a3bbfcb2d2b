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

    /// True when `name` is named explicitly (not only through `:all:`).
    fn names(&self, name: &PackageName) -> bool {
        matches!(self, PackageSet::Some(names) if names.contains(name))
    }

    fn insert(&mut self, name: PackageName) {
        match self {
            PackageSet::All => {}
            PackageSet::Some(names) => {
                names.insert(name);
            }
            PackageSet::None => *self = PackageSet::Some(BTreeSet::from([name])),
        }
    }

    fn remove(&mut self, name: &PackageName) {
        if let PackageSet::Some(names) = self {
            names.remove(name);
            if names.is_empty() {
                *self = PackageSet::None;
            }
        }
    }

    /// pip's spelling, for the inputs digest and messages: `:all:`, `:none:` or sorted names.
    pub fn spelled(&self) -> String {
        match self {
            PackageSet::None => ":none:".to_string(),
            PackageSet::All => ":all:".to_string(),
            PackageSet::Some(names) => names
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
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

/// One `--only-binary` or `--no-binary` value as written (`:all:`, `:none:`, or
/// comma-separated names), in the order the options were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryOption {
    OnlyBinary(String),
    NoBinary(String),
}

impl BuildPolicy {
    /// The policy pip would apply for these options, read in order: `:all:` replaces both
    /// sets (the other option's names are dropped), `:none:` empties the option's own set,
    /// and a name moves to this option's set from the other's. So a later option wins for
    /// the packages it names; names are normalized, and a name no package has is kept
    /// without complaint (pip does not check them either).
    pub fn from_pip(no_build: bool, options: &[BinaryOption]) -> Result<BuildPolicy, String> {
        let mut policy = BuildPolicy {
            no_build,
            ..BuildPolicy::default()
        };
        for option in options {
            let (value, flag) = match option {
                BinaryOption::OnlyBinary(v) => (v, "--only-binary"),
                BinaryOption::NoBinary(v) => (v, "--no-binary"),
            };
            for item in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                let (target, other) = match option {
                    BinaryOption::OnlyBinary(_) => (&mut policy.only_binary, &mut policy.no_binary),
                    BinaryOption::NoBinary(_) => (&mut policy.no_binary, &mut policy.only_binary),
                };
                match item {
                    ":all:" => {
                        *target = PackageSet::All;
                        *other = PackageSet::None;
                    }
                    ":none:" => *target = PackageSet::None,
                    name => {
                        let name = name.parse::<PackageName>().map_err(|e| {
                            format!(
                                "{flag} {value}: `{name}` is not a package name ({e}); write \
                                 `:all:`, `:none:` or package names separated by commas"
                            )
                        })?;
                        other.remove(&name);
                        target.insert(name);
                    }
                }
            }
        }
        Ok(policy)
    }

    /// May `name` be built from its sdist when a release has no wheel for the target?
    pub fn may_build(&self, name: &PackageName) -> bool {
        !self.no_build && !self.binary_only(name)
    }

    /// Must `name` be built from its sdist even when a wheel exists?
    pub fn must_build(&self, name: &PackageName) -> bool {
        !self.no_build
            && !self.binary_only(name)
            && (self.no_binary.names(name)
                || (self.no_binary == PackageSet::All && !self.only_binary.names(name)))
    }

    /// pip's order: a package named by either option follows that option; otherwise
    /// `:all:` of either decides.
    fn binary_only(&self, name: &PackageName) -> bool {
        self.only_binary.names(name)
            || (self.only_binary == PackageSet::All && !self.no_binary.names(name))
    }

    /// The policy in words for the inputs digest; empty for the default, so locks written
    /// before these options existed stay valid.
    pub fn digest_line(&self) -> Option<String> {
        (self != &BuildPolicy::default()).then(|| {
            format!(
                "build no-build={} only-binary={} no-binary={}",
                self.no_build,
                self.only_binary.spelled(),
                self.no_binary.spelled()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> PackageName {
        s.parse().unwrap()
    }

    fn policy(options: &[BinaryOption]) -> BuildPolicy {
        BuildPolicy::from_pip(false, options).unwrap()
    }

    use BinaryOption::{NoBinary, OnlyBinary};

    #[test]
    fn default_builds_only_what_has_no_wheel() {
        let p = policy(&[]);
        assert!(p.may_build(&n("docopt")));
        assert!(!p.must_build(&n("docopt")));
        assert_eq!(p.digest_line(), None);
    }

    #[test]
    fn no_build_forbids_everything_whatever_else_says() {
        let p = BuildPolicy::from_pip(true, &[NoBinary(":all:".into())]).unwrap();
        assert!(!p.may_build(&n("docopt")));
        assert!(!p.must_build(&n("docopt")));
        assert!(p.digest_line().unwrap().contains("no-build=true"));
    }

    #[test]
    fn names_are_normalized_and_comma_separated() {
        let p = policy(&[OnlyBinary("Foo_Bar,,numpy".into())]);
        assert!(!p.may_build(&n("foo-bar")));
        assert!(!p.may_build(&n("numpy")));
        assert!(p.may_build(&n("docopt")));
        assert_eq!(p.only_binary.spelled(), "foo-bar,numpy");
    }

    #[test]
    fn a_name_beats_all_of_the_other_option() {
        // pip: `--only-binary :all: --no-binary foo` builds foo and nothing else.
        let p = policy(&[OnlyBinary(":all:".into()), NoBinary("foo".into())]);
        assert!(p.may_build(&n("foo")) && p.must_build(&n("foo")));
        assert!(!p.may_build(&n("bar")));
        let p = policy(&[NoBinary(":all:".into()), OnlyBinary("foo".into())]);
        assert!(!p.may_build(&n("foo")) && !p.must_build(&n("foo")));
        assert!(p.must_build(&n("bar")));
    }

    #[test]
    fn later_options_win_for_what_they_name() {
        let p = policy(&[NoBinary("foo".into()), OnlyBinary("foo".into())]);
        assert!(!p.may_build(&n("foo")));
        assert_eq!(p.no_binary, PackageSet::None);
        // `:all:` drops the other option's names; `:none:` clears its own.
        let p = policy(&[NoBinary("foo".into()), OnlyBinary(":all:".into())]);
        assert!(!p.may_build(&n("foo")));
        let p = policy(&[OnlyBinary(":all:".into()), OnlyBinary(":none:".into())]);
        assert_eq!(p, BuildPolicy::default());
    }

    #[test]
    fn unknown_names_are_accepted_but_malformed_ones_are_not() {
        assert!(BuildPolicy::from_pip(false, &[OnlyBinary("no-such-package".into())]).is_ok());
        let err = BuildPolicy::from_pip(false, &[NoBinary("foo bar".into())]).unwrap_err();
        assert!(err.contains("--no-binary foo bar"), "{err}");
    }
}
