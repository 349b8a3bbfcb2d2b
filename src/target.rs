//! A Lambda target: one Python runtime on one architecture, and everything that follows
//! from it (glibc ceiling, the wheel tags it accepts in order of preference, PEP 508 markers).

use std::fmt;
use std::str::FromStr;

use uv_pep508::{MarkerEnvironment, MarkerEnvironmentBuilder};

use crate::domain::{self, Runtime};

/// A Lambda instruction set, named as Lambda names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    /// The architecture as Lambda's API spells it (`x86_64`, `arm64`).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The machine name in wheel tags, ELF and `platform_machine` (`x86_64`, `aarch64`).
    pub fn machine(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lambda_name())
    }
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "x86_64" | "amd64" | "x86-64" => Ok(Arch::X86_64),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            other => Err(format!(
                "unknown architecture `{other}`: Lambda offers `x86_64` and `arm64`"
            )),
        }
    }
}

/// One Lambda runtime (`python3.X`) on one architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    /// Minor version of Python 3.
    pub minor: u8,
    pub arch: Arch,
}

/// Parses `3.12`, `python3.12` or `312` into the minor version, checking Lambda offers it.
pub fn parse_python(s: &str) -> Result<u8, String> {
    let t = s.trim().trim_start_matches("python");
    let minor = t
        .strip_prefix("3.")
        .or_else(|| t.strip_prefix('3').filter(|r| !r.is_empty()))
        .and_then(|m| m.parse::<u8>().ok());
    let known: Vec<String> = domain::RUNTIMES
        .iter()
        .map(|r| format!("3.{}", r.minor))
        .collect();
    match minor {
        Some(m) if domain::runtime(m).is_some() => Ok(m),
        _ => Err(format!(
            "unsupported Python version `{s}`: Lambda's Python runtimes are {}",
            known.join(", ")
        )),
    }
}

impl Target {
    /// Builds a target, refusing Python versions Lambda has no runtime for.
    pub fn new(minor: u8, arch: Arch) -> Result<Self, String> {
        domain::runtime(minor)
            .map(|_| Target { minor, arch })
            .ok_or_else(|| format!("Lambda has no python3.{minor} runtime"))
    }

    pub fn runtime(&self) -> &'static Runtime {
        // `new` is the only constructor that checks; fall back to the newest for safety.
        domain::runtime(self.minor).unwrap_or(&domain::RUNTIMES[domain::RUNTIMES.len() - 1])
    }

    /// `python3.12`, as Lambda names the runtime.
    pub fn runtime_name(&self) -> String {
        format!("python3.{}", self.minor)
    }

    /// `3.12`.
    pub fn python_version(&self) -> String {
        format!("3.{}", self.minor)
    }

    /// `3.12.11`: the patch release the runtime ships, for `python_full_version` markers.
    pub fn python_full_version(&self) -> String {
        format!("3.{}.{}", self.minor, self.runtime().patch)
    }

    /// `cp312`.
    pub fn cpython_tag(&self) -> String {
        format!("cp3{}", self.minor)
    }

    /// A short human description: `python3.12/x86_64`.
    pub fn label(&self) -> String {
        format!("python3.{}/{}", self.minor, self.arch)
    }

    /// The manylinux platform tags the target accepts, most specific first: `manylinux_2_N`
    /// from the runtime's glibc down to 2.5, each legacy alias right after the version it
    /// stands for. Plain `linux_*`, musllinux, macOS and Windows are never accepted.
    pub fn platform_tags(&self) -> Vec<String> {
        let machine = self.arch.machine();
        let (_, ceiling) = self.runtime().glibc;
        let mut tags = Vec::new();
        for minor in (domain::OLDEST_MANYLINUX_MINOR..=ceiling).rev() {
            tags.push(format!("manylinux_2_{minor}_{machine}"));
            for (alias, alias_minor) in domain::MANYLINUX_ALIASES {
                // manylinux2010 and manylinux1 were only defined for x86 machines.
                let defined = *alias == "manylinux2014" || self.arch == Arch::X86_64;
                if *alias_minor == minor && defined {
                    tags.push(format!("{alias}_{machine}"));
                }
            }
        }
        tags
    }

    /// Every (python, abi, platform) tag the target accepts, best first, in the order
    /// CPython's own installers prefer them.
    pub fn tags(&self) -> Vec<(String, String, String)> {
        let cp = self.cpython_tag();
        let platforms = self.platform_tags();
        let mut out = Vec::new();
        let push = |out: &mut Vec<_>, py: &str, abi: &str, plat: &str| {
            out.push((py.to_string(), abi.to_string(), plat.to_string()));
        };
        for p in &platforms {
            push(&mut out, &cp, &cp, p);
        }
        for p in &platforms {
            push(&mut out, &cp, "abi3", p);
        }
        for p in &platforms {
            push(&mut out, &cp, "none", p);
        }
        for minor in (2..self.minor).rev() {
            for p in &platforms {
                push(&mut out, &format!("cp3{minor}"), "abi3", p);
            }
        }
        let mut generic = vec![format!("py3{}", self.minor), "py3".to_string()];
        generic.extend((0..self.minor).rev().map(|m| format!("py3{m}")));
        for py in &generic {
            for p in &platforms {
                push(&mut out, py, "none", p);
            }
        }
        push(&mut out, &cp, "none", "any");
        for py in &generic {
            push(&mut out, py, "none", "any");
        }
        out
    }

    /// The PEP 508 marker environment of the Lambda runtime.
    pub fn marker_environment(&self) -> MarkerEnvironment {
        let full = self.python_full_version();
        let short = self.python_version();
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &full,
            os_name: "posix",
            platform_machine: self.arch.machine(),
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &full,
            python_version: &short,
            sys_platform: "linux",
        })
        .expect("marker environment built from constant, valid versions")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "python3.{}/{}", self.minor, self.arch)
    }
}

/// The tags a target accepts, indexed for fast wheel ranking.
///
/// Cloning is cheap (the index is shared): a target accepts thousands of tags, and the
/// resolver hands a ranking to every project page it prefetches; a deep copy each time held
/// about 150 KB per page in flight, 1.5 GB for 10,000 requirements (docs/benchmarks.md).
#[derive(Debug, Clone)]
pub struct TagRanking {
    /// Keyed by the tag triple as a wheel filename writes one (`cp312-cp312-manylinux_2_17_x86_64`),
    /// so a lookup needs no owned strings.
    ranks: std::sync::Arc<std::collections::HashMap<String, usize>>,
}

impl TagRanking {
    pub fn new(target: &Target) -> Self {
        let mut ranks = std::collections::HashMap::new();
        for (i, (py, abi, plat)) in target.tags().into_iter().enumerate() {
            ranks.entry(format!("{py}-{abi}-{plat}")).or_insert(i);
        }
        TagRanking {
            ranks: std::sync::Arc::new(ranks),
        }
    }

    /// The rank of the best tag a wheel carries (lower is better), or `None` when the wheel
    /// cannot be installed on the target, from the three tag fields of its filename, each
    /// possibly a `.`-set (see `wheel_name::WheelFields`).
    pub fn rank_tags(&self, python: &str, abi: &str, platform: &str) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut key = String::with_capacity(python.len() + abi.len() + platform.len() + 2);
        for py in python.split('.') {
            for a in abi.split('.') {
                for plat in platform.split('.') {
                    key.clear();
                    key.push_str(py);
                    key.push('-');
                    key.push_str(a);
                    key.push('-');
                    key.push_str(plat);
                    if let Some(&r) = self.ranks.get(key.as_str()) {
                        best = Some(best.map_or(r, |b| b.min(r)));
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_ceiling_follows_amazon_linux_release() {
        let t311 = Target::new(11, Arch::X86_64).unwrap();
        let t312 = Target::new(12, Arch::Arm64).unwrap();
        assert_eq!(t311.platform_tags()[0], "manylinux_2_26_x86_64");
        assert_eq!(t312.platform_tags()[0], "manylinux_2_34_aarch64");
        assert!(
            !t311
                .platform_tags()
                .iter()
                .any(|t| t.contains("2_27") || t.contains("2_28"))
        );
        assert!(
            t311.platform_tags()
                .contains(&"manylinux2014_x86_64".to_string())
        );
        assert!(
            t311.platform_tags()
                .contains(&"manylinux1_x86_64".to_string())
        );
        assert!(
            !t312
                .platform_tags()
                .iter()
                .any(|t| t.starts_with("manylinux1"))
        );
        assert!(t312.platform_tags().iter().all(|t| t.ends_with("aarch64")));
    }

    #[test]
    fn tag_order_prefers_specific_abi() {
        let t = Target::new(12, Arch::X86_64).unwrap();
        let tags = t.tags();
        let pos = |py: &str, abi: &str, plat: &str| {
            tags.iter()
                .position(|(a, b, c)| a == py && b == abi && c == plat)
                .unwrap()
        };
        assert!(
            pos("cp312", "cp312", "manylinux_2_17_x86_64")
                < pos("cp312", "abi3", "manylinux_2_34_x86_64")
        );
        assert!(pos("cp37", "abi3", "manylinux2014_x86_64") < pos("py3", "none", "any"));
        assert!(pos("py312", "none", "any") < pos("py3", "none", "any"));
        assert!(!tags.iter().any(|(a, _, _)| a == "cp313"));
        assert!(
            !tags
                .iter()
                .any(|(_, _, c)| c.contains("musl") || c.contains("macos") || c.contains("win"))
        );
    }

    #[test]
    fn parses_python_versions() {
        assert_eq!(parse_python("3.12"), Ok(12));
        assert_eq!(parse_python("python3.9"), Ok(9));
        assert_eq!(parse_python("311"), Ok(11));
        assert!(parse_python("3.8").unwrap_err().contains("3.9"));
        assert!(parse_python("2.7").is_err());
    }

    #[test]
    fn marker_environment_is_lambda_linux() {
        let t = Target::new(12, Arch::Arm64).unwrap();
        let env = t.marker_environment();
        let req: uv_pep508::Requirement =
            "x; sys_platform == 'linux' and platform_machine == 'aarch64' and python_version >= '3.12'"
                .parse()
                .unwrap();
        assert!(req.evaluate_markers(&env, &[]));
        let win: uv_pep508::Requirement = "x; sys_platform == 'win32'".parse().unwrap();
        assert!(!win.evaluate_markers(&env, &[]));
    }
}
