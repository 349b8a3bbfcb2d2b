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

/// A distribution the Python runtimes already ship, and the module it is imported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeProvided {
    /// PEP 503-normalized distribution name.
    pub distribution: &'static str,
    /// Top-level import name.
    pub module: &'static str,
}

/// Distributions the Python runtimes already ship (in `/var/runtime`, after the layers on
/// `sys.path`, so a copy in a layer takes precedence); used by `--no-runtime-provided`,
/// `check` (dependencies the runtime satisfies) and `test` (imports only the runtime can
/// satisfy). Source: the AWS Lambda Python runtime images (`/var/runtime`).
pub const RUNTIME_PROVIDED: &[RuntimeProvided] = &[
    RuntimeProvided {
        distribution: "boto3",
        module: "boto3",
    },
    RuntimeProvided {
        distribution: "botocore",
        module: "botocore",
    },
    RuntimeProvided {
        distribution: "s3transfer",
        module: "s3transfer",
    },
    RuntimeProvided {
        distribution: "jmespath",
        module: "jmespath",
    },
    RuntimeProvided {
        distribution: "python-dateutil",
        module: "dateutil",
    },
    RuntimeProvided {
        distribution: "six",
        module: "six",
    },
    RuntimeProvided {
        distribution: "urllib3",
        module: "urllib3",
    },
];

/// Whether the runtime ships this (normalized) distribution.
pub fn runtime_provides_distribution(key: &str) -> bool {
    RUNTIME_PROVIDED.iter().any(|r| r.distribution == key)
}

/// The runtime-provided distribution a top-level module belongs to.
pub fn runtime_provided_module(module: &str) -> Option<&'static RuntimeProvided> {
    RUNTIME_PROVIDED.iter().find(|r| r.module == module)
}

/// The AWS SDK family `--no-runtime-provided` leaves out (their other dependencies go too
/// when nothing else needs them).
pub const RUNTIME_SDK: &[&str] = &["boto3", "botocore", "s3transfer", "jmespath"];

/// Installer tooling that never belongs in a layer unless asked for by name.
pub const INSTALLER_TOOLING: &[&str] = &["pip", "setuptools", "wheel", "distribute"];

/// Finds the runtime for `python3.<minor>`.
pub fn runtime(minor: u8) -> Option<&'static Runtime> {
    RUNTIMES.iter().find(|r| r.minor == minor)
}

/// Shared libraries the Lambda Python runtime images provide, by Amazon Linux release: what
/// a layer's binaries may link without bundling. Deliberately short: a library missing here
/// is reported as "bundle it", which is the safe direction.
///
/// Sources: the auditwheel manylinux policy (`policy/manylinux-policy.json`, the libraries
/// every manylinux wheel may assume), the package lists of the Lambda base images
/// (`public.ecr.aws/lambda/python:3.11`, Amazon Linux 2: glibc 2.26, gcc 7 runtime,
/// OpenSSL 1.0.2 as `libssl.so.10`; `public.ecr.aws/lambda/python:3.12`, Amazon Linux 2023:
/// glibc 2.34, gcc 11 runtime, OpenSSL 3), and pylayer's design notes. Known absent from
/// the AL2 image although auditwheel allows them: libexpat, libatomic, libGL, X11, glib;
/// never present: libgomp, libxml2, libodbc, libpq, libmysqlclient, OpenSSL 1.1 / 3 on AL2.
pub struct RuntimeLibraries {
    /// The `Runtime::os` these libraries belong to.
    pub os: &'static str,
    /// Sonames present on every architecture.
    pub common: &'static [&'static str],
    /// Sonames present only on x86_64 (the dynamic loader's name and libmvec).
    pub x86_64: &'static [&'static str],
    /// Sonames present only on arm64.
    pub arm64: &'static [&'static str],
}

pub const RUNTIME_LIBRARIES: &[RuntimeLibraries] = &[
    RuntimeLibraries {
        os: "Amazon Linux 2",
        // glibc 2.26 still builds the obsolete libnsl.so.1; OpenSSL 1.0.2 only.
        common: &[
            "libc.so.6",
            "libm.so.6",
            "libdl.so.2",
            "librt.so.1",
            "libpthread.so.0",
            "libutil.so.1",
            "libanl.so.1",
            "libresolv.so.2",
            "libcrypt.so.1",
            "libgcc_s.so.1",
            "libstdc++.so.6",
            "libz.so.1",
            "libnsl.so.1",
            "libssl.so.10",
            "libcrypto.so.10",
        ],
        // libmvec exists on x86_64 since glibc 2.22; on aarch64 only since 2.35.
        x86_64: &["ld-linux-x86-64.so.2", "libmvec.so.1"],
        arm64: &["ld-linux-aarch64.so.1"],
    },
    RuntimeLibraries {
        os: "Amazon Linux 2023",
        // glibc 2.34 built without the obsolete libnsl (as Fedora since 28); OpenSSL 3.0.
        common: AL2023_COMMON,
        x86_64: &["ld-linux-x86-64.so.2", "libmvec.so.1"],
        arm64: &["ld-linux-aarch64.so.1"],
    },
];

/// glibc 2.34, the GCC 11 runtime, zlib and OpenSSL 3 of the Amazon Linux 2023 image.
const AL2023_COMMON: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libutil.so.1",
    "libanl.so.1",
    "libresolv.so.2",
    "libcrypt.so.1",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libz.so.1",
    "libssl.so.3",
    "libcrypto.so.3",
];

/// Libraries a manylinux wheel may assume (auditwheel policy) that the Lambda images do
/// NOT provide, with what to do: used to explain a missing `DT_NEEDED`.
/// Source: auditwheel `manylinux-policy.json` `lib_whitelist` against the base images.
pub const POLICY_LIBRARIES_ABSENT_ON_LAMBDA: &[(&str, &str)] = &[
    ("libexpat.so.1", "expat"),
    ("libatomic.so.1", "libatomic (GCC)"),
    ("libGL.so.1", "OpenGL"),
    ("libX11.so.6", "X11"),
    ("libXext.so.6", "X11"),
    ("libXrender.so.1", "X11"),
    ("libICE.so.6", "X11"),
    ("libSM.so.6", "X11"),
    ("libglib-2.0.so.0", "glib"),
    ("libgobject-2.0.so.0", "glib"),
    ("libgthread-2.0.so.0", "glib"),
];

/// glibc symbol-version names that are not `GLIBC_X.Y` but still demand a minimum glibc.
/// Source: glibc NEWS (2.36: DT_RELR support, `GLIBC_ABI_DT_RELR`, emitted by linkers that
/// pack relocations with `-z pack-relative-relocs`).
pub const GLIBC_SPECIAL_VERSIONS: &[(&str, (u16, u16))] = &[("GLIBC_ABI_DT_RELR", (2, 36))];

/// The `.pyc` magic number of each CPython 3 minor release (the little-endian `u16` before
/// `\r\n` at the start of every `.pyc`): a `.pyc` loads only under the minor that wrote it.
///
/// Sources: `Lib/importlib/_bootstrap_external.py` (3.9–3.13) and
/// `Include/internal/pycore_magic_number.h` (3.14) of CPython's final releases; 3.9–3.13
/// checked against `importlib.util.MAGIC_NUMBER` of pyenv's 3.9.18, 3.10.13, 3.11.7, 3.12.1
/// and 3.13.0.
pub const PYC_MAGIC: &[(u8, u16)] = &[
    (6, 3379),
    (7, 3394),
    (8, 3413),
    (9, 3425),
    (10, 3439),
    (11, 3495),
    (12, 3531),
    (13, 3571),
    (14, 3627),
];
