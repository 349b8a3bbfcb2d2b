//! Fuzz entry points for pylayer's untrusted-input readers, calling the library itself
//! (`pylayer` with default features off, so no AWS SDK): [`fuzz_zip`] runs the whole
//! `check` on bytes as a layer zip, [`fuzz_elf`] the binary parser and binary checks.

use std::io::Write;
use std::path::PathBuf;

use pylayer::check;
use pylayer::layer::binfile;
use pylayer::layer::inventory::{Content, Entry, EntryKind, LayerSource};
use pylayer::target::{Arch, Target};

fn targets() -> [Target; 2] {
    [
        Target {
            minor: 11,
            arch: Arch::X86_64,
        },
        Target {
            minor: 12,
            arch: Arch::Arm64,
        },
    ]
}

/// Writes `data` to a per-process scratch file and runs the whole check on it as a zip,
/// then the reader `inspect`, `diff` and `test` share.
pub fn fuzz_zip(data: &[u8]) {
    thread_local! {
        static PATH: PathBuf = std::env::temp_dir().join(format!("pylayer-fuzz-{}.zip", std::process::id()));
    }
    PATH.with(|path| {
        let Ok(mut f) = std::fs::File::create(path) else {
            return;
        };
        if f.write_all(data).is_err() {
            return;
        }
        drop(f);
        let source = LayerSource::Zip(path.clone());
        for t in targets() {
            let _ = check::check(&source, &t, &check::CheckOptions::default());
        }
        let _ = pylayer::layer::Layer::open(&source);
    });
}

/// Parses `data` as a binary and checks it as an extension module in a layer.
pub fn fuzz_elf(data: &[u8]) {
    let Some(info) = binfile::parse(data) else {
        return;
    };
    let entry = Entry {
        path: "python/pkg/_ext.cpython-312-x86_64-linux-gnu.so".to_string(),
        kind: EntryKind::File,
        size: data.len() as u64,
        compressed: data.len() as u64,
        content: Content::Binary(info),
    };
    for t in targets() {
        let _ = check::binary::check(std::slice::from_ref(&entry), &t, &|_| None, &|_| false);
    }
}

/// Arbitrary bytes as a METADATA file: the header reader and the index client's parser.
pub fn fuzz_metadata(data: &[u8]) {
    let h = pylayer::metadata::Headers::parse(data);
    let _ = h.get_all("requires-dist").count();
    let _ = pylayer::index::metadata::parse(data, "fuzz.whl");
}

/// Arbitrary bytes as a requirements.txt (lossily decoded, as `read_files` decodes): pip's
/// grammar, options, continuations, environment variables, PEP 508 lines. The file sits in a
/// directory that does not exist, so relative `-r`/`-c` includes fail as missing files;
/// absolute ones are read through the same capped, regular-files-only reader as the CLI's.
pub fn fuzz_requirements(data: &[u8]) {
    use pylayer::requirements::{LineKind, RequirementsInput, parse_str};
    let text = String::from_utf8_lossy(data);
    let path = std::path::Path::new("/nonexistent-pylayer-fuzz/requirements.txt");
    for kind in [LineKind::Requirement, LineKind::Constraint] {
        let mut input = RequirementsInput::default();
        if let Err(e) = parse_str(&text, path, kind, &mut input) {
            // Messages are built from the input: formatting them must not panic either.
            let _ = e.to_string();
        }
    }
}

/// Arbitrary bytes as `pylayer.toml`: TOML syntax and the typed reading of every key.
pub fn fuzz_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = pylayer::config::Config::parse(text, std::path::Path::new("pylayer.toml")) {
        let _ = format!("{e:#}");
    }
}

/// Arbitrary bytes as `pylayer.lock`. A lock that parses must survive normalizing, writing
/// and reading back to the same value (what `pylayer lock` does to a lock it keeps).
pub fn fuzz_lock(data: &[u8]) {
    use pylayer::lock::Lock;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("pylayer.lock");
    let Ok(mut lock) = Lock::parse(text, path) else {
        return;
    };
    lock.normalize();
    let written = lock.to_toml();
    let again = Lock::parse(&written, path)
        .unwrap_or_else(|e| panic!("a lock pylayer wrote does not read back: {e:#}\n{written}"));
    assert_eq!(again, lock, "lock changed through write + read");
}

/// Arbitrary bytes as an index project page, read both as PEP 691 JSON and as PEP 503 HTML.
/// Every link kept must be http(s) (a remote page may not point at local files).
pub fn fuzz_index_page(data: &[u8]) {
    use pylayer::index::simple::{parse_html, parse_json};
    let base = "https://index.invalid/simple/pkg/";
    for files in [parse_json(data, base, 0), parse_html(data, base, 0)]
        .into_iter()
        .flatten()
    {
        for f in files {
            assert!(
                f.url.starts_with("https://") || f.url.starts_with("http://"),
                "a remote page yielded a non-http link: {}",
                f.url
            );
        }
    }
}

/// Arbitrary bytes as a project file: the first byte chooses pyproject.toml, uv.lock,
/// poetry.lock or Pipfile.lock, the rest is written to a per-process scratch file of that name
/// and read with default options and with `--all-extras`.
pub fn fuzz_project(data: &[u8]) {
    use pylayer::project_files::{ProjectFileKind, ProjectOptions, read_into};
    use pylayer::requirements::RequirementsInput;
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let (name, kind) = match which % 4 {
        0 => ("pyproject.toml", ProjectFileKind::PyProject),
        1 => ("uv.lock", ProjectFileKind::UvLock),
        2 => ("poetry.lock", ProjectFileKind::PoetryLock),
        _ => ("Pipfile.lock", ProjectFileKind::PipfileLock),
    };
    let dir = std::env::temp_dir().join(format!("pylayer-fuzz-project-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join(name);
    if std::fs::write(&path, body).is_err() {
        return;
    }
    let all = ProjectOptions {
        all_extras: true,
        ..ProjectOptions::default()
    };
    for opts in [ProjectOptions::default(), all] {
        let mut input = RequirementsInput::default();
        if let Err(e) = read_into(&path, kind, &opts, &mut input) {
            let _ = e.to_string();
        }
    }
}
