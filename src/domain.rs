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
    /// Where the OS, glibc and libstdc++ facts come from.
    pub source: &'static str,
}

/// Sources of the runtime table.
const SRC_RUNTIMES_AL2: &str = "AWS Lambda runtimes page (python3.9-3.11 on Amazon Linux 2); Amazon Linux 2 release notes (glibc 2.26, GCC 7 libstdc++: GLIBCXX_3.4.24, CXXABI_1.3.11); patch release: the runtime's reported sys.version";
/// Amazon Linux 2023's system libstdc++ moved to GCC 14 (GLIBCXX_3.4.33) in 2025 updates;
/// which one Lambda's python3.12+ image ships is not published, so the ceiling stays at
/// GCC 11's GLIBCXX_3.4.29 (the conservative choice: a layer passing it loads on either).
const SRC_RUNTIMES_AL2023: &str = "AWS Lambda runtimes page (python3.12+ on Amazon Linux 2023); Amazon Linux 2023 release notes (glibc 2.34, GCC 11 libstdc++: GLIBCXX_3.4.29, CXXABI_1.3.13; GCC 14's GLIBCXX_3.4.33 arrived in 2025 updates, kept at 3.4.29 until a source says what Lambda's image ships); patch release: the runtime's reported sys.version";

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
        source: SRC_RUNTIMES_AL2,
    },
    Runtime {
        minor: 10,
        patch: 18,
        os: "Amazon Linux 2",
        glibc: (2, 26),
        glibcxx: "3.4.24",
        cxxabi: "1.3.11",
        source: SRC_RUNTIMES_AL2,
    },
    Runtime {
        minor: 11,
        patch: 13,
        os: "Amazon Linux 2",
        glibc: (2, 26),
        glibcxx: "3.4.24",
        cxxabi: "1.3.11",
        source: SRC_RUNTIMES_AL2,
    },
    Runtime {
        minor: 12,
        patch: 11,
        os: "Amazon Linux 2023",
        glibc: (2, 34),
        glibcxx: "3.4.29",
        cxxabi: "1.3.13",
        source: SRC_RUNTIMES_AL2023,
    },
    Runtime {
        minor: 13,
        patch: 7,
        os: "Amazon Linux 2023",
        glibc: (2, 34),
        glibcxx: "3.4.29",
        cxxabi: "1.3.13",
        source: SRC_RUNTIMES_AL2023,
    },
    Runtime {
        minor: 14,
        patch: 0,
        os: "Amazon Linux 2023",
        glibc: (2, 34),
        glibcxx: "3.4.29",
        cxxabi: "1.3.13",
        source: SRC_RUNTIMES_AL2023,
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

/// When Lambda ends support for a Python runtime: after `deprecated` it gets no security
/// patches; after `block_create` no new function may use it; after `block_update` no
/// function on it may be updated. Dates are `YYYY-MM-DD` (UTC), so they compare as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeDeprecation {
    pub runtime: &'static str,
    pub deprecated: &'static str,
    pub block_create: &'static str,
    pub block_update: &'static str,
    pub source: &'static str,
}

const SRC_DEPRECATION_PAGE: &str = "AWS Lambda runtimes page, supported runtimes table (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html): deprecation, block function create, block function update";
const SRC_DEPRECATION_PY38: &str = "AWS end-of-support notice for python3.8, quoted in aws-solutions/aws-control-tower-customizations#193 (deprecated 2024-10-14, block create 2025-02-28, block update 2025-03-31)";
const SRC_DEPRECATION_PY39: &str = "AWS Lambda runtimes page (deprecation 2025-12-15, as tflint-ruleset-aws#969 copied it); block dates as moved later by AWS, quoted from the runtimes table on AWS re:Post (question 'AWS Lambda Python runtime 3.9 EoL')";
const SRC_DEPRECATION_313: &str = "AWS Lambda runtimes page, as mirrored by endoflife.date/aws-lambda (standard support ends 2029-06-30, deprecated support ends 2029-08-31)";

/// Lambda's deprecation schedule of its Python runtimes (`pylayer layers audit` compares it
/// with today's date). A runtime older than every entry here is long past its block dates.
pub const RUNTIME_DEPRECATIONS: &[RuntimeDeprecation] = &[
    RuntimeDeprecation {
        runtime: "python3.8",
        deprecated: "2024-10-14",
        block_create: "2025-02-28",
        block_update: "2025-03-31",
        source: SRC_DEPRECATION_PY38,
    },
    RuntimeDeprecation {
        runtime: "python3.9",
        deprecated: "2025-12-15",
        block_create: "2027-02-01",
        block_update: "2027-03-03",
        source: SRC_DEPRECATION_PY39,
    },
    RuntimeDeprecation {
        runtime: "python3.10",
        deprecated: "2026-06-30",
        block_create: "2026-07-31",
        block_update: "2026-08-31",
        source: SRC_DEPRECATION_PAGE,
    },
    RuntimeDeprecation {
        runtime: "python3.11",
        deprecated: "2027-06-30",
        block_create: "2027-07-31",
        block_update: "2027-08-31",
        source: SRC_DEPRECATION_PAGE,
    },
    RuntimeDeprecation {
        runtime: "python3.12",
        deprecated: "2028-10-31",
        block_create: "2028-11-30",
        block_update: "2029-01-10",
        source: SRC_DEPRECATION_PAGE,
    },
    RuntimeDeprecation {
        runtime: "python3.13",
        deprecated: "2029-06-30",
        block_create: "2029-07-31",
        block_update: "2029-08-31",
        source: SRC_DEPRECATION_313,
    },
    RuntimeDeprecation {
        runtime: "python3.14",
        deprecated: "2029-06-30",
        block_create: "2029-07-31",
        block_update: "2029-08-31",
        source: SRC_DEPRECATION_313,
    },
];

/// How many days before a runtime's deprecation `layers audit` starts warning about it.
pub const DEPRECATION_WARNING_DAYS: i64 = 180;

/// The deprecation schedule of a runtime identifier (`python3.12`).
pub fn runtime_deprecation(runtime: &str) -> Option<&'static RuntimeDeprecation> {
    RUNTIME_DEPRECATIONS.iter().find(|d| d.runtime == runtime)
}

/// A shared library a Lambda runtime image provides, with the published source saying so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lib {
    pub soname: &'static str,
    pub source: &'static str,
}

const fn lib(soname: &'static str, source: &'static str) -> Lib {
    Lib { soname, source }
}

/// The file listing of Lambda's own Amazon Linux 2 environment (python3.8+ era runtimes),
/// dumped from inside a function.
pub const SRC_AL2_FS: &str = "lambci/docker-lambda base/base-2/fs.txt (file listing of the Lambda Amazon Linux 2 environment; commit de9a2bf, 2023-01-16)";
/// The manylinux policy: libraries every manylinux wheel may assume.
pub const SRC_POLICY: &str = "auditwheel policy/manylinux-policy.json lib_whitelist";
/// Amazon Linux 2023's minimal container image, which the python3.12+ base images build on.
pub const SRC_AL2023: &str = "Amazon Linux 2023 release notes, minimal container image package list (glibc 2.34, libgcc/libstdc++ of GCC 11, zlib, openssl-libs 3, libffi 3.4, libxcrypt)";
/// libcrypt on Amazon Linux 2023: only libxcrypt's libcrypt.so.2; the libcrypt.so.1 compat
/// package is not shipped.
pub const SRC_AL2023_CRYPT: &str = "amazonlinux/amazon-linux-2023 issue 182 (libxcrypt-compat, which provides libcrypt.so.1, is not added)";

/// Shared libraries the Lambda Python runtime images provide, by Amazon Linux release: what
/// a layer's binaries may link without bundling. Deliberately short: a library missing here
/// is reported as "bundle it", which is the safe direction. Every entry names its source.
///
/// Known absent from the AL2 environment although auditwheel allows them: libexpat,
/// libatomic, libGL, X11, glib, and libcrypt.so.1 (not in [`SRC_AL2_FS`]); never present:
/// libgomp, libxml2, libodbc, libpq, libmysqlclient, OpenSSL 1.1 / 3 on AL2.
pub struct RuntimeLibraries {
    /// The `Runtime::os` these libraries belong to.
    pub os: &'static str,
    /// Sonames present on every architecture.
    pub common: &'static [Lib],
    /// Sonames present only on x86_64 (the dynamic loader's name and libmvec).
    pub x86_64: &'static [Lib],
    /// Sonames present only on arm64.
    pub arm64: &'static [Lib],
}

pub const RUNTIME_LIBRARIES: &[RuntimeLibraries] = &[
    RuntimeLibraries {
        os: "Amazon Linux 2",
        // glibc 2.26 still builds the obsolete libnsl.so.1; OpenSSL 1.0.2 only; libffi 3.0
        // (ctypes and cffi need it). No libcrypt.so.1 in Lambda's environment.
        common: &[
            lib("libc.so.6", SRC_AL2_FS),
            lib("libm.so.6", SRC_AL2_FS),
            lib("libdl.so.2", SRC_AL2_FS),
            lib("librt.so.1", SRC_AL2_FS),
            lib("libpthread.so.0", SRC_AL2_FS),
            lib("libutil.so.1", SRC_AL2_FS),
            lib("libanl.so.1", SRC_AL2_FS),
            lib("libresolv.so.2", SRC_AL2_FS),
            lib("libgcc_s.so.1", SRC_AL2_FS),
            lib("libstdc++.so.6", SRC_AL2_FS),
            lib("libz.so.1", SRC_AL2_FS),
            lib("libnsl.so.1", SRC_AL2_FS),
            lib("libssl.so.10", SRC_AL2_FS),
            lib("libcrypto.so.10", SRC_AL2_FS),
            lib("libffi.so.6", SRC_AL2_FS),
        ],
        // libmvec exists on x86_64 since glibc 2.22; on aarch64 only since 2.35.
        x86_64: &[
            lib("ld-linux-x86-64.so.2", SRC_AL2_FS),
            lib("libmvec.so.1", SRC_AL2_FS),
        ],
        arm64: &[lib("ld-linux-aarch64.so.1", SRC_POLICY)],
    },
    RuntimeLibraries {
        os: "Amazon Linux 2023",
        // glibc 2.34 built without the obsolete libnsl (as Fedora since 28); OpenSSL 3.0.
        common: AL2023_COMMON,
        x86_64: &[
            lib("ld-linux-x86-64.so.2", SRC_POLICY),
            lib("libmvec.so.1", SRC_AL2023),
        ],
        arm64: &[lib("ld-linux-aarch64.so.1", SRC_POLICY)],
    },
];

/// glibc 2.34, the GCC 11 runtime, zlib, OpenSSL 3, libffi 3.4 and libxcrypt of the Amazon
/// Linux 2023 image.
const AL2023_COMMON: &[Lib] = &[
    lib("libc.so.6", SRC_AL2023),
    lib("libm.so.6", SRC_AL2023),
    lib("libdl.so.2", SRC_AL2023),
    lib("librt.so.1", SRC_AL2023),
    lib("libpthread.so.0", SRC_AL2023),
    lib("libutil.so.1", SRC_AL2023),
    lib("libanl.so.1", SRC_AL2023),
    lib("libresolv.so.2", SRC_AL2023),
    lib("libcrypt.so.2", SRC_AL2023_CRYPT),
    lib("libgcc_s.so.1", SRC_AL2023),
    lib("libstdc++.so.6", SRC_AL2023),
    lib("libz.so.1", SRC_AL2023),
    lib("libssl.so.3", SRC_AL2023),
    lib("libcrypto.so.3", SRC_AL2023),
    lib("libffi.so.8", SRC_AL2023),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::binary::runtime_libraries;
    use crate::target::{Arch, Target};

    #[test]
    fn every_library_and_runtime_names_its_source() {
        for t in RUNTIME_LIBRARIES {
            for l in t.common.iter().chain(t.x86_64).chain(t.arm64) {
                assert!(!l.source.is_empty(), "{} on {}", l.soname, t.os);
            }
        }
        assert!(RUNTIMES.iter().all(|r| !r.source.is_empty()));
        // The libstdc++ ceiling of AL2023 stays GCC 11's, and its source says why.
        let r12 = runtime(12).unwrap();
        assert_eq!(r12.glibcxx, "3.4.29");
        assert!(r12.source.contains("3.4.33"), "{}", r12.source);
    }

    #[test]
    fn libcrypt_and_libffi_as_the_images_have_them() {
        for arch in [Arch::X86_64, Arch::Arm64] {
            let al2 = runtime_libraries(&Target::new(11, arch).unwrap());
            let al2023 = runtime_libraries(&Target::new(12, arch).unwrap());
            // Lambda's AL2 environment has no libcrypt.so.1; AL2023 only libcrypt.so.2.
            assert!(!al2.contains("libcrypt.so.1") && !al2023.contains("libcrypt.so.1"));
            assert!(al2023.contains("libcrypt.so.2"));
            // ctypes' libffi: 3.0 (so.6) on AL2, 3.4 (so.8) on AL2023.
            assert!(al2.contains("libffi.so.6") && !al2.contains("libffi.so.8"));
            assert!(al2023.contains("libffi.so.8") && !al2023.contains("libffi.so.6"));
        }
    }
}
