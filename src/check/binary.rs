//! Binaries: check the facts the layer reader parsed from each ELF, Mach-O and PE file
//! ([`crate::layer::binfile`]) against the target runtime — architecture, glibc and
//! libstdc++ symbol-version ceilings, whether each needed library is bundled in the layer
//! or provided by the runtime image, and extension module suffixes for another Python.

use std::collections::{BTreeSet, HashMap, HashSet};

use object::elf;

use super::report::Finding;
use crate::domain::{self, RuntimeLibraries};
use crate::layer::binfile::{BinaryInfo, ElfInfo};
use crate::layer::inventory::{Content, Entry, EntryKind};
use crate::target::{Arch, Target};

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

fn machine_name(machine: u16) -> &'static str {
    match machine {
        elf::EM_X86_64 => "x86_64",
        elf::EM_AARCH64 => "arm64 (aarch64)",
        elf::EM_386 => "32-bit x86",
        elf::EM_ARM => "32-bit ARM",
        elf::EM_PPC64 => "ppc64",
        elf::EM_S390 => "s390x",
        elf::EM_RISCV => "riscv",
        _ => "another CPU",
    }
}

fn expected_machine(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => elf::EM_X86_64,
        Arch::Arm64 => elf::EM_AARCH64,
    }
}

/// The libraries the target's runtime image provides.
pub fn runtime_libraries(target: &Target) -> HashSet<&'static str> {
    let os = target.runtime().os;
    let mut out = HashSet::new();
    if let Some(t) = domain::RUNTIME_LIBRARIES
        .iter()
        .find(|t: &&RuntimeLibraries| t.os == os)
    {
        out.extend(t.common.iter().map(|l| l.soname));
        out.extend(
            match target.arch {
                Arch::X86_64 => t.x86_64,
                Arch::Arm64 => t.arm64,
            }
            .iter()
            .map(|l| l.soname),
        );
    }
    out
}

/// `2.28` → (2, 28); `3.4.29` → [3, 4, 29]. Non-numeric versions give `None`.
fn numeric(v: &str) -> Option<Vec<u32>> {
    v.split('.').map(|p| p.parse::<u32>().ok()).collect()
}

fn parse_dotted(v: &str) -> Vec<u32> {
    numeric(v).unwrap_or_default()
}

/// Where `/opt/...` or `$ORIGIN`-relative search directories land inside the layer.
/// `dir` is the directory of the binary in the layer (`python/numpy/_core`).
fn search_dir_in_layer(entry: &str, dir: &str) -> Option<String> {
    let origin = format!("/opt/{dir}");
    let expanded = entry
        .replace("${ORIGIN}", &origin)
        .replace("$ORIGIN", &origin);
    let rest = expanded
        .strip_prefix("/opt/")
        .or_else(|| (expanded == "/opt").then_some(""))?;
    // Climbing above /opt leaves the layer.
    crate::record::join("", rest)
}

/// Lambda's `LD_LIBRARY_PATH` entries that point into layers: `/opt/lib`.
const LAYER_LIBRARY_DIRS: &[&str] = &["lib"];

/// Checks every binary in the layer. `owner` names the distribution a path belongs to.
/// `linux_wheel` says whether a path belongs to a distribution installed from a wheel for
/// Linux (see `Dist::linux_wheel`): another OS's binaries inside one are dead weight, not a
/// layer built on the wrong OS.
pub fn check(
    entries: &[Entry],
    target: &Target,
    owner: &dyn Fn(&str) -> Option<String>,
    linux_wheel: &dyn Fn(&str) -> bool,
) -> Vec<Finding> {
    let provided = runtime_libraries(target);
    let rt = target.runtime();
    let files: HashSet<&str> = entries
        .iter()
        .filter(|e| e.kind != EntryKind::Dir)
        .map(|e| e.path.as_str())
        .collect();
    // Where each library name exists anywhere in the layer (by file name and by soname).
    let mut anywhere: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in entries.iter().filter(|e| e.kind != EntryKind::Dir) {
        let base = e.path.rsplit('/').next().unwrap_or(&e.path);
        anywhere.entry(base).or_default().push(&e.path);
        if let Content::Binary(BinaryInfo::Elf(info)) = &e.content
            && let Some(s) = &info.soname
        {
            anywhere.entry(s.as_str()).or_default().push(&e.path);
        }
    }

    let want = expected_machine(target.arch);
    let elves: Vec<(&str, &ElfInfo)> = entries
        .iter()
        .filter_map(|e| match &e.content {
            Content::Binary(BinaryInfo::Elf(info)) if info.machine == want => {
                Some((e.path.as_str(), info))
            }
            _ => None,
        })
        .collect();
    let inherited = inherited_rpaths(&elves, &files);

    let mut out = Vec::new();
    for e in entries {
        let name = &e.path;
        let foreign = matches!(
            e.content,
            Content::Binary(BinaryInfo::MachO { .. } | BinaryInfo::Pe { .. })
        );
        if let Some(f) = extension_suffix_problem(name, target)
            && !(foreign && f.code == "macos-binary")
        {
            let f = match loadable_sibling(name, target, &files) {
                Some(sibling) if f.code == "python-version" => dead_weight(&f, &sibling, target),
                _ => f,
            };
            out.push(f.at(name.clone()).in_dist(owner(name)));
        }
        let Content::Binary(info) = &e.content else {
            continue;
        };
        let dist = owner(name);
        match info {
            BinaryInfo::Damaged(why) => {
                let loadable = name.ends_with(".so") || name.contains(".so.");
                let f = if loadable {
                    Finding::error(
                        "binary-damaged",
                        format!("this shared library cannot be loaded: {why}"),
                        "the file is truncated or damaged: rebuild the layer from the package's wheel",
                    )
                } else {
                    Finding::warning(
                        "binary-damaged",
                        format!("this file starts like a binary but does not parse: {why}"),
                        "if the package loads it, rebuild the layer from the package's wheel",
                    )
                };
                out.push(f.at(name.clone()).in_dist(dist));
            }
            BinaryInfo::MachO { arch } if linux_wheel(name) => out.push(
                dead_os_binary("macos-binary", &format!("a macOS binary (Mach-O, {arch})"), dist.as_deref())
                    .at(name.clone())
                    .in_dist(dist),
            ),
            BinaryInfo::MachO { arch } => out.push(
                Finding::error(
                    "macos-binary",
                    format!("a macOS (Mach-O, {arch}) binary: Lambda runs Linux and cannot load it. The layer was built on a Mac, e.g. a venv's site-packages copied into python/"),
                    format!(
                        "build the layer for Linux: `pylayer build --python {} --arch {}` (or pip install --platform manylinux2014_{} --only-binary=:all:)",
                        target.python_version(),
                        target.arch,
                        target.arch.machine()
                    ),
                )
                .at(name.clone())
                .in_dist(dist),
            ),
            BinaryInfo::Pe { arch } => {
                let lower = name.to_ascii_lowercase();
                let f = if lower.ends_with(".exe") {
                    Finding::warning(
                        "windows-binary",
                        format!("a Windows executable (PE, {arch}); it cannot run on Lambda and only takes space"),
                        "harmless if unused (pip and setuptools ship launchers like this); `pylayer build --slim` drops it",
                    )
                } else if linux_wheel(name) {
                    dead_os_binary("windows-binary", &format!("a Windows binary (PE, {arch})"), dist.as_deref())
                } else {
                    Finding::error(
                        "windows-binary",
                        format!("a Windows binary (PE, {arch}): Lambda runs Linux and cannot load it. The layer was built on Windows"),
                        format!(
                            "build the layer for Linux: `pylayer build --python {} --arch {}` (or pip install --platform manylinux2014_{} --only-binary=:all:)",
                            target.python_version(),
                            target.arch,
                            target.arch.machine()
                        ),
                    )
                };
                out.push(f.at(name.clone()).in_dist(dist));
            }
            BinaryInfo::Elf(info) => {
                let inherited = inherited.get(name.as_str());
                let ctx = Context {
                    target,
                    rt,
                    provided: &provided,
                    files: &files,
                    anywhere: &anywhere,
                };
                check_elf(&ctx, name, info, inherited, dist, &mut out)
            }
        }
    }
    out
}

/// Another OS's binary inside a wheel for Linux (debugpy ships every platform's in one
/// wheel): never loaded on Lambda, so only space.
fn dead_os_binary(code: &'static str, what: &str, dist: Option<&str>) -> Finding {
    let wheel = dist.map_or("a wheel".to_string(), |d| format!("{d}'s wheel"));
    Finding::warning(
        code,
        format!("{what} inside {wheel}, which is for Linux: dead weight, never loaded on Lambda"),
        format!(
            "harmless; `pylayer build --slim` drops it, or accept it with `--allow {code}:GLOB` (`[check] allow` in pylayer.toml)"
        ),
    )
}

/// The module the target's Python imports instead of `path` (an extension module for
/// another Python, `x.cpython-311-….so`): a sibling with the same stem named for the
/// target (`x.cpython-312-x86_64-linux-gnu.so`), `x.abi3.so` or `x.so`. Some wheels ship
/// both (snowflake-connector-python 5.2's cp312 wheel has a cpython-311 copy too).
fn loadable_sibling(path: &str, target: &Target, files: &HashSet<&str>) -> Option<String> {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    let (stem, _) = file.split_once(".cpython-")?;
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    [
        format!(
            "{stem}.cpython-3{}-{}-linux-gnu.so",
            target.minor,
            target.arch.machine()
        ),
        format!("{stem}.abi3.so"),
        format!("{stem}.so"),
    ]
    .into_iter()
    .map(|name| format!("{prefix}{name}"))
    .find(|p| files.contains(p.as_str()))
}

/// An extension module for another Python next to the one the target imports: never
/// loaded, only space.
fn dead_weight(f: &Finding, sibling: &str, target: &Target) -> Finding {
    let sibling = sibling.rsplit('/').next().unwrap_or(sibling);
    Finding::warning(
        f.code,
        format!(
            "{}; python3.{} imports `{sibling}` beside it instead, so this file is never loaded and only takes space",
            f.message.split(';').next().unwrap_or(&f.message),
            target.minor
        ),
        "harmless; delete the file from the layer to save space (the wheel ships both)",
    )
}

/// A problem with an extension module's file-name suffix: built for another Python, for
/// macOS, Windows or musl libc.
fn extension_suffix_problem(path: &str, target: &Target) -> Option<Finding> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".pyd") {
        return None; // reported from its PE content (or as damaged)
    }
    let stem = lower.strip_suffix(".so")?;
    let (_, tag) = stem.rsplit_once('.')?;
    let rest = tag.strip_prefix("cpython-")?;
    let ver = rest.split('-').next().unwrap_or("");
    let digits: String = ver.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() >= 2 && digits.starts_with('3') {
        let minor: u8 = digits[1..].parse().ok()?;
        if minor != target.minor {
            return Some(Finding::error(
                "python-version",
                format!(
                    "an extension module for Python 3.{minor} (`{tag}`); python3.{} will not import it (its import system looks for `cpython-3{}` or `abi3` modules)",
                    target.minor, target.minor
                ),
                format!(
                    "build the layer for the runtime it will run on (`pylayer build --python 3.{}`), or attach this layer to python3.{minor} functions",
                    target.minor
                ),
            ));
        }
    }
    if rest.contains("darwin") {
        return Some(Finding::error(
            "macos-binary",
            format!("an extension module built for macOS (`{tag}`)"),
            format!(
                "build the layer for Linux: `pylayer build --python {}`",
                target.python_version()
            ),
        ));
    }
    if rest.contains("linux-musl") {
        return Some(Finding::error(
            "musl-binary",
            format!("an extension module built for musl libc (Alpine, `{tag}`); Lambda uses glibc"),
            "use the package's manylinux wheel instead of its musllinux one (`pylayer build` does)",
        ));
    }
    None
}

/// What every ELF check looks things up in.
struct Context<'a> {
    target: &'a Target,
    rt: &'a domain::Runtime,
    provided: &'a HashSet<&'static str>,
    files: &'a HashSet<&'a str>,
    anywhere: &'a HashMap<&'a str, Vec<&'a str>>,
}

/// The file's own `DT_RPATH` directories in the layer: what it passes on to the libraries
/// it loads (ld.so searches the `DT_RPATH` of every object in the loading chain, unless the
/// object being resolved has a `DT_RUNPATH`).
fn own_rpath(name: &str, info: &ElfInfo) -> Vec<String> {
    if !info.runpath.is_empty() {
        return Vec::new();
    }
    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
    info.rpath
        .iter()
        .filter_map(|p| search_dir_in_layer(p, dir))
        .collect()
}

/// Directories of the layer where ld.so looks for this file's `DT_NEEDED`, in order:
/// `DT_RPATH` (own, then inherited from loaders) unless there is a `DT_RUNPATH`; then
/// `LD_LIBRARY_PATH` (/opt/lib); then `DT_RUNPATH`.
fn search_dirs(name: &str, info: &ElfInfo, inherited: Option<&BTreeSet<String>>) -> Vec<String> {
    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = own_rpath(name, info);
    if info.runpath.is_empty() {
        out.extend(inherited.into_iter().flatten().cloned());
    }
    out.extend(LAYER_LIBRARY_DIRS.iter().map(|d| d.to_string()));
    out.extend(
        info.runpath
            .iter()
            .filter_map(|p| search_dir_in_layer(p, dir)),
    );
    out
}

/// The layer file a library name resolves to from these directories.
fn resolve<'a>(lib: &str, dirs: &[String], files: &HashSet<&'a str>) -> Option<&'a str> {
    dirs.iter().find_map(|d| {
        let p = if d.is_empty() {
            lib.to_string()
        } else {
            format!("{d}/{lib}")
        };
        files.get(p.as_str()).copied()
    })
}

/// For each ELF in the layer, the `DT_RPATH` directories it inherits from the objects that
/// load it (auditwheel's bundled libraries rely on this: `libfreetype` in `pillow.libs`
/// finds `libpng` through the extension module's `$ORIGIN/../pillow.libs`).
fn inherited_rpaths<'a>(
    elves: &[(&'a str, &ElfInfo)],
    files: &HashSet<&'a str>,
) -> HashMap<&'a str, BTreeSet<String>> {
    let mut inherited: HashMap<&str, BTreeSet<String>> = HashMap::new();
    // Each round extends chains by one level; real chains are 2–4 deep.
    for _ in 0..8 {
        let mut changed = false;
        for (name, info) in elves {
            let mut chain: BTreeSet<String> = own_rpath(name, info).into_iter().collect();
            chain.extend(inherited.get(name).into_iter().flatten().cloned());
            if chain.is_empty() {
                continue;
            }
            let dirs = search_dirs(name, info, inherited.get(name));
            for lib in &info.needed {
                if let Some(child) = resolve(lib, &dirs, files)
                    && child != *name
                {
                    let set = inherited.entry(child).or_default();
                    for d in &chain {
                        changed |= set.insert(d.clone());
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    inherited
}

fn check_elf(
    ctx: &Context<'_>,
    name: &str,
    info: &ElfInfo,
    inherited: Option<&BTreeSet<String>>,
    dist: Option<String>,
    out: &mut Vec<Finding>,
) {
    let Context {
        target,
        rt,
        provided,
        files,
        anywhere,
    } = *ctx;
    let want = expected_machine(target.arch);
    if info.machine != want || !info.class64 {
        let what = if info.class64 {
            machine_name(info.machine).to_string()
        } else {
            format!(
                "32-bit {}",
                machine_name(info.machine).trim_start_matches("32-bit ")
            )
        };
        let other = if info.machine == elf::EM_X86_64 {
            "x86_64"
        } else if info.machine == elf::EM_AARCH64 {
            "arm64"
        } else {
            ""
        };
        let mut hint = format!(
            "rebuild the layer for {}: `pylayer build --arch {}` (pip: --platform manylinux2014_{})",
            target.arch,
            target.arch,
            target.arch.machine()
        );
        if !other.is_empty() && info.class64 {
            hint.push_str(&format!(", or attach this layer to {other} functions"));
        }
        out.push(
            Finding::error(
                "wrong-architecture",
                format!(
                    "an ELF binary for {what}; this layer targets {} ({}) functions, where it cannot load (`cannot open shared object file` / `wrong ELF class`)",
                    target.arch,
                    target.arch.machine()
                ),
                hint,
            )
            .at(name)
            .in_dist(dist),
        );
        return;
    }
    if info.kind == elf::ET_REL {
        return; // an object file: never loaded at run time
    }

    // Where the loader will look for this file's dependencies, mapped into the layer.
    let paths: &Vec<String> = if info.runpath.is_empty() {
        &info.rpath
    } else {
        &info.runpath
    };
    let search = search_dirs(name, info, inherited);
    let bundled = |lib: &str| resolve(lib, &search, files).is_some();

    // Symbol versions above the runtime's glibc / libstdc++.
    let mut glibc: BTreeSet<(Vec<u32>, String)> = BTreeSet::new();
    let mut cxx: BTreeSet<(Vec<u32>, String)> = BTreeSet::new();
    let mut cxxabi: BTreeSet<(Vec<u32>, String)> = BTreeSet::new();
    let glibc_ceiling = vec![rt.glibc.0 as u32, rt.glibc.1 as u32];
    let glibcxx_ceiling = parse_dotted(rt.glibcxx);
    let cxxabi_ceiling = parse_dotted(rt.cxxabi);
    for (lib, v) in &info.version_needs {
        if let Some(ver) = v.strip_prefix("GLIBC_") {
            let need = match numeric(ver) {
                Some(n) => n,
                None => match domain::GLIBC_SPECIAL_VERSIONS.iter().find(|(s, _)| s == v) {
                    Some((_, (a, b))) => vec![*a as u32, *b as u32],
                    None => continue, // GLIBC_PRIVATE and the like
                },
            };
            if need > glibc_ceiling {
                glibc.insert((need, v.clone()));
            }
        } else if lib.starts_with("libstdc++") && bundled(lib) {
            // A bundled libstdc++ brings its own symbol versions.
            continue;
        } else if let Some(ver) = v.strip_prefix("GLIBCXX_") {
            if let Some(need) = numeric(ver)
                && need > glibcxx_ceiling
            {
                cxx.insert((need, v.clone()));
            }
        } else if let Some(ver) = v.strip_prefix("CXXABI_")
            && let Some(need) = numeric(ver)
            && need > cxxabi_ceiling
        {
            cxxabi.insert((need, v.clone()));
        }
    }
    let listed = |set: &BTreeSet<(Vec<u32>, String)>| {
        if set.len() < 2 {
            return String::new();
        }
        let all: Vec<&str> = set.iter().map(|(_, s)| s.as_str()).collect();
        format!(" ({})", all.join(", "))
    };
    if let Some((_, highest)) = glibc.last() {
        let newer = domain::RUNTIMES
            .iter()
            .find(|r| {
                let c = vec![r.glibc.0 as u32, r.glibc.1 as u32];
                glibc.last().is_some_and(|(n, _)| *n <= c)
            })
            .map(|r| {
                format!(
                    ", or target python3.{}+ ({} has glibc {}.{})",
                    r.minor, r.os, r.glibc.0, r.glibc.1
                )
            })
            .unwrap_or_default();
        out.push(
            Finding::error(
                "glibc-too-new",
                format!(
                    "needs {highest}{}, but {} runs on {} with glibc {}.{}: importing it fails with `version `{highest}' not found`",
                    listed(&glibc),
                    target.runtime_name(),
                    rt.os,
                    rt.glibc.0,
                    rt.glibc.1
                ),
                format!(
                    "use a wheel tagged manylinux_{}_{} or older (manylinux2014 is glibc 2.17): `pylayer build` picks one, possibly an older release{newer}",
                    rt.glibc.0, rt.glibc.1
                ),
            )
            .at(name)
            .in_dist(dist.clone()),
        );
    }
    for (set, what, ceiling) in [
        (&cxx, "GLIBCXX", rt.glibcxx),
        (&cxxabi, "CXXABI", rt.cxxabi),
    ] {
        if let Some((_, highest)) = set.last() {
            out.push(
                Finding::error(
                    "libstdcxx-too-new",
                    format!(
                        "needs {highest}{} from libstdc++, but {}'s libstdc++ ({}) stops at {what}_{ceiling}",
                        listed(set),
                        target.runtime_name(),
                        rt.os
                    ),
                    "use a wheel built for an older manylinux (manylinux2014), or bundle a newer libstdc++.so.6 next to it with an $ORIGIN rpath (auditwheel repair does)",
                )
                .at(name)
                .in_dist(dist.clone()),
            );
        }
    }

    // Every needed library: bundled on the search path, or provided by the runtime image.
    for lib in &info.needed {
        if provided.contains(lib.as_str()) || bundled(lib) {
            continue;
        }
        if lib.starts_with("libpython3") {
            out.push(
                Finding::warning(
                    "links-libpython",
                    format!("links {lib}; extension modules should not (manylinux wheels never do), and Lambda's interpreter may not provide it as a shared library"),
                    "use the package's manylinux wheel rather than a locally compiled build",
                )
                .at(name)
                .in_dist(dist.clone()),
            );
            continue;
        }
        if let Some(elsewhere) = anywhere.get(lib.as_str()) {
            out.push(
                Finding::warning(
                    "library-not-on-path",
                    format!(
                        "needs {lib}, which is in the layer at {} but not on this file's search path (rpath {:?}, /opt/lib); it loads only if something else loaded {lib} first",
                        elsewhere[0],
                        paths
                    ),
                    "put the library in the layer's lib/ directory (/opt/lib is on LD_LIBRARY_PATH) or give this file an $ORIGIN rpath to it",
                )
                .at(name)
                .in_dist(dist.clone()),
            );
            continue;
        }
        let why = domain::POLICY_LIBRARIES_ABSENT_ON_LAMBDA
            .iter()
            .find(|(l, _)| l == lib)
            .map(|(_, what)| {
                format!(" ({what} is allowed by the manylinux policy but not installed on Lambda)")
            })
            .unwrap_or_default();
        out.push(
            Finding::error(
                "missing-library",
                format!(
                    "needs {lib}, which is neither bundled in the layer nor part of the {} runtime image ({}){why}: importing it fails with `{lib}: cannot open shared object file`",
                    target.runtime_name(),
                    rt.os
                ),
                format!(
                    "bundle {lib} (and what it needs) in the layer's lib/ directory, built on {} for {}: put it in a directory's lib/ and build with `pylayer build --include DIR` (or `include = [\"DIR\"]` in pylayer.toml); or use a build of the package that bundles it",
                    rt.os,
                    target.arch.machine()
                ),
            )
            .at(name)
            .in_dist(dist.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::Severity;
    use crate::target::Arch;

    #[test]
    fn search_dirs_map_into_the_layer() {
        assert_eq!(
            search_dir_in_layer("$ORIGIN/../../numpy.libs", "python/numpy/_core").as_deref(),
            Some("python/numpy.libs")
        );
        assert_eq!(
            search_dir_in_layer("${ORIGIN}", "python/x").as_deref(),
            Some("python/x")
        );
        assert_eq!(
            search_dir_in_layer("/opt/lib", "python/x").as_deref(),
            Some("lib")
        );
        assert_eq!(search_dir_in_layer("/usr/lib64", "python/x"), None);
        assert_eq!(search_dir_in_layer("$ORIGIN/../../../..", "python/x"), None);
    }

    #[test]
    fn extension_suffixes() {
        let t = Target::new(12, Arch::X86_64).unwrap();
        let f =
            extension_suffix_problem("python/x/_x.cpython-313-x86_64-linux-gnu.so", &t).unwrap();
        assert_eq!(f.code, "python-version");
        assert!(f.message.contains("Python 3.13"), "{}", f.message);
        assert!(
            extension_suffix_problem("python/x/_x.cpython-312-x86_64-linux-gnu.so", &t).is_none()
        );
        assert!(extension_suffix_problem("python/x/_x.abi3.so", &t).is_none());
        assert!(extension_suffix_problem("python/x/_x.so", &t).is_none());
        assert_eq!(
            extension_suffix_problem("python/x/_x.cpython-312-darwin.so", &t).map(|f| f.code),
            Some("macos-binary")
        );
        assert_eq!(
            extension_suffix_problem("python/x/_x.cpython-312-x86_64-linux-musl.so", &t)
                .map(|f| f.code),
            Some("musl-binary")
        );
    }

    #[test]
    fn other_os_binaries_in_a_linux_wheel_are_dead_weight() {
        let t = Target::new(12, Arch::X86_64).unwrap();
        let bin = |p: &str, info: BinaryInfo| Entry {
            path: p.into(),
            kind: EntryKind::File,
            size: 1,
            compressed: 1,
            content: Content::Binary(info),
        };
        let entries = [
            bin(
                "python/debugpy/x.cp312-win_amd64.pyd",
                BinaryInfo::Pe {
                    arch: "x86_64".into(),
                },
            ),
            bin(
                "python/debugpy/x.cpython-312-darwin.so",
                BinaryInfo::MachO {
                    arch: "arm64".into(),
                },
            ),
        ];
        let owner = |_: &str| Some("debugpy 1.8".to_string());
        let linux = check(&entries, &t, &owner, &|_| true);
        assert_eq!(linux.len(), 2, "{linux:#?}");
        for f in &linux {
            assert_eq!(f.severity, Severity::Warning, "{f:#?}");
            assert!(
                f.message
                    .contains("inside debugpy 1.8's wheel, which is for Linux: dead weight"),
                "{f:#?}"
            );
            assert!(f.hint.contains("`pylayer build --slim` drops it"), "{f:#?}");
        }
        // Built on another OS (the wheel itself is not for Linux): errors, as before.
        let foreign = check(&entries, &t, &owner, &|_| false);
        assert!(
            foreign.iter().all(|f| f.severity == Severity::Error),
            "{foreign:#?}"
        );
        assert_eq!(foreign.len(), 2, "{foreign:#?}");
    }

    #[test]
    fn another_pythons_extension_beside_the_right_one_is_dead_weight() {
        let t = Target::new(12, Arch::X86_64).unwrap();
        let file = |p: &str| Entry {
            path: p.into(),
            kind: EntryKind::File,
            size: 1,
            compressed: 1,
            content: Content::None,
        };
        let old = "python/sf/arrow.cpython-311-x86_64-linux-gnu.so";
        let alone = check(&[file(old)], &t, &|_| None, &|_| false);
        assert_eq!(alone.len(), 1, "{alone:#?}");
        assert_eq!(alone[0].severity, Severity::Error);
        for right in [
            "python/sf/arrow.cpython-312-x86_64-linux-gnu.so",
            "python/sf/arrow.abi3.so",
        ] {
            let f = check(&[file(old), file(right)], &t, &|_| None, &|_| false);
            assert_eq!(f.len(), 1, "{f:#?}");
            assert_eq!(f[0].code, "python-version");
            assert_eq!(f[0].severity, Severity::Warning, "{f:#?}");
            assert!(f[0].message.contains("never loaded"), "{}", f[0].message);
        }
        // The right module for another architecture, or in another directory, does not count.
        let f = check(
            &[
                file(old),
                file("python/sf/arrow.cpython-312-aarch64-linux-gnu.so"),
                file("python/other/arrow.cpython-312-x86_64-linux-gnu.so"),
            ],
            &t,
            &|_| None,
            &|_| false,
        );
        assert!(f.iter().any(|f| f.severity == Severity::Error), "{f:#?}");
    }

    fn elf(needed: &[&str], versions: &[(&str, &str)]) -> Entry {
        Entry {
            path: "python/pkg/_ext.cpython-311-x86_64-linux-gnu.so".into(),
            kind: EntryKind::File,
            size: 1,
            compressed: 1,
            content: Content::Binary(BinaryInfo::Elf(ElfInfo {
                class64: true,
                machine: elf::EM_X86_64,
                kind: elf::ET_DYN,
                needed: needed.iter().map(|s| s.to_string()).collect(),
                rpath: vec!["$ORIGIN/../pkg.libs".into()],
                version_needs: versions
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                ..ElfInfo::default()
            })),
        }
    }

    #[test]
    fn symbol_versions_against_the_runtime() {
        let t = Target::new(11, Arch::X86_64).unwrap();
        let e = elf(
            &["libc.so.6", "libstdc++.so.6"],
            &[
                ("libc.so.6", "GLIBC_2.17"),
                ("libc.so.6", "GLIBC_2.28"),
                ("libc.so.6", "GLIBC_2.27"),
                ("libc.so.6", "GLIBC_PRIVATE"),
                ("libstdc++.so.6", "GLIBCXX_3.4.26"),
                ("libstdc++.so.6", "CXXABI_1.3.9"),
            ],
        );
        let f = check(std::slice::from_ref(&e), &t, &|_| None, &|_| false);
        let g: Vec<_> = f.iter().filter(|f| f.code == "glibc-too-new").collect();
        assert_eq!(g.len(), 1, "{f:#?}");
        assert!(
            g[0].message
                .contains("needs GLIBC_2.28 (GLIBC_2.27, GLIBC_2.28)"),
            "{}",
            g[0].message
        );
        assert!(g[0].hint.contains("python3.12+"), "{}", g[0].hint);
        let c: Vec<_> = f.iter().filter(|f| f.code == "libstdcxx-too-new").collect();
        assert_eq!(c.len(), 1, "{f:#?}");
        assert!(c[0].message.contains("GLIBCXX_3.4.26"));
        // The same file is fine on python3.12 (glibc 2.34, GLIBCXX 3.4.29).
        let t12 = Target::new(12, Arch::X86_64).unwrap();
        let f12 = check(&[e], &t12, &|_| None, &|_| false);
        assert!(f12.iter().all(|f| f.code == "python-version"), "{f12:#?}");
    }

    #[test]
    fn needed_libraries_bundled_or_provided() {
        let t = Target::new(12, Arch::X86_64).unwrap();
        let ext = elf(
            &[
                "libc.so.6",
                "libbundled.so.1",
                "libodbc.so.2",
                "libexpat.so.1",
            ],
            &[],
        );
        let lib = Entry {
            path: "python/pkg.libs/libbundled.so.1".into(),
            kind: EntryKind::File,
            size: 1,
            compressed: 1,
            content: Content::None,
        };
        let f = check(
            &[ext, lib],
            &Target::new(12, Arch::X86_64).unwrap(),
            &|_| Some("pkg 1.0".into()),
            &|_| false,
        );
        let missing: Vec<_> = f.iter().filter(|f| f.code == "missing-library").collect();
        assert_eq!(missing.len(), 2, "{f:#?}");
        assert!(
            missing
                .iter()
                .any(|m| m.message.starts_with("needs libodbc.so.2"))
        );
        assert!(missing.iter().any(|m| {
            m.message
                .contains("expat is allowed by the manylinux policy")
        }));
        assert_eq!(missing[0].distribution.as_deref(), Some("pkg 1.0"));
        let _ = t;
    }
}

#[cfg(test)]
mod loader_tests {
    use super::*;
    use crate::target::Arch;

    fn so(path: &str, needed: &[&str], rpath: &[&str], runpath: &[&str]) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File,
            size: 1,
            compressed: 1,
            content: Content::Binary(BinaryInfo::Elf(ElfInfo {
                class64: true,
                machine: elf::EM_X86_64,
                kind: elf::ET_DYN,
                needed: needed.iter().map(|s| s.to_string()).collect(),
                rpath: rpath.iter().map(|s| s.to_string()).collect(),
                runpath: runpath.iter().map(|s| s.to_string()).collect(),
                ..ElfInfo::default()
            })),
        }
    }

    #[test]
    fn bundled_libraries_inherit_the_loaders_rpath() {
        // auditwheel's layout: the extension has DT_RPATH $ORIGIN/../pil.libs; the bundled
        // libfreetype has none and finds libpng through the extension's DT_RPATH.
        let t = Target::new(12, Arch::X86_64).unwrap();
        let ext = so(
            "python/PIL/_imaging.so",
            &["libfreetype-1.so.6", "libc.so.6"],
            &["$ORIGIN/../pil.libs"],
            &[],
        );
        let ft = so(
            "python/pil.libs/libfreetype-1.so.6",
            &["libpng-2.so.16"],
            &[],
            &[],
        );
        let png = so("python/pil.libs/libpng-2.so.16", &["libz.so.1"], &[], &[]);
        let f = check(&[ext.clone(), ft, png.clone()], &t, &|_| None, &|_| false);
        assert!(f.is_empty(), "{f:#?}");

        // With DT_RUNPATH on the extension the chain does not pass on: a warning, since
        // the library is in the layer but off the search path.
        let ext_runpath = so(
            "python/PIL/_imaging.so",
            &["libfreetype-1.so.6"],
            &[],
            &["$ORIGIN/../pil.libs"],
        );
        let ft = so(
            "python/pil.libs/libfreetype-1.so.6",
            &["libpng-2.so.16"],
            &[],
            &[],
        );
        let f = check(&[ext_runpath, ft, png], &t, &|_| None, &|_| false);
        assert_eq!(
            f.iter().map(|f| f.code).collect::<Vec<_>>(),
            ["library-not-on-path"],
            "{f:#?}"
        );
        assert_eq!(
            f[0].path.as_deref(),
            Some("python/pil.libs/libfreetype-1.so.6")
        );

        // A library that is nowhere is an error.
        let ft = so(
            "python/pil.libs/libfreetype-1.so.6",
            &["libharfbuzz.so.0"],
            &[],
            &[],
        );
        let f = check(&[ext, ft], &t, &|_| None, &|_| false);
        assert_eq!(
            f.iter().map(|f| f.code).collect::<Vec<_>>(),
            ["missing-library"],
            "{f:#?}"
        );
    }
}
