//! The one trim policy: which files of a layer `build --slim` removes, and so what
//! `pylayer inspect` says trimming would save. Both call [`decide`] on the same kind of
//! list (paths relative to site-packages, owning distribution, size), so inspect's
//! prediction for a layer built without `--slim` is, to the byte, what `--slim` removes.
//!
//! Removed by default:
//! - test directories (`tests/`, `test/`, `testing/`) that no other module of their
//!   distribution imports — `numpy/testing` stays because numpy's runtime code imports it
//!   (decided from the code, see [`super::imports`]) — and pytest's `conftest.py` files,
//!   whose imports do not count;
//! - type stubs (`*.pyi`) and `py.typed` markers;
//! - C, C++ and Cython sources and headers;
//! - static libraries (`*.a`);
//! - binaries for other operating systems (`*.pyd`, `*.dll`, `*.exe`, `*.lib`, `*.pdb`,
//!   `*.dylib`, `*-darwin.so`), which Lambda can never load; recognized by name (a Mach-O
//!   file named `*.so` without `darwin` stays).
//!
//! Never removed, whatever a pattern says: anything in a `.dist-info` or `.data` directory,
//! license files, and files outside site-packages. Package data (`.rst`, `.txt`, `.csv`,
//! `.json`…) stays unless a `slim-patterns` entry removes it.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::imports::imported_modules;
use super::pattern::Patterns;

/// Why a file is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Tests,
    Stubs,
    Sources,
    StaticLibs,
    ForeignBinaries,
    /// A `slim-patterns` entry, for a file no default category covers.
    Patterns,
    /// Debug sections and static symbol tables of ELF shared objects: the files stay,
    /// stripped ([`super::strip`]).
    /// [`decide`] never answers it; the slim stage and `inspect` measure it with
    /// [`super::strip::saving`].
    DebugSymbols,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 7] = [
        Category::Tests,
        Category::Stubs,
        Category::Sources,
        Category::StaticLibs,
        Category::ForeignBinaries,
        Category::Patterns,
        Category::DebugSymbols,
    ];

    /// The name in the manifest, inspect's report and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Tests => "tests",
            Category::Stubs => "stubs",
            Category::Sources => "sources",
            Category::StaticLibs => "static-libs",
            Category::ForeignBinaries => "foreign-binaries",
            Category::Patterns => "patterns",
            Category::DebugSymbols => "debug-symbols",
        }
    }

    /// One line for humans.
    pub fn description(self) -> &'static str {
        match self {
            Category::Tests => {
                "test directories no runtime module imports (tests/, test/, testing/)"
            }
            Category::Stubs => "type stubs (*.pyi, py.typed)",
            Category::Sources => {
                "C/C++/Cython sources and headers (*.c, *.h, *.cpp, *.pyx, *.pxd…)"
            }
            Category::StaticLibs => "static libraries (*.a)",
            Category::ForeignBinaries => {
                "binaries for other operating systems (*.pyd, *.dll, *.exe, *.lib, *.pdb, *.dylib, *-darwin.so)"
            }
            Category::Patterns => "files removed by slim-patterns",
            Category::DebugSymbols => {
                "debug sections and static symbol tables of ELF shared objects (.debug_*, .symtab, .strtab), stripped without moving loadable segments"
            }
        }
    }
}

/// Names of directories holding tests.
const TEST_DIRS: &[&str] = &["tests", "test", "testing"];

/// C, C++ and Cython sources and headers: only a compiler reads them.
const SOURCE_SUFFIXES: &[&str] = &[
    ".c", ".h", ".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".pyx", ".pxd",
    ".pxi",
];

/// Binaries Linux cannot load or use: Windows extension modules, DLLs, programs, import
/// libraries and debug databases; macOS dylibs and extension modules.
const FOREIGN_SUFFIXES: &[&str] = &[
    ".pyd",
    ".dll",
    ".exe",
    ".lib",
    ".pdb",
    ".dylib",
    "-darwin.so",
];

/// Start of the names of files that must ship with the code that uses them.
const LEGAL_NAMES: &[&str] = &[
    "LICENSE",
    "LICENCE",
    "COPYING",
    "NOTICE",
    "AUTHORS",
    "COPYRIGHT",
];

/// What the policy applies: the default categories (`--slim`) and the user's patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The default categories; without them only patterns remove files.
    pub defaults: bool,
    pub patterns: Patterns,
}

impl Policy {
    /// Whether the policy removes anything at all.
    pub fn is_active(&self) -> bool {
        self.defaults || !self.patterns.is_empty()
    }
}

/// One file of the layer as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path relative to site-packages (`numpy/testing/utils.py`); `../…` for files outside it.
    pub rel: String,
    /// The distribution that owns it, by any stable key.
    pub dist: Option<usize>,
    pub size: u64,
}

/// A file the policy removes: index into the list given to [`decide`], and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    pub index: usize,
    pub category: Category,
}

/// Whether nothing may remove the file at `rel`.
pub fn protected(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let name = parts
        .last()
        .copied()
        .unwrap_or_default()
        .to_ascii_uppercase();
    rel.starts_with("../")
        || parts[..parts.len() - 1]
            .iter()
            .any(|d| d.ends_with(".dist-info") || d.ends_with(".data") || *d == "..")
        || LEGAL_NAMES.iter().any(|l| name.starts_with(l))
        || parts[..parts.len() - 1]
            .iter()
            .any(|d| matches!(d.to_ascii_lowercase().as_str(), "licenses" | "licences"))
}

/// The category a file's name alone puts it in (everything but tests).
fn by_name(rel: &str) -> Option<Category> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".pyi") || lower == "py.typed" {
        Some(Category::Stubs)
    } else if SOURCE_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        Some(Category::Sources)
    } else if lower.ends_with(".a") {
        Some(Category::StaticLibs)
    } else if FOREIGN_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        Some(Category::ForeignBinaries)
    } else {
        None
    }
}

/// The test directories a file lies in, outermost first, with a trailing `/`.
fn test_dirs(rel: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut end = 0;
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts[..parts.len() - 1].iter().enumerate() {
        end += part.len() + usize::from(i > 0);
        if TEST_DIRS.contains(part) {
            out.push(&rel[..=end]);
        }
    }
    out
}

/// pytest's per-directory configuration: only pytest loads it, and its imports of test
/// packages (numpy's imports `numpy._core.tests`) say nothing about run time.
fn is_conftest(rel: &str) -> bool {
    rel == "conftest.py" || rel.ends_with("/conftest.py")
}

/// The dotted module name of a `.py` file, and whether it is a package's `__init__`.
fn module_of(rel: &str) -> Option<(String, bool)> {
    let stem = rel.strip_suffix(".py")?;
    let (stem, is_package) = match stem.strip_suffix("/__init__") {
        Some(p) => (p, true),
        None => (stem, false),
    };
    Some((stem.replace('/', "."), is_package))
}

/// Decides what the policy removes from `files`. `read(i)` gives the content of
/// `files[i]`; it is only asked for the `.py` files of distributions holding a test
/// directory. The answer is sorted by index.
pub fn decide(
    files: &[File],
    policy: &Policy,
    read: &mut dyn FnMut(usize) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Vec<Removal>> {
    let removed_tests = if policy.defaults {
        unused_test_dirs(files, read)?
    } else {
        BTreeSet::new()
    };
    let mut out = Vec::new();
    for (index, f) in files.iter().enumerate() {
        if protected(&f.rel) {
            continue;
        }
        let default = if policy.defaults {
            if is_conftest(&f.rel)
                || test_dirs(&f.rel)
                    .iter()
                    .any(|d| removed_tests.contains(&(f.dist, d.to_string())))
            {
                Some(Category::Tests)
            } else {
                by_name(&f.rel)
            }
        } else {
            None
        };
        let category = match (policy.patterns.verdict(&f.rel), default) {
            (Some(false), _) => None,
            (_, Some(c)) => Some(c),
            (Some(true), None) => Some(Category::Patterns),
            (None, None) => None,
        };
        if let Some(category) = category {
            out.push(Removal { index, category });
        }
    }
    Ok(out)
}

/// The test directories (per distribution) that no module of the same distribution outside
/// a removed test directory imports, found by a fixpoint: a directory some kept module
/// imports is kept, and its own modules' imports then count too.
fn unused_test_dirs(
    files: &[File],
    read: &mut dyn FnMut(usize) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<BTreeSet<(Option<usize>, String)>> {
    let mut removed: BTreeSet<(Option<usize>, String)> = BTreeSet::new();
    for f in files.iter().filter(|f| !protected(&f.rel)) {
        for d in test_dirs(&f.rel) {
            removed.insert((f.dist, d.to_string()));
        }
    }
    if removed.is_empty() {
        return Ok(removed);
    }
    let dists: BTreeSet<Option<usize>> = removed.iter().map(|(d, _)| *d).collect();
    // The modules that may import them, with what each imports (read once).
    let modules: Vec<usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.rel.ends_with(".py") && !protected(&f.rel) && dists.contains(&f.dist))
        .map(|(i, _)| i)
        .collect();
    let mut cache: HashMap<usize, Vec<String>> = HashMap::new();
    loop {
        let mut kept_now = Vec::new();
        for &i in &modules {
            let f = &files[i];
            if is_conftest(&f.rel)
                || test_dirs(&f.rel)
                    .iter()
                    .any(|d| removed.contains(&(f.dist, d.to_string())))
            {
                continue;
            }
            let imports = match cache.entry(i) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let Some((module, is_package)) = module_of(&f.rel) else {
                        continue;
                    };
                    let source = read(i)?;
                    let text = String::from_utf8_lossy(&source);
                    e.insert(imported_modules(&text, &module, is_package))
                }
            };
            for (dist, dir) in &removed {
                if *dist != f.dist {
                    continue;
                }
                let dotted = dir.trim_end_matches('/').replace('/', ".");
                let prefix = format!("{dotted}.");
                if imports
                    .iter()
                    .any(|m| *m == dotted || m.starts_with(&prefix))
                {
                    kept_now.push((*dist, dir.clone()));
                }
            }
        }
        if kept_now.is_empty() {
            return Ok(removed);
        }
        for k in kept_now {
            removed.remove(&k);
        }
    }
}

/// Totals of one category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryTotal {
    pub category: String,
    pub description: String,
    pub files: usize,
    pub bytes: u64,
}

/// The removals of [`decide`] summed per category, every category listed (in
/// [`Category::ALL`] order) so a report shows zeros too.
pub fn totals(files: &[File], removals: &[Removal]) -> Vec<CategoryTotal> {
    Category::ALL
        .iter()
        .map(|c| {
            let mine = removals.iter().filter(|r| r.category == *c);
            CategoryTotal {
                category: c.as_str().to_string(),
                description: c.description().to_string(),
                files: mine.clone().count(),
                bytes: mine.map(|r| files[r.index].size).sum(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, dist: usize) -> File {
        File {
            rel: rel.to_string(),
            dist: Some(dist),
            size: rel.len() as u64,
        }
    }

    fn run(files: &[File], sources: &[(&str, &str)], policy: &Policy) -> Vec<(String, Category)> {
        let mut read = |i: usize| {
            Ok(sources
                .iter()
                .find(|(p, _)| *p == files[i].rel)
                .map(|(_, s)| s.as_bytes().to_vec())
                .unwrap_or_default())
        };
        decide(files, policy, &mut read)
            .unwrap()
            .into_iter()
            .map(|r| (files[r.index].rel.clone(), r.category))
            .collect()
    }

    fn defaults() -> Policy {
        Policy {
            defaults: true,
            patterns: Patterns::default(),
        }
    }

    #[test]
    fn a_testing_package_runtime_code_imports_stays() {
        let files = vec![
            file("np/__init__.py", 0),
            file("np/testing/__init__.py", 0),
            file("np/testing/_private/utils.py", 0),
            file("np/testing/tests/test_utils.py", 0),
            file("np/core/tests/test_core.py", 0),
            file("np/core/tests/data/x.csv", 0),
            file("other/testing/__init__.py", 1),
            file("other/__init__.py", 1),
            file("np/conftest.py", 0),
        ];
        let sources = [
            // pytest's conftest imports tests; that keeps nothing.
            ("np/conftest.py", "from np.core.tests import helpers\n"),
            (
                "np/__init__.py",
                "def __getattr__(a):\n    import np.testing as t\n",
            ),
            ("np/testing/__init__.py", "from ._private.utils import *\n"),
            // A test importing another test directory does not keep it.
            (
                "np/testing/tests/test_utils.py",
                "from np.core.tests import test_core\n",
            ),
            // Another distribution's import does not count.
            ("other/__init__.py", "import np.core.tests\n"),
        ];
        let got = run(&files, &sources, &defaults());
        let mut removed: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        removed.sort_unstable();
        assert_eq!(
            removed,
            [
                "np/conftest.py",
                "np/core/tests/data/x.csv",
                "np/core/tests/test_core.py",
                "np/testing/tests/test_utils.py",
                "other/testing/__init__.py",
            ]
        );
        assert!(got.iter().all(|(_, c)| *c == Category::Tests));
    }

    #[test]
    fn kept_testing_modules_keep_what_they_import() {
        // pkg/testing is imported at run time, and it imports pkg/test/helpers.
        let files = vec![
            file("pkg/__init__.py", 0),
            file("pkg/testing/__init__.py", 0),
            file("pkg/test/helpers.py", 0),
        ];
        let sources = [
            ("pkg/__init__.py", "from . import testing\n"),
            ("pkg/testing/__init__.py", "from ..test import helpers\n"),
        ];
        assert!(run(&files, &sources, &defaults()).is_empty());
    }

    #[test]
    fn categories_by_name_and_what_is_never_removed() {
        let files: Vec<File> = [
            "pkg/_x.pyi",
            "pkg/py.typed",
            "pkg/src/a.c",
            "pkg/include/a.h",
            "pkg/_y.pyx",
            "pkg/_y.pxd",
            "pkg/libs/libz.a",
            "pkg/_z.cp312-win_amd64.pyd",
            "pkg/.libs/z.dll",
            "pkg/t32.exe",
            "pkg/libs/python3.lib",
            "pkg/_z.pdb",
            "pkg/_w.cpython-312-darwin.so",
            "pkg/_ok.cpython-312-x86_64-linux-gnu.so",
            "pkg/data/table.csv",
            "pkg/README.rst",
            "pkg/LICENSE.txt",
            "pkg-1.0.dist-info/licenses/a.c",
            "pkg-1.0.dist-info/METADATA",
            "../bin/tool.exe",
        ]
        .iter()
        .map(|p| file(p, 0))
        .collect();
        let got = run(&files, &[], &defaults());
        let want = vec![
            ("pkg/_x.pyi", Category::Stubs),
            ("pkg/py.typed", Category::Stubs),
            ("pkg/src/a.c", Category::Sources),
            ("pkg/include/a.h", Category::Sources),
            ("pkg/_y.pyx", Category::Sources),
            ("pkg/_y.pxd", Category::Sources),
            ("pkg/libs/libz.a", Category::StaticLibs),
            ("pkg/_z.cp312-win_amd64.pyd", Category::ForeignBinaries),
            ("pkg/.libs/z.dll", Category::ForeignBinaries),
            ("pkg/t32.exe", Category::ForeignBinaries),
            ("pkg/libs/python3.lib", Category::ForeignBinaries),
            ("pkg/_z.pdb", Category::ForeignBinaries),
            ("pkg/_w.cpython-312-darwin.so", Category::ForeignBinaries),
        ];
        let got: Vec<(&str, Category)> = got.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn patterns_add_and_bang_keeps_even_a_default() {
        let files: Vec<File> = [
            "pkg/data/big.csv",
            "pkg/data/small.csv",
            "pkg/include/a.h",
            "pkg/src/b.c",
            "pkg/LICENSE",
        ]
        .iter()
        .map(|p| file(p, 0))
        .collect();
        let policy = Policy {
            defaults: true,
            patterns: Patterns::parse(&["*.csv", "!small.csv", "!pkg/include/", "LICENSE"])
                .unwrap(),
        };
        let got = run(&files, &[], &policy);
        let got: Vec<(&str, Category)> = got.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        assert_eq!(
            got,
            [
                ("pkg/data/big.csv", Category::Patterns),
                ("pkg/src/b.c", Category::Sources)
            ]
        );
        // Patterns alone, without the defaults.
        let only = Policy {
            defaults: false,
            ..policy
        };
        let got = run(&files, &[], &only);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "pkg/data/big.csv");
    }
}
