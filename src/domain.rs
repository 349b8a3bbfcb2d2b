//! Facts about AWS Lambda that pylayer's decisions rest on, kept as data in one place.
//!
//! Sources: the AWS Lambda runtimes page (runtime → Amazon Linux release), the Amazon Linux
//! release notes (glibc / libstdc++ versions), the Lambda quotas page (layer and package
//! limits) and PEP 600 / auditwheel's policy (manylinux tags).

/// One Lambda Python runtime and the operating system image it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    /// The minor version of CPython 3 (`12` for `python3.12`).
    pub minor: u8,
    /// The patch release the runtime ships, used for `python_full_version` markers.
    pub patch: u8,
    /// Operating system name, for messages.
    pub os: &'static str,
    /// The glibc version of the runtime image: the ceiling for manylinux tags and GLIBC_ symbols.
    pub glibc: (u16, u16),
    /// Highest GLIBCXX_ symbol version the image's libstdc++ provides.
    pub glibcxx: &'static str,
    /// Highest CXXABI_ symbol version the image's libstdc++ provides.
    pub cxxabi: &'static str,
}

/// The Python runtimes Lambda offers. Amazon Linux 2 (glibc 2.26) for 3.9–3.11,
/// Amazon Linux 2023 (glibc 2.34) for 3.12 and later.
pub const RUNTIMES: &[Runtime] = &[
    Runtime {
        minor: 9,
        patch: 23,
        os: "Amazon Linux 2",
        glibc: (2, 26),
        glibcxx: "3.4.24",
        cxxabi: "1.3.11",
    },
    Runtime {
        minor: 10,
        patch: 18,
        os: "Amazon Linux 2",
        glibc: (2, 26),
        glibcxx: "3.4.24",
        cxxabi: "1.3.11",
    },
    Runtime {
        minor: 11,
        patch: 13,
        os: "Amazon Linux 2",
        glibc: (2, 26),
        glibcxx: "3.4.24",
        cxxabi: "1.3.11",
    },
    Runtime {
        minor: 12,
        patch: 11,
        os: "Amazon Linux 2023",
        glibc: (2, 34),
        glibcxx: "3.4.29",
        cxxabi: "1.3.13",
    },
    Runtime {
        minor: 13,
        patch: 7,
        os: "Amazon Linux 2023",
        glibc: (2, 34),
        glibcxx: "3.4.29",
        cxxabi: "1.3.13",
    },
    Runtime {
        minor: 14,
        patch: 0,
        os: "Amazon Linux 2023",
        glibc: (2, 34),
        glibcxx: "3.4.29",
        cxxabi: "1.3.13",
    },
];

/// Oldest glibc minor a PEP 600 `manylinux_2_N` tag can name that we still generate
/// (manylinux1 is glibc 2.5).
pub const OLDEST_MANYLINUX_MINOR: u16 = 5;

/// Legacy manylinux aliases and the glibc minor each stands for (PEP 600).
pub const MANYLINUX_ALIASES: &[(&str, u16)] = &[
    ("manylinux2014", 17),
    ("manylinux2010", 12),
    ("manylinux1", 5),
];

/// Unzipped size limit for a function plus all its layers, in bytes.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;
/// Largest zip accepted by a direct (non-S3) upload, in bytes.
pub const MAX_DIRECT_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;
/// Layers a function may have (enforced by `attach`).
#[allow(dead_code)]
pub const MAX_LAYERS_PER_FUNCTION: usize = 5;

/// Distributions the Python runtimes already ship; a copy in a layer takes precedence
/// (used by `--no-runtime-provided` and `check`).
#[allow(dead_code)]
pub const RUNTIME_PROVIDED: &[&str] = &[
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
];

/// Installer tooling that never belongs in a layer unless asked for by name.
pub const INSTALLER_TOOLING: &[&str] = &["pip", "setuptools", "wheel", "distribute"];

/// Finds the runtime for `python3.<minor>`.
pub fn runtime(minor: u8) -> Option<&'static Runtime> {
    RUNTIMES.iter().find(|r| r.minor == minor)
}
