//! Hermetic test support: a wheel builder and a small Python package index served on
//! 127.0.0.1, written with std only, so no test ever touches the internet.
//!
//! * [`WheelSpec`] / [`build_wheel`] write valid PEP 427 wheels (deflated, with METADATA,
//!   WHEEL and a RECORD of urlsafe-base64 sha256 hashes); [`build_sdist`] writes a `.tar.gz`.
//! * [`TestIndex`] serves them as a PEP 503 (HTML) / PEP 691 (JSON) simple index with optional
//!   PEP 658/714 metadata files, range requests, PEP 592 yanking, transient 503s and wrong
//!   hashes, and logs every request for assertions.
//! * [`TestEnv`] / [`pylayer`] give a `pylayer` command with an isolated cache and no
//!   index-related variables inherited from the developer's shell.
#![allow(dead_code)]

pub mod moto;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Names and hashes
// ---------------------------------------------------------------------------------------------

/// PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The name as it appears in wheel filenames and `.dist-info` directories: normalized, with
/// `_` as the separator.
pub fn escaped_name(name: &str) -> String {
    normalize(name).replace('-', "_")
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
}

fn record_hash(data: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data))
    )
}

// ---------------------------------------------------------------------------------------------
// Wheels
// ---------------------------------------------------------------------------------------------

/// What goes into a test wheel. Build it with [`WheelSpec::new`] and the builder methods.
#[derive(Debug, Clone)]
pub struct WheelSpec {
    pub name: String,
    pub version: String,
    /// Compressed tag set, e.g. `py3-none-any` (default) or
    /// `cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64`.
    pub tag: String,
    /// `Requires-Dist:` values, e.g. `bar>=1; extra == 'fast'`.
    pub requires_dist: Vec<String>,
    pub provides_extra: Vec<String>,
    pub requires_python: Option<String>,
    /// Files inside the wheel besides `.dist-info`; `new` puts `<name>/__init__.py` here.
    pub files: Vec<(String, Vec<u8>)>,
    /// Raw METADATA text used instead of the generated one.
    pub metadata_override: Option<String>,
}

impl WheelSpec {
    pub fn new(name: &str, version: &str) -> Self {
        WheelSpec {
            name: name.to_string(),
            version: version.to_string(),
            tag: "py3-none-any".to_string(),
            requires_dist: Vec::new(),
            provides_extra: Vec::new(),
            requires_python: None,
            files: vec![(
                format!("{}/__init__.py", escaped_name(name)),
                format!("__version__ = \"{version}\"\n").into_bytes(),
            )],
            metadata_override: None,
        }
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.to_string();
        self
    }

    pub fn requires(mut self, requirement: &str) -> Self {
        self.requires_dist.push(requirement.to_string());
        self
    }

    pub fn extra(mut self, extra: &str) -> Self {
        self.provides_extra.push(extra.to_string());
        self
    }

    pub fn requires_python(mut self, specifier: &str) -> Self {
        self.requires_python = Some(specifier.to_string());
        self
    }

    /// Adds a file to the wheel (besides the default `__init__.py`).
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.files.push((path.to_string(), contents.into()));
        self
    }

    /// Drops every file added so far, including the default `__init__.py`.
    pub fn no_files(mut self) -> Self {
        self.files.clear();
        self
    }

    /// Uses `raw` as METADATA verbatim (for malformed-metadata tests).
    pub fn metadata(mut self, raw: &str) -> Self {
        self.metadata_override = Some(raw.to_string());
        self
    }

    pub fn filename(&self) -> String {
        format!(
            "{}-{}-{}.whl",
            escaped_name(&self.name),
            self.version,
            self.tag
        )
    }

    pub fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", escaped_name(&self.name), self.version)
    }

    /// The METADATA text the wheel carries.
    pub fn metadata_text(&self) -> String {
        if let Some(raw) = &self.metadata_override {
            return raw.clone();
        }
        let mut m = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        if let Some(rp) = &self.requires_python {
            m.push_str(&format!("Requires-Python: {rp}\n"));
        }
        for e in &self.provides_extra {
            m.push_str(&format!("Provides-Extra: {e}\n"));
        }
        for r in &self.requires_dist {
            m.push_str(&format!("Requires-Dist: {r}\n"));
        }
        m.push('\n');
        m
    }

    /// The WHEEL file, with one `Tag:` line per expanded tag.
    pub fn wheel_text(&self) -> String {
        let parts: Vec<&str> = self.tag.split('-').collect();
        assert_eq!(
            parts.len(),
            3,
            "tag `{}` must be python-abi-platform",
            self.tag
        );
        let pure = parts[2] == "any";
        let mut w = format!(
            "Wheel-Version: 1.0\nGenerator: pylayer-tests (0.1)\nRoot-Is-Purelib: {pure}\n"
        );
        for py in parts[0].split('.') {
            for abi in parts[1].split('.') {
                for plat in parts[2].split('.') {
                    w.push_str(&format!("Tag: {py}-{abi}-{plat}\n"));
                }
            }
        }
        w.push('\n');
        w
    }

    /// Writes the wheel into `dir` and returns its path.
    pub fn build(&self, dir: &Path) -> PathBuf {
        build_wheel(dir, self)
    }
}

/// Writes a valid PEP 427 wheel for `spec` into `dir` (deflated entries, fixed timestamps so
/// the same spec always gives the same bytes) and returns its path.
pub fn build_wheel(dir: &Path, spec: &WheelSpec) -> PathBuf {
    use zip::write::SimpleFileOptions;

    std::fs::create_dir_all(dir).expect("create wheel dir");
    let path = dir.join(spec.filename());
    let file = std::fs::File::create(&path).expect("create wheel file");
    let mut zip = zip::ZipWriter::new(file);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);

    let dist_info = spec.dist_info();
    let mut entries: Vec<(String, Vec<u8>)> = spec.files.clone();
    entries.push((
        format!("{dist_info}/METADATA"),
        spec.metadata_text().into_bytes(),
    ));
    entries.push((format!("{dist_info}/WHEEL"), spec.wheel_text().into_bytes()));

    let mut record = String::new();
    for (name, data) in &entries {
        zip.start_file(name.as_str(), options)
            .expect("start zip entry");
        zip.write_all(data).expect("write zip entry");
        record.push_str(&format!("{name},{},{}\n", record_hash(data), data.len()));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    zip.start_file(format!("{dist_info}/RECORD"), options)
        .expect("start RECORD");
    zip.write_all(record.as_bytes()).expect("write RECORD");
    zip.finish().expect("finish wheel");
    path
}

/// Writes a source distribution `<name>-<version>.tar.gz` (a real tar in a real gzip stream)
/// into `dir` and returns its path.
pub fn build_sdist(dir: &Path, name: &str, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create sdist dir");
    let base = format!("{}-{version}", escaped_name(name));
    let pkg_info = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n");
    let pyproject =
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n";
    let setup = format!(
        "from setuptools import setup, Extension\nsetup(name={name:?}, version={version:?}, ext_modules=[Extension('{m}._speedups', ['src/speedups.c'])])\n",
        m = escaped_name(name)
    );
    let mut tar = Vec::new();
    tar_entry(&mut tar, &format!("{base}/PKG-INFO"), pkg_info.as_bytes());
    tar_entry(
        &mut tar,
        &format!("{base}/pyproject.toml"),
        pyproject.as_bytes(),
    );
    tar_entry(&mut tar, &format!("{base}/setup.py"), setup.as_bytes());
    tar_entry(
        &mut tar,
        &format!("{base}/src/speedups.c"),
        b"#include <Python.h>\n",
    );
    tar.extend([0u8; 1024]);
    let path = dir.join(format!("{base}.tar.gz"));
    std::fs::write(&path, gzip_stored(&tar)).expect("write sdist");
    path
}

fn tar_entry(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    fn octal(field: &mut [u8], value: u64) {
        let s = format!("{:0width$o}\0", value, width = field.len() - 1);
        field.copy_from_slice(s.as_bytes());
    }
    assert!(name.len() < 100, "tar name too long: {name}");
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], data.len() as u64);
    octal(&mut h[136..148], 315_532_800);
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let chk = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(chk.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

/// A gzip member holding `data` in stored (uncompressed) deflate blocks.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(65_535).collect()
    };
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

// ---------------------------------------------------------------------------------------------
// The index server
// ---------------------------------------------------------------------------------------------

/// How a [`TestIndex`] behaves.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Serve PEP 691 JSON when the client's Accept prefers it; when false, only PEP 503 HTML.
    pub json: bool,
    /// Serve PEP 658/714 `<file>.metadata` files and advertise them.
    pub metadata_files: bool,
    /// Serve `<file>.metadata` files without advertising them (a mirror that passes pages
    /// through without the metadata attributes while the file host has the files).
    pub unadvertised_metadata_files: bool,
    /// Honour `Range: bytes=…` on distribution files (206 + Content-Range), suffix ranges too.
    pub range_requests: bool,
    /// (filename, reason) pairs served as yanked.
    pub yanked: Vec<(String, Option<String>)>,
    /// Every distinct path answers 503 this many times before answering properly.
    pub fail_first: usize,
    /// Filenames whose advertised sha256 is deliberately wrong.
    pub wrong_hash: Vec<String>,
    /// Advertise Requires-Python from the wheel metadata.
    pub requires_python_attr: bool,
    /// Faults injected into matching requests (see [`Fault`]).
    pub faults: Vec<Fault>,
    /// When not empty, every request needs `Authorization: Basic` with one of these
    /// (login, password) pairs; others get 401.
    pub basic_auth: Vec<(String, String)>,
    /// (project, href) links added to project pages, HTML and JSON (a hostile index's
    /// `file://` links).
    pub extra_links: Vec<(String, String)>,
    /// (wheel filename, METADATA) served as the PEP 658 file instead of the wheel's own,
    /// with its own hash advertised (a lying index).
    pub metadata_override: Vec<(String, Vec<u8>)>,
    /// Wait this long before answering each request: a slow index, for progress output.
    pub delay: Duration,
}

/// What a faulty index does to a request, for hardening tests. Every fault is bounded in
/// time, so a test never hangs on its own server.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Close the connection without answering.
    Reset,
    /// Send the headers with the full Content-Length, half the body, and close.
    Truncate,
    /// Send the body one byte per `interval`, closing after `limit` at the latest.
    Trickle { interval: Duration, limit: Duration },
    /// Send nothing for this long (at most 60 s), then close.
    StallHeaders(Duration),
    /// Answer 302 with the same path on another base URL (`http://127.0.0.1:OTHER`).
    RedirectTo(String),
    /// Answer 200 with a body of this many filler bytes (an oversized page).
    Oversized(usize),
}

/// A fault applied to the first `times` requests whose path contains `path_contains`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub path_contains: String,
    pub kind: FaultKind,
    pub times: usize,
    /// Match only paths that end with `path_contains` (a wheel, not its `.metadata` file).
    pub path_ends: bool,
}

impl Fault {
    pub fn new(path_contains: &str, kind: FaultKind, times: usize) -> Fault {
        Fault {
            path_contains: path_contains.to_string(),
            kind,
            times,
            path_ends: false,
        }
    }

    /// The fault applies only to paths that end with the pattern.
    pub fn at_path_end(mut self) -> Fault {
        self.path_ends = true;
        self
    }
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            json: true,
            metadata_files: true,
            unadvertised_metadata_files: false,
            range_requests: true,
            yanked: Vec::new(),
            fail_first: 0,
            wrong_hash: Vec::new(),
            requires_python_attr: true,
            faults: Vec::new(),
            basic_auth: Vec::new(),
            extra_links: Vec::new(),
            metadata_override: Vec::new(),
            delay: Duration::ZERO,
        }
    }
}

impl IndexOptions {
    /// PEP 503 HTML only, no metadata files, no range requests: the most basic index.
    pub fn html_only() -> Self {
        IndexOptions {
            json: false,
            metadata_files: false,
            range_requests: false,
            ..IndexOptions::default()
        }
    }
}

/// One distribution file the index publishes.
#[derive(Debug, Clone)]
struct Dist {
    filename: String,
    project: String,
    display_name: String,
    version: String,
    bytes: Arc<Vec<u8>>,
    sha256: String,
    metadata: Option<Vec<u8>>,
    requires_python: Option<String>,
}

impl Dist {
    fn load(path: &Path) -> Dist {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let filename = path
            .file_name()
            .and_then(|f| f.to_str())
            .expect("utf-8 file name")
            .to_string();
        let (raw_name, version) = if let Some(stem) = filename.strip_suffix(".whl") {
            let mut parts = stem.split('-');
            let n = parts.next().unwrap_or_default();
            let v = parts.next().unwrap_or_default();
            (n.to_string(), v.to_string())
        } else {
            let stem = filename
                .strip_suffix(".tar.gz")
                .or_else(|| filename.strip_suffix(".zip"))
                .or_else(|| filename.strip_suffix(".tar.bz2"))
                .unwrap_or_else(|| panic!("unsupported distribution file {filename}"));
            let (n, v) = stem
                .rsplit_once('-')
                .unwrap_or_else(|| panic!("no version in {filename}"));
            (n.to_string(), v.to_string())
        };
        let metadata = if filename.ends_with(".whl") {
            wheel_metadata(&bytes)
        } else {
            None
        };
        let header = |key: &str| -> Option<String> {
            let text = String::from_utf8_lossy(metadata.as_deref()?).to_string();
            text.lines()
                .take_while(|l| !l.trim().is_empty())
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(key)
                        .then(|| v.trim().to_string())
                })
        };
        let display_name = header("Name").unwrap_or_else(|| raw_name.clone());
        let requires_python = header("Requires-Python");
        Dist {
            project: normalize(&raw_name),
            display_name,
            version,
            sha256: sha256_hex(&bytes),
            bytes: Arc::new(bytes),
            metadata,
            requires_python,
            filename,
        }
    }
}

/// The METADATA file of a wheel: the one `*.dist-info/METADATA` at the archive root.
fn wheel_metadata(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let name = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.to_string())
        .find(|n| {
            n.matches('/').count() == 1
                && n.ends_with("/METADATA")
                && n.split('/')
                    .next()
                    .is_some_and(|d| d.ends_with(".dist-info"))
        })?;
    let mut file = archive.by_name(&name).ok()?;
    let mut out = Vec::new();
    file.read_to_end(&mut out).ok()?;
    Some(out)
}

/// A handler for extra routes: the request body in, (status, JSON body) out.
pub type RouteFn = Arc<dyn Fn(&[u8]) -> (u16, String) + Send + Sync>;

#[derive(Default)]
struct State {
    dists: BTreeMap<String, Dist>,
    /// Extra routes by (method, path): other APIs served beside the index (JSON answered
    /// with an ETag, and 304 to a matching If-None-Match).
    routes: HashMap<(String, String), RouteFn>,
    log: Vec<String>,
    failures: HashMap<String, usize>,
    /// (path, Authorization header) of every request.
    auth_log: Vec<(String, Option<String>)>,
    /// How many times each fault (by position) has been applied.
    faults_applied: HashMap<usize, usize>,
}

struct Shared {
    opts: IndexOptions,
    base: String,
    state: Mutex<State>,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

/// A Python package index on 127.0.0.1 for one test. Stops when dropped.
pub struct TestIndex {
    /// `http://127.0.0.1:PORT/simple/`
    pub url: String,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl TestIndex {
    /// Serves `files` (wheels or sdists): files at `/files/<filename>`, project pages at
    /// `/simple/<normalized-name>/`, the project list at `/simple/`.
    pub fn start(files: &[PathBuf], opts: IndexOptions) -> TestIndex {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let base = format!("http://127.0.0.1:{}", addr.port());
        let mut state = State::default();
        for f in files {
            let d = Dist::load(f);
            state.dists.insert(d.filename.clone(), d);
        }
        let shared = Arc::new(Shared {
            opts,
            base: base.clone(),
            state: Mutex::new(state),
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
        });
        let sh = shared.clone();
        let accept = std::thread::Builder::new()
            .name(format!("test-index-{}", addr.port()))
            .spawn(move || {
                for stream in listener.incoming() {
                    if sh.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let id = sh.next_conn.fetch_add(1, Ordering::SeqCst);
                    if let Ok(clone) = stream.try_clone() {
                        sh.conns.lock().unwrap().insert(id, clone);
                    }
                    let sh2 = sh.clone();
                    let _ = std::thread::Builder::new()
                        .name(format!("test-index-conn-{id}"))
                        .spawn(move || {
                            handle_connection(&sh2, stream);
                            sh2.conns.lock().unwrap().remove(&id);
                        });
                }
            })
            .expect("spawn index thread");
        TestIndex {
            url: format!("{base}/simple/"),
            base,
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// Every request so far, as `"METHOD /path"` plus `" <Range header value>"` when the
    /// request had one (e.g. `"GET /files/foo-1.0-py3-none-any.whl bytes=-8192"`).
    pub fn requests(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().log.clone()
    }

    /// The `Authorization` header (if any) of every request so far, with its path.
    pub fn authorizations(&self) -> Vec<(String, Option<String>)> {
        self.shared.state.lock().unwrap().auth_log.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.state.lock().unwrap().log.clear();
    }

    /// GET requests of `/files/<filename>` without a Range header (whole-file downloads).
    pub fn full_downloads(&self, filename: &str) -> usize {
        let want = format!("GET /files/{filename}");
        self.requests().iter().filter(|r| **r == want).count()
    }

    /// GET requests of `/files/<filename>` with a Range header.
    pub fn range_downloads(&self, filename: &str) -> usize {
        let want = format!("GET /files/{filename} ");
        self.requests()
            .iter()
            .filter(|r| r.starts_with(&want))
            .count()
    }

    /// GET requests of `/files/<filename>.metadata`.
    pub fn metadata_downloads(&self, filename: &str) -> usize {
        let want = format!("GET /files/{filename}.metadata");
        self.requests().iter().filter(|r| **r == want).count()
    }

    /// Publishes another file (wheel or sdist) while running.
    pub fn add_wheel(&self, path: PathBuf) {
        let d = Dist::load(&path);
        self.shared
            .state
            .lock()
            .unwrap()
            .dists
            .insert(d.filename.clone(), d);
    }

    /// Serves `handler`'s answer at `method path` (another API beside the index, such as a
    /// vulnerability service); the request body is passed to it.
    pub fn route(&self, method: &str, path: &str, handler: RouteFn) {
        self.shared
            .state
            .lock()
            .unwrap()
            .routes
            .insert((method.to_string(), path.to_string()), handler);
    }

    /// Serves a fixed JSON document at `GET path`.
    pub fn route_json(&self, path: &str, body: &str) {
        let body = body.to_string();
        self.route("GET", path, Arc::new(move |_| (200, body.clone())));
    }

    /// Removes an extra route (the service no longer has it).
    pub fn remove_route(&self, method: &str, path: &str) {
        self.shared
            .state
            .lock()
            .unwrap()
            .routes
            .remove(&(method.to_string(), path.to_string()));
    }

    /// Removes a published file.
    pub fn remove_file(&self, filename: &str) {
        self.shared.state.lock().unwrap().dists.remove(filename);
    }

    /// The absolute URL a file is served at.
    pub fn file_url(&self, filename: &str) -> String {
        format!("{}/files/{filename}", self.base)
    }

    /// The URL of a project page.
    pub fn project_url(&self, name: &str) -> String {
        format!("{}{}/", self.url, normalize(name))
    }
}

impl Drop for TestIndex {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for (_, c) in self.shared.conns.lock().unwrap().drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    close: bool,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Arc<Vec<u8>>,
    range: Option<(usize, usize)>,
}

impl Response {
    fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Arc::new(body.into()),
            range: None,
        }
    }

    fn text(status: u16, body: &str) -> Response {
        Response::new(
            status,
            "text/plain; charset=utf-8",
            body.as_bytes().to_vec(),
        )
    }

    fn redirect(location: String) -> Response {
        let mut r = Response::text(301, "moved\n");
        r.headers.push(("Location".into(), location));
        r
    }

    fn header(mut self, k: &str, v: impl Into<String>) -> Response {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        302 => "Found",
        401 => "Unauthorized",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

fn handle_connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return,
        };
        if let Some(kind) = shared.take_fault(&req) {
            apply_fault(shared, &req, kind, &mut writer);
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
        if !shared.opts.delay.is_zero() {
            std::thread::sleep(shared.opts.delay);
        }
        let resp = shared.respond(&req);
        let close = req.close || shared.stop.load(Ordering::SeqCst);
        if write_response(&mut writer, &req, &resp, close).is_err() || close {
            let _ = writer.flush();
            let _ = writer.shutdown(Shutdown::Write);
            return;
        }
    }
}

/// Sleeps `d` in small steps, returning early when the index stops.
fn bounded_sleep(shared: &Shared, d: Duration) {
    let end = Instant::now() + d.min(Duration::from_secs(60));
    while Instant::now() < end && !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn apply_fault(shared: &Shared, req: &Request, kind: FaultKind, w: &mut TcpStream) {
    let head = |status: u16, len: usize, extra: &str| {
        format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: text/html\r\nContent-Length: {len}\r\n{extra}Connection: close\r\n\r\n",
            reason(status)
        )
    };
    match kind {
        FaultKind::Reset => {}
        FaultKind::StallHeaders(d) => bounded_sleep(shared, d),
        FaultKind::RedirectTo(base) => {
            let _ =
                w.write_all(head(302, 0, &format!("Location: {base}{}\r\n", req.path)).as_bytes());
        }
        FaultKind::Oversized(n) => {
            let _ = w.write_all(head(200, n, "").as_bytes());
            let chunk = vec![b' '; 64 << 10];
            let mut sent = 0;
            while sent < n && !shared.stop.load(Ordering::SeqCst) {
                let k = chunk.len().min(n - sent);
                if w.write_all(&chunk[..k]).is_err() {
                    break;
                }
                sent += k;
            }
        }
        FaultKind::Truncate | FaultKind::Trickle { .. } => {
            let resp = shared.respond(req);
            let body: &[u8] = match resp.range {
                Some((a, b)) => &resp.body[a..=b],
                None => &resp.body,
            };
            let mut extra = String::new();
            for (k, v) in &resp.headers {
                if !k.eq_ignore_ascii_case("content-type") {
                    extra.push_str(&format!("{k}: {v}\r\n"));
                }
            }
            let _ = w.write_all(head(resp.status, body.len(), &extra).as_bytes());
            if let FaultKind::Trickle { interval, limit } = kind {
                let end = Instant::now() + limit.min(Duration::from_secs(60));
                for b in body {
                    if Instant::now() > end
                        || shared.stop.load(Ordering::SeqCst)
                        || w.write_all(std::slice::from_ref(b)).is_err()
                    {
                        break;
                    }
                    let _ = w.flush();
                    bounded_sleep(shared, interval);
                }
            } else {
                let _ = w.write_all(&body[..body.len() / 2]);
            }
        }
    }
    let _ = w.flush();
}

fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let version = parts.next().unwrap_or("HTTP/1.0").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method,
        path: String::new(),
        headers,
        close: false,
        body: Vec::new(),
    };
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        reader.take(len).read_to_end(&mut req.body)?;
    }
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    req.close = if version == "HTTP/1.1" {
        connection.contains("close")
    } else {
        !connection.contains("keep-alive")
    };
    // Origin form, or absolute form as sent to proxies.
    let target = match target.find("://") {
        Some(i) => target[i + 3..]
            .find('/')
            .map_or("/".to_string(), |j| target[i + 3 + j..].to_string()),
        None => target,
    };
    let path = target.split(['?', '#']).next().unwrap_or("/");
    req.path = percent_decode(path);
    Ok(Some(req))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn write_response(
    w: &mut TcpStream,
    req: &Request,
    resp: &Response,
    close: bool,
) -> std::io::Result<()> {
    let body: &[u8] = match resp.range {
        Some((a, b)) => &resp.body[a..=b],
        None => &resp.body,
    };
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    head.push_str("Server: pylayer-test-index\r\n");
    head.push_str(if close {
        "Connection: close\r\n"
    } else {
        "Connection: keep-alive\r\n"
    });
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if req.method != "HEAD" {
        out.extend_from_slice(body);
    }
    w.write_all(&out)?;
    w.flush()
}

/// The q value the Accept header gives to the best of `types` (0 when none is acceptable).
fn accept_q(accept: &str, types: &[&str]) -> f32 {
    let mut best = 0.0f32;
    for entry in accept.split(',') {
        let mut params = entry.split(';');
        let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
        if !types.contains(&media.as_str()) {
            continue;
        }
        let mut q = 1.0f32;
        for p in params {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        best = best.max(q);
    }
    best
}

const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
const HTML_TYPE: &str = "application/vnd.pypi.simple.v1+html";

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn parse_range(value: &str, len: usize) -> RangeAnswer {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Ignore;
    };
    if spec.contains(',') {
        return RangeAnswer::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAnswer::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<usize>() else {
            return RangeAnswer::Ignore;
        };
        if n == 0 || len == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        return RangeAnswer::Range(len.saturating_sub(n), len - 1);
    }
    let Ok(start) = a.parse::<usize>() else {
        return RangeAnswer::Ignore;
    };
    let end = if b.is_empty() {
        len.saturating_sub(1)
    } else {
        match b.parse::<usize>() {
            Ok(e) if e >= start => e.min(len.saturating_sub(1)),
            _ => return RangeAnswer::Ignore,
        }
    };
    if start >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Range(start, end)
}

enum RangeAnswer {
    Ignore,
    Unsatisfiable,
    Range(usize, usize),
}

impl Shared {
    /// The fault to apply to `req`, if one matches and has applications left (logged).
    fn take_fault(&self, req: &Request) -> Option<FaultKind> {
        let mut st = self.state.lock().unwrap();
        st.auth_log.push((
            req.path.clone(),
            req.header("authorization").map(str::to_string),
        ));
        for (i, f) in self.opts.faults.iter().enumerate() {
            let matches = if f.path_ends {
                req.path.ends_with(&f.path_contains)
            } else {
                req.path.contains(&f.path_contains)
            };
            if !matches {
                continue;
            }
            let n = st.faults_applied.entry(i).or_insert(0);
            if *n < f.times {
                *n += 1;
                st.log
                    .push(format!("FAULT {:?} {} {}", f.kind, req.method, req.path));
                return Some(f.kind.clone());
            }
        }
        None
    }

    fn respond(&self, req: &Request) -> Response {
        let mut st = self.state.lock().unwrap();
        if !self.opts.basic_auth.is_empty() {
            let ok = req
                .header("authorization")
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|t| {
                    base64::engine::general_purpose::STANDARD
                        .decode(t.trim())
                        .ok()
                })
                .and_then(|b| String::from_utf8(b).ok())
                .is_some_and(|pair| {
                    self.opts
                        .basic_auth
                        .iter()
                        .any(|(l, p)| pair == format!("{l}:{p}"))
                });
            if !ok {
                st.log.push(format!("401 {} {}", req.method, req.path));
                return Response::text(401, "authentication required\n")
                    .header("WWW-Authenticate", "Basic realm=\"test\"");
            }
        }
        let mut entry = format!("{} {}", req.method, req.path);
        if let Some(r) = req.header("range") {
            entry.push(' ');
            entry.push_str(r);
        }
        st.log.push(entry);
        if let Some(route) = st
            .routes
            .get(&(req.method.clone(), req.path.clone()))
            .cloned()
        {
            drop(st);
            let (status, body) = route(&req.body);
            let etag = format!("\"{}\"", &sha256_hex(body.as_bytes())[..16]);
            if status == 200 && req.header("if-none-match") == Some(etag.as_str()) {
                self.state
                    .lock()
                    .unwrap()
                    .log
                    .push(format!("304 {} {}", req.method, req.path));
                return Response::new(304, "application/json", Vec::new()).header("ETag", etag);
            }
            return Response::new(status, "application/json", body.into_bytes())
                .header("ETag", etag);
        }
        if req.method != "GET" && req.method != "HEAD" {
            return Response::text(405, "method not allowed\n").header("Allow", "GET, HEAD");
        }
        if self.opts.fail_first > 0 {
            let n = st.failures.entry(req.path.clone()).or_insert(0);
            if *n < self.opts.fail_first {
                *n += 1;
                return Response::text(503, "try again later\n").header("Retry-After", "0");
            }
        }
        let path = req.path.as_str();
        if path == "/simple" {
            return Response::redirect(format!("{}/simple/", self.base));
        }
        if path == "/simple/" {
            return self.root_page(&st, req);
        }
        if let Some(rest) = path.strip_prefix("/simple/") {
            let name = rest.strip_suffix('/').unwrap_or(rest);
            if name.contains('/') || name.is_empty() {
                return Response::text(404, "not found\n");
            }
            let norm = normalize(name);
            if !st.dists.values().any(|d| d.project == norm) {
                return Response::text(404, &format!("no project named {name}\n"));
            }
            if norm != name || !rest.ends_with('/') {
                return Response::redirect(format!("{}/simple/{norm}/", self.base));
            }
            return self.project_page(&st, req, &norm);
        }
        if let Some(fname) = path.strip_prefix("/files/") {
            if let Some(d) = st.dists.get(fname) {
                return self.file_response(req, d);
            }
            if let Some(wheel) = fname.strip_suffix(".metadata")
                && (self.opts.metadata_files || self.opts.unadvertised_metadata_files)
                && let Some(m) = self
                    .metadata_override(wheel)
                    .or_else(|| st.dists.get(wheel).and_then(|d| d.metadata.clone()))
            {
                return Response::new(200, "application/octet-stream", m);
            }
            return Response::text(404, &format!("no file named {fname}\n"));
        }
        Response::text(404, "not found\n")
    }

    fn file_response(&self, req: &Request, d: &Dist) -> Response {
        let mut r = Response {
            status: 200,
            headers: vec![(
                "Content-Type".into(),
                "application/octet-stream".to_string(),
            )],
            body: d.bytes.clone(),
            range: None,
        };
        r.headers
            .push(("ETag".into(), format!("\"{}\"", &d.sha256[..16])));
        if !self.opts.range_requests {
            return r;
        }
        r.headers.push(("Accept-Ranges".into(), "bytes".into()));
        let len = d.bytes.len();
        match req.header("range").map(|v| parse_range(v, len)) {
            None | Some(RangeAnswer::Ignore) => r,
            Some(RangeAnswer::Unsatisfiable) => Response::text(416, "range not satisfiable\n")
                .header("Content-Range", format!("bytes */{len}")),
            Some(RangeAnswer::Range(a, b)) => {
                r.status = 206;
                r.range = Some((a, b));
                r.headers
                    .push(("Content-Range".into(), format!("bytes {a}-{b}/{len}")));
                r
            }
        }
    }

    fn wants_json(&self, req: &Request) -> bool {
        if !self.opts.json {
            return false;
        }
        let accept = req.header("accept").unwrap_or("");
        let json = accept_q(
            accept,
            &[JSON_TYPE, "application/vnd.pypi.simple.latest+json"],
        );
        let html = accept_q(
            accept,
            &[
                HTML_TYPE,
                "application/vnd.pypi.simple.latest+html",
                "text/html",
                "*/*",
            ],
        );
        json > 0.0 && json >= html
    }

    fn html_type(req: &Request) -> &'static str {
        let accept = req.header("accept").unwrap_or("");
        let v1 = accept_q(
            accept,
            &[HTML_TYPE, "application/vnd.pypi.simple.latest+html"],
        );
        if v1 > 0.0 && v1 >= accept_q(accept, &["text/html"]) {
            HTML_TYPE
        } else {
            "text/html; charset=utf-8"
        }
    }

    fn metadata_override(&self, filename: &str) -> Option<Vec<u8>> {
        self.opts
            .metadata_override
            .iter()
            .find(|(f, _)| f == filename)
            .map(|(_, m)| m.clone())
    }

    fn advertised_sha256(&self, d: &Dist) -> String {
        if self.opts.wrong_hash.contains(&d.filename) {
            sha256_hex(format!("not the bytes of {}", d.filename).as_bytes())
        } else {
            d.sha256.clone()
        }
    }

    fn yanked(&self, d: &Dist) -> Option<Option<String>> {
        self.opts
            .yanked
            .iter()
            .find(|(f, _)| *f == d.filename)
            .map(|(_, r)| r.clone())
    }

    fn root_page(&self, st: &State, req: &Request) -> Response {
        let mut projects: BTreeMap<String, String> = BTreeMap::new();
        for d in st.dists.values() {
            projects
                .entry(d.project.clone())
                .or_insert_with(|| d.display_name.clone());
        }
        if self.wants_json(req) {
            let list: Vec<_> = projects
                .values()
                .map(|n| serde_json::json!({ "name": n }))
                .collect();
            let body = serde_json::json!({ "meta": { "api-version": "1.1" }, "projects": list });
            return Response::new(200, JSON_TYPE, body.to_string()).header("Vary", "Accept");
        }
        let mut html = String::from(
            "<!DOCTYPE html>\n<html>\n<head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Simple index</title></head>\n<body>\n",
        );
        for (norm, display) in &projects {
            html.push_str(&format!(
                "<a href=\"/simple/{norm}/\">{}</a><br/>\n",
                html_escape(display)
            ));
        }
        html.push_str("</body>\n</html>\n");
        Response::new(200, Self::html_type(req), html).header("Vary", "Accept")
    }

    fn project_page(&self, st: &State, req: &Request, project: &str) -> Response {
        let dists: Vec<&Dist> = st.dists.values().filter(|d| d.project == project).collect();
        let display = dists
            .first()
            .map_or(project.to_string(), |d| d.display_name.clone());
        let requires_python = |d: &Dist| {
            if self.opts.requires_python_attr {
                d.requires_python.clone()
            } else {
                None
            }
        };
        let core_metadata = |d: &Dist| {
            if self.opts.metadata_files {
                self.metadata_override(&d.filename)
                    .or_else(|| d.metadata.clone())
                    .as_deref()
                    .map(sha256_hex)
            } else {
                None
            }
        };
        if self.wants_json(req) {
            let mut versions: Vec<String> = Vec::new();
            let mut files = Vec::new();
            for d in &dists {
                if !versions.contains(&d.version) {
                    versions.push(d.version.clone());
                }
                let mut f = serde_json::json!({
                    "filename": d.filename,
                    "url": format!("{}/files/{}", self.base, d.filename),
                    "hashes": { "sha256": self.advertised_sha256(d) },
                    "size": d.bytes.len(),
                    "upload-time": "2024-01-01T00:00:00.000000Z",
                });
                f["yanked"] = match self.yanked(d) {
                    None => serde_json::Value::Bool(false),
                    Some(Some(reason)) if !reason.is_empty() => serde_json::Value::String(reason),
                    Some(_) => serde_json::Value::Bool(true),
                };
                if let Some(rp) = requires_python(d) {
                    f["requires-python"] = serde_json::Value::String(rp);
                }
                let cm = match core_metadata(d) {
                    Some(h) => serde_json::json!({ "sha256": h }),
                    None => serde_json::Value::Bool(false),
                };
                f["core-metadata"] = cm.clone();
                f["dist-info-metadata"] = cm;
                files.push(f);
            }
            for (p, href) in &self.opts.extra_links {
                if p == project {
                    let filename = href.rsplit('/').next().unwrap_or(href).to_string();
                    files.push(
                        serde_json::json!({ "filename": filename, "url": href, "hashes": {} }),
                    );
                }
            }
            let body = serde_json::json!({
                "meta": { "api-version": "1.1" },
                "name": project,
                "versions": versions,
                "files": files,
            });
            return Response::new(200, JSON_TYPE, body.to_string()).header("Vary", "Accept");
        }
        let mut html = format!(
            "<!DOCTYPE html>\n<html>\n<head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for {0}</title></head>\n<body>\n<h1>Links for {0}</h1>\n",
            html_escape(&display)
        );
        for d in &dists {
            let mut attrs = String::new();
            if let Some(rp) = requires_python(d) {
                attrs.push_str(&format!(" data-requires-python=\"{}\"", html_escape(&rp)));
            }
            if let Some(h) = core_metadata(d) {
                attrs.push_str(&format!(
                    " data-dist-info-metadata=\"sha256={h}\" data-core-metadata=\"sha256={h}\""
                ));
            }
            if let Some(reason) = self.yanked(d) {
                attrs.push_str(&format!(
                    " data-yanked=\"{}\"",
                    html_escape(reason.as_deref().unwrap_or(""))
                ));
            }
            html.push_str(&format!(
                "<a href=\"../../files/{f}#sha256={h}\"{attrs}>{f}</a><br/>\n",
                f = d.filename,
                h = self.advertised_sha256(d),
            ));
        }
        for (p, href) in &self.opts.extra_links {
            if p == project {
                let filename = href.rsplit('/').next().unwrap_or(href);
                html.push_str(&format!(
                    "<a href=\"{}\">{}</a><br/>\n",
                    html_escape(href),
                    html_escape(filename)
                ));
            }
        }
        html.push_str("</body>\n</html>\n");
        Response::new(200, Self::html_type(req), html).header("Vary", "Accept")
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP client (for testing the harness itself)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// `GET url` with extra headers, over a fresh connection (`Connection: close`).
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http_request("GET", url, headers)
}

/// One plain-HTTP request over a fresh connection; the body is read to the end.
pub fn http_request(method: &str, url: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("only http:// URLs: {url}"));
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_response(&raw, method == "HEAD").0
}

/// Parses one response from the start of `raw`; returns it and the number of bytes used.
pub fn parse_response(raw: &[u8], head_only: bool) -> (HttpResponse, usize) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let start = end + 4;
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let body_len = if head_only {
        0
    } else {
        len.unwrap_or(raw.len() - start)
    };
    let body = raw[start..start + body_len].to_vec();
    (
        HttpResponse {
            status,
            headers,
            body,
        },
        start + body_len,
    )
}

// ---------------------------------------------------------------------------------------------
// Running pylayer
// ---------------------------------------------------------------------------------------------

/// Points `cmd` at `cache` and strips index configuration inherited from the environment.
fn isolate(cmd: &mut Command, cache: &Path) {
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if k.starts_with("PIP_") || k.starts_with("PYLAYER_") || k.starts_with("UV_") {
            cmd.env_remove(k);
        }
    }
    for k in [
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PYLAYER_INDEX_URL",
        "PYLAYER_EXTRA_INDEX_URL",
        "SOURCE_DATE_EPOCH",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("PYLAYER_CACHE_DIR", cache)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null());
}

/// A `pylayer` command using `cache` as its cache directory, with no inherited index
/// configuration and loopback exempt from any proxy.
pub fn pylayer_with_cache(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pylayer"));
    isolate(&mut cmd, cache);
    cmd
}

/// A `pylayer` command with a fresh cache directory of its own (under cargo's per-target
/// temporary directory, so nothing is left in the system's /tmp).
pub fn pylayer() -> Command {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pylayer-test-caches");
    std::fs::create_dir_all(&root).expect("create cache root");
    let dir = tempfile::Builder::new()
        .prefix("cache-")
        .tempdir_in(&root)
        .expect("create cache dir")
        .keep();
    pylayer_with_cache(&dir)
}

/// A working directory and a cache directory for one test, both removed when dropped.
pub struct TestEnv {
    pub work: tempfile::TempDir,
    pub cache: tempfile::TempDir,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            work: tempfile::Builder::new()
                .prefix("pylayer-work-")
                .tempdir()
                .expect("work dir"),
            cache: tempfile::Builder::new()
                .prefix("pylayer-cache-")
                .tempdir()
                .expect("cache dir"),
        }
    }

    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
    }

    /// `pylayer` run in the work directory with this environment's cache.
    pub fn cmd(&self) -> Command {
        let mut cmd = pylayer_with_cache(self.cache.path());
        cmd.current_dir(self.work.path());
        cmd
    }

    /// Writes a file relative to the work directory and returns its path.
    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let p = self.work.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }
}

/// Runs `cmd` to completion (at most `timeout`), capturing its output; panics on timeout.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for child") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_t.join().unwrap_or_default();
            panic!(
                "{cmd:?} did not finish within {timeout:?}; stderr so far:\n{}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Runs `cmd` with a two-minute limit.
pub fn run(cmd: &mut Command) -> Output {
    run_with_timeout(cmd, Duration::from_secs(120))
}

/// A one-line-per-stream rendering of an Output for assertion messages.
pub fn describe_output(out: &Output) -> String {
    format!(
        "exit status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A test whose tool is missing is skipped on a developer's machine, but fails in CI (`CI`
/// set), where `.ci/run` installs every tool: a green run means the test really ran.
#[allow(dead_code)]
pub fn missing_tool(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{why} (CI is set, so this test must run; scripts/test.sh installs it)");
    }
    eprintln!("skipped: {why}");
}

/// A command-line tool the packaging tests drive (`sam`, `pre-commit`, `maturin`): from the
/// environment scripts/test.sh installs them into (`PYLAYER_TEST_TOOLS`, default
/// `target/test-tools/bin`; kept apart from the moto environment so their pins never
/// conflict), else from PATH. `None` when neither has it.
pub fn test_tool(name: &str) -> Option<PathBuf> {
    let tools = std::env::var_os("PYLAYER_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/bin"));
    let candidate = tools.join(name);
    if candidate.is_file() {
        return Some(candidate);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------------------------------------
// Source distributions with real build backends
// ---------------------------------------------------------------------------------------------

/// The build backends' wheels (setuptools, wheel, hatchling and its dependencies, flit_core)
/// that `scripts/test-backends.sh` downloads into `target/test-backends/`, for tests that build
/// source distributions against a [`TestIndex`]. Runs the script when they are missing, except
/// under CI, where their absence fails the test (scripts/test.sh fetches them first).
pub fn build_backend_wheels() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join("test-backends");
    if !dir.join(".complete").is_file() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{} is missing: run scripts/test-backends.sh (scripts/test.sh does) before the tests",
                dir.display()
            );
        }
        let st = Command::new(root.join("scripts").join("test-backends.sh"))
            .status()
            .expect("run scripts/test-backends.sh");
        assert!(st.success(), "scripts/test-backends.sh failed");
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("list target/test-backends")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    v.sort();
    assert!(
        v.iter()
            .any(|p| p.to_string_lossy().contains("setuptools-")),
        "no setuptools wheel in {}",
        dir.display()
    );
    v
}

/// Writes `<name>-<version>.tar.gz` with `files` (paths relative to the project root) under
/// the one top-level directory an sdist has, and a PKG-INFO; returns its path.
pub fn sdist_with_files(dir: &Path, name: &str, version: &str, files: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create sdist dir");
    let base = format!("{}-{version}", escaped_name(name));
    let pkg_info = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n");
    let mut tar = Vec::new();
    tar_entry(&mut tar, &format!("{base}/PKG-INFO"), pkg_info.as_bytes());
    for (p, text) in files {
        tar_entry(&mut tar, &format!("{base}/{p}"), text.as_bytes());
    }
    tar.extend([0u8; 1024]);
    let path = dir.join(format!("{base}.tar.gz"));
    std::fs::write(&path, gzip_stored(&tar)).expect("write sdist");
    path
}

/// A setuptools sdist (pyproject + setup.cfg) of a one-module pure package `<name>` whose
/// module defines `VERSION`.
pub fn setuptools_sdist(dir: &Path, name: &str, version: &str) -> PathBuf {
    let m = escaped_name(name);
    sdist_with_files(
        dir,
        name,
        version,
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n",
            ),
            (
                "setup.cfg",
                &format!(
                    "[metadata]\nname = {name}\nversion = {version}\n\n[options]\npy_modules = {m}\n"
                ),
            ),
            (&format!("{m}.py"), &format!("VERSION = {version:?}\n")),
        ],
    )
}

/// A hatchling sdist of a package `<name>` (a directory with `__init__.py`).
pub fn hatchling_sdist(dir: &Path, name: &str, version: &str, requires: &[&str]) -> PathBuf {
    let m = escaped_name(name);
    let deps: Vec<String> = requires.iter().map(|r| format!("{r:?}")).collect();
    sdist_with_files(
        dir,
        name,
        version,
        &[
            (
                "pyproject.toml",
                &format!(
                    "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = {name:?}\nversion = {version:?}\ndependencies = [{}]\n\n[tool.hatch.build.targets.wheel]\npackages = [\"{m}\"]\n",
                    deps.join(", ")
                ),
            ),
            (
                &format!("{m}/__init__.py"),
                &format!("VERSION = {version:?}\n"),
            ),
        ],
    )
}

/// An sdist with an in-tree backend (`backend-path`, `requires = []`) that builds a pure
/// wheel by hand and appends a line to `marker` each time its `build_wheel` runs.
pub fn in_tree_backend_sdist(dir: &Path, name: &str, version: &str, marker: &Path) -> PathBuf {
    let m = escaped_name(name);
    let backend = format!(
        r#"import base64, hashlib, os, zipfile

NAME, VERSION, MOD = {name:?}, {version:?}, {m:?}
MARKER = {marker:?}


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(MARKER, "a") as f:
        f.write("built\n")
    di = "%s-%s.dist-info" % (MOD, VERSION)
    files = {{
        MOD + ".py": "VERSION = %r\n" % VERSION,
        di + "/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n\n" % (NAME, VERSION),
        di + "/WHEEL": "Wheel-Version: 1.0\nGenerator: intree\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }}
    record = ""
    for p, t in files.items():
        d = hashlib.sha256(t.encode()).digest()
        record += "%s,sha256=%s,%d\n" % (p, base64.urlsafe_b64encode(d).rstrip(b"=").decode(), len(t.encode()))
    record += di + "/RECORD,,\n"
    files[di + "/RECORD"] = record
    fn = "%s-%s-py3-none-any.whl" % (MOD, VERSION)
    with zipfile.ZipFile(os.path.join(wheel_directory, fn), "w") as z:
        for p, t in files.items():
            z.writestr(zipfile.ZipInfo(p, (1980, 1, 1, 0, 0, 0)), t)
    return fn
"#,
        marker = marker.display().to_string()
    );
    sdist_with_files(
        dir,
        name,
        version,
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"intree_backend\"\nbackend-path = [\"_backend\"]\n",
            ),
            ("_backend/intree_backend.py", &backend),
        ],
    )
}
